"""Python operators and methods shared by graph nodes and eager tensors.

Both dispatch to the same op functions, so `x * y` means the same thing in both modes.
"""
import importlib

import numpy as np

_ops = None


def _F():
    # ir.ops imports node.py, which imports this module: resolve lazily to break the cycle.
    global _ops
    if _ops is None:
        _ops = importlib.import_module(__name__.rsplit(".", 1)[0] + ".ops")
    return _ops


def _bool_operands(symbol, *values):
    """The operands of `&`, `|` or `~`, which must all be bool (arrays, values or Python bools)."""
    for value in values:
        dtype = getattr(value, "dtype", None)
        dtype = np.asarray(value).dtype if dtype is None else np.dtype(dtype)
        if dtype.kind != "b":
            raise TypeError(
                f"operator {symbol} is the logical op on bool values, got a {dtype} operand; graphc has "
                "no bitwise ops: compare first (x > 0) or use gc.logical_and/logical_or/logical_not"
            )
    return values


class OperatorMixin:
    __slots__ = ()
    # NumPy must hand `ndarray * node` back to us (__rmul__) instead of building object arrays.
    __array_ufunc__ = None

    def __add__(self, other):
        return _F().add(self, other)

    def __radd__(self, other):
        return _F().add(other, self)

    def __sub__(self, other):
        return _F().sub(self, other)

    def __rsub__(self, other):
        return _F().sub(other, self)

    def __mul__(self, other):
        return _F().mul(self, other)

    def __rmul__(self, other):
        return _F().mul(other, self)

    def __truediv__(self, other):
        return _F().div(self, other)

    def __rtruediv__(self, other):
        return _F().div(other, self)

    def __pow__(self, other):
        return _F().pow(self, other)

    def __rpow__(self, other):
        return _F().pow(other, self)

    def __matmul__(self, other):
        return _F().matmul(self, other)

    def __rmatmul__(self, other):
        return _F().matmul(other, self)

    def __neg__(self):
        return _F().neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _F().abs(self)

    def __lt__(self, other):
        return _F().less(self, other)

    def __le__(self, other):
        return _F().less_equal(self, other)

    def __gt__(self, other):
        return _F().greater(self, other)

    def __ge__(self, other):
        return _F().greater_equal(self, other)

    # Elementwise like the other comparisons (NumPy's, PyTorch's and TensorFlow 2's meaning). Values
    # stay hashable by identity, so dicts and sets of nodes work; a dict or `in` only compares
    # values that are not the same object when their hashes collide, and `if node == ...` is a
    # TypeError (Node.__bool__). None and strings are never elementwise operands: `x == None` is
    # False, as with tensors.
    def __eq__(self, other):
        if other is None or isinstance(other, str):
            return NotImplemented
        return _F().equal(self, other)

    def __ne__(self, other):
        if other is None or isinstance(other, str):
            return NotImplemented
        return _F().not_equal(self, other)

    __hash__ = object.__hash__

    # & | ~ are logical_and/or/not on bool values, as on PyTorch's bool tensors. graphc has no
    # bitwise ops, so on other dtypes they refuse rather than compute something else.
    def __and__(self, other):
        return _F().logical_and(*_bool_operands("&", self, other))

    def __rand__(self, other):
        return _F().logical_and(*_bool_operands("&", other, self))

    def __or__(self, other):
        return _F().logical_or(*_bool_operands("|", self, other))

    def __ror__(self, other):
        return _F().logical_or(*_bool_operands("|", other, self))

    def __invert__(self):
        return _F().logical_not(*_bool_operands("~", self))

    def __mod__(self, other):
        return _F().remainder(self, other)

    def __rmod__(self, other):
        return _F().remainder(other, self)

    def __floordiv__(self, other):
        return _F().floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _F().floor_divide(other, self)

    def __getitem__(self, key):
        return _F().getitem(self, key)

    def sum(self, axis=None, keepdims=False):
        return _F().sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return _F().mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _F().max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _F().min(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=False):
        return _F().argmax(self, axis=axis, keepdims=keepdims)

    def logsumexp(self, axis=None, keepdims=False):
        return _F().logsumexp(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _F().reshape(self, shape)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _F().transpose(self, axes or None)

    @property
    def T(self):
        return _F().transpose(self)

    def astype(self, dtype):
        return _F().astype(self, dtype)

    def squeeze(self, axis=None):
        return _F().squeeze(self, axis)

    def exp(self):
        return _F().exp(self)

    def log(self):
        return _F().log(self)

    def tanh(self):
        return _F().tanh(self)

    def sigmoid(self):
        return _F().sigmoid(self)

    def relu(self):
        return _F().relu(self)

    def sqrt(self):
        return _F().sqrt(self)
