"""Convolution and pooling against PyTorch (torch.nn.functional): values, input and weight
gradients, second order, float32, eager mode, unbatched inputs, special values, and the errors
for shapes that do not fit."""
import re
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import graphc as gc

# torch's own note that it pads a copy for 'same' with an even kernel
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")

# (input shape, weight shape, keyword arguments): strides, paddings (per dimension, 'same',
# 'valid'), dilations, groups (depthwise too), windows that leave input rows unread
CONV2D = [
    ((2, 3, 6, 6), (4, 3, 3, 3), {}),
    ((2, 3, 7, 6), (4, 3, 3, 3), dict(stride=2, padding=1)),
    ((1, 4, 7, 8), (6, 2, 3, 2), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)),
    ((2, 4, 6, 5), (4, 1, 3, 3), dict(padding=1, groups=4)),
    ((2, 2, 5, 7), (3, 2, 2, 3), dict(padding="same", dilation=2)),
    ((1, 2, 6, 6), (2, 2, 1, 1), dict(stride=3, padding="valid")),
    ((3, 1, 8, 8), (5, 1, 5, 5), dict(stride=2, padding=2, dilation=1)),
    ((2, 4, 5, 3), (6, 2, 1, 1), dict(groups=2)),  # 1x1: the images are the gemm's operands as they are
    ((2, 2, 6, 7), (3, 2, 3, 2), dict(stride=(1, 2), padding=(2, 1))),
]
CONV1D = [
    ((2, 3, 9), (4, 3, 3), {}),
    ((2, 4, 10), (6, 2, 3), dict(stride=2, padding=1, dilation=2, groups=2)),
    ((1, 2, 7), (3, 2, 4), dict(padding="same")),
]
POOL = [
    ((2, 3, 6, 6), dict(kernel_size=2)),
    ((1, 2, 7, 5), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 2, 6, 7), dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0))),
    ((1, 3, 5, 5), dict(kernel_size=2, stride=1)),
]


def _torch(a, grad=True):
    return torch.tensor(a, requires_grad=grad)


