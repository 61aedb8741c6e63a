"""Eager autograd with PyTorch's semantics: the tape, grad_fn, backward and its errors, grad modes,
version counters on in-place updates, hooks, autograd.grad (higher order), custom Functions and
gradcheck."""
import threading

import numpy as np
import pytest

import graphc as gc


def leaf(*values):
    return gc.tensor(list(values), requires_grad=True)


# ---- the tape ----------------------------------------------------------------------------------
@pytest.mark.parametrize("build,name", [
    (lambda x: x + 1, "AddBackward0"), (lambda x: x - 1, "SubBackward0"), (lambda x: x * x, "MulBackward0"),
    (lambda x: x / 2, "DivBackward0"), (lambda x: x ** 2, "PowBackward0"), (lambda x: x.exp(), "ExpBackward0"),
    (lambda x: x.sum(), "SumBackward0"), (lambda x: x.mean(), "MeanBackward0"), (lambda x: x[0], "IndexBackward0"),
    (lambda x: x.view(2, 1), "ViewBackward0"), (lambda x: x @ x, "MmBackward0"), (lambda x: -x, "NegBackward0"),
    (lambda x: x.max(), "AmaxBackward0"), (lambda x: x.clamp(0, 1), "ClampBackward0"),
    (lambda x: x.unsqueeze(0).T, "PermuteBackward0"), (lambda x: x.float(), "ToCopyBackward0"),
])
def test_grad_fn_names(build, name):
    y = build(leaf(1.0, 2.0))
    assert y.grad_fn.name() == name == type(y.grad_fn).__name__
    assert repr(y.grad_fn).startswith(f"<{name} object at 0x")


def test_requires_grad_propagation_and_leaves():
    a, b = leaf(1.0), gc.tensor([2.0])
    c = a * b
    assert c.requires_grad and not c.is_leaf and b.is_leaf and not (b * 2).requires_grad
    assert c.grad_fn.next_functions[1] is None  # b takes no gradient
    assert type(c.grad_fn.next_functions[0][0]).__name__ == "AccumulateGrad"
    assert not (a > 0).requires_grad and not a.argmax().requires_grad and not a.long().requires_grad
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf"):
        c.requires_grad = False


def test_backward_accumulates_and_retain_graph():
    x = leaf(1.0, 2.0)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4, 8]
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        y.backward()
    x.grad = None
    z = x.sum()  # SumBackward keeps only shapes: a second walk works, as in PyTorch
    z.backward()
    z.backward()
    assert x.grad.tolist() == [2, 2]


def test_backward_errors():
    x = leaf(1.0, 2.0)
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        gc.tensor([1.0]).sum().backward()
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(gc.ones(3))
    (x * 2).backward(gc.tensor([1.0, -1.0]))
    assert x.grad.tolist() == [2, -2]


def test_backward_of_a_leaf_and_shared_inputs():
    x = leaf(3.0)
    x.backward()
    assert x.grad.tolist() == [1]
    y = leaf(2.0, 5.0)
    (y * y * y).sum().backward()  # one tensor used three times
    assert y.grad.tolist() == [12, 75]


def test_backward_with_inputs_only_fills_those():
    a, b = leaf(1.0), leaf(2.0)
    (a * b).sum().backward(inputs=[a])
    assert a.grad.tolist() == [2] and b.grad is None


def test_long_chain_has_no_recursion_limit():
    x = leaf(1.0)
    y = x
    for _ in range(3000):
        y = y * 1.0001
    y.sum().backward()
    assert x.grad.item() == pytest.approx(1.0001 ** 3000)


