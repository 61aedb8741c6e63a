"""Symbolic differentiation on the graph: reverse mode (`grad`) and forward mode (`jvp`).

The result is an ordinary graph built from the same ops, so `grad` of a gradient gives higher
derivatives. The sweeps themselves are ir.sweeps (ops with bodies use them too); rules come from
the op registry through `ir.derivatives`, shared with eager mode.
"""
import numpy as np

from graphc.ir.errors import GradientError, ShapeError
from graphc.ir.graph import Graph, substitute, toposort
from graphc.ir.node import Node, as_node
from graphc.ir.ops.shape import zeros_like
from graphc.ir.ops.sources import constant, placeholder
from graphc.ir.sweeps import backward, blocking_op, forward
from graphc.ir.types import fmt_shape, is_known, shapes_agree

from .rewrite import clone_with_inputs
from .stabilize import stabilize


def _zeros_for(x):
    # A static zero when the shape is known keeps the graph small and needs no feed.
    if is_known(x.shape):
        return constant(np.zeros(x.shape, x.dtype))
    return zeros_like(x)


def _check_wrt(x):
    if not isinstance(x, Node):
        raise TypeError(f"grad: can only differentiate with respect to graph nodes, got {type(x).__name__}")
    if x.dtype.kind not in "fc":
        raise TypeError(
            f"grad: cannot differentiate with respect to {x.label} of integer/bool dtype {x.dtype} "
            f"(built at {x.site})"
        )


def _stabilized_above(ys, xs):
    """ys stabilized, with every x kept as it is: an intermediate x stands in as a placeholder
    while the rules run (they must not rewrite it, or what it is computed from). Nodes the rules
    left alone are the user's own nodes again afterwards."""
    cut_of = {}  # id(user's node) -> its copy over the stand-ins
    for x in xs:
        if x.inputs and x.parts is None and id(x) not in cut_of:
            cut_of[id(x)] = placeholder(x.shape, x.dtype, name=x.name)
    original_of = {id(cut_of[id(x)]): x for x in xs if id(x) in cut_of}
    for node in toposort(ys):
        if id(node) in cut_of or not node.inputs:
            continue
        copy = clone_with_inputs(node, [cut_of.get(id(x), x) for x in node.inputs])
        if copy is not node:
            cut_of[id(node)], original_of[id(copy)] = copy, node
    stable = stabilize(Graph([], [cut_of.get(id(y), y) for y in ys])).outputs
    return substitute(stable, original_of)


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
    # Differentiate the stabilized form (log(softmax) -> log_softmax, ...), whose gradient
    # rules are stable too; a rewrite of the forward values alone would leave the gradient of
    # the unstable form in the graph.
    (y,) = _stabilized_above([y], xs)
    order = toposort([y])
    found = backward([y], [grad_y], xs)
    results = []
    for x, got in zip(xs, found):
        if got is not None:
            results.append(got)
            continue
        blocker = blocking_op(x, [y], order)
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
    found = forward(_stabilized_above(ys, xs), tangent_of)  # stable tangents, as grad's
    outs = [t if t is not None else _zeros_for(y) for t, y in zip(found, ys)]
    return outs[0] if single_y else outs