def _conv_against_torch(fn, tfn, xs, ws, kw, backend, dtype=np.float64, rtol=1e-10, atol=1e-12):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)
    X, W = gc.placeholder(xs, dtype), gc.placeholder(ws, dtype)
    y = fn(X, W, **kw)
    r = rng.standard_normal(y.shape).astype(dtype)
    gx, gw = gc.grad(gc.sum(y * r), [X, W])
    got = gc.compile([X, W], [y, gx, gw], backend=backend)(x, w)
    tx, tw = _torch(x), _torch(w)
    ty = tfn(tx, tw, **kw)
    (ty * torch.tensor(r)).sum().backward()
    for name, g, want in zip(["value", "input grad", "weight grad"], got, [ty, tx.grad, tw.grad]):
        want = want.detach().numpy()
        assert g.shape == want.shape and g.dtype == want.dtype, name
        np.testing.assert_allclose(g, want, rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("xs, ws, kw", CONV2D, ids=[str(c[2]) for c in CONV2D])
def test_conv2d_matches_torch(xs, ws, kw, backend):
    _conv_against_torch(gc.conv2d, F.conv2d, xs, ws, kw, backend)


@pytest.mark.parametrize("xs, ws, kw", CONV1D, ids=[str(c[2]) for c in CONV1D])
def test_conv1d_matches_torch(xs, ws, kw, backend):
    _conv_against_torch(gc.conv1d, F.conv1d, xs, ws, kw, backend)


@pytest.mark.parametrize("xs, ws, kw", [CONV2D[1], CONV2D[2]], ids=["stride_pad", "groups_dilation"])
def test_conv2d_float32_matches_torch(xs, ws, kw, backend):
    _conv_against_torch(gc.conv2d, F.conv2d, xs, ws, kw, backend, np.float32, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fn, tfn", [(gc.conv2d, F.conv2d)])
def test_second_order_matches_torch(fn, tfn, backend):
    xs, ws, kw = CONV2D[2]
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    X, W = gc.placeholder(xs), gc.placeholder(ws)
    y = fn(X, W, **kw)
    r = rng.standard_normal(y.shape)
    gx, gw = gc.grad(gc.sum(y * y * r), [X, W])  # y * y: the second derivative is not zero
    r2, r3 = rng.standard_normal(xs), rng.standard_normal(ws)
    hx, hw = gc.grad(gc.sum(gx * r2) + gc.sum(gw * r3), [X, W])
    got = gc.compile([X, W], [hx, hw], backend=backend)(x, w)
    tx, tw = _torch(x), _torch(w)
    ty = tfn(tx, tw, **kw)
    tgx, tgw = torch.autograd.grad((ty * ty * torch.tensor(r)).sum(), [tx, tw], create_graph=True)
    want = torch.autograd.grad((tgx * torch.tensor(r2)).sum() + (tgw * torch.tensor(r3)).sum(), [tx, tw])
    for g, t in zip(got, want):
        np.testing.assert_allclose(g, t.numpy(), rtol=1e-10, atol=1e-11)


@pytest.mark.parametrize("pool, tpool", [(gc.max_pool2d, F.max_pool2d), (gc.avg_pool2d, F.avg_pool2d)],
                         ids=["max", "avg"])
@pytest.mark.parametrize("xs, kw", POOL, ids=[str(c[1]) for c in POOL])
def test_pool_matches_torch(pool, tpool, xs, kw, backend):
    rng = np.random.default_rng(2)
    x = rng.permutation(np.prod(xs)).reshape(xs) * 0.25 - 3.0  # no ties inside a window
    X = gc.placeholder(xs)
    y = pool(X, **kw)
    r = rng.standard_normal(y.shape)
    (gx,) = gc.grad(gc.sum(y * y * r), [X])
    (hx,) = gc.grad(gc.sum(gx * np.cos(x)), [X])
    got = gc.compile([X], [y, gx, hx], backend=backend)(x)
    tx = _torch(x)
    ty = tpool(tx, **kw)
    (tgx,) = torch.autograd.grad((ty * ty * torch.tensor(r)).sum(), [tx], create_graph=True)
    (thx,) = torch.autograd.grad((tgx * torch.tensor(np.cos(x))).sum(), [tx])
    for name, g, want in zip(["value", "grad", "second order"], got, [ty, tgx, thx]):
        np.testing.assert_allclose(g, want.detach().numpy(), rtol=1e-12, atol=1e-12, err_msg=name)


def test_max_pool_ties_go_to_the_first_maximum_as_in_torch(backend):
    x = np.array([[[[1.0, 1.0, 0.0], [1.0, 0.5, 1.0], [-np.inf, -np.inf, 2.0]]]])
    X = gc.placeholder(x.shape)
    (gx,) = gc.grad(gc.sum(gc.max_pool2d(X, 2, stride=1, padding=1)), [X])
    tx = _torch(x)
    F.max_pool2d(tx, 2, stride=1, padding=1).sum().backward()
    np.testing.assert_array_equal(gc.compile([X], gx, backend=backend)(x), tx.grad.numpy())


def test_max_pool_window_of_minus_infinity_and_nan(backend):
    # an all -inf window's gradient goes to its first real element (never to padding), as in torch
    x = np.full((1, 1, 3, 3), -np.inf)
    X = gc.placeholder(x.shape)
    y = gc.max_pool2d(X, 3, stride=2, padding=1)
    (gx,) = gc.grad(gc.sum(y), [X])
    got_y, got_gx = gc.compile([X], [y, gx], backend=backend)(x)
    tx = _torch(x)
    ty = F.max_pool2d(tx, 3, stride=2, padding=1)
    ty.sum().backward()
    np.testing.assert_array_equal(got_y, ty.detach().numpy())
    np.testing.assert_array_equal(got_gx, tx.grad.numpy())
    # NaN propagates through max pooling, as np.max and torch do
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 0, 1] = np.nan
    got = gc.compile([X := gc.placeholder(x.shape)], gc.max_pool2d(X, 2), backend=backend)(x)
    np.testing.assert_array_equal(np.isnan(got), [[[[True, False], [False, False]]]])
    np.testing.assert_array_equal(got[0, 0, 1], [13.0, 15.0])


@pytest.mark.parametrize("channels", [2, 4], ids=["im2col", "shifted_taps"])  # numba's two paths
@pytest.mark.parametrize("where", [(0, 0, 1, 1), (0, 1, 3, 4), (0, 1, 0, 0)], ids=str)
@pytest.mark.parametrize("nan_weight", [True, False])
def test_conv_special_values_follow_torch(where, channels, nan_weight, backend):
    # an inf in the input and a nan in the weight reach exactly the values torch has them reach
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((1, channels, 4, 5)), rng.standard_normal((3, channels, 2, 2))
    x[where] = np.inf
    if nan_weight:
        w[1, 0, 1, 0] = np.nan
    X, W = gc.placeholder(x.shape), gc.placeholder(w.shape)
    y = gc.conv2d(X, W, padding=(1, 0))
    got = gc.compile([X, W], [y, *gc.grad(gc.sum(y), [X, W])], backend=backend)(x, w)
    tx, tw = _torch(x), _torch(w)
    ty = F.conv2d(tx, tw, padding=(1, 0))
    ty.sum().backward()
    for g, t in zip(got, [ty.detach(), tx.grad, tw.grad]):
        t = t.numpy()
        np.testing.assert_array_equal(np.isnan(g), np.isnan(t))
        np.testing.assert_allclose(g, t, rtol=1e-12, atol=1e-12)


def test_unbatched_inputs_as_torch():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((3, 6, 5)), rng.standard_normal((2, 3, 3, 3))
    v = rng.standard_normal((2, 6, 3))
    X, W, V = gc.placeholder(x.shape), gc.placeholder(w.shape), gc.placeholder(v.shape)
    f = gc.compile([X, W, V], [gc.conv2d(X, W, padding=1), gc.max_pool2d(X, 2), gc.avg_pool2d(X, 2),
                            gc.conv1d(X[0], V)])
    want = [F.conv2d(torch.tensor(x), torch.tensor(w), padding=1), F.max_pool2d(torch.tensor(x), 2),
            F.avg_pool2d(torch.tensor(x), 2), F.conv1d(torch.tensor(x[0]), torch.tensor(v))]
    for g, t in zip(f(x, w, v), want):
        np.testing.assert_allclose(g, t.numpy(), rtol=1e-12, atol=1e-12)


def test_eager_tensors_match_torch():
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    gx, gw, gb = (gc.tensor(a, requires_grad=True) for a in (x, w, b))
    out = gc.max_pool2d(gc.relu(gc.conv2d(gx, gw, padding=1) + gb.reshape(1, -1, 1, 1)), 2)
    loss = gc.avg_pool2d(out, 3).sum()
    loss.backward()
    tx, tw, tb = _torch(x), _torch(w), _torch(b)
    tout = F.max_pool2d(F.relu(F.conv2d(tx, tw, padding=1) + tb.reshape(1, -1, 1, 1)), 2)
    F.avg_pool2d(tout, 3).sum().backward()
    np.testing.assert_allclose(loss.item(), F.avg_pool2d(tout, 3).sum().item(), rtol=1e-12)
    for mine, theirs in [(gx, tx), (gw, tw), (gb, tb)]:
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_concurrent_calls_give_each_its_own_result(backend):
    rng = np.random.default_rng(6)
    X, W = gc.placeholder((None, 3, 8, 8)), gc.placeholder((4, 3, 3, 3))
    y = gc.max_pool2d(gc.relu(gc.conv2d(X, W, padding=1)), 2)
    gx, gw = gc.grad(gc.sum(y * y), [X, W])
    f = gc.compile([X, W], [y, gx, gw], backend=backend)
    w = rng.standard_normal((4, 3, 3, 3))
    inputs = [rng.standard_normal((n, 3, 8, 8)) for n in (1, 5, 17, 40) * 2]
    want = [f(x, w) for x in inputs]
    got = [None] * len(inputs)

    def work(i):
        for _ in range(5):
            got[i] = f(inputs[i], w)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, w_ in zip(got, want):
        for a, b in zip(g, w_):
            np.testing.assert_array_equal(a, b)


# ---- errors ----------------------------------------------------------------------------------
HERE = re.escape("test_conv.py:")


@pytest.mark.parametrize("xs, ws, kw, message", [
    ((2, 3, 6, 6), (4, 3, 3, 3), dict(groups=2), r"conv2d: the input's 3 channels are not divisible by groups=2"),
    ((2, 4, 6, 6), (3, 2, 3, 3), dict(groups=2), r"conv2d: the weight's 3 output channels are not divisible"),
    ((2, 4, 6, 6), (4, 3, 3, 3), {}, r"conv2d: the weight expects 3 input channels .* but the input has 4"),
    ((2, 3, 2, 6), (4, 3, 3, 3), {}, r"conv2d: the kernel \(3, dilation 1\) is larger than the padded input \(2 \+"),
    ((2, 3, 6, 6), (4, 3, 3, 3), dict(dilation=3), r"conv2d: the kernel \(3, dilation 3\) is larger"),
    ((3, 6, 6), (4, 3, 3), {}, r"conv2d: expected the weight as .* got shape \(4, 3, 3\)"),
])
def test_conv_shape_errors_name_the_op_the_shapes_and_the_line(xs, ws, kw, message):
    X, W = gc.placeholder(xs), gc.placeholder(ws)
    with pytest.raises(gc.ShapeError, match=message) as info:
        gc.conv2d(X, W, **kw)
    text = str(info.value)
    assert re.search(HERE, text), text
    assert str(ws) in text, text


@pytest.mark.parametrize("kw, error, message", [
    (dict(stride=0), ValueError, r"conv2d: stride must be >= 1"),
    (dict(padding=-1), ValueError, r"conv2d: padding must be >= 0"),
    (dict(padding=(1, 1, 1)), TypeError, r"conv2d: padding must be an int or 2 ints"),
    (dict(padding="full"), ValueError, r"conv2d: padding must be .* 'valid' or 'same'"),
    (dict(padding="same", stride=2), ValueError, r"padding='same' is not supported for strided"),
    (dict(groups=0), ValueError, r"conv2d: groups must be a positive int"),
    (dict(dilation=1.5), TypeError, r"conv2d: dilation must be an int or 2 ints"),
])
def test_conv_argument_errors(kw, error, message):
    X, W = gc.placeholder((2, 4, 6, 6)), gc.placeholder((4, 4, 3, 3))
    with pytest.raises(error, match=message):
        gc.conv2d(X, W, **kw)


def test_conv_needs_floats():
    with pytest.raises(TypeError, match="conv1d: expected floating-point inputs, got dtype int64"):
        gc.conv1d(gc.placeholder((1, 2, 5), "int64"), gc.placeholder((1, 2, 3)))


@pytest.mark.parametrize("xs, kw, error, message", [
    ((1, 2, 5, 5), dict(kernel_size=3, padding=2), ValueError, r"max_pool2d: padding \(2, 2\) must be at most half"),
    ((1, 2, 2, 5), dict(kernel_size=3), gc.ShapeError, r"max_pool2d: the kernel \(3\) is larger than the padded"),
    ((2, 5, 5), dict(kernel_size=0), ValueError, r"max_pool2d: kernel_size must be >= 1"),
    ((5, 5), dict(kernel_size=2), gc.ShapeError, r"max_pool2d: expected the input as \(N, C, \*spatial\)"),
])
def test_pool_errors(xs, kw, error, message):
    with pytest.raises(error, match=message):
        gc.max_pool2d(gc.placeholder(xs), **kw)
    with pytest.raises(error, match=message.replace("max_pool", "avg_pool")):
        gc.avg_pool2d(gc.placeholder(xs), **kw)


def test_run_time_shape_errors_name_the_op_and_the_line(backend):
    X, W = gc.placeholder((None, None, None, None)), gc.placeholder((4, 3, 3, 3))
    y = gc.conv2d(X, W)
    f = gc.compile([X, W], y, backend=backend)
    w = np.zeros((4, 3, 3, 3))
    with pytest.raises(Exception, match=r"conv2d: the weight expects 3 input channels") as info:
        f(np.zeros((1, 5, 6, 6)), w)
    assert re.search(HERE, str(info.value)), str(info.value)
    with pytest.raises(Exception, match=r"conv2d: the kernel \(3, dilation 1\) is larger"):
        f(np.zeros((1, 3, 2, 6)), w)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_batches_split_between_threads_match_the_reference(dtype):
    # large enough that the numba backend splits the images between threads
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((33, 8, 16, 16)).astype(dtype), rng.standard_normal((16, 4, 3, 3)).astype(dtype)
    X, W = gc.placeholder(x.shape, dtype), gc.placeholder(w.shape, dtype)
    y = gc.conv2d(X, W, padding=1, groups=2)
    gx, gw = gc.grad(gc.sum(y * gc.constant(np.cos(np.arange(np.prod(y.shape))).reshape(y.shape).astype(dtype))), [X, W])
    fast = gc.compile([X, W], [y, gx, gw])(x, w)
    slow = gc.compile([X, W], [y, gx, gw], backend="numpy")(x, w)
    tol = 1e-12 if dtype == "float64" else 2e-4
    for a, b in zip(fast, slow):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * np.abs(b).max())


