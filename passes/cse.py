"""Common-subexpression elimination: one node per (op, inputs, attrs)."""
from graphc.ir.registry import attrs_key

from .rewrite import clone_with_inputs, rebuild


def cse(graph):
    seen = {}

    def replace(node, inputs):
        key = (node.op, tuple(id(x) for x in inputs), attrs_key(node.attrs), node.dtype.str)
        if key in seen:
            return seen[key]
        seen[key] = clone_with_inputs(node, inputs)
        return seen[key]

    return rebuild(graph, replace)
