"""Shared helpers for the graphc benchmarks: timing, peer imports, headers and result tables.

Every benchmark runs graphc and its peers in one process on the same data. Times are medians of
several repeats; each repeat times several back-to-back calls (so short calls are measured in
bulk) with time.perf_counter, after warm-up calls (JIT compilation, first-touch allocation).
Ratios are always graphc / peer: below 1 means graphc is faster.
"""
import os
import platform
import statistics
import sys
import time

# Peers and graphc (numba) use the machine's threads as they normally would: we set nothing
# that limits them, and print what each one will use.

_TARGETS = []  # (benchmark, case, description, value, limit, passed), for the closing summary


# ---------------------------------------------------------------- timing
def _calibrate(fn, warmup, min_repeat_time, max_number):
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    fn()
    one = max(time.perf_counter() - start, 1e-9)
    return one, int(min(max_number, max(1, min_repeat_time / one)))


def timeit(fn, warmup=2, repeats=7, min_repeat_time=0.05, max_number=100_000, budget=None):
    """Median seconds per call of fn().

    warmup calls first; then `repeats` repeats, each of `number` back-to-back calls, where
    `number` is chosen so one repeat takes about `min_repeat_time` seconds. `budget` (seconds)
    caps the total measuring time for slow functions by cutting the repeat count (min 3).
    """
    return time_all({"f": fn}, warmup, repeats, min_repeat_time, max_number, budget)["f"]


SETTLE = float(os.environ.get("GRAPHC_BENCH_SETTLE", "0.1"))  # idle seconds before each repeat (see time_all)


def time_all(calls, warmup=2, repeats=7, min_repeat_time=0.05, max_number=100_000, budget=None, settle=None):
    """{name: median seconds per call} for {name: fn}, measured interleaved.

    Like timeit, but the repeats of the different functions take turns (repeat 1 of each, then
    repeat 2 of each, ...), so a burst of load from other processes on this small machine hits
    every contender alike instead of skewing one ratio.

    Before each contender's repeat the process sleeps `settle` seconds: the frameworks share
    this process, and their worker threads (OpenMP in torch and in numba's parallel code that
    pytensor runs, XLA's pool, OpenBLAS) spin for a while after their last job; on 2 cores a
    spinning pool left over from the previous contender would steal the CPU from the next one.
    """
    settle = SETTLE if settle is None else settle
    plan = {}
    for name, fn in calls.items():
        time.sleep(settle)
        plan[name] = _calibrate(fn, warmup, min_repeat_time, max_number)
    if budget is not None:
        per_round = sum(one * number for one, number in plan.values())
        repeats = max(3, min(repeats, int(budget / per_round)))
    samples = {name: [] for name in calls}
    for _ in range(repeats):
        for name, fn in calls.items():
            number = plan[name][1]
            if settle:
                time.sleep(settle)
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - start) / number)
    return {name: statistics.median(s) for name, s in samples.items()}


# ---------------------------------------------------------------- peers
def _skip(name, err):
    print(f"skipped: {name} not installed ({type(err).__name__}: {err})")
    return None


def import_jax(x64=True):
    """jax with float64 enabled (so float64 benchmarks really run in float64), or None."""
    try:
        import jax

        if x64:
            jax.config.update("jax_enable_x64", True)
        import jax.numpy  # noqa: F401
        return jax
    except Exception as err:  # ImportError, or a broken install
        return _skip("jax", err)


def import_torch():
    try:
        import torch

        return torch
    except Exception as err:
        return _skip("torch", err)


def import_pytensor():
    try:
        import pytensor
        import pytensor.tensor  # noqa: F401

        return pytensor
    except Exception as err:
        return _skip("pytensor", err)


def pytensor_modes(pytensor):
    """(label, mode) pairs: pytensor's default mode, plus NUMBA and the C VM where they differ."""
    modes = [("pytensor", None)]
    default_linker = type(pytensor.compile.mode.get_default_mode().linker).__name__
    if "Numba" not in default_linker:
        modes.append(("pt[NUMBA]", "NUMBA"))
    else:
        # The default already is numba (pytensor >= 3): compare with the classic C virtual machine.
        modes.append(("pt[CVM]", "CVM"))
    return modes


def pytensor_function(pytensor, inputs, outputs, mode=None, **kwargs):
    """pytensor.function, or None (printing why) when that mode fails."""
    try:
        return pytensor.function(inputs, outputs, mode=mode, **kwargs)
    except Exception as err:
        print(f"skipped: pytensor mode={mode!r} failed: {type(err).__name__}: {str(err)[:200]}")
        return None


