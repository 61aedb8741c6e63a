"""graphc: a static-graph tensor compiler with symbolic gradients, a numba JIT and an eager mode.

    import graphc as gc
    x = gc.placeholder((None, 3), "float64", name="x")
    y = gc.tanh(x).sum()
    f = gc.compile([x], [y, gc.grad(y, x)])
"""
from graphc.ir import ops as _ops
from graphc.ir.errors import FeedError, GradientError, GraphcError, ShapeError
from graphc.ir.graph import Graph
from graphc.ir.node import Node, Variable
from graphc.ir.ops import (
    abs, add, argmax, astype, broadcast_to, clip, concatenate, constant, cos, cross_entropy, div,
    equal, exp, expand_dims, expm1, gather, greater, greater_equal, index_select, less, less_equal,
    log, log1p, log_softmax, logsumexp, matmul, max, maximum, mean, min, minimum, mul, neg,
    not_equal, placeholder, pow, relu, reshape, sigmoid, sign, sin, softmax, sqrt, square,
    squeeze, stack, stop_gradient, sub, sum, tanh, transpose, where,
)
from graphc.passes.autodiff import grad, jvp

from . import backend_registry as _backend_registry  # noqa: F401  (registers the backends)
from .compile import compile
from .inspect import debugprint

__version__ = "0.1.0"
del _ops
