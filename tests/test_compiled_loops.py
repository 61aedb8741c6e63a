"""Scans whose whole loop is one numba function (backends/numba_backend/compiled_loop.py).

Each compiled loop is checked against the numpy backend (the shared interpreter running the
body step by step): forward values, gradients (which read the stored history), reverse scans,
reductions and 0-d carries, multi-output kernels, transposed and float32 matmuls, integer
wrapping and special values. The cases it must leave to the Python-driven loop (None dims,
zero trips, NaN checks) and a failing step (the error names the op and the user's line) too."""
import re

import numba
import numpy as np
import pytest

import graphc as gc
from concurrency import threads_with_wrong_results

HERE = re.escape(__file__)


def compiled_loops(f):
    """How many scans of the compiled function run as one numba function."""
    return sum(entry["kernel"].startswith("scan loop") for entry in f.stats.cache)


def both(inputs, outputs):
    return gc.compile(inputs, outputs, backend="numba"), gc.compile(inputs, outputs, backend="numpy")


def assert_same(got, want, rtol=1e-13):
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * np.max(np.abs(w), initial=0.0))


def static_rnn(T=6, B=3, D=2, H=4, dtype="float64"):
    rng = np.random.default_rng(0)
    wx = gc.placeholder((D, H), dtype, name="wx")
    wh = gc.placeholder((H, H), dtype, name="wh")
    b = gc.placeholder((H,), dtype, name="b")
    xs = gc.placeholder((T, B, D), dtype, name="xs")
    h0 = gc.constant(np.zeros((B, H), dtype))
    _, hs = gc.scan(lambda h, x: (gc.tanh(x @ wx + h @ wh + b),) * 2, h0, xs)
    loss = gc.mean(hs * hs)
    feeds = [rng.standard_normal(s).astype(dtype) for s in ((D, H), (H, H), (H,), (T, B, D))]
    return [wx, wh, b, xs], [loss] + gc.grad(loss, [wx, wh, b, xs]), feeds


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_rnn_loss_and_gradients_run_as_compiled_loops_and_equal_the_interpreter(dtype):
    inputs, outputs, feeds = static_rnn(dtype=dtype)
    f, g = both(inputs, outputs)
    assert compiled_loops(f) == 2  # the forward loop and its gradient's
    assert "def loop(" in f.source
    assert_same(f(*feeds), g(*feeds), rtol=1e-12 if dtype == "float64" else 2e-5)


def test_reverse_scan_with_a_reduction_into_a_0d_carry_and_two_outputs():
    xs = gc.placeholder((5, 3, 4), name="xs")
    w = gc.placeholder((4, 4), name="w")  # read transposed: the gemm's operand as stored

    def step(carry, x):
        total, m = carry
        y = x @ w.T
        return (total + gc.sum(y * y), gc.maximum(m, gc.max(y, axis=0))), (gc.mean(y, axis=1), gc.exp(-y))

    (total, m), (means, decays) = gc.scan(step, (gc.constant(0.0), gc.constant(np.full(4, -np.inf))), xs,
                                          reverse=True)
    outputs = [total, m, means, decays] + gc.grad(total + gc.sum(means), [xs, w])
    f, g = both([xs, w], outputs)
    assert compiled_loops(f) == 2
    rng = np.random.default_rng(1)
    feeds = [rng.standard_normal((5, 3, 4)), rng.standard_normal((4, 4))]
    assert_same(f(*feeds), g(*feeds), rtol=1e-12)


def test_outputs_that_are_the_carry_in_a_reverse_scan_read_the_right_rows_and_outlive_the_next_call():
    # ys equal the new carries, which live in the history the gradient keeps: in a reverse scan
    # they are its first `length` rows, in a forward one its last
    xs = gc.placeholder((5, 4), name="xs")
    w = gc.placeholder((4, 4), name="w")
    outputs = []
    for reverse in (True, False):
        final, hs = gc.scan(lambda h, x: (gc.tanh(h @ w + x),) * 2, gc.constant(np.full((1, 4), 0.5)),
                            gc.reshape(xs, (5, 1, 4)), reverse=reverse)
        outputs += [final, hs] + gc.grad(gc.sum(hs * hs) + gc.sum(final), [xs, w])
    f, g = both([xs, w], outputs)
    assert compiled_loops(f) == 4
    rng = np.random.default_rng(3)
    feeds = [rng.standard_normal((5, 4)), rng.standard_normal((4, 4)) / 2]
    first = f(*feeds)
    kept = [np.copy(a) for a in first]
    assert_same(first, g(*feeds), rtol=1e-12)
    f(*[-a for a in feeds])  # a second call must not write into the arrays the first returned
    for held, copy in zip(first, kept):
        np.testing.assert_array_equal(held, copy)


def test_special_values_and_signed_zeros_come_out_as_numpy_gives_them():
    xs = gc.placeholder((4, 6), name="xs")

    def step(c, x):
        y = c * x + gc.sqrt(x)  # sqrt(-1) is nan, inf * 0 is nan, -0.0 stays -0.0
        return gc.minimum(c, y), y

    f, g = both([xs], list(gc.scan(step, gc.constant(np.ones(6)), xs)))
    assert compiled_loops(f) == 1
    x = np.array([[-0.0, np.inf, -1.0, np.nan, 1e308, 5e-324]] * 4)
    x[2] = [0.0, -np.inf, 4.0, 2.0, -0.0, np.inf]
    for got, want in zip(f(x), g(x)):
        np.testing.assert_array_equal(got, want)
        assert np.array_equal(np.signbit(got), np.signbit(want))


