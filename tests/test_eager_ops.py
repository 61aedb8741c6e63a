"""Every op in eager mode, driven by the registry's test domains (tests/op_domains.py): values equal
graph mode's and the NumPy reference; first- and second-order gradients from the tape equal the
symbolic gradients of graph mode and central finite differences of the reference."""
import numpy as np
import pytest

import graphc as gc
from graphc.ir import OPS
from op_domains import ALL_CASES, GRAD_CASES, NONDIFF_CASES, SECOND_ORDER_CASES, case_ids, run

EAGER = [c for c in ALL_CASES if not c.graph_only]
EAGER_GRAD = [c for c in GRAD_CASES if not c.graph_only]
EAGER_SECOND = [c for c in SECOND_ORDER_CASES if not c.graph_only]
EAGER_NONDIFF = [c for c in NONDIFF_CASES if not c.graph_only]


def _tensors(case, arrays, grad=True):
    return [gc.tensor(a, requires_grad=grad and i in case.diff) for i, a in enumerate(arrays)]


def _weights(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def test_every_op_has_an_eager_case():
    covered = {c.op for c in EAGER}
    graph_leaves = {"placeholder", "constant", "variable"}
    by_passes = {name for name, op in OPS.items() if op.created_by_passes}  # never run eagerly
    # A random op reads a generator state Variable; eager draws (gc.dropout on a tensor) take
    # the same Philox stream directly, and tests/test_random.py checks they agree with graphs.
    stateful = {name for name, op in OPS.items() if op.draws_random}
    assert sorted(set(OPS) - covered - graph_leaves - by_passes - stateful) == []


@pytest.mark.parametrize("case", EAGER, ids=case_ids(EAGER))
def test_value_matches_graph_and_reference(case):
    arrays = case.inputs(seed=3)
    with np.errstate(all="ignore"):
        out = case.build(*_tensors(case, arrays, grad=False))
    xs = case.placeholders()
    node = case.build(*xs)
    graph = run(xs, node, arrays)
    assert isinstance(out, gc.Tensor)
    assert out.shape == graph.shape == tuple(node.shape)
    assert out.dtype == node.dtype
    np.testing.assert_array_equal(out.numpy(), graph)
    np.testing.assert_allclose(out.numpy(), case.expected(arrays), rtol=case.rtol, atol=case.atol)


@pytest.mark.parametrize("case", EAGER_GRAD, ids=case_ids(EAGER_GRAD))
def test_gradient_matches_graph_and_finite_differences(case):
    arrays = case.inputs(seed=1)
    ts = _tensors(case, arrays)
    out = case.build(*ts)
    r = _weights(out.shape, 101)
    xs = case.placeholders()
    node = case.build(*xs)
    graph = run(xs, gc.grad(gc.sum(node * r), [xs[i] for i in case.diff]), arrays)
    if not out.requires_grad:  # only shape-reading paths (axis_size, zeros_like): no gradient at all
        assert all(not np.any(g) for g in graph)
        return
    assert out.grad_fn is not None or out is ts[0]  # the identity case returns its input
    with np.errstate(all="ignore"):  # pow's rule evaluates log(0) on the branch `where` discards
        (out * r).sum().backward()
    # An input read only for its shape (sum_like's reference) is not in the tape: .grad stays None
    # where graph mode returns zeros.
    eager = [ts[i].grad if ts[i].grad is not None else gc.zeros_like(arrays[i]) for i in case.diff]
    tangents = [_weights(arrays[i].shape, 300 + i) for i in case.diff]
    for i, g, want in zip(case.diff, eager, graph):
        assert g.shape == arrays[i].shape and g.dtype == arrays[i].dtype
        np.testing.assert_allclose(g.numpy(), want, rtol=1e-12, atol=1e-14, err_msg=f"input {i}")
    # <grad, t> against the central difference of <ref, r> along t
    ref, h = case.derivative_ref(arrays), case.fd_eps
    plus, minus = list(arrays), list(arrays)
    for i, t in zip(case.diff, tangents):
        plus[i], minus[i] = arrays[i] + h * t, arrays[i] - h * t
    with np.errstate(all="ignore"):
        up, down = (np.sum(np.asarray(ref(*a), np.float64) * r) for a in (plus, minus))
    fd = (up - down) / (2 * h)
    directional = sum(float(np.sum(g.numpy() * t)) for g, t in zip(eager, tangents))
    scale = sum(float(np.sum(np.abs(g.numpy() * t))) for g, t in zip(eager, tangents))
    assert abs(directional - fd) <= case.grad_atol + case.grad_rtol * scale + 1e-6, (directional, fd)


@pytest.mark.parametrize("case", EAGER_SECOND, ids=case_ids(EAGER_SECOND))
def test_second_order_matches_graph(case):
    arrays = case.inputs(seed=1)
    ts = _tensors(case, arrays)
    wrt = [ts[i] for i in case.diff]
    out = case.build(*ts)
    r = _weights(out.shape, 101)
    if not out.requires_grad:
        return  # no path at all (shape-only inputs); the first-order test checks graph mode agrees
    with np.errstate(all="ignore"):
        grads = gc.autograd.grad((out * r).sum(), wrt, create_graph=True, allow_unused=True)
    r2 = [_weights(arrays[i].shape, 200 + i) for i in case.diff]
    loss2 = sum(((g * w).sum() for g, w in zip(grads, r2) if g is not None and g.requires_grad),
                gc.tensor(0.0))
    hess = (gc.autograd.grad(loss2, wrt, allow_unused=True) if loss2.requires_grad
            else [None] * len(wrt))
    xs = case.placeholders()
    pw = [xs[i] for i in case.diff]
    first = gc.grad(gc.sum(case.build(*xs) * r), pw)
    second = gc.grad(sum((gc.sum(g * w) for g, w in zip(first[1:], r2[1:])), gc.sum(first[0] * r2[0])), pw)
    want = run(xs, second, arrays)
    for i, h, w in zip(case.diff, hess, want):
        got = np.zeros(arrays[i].shape) if h is None else h.numpy()
        np.testing.assert_allclose(got, w, rtol=1e-9, atol=1e-12, err_msg=f"input {i}")


@pytest.mark.parametrize("case", EAGER_NONDIFF, ids=case_ids(EAGER_NONDIFF))
def test_nondifferentiable_op_output_does_not_require_grad(case):
    arrays = case.inputs()
    ts = [gc.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    out = case.build(*ts)
    assert not out.requires_grad and out.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        out.sum().backward()
