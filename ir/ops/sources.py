"""Graph leaves: placeholders (fed per call), constants and variables (state between calls)."""
import numpy as np

from ..node import Node
from ..registry import Op, register
from ..source import user_site
from ..types import as_dtype


class _Leaf(Op):
    def infer(self, inputs, attrs):
        raise AssertionError("leaves are built directly, never inferred")

    def jvp(self, tangents, out, **attrs):
        return None


@register
class PLACEHOLDER(_Leaf):
    name = "placeholder"

    def impl(self, **attrs):
        raise RuntimeError("placeholders are fed, not computed")


@register
class CONSTANT(_Leaf):
    name = "constant"

    def impl(self, *, value):
        return value


@register
class VARIABLE(_Leaf):
    name = "variable"

    def impl(self, **attrs):
        raise RuntimeError("variables are read from their state, not computed")


@register
class PARAMETER(_Leaf):
    """A leaf of a body graph: the body's input at position `index`. A body is closed: every
    outer value it reads comes in through a parameter."""

    name, created_by_passes = "parameter", True

    def impl(self, **attrs):
        raise RuntimeError("parameters are bound to the values a body is run with, not computed")


def parameter(like, index):
    """The body parameter standing for the outer value `like` (same shape, dtype, site)."""
    return parameter_of(like.shape, like.dtype, index, like.site)


def parameter_of(shape, dtype, index, site):
    """A body parameter of the given type (a scan step's slice of a scanned input, say)."""
    return Node(PARAMETER, (), {"index": index}, shape, dtype, site=site)


_placeholder_count = [0]


def placeholder(shape, dtype="float64", name=None):
    """A graph input fed at call time. `None` in `shape` is a size known only when fed."""
    if isinstance(shape, (int, np.integer)) or shape is None:
        shape = () if shape is None else (shape,)
    dims = []
    for d in shape:
        if d is not None and (not isinstance(d, (int, np.integer)) or d < 0):
            raise TypeError(f"placeholder: shape entries must be non-negative ints or None, got {shape!r}")
        dims.append(None if d is None else int(d))
    if name is None:
        name = f"input{_placeholder_count[0]}"
        _placeholder_count[0] += 1
    elif not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"placeholder: name must be a Python identifier (it is used as a keyword), got {name!r}")
    return Node(PLACEHOLDER, (), {}, tuple(dims), as_dtype(dtype), name=name, site=user_site())


def constant(value, dtype=None, name=None):
    """A fixed value in the graph (copied; later changes to `value` do not reach the graph)."""
    array = np.array(value, dtype=dtype)
    if array.dtype == object:
        raise TypeError(f"constant: cannot make an array of {type(value).__name__} values")
    array.flags.writeable = False
    return Node(CONSTANT, (), {"value": array}, array.shape, array.dtype, name=name, site=user_site())
