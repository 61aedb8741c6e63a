"""Graph-mode control flow: the user's functions are traced once into closed bodies.

A function is called on `parameter` nodes standing for its arguments. What it returns is made a
body graph; every outer value it read (a placeholder, a Variable, an intermediate, or a value it
built that does not depend on the arguments, which is thereby computed once outside the loop)
becomes a captured input of the loop node, and gradients flow to it like to any input.
"""
import numpy as np

from graphc.ir.errors import ShapeError
from graphc.ir.graph import Graph, toposort
from graphc.ir.node import Node, as_node
from graphc.ir.ops import elementwise as ew
from graphc.ir.ops.control import COND, SCAN, WHILE, build
from graphc.ir.ops.sources import CONSTANT, parameter, parameter_of
from graphc.ir.ops.tuples import part
from graphc.ir.source import user_site
from graphc.ir.types import fmt_shape

from .. import random
from .pytree import flatten, leaf_paths, unflatten, with_index_hint
from .remat import Remat


def _type_text(x):
    return f"{x.dtype.name}{fmt_shape(x.shape)}"


def _leaf_node(value, like=None):
    """A structure leaf as a node: Python scalars take the dtype of the leaf they stand for."""
    if isinstance(value, Node):
        return value
    if like is not None and isinstance(value, (bool, int, float)) and not isinstance(value, np.generic):
        return as_node(np.asarray(value, like.dtype))
    return as_node(value)


def _trace(call, likes):
    """(parameters, output leaves, output structure) of `call(parameters)`."""
    params = [parameter_of(x.shape, x.dtype, i, x.site) for i, x in enumerate(likes)]
    leaves, treedef = flatten(call(params))
    return params, leaves, treedef


def _close(params, outputs):
    """(body, captured): the body graph over `params` plus one parameter per captured outer
    value, and those outer values in order."""
    order = toposort(outputs)
    dependent = {id(p) for p in params}
    for node in order:
        if any(id(x) in dependent for x in node.inputs):
            dependent.add(id(node))
    inner = {id(p): p for p in params}
    captured, extra = [], []

    def inside(x):
        if x.op is CONSTANT:  # a literal stays one, so the rewrites that match literals see it
            return x
        if id(x) not in inner:  # an outer value: read through a new parameter
            extra.append(parameter(x, len(params) + len(extra)))
            captured.append(x)
            inner[id(x)] = extra[-1]
        return inner[id(x)]

    for node in order:
        if id(node) in dependent and id(node) not in inner:
            inner[id(node)] = Node(node.op, [inside(x) for x in node.inputs], node.attrs, node.shape, node.dtype,
                                   name=node.name, site=node.site, parts=node.parts)
    body_outputs = [inside(y) for y in outputs]
    return Graph(params + extra, body_outputs), captured


def _merge_captures(*closed):
    """Bodies that share one input list: (bodies over [own args] + all captures, captures)."""
    captured, seen = [], {}
    for _, caps in closed:
        for c in caps:
            if id(c) not in seen:
                seen[id(c)] = len(captured)
                captured.append(c)
    return captured, seen


def _rebase(body, n_args, caps, seen, all_captured):
    """`body` (over its args, then its own captures) as a body over its args, then every capture
    in `all_captured`."""
    params = []
    for x in list(body.inputs[:n_args]) + list(all_captured):
        params.append(parameter(x, len(params)))
    own = [params[n_args + seen[id(c)]] for c in caps]
    return Graph(params, body.inline(params[:n_args] + own))


def _carried(kind, site, what, expected, expected_def, got, got_def):
    """The leaves a body returned for its carry as nodes (a Python scalar takes its carry's
    dtype), checked to keep the carry's structure, dtypes and shapes."""
    _check_structure(kind, site, what, expected_def, got_def)
    got = [_leaf_node(y, like) for y, like in zip(got, expected)]
    _check_types(kind, site, what, expected, expected_def, got)
    return got


def _check_same(kind, site, what, expected, expected_def, got, got_def):
    """`got` must have the structure, dtypes and shapes of `expected`."""
    _check_structure(kind, site, what, expected_def, got_def)
    _check_types(kind, site, what, expected, expected_def, got)


def _check_structure(kind, site, what, expected_def, got_def):
    if expected_def != got_def:
        raise TypeError(f"{kind}: {what} returned the structure {got_def!r}, expected {expected_def!r} "
                        f"({kind} at {site})")


def _check_types(kind, site, what, expected, expected_def, got):
    for path, want, have in zip(leaf_paths(expected_def), expected, got):
        if want.dtype != have.dtype:
            raise TypeError(f"{kind}: {what} changed {path} from {_type_text(want)} to {_type_text(have)}; "
                            f"dtypes must stay the same ({kind} at {site}, the value built at {have.site})")
        if tuple(want.shape) != tuple(have.shape):
            raise ShapeError(f"{kind}: {what} changed {path} from {_type_text(want)} to {_type_text(have)}; "
                             f"shapes must stay the same ({kind} at {site}, the value built at {have.site})")


