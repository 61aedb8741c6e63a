"""softplus, log_sigmoid and the losses against PyTorch (values and gradients, float64 and float32,
graph mode on both backends and eager mode), their special values and errors, and the stabilize
rewrites that turn hand-written sigmoid-then-log losses into them."""
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import graphc as gc
from graphc.ir.ops.elementwise import LOG, LOG1P, SIGMOID
from graphc.ir.ops.losses import BINARY_CROSS_ENTROPY_WITH_LOGITS
from graphc.ir.ops.softplus import LOG_SIGMOID, SOFTPLUS
from op_domains import assert_same_special, special_values

BACKENDS = ["numpy", "numba"]
TOLERANCE = {"float64": dict(rtol=1e-12, atol=1e-14), "float32": dict(rtol=2e-5, atol=1e-6)}


def raises(exc, *fragments):
    pattern = "".join(f"(?=.*{re.escape(f)})" for f in fragments)
    return pytest.raises(exc, match=re.compile(pattern, re.S))


def _torch_value_and_grads(fn, arrays, diff):
    ts = [torch.tensor(a, requires_grad=i in diff) for i, a in enumerate(arrays)]
    out = fn(*ts)
    grads = torch.autograd.grad(out, [ts[i] for i in diff])
    return out.detach().numpy(), [g.numpy() for g in grads]


def _graph_value_and_grads(fn, arrays, diff, backend):
    xs = [gc.placeholder(tuple(None for _ in a.shape), a.dtype, name=f"x{i}") for i, a in enumerate(arrays)]
    out = fn(*xs)
    f = gc.compile(xs, [out] + gc.grad(out, [xs[i] for i in diff]), backend=backend)
    value, *grads = f(*arrays)
    return value, grads


def _eager_value_and_grads(fn, arrays, diff):
    ts = [gc.tensor(a, requires_grad=i in diff) for i, a in enumerate(arrays)]
    out = fn(*ts)
    out.backward()
    return out.detach().numpy(), [ts[i].grad.numpy() for i in diff]


def _assert_matches_torch(ours, theirs, dtype):
    (value, grads), (want, want_grads) = ours, theirs
    assert np.asarray(value).dtype == np.dtype(dtype)
    np.testing.assert_allclose(value, want, **TOLERANCE[dtype])
    for got, expected in zip(grads, want_grads):
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_allclose(got, expected, **TOLERANCE[dtype])


# ---- the loss functions and their torch twins: (graphc, torch, inputs(rng, dtype), differentiated) ---
def _logits_and_labels(rng, dtype, n=6, c=4):
    return [(rng.standard_normal((n, c)) * 3).astype(dtype), rng.integers(0, c, n)]


def _extreme_logits(rng, dtype):
    z = np.array([[800.0, -800.0, 0.5], [-800.0, 800.0, 30.0], [-40.0, 40.0, 0.0]], dtype)
    return [z, np.array([[0.0, 1.0, 0.3], [0.0, 1.0, 1.0], [1.0, 0.0, 0.5]], dtype)]


