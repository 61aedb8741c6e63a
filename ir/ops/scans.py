"""Scans and orderings along one axis: cumsum, cumprod, argsort and the indices of topk.

`sort` and `topk`'s values are `gather(x, axis, indices)`, so their gradients scatter back through
the indices (gather's own rule) and no ordering op needs a derivative. NumPy steps on the numba
backend.
"""
import numpy as np

from ..dispatch import apply
from ..errors import ShapeError
from ..registry import Op, register
from ..types import fmt_shape, normalize_axis, reduction_dtype
from . import elementwise as ew
from . import indexing
from . import shape as shp


class _AlongAxis(Op):
    """An op along one axis whose output has the input's shape (or, for topk, its k places)."""

    def normalize(self, inputs, attrs):
        axis = attrs.get("axis", -1)
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, (bool, np.bool_)):
            raise TypeError(f"{self.name}: axis must be an int, got {axis!r}")
        (axis,) = normalize_axis(axis, inputs[0].ndim, self.name)
        return {**attrs, "axis": axis}

    def dim_links(self, node):
        return [(0, d) for d in range(node.ndim)], ()


class _Scan(_AlongAxis):
    """A running reduction along `axis`, from the end when `reverse` (the transpose of a scan is
    the scan the other way)."""

    func = None  # np.cumsum, np.cumprod

    def normalize(self, inputs, attrs):
        return {**super().normalize(inputs, attrs), "reverse": bool(attrs.get("reverse", False))}

    def infer(self, inputs, attrs):
        x = inputs[0]
        if x.ndim == 0:
            raise ShapeError(f"{self.name}: expected an array of rank >= 1, got shape {fmt_shape(x.shape)}")
        return x.shape, reduction_dtype(self.func, x.dtype)

    def impl(self, x, *, axis, reverse):
        if reverse:
            return np.flip(self.func(np.flip(x, axis), axis=axis), axis)
        return self.func(x, axis=axis)


@register
class CUMSUM(_Scan):
    name, func, linear = "cumsum", staticmethod(np.cumsum), True

    def vjp(self, g, out, x, *, axis, reverse):
        return (_scan(CUMSUM, g, axis, not reverse),)


@register
class CUMPROD(_Scan):
    """Running products. Derivatives are exact with zeros, as PyTorch's. Along a slice (in scan
    order) with its first zero at z, d out_k / d x_i is out_k / x_i before z; at z it is the
    running product that skips x_z; after z it is x_z (= 0) times the derivative of the running
    products of x with x_z replaced by 1, which is what the next order differentiates. That inner
    derivative is built `EXACT_ORDERS - 1` levels deep (zero beyond): exact to second order at
    any zeros; a third derivative at two or more zeros in a slice misses terms."""

    name, func = "cumprod", staticmethod(np.cumprod)
    EXACT_ORDERS = 2

    def _masks(self, x, axis, reverse):
        zero = ew.astype(ew.equal(ew.stop_gradient(x), 0), np.int64)
        seen = _scan(CUMSUM, zero, axis, reverse)  # zeros up to and including each place
        return ew.equal(seen, 0), ew.equal(ew.mul(zero, seen), 1)  # before the first zero, at it

    def _first_zero_along(self, x, first, axis, reverse):
        """x at the slice's first zero (its value 0, its derivative 1), from there on."""
        return _scan(CUMSUM, ew.where(first, x, 0), axis, reverse)

    def _vjp(self, g, out, x, axis, reverse, levels):
        before, first = self._masks(x, axis, reverse)
        until_zero = ew.div(_scan(CUMSUM, ew.mul(g, out), axis, not reverse), ew.where(before, x, 1))
        skipped = ew.where(first, 1, x)
        skipping_zero = _scan(CUMPROD, skipped, axis, reverse)
        at_zero = _scan(CUMSUM, ew.mul(g, skipping_zero), axis, not reverse)
        after = 0
        if levels > 1:
            inner = self._vjp(g, skipping_zero, skipped, axis, reverse, levels - 1)
            after = ew.mul(self._first_zero_along(x, first, axis, reverse), inner)
        return ew.where(before, until_zero, ew.where(first, at_zero, after))

    def _jvp(self, t, out, x, axis, reverse, levels):
        before, first = self._masks(x, axis, reverse)
        until_zero = ew.mul(out, _scan(CUMSUM, ew.where(before, ew.div(t, ew.where(before, x, 1)), 0), axis, reverse))
        skipped = ew.where(first, 1, x)
        skipping_zero = _scan(CUMPROD, skipped, axis, reverse)
        from_zero = ew.mul(skipping_zero, _scan(CUMSUM, ew.where(first, t, 0), axis, reverse))
        if levels > 1:
            inner = self._jvp(ew.where(first, 0, t), skipping_zero, skipped, axis, reverse, levels - 1)
            from_zero = ew.add(from_zero, ew.mul(self._first_zero_along(x, first, axis, reverse), inner))
        return ew.where(before, until_zero, from_zero)

    def vjp(self, g, out, x, *, axis, reverse):
        return (self._vjp(g, out, x, axis, reverse, self.EXACT_ORDERS),)

    def jvp(self, tangents, out, x, *, axis, reverse):
        return self._jvp(tangents[0], out, x, axis, reverse, self.EXACT_ORDERS)


