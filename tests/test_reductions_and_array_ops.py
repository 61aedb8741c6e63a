"""Reductions, scans and array ops (API.md section 10) against PyTorch: values, first and second
order gradients (graph mode and eager), special values (nan in sorts, empty axes, float32
accumulation) and the errors for what is not accepted."""
import numpy as np
import pytest
import torch

import graphc as gc
from op_domains import BACKENDS

RNG = np.random.default_rng(11)


def _graph_value_and_grads(fn, arrays, weights, backend="numpy"):
    """fn's value, the gradient of sum(fn * weights) and the gradient of 1.5 * sum(that gradient),
    from compiled graphs."""
    xs = [gc.placeholder(a.shape, a.dtype, name=f"x{i}") for i, a in enumerate(arrays)]
    y = fn(*xs)
    grads = gc.grad(gc.sum(y * weights), xs)
    second = gc.grad(sum(gc.sum(g * 1.5) for g in grads), xs)
    out = gc.compile(xs, [y] + grads + second, backend=backend)(*arrays)
    n = len(arrays)
    return out[0], out[1:1 + n], out[1 + n:]


def _torch_value_and_grads(fn, arrays, weights):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*ts)
    grads = torch.autograd.grad((y * torch.tensor(weights)).sum(), ts, create_graph=True)
    loss2 = sum((g * 1.5).sum() for g in grads)
    # a linear op's gradient does not depend on its input: torch then has no graph to differentiate
    second = torch.autograd.grad(loss2, ts, allow_unused=True) if loss2.requires_grad else [None] * len(ts)
    second = [np.zeros_like(a) if s is None else s.detach().numpy() for a, s in zip(arrays, second)]
    return y.detach().numpy(), [g.detach().numpy() for g in grads], second


def _eager_value_and_grads(fn, arrays, weights):
    ts = [gc.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*ts)
    grads = gc.autograd.grad(gc.sum(y * weights), ts, create_graph=True)
    loss2 = sum(gc.sum(g * 1.5) for g in grads)
    second = gc.autograd.grad(loss2, ts, allow_unused=True) if loss2.requires_grad else [None] * len(ts)
    second = [np.zeros_like(a) if s is None else s.detach().numpy() for a, s in zip(arrays, second)]
    return y.detach().numpy(), [g.detach().numpy() for g in grads], second


def check_like_torch(gc_fn, torch_fn, *arrays, second_order=True, backend="numpy", graph=True):
    """Values and gradients of gc_fn in graph mode (on `backend`) and eager mode, against torch_fn's;
    graph=False for Tensor methods, which graph nodes lack."""
    weights = RNG.standard_normal(tuple(torch_fn(*[torch.tensor(a) for a in arrays]).shape))
    want_value, want_grads, want_second = _torch_value_and_grads(torch_fn, arrays, weights)
    modes = [_eager_value_and_grads(gc_fn, arrays, weights)]
    if graph:
        modes.append(_graph_value_and_grads(gc_fn, arrays, weights, backend))
    for value, grads, second in modes:
        np.testing.assert_allclose(value, want_value, rtol=1e-12, atol=1e-12)
        for got, want in zip(grads, want_grads):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
        if second_order:
            for got, want in zip(second, want_second):
                np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def _zeros(shape, places):
    x = RNG.uniform(0.5, 1.5, shape) * RNG.choice([-1.0, 1.0], shape)
    for p in places:
        x[p] = 0.0
    return x


# ---- values and gradients against torch -------------------------------------------------------------
@pytest.mark.parametrize("places", [[], [(0, 1)], [(0, 1), (0, 3)], [(0, 0), (1, 2)]], ids=["none", "one", "two", "spread"])
def test_prod_gradients_are_exact_with_zeros_like_torch(places, backend):
    x = _zeros((2, 4), places)
    check_like_torch(lambda t: gc.prod(t, 1), lambda t: torch.prod(t, 1), x, backend=backend)
    check_like_torch(gc.prod, torch.prod, x, backend=backend)


def test_prod_over_several_axes_matches_torch_over_the_flattened_axes():
    x = _zeros((2, 3, 2), [(0, 1, 0)])
    check_like_torch(lambda t: gc.prod(t, (0, 2)),
                     lambda t: torch.prod(t.permute(1, 0, 2).reshape(3, 4), 1), x)


