"""Algebraic simplification: identities, double negation, chains of transposes and reshapes,
no-op shape fixes left by autodiff, broadcast-then-sum."""
import math

import numpy as np

from graphc.ir.ops import elementwise as ew
from graphc.ir.ops import linalg, reductions, shape
from graphc.ir.ops.elementwise import CAST, DIV, MUL, NEG, POW, STOP_GRADIENT, SUB
from graphc.ir.ops.linalg import TRANSPOSE
from graphc.ir.ops.reductions import SUM_LIKE
from graphc.ir.ops.shape import BROADCAST_LIKE, BROADCAST_TO, EXPAND_DIMS, RESHAPE, RESHAPE_LIKE, SQUEEZE
from graphc.ir.ops.sources import CONSTANT, constant
from graphc.ir.types import is_known

from .local_rewrites import apply_rules
from .rewrite import clone_with_inputs


def _is_const(node, value):
    if node.op is not CONSTANT:
        return False
    array = node.attrs["value"]
    with np.errstate(invalid="ignore"):
        return bool(np.all(array == value)) and array.size > 0


def _same_static_shape(a, b):
    return a.shape == b.shape and is_known(a.shape)


def _keeps(node, x):
    """x can stand in for node: same dtype, and node's shape adds no broadcasting to x's."""
    return x.dtype == node.dtype and x.shape == node.shape


# The right operand that leaves the left one unchanged.
_RIGHT_UNIT = {MUL: 1, DIV: 1, SUB: 0, POW: 1}


def identity_ops(node):
    """x*1, 1*x, x/1, x-0, x**1 -> x. (x+0 is kept: it turns -0.0 into +0.0, as NumPy does.)"""
    op = node.op
    if op in _RIGHT_UNIT and len(node.inputs) == 2:
        x, y = node.inputs
        if _is_const(y, _RIGHT_UNIT[op]) and _keeps(node, x):
            return x
        if op is MUL and _is_const(x, 1) and _keeps(node, y):
            return y
    if op is POW and _is_const(node.inputs[1], 2) and node.inputs[0].dtype == node.dtype:
        x = node.inputs[0]
        if node.shape == x.shape:
            return ew.square(x)
    if op is MUL and node.dtype.kind == "f":
        x, y = node.inputs
        if _is_const(y, -1) and _keeps(node, x):
            return ew.neg(x)
    return None


def double_negation(node):
    if node.op is NEG and node.inputs[0].op is NEG:
        return node.inputs[0].inputs[0]
    return None


# Ops that bring input 0 to a target shape: the identity when it has that shape already.
_SHAPE_FIXES = (SUM_LIKE, BROADCAST_LIKE, RESHAPE_LIKE, RESHAPE, BROADCAST_TO, SQUEEZE, EXPAND_DIMS)
_RESHAPES = (RESHAPE, RESHAPE_LIKE)


def no_op_shape_ops(node):
    """Shape fixes whose input already has the target shape, and casts to the same dtype."""
    op = node.op
    if op in _SHAPE_FIXES and _same_static_shape(node.inputs[0], node):
        return node.inputs[0]
    if op is CAST and node.inputs[0].dtype == node.dtype:
        return node.inputs[0]
    if op is STOP_GRADIENT:  # only autodiff cares; at run time it is the identity
        return node.inputs[0]
    if op is TRANSPOSE and node.attrs["axes"] == tuple(range(node.ndim)):
        return node.inputs[0]
    return None


def chains(node):
    """transpose(transpose(x)) -> one transpose; reshape(reshape(x)) -> one reshape."""
    op = node.op
    inner = node.inputs[0] if node.inputs else None
    if op is TRANSPOSE and inner.op is TRANSPOSE:
        first, second = inner.attrs["axes"], node.attrs["axes"]
        return linalg.transpose(inner.inputs[0], tuple(first[a] for a in second))
    if op in _RESHAPES and inner.op in _RESHAPES:
        if op is RESHAPE:
            return shape.reshape(inner.inputs[0], node.attrs["shape"])
        return shape.reshape_like(inner.inputs[0], node.inputs[1])
    return None


def broadcast_then_sum(node):
    """Summing a broadcast copy of x back to x's shape is x times the number of copies."""
    if node.op is not SUM_LIKE or node.inputs[0].op not in (BROADCAST_LIKE, BROADCAST_TO):
        return None
    spread = node.inputs[0]
    x = spread.inputs[0]
    if not (_same_static_shape(x, node) and is_known(spread.shape)):
        return None
    copies = math.prod(spread.shape) // max(math.prod(x.shape), 1)
    return x if copies == 1 else ew.mul(x, constant(np.asarray(copies, x.dtype)))


def sum_like_to_sum(node):
    """sum_like with axes known at build time is a plain sum, which fusion can fold into a loop."""
    if node.op is not SUM_LIKE:
        return None
    g, ref = node.inputs
    lead = g.ndim - ref.ndim
    ones = [lead + i for i, d in enumerate(ref.shape) if d == 1 and g.shape[lead + i] != 1]
    axes = tuple(range(lead)) + tuple(ones)
    if not axes:
        return None
    total = reductions.sum(g, axes, keepdims=bool(ones))
    if ones and lead:
        total = shape.reshape_like(total, ref)
    return total


def _same_shape_source(ref):
    """An earlier value with ref's run-time shape: an elementwise op's output has the shape of any
    input whose static shape equals the output's (None dimensions never broadcast)."""
    while ref.op.elementwise and ref.inputs:
        same = [x for x in ref.inputs if x.shape == ref.shape]
        if not same:
            break
        ref = same[0]
    return ref


def forward_shape_references(node):
    """Inputs read only for their shape point at the earliest value of that shape, so a forward
    value used only to shape a gradient (sum's broadcast of the seed) need not be computed."""
    inputs = [_same_shape_source(x) if node.op.is_shape_input(i) else x for i, x in enumerate(node.inputs)]
    if all(a is b for a, b in zip(inputs, node.inputs)):
        return None
    return clone_with_inputs(node, inputs)


RULES = [
    identity_ops, double_negation, no_op_shape_ops, chains, broadcast_then_sum, sum_like_to_sum,
    forward_shape_references,
]


def simplify(graph):
    return apply_rules(graph, RULES, "simplify")