def test_kernels_call_numpys_blas_when_scipy_loaded_another_first():
    # SciPy's OpenBLAS (other symbols, 32-bit integers) loaded first once made graphc call it
    # through NumPy's gemm signature: a crash. A subprocess, so the import order is real.
    pytest.importorskip("scipy.linalg")
    import os
    import subprocess
    import sys

    code = ("import scipy.linalg, numpy as np, graphc as gc\n"
            "x, w = gc.placeholder((2, 1, 6, 6), 'float32'), gc.placeholder((4, 1, 3, 3), 'float32')\n"
            "f = gc.compile([x, w], gc.conv2d(x, w, padding=1))\n"
            "print(f(np.ones((2, 1, 6, 6), 'float32'), np.ones((4, 1, 3, 3), 'float32'))[0, 0, 2, 2])\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "9.0", result.stdout


def test_pools_split_between_threads_match_the_reference():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((40, 8, 30, 30))
    X = gc.placeholder(x.shape)
    y = gc.max_pool2d(X, 2) * 1.5 + gc.avg_pool2d(X, 3, stride=2, padding=1)[:, :, :15, :15]
    r = np.cos(np.arange(np.prod(y.shape))).reshape(y.shape)
    outputs = [y, *gc.grad(gc.sum(y * r), [X])]
    fast = gc.compile([X], outputs)(x)
    slow = gc.compile([X], outputs, backend="numpy")(x)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=(2, 3), stride=(2, 1), padding=(0, 1)),
                                dict(kernel_size=(3, 2), stride=(2, 1))], ids=["2x2", "width_padding", "rows_overlap"])
