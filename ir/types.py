"""Shapes (tuples of int or None), dtypes and NumPy 2 promotion, shared by every op's inference."""
from functools import lru_cache

import numpy as np

from .errors import ShapeError


def fmt_shape(shape):
    """(None, 3) -> '(?, 3)': '?' reads better than None in error messages."""
    inner = ", ".join("?" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def is_known(shape):
    return all(d is not None for d in shape)


def broadcast_shapes(*shapes, op="broadcast", site=None):
    """NumPy broadcasting where None is a size known only at run time."""
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for axis in range(rank):
        dims = [s[axis - rank + len(s)] for s in shapes if axis - rank + len(s) >= 0]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            shown = " and ".join(fmt_shape(s) for s in shapes)
            raise ShapeError(
                f"{op}: shapes {shown} cannot be broadcast together "
                f"(sizes {sorted(known)} meet at axis {axis - rank})" + (f", at {site}" if site else "")
            )
        if known:
            out.append(known.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def normalize_axis(axis, rank, op):
    """axis None|int|tuple -> sorted tuple of non-negative axes (None means all)."""
    if axis is None:
        return tuple(range(rank))
    # anything that is not a tuple/list is one axis, so that a float axis gets the message below
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)):
            raise TypeError(f"{op}: axis must be int or tuple of ints, got {a!r}")
        if not -rank <= a < rank:
            raise ShapeError(f"{op}: axis {a} is out of range for an array of rank {rank}")
        out.append(int(a) % rank if rank else 0)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def shapes_agree(a, b):
    """Same rank, and equal wherever both sizes are known (None agrees with anything)."""
    return len(a) == len(b) and all(x == y for x, y in zip(a, b) if x is not None and y is not None)


def reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def as_dtype(dtype):
    return np.dtype(dtype)


@lru_cache(maxsize=None)
def ufunc_result_dtype(ufunc, in_dtypes):
    """The output dtype NumPy picks for ufunc on these input dtypes."""
    return ufunc.resolve_dtypes(tuple(in_dtypes) + (None,) * ufunc.nout)[-1]


@lru_cache(maxsize=None)
def reduction_dtype(func, dtype):
    """The output dtype of np.sum/np.mean/... for an input dtype (e.g. sum of int32 -> int64)."""
    return func(np.zeros((1,), dtype)).dtype


def weak_scalar_dtype(value, strong_dtypes):
    """NumPy 2 promotion: a Python scalar is 'weak' and takes the dtype of the arrays it meets."""
    if strong_dtypes:
        return np.result_type(*strong_dtypes, value)
    return np.result_type(value)


def float_dtype_for(dtype):
    """Floating type a mean/softmax of this dtype yields (ints -> float64, as NumPy)."""
    dtype = np.dtype(dtype)
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


def check_none_dims(static_shapes, runtime_shapes, out_shape, what, site):
    """A None dimension never broadcasts implicitly: at run time it must equal the result's size.

    Gradients are built on that assumption (they only sum back over size-1 dimensions), so a
    violation is an error rather than a silently wrong gradient.
    """
    rank = len(out_shape)
    for k, (static, runtime) in enumerate(zip(static_shapes, runtime_shapes)):
        lead = rank - len(runtime)
        for axis, d in enumerate(static):
            if d is None and runtime[axis] != out_shape[lead + axis]:
                raise ShapeError(
                    f"{what}: input {k} has shape {fmt_shape(static)} and is {fmt_shape(runtime)} at run "
                    f"time, so its dimension {axis} (declared None) would broadcast to "
                    f"{out_shape[lead + axis]}; graphc does not broadcast None dimensions implicitly. "
                    f"Declare that dimension as 1 or use gc.broadcast_to (built at {site})"
                )


def check_fits(array, dtype, what):
    """Raise OverflowError, as NumPy 2 does for a Python int, when integer data would wrap on
    conversion to the integer `dtype` (for arrays too: a silent wrap is a wrong answer)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu" or array.dtype.kind not in "iu" or not array.size or np.can_cast(array.dtype, dtype):
        return
    info = np.iinfo(dtype)
    low, high = int(array.min()), int(array.max())
    if low < info.min or high > info.max:
        bad = low if low < info.min else high
        raise OverflowError(f"{what}: integer {bad} is out of bounds for {dtype} [{info.min}, {info.max}]")


class TupleType(tuple):
    """What `Op.infer` returns for a tuple-valued result: one (shape, dtype) pair per part."""
