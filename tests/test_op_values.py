"""Every op's value against NumPy, over each case of its domain: float64, float32 and with every
dimension unknown at build time; inferred shape/dtype against the computed result and NumPy;
NumPy 2 promotion (weak Python scalars); special values (nan, inf, -0.0) as NumPy has them; and
random broadcasting pairs (hypothesis)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import graphc as gc
from op_domains import ALL_CASES, BINARY, REDUCTIONS, case_ids, run, _np_cross_entropy, _np_log_softmax

FLOAT_CASES = [c for c in ALL_CASES if c.f32 and any(d.kind == "f" for d in c.dtypes)]
DYNAMIC_CASES = [c for c in ALL_CASES if c.dynamic]


def check_close(got, want, rtol, atol):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype.kind in "fc":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("case", ALL_CASES, ids=case_ids(ALL_CASES))
def test_value_matches_numpy(case, backend):
    xs = case.placeholders()
    y = case.build(*xs)
    arrays = case.inputs(seed=0)
    want = case.expected(arrays)
    # inference at build time agrees with NumPy's result
    assert y.shape == want.shape
    assert y.dtype == want.dtype
    got = run(xs, y, arrays, backend)
    assert isinstance(got, np.ndarray)
    assert got.dtype == y.dtype
    check_close(got, want, case.rtol, case.atol)


@pytest.mark.parametrize("case", FLOAT_CASES, ids=case_ids(FLOAT_CASES))
def test_value_float32(case, backend):
    xs = case.placeholders(float_dtype=np.float32)
    y = case.build(*xs)
    arrays = case.inputs(seed=2, float_dtype=np.float32)
    want = case.expected(arrays)  # NumPy on the same float32 arrays
    assert y.dtype == want.dtype, f"inferred {y.dtype}, NumPy gives {want.dtype}"
    assert y.shape == want.shape
    got = run(xs, y, arrays, backend)
    assert got.dtype == y.dtype
    if want.dtype == np.float32:
        scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
        check_close(got, want, rtol=2e-6, atol=2e-6 * scale)
    else:
        check_close(got, want, case.rtol, max(case.atol, 1e-12))


@pytest.mark.parametrize("case", DYNAMIC_CASES, ids=case_ids(DYNAMIC_CASES))
def test_value_with_unknown_dimensions(case, backend):
    """Built with every dimension None: the inferred shape is compatible and the values are equal."""
    xs = case.placeholders(dynamic=True)
    y = case.build(*xs)
    arrays = case.inputs(seed=3)
    want = case.expected(arrays)
    assert len(y.shape) == want.ndim
    assert all(d is None or d == w for d, w in zip(y.shape, want.shape)), (y.shape, want.shape)
    assert y.dtype == want.dtype
    got = run(xs, y, arrays, backend)
    check_close(got, want, case.rtol, case.atol)


@pytest.mark.parametrize("case", ALL_CASES[::7], ids=case_ids(ALL_CASES[::7]))
def test_unoptimized_graph_gives_the_same_values(case, backend):
    xs = case.placeholders()
    y = case.build(*xs)
    arrays = case.inputs(seed=4)
    a = run(xs, y, arrays, backend, optimize=True)
    b = run(xs, y, arrays, backend, optimize=False)
    check_close(a, b, 0, 0)


# ---- NumPy 2 promotion -------------------------------------------------------------------------
def _vals(dtype, shape=(2, 3)):
    rng = np.random.default_rng(5)
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind in "iu":
        return rng.integers(1, 4, shape).astype(dtype)
    return rng.uniform(0.5, 2.0, shape).astype(dtype)


UNARY_PROMOTION = [
    ("f32*2.0", "float32", lambda x: x * 2.0),
    ("2.0*f32", "float32", lambda x: 2.0 * x),
    ("f32+1", "float32", lambda x: x + 1),
    ("f32/3", "float32", lambda x: x / 3),
    ("f32**2", "float32", lambda x: x ** 2),
    ("f32**0.5", "float32", lambda x: x ** 0.5),
    ("2**f32", "float32", lambda x: 2 ** x),
    ("f32+np.float64", "float32", lambda x: x + np.float64(1.0)),
    ("f32+f64_array", "float32", lambda x: x + np.ones(3)),
    ("f32*f32_array", "float32", lambda x: x * np.ones(3, np.float32)),
    ("f16*2.0", "float16", lambda x: x * 2.0),
    ("int64*2.5", "int64", lambda x: x * 2.5),
    ("int32*2.5", "int32", lambda x: x * 2.5),
    ("int32+1", "int32", lambda x: x + 1),
    ("int8+1", "int8", lambda x: x + 1),
    ("uint8*2", "uint8", lambda x: x * 2),
    ("int64/2", "int64", lambda x: x / 2),
    ("int64**2", "int64", lambda x: x ** 2),
    ("int64**2.0", "int64", lambda x: x ** 2.0),
    ("bool+1", "bool", lambda x: x + 1),
    ("f32>0.5", "float32", lambda x: x > 0.5),
    ("maximum(f32,0.0)", "float32", lambda x: gc.maximum(x, 0.0)),
    ("where(f32>1,f32,0.0)", "float32", lambda x: gc.where(x > 1, x, 0.0)),
    ("where(bool,1.0,0)", "bool", lambda x: gc.where(x, 1.0, 0)),
    ("clip(f32,0,1)", "float32", lambda x: gc.clip(x, 0, 1)),
    ("clip(int32,0,2)", "int32", lambda x: gc.clip(x, 0, 2)),
    ("exp(int32)", "int32", gc.exp),
    ("exp(int8)", "int8", gc.exp),
    ("sqrt(int16)", "int16", gc.sqrt),
    ("tanh(f16)", "float16", gc.tanh),
    ("sigmoid(int32)", "int32", gc.sigmoid),
    ("abs(int8)", "int8", gc.abs),
    ("neg(uint8)", "uint8", gc.neg),
    ("sign(int32)", "int32", gc.sign),
    ("relu(int32)", "int32", gc.relu),
    ("square(int8)", "int8", gc.square),
    ("sum(int32)", "int32", gc.sum),
    ("sum(uint8)", "uint8", gc.sum),
    ("sum(bool)", "bool", gc.sum),
    ("sum(f32,axis=0)", "float32", lambda x: gc.sum(x, axis=0)),
    ("mean(int32)", "int32", gc.mean),
    ("mean(f16)", "float16", gc.mean),
    ("max(int32)", "int32", gc.max),
    ("argmax(f32)", "float32", gc.argmax),
    ("logsumexp(int32)", "int32", gc.logsumexp),
    ("softmax(int32)", "int32", gc.softmax),
    ("log_softmax(f32)", "float32", gc.log_softmax),
    ("transpose(int8)", "int8", gc.transpose),
    ("reshape(uint8)", "uint8", lambda x: x.reshape(-1)),
    ("f32.astype(int32)", "float32", lambda x: x.astype("int32")),
    ("int32.astype(f32)", "int32", lambda x: x.astype(np.float32)),
    ("int32@int32", "int32", lambda x: x @ x.T),
    ("f32@f64_array", "float32", lambda x: x @ np.ones((3, 2))),
]

NP_EQUIVALENT = {
    "exp(int32)": np.exp, "exp(int8)": np.exp, "sqrt(int16)": np.sqrt, "tanh(f16)": np.tanh,
    "sigmoid(int32)": lambda x: 1 / (1 + np.exp(-x)), "abs(int8)": np.abs, "neg(uint8)": np.negative,
    "sign(int32)": np.sign, "relu(int32)": lambda x: np.maximum(x, np.int32(0)), "square(int8)": np.square,
    "sum(int32)": np.sum, "sum(uint8)": np.sum, "sum(bool)": np.sum, "sum(f32,axis=0)": lambda x: np.sum(x, 0),
    "mean(int32)": np.mean, "mean(f16)": np.mean, "max(int32)": np.max, "argmax(f32)": np.argmax,
    "logsumexp(int32)": lambda x: np.log(np.sum(np.exp(x))), "softmax(int32)": lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True),
    "log_softmax(f32)": lambda x: _np_log_softmax(x, -1), "transpose(int8)": np.transpose,
    "maximum(f32,0.0)": lambda x: np.maximum(x, 0.0), "where(f32>1,f32,0.0)": lambda x: np.where(x > 1, x, 0.0),
    "where(bool,1.0,0)": lambda x: np.where(x, 1.0, 0), "clip(f32,0,1)": lambda x: np.clip(x, 0, 1),
    "clip(int32,0,2)": lambda x: np.clip(x, 0, 2),
}


@pytest.mark.parametrize("label,dtype,build", UNARY_PROMOTION, ids=[p[0] for p in UNARY_PROMOTION])
def test_promotion_follows_numpy2(label, dtype, build, backend):
    x = gc.placeholder((2, 3), dtype, name="x")
    y = build(x)
    value = _vals(dtype)
    ref = NP_EQUIVALENT.get(label, build)  # the same expression on a NumPy array
    with np.errstate(all="ignore"):
        want = np.asarray(ref(value))
    assert y.dtype == want.dtype, f"{label}: graph infers {y.dtype}, NumPy 2 gives {want.dtype}"
    got = run([x], y, [value], backend)
    assert got.dtype == want.dtype
    tol = 1e-3 if want.dtype == np.float16 else 1e-6
    check_close(got, want, tol, tol)


def test_python_float_does_not_widen_float32():
    x = gc.placeholder((3,), "float32")
    assert (x * 2.0).dtype == np.float32
    assert (2.0 * x + 1.5 - x / 4.0).dtype == np.float32
    i = gc.placeholder((3,), "int64")
    assert (i * 2.5).dtype == np.float64
    assert (i * 2).dtype == np.int64


BINARY_PROMOTION = [
    ("int32", "float32"), ("int8", "uint8"), ("float16", "float32"), ("int64", "float64"), ("bool", "int8"),
    ("uint16", "int16"), ("bool", "bool"),
]


@pytest.mark.parametrize("a,b", BINARY_PROMOTION)
@pytest.mark.parametrize("fn,npfn", [(gc.add, np.add), (gc.mul, np.multiply), (gc.maximum, np.maximum),
                                      (gc.less, np.less)], ids=["add", "mul", "maximum", "less"])
def test_binary_promotion_between_nodes(a, b, fn, npfn, backend):
    x, y = gc.placeholder((2, 3), a, name="x"), gc.placeholder((3,), b, name="y")
    out = fn(x, y)
    xa, ya = _vals(a), _vals(b, (3,))
    want = npfn(xa, ya)
    assert out.dtype == want.dtype
    got = run([x, y], out, [xa, ya], backend)
    assert got.dtype == want.dtype
    check_close(got, want, 1e-6, 1e-6)


@pytest.mark.parametrize("dtypes", [("bool", "int32", "float32"), ("bool", "float32", "float32"),
                                     ("bool", "int8", "int64")])
def test_where_and_concatenate_promotion(dtypes, backend):
    c = gc.placeholder((2, 3), dtypes[0], name="c")
    x = gc.placeholder((2, 3), dtypes[1], name="x")
    y = gc.placeholder((2, 3), dtypes[2], name="y")
    vals = [_vals(d) for d in dtypes]
    out = [gc.where(c, x, y), gc.concatenate([x, y], axis=1)]
    want = [np.where(*vals), np.concatenate(vals[1:], axis=1)]
    got = run([c, x, y], out, vals, backend)
    for node, g, w in zip(out, got, want):
        assert node.dtype == w.dtype == g.dtype
        check_close(g, w, 0, 0)


# ---- special values (every op, both backends, float32 too: tests/test_special_values.py) -----
def test_named_special_values(backend):
    x = gc.placeholder((), name="x")
    f = gc.compile([x], [gc.exp(x), gc.log(x), gc.sigmoid(x), gc.tanh(x), gc.sqrt(x), gc.log1p(x - 1)],
                   backend=backend)
    with np.errstate(all="ignore"):
        exp_, log_, sig, tanh_, sqrt_, log1p_ = f(-np.inf)
        assert exp_ == 0.0 and sig == 0.0 and tanh_ == -1.0 and np.isnan(log_) and np.isnan(sqrt_)
        exp_, log_, sig, tanh_, sqrt_, log1p_ = f(np.inf)
        assert exp_ == np.inf and log_ == np.inf and sig == 1.0 and tanh_ == 1.0
        _, log_, sig, tanh_, sqrt_, log1p_ = f(0.0)
        assert log_ == -np.inf and sig == 0.5 and log1p_ == -np.inf
        _, log_, _, tanh_, sqrt_, _ = f(-0.0)
        assert log_ == -np.inf and tanh_ == 0.0 and np.signbit(tanh_) and np.signbit(sqrt_)
        assert all(np.isnan(v) for v in f(np.nan))
    m = gc.placeholder((2,), name="m")
    g = gc.compile([m], [gc.maximum(m, 0.0), gc.minimum(0.0, m), gc.relu(m), gc.max(m)], backend=backend)
    for v in g(np.array([np.nan, 1.0])):
        assert np.isnan(np.asarray(v).flat[0])


def test_logsumexp_special_rows(backend):
    x = gc.placeholder((None, 3), name="x")
    rows = np.array([
        [-np.inf, -np.inf, -np.inf],
        [np.inf, 0.0, 1.0],
        [np.inf, -np.inf, 0.0],
        [np.nan, 0.0, 1.0],
        [-np.inf, 0.0, -np.inf],
        [1000.0, 1000.0, -np.inf],
        [-1000.0, -1000.0, -1000.0],
        [1e308, 1e308, 0.0],
    ])
    with np.errstate(all="ignore"):
        got = run([x], gc.logsumexp(x, axis=1), [rows], backend)
    assert got[0] == -np.inf
    assert got[1] == np.inf and got[2] == np.inf
    assert np.isnan(got[3])
    assert got[4] == 0.0
    np.testing.assert_allclose(got[5], 1000.0 + np.log(2.0), rtol=1e-15)
    np.testing.assert_allclose(got[6], -1000.0 + np.log(3.0), rtol=1e-15)
    np.testing.assert_allclose(got[7], 1e308 + np.log(2.0), rtol=1e-15)  # no overflow to inf
    assert np.isfinite(got[7])
    # keepdims and all axes
    got_all = run([x], gc.logsumexp(x, keepdims=True), [np.full((2, 3), -np.inf)], backend)
    assert got_all.shape == (1, 1) and got_all[0, 0] == -np.inf


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softmax_of_huge_values_stays_finite(dtype, backend):
    x = gc.placeholder((2, 3), dtype, name="x")
    big = np.array([[1000.0, 1001.0, 1002.0], [3e38, 3e38, -3e38]], dtype)
    sm, lsm = run([x], [gc.softmax(x), gc.log_softmax(x)], [big], backend)
    assert sm.dtype == lsm.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(sm)) and np.all(np.isfinite(lsm[0]))
    shifted = np.array([0.0, 1.0, 2.0])
    tol = 1e-12 if dtype == "float64" else 1e-4  # float32 spacing near 1000 is 6e-5
    np.testing.assert_allclose(sm[0], np.exp(shifted) / np.exp(shifted).sum(), rtol=tol)
    np.testing.assert_allclose(sm[1], [0.5, 0.5, 0.0], rtol=tol, atol=0)
    np.testing.assert_allclose(lsm[0], _np_log_softmax(shifted), rtol=tol)
    # a -inf logit gets probability 0 and log-probability -inf, the others are unaffected
    neg = np.array([[-np.inf, 0.0, 0.0], [0.0, 0.0, 0.0]], dtype)
    sm, lsm = run([x], [gc.softmax(x), gc.log_softmax(x)], [neg], backend)
    np.testing.assert_allclose(sm[0], [0.0, 0.5, 0.5])
    assert lsm[0, 0] == -np.inf


def test_cross_entropy_with_huge_logits_stays_finite(backend):
    logits = gc.placeholder((None, 3), name="logits")
    labels = gc.placeholder((None,), "int64", name="labels")
    loss = gc.cross_entropy(logits, labels)
    g = gc.grad(loss, logits)
    big = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 0.0], [1e4, 1e4, -1e4]])
    lab = np.array([1, 1, 0])
    got_loss, got_g = run([logits, labels], [loss, g], [big, lab], backend)
    assert np.isfinite(got_loss) and np.all(np.isfinite(got_g))
    np.testing.assert_allclose(got_loss, _np_cross_entropy(big, lab), rtol=1e-12)
    probs = np.exp(_np_log_softmax(big, 1))
    np.testing.assert_allclose(got_g, (probs - np.eye(3)[lab]) / 3, atol=1e-15)


def test_sigmoid_keeps_relative_accuracy_in_the_tails(backend):
    x = gc.placeholder((None,), name="x")
    v = np.array([-700.0, -100.0, -36.0, -20.0, 20.0, 36.0])
    got = run([x], gc.sigmoid(x), [v], backend)
    want = np.exp(-np.logaddexp(0.0, -v))
    np.testing.assert_allclose(got, want, rtol=1e-14)
    assert got[0] > 0  # not flushed to zero


# ---- hypothesis: random broadcasting pairs and reductions ---------------------------------------
@given(
    name=st.sampled_from(sorted(BINARY)),
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3),
    unknown=st.lists(st.booleans(), min_size=8, max_size=8),
    seed=st.integers(0, 2**16),
)
def test_binary_broadcasting_matches_numpy(name, shapes, unknown, seed):
    fn, ref, gen = BINARY[name]
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    xa, xb = gen(np.random.default_rng(seed), [sa, sb])
    flags = iter(unknown)
    # a None dimension must not broadcast at run time: only sizes other than 1 may be unknown
    da = tuple(None if next(flags) and d != 1 else d for d in sa)
    db = tuple(None if next(flags) and d != 1 else d for d in sb)
    x, y = gc.placeholder(da, name="x"), gc.placeholder(db, name="y")
    out = fn(x, y)
    assert len(out.shape) == len(out_shape)
    assert all(d is None or d == w for d, w in zip(out.shape, out_shape))
    got = run([x, y], out, [xa, xb])
    with np.errstate(all="ignore"):
        check_close(got, ref(xa, xb), 1e-14, 0)


@st.composite
def shape_and_axis(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    axes = draw(st.one_of(
        st.none(),
        st.integers(-len(shape), len(shape) - 1),
        st.lists(st.integers(0, len(shape) - 1), unique=True, min_size=1).map(tuple),
    ))
    return shape, axes


@given(name=st.sampled_from(sorted(REDUCTIONS)), sa=shape_and_axis(), keepdims=st.booleans(),
       seed=st.integers(0, 2**16))
def test_reductions_over_random_axes_match_numpy(name, sa, keepdims, seed):
    fn, ref, gen = REDUCTIONS[name]
    shape, axis = sa
    value = gen(np.random.default_rng(seed), shape)
    x = gc.placeholder(shape, name="x")
    out = fn(x, axis=axis, keepdims=keepdims)
    want = np.asarray(ref(value, axis=axis, keepdims=keepdims))
    assert out.shape == want.shape
    check_close(run([x], out, [value]), want, 1e-13, 1e-13)
