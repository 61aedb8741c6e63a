"""Control flow ops: `cond`, `while` and `scan`, each holding closed body graphs.

Every body is a Graph over `parameter` leaves; the node's inputs feed those parameters by
position. graphc.control traces the user's functions into these bodies (captured outer values
become extra inputs). The loops themselves are written once, in `run_scan`/`run_while`, which
take a function running one body: the interpreter passes its own, a backend a compiled body.

Reverse mode (JAX's scan transpose, TF1's while gradients): a scan or while node also returns
the carries between its steps, stacked (its history, trip count + 1 entries); the VJP is a scan
in the opposite direction whose body is the backward sweep of one forward step, reading what the
step started from and what it produced, carrying the carries' cotangents and summing the
captured values' cotangents. A while loop's history has its run-time trip count in its leading
(None) dimension, so its VJP is such a scan too. Forward mode runs the primal and the tangents
side by side in one loop of the same kind. passes/prune_loops.py drops a history nobody reads,
so a forward-only loop stores nothing per step.
"""
import numpy as np

from ..errors import IterationLimitError, ShapeError
from ..graph import Graph, substitute
from ..interpreter import evaluate
from ..node import Node
from ..registry import Op, register
from ..sweeps import backward, forward
from ..types import TupleType
from . import elementwise as ew
from .shape import zeros_like
from .sources import CONSTANT, parameter
from .tuples import part


def _is_float(node):
    return node.dtype.kind in "fc"


def _run_body(body, observe):
    def run(args):
        return evaluate(body, args, observe=observe)[0]

    return run


class _Stacked:
    """Per-step values stacked along a new axis 0, written into one array as the steps make them
    (no list of every step's array, no copy at the end)."""

    def __init__(self, count, what, site):
        self.count = count
        self.what = what
        self.site = site
        self.array = None

    def put(self, index, value):
        value = np.asarray(value)
        if self.array is None:
            self.array = np.empty((self.count,) + value.shape, value.dtype)
        elif value.shape != self.array.shape[1:]:
            raise ShapeError(f"{self.what} has shape {value.shape} at one step and {self.array.shape[1:]} at another "
                             f"(loop built at {self.site})")
        self.array[index] = value

    def result(self, shape, dtype):
        """The stacked array; with no steps, an empty (0, *shape) one."""
        return self.array if self.array is not None else np.zeros((0,) + tuple(shape), dtype)


def _step_output_shapes(body, n_carry, args, run_body, site):
    """The run-time shapes of one step's outputs of a scan that makes no step: static where the
    body knows them, else from running the body once on zeros of its inputs' shapes."""
    outputs = body.outputs[n_carry:]
    if all(None not in y.shape for y in outputs):
        return [y.shape for y in outputs]
    try:
        with np.errstate(all="ignore"):
            values = run_body([np.zeros(np.shape(a), np.asarray(a).dtype) for a in args])
    except Exception as err:
        raise ShapeError(
            f"scan: with no steps to run, the shape of its stacked outputs ({', '.join(str(y.shape) for y in outputs)}"
            f" as built) could not be found by running the body once on zeros: {err} (scan built at {site})"
        ) from err
    return [np.shape(v) for v in values[n_carry:]]


def scan_length(attrs, xs):
    """The scan's trip count, checked against the leading size of every scanned input."""
    length = attrs["length"] if attrs["length"] is not None else xs[0].shape[0]
    for x in xs:
        if x.shape[0] != length:
            raise ShapeError(f"scan: the scanned inputs have leading sizes {[x.shape[0] for x in xs]}, "
                             f"they must all be {length} (scan built at {attrs['site']})")
    return length


