"""Numerics inside fused kernels equal NumPy's: sums as accurate as NumPy's pairwise summation
(inner and outer axes, the thread-split path, float32 and float64), integer arithmetic that wraps
at every node's dtype, `int ** negative int` raising as NumPy does, IEEE results without
fast-math rewrites (signed zeros, reciprocals, contraction), NumPy's sqrt for `x ** 0.5`, and
finite derivatives of `x ** 0` and `x ** y` at x == 0 (PyTorch's values)."""
import numpy as np
import pytest

import graphc as gc

BACKENDS = ["numba", "numpy"]


# ---- IEEE results without fast-math rewrites --------------------------------------------------
def random_floats(dtype, n=4099, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4, n)).astype(dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_reciprocal_square_root_is_exact(dtype, backend):
    # arcp let LLVM use rsqrt + a Newton step: nan at 0, and off by an ulp elsewhere
    v = np.abs(random_floats(dtype))
    v[:2] = [0.0, -0.0]
    x = gc.placeholder((None,), dtype, name="x")
    with np.errstate(divide="ignore"):
        got = gc.compile([x], 1 / gc.sqrt(x), backend=backend)(v)
        want = 1 / np.sqrt(v)
    np.testing.assert_array_equal(got, want)
    assert got[0] == np.inf and got[1] == -np.inf


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_negated_difference_keeps_the_sign_of_zero(dtype, backend):
    # nsz let LLVM turn -(p - q) into q - p: +0.0 instead of -0.0 where p == q
    p, q = gc.placeholder((None,), dtype, name="p"), gc.placeholder((None,), dtype, name="q")
    vp = random_floats(dtype)
    vq = random_floats(dtype, seed=1)
    vq[::3] = vp[::3]
    got = gc.compile([p, q], -(p - q), backend=backend)(vp, vq)
    want = -(vp - vq)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    assert np.signbit(got[0])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_products_and_quotients_round_as_numpy(dtype, backend):
    # contract fused a*b + c into one fma (one rounding, and -inf where NumPy has inf - inf);
    # arcp turned x / 3 into x * (1/3)
    a, b, c = (gc.placeholder((None,), dtype, name=n) for n in "abc")
    va, vb, vc = random_floats(dtype), random_floats(dtype, seed=1), random_floats(dtype, seed=2)
    big = np.finfo(dtype).max
    va[0], vb[0], vc[0] = big, big, -np.inf
    f = gc.compile([a, b, c], [a * b + c, a * b - a * c, a / 3.0], backend=backend)
    with np.errstate(all="ignore"):
        got = f(va, vb, vc)
        want = [va * vb + vc, va * vb - va * vc, va / 3.0]
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)
    assert np.isnan(got[0][0])
