"""The PyTorch tutorial examples in shared/seeds/, run in graphc's eager mode.

Each test is one example; where the tutorial states or prints a result, that result is asserted
(printed tensors are compared by value and, where graphc prints the same text, by repr). Examples
on random inputs assert the relation the tutorial checks (autograd == the hand-derived gradient).
`torch.xxx` maps to `gc.xxx`; torch.dot(x, x) is spelled x.dot(x) (matmul of two vectors).
"""
import math

import numpy as np
import pytest

import graphc as gc


def values(t):
    return np.asarray(t.detach().numpy() if isinstance(t, gc.Tensor) else t)


# ---- 000 / 004: computational graph and Autograd ------------------------------------------------
def test_graph_leaf_grad_fn_and_backward():
    w = gc.tensor([1.0], requires_grad=True)
    x = gc.tensor([2.0], requires_grad=True)
    a = gc.add(w, x)
    b = gc.add(w, 1)
    y = gc.mul(a, b)
    assert x.grad_fn is None  # created directly: no grad_fn
    assert repr(a.grad_fn).startswith("<AddBackward0 object at 0x")
    y.backward()
    assert repr(w.grad) == "tensor([5.])"
    assert values(w.grad).tolist() == [5.0]


def test_gradients_accumulate_until_zeroed():
    w = gc.tensor([1.0], requires_grad=True)
    x = gc.tensor([2.0], requires_grad=True)
    gc.mul(gc.add(w, x), gc.add(w, 1)).backward()
    y2 = w.sum()
    y2.backward()  # not zeroed: accumulates
    assert repr(w.grad) == "tensor([6.])"
    y3 = w.sum()
    w.grad.data.zero_()
    y3.backward()  # zeroed first
    assert repr(w.grad) == "tensor([1.])"


class Exp(gc.autograd.Function):  # computes e^x
    @staticmethod
    def forward(ctx, i):
        result = i.exp()
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad_output):
        (result,) = ctx.saved_tensors
        return grad_output * result


def test_custom_exp_function():
    x = gc.tensor([1.0], requires_grad=True)
    ret = Exp.apply(x)
    assert repr(ret) == "tensor([2.7183], grad_fn=<ExpBackward>)"
    ret.backward()
    assert repr(x.grad) == "tensor([2.7183])"
    assert values(x.grad)[0] == pytest.approx(math.e, rel=1e-15)


# ---- 001: autograd module ----------------------------------------------------------------------
def test_eg1_gradient_of_x_squared_plus_20():
    x = gc.tensor(10, requires_grad=True, dtype=gc.float64)
    f = x ** 2 + 20
    f.backward()
    assert values(x.grad) == 20.0
    assert repr(x.grad) == "tensor(20.)"


def test_eg2_multi_vector_gradients():
    x1 = gc.tensor([10, 20], requires_grad=True, dtype=gc.float64)
    x2 = gc.tensor([30, 40], requires_grad=True, dtype=gc.float64)
    x3 = gc.tensor([[1], [1]], requires_grad=True, dtype=gc.float64)
    y1 = x1 ** 2 + x2 ** 2 + x1 * x2
    assert values(y1).tolist() == [1300, 2800]
    y2 = y1 @ x3  # shape (1,): one element, so backward() needs no gradient
    y2.backward()
    assert values(x1.grad).tolist() == [50, 80]
    assert values(x2.grad).tolist() == [70, 100]


def test_eg3_turning_gradient_tracking_off():
    x = gc.tensor(10, requires_grad=True, dtype=gc.float64)
    with gc.no_grad():
        x = x ** 2 + 20
    assert not x.requires_grad and values(x) == 120

    x = gc.tensor(10, requires_grad=True, dtype=gc.float64)

    @gc.no_grad()
    def funccc(x):
        return x ** 2 + 20

    assert not funccc(x).requires_grad
    assert (x ** 2).requires_grad  # the decorator switched tracking off only inside the call
    try:
        gc.set_grad_enabled(False)
        y = x ** 2 + 20
        assert not y.requires_grad and y.grad_fn is None
    finally:
        gc.set_grad_enabled(True)
    assert (x ** 2).requires_grad


def test_eg4_zeroing_gradients_in_a_loop():
    x = gc.tensor(10, requires_grad=True, dtype=gc.float64)
    seen = []
    for _ in range(100):
        y1 = x ** 2 + 20
        y2 = y1.mean()
        if x.grad is not None:
            x.grad.data.zero_()
        y2.backward()
        seen.append(float(values(x.grad)))
    assert seen == [20.0] * 100