def run_scan(attrs, args, run_body):
    """The scan loop, given `run_body(args) -> outputs` for its body."""
    n_carry, n_xs = attrs["n_carry"], attrs["n_xs"]
    body = attrs["body"]
    carry = list(args[:n_carry])
    xs = [np.asarray(x) for x in args[n_carry:n_carry + n_xs]]
    captured = list(args[n_carry + n_xs:])
    length = scan_length(attrs, xs)
    reverse, keep = attrs["reverse"], attrs["keep_history"]
    y_leaves = body.outputs[n_carry:]
    ys = [_Stacked(length, f"per-step output {j} of the scan", attrs["site"]) for j in range(len(y_leaves))]
    history = [_Stacked(length + 1, f"carry {j} of the scan", attrs["site"]) for j in range(n_carry)] if keep else []
    for t in (range(length - 1, -1, -1) if reverse else range(length)):
        for stored, c in zip(history, carry):
            stored.put(t + 1 if reverse else t, c)  # by index: what step t - 1 starts from, step t produced
        outputs = run_body(carry + [x[t] for x in xs] + captured)
        carry = list(outputs[:n_carry])
        for stacked, y in zip(ys, outputs[n_carry:]):
            stacked.put(t, y)
    for stored, c in zip(history, carry):
        stored.put(0 if reverse else length, c)
    if length == 0:
        slices = [np.zeros(x.shape[1:], x.dtype) for x in xs]
        y_shapes = _step_output_shapes(body, n_carry, carry + slices + captured, run_body, attrs["site"])
    else:
        y_shapes = [None] * len(y_leaves)
    results = [np.asarray(c) for c in carry]
    results += [stacked.result(shape, leaf.dtype) for stacked, leaf, shape in zip(ys, y_leaves, y_shapes)]
    results += [stored.array for stored in history]
    return tuple(results)


def run_while(attrs, args, run_cond, run_body):
    """The while loop, given functions running its condition and its body."""
    n_carry = attrs["n_carry"]
    carry = list(args[:n_carry])
    captured = list(args[n_carry:])
    limit = attrs["max_iterations"]
    history = []
    trips = 0
    while bool(np.asarray(run_cond(carry + captured)[0])):
        if limit is not None and trips == limit:
            raise IterationLimitError(
                f"while_loop: the condition still holds after max_iterations={attrs.get('reported_limit', limit)} iterations "
                f"(while_loop built at {attrs['site']})"
            )
        if attrs["keep_history"]:
            history.append(carry)
        carry = list(run_body(carry + captured))
        trips += 1
    results = [np.asarray(c) for c in carry]
    if attrs["keep_history"]:  # the trip count is known only now
        history.append(carry)
        for j in range(n_carry):
            stored = _Stacked(trips + 1, f"carry {j} of the while_loop", attrs["site"])
            for t, h in enumerate(history):
                stored.put(t, h[j])
            results.append(stored.array)
    return tuple(results)


class _ControlFlow(Op):
    """An op whose bodies run as whole graphs: `run_with(attrs, args, run_bodies)` is its
    semantics given one function per body (in body_attrs order) that runs it on a list of
    arguments; the interpreter and each backend supply their own."""

    noted_attrs = ("site",)  # the node's own line already shows it

    def run_with(self, attrs, args, run_bodies):
        raise NotImplementedError(self.name)

    def evaluate(self, args, attrs, observe=None):
        return self.run_with(attrs, args, [_run_body(body, observe) for body in self.subgraphs(attrs)])

    def impl(self, *args, **attrs):
        return self.evaluate(args, attrs)


