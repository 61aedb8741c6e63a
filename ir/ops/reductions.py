"""Reductions over axes (None = all), plus the two run-time-shape helpers that undo broadcasting."""
import math

import numpy as np

from ..dispatch import apply
from ..errors import ShapeError
from ..registry import Op, register
from ..types import float_dtype_for, fmt_shape, normalize_axis, reduced_shape, reduction_dtype
from . import elementwise as ew
from . import shape as shp


def _restore_axes(g, axes, keepdims):
    """Put the reduced axes back (as size 1) so g broadcasts against the input."""
    return g if keepdims or not axes else shp.expand_dims(g, axes)


class Reduction(Op):
    reducer = None  # np.sum, np.mean, ...
    # What a loop needs to compute the reduction in pieces (fused kernels, threads that each fold
    # part of the rows): `combine` (Op) folds two partial results, `identity` is the value a
    # partial result starts from, and `divides_by_count` says the folded total is then divided
    # by the count of folded elements. logsumexp has no combine: it is not folded elementwise.
    divides_by_count = False

    def identity(self, dtype):
        """The starting value of a partial result of this reduction in `dtype`."""
        raise NotImplementedError(f"{self.name} has no identity")

    def normalize(self, inputs, attrs):
        axes = normalize_axis(attrs.get("axis"), inputs[0].ndim, self.name)
        return {"axis": axes, "keepdims": bool(attrs.get("keepdims", False))}

    def infer(self, inputs, attrs):
        x = inputs[0]
        return reduced_shape(x.shape, attrs["axis"], attrs["keepdims"]), reduction_dtype(self.reducer, x.dtype)

    def impl(self, x, *, axis, keepdims):
        return np.asarray(self.reducer(x, axis=axis, keepdims=keepdims))

    def dim_links(self, node):
        axes, keep = node.attrs["axis"], node.attrs["keepdims"]
        kept = [None if d in axes else (0, d) for d in range(node.inputs[0].ndim) if keep or d not in axes]
        return kept, ()


def _reduction_fn(op):
    def reduce(x, axis=None, keepdims=False):
        return apply(op, x, axis=axis, keepdims=keepdims)

    reduce.__name__ = op.name
    return reduce


@register
class SUM(Reduction):
    name, reducer, linear = "sum", staticmethod(np.sum), True
    combine = ew.ADD

    def identity(self, dtype):
        return 0

    def vjp(self, g, out, x, *, axis, keepdims):
        return (shp.broadcast_like(_restore_axes(g, axis, keepdims), x),)


@register
class MEAN(Reduction):
    name, reducer, linear = "mean", staticmethod(np.mean), True
    combine, divides_by_count = ew.ADD, True

    def identity(self, dtype):
        return 0

    def vjp(self, g, out, x, *, axis, keepdims):
        spread = shp.broadcast_like(_restore_axes(g, axis, keepdims), x)
        return (ew.div(spread, axis_size(x, axis, g.dtype)),)


class _Weighted(Reduction):
    """A reduction whose derivative is a weighted sum, d out = sum(weights * dx) over the axes:
    the weights (shaped like x) give the VJP (g spread back over the axes, times the weights)
    and the JVP (the weighted sum of the tangent)."""

    def weights(self, out, x, axis, keepdims, dtype):
        raise NotImplementedError

    def vjp(self, g, out, x, *, axis, keepdims):
        return (ew.mul(_restore_axes(g, axis, keepdims), self.weights(out, x, axis, keepdims, g.dtype)),)

    def jvp(self, tangents, out, x, *, axis, keepdims):
        (t,) = tangents
        return sum(ew.mul(t, self.weights(out, x, axis, keepdims, t.dtype)), axis, keepdims)


class _Extreme(_Weighted):
    """max/min: the gradient is shared evenly among the tied extreme elements."""

    def weights(self, out, x, axis, keepdims, dtype):
        # The tie mask is piecewise constant: its derivative is zero, not an error. Without the
        # stop_gradient, grad-of-grad would find x reaching it only through `equal` and raise.
        hit = ew.stop_gradient(ew.astype(ew.equal(x, _restore_axes(out, axis, keepdims)), dtype))
        return ew.div(hit, sum(hit, axis, True))


@register
class MAX(_Extreme):
    name, reducer, backward_name = "max", staticmethod(np.max), "Amax"
    combine = ew.MAXIMUM

    def identity(self, dtype):
        return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


@register
class MIN(_Extreme):
    name, reducer, backward_name = "min", staticmethod(np.min), "Amin"
    combine = ew.MINIMUM

    def identity(self, dtype):
        return np.inf if dtype.kind == "f" else np.iinfo(dtype).max