def test_var_and_std_match_torch_with_and_without_correction(backend):
    x = RNG.standard_normal((3, 5))
    check_like_torch(lambda t: gc.var(t, 0), lambda t: torch.var(t, 0, unbiased=False), x, backend=backend)
    check_like_torch(lambda t: gc.std(t, 1, keepdims=True), lambda t: torch.std(t, 1, keepdim=True, unbiased=False), x,
                     backend=backend)
    # the methods: torch's correction=1 by default
    check_like_torch(lambda t: t.var(1), lambda t: t.var(1), x, graph=False)
    check_like_torch(lambda t: t.std(), lambda t: t.std(), x, graph=False)
    check_like_torch(lambda t: t.var(0, correction=0), lambda t: t.var(0, correction=0), x, graph=False)
    check_like_torch(lambda t: t.std(0, unbiased=False, keepdim=True), lambda t: t.std(0, unbiased=False, keepdim=True),
                     x, graph=False)


def test_std_gradient_of_a_constant_slice_is_zero_like_torch(backend):
    x = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    check_like_torch(lambda t: gc.std(t, 1), lambda t: torch.std(t, 1, unbiased=False), x, backend=backend)
    check_like_torch(lambda t: t.std(1, keepdim=True), lambda t: t.std(1, keepdim=True), x, graph=False)


def test_cumsum_and_cumprod_match_torch(backend):
    x = RNG.uniform(0.5, 1.5, (3, 4))
    check_like_torch(lambda t: gc.cumsum(t, 1), lambda t: torch.cumsum(t, 1), x, backend=backend)
    check_like_torch(lambda t: gc.cumprod(t, 0), lambda t: torch.cumprod(t, 0), x, backend=backend)
    check_like_torch(gc.cumsum, lambda t: torch.cumsum(t.reshape(-1), 0), x)


@pytest.mark.parametrize("places", [[(0, 1)], [(0, 1), (0, 3)], [(1, 0), (2, 2)], [(0, 0), (0, 1), (0, 2)]],
                         ids=["one", "two", "spread", "three"])
def test_cumprod_gradients_are_exact_with_zeros_to_second_order_like_torch(places):
    x = _zeros((3, 4), places)
    check_like_torch(lambda t: gc.cumprod(t, 1), lambda t: torch.cumprod(t, 1), x)
    check_like_torch(lambda t: gc.cumprod(t, 0), lambda t: torch.cumprod(t, 0), x)


@pytest.mark.parametrize("zeros", [[], [(1,)], [(1,), (3,)], [(0,), (4,)]], ids=["none", "one", "two", "ends"])
def test_cumprod_vjp_and_jvp_with_zeros_are_torchs_jacobian(zeros):
    x = _zeros((5,), zeros)
    t, w = RNG.standard_normal(5), RNG.standard_normal(5)
    jac = torch.autograd.functional.jacobian(lambda v: torch.cumprod(v, 0), torch.tensor(x)).numpy()
    xn, tn = gc.placeholder((5,), "float64"), gc.placeholder((5,), "float64")
    (vjp,) = gc.grad(gc.sum(gc.cumprod(xn) * w), [xn])
    jvp = gc.jvp(gc.cumprod(xn), [xn], [tn])
    got_vjp, got_jvp = gc.compile([xn, tn], [vjp, jvp])(x, t)
    np.testing.assert_allclose(got_vjp, w @ jac, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got_jvp, jac @ t, rtol=1e-12, atol=1e-15)


