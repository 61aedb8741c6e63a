"""Numerics inside fused kernels equal NumPy's: sums as accurate as NumPy's pairwise summation
(inner and outer axes, the thread-split path, float32 and float64), integer arithmetic that wraps
at every node's dtype, `int ** negative int` raising as NumPy does, IEEE results without
fast-math rewrites (signed zeros, reciprocals, contraction), NumPy's sqrt for `x ** 0.5`, and
finite derivatives of `x ** 0` and `x ** y` at x == 0 (PyTorch's values)."""
import math

import numpy as np
import pytest

import graphc as gc
from graphc.backends.numba_backend import runner as runner_module

BACKENDS = ["numba", "numpy"]


def split_plans(f):
    return [plan.split for _, runner in f._runner.runners for plan in runner.plans.values()]


# ---- sums -------------------------------------------------------------------------------------
def test_sum_and_mean_of_forty_million_float32_ones():
    # The issue's case without 160 MB of input: the loop broadcasts a column against a row.
    col = gc.placeholder((None, 1), "float32", name="col")
    row = gc.placeholder((1, None), "float32", name="row")
    f = gc.compile([col, row], [gc.sum(col * row), gc.mean(col * row)])
    total, mean = f(np.ones((10_000, 1), np.float32), np.ones((1, 4_000), np.float32))
    assert total.dtype == mean.dtype == np.float32
    assert total == 4e7 and mean == 1.0


def test_outer_axis_sum_of_two_to_the_25_float32_ones(monkeypatch):
    # sum over the first two axes of a (4096, 8192, 2) broadcast: 2**25 rows into each column.
    # Adding them one by one in float32 stops at 2**24 (NumPy's own axis-0 sum does). One
    # thread: halves summed apart would each stay below 2**24.
    monkeypatch.setattr(runner_module, "PARALLEL_THRESHOLD", 1 << 40)
    a = gc.placeholder((None, 1, 1), "float32", name="a")
    b = gc.placeholder((1, None, 1), "float32", name="b")
    c = gc.placeholder((1, 1, None), "float32", name="c")
    f = gc.compile([a, b, c], [gc.sum(a * b * c, axis=(0, 1)), gc.mean(a * b * c, axis=(0, 1))])
    total, mean = f(np.ones((4096, 1, 1), np.float32), np.ones((1, 8192, 1), np.float32),
                    np.ones((1, 1, 2), np.float32))
    np.testing.assert_array_equal(total, [2.0 ** 25] * 2)
    np.testing.assert_array_equal(mean, [1.0, 1.0])


