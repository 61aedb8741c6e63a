"""The elementwise ops for models against PyTorch (values, first and second derivatives, float64
and float32, graph and eager), their special values and integer edge cases on both backends
against NumPy, their dtype rules and errors, and the node operators == != & | ~ % //."""
import math

import numpy as np
import pytest
import torch

import graphc as gc
from op_domains import special_values

BACKENDS = ["numba", "numpy"]
TF = torch.nn.functional

# name: (graphc function, torch function, input values)
_SMOOTH_X = np.array([-3.5, -1.2, -0.4, -1e-3, 0.0, 2e-4, 0.3, 0.9, 1.7, 4.2])
_OFF_JUMPS = np.array([-2.7, -1.3, -0.6, -0.2, 0.3, 0.8, 1.35, 2.6, 3.2, 4.9])
SMOOTH = {
    "erf": (gc.erf, torch.erf, _SMOOTH_X),
    "gelu": (gc.gelu, TF.gelu, _SMOOTH_X),
    "gelu_tanh": (lambda x: gc.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh"), _SMOOTH_X),
    "silu": (gc.silu, TF.silu, _SMOOTH_X),
    "leaky_relu": (gc.leaky_relu, TF.leaky_relu, _OFF_JUMPS),
    "leaky_relu_0.3": (lambda x: gc.leaky_relu(x, 0.3), lambda x: TF.leaky_relu(x, 0.3), _OFF_JUMPS),
    "floor": (gc.floor, torch.floor, _OFF_JUMPS),
    "ceil": (gc.ceil, torch.ceil, _OFF_JUMPS),
    "round": (gc.round, torch.round, _OFF_JUMPS),
    "trunc": (gc.trunc, torch.trunc, _OFF_JUMPS),
}


def _torch_grads(torch_fn, x, weight, second=False):
    t = torch.tensor(x, requires_grad=True)
    y = torch_fn(t)
    (g,) = torch.autograd.grad((y * torch.tensor(weight)).sum(), t, create_graph=second)
    if not second:
        return y.detach().numpy(), g.numpy()
    if not g.requires_grad:  # piecewise-constant ops: the gradient is a constant 0
        return y.detach().numpy(), g.detach().numpy(), np.zeros_like(x)
    (gg,) = torch.autograd.grad(g.sum(), t)
    return y.detach().numpy(), g.detach().numpy(), gg.numpy()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_values_and_derivatives_match_torch(name, dtype, backend):
    fn, torch_fn, values = SMOOTH[name]
    x_val = values.astype(dtype)
    weight = np.linspace(-1.0, 1.5, x_val.size).astype(dtype)
    x = gc.placeholder(x_val.shape, dtype, name="x")
    y = fn(x)
    (g,) = gc.grad(gc.sum(y * weight), [x])
    (gg,) = gc.grad(gc.sum(g), [x])
    got = gc.compile([x], [y, g, gg], backend=backend)(x_val)
    want = _torch_grads(torch_fn, x_val, weight, second=True)
    for k, (got_k, want_k) in enumerate(zip(got, want)):
        # float32: 1 - tanh(u)**2 in gelu_tanh's second derivative cancels (differently in torch)
        tol = dict(rtol=1e-12, atol=1e-14) if dtype == "float64" else dict(rtol=2e-6, atol=1e-6 * 10 ** k)
        what = ["value", "gradient", "second derivative"][k]
        assert got_k.dtype == np.dtype(dtype), what
        np.testing.assert_allclose(got_k, want_k, **tol, err_msg=f"{name} {what}")


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_eager_matches_torch(name):
    fn, torch_fn, values = SMOOTH[name]
    weight = np.linspace(-1.0, 1.5, values.size)
    t = gc.tensor(values, requires_grad=True)
    y = fn(t)
    (y * gc.tensor(weight)).sum().backward()
    want_y, want_g = _torch_grads(torch_fn, values, weight)
    np.testing.assert_allclose(y.detach().numpy(), want_y, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(t.grad.numpy(), want_g, rtol=1e-12, atol=1e-14)


def _division_values():
    x = np.array([5.5, -5.5, 7.25, -7.25, 0.75, -3.1, 2.2, 9.7])
    y = np.array([2.0, 2.0, -1.5, -1.5, 0.4, 0.7, -0.3, 2.5])
    return x, y


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_remainder_and_floor_divide_match_torch(dtype, backend):
    xv, yv = (v.astype(dtype) for v in _division_values())
    x, y = gc.placeholder(xv.shape, dtype, name="x"), gc.placeholder(yv.shape, dtype, name="y")
    r = gc.remainder(x, y)
    gx, gy = gc.grad(gc.sum(r * 3.0), [x, y])
    (ggy,) = gc.grad(gc.sum(gy), [y])  # the quotient in d/dy is piecewise constant
    got = gc.compile([x, y], [r, gc.floor_divide(x, y), gx, gy, ggy], backend=backend)(xv, yv)
    tx, ty = torch.tensor(xv, requires_grad=True), torch.tensor(yv, requires_grad=True)
    tr = torch.remainder(tx, ty)
    (tr * 3.0).sum().backward()
    want = [tr.detach().numpy(), torch.floor_divide(tx, ty).detach().numpy(), tx.grad.numpy(), ty.grad.numpy(),
            np.zeros_like(yv)]
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == "float64" else dict(rtol=2e-6, atol=2e-6)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, **tol)


def test_floor_divide_has_no_derivative_as_in_torch():
    x, y = gc.placeholder((3,), name="x"), gc.placeholder((3,), name="y")
    with pytest.raises(gc.GradientError, match="floor_divide"):
        gc.grad(gc.sum(gc.floor_divide(x, y)), [x])
    with pytest.raises(RuntimeError, match="floor_divide"):
        torch.floor_divide(torch.ones(3, requires_grad=True), torch.ones(3)).sum().backward()


# ---- special values, both backends, against NumPy (nan, inf and signs of zero exactly) -------------
def _run(inputs, outputs, feeds, backend, kernels=1):
    f = gc.compile(inputs, outputs, backend=backend)
    if backend == "numba":
        assert f.stats.kernels == kernels and not f.stats.numpy_ops, str(f.stats)
    with np.errstate(all="ignore"):
        return f(*feeds)


def _erf_ref(x):
    return np.asarray(np.frompyfunc(math.erf, 1, 1)(x.astype(np.float64)), np.float64).astype(x.dtype)


def _gelu_ref(x):
    w = x.astype(np.float64)
    return (w * 0.5 * (1.0 + _erf_ref(w * 0.7071067811865476))).astype(x.dtype)


def _gelu_tanh_ref(x):
    w = x.astype(np.float64)
    return (0.5 * w * (1.0 + np.tanh(0.7978845608028654 * (w + 0.044715 * w * w * w)))).astype(x.dtype)


SPECIAL_UNARY = {
    "erf": (gc.erf, _erf_ref),
    "gelu": (gc.gelu, _gelu_ref),
    "gelu_tanh": (lambda x: gc.gelu(x, approximate="tanh"), _gelu_tanh_ref),
    "silu": (gc.silu, lambda x: x * np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))),
                                             np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))),
    "leaky_relu": (gc.leaky_relu, lambda x: np.where(x > 0, x, x * x.dtype.type(0.01))),
    "floor": (gc.floor, np.floor),
    "ceil": (gc.ceil, np.ceil),
    "trunc": (gc.trunc, np.trunc),
    "round": (gc.round, np.round),
    "isnan": (gc.isnan, np.isnan),
    "isinf": (gc.isinf, np.isinf),
    "isfinite": (gc.isfinite, np.isfinite),
    "logical_not": (gc.logical_not, np.logical_not),
}


