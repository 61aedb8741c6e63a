"""Array rearrangements with NumPy/PyTorch meanings: pad, tril, triu, flip, roll, and PyTorch's
scatter_add and one_hot built on the indexing and nn helpers. All are linear in the array (pad's
constant aside), so each gradient is the matching rearrangement of g."""
import numpy as np

from ..dispatch import apply
from ..errors import ShapeError
from ..registry import Op, register
from ..types import fmt_shape, normalize_axis
from . import elementwise as ew
from . import indexing, nn

PAD_MODES = ("constant", "reflect", "edge")


def _pad_pairs(pad_width, rank):
    """NumPy's pad_width (an int, one (before, after) pair, or a pair per axis) as rank pairs."""
    try:
        widths = np.asarray(pad_width)
        if widths.dtype.kind not in "iu" and widths.size:
            raise TypeError
        pairs = np.broadcast_to(widths.astype(np.int64), (rank, 2))
    except (TypeError, ValueError):
        raise ValueError(
            f"pad: pad_width must be an int, a (before, after) pair of ints or one such pair per axis "
            f"({rank} axes), got {pad_width!r}"
        ) from None
    if (pairs < 0).any():
        raise ValueError(f"pad: pad_width must not be negative, got {pad_width!r}")
    return tuple((int(b), int(a)) for b, a in pairs)


@register
class PAD(Op):
    """x with `value` added around it: pad_width[d] = (before, after) places along axis d."""

    name, backward_name = "pad", "ConstantPadNd"

    def normalize(self, inputs, attrs):
        x, value = inputs[0], attrs.get("value", 0)
        if not isinstance(value, (int, float, bool, np.number, np.bool_)):
            raise TypeError(f"pad: value must be a number, got {value!r}")
        with np.errstate(invalid="ignore", over="ignore"):
            cast = np.asarray(value).astype(x.dtype)
        if not (cast == value or (np.isnan(value) and np.isnan(cast))):
            raise TypeError(f"pad: value {value!r} cannot be represented in the array's dtype {x.dtype}")
        return {"pad_width": _pad_pairs(attrs["pad_width"], x.ndim), "value": cast[()].item()}

    def infer(self, inputs, attrs):
        x = inputs[0]
        shape = tuple(None if d is None else d + b + a for d, (b, a) in zip(x.shape, attrs["pad_width"]))
        return shape, x.dtype

    def impl(self, x, *, pad_width, value):
        if not pad_width:  # a 0-d array has no axis to pad (and np.pad rejects an empty pad_width)
            return np.array(x)
        return np.pad(x, pad_width, mode="constant", constant_values=value)

    def vjp(self, g, out, x, *, pad_width, value):
        inner = tuple(slice(b, -a if a else None) for b, a in pad_width)
        return (indexing.getitem(g, inner),)

    def jvp(self, tangents, out, x, *, pad_width, value):
        return apply(PAD, tangents[0], pad_width=pad_width, value=0)

    def dim_links(self, node):
        return [(0, d) if w == (0, 0) else None for d, w in enumerate(node.attrs["pad_width"])], ()


def pad(x, pad_width, mode="constant", value=0):
    """np.pad's meaning. "reflect" and "edge" read x at NumPy's padded places (index_select per
    padded axis, whose gradient adds back), so they need the padded axes' sizes when built."""
    if mode == "constant":
        return apply(PAD, x, pad_width=pad_width, value=value)
    if mode not in PAD_MODES:
        raise ValueError(f"pad: mode {mode!r} is not supported; supported modes are {', '.join(PAD_MODES)}")
    for axis, (before, after) in enumerate(_pad_pairs(pad_width, x.ndim)):
        if not before and not after:
            continue
        size = x.shape[axis]
        if size is None:
            raise ShapeError(f"pad: mode {mode!r} needs the size of axis {axis}, unknown in {fmt_shape(x.shape)}")
        if size == 0:
            raise ValueError(f"pad: cannot pad the empty axis {axis} of {fmt_shape(x.shape)} in mode {mode!r}")
        places = np.pad(np.arange(size, dtype=np.int64), (before, after), mode=mode)
        x = indexing.index_select(x, axis, places)
    return x


class _Triangle(Op):
    """The lower (tril) or upper (triu) triangle of the last two axes, from diagonal k on."""

    linear = True
    func = None

    def normalize(self, inputs, attrs):
        k = attrs.get("k", 0)
        if not isinstance(k, (int, np.integer)) or isinstance(k, (bool, np.bool_)):
            raise TypeError(f"{self.name}: k must be an int, got {k!r}")
        return {"k": int(k)}

    def infer(self, inputs, attrs):
        x = inputs[0]
        if x.ndim < 2:
            raise ShapeError(f"{self.name}: expected an array of rank >= 2, got shape {fmt_shape(x.shape)}")
        return x.shape, x.dtype

    def impl(self, x, *, k):
        return self.func(x, k)

    def vjp(self, g, out, x, *, k):
        return (apply(self, g, k=k),)

    def dim_links(self, node):
        return [(0, d) for d in range(node.ndim)], ()


@register
class TRIL(_Triangle):
    name, func = "tril", staticmethod(np.tril)


@register
class TRIU(_Triangle):
    name, func = "triu", staticmethod(np.triu)