# ---- grad modes --------------------------------------------------------------------------------
def test_no_grad_enable_grad_set_grad_enabled():
    x = leaf(1.0)
    with gc.no_grad():
        assert not (x * 2).requires_grad and not gc.is_grad_enabled()
        with gc.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    assert gc.is_grad_enabled()
    with gc.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert gc.is_grad_enabled()

    @gc.enable_grad()
    def tracked(t):
        return t * 2

    @gc.set_grad_enabled(False)
    def untracked(t):
        return t * 2

    assert gc.is_grad_enabled()  # defining the decorator did not switch recording off
    with gc.no_grad():
        assert tracked(x).requires_grad
    assert not untracked(x).requires_grad and gc.is_grad_enabled()


def test_grad_mode_is_per_thread():
    seen = []
    with gc.no_grad():
        t = threading.Thread(target=lambda: seen.append(gc.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


def test_parameter_update_under_no_grad():
    w = leaf(1.0, 2.0)
    (w * w).sum().backward()
    with gc.no_grad():
        w -= 0.5 * w.grad
    assert w.tolist() == [0, 0] and w.is_leaf and w.requires_grad


# ---- in-place and version counters -------------------------------------------------------------
def test_inplace_change_of_saved_tensor_raises_naming_the_op():
    x = leaf(1.0, 2.0)
    a = x * 2
    b = a * a
    a.add_(1)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation by add_.*saved by MulBackward0.*"
                                           r"version 1; expected version 0"):
        b.sum().backward()


def test_inplace_change_of_a_concatenated_piece_keeps_its_gradient():
    # As in PyTorch, whose cat saves only the pieces' sizes: the backward slices the gradient
    # by the sizes and never reads the changed values.
    x, z = leaf(1.0, 2.0), leaf(3.0)
    a = x * 2
    y = gc.concatenate([a, z])
    a.add_(1)
    (y * gc.tensor([1.0, 2.0, 3.0])).sum().backward(create_graph=True)
    assert x.grad.tolist() == [2, 4] and z.grad.tolist() == [3]


def test_inplace_on_a_result_that_is_not_saved_is_fine():
    x = leaf(1.0, 2.0)
    y = x * 2
    y += 1
    y *= 3
    assert y.grad_fn.name() == "MulBackward0"
    y.sum().backward()
    assert x.grad.tolist() == [6, 6]


def test_inplace_mul_by_tensor_uses_the_old_value():
    x, w = leaf(1.0, 2.0), leaf(3.0, 4.0)
    y = x * 1
    y.mul_(w)
    y.sum().backward()
    assert w.grad.tolist() == [1, 2] and x.grad.tolist() == [3, 4]


def test_inplace_on_leaf_and_its_views_raises():
    x = leaf(1.0, 2.0)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        x[0].mul_(2)
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        x[0] = 5.0


def test_inplace_through_a_view_rewrites_the_base_history():
    x = gc.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    h = x * 1
    v = h[0, :]
    v.mul_(2)
    assert h.grad_fn.name() == "CopySlices" and v.grad_fn.name() == "IndexBackward0"
    assert h.tolist() == [[2, 4, 6], [4, 5, 6]]
    (h * gc.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    assert x.grad.tolist() == [[2, 4, 6], [4, 5, 6]]
    x.grad = None
    h = x * 1
    v = h[1]
    v += 10
    (v * v).sum().backward()  # the view itself reads the rewritten base
    assert x.grad.tolist() == [[0, 0, 0], [28, 30, 32]]


def test_setitem_records_gradients():
    x, w = gc.ones(2, 3, requires_grad=True), leaf(7.0, 8.0, 9.0)
    h = x * 2
    h[1] = w * 3
    (h * h).sum().backward()
    assert x.grad.tolist() == [[8, 8, 8], [0, 0, 0]] and w.grad.tolist() == [126, 144, 162]
    z = gc.zeros(3)
    z[[0, 2]] = w[:2]
    z.sum().backward()
    assert z.tolist() == [7, 0, 8] and w.grad.tolist() == [127, 145, 162]


def test_zero_of_a_non_leaf_cuts_its_gradient():
    x = leaf(1.0, 2.0)
    y = x * 3
    y.zero_()
    (y + x).sum().backward()
    assert x.grad.tolist() == [1, 1] and y.requires_grad


def test_exp_output_changed_in_place_raises():
    x = leaf(1.0)
    y = x.exp()
    y.mul_(2)  # ExpBackward reads its output, which is now gone
    with pytest.raises(RuntimeError, match="saved by ExpBackward0"):
        y.backward()


# ---- hooks -------------------------------------------------------------------------------------
def test_hooks_replace_gradients_and_handles_remove_them():
    x = leaf(1.0, 2.0)
    y = x * 2
    h = y.register_hook(lambda g: g * 10)
    leaf_seen = []
    hx = x.register_hook(lambda g: leaf_seen.append(g.tolist()))
    y.sum().backward()
    assert x.grad.tolist() == [20, 20] and leaf_seen == [[20, 20]]
    h.remove()
    hx.remove()
    x.grad = None
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2, 2] and len(leaf_seen) == 1
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        gc.ones(2).register_hook(print)


def test_retain_grad_of_an_intermediate():
    x = leaf(1.0, 2.0)
    y = x * 3
    y.retain_grad()
    (y * y).sum().backward()
    assert y.retains_grad and y.grad.tolist() == [6, 12] and x.grad.tolist() == [18, 36]


# ---- autograd.grad -----------------------------------------------------------------------------
def test_autograd_grad_does_not_touch_dot_grad():
    x, w = leaf(1.0, 2.0), leaf(3.0, 4.0)
    gx, gw = gc.autograd.grad((x * w).sum(), [x, w])
    assert gx.tolist() == [3, 4] and gw.tolist() == [1, 2] and x.grad is None
    (g,) = gc.autograd.grad(x * w, x, grad_outputs=gc.tensor([1.0, -1.0]))
    assert g.tolist() == [3, -4]


def test_autograd_grad_unused_and_errors():
    x, z = leaf(1.0), leaf(2.0)
    with pytest.raises(RuntimeError, match="not have been used in the graph. Set allow_unused=True"):
        gc.autograd.grad((x * 2).sum(), [x, z])
    gx, gz = gc.autograd.grad((x * 2).sum(), [x, z], allow_unused=True)
    assert gx.tolist() == [2] and gz is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        gc.autograd.grad((x * 2).sum(), [gc.tensor([1.0])])


def test_higher_order_with_create_graph():
    x = gc.tensor(2.0, requires_grad=True)
    y = x ** 3
    (g,) = gc.autograd.grad(y, x, create_graph=True)
    assert g.item() == 12 and g.grad_fn is not None
    (g2,) = gc.autograd.grad(g, x, create_graph=True)
    assert g2.item() == 12  # 6x
    (g3,) = gc.autograd.grad(g2, x)
    assert g3.item() == 6 and not g3.requires_grad
    t = gc.tensor([0.3, -0.7], requires_grad=True)
    (dt,) = gc.autograd.grad(gc.tanh(t).sum(), t, create_graph=True)
    (d2,) = gc.autograd.grad(dt.sum(), t)
    th = np.tanh([0.3, -0.7])
    np.testing.assert_allclose(d2.numpy(), -2 * th * (1 - th ** 2), rtol=1e-12)


def test_backward_create_graph_gives_differentiable_grad():
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    (x ** 2).sum().backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.tolist() == [2, 4]
    (gg,) = gc.autograd.grad(x.grad.sum(), x)
    assert gg.tolist() == [2, 2]


def test_eager_gradient_equals_graph_gradient_on_a_model():
    rng = np.random.default_rng(0)
    xv, wv, yv = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), np.array([0, 2, 1, 1, 0])

    def loss(x, w):
        return gc.cross_entropy(gc.tanh(x @ w) * 2, yv) + gc.sum(w * w) * 0.1

    w = gc.tensor(wv, requires_grad=True)
    loss(gc.tensor(xv), w).backward()
    px, pw = gc.placeholder((5, 4), name="x"), gc.placeholder((4, 3), name="w")
    f = gc.compile([px, pw], gc.grad(loss(px, pw), pw), backend="numpy")
    np.testing.assert_allclose(w.grad.numpy(), f(xv, wv), rtol=1e-12)