def test_sort_and_topk_match_torch_values_indices_and_gradients(backend):
    x = RNG.permutation(12).reshape(3, 4) * 0.5 + RNG.uniform(-0.05, 0.05, (3, 4))
    check_like_torch(gc.sort, lambda t: torch.sort(t).values, x, backend=backend)
    check_like_torch(lambda t: gc.sort(t, 0, descending=True), lambda t: torch.sort(t, 0, descending=True).values, x)
    check_like_torch(lambda t: gc.topk(t, 2)[0], lambda t: torch.topk(t, 2).values, x, backend=backend)
    check_like_torch(lambda t: gc.topk(t, 3, axis=0)[0], lambda t: torch.topk(t, 3, dim=0).values, x)
    xn = gc.placeholder((3, 4), "float64")
    got = gc.compile([xn], [gc.argsort(xn), gc.topk(xn, 2)[1], gc.argsort(xn, 0, descending=True)], backend=backend)(x)
    t = torch.tensor(x)
    np.testing.assert_array_equal(got[0], torch.argsort(t).numpy())
    np.testing.assert_array_equal(got[1], torch.topk(t, 2).indices.numpy())
    np.testing.assert_array_equal(got[2], torch.argsort(t, 0, descending=True).numpy())
    values, indices = gc.tensor(x).sort(descending=True)
    np.testing.assert_array_equal(indices.numpy(), torch.sort(t, descending=True).indices.numpy())


@pytest.mark.parametrize("spec,shapes", [
    ("ij,jk->ik", [(3, 4), (4, 2)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("ij->", [(3, 4)]),
    ("i,j->ij", [(3,), (2,)]), ("...ij,jk->...ik", [(2, 3, 4), (4, 2)]), ("ijk,j", [(2, 3, 2), (3,)]),
    ("ij,ij,j->i", [(2, 3), (2, 3), (3,)]), ("ii->", [(3, 3)]), ("ii->i", [(3, 3)]), ("bii->bi", [(2, 3, 3)]),
    ("iij,j->i", [(3, 3, 2), (2,)]), ("iii->i", [(2, 2, 2)]), ("ii", [(3, 3)]),
])
def test_einsum_matches_torch(spec, shapes):
    arrays = [RNG.standard_normal(s) for s in shapes]
    check_like_torch(lambda *ts: gc.einsum(spec, *ts), lambda *ts: torch.einsum(spec, *ts), *arrays)


def test_einsum_of_one_operand_is_a_copy_not_a_view():
    x = gc.tensor(np.arange(6.0).reshape(2, 3))
    y = gc.einsum("ij->ji", x)
    y += 1.0
    np.testing.assert_array_equal(x.numpy(), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(y.numpy(), np.arange(6.0).reshape(2, 3).T + 1)
    a = np.arange(6.0).reshape(2, 3)
    node = gc.placeholder((2, 3), "float64")
    for backend in BACKENDS:
        assert not np.shares_memory(gc.compile([node], gc.einsum("ij->ji", node), backend=backend)(a), a)


def test_pad_matches_torch_functional_pad():
    x = RNG.standard_normal((2, 3, 4))
    torch_pad = torch.nn.functional.pad  # widths last axis first: (left, right, top, bottom)
    check_like_torch(lambda t: gc.pad(t, ((0, 0), (1, 2), (3, 0)), value=1.5),
                     lambda t: torch_pad(t, (3, 0, 1, 2), value=1.5), x)
    check_like_torch(lambda t: gc.pad(t, ((0, 0), (2, 1), (0, 3)), mode="reflect"),
                     lambda t: torch_pad(t, (0, 3, 2, 1), mode="reflect"), x)
    check_like_torch(lambda t: gc.pad(t, ((0, 0), (2, 1), (1, 3)), mode="edge"),
                     lambda t: torch_pad(t, (1, 3, 2, 1), mode="replicate"), x)



def test_pad_of_a_0d_array_is_a_copy_as_in_numpy(backend):
    # NumPy pads no axis of a 0-d array (np.pad(np.array(3.0), 1) is array(3.0)).
    x = gc.placeholder((), "float64")
    for mode in ("constant", "edge"):
        out = gc.compile([x], gc.pad(x, 1, mode=mode) * 2, backend=backend)(np.array(3.0))
        assert out.shape == () and out == 6.0
    assert float(gc.pad(gc.tensor(np.array(3.0)), 2).numpy()) == 3.0

def test_tril_triu_flip_roll_match_torch(backend):
    x = RNG.standard_normal((2, 3, 4))
    check_like_torch(lambda t: gc.tril(t, -1), lambda t: torch.tril(t, -1), x, backend=backend)
    check_like_torch(lambda t: gc.triu(t, 1), lambda t: torch.triu(t, 1), x, backend=backend)
    check_like_torch(lambda t: gc.flip(t, (0, 2)), lambda t: torch.flip(t, (0, 2)), x, backend=backend)
    check_like_torch(lambda t: gc.roll(t, (1, -3), axis=(1, 2)), lambda t: torch.roll(t, (1, -3), (1, 2)), x)
    check_like_torch(lambda t: gc.roll(t, 7), lambda t: torch.roll(t, 7), x)
    check_like_torch(lambda t: t.flip(1).roll(2, 2).tril(1).triu(-1).cumsum(0).cumprod(2).prod(1),
                     lambda t: t.flip(1).roll(2, 2).tril(1).triu(-1).cumsum(0).cumprod(2).prod(1), x, graph=False)


def test_scatter_add_matches_torch(backend):
    x, src = RNG.standard_normal((3, 4)), RNG.standard_normal((2, 4))
    index = np.array([[0, 2, 2, 1], [2, 2, 0, 0]])
    check_like_torch(lambda a, s: gc.scatter_add(a, 0, index, s),
                     lambda a, s: torch.scatter_add(a, 0, torch.tensor(index), s), x, src, backend=backend)
    check_like_torch(lambda a, s: a.scatter_add(1, gc.tensor(index[:, :3]), s),
                     lambda a, s: a.scatter_add(1, torch.tensor(index[:, :3]), s), x[:2], src[:, :3], graph=False)


def test_scatter_add_reads_only_the_part_of_a_larger_src_that_index_covers():
    """torch's own backward fails on such a src (a gradient of index's shape); graphc's is
    zero beyond index's shape."""
    x, src, index = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 5)), np.array([[0, 2, 1, 1], [2, 2, 0, 0]])
    want = torch.scatter_add(torch.tensor(x), 1, torch.tensor(index), torch.tensor(src)).numpy()
    s = gc.tensor(src, requires_grad=True)
    out = gc.scatter_add(gc.tensor(x), 1, index, s)
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-15)
    out.sum().backward()
    np.testing.assert_array_equal(s.grad.numpy(), np.pad(np.ones((2, 4)), ((0, 1), (0, 1))))


