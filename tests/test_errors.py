"""Every user-error path: the error's type and what its message says (the op, the shapes or
dtypes involved, the placeholder's name, and the file:line of the user code that built the node)."""
import re
import sys

import numpy as np
import pytest

import graphc as gc

HERE = __file__


def here():
    """'this_file:line' of the caller's line."""
    return f"{HERE}:{sys._getframe(1).f_lineno}"


def raises(exc, *fragments):
    """pytest.raises of exactly `exc` whose message contains every fragment (literally)."""
    pattern = "".join(f"(?=.*{re.escape(f)})" for f in fragments)
    return pytest.raises(exc, match=re.compile(pattern, re.S))


# ---- shape errors at build time ------------------------------------------------------------------
def test_matmul_shape_error_names_op_shapes_and_user_line():
    a = gc.placeholder((3, 4), name="a")
    b = gc.placeholder((5, 6), name="b")
    with pytest.raises(gc.ShapeError) as info:
        line = here(); a @ b  # noqa: E702  (the site must be this very line)
    msg = str(info.value)
    assert "matmul" in msg and "(3, 4)" in msg and "(5, 6)" in msg
    assert line in msg
    assert isinstance(info.value, ValueError) and isinstance(info.value, gc.GraphcError)
    with raises(gc.ShapeError, "matmul", "(3, 4)", "(5, 6)", HERE):
        gc.matmul(a, b)
    with raises(gc.ShapeError, "matmul", "at least 1 dimension"):
        gc.matmul(a, 2.0)
    with raises(gc.ShapeError, "matmul", "(2, 3, 4)", "(5, 4, 2)", "cannot be broadcast"):
        gc.placeholder((2, 3, 4)) @ gc.placeholder((5, 4, 2))


def test_unknown_sizes_do_not_raise_at_build():
    x = gc.placeholder((None, 4))
    assert (x @ gc.placeholder((None, 6))).shape == (None, 6)
    assert (x + gc.placeholder((7, None))).shape == (7, 4)


@pytest.mark.parametrize("sa,sb,sizes", [((3, 4), (5,), "[4, 5]"), ((2, 3), (3, 2), "[2, 3]"),
                                          ((4, 1, 3), (2, 4), "[3, 4]")])
def test_broadcasting_mismatch(sa, sb, sizes):
    a, b = gc.placeholder(sa), gc.placeholder(sb)
    for fn, name in [(gc.add, "add"), (gc.mul, "mul"), (gc.maximum, "maximum"), (gc.less, "less")]:
        with pytest.raises(gc.ShapeError) as info:
            line = here(); fn(a, b)  # noqa: E702
        msg = str(info.value)
        for part in (name, str(sa).replace(",)", ",)"), "cannot be broadcast", sizes, line):
            assert part in msg, (part, msg)
    with raises(gc.ShapeError, "where", "cannot be broadcast"):
        gc.where(gc.placeholder(sa, bool), a, b)
    with raises(gc.ShapeError, "broadcast_to", str(sa)):
        gc.broadcast_to(a, (7,))


def test_none_dimension_that_would_broadcast_at_run_time():
    x = gc.placeholder((None, 3), name="x")
    y = gc.placeholder((None, 3), name="y")
    line = here(); f = gc.compile([x, y], x + y, backend="numpy")  # noqa: E702
    with raises(gc.FeedError, "'x' is 4", "'y' is 1", "add", line, "does not broadcast a dimension declared None"):
        f(np.ones((4, 3)), np.ones((1, 3)))
    with raises(gc.FeedError, "'x' is 4", "'y' is 2", "add", line):  # checked before the call
        f(np.ones((4, 3)), np.ones((2, 3)))