def test_small_integer_carries_wrap_as_numpy_does():
    xs = gc.placeholder((300,), "int8", name="xs")
    final, ys = gc.scan(lambda c, x: (c * 3 + x, c - x), gc.constant(np.int8(1)), xs)
    f, g = both([xs], [final, ys])
    assert compiled_loops(f) == 1
    x = np.arange(300).astype(np.int8)
    for got, want in zip(f(x), g(x)):
        assert got.dtype == np.int8
        np.testing.assert_array_equal(got, want)


def test_loops_the_compiled_loop_leaves_to_python_give_the_same_results():
    # a None-sized body (the batch), a zero-trip scan, and NaN checks all run Python-driven
    xs = gc.placeholder((None, None, 2), name="xs")
    w = gc.placeholder((2, 2), name="w")
    final, _ = gc.scan(lambda h, x: (gc.tanh(x @ w + h), None), gc.zeros_like(xs[0]), xs)
    f, g = both([xs, w], [final])
    assert compiled_loops(f) == 0
    rng = np.random.default_rng(2)
    feeds = [rng.standard_normal((3, 4, 2)), rng.standard_normal((2, 2))]
    assert_same(f(*feeds), g(*feeds), rtol=1e-12)
    static = gc.placeholder((0, 3), name="static")
    empty_final, empty_ys = gc.scan(lambda c, x: (c + x, c * x), gc.constant(np.ones(3)), static)
    f0 = gc.compile([static], [empty_final, empty_ys], backend="numba")
    got_final, got_ys = f0(np.zeros((0, 3)))
    np.testing.assert_array_equal(got_final, np.ones(3))
    assert got_ys.shape == (0, 3)
    xs2 = gc.placeholder((3, 2), name="xs2")
    checked = gc.compile([xs2], list(gc.scan(lambda c, x: (c + x, c), gc.constant(np.zeros(2)), xs2)),
                         nan_check=True)
    assert compiled_loops(checked) == 0


def test_a_failing_step_names_the_op_and_the_users_line():
    xs = gc.placeholder((3,), "int64", name="xs")
    final, _ = gc.scan(lambda c, x: (c + c ** x, None), gc.constant(np.int64(2)), xs)  # this line
    f = gc.compile([xs], [final], backend="numba")
    assert compiled_loops(f) == 1
    np.testing.assert_array_equal(f(np.array([1, 2, 0])), 2 + 2 + 4 ** 2 + 1)
    with pytest.raises(ValueError, match=rf"Integers to negative integer powers.*pow.*{HERE}:\d+"):
        f(np.array([1, -1, 2]))
    np.testing.assert_array_equal(f(np.array([1, 2, 0])), 2 + 2 + 4 ** 2 + 1)  # nothing kept from the failure


def test_a_compiled_loop_is_loaded_from_the_disk_cache_by_the_next_compile():
    inputs, outputs, feeds = static_rnn(T=3, B=2, D=2, H=3)
    first = gc.compile(inputs, outputs)
    again = gc.compile(inputs, outputs)
    hits = [e for e in again.stats.cache if e["kernel"].startswith("scan loop")]
    assert len(hits) == 2 and all(e["hit"] for e in hits)
    assert_same(again(*feeds), first(*feeds), rtol=0)


def test_a_compiled_loop_calls_the_kernels_its_body_driver_compiled_and_compiles_none_again():
    inputs, outputs, feeds = static_rnn(T=3, B=2, D=2, H=3)
    f = gc.compile(inputs, outputs)
    loops = f._runner.loops
    assert len(loops) == 2
    for loop in loops:
        # compiled here afresh (the one in use may have come from the disk cache, typing nothing)
        numba.njit(loop.function.py_func).compile(loop.function.signatures[0])
        kernels = [fn for name, fn in loop.function.py_func.__globals__.items() if name.startswith("kernel")]
        # (other tests may have compiled the same kernels for other dtypes: only a literal-typed
        # variant is a second compile of the same one)
        signatures = [str(sig) for fn in kernels for sig in fn.signatures]
        assert kernels and not any("Literal" in sig for sig in signatures), signatures


def test_concurrent_calls_of_a_compiled_loop_each_get_their_own_arrays():
    inputs, outputs, feeds = static_rnn(T=8)
    f = gc.compile(inputs, outputs)
    assert compiled_loops(f) == 2
    rng = np.random.default_rng(9)
    all_feeds = [[rng.standard_normal(x.shape) for x in feeds] for _ in range(4)]
    expected = [f(*feed) for feed in all_feeds]
    wrong = threads_with_wrong_results(f, all_feeds, expected, repeats=30)
    assert wrong == []
    held = f(*all_feeds[0])  # results a caller keeps are never written by a later call
    snapshot = [np.array(a) for a in held]
    f(*all_feeds[1])
    assert all(np.array_equal(a, b) for a, b in zip(held, snapshot))
