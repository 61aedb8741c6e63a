"""Sub-graphs and tuple values in the IR (issue 9): bodies held by ops, walked generically by the
printer, DOT/networkx export, CSE/DCE, the interpreter, nan_check and the type check; tuple-valued
nodes with `part` projections, their VJP, and multi-output fused kernels."""
import ast
import pathlib

import numpy as np
import pytest

import graphc as gc
from graphc.ir.errors import RewriteError
from graphc.ir.graph import Graph
from graphc.ir.interpreter import evaluate
from graphc.ir.node import Node
from graphc.ir.ops import elementwise as ew
from graphc.ir.ops.fused import FUSED
from graphc.ir.ops.sources import parameter
from graphc.ir.ops.tuples import PART, part
from graphc.ir.registry import Op
from graphc.ir.types import TupleType
from graphc.passes import pipeline
from graphc.passes.cse import cse
from graphc.passes.rewrite import within_bodies

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _gradients_of_f():
    x = gc.placeholder((None,), name="x")
    y = gc.placeholder((None,), name="y")
    f = gc.tanh(x * y + 0.5 * x) * gc.sigmoid(y) - gc.exp(-x * x) + 0.1 * x
    return [x, y], gc.grad(gc.sum(f), [x, y])


def _fused_nodes(graph):
    return [n for n in graph.nodes if n.op is FUSED]


def test_gradient_wrt_two_inputs_is_one_kernel_with_two_results_on_the_reference_values():
    inputs, grads = _gradients_of_f()
    fast = gc.compile(inputs, grads)
    reference = gc.compile(inputs, grads, backend="numpy", optimize=False)
    (kernel,) = _fused_nodes(fast.graph)
    assert kernel.parts is not None and len(kernel.parts) == 2
    assert [n.op for n in fast.graph.nodes if n.inputs and n.op is not FUSED] == [PART, PART]
    rng = np.random.default_rng(0)
    for n in (1, 7, 1000):
        a, b = rng.standard_normal(n), rng.standard_normal(n)
        for got, want in zip(fast(a, b), reference(a, b)):
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    # the loop writes both results: a kernel of two output arrays
    assert "out0" in fast.source and "out1" in fast.source


def test_multi_output_kernel_results_used_inside_the_graph_and_as_outputs():
    x = gc.placeholder((None, 3), name="x")
    shared = gc.exp(x) * 2.0
    first, second = shared + 1.0, shared * x
    outputs = [first, second, gc.sum(first @ gc.constant(np.eye(3))) + gc.sum(second)]
    fast = gc.compile([x], outputs)
    reference = gc.compile([x], outputs, backend="numpy", optimize=False)
    assert any(n.parts is not None for n in fast.graph.nodes)
    a = np.random.default_rng(1).standard_normal((4, 3))
    for _ in range(3):  # again: results recycled between calls must stay right
        for got, want in zip(fast(a), reference(a)):
            np.testing.assert_allclose(got, want, rtol=1e-13)
    first_a, second_a, _ = fast(a)
    assert not np.shares_memory(first_a, second_a)


def test_kernels_that_depend_on_each_other_are_not_merged():
    x = gc.placeholder((None,), name="x")
    shared = gc.tanh(x)
    first = shared * 3.0
    # `second` needs a reduction of `first`, so one loop cannot compute both
    second = shared * gc.sum(first)
    f = gc.compile([x], [first, second])
    assert all(n.parts is None for n in f.graph.nodes)
    a = np.linspace(-1, 1, 5)
    got_first, got_second = f(a)
    np.testing.assert_allclose(got_second, np.tanh(a) * np.sum(np.tanh(a) * 3.0), rtol=1e-14)


def test_listing_shows_bodies_indented_and_dot_draws_them_as_clusters():
    inputs, grads = _gradients_of_f()
    f = gc.compile(inputs, grads)
    text = str(f.graph)
    lines = text.splitlines()
    body_at = next(i for i, line in enumerate(lines) if line.lstrip().startswith("body ("))
    fused_at = next(i for i, line in enumerate(lines) if "= fused(" in line)
    indent = lambda line: len(line) - len(line.lstrip())  # noqa: E731
    assert body_at > fused_at and indent(lines[body_at]) > indent(lines[fused_at])
    assert any("= parameter(index=0)" in line and indent(line) > indent(lines[body_at]) for line in lines)
    assert "kernel over" in text and "in x: placeholder 'x'" in text
    assert "reasons=" not in text  # shown as notes, not inline
    dot = f.graph.to_dot()
    assert 'subgraph "cluster_' in dot and dot.count("{") == dot.count("}")
    nx_graph = f.graph.to_networkx()
    inside = [data for _, data in nx_graph.nodes(data=True) if data["inside"] is not None]
    assert {d["op"] for d in inside} >= {"parameter", "tanh", "sigmoid"}
    labels = f.graph.labels()
    assert len(set(labels.values())) == len(labels)  # body nodes get labels of their own


class _SplitOp(Op):
    """A test-only tuple-valued op (not registered): (2 x, x ** 2)."""

    name = "split_for_test"

    def infer(self, inputs, attrs):
        (x,) = inputs
        return TupleType([(x.shape, x.dtype), (x.shape, x.dtype)])

    def impl(self, x):
        return (2 * x, x * x)

    def vjp(self, cotangents, out, x):
        g_double, g_square = cotangents
        total = None
        if g_double is not None:
            total = ew.mul(g_double, 2.0)
        if g_square is not None:
            term = ew.mul(ew.mul(g_square, x), 2.0)
            total = term if total is None else ew.add(total, term)
        return (total,)


