"""Eager control flow (API.md section 9): cond, while_loop, scan and fori_loop on tensors and plain
values, checked against hand-written Python/NumPy loops, with gradients through the tape (against
analytic derivatives and hand-written BPTT) and every error by type and message."""
import collections

import numpy as np
import pytest

import graphc as gc
from graphc.control.eager import cond, fori_loop, scan, while_loop
from graphc.ir.errors import IterationLimitError

HERE = __file__


def leaf(values):
    return gc.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


# ---- cond --------------------------------------------------------------------------------------
@pytest.mark.parametrize("pred,expected", [
    (True, 6.0), (False, -3.0), (np.bool_(True), 6.0), (0, -3.0), (2.5, 6.0), (np.array(0.0), -3.0),
    (np.array(True), 6.0),
])
def test_cond_picks_branch_by_truth(pred, expected):
    assert cond(pred, lambda a: a * 2, lambda a: -a, 3.0) == expected


def test_cond_tensor_pred_passes_operands_positionally():
    x, y = gc.tensor([1.0, 2.0]), gc.tensor([10.0, 20.0])
    out = cond(x.sum() > 2, lambda a, b: {"s": a + b, "d": (a - b,)}, lambda a, b: None, x, y)
    np.testing.assert_allclose(out["s"].numpy(), [11.0, 22.0])
    np.testing.assert_allclose(out["d"][0].numpy(), [-9.0, -18.0])
    assert cond(x.sum() > 5, lambda a, b: a, lambda a, b: None, x, y) is None


def test_cond_runs_only_the_taken_branch():
    calls = []
    cond(False, lambda: calls.append("true"), lambda: calls.append("false"))
    assert calls == ["false"]


def test_cond_gradient_is_the_taken_branch_only():
    x = leaf([1.0, -2.0])
    w = leaf(3.0)  # captured by the untaken branch only
    y = cond(x.sum() < 0, lambda a: (a * a).sum(), lambda a: (a * w).sum(), x)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -4.0])  # d sum(x^2) = 2x
    assert w.grad is None
    z = cond(x.sum() > 0, lambda a: (a * a).sum(), lambda a: (a * w).sum(), x)
    z.backward()
    np.testing.assert_allclose(w.grad.numpy(), -1.0)  # d sum(x w)/dw = sum(x)


@pytest.mark.parametrize("pred,shape", [
    (np.array([True, False]), "(2,)"), (gc.tensor([1.0, 2.0, 3.0]), "(3,)"), (np.ones((1,)), "(1,)"),
])
def test_cond_pred_with_a_shape_is_a_type_error(pred, shape):
    with pytest.raises(TypeError, match=rf"cond: pred must be a bool or a 0-d tensor/array, got one of "
                                        rf"shape {shape.replace('(', '[(]').replace(')', '[)]')}"):
        cond(pred, lambda: 1, lambda: 2)


def test_cond_pred_of_another_type_is_a_type_error():
    with pytest.raises(TypeError, match=r"cond: pred must be a bool or a 0-d tensor/array, got str"):
        cond("yes", lambda: 1, lambda: 2)


# ---- while_loop --------------------------------------------------------------------------------
def test_while_loop_matches_python_loop():
    def reference(n):
        i, total = 0, 0
        while i < n:
            i, total = i + 1, total + i * i
        return i, total

    for n in (0, 1, 5):
        out = while_loop(lambda s: s[0] < n, lambda s: (s[0] + 1, s[1] + s[0] * s[0]), (0, 0))
        assert out == reference(n)


def test_while_loop_zero_trips_returns_init_val_itself():
    init = {"x": gc.tensor([1.0, 2.0])}
    assert while_loop(lambda s: False, lambda s: 1 / 0, init) is init


