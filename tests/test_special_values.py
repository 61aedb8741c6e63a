"""Special values through every elementwise op and reduction, on both backends, in float64 and
float32: nan, +-inf, +-0.0, huge, subnormal and the largest finite values, against NumPy on the
same arrays. nan places, infinities and signs of zero must be NumPy's exactly; other values are
exact too, except vecmath's transcendental functions (within a few ulp, tests/test_vecmath.py).

One graph per op, dtype and backend, every special value (or pair of them) in one array; on
numba each graph is a single fused kernel.
"""
import numpy as np
import pytest

import graphc as gc
from graphc.ir.ops.reductions import LOGSUMEXP
from op_domains import BINARY, COMPARISONS, UNARY, assert_same_special, special_values

BACKENDS = ["numba", "numpy"]
DTYPES = ["float64", "float32"]
TRANSCENDENTAL = {"exp", "log", "log1p", "expm1", "tanh", "sigmoid", "sin", "cos", "pow", "logsumexp"}


def maxulp(name):
    return 4 if name in TRANSCENDENTAL else 0


def run_alone(inputs, output, feeds, backend, kernels=1):
    """Run the graph; on numba check that it was `kernels` fused kernels and nothing else."""
    f = gc.compile(inputs, output, backend=backend)
    if backend == "numba":
        assert f.stats.kernels == kernels and not f.stats.numpy_ops, str(f.stats)
    with np.errstate(all="ignore"):
        return f(*feeds)


def pairs(dtype):
    """Every ordered pair of special values, as two flat arrays."""
    v = special_values(dtype)
    a, b = np.meshgrid(v, v, indexing="ij")
    return a.ravel(), b.ravel()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_op(name, dtype, backend):
    fn, ref, _ = UNARY[name]
    v = special_values(dtype)
    x = gc.placeholder((None,), dtype, name="x")
    got = run_alone([x], fn(x), [v], backend)
    with np.errstate(all="ignore"):
        want = ref(v)
    assert_same_special(got, want, maxulp(name))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_op(name, dtype, backend):
    fn, ref, _ = BINARY[name]
    a, b = pairs(dtype)
    x, y = gc.placeholder((None,), dtype, name="x"), gc.placeholder((None,), dtype, name="y")
    got = run_alone([x, y], fn(x, y), [a, b], backend)
    with np.errstate(all="ignore"):
        want = ref(a, b)
    assert_same_special(got, want, maxulp(name))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_comparisons(dtype, backend):
    # The six comparisons as the bits of one integer: one kernel instead of six.
    a, b = pairs(dtype)
    x, y = gc.placeholder((None,), dtype, name="x"), gc.placeholder((None,), dtype, name="y")
    names = sorted(COMPARISONS)
    bits = sum(gc.astype(COMPARISONS[n][0](x, y), "int64") * (1 << k) for k, n in enumerate(names))
    got = run_alone([x, y], bits, [a, b], backend)
    with np.errstate(all="ignore"):
        want = sum(COMPARISONS[n][1](a, b).astype(np.int64) << k for k, n in enumerate(names))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_where_and_clip(dtype, backend):
    a, b = pairs(dtype)
    cond = np.arange(a.size) % 3 == 0
    c = gc.placeholder((None,), "bool", name="c")
    x, y = gc.placeholder((None,), dtype, name="x"), gc.placeholder((None,), dtype, name="y")
    lo, hi = gc.placeholder((), dtype, name="lo"), gc.placeholder((), dtype, name="hi")
    selected = run_alone([c, x, y], gc.where(c, x, y), [cond, a, b], backend)
    assert_same_special(selected, np.where(cond, a, b))
    for bounds in [(-1.0, 2.0), (0.0, 0.0), (-0.0, 0.0), (-np.inf, np.inf), (np.nan, 1.0)]:
        low, high = (np.asarray(v, dtype) for v in bounds)
        clipped = run_alone([x, lo, hi], gc.clip(x, lo, hi), [a, low, high], backend)
        with np.errstate(all="ignore"):
            assert_same_special(clipped, np.minimum(np.maximum(a, low), high))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_cast_between_float_widths(dtype, backend):
    # float64 -> float32 overflows to inf and flushes float32's subnormal range to +-0.0
    other = "float32" if dtype == "float64" else "float64"
    v = special_values(dtype)
    x = gc.placeholder((None,), dtype, name="x")
    got = run_alone([x], gc.astype(x, other), [v], backend)
    with np.errstate(all="ignore"):
        assert_same_special(got, v.astype(other))


def special_rows(dtype):
    """Rows of two: every pair of special values (pairs, so that a float32 sum accumulated in
    float64 rounds exactly as NumPy's float32 addition; longer rows: test_fused_numerics)."""
    a, b = pairs(dtype)
    return np.stack([a, b], axis=1)


FUSED_REDUCTIONS = {"sum": (gc.sum, np.sum), "mean": (gc.mean, np.mean), "max": (gc.max, np.max),
                    "min": (gc.min, np.min)}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(FUSED_REDUCTIONS))
def test_reduction_over_inner_and_outer_axis(name, dtype, backend):
    fn, ref = FUSED_REDUCTIONS[name]
    rows = special_rows(dtype)
    columns = np.ascontiguousarray(rows.T)
    x = gc.placeholder((None, 2), dtype, name="x")
    xt = gc.placeholder((2, None), dtype, name="xt")
    along_rows, along_columns = run_alone([x, xt], [fn(x, axis=1), fn(xt, axis=0)], [rows, columns], backend,
                                          kernels=2)
    with np.errstate(all="ignore"):
        assert_same_special(along_rows, ref(rows, axis=1))
        assert_same_special(along_columns, ref(columns, axis=0))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp(dtype, backend):
    # not a fused kernel: a numba row kernel over the last axis, NumPy's code over the first
    rows = special_rows(dtype)
    x = gc.placeholder((None, 2), dtype, name="x")
    xt = gc.placeholder((2, None), dtype, name="xt")
    f = gc.compile([x, xt], [gc.logsumexp(x, axis=1), gc.logsumexp(xt, axis=0)], backend=backend)
    with np.errstate(all="ignore"):
        along_rows, along_columns = f(rows, rows.T)
        want = LOGSUMEXP.impl(rows, axis=(1,), keepdims=False)
    assert_same_special(along_rows, want, maxulp("logsumexp"))
    assert_same_special(along_columns, want, maxulp("logsumexp"))