def test_numpy_of_a_tensor_that_requires_grad():
    x = gc.tensor([10, 20], requires_grad=True, dtype=gc.float64)
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad\. "
                                           r"Use tensor\.detach\(\)\.numpy\(\) instead\."):
        x.numpy()
    a = x.detach().numpy()
    assert a.tolist() == [10, 20]
    a[0] = 5  # detach shares data with the original
    assert values(x).tolist() == [5, 20]
    assert x.detach().is_leaf and not x.detach().requires_grad


# ---- 002: d2l automatic differentiation --------------------------------------------------------
def test_simple_example_y_2_xTx():
    x = gc.arange(4.0)
    assert repr(x) == "tensor([0., 1., 2., 3.])"
    x.requires_grad_(True)
    assert x.grad is None
    y = 2 * x.dot(x)
    assert repr(y) == "tensor(28., grad_fn=<MulBackward0>)"
    y.backward()
    assert values(x.grad).tolist() == [0, 4, 8, 12]
    assert repr(x.grad == 4 * x) == "tensor([True, True, True, True])"


def test_another_function_after_zeroing_and_without():
    x = gc.arange(4.0, requires_grad=True)
    (2 * x.dot(x)).backward()
    x.grad.zero_()
    x.sum().backward()
    assert values(x.grad).tolist() == [1, 1, 1, 1]
    # without zero_() the gradients add up: [1, 5, 9, 13]
    x.grad = None
    (2 * x.dot(x)).backward()
    x.sum().backward()
    assert values(x.grad).tolist() == [1, 5, 9, 13]


def test_backward_of_a_non_scalar():
    x = gc.arange(4.0, requires_grad=True)
    y = x * x
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        y.backward()
    y.sum().backward()
    assert values(x.grad).tolist() == [0, 2, 4, 6]
    x.grad.zero_()
    (x * x).backward(gc.ones(len(x)))  # the equivalent form with an explicit gradient
    assert values(x.grad).tolist() == [0, 2, 4, 6]


def test_detaching_computation():
    x = gc.arange(4.0, requires_grad=True)
    y = x * x
    u = y.detach()  # treated as a constant
    z = u * x
    z.sum().backward()
    assert repr(x.grad == u) == "tensor([True, True, True, True])"
    x.grad.zero_()
    y.sum().backward()  # y's own graph is still there
    assert repr(x.grad == 2 * x) == "tensor([True, True, True, True])"


def f(a):
    b = a * 2
    while b.norm() < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c


@pytest.mark.parametrize("seed", range(5))
def test_python_control_flow(seed):
    gc.manual_seed(seed)
    a = gc.randn(size=(), requires_grad=True)
    d = f(a)
    d.backward()
    # f is linear in a (with a piecewise constant factor), so its gradient is d / a
    assert values(a.grad) == pytest.approx(values(d / a), rel=1e-12)


# ---- 003: autograd (chenyuntc) -----------------------------------------------------------------
def test_three_ways_to_require_grad():
    a = gc.randn(3, 4, requires_grad=True)
    b = gc.randn(3, 4).requires_grad_()
    c = gc.randn(3, 4)
    c.requires_grad = True
    assert a.requires_grad and b.requires_grad and c.requires_grad
    assert repr(c).endswith("requires_grad=True)")


def test_d_equals_sum_of_a_plus_b():
    a = gc.randn(3, 4, requires_grad=True)
    b = gc.zeros(3, 4).requires_grad_()
    c = a + b
    d = c.sum()
    d.backward()
    assert d.requires_grad
    assert repr(a.grad) == (
        "tensor([[1., 1., 1., 1.],\n"
        "        [1., 1., 1., 1.],\n"
        "        [1., 1., 1., 1.]])"
    )
    assert (a.requires_grad, b.requires_grad, c.requires_grad) == (True, True, True)
    assert (a.is_leaf, b.is_leaf, c.is_leaf) == (True, True, False)


def test_x_squared_times_exp_matches_hand_derivative():
    def fx(x):
        return x ** 2 * gc.exp(x)

    def gradf(x):
        return 2 * x * gc.exp(x) + x ** 2 * gc.exp(x)

    x = gc.randn(3, 4, requires_grad=True)
    y = fx(x)
    assert y.grad_fn.name() == "MulBackward0"
    assert gradf(x).grad_fn.name() == "AddBackward0"
    y.backward(gc.ones(y.size()))
    np.testing.assert_allclose(values(x.grad), values(gradf(x)), rtol=1e-14)


