"""Control flow in graph mode (API.md section 9): gc.cond, gc.while_loop, gc.scan, gc.fori_loop.

Values against hand-written loops on both backends, gradients against the unrolled graph and
finite differences, nested loops, zero-trip loops, None-sized sequences, captured values, the
stored history a gradient needs (and its pruning), inspection, and the errors by type and text.
The op battery (tests/op_domains.py) covers each op's values, gradients to second order, jvp and
eager-vs-graph as well."""
import re

import numpy as np
import pytest

import graphc as gc
from concurrency import threads_with_wrong_results
from graphc.ir.ops.control import SCAN, WHILE

BACKENDS = ["numpy", "numba"]
HERE = re.escape(__file__)


def rnn_graph(T=None):
    """An RNN over xs (T, B, 3) with captured Variables; returns (inputs, loss, params)."""
    rng = np.random.default_rng(0)
    wx = gc.Variable(rng.standard_normal((3, 4)) * 0.5, name="wx")
    wh = gc.Variable(rng.standard_normal((4, 4)) * 0.5, name="wh")
    b = gc.Variable(rng.standard_normal(4) * 0.1, name="b")
    xs = gc.placeholder((T, None, 3), name="xs")
    h0 = gc.placeholder((None, 4), name="h0")
    h_last, hs = gc.scan(lambda h, x: (gc.tanh(x @ wx + h @ wh + b),) * 2, h0, xs)
    loss = gc.sum(hs * hs) + gc.sum(h_last)
    return [xs, h0], loss, [wx, wh, b, h0, xs]


def unrolled(T, params, inputs):
    wx, wh, b, _, _ = params
    xs, h0 = inputs
    h, total = h0, 0.0
    for t in range(T):
        h = gc.tanh(xs[t] @ wx + h @ wh + b)
        total = total + gc.sum(h * h)
    return total + gc.sum(h)


