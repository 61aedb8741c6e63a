"""Eager mode: PyTorch-style tensors and autograd on the same op registry as graph mode.

Importing this package registers the Tensor frontend with `graphc.ir.dispatch`, so every op
function (gc.add, gc.exp, ...) computes at once on tensors, arrays and scalars.
"""
from . import apply as _apply  # noqa: F401  (registers the eager frontend)
from . import methods as _methods  # noqa: F401  (attaches Tensor's op-calling methods)
from .creation import (  # noqa: F401
    arange, empty, eye, from_numpy, full, manual_seed, ones, ones_like, rand, randn, randn_like,
    tensor, zeros, zeros_like,
)
from .engine import backward, grad  # noqa: F401
from .function import Function, FunctionCtx  # noqa: F401
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
from .gradcheck import GradcheckError, gradcheck  # noqa: F401
from .tensor import Tensor  # noqa: F401
