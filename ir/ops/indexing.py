"""Indexing with NumPy's rules (basic and integer-array indexing), index_select and gather.

Gradients scatter-add into zeros shaped like the indexed input; the scatter ops' own gradients
are the forward indexing ops again, so higher orders work.
"""
import numpy as np

from ..dispatch import apply
from ..errors import ShapeError
from ..registry import Op, register
from ..source import user_site
from ..types import broadcast_shapes, fmt_shape, normalize_axis


def _is_value(obj):
    """A node or eager tensor (anything with a shape and dtype that is not a plain array)."""
    return hasattr(obj, "shape") and hasattr(obj, "dtype") and not isinstance(obj, np.ndarray)


def parse_key(key):
    """Split an indexing key into a static spec and the list of index arrays it refers to."""
    if not isinstance(key, tuple):
        key = (key,)
    spec, arrays = [], []
    for item in key:
        if item is None:
            spec.append(("new",))
        elif item is Ellipsis:
            spec.append(("ellipsis",))
        elif isinstance(item, slice):
            for part in (item.start, item.stop, item.step):
                if part is not None and not isinstance(part, (int, np.integer)):
                    raise TypeError(f"index: slice bounds must be ints or None, got {item!r}")
            if item.step == 0:
                raise ValueError("index: slice step cannot be zero")
            spec.append(("slice", item.start, item.stop, item.step))
        elif isinstance(item, (bool, np.bool_)):
            raise TypeError("index: a bare bool is not a valid index; use a boolean array")
        elif isinstance(item, (int, np.integer)):
            spec.append(("int", int(item)))
        else:
            if not _is_value(item):
                item = as_index_array(item) if isinstance(item, (list, tuple)) else np.asarray(item)
                if item.dtype == np.bool_:  # a known mask is the integer arrays of its True places
                    for coords in np.nonzero(item):
                        spec.append(("array", len(arrays)))
                        arrays.append(coords.astype(np.int64))
                    continue
            kind = np.dtype(item.dtype).kind
            if kind == "b":
                raise TypeError(
                    "index: a boolean mask that is itself a graph value has a data-dependent size; "
                    "use gc.where(mask, x, 0) or index with a NumPy mask"
                )
            if kind not in "iu":
                raise TypeError(f"index: index arrays must be integers, got dtype {item.dtype}")
            spec.append(("array", len(arrays)))
            arrays.append(item)
    return tuple(spec), arrays


def _expand_ellipsis(spec, rank):
    consumed = sum(e[0] in ("int", "slice", "array") for e in spec)
    ellipses = [i for i, e in enumerate(spec) if e[0] == "ellipsis"]
    if len(ellipses) > 1:
        raise IndexError("index: an index can only have a single ellipsis ('...')")
    if consumed > rank:
        raise IndexError(f"index: too many indices: {consumed} for an array of rank {rank}")
    fill = (("slice", None, None, None),) * (rank - consumed)
    if ellipses:
        i = ellipses[0]
        return spec[:i] + fill + spec[i + 1:]
    return spec + fill


def index_shape(shape, spec, array_shapes):
    """Output shape of x[key] by NumPy's rules, with None for sizes known only at run time."""
    entries = _expand_ellipsis(spec, len(shape))
    advanced = any(e[0] == "array" for e in entries)
    out, adv_at, adv_shapes, adv_entry_pos = [], None, [], []
    dim = 0
    for pos, e in enumerate(entries):
        kind = e[0]
        if kind == "new":
            out.append(1)
            continue
        size = shape[dim]
        dim += 1
        if kind == "slice":
            out.append(None if size is None else len(range(*slice(*e[1:]).indices(size))))
            continue
        if kind == "int" and size is not None and not -size <= e[1] < size:
            raise IndexError(f"index {e[1]} is out of bounds for axis {dim - 1} with size {size}")
        if kind == "int" and not advanced:
            continue
        # integer arrays (and, next to them, integer scalars) are advanced indices
        adv_shapes.append(() if kind == "int" else array_shapes[e[1]])
        adv_entry_pos.append(pos)
        if adv_at is None:
            adv_at = len(out)
    if not advanced:
        return tuple(out)
    block = broadcast_shapes(*adv_shapes, op="index")
    contiguous = adv_entry_pos == list(range(adv_entry_pos[0], adv_entry_pos[-1] + 1))
    at = adv_at if contiguous else 0
    return tuple(out[:at]) + block + tuple(out[at:])