def test_one_hot_is_torch_one_hot_int64():
    labels = np.array([[0, 3, 1], [4, 4, 2]])
    want = torch.nn.functional.one_hot(torch.tensor(labels), 5).numpy()
    eager = gc.one_hot(gc.tensor(labels), 5)
    node = gc.placeholder((2, 3), "int64")
    graph = gc.compile([node], gc.one_hot(node, 5), backend="numba")(labels)
    for got in (eager.numpy(), graph):
        assert got.dtype == want.dtype == np.int64
        np.testing.assert_array_equal(got, want)


def test_any_all_match_torch_and_carry_no_gradient():
    x = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    t = torch.tensor(x)
    np.testing.assert_array_equal(gc.any(gc.tensor(x), 1).numpy(), torch.any(t, 1).numpy())
    np.testing.assert_array_equal(gc.tensor(x).all(0, keepdim=True).numpy(), t.all(0, keepdim=True).numpy())
    node = gc.placeholder((2, 3), "float64")
    for reduce in (gc.any, gc.all):
        with pytest.raises(gc.GradientError, match=reduce.__name__):
            gc.grad(gc.sum(gc.astype(reduce(node, 1), "float64")), node)


# ---- special values ---------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_sort_puts_nan_last_like_numpy_and_topk_counts_nan_largest_like_torch(backend):
    x = np.array([[3.0, np.nan, -np.inf, 1.0, np.inf, -0.0], [np.nan, 2.0, np.nan, 0.0, -1.0, 5.0]])
    node = gc.placeholder(x.shape, "float64")
    values, places, top, top_places = gc.compile(
        [node], [gc.sort(node), gc.argsort(node), *gc.topk(node, 3)], backend=backend)(x)
    np.testing.assert_array_equal(values, np.sort(x))
    np.testing.assert_array_equal(places, np.argsort(x, kind="stable"))
    want = torch.topk(torch.tensor(x), 3)
    np.testing.assert_array_equal(top, want.values.numpy())
    np.testing.assert_array_equal(top_places, want.indices.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_axes_give_numpys_results(backend):
    x = np.zeros((0, 3))
    node = gc.placeholder((None, 3), "float64")
    outs = gc.compile([node], [gc.prod(node, 0), gc.cumsum(node, 0), gc.cumprod(node, 1), gc.sort(node, 0),
                               gc.any(node, 0), gc.all(node, 0), gc.einsum("ij,j->i", node, np.ones(3)),
                               gc.pad(node, ((1, 0), (0, 0)), value=2.0), gc.flip(node, 0), gc.roll(node, 2)],
                      backend=backend)(x)
    wants = [np.prod(x, 0), np.cumsum(x, 0), np.cumprod(x, 1), np.sort(x, 0), np.any(x, 0), np.all(x, 0),
             np.zeros((0,)), np.full((1, 3), 2.0), x, x]
    for got, want in zip(outs, wants):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning, match="Degrees of freedom <= 0"):  # as NumPy
        assert np.isnan(gc.compile([node], gc.var(node, 0), backend=backend)(x)).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_prod_and_var_accumulate_in_float64(backend):
    """NumPy's float32 loops overflow half way through this product (inf) and lose the variance
    of values near 1e4 to rounding; graphc, like its compiled sums, accumulates in float64."""
    x = np.array([1e30, 1e30, 1e-30, 1e-30], np.float32)
    y = (np.float32(1e4) + np.arange(1000, dtype=np.float32) % 7 / np.float32(8)).astype(np.float32)
    xn, yn = gc.placeholder((4,), "float32"), gc.placeholder((1000,), "float32")
    prod, var = gc.compile([xn, yn], [gc.prod(xn), gc.var(yn)], backend=backend)(x, y)
    assert prod.dtype == var.dtype == np.float32
    assert prod == np.float32(np.prod(x.astype(np.float64)))
    assert var == np.float32(np.var(y.astype(np.float64)))
    with np.errstate(over="ignore"):
        assert np.prod(x) == np.inf  # what float32 accumulation gives


