"""Benchmark 4: per-call overhead of a tiny graph a*b + c on 0-d and length-10 float64 arrays.

graphc compiled call vs jax.jit, pytensor.function (default mode and one other), NumPy eager and
torch eager, in microseconds per call. Target: graphc < 5 us per call.
Also breaks the graphc call down (feed checking, the generated driver) to show where time goes.

Run: python bench/bench_overhead.py
"""
import numpy as np

from common import (
    Target, header, import_jax, import_pytensor, import_torch, print_summary, print_table,
    pytensor_function, pytensor_modes, time_all,
)

import graphc as gc
from graphc.backends.numba_backend.memory import Slot

LIMIT_US = 5.0


def main():
    jax, torch, pytensor = import_jax(), import_torch(), import_pytensor()
    header("bench_overhead: call overhead of a*b + c (float64)", jax, torch, pytensor)

    rng = np.random.default_rng(0)
    rows, graphc_fns = [], {}
    impls = ["graphc", "numpy"]
    for label, shape in [("0-d", ()), ("len 10", (10,))]:
        a, b, c = (np.asarray(rng.standard_normal(shape)) for _ in range(3))
        ga, gb, gcc = (gc.placeholder(shape, "float64", name=n) for n in "abc")
        g = gc.compile([ga, gb, gcc], ga * gb + gcc)
        graphc_fns[label] = g
        calls = {"graphc": lambda: g(a, b, c), "numpy": lambda: a * b + c}
        if jax is not None:
            jf = jax.jit(lambda a, b, c: a * b + c)
            ja, jb, jc = (jax.device_put(v) for v in (a, b, c))
            calls["jax.jit"] = lambda: jf(ja, jb, jc).block_until_ready()
            calls["jax.jit(np in)"] = lambda: jf(a, b, c).block_until_ready()
        if pytensor is not None:
            pt = pytensor.tensor
            pa, pb, pc = (pt.tensor(n, dtype="float64", shape=shape) for n in "abc")
            for plabel, mode in pytensor_modes(pytensor):
                pf = pytensor_function(pytensor, [pa, pb, pc], pa * pb + pc, mode=mode)
                if pf is not None:
                    calls[plabel] = lambda pf=pf: pf(a, b, c)
                    # pytensor's documented fast path: skip input validation
                    pf.trust_input = False
            if "pytensor" in calls:
                fast = pytensor_function(pytensor, [pa, pb, pc], pa * pb + pc)
                fast.trust_input = True
                calls["pytensor(trust_input)"] = lambda: fast(a, b, c)
        if torch is not None:
            ta, tb, tc = (torch.from_numpy(v) for v in (a, b, c))
            calls["torch"] = lambda: ta * tb + tc
        for name, fn in calls.items():
            out = fn()
            got = np.asarray(out.numpy() if hasattr(out, "numpy") else out)
            assert np.allclose(got, a * b + c), name
            if name not in impls:
                impls.append(name)
        times = time_all(calls, warmup=200, repeats=9, min_repeat_time=0.05)
        rows.append((label, times))

    def absolute(case, times):
        return times["graphc"] * 1e6, LIMIT_US

    print("median time per call (us):")
    print_table("overhead", rows, impls, unit="us",
                targets=[Target(f"graphc<{LIMIT_US:g}us", absolute, kind="abs")])

    # Where a graphc call spends its time (0-d case): the pieces of CompiledFunction.__call__.
    print("graphc 0-d call breakdown (us per call; pieces overlap, they need not add up):")
    g = graphc_fns["0-d"]
    args = tuple(np.asarray(v) for v in rng.standard_normal(3))
    pieces = {"full call g(a, b, c)": lambda: g(*args)}
    runner = g._runner

    def attempt(label, fn):
        try:
            fn()
            pieces[label] = fn
        except Exception as err:
            print(f"  ({label}: not measurable here: {type(err).__name__}: {err})")

    if hasattr(g, "_fast_check"):
        attempt("feed fast check g._fast_check(args)", lambda: g._fast_check(args))
    try:
        from graphc.feeds import bind_feeds

        attempt("bind_feeds (full feed checks)", lambda: bind_feeds(g.graph.inputs, args, {}))
    except ImportError:
        pass
    # the Executable contract (backends/base.py): run(feeds in input order, Variable values)
    attempt("driver run(feeds, state) (generated code + kernels)", lambda: runner.run(args, ()))
    for node, kr in runner.runners:
        sinks = [Slot() for _ in kr.kernel.roots]
        attempt(f"kernel runner alone ({kr.kernel.description})", lambda kr=kr, sinks=sinks: kr(sinks, args))
    attempt("numpy a*b+c (reference)", lambda: args[0] * args[1] + args[2])
    for name, t in time_all(pieces, warmup=200, repeats=9).items():
        print(f"  {name:<52} {t * 1e6:8.2f}")
    print("  generated driver:")
    print("    " + runner.source.replace("\n", "\n    "))
    print()
    print_summary()


if __name__ == "__main__":
    main()
