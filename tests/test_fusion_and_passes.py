"""The rewrite passes and fusion: what the optimized graph looks like, and that it is right."""
import numpy as np
import pytest

import graphc as gc
from graphc.passes import pipeline
from graphc.passes.verify import VerificationError


def ops_of(f):
    return [n.op.name for n in f.graph.nodes]


def kernels_of(f):
    """The op names computed by each fused kernel, from its body."""
    return [[m.op.name for m in n.attrs["body"].nodes if m.inputs] for n in f.graph.nodes if n.op.name == "fused"]


def test_sum_of_product_is_one_kernel_without_temporaries():
    x = gc.placeholder((None,), name="x")
    y = gc.placeholder((None,), name="y")
    f = gc.compile([x, y], gc.sum(x * y))
    (kernel,) = kernels_of(f)
    assert kernel == ["mul", "sum"]
    assert ops_of(f) == ["placeholder", "placeholder", "fused"]
    a, b = np.arange(5.0), np.linspace(-1, 1, 5)
    np.testing.assert_allclose(f(a, b), np.sum(a * b), rtol=1e-14)


def test_elementwise_chain_across_broadcasting_is_one_kernel():
    x = gc.placeholder((None, 4), name="x")
    b = gc.placeholder((4,), name="b")
    out = gc.tanh(x * 2.0 + b) * gc.sigmoid(x)
    f = gc.compile([x, b], out)
    (kernel,) = kernels_of(f)
    assert kernel == ["mul", "add", "tanh", "sigmoid", "mul"]
    xv, bv = np.random.default_rng(0).standard_normal((3, 4)), np.arange(4.0)
    ref = np.tanh(xv * 2 + bv) * (1 / (1 + np.exp(-xv)))
    np.testing.assert_allclose(f(xv, bv), ref, rtol=1e-13, atol=1e-15)


def test_graph_listing_explains_kernel_boundaries():
    x = gc.placeholder((None, 3), name="x")
    w = gc.Variable(np.ones((3, 3)), name="w")
    h = gc.exp(x)
    out = gc.tanh(h @ w) + h.sum()
    text = str(gc.compile([x], out).graph)
    assert "kernel over" in text
    assert "matmul is not elementwise" in text
    assert "used by 2 consumers" in text or "result of a reduction" in text
    assert __file__ in text  # each node shows the line that built it


def test_stats_record_every_pass():
    x = gc.placeholder((None,), name="x")
    f = gc.compile([x], gc.neg(gc.neg(x)) * 1.0 + gc.exp(x))
    names = [p["name"] for p in f.stats.passes]
    assert names == ["stabilize", "constant_fold", "cse", "simplify", "cse_again", "dce", "prune_loops",
                     "hoist_loops", "prune_loops_again", "fuse"]
    for p in f.stats.passes:
        assert p["nodes_before"] >= 0 and p["nodes_after"] >= 0 and p["seconds"] >= 0
    assert f.stats.kernels == 1 and f.stats.compile_time > 0
    assert "stabilize" in str(f.stats)


def _optimized(build, shape=(None,)):
    x = gc.placeholder(shape, name="x")
    f = gc.compile([x], build(x), backend="numpy")
    return f, [n.op.name for n in f.graph.nodes]


@pytest.mark.parametrize(
    "build, absent",
    [
        (lambda x: gc.neg(gc.neg(x)), "neg"),
        (lambda x: x * 1.0, "mul"),
        (lambda x: x / 1.0, "div"),
        (lambda x: x - 0.0, "sub"),
        (lambda x: x.T.T, "transpose"),
        (lambda x: x.astype("float64"), "cast"),
        (lambda x: gc.stop_gradient(x), "stop_gradient"),
    ],
)
def test_simplify_removes_identities(build, absent):
    f, ops = _optimized(build)
    assert absent not in ops
    assert f(np.array([1.5, -2.0])).tolist() == [1.5, -2.0]


def test_simplify_keeps_x_plus_zero_for_negative_zero():
    f, ops = _optimized(lambda x: x + 0.0)
    assert "add" in ops
    assert not np.signbit(f(np.array([-0.0])))[0]  # NumPy: -0.0 + 0.0 == +0.0


def test_transpose_and_reshape_chains_collapse():
    f, ops = _optimized(lambda x: gc.transpose(gc.transpose(x, (1, 2, 0)), (2, 0, 1)), shape=(2, 3, 4))
    assert "transpose" not in ops
    f, ops = _optimized(lambda x: x.reshape(6, 4).reshape(4, 6), shape=(2, 3, 4))
    assert ops.count("reshape") == 1
    v = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(f(v), v.reshape(4, 6))


