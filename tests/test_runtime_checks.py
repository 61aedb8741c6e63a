"""Run-time checks run whenever an op's value, or a gradient that needs it, is computed.

A step that asks only for gradients, or only for updates, may never compute the op itself (dead
code elimination drops it): the gradient's own ops must make the same checks. Each case builds
such a step on both backends and feeds a bad label or index; it must raise, naming the op and the
user's line, and change no Variable. Good feeds must give NumPy's values.
"""
import re
import sys

import numpy as np
import pytest

import graphc as gc

BACKENDS = ["numpy", "numba"]


def here(offset=0):
    """'this_file:line' of the caller's line (plus offset)."""
    return f"{__file__}:{sys._getframe(1).f_lineno + offset}"


def raises(exc, *fragments):
    """pytest.raises of `exc` whose message contains every fragment (literally)."""
    pattern = "".join(f"(?=.*{re.escape(f)})" for f in fragments)
    return pytest.raises(exc, match=re.compile(pattern, re.S))


def op_names(step):
    """The ops a compiled step runs, fused kernels' members included."""
    names = set()
    for node in step.graph.nodes:
        names.add(node.op.name)
        if node.op.name == "fused":
            names.update(m.op.name for m in node.attrs["body"].nodes)
    return names


# ---- cross_entropy: the labels are checked by the gradient too ---------------------------------
@pytest.fixture(scope="module")
def classifier():
    x = gc.placeholder((None, 4), name="x")
    y = gc.placeholder((None,), "int64", name="y")
    W = gc.Variable(np.linspace(-1, 1, 12).reshape(4, 3), name="W")
    site = here(); loss = gc.cross_entropy(x @ W, y)  # noqa: E702
    gW = gc.grad(loss, W)
    return x, y, W, loss, gW, site


def _ce_reference(xv, W, yv):
    """Loss and d loss / d W of mean cross-entropy, written out in NumPy."""
    z = xv @ W
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(len(yv)), yv]))
    return loss, xv.T @ ((p - np.eye(W.shape[1])[yv]) / len(yv))