def test_reshape_size_mismatch():
    a = gc.placeholder((3, 4), name="a")
    with raises(gc.ShapeError, "reshape", "(3, 4)", "size 12", "(5,)", HERE):
        gc.reshape(a, (5,))
    with raises(gc.ShapeError, "reshape", "size 12", "(5, -1)"):
        a.reshape(5, -1)
    with raises(gc.ShapeError, "reshape", "at most one -1"):
        a.reshape(-1, -1)
    with raises(TypeError, "reshape", "shape"):
        a.reshape("3x4")
    x = gc.placeholder((None, 3), name="x")
    f = gc.compile([x], x.reshape(4, -1), backend="numpy")
    with raises(ValueError, "reshape", "size 9", HERE):  # only known at run time: located
        f(np.ones((3, 3)))
    with raises(gc.ShapeError, "reshape_like", "sizes differ"):
        from graphc.ir.ops.shape import reshape_like
        reshape_like(a, gc.placeholder((5,)))


def test_bad_axis():
    a = gc.placeholder((3, 4), name="a")
    for fn in (gc.sum, gc.mean, gc.max, gc.min, gc.logsumexp):
        with raises(gc.ShapeError, fn.__name__, "axis 2", "out of range", "rank 2", HERE):
            fn(a, axis=2)
        with raises(gc.ShapeError, "axis -3", "out of range"):
            fn(a, axis=-3)
        with raises(gc.ShapeError, "repeated axis"):
            fn(a, axis=(1, -1))
        with raises(TypeError, "axis must be int or tuple of ints", "1.5"):
            fn(a, axis=1.5)
    with raises(gc.ShapeError, "softmax", "axis 3"):
        gc.softmax(a, axis=3)
    with raises(gc.ShapeError, "log_softmax", "axis -3"):
        gc.log_softmax(a, axis=-3)
    with raises(TypeError, "argmax", "axis must be None or an int"):
        gc.argmax(a, axis=(0, 1))
    with raises(gc.ShapeError, "argmax", "axis 2"):
        gc.argmax(a, axis=2)
    with raises(gc.ShapeError, "expand_dims", "axis 3", "rank 3"):
        gc.expand_dims(a, 3)
    with raises(gc.ShapeError, "squeeze", "axis 0", "(3, 4)", "size 3, not 1"):
        gc.squeeze(a, 0)
    with raises(gc.ShapeError, "squeeze", "known only at run time", "axis="):
        gc.squeeze(gc.placeholder((None, 1)))
    with raises(gc.ShapeError, "transpose", "not a permutation"):
        gc.transpose(a, (0, 0))
    with raises(gc.ShapeError, "transpose", "not a permutation"):
        a.transpose(1, 0, 2)
    with raises(gc.ShapeError, "concatenate", "axis 2"):
        gc.concatenate([a, a], axis=2)
    with raises(gc.ShapeError, "index_select", "axis 5"):
        gc.index_select(a, 5, [0])
    with raises(gc.ShapeError, "gather", "axis -3"):
        gc.gather(a, -3, np.zeros((3, 4), np.int64))


def test_shape_op_errors():
    a = gc.placeholder((3, 4), name="a")
    with raises(gc.ShapeError, "concatenate", "same rank", "(3, 4)", "(3,)"):
        gc.concatenate([a, gc.placeholder((3,))])
    with raises(gc.ShapeError, "concatenate", "off the joining axis 0", "(2, 5)"):
        gc.concatenate([a, gc.placeholder((2, 5))], axis=0)
    with raises(gc.ShapeError, "zero-dimensional"):
        gc.concatenate([gc.placeholder(()), gc.placeholder(())])
    with raises(ValueError, "stack", "at least one"):
        gc.stack([])
    with raises(gc.ShapeError, "cross_entropy", "(N, C)", "(3, 4)"):
        gc.cross_entropy(a, gc.placeholder((3, 4), "int64"))
    with raises(gc.ShapeError, "cross_entropy", "3 rows", "4 labels"):
        gc.cross_entropy(a, gc.placeholder((4,), "int64"))
    with raises(TypeError, "cross_entropy", "integer class indices", "float64"):
        gc.cross_entropy(a, gc.placeholder((3,)))
    with raises(gc.ShapeError, "gather", "rank of the input", "(3,)", "(3, 4)"):
        gc.gather(a, 0, np.zeros(3, np.int64))
    with raises(gc.ShapeError, "gather", "exceeds", "axis 1"):
        gc.gather(a, 0, np.zeros((2, 5), np.int64))
    with raises(TypeError, "gather", "integers", "float64"):
        gc.gather(a, 0, np.zeros((2, 4)))
    with raises(gc.ShapeError, "index_select", "1-D", "(3, 2)"):
        gc.index_select(a, 0, np.zeros((3, 2), np.int64))
    with raises(TypeError, "index_select", "integers"):
        gc.index_select(a, 0, np.array([0.5]))
    with raises(ValueError, "clip", "at least one"):
        gc.clip(a)
    with raises(TypeError, "clip", "numeric"):
        gc.clip(gc.placeholder((2,), bool), 0, 1)


