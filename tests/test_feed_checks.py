"""Feeds checked against each other before a call, ragged and overflowing feeds, and errors
from inside compiled steps that name the op and the user's line."""
import inspect

import numpy as np
import pytest

import graphc as gc

BACKENDS = ["numba", "numpy"]


def line_of(marker):
    """The line number of the statement in this file that contains `marker`."""
    source, _ = inspect.getsourcelines(inspect.getmodule(line_of))
    return next(n for n, text in enumerate(source, start=1) if marker in text and "line_of" not in text)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("by_name", [False, True])
def test_none_dims_that_meet_must_agree(backend, by_name):
    x = gc.placeholder((None, 3), name="x")
    y = gc.placeholder((None, 3), name="y")
    f = gc.compile([x, y], gc.exp(x) * y, backend=backend)  # meet here
    feeds = {"x": np.ones((4, 3)), "y": np.ones((5, 3))}
    message = (r"inputs 'x' and 'y' disagree: dimension 0 of 'x' is 4 but dimension 0 of 'y' is 5; they must be "
               rf"equal where they meet in mul built at .*test_feed_checks.py:{line_of('# meet here')}")
    with pytest.raises(gc.FeedError, match=message):
        f(**feeds) if by_name else f(*feeds.values())
    np.testing.assert_array_equal(f(np.ones((5, 3)), np.full((5, 3), 2.0)), np.full((5, 3), 2 * np.e))


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_only_step_checks_logits_against_labels(backend):
    x = gc.placeholder((None, 3), name="x")
    labels = gc.placeholder((None,), "int64", name="labels")
    W = gc.Variable(np.ones((3, 2)), name="W")
    step = gc.compile([x, labels], gc.grad(gc.cross_entropy(x @ W, labels), W), backend=backend)
    with pytest.raises(gc.FeedError, match="inputs 'x' and 'labels' disagree: dimension 0 of 'x' is 4 but "
                                           "dimension 0 of 'labels' is 5"):
        step(np.ones((4, 3)), np.zeros(5, np.int64))
    assert step(np.ones((4, 3)), np.zeros(4, np.int64)).shape == (3, 2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_matmul_contraction_and_batch_sizes_are_checked(backend):
    a = gc.placeholder((None, None), name="a")
    b = gc.placeholder((None, 2), name="b")
    f = gc.compile([a, b], a @ b, backend=backend)
    with pytest.raises(gc.FeedError, match="dimension 1 of 'a' is 3 but dimension 0 of 'b' is 4"):
        f(np.ones((2, 3)), np.ones((4, 2)))
    np.testing.assert_array_equal(f(np.ones((2, 3)), np.ones((3, 2))), np.full((2, 2), 3.0))
    p = gc.placeholder((None, 2, 3), name="p")
    q = gc.placeholder((None, 3, 4), name="q")
    g = gc.compile([p, q], (p @ q).sum(axis=(1, 2)), backend=backend)
    with pytest.raises(gc.FeedError, match="dimension 0 of 'p' is 2 but dimension 0 of 'q' is 5"):
        g(np.ones((2, 2, 3)), np.ones((5, 3, 4)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_none_dim_meeting_a_known_size_and_itself(backend):
    z = gc.placeholder((None,), name="z")
    f = gc.compile([z], z + np.arange(5.0), backend=backend)
    with pytest.raises(gc.FeedError, match=r"input 'z': dimension 0 is 4 at run time but must be 5, the size it "
                                           r"meets in add built at"):
        f(np.ones(4))
    a = gc.placeholder((None, None), name="a")
    g = gc.compile([a], a + a.T, backend=backend)
    with pytest.raises(gc.FeedError, match="input 'a': dimensions 0 and 1 are 2 and 3 at run time"):
        g(np.ones((2, 3)))
    np.testing.assert_array_equal(g(np.eye(2)), 2 * np.eye(2))


@pytest.mark.parametrize("backend", BACKENDS)
def test_sizes_that_need_not_agree_are_not_checked(backend):
    x = gc.placeholder((None, 3), name="x")
    y = gc.placeholder((None, 3), name="y")
    total = gc.concatenate([x, y]).sum() + x.sum(axis=0).sum() * y.mean()
    f = gc.compile([x, y], total, backend=backend)
    got = f(np.ones((4, 3)), np.full((5, 3), 2.0))
    np.testing.assert_allclose(got, 12 + 30 + 12 * 2.0, rtol=1e-15)


def test_a_clash_the_check_cannot_see_names_the_op_and_line():
    # x.reshape hides the relation between the sizes: the kernel itself fails, and the error
    # names the op and line (on the numba backend as on the reference).
    x = gc.placeholder((None, 3), name="x")
    y = gc.placeholder((None,), name="y")
    for backend in BACKENDS:
        f = gc.compile([x, y], gc.exp(x.reshape((-1,))) * y, backend=backend)  # hidden clash
        with pytest.raises(ValueError, match=rf"while computing mul built at .*test_feed_checks.py:"
                                             rf"{line_of('# hidden clash')}"):
            f(np.ones((4, 3)), np.ones(5))


@pytest.mark.parametrize("backend", BACKENDS)
def test_ragged_feed_is_a_feed_error(backend):
    x = gc.placeholder((None, 2), name="x")
    f = gc.compile([x], x * 2.0, backend=backend)
    with pytest.raises(gc.FeedError, match=r"input 'x': expected float64\(\?, 2\), got a list that is not a "
                                           r"rectangular array"):
        f([[1.0, 2.0], [3.0]])
    np.testing.assert_array_equal(f([[1, 2], [3, 4]]), [[2.0, 4.0], [6.0, 8.0]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_integer_feeds_that_do_not_fit_overflow(backend):
    x = gc.placeholder((None,), "int8", name="x")
    f = gc.compile([x], x + x, backend=backend)
    for bad in ([1, 300], [-129], np.array([5, 300])):
        with pytest.raises(OverflowError, match=r"input 'x': integer (300|-129) is out of bounds for int8"):
            f(bad)
    # values that fit are taken, and int8 arithmetic wraps as NumPy's does
    np.testing.assert_array_equal(f([-128, 127, 3]), np.array([-128, 127, 3], np.int8) * np.int8(2))
    np.testing.assert_array_equal(f(np.array([100], np.int64)), np.array([-56], np.int8))


def test_variable_assignment_that_does_not_fit_overflows():
    v = gc.Variable(np.zeros(2, np.uint8), name="counts")
    for bad in ([1, 256], [-1, 0]):
        with pytest.raises(OverflowError, match=r"Variable counts: integer (256|-1) is out of bounds for uint8"):
            v.value = bad
        np.testing.assert_array_equal(v.value, [0, 0])  # a failed assignment changes nothing
    small = gc.Variable(np.zeros(1, np.int8), name="small")
    with pytest.raises(OverflowError, match=r"Variable small: integer 300 is out of bounds for int8"):
        small.value = np.array([300], np.int16)
    v.value = [3, 255]
    assert v.value.dtype == np.uint8 and v.value.tolist() == [3, 255]
    with pytest.raises(TypeError, match="cannot assign a float64 value to a uint8 variable"):
        v.value = [1.5, 2.0]


def test_a_kernel_numba_cannot_compile_names_its_ops_and_line(monkeypatch):
    from graphc.backends.numba_backend import codegen

    def broken_expression(node, args):  # stands for any kernel numba fails to type
        return "undefined_function(" + ", ".join(args) + ")"

    monkeypatch.setattr(codegen, "scalar_expression", broken_expression)
    x = gc.placeholder((None,), name="x")
    y = gc.tanh(x) * 3.0  # the kernel's root
    with pytest.raises(Exception, match=rf"while computing mul in the fused kernel tanh -> mul built at "
                                        rf".*test_feed_checks.py:{line_of('# the kernel')}"):
        gc.compile([x], y)
