"""The seed formulas in graph mode, against their analytic derivatives."""
import numpy as np
import pytest

import graphc as gc
from op_domains import BACKENDS


@pytest.fixture(params=BACKENDS)
def compile_(request):
    return lambda inputs, outputs, **kw: gc.compile(inputs, outputs, backend=request.param, **kw)


def test_product_of_sums_gives_five(compile_):
    """y = (x + w) * (w + 1): dy/dw = 2w + 1 + x = 5 and dy/dx = w + 1 = 2 at w = 1, x = 2."""
    w = gc.placeholder((1,), name="w")
    x = gc.placeholder((1,), name="x")
    y = gc.mul(gc.add(w, x), gc.add(w, 1))
    gw, gx = gc.grad(gc.sum(y), [w, x])
    yv, gwv, gxv = compile_([w, x], [y, gw, gx])(np.array([1.0]), np.array([2.0]))
    np.testing.assert_array_equal(yv, [6.0])
    np.testing.assert_array_equal(gwv, [5.0])
    np.testing.assert_array_equal(gxv, [2.0])
    # the same with w a Variable and scalars, and with operators
    wv = gc.Variable(np.array(1.0), name="wv")
    xs = gc.placeholder((), name="xs")
    y2 = (xs + wv) * (wv + 1)
    assert compile_([xs], gc.grad(y2, wv))(2.0) == 5.0
    # and at other points: 2w + 1 + x
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(5), rng.standard_normal(5)
    w5, x5 = gc.placeholder((5,), name="w5"), gc.placeholder((5,), name="x5")
    got = compile_([w5, x5], gc.grad(gc.sum((x5 + w5) * (w5 + 1)), w5))(a, b)
    np.testing.assert_allclose(got, 2 * a + 1 + b)


def test_linear_model(compile_):
    """z = w*x + b: dz/dw = x, dz/dx = w, dz/db = 1 (summed over the broadcast)."""
    rng = np.random.default_rng(1)
    wv, xv, bv = rng.standard_normal(4), rng.standard_normal(4), 0.7
    w, x = gc.placeholder((4,), name="w"), gc.placeholder((4,), name="x")
    b = gc.placeholder((), name="b")
    z = w * x + b
    gw, gx, gb = gc.grad(gc.sum(z), [w, x, b])
    zv, gwv, gxv, gbv = compile_([w, x, b], [z, gw, gx, gb])(wv, xv, bv)
    np.testing.assert_allclose(zv, wv * xv + bv)
    np.testing.assert_allclose(gwv, xv)
    np.testing.assert_allclose(gxv, wv)
    assert gbv.shape == () and gbv == 4.0
    # with grad_y: the vector-Jacobian product
    gy = rng.standard_normal(4)
    gw2, gb2 = compile_([w, x, b], gc.grad(z, [w, b], grad_y=gy))(wv, xv, bv)
    np.testing.assert_allclose(gw2, gy * xv)
    np.testing.assert_allclose(gb2, gy.sum())


def test_x_squared_times_exp(compile_):
    """y = x**2 * exp(x): y' = 2x e^x + x^2 e^x, y'' = (2 + 4x + x^2) e^x, on random 3x4 inputs."""
    xv = np.random.default_rng(2).uniform(-2, 2, (3, 4))
    x = gc.placeholder((3, 4), name="x")
    y = x ** 2 * gc.exp(x)
    g = gc.grad(gc.sum(y), x)
    h = gc.grad(gc.sum(g), x)  # elementwise: the diagonal of the Hessian
    yv, gv, hv = compile_([x], [y, g, h])(xv)
    e = np.exp(xv)
    np.testing.assert_allclose(yv, xv ** 2 * e, rtol=1e-14)
    np.testing.assert_allclose(gv, 2 * xv * e + xv ** 2 * e, rtol=1e-13)
    np.testing.assert_allclose(hv, (2 + 4 * xv + xv ** 2) * e, rtol=1e-12, atol=1e-14)
    # forward mode agrees
    t = gc.jvp(y, x, np.ones((3, 4)))
    np.testing.assert_allclose(compile_([x], t)(xv), gv, rtol=1e-13)


def test_two_x_dot_x_gives_four_x(compile_):
    """y = 2 x.x (a dot product by @): dy/dx = 4x; for x = arange(4): [0, 4, 8, 12]."""
    x = gc.placeholder((4,), name="x")
    y = 2 * x @ x
    assert y.shape == ()
    g = gc.grad(y, x)
    xv = np.arange(4.0)
    yv, gv = compile_([x], [y, g])(xv)
    assert yv == 2 * xv @ xv
    np.testing.assert_array_equal(gv, 4 * xv)
    np.testing.assert_array_equal(gv, [0.0, 4.0, 8.0, 12.0])
    # the second derivative is 4 I: grad of sum(g * r) is 4 r
    r = np.array([1.0, -2.0, 0.5, 3.0])
    np.testing.assert_array_equal(compile_([x], gc.grad(gc.sum(g * r), x))(xv), 4 * r)
    # with unknown length and random values
    xn = gc.placeholder((None,), name="xn")
    v = np.random.default_rng(3).standard_normal(7)
    np.testing.assert_allclose(compile_([xn], gc.grad(2 * xn @ xn, xn))(v), 4 * v)


def test_sum_of_sum_gives_ones(compile_):
    """d = sum(a + b): the gradients are ones of each input's shape (b broadcast: its count)."""
    a = gc.placeholder((2, 3), name="a")
    b = gc.placeholder((2, 3), name="b")
    c = gc.placeholder((3,), name="c")
    d = gc.sum(a + b)
    ga, gb = gc.grad(d, [a, b])
    gca, gcc = gc.grad(gc.sum(a + c), [a, c])
    av, bv, cv = np.ones((2, 3)), np.full((2, 3), 2.0), np.arange(3.0)
    dv, gav, gbv, gcav, gccv = compile_([a, b, c], [d, ga, gb, gca, gcc])(av, bv, cv)
    assert dv == 18.0
    np.testing.assert_array_equal(gav, np.ones((2, 3)))
    np.testing.assert_array_equal(gbv, np.ones((2, 3)))
    np.testing.assert_array_equal(gcav, np.ones((2, 3)))
    np.testing.assert_array_equal(gccv, np.full(3, 2.0))
