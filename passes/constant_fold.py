"""Constant folding: an op whose inputs are all constants becomes a constant. An input the op
reads only for its shape (axis_size's, zeros_like's) counts as constant where that shape is
static: a loop body's `mean` then divides by a number, not by a value computed every step. A
random op is never folded: its value changes on every call."""
import numpy as np

from graphc.ir.node import Node
from graphc.ir.ops.sources import CONSTANT

from .rewrite import clone_with_inputs, rebuild

# Folding a broadcast or a zeros_like of a large shape would bake a big array into the graph.
MAX_FOLDED_SIZE = 1 << 16


def constant_fold(graph):
    def replace(node, inputs):
        if not inputs or node.op.draws_random or not all(_known(node, k, x) for k, x in enumerate(inputs)):
            return clone_with_inputs(node, inputs)
        args = [x.attrs["value"] if x.op is CONSTANT else np.broadcast_to(np.zeros((), x.dtype), x.shape)
                for x in inputs]
        value = np.asarray(node.op.impl(*args, **node.attrs))
        if value.size > MAX_FOLDED_SIZE or value.dtype != node.dtype or value.shape != node.shape:
            return clone_with_inputs(node, inputs)
        value = np.array(value)
        value.flags.writeable = False
        return Node(CONSTANT, (), {"value": value}, value.shape, value.dtype, name=node.name, site=node.site)

    return rebuild(graph, replace)


def _known(node, k, x):
    """Whether input k of node has a value known before the graph runs."""
    return x.op is CONSTANT or (node.op.is_shape_input(k) and x.parts is None and None not in x.shape)
