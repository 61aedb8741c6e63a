"""Benchmark for issue 10 (control flow): an RNN through a loop, loss and gradients per call.

    h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b),  h_0 = 0,  loss = sum_t sum(h_t**2) / (T * B)

batch B=32, D=16 inputs, H=64 hidden, float64, T = 50, 200, 1000 (--quick: 50, 200). Each call
returns the loss and its gradients wrt Wx, Wh and b. Contenders, all in this process on the same
data:

- graphc: gc.scan over xs, gc.grad, gc.compile (numba backend), one compiled function per T;
- graphc-unrolled: the same RNN as a Python loop building T steps into one graph (skipped at a T
  where its compile, measured in a child process, takes more than 60 s);
- jax.lax.scan: jax.jit(jax.value_and_grad(loss)) with the loop as jax.lax.scan;
- pytensor: pytensor.scan and pytensor.grad (default mode, and the other mode pytensor_modes gives);
- torch: eager, a Python loop, torch.autograd.grad;
- numpy: hand-written BPTT, with the carry-independent matmuls hoisted out of the loops
  (x @ Wx for all steps before the forward loop; the weight gradients as one matmul each after
  the backward loop). It is also the reference the others are checked against.

Compile times: gc.compile of the scan graph at each T and of the unrolled graph, each in a fresh
process (this script with --child) with an empty GRAPHC_CACHE_DIR (cold), the scan one also warm
(a second child on the same cache dir); jax's and pytensor's first-call/compile times in this
process for context.
Targets: graphc/jax.lax.scan <= 0.5 at T=200; graphc scan gc.compile < 2 s (cold) at T=1000.

Run: python bench/bench_scan.py [--quick]
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
B, D, H = 32, 16, 64
DTYPE = "float64"
LENGTHS = [50, 200, 1000]
if "--quick" in sys.argv:
    LENGTHS = [50, 200]
UNROLLED_LIMIT_S = 60.0  # skip the unrolled graph where its compile takes longer
TARGET_T = 200
COMPILE_T, COMPILE_LIMIT_S = 1000, 2.0


def make_data(T, seed=0):
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((T, B, D)).astype(DTYPE)
    Wx = (rng.standard_normal((D, H)) / np.sqrt(D)).astype(DTYPE)
    Wh = (rng.standard_normal((H, H)) * (0.9 / np.sqrt(H))).astype(DTYPE)
    b = (0.1 * rng.standard_normal(H)).astype(DTYPE)
    return xs, Wx, Wh, b


# ---------------------------------------------------------------- NumPy (reference)
def numpy_rnn(xs, Wx, Wh, b):
    """(loss, dWx, dWh, db) by hand-written BPTT, carry-independent matmuls hoisted."""
    T = xs.shape[0]
    scale = 1.0 / (T * B)
    pre = (xs.reshape(T * B, D) @ Wx).reshape(T, B, H) + b  # x_t @ Wx + b for all t at once
    hs = np.empty((T + 1, B, H), dtype=xs.dtype)  # hs[0] = h_0, hs[t + 1] = h_t
    hs[0] = 0
    for t in range(T):
        hs[t + 1] = np.tanh(pre[t] + hs[t] @ Wh)
    loss = scale * np.sum(hs[1:] * hs[1:])
    das = np.empty((T, B, H), dtype=xs.dtype)  # d loss / d pre-activation of step t
    carry = np.zeros((B, H), dtype=xs.dtype)  # d loss / d h_t through the later steps
    WhT = Wh.T
    for t in range(T - 1, -1, -1):
        h = hs[t + 1]
        da = (2 * scale * h + carry) * (1 - h * h)
        das[t] = da
        carry = da @ WhT
    flat = das.reshape(T * B, H)
    dWx = xs.reshape(T * B, D).T @ flat
    dWh = hs[:-1].reshape(T * B, H).T @ flat
    db = flat.sum(axis=0)
    return loss, dWx, dWh, db


# ---------------------------------------------------------------- graphc
def graphc_graph(gc, T, unrolled=False):
    """(inputs, outputs): placeholders xs, Wx, Wh, b; outputs [loss, dWx, dWh, db]."""
    xs = gc.placeholder((T, B, D), DTYPE, name="xs")
    Wx = gc.placeholder((D, H), DTYPE, name="Wx")
    Wh = gc.placeholder((H, H), DTYPE, name="Wh")
    b = gc.placeholder((H,), DTYPE, name="b")
    h0 = gc.constant(np.zeros((B, H), dtype=DTYPE))
    scale = 1.0 / (T * B)
    if unrolled:
        h, total = h0, None
        for t in range(T):
            h = gc.tanh(xs[t] @ Wx + h @ Wh + b)
            term = gc.sum(h * h)
            total = term if total is None else total + term
        loss = total * scale
    else:
        def step(h, x):
            h = gc.tanh(x @ Wx + h @ Wh + b)
            return h, h

        _, hs = gc.scan(step, h0, xs)
        loss = gc.sum(hs * hs) * scale
    grads = gc.grad(loss, [Wx, Wh, b])
    return [xs, Wx, Wh, b], [loss] + list(grads)


def blas_floor(T, repeats=7):
    """Median seconds NumPy's BLAS takes for the RNN's products alone at T: the 2T per-step
    (B, H) @ (H, H) products of the two loops and the three products moved out of them. No
    implementation on this BLAS does less than that, whatever else it saves."""
    import statistics

    xs, Wx, Wh, b = make_data(T)
    h, out = np.ones((B, H)), np.empty((B, H))
    flat_x, flat_g, flat_h = xs.reshape(T * B, D), np.ones((T * B, H)), np.ones((T * B, H))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(2 * T):
            np.dot(h, Wh, out=out)
        flat_x @ Wx, flat_x.T @ flat_g, flat_h.T @ flat_g
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def child(kind, T):
    """Time building and gc.compile of one graph in this fresh process; print a RESULT line."""
    t0 = time.perf_counter()
    import graphc as gc
    import graphc.backends.numba_backend.backend  # noqa: F401  (else the first gc.compile imports numba)

    result = {"import_s": time.perf_counter() - t0}
    t = time.perf_counter()
    inputs, outputs = graphc_graph(gc, T, unrolled=kind == "unrolled")
    result["build_s"] = time.perf_counter() - t
    t = time.perf_counter()
    f = gc.compile(inputs, outputs)
    result["compile_s"] = time.perf_counter() - t
    data = make_data(T)
    t = time.perf_counter()
    f(*data)
    result["first_call_s"] = time.perf_counter() - t
    t = time.perf_counter()
    f(*data)
    result["second_call_s"] = time.perf_counter() - t
    st = f.stats
    result["nodes"] = [st.nodes_before, st.nodes_after]
    result["kernels"] = st.kernels
    print("RESULT " + json.dumps(result))


def run_child(kind, T, cache_dir, timeout):
    """The child's result dict, {"timeout": s} when it ran out of time, or None when it failed."""
    env = dict(os.environ, GRAPHC_CACHE_DIR=cache_dir)
    try:
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", kind, str(T)],
                              env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"timeout": timeout}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    print(f"child {kind} T={T} failed (rc {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return None


def compile_times(lengths):
    """{(kind, T): result} for the scan graph (cold and warm) and the unrolled graph (cold)."""
    out = {}
    for T in lengths:
        with tempfile.TemporaryDirectory(prefix="graphc-bench-cache-") as cache:
            out[("scan cold", T)] = run_child("scan", T, cache, timeout=600)
            out[("scan warm", T)] = run_child("scan", T, cache, timeout=600)
        with tempfile.TemporaryDirectory(prefix="graphc-bench-cache-") as cache:
            # The child's own import and build come on top of the limit on gc.compile.
            out[("unrolled cold", T)] = run_child("unrolled", T, cache, timeout=UNROLLED_LIMIT_S + 30)
    return out


# ---------------------------------------------------------------- peers
def jax_contender(jax):
    jnp = jax.numpy

    def loss(xs, Wx, Wh, b):
        def step(h, x):
            h = jnp.tanh(x @ Wx + h @ Wh + b)
            return h, h

        _, hs = jax.lax.scan(step, jnp.zeros((B, H), dtype=xs.dtype), xs)
        return jnp.sum(hs * hs) / (xs.shape[0] * B)

    vg = jax.jit(jax.value_and_grad(loss, argnums=(1, 2, 3)))

    def factory(xs, Wx, Wh, b):
        args = [jax.device_put(a) for a in (xs, Wx, Wh, b)]

        def call():
            value, grads = jax.block_until_ready(vg(*args))
            return (value,) + tuple(grads)

        return call

    return factory


def pytensor_contenders(pytensor):
    """{label: (factory, compile seconds)}: one function per mode, serving every T."""
    from common import pytensor_function, pytensor_modes

    pt = pytensor.tensor
    X = pt.tensor3("xs", dtype=DTYPE)
    Wx, Wh = pt.matrix("Wx", dtype=DTYPE), pt.matrix("Wh", dtype=DTYPE)
    b = pt.vector("b", dtype=DTYPE)
    h0 = pt.zeros((B, H), dtype=DTYPE)
    kwargs = dict(sequences=X, outputs_info=h0, non_sequences=[Wx, Wh, b])
    try:
        hs = pytensor.scan(lambda x, h, Wx, Wh, b: pt.tanh(x @ Wx + h @ Wh + b), return_updates=False, **kwargs)
    except TypeError:  # pytensor < 3: (outputs, updates)
        hs = pytensor.scan(lambda x, h, Wx, Wh, b: pt.tanh(x @ Wx + h @ Wh + b), **kwargs)[0]
    loss = pt.sum(hs * hs) / (X.shape[0] * B)
    grads = pytensor.grad(loss, [Wx, Wh, b])
    out = {}
    for label, mode in pytensor_modes(pytensor):
        t = time.perf_counter()
        pf = pytensor_function(pytensor, [X, Wx, Wh, b], [loss] + grads, mode=mode)
        seconds = time.perf_counter() - t
        if pf is not None:
            out[label] = (lambda xs, Wx, Wh, b, pf=pf: (lambda: pf(xs, Wx, Wh, b)), seconds)
    return out


def torch_contender(torch):
    def factory(xs, Wx, Wh, b):
        xt = torch.from_numpy(xs)
        params = [torch.from_numpy(a).clone().requires_grad_(True) for a in (Wx, Wh, b)]
        T = xs.shape[0]

        def call():
            W1, W2, bias = params
            h = torch.zeros((B, H), dtype=xt.dtype)
            total = 0.0
            for t in range(T):
                h = torch.tanh(xt[t] @ W1 + h @ W2 + bias)
                total = total + (h * h).sum()
            loss = total / (T * B)
            return (loss.detach(),) + tuple(torch.autograd.grad(loss, params))

        return call

    return factory


# ---------------------------------------------------------------- parent
def main():
    sys.path.insert(0, HERE)
    from common import (
        header, import_jax, import_pytensor, import_torch, max_rel_err, node_breakdown, print_cpu_features,
        print_summary, print_table, ratio_target, record_target, time_all,
    )

    jax, torch, pytensor = import_jax(), import_torch(), import_pytensor()
    import graphc as gc

    header(f"bench_scan: RNN h = tanh(x Wx + h Wh + b), loss = sum_t sum(h_t^2)/(T*B), loss + grads wrt "
           f"Wx, Wh, b; B={B}, D={D}, H={H}, {DTYPE}", jax, torch, pytensor)
    print_cpu_features()
    print(f"graphc from {gc.__file__}")
    print()

    # Compile times first, in children, before this process's threads and caches are warm.
    compiled = compile_times(LENGTHS)

    impls = ["graphc", "graphc-unrolled"]
    peers = {}
    peer_compile = {}
    if jax is not None:
        peers["jax.lax.scan"] = jax_contender(jax)
    if pytensor is not None:
        for label, (factory, seconds) in pytensor_contenders(pytensor).items():
            peers[label] = factory
            peer_compile[label] = seconds
    if torch is not None:
        peers["torch"] = torch_contender(torch)
    peers["numpy"] = lambda xs, Wx, Wh, b: (lambda: numpy_rnn(xs, Wx, Wh, b))
    impls += list(peers)

    rows, errors, notes = [], {}, []
    in_process = {}
    breakdown_f = None
    for T in LENGTHS:
        data = make_data(T)
        ref = numpy_rnn(*(a.astype(np.float64) for a in data))
        factories = dict(peers)
        t = time.perf_counter()
        f = gc.compile(*graphc_graph(gc, T))
        in_process[("graphc", T)] = time.perf_counter() - t
        factories = {"graphc": lambda *a, f=f: (lambda: f(*a)), **factories}
        if T == TARGET_T:
            breakdown_f = (f, data)
        unrolled = compiled.get(("unrolled cold", T))
        if unrolled is not None and "timeout" in unrolled:
            notes.append(f"graphc-unrolled skipped at T={T}: its compile ran past {UNROLLED_LIMIT_S:g} s "
                         f"in a child process")
        else:
            t = time.perf_counter()
            fu = gc.compile(*graphc_graph(gc, T, unrolled=True))
            in_process[("graphc-unrolled", T)] = time.perf_counter() - t
            factories["graphc-unrolled"] = lambda *a, fu=fu: (lambda: fu(*a))
        calls = {}
        for name, factory in factories.items():
            call = factory(*data)
            t = time.perf_counter()
            out = call()
            if name == "jax.lax.scan":
                peer_compile[f"jax.lax.scan T={T}"] = time.perf_counter() - t
            out = [np.asarray(o.detach() if hasattr(o, "detach") else o) for o in out]
            errors[(name, T)] = [max_rel_err(o, r) for o, r in zip(out, ref)]
            calls[name] = call
        budget = 8.0 if T >= 1000 else 4.0
        times = time_all(calls, warmup=1 if T >= 1000 else 2, repeats=7, min_repeat_time=0.05, budget=budget)
        rows.append((f"T={T}", times))

    floor = blas_floor(TARGET_T)
    targets = [ratio_target("jax.lax.scan", 0.5, applies=lambda case: case == f"T={TARGET_T}")]
    print("median time per call, loss and 3 gradients (ms):")
    print_table("scan", rows, impls, unit="ms", targets=targets, case_label="T")
    for note in notes:
        print(note)
    jax_time = dict(rows[LENGTHS.index(TARGET_T)][1]).get("jax.lax.scan")
    print(f"BLAS floor at T={TARGET_T}: NumPy's BLAS alone takes {floor * 1e3:.2f} ms for the RNN's matmuls "
          f"({2 * TARGET_T} products ({B}, {H}) @ ({H}, {H}) and the 3 moved out of the loops)"
          + (f"; floor / jax.lax.scan = {floor / jax_time:.3f}" if jax_time else ""))

    print("agreement: max |out - ref| / max |ref| vs NumPy's float64 BPTT (loss, dWx, dWh, db; worst over T):")
    for name in impls:
        errs = [e for (n, _), e in errors.items() if n == name]
        if errs:
            worst = np.max(np.array(errs), axis=0)
            print(f"  {name:<16} " + ", ".join(f"{k} {v:.1e}" for k, v in zip(("loss", "dWx", "dWh", "db"), worst)))
    print()

    print("compile times, fresh process each (s; cold = empty GRAPHC_CACHE_DIR, warm = second process on it):")
    print(f"{'graph':<16}{'T':>6}{'import':>9}{'build':>9}{'gc.compile':>12}{'1st call':>10}{'2nd call':>10}"
          f"{'nodes before->after':>22}{'kernels':>9}  target")
    print("-" * 100)
    for (kind, T), r in compiled.items():
        if r is None:
            print(f"{kind:<16}{T:>6}  failed (see above)")
            continue
        if "timeout" in r:
            print(f"{kind:<16}{T:>6}  ran past {r['timeout']:g} s (import + build + compile): skipped")
            continue
        verdict = "-"
        if kind == "scan cold" and T == COMPILE_T:
            verdict = record_target("scan", f"T={T} cold", f"gc.compile < {COMPILE_LIMIT_S:g}s", r["compile_s"],
                                    COMPILE_LIMIT_S) + f" (< {COMPILE_LIMIT_S:g} s)"
        print(f"{kind:<16}{T:>6}{r['import_s']:>9.2f}{r['build_s']:>9.2f}{r['compile_s']:>12.3f}"
              f"{r['first_call_s']:>10.3f}{r['second_call_s']:>10.4f}"
              f"{'%d -> %d' % tuple(r['nodes']):>22}{r['kernels']:>9}  {verdict}")
    if COMPILE_T not in LENGTHS:
        print(f"(the compile target is at T={COMPILE_T}: run without --quick)")
    print("in this process (kernel cache as found): "
          + ", ".join(f"{name} T={T} {s:.2f} s" for (name, T), s in in_process.items()))
    print("peers' compile in this process (s): "
          + ", ".join(f"{name} {s:.2f}" for name, s in peer_compile.items())
          + " (pytensor: one function for every T; jax: first call = trace + XLA compile)")
    print()

    if breakdown_f is not None:
        f, data = breakdown_f
        st = f.stats
        print(f"graphc scan graph at T={TARGET_T}: {st.nodes_before} -> {st.nodes_after} nodes, {st.kernels} fused "
              f"kernels; slow paths: {'; '.join(st.slow_paths) or 'none'}")
        try:
            res = node_breakdown(f, lambda: f(*data))
        except Exception as err:  # graphc internals change; never fail the benchmark over this
            res = None
            print(f"breakdown unavailable ({type(err).__name__}: {err})")
        if res is not None:
            total, parts = res
            print(f"graphc breakdown at T={TARGET_T}: {total * 1e3:.3f} ms per call (instrumented; a loop node's "
                  f"time includes its body's, listed under it as '[... body]'; counts are nodes, not calls)")
            for seconds, what, n in parts[:16]:
                print(f"    {seconds * 1e3:8.3f} ms  {100 * seconds / total:5.1f}%  {n:>2} x {what}")
        print()
        print(f"graphc scan graph listing at T={TARGET_T}:")
        print("    " + str(f.graph).replace("\n", "\n    "))
        print()
    print_summary()


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
    else:
        main()
