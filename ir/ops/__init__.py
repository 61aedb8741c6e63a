"""Every op's public function, by name. Each op is declared once in one of these modules."""
from .elementwise import (  # noqa: F401
    abs, add, astype, clip, cos, div, equal, exp, expm1, greater, greater_equal, less, less_equal,
    log, log1p, maximum, minimum, mul, neg, not_equal, pow, relu, sigmoid, sign, sin, sqrt, square,
    stop_gradient, sub, tanh, where,
)
from .indexing import gather, getitem, index_select  # noqa: F401
from .conv import avg_pool2d, conv1d, conv2d, max_pool2d  # noqa: F401
from .linalg import matmul, transpose  # noqa: F401
from .nn import cross_entropy, log_softmax, softmax  # noqa: F401
from .reductions import argmax, logsumexp, max, mean, min, sum  # noqa: F401
from .shape import (  # noqa: F401
    broadcast_to, concatenate, expand_dims, reshape, squeeze, stack, zeros_like,
)
from .sources import constant, placeholder  # noqa: F401
from . import control, fused, tuples  # noqa: F401, E402  (ops built by passes and by graphc.control)
