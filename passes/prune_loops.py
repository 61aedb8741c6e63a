"""A loop keeps the carries it entered each step with (its history) for a gradient that reads
them. Where nothing reads a loop's history, the loop is rebuilt without it, so a forward-only
loop stores nothing per step (memory stays that of one step, not of the trip count)."""
from graphc.ir.ops.control import build
from graphc.ir.ops.tuples import PART

from .rewrite import clone_with_inputs, rebuild


def prune_loop_history(graph):
    read = set()
    for node in graph.nodes:
        if node.op is PART:
            source = node.inputs[0]
            if node.attrs["index"] in source.op.history_parts(source.attrs):
                read.add(id(source))

    def replace(node, inputs):
        if node.op.history_parts(node.attrs) and id(node) not in read:
            return build(node.op, inputs, {**node.attrs, "keep_history": False}, node.site)
        return clone_with_inputs(node, inputs)

    return rebuild(graph, replace)
