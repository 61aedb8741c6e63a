"""Indexing with NumPy's rules (basic and integer-array indexing), index_select and gather.

Gradients scatter-add into zeros shaped like the indexed input; the scatter ops' own gradients
are the forward indexing ops again, so higher orders work.
"""
import numpy as np

from ..dispatch import apply
from ..errors import ShapeError
from ..registry import Op, register
from ..source import site_of, user_site
from ..types import broadcast_shapes, fmt_shape, normalize_axis
from .sources import CONSTANT


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
                if item.dtype == np.bool_:
                    # A known mask is the integer arrays of its True places; each keeps the mask's
                    # size along its axis, which must equal the indexed axis (NumPy checks that).
                    for size, coords in zip(item.shape, np.nonzero(item)):
                        spec.append(("array", len(arrays), size))
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


def _mask_size(entry):
    """The length of the boolean mask axis an entry came from, or None for other entries."""
    return entry[2] if entry[0] == "array" and len(entry) == 3 else None


def check_mask_sizes(shape, spec):
    """A boolean mask must be as long as each axis it indexes; sizes not known yet are skipped."""
    if all(_mask_size(e) is None for e in spec):
        return
    dim = 0
    for e in _expand_ellipsis(spec, len(shape)):
        if e[0] == "new":
            continue
        size = _mask_size(e)
        if size is not None and shape[dim] is not None and shape[dim] != size:
            raise IndexError(
                f"boolean index did not match indexed array along axis {dim}; size of axis is "
                f"{shape[dim]} but size of corresponding boolean axis is {size}"
            )
        dim += 1


def index_shape(shape, spec, array_shapes):
    """Output shape of x[key] by NumPy's rules, with None for sizes known only at run time."""
    check_mask_sizes(shape, spec)
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
    returns_view = True

    def is_nondiff_input(self, index):
        return index >= 1

    def infer(self, inputs, attrs):
        x, arrays = inputs[0], inputs[1:]
        return index_shape(x.shape, attrs["spec"], [a.shape for a in arrays]), x.dtype

    def impl(self, x, *arrays, spec):
        check_mask_sizes(np.shape(x), spec)  # a None dimension is only known now
        return np.asarray(x[build_key(spec, arrays)])

    def vjp(self, g, out, x, *arrays, spec):
        with site_of(out):
            return (getitem_grad(g, x, arrays, spec),) + (None,) * len(arrays)


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

    def check(self, shape, rest, attrs):
        """Raise as the read would for places it rejects: np.add.at alone wraps negative indices,
        and a gradient-only step may run this op without the read."""
        raise NotImplementedError

    def impl(self, g, x, *rest, **attrs):
        self.check(np.shape(x), rest, attrs)
        out = np.zeros(np.shape(x), g.dtype)
        np.add.at(out, self.key(rest, attrs), g)
        return out

    def vjp(self, gg, out, g, x, *rest, **attrs):
        with site_of(out):
            return (self.read(gg, rest, attrs), None) + (None,) * len(rest)


@register
class GETITEM_GRAD(ScatterAdd):
    """zeros like x with g added at x[key]."""

    name = "getitem_grad"

    def key(self, arrays, attrs):
        return build_key(attrs["spec"], arrays)

    def check(self, shape, arrays, attrs):
        check_mask_sizes(shape, attrs["spec"])  # integer arrays: np.add.at checks them as x[key] would

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


def check_index_range(index, size, dim, op):
    """PyTorch's rule for index_select, gather and their scatters: 0 <= index < size. NumPy would
    wrap a negative index around instead."""
    if np.size(index) == 0:
        return
    low, high = np.min(index), np.max(index)
    if low < 0 or high >= size:
        raise IndexError(
            f"{op}: index {low if low < 0 else high} is out of bounds for dimension {dim} with size "
            f"{size}; indices must lie in [0, {size}) (no negative indices, as in PyTorch)"
        )


def _check_known_index(index, size, dim, op):
    """An index given as a constant is checked when the node is built, if the size is known
    (eager arrays are checked by the computation itself)."""
    if getattr(index, "op", None) is CONSTANT and size is not None:
        check_index_range(index.attrs["value"], size, dim, op)


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
        _check_known_index(index, x.shape[attrs["dim"]], attrs["dim"], self.name)
        shape = list(x.shape)
        shape[attrs["dim"]] = index.shape[0]
        return tuple(shape), x.dtype

    def impl(self, x, index, *, dim):
        check_index_range(index, np.shape(x)[dim], dim, self.name)
        return np.take(x, index, axis=dim)

    def vjp(self, g, out, x, index, *, dim):
        with site_of(out):
            return (index_add(g, x, index, dim), None)


def index_select(x, dim, index):
    return apply(INDEX_SELECT, x, as_index_array(index), dim=dim)


@register
class INDEX_ADD(ScatterAdd):
    """zeros like x, with the slices of g added at positions `index` along `dim`."""

    name = "index_add"

    def key(self, rest, attrs):
        return (slice(None),) * attrs["dim"] + (rest[0],)

    def check(self, shape, rest, attrs):
        check_index_range(rest[0], shape[attrs["dim"]], attrs["dim"], self.name)

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
        _check_known_index(index, x.shape[attrs["dim"]], attrs["dim"], self.name)
        return index.shape, x.dtype

    def impl(self, x, index, *, dim):
        check_index_range(index, np.shape(x)[dim], dim, self.name)
        return x[_gather_key(index, dim)]

    def vjp(self, g, out, x, index, *, dim):
        with site_of(out):
            return (scatter_add(g, x, index, dim), None)


def gather(x, dim, index):
    return apply(GATHER, x, as_index_array(index), dim=dim)


@register
class SCATTER_ADD(ScatterAdd):
    """zeros like x, with g added at the places gather(x, dim, index) reads."""

    name = "scatter_add"

    def key(self, rest, attrs):
        return _gather_key(rest[0], attrs["dim"])

    def check(self, shape, rest, attrs):
        check_index_range(rest[0], shape[attrs["dim"]], attrs["dim"], self.name)

    def read(self, gg, rest, attrs):
        return gather(gg, attrs["dim"], rest[0])


def scatter_add(g, x, index, dim):
    return apply(SCATTER_ADD, g, x, index, dim=dim)