# ---------------------------------------------------------------- header
def header(title, jax=None, torch=None, pytensor=None):
    import numba
    import numpy as np

    import graphc

    print("=" * 100)
    print(title)
    print("=" * 100)
    print(f"python {platform.python_version()} ({sys.executable}), numpy {np.__version__}, "
          f"numba {numba.__version__}, graphc {graphc.__version__}")
    try:
        from graphc.backends.numba_backend import runner

        gthreads = runner._threads()
    except Exception:  # the runner's internals may change
        gthreads = "?"
    print(f"os.cpu_count()={os.cpu_count()}, numba threads={numba.config.NUMBA_NUM_THREADS}, "
          f"graphc kernel threads={gthreads}")
    if jax is not None:
        print(f"jax {jax.__version__}: devices={jax.devices()}, x64={jax.config.jax_enable_x64}")
    if torch is not None:
        print(f"torch {torch.__version__}: threads={torch.get_num_threads()}, "
              f"interop threads={torch.get_num_interop_threads()}")
    if pytensor is not None:
        mode = pytensor.compile.mode.get_default_mode()
        print(f"pytensor {pytensor.__version__}: default mode={pytensor.config.mode} "
              f"(linker {type(mode.linker).__name__})")
    try:
        load = "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        load = "load average unknown"
    print(f"{load} (other processes share these cores: expect noise)")
    print("Times are medians (warm-up, then several repeats of several calls, contenders interleaved, "
          f"{SETTLE:g} s idle before each repeat); ratio = graphc/peer (< 1: graphc faster).")
    print()


# ---------------------------------------------------------------- tables
def fmt_time(seconds, unit):
    if seconds is None:
        return "-"
    scale = {"s": 1, "ms": 1e3, "us": 1e6}[unit]
    v = seconds * scale
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


class Target:
    """A PASS/FAIL column. check(case, times) returns None (not applicable) or (value, limit)."""

    def __init__(self, label, check, kind="ratio"):
        self.label = label
        self.check = check
        self.kind = kind


def ratio_target(peer, limit, applies=lambda case: True, ref="graphc"):
    def check(case, times):
        if not applies(case) or times.get(ref) is None or times.get(peer) is None:
            return None
        return times[ref] / times[peer], limit

    return Target(f"{ref}/{peer}<={limit:g}", check)


