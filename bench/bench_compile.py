"""Benchmark 5: compile time.

- the MLP training step of bench_mlp.py (float64, batch 64): cold (a fresh process, an empty
  kernel cache: GRAPHC_CACHE_DIR set to a new temp dir) and warm (another fresh process with
  the same GRAPHC_CACHE_DIR); f.stats of the cold compile is printed;
- an elementwise chain of 10, 100 and 1000 mixed ops (mul/add by constants, tanh, sin,
  sigmoid, ... nothing simplifies away), cold; each intermediate has a single consumer, so
  fusion may make it one kernel. For context, "chain 1000 split" writes square(v) as v * v,
  which ends a kernel every 10 ops (about 100 kernels sharing one source).

Each measurement runs in its own subprocess (this script with --child), which times
gc.compile and the first call separately; process start and imports are not counted.
For context, jax.jit's first call (trace + XLA compile) of the same MLP step is timed too.
Targets: MLP cold < 3 s, warm < 0.3 s, 1000-op chain < 5 s (gc.compile time).

Run: python bench/bench_compile.py
"""
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CHAIN_LENGTHS = [10, 100, 1000]
TARGETS = {"mlp cold": 3.0, "mlp warm": 0.3, "chain 1000 cold": 5.0}


# ---------------------------------------------------------------- children
def chain_graph(gc, n_ops, x, split=False):
    """n_ops elementwise ops, cycling through a mix that keeps values bounded and un-simplifiable.

    Every intermediate has one consumer, so fusion may put the whole chain in one kernel. With
    split=True, square(v) is written v * v: v then has two uses, which ends a fused kernel
    every 10 ops (so the 1000-op chain becomes ~100 kernels of the same source).
    """
    steps = [
        lambda v, k: v * (1.0001 + 1e-7 * k),
        lambda v, k: v + (0.5 - 1e-7 * k),
        lambda v, k: gc.tanh(v),
        lambda v, k: v * (0.999 - 1e-7 * k),
        lambda v, k: gc.sin(v),
        lambda v, k: v - (0.25 + 1e-7 * k),
        lambda v, k: gc.sigmoid(v),
        (lambda v, k: v * v) if split else (lambda v, k: gc.square(v)),
        lambda v, k: gc.exp(v),
        lambda v, k: v + x,  # the input is read again: the chain is not a plain line
    ]
    v = x
    for k in range(n_ops):
        v = steps[k % len(steps)](v, k)
    return v


def child(kind, arg):
    t0 = time.perf_counter()
    import numpy as np

    import graphc as gc
    import graphc.backends.numba_backend.backend  # noqa: F401  (else the first gc.compile imports numba)

    t_import = time.perf_counter() - t0
    result = {"import_s": t_import}
    if kind == "mlp":
        sys.path.insert(0, HERE)
        from bench_mlp import graphc_graph, init_params, make_data

        dtype = "float64"
        params = init_params(dtype)
        t = time.perf_counter()
        (x, y), loss, updates = graphc_graph(params, dtype)
        result["build_s"] = time.perf_counter() - t
        t = time.perf_counter()
        f = gc.compile([x, y], loss, updates=updates)  # timed apart from building the graph
        result["compile_s"] = time.perf_counter() - t
        xb, yb = make_data(64, dtype)
        t = time.perf_counter()
        f(xb, yb)
        result["first_call_s"] = time.perf_counter() - t
        t = time.perf_counter()
        f(xb, yb)
        result["second_call_s"] = time.perf_counter() - t
        result["stats"] = str(f.stats)
    elif kind in ("chain", "chainsplit"):
        n_ops = int(arg)
        t = time.perf_counter()
        x = gc.placeholder((None,), "float64", name="x")
        out = chain_graph(gc, n_ops, x, split=kind == "chainsplit")
        result["build_s"] = time.perf_counter() - t
        t = time.perf_counter()
        f = gc.compile([x], out)
        result["compile_s"] = time.perf_counter() - t
        xv = np.linspace(-1, 1, 1000)
        t = time.perf_counter()
        got = f(xv)
        result["first_call_s"] = time.perf_counter() - t
        t = time.perf_counter()
        f(xv)
        result["second_call_s"] = time.perf_counter() - t
        ref = gc.compile([x], out, backend="numpy")(xv)
        result["max_abs_err_vs_numpy_backend"] = float(np.max(np.abs(got - ref)))
        st = f.stats
        result["stats_line"] = str(st).splitlines()[0]
        result["kernels"] = st.kernels
        result["passes"] = [(p["name"], round(p["seconds"], 4)) for p in st.passes]
        result["kernel_compile_s"] = getattr(st, "kernel_compile_time", None)
    elif kind == "numbainit":
        # What any first use of numba costs in a fresh process (graphc's warm compile pays it):
        # the first njit compile includes numba's one-time target/typing initialisation.
        import numba

        def first(v):
            return v + 1

        def second(v):
            return v * 2

        t = time.perf_counter()
        numba.njit(first)(1)
        result["first_njit_s"] = time.perf_counter() - t
        t = time.perf_counter()
        numba.njit(second)(1)
        result["second_njit_s"] = time.perf_counter() - t
    elif kind == "jaxmlp":
        sys.path.insert(0, HERE)
        try:
            import jax

            jax.config.update("jax_enable_x64", True)
        except ImportError:
            result["skipped"] = "jax not installed"
            print(json.dumps(result))
            return
        from bench_mlp import init_params, jax_step, make_data

        step = jax_step(jax, init_params("float64"))
        xb, yb = make_data(64, "float64")
        t = time.perf_counter()
        step(xb, yb)
        result["first_call_s"] = time.perf_counter() - t
        t = time.perf_counter()
        step(xb, yb)
        result["second_call_s"] = time.perf_counter() - t
    print("RESULT " + json.dumps(result))