@pytest.mark.parametrize("optimize", [True, False])
@pytest.mark.parametrize("backend", BACKENDS)
def test_cross_entropy_gradient_only_step_checks_labels(classifier, backend, optimize):
    x, y, W, loss, gW, site = classifier
    step = gc.compile([x, y], [gW], backend=backend, optimize=optimize)
    if optimize:
        assert "cross_entropy" not in op_names(step)  # the loss itself is not computed
    xv = np.arange(12.0).reshape(3, 4) / 10
    for bad, span in [(3, "0 to 3"), (-1, "-1 to 2")]:
        with raises(IndexError, "labels must lie in [0, 3)", span, site):
            step(xv, np.array([0, bad, 2]))
    good = np.array([0, 1, 2])
    np.testing.assert_allclose(step(xv, good)[0], _ce_reference(xv, W.value, good)[1], rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cross_entropy_update_only_step_checks_labels(classifier, backend):
    x, y, W, loss, gW, site = classifier
    step = gc.compile([x, y], [], updates={W: W - 0.5 * gW}, backend=backend)
    before = W.value.copy()
    xv = np.arange(12.0).reshape(3, 4) / 10
    with raises(IndexError, "labels must lie in [0, 3)", "0 to 7", site):
        step(xv, np.array([0, 7, 2]))
    np.testing.assert_array_equal(W.value, before)  # nothing assigned by the failed call
    good = np.array([2, 1, 0])
    step(xv, good)
    np.testing.assert_allclose(W.value, before - 0.5 * _ce_reference(xv, before, good)[1], rtol=1e-12)
    W.value = before


@pytest.mark.parametrize("backend", BACKENDS)
def test_cross_entropy_rows_must_match_labels_at_run_time(backend):
    # The rows come out of a reshape, so checking the feeds against each other cannot tie them to
    # the labels: NumPy's reference picked the first rows silently, the numba kernel read past the labels.
    flat = gc.placeholder((None,), name="flat")
    y = gc.placeholder((None,), "int64", name="y")
    W = gc.Variable(np.linspace(-1, 1, 12).reshape(4, 3), name="W")
    site = here(); loss = gc.cross_entropy(gc.reshape(flat, (-1, 4)) @ W, y)  # noqa: E702
    step = gc.compile([flat, y], loss, backend=backend)
    xv = np.arange(12.0) / 10
    for n in (1, 2, 4):
        with raises(ValueError, "cross_entropy", "3 rows of logits (3, 3)", f"{n} labels ({n},)", site):
            step(xv, np.zeros(n, np.int64))
    good = np.array([0, 1, 2])
    np.testing.assert_allclose(step(xv, good), _ce_reference(xv.reshape(3, 4), W.value, good)[0], rtol=1e-12)


# ---- index ops: the scatters of their gradients check the indices as the reads do --------------
# name -> (the op applied to a (3, 2) x and an int64 index i of shape (2,), the line that builds it)
FORWARDS = {
    "index_select": (lambda x, i: gc.index_select(x, 0, i), here()),
    "gather": (lambda x, i: gc.gather(x, 0, gc.reshape(i, (2, 1))), here()),
    "getitem": (lambda x, i: x[i], here()),
}
# (name, a bad index, what the message says); getitem follows NumPy, where -1 is the last entry
INDEX_CASES = [
    ("index_select", -1, ("index -1 is out of bounds for dimension 0 with size 3", "no negative indices")),
    ("index_select", 3, ("index 3 is out of bounds for dimension 0 with size 3",)),
    ("gather", -1, ("index -1 is out of bounds for dimension 0 with size 3", "no negative indices")),
    ("gather", 3, ("index 3 is out of bounds for dimension 0 with size 3",)),
    ("getitem", 3, ("index 3 is out of bounds for axis 0 with size 3",)),
    ("getitem", -4, ("index -4 is out of bounds for axis 0 with size 3",)),
]


def _index_reference(name, xv, iv, gv):
    """The forward value and the gradient given cotangent gv, in NumPy."""
    grad = np.zeros_like(xv)
    if name == "gather":
        col = np.zeros((len(iv), 1), np.int64)
        np.add.at(grad, (iv.reshape(-1, 1), col), gv)
        return xv[iv][:, :1], grad  # out[r, 0] = x[i[r], 0]
    np.add.at(grad, iv, gv)
    return xv[iv], grad


@pytest.fixture(scope="module", params=BACKENDS)
def index_steps(request):
    """Per case: a forward step, a gradient-only step and an update-only step (cotangent fed)."""
    steps = {}
    for name, (forward, site) in FORWARDS.items():
        x = gc.Variable(np.arange(6.0).reshape(3, 2), name="x")
        i = gc.placeholder((2,), "int64", name="i")
        out = forward(x, i)
        gy = gc.placeholder(out.shape, name="gy")  # a fed cotangent: the forward value is not needed
        gx = gc.grad(out, x, grad_y=gy)
        compile_ = lambda *a, **k: gc.compile(*a, backend=request.param, **k)  # noqa: E731
        steps[name] = (x, site, compile_([i], out), compile_([i, gy], gx),
                       compile_([i, gy], [], updates={x: x - gx}))
    return steps


@pytest.mark.parametrize("name, bad, message", INDEX_CASES, ids=[f"{c[0]}[{c[1]}]" for c in INDEX_CASES])
def test_index_checks_run_in_gradient_and_update_only_steps(index_steps, name, bad, message):
    x, site, value_step, grad_step, update_step = index_steps[name]
    assert name not in op_names(grad_step) and name not in op_names(update_step)
    start = x.value.copy()
    gv = np.array([[1.0, 10.0], [100.0, 1000.0]])[:, :1 if name == "gather" else 2]
    iv = np.array([0, bad])
    for step, args in [(value_step, (iv,)), (grad_step, (iv, gv)), (update_step, (iv, gv))]:
        with raises(IndexError, *message, site):
            step(*args)
    np.testing.assert_array_equal(x.value, start)
    good = np.array([2, 0])
    want_value, want_grad = _index_reference(name, start, good, gv)
    np.testing.assert_array_equal(value_step(good), want_value)
    np.testing.assert_array_equal(grad_step(good, gv), want_grad)
    update_step(good, gv)
    np.testing.assert_array_equal(x.value, start - want_grad)
    x.value = start


def test_constant_negative_index_fails_at_build_time():
    x = gc.placeholder((3, 2), name="x")
    line = here(); bad = lambda: gc.index_select(x, 0, [1, -1])  # noqa: E702, E731
    with raises(IndexError, "index_select", "index -1 is out of bounds for dimension 0 with size 3", line):
        bad()
    with raises(IndexError, "gather", "index -2 is out of bounds for dimension 1 with size 2"):
        gc.gather(x, 1, [[0], [-2]])


def test_eager_index_select_and_gather_reject_negative_indices():
    t = gc.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    with raises(IndexError, "index_select", "index -1 is out of bounds for dimension 0 with size 3"):
        gc.index_select(t, 0, gc.tensor([0, -1]))
    with raises(IndexError, "gather", "index -1 is out of bounds for dimension 1 with size 2"):
        t.gather(1, gc.tensor([[0], [-1], [1]]))
    picked = t.gather(1, gc.tensor([[1], [0], [1]]))
    np.testing.assert_array_equal(picked.detach().numpy(), [[1.0], [2.0], [5.0]])
    picked.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [[0, 1], [1, 0], [0, 1]])


