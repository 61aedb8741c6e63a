"""Rebuilding graphs: copy nodes with new inputs, keeping each node's op, attrs and creation site."""
import functools

from graphc.ir.graph import Graph
from graphc.ir.node import Node
from graphc.ir.ops.sources import PARAMETER, PLACEHOLDER, VARIABLE
from graphc.ir.ops.tuples import PART, part


def clone_with_inputs(node, inputs, attrs=None):
    if all(a is b for a, b in zip(inputs, node.inputs)) and attrs is None:
        return node
    return Node(node.op, inputs, node.attrs if attrs is None else attrs, node.shape, node.dtype, name=node.name,
                site=node.site, parts=node.parts)


def rebuild_results(graph, rewrite):
    """rebuild() for rewrites that replace a tuple-valued node (a loop) by others computing its
    results. `rewrite(old, clone)` returns None to keep the clone, or {result index: a node, or
    (new tuple node, its result index)}; each `part` that read the old node then becomes that
    result (a new part keeps the old one's name and site)."""
    results_of = {}

    def replace(node, inputs):
        if node.op is PART and id(node.inputs[0]) in results_of:
            result = results_of[id(node.inputs[0])][node.attrs["index"]]
            if isinstance(result, tuple):
                return part(*result, name=node.name, site=node.site)
            return result
        clone = clone_with_inputs(node, inputs)
        results = rewrite(node, clone)
        if results is not None:
            results_of[id(node)] = results  # the clone itself is then read by nothing
        return clone

    return rebuild(graph, replace)


def within_bodies(graph_pass):
    """`graph_pass` made to run inside every body of every node first (innermost first), then on
    the graph that holds them: CSE and DCE reach into kernels and loop bodies alike."""
    @functools.wraps(graph_pass)
    def run(graph):
        return graph_pass(map_bodies(graph, run))

    return run


def map_bodies(graph, fn):
    """`graph` with each body B of each node replaced by fn(B) (the same graph if none has one)."""
    if not any(node.op.body_attrs for node, _ in graph.walk()):
        return graph
    mapping = {}
    for node in graph.nodes:
        inputs = [mapping[id(x)] for x in node.inputs]
        attrs = None
        if node.op.body_attrs:
            attrs = node.op.with_subgraphs(node.attrs, [fn(body) for body in node.op.subgraphs(node.attrs)])
        mapping[id(node)] = clone_with_inputs(node, inputs, attrs) if node.inputs or attrs else node
    return Graph(
        [mapping[id(x)] for x in graph.inputs],
        [mapping[id(x)] for x in graph.outputs],
        {var: mapping[id(v)] for var, v in graph.updates.items()},
    )


def rebuild(graph, replace):
    """A new Graph where each node is `replace(node, new_inputs)` (which may return a clone).

    Leaves fed from outside (placeholders, variables, a body's parameters) are never replaced,
    so feeds and updates keep their keys and two parameters of one type stay two inputs.
    """
    mapping = {}
    for node in graph.nodes:
        new_inputs = [mapping[id(x)] for x in node.inputs]
        if node.op in (PLACEHOLDER, VARIABLE, PARAMETER):
            mapping[id(node)] = node
            continue
        mapping[id(node)] = replace(node, new_inputs)
    return Graph(
        graph.inputs,
        [mapping[id(x)] for x in graph.outputs],
        {var: mapping[id(v)] for var, v in graph.updates.items()},
    )
