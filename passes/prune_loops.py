"""A loop computes only the results something reads.

A loop keeps the carries it entered each step with (its history) for a gradient that reads them;
where nothing reads a loop's history, the loop is rebuilt without it, so a forward-only loop
stores nothing per step. A scan's per-step output that nothing reads (the gradient of a scanned
input nobody asked for) is dropped from its body, with the work that only it needed.
"""
from graphc.ir.graph import Graph
from graphc.ir.ops.control import SCAN, build
from graphc.ir.ops.tuples import PART, part

from .rewrite import clone_with_inputs


def _read_results(graph):
    read = {}
    for node in graph.nodes:
        if node.op is PART:
            read.setdefault(id(node.inputs[0]), set()).add(node.attrs["index"])
    return read


def prune_loop_history(graph):
    read = _read_results(graph)
    new, index_maps = {}, {}
    for node in graph.nodes:
        inputs = [new[id(x)] for x in node.inputs]
        if node.op is PART and id(node.inputs[0]) in index_maps:
            new[id(node)] = part(inputs[0], index_maps[id(node.inputs[0])][node.attrs["index"]], name=node.name,
                                 site=node.site)
            continue
        pruned = _pruned(node, inputs, read.get(id(node), set()))
        if pruned is None:
            new[id(node)] = clone_with_inputs(node, inputs)
        else:
            new[id(node)], index_maps[id(node)] = pruned
    return Graph(graph.inputs, [new[id(x)] for x in graph.outputs],
                 {var: new[id(v)] for var, v in graph.updates.items()})


def _pruned(node, inputs, read):
    """(the loop without its unread results, old result index -> new), or None if all are read."""
    history = node.op.history_parts(node.attrs)
    drop_history = bool(history) and not (read & set(history))
    unread_ys = []
    if node.op is SCAN:
        n_carry = node.attrs["n_carry"]
        n_results = len(node.attrs["body"].outputs)
        unread_ys = [i for i in range(n_carry, n_results) if i not in read]
    if not drop_history and not unread_ys:
        return None
    attrs = dict(node.attrs)
    if drop_history:
        attrs["keep_history"] = False
    if unread_ys:
        body = attrs["body"]
        kept = [y for i, y in enumerate(body.outputs) if i not in unread_ys]
        attrs["body"] = Graph(body.inputs, kept)  # what only the dropped outputs needed is gone
    kept_results = [i for i in range(len(node.parts))
                    if i not in unread_ys and not (drop_history and i in history)]
    return build(node.op, inputs, attrs, node.site), {old: k for k, old in enumerate(kept_results)}
