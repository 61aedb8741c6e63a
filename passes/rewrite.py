"""Rebuilding graphs: copy nodes with new inputs, keeping each node's op, attrs and creation site."""
from graphc.ir.graph import Graph
from graphc.ir.node import Node


def clone_with_inputs(node, inputs):
    if all(a is b for a, b in zip(inputs, node.inputs)):
        return node
    return Node(node.op, inputs, node.attrs, node.shape, node.dtype, name=node.name, site=node.site)


def rebuild(graph, replace):
    """A new Graph where each node is `replace(node, new_inputs)` (which may return a clone).

    Leaves (placeholders, variables) are never replaced, so feeds and updates keep their keys.
    """
    mapping = {}
    for node in graph.nodes:
        new_inputs = [mapping[id(x)] for x in node.inputs]
        if not node.inputs and node.op.name in ("placeholder", "variable"):
            mapping[id(node)] = node
            continue
        mapping[id(node)] = replace(node, new_inputs)
    return Graph(
        graph.inputs,
        [mapping[id(x)] for x in graph.outputs],
        {var: mapping[id(v)] for var, v in graph.updates.items()},
    )