@register
class SCAN(_ControlFlow):
    """inputs: initial carries, scanned inputs (stacked along axis 0), captured values.
    Results: final carries, stacked per-step outputs, and (keep_history) the carries between
    steps, T + 1 of them by index: for a forward scan entry t is what step t started from and
    entry T the final carry; for a reverse one, entry t + 1 is what step t started from and entry
    0 the final carry. Either way, one slice is what the steps started from, the other what they
    produced."""

    name = "scan"
    body_attrs = ("body",)

    def infer(self, inputs, attrs):
        n_carry = attrs["n_carry"]
        body = attrs["body"]
        length = attrs["length"] if attrs["length"] is not None else inputs[n_carry].shape[0]
        parts = [(x.shape, x.dtype) for x in inputs[:n_carry]]
        parts += [((length,) + y.shape, y.dtype) for y in body.outputs[n_carry:]]
        if attrs["keep_history"]:
            stored = None if length is None else length + 1
            parts += [((stored,) + x.shape, x.dtype) for x in inputs[:n_carry]]
        return TupleType(parts)

    def run_with(self, attrs, args, run_bodies):
        return run_scan(attrs, args, run_bodies[0])

    def history_parts(self, attrs):
        start = len(attrs["body"].outputs)  # after the final carries and the per-step outputs
        return range(start, start + attrs["n_carry"]) if attrs["keep_history"] else range(0)

    def vjp(self, g, out, *inputs, **attrs):
        n_carry, n_xs = attrs["n_carry"], attrs["n_xs"]
        n_ys = len(attrs["body"].outputs) - n_carry
        g = list(g)
        g_hist = g[n_carry + n_ys:] or [None] * n_carry
        # a pass may have dropped the history: this gradient then recomputes the loop, keeping it
        source = out if attrs["keep_history"] else build(SCAN, inputs, {**attrs, "keep_history": True}, out.site)
        history = [part(source, n_carry + n_ys + j) for j in range(n_carry)]
        ys = [part(out, n_carry + j) for j in range(n_ys)]
        return _loop_vjp(attrs["body"], inputs, n_carry, n_xs, g[:n_carry], g[n_carry:n_carry + n_ys], g_hist, ys,
                         history, attrs["reverse"], attrs["length"], attrs["site"], out.site)

    def jvp(self, tangents, out, *inputs, **attrs):
        n_carry, n_xs = attrs["n_carry"], attrs["n_xs"]
        n_ys = len(attrs["body"].outputs) - n_carry
        body_t, floats, _ = _tangent_body(attrs["body"], n_carry, n_xs)
        groups = _groups(len(inputs), n_carry, n_xs)
        carry_floats = [i for i in groups[0] if i in floats]
        xs_floats = [i for i in groups[1] if i in floats]
        node = build(SCAN, _with_tangents(inputs, tangents, groups, floats),
                     {**attrs, "body": body_t, "n_carry": n_carry + len(carry_floats),
                      "n_xs": n_xs + len(xs_floats)}, out.site)
        y_floats = [j for j, y in enumerate(attrs["body"].outputs[n_carry:]) if _is_float(y)]
        result = _carry_tangents(node, out, n_carry, carry_floats, n_ys + len(y_floats), n_ys, attrs["keep_history"])
        for rank, j in enumerate(y_floats):
            result[n_carry + j] = part(node, n_carry + len(carry_floats) + n_ys + rank)
        return tuple(result)


@register
class WHILE(_ControlFlow):
    """inputs: initial carries, captured values (read by the condition and the body). Results:
    final carries and (keep_history) the carries between iterations: the trip count + 1 of them,
    the initial carry first and the final one last."""

    name = "while"
    body_attrs = ("cond", "body")

    def infer(self, inputs, attrs):
        n_carry = attrs["n_carry"]
        parts = [(x.shape, x.dtype) for x in inputs[:n_carry]]
        if attrs["keep_history"]:
            parts += [((None,) + x.shape, x.dtype) for x in inputs[:n_carry]]
        return TupleType(parts)

    def run_with(self, attrs, args, run_bodies):
        return run_while(attrs, args, *run_bodies)

    def history_parts(self, attrs):
        n = attrs["n_carry"]
        return range(n, 2 * n) if attrs["keep_history"] else range(0)

    def vjp(self, g, out, *inputs, **attrs):
        n_carry = attrs["n_carry"]
        g = list(g)
        g_hist = g[n_carry:] or [None] * n_carry
        # a pass may have dropped the history: this gradient then recomputes the loop, keeping it
        source = out if attrs["keep_history"] else build(WHILE, inputs, {**attrs, "keep_history": True}, out.site)
        history = [part(source, n_carry + j) for j in range(n_carry)]
        # the iterations run backwards: a reverse scan over the recorded carries
        return _loop_vjp(attrs["body"], inputs, n_carry, 0, g[:n_carry], [], g_hist, [], history, False, None,
                         attrs["site"], out.site)

    def jvp(self, tangents, out, *inputs, **attrs):
        n_carry = attrs["n_carry"]
        body_t, floats, primal = _tangent_body(attrs["body"], n_carry, 0)
        params = [parameter(p, i) for i, p in enumerate(body_t.inputs)]
        cond_t = Graph(params, attrs["cond"].inline([params[i] for i in primal]))  # reads primal values only
        groups = _groups(len(inputs), n_carry, 0)
        carry_floats = [i for i in groups[0] if i in floats]
        node = build(WHILE, _with_tangents(inputs, tangents, groups, floats),
                     {**attrs, "cond": cond_t, "body": body_t, "n_carry": n_carry + len(carry_floats)}, out.site)
        return tuple(_carry_tangents(node, out, n_carry, carry_floats, 0, 0, attrs["keep_history"]))


