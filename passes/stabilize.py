"""Stabilization: rewrite the numerically unstable forms users write into stable ops."""
from graphc.ir.ops import elementwise as ew
from graphc.ir.ops import nn, reductions
from graphc.ir.ops.elementwise import ADD, EXP, LOG, SIGMOID, SUB
from graphc.ir.ops.nn import SOFTMAX
from graphc.ir.ops.reductions import SUM

from .local_rewrites import apply_rules
from .simplify import _is_const


def log_of_softmax(node):
    if node.op is LOG and node.inputs[0].op is SOFTMAX:
        inner = node.inputs[0]
        return nn.log_softmax(inner.inputs[0], inner.attrs["axis"])
    return None


def log_of_sigmoid(node):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)): no exp overflow, no log(0)."""
    if node.op is LOG and node.inputs[0].op is SIGMOID:
        x = node.inputs[0].inputs[0]
        return ew.sub(ew.minimum(x, 0), ew.log1p(ew.exp(ew.neg(ew.abs(x)))))
    return None


def log_of_one_plus(node):
    if node.op is LOG and node.inputs[0].op is ADD:
        a, b = node.inputs[0].inputs
        for one, x in ((a, b), (b, a)):
            if _is_const(one, 1) and one.ndim == 0 and x.shape == node.shape and x.dtype == node.dtype:
                return ew.log1p(x)
    return None


def exp_minus_one(node):
    if node.op is SUB and node.inputs[0].op is EXP and _is_const(node.inputs[1], 1):
        x = node.inputs[0].inputs[0]
        if node.inputs[1].ndim == 0 and x.shape == node.shape and x.dtype == node.dtype:
            return ew.expm1(x)
    return None


def log_sum_exp(node):
    if node.op is LOG and node.inputs[0].op is SUM and node.inputs[0].inputs[0].op is EXP:
        total = node.inputs[0]
        x = total.inputs[0].inputs[0]
        return reductions.logsumexp(x, total.attrs["axis"], total.attrs["keepdims"])
    return None


RULES = [log_of_softmax, log_of_sigmoid, log_of_one_plus, exp_minus_one, log_sum_exp]


def stabilize(graph):
    return apply_rules(graph, RULES, "stabilize")
