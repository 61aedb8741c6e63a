"""Every differentiable op's gradient against central finite differences in float64: first order
for every differentiable input, second order (the gradient of sum(grad * r) again against finite
differences of the compiled gradient), forward mode (jvp) against finite differences and against
the reverse-mode gradient; non-differentiable ops raise GradientError naming the op."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import graphc as gc
from op_domains import (
    BINARY, GRAD_CASES, NONDIFF_CASES, REDUCTIONS, SECOND_ORDER_CASES, case_ids, run,
)


def fd_gradient(f, arrays, wrt, eps):
    """Central differences of the scalar f(list of arrays) with respect to arrays[i], i in wrt."""
    arrays = [np.array(a, dtype=a.dtype) for a in arrays]
    grads = []
    for i in wrt:
        x = arrays[i]
        g = np.zeros(x.shape)
        for k in np.ndindex(*x.shape):
            old = x[k]
            x[k] = old + eps
            up = f(arrays)
            x[k] = old - eps
            down = f(arrays)
            x[k] = old
            g[k] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


def _weights(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def _setup(case, seed=1):
    xs = case.placeholders()
    y = case.build(*xs)
    arrays = case.inputs(seed=seed)
    r = _weights(case.expected(arrays).shape, seed + 100)
    wrt = [xs[i] for i in case.diff]
    return xs, y, arrays, r, wrt


def _scalar_ref(case, arrays, r):
    ref = case.derivative_ref(arrays)

    def f(arrs):
        with np.errstate(all="ignore"):
            return float(np.sum(np.asarray(ref(*arrs), dtype=np.float64) * r))

    return f


@pytest.mark.parametrize("case", GRAD_CASES, ids=case_ids(GRAD_CASES))
def test_first_order_matches_finite_differences(case, backend):
    xs, y, arrays, r, wrt = _setup(case)
    grads = gc.grad(gc.sum(y * r), wrt)
    for g, x in zip(grads, wrt):
        assert g.shape == x.shape and g.dtype == x.dtype
    got = run(xs, grads, arrays, backend)
    want = fd_gradient(_scalar_ref(case, arrays, r), arrays, case.diff, case.fd_eps)
    for i, g, w in zip(case.diff, got, want):
        assert g.shape == arrays[i].shape and g.dtype == arrays[i].dtype
        np.testing.assert_allclose(g, w, rtol=case.grad_rtol, atol=case.grad_atol, err_msg=f"input {i}")


@pytest.mark.parametrize("case", SECOND_ORDER_CASES, ids=case_ids(SECOND_ORDER_CASES))
def test_second_order_matches_finite_differences(case, backend):
    """grad(sum_i sum(grad_i * r2_i)) against central differences of the compiled first gradient."""
    xs, y, arrays, r, wrt = _setup(case)
    grads = gc.grad(gc.sum(y * r), wrt)
    r2 = [_weights(a.shape, 200 + i) for i, a in zip(case.diff, [arrays[i] for i in case.diff])]
    loss2 = gc.sum(grads[0] * r2[0])
    for g, w in zip(grads[1:], r2[1:]):
        loss2 = loss2 + gc.sum(g * w)
    hess = gc.grad(loss2, wrt)
    for h, x in zip(hess, wrt):
        assert h.shape == x.shape and h.dtype == x.dtype
    got = run(xs, hess, arrays, backend)
    first = gc.compile(xs, grads, backend=backend)

    def f(arrs):
        with np.errstate(all="ignore"):
            return float(sum(np.sum(g * w) for g, w in zip(first(*arrs), r2)))

    want = fd_gradient(f, arrays, case.diff, 1e-5)
    for i, h, w in zip(case.diff, got, want):
        np.testing.assert_allclose(h, w, rtol=1e-4, atol=1e-5 + 10 * case.grad_atol, err_msg=f"input {i}")


@pytest.mark.parametrize("case", GRAD_CASES, ids=case_ids(GRAD_CASES))
def test_jvp_matches_finite_differences_and_grad(case, backend):
    xs, y, arrays, r, wrt = _setup(case, seed=5)
    tangents = [_weights(arrays[i].shape, 300 + i) for i in case.diff]
    ty = gc.jvp(y, wrt, tangents)
    assert ty.shape == y.shape
    assert ty.dtype == y.dtype
    grads = gc.grad(gc.sum(y * r), wrt)
    got, *got_grads = run(xs, [ty] + grads, arrays, backend)
    ref = case.derivative_ref(arrays)
    h = case.fd_eps
    plus, minus = list(arrays), list(arrays)
    for i, t in zip(case.diff, tangents):
        plus[i] = arrays[i] + h * t
        minus[i] = arrays[i] - h * t
    with np.errstate(all="ignore"):
        want = (np.asarray(ref(*plus), np.float64) - np.asarray(ref(*minus), np.float64)) / (2 * h)
    np.testing.assert_allclose(got, want, rtol=case.grad_rtol, atol=case.grad_atol)
    # <jvp, r> == <grad of <y, r>, tangent>: forward and reverse mode agree
    forward = float(np.sum(np.asarray(got, np.float64) * r))
    reverse = float(sum(np.sum(g * t) for g, t in zip(got_grads, tangents)))
    np.testing.assert_allclose(forward, reverse, rtol=1e-6, atol=1e-6 + case.grad_atol)


@pytest.mark.parametrize("case", NONDIFF_CASES, ids=case_ids(NONDIFF_CASES))
def test_nondifferentiable_op_raises_naming_it(case):
    xs = case.placeholders()
    y = case.build(*xs)
    r = _weights(case.expected(case.inputs()).shape, 0)
    floats = [x for x in xs if x.dtype.kind == "f"]
    with pytest.raises(gc.GradientError, match=f"non-differentiable op '{case.op}'"):
        gc.grad(gc.sum(y * r), floats)


@pytest.mark.parametrize("case", NONDIFF_CASES, ids=case_ids(NONDIFF_CASES))
def test_nondifferentiable_op_has_zero_tangent(case, backend):
    xs = case.placeholders()
    y = case.build(*xs)
    floats = [x for x in xs if x.dtype.kind == "f"]
    ty = gc.jvp(y, floats, [np.ones(x.shape) for x in floats])
    arrays = case.inputs()
    got = run(xs, ty, arrays, backend)
    assert got.shape == case.expected(arrays).shape
    assert not np.any(got)


# ---- hypothesis: broadcasting (with unknown dims) and reductions over random axes ----------------
@given(
    name=st.sampled_from(sorted(BINARY)),
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    unknown=st.lists(st.booleans(), min_size=6, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_binary_gradients_undo_broadcasting(name, shapes, unknown, seed):
    fn, ref, gen = BINARY[name]
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    arrays = [np.asarray(a, np.float64) for a in gen(np.random.default_rng(seed), [sa, sb])]
    flags = iter(unknown)
    x = gc.placeholder(tuple(None if next(flags) and d != 1 else d for d in sa), name="x")
    y = gc.placeholder(tuple(None if next(flags) and d != 1 else d for d in sb), name="y")
    r = _weights(out_shape, seed)
    out = fn(x, y)
    grads = gc.grad(gc.sum(out * r), [x, y])
    got = run([x, y], grads, arrays)
    want = fd_gradient(lambda a: float(np.sum(ref(*a) * r)), arrays, [0, 1], 1e-6)
    for g, w, a in zip(got, want, arrays):
        assert g.shape == a.shape
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


@given(
    name=st.sampled_from(sorted(REDUCTIONS)),
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3),
    data=st.data(),
    keepdims=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_reduction_gradients_over_random_axes(name, shape, data, keepdims, seed):
    fn, ref, gen = REDUCTIONS[name]
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1),
                               st.lists(st.integers(0, len(shape) - 1), unique=True, min_size=1).map(tuple)))
    value = gen(np.random.default_rng(seed), shape)
    x = gc.placeholder(tuple(None if d != 1 else 1 for d in shape), name="x")
    out = fn(x, axis=axis, keepdims=keepdims)
    r = _weights(np.shape(ref(value, axis=axis, keepdims=keepdims)), seed)
    g = gc.grad(gc.sum(out * r), x)
    got = run([x], g, [value])
    want = fd_gradient(lambda a: float(np.sum(ref(a[0], axis=axis, keepdims=keepdims) * r)), [value], [0], 1e-6)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


# ---- specific derivative conventions ------------------------------------------------------------
def test_ties_share_the_gradient_evenly(backend):
    x = gc.placeholder((4,), name="x")
    f = gc.compile([x], [gc.grad(gc.max(x), x), gc.grad(gc.min(x), x), gc.grad(gc.sum(gc.maximum(x, 1.0)), x)],
                   backend=backend)
    gmax, gmin, gmaximum = f(np.array([3.0, 1.0, 3.0, 3.0]))
    np.testing.assert_allclose(gmax, [1 / 3, 0, 1 / 3, 1 / 3])
    gmax, gmin, gmaximum = f(np.array([1.0, 0.0, 0.0, 2.0]))
    np.testing.assert_allclose(gmin, [0, 0.5, 0.5, 0])
    np.testing.assert_allclose(gmaximum, [0.5, 0, 0, 1])


def test_derivatives_at_kinks_and_singular_points(backend):
    x = gc.placeholder((3,), name="x")
    p = gc.placeholder((3,), name="p")
    outs = [gc.grad(gc.sum(gc.relu(x)), x), gc.grad(gc.sum(gc.abs(x)), x), gc.grad(gc.sum(gc.sqrt(x)), x),
            gc.grad(gc.sum(x ** p), p), gc.grad(gc.sum(gc.clip(x, 0.0, 1.0)), x)]
    relu_g, abs_g, sqrt_g, pow_gp, clip_g = run([x, p], outs, [np.array([0.0, 1.0, 0.0]), np.array([2.0, 2.0, 0.5])],
                                                backend)
    np.testing.assert_array_equal(relu_g, [0.0, 1.0, 0.0])  # PyTorch: relu'(0) = 0
    np.testing.assert_array_equal(abs_g, [0.0, 1.0, 0.0])  # sign(0) = 0
    assert sqrt_g[0] == np.inf  # 1 / (2 sqrt(0))
    np.testing.assert_array_equal(pow_gp, [0.0, 0.0, 0.0])  # d/dp 0**p := 0; 1**p log 1 = 0
    np.testing.assert_array_equal(clip_g, [1.0, 1.0, 1.0])  # at a bound the gradient passes


def test_gradient_of_special_values_stays_finite(backend):
    x = gc.placeholder((2, 3), name="x")
    lse = gc.grad(gc.sum(gc.logsumexp(x, axis=1)), x)
    sm = gc.grad(gc.sum(gc.softmax(x) * np.arange(3.0)), x)
    sig = gc.grad(gc.sum(gc.sigmoid(x)), x)
    v = np.array([[-np.inf, 0.0, 0.0], [1e4, 1e4 - 1, -1e4]])
    g_lse, g_sm, g_sig = run([x], [lse, sm, sig], [v], backend)
    np.testing.assert_allclose(g_lse[0], [0.0, 0.5, 0.5])
    e = np.exp([0.0, -1.0])
    np.testing.assert_allclose(g_lse[1], [e[0] / e.sum(), e[1] / e.sum(), 0.0], atol=1e-300)
    assert np.all(np.isfinite(g_sm))
    assert np.all(np.isfinite(g_sig[1])) and g_sig[1, 0] == 0.0


def test_third_order_of_a_polynomial(backend):
    x = gc.placeholder((4,), name="x")
    y = gc.sum(x ** 4)
    g1 = gc.grad(y, x)
    g2 = gc.grad(gc.sum(g1), x)
    g3 = gc.grad(gc.sum(g2), x)
    v = np.array([-1.0, 0.5, 2.0, 3.0])
    a, b, c = run([x], [g1, g2, g3], [v], backend)
    np.testing.assert_allclose(a, 4 * v ** 3)
    np.testing.assert_allclose(b, 12 * v ** 2)
    np.testing.assert_allclose(c, 24 * v)


F32_GRAD_CASES = [c for c in GRAD_CASES if c.f32 and c.fd_ref is None]


@pytest.mark.parametrize("case", F32_GRAD_CASES, ids=case_ids(F32_GRAD_CASES))
def test_float32_gradients_stay_float32(case, backend):
    """Gradients of a float32 graph are float32 (no float64 leaks from rules' constants) and agree
    with the float64 gradients to float32 accuracy."""
    xs32 = case.placeholders(float_dtype=np.float32)
    y32 = case.build(*xs32)
    arrays = case.inputs(seed=1)
    r = _weights(case.expected(arrays).shape, 101)
    wrt32 = [xs32[i] for i in case.diff]
    grads32 = gc.grad(gc.sum(y32 * r.astype(y32.dtype)), wrt32)
    for g in grads32:
        assert g.dtype == np.float32
    xs, y, _, _, wrt = _setup(case)
    grads64 = gc.grad(gc.sum(y * r), wrt)
    got32 = run(xs32, grads32, [a.astype(np.float32) if a.dtype.kind == "f" else a for a in arrays], backend)
    got64 = run(xs, grads64, arrays, backend)
    for a, b in zip(got32, got64):
        assert a.dtype == np.float32
        scale = max(1.0, float(np.max(np.abs(b), initial=0.0)))
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * scale)


@pytest.mark.parametrize("case", GRAD_CASES, ids=case_ids(GRAD_CASES))
def test_rewrite_passes_preserve_gradient_graphs(case):
    """compile(verify=True) re-runs the forward, gradient and second-order graph after every pass
    with the reference backend and fails naming the first pass and node that changed a value."""
    xs, y, arrays, r, wrt = _setup(case)
    grads = gc.grad(gc.sum(y * r), wrt)
    outs = [y] + grads
    if case.second_order:
        outs += gc.grad(sum((gc.sum(g * 1.5) for g in grads[1:]), gc.sum(grads[0])), wrt)
    f = gc.compile(xs, outs, backend="numpy", verify=True)
    unopt = gc.compile(xs, outs, backend="numpy", optimize=False)
    with np.errstate(all="ignore"):
        for a, b in zip(f(*arrays), unopt(*arrays)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