def test_while_loop_newton_sqrt_gradient_matches_analytic():
    for value in (2.0, 9.0, 0.3):
        a = leaf(value)

        def step(state):
            x, _ = state
            x = 0.5 * (x + a / x)
            return x, x * x - a

        x_star, _ = while_loop(lambda s: gc.abs(s[1]) > 1e-12, step, (gc.tensor(1.0), gc.tensor(1.0 - value)))
        np.testing.assert_allclose(x_star.item(), np.sqrt(value), rtol=1e-12)
        x_star.backward()
        # the iterates converge quadratically, so d x_k/da converges to d sqrt(a)/da
        np.testing.assert_allclose(a.grad.item(), 1 / (2 * np.sqrt(value)), rtol=1e-9)


def test_while_loop_on_plain_arrays_stays_plain():
    out = while_loop(lambda v: v.sum() < 100, lambda v: v * 3, np.array([1.0, 2.0]))
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, [81.0, 162.0])  # sums 3, 9, 27, 81, then 243


def test_while_loop_namedtuple_carry_keeps_its_type():
    State = collections.namedtuple("State", "i x")
    out = while_loop(lambda s: s.i < 3, lambda s: State(s.i + 1, s.x * 2), State(0, np.float64(1.5)))
    assert type(out) is State and out == State(3, 12.0)


def test_while_loop_max_iterations_allows_exactly_that_many():
    assert while_loop(lambda i: i < 5, lambda i: i + 1, 0, max_iterations=5) == 5
    assert while_loop(lambda i: i < 0, lambda i: i + 1, 0, max_iterations=0) == 0


def test_while_loop_reaching_max_iterations_raises_with_the_line():
    with pytest.raises(IterationLimitError, match=r"after max_iterations=3 iterations \[at .*test_control_eager.py:\d+\]"):
        while_loop(lambda i: i < 10, lambda i: i + 1, 0, max_iterations=3)
    with pytest.raises(RuntimeError, match="max_iterations=0"):  # IterationLimitError is a RuntimeError
        while_loop(lambda i: True, lambda i: i, 0, max_iterations=0)


@pytest.mark.parametrize("bad,error,fragment", [
    (-1, ValueError, "max_iterations must be >= 0, got -1"),
    (2.0, TypeError, "max_iterations must be None or an int, got float"),
    (True, TypeError, "max_iterations must be None or an int, got bool"),
])
def test_while_loop_max_iterations_is_checked(bad, error, fragment):
    with pytest.raises(error, match=fragment):
        while_loop(lambda i: False, lambda i: i, 0, max_iterations=bad)


def _line_of(marker):
    with open(HERE) as f:
        return next(n for n, line in enumerate(f, 1) if marker in line)


def test_while_loop_shape_change_names_leaf_and_user_line():
    with pytest.raises(gc.ShapeError) as info:
        while_loop(lambda s: True, lambda s: (s[0], np.zeros(3)), (1.0, np.zeros(2)))  # SHAPE-LINE
    message = str(info.value)
    assert "while_loop: body_fn changed the shape of carry[1] from (2,) to (3,)" in message
    assert f"test_control_eager.py:{_line_of('# SHAPE-LINE')}]" in message


def test_while_loop_dtype_change_names_dict_leaf():
    with pytest.raises(TypeError, match=r"while_loop: body_fn changed the dtype of carry\['h'\] from float64 to "
                                        r"float32 \[at .*test_control_eager.py:\d+\]"):
        while_loop(lambda s: True, lambda s: {"h": s["h"].astype(np.float32)}, {"h": np.zeros(2)})


def test_while_loop_structure_change_is_a_type_error():
    with pytest.raises(TypeError, match=r"body_fn returned carry with structure \[\*, \*\], but it must keep "
                                        r"the structure \(\*, \*\)"):
        while_loop(lambda s: True, lambda s: list(s), (1.0, 2.0))


def test_while_loop_cond_result_must_be_0d():
    with pytest.raises(TypeError, match=r"while_loop: cond_fn's result must be a bool or a 0-d tensor/array, "
                                        r"got one of shape \(2,\)"):
        while_loop(lambda v: v > 0, lambda v: v, np.ones(2))


