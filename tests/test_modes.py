"""gc.trace, gc.jit and gc.compare: one model function run as a graph and eagerly."""
import numpy as np
import pytest

import graphc as gc


def mlp(x, w, b):
    return gc.tanh(x @ w + b).sum(axis=1)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)


def test_trace_builds_the_graph_on_placeholders(data):
    out = gc.trace(mlp, *data)
    assert isinstance(out, gc.Node) and out.shape == (5,) and out.dtype == np.float64
    listing = gc.debugprint(out)
    assert "matmul" in listing and "tanh" in listing and "arg0" in listing


def test_trace_keeps_python_scalars_static():
    out = gc.trace(lambda x, k: x.reshape(k, -1), np.zeros((2, 6)), 3)
    assert out.shape == (3, 4)


def test_jit_compiles_once_per_signature(data):
    f = gc.jit(mlp)
    x, w, b = data
    np.testing.assert_allclose(f(x, w, b), np.tanh(x @ w + b).sum(axis=1), rtol=1e-14)
    f(x * 2, w, b)
    assert len(f.compiled) == 1  # same shapes and dtypes: reused
    f(np.ones((7, 3)), w, b)
    f(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32))
    assert len(f.compiled) == 3
    assert f.graph.inputs[0].shape == (5, 3) and f.graph.inputs[0].dtype == np.float32
    assert "fused" in str(f.graph) and f.stats.kernels >= 1


def test_jit_returns_the_functions_structure(data):
    f = gc.jit(lambda x, w, b: (x @ w, gc.sum(b)))
    a, s = f(*data)
    np.testing.assert_allclose(a, data[0] @ data[1])
    assert float(s) == pytest.approx(float(np.sum(data[2])))


def test_jit_as_decorator_with_options():
    @gc.jit(backend="numpy")
    def double(x):
        return x * 2.0

    assert double(np.arange(3.0)).tolist() == [0.0, 2.0, 4.0]
    assert double.stats.backend == "numpy"


def test_jit_graph_before_call_is_an_error():
    with pytest.raises(RuntimeError, match="has not been called yet"):
        gc.jit(mlp).graph


def test_jit_rejects_functions_that_leave_the_graph():
    f = gc.jit(lambda x: float(x.sum()))
    with pytest.raises(TypeError, match="no value until it is compiled"):
        f(np.ones(3))


def test_compare_values_and_gradients_agree(data):
    report = gc.compare(mlp, *data, wrt=[1, 2])
    assert [r["name"] for r in report.rows] == ["output 0", "grad arg 1", "grad arg 2"]
    assert report.max_abs < 1e-12 and report.max_rel < 1e-12
    assert report["grad arg 1"]["shape"] == (3, 4)
    assert report.eager_time > 0 and report.compiled_time > 0 and report.compile_time > 0
    text = str(report)
    assert "max abs diff" in text and "grad arg 2" in text and "time per call" in text


def test_compare_gradients_match_analytic(data):
    # compare() differentiates sum(outputs); check that its gradient rows are that gradient
    x, w, b = data
    report = gc.compare(lambda w: gc.sum(w * w), w, wrt=0)
    assert report["grad arg 0"]["max_abs"] < 1e-15
    f = gc.jit(lambda w: gc.grad(gc.sum(w * w), w))
    np.testing.assert_allclose(f(w), 2 * w)


def test_compare_reports_a_real_difference():
    # a function whose eager and compiled forms differ: eager reads a global NumPy RNG draw
    calls = []

    def noisy(x):
        calls.append(1)
        return x + float(len(calls))

    report = gc.compare(noisy, np.zeros(3))
    assert report.max_abs >= 1.0


def test_compare_bad_wrt():
    with pytest.raises(ValueError, match="wrt=5 is not the position of an array argument"):
        gc.compare(mlp, np.ones((2, 3)), np.ones((3, 4)), np.ones(4), wrt=5)
    with pytest.raises(TypeError, match="gradients need floats"):
        gc.compare(lambda i: i * 2, np.arange(3), wrt=0)