# ---- custom Functions --------------------------------------------------------------------------
class Cube(gc.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x ** 3 * scale

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x ** 2 * ctx.scale, None


def test_function_needs_input_grad_and_non_tensor_arguments():
    seen = []

    class Probe(gc.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, k):
            seen.append(ctx.needs_input_grad)
            return a * b * k

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    Probe.apply(leaf(1.0), gc.tensor([2.0]), 3).sum().backward()
    assert seen == [(True, False, False)]
    x = leaf(2.0)
    y = Cube.apply(x, 0.5)
    assert y.grad_fn.name() == "CubeBackward" and y.tolist() == [4]
    y.backward()
    assert x.grad.tolist() == [6]
    assert gc.autograd.gradcheck(lambda t: Cube.apply(t, 2.0), gc.randn(3, requires_grad=True))


def test_function_second_order_through_create_graph():
    x = gc.tensor(1.5, requires_grad=True)
    (g,) = gc.autograd.grad(Cube.apply(x, 1.0), x, create_graph=True)
    (g2,) = gc.autograd.grad(g, x)
    assert g.item() == pytest.approx(6.75) and g2.item() == pytest.approx(9.0)


def test_function_errors():
    class TooFew(gc.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g

    class GradForInt(gc.autograd.Function):
        @staticmethod
        def forward(ctx, a, k):
            return a * k

        @staticmethod
        def backward(ctx, g):
            return g, g

    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        TooFew.apply(leaf(1.0), leaf(2.0)).sum().backward()
    with pytest.raises(RuntimeError, match="different than None at position 2"):
        GradForInt.apply(leaf(1.0), 2).sum().backward()
    x = leaf(1.0)
    y = Cube.apply(x, 1.0)
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    x2 = leaf(1.0, 2.0)
    h = x2 * 1
    out = Cube.apply(h, 1.0)
    with gc.no_grad():
        h.add_(1)
    with pytest.raises(RuntimeError, match="saved by CubeBackward"):
        out.sum().backward()


def test_function_multiple_outputs_and_broadcast_gradient():
    class SplitScale(gc.autograd.Function):
        @staticmethod
        def forward(ctx, x, b):
            return x * 2, x * 3 + b

        @staticmethod
        def backward(ctx, ga, gb):
            return ga * 2 + gb * 3, gb  # gb has x's shape; summed down to b's (1,)

    x, b = leaf(1.0, 2.0), leaf(0.0)
    p, q = SplitScale.apply(x, b)
    (p.sum() + q.sum() * 10).backward()
    assert x.grad.tolist() == [32, 32] and b.grad.tolist() == [20]
    x.grad = None
    p, q = SplitScale.apply(x, b)
    p.sum().backward()  # q's gradient is materialized as zeros
    assert x.grad.tolist() == [2, 2]


# ---- gradcheck ---------------------------------------------------------------------------------
def test_gradcheck_passes_and_catches_a_wrong_rule():
    a, b = gc.randn(3, 2, requires_grad=True), gc.randn(2, requires_grad=True)
    assert gc.autograd.gradcheck(lambda a, b: (a * b.exp()).sum(axis=0) / (1 + a.square().sum()), (a, b))

    class WrongSin(gc.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x.sin()

    with pytest.raises(gc.autograd.GradcheckError, match="Jacobian mismatch for output 0 with respect to input 0"):
        gc.autograd.gradcheck(WrongSin.apply, (gc.randn(3, requires_grad=True),))
    assert gc.autograd.gradcheck(WrongSin.apply, (gc.randn(3, requires_grad=True),), raise_exception=False) is False
