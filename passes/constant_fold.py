"""Constant folding: an op whose inputs are all constants becomes a constant."""
import numpy as np

from graphc.ir.node import Node
from graphc.ir.ops.sources import CONSTANT

from .rewrite import clone_with_inputs, rebuild

# Folding a broadcast or a zeros_like of a large shape would bake a big array into the graph.
MAX_FOLDED_SIZE = 1 << 16


def constant_fold(graph):
    def replace(node, inputs):
        if not inputs or not all(x.op is CONSTANT for x in inputs):
            return clone_with_inputs(node, inputs)
        value = np.asarray(node.op.impl(*[x.attrs["value"] for x in inputs], **node.attrs))
        if value.size > MAX_FOLDED_SIZE or value.dtype != node.dtype or value.shape != node.shape:
            return clone_with_inputs(node, inputs)
        value = np.array(value)
        value.flags.writeable = False
        return Node(CONSTANT, (), {"value": value}, value.shape, value.dtype, name=node.name, site=node.site)

    return rebuild(graph, replace)