def build_key(spec, arrays):
    key = []
    for e in spec:
        kind = e[0]
        if kind == "new":
            key.append(None)
        elif kind == "ellipsis":
            key.append(Ellipsis)
        elif kind == "slice":
            key.append(slice(*e[1:]))
        elif kind == "int":
            key.append(e[1])
        else:
            key.append(arrays[e[1]])
    if not arrays and not any(e[0] == "ellipsis" for e in spec):
        key.append(Ellipsis)  # keeps a full integer index a 0-d view, not a copied scalar
    return tuple(key)


@register
class GETITEM(Op):
    name, linear, backward_name = "getitem", True, "Index"

    def is_nondiff_input(self, index):
        return index >= 1

    def infer(self, inputs, attrs):
        x, arrays = inputs[0], inputs[1:]
        return index_shape(x.shape, attrs["spec"], [a.shape for a in arrays]), x.dtype

    def impl(self, x, *arrays, spec):
        return np.asarray(x[build_key(spec, arrays)])

    def vjp(self, g, out, x, *arrays, spec):
        return (getitem_grad(g, x, arrays, spec),) + (None,) * len(arrays)

    def jvp(self, tangents, out, x, *arrays, spec):
        return None if tangents[0] is None else apply(GETITEM, tangents[0], *arrays, spec=spec)


def getitem(x, key):
    try:
        spec, arrays = parse_key(key)
    except (TypeError, IndexError, ValueError) as err:
        raise type(err)(f"{err} [built at {user_site()}]") from None
    return apply(GETITEM, x, *arrays, spec=spec)


def as_index_array(index):
    """Lists become integer arrays; an empty list is an empty integer index, as in NumPy."""
    if isinstance(index, (list, tuple)):
        return np.asarray(index, dtype=np.int64) if len(index) == 0 else np.asarray(index)
    return index


class ScatterAdd(Op):
    """The gradient of a read: zeros like x (input 1), with g (input 0) added at the places the
    read took (repeated places accumulate). Subclasses say where (`key`) and name the read,
    which is this op's own gradient; the other inputs only supply the shape and the places."""

    linear = True
    shape_inputs = (1,)

    def is_nondiff_input(self, index):
        return index >= 1

    def infer(self, inputs, attrs):
        return inputs[1].shape, inputs[0].dtype

    def key(self, rest, attrs):
        raise NotImplementedError

    def read(self, gg, rest, attrs):
        raise NotImplementedError

    def impl(self, g, x, *rest, **attrs):
        out = np.zeros(np.shape(x), g.dtype)
        np.add.at(out, self.key(rest, attrs), g)
        return out

    def vjp(self, gg, out, g, x, *rest, **attrs):
        return (self.read(gg, rest, attrs), None) + (None,) * len(rest)

    def jvp(self, tangents, out, g, x, *rest, **attrs):
        return None if tangents[0] is None else apply(self, tangents[0], x, *rest, **attrs)


@register
class GETITEM_GRAD(ScatterAdd):
    """zeros like x with g added at x[key]."""

    name = "getitem_grad"

    def key(self, arrays, attrs):
        return build_key(attrs["spec"], arrays)

    def impl(self, g, x, *arrays, spec):
        if arrays:
            return super().impl(g, x, *arrays, spec=spec)
        out = np.zeros(np.shape(x), g.dtype)
        out[build_key(spec, arrays)] = g  # basic indexing never repeats a place: a plain store
        return out

    def read(self, gg, arrays, attrs):
        return apply(GETITEM, gg, *arrays, **attrs)