def test_indexing_errors():
    a = gc.placeholder((3, 4), name="a")
    with raises(IndexError, "index 5", "out of bounds", "axis 0", "size 3"):
        a[5]
    with raises(IndexError, "index -5", "axis 1"):
        a[0, -5]
    with raises(IndexError, "too many indices", "3", "rank 2"):
        a[1, 2, 3]
    with raises(IndexError, "single ellipsis"):
        a[..., ..., 0]
    with raises(TypeError, "integers", "float64"):
        a[np.array([0.5])]
    with raises(TypeError, "integers", "float64"):
        a[gc.placeholder((2,))]
    with raises(TypeError, "boolean mask", "graph value", "gc.where"):
        a[a > 0]
    with raises(TypeError, "bare bool"):
        a[True]
    with raises(TypeError, "slice bounds must be ints"):
        a[0.5:2]
    with raises(ValueError, "step cannot be zero"):
        a[::0]
    x = gc.placeholder((None, 4), name="x")
    i = gc.placeholder((2,), "int64", name="i")
    f = gc.compile([x, i], x[i], backend="numpy")
    with raises(IndexError, "out of bounds", "getitem", HERE):  # only known at run time: located
        f(np.ones((2, 4)), np.array([0, 5]))


# ---- feeds -------------------------------------------------------------------------------------
@pytest.fixture
def fn():
    x = gc.placeholder((None, 3), name="x")
    labels = gc.placeholder((2,), "int64", name="labels")
    return gc.compile([x, labels], x.sum() + labels.sum(), backend="numpy")


def test_missing_feed(fn):
    with raises(gc.FeedError, "missing input", "'x'", "float64(?, 3)", "'labels'", "int64(2,)"):
        fn()
    with raises(gc.FeedError, "missing input", "'labels'", "int64(2,)"):
        fn(np.ones((1, 3)))
    with raises(gc.FeedError, "missing input 'x'"):
        fn(labels=np.array([1, 2]))


def test_unknown_and_duplicate_feeds(fn):
    with raises(gc.FeedError, "unknown input name 'y'", "x, labels"):
        fn(np.ones((1, 3)), np.array([1, 2]), y=1)
    with raises(gc.FeedError, "'x'", "both by position and by name"):
        fn(np.ones((1, 3)), x=np.ones((1, 3)), labels=np.array([1, 2]))
    with raises(gc.FeedError, "at most 2 inputs", "x, labels", "got 3"):
        fn(np.ones((1, 3)), np.array([1, 2]), 3)


def test_mis_shaped_feeds(fn):
    with raises(gc.FeedError, "'x'", "expected shape (?, 3)", "float64(?, 3)", "got shape (2, 4)"):
        fn(np.ones((2, 4)), np.array([1, 2]))
    with raises(gc.FeedError, "'x'", "expected shape (?, 3)", "got shape (3,)"):
        fn(np.ones(3), np.array([1, 2]))
    with raises(gc.FeedError, "'labels'", "expected shape (2,)", "int64(2,)", "got shape (3,)"):
        fn(np.ones((1, 3)), np.array([1, 2, 3]))
    with raises(gc.FeedError, "'labels'", "expected shape (2,)", "got shape ()"):
        fn(np.ones((1, 3)), 1)