def test_vjp_of_a_tuple_valued_op_gets_one_cotangent_per_result():
    x = gc.placeholder((None,), name="x")
    pair = gc.ir.node.build_node(_SplitOp(), [x], {})
    assert pair.parts == (((None,), np.dtype("float64")),) * 2 and pair.type_text == "(float64(?,), float64(?,))"
    doubled, squared = part(pair, 0), part(pair, 1)
    loss = gc.sum(doubled * 3.0) + gc.sum(squared) + gc.sum(squared * doubled)
    (g,) = gc.grad(loss, [x])
    a = np.array([0.5, -1.0, 2.0])
    for backend in ("numpy", "numba"):
        got = gc.compile([x], g, backend=backend)(a)
        # d/dx [6x + x^2 + 2x^3] = 6 + 2x + 6x^2
        np.testing.assert_allclose(got, 6 + 2 * a + 6 * a * a, rtol=1e-14)
    # only one part used: the other slot's cotangent is None
    (g_one,) = gc.grad(gc.sum(squared), [x])
    np.testing.assert_allclose(gc.compile([x], g_one, backend="numpy")(a), 2 * a)


def _body_with_duplicate():
    x = gc.placeholder((None,), name="x")
    p = parameter(x, 0)
    first, second = ew.exp(p), ew.exp(p)
    body = Graph([p], [ew.add(first, second)])
    node = Node(FUSED, [x], {"body": body, "reasons": ("placeholder 'x'",)}, (None,), np.dtype("float64"))
    return x, node


def test_cse_reaches_into_bodies_and_the_interpreter_runs_them():
    x, node = _body_with_duplicate()
    graph = Graph([x], [node])
    assert sum(n.op is ew.EXP for n in node.attrs["body"].nodes) == 2
    optimized = within_bodies(cse)(graph)
    (new,) = _fused_nodes(optimized)
    assert sum(n.op is ew.EXP for n in new.attrs["body"].nodes) == 1
    a = np.array([0.0, 1.0])
    (before,), _ = evaluate(graph, [a])
    (after,), _ = evaluate(optimized, [a])
    np.testing.assert_array_equal(before, 2 * np.exp(a))
    np.testing.assert_array_equal(after, before)


def test_nan_check_names_the_step_inside_a_multi_output_kernel():
    x = gc.placeholder((None,), name="x")
    shared = gc.log(x)  # nan for negative x
    f = gc.compile([x], [shared * 2.0, shared + 1.0], nan_check=True)
    assert any(n.parts is not None for n in f.graph.nodes)
    f(np.array([1.0, 2.0]))
    with pytest.raises(gc.NaNError, match=r"NaN produced by log built at .*test_subgraphs.py"):
        f(np.array([1.0, -2.0]))


def _retyping_pass(graph):
    """A broken pass: rebuilds every tanh claiming float32."""
    from graphc.passes.rewrite import rebuild

    def replace(node, inputs):
        if node.op is ew.TANH:
            return Node(node.op, inputs, node.attrs, node.shape, np.float32, site=node.site)
        return Node(node.op, inputs, node.attrs, node.shape, node.dtype, site=node.site) if inputs else node

    return rebuild(graph, replace)


def test_the_type_check_after_each_pass_names_the_pass_that_broke_a_type(monkeypatch):
    monkeypatch.setitem(pipeline.PIPELINES, "default", pipeline.PIPELINES["default"] + [("retype", _retyping_pass)])
    x = gc.placeholder((None,), name="x")
    with pytest.raises(RewriteError, match=r"after pass 'retype': tanh .* claims float32\(\?,\) but its inputs "
                                           r"give float64\(\?,\)"):
        gc.compile([x], gc.tanh(x) * 2.0, verify=True)


def test_verify_and_nan_check_use_the_interpreter_not_a_backend():
    for module in ("passes/verify.py", "backends/nan_check.py", "ir/interpreter.py"):
        tree = ast.parse((ROOT / module).read_text())
        imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        assert not [m for m in imported if "backend" in m], (module, imported)


def test_an_optimized_graph_with_kernels_can_be_differentiated_again():
    """fused's VJP and JVP sweep its body: the gradient of a compiled graph's kernels (one and two
    results) equals the gradient of the graph as built."""
    inputs, grads = _gradients_of_f()
    x, y = inputs
    optimized = gc.compile(inputs, grads).graph
    assert any(n.parts is not None for n in optimized.nodes)
    gx, gy = optimized.outputs
    second = gc.grad(gc.sum(gx * 0.5) + gc.sum(gy), [x, y])
    want = gc.grad(gc.sum(grads[0] * 0.5) + gc.sum(grads[1]), [x, y])
    tangent = gc.jvp(list(optimized.outputs), [x, y], [gc.constant(np.ones(3)), gc.constant(np.ones(3))])
    tangent_want = gc.jvp(grads, [x, y], [gc.constant(np.ones(3)), gc.constant(np.ones(3))])
    check = gc.compile([x, y], second + want + tangent + tangent_want, backend="numpy")
    a, b = np.array([0.3, -1.2, 2.0]), np.array([1.5, 0.2, -0.7])
    got = check(a, b)
    for i in range(2):
        np.testing.assert_allclose(got[i], got[2 + i], rtol=1e-12)
        np.testing.assert_allclose(got[4 + i], got[6 + i], rtol=1e-12)


def test_a_gradient_cut_inside_a_body_names_the_op_there():
    x = gc.placeholder((None,), name="x")
    p = parameter(x, 0)
    step = ew.astype(ew.less(p, 0.0), "float64")
    body = Graph([p], [ew.mul(step, 2.0)])
    node = Node(FUSED, [x], {"body": body, "reasons": ("placeholder 'x'",)}, (None,), np.dtype("float64"))
    with pytest.raises(gc.GradientError, match=r"non-differentiable op 'less' .*test_subgraphs.py"):
        gc.grad(gc.sum(node), x)