@register
class COND(_ControlFlow):
    """inputs: the predicate, then the operands and captured values both branches read.
    Results: the taken branch's outputs. Only the taken branch runs."""

    name = "cond"
    body_attrs = ("true_body", "false_body")
    nondiff_inputs = (0,)

    def infer(self, inputs, attrs):
        return TupleType((y.shape, y.dtype) for y in attrs["true_body"].outputs)

    def run_with(self, attrs, args, run_bodies):
        taken = run_bodies[0] if bool(np.asarray(args[0])) else run_bodies[1]
        return tuple(np.asarray(v) for v in taken(list(args[1:])))

    def vjp(self, g, out, pred, *operands, true_body, false_body, site):
        wrt = [i for i, x in enumerate(operands) if _is_float(x)]
        cotangents = [gi if gi is not None else zeros_like(part(out, j)) for j, gi in enumerate(g)]
        bodies = [_vjp_branch(b, wrt) for b in (true_body, false_body)]
        node = build(COND, [pred] + list(operands) + cotangents,
                     {"true_body": bodies[0], "false_body": bodies[1], "site": site}, out.site)
        grads = [None] * len(operands)
        for k, i in enumerate(wrt):
            grads[i] = part(node, k)
        return (None,) + tuple(grads)

    def jvp(self, tangents, out, pred, *operands, true_body, false_body, site):
        wrt = [i for i, x in enumerate(operands) if _is_float(x)]
        t = [tangents[1 + i] if tangents[1 + i] is not None else zeros_like(operands[i]) for i in wrt]
        bodies = [_jvp_branch(b, wrt) for b in (true_body, false_body)]
        node = build(COND, [pred] + list(operands) + t,
                     {"true_body": bodies[0], "false_body": bodies[1], "site": site}, out.site)
        n = len(true_body.outputs)
        floats = [j for j, y in enumerate(true_body.outputs) if _is_float(y)]
        result = [None] * n
        for k, j in enumerate(floats):
            result[j] = part(node, n + k)
        return tuple(result)


def build(op, inputs, attrs, site):
    """A tuple-valued control-flow node (its type inferred from its bodies)."""
    return Node.tuple_valued(op, inputs, attrs, op.infer(list(inputs), attrs), site=site)


def _groups(n_inputs, n_carry, n_xs):
    """A loop's input positions: carries, scanned inputs, captured values."""
    return [range(0, n_carry), range(n_carry, n_carry + n_xs), range(n_carry + n_xs, n_inputs)]


def _with_tangents(inputs, tangents, groups, floats):
    """A primal-and-tangent loop's inputs: per group, the values, then the tangents of the float
    ones (zeros where an input has none)."""
    result = []
    for group in groups:
        result += [inputs[i] for i in group]
        result += [tangents[i] if tangents[i] is not None else zeros_like(inputs[i]) for i in group if i in floats]
    return result


def _carry_tangents(node, out, n_carry, carry_floats, n_step_outputs, n_ys, keep_history):
    """Tangents of `out`'s results (None where none) filled in for its carries and stored
    carries from the primal-and-tangent loop `node`, whose results are: carries, carry tangents,
    `n_step_outputs` stacked per-step outputs (values and tangents), then its stored carries and
    stored carry tangents."""
    result = [None] * len(out.parts)
    for rank, i in enumerate(carry_floats):
        result[i] = part(node, n_carry + rank)
    if keep_history:
        start = n_carry + len(carry_floats) + n_step_outputs
        for rank, i in enumerate(carry_floats):
            result[n_carry + n_ys + i] = part(node, start + n_carry + rank)
    return result