def test_prod_keeps_numpys_integer_and_bool_results():
    x = np.array([[2, 3], [4, 5]], np.int32)
    node = gc.placeholder((2, 2), "int32")
    got = gc.compile([node], [gc.prod(node, 1), gc.prod(node > 2)])(x)
    assert got[0].dtype == np.prod(x, 1).dtype and got[0].tolist() == [6, 20]
    assert got[1].dtype == np.prod(x > 2).dtype and got[1] == 0


# ---- errors ---------------------------------------------------------------------------------------
def test_topk_with_k_beyond_the_axis_is_an_error_when_built_and_when_run():
    with pytest.raises(gc.ShapeError, match=r"topk: k=5 is larger than axis 1 of shape \(3, 4\)"):
        gc.topk(gc.placeholder((3, 4), "float64"), 5)
    node = gc.placeholder((3, None), "float64")
    f = gc.compile([node], gc.topk(node, 5)[0])
    with pytest.raises(gc.ShapeError, match="topk: k=5 is larger than axis 1"):
        f(np.zeros((3, 4)))
    with pytest.raises(TypeError, match="k must be a non-negative int"):
        gc.topk(node, -1)


@pytest.mark.parametrize("spec,shapes,match", [
    ("ij,jk", [(3, 4)], "name 2 operands, 1 given"),
    ("ij->i", [(3,)], "has rank 1 but subscripts 'ij' name 2 axes"),
    ("i1->i", [(3, 4)], "invalid subscripts"),
    ("ij->k", [(3, 4)], "'k' is not among the inputs"),
    ("ij->ii", [(3, 4)], "output subscript 'i' repeats"),
    ("i->i->i", [(3,)], "more than one '->'"),
])
def test_bad_einsum_subscripts_are_errors(spec, shapes, match):
    with pytest.raises(ValueError, match=match):
        gc.einsum(spec, *[gc.placeholder(s, "float64") for s in shapes])


def test_einsum_diagonal_gradients_with_sizes_known_only_at_run_time(backend):
    x = RNG.standard_normal((3, 3))
    node = gc.placeholder((None, None), "float64")
    y = gc.einsum("ii->i", node)
    (g,) = gc.grad(gc.sum(y * np.arange(3.0)), [node])
    value, grad = gc.compile([node], [y, g], backend=backend)(x)
    np.testing.assert_array_equal(value, np.diag(x))
    np.testing.assert_array_equal(grad, np.diag(np.arange(3.0)))
    with pytest.raises(gc.ShapeError, match="subscript 'i' has sizes 3 and 4"):
        gc.einsum("ii->", gc.placeholder((3, 4), "float64"))


