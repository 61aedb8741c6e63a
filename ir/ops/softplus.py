"""softplus and log_sigmoid: the log-domain forms of the logistic function, stable for every x.

softplus(x) = log(1 + e^x) is computed as max(x, 0) + log1p(e^-|x|): e^-|x| never overflows,
so a huge x gives x exactly, a very negative x gives e^x to full relative accuracy, and the
special values come out as PyTorch's (softplus(inf) = inf, softplus(-inf) = 0, nan stays nan).
log_sigmoid(x) = log(1 / (1 + e^-x)) = -softplus(-x) = min(x, 0) - log1p(e^-|x|), likewise.
Their derivatives are logistic functions (sigmoid(x) and sigmoid(-x)), stable to every order.
"""
import numpy as np

from ..dispatch import apply
from ..registry import register
from ..types import ufunc_result_dtype
from .elementwise import Unary, neg, sigmoid


def _as_result_dtype(x):
    x = np.asarray(x)
    return x.astype(ufunc_result_dtype(np.exp, (x.dtype,)), copy=False)


def _log1p_exp_minus_abs(x):
    return np.log1p(np.exp(-np.abs(x)))


@register
class SOFTPLUS(Unary):
    # the type rules of exp: integers give float64 (the template casts them), float32 stays float32
    name, ufunc = "softplus", np.exp
    scalar = "(maximum({cast}({0}), {zero}) + log1p(exp(-abs({cast}({0})))))"

    def impl(self, x):
        x = _as_result_dtype(x)
        return np.maximum(x, x.dtype.type(0)) + _log1p_exp_minus_abs(x)

    def deriv(self, x, out):
        return sigmoid(x)


@register
class LOG_SIGMOID(Unary):
    name, ufunc, backward_name = "log_sigmoid", np.exp, "LogSigmoid"
    scalar = "(minimum({cast}({0}), {zero}) - log1p(exp(-abs({cast}({0})))))"

    def impl(self, x):
        x = _as_result_dtype(x)
        return np.minimum(x, x.dtype.type(0)) - _log1p_exp_minus_abs(x)

    def deriv(self, x, out):
        return sigmoid(neg(x))


def softplus(x):
    return apply(SOFTPLUS, x)


def log_sigmoid(x):
    return apply(LOG_SIGMOID, x)
