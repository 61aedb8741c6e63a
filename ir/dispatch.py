"""One entry point for every op call: `apply(op, *args, **attrs)`.

It returns a graph node if any argument is a node, and otherwise an eager tensor (eager mode
registers itself here for tensors and for plain arrays and scalars). Python scalars are
'weak' (NumPy 2): they take the dtype of the arrays they meet, so a Python float does not widen a
float32 node.
"""
import numbers

import numpy as np

from .types import weak_scalar_dtype

# (class, handler) pairs in priority order: graph nodes win over eager tensors.
_FRONTENDS = []


# What to do when no argument is a node or tensor. graphc's package __init__ sets it before any op
# can be called (eager mode then replaces it: plain arrays and scalars give tensors).
_PLAIN_HANDLER = [None]


def register_frontend(cls, handler, priority):
    _FRONTENDS.append((priority, cls, handler))
    _FRONTENDS.sort(key=lambda entry: entry[0])


def register_plain_handler(handler):
    """What to do when no argument is a node or tensor: handler(op, args, attrs)."""
    _PLAIN_HANDLER[0] = handler


def is_python_scalar(value):
    return isinstance(value, (bool, int, float, complex)) and not isinstance(value, np.generic)


def resolve_weak_scalars(args, dtype_of):
    """Turn Python scalars into 0-d arrays of the dtype NumPy 2 gives them next to the others."""
    strong = [dtype_of(a) for a in args if a is not None and not is_python_scalar(a)]
    if not any(is_python_scalar(a) for a in args):
        return list(args)
    return [
        np.asarray(a, dtype=weak_scalar_dtype(a, strong)) if is_python_scalar(a) else a
        for a in args
    ]


def plain_dtype(value):
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        return value.dtype
    if isinstance(value, numbers.Number):
        return np.asarray(value).dtype
    return np.asarray(value).dtype


def apply(op, *args, **attrs):
    for _, cls, handler in _FRONTENDS:
        for a in args:
            if isinstance(a, cls):
                return handler(op, args, attrs)
    return _PLAIN_HANDLER[0](op, args, attrs)
