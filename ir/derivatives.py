"""The one place that calls op gradient rules, for graph autodiff and eager backward alike.

Rules return gradients shaped like the op's (broadcast) output; here they are summed back to each
input's shape (`sum_like`, read at run time so None dimensions work) and cast to its dtype.
"""
from .ops.elementwise import astype
from .ops.reductions import sum_like


def _static_equal(a, b):
    return a == b and None not in a


def fit_to_input(grad, x, may_broadcast=True):
    """Undo broadcasting and dtype promotion of a gradient relative to input x."""
    if may_broadcast and not _static_equal(tuple(grad.shape), tuple(x.shape)):
        grad = sum_like(grad, x)
    if grad.dtype != x.dtype and x.dtype.kind in "fc":
        grad = astype(grad, x.dtype)
    return grad


def call_vjp(op, g, out, inputs, attrs, wanted):
    """Input cotangents (None where not wanted or not defined), each fitted to its input."""
    raw = op.vjp(g, out, *inputs, **attrs)
    grads = []
    for i, (x, grad) in enumerate(zip(inputs, raw)):
        if not wanted[i] or grad is None:
            grads.append(None)
            continue
        if callable(grad):
            grad = grad()
        if grad is not None and not isinstance(grad, tuple):  # a tuple value's cotangent: part by part
            grad = fit_to_input(grad, x, op.unbroadcast_needed(i, inputs))
        grads.append(grad)
    return grads


def add_cotangents(a, b, add):
    """The sum of two cotangents of one value: arrays added with `add`, a tuple value's slot by
    slot (None is zero)."""
    if not isinstance(a, tuple):
        return add(a, b)
    return tuple(y if x is None else x if y is None else add(x, y) for x, y in zip(a, b))


def fit_to_output(tangent, out):
    """A JVP rule may return a tangent that still needs broadcasting/casting to the output."""
    from .ops.shape import broadcast_like

    if not _static_equal(tuple(tangent.shape), tuple(out.shape)):
        tangent = broadcast_like(tangent, out)
    if tangent.dtype != out.dtype and out.dtype.kind in "fc":
        tangent = astype(tangent, out.dtype)
    return tangent


def call_jvp(op, tangents, out, inputs, attrs):
    tangent = op.jvp(tangents, out, *inputs, **attrs)
    if isinstance(tangent, tuple):  # a tuple value's tangent: one per result, each already fitted
        return tangent
    return None if tangent is None else fit_to_output(tangent, out)
