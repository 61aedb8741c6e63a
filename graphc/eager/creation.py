"""Making tensors: from data (copied) or NumPy (shared), and the filled/random constructors.

Default dtypes follow NumPy (float64 for floats, int64 for ints), as API.md fixes for all of
graphc; sizes are given PyTorch's ways: f(2, 3), f((2, 3)) or f(size=(2, 3)).
"""
import numpy as np

from graphc import seeding
from graphc.ir.node import Node
from graphc.ir.ops.elementwise import add as graph_add
from graphc.ir.ops.shape import zeros_like as graph_zeros_like

from .tensor import Tensor

# One generator for eager draws and the seeds of unseeded graph-mode random nodes (graphc.seeding).
_rng = seeding.GENERATOR
manual_seed = seeding.manual_seed


def shape_args(shape):
    """Accept f(2, 3), f((2, 3)) and f([2, 3]) as PyTorch does."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _new(array, requires_grad):
    t = Tensor._make(array)
    if requires_grad:
        t.requires_grad = True
    return t


def _size(size, keyword):
    if keyword is not None:
        if size:
            raise TypeError("give the size either positionally or as size=, not both")
        return shape_args((keyword,)) if not isinstance(keyword, int) else (keyword,)
    return shape_args(size)


def _float(dtype):
    return np.dtype(np.float64 if dtype is None else dtype)


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of data (a list, scalar, ndarray or tensor)."""
    if isinstance(data, Tensor):
        data = data._data
    array = np.array(data, dtype=dtype)
    if array.dtype == object:
        raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__} data")
    return _new(array, requires_grad)


def from_numpy(array):
    """A tensor that shares memory with `array`: writes to either show in both."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(array).__name__})")
    return Tensor._make(array)


def zeros(*size, dtype=None, requires_grad=False):
    return _new(np.zeros(shape_args(size), _float(dtype)), requires_grad)


def ones(*size, dtype=None, requires_grad=False):
    return _new(np.ones(shape_args(size), _float(dtype)), requires_grad)


def empty(*size, dtype=None, requires_grad=False):
    return _new(np.empty(shape_args(size), _float(dtype)), requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False):
    return _new(np.full(shape_args((size,)), fill_value, dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """Like np.arange: integer arguments give int64, a float anywhere gives float64."""
    args = (start,) if end is None else (start, end, step)
    return _new(np.arange(*args, dtype=dtype), requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    return _new(np.eye(n, m, dtype=_float(dtype)), requires_grad)


def rand(*size, dtype=None, requires_grad=False, **kwargs):
    shape = _size(size, kwargs.pop("size", None))
    if kwargs:
        raise TypeError(f"rand: unexpected arguments {sorted(kwargs)}")
    return _new(_rng[0].random(shape).astype(_float(dtype), copy=False), requires_grad)


def randn(*size, dtype=None, requires_grad=False, **kwargs):
    shape = _size(size, kwargs.pop("size", None))
    if kwargs:
        raise TypeError(f"randn: unexpected arguments {sorted(kwargs)}")
    return _new(_rng[0].standard_normal(shape).astype(_float(dtype), copy=False), requires_grad)


def _like(x, dtype):
    array = x._data if isinstance(x, Tensor) else np.asarray(x)
    return array.shape, array.dtype if dtype is None else np.dtype(dtype)


def zeros_like(x, dtype=None, requires_grad=False):
    """Zeros shaped like x; on a graph node, the graph op (its shape is known only at run time)."""
    if isinstance(x, Node):
        return graph_zeros_like(x, dtype)
    shape, dtype = _like(x, dtype)
    return _new(np.zeros(shape, dtype), requires_grad)


def ones_like(x, dtype=None, requires_grad=False):
    if isinstance(x, Node):
        return graph_add(graph_zeros_like(x, dtype), 1)
    shape, dtype = _like(x, dtype)
    return _new(np.ones(shape, dtype), requires_grad)


def randn_like(x, dtype=None, requires_grad=False):
    shape, dtype = _like(x, dtype)
    if dtype.kind not in "fc":
        raise TypeError(f"randn_like: a normal sample needs a floating dtype, got {dtype}; pass dtype=")
    return _new(_rng[0].standard_normal(shape).astype(dtype, copy=False), requires_grad)