# ---- fori_loop ---------------------------------------------------------------------------------
def test_fori_loop_matches_python_loop_and_passes_int64_tensor_index():
    seen = []

    def body(i, acc):
        seen.append((type(i), i.dtype, i.shape))
        return acc + i * acc

    out = fori_loop(1, 5, body, 1.0)
    assert out.item() == 1 * 2 * 3 * 4 * 5
    assert seen == [(gc.Tensor, np.dtype(np.int64), ())] * 4


def test_fori_loop_index_takes_bounds_dtype():
    dtypes = []
    fori_loop(np.int32(0), np.array(3, np.int32), lambda i, v: dtypes.append(i.dtype) or v, 0.0)
    assert dtypes == [np.dtype(np.int32)] * 3
    dtypes.clear()
    fori_loop(0, gc.tensor(np.array(2, np.int16)), lambda i, v: dtypes.append(i.dtype) or v, 0.0)
    assert dtypes == [np.dtype(np.int16)] * 2


@pytest.mark.parametrize("lower,upper", [(3, 3), (5, 2), (0, -1)])
def test_fori_loop_zero_trips(lower, upper):
    init = np.array([1.0, 2.0])
    assert fori_loop(lower, upper, lambda i, v: 1 / 0, init) is init


def test_fori_loop_api_example_and_gradient_to_captured_tensor():
    x = leaf([1.0, 2.0])
    s = fori_loop(0, 4, lambda i, acc: acc + i * x, gc.zeros_like(x))
    np.testing.assert_allclose(s.detach().numpy(), [6.0, 12.0])  # (0+1+2+3) x
    s.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])


@pytest.mark.parametrize("bound,fragment", [
    (1.5, "bounds must be integers, got float"), (True, "bounds must be integers, got a bool"),
    (np.arange(2), r"bounds must be 0-d integers, got int64 of shape \(2,\)"),
    (gc.tensor(2.0), r"bounds must be 0-d integers, got float64 of shape \(\)"),
])
def test_fori_loop_bad_bounds(bound, fragment):
    with pytest.raises(TypeError, match="fori_loop: " + fragment):
        fori_loop(0, bound, lambda i, v: v, 0.0)


def test_fori_loop_carry_checks_name_fori_loop():
    with pytest.raises(gc.ShapeError, match=r"fori_loop: body_fn changed the shape of carry from \(\) to \(2,\)"):
        fori_loop(0, 2, lambda i, v: np.zeros(2), 0.0)


# ---- scan --------------------------------------------------------------------------------------
def test_scan_matches_python_loop_with_tuple_carry_and_dict_ys():
    xs = np.arange(1.0, 6.0)

    def step(carry, x):
        total, prod = carry
        return (total + x, prod * x), {"t": total, "pair": np.array([x, total * x])}

    (total, prod), ys = scan(step, (0.0, 1.0), xs)
    assert (total, prod) == (15.0, 120.0)
    ref_t, ref_pair, t = [], [], 0.0
    for x in xs:
        ref_t.append(t)
        ref_pair.append([x, t * x])
        t += x
    np.testing.assert_array_equal(ys["t"], ref_t)
    np.testing.assert_array_equal(ys["pair"], ref_pair)
    assert ys["pair"].shape == (5, 2)


def test_scan_structured_xs_and_length_agreeing():
    xs = {"a": np.arange(3.0), "b": np.arange(6.0).reshape(3, 2)}
    carry, ys = scan(lambda c, x: (c + x["a"] * x["b"].sum(), None), 0.0, xs, length=3)
    assert carry == 0 * 1 + 1 * 5 + 2 * 9
    assert ys is None


def test_scan_without_xs_uses_length_and_passes_none():
    seen = []
    carry, ys = scan(lambda c, x: (seen.append(x) or c * 2, c), 1, length=4)
    assert seen == [None] * 4
    assert carry == 16
    np.testing.assert_array_equal(ys, [1, 2, 4, 8])


def test_scan_reverse_runs_from_the_end_and_keeps_ys_in_xs_order():
    xs = np.array([1.0, 10.0, 100.0])
    order = []
    carry, ys = scan(lambda c, x: (order.append(x) or c + x, c + x), 0.0, xs, reverse=True)
    assert order == [100.0, 10.0, 1.0]
    assert carry == 111.0
    # ys[i] belongs to xs[i]: the running sum from the end (JAX's reverse scan)
    np.testing.assert_array_equal(ys, [111.0, 110.0, 100.0])