def _predicate(value, kind, site, what):
    node = _leaf_node(value)
    if node.shape != ():
        raise TypeError(f"{kind}: {what} must be a bool or 0-d value, got shape {fmt_shape(node.shape)} "
                        f"({kind} at {site})")
    return node if node.dtype.kind == "b" else ew.not_equal(node, 0)


def cond(pred, true_fn, false_fn, *operands):
    site = user_site()
    pred = _predicate(pred, "cond", site, "pred")
    leaves, treedef = flatten(list(operands))
    leaves = [_leaf_node(x) for x in leaves]

    def branch(fn):
        return lambda params: fn(*unflatten(treedef, params))

    closed = []
    results = []
    for fn in (true_fn, false_fn):
        params, outs, out_def = _trace(branch(fn), leaves)
        outs = [_leaf_node(y) for y in outs]
        results.append((outs, out_def))
        closed.append(_close(params, outs))
    (t_outs, t_def), (f_outs, f_def) = results
    _check_same("cond", site, "false_fn", t_outs, t_def, f_outs, f_def)
    captured, seen = _merge_captures(*closed)
    bodies = [_rebase(body, len(leaves), caps, seen, captured) for body, caps in closed]
    node = build(COND, [pred] + leaves + captured, {"true_body": bodies[0], "false_body": bodies[1], "site": site},
                 site)
    return unflatten(t_def, [part(node, j) for j in range(len(t_outs))])


def while_loop(cond_fn, body_fn, init_val, max_iterations=None):
    site = user_site()
    if max_iterations is not None:
        if not isinstance(max_iterations, (int, np.integer)) or isinstance(max_iterations, bool):
            raise TypeError(f"while_loop: max_iterations must be None or an int, got {max_iterations!r} ({site})")
        if max_iterations < 0:
            raise ValueError(f"while_loop: max_iterations must be >= 0, got {max_iterations} ({site})")
    if isinstance(body_fn, Remat):
        return _in_segments(cond_fn, body_fn.fn, init_val, max_iterations, body_fn.every, site)
    return _while(cond_fn, body_fn, init_val, max_iterations, max_iterations, site)


