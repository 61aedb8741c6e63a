"""Symbolic differentiation on the graph: reverse mode (`grad`) and forward mode (`jvp`).

The result is an ordinary graph built from the same ops, so `grad` of a gradient gives higher
derivatives. Rules come from the op registry through `ir.derivatives`, shared with eager mode.
"""
import numpy as np

from graphc.ir.derivatives import add_cotangents, call_jvp, call_vjp
from graphc.ir.errors import GradientError, ShapeError
from graphc.ir.graph import Graph, toposort
from graphc.ir.node import Node, as_node
from graphc.ir.ops.elementwise import add
from graphc.ir.ops.shape import zeros_like
from graphc.ir.ops.sources import constant
from graphc.ir.types import fmt_shape, is_known, shapes_agree

from .stabilize import stabilize


def _zeros_for(x):
    # A static zero when the shape is known keeps the graph small and needs no feed.
    if is_known(x.shape):
        return constant(np.zeros(x.shape, x.dtype))
    return zeros_like(x)


def _gradient_edges(node):
    """The inputs of `node` that gradients flow into (not conditions, indices or shape refs)."""
    if node.op.blocks_gradient(node.attrs):
        return []
    return [(i, x) for i, x in enumerate(node.inputs) if not node.op.is_nondiff_input(i)]


def _reaching(sources, order, edges):
    """Nodes of `order` (topological) that depend on some source through `edges`."""
    reached = set(id(s) for s in sources)
    for node in order:
        if any(id(x) in reached for _, x in edges(node)):
            reached.add(id(node))
    return reached


def _all_value_edges(node):
    return [(i, x) for i, x in enumerate(node.inputs) if not node.op.is_nondiff_input(i)]


def _blocking_op(x, y, order):
    """The first op that cuts every gradient path from x to y, or None if y ignores x."""
    reached = _reaching([x], order, _all_value_edges)
    if id(y) not in reached:
        return None
    for node in order:
        if id(node) in reached and node.op.blocks_gradient(node.attrs):
            if any(id(inp) in reached for _, inp in _all_value_edges(node)):
                return node
    return None


def _check_wrt(x):
    if not isinstance(x, Node):
        raise TypeError(f"grad: can only differentiate with respect to graph nodes, got {type(x).__name__}")
    if x.dtype.kind not in "fc":
        raise TypeError(
            f"grad: cannot differentiate with respect to {x.label} of integer/bool dtype {x.dtype} "
            f"(built at {x.site})"
        )


def grad(y, xs, grad_y=None):
    """Reverse-mode gradient of y with respect to each of xs (a node or a list of nodes)."""
    single = isinstance(xs, Node)
    xs = [xs] if single else list(xs)
    if not isinstance(y, Node):
        raise TypeError(f"grad: y must be a graph node, got {type(y).__name__}")
    for x in xs:
        _check_wrt(x)
    if grad_y is None:
        if y.shape != ():
            raise ShapeError(
                f"grad: y must be a scalar, but {y.label} has shape {fmt_shape(y.shape)} "
                f"(built at {y.site}); pass grad_y= of the same shape to get a vector-Jacobian product"
            )
        grad_y = constant(np.ones((), y.dtype))
    else:
        grad_y = as_node(grad_y)
        if not shapes_agree(grad_y.shape, y.shape):
            raise ShapeError(
                f"grad: grad_y has shape {fmt_shape(grad_y.shape)} but y {y.label} has shape {fmt_shape(y.shape)}"
            )
    if all(not x.inputs for x in xs):
        # Differentiate the stabilized form (log(softmax) -> log_softmax, ...), whose gradient
        # rules are stable too; a rewrite of the forward values alone would leave the gradient
        # of the unstable form in the graph. Intermediate xs must keep their identity: skip then.
        y = stabilize(Graph([], [y])).outputs[0]
    order = toposort([y])
    on_path = _reaching(xs, order, _gradient_edges)
    cotangents = {id(y): [grad_y]}
    # Only nodes between some x and y need a cotangent; x's own inputs are not traversed past x.
    wanted_ids = on_path
    for node in reversed(order):
        received = cotangents.pop(id(node), None)
        if received is None:
            continue
        total = received[0]
        for more in received[1:]:
            total = add_cotangents(total, more, add)
        cotangents[id(node)] = [total]
        if not node.inputs or node.op.blocks_gradient(node.attrs):
            continue
        wanted = [
            (not node.op.is_nondiff_input(i)) and id(x) in wanted_ids for i, x in enumerate(node.inputs)
        ]
        if not any(wanted):
            continue
        grads = call_vjp(node.op, total, node, node.inputs, node.attrs, wanted)
        for x, g in zip(node.inputs, grads):
            if g is not None:
                cotangents.setdefault(id(x), []).append(g)
    results = []
    for x in xs:
        got = cotangents.get(id(x))
        if got is not None:
            results.append(got[0])
            continue
        blocker = _blocking_op(x, y, order)
        if blocker is not None:
            raise GradientError(
                f"grad: every path from {x.label} to {y.label} goes through the non-differentiable op "
                f"'{blocker.op.name}' ({blocker.label}, built at {blocker.site}); its gradient is not "
                "defined. Use gc.stop_gradient if a zero gradient is intended."
            )
        results.append(_zeros_for(x))
    return results[0] if single else results


def jvp(ys, xs, tangents):
    """Forward mode: the directional derivatives of ys along `tangents` at xs."""
    single_y = isinstance(ys, Node)
    ys = [ys] if single_y else list(ys)
    single_x = isinstance(xs, Node)
    xs = [xs] if single_x else list(xs)
    tangents = [tangents] if single_x else list(tangents)
    if len(tangents) != len(xs):
        raise ValueError(f"jvp: got {len(tangents)} tangents for {len(xs)} inputs")
    tangent_of = {}
    for x, t in zip(xs, tangents):
        _check_wrt(x)
        t = as_node(t)
        if not shapes_agree(t.shape, x.shape):
            raise ShapeError(f"jvp: tangent shape {fmt_shape(t.shape)} does not match {x.label} {fmt_shape(x.shape)}")
        tangent_of[id(x)] = t if t.dtype == x.dtype else t.astype(x.dtype)
    for node in toposort(ys):
        if id(node) in tangent_of or not node.inputs:
            continue
        ins = [
            None if node.op.is_nondiff_input(i) else tangent_of.get(id(x)) for i, x in enumerate(node.inputs)
        ]
        if all(t is None for t in ins):
            continue
        if node.op.blocks_gradient(node.attrs):
            continue
        t = call_jvp(node.op, ins, node, node.inputs, node.attrs)
        if t is not None:
            tangent_of[id(node)] = t
    outs = [tangent_of.get(id(y)) if id(y) in tangent_of else _zeros_for(y) for y in ys]
    return outs[0] if single_y else outs