def test_mis_typed_feeds(fn):
    with raises(gc.FeedError, "'x'", "expected float data", "float64(?, 3)", "dtype int64", "(2, 3)"):
        fn(np.ones((2, 3), np.int64), np.array([1, 2]))
    with raises(gc.FeedError, "'x'", "expected float data", "dtype bool"):
        fn(np.ones((2, 3), bool), np.array([1, 2]))
    with raises(gc.FeedError, "'labels'", "expected integer data", "int64(2,)", "dtype float64"):
        fn(np.ones((1, 3)), np.array([1.0, 2.0]))
    with raises(gc.FeedError, "'labels'", "int64(2,)", "list", "float64"):
        fn(np.ones((1, 3)), [1.5, 2.0])
    with raises(gc.FeedError, "'x'", "float64(?, 3)", "list"):
        fn([["a", "b", "c"]], np.array([1, 2]))
    with raises(gc.FeedError, "'x'", "float64(?, 3)"):
        fn(object(), np.array([1, 2]))


def test_compile_with_a_placeholder_not_among_inputs():
    x = gc.placeholder((2,), name="x")
    z = gc.placeholder((None, 2), "float32", name="z")
    line = here(); z2 = z * 2  # noqa: E702
    with raises(gc.FeedError, "compile", "placeholder 'z'", "float32(?, 2)", "not among the inputs"):
        gc.compile([x], x.sum() + z2.sum(), backend="numpy")
    w = gc.Variable(np.zeros(2), name="w")
    with raises(gc.FeedError, "placeholder 'z'"):  # reached only through an update
        gc.compile([x], x, updates={w: w + z[0].astype("float64")}, backend="numpy")
    assert line.startswith(HERE)


def test_compile_argument_errors():
    x = gc.placeholder((2,), name="x")
    w = gc.Variable(np.zeros(2), name="w")
    with raises(ValueError, "unknown backend 'nope'", "numpy"):
        gc.compile([x], x, backend="nope")
    with raises(TypeError, "inputs must be placeholders", "Variable w"):
        gc.compile([w], w, backend="numpy")
    with raises(TypeError, "inputs must be placeholders"):
        gc.compile([x * 2], x, backend="numpy")
    with raises(ValueError, "share the name", "x"):
        gc.compile([x, gc.placeholder((2,), name="x")], x, backend="numpy")
    with raises(TypeError, "outputs must be graph nodes", "float"):
        gc.compile([x], [3.0], backend="numpy")
    with raises(TypeError, "updates keys must be Variables"):
        gc.compile([x], x, updates={x: x}, backend="numpy")
    with raises(TypeError, "update of w must be a graph node", "float"):
        gc.compile([x], x, updates={w: 3.0}, backend="numpy")


def test_update_dtype_and_shape_mismatch():
    w = gc.Variable(np.zeros(3), name="w")
    with raises(TypeError, "update of w", "float32", "float64", ".astype('float64')", HERE):
        gc.compile([], [], updates={w: w.astype("float32")}, backend="numpy")
    with raises(gc.ShapeError, "update of w", "(6,)", "(3,)", HERE):
        gc.compile([], [], updates={w: gc.concatenate([w, w])}, backend="numpy")
    with raises(gc.ShapeError, "update of w", "()", "(3,)"):
        gc.compile([], [], updates={w: w.sum()}, backend="numpy")
    x = gc.placeholder((None,), name="x")
    v = gc.Variable(np.zeros(1), name="v")
    f = gc.compile([x], [], updates={v: v + x}, backend="numpy")  # (?,) may be (1,) at run time
    with raises(gc.ShapeError, "update of v", "computed shape (2,)", "(1,)", "no variable was changed"):
        f(np.ones(2))


def test_variable_value_assignment_errors():
    w = gc.Variable(np.zeros((2, 3)), name="w")
    with raises(gc.ShapeError, "Variable w", "shape (3, 2)", "expected (2, 3)"):
        w.value = np.zeros((3, 2))
    with raises(gc.ShapeError, "Variable w", "shape ()"):
        w.value = 1.0
    with raises(TypeError, "Variable w", "complex128", "float64"):
        w.value = np.zeros((2, 3), complex)
    i = gc.Variable(np.zeros(2, np.int64), name="i")
    with raises(TypeError, "Variable i", "float64", "int64"):
        i.value = np.array([0.5, 1.5])
    np.testing.assert_array_equal(w.value, np.zeros((2, 3)))  # unchanged after the failures