LOSSES = {
    # torch's softplus returns x itself above x = 20 (its `threshold`), off by up to e^-20 relative:
    # its logaddexp is the exact function graphc's softplus computes
    "softplus": (lambda x: gc.sum(gc.softplus(x) * x), lambda x: (torch.logaddexp(x, torch.zeros_like(x)) * x).sum(),
                 lambda rng, d: [np.concatenate([rng.uniform(-40, 40, 9), [800, -800, 0]]).astype(d)], (0,)),
    "log_sigmoid": (lambda x: gc.sum(gc.log_sigmoid(x) * x), lambda x: (F.logsigmoid(x) * x).sum(),
                    lambda rng, d: [np.concatenate([rng.uniform(-40, 40, 9), [800, -800, 0]]).astype(d)], (0,)),
    "mse_loss": (gc.mse_loss, F.mse_loss,
                 lambda rng, d: [rng.standard_normal((3, 4)).astype(d), rng.standard_normal((3, 4)).astype(d)], (0, 1)),
    "nll_loss": (lambda x, y: gc.nll_loss(gc.log_softmax(x, axis=1), y), lambda x, y: F.nll_loss(F.log_softmax(x, 1), y),
                 _logits_and_labels, (0,)),
    "bce": (gc.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits,
            lambda rng, d: [(rng.standard_normal((4, 3)) * 4).astype(d), rng.uniform(0, 1, (4, 3)).astype(d)], (0, 1)),
    "bce_extreme_logits": (gc.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits,
                           _extreme_logits, (0, 1)),
    **{f"cross_entropy_smoothing={eps}": ((lambda e: lambda x, y: gc.cross_entropy(x, y, label_smoothing=e))(eps),
                                          (lambda e: lambda x, y: F.cross_entropy(x, y, label_smoothing=e))(eps),
                                          _logits_and_labels, (0,))
       for eps in (0.0, 0.1, 1.0)},
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", BACKENDS + ["eager"])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_value_and_gradient_match_torch(name, mode, dtype):
    ours, theirs, inputs, diff = LOSSES[name]
    arrays = inputs(np.random.default_rng(7), dtype)
    want = _torch_value_and_grads(theirs, arrays, diff)
    if mode == "eager":
        got = _eager_value_and_grads(ours, arrays, diff)
    else:
        got = _graph_value_and_grads(ours, arrays, diff, mode)
    _assert_matches_torch(got, want, dtype)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bce_gradient_is_sigmoid_minus_target_over_n_and_second_order_is_finite(backend):
    z = gc.placeholder((None, None), name="z")
    t = gc.placeholder((None, None), name="t")
    loss = gc.binary_cross_entropy_with_logits(z, t)
    dz, dt = gc.grad(loss, [z, t])
    ddz = gc.grad(gc.sum(dz * dz), z)
    zv, tv = _extreme_logits(None, "float64")
    value, got_dz, got_dt, got_ddz = gc.compile([z, t], [loss, dz, dt, ddz], backend=backend)(zv, tv)
    exact = (SIGMOID.impl(zv) - tv) / zv.size
    if backend == "numpy":
        np.testing.assert_array_equal(got_dz, exact)
    np.testing.assert_allclose(got_dz, exact, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(got_dt, -zv / zv.size)
    s = SIGMOID.impl(zv)
    np.testing.assert_allclose(got_ddz, 2 * (s - tv) * s * (1 - s) / zv.size ** 2, rtol=1e-12, atol=1e-300)
    assert np.isfinite(value) and np.all(np.isfinite(got_ddz))


# ---- special values -----------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softplus_and_log_sigmoid_special_values(dtype, backend):
    v = special_values(dtype)
    x = gc.placeholder((None,), dtype, name="x")
    f = gc.compile([x], [gc.softplus(x), gc.log_sigmoid(x)], backend=backend)
    if backend == "numba":
        assert f.stats.kernels == 2 and not f.stats.numpy_ops, str(f.stats)  # both fuse
    softplus, log_sigmoid = f(v)
    # torch's softplus flushes e^-745 to 0 (and rounds to x above x = 20); NumPy's logaddexp is exact
    with np.errstate(invalid="ignore"):  # logaddexp(0, nan)
        assert_same_special(softplus, np.logaddexp(0, v), maxulp=4)
    assert_same_special(log_sigmoid, F.logsigmoid(torch.tensor(v)).numpy(), maxulp=4)
    huge = np.abs(v) > 1e30
    np.testing.assert_array_equal(softplus[huge & (v > 0)], v[huge & (v > 0)])  # exact, not rounded through exp
    np.testing.assert_array_equal(log_sigmoid[huge & (v < 0)], v[huge & (v < 0)])


def test_softplus_and_log_sigmoid_gradients_at_special_values():
    v = special_values("float64")
    x = gc.placeholder((None,), name="x")
    y = gc.sum(gc.softplus(x)) + gc.sum(gc.log_sigmoid(x)) * 2.0
    (g,) = gc.compile([x], [gc.grad(y, x)], backend="numpy")(v)
    t = torch.tensor(v, requires_grad=True)
    (F.softplus(t).sum() + F.logsigmoid(t).sum() * 2.0).backward()
    np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-15, atol=0)


def test_bce_special_values_follow_torch():
    z = np.array([np.nan, np.inf, -np.inf, -0.0, 1e300, -1e300, 800.0, -800.0])
    t = np.array([0.5, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0])
    zn, tn = gc.placeholder((1,), name="z"), gc.placeholder((1,), name="t")
    f = gc.compile([zn, tn], gc.binary_cross_entropy_with_logits(zn, tn), backend="numpy")
    for a, b in zip(z, t):
        want = F.binary_cross_entropy_with_logits(torch.tensor([a]), torch.tensor([b])).item()
        with np.errstate(invalid="ignore"):  # 0 * -inf at z = -inf, t = 1: nan, as in torch
            got = f(np.array([a]), np.array([b]))
        np.testing.assert_array_equal(got, want)


# ---- errors -------------------------------------------------------------------------------------
def test_shape_mismatch_names_both_shapes():
    a, b = gc.placeholder((3, 4), name="a"), gc.placeholder((3, 1), name="b")
    with raises(gc.ShapeError, "mse_loss", "(3, 4)", "(3, 1)", "same shape", "test_losses.py"):
        gc.mse_loss(a, b)
    with raises(gc.ShapeError, "binary_cross_entropy_with_logits", "(3, 4)", "(3, 1)", "test_losses.py"):
        gc.binary_cross_entropy_with_logits(a, b)
    with raises(gc.ShapeError, "nll_loss", "3 rows", "(3, 4)", "2 labels", "(2,)"):
        gc.nll_loss(a, gc.placeholder((2,), "int64"))
    with raises(gc.ShapeError, "nll_loss", "(N, C)", "(3,)"):
        gc.nll_loss(gc.placeholder((3,)), gc.placeholder((3,), "int64"))
    with raises(gc.ShapeError, "mse_loss", "(2,)", "(3,)"):
        gc.mse_loss(gc.tensor([1.0, 2.0]), gc.tensor([1.0, 2.0, 3.0]))


def test_shapes_known_only_at_run_time_are_checked():
    z, t = gc.placeholder((None,), name="z"), gc.placeholder((None,), name="t")
    f = gc.compile([z, t], gc.binary_cross_entropy_with_logits(z, t), backend="numpy")
    with raises(ValueError, "binary_cross_entropy_with_logits", "is 3", "is 2"):
        f(np.zeros(3), np.zeros(2))


def test_dtype_errors():
    with raises(TypeError, "mse_loss", "floating-point", "int64"):
        gc.mse_loss(gc.placeholder((3,), "int64"), gc.placeholder((3,)))
    with raises(TypeError, "binary_cross_entropy_with_logits", "floating-point", "int64"):
        gc.binary_cross_entropy_with_logits(gc.placeholder((3,)), gc.placeholder((3,), "int64"))
    with raises(TypeError, "nll_loss", "integer class indices", "float64"):
        gc.nll_loss(gc.placeholder((3, 2)), gc.placeholder((3,)))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("loss", [gc.nll_loss, lambda x, y: gc.cross_entropy(x, y, label_smoothing=0.1)])
def test_label_out_of_range(loss, backend):
    x, y = gc.placeholder((None, 3), name="x"), gc.placeholder((None,), "int64", name="y")
    out = loss(x, y)
    f = gc.compile([x, y], [out, gc.grad(out, x)], backend=backend)
    for bad in (3, -1):
        with raises(IndexError, "labels must lie in [0, 3)"):
            f(np.zeros((2, 3)), np.array([0, bad]))
    with raises(IndexError, "labels must lie in [0, 3)"):
        loss(gc.tensor(np.zeros((2, 3))), gc.tensor(np.array([0, 3])))


def test_label_smoothing_must_lie_in_0_1():
    x, y = gc.placeholder((2, 3)), gc.placeholder((2,), "int64")
    for bad in (-0.1, 1.5, float("nan")):
        with raises(ValueError, "label_smoothing must lie in [0.0, 1.0]", "test_losses.py"):
            gc.cross_entropy(x, y, label_smoothing=bad)
    with raises(TypeError, "label_smoothing must be a number"):
        gc.cross_entropy(x, y, label_smoothing="0.1")


# ---- stabilize: hand-written forms become the stable ops ------------------------------------------
def _ops(f):
    return [node.op for node, _ in f.graph.walk()]  # bodies of fused kernels included


def _has(ops, op):
    return any(o is op for o in ops)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("form, stable_op, stable_torch", [
    (lambda x: gc.log(gc.sigmoid(x)), LOG_SIGMOID, F.logsigmoid),
    (lambda x: gc.log(1 - gc.sigmoid(x)), LOG_SIGMOID, lambda t: F.logsigmoid(-t)),
    (lambda x: gc.log1p(-gc.sigmoid(x)), LOG_SIGMOID, lambda t: F.logsigmoid(-t)),
    (lambda x: gc.log(1 + gc.exp(x)), SOFTPLUS, F.softplus),
], ids=["log_sigmoid", "log_one_minus_sigmoid", "log1p_minus_sigmoid", "log_one_plus_exp"])
def test_stabilize_rewrites_sigmoid_logs(form, stable_op, stable_torch, backend):
    x = gc.placeholder((None,), name="x")
    y = form(x)
    f = gc.compile([x], [y, gc.grad(gc.sum(y), x)], backend=backend)
    ops = _ops(f)
    assert _has(ops, stable_op) and not _has(ops, LOG) and not _has(ops, LOG1P), str(f.graph)
    v = np.array([-800.0, -40.0, -1.0, 0.0, 2.0, 40.0, 800.0])
    value, grad = f(v)
    t = torch.tensor(v, requires_grad=True)
    want = stable_torch(t)  # torch's own spelling of the stable form (the form as written is -inf there)
    (want_grad,) = torch.autograd.grad(want.sum(), t)
    np.testing.assert_allclose(value, want.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(grad, want_grad.numpy(), rtol=1e-14, atol=1e-300)


def _hand_bce_forms(z, t):
    p = gc.sigmoid(z)  # one named intermediate, read by both logs
    return {
        "parenthesized": gc.mean(-(t * gc.log(p) + (1 - t) * gc.log(1 - p))),
        "two_minus_signs": gc.mean(-t * gc.log(p) - (1 - t) * gc.log(1 - p)),
        "swapped": gc.mean(-(gc.log(1 - gc.sigmoid(z)) * (1 - t) + gc.log(gc.sigmoid(z)) * t)),
    }


@pytest.mark.parametrize("form", ["parenthesized", "two_minus_signs", "swapped"])
def test_hand_written_bce_becomes_the_builtin_loss_with_its_gradient(form):
    z, t = gc.placeholder((None, 3), name="z"), gc.placeholder((None, 3), name="t")
    loss = _hand_bce_forms(z, t)[form]
    builtin = gc.binary_cross_entropy_with_logits(z, t)
    f = gc.compile([z, t], [loss, gc.grad(loss, z)], backend="numpy")
    ops = _ops(f)
    assert _has(ops, BINARY_CROSS_ENTROPY_WITH_LOGITS) and not _has(ops, LOG), str(f.graph)
    zv, tv = _extreme_logits(None, "float64")
    want = gc.compile([z, t], [builtin, gc.grad(builtin, z)], backend="numpy")(zv, tv)
    for got, expected in zip(f(zv, tv), want):
        assert np.all(np.isfinite(got))
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hand_written_bce_summed_is_stable_with_its_gradient(backend):
    z, t = gc.placeholder((None,), name="z"), gc.placeholder((None,), name="t")
    p = gc.sigmoid(z)
    loss = gc.sum(-(t * gc.log(p) + (1 - t) * gc.log(1 - p)))
    f = gc.compile([z, t], [loss, gc.grad(loss, z), gc.grad(gc.sum(gc.grad(loss, z) ** 2), z)], backend=backend)
    ops = _ops(f)
    assert _has(ops, SOFTPLUS) and not _has(ops, LOG), str(f.graph)
    zv, tv = np.array([800.0, -800.0, 800.0, -800.0, 0.5]), np.array([0.0, 1.0, 1.0, 0.0, 0.3])
    value, grad, second = f(zv, tv)
    s = SIGMOID.impl(zv)
    np.testing.assert_allclose(value, np.sum(np.logaddexp(0, zv) - zv * tv), rtol=1e-15)
    np.testing.assert_allclose(grad, s - tv, rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(second, 2 * (s - tv) * s * (1 - s), rtol=1e-12, atol=1e-300)


def test_without_stabilize_the_hand_written_bce_is_not_finite():
    """What the rewrites fix (so the tests above can fail): the graph as written gives inf and nan."""
    z, t = gc.placeholder((None,), name="z"), gc.placeholder((None,), name="t")
    loss = gc.mean(-(t * gc.log(gc.sigmoid(z)) + (1 - t) * gc.log(1 - gc.sigmoid(z))))
    with np.errstate(all="ignore"):
        value = gc.compile([z, t], loss, backend="numpy", optimize=False)(np.array([800.0]), np.array([0.0]))
    assert not np.isfinite(value)


def _train(loss_of, steps=4, backend="numba"):
    x = gc.placeholder((None, 2), name="x")
    t = gc.placeholder((None,), name="t")
    w = gc.Variable(np.array([400.0, -400.0]), name="w")
    b = gc.Variable(np.array(0.5), name="b")
    loss = loss_of(gc.sum(x * w, axis=1) + b, t)
    gw, gb = gc.grad(loss, [w, b])
    step = gc.compile([x, t], loss, updates={w: w - 0.5 * gw, b: b - 0.5 * gb}, backend=backend)
    xv = np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0], [-2.0, 0.5]])  # logits +-800 and beyond
    tv = np.array([0.0, 1.0, 1.0, 0.0])
    losses = [step(xv, tv) for _ in range(steps)]
    return np.array(losses), w.value, b.value