# ---- boolean masks must match the axis they index ---------------------------------------------
MASK_ERROR = "boolean index did not match indexed array along axis {}; size of axis is {} but size of corresponding boolean axis is {}"


def test_mask_of_wrong_length_fails_at_build_time():
    x = gc.placeholder((3, 4), name="x")
    line = here(); bad = lambda key: x[key]  # noqa: E702, E731
    with raises(IndexError, MASK_ERROR.format(0, 3, 2), line):
        bad(np.array([True, False]))
    with raises(IndexError, MASK_ERROR.format(1, 4, 5)):
        bad((slice(None), np.ones(5, bool)))
    with raises(IndexError, MASK_ERROR.format(1, 4, 3)):
        bad((0, np.ones(3, bool)))  # the axis counts the int-indexed one, as NumPy's message does
    with raises(IndexError, MASK_ERROR.format(1, 4, 3)):
        bad(np.ones((3, 3), bool))
    assert x[np.array([True, False, True])].shape == (2, 4)


@pytest.fixture(scope="module", params=BACKENDS)
def mask_steps(request):
    x = gc.placeholder((None, 4), name="x")
    mask = np.array([True, False])
    site = here(); out = x[mask]  # noqa: E702
    gy = gc.placeholder(out.shape, name="gy")
    gx = gc.grad(out, x, grad_y=gy)
    return site, gc.compile([x], out, backend=request.param), gc.compile([x, gy], gx, backend=request.param)


def test_mask_of_wrong_length_fails_at_run_time(mask_steps):
    site, value_step, grad_step = mask_steps
    assert "getitem" not in op_names(grad_step)
    xv, gv = np.arange(12.0).reshape(3, 4), np.ones((1, 4))
    with raises(IndexError, MASK_ERROR.format(0, 3, 2), site):
        value_step(xv)
    with raises(IndexError, MASK_ERROR.format(0, 3, 2), site):
        grad_step(xv, gv)
    np.testing.assert_array_equal(value_step(xv[:2]), xv[:2][np.array([True, False])])
    np.testing.assert_array_equal(grad_step(xv[:2], gv), [[1, 1, 1, 1], [0, 0, 0, 0]])


def test_eager_mask_of_wrong_length():
    t = gc.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    for mask in (np.array([True, False]), gc.tensor([True, False])):
        with raises(IndexError, MASK_ERROR.format(0, 3, 2)):
            t[mask]
    plain = gc.tensor(np.zeros((3, 4)))
    with raises(IndexError, MASK_ERROR.format(0, 3, 2)):
        plain[np.array([True, False])] = 5.0
    np.testing.assert_array_equal(plain.numpy(), np.zeros((3, 4)))
    plain[np.array([True, False, True])] = 5.0
    np.testing.assert_array_equal(plain.numpy(), [[5] * 4, [0] * 4, [5] * 4])
