"""A loop computes only the results something reads.

A loop keeps the carries it entered each step with (its history) for a gradient that reads them;
where nothing reads a loop's history, the loop is rebuilt without it, so a forward-only loop
stores nothing per step. A scan's per-step output that nothing reads (the gradient of a scanned
input nobody asked for) is dropped from its body, with the work that only it needed.
"""
from graphc.ir.graph import Graph
from graphc.ir.ops.control import SCAN, build
from graphc.ir.ops.tuples import PART

from .rewrite import rebuild_results


def _read_results(graph):
    read = {}
    for node in graph.nodes:
        if node.op is PART:
            read.setdefault(id(node.inputs[0]), set()).add(node.attrs["index"])
    return read


def prune_loop_history(graph):
    read = _read_results(graph)

    def rewrite(node, clone):
        pruned = _pruned(clone, read.get(id(node), set()))
        if pruned is None:
            return None
        new, index_map = pruned
        return {old: (new, k) for old, k in index_map.items()}

    return rebuild_results(graph, rewrite)


def _pruned(node, read):
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
    return build(node.op, node.inputs, attrs, node.site), {old: k for k, old in enumerate(kept_results)}