@pytest.mark.parametrize("backend", BACKENDS)
def test_training_a_hand_written_bce_at_extreme_logits_matches_the_builtin(backend):
    def by_hand(z, t):
        p = gc.sigmoid(z)
        return gc.mean(-(t * gc.log(p) + (1 - t) * gc.log(1 - p)))

    losses, w, b = _train(by_hand, backend=backend)
    want_losses, want_w, want_b = _train(gc.binary_cross_entropy_with_logits, backend=backend)
    assert np.all(np.isfinite(losses)) and np.all(np.isfinite(w)) and np.isfinite(b)
    assert losses[0] > 100  # the logits really were extreme
    np.testing.assert_allclose(losses, want_losses, rtol=1e-14)
    np.testing.assert_allclose(w, want_w, rtol=1e-14)
    np.testing.assert_allclose(b, want_b, rtol=1e-14)


def test_gradient_with_respect_to_intermediates_is_stable_too():
    """gc.grad stabilizes above intermediate xs as well (keeping them as they are)."""
    x, t = gc.placeholder((None, 2), name="x"), gc.placeholder((None,), name="t")
    w = gc.Variable(np.array([400.0, -400.0]), name="w")
    h = x * w
    z = gc.sum(h, axis=1)
    p = gc.sigmoid(z)
    loss = gc.mean(-(t * gc.log(p) + (1 - t) * gc.log(1 - p)))
    gw, gh, gz = gc.grad(loss, [w, h, z])
    f = gc.compile([x, t], [gw, gh, gz], backend="numpy", verify=True)
    xv, tv = np.array([[2.0, 0.0], [0.0, 2.0], [0.001, 0.0]]), np.array([0.0, 1.0, 0.3])
    got_w, got_h, got_z = f(xv, tv)
    zv = xv @ np.array([400.0, -400.0])
    want_z = (SIGMOID.impl(zv) - tv) / 3
    np.testing.assert_allclose(got_z, want_z, rtol=1e-15)
    np.testing.assert_allclose(got_h, np.repeat(want_z[:, None], 2, axis=1), rtol=1e-15)
    np.testing.assert_allclose(got_w, xv.T @ want_z, rtol=1e-14)


