"""graphc: a static-graph tensor compiler with symbolic gradients, a numba JIT and an eager mode.

    import graphc as gc
    x = gc.placeholder((None, 3), "float64", name="x")
    y = gc.tanh(x).sum()
    f = gc.compile([x], [y, gc.grad(y, x)])

Graph mode imports only what it uses: eager mode loads on first use of one of its names (or of
an op on plain arrays, which gives a tensor), and numba when the numba backend first compiles.
"""
import importlib

from . import source_tree

source_tree.install(__path__[0])

from graphc.ir import dispatch as _dispatch  # noqa: E402
from graphc.ir import ops as _ops  # noqa: E402
from graphc.ir.errors import (  # noqa: E402
    FeedError, GradientError, GraphcError, IterationLimitError, NaNError, RewriteError, ShapeError,
)
from graphc.ir.graph import Graph  # noqa: E402
from graphc.ir.node import Node, Variable  # noqa: E402
from graphc.ir.ops import (  # noqa: E402
    abs, add, argmax, astype, broadcast_to, clip, concatenate, constant, cos, cross_entropy, div,
    equal, exp, expand_dims, expm1, gather, greater, greater_equal, index_select, less, less_equal,
    log, log1p, log_softmax, logsumexp, matmul, max, maximum, mean, min, minimum, mul, neg,
    not_equal, placeholder, pow, relu, reshape, sigmoid, sign, sin, softmax, sqrt, square,
    squeeze, stack, stop_gradient, sub, sum, tanh, transpose, where,
)
from graphc.ir.ops import (  # noqa: E402  (the ops for models, API.md section 10)
    all, any, argsort, avg_pool2d, binary_cross_entropy_with_logits, ceil, conv1d, conv2d, cumprod,
    cumsum, einsum, erf, flip, floor, floor_divide, gelu, isfinite, isinf, isnan, leaky_relu,
    log_sigmoid, logical_and, logical_not, logical_or, max_pool2d, mse_loss, nll_loss, one_hot, pad,
    prod, remainder, roll, round, scatter_add, silu, softplus, sort, std, topk, tril, triu, trunc, var,
)
from graphc.passes.autodiff import grad, jvp  # noqa: E402

from . import backend_registry as _backend_registry  # noqa: E402, F401  (registers the backends)
from .compile import compile  # noqa: E402
from .control import cond, fori_loop, scan, while_loop  # noqa: E402
from .control.remat import remat  # noqa: E402
from .inspect import debugprint  # noqa: E402
from .modes import compare, jit, trace  # noqa: E402
from .random import dropout  # noqa: E402  (and the gc.random namespace: uniform, normal, bernoulli)

__version__ = "0.1.0"
del _ops

# ---- eager mode (API.md section 6): PyTorch-style tensors and autograd, loaded on first use ----
_EAGER_NAMES = frozenset({
    "Tensor", "arange", "empty", "enable_grad", "eye", "from_numpy", "full", "is_grad_enabled",
    "manual_seed", "no_grad", "ones", "ones_like", "rand", "randn", "randn_like", "set_grad_enabled",
    "tensor", "zeros", "zeros_like",
})
_LAZY_SUBMODULES = frozenset({"autograd", "eager"})


def __getattr__(name):
    if name in _EAGER_NAMES:
        value = getattr(importlib.import_module("graphc.eager"), name)
    elif name in _LAZY_SUBMODULES:
        value = importlib.import_module(f"graphc.{name}")
    else:
        raise AttributeError(f"module 'graphc' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | _EAGER_NAMES | _LAZY_SUBMODULES)


def _load_eager_for_plain_values(op, args, attrs):
    # An op on plain arrays and scalars gives an eager tensor. Importing eager mode registers its
    # own handler in place of this one, so this runs once.
    importlib.import_module("graphc.eager")
    return _dispatch.apply(op, *args, **attrs)


_dispatch.register_plain_handler(_load_eager_for_plain_values)

import numpy as _np  # noqa: E402

# dtype names as in torch.float32 etc., for code written against PyTorch
float16, float32, float64 = _np.dtype(_np.float16), _np.dtype(_np.float32), _np.dtype(_np.float64)
int32, int64, bool_ = _np.dtype(_np.int32), _np.dtype(_np.int64), _np.dtype(_np.bool_)
del _np
