"""Eager tensors without gradients: creation, views and memory sharing, in-place updates, conversions,
printing, and how tensors meet graph nodes, arrays and scalars."""
import numpy as np
import pytest

import graphc as gc


# ---- creation ----------------------------------------------------------------------------------
def test_creation_dtypes_and_sizes():
    for make in (gc.zeros, gc.ones, gc.empty, gc.rand, gc.randn):
        for args in [(2, 3), ((2, 3),), ([2, 3],)]:
            t = make(*args)
            assert t.shape == (2, 3) and t.dtype == np.float64
        assert make(4, dtype=gc.float32).dtype == np.float32
    assert gc.randn(size=(2, 1)).shape == (2, 1) and gc.rand(size=()).shape == ()
    assert gc.full((2, 2), 7).dtype == np.int64 and gc.full((2,), 0.5).numpy().tolist() == [0.5, 0.5]
    assert gc.arange(3).dtype == np.int64 and gc.arange(3.0).dtype == np.float64
    assert gc.arange(1, 7, 2).numpy().tolist() == [1, 3, 5]
    assert gc.eye(2, 3).numpy().tolist() == [[1, 0, 0], [0, 1, 0]]
    x = gc.tensor([[1, 2, 3]], dtype=gc.float32)
    assert gc.zeros_like(x).dtype == np.float32 and gc.zeros_like(x).shape == (1, 3)
    assert gc.ones_like(x, dtype=gc.int64).numpy().tolist() == [[1, 1, 1]]
    assert gc.randn_like(x).dtype == np.float32
    with pytest.raises(TypeError, match="floating"):
        gc.randn_like(gc.tensor([1, 2]))
    assert gc.zeros(3, requires_grad=True).requires_grad


def test_manual_seed_reproduces():
    gc.manual_seed(7)
    a = gc.randn(4).numpy().copy()
    gc.manual_seed(7)
    assert np.array_equal(a, gc.randn(4).numpy())


def test_tensor_copies_and_from_numpy_shares():
    a = np.arange(3.0)
    t, s = gc.tensor(a), gc.from_numpy(a)
    a[0] = 9
    assert t.numpy()[0] == 0 and s.numpy()[0] == 9
    u = gc.tensor(s)
    u += 1
    assert s.numpy()[1] == 1
    with pytest.raises(TypeError, match="ndarray"):
        gc.from_numpy([1, 2])


def test_only_float_tensors_can_require_grad():
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        gc.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        gc.arange(3).requires_grad_()


# ---- attributes and conversions ----------------------------------------------------------------
def test_attributes_and_conversions():
    x = gc.tensor([[1.5, 2.0], [3.0, 4.0]])
    assert x.shape == (2, 2) and x.size() == (2, 2) and x.size(1) == 2 and x.dim() == 2 == x.ndim
    assert x.numel() == 4 and len(x) == 2 and x.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert x.float().dtype == np.float32 and x.double().dtype == np.float64
    assert x.long().numpy().tolist() == [[1, 2], [3, 4]] and x.long().dtype == np.int64
    assert x.bool().dtype == np.bool_ and x.to(gc.float32).dtype == np.float32
    assert x[0, 0].item() == 1.5 and float(x[0, 0]) == 1.5 and int(x[1, 1]) == 4
    assert f"{x.sum():.1f}" == "10.5"
    with pytest.raises(RuntimeError, match="4 elements cannot be converted"):
        x.item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x > 0)
    assert bool(x.sum() > 10)
    assert [row.tolist() for row in x] == [[1.5, 2.0], [3.0, 4.0]]
    assert np.asarray(x).tolist() == x.tolist()


def test_eq_is_elementwise_and_tensors_hash_by_identity():
    x, y = gc.tensor([1.0, 2.0]), gc.tensor([1.0, 3.0])
    assert (x == y).tolist() == [True, False] and (x != y).tolist() == [False, True]
    assert (x == y).any() and not (x == y).all()
    assert len({x, y, x}) == 2 and {x: 1}[x] == 1


def test_weak_python_scalars_keep_float32():
    x = gc.ones(3, dtype=gc.float32)
    assert (x * 2.5).dtype == np.float32 and (1 - x).dtype == np.float32
    assert (x + np.float64(1)).dtype == np.float64  # a NumPy scalar is strong
    assert (gc.arange(3) / 2).dtype == np.float64


def test_ops_on_plain_values_return_tensors():
    out = gc.add(np.ones(2), 1)
    assert isinstance(out, gc.Tensor) and out.numpy().tolist() == [2, 2]
    assert isinstance(gc.exp(0.0), gc.Tensor)


def test_shape_errors_are_the_graph_mode_errors():
    with pytest.raises(gc.ShapeError, match=r"matmul: shapes \(3, 4\) and \(5, 6\) do not align"):
        gc.ones(3, 4) @ gc.ones(5, 6)
    with pytest.raises(gc.ShapeError, match=r"test_eager_tensor.py"):
        gc.ones(3) + gc.ones(4)