def _rnn_reference(xs, h0, wx, wh, b):
    """Forward and hand-written BPTT of loss = sum_t sum(h_t), h_t = tanh(x_t wx + h_{t-1} wh + b)."""
    hs, h = [], h0
    for x in xs:
        h = np.tanh(x @ wx + h @ wh + b)
        hs.append(h)
    grads = {"wx": np.zeros_like(wx), "wh": np.zeros_like(wh), "b": np.zeros_like(b), "xs": np.zeros_like(xs)}
    g_h = np.zeros_like(h0)
    for t in reversed(range(len(xs))):
        g = (g_h + 1.0) * (1 - hs[t] ** 2)
        prev = hs[t - 1] if t > 0 else h0
        grads["wx"] += xs[t].T @ g
        grads["wh"] += prev.T @ g
        grads["b"] += g.sum(axis=0)
        grads["xs"][t] = g @ wx.T
        g_h = g @ wh.T
    grads["h0"] = g_h
    return np.stack(hs), grads


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_rnn_backward_matches_hand_written_bptt(rng, reverse):
    T, B, D, H = 6, 3, 4, 5
    data = {"xs": rng.normal(size=(T, B, D)), "h0": rng.normal(size=(B, H)), "wx": rng.normal(size=(D, H)) * 0.5,
            "wh": rng.normal(size=(H, H)) * 0.5, "b": rng.normal(size=H)}
    t = {k: leaf(v) for k, v in data.items()}
    h_T, hs = scan(lambda h, x: (gc.tanh(x @ t["wx"] + h @ t["wh"] + t["b"]),) * 2, t["h0"], t["xs"], reverse=reverse)
    order = slice(None, None, -1) if reverse else slice(None)
    ref_hs, ref_grads = _rnn_reference(data["xs"][order], data["h0"], data["wx"], data["wh"], data["b"])
    ref_hs, ref_grads["xs"] = ref_hs[order], ref_grads["xs"][order]
    np.testing.assert_allclose(hs.detach().numpy(), ref_hs, rtol=1e-12)
    np.testing.assert_allclose(h_T.detach().numpy(), ref_hs[-1 if not reverse else 0], rtol=1e-12)
    hs.sum().backward()
    for name, tensor in t.items():
        np.testing.assert_allclose(tensor.grad.numpy(), ref_grads[name], rtol=1e-10, atol=1e-12, err_msg=name)


def test_scan_inside_scan():
    m = np.arange(12.0).reshape(3, 4)
    w = leaf(2.0)

    def row(total, r):
        row_total, partials = scan(lambda c, v: (c + v * w, c + v * w), gc.tensor(0.0), r)
        return total + row_total, partials

    total, partials = scan(row, gc.tensor(0.0), gc.tensor(m))
    np.testing.assert_allclose(total.item(), 2 * m.sum())
    np.testing.assert_allclose(partials.detach().numpy(), 2 * np.cumsum(m, axis=1))
    total.backward()
    np.testing.assert_allclose(w.grad.item(), m.sum())