def tril(x, k=0):
    return apply(TRIL, x, k=k)


def triu(x, k=0):
    return apply(TRIU, x, k=k)


@register
class FLIP(Op):
    """x reversed along `axis` (a copy, as torch.flip makes)."""

    name, linear = "flip", True

    def normalize(self, inputs, attrs):
        return {"axis": normalize_axis(attrs.get("axis"), inputs[0].ndim, self.name)}

    def infer(self, inputs, attrs):
        return inputs[0].shape, inputs[0].dtype

    def impl(self, x, *, axis):
        return np.array(np.flip(x, axis))

    def vjp(self, g, out, x, *, axis):
        return (flip(g, axis),)

    def dim_links(self, node):
        return [(0, d) for d in range(node.ndim)], ()


def flip(x, axis=None):
    return apply(FLIP, x, axis=axis)


def _ints(value, what):
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if not items or any(not isinstance(v, (int, np.integer)) or isinstance(v, (bool, np.bool_)) for v in items):
        raise TypeError(f"roll: {what} must be an int or a tuple of ints, got {value!r}")
    return tuple(int(v) for v in items)


@register
class ROLL(Op):
    """np.roll: elements shifted along axes, wrapping around (axis None: the flattened array)."""

    name, linear = "roll", True

    def normalize(self, inputs, attrs):
        shift, axis = _ints(attrs["shift"], "shift"), attrs.get("axis")
        if axis is None:
            if len(shift) != 1:
                raise ValueError(f"roll: with axis=None, shift must be one int, got {attrs['shift']!r}")
            return {"shift": shift[0], "axis": None}
        axes = tuple(normalize_axis(a, inputs[0].ndim, self.name)[0] for a in _ints(axis, "axis"))
        if len(shift) == 1:
            shift = shift * len(axes)
        if len(shift) != len(axes):
            raise ValueError(f"roll: {len(shift)} shifts for {len(axes)} axes ({attrs['shift']!r}, {axis!r})")
        return {"shift": shift, "axis": axes}

    def infer(self, inputs, attrs):
        return inputs[0].shape, inputs[0].dtype

    def impl(self, x, *, shift, axis):
        return np.roll(x, shift, axis)

    def vjp(self, g, out, x, *, shift, axis):
        back = -shift if axis is None else tuple(-s for s in shift)
        return (apply(ROLL, g, shift=back, axis=axis),)

    def dim_links(self, node):
        return [(0, d) for d in range(node.ndim)], ()


def roll(x, shift, axis=None):
    return apply(ROLL, x, shift=shift, axis=axis)


def scatter_add(x, dim, index, src):
    """PyTorch's scatter_add: x with src[i][j] added at x[index[i][j]][j] (for dim 0); repeated
    places accumulate. index has x's rank and is no larger than src anywhere, nor than x off
    `dim`; src's entries beyond index's shape are not read."""
    index = indexing.as_index_array(index)
    index = index if hasattr(index, "dtype") else np.asarray(index)
    if np.dtype(index.dtype).kind not in "iu":
        raise TypeError(f"scatter_add: index must hold integers, got dtype {index.dtype}")
    if not (x.ndim == np.ndim(index) == np.ndim(src)):
        raise ShapeError(
            f"scatter_add: x, index and src need the same rank; got {fmt_shape(x.shape)}, "
            f"{fmt_shape(np.shape(index))} and {fmt_shape(np.shape(src))}"
        )
    if np.dtype(src.dtype) != np.dtype(x.dtype):
        raise TypeError(f"scatter_add: src must have x's dtype {x.dtype}, got {src.dtype} (as in PyTorch)")
    (dim,) = normalize_axis(dim, x.ndim, "scatter_add")
    places = tuple(np.shape(index))
    for d, (n, m, s) in enumerate(zip(x.shape, places, np.shape(src))):
        if m is not None and ((s is not None and m > s) or (d != dim and n is not None and m > n)):
            raise ShapeError(
                f"scatter_add: index shape {fmt_shape(places)} exceeds src {fmt_shape(np.shape(src))} or, off "
                f"dim {dim}, x {fmt_shape(x.shape)} at axis {d}"
            )
        if m != s and (m is None or s is None):
            raise ShapeError(
                f"scatter_add: index {fmt_shape(places)} and src {fmt_shape(np.shape(src))} must have equal "
                f"sizes where one is known only at run time (axis {d})"
            )
    if places != tuple(np.shape(src)):
        src = indexing.getitem(src, tuple(slice(0, m) for m in places))
    return ew.add(x, indexing.scatter_add(src, x, index, dim))


def one_hot(labels, num_classes):
    """torch.nn.functional.one_hot: labels (ints in [0, num_classes)) -> int64 rows of 0 and 1,
    with a new last axis of num_classes."""
    if isinstance(num_classes, (bool, np.bool_)) or not isinstance(num_classes, (int, np.integer)) or num_classes < 0:
        raise TypeError(f"one_hot: num_classes must be a non-negative int, got {num_classes!r}")
    labels = labels if hasattr(labels, "dtype") else np.asarray(labels)
    if np.dtype(labels.dtype).kind not in "iu":
        raise TypeError(f"one_hot: labels must be integer class indices, got dtype {labels.dtype}")
    return nn.one_hot_like(labels, np.zeros((int(num_classes),), np.int64))
