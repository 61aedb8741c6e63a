"""Benchmark 1: a fused elementwise expression.

    f(x, y) = tanh(x*y + 0.5*x) * sigmoid(y) - exp(-x*x) + 0.1*x

at N = 1e5, 1e6, 1e7 in float64 and float32: graphc (numba backend) vs NumPy eager, jax.jit,
pytensor (its default mode and one other) and torch eager. Target: graphc/jax.jit <= 0.5 at N >= 1e6.

Run: python bench/bench_elementwise.py [--quick]
"""
import sys

import numpy as np

from common import (
    print_worst_errors,
    header, import_jax, import_pytensor, import_torch, max_rel_err, print_summary, print_table,
    pytensor_function, pytensor_modes, ratio_target, time_all,
)

import graphc as gc

SIZES = [10**5, 10**6, 10**7]
DTYPES = ["float64", "float32"]
if "--quick" in sys.argv:
    SIZES = [10**5, 10**6]


def numpy_f(x, y):
    return np.tanh(x * y + 0.5 * x) * (1 / (1 + np.exp(-y))) - np.exp(-x * x) + 0.1 * x


def main():
    jax, torch, pytensor = import_jax(), import_torch(), import_pytensor()
    header("bench_elementwise: f(x,y) = tanh(x*y + 0.5*x) * sigmoid(y) - exp(-x*x) + 0.1*x", jax, torch, pytensor)

    impls = ["graphc", "numpy"]
    fns = {}  # dtype -> {impl: factory(x, y) -> zero-arg callable returning the result}
    for dtype in DTYPES:
        f = {}
        gx = gc.placeholder((None,), dtype, name="x")
        gy = gc.placeholder((None,), dtype, name="y")
        g = gc.compile([gx, gy], gc.tanh(gx * gy + 0.5 * gx) * gc.sigmoid(gy) - gc.exp(-gx * gx) + 0.1 * gx)
        f["graphc"] = lambda x, y, g=g: (lambda: g(x, y))
        f["numpy"] = lambda x, y: (lambda: numpy_f(x, y))
        if jax is not None:
            jnp = jax.numpy
            jf = jax.jit(lambda x, y: jnp.tanh(x * y + 0.5 * x) * jax.nn.sigmoid(y) - jnp.exp(-x * x) + 0.1 * x)

            def jax_factory(x, y, jf=jf):
                xj, yj = jax.device_put(x), jax.device_put(y)  # on the device once, outside the timing
                return lambda: jf(xj, yj).block_until_ready()

            f["jax.jit"] = jax_factory
        if torch is not None:
            def torch_factory(x, y):
                xt, yt = torch.from_numpy(x), torch.from_numpy(y)
                return lambda: torch.tanh(xt * yt + 0.5 * xt) * torch.sigmoid(yt) - torch.exp(-xt * xt) + 0.1 * xt

            f["torch"] = torch_factory
        if pytensor is not None:
            pt = pytensor.tensor
            px, py = pt.vector("x", dtype=dtype), pt.vector("y", dtype=dtype)
            pe = pt.tanh(px * py + 0.5 * px) * pt.sigmoid(py) - pt.exp(-px * px) + 0.1 * px
            for label, mode in pytensor_modes(pytensor):
                pf = pytensor_function(pytensor, [px, py], pe, mode=mode)
                if pf is not None:
                    f[label] = lambda x, y, pf=pf: (lambda: pf(x, y))
        fns[dtype] = f
        print(f"graphc {dtype}: {str(g.stats).splitlines()[0]}")
        for name in f:
            if name not in impls:
                impls.append(name)
    # torch after the jitted peers in the column order
    impls = [i for i in impls if i != "torch"] + (["torch"] if torch is not None else [])

    rng = np.random.default_rng(0)
    rows = []
    errors = []
    for dtype in DTYPES:
        for n in SIZES:
            x = rng.standard_normal(n).astype(dtype)
            y = rng.standard_normal(n).astype(dtype)
            ref = numpy_f(x.astype(np.float64), y.astype(np.float64))
            calls = {}
            budget = 4.0 if n >= 10**7 else 2.5
            for name, factory in fns[dtype].items():
                call = factory(x, y)
                out = call()
                errors.append((dtype, n, name, max_rel_err(np.asarray(out), ref)))
                calls[name] = call
            times = time_all(calls, warmup=1 if n >= 10**7 else 2, repeats=7, min_repeat_time=0.05, budget=budget)
            rows.append((f"{dtype} N={n:.0e}", times))

    targets = [ratio_target("jax.jit", 0.5, applies=lambda case: int(float(case.split("N=")[1])) >= 10**6)]
    print("median time per call (ms):")
    print_table("elementwise", rows, impls, unit="ms", targets=targets)

    print("agreement: max |out - ref| / max |ref| vs a float64 NumPy reference (largest over sizes):")
    print_worst_errors(errors, DTYPES, impls)
    print()
    print_summary()


if __name__ == "__main__":
    main()