def test_cond_inside_while_collatz_with_gradient():
    scale = leaf(1.0)

    def step(s):
        n, acc = s
        return cond(n % 2 == 0, lambda: (n // 2, acc + scale), lambda: (3 * n + 1, acc * 2.0))

    n, acc = while_loop(lambda s: s[0] != 1, step, (6, gc.tensor(0.0)))
    # 6 -> 3 (+) -> 10 (*2) -> 5 (+) -> 16 (*2) -> 8 (+) -> 4 (+) -> 2 (+) -> 1 (+):
    # acc = ((s*2 + s)*2 + s + s + s + s): d/ds = (2 + 1)*2 + 4 = 10
    assert n == 1
    np.testing.assert_allclose(acc.item(), 10.0)
    acc.backward()
    np.testing.assert_allclose(scale.grad.item(), 10.0)


def test_scan_zero_length_gives_empty_stacks_without_recording():
    w = leaf([1.0, 2.0])
    xs = gc.tensor(np.zeros((0, 2), np.float32))
    calls = []

    def step(c, x):
        calls.append(gc.is_grad_enabled())
        return c, {"y": (x * w).astype(np.float32), "n": np.int32(1), "none": None}

    init = gc.tensor(np.float32(0.5))
    carry, ys = scan(step, init, xs)
    assert carry is init and calls == [False]
    assert isinstance(ys["y"], gc.Tensor) and ys["y"].shape == (0, 2) and ys["y"].dtype == np.float32
    assert not ys["y"].requires_grad
    assert isinstance(ys["n"], np.ndarray) and ys["n"].shape == (0,) and ys["n"].dtype == np.int32
    assert ys["none"] is None


def test_scan_zero_length_without_xs():
    carry, ys = scan(lambda c, x: (c + 1, np.zeros(3)), 7, length=0)
    assert carry == 7 and ys.shape == (0, 3) and ys.dtype == np.float64


@pytest.mark.parametrize("kwargs,error,fragment", [
    (dict(), ValueError, r"scan: give xs or length"),
    (dict(xs=np.zeros((3, 2)), length=4), ValueError, r"scan: length=4 but xs have leading length 3"),
    (dict(xs=(np.zeros(3), np.zeros(4))), ValueError,
     r"leaves of xs have different leading lengths \(xs\[0\]: 3, xs\[1\]: 4\)"),
    (dict(xs={"k": np.float64(1.0)}), ValueError, r"scan: xs\['k'\] has no leading axis to scan over"),
    (dict(length=-1), ValueError, r"scan: length must be >= 0, got -1"),
    (dict(length=2.0), TypeError, r"scan: length must be an int, got float"),
])
def test_scan_length_errors(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        scan(lambda c, x: (c, None), 0.0, **kwargs)


def test_scan_carry_and_y_checks():
    with pytest.raises(TypeError, match=r"scan: fn must return a pair \(carry, y\), got float"):
        scan(lambda c, x: c, 0.0, np.zeros(2))
    with pytest.raises(gc.ShapeError, match=r"scan: fn changed the shape of carry\['h'\] from \(2,\) to \(\) "
                                            r"\[at .*test_control_eager.py:\d+\]"):
        scan(lambda c, x: ({"h": x}, None), {"h": np.zeros(2)}, np.zeros(3))
    with pytest.raises(TypeError, match=r"scan: fn changed the dtype of y\[0\] from float64 to int64"):
        scan(lambda c, x: (c + 1, (np.float64(c) if c == 0 else np.int64(c),)), 0, length=3)
    with pytest.raises(TypeError, match=r"scan: fn returned y as a value, but it was None"):
        scan(lambda c, x: (c + 1, None if c == 0 else 1.0), 0, length=2)


def test_carry_leaf_of_unknown_type_is_a_type_error():
    with pytest.raises(TypeError, match=r"while_loop: carry\[1\] is a str, not a tensor, array or scalar"):
        while_loop(lambda s: False, lambda s: s, (1.0, "x"))


def test_scan_second_order_gradient():
    w = leaf(1.5)
    carry, ys = scan(lambda c, x: (c * w + x, c), gc.tensor(1.0), gc.tensor([0.0, 1.0, 2.0]))
    # carry = ((w + 0) w + 1) w + 2 = w^3 + w + 2; ys = [1, w, w^2 + 1]
    np.testing.assert_allclose(carry.item(), 1.5 ** 3 + 1.5 + 2)
    np.testing.assert_allclose(ys.detach().numpy(), [1.0, 1.5, 1.5 ** 2 + 1])
    (dw,) = gc.eager.grad(carry, w, create_graph=True)
    np.testing.assert_allclose(dw.item(), 3 * 1.5 ** 2 + 1)
    (d2w,) = gc.eager.grad(dw, w)
    np.testing.assert_allclose(d2w.item(), 6 * 1.5)