def _scan(op, x, axis, reverse=False):
    return apply(op, x, axis=axis, reverse=reverse)


def _flat_or_along(x, axis):
    """NumPy's axis=None for scans: the flattened array."""
    return (shp.reshape(x, (-1,)), 0) if axis is None else (x, axis)


def cumsum(x, axis=None):
    return _scan(CUMSUM, *_flat_or_along(x, axis))


def cumprod(x, axis=None):
    return _scan(CUMPROD, *_flat_or_along(x, axis))


def exclusive_cumprod(x, axis, reverse):
    """The product of the elements before each one along `axis` (after it, if `reverse`): the
    running product of x shifted by one place, with 1 first. No division, so zeros are exact."""
    from .arrays import pad

    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, 1) if reverse else (1, 0)
    keep = [slice(None)] * x.ndim
    keep[axis] = slice(1, None) if reverse else slice(None, -1)
    shifted = indexing.getitem(pad(x, widths, value=1), tuple(keep))
    return _scan(CUMPROD, shifted, axis, reverse)


def _descending_argsort(x, axis):
    """Stable descending order with nan first (largest, as in PyTorch): the stable ascending
    order of x reversed along the axis, read backwards, keeps equal values in their order."""
    n = np.shape(x)[axis]
    order = np.flip(np.argsort(np.flip(x, axis), axis=axis, kind="stable"), axis)
    return (n - 1 - order).astype(np.int64)


def _argsort(x, axis, descending):
    if descending:
        return _descending_argsort(x, axis)
    return np.argsort(x, axis=axis, kind="stable").astype(np.int64)


@register
class ARGSORT(_AlongAxis):
    """The places that sort x along `axis` (stable; nan last ascending, first descending)."""

    name, differentiable = "argsort", False

    def normalize(self, inputs, attrs):
        return {**super().normalize(inputs, attrs), "descending": bool(attrs.get("descending", False))}

    def infer(self, inputs, attrs):
        return inputs[0].shape, np.dtype(np.int64)

    def impl(self, x, *, axis, descending):
        return _argsort(np.asarray(x), axis, descending)


@register
class TOPK_INDICES(_AlongAxis):
    """The places of the k largest values along `axis`, largest first (nan counts as largest)."""

    name, differentiable = "topk_indices", False

    def normalize(self, inputs, attrs):
        k = attrs["k"]
        if not isinstance(k, (int, np.integer)) or isinstance(k, (bool, np.bool_)) or k < 0:
            raise TypeError(f"topk: k must be a non-negative int, got {k!r}")
        return {**super().normalize(inputs, attrs), "k": int(k)}

    def infer(self, inputs, attrs):
        x, axis, k = inputs[0], attrs["axis"], attrs["k"]
        _check_k(k, x.shape[axis], x.shape, axis)
        shape = list(x.shape)
        shape[axis] = k
        return tuple(shape), np.dtype(np.int64)

    def impl(self, x, *, k, axis):
        _check_k(k, np.shape(x)[axis], np.shape(x), axis)
        order = _descending_argsort(np.asarray(x), axis)
        return np.ascontiguousarray(order[(slice(None),) * axis + (slice(0, k),)])

    def dim_links(self, node):
        axis = node.attrs["axis"]
        return [None if d == axis else (0, d) for d in range(node.ndim)], ()


def _check_k(k, size, shape, axis):
    if size is not None and k > size:
        raise ShapeError(f"topk: k={k} is larger than axis {axis} of shape {fmt_shape(shape)} (size {size})")


def argsort(x, axis=-1, descending=False):
    return apply(ARGSORT, x, axis=axis, descending=descending)


def sort(x, axis=-1, descending=False):
    """The values of x sorted along `axis` (NumPy's order: nan last)."""
    return indexing.gather(x, axis, argsort(x, axis, descending))


def topk(x, k, axis=-1):
    """(values, indices) of the k largest entries along `axis`, largest first, like torch.topk."""
    indices = apply(TOPK_INDICES, x, k=k, axis=axis)
    return indexing.gather(x, axis, indices), indices
