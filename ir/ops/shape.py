"""Shape ops: reshape, broadcasting, axis insertion/removal, concatenation, zeros.

Where a gradient needs a shape that may only be known at run time (None dimensions), it reads
it from a reference value (`reshape_like`, `broadcast_like`, `zeros_like`) instead of baking a
build-time shape into the graph.
"""
import math

import numpy as np

from ..dispatch import apply
from ..errors import ShapeError
from ..registry import Op, register
from ..types import broadcast_shapes, fmt_shape, is_known, normalize_axis


def _as_int_tuple(shape, op):
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        out = tuple(int(d) for d in shape)
    except (TypeError, ValueError):  # ValueError: int("x") of a string's characters
        raise TypeError(f"{op}: shape must be an int or a sequence of ints, got {shape!r}") from None
    if any(d != s for d, s in zip(out, shape)):
        raise TypeError(f"{op}: shape must hold ints, got {shape!r}")
    return out


@register
class RESHAPE(Op):
    name, linear, backward_name = "reshape", True, "View"
    returns_view = True

    def normalize(self, inputs, attrs):
        shape = _as_int_tuple(attrs["shape"], self.name)
        if sum(d == -1 for d in shape) > 1 or any(d < -1 for d in shape):
            raise ShapeError(f"reshape: invalid target shape {shape}: at most one -1, no other negatives")
        return {"shape": shape}

    def infer(self, inputs, attrs):
        x, target = inputs[0], attrs["shape"]
        known = math.prod(d for d in target if d != -1)
        if is_known(x.shape):
            size = math.prod(x.shape)
            if -1 in target:
                if known == 0 or size % known:
                    raise ShapeError(f"reshape: cannot reshape {fmt_shape(x.shape)} (size {size}) into {target}")
                return tuple(size // known if d == -1 else d for d in target), x.dtype
            if known != size:
                raise ShapeError(f"reshape: cannot reshape {fmt_shape(x.shape)} (size {size}) into {target}")
            return target, x.dtype
        return tuple(None if d == -1 else d for d in target), x.dtype

    def impl(self, x, *, shape):
        return np.reshape(x, shape)

    def vjp(self, g, out, x, *, shape):
        return (reshape_like(g, x),)


def reshape(x, shape):
    return apply(RESHAPE, x, shape=shape)


@register
class RESHAPE_LIKE(Op):
    name, linear, backward_name = "reshape_like", True, "View"
    returns_view = True
    nondiff_inputs = shape_inputs = (1,)

    def infer(self, inputs, attrs):
        x, ref = inputs
        if is_known(x.shape) and is_known(ref.shape) and math.prod(x.shape) != math.prod(ref.shape):
            raise ShapeError(f"reshape_like: sizes differ: {fmt_shape(x.shape)} vs {fmt_shape(ref.shape)}")
        return ref.shape, x.dtype

    def impl(self, x, ref):
        return np.reshape(x, np.shape(ref))

    def vjp(self, g, out, x, ref):
        return (reshape_like(g, x), None)


def reshape_like(x, ref):
    return apply(RESHAPE_LIKE, x, ref)


@register
class BROADCAST_TO(Op):
    name, linear, backward_name = "broadcast_to", True, "Expand"
    returns_view = True

    def normalize(self, inputs, attrs):
        return {"shape": _as_int_tuple(attrs["shape"], self.name)}

    def infer(self, inputs, attrs):
        x, target = inputs[0], attrs["shape"]
        if x.ndim > len(target) or broadcast_shapes(x.shape, target, op=self.name) != target:
            raise ShapeError(f"broadcast_to: cannot broadcast {fmt_shape(x.shape)} to {fmt_shape(target)}")
        return target, x.dtype

    def impl(self, x, *, shape):
        return np.broadcast_to(x, shape)

    def vjp(self, g, out, x, *, shape):
        from .reductions import sum_like

        return (sum_like(g, x),)


def broadcast_to(x, shape):
    return apply(BROADCAST_TO, x, shape=shape)


@register
class BROADCAST_LIKE(Op):
    """Broadcast x to the run-time shape of `ref`."""

    name, linear, backward_name = "broadcast_like", True, "Expand"
    fuses_as_broadcast = returns_view = True
    nondiff_inputs = shape_inputs = (1,)
    scalar = "{0}"  # in a loop over ref's shape, the value is x read with broadcasting

    def infer(self, inputs, attrs):
        x, ref = inputs
        if x.ndim > ref.ndim:
            raise ShapeError(f"broadcast_like: {fmt_shape(x.shape)} has more dims than {fmt_shape(ref.shape)}")
        broadcast_shapes(x.shape, ref.shape, op=self.name)
        return ref.shape, x.dtype

    def impl(self, x, ref):
        return np.broadcast_to(x, np.shape(ref))

    def vjp(self, g, out, x, ref):
        from .reductions import sum_like

        return (sum_like(g, x), None)


def broadcast_like(x, ref):
    return apply(BROADCAST_LIKE, x, ref)


@register
class EXPAND_DIMS(Op):
    name, linear, backward_name = "expand_dims", True, "Unsqueeze"
    returns_view = True

    def normalize(self, inputs, attrs):
        axis = attrs["axis"]
        count = 1 if isinstance(axis, (int, np.integer)) else len(tuple(axis))
        return {"axis": normalize_axis(axis, inputs[0].ndim + count, self.name)}

    def infer(self, inputs, attrs):
        dims = iter(inputs[0].shape)
        rank = inputs[0].ndim + len(attrs["axis"])
        return tuple(1 if i in attrs["axis"] else next(dims) for i in range(rank)), inputs[0].dtype

    def impl(self, x, *, axis):
        return np.expand_dims(x, axis)

    def vjp(self, g, out, x, *, axis):
        return (reshape_like(g, x),)


def expand_dims(x, axis):
    return apply(EXPAND_DIMS, x, axis=axis)


@register
class SQUEEZE(Op):
    name, linear = "squeeze", True
    returns_view = True

    def normalize(self, inputs, attrs):
        x, axis = inputs[0], attrs.get("axis")
        if axis is None:
            if not is_known(x.shape):
                raise ShapeError(
                    f"squeeze: shape {fmt_shape(x.shape)} has sizes known only at run time; "
                    "pass axis= to say which axes to remove"
                )
            return {"axis": tuple(i for i, d in enumerate(x.shape) if d == 1)}
        axes = normalize_axis(axis, x.ndim, self.name)
        for a in axes:
            if x.shape[a] not in (1, None):
                raise ShapeError(f"squeeze: axis {a} of shape {fmt_shape(x.shape)} has size {x.shape[a]}, not 1")
        return {"axis": axes}

    def infer(self, inputs, attrs):
        x = inputs[0]
        return tuple(d for i, d in enumerate(x.shape) if i not in attrs["axis"]), x.dtype

    def impl(self, x, *, axis):
        return np.squeeze(x, axis=axis)

    def vjp(self, g, out, x, *, axis):
        return (reshape_like(g, x),)


def squeeze(x, axis=None):
    return apply(SQUEEZE, x, axis=axis)


@register
class CONCATENATE(Op):
    name, linear, backward_name = "concatenate", True, "Cat"

    def normalize(self, inputs, attrs):
        if not inputs:
            raise ValueError("concatenate: need at least one array")
        if inputs[0].ndim == 0:
            raise ShapeError("concatenate: zero-dimensional arrays cannot be concatenated")
        (axis,) = normalize_axis(attrs.get("axis", 0), inputs[0].ndim, self.name)
        return {"axis": axis}

    def infer(self, inputs, attrs):
        axis = attrs["axis"]
        first = inputs[0]
        out = list(first.shape)
        for x in inputs[1:]:
            if x.ndim != first.ndim:
                raise ShapeError(
                    f"concatenate: all inputs need the same rank; got {fmt_shape(first.shape)} and {fmt_shape(x.shape)}"
                )
            for i, d in enumerate(x.shape):
                if i == axis:
                    continue
                if d is not None and out[i] is not None and d != out[i]:
                    raise ShapeError(
                        f"concatenate: sizes differ off the joining axis {axis}: "
                        f"{fmt_shape(first.shape)} vs {fmt_shape(x.shape)}"
                    )
                out[i] = out[i] if out[i] is not None else d
        sizes = [x.shape[axis] for x in inputs]
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out), np.result_type(*(x.dtype for x in inputs))

    def impl(self, *xs, axis):
        return np.concatenate(xs, axis=axis)

    def vjp(self, g, out, *xs, axis):
        return tuple(concat_part(g, xs, axis, i) for i in range(len(xs)))