def test_grad_keeps_the_users_nodes_where_nothing_is_rewritten():
    x = gc.placeholder((3,), name="x")
    h = gc.tanh(x)
    y = gc.sum(gc.exp(h))
    g = gc.grad(y, h)
    from graphc.ir.graph import toposort

    assert any(node is gc.exp(h).inputs[0] for node in toposort([g]))  # h itself, not a copy
    np.testing.assert_allclose(gc.compile([x], g, backend="numpy")(np.ones(3)), np.exp(np.tanh(np.ones(3))))


def test_verify_accepts_the_stabilized_forms():
    z, t = gc.placeholder((None,), name="z"), gc.placeholder((None,), name="t")
    w = gc.Variable(np.array(500.0), name="w")
    p = gc.sigmoid(z * w)
    loss = gc.sum(-(t * gc.log(p) + (1 - t) * gc.log(1 - p))) + gc.sum(gc.log(1 - gc.sigmoid(z)))
    f = gc.compile([z, t], [loss, gc.grad(loss, w)], backend="numpy", verify=True)
    assert all(np.isfinite(f(np.array([2.0, -2.0]), np.array([0.0, 1.0]))))


def test_eager_hand_written_bce_is_not_rewritten():
    """Eager mode runs the ops as written, as PyTorch does: the stable spelling is the loss."""
    z, t = gc.tensor([800.0]), gc.tensor([0.0])
    with np.errstate(all="ignore"):
        by_hand = -(t * gc.log(gc.sigmoid(z)) + (1 - t) * gc.log(1 - gc.sigmoid(z)))
    assert not np.isfinite(by_hand.numpy()[0])
    assert gc.binary_cross_entropy_with_logits(z, t).item() == 800.0