def print_table(bench, rows, impls, ref="graphc", unit="ms", targets=(), case_label="case"):
    """rows: list of (case, {impl: seconds or None}). Prints medians, graphc/peer ratios, targets."""
    peers = [p for p in impls if p != ref]
    head = [case_label] + [f"{i} {unit}" for i in impls] + [f"{ref}/{p}" for p in peers] + [t.label for t in targets]
    table = []
    for case, times in rows:
        line = [str(case)] + [fmt_time(times.get(i), unit) for i in impls]
        for p in peers:
            if times.get(ref) is None or times.get(p) is None:
                line.append("-")
            else:
                line.append(f"{times[ref] / times[p]:.3f}")
        for t in targets:
            res = t.check(case, times)
            if res is None:
                line.append("-")
                continue
            value, limit = res
            passed = value <= limit
            shown = f"{value:.3f}" if t.kind == "ratio" else f"{value:.3g}"
            line.append(f"{'PASS' if passed else 'FAIL'} {shown}")
            _TARGETS.append((bench, str(case), t.label, value, limit, passed))
        table.append(line)
    widths = [max(len(r[k]) for r in [head] + table) for k in range(len(head))]
    def emit(r):
        print("  ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths))))
    emit(head)
    print("  ".join("-" * w for w in widths))
    for r in table:
        emit(r)
    print()


def record_target(bench, case, label, value, limit):
    """An absolute target (e.g. seconds) checked outside a table; prints and records it."""
    passed = value <= limit
    _TARGETS.append((bench, case, label, value, limit, passed))
    return "PASS" if passed else "FAIL"


def print_summary():
    if not _TARGETS:
        return
    print("targets:")
    for bench, case, label, value, limit, passed in _TARGETS:
        print(f"TARGET {'PASS' if passed else 'FAIL'}  {bench:<12} {case:<28} {label:<28} "
              f"value {value:.4g} (limit {limit:g})")
    npass = sum(t[5] for t in _TARGETS)
    print(f"{bench}: {npass} of {len(_TARGETS)} targets pass")


def max_rel_err(a, ref):
    import numpy as np

    a = np.asarray(a, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    return float(np.max(np.abs(a - ref)) / max(np.max(np.abs(ref)), 1e-300))


# ---------------------------------------------------------------- graphc internals (diagnosis)
def node_breakdown(f, call, reps=20):
    """Per-node time of a graphc compiled call (from graphc internals): (total, parts) or None.
    The nodes of loop bodies' drivers are timed too, one entry per op of each body, labelled
    with the loop (a loop node's own time includes its body's)."""
    import collections

    from graphc.ir.ops.fused import FUSED

    runner = getattr(f, "_runner", None)
    if runner is None or not hasattr(runner, "run"):
        return None
    acc = collections.defaultdict(float)
    count = collections.Counter()
    patched = []  # (namespace, key, original)

    def instrument(driver, label):
        ns = getattr(driver.run, "__globals__", None)
        if ns is None:
            return
        nodes = {f"v{i}": node for i, node in enumerate(driver.graph.nodes)}
        for key, value in list(ns.items()):
            prefix, _, var = key.partition("_")
            if callable(value) and var in nodes and prefix in ("k", "op", "mm"):
                node = nodes[var]
                what = node.op.name
                if node.op is FUSED:
                    what = "fused: " + " -> ".join(m.op.name for m in node.attrs["body"].nodes if m.inputs)
                what = f"{label}{what}"
                count[what] += 1
                patched.append((ns, key, value))

                def timed(*a, _fn=value, _what=what, **kw):
                    start = time.perf_counter()
                    result = _fn(*a, **kw)
                    acc[_what] += time.perf_counter() - start
                    return result

                ns[key] = timed
        # The bodies' drivers, in the order of their loop nodes (each node's subgraphs in turn).
        owners = []
        for node in driver.graph.nodes:
            if node.op.body_attrs and node.op is not FUSED:  # fused kernels are no driver
                tag = node.op.name + (" reverse" if node.attrs.get("reverse") else "")
                owners += [tag] * len(node.op.subgraphs(node.attrs))
        for k, body in enumerate(driver.bodies):
            instrument(body, f"{label}  [{owners[k] if k < len(owners) else '?'} body] ")

    try:
        instrument(runner, "")
        if not patched:
            return None
        call()
        acc.clear()
        start = time.perf_counter()
        for _ in range(reps):
            call()
        total = (time.perf_counter() - start) / reps
    finally:
        for ns, key, value in patched:
            ns[key] = value
    parts = sorted(((s / reps, what, count[what]) for what, s in acc.items()), reverse=True)
    return total, parts


def print_breakdown(title, f, call, top=10, reps=20):
    try:
        res = node_breakdown(f, call, reps)
    except Exception as err:  # graphc internals change; never fail a benchmark over this
        print(f"{title}: breakdown unavailable ({type(err).__name__}: {err})")
        return
    if res is None:
        print(f"{title}: breakdown unavailable (driver layout not recognised)")
        return
    total, parts = res
    print(f"{title}: {total * 1e3:.3f} ms per call (instrumented); the parts add up to "
          f"{sum(p[0] for p in parts) * 1e3:.3f} ms, the rest is driver/call overhead")
    for seconds, what, n in parts[:top]:
        print(f"    {seconds * 1e3:8.3f} ms  {100 * seconds / total:5.1f}%  {n:>2} x {what}")


def print_worst_errors(errors, dtypes, impls):
    """One line per dtype: each contender's largest relative error over the sizes."""
    worst = {}
    for dtype, n, name, err in errors:
        worst[(dtype, name)] = max(worst.get((dtype, name), 0.0), err)
    for dtype in dtypes:
        print("  " + dtype + ": " + ", ".join(f"{name} {worst[(dtype, name)]:.1e}"
                                              for name in impls if (dtype, name) in worst))


# ---------------------------------------------------------------- CPU features
def print_cpu_features():
    """Which CPU and which code paths ran: the CPU's SIMD levels as NumPy sees them, the CPU
    numba compiles graphc's kernels for, and the BLAS (its kernel set and thread count) that
    NumPy's and graphc's matmuls call. OPENBLAS_CORETYPE, where set, forces that kernel set."""
    import numpy as np

    try:
        from numpy._core import _multiarray_umath as umath

        dispatch = [f for f in umath.__cpu_dispatch__ if umath.__cpu_features__.get(f)]
        print(f"numpy SIMD: baseline {' '.join(umath.__cpu_baseline__)}, dispatched {' '.join(dispatch) or '-'}")
    except (ImportError, AttributeError):  # NumPy internals
        print("numpy SIMD: unknown")
    try:
        import llvmlite.binding as llvm

        print(f"numba kernels compiled for CPU {llvm.get_host_cpu_name()}")
    except Exception as err:
        print(f"numba CPU: unknown ({type(err).__name__})")
    from graphc.backends.numba_backend import blas

    info = blas.blas_info()
    if info["library"] is None:
        print(f"BLAS: not OpenBLAS ({np.show_config(mode='dicts')['Build Dependencies']['blas']['name']}): "
              "graphc leaves its threads alone")
    else:
        print(f"BLAS: {info.get('config', '?')}, kernels for {info.get('core', '?')}, {info['threads']} threads; "
              f"graphc runs matmuls below {blas.THREADS_FROM} float64 multiply-adds on one of them")
    names = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
    env = {k: os.environ[k] for k in names if k in os.environ}
    print(f"environment: {' '.join(f'{k}={v}' for k, v in env.items()) or 'no BLAS or thread variables set'}")