def _vjp_branch(body, wrt):
    """A branch body computing the cotangents of operands `wrt` from its outputs' cotangents."""
    params = [parameter(p, i) for i, p in enumerate(body.inputs)]
    gparams = [parameter(y, len(params) + j) for j, y in enumerate(body.outputs)]
    outs = body.inline(params)
    cot = [gp if _is_float(y) else None for gp, y in zip(gparams, outs)]
    grads = backward(outs, cot, [params[i] for i in wrt])
    grads = [g if g is not None else zeros_like(params[i]) for g, i in zip(grads, wrt)]
    return Graph(params + gparams, grads)


def _jvp_branch(body, wrt):
    """A branch body computing its outputs and, for float ones, their tangents."""
    params = [parameter(p, i) for i, p in enumerate(body.inputs)]
    tparams = [parameter(body.inputs[i], len(params) + k) for k, i in enumerate(wrt)]
    outs = body.inline(params)
    ts = forward(outs, {id(params[i]): tp for i, tp in zip(wrt, tparams)})
    floats = [(y, t) for y, t in zip(outs, ts) if _is_float(y)]
    return Graph(params + tparams, outs + [t if t is not None else zeros_like(y) for y, t in floats])


def _tangent_body(body, n_carry, n_xs):
    """A loop body advancing (primal, tangent) pairs.

    Parameters, per group (carries, scanned inputs, captured values): the primal values, then
    the tangents of the float ones. Outputs, per group (carries, per-step outputs): the primal
    values, then the tangents of the float ones. Returns (body, positions of the float inputs,
    parameter index of each primal input)."""
    params, primal, tangent = [], [None] * len(body.inputs), {}
    for group in _groups(len(body.inputs), n_carry, n_xs):
        for i in group:
            primal[i] = parameter(body.inputs[i], len(params))
            params.append(primal[i])
        for i in group:
            if _is_float(body.inputs[i]):
                tangent[i] = parameter(body.inputs[i], len(params))
                params.append(tangent[i])
    outs = body.inline(primal)
    ts = forward(outs, {id(primal[i]): t for i, t in tangent.items()})
    results = []
    for group in (range(0, n_carry), range(n_carry, len(outs))):
        results += [outs[j] for j in group]
        results += [ts[j] if ts[j] is not None else zeros_like(outs[j]) for j in group if _is_float(outs[j])]
    position = {id(p): k for k, p in enumerate(params)}  # by identity: == on nodes is elementwise
    return Graph(params, results), set(tangent), [position[id(p)] for p in primal]


def _plus_cotangent(a, b):
    return b if a is None else a if b is None else ew.add(a, b)


def _between_steps(history, reverse):
    """(what the steps started from, what they produced), stacked by step, from a loop's T + 1
    stored carries (see SCAN): two views of one array."""
    if reverse:
        return history[1:], history[:-1]
    return history[:-1], history[1:]