def _in_segments(cond_fn, body_fn, init_val, max_iterations, every, site):
    """A remat while_loop (see remat.py): an outer loop, storing its carries for the gradient,
    over inner loops of up to `every` iterations, whose gradient recomputes theirs. A total
    count keeps max_iterations exact: the inner loops stop at it, and the outer loop then raises
    on its next segment if the condition still holds."""
    zero = as_node(np.int64(0))

    def inner_cond(state):
        val, i, total = state
        go = ew.where(cond_fn(val), ew.less(i, every), False)
        return go if max_iterations is None else ew.where(go, ew.less(total, max_iterations), False)

    def inner_body(state):
        val, i, total = state
        return body_fn(val), i + 1, total + 1

    def segment(state):
        val, total = state
        val, _, total = _while(inner_cond, inner_body, (val, zero, total), None, None, site)
        return val, total

    segments = None if max_iterations is None else -(-max_iterations // every)
    val, _ = _while(lambda state: cond_fn(state[0]), segment, (init_val, zero), segments, max_iterations, site)
    return val


def _while(cond_fn, body_fn, init_val, max_iterations, reported_limit, site):
    """The while node; `reported_limit` is the max_iterations its error names (a remat loop's
    outer loop counts segments)."""
    init, treedef = flatten(init_val)
    if not init:
        raise ValueError(f"while_loop: init_val holds no values ({site})")
    init = [_leaf_node(x) for x in init]
    drawn = random.draws_so_far()
    b_params, b_outs, b_def = _trace(lambda ps: body_fn(unflatten(treedef, ps)), init)
    b_outs = _carried("while_loop", site, "body_fn", init, treedef, b_outs, b_def)
    c_params, c_outs, c_def = _trace(lambda ps: cond_fn(unflatten(treedef, ps)), init)
    random.refuse_draws_in_loop(drawn, "while_loop", site)
    if len(c_outs) != 1:
        raise TypeError(f"while_loop: cond_fn must return one bool value, got the structure {c_def!r} "
                        f"(while_loop at {site})")
    closed_body = _close(b_params, b_outs)
    closed_cond = _close(c_params, [_predicate(c_outs[0], "while_loop", site, "cond_fn's result")])
    captured, seen = _merge_captures(closed_body, closed_cond)
    body = _rebase(closed_body[0], len(init), closed_body[1], seen, captured)
    cond_body = _rebase(closed_cond[0], len(init), closed_cond[1], seen, captured)
    attrs = {"cond": cond_body, "body": body, "n_carry": len(init), "max_iterations": max_iterations,
             "keep_history": True, "site": site}
    if reported_limit != max_iterations:
        attrs["reported_limit"] = reported_limit
    node = build(WHILE, init + captured, attrs, site)
    return unflatten(treedef, [part(node, j) for j in range(len(init))])


def scan(fn, init, xs=None, length=None, reverse=False):
    site = user_site()
    carry, carry_def = flatten(init)
    carry = [_leaf_node(x) for x in carry]
    x_leaves, x_def = flatten(xs)
    if xs is None:
        x_leaves = []
    if not x_leaves and length is None:
        raise ValueError(f"scan: give xs or length ({site})")
    x_leaves = [_leaf_node(x) for x in x_leaves]
    for path, x in zip(leaf_paths(x_def), x_leaves):
        if x.ndim == 0:
            raise ShapeError(f"scan: xs{'' if path == 'value' else path} is 0-d; scanned values need a leading "
                             f"axis to scan over ({site})")
    leading = {x.shape[0] for x in x_leaves if x.shape[0] is not None}
    if length is not None:
        if not isinstance(length, (int, np.integer)) or isinstance(length, bool) or length < 0:
            raise ValueError(f"scan: length must be an int >= 0, got {length!r} ({site})")
        leading.add(int(length))
    if len(leading) > 1:
        sizes = [fmt_shape(x.shape) for x in x_leaves]
        raise ShapeError(f"scan: the scanned values' leading sizes disagree: {', '.join(sizes)}"
                         f"{'' if length is None else f' and length={length}'} ({site})")
    static_length = int(length) if length is not None else None
    # the body's parameters: the carries, then one step's slice of each scanned input
    types = [(x.shape, x.dtype, x.site) for x in carry] + [(x.shape[1:], x.dtype, x.site) for x in x_leaves]
    params = [parameter_of(shape, dtype, i, where) for i, (shape, dtype, where) in enumerate(types)]

    def step(params):
        c = unflatten(carry_def, params[:len(carry)])
        x = unflatten(x_def, params[len(carry):]) if xs is not None else None
        result = fn(c, x)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise TypeError(f"scan: fn must return a pair (carry, y), got {type(result).__name__} (scan at {site})")
        return result

    drawn = random.draws_so_far()
    result = step(params)
    random.refuse_draws_in_loop(drawn, "scan", site)
    out_carry, out_def = flatten(result[0])
    out_carry = _carried("scan", site, "fn", carry, carry_def, out_carry, out_def)
    ys, y_def = flatten(result[1])
    ys = [_leaf_node(y) for y in ys] if result[1] is not None else []
    body, captured = _close(params, out_carry + ys)
    attrs = {"body": body, "n_carry": len(carry), "n_xs": len(x_leaves), "length": static_length,
             "reverse": bool(reverse), "keep_history": True, "site": site}
    node = build(SCAN, carry + x_leaves + captured, attrs, site)
    final = unflatten(carry_def, [part(node, j) for j in range(len(carry))])
    stacked = unflatten(y_def, [part(node, len(carry) + j) for j in range(len(ys))]) if result[1] is not None else None
    return final, stacked


def fori_loop(lower, upper, body_fn, init_val):
    site = user_site()
    on_graph = isinstance(lower, Node) or isinstance(upper, Node)
    if not on_graph:
        for name, bound in (("lower", lower), ("upper", upper)):
            if not isinstance(bound, (int, np.integer)) or isinstance(bound, bool):
                raise TypeError(f"fori_loop: {name} must be an int or an integer node, got {bound!r} ({site})")
    body = _index_checked(body_fn, site)
    if on_graph or isinstance(body_fn, Remat):  # a remat body needs the while_loop's segments
        lower, upper = _leaf_node(lower), _leaf_node(upper)
        dtype = np.result_type(lower.dtype, upper.dtype)
        if dtype.kind not in "iu":
            raise TypeError(f"fori_loop: the bounds must be integers, got {lower.dtype} and {upper.dtype} ({site})")
        lower, upper = lower.astype(dtype), upper.astype(dtype)
        step = lambda s: (s[0] + 1, body(s[0], s[1]))  # noqa: E731
        if isinstance(body_fn, Remat):
            step = Remat(step, body_fn.every)
        _, value = while_loop(lambda s: ew.less(s[0], upper), step, (lower, init_val))
        return value
    dtype = np.result_type(np.asarray(lower).dtype, np.asarray(upper).dtype)
    start = as_node(np.asarray(lower, dtype))
    trips = max(0, int(upper) - int(lower))
    (_, value), _ = scan(lambda s, _: ((s[0] + 1, body(s[0], s[1])), None), (start, init_val), length=trips)
    return value


def _index_checked(body_fn, site):
    """body_fn, its result checked against the value it was given, in fori_loop's own words."""
    def body(i, val):
        out = body_fn(i, val)
        expected, expected_def = flatten(val)
        got, got_def = flatten(out)
        try:
            _carried("fori_loop", site, "body_fn", expected, expected_def, got, got_def)
        except TypeError as err:
            if expected_def != got_def:
                raise
            raise with_index_hint(err, i.dtype) from None
        return out

    return body
