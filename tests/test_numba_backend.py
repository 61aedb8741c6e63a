"""The numba backend against the reference: random graphs, special values, layouts, threads,
the on-disk kernel cache, memory reuse and NaN tracing."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphc as gc
from graphc.backends.numba_backend import runner as runner_module

# ---- differential battery: numba + optimized == numpy + unoptimized ---------------------------
UNARY = {
    "exp": lambda x: gc.exp(gc.clip(x, -30.0, 30.0)),
    "log": lambda x: gc.log(gc.abs(x) + 0.5),
    "tanh": gc.tanh,
    "sigmoid": gc.sigmoid,
    "sin": gc.sin,
    "neg": gc.neg,
    "square": gc.square,
    "sqrt": lambda x: gc.sqrt(gc.abs(x) + 0.1),
    "relu": gc.relu,
    "expm1": lambda x: gc.expm1(gc.clip(x, -5.0, 5.0)),
    "log1p": lambda x: gc.log1p(gc.abs(x)),
}
BINARY = {
    "add": gc.add,
    "sub": gc.sub,
    "mul": gc.mul,
    "div": lambda a, b: a / (gc.abs(b) + 1.0),
    "maximum": gc.maximum,
    "pow": lambda a, b: gc.pow(gc.abs(a) + 0.5, gc.clip(b, -2.0, 2.0)),
    "where": lambda a, b: gc.where(a > b, a, b * 0.5),
}
REDUCE = {
    "sum": lambda x, axis: gc.sum(x, axis=axis),
    "mean": lambda x, axis: gc.mean(x, axis=axis, keepdims=True),
    "max": lambda x, axis: gc.max(x, axis=axis),
    "logsumexp": lambda x, axis: gc.logsumexp(x, axis=axis),
}
SHAPES = [(3, 4), (4,), (1, 4), (3, 1), ()]


@st.composite
def random_program(draw):
    """A list of instructions building a graph over three inputs of broadcastable shapes."""
    shapes = [(3, 4)] + [draw(st.sampled_from(SHAPES)) for _ in range(2)]
    steps = []
    for _ in range(draw(st.integers(2, 7))):
        kind = draw(st.sampled_from(["unary", "binary", "binary", "reduce"]))
        if kind == "unary":
            steps.append(("unary", draw(st.sampled_from(sorted(UNARY)))))
        elif kind == "binary":
            steps.append(("binary", draw(st.sampled_from(sorted(BINARY))), draw(st.integers(0, 2))))
        else:
            steps.append(("reduce", draw(st.sampled_from(sorted(REDUCE))), draw(st.sampled_from([0, 1, None]))))
    return shapes, steps


def build(shapes, steps):
    xs = [gc.placeholder(s, name=f"x{i}") for i, s in enumerate(shapes)]
    value = xs[0]
    for step in steps:
        if step[0] == "unary":
            value = UNARY[step[1]](value)
        elif step[0] == "binary":
            other = xs[step[2]]
            if other.ndim > value.ndim or any(a != b and 1 not in (a, b) for a, b in zip(value.shape[::-1], other.shape[::-1])):
                continue  # after a reduction not every input broadcasts against the value
            value = BINARY[step[1]](value, other)
        elif value.ndim:
            axis = step[2] if step[2] is None or step[2] < value.ndim else None
            value = REDUCE[step[1]](value, axis)
    return xs, value


@given(random_program())
def test_random_graphs_numba_matches_reference(program):
    shapes, steps = program
    xs, value = build(shapes, steps)
    weight = gc.constant(np.linspace(-1, 1, max(1, int(np.prod(value.shape)))).reshape(value.shape))
    loss = gc.sum(value * weight)
    grads = gc.grad(loss, xs)
    outputs = [value, loss] + grads
    rng = np.random.default_rng(len(steps))
    feeds = [rng.standard_normal(s) for s in shapes]
    fast = gc.compile(xs, outputs, verify=True)
    slow = gc.compile(xs, outputs, backend="numpy", optimize=False)
    for got, want in zip(fast(*feeds), slow(*feeds)):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)


# ---- special values through fused kernels: tests/test_special_values.py ----------------------
@pytest.mark.parametrize(
    "a, b",
    [(np.nan, 1.0), (1.0, np.nan), (-0.0, 0.0), (0.0, -0.0), (np.inf, -np.inf), (2.0, 2.0)],
)
def test_maximum_minimum_follow_numpy_on_nan_and_signed_zero(a, b):
    x, y = gc.placeholder((None,), name="x"), gc.placeholder((None,), name="y")
    f = gc.compile([x, y], [gc.maximum(x, y) + 0.0 * x, gc.minimum(x, y) + 0.0 * x])
    got_max, got_min = f(np.array([a]), np.array([b]))
    with np.errstate(all="ignore"):
        want_max, want_min = np.maximum(a, b) + 0.0 * a, np.minimum(a, b) + 0.0 * a
    np.testing.assert_array_equal(got_max, [want_max])
    np.testing.assert_array_equal(got_min, [want_min])


# ---- layouts and threads ----------------------------------------------------------------------
def test_transposed_and_strided_inputs():
    x = gc.placeholder((None, None), name="x")
    b = gc.placeholder((None, 1), name="b")
    f = gc.compile([x, b], [gc.tanh(x) * b, gc.sum(gc.exp(x) * b, axis=1)])
    xv = np.random.default_rng(0).standard_normal((6, 5)).T[:, ::2]  # non-contiguous view
    bv = np.arange(5.0).reshape(5, 1)
    y, s = f(xv, bv)
    np.testing.assert_allclose(y, np.tanh(xv) * bv, rtol=1e-14)
    np.testing.assert_allclose(s, np.sum(np.exp(xv) * bv, axis=1), rtol=1e-13)


@pytest.mark.parametrize("axis", [None, 0, 1])
@pytest.mark.parametrize("reduce", ["sum", "max", "min", "mean"])
def test_large_reductions_use_threads_and_match(monkeypatch, axis, reduce):
    monkeypatch.setattr(runner_module, "PARALLEL_THRESHOLD", 64)
    x = gc.placeholder((None, None), "float32", name="x")
    f = gc.compile([x], getattr(gc, reduce)(gc.tanh(x) * 2.0, axis=axis))
    xv = np.random.default_rng(1).standard_normal((301, 7)).astype("float32")
    want = getattr(np, reduce)(np.tanh(xv) * 2.0, axis=axis)
    got = f(xv)
    assert got.dtype == want.dtype
    assert any(plan.split for _, r in f._runner.runners for plan in r.plans.values())
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


def test_threaded_elementwise_matches(monkeypatch):
    monkeypatch.setattr(runner_module, "PARALLEL_THRESHOLD", 64)
    x = gc.placeholder((None,), name="x")
    f = gc.compile([x], gc.sigmoid(x) * x)
    xv = np.linspace(-5, 5, 1001)
    np.testing.assert_allclose(f(xv), xv / (1 + np.exp(-xv)), rtol=1e-14)


def test_integer_and_bool_kernels():
    i = gc.placeholder((None,), "int64", name="i")
    f = gc.compile([i], [i * 3 + 1, gc.sum(i > 2), (i ** 2).astype("float32")])
    a, s, p = f(np.arange(5))
    assert a.dtype == np.int64 and a.tolist() == [1, 4, 7, 10, 13]
    assert int(s) == 2 and s.dtype == np.int64
    assert p.dtype == np.float32 and p.tolist() == [0, 1, 4, 9, 16]


def test_signed_with_unsigned_64_bit_integers_follow_numpy():
    # NumPy adds int64 and uint64 in float64 and compares them exactly; numba would add them as
    # int64 (wrapping) and compare them in float64 (2**62 + 1 == 2**62).
    a = np.array([2**62 + 1, 2**53 + 1, -1, 2**63 - 1, 5], np.int64)
    b = np.array([2**62, 2**53, 2**64 - 1, 2**63, 5], np.uint64)
    x, y = gc.placeholder((5,), "int64"), gc.placeholder((5,), "uint64")
    cases = [(x + y, a + b), (x * y, a * b), (gc.maximum(x, y), np.maximum(a, b)), (x == y, a == b),
             (x != y, a != b), (x < y, a < b), (y <= x, b <= a), (y > x, b > a), (x >= y, a >= b),
             (gc.logical_and(x, y), np.logical_and(a, b)), (gc.logical_or(y, x), np.logical_or(b, a))]
    got = gc.compile([x, y], [out for out, _ in cases], backend="numba")(a, b)
    for value, (_, expected) in zip(got, cases):
        assert value.dtype == expected.dtype
        np.testing.assert_array_equal(value, expected)


def test_none_dimension_does_not_broadcast_silently():
    x = gc.placeholder((None,), name="x")
    y = gc.placeholder((None,), name="y")
    for backend in ("numba", "numpy"):
        f = gc.compile([x, y], x * y, backend=backend)
        with pytest.raises(gc.FeedError, match=r"dimension 0 of 'x' is 1 but dimension 0 of 'y' is 3.*does not "
                                               r"broadcast a dimension declared None: declare it as 1"):
            f(np.ones(1), np.ones(3))


def test_kernel_mixing_unknown_and_constant_sizes_compiles():
    # The gradient of a mean over axis 0 of an (None, None) input, weighted by a (4,) constant,
    # runs a kernel over (None, None) that reads a (1, 4) value: warming it must not guess a
    # size for the None dimension that the constant contradicts.
    x = gc.placeholder((None, None), name="x")
    loss = gc.sum(gc.mean(x * x, axis=0) * np.arange(4.0))
    grad = gc.grad(loss, x)
    feed = np.arange(12.0).reshape(3, 4)
    expected = 2 * feed * np.arange(4.0) / 3
    for backend in ("numba", "numpy"):
        np.testing.assert_allclose(gc.compile([x], grad, backend=backend)(feed), expected, rtol=1e-14)


# ---- memory plan ----------------------------------------------------------------------------
def test_outputs_are_fresh_and_intermediates_reuse_buffers():
    x = gc.placeholder((None, 8), name="x")
    w = gc.Variable(np.eye(8), name="w")
    h = gc.tanh(x @ w)
    out = gc.exp(h @ w) + 1.0
    f = gc.compile([x], [out, h.sum()])
    assert f.stats.buffered_values >= 2
    first = f(np.ones((4, 8)))[0].copy()
    kept = f(np.ones((4, 8)))[0]
    again = f(np.zeros((4, 8)))[0]
    np.testing.assert_array_equal(kept, first)  # a later call must not overwrite returned arrays
    np.testing.assert_allclose(again, np.full((4, 8), 2.0))


def test_updates_do_not_alias_outputs_or_feeds():
    w = gc.Variable(np.zeros(3), name="w")
    x = gc.placeholder((3,), name="x")
    new = w + x
    f = gc.compile([x], new, updates={w: new})
    feed = np.ones(3)
    out = f(feed)
    out[0] = 100.0
    assert w.value.tolist() == [1.0, 1.0, 1.0]


# ---- inspection, cache, nan tracing --------------------------------------------------------
def test_generated_source_is_kept_and_readable():
    x = gc.placeholder((None,), name="x")
    f = gc.compile([x], gc.exp(x) * 2.0)
    assert "def run(feeds, state):" in f.source
    assert "def kernel(" in f.source and "= exp(v0)" in f.source


def test_nan_check_names_the_op_inside_a_kernel():
    x = gc.placeholder((None,), name="x")
    y = gc.exp(x) + gc.log(x - 1.0) * 2.0
    f = gc.compile([x], y, nan_check=True)
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match=r"NaN produced by log built at .*test_numba_backend.py:\d+"):
        f(np.array([3.0, 0.5]))
    assert np.isfinite(f(np.array([3.0])))[0]


def test_second_process_compiles_nothing(tmp_path):
    script = textwrap.dedent(
        """
        import numpy as np, graphc as gc
        x = gc.placeholder((None, 3), name="x")
        w = gc.Variable(np.ones((3, 2)), name="w")
        loss = gc.sum(gc.tanh(x @ w) ** 2)
        g = gc.grad(loss, w)
        f = gc.compile([x], loss, updates={w: w - 0.1 * g})
        f(np.ones((2, 3)))
        print(f.stats.cache_hits, f.stats.cache_misses)
        """
    )
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(tmp_path))
    # cwd outside the checkout: there, the source tree would shadow the installed package
    runs = [subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
            for _ in range(2)]
    cold_hits, cold_misses = map(int, runs[0].stdout.split())
    warm_hits, warm_misses = map(int, runs[1].stdout.split())
    assert cold_misses > 0
    assert warm_misses == 0 and warm_hits == cold_hits + cold_misses
    assert list(tmp_path.glob("kernels/k_*.py"))


# ---- row-wise nn ops lowered to numba ---------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_nn_row_kernels_match_reference_including_special_rows(dtype):
    x = gc.placeholder((None, 5), dtype, name="x")
    y = gc.placeholder((None,), "int64", name="y")
    outs = [gc.softmax(x), gc.log_softmax(x), gc.logsumexp(x, axis=1),
            gc.logsumexp(x, axis=-1, keepdims=True), gc.cross_entropy(x, y), gc.softmax(x, axis=0)]
    fast = gc.compile([x, y], outs)
    ref = gc.compile([x, y], outs, backend="numpy")
    assert fast.stats.numpy_ops == {"softmax": 1}  # only the axis-0 softmax keeps NumPy's code
    xv = (np.random.default_rng(3).standard_normal((5, 5)) * 3).astype(dtype)
    xv[1] = -np.inf
    xv[2, 0] = np.inf
    xv[3, 1] = 1e4
    xv[4, 2] = np.nan
    labels = np.array([0, 1, 2, 4, 3])
    with np.errstate(all="ignore"):
        got, want = fast(xv, labels), ref(xv, labels)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and a.shape == b.shape
        # float32: the kernel accumulates in float64, NumPy in float32 (cancellation in x - lse)
        np.testing.assert_allclose(a, b, rtol=2e-6 if dtype == "float32" else 1e-14,
                                   atol=1e-6 if dtype == "float32" else 0, equal_nan=True)
    finite = np.array([0, 3])
    np.testing.assert_allclose(fast(xv[finite], labels[finite])[4], ref(xv[finite], labels[finite])[4],
                               rtol=2e-6 if dtype == "float32" else 1e-14)


def test_cross_entropy_bad_label_names_the_line():
    x = gc.placeholder((None, 3), name="x")
    y = gc.placeholder((None,), "int64", name="y")
    f = gc.compile([x, y], gc.cross_entropy(x, y))
    with pytest.raises(IndexError, match=r"labels must lie in \[0, 3\).*built at .*test_numba_backend.py:\d+"):
        f(np.zeros((2, 3)), np.array([0, 3]))
