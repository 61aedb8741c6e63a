"""graphc: a static-graph tensor compiler with symbolic gradients, a numba JIT and an eager mode.

    import graphc as gc
    x = gc.placeholder((None, 3), "float64", name="x")
    y = gc.tanh(x).sum()
    f = gc.compile([x], [y, gc.grad(y, x)])
"""
from graphc.ir import ops as _ops
from graphc.ir.errors import FeedError, GradientError, GraphcError, NaNError, RewriteError, ShapeError
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
from .modes import compare, jit, trace

__version__ = "0.1.0"
del _ops

# ---- eager mode (API.md section 6): PyTorch-style tensors and autograd --------------------------
from . import autograd  # noqa: E402
from .eager import (  # noqa: E402
    Tensor, arange, empty, enable_grad, eye, from_numpy, full, is_grad_enabled, manual_seed,
    no_grad, ones, ones_like, rand, randn, randn_like, set_grad_enabled, tensor, zeros, zeros_like,
)
import numpy as _np  # noqa: E402

# dtype names as in torch.float32 etc., for code written against PyTorch
float16, float32, float64 = _np.dtype(_np.float16), _np.dtype(_np.float32), _np.dtype(_np.float64)
int32, int64, bool_ = _np.dtype(_np.int32), _np.dtype(_np.int64), _np.dtype(_np.bool_)
del _np