@pytest.mark.parametrize("backend", BACKENDS)
def test_scan_rnn_loss_and_gradients_equal_the_unrolled_graph(backend):
    inputs, loss, params = rnn_graph()
    grads = gc.grad(loss, params)
    f = gc.compile(inputs, [loss] + grads, backend=backend)
    reference_loss = unrolled(5, params, inputs)
    g = gc.compile(inputs, [reference_loss] + gc.grad(reference_loss, params), backend="numpy")
    rng = np.random.default_rng(1)
    xs, h0 = rng.standard_normal((5, 2, 3)), rng.standard_normal((2, 4))
    for got, want in zip(f(xs, h0), g(xs, h0)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)
    # the same compiled function at another length and batch (None dims)
    xs, h0 = rng.standard_normal((3, 4, 3)), rng.standard_normal((4, 4))
    loss_3 = gc.compile(inputs, unrolled(3, params, inputs), backend="numpy")(xs, h0)
    np.testing.assert_allclose(f(xs, h0)[0], loss_3, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_trip_loops_return_their_initial_values_and_gradients(backend):
    inputs, loss, params = rnn_graph()
    f = gc.compile(inputs, [loss] + gc.grad(loss, params), backend=backend)
    h0 = np.arange(8.0).reshape(2, 4) / 10
    got = f(np.zeros((0, 2, 3)), h0)
    np.testing.assert_allclose(got[0], h0.sum())
    for g, p in zip(got[1:4], params[:3]):
        np.testing.assert_array_equal(g, np.zeros(p.shape))
    np.testing.assert_array_equal(got[4], np.ones((2, 4)))  # d sum(h_last)/d h0 with h_last = h0
    assert got[5].shape == (0, 2, 3)
    x = gc.placeholder((), name="x")
    out = gc.while_loop(lambda v: v > 100.0, lambda v: v * 2.0, x)
    w = gc.compile([x], [out, gc.grad(out, x)], backend=backend)
    assert [float(v) for v in w(3.0)] == [3.0, 1.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_while_loop_gradient_through_a_run_time_trip_count(backend):
    # doubling until past 100: out = x * 2**n, n decided at run time; d out/dx = 2**n
    x = gc.placeholder((), name="x")
    count, out = gc.while_loop(lambda s: s[1] < 100.0, lambda s: (s[0] + 1, s[1] * 2.0), (0, x))
    f = gc.compile([x], [count, out, gc.grad(out, x), gc.grad(gc.grad(out * out, x), x)], backend=backend)
    for value in (3.0, 0.7, 150.0):
        n = 0
        v = value
        while v < 100.0:
            v, n = v * 2, n + 1
        got = f(value)
        assert int(got[0]) == n and float(got[1]) == v
        assert float(got[2]) == 2.0 ** n
        assert float(got[3]) == 2 * 4.0 ** n  # d2 (x 2^n)^2 / dx2


@pytest.mark.parametrize("backend", BACKENDS)
def test_newton_while_loop_derivative_is_the_implicit_one(backend):
    a = gc.placeholder((), name="a")
    _, root = gc.while_loop(lambda s: gc.abs(s[1] * s[1] - a) > 1e-13,
                            lambda s: (s[0] + 1, 0.5 * (s[1] + a / s[1])), (0, a + 1.0), max_iterations=100)
    f = gc.compile([a], [root, gc.grad(root, a)], backend=backend)
    for value in (2.0, 9.0, 0.3):
        r, d = f(value)
        np.testing.assert_allclose(r, np.sqrt(value), rtol=1e-13)
        np.testing.assert_allclose(d, 0.5 / np.sqrt(value), rtol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cond_runs_and_differentiates_only_the_taken_branch(backend):
    p = gc.placeholder((), name="p")
    x = gc.placeholder((None,), name="x")
    w = gc.Variable(np.array([1.0, 2.0, 3.0]), name="w")
    # the false branch would fail at run time (a bad index): it must never run
    out = gc.cond(p > 0, lambda v: gc.sum(v * w), lambda v: gc.sum(gc.index_select(v, 0, [7])), x)
    f = gc.compile([p, x], [out] + gc.grad(out, [x, w]), backend=backend)
    xv = np.array([0.5, -1.0, 2.0])
    got = f(1.0, xv)
    np.testing.assert_allclose(got[0], xv @ [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(got[1], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(got[2], xv)
    with pytest.raises(IndexError, match=r"index 7 is out of bounds"):
        f(-1.0, xv)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nested_loops_scan_in_scan_and_cond_in_while(backend):
    x = gc.placeholder((None, None), name="x")  # rows of values

    def row_sum(c, row):  # an inner scan over a row's elements
        s, _ = gc.scan(lambda acc, v: (acc + v * v, None), gc.constant(0.0), row)
        return c + s, s

    total, per_row = gc.scan(row_sum, gc.constant(0.0), x)
    y = gc.placeholder((), name="y")
    # halve while above 1, but subtract 0.25 instead whenever the value is below 3
    final = gc.while_loop(lambda v: v > 1.0,
                          lambda v: gc.cond(v < 3.0, lambda u: u - 0.25, lambda u: u * 0.5, v), y)
    f = gc.compile([x, y], [total, per_row, gc.grad(total, x), final, gc.grad(final, y)], backend=backend)
    xv = np.arange(6.0).reshape(2, 3) - 2
    got = f(xv, 10.0)
    np.testing.assert_allclose(got[0], np.sum(xv * xv))
    np.testing.assert_allclose(got[1], np.sum(xv * xv, axis=1))
    np.testing.assert_allclose(got[2], 2 * xv)
    v, d = 10.0, 1.0
    while v > 1.0:
        if v < 3.0:
            v -= 0.25
        else:
            v, d = v * 0.5, d * 0.5
    assert float(got[3]) == v and float(got[4]) == d


@pytest.mark.parametrize("backend", BACKENDS)
def test_fori_loop_with_node_bounds_and_captured_values(backend):
    n = gc.placeholder((), "int64", name="n")
    x = gc.placeholder((None,), name="x")
    out = gc.fori_loop(0, n, lambda i, acc: acc + gc.astype(i, "float64") * x, gc.zeros_like(x))
    f = gc.compile([n, x], [out, gc.grad(gc.sum(out), x)], backend=backend)
    xv = np.array([1.0, -2.0])
    for trips in (0, 1, 4):
        got = f(trips, xv)
        np.testing.assert_allclose(got[0], sum(range(trips)) * xv)
        np.testing.assert_allclose(got[1], np.full(2, float(sum(range(trips)))))


def test_jvp_through_scan_and_while_matches_grad():
    inputs, loss, params = rnn_graph()
    wx = params[0]
    direction = np.random.default_rng(3).standard_normal(wx.shape)
    tangent = gc.jvp(loss, [wx], [gc.constant(direction)])
    (g,) = gc.grad(loss, [wx])
    f = gc.compile(inputs, [tangent, gc.sum(g * direction)], backend="numba")
    rng = np.random.default_rng(4)
    t, want = f(rng.standard_normal((4, 2, 3)), rng.standard_normal((2, 4)))
    np.testing.assert_allclose(t, want, rtol=1e-12)


def test_reverse_scan_stacks_ys_in_input_order():
    xs = gc.placeholder((None,), name="xs")
    final, ys = gc.scan(lambda c, x: (c + x, c), gc.constant(0.0), xs, reverse=True)
    got = gc.compile([xs], [final, ys])(np.array([1.0, 2.0, 3.0]))
    assert float(got[0]) == 6.0
    np.testing.assert_array_equal(got[1], [5.0, 3.0, 0.0])  # ys[i]: the carry when step i began


def test_scan_with_length_and_no_xs_and_pytree_carries():
    x = gc.placeholder((2,), name="x")
    state = {"a": x, "b": (x * 0.0, gc.constant(1))}
    final, ys = gc.scan(lambda s, _: ({"a": s["a"] * 2.0, "b": (s["b"][0] + s["a"], s["b"][1] * 3)}, s["a"].sum()),
                        state, length=3)
    got = gc.compile([x], [final["a"], final["b"][0], final["b"][1], ys])(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(got[0], [8.0, 16.0])
    np.testing.assert_array_equal(got[1], [7.0, 14.0])
    assert int(got[2]) == 27
    np.testing.assert_array_equal(got[3], [3.0, 6.0, 12.0])


def test_a_loop_stores_its_history_only_for_a_gradient():
    inputs, loss, params = rnn_graph()
    forward_only = gc.compile(inputs, loss)
    (loop,) = [n for n in forward_only.graph.nodes if n.op is SCAN]
    assert not loop.attrs["keep_history"]
    with_grad = gc.compile(inputs, [loss, gc.grad(loss, params[0])])
    assert any(n.op is SCAN and n.attrs["keep_history"] for n in with_grad.graph.nodes)


def test_listing_shows_loop_bodies_with_their_kernels_and_stats_count_them():
    inputs, loss, params = rnn_graph()
    f = gc.compile(inputs, [loss] + gc.grad(loss, params[:3]))
    text = str(f.graph)
    assert "= scan(" in text and "    body (" in text
    assert re.search(r"\n {8,}%\d+ = fused\(", text)  # kernels inside a loop body, indented
    assert 'subgraph "cluster_' in f.graph.to_dot()
    body_kernels = sum(1 for node, parent in f.graph.walk() if node.op.name == "fused" and parent is not None)
    assert body_kernels >= 2 and f.stats.kernels >= body_kernels


@pytest.mark.parametrize("backend", BACKENDS)
def test_max_iterations_raises_at_run_time(backend):
    x = gc.placeholder((), name="x")
    out = gc.while_loop(lambda v: v > 0.0, lambda v: v - 1.0, x, max_iterations=5)
    f = gc.compile([x], out, backend=backend)
    assert float(f(4.5)) == -0.5
    with pytest.raises(gc.IterationLimitError, match=rf"max_iterations=5 .*{HERE}"):
        f(10.0)


def test_body_that_changes_a_carry_names_the_carry_and_the_line():
    x = gc.placeholder((None, 3), name="x")
    with pytest.raises(gc.ShapeError, match=rf"while_loop: body_fn changed \[1\] from float64\(\?, 3\) to "
                                            rf"float64\(\?, 1\).*{HERE}"):
        gc.while_loop(lambda s: s[0] < 3, lambda s: (s[0] + 1, gc.sum(s[1], axis=1, keepdims=True)), (0, x))
    with pytest.raises(TypeError, match=rf"scan: fn changed \['h'\] from float64\(\?, 3\) to float32.*{HERE}"):
        gc.scan(lambda c, v: ({"h": gc.astype(c["h"], "float32")}, v), {"h": x}, x)
    with pytest.raises(TypeError, match=r"while_loop: body_fn returned the structure \(\*, \*, \*\), expected "
                                        r"\(\*, \*\)"):
        gc.while_loop(lambda s: s[0] < 3, lambda s: (s[0] + 1, s[1], s[1]), (0, x))


def test_cond_errors_name_the_branch_and_the_predicate():
    x = gc.placeholder((3,), name="x")
    with pytest.raises(TypeError, match=rf"cond: pred must be a bool or 0-d value, got shape \(3,\).*{HERE}"):
        gc.cond(x > 0, lambda v: v, lambda v: v, x)
    with pytest.raises(gc.ShapeError, match=r"cond: false_fn changed value from float64\(3,\) to float64\(\)"):
        gc.cond(gc.sum(x) > 0, lambda v: v, lambda v: gc.sum(v), x)


def test_scan_input_errors():
    x = gc.placeholder((4, 2), name="x")
    y = gc.placeholder((5, 2), name="y")
    with pytest.raises(gc.ShapeError, match=r"leading sizes disagree: \(4, 2\), \(5, 2\)"):
        gc.scan(lambda c, v: (c, v[0]), gc.constant(0.0), (x, y))
    with pytest.raises(gc.ShapeError, match=r"and length=3"):
        gc.scan(lambda c, v: (c, v), gc.constant(0.0), x, length=3)
    with pytest.raises(ValueError, match=r"scan: give xs or length"):
        gc.scan(lambda c, v: (c, v), gc.constant(0.0))
    with pytest.raises(TypeError, match=r"scan: fn must return a pair \(carry, y\)"):
        gc.scan(lambda c, v: c, gc.constant(0.0), x)
    with pytest.raises(TypeError, match=r"max_iterations must be None or an int"):
        gc.while_loop(lambda v: v > 0, lambda v: v, gc.constant(1.0), max_iterations=2.5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_scan_length_mismatch_with_a_none_sized_input_is_a_run_time_error(backend):
    xs = gc.placeholder((None, 2), name="xs")
    final, _ = gc.scan(lambda c, v: (c + gc.sum(v), None), gc.constant(0.0), xs, length=3)
    f = gc.compile([xs], final, backend=backend)
    assert float(f(np.ones((3, 2)))) == 6.0
    with pytest.raises(gc.ShapeError, match=r"scan: the scanned inputs have leading sizes \[4\], they must all be 3"):
        f(np.ones((4, 2)))


def test_one_model_function_in_both_modes_with_compare_and_jit():
    def model(xs, h0):
        w = np.full((3, 3), 0.3)
        h_last, hs = gc.scan(lambda h, x: (gc.tanh(h @ w + x),) * 2, h0, xs)
        return gc.sum(hs) + gc.sum(h_last)

    xs, h0 = np.random.default_rng(5).standard_normal((4, 2, 3)), np.zeros((2, 3))
    report = gc.compare(model, xs, h0, wrt=[0, 1])
    assert report.max_abs < 1e-12 and len(report.rows) >= 3  # the value and both gradients
    jitted = gc.jit(model)
    eager = model(gc.tensor(xs), gc.tensor(h0))
    np.testing.assert_allclose(jitted(xs, h0), eager.numpy(), rtol=1e-12)


def test_loop_nodes_are_built_by_the_four_functions():
    x = gc.placeholder((), name="x")
    assert gc.while_loop(lambda v: v < 1.0, lambda v: v + 1.0, x).inputs[0].op is WHILE


def test_rnn_loops_keep_only_the_matmuls_that_need_the_carry():
    """x_t @ Wx for all t is one matmul before the loop; the backward loop reads the carries the
    forward one produced instead of recomputing its steps; the weight gradients are one matmul
    each after it; inside, only h @ Wh (forward) and g @ Wh^T (backward) remain."""
    inputs, loss, params = rnn_graph()
    f = gc.compile(inputs, [loss] + gc.grad(loss, params[:3]))
    scans = [n for n in f.graph.nodes if n.op is SCAN]
    assert len(scans) == 2
    for scan in scans:
        inside = [m for m, _ in scan.attrs["body"].walk() if m.op.name == "matmul"]
        assert len(inside) == 1, str(scan.attrs["body"])
    outside = [n for n in f.graph.nodes if n.op.name == "matmul"]
    assert len(outside) == 3 and all("moved out of the loop" in n.site for n in outside)
    assert "(moved out of the loop)" in str(f.graph)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_check_names_the_op_inside_a_loop_body(backend):
    xs = gc.placeholder((None,), name="xs")
    final, _ = gc.scan(lambda c, x: (c + gc.log(x), None), gc.constant(0.0), xs)
    f = gc.compile([xs], final, backend=backend, nan_check=True)
    assert float(f(np.array([1.0, np.e]))) == pytest.approx(1.0)
    with pytest.raises(gc.NaNError, match=rf"NaN produced by log built at {HERE}"), np.errstate(invalid="ignore"):
        f(np.array([1.0, -1.0, 2.0]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_inner_loop_reading_the_outer_carry_differentiates_like_the_unrolled_graph(backend):
    x = gc.placeholder((3, 2), name="x")
    w = gc.Variable(np.array([0.5, -1.5]), name="w")

    def outer_step(c, row):
        inner, _ = gc.scan(lambda d, v: (gc.sin(d * c + v * w), None), c, row)  # reads the outer carry c
        return inner, None

    final, _ = gc.scan(outer_step, gc.constant(np.array([0.1, 0.2])), x)
    c = gc.constant(np.array([0.1, 0.2]))
    for t in range(3):
        d = c
        for k in range(2):
            d = gc.sin(d * c + x[t, k] * w)
        c = d
    got = gc.compile([x], [final] + gc.grad(gc.sum(final), [x, w]), backend=backend)
    want = gc.compile([x], [c] + gc.grad(gc.sum(c), [x, w]), backend="numpy")
    xv = np.random.default_rng(6).standard_normal((3, 2))
    for a, b in zip(got(xv), want(xv)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_cond_without_operands_and_a_variable_as_initial_carry():
    p = gc.placeholder((), "bool", name="p")
    v = gc.Variable(np.array([1.0, 2.0]), name="v")
    picked = gc.cond(p, lambda: v * 2.0, lambda: v - 1.0)
    final, _ = gc.scan(lambda c, _: (c * c, None), v, length=2)
    (dv,) = gc.grad(gc.sum(final) + gc.sum(picked), [v])
    f = gc.compile([p], [picked, final, dv])
    got = f(True)
    np.testing.assert_array_equal(got[0], [2.0, 4.0])
    np.testing.assert_array_equal(got[1], [1.0, 16.0])
    np.testing.assert_array_equal(got[2], 4 * np.array([1.0, 2.0]) ** 3 + 2.0)
    np.testing.assert_array_equal(f(False)[0], [0.0, 1.0])


def test_concurrent_calls_of_a_compiled_loop_give_each_its_own_result():
    inputs, loss, params = rnn_graph()
    f = gc.compile(inputs, [loss] + gc.grad(loss, params[:3]))
    rng = np.random.default_rng(7)
    feeds = [(rng.standard_normal((6, 2, 3)), rng.standard_normal((2, 4))) for _ in range(4)]
    expected = [f(*feed) for feed in feeds]
    wrong = threads_with_wrong_results(f, feeds, expected, repeats=25)
    assert wrong == []


def test_fori_loop_float32_carry_with_the_index_names_the_promotion_in_both_modes():
    """API.md's `acc + i * x` with a float32 x: the index is int64, so NumPy's rules (both
    modes follow them) give float64; the error says so and how to cast, and the cast works."""
    x = gc.placeholder((3,), "float32", name="x")
    for upper in (5, gc.constant(5)):  # a scan, and a while_loop for node bounds
        with pytest.raises(TypeError, match=r"fori_loop: body_fn changed value from float32\(3,\) to float64\(3,\)"
                                            r".*index i is a 0-d int64 value.*i\.astype"):
            gc.fori_loop(0, upper, lambda i, acc: acc + i * x, gc.zeros_like(x))
    t = gc.tensor(np.ones(3, np.float32))
    with pytest.raises(TypeError, match=r"fori_loop.*float32 to float64.*index i is a 0-d int64 value"):
        gc.fori_loop(0, 5, lambda i, acc: acc + i * t, gc.zeros_like(t))
    s = gc.fori_loop(0, 5, lambda i, acc: acc + i.astype(x.dtype) * x, gc.zeros_like(x))
    got = gc.compile([x], s)(np.full(3, 0.5, np.float32))
    assert got.dtype == np.float32 and np.array_equal(got, np.full(3, 5.0, np.float32))


def test_loops_drop_the_inputs_their_bodies_no_longer_read():
    """After hoisting, the RNN's loops are passed only what their steps read (no forward input
    the backward loop does not use is sliced each step), and a mean's count inside a body is a
    number, not a step of the loop."""
    inputs, loss, params = rnn_graph(T=4)
    f = gc.compile(inputs, [loss] + gc.grad(loss, params[:3]))
    for scan in [n for n in f.graph.nodes if n.op is SCAN]:
        body = scan.attrs["body"]
        read = {id(x) for m in body.nodes for x in m.inputs} | {id(y) for y in body.outputs}
        assert all(id(p) in read for p in body.inputs), str(scan)
    xs = gc.placeholder((4, 2, 3), name="xs")
    total, _ = gc.scan(lambda c, x: (c + gc.mean(x * x, axis=1), None), gc.constant(np.zeros(2)), xs)
    g = gc.compile([xs], gc.grad(gc.sum(total), [xs]), backend="numpy")
    body = next(n for n in g.graph.nodes if n.op is SCAN).attrs["body"]
    assert all(m.op.name != "axis_size" for m, _ in body.walk())
    x = np.random.default_rng(3).standard_normal((4, 2, 3))
    np.testing.assert_allclose(g(x)[0], 2 * x / 3, rtol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_unread_scanned_input_of_run_time_size_is_still_checked(backend):
    xs = gc.placeholder((None, 2), name="xs")
    ignored = gc.placeholder((None, 5), name="ignored")
    final, _ = gc.scan(lambda c, xi: (c + xi[0], None), gc.constant(np.zeros(2)), (xs, ignored))
    f = gc.compile([xs, ignored], final, backend=backend)
    np.testing.assert_allclose(f(np.ones((3, 2)), np.ones((3, 5))), [3.0, 3.0])
    with pytest.raises(gc.ShapeError, match=r"scanned inputs have leading sizes \[3, 4\]"):
        f(np.ones((3, 2)), np.ones((4, 5)))


def _remat_rnn(every, max_iterations=None, trips=7.5):
    x = gc.placeholder((3,), name="x")
    w = gc.placeholder((3, 3), name="w")

    def body(s):
        h, n = s
        return gc.tanh(h @ w + x), n + 1.0

    step = body if every is None else gc.remat(body, every)
    h, n = gc.while_loop(lambda s: s[1] < trips, step, (x, gc.constant(0.0)), max_iterations=max_iterations)
    loss = gc.sum(h * h)
    return [x, w], [loss, n] + gc.grad(loss, [x, w])


@pytest.mark.parametrize("backend", BACKENDS)
def test_remat_while_loop_gradient_equals_the_stored_one_and_stores_one_carry_per_segment(backend):
    from graphc.ir.interpreter import node_values

    rng = np.random.default_rng(5)
    feeds = [rng.standard_normal(3), rng.standard_normal((3, 3)) * 0.5]
    inputs, outputs = _remat_rnn(None)
    want = gc.compile(inputs, outputs, backend="numpy")(*feeds)
    for every in (1, 3, 8, 50):  # 8 trips: segments of 1, 3 (3 + 3 + 2), 8 and more than all
        inputs, outputs = _remat_rnn(every)
        f = gc.compile(inputs, outputs, backend=backend)
        for got, w in zip(f(*feeds), want):
            np.testing.assert_allclose(got, w, rtol=1e-14, atol=1e-15)
        # the forward loop keeps the carry of each segment's start (and the last), not of each trip
        loops = [n for n in f.graph.nodes if n.op is WHILE and n.attrs["keep_history"]]
        assert len(loops) == 1 and any(m.op is WHILE for m, _ in loops[0].attrs["body"].walk())
        history = node_values(f.graph, feeds)[id(loops[0])][loops[0].op.history_parts(loops[0].attrs)[0]]
        assert history.shape[0] == -(-8 // every) + 1


@pytest.mark.parametrize("every", [1, 3, 4])
def test_remat_keeps_max_iterations_exact(every):
    inputs, outputs = _remat_rnn(every, max_iterations=8, trips=100.0)
    f = gc.compile(inputs, outputs[1])
    with pytest.raises(gc.IterationLimitError, match=r"max_iterations=8 iterations"):
        f(np.ones(3), np.eye(3))
    inputs, outputs = _remat_rnn(every, max_iterations=8, trips=8.0)  # exactly 8 trips: no error
    assert gc.compile(inputs, outputs[1])(np.ones(3), np.eye(3)) == 8.0


def test_remat_fori_loop_in_both_modes_and_its_errors():
    x = gc.placeholder((3,), name="x")
    s = gc.fori_loop(0, 10, gc.remat(lambda i, acc: acc * 0.9 + x, 4), x)
    grad = gc.compile([x], gc.grad(gc.sum(s), [x]))(np.ones(3))[0]
    np.testing.assert_allclose(grad, sum(0.9 ** k for k in range(11)), rtol=1e-14)
    t = gc.tensor(np.ones(3), requires_grad=True)
    gc.sum(gc.fori_loop(0, 10, gc.remat(lambda i, acc: acc * 0.9 + t, 4), t)).backward()
    np.testing.assert_allclose(t.grad.numpy(), grad, rtol=1e-14)
    with pytest.raises(ValueError, match=r"remat: every must be an int >= 1.*got 0"):
        gc.remat(lambda v: v, 0)
    with pytest.raises(TypeError, match=r"scan: gc.remat marks a while_loop or fori_loop body"):
        gc.scan(gc.remat(lambda c, v: (c, v), 2), x, gc.placeholder((4, 3)))


def test_hoisted_step_matmul_is_one_product_over_all_rows():
    """x_t @ Wx moved out of the loop is one (T*B, D) @ (D, H) matmul where B is static (NumPy
    would make one BLAS call per step of a stacked (T, B, D) @ (D, H)); values unchanged."""
    xs = gc.placeholder((None, 2, 3), name="xs")
    wx, wh = gc.placeholder((3, 4), name="wx"), gc.placeholder((4, 4), name="wh")
    _, hs = gc.scan(lambda h, x: (gc.tanh(x @ wx + h @ wh),) * 2, gc.constant(np.zeros((2, 4))), xs)
    loss = gc.sum(hs * hs)
    outputs = [loss] + gc.grad(loss, [wx, wh])
    f = gc.compile([xs, wx, wh], outputs, backend="numpy")
    moved = [n for n in f.graph.nodes if n.op.name == "matmul" and "moved out of the loop" in n.site]
    assert len(moved) == 3 and all(n.inputs[0].ndim == 2 and n.inputs[1].ndim == 2 for n in moved)
    g = gc.compile([xs, wx, wh], outputs, backend="numpy", optimize=False)
    rng = np.random.default_rng(4)
    feeds = [rng.standard_normal((5, 2, 3)), rng.standard_normal((3, 4)), rng.standard_normal((4, 4)) * 0.5]
    for got, want in zip(f(*feeds), g(*feeds)):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)


def test_gradient_through_a_cond_whose_branches_capture_nothing():
    # a cond's bodies stand for its inputs after the predicate: their positions are shifted by one
    y = gc.placeholder((), name="y")
    c = gc.placeholder((), name="c")
    final = gc.while_loop(lambda v: v > c, lambda v: gc.cond(v < c, gc.sqrt, lambda u: gc.sqrt(gc.sqrt(u)), v), y)
    f = gc.compile([y, c], gc.grad(final, y), backend="numpy")
    assert float(f(16.0, 2.0)) == 1 / 32  # one step, 16 -> 2: the derivative of y ** 0.25 at 16