def test_node_has_no_truth_value_and_no_array_value():
    x = gc.placeholder((2,), name="x")
    line = here(); y = x > 0  # noqa: E702
    with raises(TypeError, "truth value", "only known when the graph runs", "gc.where", line):
        if y:
            pass
    with raises(TypeError, "truth value"):
        bool(x)
    with raises(TypeError, "truth value"):
        x and 1
    with raises(TypeError, "no value until it is compiled", "gc.compile", "x"):
        np.asarray(x)
    with raises(TypeError, "no value until it is compiled"):
        np.array(x * 2)
    with raises(TypeError, "len() of a 0-d node"):
        len(x.sum())


# ---- gradients -----------------------------------------------------------------------------------
def test_gradient_argument_errors():
    x = gc.placeholder((None, 3), name="x")
    i = gc.placeholder((3,), "int64", name="i")
    with raises(gc.ShapeError, "grad", "must be a scalar", "(?, 3)", "grad_y="):
        gc.grad(x * 2, x)
    with raises(gc.ShapeError, "must be a scalar", "but x has shape (?, 3)"):
        gc.grad(x, x)
    with raises(gc.ShapeError, "grad_y has shape (2,)", "(?, 3)"):
        gc.grad(x * 2, x, grad_y=np.ones(2))
    with raises(TypeError, "grad", "integer/bool dtype int64", "i"):
        gc.grad(x.sum() + i.sum(), i)
    with raises(TypeError, "y must be a graph node", "float"):
        gc.grad(3.0, x)
    with raises(TypeError, "with respect to graph nodes", "ndarray"):
        gc.grad(x.sum(), [np.ones(3)])
    with raises(gc.ShapeError, "jvp", "tangent shape (4,)", "(?, 3)"):
        gc.jvp(x.sum(), x, np.ones(4))
    with raises(ValueError, "jvp", "1 tangents for 2 inputs"):
        gc.jvp(x.sum(), [x, x], [np.ones(3)])


def test_gradient_error_names_the_blocking_op_and_its_site():
    x = gc.placeholder((3,), name="x")
    line = here(); k = gc.argmax(x)  # noqa: E702
    y = (k * 1.0) + 2.0
    with pytest.raises(gc.GradientError) as info:
        gc.grad(y, x)
    msg = str(info.value)
    assert "'argmax'" in msg and line in msg and "non-differentiable" in msg and "stop_gradient" in msg
    assert isinstance(info.value, ValueError)


# ---- constructors ------------------------------------------------------------------------------
def test_leaf_constructor_errors():
    with raises(TypeError, "placeholder", "non-negative ints or None", "(3, -1)"):
        gc.placeholder((3, -1))
    with raises(TypeError, "placeholder", "non-negative ints or None"):
        gc.placeholder((2.5,))
    with raises(ValueError, "placeholder", "Python identifier", "'bad name'"):
        gc.placeholder((3,), name="bad name")
    with raises(TypeError, "constant", "object"):
        gc.constant(object())
    with raises(TypeError, "data type"):
        gc.placeholder((2,), "notadtype")


def test_run_time_errors_name_the_op_and_the_user_line():
    logits = gc.placeholder((None, 4), name="logits")
    labels = gc.placeholder((None,), "int64", name="labels")
    line = here(); loss = gc.cross_entropy(logits, labels)  # noqa: E702
    f = gc.compile([logits, labels], loss, backend="numpy")
    with raises(IndexError, "cross_entropy", "labels must lie in [0, 4)", "0 to 4", line):
        f(np.ones((3, 4)), np.array([0, 4, 1]))
    with raises(IndexError, "-1 to 1"):
        f(np.ones((2, 4)), np.array([-1, 1]))