def test_tensor_meets_graph_node_as_constant():
    x = gc.placeholder((3,), "float64", name="x")
    t = gc.tensor([1.0, 2.0, 3.0])
    y = x * t
    assert isinstance(y, gc.Node)
    f = gc.compile([x], y, backend="numpy")
    np.testing.assert_array_equal(f(np.ones(3)), [1, 2, 3])
    z = gc.zeros_like(x)
    assert isinstance(z, gc.Node)


# ---- views and memory sharing -------------------------------------------------------------------
def test_views_share_memory_and_version():
    x = gc.zeros(2, 3)
    views = [x[1], x[:, 1:], x.reshape(3, 2), x.view(6), x.T, x[None], x.unsqueeze(0), x.permute(1, 0)]
    for v in views:
        assert v._base is x and v._version is x._version
    x += 1
    assert all(np.all(v.numpy() == 1) for v in views)
    views[0].mul_(5)
    assert x.numpy().tolist() == [[1, 1, 1], [5, 5, 5]] and x._version.value == 2


def test_copies_are_not_views():
    x = gc.arange(6.0).view(2, 3)
    for c in (x[[0, 1]], x[x > 2], x.clone(), gc.index_select(x, 1, gc.tensor([0])), x * 1, x.T.reshape(6)):
        assert c._base is None and not np.shares_memory(c.numpy(), x.numpy())
    assert x[x > 2].tolist() == [3, 4, 5]


def test_view_of_non_contiguous_refuses():
    x = gc.zeros(2, 3).T
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.view(6)
    assert x.reshape(6).shape == (6,)
    assert x.contiguous().view(6).shape == (6,)


def test_setitem_basic_and_advanced():
    x = gc.zeros(3, 4)
    x[0] = 1
    x[1, 1:3] = gc.tensor([2.0, 3.0])
    x[[2, 2], [0, 3]] = 7
    assert x.numpy().tolist() == [[1, 1, 1, 1], [0, 2, 3, 0], [7, 0, 0, 7]]
    x[x > 2] = -1
    assert (x == -1).sum().item() == 3


def test_inplace_ops_and_their_rules():
    x = gc.ones(3)
    assert x.add_(gc.tensor([1.0, 2.0, 3.0])) is x and x.tolist() == [2, 3, 4]
    x.sub_(1, alpha=2)
    x.mul_(3)
    x /= 2
    assert x.tolist() == [0, 1.5, 3]
    x.zero_()
    assert x.tolist() == [0, 0, 0]
    x.fill_(4.5)
    x.copy_(gc.tensor([1.0, 2.0, 3.0]))
    assert x.tolist() == [1, 2, 3]
    n = gc.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        n += 1.5
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        gc.ones(3).add_(gc.ones(2, 3))


def test_detach_and_data_share_memory():
    x = gc.ones(2, requires_grad=True)
    d = x.detach()
    assert d._version is x._version and not d.requires_grad and d.is_leaf
    with gc.no_grad():
        d.add_(1)
    assert x.tolist() == [2, 2] and x._version.value == 1
    x.data.zero_()  # .data changes are invisible to the version counter
    assert x.tolist() == [0, 0] and x._version.value == 1


# ---- printing ----------------------------------------------------------------------------------
@pytest.mark.parametrize("data,kwargs,text", [
    ([5.0], {}, "tensor([5.])"),
    (28.0, {}, "tensor(28.)"),
    ([0.0, 4.0, 8.0, 12.0], {}, "tensor([ 0.,  4.,  8., 12.])"),
    ([0.9, 0.0, -0.25], {}, "tensor([ 0.9000,  0.0000, -0.2500])"),
    ([1e-5, 1.0], {}, "tensor([1.0000e-05, 1.0000e+00])"),
    ([1.0, 1e9], {}, "tensor([1.0000e+00, 1.0000e+09])"),
    ([1.0, float("nan"), float("inf")], {}, "tensor([1., nan, inf])"),
    ([True, False], {}, "tensor([ True, False])"),
    ([[1, 20], [300, 4]], {}, "tensor([[  1,  20],\n        [300,   4]])"),
    ([1.5], {"dtype": "float32"}, "tensor([1.5000], dtype=float32)"),
    ([1.0], {"requires_grad": True}, "tensor([1.], requires_grad=True)"),
    ([], {}, "tensor([])"),
])
def test_repr_like_pytorch(data, kwargs, text):
    assert repr(gc.tensor(data, **kwargs)) == text


def test_repr_of_empty_large_and_wrapped_tensors():
    assert repr(gc.zeros(0, 3)) == "tensor([], size=(0, 3))"
    big = repr(gc.arange(2000.0))
    assert big == "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])"
    row = repr(gc.arange(30.0))
    assert row.splitlines()[1].startswith("        14.,") and row.endswith("29.])")
