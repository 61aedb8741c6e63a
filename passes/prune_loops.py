"""A loop computes only the results something reads.

A loop keeps the carries it entered each step with (its history) for a gradient that reads them;
where nothing reads a loop's history, the loop is rebuilt without it, so a forward-only loop
stores nothing per step. A scan's per-step output that nothing reads (the gradient of a scanned
input nobody asked for) is dropped from its body, with the work that only it needed. Then a
scanned or captured input that no body reads any more (the forward inputs a hoisted gradient
loop no longer needs) is dropped from the loop's inputs, so no step slices or passes it.
"""
from graphc.ir.graph import Graph, substitute
from graphc.ir.ops.control import SCAN, WHILE, build
from graphc.ir.ops.sources import parameter
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
        if node.op is not SCAN and node.op is not WHILE:
            return None
        pruned = _pruned(clone, read.get(id(node), set()))
        if pruned is None:
            new, index_map = clone, {k: k for k in range(len(clone.parts))}
        else:
            new, index_map = pruned
        fed = _without_unread_inputs(new)
        if fed is None and pruned is None:
            return None
        if fed is not None:
            new = fed
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


def _without_unread_inputs(node):
    """The loop without the scanned and captured inputs its bodies never read, or None if it
    reads them all. A scan's length must stay checked: an unread scanned input goes only where
    its leading size and the scan's length are known when the graph is built (the length then
    becomes the scan's `length` attribute)."""
    if node.op is SCAN:
        n_fixed, n_xs = node.attrs["n_carry"], node.attrs["n_xs"]
    elif node.op is WHILE:
        n_fixed, n_xs = node.attrs["n_carry"], 0
    else:
        return None
    bodies = node.op.subgraphs(node.attrs)
    read = set()
    for body in bodies:
        read |= {id(x) for n in body.nodes for x in n.inputs} | {id(y) for y in body.outputs}
    unread = [k for k in range(n_fixed, len(node.inputs)) if not any(id(b.inputs[k]) in read for b in bodies)]
    scanned = range(n_fixed, n_fixed + n_xs)
    length = None
    if node.op is SCAN:
        static = [node.inputs[k].shape[0] for k in scanned if node.inputs[k].shape[0] is not None]
        length = node.attrs["length"] if node.attrs["length"] is not None else (static[0] if static else None)
        # a scanned input whose size is known only at run time is still checked then
        unread = [k for k in unread if k not in scanned or (length is not None and node.inputs[k].shape[0] is not None)]
    if not unread:
        return None
    kept = [k for k in range(len(node.inputs)) if k not in unread]
    attrs = dict(node.attrs)
    for key, body in zip(node.op.body_attrs, bodies):
        params = [parameter(body.inputs[k], i) for i, k in enumerate(kept)]
        outputs = substitute(body.outputs, {id(body.inputs[k]): p for k, p in zip(kept, params)})
        attrs[key] = Graph(params, outputs)
    if node.op is SCAN:
        attrs["n_xs"] = n_xs - sum(1 for k in unread if k < n_fixed + n_xs)
        attrs["length"] = length
    return build(node.op, [node.inputs[k] for k in kept], attrs, node.site)