def test_jvp_of_a_hand_written_bce_is_stable():
    z, t = gc.placeholder((None,), name="z"), gc.placeholder((None,), name="t")
    h = z * 2.0
    p = gc.sigmoid(h)
    loss = gc.mean(-(t * gc.log(p) + (1 - t) * gc.log(1 - p)))
    along_z, along_h = gc.jvp(loss, z, z * 0 + 1), gc.jvp(loss, h, h * 0 + 1)
    f = gc.compile([z, t], [along_z, along_h], backend="numpy")
    zv, tv = np.array([400.0, -400.0, 0.25]), np.array([0.0, 1.0, 0.5])
    got_z, got_h = f(zv, tv)
    dh = (SIGMOID.impl(2 * zv) - tv) / 3
    np.testing.assert_allclose(got_h, dh.sum(), rtol=1e-15)
    np.testing.assert_allclose(got_z, 2 * dh.sum(), rtol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hand_written_bce_in_a_loop_body_has_a_stable_value_and_gradient(backend):
    """A loop's gradient sweeps its body as written (gc.grad cannot rewrite inside bodies without
    copying the loop): stabilize rewrites the body's log(1 - sigmoid) and cancels the divisions
    in the gradient body's g / (1 - s) * s (1 - s)."""
    zs, ts = gc.placeholder((3, 2), name="zs"), gc.placeholder((3, 2), name="ts")
    w = gc.Variable(np.array(400.0), name="w")

    def step(total, zt, by_hand):
        z, t = zt[0] * w, zt[1]
        if not by_hand:
            return total + gc.binary_cross_entropy_with_logits(z, t) * 2.0, total
        p = gc.sigmoid(z)
        return total + gc.sum(-(t * gc.log(p) + (1 - t) * gc.log(1 - p))), total

    outputs = []
    for by_hand in (True, False):
        total, _ = gc.scan(lambda c, zt: step(c, zt, by_hand), gc.constant(0.0), gc.stack([zs, ts], axis=1))
        outputs += [total, gc.grad(total, w)]
    f = gc.compile([zs, ts], outputs, backend=backend)
    assert not _has(_ops(f), LOG), str(f.graph)
    zv = np.array([[1.0, -1.0], [2.0, 0.5], [-1.0, 0.001]])
    tv = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 0.3]])
    value, grad, want_value, want_grad = f(zv, tv)
    s = SIGMOID.impl(zv * 400.0)
    np.testing.assert_allclose(grad, np.sum((s - tv) * zv), rtol=1e-14)
    np.testing.assert_allclose([value, grad], [want_value, want_grad], rtol=1e-14)