def test_tutorial_print_layout_with_grad_fn():
    # the tutorial's printed y = f(x), which PyTorch wraps onto a new line
    y = gc.tensor([[1.7010e-03, 1.7171e+00, 2.9237e-01, 1.1170e-01],
                   [1.4809e-03, 2.6344e+01, 1.3164e-01, 4.0763e+00],
                   [3.2292e-01, 2.2965e+01, 5.3342e-01, 5.3551e-01]], requires_grad=True) * 1
    assert repr(y) == (
        "tensor([[1.7010e-03, 1.7171e+00, 2.9237e-01, 1.1170e-01],\n"
        "        [1.4809e-03, 2.6344e+01, 1.3164e-01, 4.0763e+00],\n"
        "        [3.2292e-01, 2.2965e+01, 5.3342e-01, 5.3551e-01]],\n"
        "       grad_fn=<MulBackward0>)"
    )


def test_autograd_grad_of_intermediate_values():
    x = gc.ones(3, requires_grad=True)
    w = gc.rand(3, requires_grad=True)
    y = x * w
    z = y.sum()
    (gy,) = gc.autograd.grad(z, y)  # frees the part of the graph it walked
    assert values(gy).tolist() == [1, 1, 1]
    (gx,) = gc.autograd.grad(z, x)  # SumBackward again: it needs only shapes, like PyTorch's
    np.testing.assert_array_equal(values(gx), values(w))


def test_hook_sees_intermediate_gradient():
    seen = []

    def variable_hook(grad):
        seen.append(values(grad).copy())

    x = gc.ones(3, requires_grad=True)
    w = gc.rand(3, requires_grad=True)
    y = x * w
    hook_handle = y.register_hook(variable_hook)
    z = y.sum()
    z.backward()
    hook_handle.remove()
    assert len(seen) == 1 and seen[0].tolist() == [1, 1, 1]
    (x * w).sum().backward()
    assert len(seen) == 1


class Mul(gc.autograd.Function):
    @staticmethod
    def forward(ctx, w, x, b, x_requires_grad=True):
        ctx.x_requires_grad = x_requires_grad
        ctx.save_for_backward(w, x)
        output = w * x + b
        return output

    @staticmethod
    def backward(ctx, grad_output):
        w, x = ctx.saved_tensors
        grad_w = grad_output * x
        if ctx.x_requires_grad:
            grad_x = grad_output * w
        else:
            grad_x = None
        grad_b = grad_output * 1
        return grad_w, grad_x, grad_b, None


def test_extending_autograd_mul():
    w = gc.tensor([2.0, -1.0], requires_grad=True)
    x = gc.tensor([3.0, 4.0], requires_grad=True)
    b = gc.tensor([1.0, 1.0], requires_grad=True)
    out = Mul.apply(w, x, b)
    assert out.grad_fn.name() == "MulBackward"
    out.sum().backward()
    assert values(w.grad).tolist() == [3, 4]
    assert values(x.grad).tolist() == [2, -1]
    assert values(b.grad).tolist() == [1, 1]
    w.grad = x.grad = b.grad = None
    Mul.apply(w, x, b, False).sum().backward()  # the flag is not a tensor: it gets None
    assert x.grad is None and values(w.grad).tolist() == [3, 4]


# ---- 004: tensors ------------------------------------------------------------------------------
def test_creation_functions():
    assert gc.empty(2, 3).shape == (2, 3)
    x2 = gc.rand(2, 3)
    assert x2.shape == (2, 3) and np.all((values(x2) >= 0) & (values(x2) < 1))
    x3 = gc.zeros(2, 3, dtype=gc.int64)
    assert repr(x3) == "tensor([[0, 0, 0],\n        [0, 0, 0]])"
    assert gc.randn(2, 3).shape == (2, 3)
    assert repr(gc.tensor([[5, 5, 3], [2, 2, 5]])) == "tensor([[5, 5, 3],\n        [2, 2, 5]])"
    assert values(gc.tensor(np.array([[1, 2, 3], [4, 5, 6]]))).tolist() == [[1, 2, 3], [4, 5, 6]]
    assert values(gc.from_numpy(np.array([[1, 2, 3], [4, 5, 6]]))).tolist() == [[1, 2, 3], [4, 5, 6]]
    x = gc.tensor([[1, 2, 3], [4, 5, 6]])
    x1 = x.new_ones(2, 3, dtype=gc.float64)
    assert values(x1).tolist() == [[1.0] * 3] * 2 and x1.dtype == np.float64
    x2 = gc.randn_like(x, dtype=gc.float32)
    assert x2.shape == (2, 3) and x2.dtype == np.float32


