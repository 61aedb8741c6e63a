"""The reverse and forward sweeps over a graph, walking into bodies.

`gc.grad`/`gc.jvp` (passes.autodiff) check their arguments and call these; so does the VJP/JVP
of an op with a body (a fused kernel, later a loop or a branch), which sweeps its body inlined
over the op's inputs. Rules are called through ir.derivatives, so graph autodiff, eager backward
and bodies share them.
"""
from .derivatives import add_cotangents, call_jvp, call_vjp
from .graph import toposort
from .ops.elementwise import add


def _body_offset(node, body):
    """A body's parameters stand for the node's last inputs by position (a cond's predicate,
    input 0, has none)."""
    return len(node.inputs) - len(body.inputs)


def _body_gradient_positions(node):
    """Input positions of a node with bodies from which a gradient reaches a body's outputs."""
    positions = set()
    for body in node.op.subgraphs(node.attrs):
        for i, param in enumerate(body.inputs):
            reached = reaching([param], body.nodes, gradient_edges)
            if any(id(out) in reached for out in body.outputs):
                positions.add(i + _body_offset(node, body))
    return positions


def gradient_edges(node):
    """The inputs of `node` that gradients flow into (not conditions, indices or shape refs)."""
    if node.op.blocks_gradient(node.attrs):
        return []
    edges = [(i, x) for i, x in enumerate(node.inputs) if not node.op.is_nondiff_input(i)]
    if node.op.body_attrs:
        positions = _body_gradient_positions(node)
        edges = [(i, x) for i, x in edges if i in positions]
    return edges


def _value_edges(node):
    return [(i, x) for i, x in enumerate(node.inputs) if not node.op.is_nondiff_input(i)]


def reaching(sources, order, edges):
    """Ids of the nodes of `order` (topological) that depend on some source through `edges`."""
    reached = set(id(s) for s in sources)
    for node in order:
        if any(id(x) in reached for _, x in edges(node)):
            reached.add(id(node))
    return reached


def blocking_op(x, ys, order):
    """The first non-differentiable node (inside bodies: the one there) that cuts every
    gradient path from x to ys, or None if no y depends on x at all."""
    reached = reaching([x], order, _value_edges)
    if not any(id(y) in reached for y in ys):
        return None
    for node in order:
        if id(node) not in reached:
            continue
        inputs = [i for i, inp in _value_edges(node) if id(inp) in reached]
        if not inputs:
            continue
        if node.op.blocks_gradient(node.attrs):
            return node
        if node.op.body_attrs and not set(inputs) & _body_gradient_positions(node):
            for body in node.op.subgraphs(node.attrs):
                inner = blocking_op(body.inputs[inputs[0] - _body_offset(node, body)], body.outputs, body.nodes)
                if inner is not None:
                    return inner
            return node
    return None


def backward(ys, cotangents, xs):
    """The cotangent of each of xs (None where no gradient path reaches it), given one
    cotangent node (a tuple for a tuple value, None for zero) per y."""
    order = toposort(ys)
    # Only nodes between some x and the ys need a cotangent.
    wanted_ids = reaching(xs, order, gradient_edges)
    received = {}
    for y, g in zip(ys, cotangents):
        if g is not None:
            received.setdefault(id(y), []).append(g)
    for node in reversed(order):
        parts = received.get(id(node))
        if parts is None:
            continue
        total = parts[0]
        for more in parts[1:]:
            total = add_cotangents(total, more, add)
        received[id(node)] = [total]
        if not node.inputs or node.op.blocks_gradient(node.attrs):
            continue
        wanted = [(not node.op.is_nondiff_input(i)) and id(x) in wanted_ids for i, x in enumerate(node.inputs)]
        if not any(wanted):
            continue
        for x, g in zip(node.inputs, call_vjp(node.op, total, node, node.inputs, node.attrs, wanted)):
            if g is not None:
                received.setdefault(id(x), []).append(g)
    return [received[id(x)][0] if id(x) in received else None for x in xs]


def forward(ys, tangent_of):
    """The tangent of each of ys (None for zero), given {id(x): tangent node} for the inputs."""
    tangent_of = dict(tangent_of)
    for node in toposort(ys):
        if id(node) in tangent_of or not node.inputs:
            continue
        ins = [None if node.op.is_nondiff_input(i) else tangent_of.get(id(x)) for i, x in enumerate(node.inputs)]
        if all(t is None for t in ins) or node.op.blocks_gradient(node.attrs):
            continue
        t = call_jvp(node.op, ins, node, node.inputs, node.attrs)
        if t is not None:
            tangent_of[id(node)] = t
    return [tangent_of.get(id(y)) for y in ys]