def test_pools_of_planes_stacked_as_one_match_the_reference(kw):
    # where windows tile each plane's rows, the numba backend pools all planes as one tall plane;
    # maxima, ties, nan and -inf at the planes' first and last rows must stay in their own plane
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 2, 4, 5))
    x[0, 0, -1] = np.nan
    x[0, 1, 0] = np.inf
    x[1, 0, :2] = -np.inf
    x[1, 1, -2:] = 1.0
    x[2, 0, 0] = x[2, 1, -1] = 3.0
    X, H = gc.placeholder(x.shape), gc.placeholder(x.shape)
    y = gc.max_pool2d(X, **kw)
    r = np.cos(np.arange(np.prod(y.shape))).reshape(y.shape)
    outputs = [y, gc.avg_pool2d(X, **kw), *gc.grad(gc.sum(y * r) + gc.sum(gc.avg_pool2d(X, **kw) * r), [X]),
               gc.jvp(y, [X], [H])]
    h = rng.standard_normal(x.shape)
    fast = gc.compile([X, H], outputs)(x, h)
    slow = gc.compile([X, H], outputs, backend="numpy")(x, h)
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("xs, ws", [((0, 3, 6, 6), (4, 3, 3, 3)), ((2, 0, 6, 6), (4, 0, 3, 3)),
                                    ((2, 3, 6, 6), (0, 3, 3, 3))], ids=["no_images", "no_channels", "no_filters"])
def test_empty_sizes_match_the_reference(xs, ws):
    X, W = gc.placeholder((None,) + xs[1:]), gc.placeholder(ws)
    y = gc.max_pool2d(gc.conv2d(X, W, padding=1), 2) + gc.avg_pool2d(gc.conv2d(X, W, padding=1), 2)
    outputs = [y, *gc.grad(gc.sum(y), [X, W])]
    x, w = np.ones(xs), np.ones(ws)
    for a, b in zip(gc.compile([X, W], outputs)(x, w), gc.compile([X, W], outputs, backend="numpy")(x, w)):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)
        assert not np.any(a)  # nothing to sum: zeros