def test_broadcast_then_sum_becomes_a_multiply():
    f, ops = _optimized(lambda x: gc.sum(gc.broadcast_to(x, (5, 3)), axis=0), shape=(3,))
    np.testing.assert_allclose(f(np.array([1.0, 2.0, 3.0])), [5.0, 10.0, 15.0])


def test_constant_folding_and_cse():
    x = gc.placeholder((None,), name="x")
    c = gc.exp(gc.constant(1.0)) * 2.0
    f = gc.compile([x], gc.tanh(x) * c + gc.tanh(x), backend="numpy")
    ops = [n.op.name for n in f.graph.nodes]
    assert ops.count("tanh") == 1 and "exp" not in ops
    np.testing.assert_allclose(f(np.array([0.5])), np.tanh(0.5) * 2 * np.e + np.tanh(0.5))


@pytest.mark.parametrize(
    "unstable, stable_op, big",
    [
        (lambda x: gc.log(gc.softmax(x)), "log_softmax", 1e4),
        (lambda x: gc.log(gc.sigmoid(x)), "log_sigmoid", -1e3),
        (lambda x: gc.log(1.0 + x), "log1p", 1e-12),
        (lambda x: gc.exp(x) - 1.0, "expm1", 1e-12),
        (lambda x: gc.log(gc.sum(gc.exp(x), axis=-1)), "logsumexp", 1e3),
    ],
)
def test_stabilize_rewrites_unstable_forms(unstable, stable_op, big):
    f, ops = _optimized(unstable, shape=(2, 3))
    assert stable_op in ops
    v = np.array([[big, 0.0, -0.5], [1.0, 2.0, 3.0]])
    got = f(v)
    assert np.all(np.isfinite(got))
    # compare with the same formula computed stably in float128-free NumPy terms
    x = gc.placeholder((2, 3), name="x")
    plain = gc.compile([x], unstable(x), backend="numpy", optimize=False)(np.array([[0.1, 0.0, -1.0], [1.0, 2.0, 3.0]]))
    again = f(np.array([[0.1, 0.0, -1.0], [1.0, 2.0, 3.0]]))
    np.testing.assert_allclose(again, plain, rtol=1e-12, atol=1e-300)


def test_log_sigmoid_stable_value_and_gradient():
    x = gc.placeholder((None,), name="x")
    y = gc.sum(gc.log(gc.sigmoid(x)))
    f = gc.compile([x], [y, gc.grad(y, x)])
    v = np.array([-800.0, -5.0, 0.0, 5.0, 800.0])
    val, g = f(v)
    expected = -np.logaddexp(0, -v)
    np.testing.assert_allclose(val, expected.sum(), rtol=1e-14)
    np.testing.assert_allclose(g, np.exp(-np.logaddexp(0, v)), rtol=1e-12, atol=1e-300)  # 1/(1+e^x)


def _bad_pass(graph):
    from graphc.ir.ops.elementwise import SIGMOID
    from graphc.passes.rewrite import clone_with_inputs, rebuild
    from graphc.ir.node import Node

    def replace(node, inputs):
        if node.op.name == "tanh":
            return Node(SIGMOID, inputs, {}, node.shape, node.dtype, site=node.site)
        return clone_with_inputs(node, inputs)

    return rebuild(graph, replace)


def test_verify_names_the_pass_and_node_that_changed_values(monkeypatch):
    monkeypatch.setitem(pipeline.PIPELINES, "default", pipeline.PIPELINES["default"] + [("bad_pass", _bad_pass)])
    x = gc.placeholder((None,), name="x")
    y = gc.tanh(x) * 2.0
    with pytest.raises(VerificationError, match=r"pass 'bad_pass' changed the value of sigmoid \(built at .*test_fusion_and_passes.py:\d+, was tanh\)"):
        gc.compile([x], y, backend="numpy", verify=True)
    gc.compile([x], gc.exp(x), backend="numpy", verify=True)  # nothing to break: passes


def test_rewrite_that_raises_is_an_error(monkeypatch):
    from graphc.passes import simplify
    from graphc.passes.local_rewrites import RewriteError

    def broken(node):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(simplify, "RULES", simplify.RULES + [broken])
    x = gc.placeholder((None,), name="x")
    with pytest.raises(RewriteError, match="rule broken failed on .* boom"):
        gc.compile([x], gc.exp(x), backend="numpy")


