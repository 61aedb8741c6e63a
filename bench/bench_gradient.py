"""Benchmark 2: the gradient of sum(f) with respect to x and y, for

    f(x, y) = tanh(x*y + 0.5*x) * sigmoid(y) - exp(-x*x) + 0.1*x

graphc: gc.grad(gc.sum(f), [x, y]) compiled to [gx, gy]; NumPy: the hand-derived gradient;
jax: jit(grad); torch: autograd (forward + backward per call); pytensor: pytensor.grad.
Target: graphc/jax.jit <= 0.5 at N >= 1e6.

Run: python bench/bench_gradient.py [--quick]
"""
import sys

import numpy as np

from common import (
    print_worst_errors,
    header, import_jax, import_pytensor, import_torch, max_rel_err, print_summary, print_table,
    print_breakdown, pytensor_function, pytensor_modes, ratio_target, time_all,
)

import graphc as gc

SIZES = [10**5, 10**6, 10**7]
DTYPES = ["float64", "float32"]
if "--quick" in sys.argv:
    SIZES = [10**5, 10**6]


def numpy_grad(x, y):
    """d/dx and d/dy of sum(tanh(u)*s - exp(-x^2) + 0.1x), u = x*y + 0.5x, s = sigmoid(y)."""
    t = np.tanh(x * y + 0.5 * x)
    s = 1 / (1 + np.exp(-y))
    dt = (1 - t * t) * s  # d(tanh(u)*s)/du
    gx = dt * (y + 0.5) + 2 * x * np.exp(-x * x) + 0.1
    gy = dt * x + t * s * (1 - s)
    return gx, gy


def main():
    jax, torch, pytensor = import_jax(), import_torch(), import_pytensor()
    header("bench_gradient: grad of sum(f) wrt x and y, f = tanh(x*y + 0.5*x) * sigmoid(y) - exp(-x*x) + 0.1*x",
           jax, torch, pytensor)

    impls = ["graphc", "numpy"]
    fns = {}
    graphs = {}
    for dtype in DTYPES:
        f = {}
        gx = gc.placeholder((None,), dtype, name="x")
        gy = gc.placeholder((None,), dtype, name="y")
        expr = gc.tanh(gx * gy + 0.5 * gx) * gc.sigmoid(gy) - gc.exp(-gx * gx) + 0.1 * gx
        dx, dy = gc.grad(gc.sum(expr), [gx, gy])
        g = gc.compile([gx, gy], [dx, dy])
        graphs[dtype] = g
        f["graphc"] = lambda x, y, g=g: (lambda: g(x, y))
        f["numpy"] = lambda x, y: (lambda: numpy_grad(x, y))
        if jax is not None:
            jnp = jax.numpy

            def jax_loss(x, y):
                return jnp.sum(jnp.tanh(x * y + 0.5 * x) * jax.nn.sigmoid(y) - jnp.exp(-x * x) + 0.1 * x)

            jg = jax.jit(jax.grad(jax_loss, argnums=(0, 1)))

            def jax_factory(x, y, jg=jg):
                xj, yj = jax.device_put(x), jax.device_put(y)
                return lambda: jax.block_until_ready(jg(xj, yj))

            f["jax.jit"] = jax_factory
        if pytensor is not None:
            pt = pytensor.tensor
            px, py = pt.vector("x", dtype=dtype), pt.vector("y", dtype=dtype)
            pe = pt.tanh(px * py + 0.5 * px) * pt.sigmoid(py) - pt.exp(-px * px) + 0.1 * px
            pgx, pgy = pytensor.grad(pt.sum(pe), [px, py])
            for label, mode in pytensor_modes(pytensor):
                pf = pytensor_function(pytensor, [px, py], [pgx, pgy], mode=mode)
                if pf is not None:
                    f[label] = lambda x, y, pf=pf: (lambda: pf(x, y))
        if torch is not None:
            def torch_factory(x, y):
                xt = torch.from_numpy(x).clone().requires_grad_(True)
                yt = torch.from_numpy(y).clone().requires_grad_(True)

                def call():
                    out = torch.tanh(xt * yt + 0.5 * xt) * torch.sigmoid(yt) - torch.exp(-xt * xt) + 0.1 * xt
                    return torch.autograd.grad(out.sum(), [xt, yt])

                return call

            f["torch"] = torch_factory
        fns[dtype] = f
        for name in f:
            if name not in impls:
                impls.append(name)

    rng = np.random.default_rng(0)
    rows, errors = [], []
    for dtype in DTYPES:
        for n in SIZES:
            x = rng.standard_normal(n).astype(dtype)
            y = rng.standard_normal(n).astype(dtype)
            ref = numpy_grad(x.astype(np.float64), y.astype(np.float64))
            calls = {}
            budget = 5.0 if n >= 10**7 else 3.0
            for name, factory in fns[dtype].items():
                call = factory(x, y)
                out = call()
                err = max(max_rel_err(np.asarray(o.detach() if hasattr(o, "detach") else o), r)
                          for o, r in zip(out, ref))
                errors.append((dtype, n, name, err))
                calls[name] = call
            times = time_all(calls, warmup=1 if n >= 10**7 else 2, repeats=7, min_repeat_time=0.05, budget=budget)
            rows.append((f"{dtype} N={n:.0e}", times))

    targets = [ratio_target("jax.jit", 0.5, applies=lambda case: int(float(case.split("N=")[1])) >= 10**6)]
    print("median time per call, both gradients (ms):")
    print_table("gradient", rows, impls, unit="ms", targets=targets)

    print("agreement: max |grad - ref| / max |ref| vs the float64 hand-derived NumPy gradient (worst of gx, gy, sizes):")
    print_worst_errors(errors, DTYPES, impls)
    print()
    g = graphs["float64"]
    print(f"graphc gradient graph (float64): {g.stats.nodes_before} -> {g.stats.nodes_after} nodes, "
          f"{g.stats.kernels} fused kernels; slow paths: {'; '.join(g.stats.slow_paths) or 'none'}")
    print()
    n = 10**6
    for dtype in DTYPES:
        x = rng.standard_normal(n).astype(dtype)
        y = rng.standard_normal(n).astype(dtype)
        g = graphs[dtype]
        print_breakdown(f"graphc gradient breakdown, {dtype} N=1e6", g, lambda: g(x, y), reps=10)
    print("graphc gradient driver (float64):")
    print("    " + graphs["float64"]._runner.source.replace("\n", "\n    "))
    print()
    print_summary()


if __name__ == "__main__":
    main()
