"""Every op's public function, by name. Each op is declared once in one of these modules."""
from .elementwise import (  # noqa: F401
    abs, add, astype, clip, cos, div, equal, exp, expm1, greater, greater_equal, less, less_equal,
    log, log1p, maximum, minimum, mul, neg, not_equal, pow, relu, sigmoid, sign, sin, sqrt, square,
    stop_gradient, sub, tanh, where,
)
from .elementwise import ceil, erf, floor, floor_divide, gelu, isfinite, isinf, isnan, leaky_relu, logical_and, logical_not, logical_or, remainder, round, silu, trunc  # noqa: F401, E501
from .indexing import gather, getitem, index_select  # noqa: F401
from .conv import avg_pool2d, conv1d, conv2d, max_pool2d  # noqa: F401
from .linalg import matmul, transpose  # noqa: F401
from .nn import cross_entropy, log_softmax, softmax  # noqa: F401
from .losses import binary_cross_entropy_with_logits, mse_loss, nll_loss  # noqa: F401
from .softplus import log_sigmoid, softplus  # noqa: F401
from .reductions import argmax, logsumexp, max, mean, min, sum  # noqa: F401
from .reductions import all, any, prod, std, var  # noqa: F401
from .scans import argsort, cumprod, cumsum, sort, topk  # noqa: F401
from .arrays import flip, one_hot, pad, roll, scatter_add, tril, triu  # noqa: F401
from .einsum import einsum  # noqa: F401
from .shape import (  # noqa: F401
    broadcast_to, concatenate, expand_dims, reshape, squeeze, stack, zeros_like,
)
from .sources import constant, placeholder  # noqa: F401
from . import random  # noqa: F401, E402  (random ops: graphc/random.py builds them)
from . import control, fused, tuples  # noqa: F401, E402  (ops built by passes and by graphc.control)