def concatenate(xs, axis=0):
    return apply(CONCATENATE, *xs, axis=axis)


def stack(xs, axis=0):
    """Join along a new axis (concatenation of the inputs with that axis inserted)."""
    xs = list(xs)
    if not xs:
        raise ValueError("stack: need at least one array")
    return concatenate([expand_dims(x, axis) for x in xs], axis=axis)


@register
class CONCAT_PART(Op):
    """Piece `index` of g split like the concatenation of `refs` along `axis` (run-time sizes)."""

    name, linear = "concat_part", True

    def is_nondiff_input(self, index):
        return index >= 1

    def is_shape_input(self, index):
        return index >= 1  # the refs: only their sizes along `axis` are read

    def infer(self, inputs, attrs):
        ref = inputs[1 + attrs["index"]]
        shape = list(inputs[0].shape)
        shape[attrs["axis"]] = ref.shape[attrs["axis"]]
        return tuple(shape), inputs[0].dtype

    def impl(self, g, *refs, axis, index):
        start = sum(np.shape(r)[axis] for r in refs[:index])
        stop = start + np.shape(refs[index])[axis]
        return g[(slice(None),) * axis + (slice(start, stop),)]

    def vjp(self, gg, out, g, *refs, axis, index):
        pieces = [gg if j == index else zeros_like(r, gg.dtype) for j, r in enumerate(refs)]
        return (concatenate(pieces, axis),) + (None,) * len(refs)


def concat_part(g, refs, axis, index):
    return apply(CONCAT_PART, g, *refs, axis=axis, index=index)


@register
class ZEROS_LIKE(Op):
    name = "zeros_like"
    nondiff_inputs = shape_inputs = (0,)

    def normalize(self, inputs, attrs):
        dtype = attrs.get("dtype")
        return {"dtype": np.dtype(inputs[0].dtype if dtype is None else dtype)}

    def infer(self, inputs, attrs):
        return inputs[0].shape, attrs["dtype"]

    def impl(self, x, *, dtype):
        return np.zeros(np.shape(x), dtype)


def zeros_like(x, dtype=None):
    return apply(ZEROS_LIKE, x, dtype=dtype)
