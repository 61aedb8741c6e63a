"""Throughput of vecmath functions in a numba loop vs the NumPy ufunc.

    python bench/bench_vecmath.py [--sizes 1e5 1e6 1e7] [--repeat 7]

Single thread on both sides.  The numba kernel writes into a preallocated
output; so does NumPy (``out=``), except for sigmoid, whose NumPy baseline is
the usual expression ``1/(1+np.exp(-x))`` (three passes, two temporaries):
that is what a fused kernel replaces.  ratio = numba time / NumPy time
(< 1: the numba loop is faster).
"""
import argparse
import time

import numba
import numpy as np

from graphc.backends.numba_backend import vecmath as vm


def _loop(f):
    @numba.njit
    def kernel(x, out):
        for i in range(x.size):
            out[i] = f(x[i])
    return kernel


CASES = {
    # name: (vecmath function, NumPy baseline(x, out), input range)
    "exp": (vm.vm_exp, lambda x, out: np.exp(x, out=out), (-10.0, 10.0)),
    "tanh": (vm.vm_tanh, lambda x, out: np.tanh(x, out=out), (-5.0, 5.0)),
    "log": (vm.vm_log, lambda x, out: np.log(x, out=out), (1e-3, 1e3)),
    "sigmoid": (vm.vm_sigmoid, lambda x, out: 1 / (1 + np.exp(-x)), (-10.0, 10.0)),
}


def median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=float, nargs="+", default=[1e5, 1e6, 1e7])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    print(f"{'func':8s} {'dtype':8s} {'N':>9s} {'numba ms':>9s} {'numpy ms':>9s} {'ratio':>6s}")
    for name, (f, baseline, (lo, hi)) in CASES.items():
        kernel = _loop(f)
        for dtype in (np.float64, np.float32):
            for n in (int(s) for s in args.sizes):
                x = rng.uniform(lo, hi, n).astype(dtype)
                out = np.empty_like(x)
                kernel(x, out)                      # compile / warm up
                baseline(x, out)
                # larger arrays are slow enough that fewer repeats suffice
                rep = max(3, args.repeat if n <= 1_000_000 else args.repeat // 2)
                t_nb = median_time(lambda: kernel(x, out), rep)
                t_np = median_time(lambda: baseline(x, out), rep)
                print(f"{name:8s} {np.dtype(dtype).name:8s} {n:9d} {t_nb * 1e3:9.3f} "
                      f"{t_np * 1e3:9.3f} {t_nb / t_np:6.2f}", flush=True)


if __name__ == "__main__":
    main()