def getitem_grad(g, x, arrays, spec):
    return apply(GETITEM_GRAD, g, x, *arrays, spec=spec)


def _check_int(index, op):
    if np.dtype(index.dtype).kind not in "iu":
        raise TypeError(f"{op}: index must hold integers, got dtype {index.dtype}")


@register
class INDEX_SELECT(Op):
    """PyTorch's index_select: the entries `index` (1-D) along axis `dim` (a copy)."""

    name, linear = "index_select", True
    nondiff_inputs = (1,)

    def normalize(self, inputs, attrs):
        (dim,) = normalize_axis(attrs["dim"], inputs[0].ndim, self.name)
        return {"dim": dim}

    def infer(self, inputs, attrs):
        x, index = inputs
        _check_int(index, self.name)
        if index.ndim != 1:
            raise ShapeError(f"index_select: index must be 1-D, got shape {fmt_shape(index.shape)}")
        shape = list(x.shape)
        shape[attrs["dim"]] = index.shape[0]
        return tuple(shape), x.dtype

    def impl(self, x, index, *, dim):
        return np.take(x, index, axis=dim)

    def vjp(self, g, out, x, index, *, dim):
        return (index_add(g, x, index, dim), None)


def index_select(x, dim, index):
    return apply(INDEX_SELECT, x, as_index_array(index), dim=dim)


@register
class INDEX_ADD(ScatterAdd):
    """zeros like x, with the slices of g added at positions `index` along `dim`."""

    name = "index_add"

    def key(self, rest, attrs):
        return (slice(None),) * attrs["dim"] + (rest[0],)

    def read(self, gg, rest, attrs):
        return index_select(gg, attrs["dim"], rest[0])


def index_add(g, x, index, dim):
    return apply(INDEX_ADD, g, x, index, dim=dim)


def _gather_key(index, dim):
    """Full NumPy index for PyTorch's gather: out[i][j] = x[index[i][j]][j] (for dim 0)."""
    key = list(np.indices(np.shape(index), sparse=True))
    key[dim] = index
    return tuple(key)


@register
class GATHER(Op):
    """PyTorch's gather: out has index's shape; along `dim` the entry is taken from x at index."""

    name, linear = "gather", True
    nondiff_inputs = (1,)

    def normalize(self, inputs, attrs):
        (dim,) = normalize_axis(attrs["dim"], inputs[0].ndim, self.name)
        return {"dim": dim}

    def infer(self, inputs, attrs):
        x, index = inputs
        _check_int(index, self.name)
        if index.ndim != x.ndim:
            raise ShapeError(
                f"gather: index must have the rank of the input; got {fmt_shape(index.shape)} for "
                f"{fmt_shape(x.shape)}"
            )
        for d, (n, m) in enumerate(zip(x.shape, index.shape)):
            if d != attrs["dim"] and n is not None and m is not None and m > n:
                raise ShapeError(
                    f"gather: index shape {fmt_shape(index.shape)} exceeds input shape "
                    f"{fmt_shape(x.shape)} at axis {d}"
                )
        return index.shape, x.dtype

    def impl(self, x, index, *, dim):
        return x[_gather_key(index, dim)]

    def vjp(self, g, out, x, index, *, dim):
        return (scatter_add(g, x, index, dim), None)


def gather(x, dim, index):
    return apply(GATHER, x, as_index_array(index), dim=dim)


@register
class SCATTER_ADD(ScatterAdd):
    """zeros like x, with g added at the places gather(x, dim, index) reads."""

    name = "scatter_add"

    def key(self, rest, attrs):
        return _gather_key(rest[0], attrs["dim"])

    def read(self, gg, rest, attrs):
        return gather(gg, attrs["dim"], rest[0])


def scatter_add(g, x, index, dim):
    return apply(SCATTER_ADD, g, x, index, dim=dim)