def test_arithmetic_and_inplace_add():
    x = gc.ones(2, 3)
    y = gc.eye(2, 3)
    s1 = x + y
    s2 = gc.add(x, y)
    s3 = y.add_(x)  # in place: y itself changes, and is returned
    want = [[2, 1, 1], [1, 2, 1]]
    assert s3 is y
    for t in (y, s1, s2, s3):
        assert values(t).tolist() == want
    assert values(x).tolist() == [[1] * 3] * 2


def test_indexing_shares_memory():
    x = gc.ones(2, 3)
    y = x[0, :]
    y += 1
    assert values(x).tolist() == [[2, 2, 2], [1, 1, 1]]
    assert values(y).tolist() == [2, 2, 2]
    assert values(x[0, :]).tolist() == [2, 2, 2]


def test_index_select_copies():
    x = gc.randn(3, 4)
    indices = gc.tensor([0, 2])
    before = values(x).copy()
    y = gc.index_select(x, 0, indices)
    np.testing.assert_array_equal(values(y), before[[0, 2]])
    y += 1  # does not share memory with x
    np.testing.assert_array_equal(values(x), before)


def test_view_shares_memory_and_clone_copies():
    x = gc.ones(2, 4)
    y1 = x.view(8)
    y2 = x.view(-1, 8)
    assert (x.size(), y1.size(), y2.size()) == ((2, 4), (8,), (1, 8))
    x += 1
    assert repr(x) == "tensor([[2., 2., 2., 2.],\n        [2., 2., 2., 2.]])"
    assert repr(y1) == "tensor([2., 2., 2., 2., 2., 2., 2., 2.])"
    x1 = x.clone()
    y3 = x.view(-1)
    x1 += 1
    assert values(x1).tolist() == [[3] * 4] * 2
    assert values(y3).tolist() == [2] * 8


def test_clone_stays_in_the_graph():
    a = gc.tensor([1.0, 2.0], requires_grad=True)
    c = a.clone()
    assert c.grad_fn.name() == "CloneBackward0"
    (c * 3).sum().backward()
    assert values(a.grad).tolist() == [3, 3]


def test_gather():
    _input = gc.tensor([[0.9, 0, 0], [0, 0.6, 0], [0, 0.7, 0]])
    index = gc.tensor([0, 1, 1])
    assert repr(index.view(-1, 1)) == "tensor([[0],\n        [1],\n        [1]])"
    out = _input.gather(dim=1, index=index.view(-1, 1))
    assert repr(out) == "tensor([[0.9000],\n        [0.6000],\n        [0.7000]])"


def test_broadcasting():
    x = gc.arange(1, 3).view(1, 2)
    y = gc.arange(1, 4).view(3, 1)
    assert repr(x) == "tensor([[1, 2]])"
    assert values(x + y).tolist() == [[2, 3], [3, 4], [4, 5]]


def test_tensor_numpy_conversions_share_memory():
    x = gc.ones(3)
    y = x.numpy()
    x += 1
    y += 1
    assert repr(x) == "tensor([3., 3., 3.])" and y.tolist() == [3, 3, 3]
    x = np.ones(3)
    y = gc.from_numpy(x)
    x += 1
    y += 1
    assert x.tolist() == [3, 3, 3] and repr(y) == "tensor([3., 3., 3.])"
    x = np.ones(3)
    y = gc.tensor(x)  # copies
    x += 1
    assert x.tolist() == [2, 2, 2] and repr(y) == "tensor([1., 1., 1.])"


def test_reductions_over_axes():
    A = gc.arange(6, dtype=gc.float32).view(3, 2)
    assert values(A).tolist() == [[0, 1], [2, 3], [4, 5]]
    assert A.shape == (3, 2) and values(A.sum()) == 15 and values(A.sum(axis=[0, 1])) == 15
    s0 = A.sum(axis=0)
    assert s0.shape == (2,) and values(s0).tolist() == [6, 9]
    s1 = A.sum(axis=1)
    assert s1.shape == (3,) and values(s1).tolist() == [1, 5, 9]
    A = gc.arange(6, dtype=gc.float32).view(2, 3)
    B = gc.arange(6, dtype=gc.float32).view(2, 3)
    assert values(A.sum(axis=0)).tolist() == [3, 5, 7]
    assert values(A.sum(axis=0) + B).tolist() == [[3, 6, 9], [6, 9, 12]]
    assert A.sum(axis=1, keepdims=True).shape == (2, 1) == A.sum(dim=1, keepdim=True).shape