def _loop_vjp(body, inputs, n_carry, n_xs, g_carry, g_ys, g_hist, ys, history, forward_reverse, length, site, at):
    """Input cotangents of a scan (or a while: no scanned inputs, no per-step outputs) from a
    scan in the opposite direction over the recorded carries.

    Each backward step also reads the carries its forward step produced, so the rules that use an
    op's output (tanh's, exp's) read them instead of recomputing the step."""
    init, xs, captured = inputs[:n_carry], inputs[n_carry:n_carry + n_xs], inputs[n_carry + n_xs:]
    carry_float = [j for j in range(n_carry) if _is_float(init[j])]
    x_float = [j for j in range(n_xs) if _is_float(xs[j])]
    # a captured constant (an exponent, a coefficient) gets no cotangent: nothing can use it
    cap_float = [j for j in range(len(captured)) if _is_float(captured[j]) and captured[j].op is not CONSTANT]
    y_float = [j for j in range(len(ys)) if _is_float(ys[j])]
    hist_fed = [j for j in carry_float if g_hist[j] is not None]

    # The backward body's parameters: carries (the float carries' cotangents, then the float
    # captured values' summed cotangents), per step (the carries the step started from, its
    # scanned inputs, its outputs' cotangents, the cotangents of its stored carries), then the
    # captured values.
    params = []

    def param(like):
        params.append(parameter(like, len(params)))
        return params[-1]

    step = body.inputs
    g_c = [param(step[j]) for j in carry_float]
    acc = [param(captured[j]) for j in cap_float]
    c = [param(step[j]) for j in range(n_carry)]
    x = [param(step[n_carry + j]) for j in range(n_xs)]
    g_y = [param(body.outputs[n_carry + j]) for j in y_float]
    g_h = [param(step[j]) for j in hist_fed]
    produced = [param(step[j]) for j in carry_float]
    k = [param(captured[j]) for j in range(len(captured))]
    outs = body.inline(c + x + k)
    cot = [None] * len(outs)
    for p, j in zip(g_c, carry_float):
        cot[j] = p
    for p, j in zip(g_y, y_float):
        cot[n_carry + j] = p
    wrt = [c[j] for j in carry_float] + [x[j] for j in x_float] + [k[j] for j in cap_float]
    grads = [g if g is not None else zeros_like(w) for g, w in zip(backward(outs, cot, wrt), wrt)]
    n_cf, n_xf = len(carry_float), len(x_float)
    d_c, d_x, d_k = grads[:n_cf], grads[n_cf:n_cf + n_xf], grads[n_cf + n_xf:]
    # a stored carry's own cotangent joins the cotangent of the carry at the step it started
    d_c = [ew.add(d, g_h[hist_fed.index(j)]) if j in hist_fed else d for d, j in zip(d_c, carry_float)]
    results = substitute(d_c + [ew.add(a, d) for a, d in zip(acc, d_k)] + d_x,
                          {id(outs[j]): p for j, p in zip(carry_float, produced)})
    back_body = Graph(params, results)

    started = [_between_steps(history[j], forward_reverse)[0] for j in range(n_carry)]
    produced_by_step = [_between_steps(history[j], forward_reverse)[1] for j in carry_float]
    # a stored carry's cotangent: the entries the steps started from go with their steps; the
    # entry holding the final carry adds to the final carry's cotangent
    final_entry = 0 if forward_reverse else -1
    g_final = [_plus_cotangent(g_carry[j], None if g_hist[j] is None else g_hist[j][final_entry])
               for j in range(n_carry)]
    g_started = [None if g_hist[j] is None else _between_steps(g_hist[j], forward_reverse)[0] for j in range(n_carry)]
    init_g = [g_final[j] if g_final[j] is not None else zeros_like(init[j]) for j in carry_float]
    init_acc = [zeros_like(captured[j]) for j in cap_float]
    seq = started + list(xs)
    seq += [g_ys[j] if g_ys[j] is not None else zeros_like(ys[j]) for j in y_float]
    seq += [g_started[j] for j in hist_fed]
    seq += produced_by_step
    # with nothing to scan over (no carries, no inputs) the forward loop's static length is it
    attrs = {"body": back_body, "n_carry": len(init_g) + len(init_acc), "n_xs": len(seq),
             "length": None if seq else length,
             "reverse": not forward_reverse, "keep_history": False, "site": site}
    node = build(SCAN, init_g + init_acc + seq + list(captured), attrs, at)
    n_back_carry = len(init_g) + len(init_acc)
    grads_in = [None] * len(inputs)
    for rank, j in enumerate(carry_float):
        grads_in[j] = part(node, rank)
    for rank, j in enumerate(cap_float):
        grads_in[n_carry + n_xs + j] = part(node, len(init_g) + rank)
    for rank, j in enumerate(x_float):
        grads_in[n_carry + j] = part(node, n_back_carry + rank)
    return tuple(grads_in)