def test_gradient_needs_no_forward_value_and_few_kernels():
    x = gc.placeholder((None,), name="x")
    y = gc.placeholder((None,), name="y")
    f = gc.tanh(x * y + 0.5 * x) * gc.sigmoid(y) - gc.exp(-x * x) + 0.1 * x
    gx, gy = gc.grad(gc.sum(f), [x, y])
    g = gc.compile([x, y], [gx, gy])
    # the seed's broadcast takes its shape from x, so f itself is never computed; both gradients
    # come out of one loop with two results, which computes tanh and sigmoid once for both
    assert g.stats.kernels == 1
    assert all(n.op.name in ("placeholder", "fused", "constant", "part") for n in g.graph.nodes)
    (kernel,) = [n for n in g.graph.nodes if n.op.name == "fused"]
    assert len(kernel.parts) == 2 and len(kernel.attrs["body"].outputs) == 2
    body_ops = [m.op.name for m in kernel.attrs["body"].nodes]
    assert body_ops.count("tanh") == 1 and body_ops.count("sigmoid") == 1
    xv, yv = np.linspace(-2, 2, 7), np.linspace(1, -1, 7)
    u = xv * yv + 0.5 * xv
    t, s = np.tanh(u), 1 / (1 + np.exp(-yv))
    want_gx = (1 - t**2) * (yv + 0.5) * s + 2 * xv * np.exp(-xv**2) + 0.1
    want_gy = (1 - t**2) * xv * s + t * s * (1 - s)
    got_gx, got_gy = g(xv, yv)
    np.testing.assert_allclose(got_gx, want_gx, rtol=1e-13)
    np.testing.assert_allclose(got_gy, want_gy, rtol=1e-13)


def test_shape_references_forward_to_earlier_values():
    x = gc.placeholder((None, 3), name="x")
    out = gc.exp(x) * 2.0
    f = gc.compile([x], gc.zeros_like(out) + 1.0, backend="numpy")
    zeros = [n for n in f.graph.nodes if n.op.name == "zeros_like"]
    assert zeros and zeros[0].inputs[0].op.name == "placeholder"
    assert "exp" not in [n.op.name for n in f.graph.nodes]
    np.testing.assert_array_equal(f(np.ones((2, 3))), np.ones((2, 3)))


def test_concat_part_reads_its_pieces_only_for_their_sizes():
    # The gradient of a concatenation slices the seed by each piece's size: the pieces'
    # values are never needed, so exp(x) is not computed for the gradient with respect to y.
    x = gc.placeholder((None,), name="x")
    y = gc.placeholder((2,), name="y")
    joined = gc.concatenate([gc.exp(x), y])
    gy = gc.grad(gc.sum(joined * np.arange(1.0, 6.0)), y)
    f = gc.compile([x, y], gy, backend="numpy")
    assert "exp" not in [n.op.name for n in f.graph.nodes]
    np.testing.assert_array_equal(f(np.zeros(3), np.zeros(2)), [4.0, 5.0])


def test_a_dropped_result_buffer_is_reused_and_a_held_one_is_not():
    x = gc.placeholder((None,), name="x")
    f = gc.compile([x], gc.tanh(x) * 2.0)
    v = np.linspace(-1, 1, 1000)
    held = f(v)
    other = f(v)
    assert held.ctypes.data != other.ctypes.data  # `held` is still referenced: a new array
    address = other.ctypes.data
    del other
    again = f(v * 0.5)
    assert again.ctypes.data == address  # nobody held it: written in place of a new allocation
    np.testing.assert_allclose(held, np.tanh(v) * 2)
    np.testing.assert_allclose(again, np.tanh(v * 0.5) * 2)


@pytest.mark.parametrize("where", ["node", "graph"])
def test_rules_that_never_converge_raise_naming_them(monkeypatch, where):
    from graphc.ir.ops import elementwise as ew
    from graphc.passes import simplify

    def rebuild_exp(node):  # always "finds" a new node for exp: never a fixed point on that node
        return ew.exp(node.inputs[0]) if node.op is ew.EXP else None

    def wrap_exp(node):  # grows the graph on every sweep: never a fixed point over the graph
        return ew.add(node, 0.0) if node.op is ew.EXP else None

    rule = rebuild_exp if where == "node" else wrap_exp
    monkeypatch.setattr(simplify, "RULES", simplify.RULES + [rule])
    x = gc.placeholder((None,), name="x")
    with pytest.raises(gc.RewriteError, match=rf"did not converge after \d+ sweeps .*rules that kept firing: {rule.__name__}"):
        gc.compile([x], gc.exp(x), backend="numpy")


def test_errors_are_exported():
    assert issubclass(gc.NaNError, gc.GraphcError) and issubclass(gc.NaNError, FloatingPointError)
    assert issubclass(gc.RewriteError, gc.GraphcError)