@register
class LOGSUMEXP(_Weighted):
    name = "logsumexp"

    def infer(self, inputs, attrs):
        x = inputs[0]
        return reduced_shape(x.shape, attrs["axis"], attrs["keepdims"]), float_dtype_for(x.dtype)

    def impl(self, x, *, axis, keepdims):
        x = np.asarray(x, dtype=float_dtype_for(x.dtype))
        if x.size == 0:
            return np.asarray(np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims)))
        peak = np.max(x, axis=axis, keepdims=True)
        # An all -inf (or +inf) slice has no finite shift; shifting by 0 keeps -inf (inf) exact.
        peak = np.where(np.isfinite(peak), peak, 0)
        with np.errstate(divide="ignore"):
            total = np.log(np.sum(np.exp(x - peak), axis=axis, keepdims=True)) + peak
        return np.asarray(total if keepdims else np.squeeze(total, axis=axis))

    def weights(self, out, x, axis, keepdims, dtype):
        return ew.exp(ew.sub(x, _restore_axes(out, axis, keepdims)))  # softmax along the axes


@register
class ARGMAX(Op):
    name, differentiable = "argmax", False

    def normalize(self, inputs, attrs):
        axis = attrs.get("axis")
        if axis is not None:
            if not isinstance(axis, (int, np.integer)):
                raise TypeError(f"argmax: axis must be None or an int, got {axis!r}")
            (axis,) = normalize_axis(axis, inputs[0].ndim, self.name)
        return {"axis": axis, "keepdims": bool(attrs.get("keepdims", False))}

    def infer(self, inputs, attrs):
        x = inputs[0]
        axes = tuple(range(x.ndim)) if attrs["axis"] is None else (attrs["axis"],)
        return reduced_shape(x.shape, axes, attrs["keepdims"]), np.dtype(np.int64)

    def impl(self, x, *, axis, keepdims):
        return np.asarray(np.argmax(x, axis=axis, keepdims=keepdims), dtype=np.int64)


def _wide_float(x):
    """float16/float32 data as float64: prod and var accumulate in float64 and round once, as
    the compiled sums do (NumPy's own float32 loops accumulate in float32)."""
    return x.astype(np.float64) if x.dtype.kind == "f" and x.dtype.itemsize < 8 else x


@register
class PROD(Reduction):
    """The product over the axes. Its derivative wrt each element is the product of the others,
    computed from exclusive products (no division), so it is exact with one zero or several,
    as PyTorch's is. A NumPy step on the numba backend: a fused fold would multiply float32 in
    float32, where this accumulates in float64 like the compiled sums."""

    name, reducer = "prod", staticmethod(np.prod)

    def impl(self, x, *, axis, keepdims):
        out = np.prod(_wide_float(np.asarray(x)), axis=axis, keepdims=keepdims)
        return np.asarray(out, dtype=reduction_dtype(np.prod, np.asarray(x).dtype))

    def vjp(self, g, out, x, *, axis, keepdims):
        return (ew.mul(_restore_axes(g, axis, keepdims), _product_of_others(x, axis)),)

    def jvp(self, tangents, out, x, *, axis, keepdims):
        (t,) = tangents
        return sum(ew.mul(t, _product_of_others(x, axis)), axis, keepdims)


def _product_of_others(x, axes):
    """For each element, the product of the other elements of its slice over `axes`.

    Over several axes: the others of (i, j) are row i's others along j, times the products of
    the other rows (j folded first). Along one axis: the product of the elements before times
    the product of those after (exclusive cumulative products), which never divides by zero."""
    from . import scans

    if not axes:
        return ew.add(shp.zeros_like(x), 1)
    *rest, last = axes
    along = ew.mul(scans.exclusive_cumprod(x, last, reverse=False), scans.exclusive_cumprod(x, last, reverse=True))
    if not rest:
        return along
    return ew.mul(along, _product_of_others(prod(x, last, True), tuple(rest)))