def pairwise_error_bound(values, exact):
    """What NumPy's pairwise summation achieves on these values (a 1-D contiguous sum), with
    one rounding of the result as a floor."""
    numpy_error = abs(float(np.sum(values)) - exact)
    return 2 * numpy_error + float(np.spacing(np.asarray(abs(exact), values.dtype)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("threads", [False, True])
def test_sums_are_as_accurate_as_numpys_pairwise_summation(monkeypatch, dtype, threads):
    if threads:
        monkeypatch.setattr(runner_module, "PARALLEL_THRESHOLD", 1 << 12)
    n = 1_000_003
    column = np.full(n, 0.1, dtype)  # every addition rounds the same way: naive sums drift
    exact = math.fsum(column.astype(np.float64))
    bound = pairwise_error_bound(column, exact)
    x = gc.placeholder((None, None), dtype, name="x")
    # the column as the inner axis of a (2, n) table and as the outer axis of an (n, 3) one
    f = gc.compile([x], [gc.sum(x, axis=1), gc.mean(x, axis=1), gc.sum(x, axis=0), gc.sum(x)])
    inner, inner_mean, _, whole = f(np.stack([column, column]))
    table = np.repeat(column[:, None], 3, axis=1)
    _, _, outer, _ = f(table)
    assert inner.dtype == outer.dtype == np.dtype(dtype)
    assert np.all(np.abs(inner.astype(np.float64) - exact) <= bound)
    assert abs(float(whole) - 2 * exact) <= 2 * bound
    assert np.all(np.abs(inner_mean.astype(np.float64) - exact / n) <= bound / n + np.spacing(inner_mean))
    if dtype == "float64":
        # NumPy adds an outer axis row after row (not pairwise); float64 does the same
        bound = max(bound, 2 * abs(float(np.sum(table, axis=0)[0]) - exact))
    assert np.all(np.abs(outer.astype(np.float64) - exact) <= bound)
    if threads:
        assert any(split_plans(f))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_long_sums_keep_nan_and_infinities(dtype):
    # rows long enough for the blocked (pairwise) path, each with one special value inside
    n = 1000
    rows = np.ones((5, n), dtype)
    rows[0, 517] = np.nan
    rows[1, 3] = np.inf
    rows[2, 999] = -np.inf
    rows[3, [10, 700]] = [np.inf, -np.inf]
    rows[4, :] = np.finfo(dtype).max  # overflows in the result's dtype: inf as in NumPy
    x = gc.placeholder((None, None), dtype, name="x")
    for backend in BACKENDS:
        f = gc.compile([x], [gc.sum(x, axis=1), gc.sum(x, axis=0), gc.mean(x, axis=1)], backend=backend)
        with np.errstate(all="ignore"):
            got = f(rows)
            want = [rows.sum(axis=1), rows.T.copy().sum(axis=1), rows.mean(axis=1)]
        for g, w in zip(got, want):
            np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
            np.testing.assert_array_equal(g[np.isinf(w)], w[np.isinf(w)])


def test_float32_sums_do_not_overflow_in_between():
    # Accumulated in float64: 3e38 + 3e38 - 3e38 is 3e38 (NumPy's float32 pairwise sum: inf).
    x = gc.placeholder((None,), "float32", name="x")
    f = gc.compile([x], gc.sum(x))
    assert f(np.array([3e38, 3e38, -3e38], np.float32)) == np.float32(3e38)


def test_float16_reductions_run_as_numpy():
    # numba has no float16: such kernels stay NumPy ops, with NumPy's values
    x = gc.placeholder((None,), "float16", name="x")
    f = gc.compile([x], [gc.sum(x), gc.mean(x), gc.max(x)])
    v = np.linspace(0, 1, 5001).astype(np.float16)
    for got, want in zip(f(v), [np.sum(v), np.mean(v), np.max(v)]):
        assert got.dtype == want.dtype == np.float16
        assert got == want


# ---- integer arithmetic wraps at each node's dtype ----------------------------------------------
INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]


def wrap_values(dtype):
    """Both ends of the range and values whose sums and products leave it."""
    info = np.iinfo(dtype)
    candidates = [info.min, info.min + 1, -100, -2, -1, 0, 1, 2, 3, 100, 127, 200, 40000, info.max - 1, info.max]
    return np.array([v for v in candidates if info.min <= v <= info.max], dtype)


def int_battery(x, y, e, lib):
    """The same expressions for graphc nodes (lib=gc) and NumPy arrays (lib=np)."""
    where, astype = (gc.where, gc.astype) if lib is gc else (np.where, lambda a, d: a.astype(d))
    order = sum(astype(c, "int64") * (1 << k) for k, c in enumerate([x < y, x <= y, lib.equal(x, y), lib.not_equal(x, y), x >= y, x > y]))
    return [
        (x + y) * y - x,
        where(x > y, -x, lib.abs(y)) + lib.square(x) - lib.sign(x - y),
        lib.maximum(x, y) - lib.minimum(x + y, y),
        order,
        (x + x) > 0,
        (x - y) / 2,
        x ** e,
        lib.sum(x * y),
        lib.max(x + y),
        lib.clip(x - y, 0, 100) if lib is np else gc.clip(x - y, 0, 100),
    ]


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_integer_arithmetic_wraps_as_numpy(dtype):
    v = wrap_values(dtype)
    a, b = (m.ravel() for m in np.meshgrid(v, v, indexing="ij"))
    exponents = (np.arange(a.size) % 6).astype(dtype)
    x, y, e = (gc.placeholder((None,), dtype, name=n) for n in "xye")
    outputs = int_battery(x, y, e, gc)
    with np.errstate(all="ignore"):
        want = int_battery(a, b, exponents, np)
    for backend in BACKENDS:
        f = gc.compile([x, y, e], outputs, backend=backend)
        if backend == "numba":
            assert not f.stats.numpy_ops, str(f.stats)
        for node, got, expected in zip(outputs, f(a, b, exponents), want):
            expected = np.asarray(expected)
            assert node.dtype == got.dtype == expected.dtype, (backend, node.dtype, got.dtype, expected.dtype)
            np.testing.assert_array_equal(got, expected)


def test_issue_examples_of_small_integer_wraparound():
    i = gc.placeholder((None,), "int8", name="i")
    u = gc.placeholder((None,), "uint8", name="u")
    v = gc.placeholder((None,), "uint8", name="v")
    for backend in BACKENDS:
        f = gc.compile([i, u, v], [(i + i) > 0, (u - v) / 2], backend=backend)
        positive, halved = f(np.array([100], np.int8), np.array([1], np.uint8), np.array([2], np.uint8))
        assert positive.tolist() == [False]
        assert halved.tolist() == [127.5]


def test_mixed_integer_dtypes_wrap_at_the_promoted_dtype():
    a = gc.placeholder((None,), "int8", name="a")
    b = gc.placeholder((None,), "uint8", name="b")
    va, vb = np.array([-128, 127, 100], np.int8), np.array([255, 255, 200], np.uint8)
    for backend in BACKENDS:
        got = gc.compile([a, b], (a + b) * b, backend=backend)(va, vb)
        want = (va + vb) * vb  # int16, wrapping
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


# ---- int ** negative int ------------------------------------------------------------------------
NEGATIVE_POWER = r"Integers to negative integer powers are not allowed.*pow built at .*test_fused_numerics.py:\d+"


@pytest.mark.parametrize("backend", BACKENDS)
def test_integer_power_with_a_negative_exponent_raises(backend):
    a = gc.placeholder((None,), "int64", name="a")
    b = gc.placeholder((None,), "int64", name="b")
    s = gc.placeholder((), "int8", name="s")
    f = gc.compile([a, b, s], [a ** b + 1, (a ** s) * 2], backend=backend)
    np.testing.assert_array_equal(f(np.array([2, 3]), np.array([3, 0]), np.int8(2))[0], [9, 2])
    with pytest.raises(ValueError, match=NEGATIVE_POWER):
        f(np.array([2, 3]), np.array([1, -1]), np.int8(2))
    with pytest.raises(ValueError, match=NEGATIVE_POWER):
        f(np.array([2, 3]), np.array([1, 1]), np.int8(-1))


def test_integer_power_check_runs_in_every_thread(monkeypatch):
    monkeypatch.setattr(runner_module, "PARALLEL_THRESHOLD", 64)
    a = gc.placeholder((None,), "int32", name="a")
    b = gc.placeholder((None,), "int32", name="b")
    f = gc.compile([a, b], a ** b)
    exponents = np.ones(1000, np.int32)
    exponents[-1] = -3  # in the last thread's share
    with pytest.raises(ValueError, match=NEGATIVE_POWER):
        f(np.full(1000, 2, np.int32), exponents)
    assert any(split_plans(f))


def test_integer_power_with_a_negative_constant_exponent_fails_at_build():
    a = gc.placeholder((None,), "int64", name="a")
    with pytest.raises(ValueError, match=r"pow: Integers to negative integer powers.*constant -1.*"
                                         r"built at .*test_fused_numerics.py:\d+"):
        a ** np.array([2, -1])
    np.testing.assert_array_equal(gc.compile([a], a ** 2)(np.array([3])), [9])  # still fine


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


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_square_root_exponent_follows_numpy(dtype, backend):
    # NumPy computes x ** 0.5 as sqrt(x) when the exponent is one broadcast value: nan at -inf,
    # -0.0 kept. With an exponent array it calls pow: inf at -inf, +0.0 at -0.0.
    v = np.array([-np.inf, -0.0, 0.0, 4.0, 2.0, np.nan, -1.0, np.inf], dtype)
    x = gc.placeholder((None,), dtype, name="x")
    y = gc.placeholder((None,), dtype, name="y")
    s = gc.placeholder((), dtype, name="s")
    f = gc.compile([x, y, s], [x ** 0.5, x ** s, x ** y], backend=backend)
    half = np.full(v.shape, 0.5, dtype)
    with np.errstate(invalid="ignore"):
        got = f(v, half, np.asarray(0.5, dtype))
        want = [v ** 0.5, v ** np.asarray(0.5, dtype), v ** half]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
        number = ~np.isnan(w)
        np.testing.assert_array_equal(np.signbit(g[number]), np.signbit(w[number]))
    assert np.isnan(got[0][0]) and np.signbit(got[0][1])
    assert got[2][0] == np.inf and not np.signbit(got[2][1])


# ---- derivatives of x ** y where x == 0 ---------------------------------------------------------
def torch_pow_grads(x, y):
    """PyTorch's pow_backward_self / pow_backward_exponent for a unit cotangent."""
    with np.errstate(all="ignore"):
        dx = np.where(y == 0, 0.0, y * x ** (y - 1))
        dy = np.where((x == 0) & (y >= 0), 0.0, x ** y * np.log(x))
    return dx, dy


X0 = np.array([0.0, 0.0, 0.0, 0.0, -0.0, 2.0, 2.0, -1.0, 0.5])
Y0 = np.array([0.0, 1.0, 2.0, 0.5, 0.0, 0.0, -1.0, 2.0, 3.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_power_gradients_at_zero_base(backend):
    x, y = gc.placeholder((None,), name="x"), gc.placeholder((None,), name="y")
    f = gc.compile([x, y], gc.grad(gc.sum(x ** y), [x, y]), backend=backend)
    with np.errstate(all="ignore"):
        dx, dy = f(X0, Y0)
    want_dx, want_dy = torch_pow_grads(X0, Y0)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-15)
    np.testing.assert_allclose(dy, want_dy, rtol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_constant_zero_exponent_has_zero_derivatives(backend):
    x = gc.placeholder((None,), name="x")
    first = gc.grad(gc.sum(x ** 0), [x])[0]
    second = gc.grad(gc.sum(first), [x])[0]
    t = gc.placeholder((None,), name="t")
    tangent = gc.jvp([x ** 0], [x], [t])[0]
    f = gc.compile([x, t], [first, second, tangent], backend=backend)
    for got in f(np.array([0.0, -0.0, 3.0]), np.ones(3)):
        np.testing.assert_array_equal(got, [0.0, 0.0, 0.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_power_derivatives_of_higher_order_stay_exact(backend):
    x, y = gc.placeholder((None,), name="x"), gc.placeholder((None,), name="y")
    dx = gc.grad(gc.sum(x ** y), [x])[0]
    dxx, dxy = gc.grad(gc.sum(dx), [x, y])
    t = gc.placeholder((None,), name="t")
    along_x = gc.jvp([x ** y], [x], [t])[0]
    f = gc.compile([x, y, t], [dxx, dxy, along_x], backend=backend)
    xs, ys = np.array([0.0, 0.0, 2.0, 3.0]), np.array([0.0, 2.0, 0.0, 2.0])
    got_xx, got_xy, got_t = f(xs, ys, np.ones(4))
    # d2/dx2 x**y = y (y - 1) x**(y - 2): 0 at y == 0, 2 at (0, 2); d2/dxdy = x**(y-1) (1 + y log x)
    np.testing.assert_allclose(got_xx, [0.0, 2.0, 0.0, 2.0], rtol=1e-15)
    np.testing.assert_allclose(got_xy[2:], [0.5, 3.0 * (1 + 2 * np.log(3.0))], rtol=1e-15)
    np.testing.assert_allclose(got_t, torch_pow_grads(xs, ys)[0], rtol=1e-15)


def test_eager_power_gradients_at_zero_base():
    x = gc.tensor(X0.copy(), requires_grad=True)
    y = gc.tensor(Y0.copy(), requires_grad=True)
    with np.errstate(all="ignore"):
        (x ** y).sum().backward()
    want_dx, want_dy = torch_pow_grads(X0, Y0)
    np.testing.assert_allclose(x.grad.numpy(), want_dx, rtol=1e-15)
    np.testing.assert_allclose(y.grad.numpy(), want_dy, rtol=1e-15)
    z = gc.tensor(np.array([0.0, 2.0]), requires_grad=True)
    (z ** 0).sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), [0.0, 0.0])