def test_einsum_sizes_must_agree_when_built_and_when_run():
    with pytest.raises(gc.ShapeError, match="subscript 'j' has sizes 4 and 3"):
        gc.einsum("ij,jk->ik", gc.placeholder((3, 4), "float64"), gc.placeholder((3, 2), "float64"))
    a, b = gc.placeholder((3, None), "float64"), gc.placeholder((None, 2), "float64")
    f = gc.compile([a, b], gc.einsum("ij,jk->ik", a, b))
    with pytest.raises(gc.FeedError, match="dimension 1 of 'input.*' is 4 but dimension 0 of 'input.*' is 1"):
        f(np.ones((3, 4)), np.ones((1, 2)))  # a None dimension never broadcasts implicitly
    c = gc.placeholder((2, None), "float64")
    f = gc.compile([a, c], gc.einsum("ij,kj->ik", a, c[:, :3]))  # no feed check sees through the slice
    with pytest.raises(gc.ShapeError, match="subscript 'j' has sizes 4 and 3"):
        f(np.ones((3, 4)), np.ones((2, 5)))
    with pytest.raises(gc.ShapeError, match="subscript 'j' has sizes 4 and 3"):
        gc.einsum("ij,jk->ik", gc.tensor(np.ones((3, 4))), gc.tensor(np.ones((3, 2))))


@pytest.mark.parametrize("spec,shapes", [("bij,bjk->bik", [(1, 2, 3), (4, 3, 2)]), ("ij,j->i", [(3, 1), (4,)]),
                                         ("...ij,jk", [(2, 1, 3), (3, 2)])])
def test_einsum_broadcasts_size_one_dimensions_like_torch(spec, shapes, backend):
    arrays = [RNG.standard_normal(s) for s in shapes]
    check_like_torch(lambda *ts: gc.einsum(spec, *ts), lambda *ts: torch.einsum(spec, *ts), *arrays, backend=backend)


@pytest.mark.parametrize("pad_width,match", [
    (-1, "must not be negative"), (((1, 2), (3, 4), (5, 6)), "one such pair per axis"),
    (1.5, "pairs of ints|pair of ints"), ("a", "pair of ints"),
])
def test_bad_pad_width_is_an_error(pad_width, match):
    with pytest.raises(ValueError, match=match):
        gc.pad(gc.placeholder((3, 4), "float64"), pad_width)


def test_pad_mode_and_value_errors_name_what_is_supported():
    x = gc.placeholder((3, None), "float64")
    with pytest.raises(ValueError, match="supported modes are constant, reflect, edge"):
        gc.pad(x, 1, mode="wrap")
    with pytest.raises(gc.ShapeError, match="mode 'reflect' needs the size of axis 1"):
        gc.pad(x, 1, mode="reflect")
    with pytest.raises(TypeError, match="value 1.5 cannot be represented in the array's dtype int64"):
        gc.pad(gc.placeholder((3,), "int64"), 1, value=1.5)


def test_scatter_add_and_one_hot_errors():
    x = gc.placeholder((3, 4), "float64")
    index = np.zeros((2, 4), np.int64)
    with pytest.raises(TypeError, match="src must have x's dtype float64"):
        gc.scatter_add(x, 0, index, gc.placeholder((2, 4), "float32"))
    with pytest.raises(gc.ShapeError, match="exceeds src"):
        gc.scatter_add(x, 0, index, gc.placeholder((1, 4), "float64"))
    with pytest.raises(TypeError, match="index must hold integers"):
        gc.scatter_add(x, 0, index.astype(float), gc.placeholder((2, 4), "float64"))
    with pytest.raises(TypeError, match="labels must be integer class indices"):
        gc.one_hot(x, 3)
    with pytest.raises(IndexError, match=r"labels must lie in \[0, 3\)"):
        gc.one_hot(gc.tensor([0, 3]), 3)