class _Spread(Reduction):
    """var and std, with NumPy's `ddof` (the divisor is n - ddof). NumPy steps; float16/float32
    accumulate in float64."""

    def normalize(self, inputs, attrs):
        ddof = attrs.get("ddof", 0)
        if isinstance(ddof, (bool, np.bool_)) or not isinstance(ddof, (int, np.integer, float, np.floating)):
            raise TypeError(f"{self.name}: ddof must be a number, got {ddof!r}")
        # a Python number: weak next to float32 data, as NumPy's own ddof is
        ddof = int(ddof) if float(ddof).is_integer() else float(ddof)
        return {**super().normalize(inputs, attrs), "ddof": ddof}

    def infer(self, inputs, attrs):
        if inputs[0].dtype.kind not in "biuf":
            raise TypeError(f"{self.name}: expected a real numeric array, got dtype {inputs[0].dtype}")
        return super().infer(inputs, attrs)

    def variance(self, x, *, axis, keepdims, ddof):
        x = np.asarray(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.var(_wide_float(x), axis=axis, keepdims=keepdims, ddof=ddof)
        return np.asarray(out, dtype=reduction_dtype(np.var, x.dtype))


@register
class VAR(_Spread):
    """The variance; its derivative weights are 2 (x - mean) / (n - ddof)."""

    name, reducer = "var", staticmethod(np.var)

    def impl(self, x, *, axis, keepdims, ddof):
        return self.variance(x, axis=axis, keepdims=keepdims, ddof=ddof)

    @staticmethod
    def _weights(x, axis, ddof, dtype):
        centered = ew.sub(x, mean(x, axis, True))
        return ew.div(ew.mul(centered, 2), ew.sub(axis_size(x, axis, dtype), ddof))

    def vjp(self, g, out, x, *, axis, keepdims, ddof):
        return (ew.mul(_restore_axes(g, axis, keepdims), self._weights(x, axis, ddof, g.dtype)),)

    def jvp(self, tangents, out, x, *, axis, keepdims, ddof):
        (t,) = tangents
        return sum(ew.mul(t, self._weights(x, axis, ddof, t.dtype)), axis, keepdims)


@register
class STD(_Spread):
    """sqrt(var), NumPy's std. Its derivative weights are (x - mean) / ((n - ddof) std), and 0
    where std is 0 (a constant slice), as PyTorch gives, rather than the square root's 0/0."""

    name, reducer = "std", staticmethod(np.std)

    def impl(self, x, *, axis, keepdims, ddof):
        return np.sqrt(self.variance(x, axis=axis, keepdims=keepdims, ddof=ddof))

    def _std_weights(self, out, x, axis, keepdims, ddof, dtype):
        spread = _restore_axes(out, axis, keepdims)
        flat = ew.equal(ew.stop_gradient(spread), 0)
        centered = ew.sub(x, mean(x, axis, True))
        divisor = ew.mul(ew.sub(axis_size(x, axis, dtype), ddof), ew.where(flat, 1, spread))
        return ew.where(flat, 0, ew.div(centered, divisor))

    def vjp(self, g, out, x, *, axis, keepdims, ddof):
        return (ew.mul(_restore_axes(g, axis, keepdims), self._std_weights(out, x, axis, keepdims, ddof, g.dtype)),)

    def jvp(self, tangents, out, x, *, axis, keepdims, ddof):
        (t,) = tangents
        return sum(ew.mul(t, self._std_weights(out, x, axis, keepdims, ddof, t.dtype)), axis, keepdims)


class _Logical(Reduction):
    """any/all: a bool result, no derivative. NumPy steps (a fused kernel reduces numbers only)."""

    differentiable = False

    def infer(self, inputs, attrs):
        return reduced_shape(inputs[0].shape, attrs["axis"], attrs["keepdims"]), np.dtype(np.bool_)


@register
class ANY(_Logical):
    name, reducer = "any", staticmethod(np.any)


@register
class ALL(_Logical):
    name, reducer = "all", staticmethod(np.all)


sum = _reduction_fn(SUM)
mean = _reduction_fn(MEAN)
max = _reduction_fn(MAX)
min = _reduction_fn(MIN)
logsumexp = _reduction_fn(LOGSUMEXP)
argmax = _reduction_fn(ARGMAX)
prod = _reduction_fn(PROD)
any = _reduction_fn(ANY)
all = _reduction_fn(ALL)


def var(x, axis=None, keepdims=False, ddof=0):
    return apply(VAR, x, axis=axis, keepdims=keepdims, ddof=ddof)


def std(x, axis=None, keepdims=False, ddof=0):
    return apply(STD, x, axis=axis, keepdims=keepdims, ddof=ddof)


# ---- run-time shape helpers used by gradient rules --------------------------------------------
def unbroadcast_array(g, shape):
    """Sum g down to `shape` (NumPy broadcasting undone)."""
    g = np.asarray(g)
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    if lead < 0:
        raise ShapeError(f"sum_like: cannot reduce shape {fmt_shape(g.shape)} to {fmt_shape(shape)}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1
    )
    summed = np.sum(g, axis=axes, keepdims=True) if axes else g
    return summed.reshape(shape)


@register
class SUM_LIKE(Op):
    """Sum g down to the run-time shape of `ref` (the gradient of broadcasting)."""

    name, linear, backward_name = "sum_like", True, "SumToSize"
    nondiff_inputs = shape_inputs = (1,)

    def infer(self, inputs, attrs):
        g, ref = inputs
        if g.ndim < ref.ndim:
            raise ShapeError(f"sum_like: {fmt_shape(g.shape)} has fewer dims than {fmt_shape(ref.shape)}")
        return ref.shape, g.dtype

    def impl(self, g, ref):
        return unbroadcast_array(g, ref.shape)

    def vjp(self, gg, out, g, ref):
        return (shp.broadcast_like(gg, g), None)


def sum_like(g, ref):
    return apply(SUM_LIKE, g, ref)


@register
class AXIS_SIZE(Op):
    """The number of elements along `axis` of x at run time, as a 0-d array of `dtype`."""

    name = "axis_size"
    nondiff_inputs = shape_inputs = (0,)

    def normalize(self, inputs, attrs):
        return {"axis": tuple(attrs["axis"]), "dtype": np.dtype(attrs["dtype"])}

    def infer(self, inputs, attrs):
        return (), attrs["dtype"]

    def impl(self, x, *, axis, dtype):
        return np.asarray(math.prod(x.shape[a] for a in axis), dtype=dtype)


def axis_size(x, axis, dtype):
    return apply(AXIS_SIZE, x, axis=axis, dtype=dtype)