def run_child(kind, arg, cache_dir):
    env = dict(os.environ, GRAPHC_CACHE_DIR=cache_dir)
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", kind, str(arg)],
                          env=env, capture_output=True, text=True, timeout=600)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    print(f"child {kind} {arg} failed (rc {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return None


# ---------------------------------------------------------------- parent
def main():
    sys.path.insert(0, HERE)
    from common import header, print_summary, record_target

    header("bench_compile: compile time of the MLP training step and of elementwise chains "
           "(each in a fresh process)")
    rows = []
    mlp_stats = None
    with tempfile.TemporaryDirectory(prefix="graphc-bench-cache-") as cache:
        cold = run_child("mlp", 0, cache)
        warm = run_child("mlp", 0, cache)
        if cold:
            rows.append(("mlp cold", cold))
            mlp_stats = cold.get("stats")
        if warm:
            rows.append(("mlp warm", warm))
    for n in CHAIN_LENGTHS:
        with tempfile.TemporaryDirectory(prefix="graphc-bench-cache-") as cache:
            r = run_child("chain", n, cache)
            if r:
                rows.append((f"chain {n} cold", r))
    with tempfile.TemporaryDirectory(prefix="graphc-bench-cache-") as cache:
        r = run_child("chainsplit", 1000, cache)
        if r:
            rows.append(("chain 1000 split", r))
    jr = run_child("jaxmlp", 0, tempfile.gettempdir())
    with tempfile.TemporaryDirectory(prefix="graphc-bench-cache-") as cache:
        nr = run_child("numbainit", 0, cache)

    print(f"{'case':<18}{'import s':>10}{'build s':>10}{'gc.compile s':>14}{'1st call s':>12}{'2nd call s':>12}"
          f"{'target':>10}  result")
    print("-" * 100)
    for case, r in rows:
        limit = TARGETS.get(case)
        verdict = record_target("compile", case, f"gc.compile < {limit:g}s", r["compile_s"], limit) if limit else "-"
        print(f"{case:<18}{r['import_s']:>10.3f}{r['build_s']:>10.3f}{r['compile_s']:>14.3f}"
              f"{r['first_call_s']:>12.4f}{r['second_call_s']:>12.5f}{('< %gs' % limit) if limit else '-':>10}  {verdict}")
    if jr and "skipped" not in jr:
        print(f"{'jax.jit mlp (ctx)':<18}{jr['import_s']:>10.3f}{'-':>10}{'-':>14}{jr['first_call_s']:>12.4f}"
              f"{jr['second_call_s']:>12.5f}{'-':>10}  (first call = trace + XLA compile)")
    if nr:
        print(f"{'numba init (ctx)':<18}{nr['import_s']:>10.3f}{'-':>10}{'-':>14}{nr['first_njit_s']:>12.4f}"
              f"{nr['second_njit_s']:>12.5f}{'-':>10}  (fresh process: 1st and 2nd trivial njit compile; "
              f"the difference is numba's one-time init)")
    print()
    for case, r in rows:
        if case.startswith("chain"):
            print(f"{case}: {r['stats_line']}; kernel compile {r['kernel_compile_s']:.3f} s; max |numba - numpy "
                  f"backend| = {r['max_abs_err_vs_numpy_backend']:.1e}; passes (s): "
                  + ", ".join(f"{n} {s:g}" for n, s in r["passes"]))
    print()
    if mlp_stats:
        print("f.stats of the cold MLP compile:")
        print("  " + mlp_stats.replace("\n", "\n  "))
        print()
    if warm and warm.get("stats"):
        print("f.stats of the warm MLP compile:")
        print("  " + warm["stats"].replace("\n", "\n  "))
        print()
    print_summary()


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        main()