def assert_same(got, want, rtol=0.0):
    """Same dtype; nan places, infinities, zeros and their signs exactly; other values within rtol."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, want.dtype)
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want)
        return
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    exact = ~np.isnan(want) & (~np.isfinite(want) | (want == 0))
    np.testing.assert_array_equal(got[exact], want[exact])
    np.testing.assert_array_equal(np.signbit(got[exact]), np.signbit(want[exact]))
    rest = np.isfinite(want) & (want != 0)
    np.testing.assert_allclose(got[rest], want[rest], rtol=rtol, atol=0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(SPECIAL_UNARY))
def test_unary_special_values(name, dtype, backend):
    fn, ref = SPECIAL_UNARY[name]
    v = np.concatenate([special_values(dtype), np.array([0.5, 1.5, 2.5, -0.5, -2.5, -0.3, 3.0, -3.0], dtype)])
    x = gc.placeholder((None,), dtype, name="x")
    got = _run([x], fn(x), [v], backend)
    with np.errstate(all="ignore"):
        want = ref(v)
    # erf is within an ulp of glibc's; gelu's 1 + erf(x) cancels for x < 0, where that ulp of erf
    # is relatively larger (float32 computes in float64 and rounds once)
    rtol = {"erf": 4e-16, "gelu": 1e-13}.get(name, 4e-16 if name in ("silu", "gelu_tanh") else 0.0)
    assert_same(got, want, rtol=rtol if dtype == "float64" else 1.2e-7 if rtol else 0.0)


def test_special_values_match_torch():
    v = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -40.0, 1e-310, -5e-324, 3.0, -3.0])
    x = gc.placeholder((None,), name="x")
    fns = [gc.erf(x), gc.gelu(x), gc.gelu(x, "tanh"), gc.silu(x), gc.leaky_relu(x)]
    t = torch.tensor(v)
    wants = [torch.erf(t), TF.gelu(t), TF.gelu(t, approximate="tanh"), TF.silu(t), TF.leaky_relu(t)]
    for got, want in zip(gc.compile([x], fns)(v), wants):
        assert_same(got, want.numpy(), rtol=1e-15)
    w = np.array([0.5, 1.5, 2.5, -0.5, -0.0, -0.3, 0.3, np.inf, np.nan])
    x = gc.placeholder((None,), name="x")
    for fn, torch_fn in [(gc.round, torch.round), (gc.floor, torch.floor), (gc.ceil, torch.ceil), (gc.trunc, torch.trunc)]:
        assert_same(gc.compile([x], fn(x))(w), torch_fn(torch.tensor(w)).numpy())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["floor_divide", "remainder", "logical_and", "logical_or"])
def test_binary_special_values_are_numpys(name, dtype, backend):
    v = np.concatenate([special_values(dtype), np.array([3.0, -3.0, 7.0, -0.75, 2.5], dtype)])
    a, b = (m.ravel() for m in np.meshgrid(v, v, indexing="ij"))
    x, y = gc.placeholder((None,), dtype, name="x"), gc.placeholder((None,), dtype, name="y")
    got = _run([x, y], getattr(gc, name)(x, y), [a, b], backend)
    with np.errstate(all="ignore"):
        want = getattr(np, name)(a, b)
    assert_same(got, want)


INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint32", "uint64"]


def _integer_edges(dtype):
    info = np.iinfo(dtype)
    values = {int(info.min), int(info.min) + 1, int(info.max), int(info.max) - 1, 0, 1, 2, 3, 7, -1, -2, -3, -7}
    return np.array(sorted(v for v in values if info.min <= v <= info.max), dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_integer_division_edge_cases_are_numpys(dtype, backend):
    # x // 0 and x % 0 are 0, INT_MIN // -1 wraps to INT_MIN and INT_MIN % -1 is 0, as in NumPy
    v = _integer_edges(dtype)
    a, b = (m.ravel() for m in np.meshgrid(v, v, indexing="ij"))
    x, y = gc.placeholder((None,), dtype, name="x"), gc.placeholder((None,), dtype, name="y")
    q, r = _run([x, y], [x // y, x % y], [a, b], backend, kernels=2)
    with np.errstate(all="ignore"):
        want_q, want_r = np.floor_divide(a, b), np.remainder(a, b)
    assert q.dtype == want_q.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(q, want_q)
    np.testing.assert_array_equal(r, want_r)
    if np.dtype(dtype).kind == "i":
        smallest = np.iinfo(dtype).min
        pick = (a == smallest) & (b == -1)
        assert q[pick].tolist() == [smallest] and r[pick].tolist() == [0]
        assert q[b == 0].tolist() == [0] * v.size and r[b == 0].tolist() == [0] * v.size


@pytest.mark.parametrize("backend", BACKENDS)
def test_mixed_and_bool_division_dtypes(backend):
    i8 = gc.placeholder((None,), "int8", name="i8")
    u8 = gc.placeholder((None,), "uint8", name="u8")
    b = gc.placeholder((None,), "bool", name="b")
    a_i8, a_u8 = np.array([-128, 127, -7, 5, 0], np.int8), np.array([255, 2, 3, 0, 7], np.uint8)
    a_b = np.array([True, False, True, True, False])
    outs = [i8 // u8, i8 % u8, b // b, b % b, 7 // i8, -7.5 % u8]
    with np.errstate(all="ignore"):
        got = gc.compile([i8, u8, b], outs, backend=backend)(a_i8, a_u8, a_b)
        want = [a_i8 // a_u8, a_i8 % a_u8, a_b // a_b, a_b % a_b, 7 // a_i8, -7.5 % a_u8]
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


# ---- dtype rules and errors -------------------------------------------------------------------------
def test_result_dtypes_follow_numpy():
    i, f32, b = gc.placeholder((2,), "int64"), gc.placeholder((2,), "float32"), gc.placeholder((2,), "bool")
    assert gc.floor(i).dtype == np.int64 and gc.ceil(b).dtype == np.bool_ and gc.round(i).dtype == np.int64
    assert gc.erf(i).dtype == np.float64 and gc.erf(f32).dtype == np.float32
    assert gc.gelu(f32).dtype == gc.silu(f32).dtype == gc.leaky_relu(f32).dtype == np.float32
    assert gc.isnan(i).dtype == gc.logical_and(i, f32).dtype == np.bool_
    assert (b // b).dtype == np.int8 and (f32 % 2).dtype == np.float32 and (i // 2.0).dtype == np.float64


def test_errors_name_the_op_and_what_was_wrong():
    i, f = gc.placeholder((2,), "int64"), gc.placeholder((2,), "float64")
    b = gc.placeholder((2,), "bool")
    for fn in (gc.gelu, gc.silu, gc.leaky_relu, lambda v: gc.gelu(v, approximate="tanh")):
        with pytest.raises(TypeError, match="floating-point input, got int64"):
            fn(i)
    with pytest.raises(TypeError, match="round: expected a numeric input, got bool"):
        gc.round(b)
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'exact'"):
        gc.gelu(f, approximate="exact")
    with pytest.raises(TypeError, match="negative_slope must be a real number"):
        gc.leaky_relu(f, negative_slope="0.1")


def test_isnan_and_logical_not_need_no_gradient_and_say_so():
    x = gc.placeholder((3,), name="x")
    with pytest.raises(gc.GradientError, match="isnan"):
        gc.grad(gc.sum(gc.where(gc.isnan(x), 1.0, 0.0) * gc.astype(gc.isnan(x), "float64")), [x])


# ---- node operators ---------------------------------------------------------------------------------
def test_eq_and_ne_are_elementwise_and_nodes_stay_hashable():
    x, y = gc.placeholder((3,), name="x"), gc.placeholder((3,), name="y")
    assert (x == y).op is gc.equal(x, y).op and (x != 2.0).op is gc.not_equal(x, 2.0).op
    assert (x == None) is False and (x != None) is True  # noqa: E711 (the operator is the point)
    assert (x == "x") is False
    table = {x: 1, y: 2}
    assert table[x] == 1 and table[y] == 2 and x in {x, y} and y in {x, y}
    assert x in [x, y] and len({x, x, y}) == 2
    with pytest.raises(TypeError, match="dict or set"):
        y in [x, y]  # noqa: B015 (list membership compares with ==)
    with pytest.raises(TypeError, match="truth value of graph node"):
        if x == y:
            pass
    f = gc.compile([x, y], [x == y, x != y, 1.0 == x])
    eq, ne, reflected = f(np.array([1.0, 2.0, np.nan]), np.array([1.0, 3.0, np.nan]))
    assert eq.tolist() == [True, False, False] and ne.tolist() == [False, True, True]
    assert reflected.tolist() == [True, False, False]


def test_bitwise_operators_are_the_logical_ops_on_bool_values():
    p, q = gc.placeholder((4,), "bool", name="p"), gc.placeholder((4,), "bool", name="q")
    f = gc.compile([p, q], [p & q, p | q, ~p, p & True, False | q])
    a, b = np.array([True, True, False, False]), np.array([True, False, True, False])
    got = f(a, b)
    for g, w in zip(got, [a & b, a | b, ~a, a & True, False | b]):
        assert g.dtype == np.bool_ and g.tolist() == w.tolist()
    x = gc.placeholder((4,), "int64", name="x")
    for bad in (lambda: x & p, lambda: p | x, lambda: ~x, lambda: p & 1):
        with pytest.raises(TypeError, match="logical op on bool values, got a int64 operand"):
            bad()


def test_modulo_and_floor_division_operators():
    x = gc.placeholder((4,), name="x")
    f = gc.compile([x], [x % 3.0, x // 3.0, 7.0 % x, 7.0 // x])
    v = np.array([5.5, -5.5, 2.0, -0.5])
    for g, w in zip(f(v), [v % 3.0, v // 3.0, 7.0 % v, 7.0 // v]):
        np.testing.assert_array_equal(g, w)


def test_fusion_takes_the_new_ops_into_one_kernel():
    x = gc.placeholder((None,), name="x")
    y = gc.gelu(x) * 2.0 + gc.silu(x) - gc.leaky_relu(x) + gc.erf(x) + gc.floor(x) % 2.0
    y = gc.where(gc.isfinite(x) & ~gc.isnan(x), y, 0.0)
    f = gc.compile([x], y)
    assert f.stats.kernels == 1 and not f.stats.numpy_ops, str(f.stats)
    v = np.array([0.3, -1.7, np.inf, np.nan, 2.5])
    with np.errstate(invalid="ignore"):  # floor(inf) % 2 is nan, as in NumPy
        np.testing.assert_allclose(f(v), gc.compile([x], y, backend="numpy")(v), rtol=1e-13)


# ---- eager tensors ------------------------------------------------------------------------------------
def test_tensor_methods_and_operators_with_torch_names():
    v = np.array([1.5, -2.5, 0.5, np.nan, np.inf, 4.0])
    t, tt = gc.tensor(v), torch.tensor(v)
    for name in ("erf", "floor", "ceil", "round", "trunc", "isnan", "isinf", "isfinite", "logical_not"):
        assert_same(getattr(t, name)().numpy(), getattr(tt, name)().numpy(), rtol=1e-15)
    w = np.array([2.0, 2.0, -1.5, 1.0, 3.0, 4.0])
    u, tu = gc.tensor(w), torch.tensor(w)
    for name in ("logical_and", "logical_or", "eq", "ne"):
        assert getattr(t, name)(u).numpy().tolist() == getattr(tt, name)(tu).numpy().tolist()
    finite = np.array([5.5, -5.5, 7.25, -3.0])
    a, b = gc.tensor(finite), gc.tensor(np.array([2.0, 2.0, -1.5, 3.0]))
    ta, tb = torch.tensor(finite), torch.tensor([2.0, 2.0, -1.5, 3.0], dtype=torch.float64)
    for got, want in [(a % b, ta % tb), (a // b, ta // tb), (a.remainder(b), ta.remainder(tb)),
                      (a.floor_divide(b), ta.floor_divide(tb)), (7.0 % a, 7.0 % ta), (7.0 // a, 7.0 // ta)]:
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    p = gc.tensor(np.array([True, False, True]))
    assert (p & ~p).numpy().tolist() == [False] * 3 and (p | True).numpy().tolist() == [True] * 3
    assert (a == a).numpy().all() and (a == None) is False and {a: 1}[a] == 1  # noqa: E711
