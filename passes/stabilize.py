"""Stabilization: rewrite the numerically unstable forms users write into stable ops.

gc.grad and gc.jvp stabilize the graph above their xs before differentiating it, so the gradients
users get are those of the stable forms. A loop's body is differentiated as written, though: for
the sigmoid-then-log forms, gradient_through_sigmoid_log rescues the gradients built from them.
"""
from graphc.ir.ops import elementwise as ew
from graphc.ir.ops import losses, nn, reductions
from graphc.ir.ops.elementwise import ADD, DIV, EXP, LOG, LOG1P, MUL, NEG, SIGMOID, SUB
from graphc.ir.ops.nn import SOFTMAX
from graphc.ir.ops.reductions import MEAN, SUM
from graphc.ir.ops.softplus import LOG_SIGMOID, SOFTPLUS, log_sigmoid, softplus

from .local_rewrites import apply_rules
from .simplify import _is_const


def log_of_softmax(node):
    if node.op is LOG and node.inputs[0].op is SOFTMAX:
        inner = node.inputs[0]
        return nn.log_softmax(inner.inputs[0], inner.attrs["axis"])
    return None


def _same_type(node, new):
    return new if new.shape == node.shape and new.dtype == node.dtype else None


def _one_minus(node):
    """x where node is 1 - x (a scalar 1 that broadcasts nothing), else None."""
    if node.op is SUB and _is_const(node.inputs[0], 1) and node.inputs[0].ndim == 0:
        return node.inputs[1]
    return None


def log_of_sigmoid(node):
    """log(sigmoid(x)) -> log_sigmoid(x): log(0) is -inf already at x < -745."""
    if node.op is LOG and node.inputs[0].op is SIGMOID:
        return _same_type(node, log_sigmoid(node.inputs[0].inputs[0]))
    return None


def log_of_one_minus_sigmoid(node):
    """log(1 - sigmoid(x)) and log1p(-sigmoid(x)) -> log_sigmoid(-x): 1 - sigmoid(x) is 0 at x > 37."""
    if node.op is LOG:
        p = _one_minus(node.inputs[0])
    elif node.op is LOG1P and node.inputs[0].op is NEG:
        p = node.inputs[0].inputs[0]
    else:
        return None
    if p is not None and p.op is SIGMOID:
        return _same_type(node, log_sigmoid(ew.neg(p.inputs[0])))
    return None


def _sigmoid_derivative(node):
    """s where node is s * (1 - s) (either order), s a sigmoid: its derivative, as its rule builds it."""
    if node.op is not MUL:
        return None
    for s, one_minus_s in (node.inputs, node.inputs[::-1]):
        if s.op is SIGMOID and _one_minus(one_minus_s) is s:
            return s
    return None


def _times_sigmoid_derivative(node):
    """(other factor, derivative, s) where node is other * derivative, derivative = s * (1 - s)."""
    if node.op is not MUL:
        return None
    for other, derivative in (node.inputs, node.inputs[::-1]):
        s = _sigmoid_derivative(derivative)
        if s is not None:
            return other, derivative, s
    return None


def _cancelled(term, s):
    """term * s (1 - s) without its division, for term = g / s or g / (1 - s), else None."""
    if term.op is not DIV:
        return None
    g, divisor = term.inputs
    if divisor is s:
        return ew.mul(g, ew.sigmoid(ew.neg(s.inputs[0])))  # 1 - s, to full relative accuracy
    if _one_minus(divisor) is s:
        return ew.mul(g, s)
    return None


def gradient_through_sigmoid_log(node):
    """The gradients autodiff builds for log(sigmoid(z)) and log(1 - sigmoid(z)) where it did not
    differentiate the stabilized form (a loop body's): the cotangents reaching the sigmoid,
    g / s and -g / (1 - s) (summed), times its derivative s (1 - s), are 0 / 0 or inf * 0 once s
    rounds to 0 or 1. Each such term cancels its division: g sigmoid(-z) and -g s."""
    found = _times_sigmoid_derivative(node)
    terms = found and _signed_terms(found[0], 4)
    if not terms:
        return None
    _, derivative, s = found
    total, cancelled_any = None, False
    for sign, term in terms:
        part = _cancelled(term, s)
        cancelled_any |= part is not None
        part = ew.mul(term, derivative) if part is None else part
        part = part if sign > 0 else ew.neg(part)
        total = part if total is None else ew.add(total, part)
    return _same_type(node, total) if cancelled_any else None


def softplus_by_hand(node):
    """log1p(exp(x)) (log(1 + exp(x)) becomes that first) -> softplus(x): exp overflows at x > 709."""
    if node.op is LOG1P and node.inputs[0].op is EXP:
        return _same_type(node, softplus(node.inputs[0].inputs[0]))
    return None


def _signed_terms(node, limit):
    """node as a sum of at most `limit` (sign, term) pairs, through add, sub and neg; None if it
    has more (a long sum is no BCE, and is not walked to its end)."""
    terms, pending = [], [(1, node)]
    while pending:
        sign, x = pending.pop()
        if x.op in (ADD, SUB):
            pending += [(sign, x.inputs[0]), (-sign if x.op is SUB else sign, x.inputs[1])]
        elif x.op is NEG:
            pending.append((-sign, x.inputs[0]))
        elif len(terms) == limit:
            return None
        else:
            terms.append((sign, x))
    return terms


def _coefficient_of_log_sigmoid(sign, term):
    """(sign, coefficient, argument) where term is +-coefficient * log_sigmoid(argument)."""
    if term.op is not MUL:
        return None
    factors = []
    for factor in term.inputs:
        while factor.op is NEG:
            sign, factor = -sign, factor.inputs[0]
        factors.append(factor)
    for log_term, coefficient in (factors, factors[::-1]):
        if log_term.op is LOG_SIGMOID:
            return sign, coefficient, log_term.inputs[0]
    return None


def binary_cross_entropy_by_hand(node):
    """t log sigmoid(z) + (1 - t) log(1 - sigmoid(z)), once its logs are log_sigmoid(z) and
    log_sigmoid(-z), in any order and either sign -> z t - softplus(z) (or its negation, the
    loss): the form of binary_cross_entropy_with_logits, whose gradient is t - sigmoid(z)."""
    if node.op not in (ADD, SUB):
        return None
    terms = [_coefficient_of_log_sigmoid(*term) for term in _signed_terms(node, 2) or ()]
    if len(terms) != 2 or any(term is None for term in terms) or terms[0][0] != terms[1][0]:
        return None
    for (sign, t, z), (_, one_minus_t, minus_z) in (terms, terms[::-1]):
        if minus_z.op is NEG and minus_z.inputs[0] is z and _one_minus(one_minus_t) is t:
            log_likelihood = ew.sub(ew.mul(z, t), softplus(z))
            loss = ew.sub(softplus(z), ew.mul(z, t))
            return _same_type(node, log_likelihood if sign > 0 else loss)
    return None


def _softplus_minus_product(node):
    """(z, t) where node is softplus(z) - z t (or - t z), else None."""
    if node.op is not SUB or node.inputs[0].op is not SOFTPLUS or node.inputs[1].op is not MUL:
        return None
    z = node.inputs[0].inputs[0]
    a, b = node.inputs[1].inputs
    return (z, b) if a is z else (z, a) if b is z else None


def negated_log_likelihood(node):
    """-(z t - softplus(z)) -> softplus(z) - z t (the sum of the two logs was rewritten first)."""
    if node.op is not NEG or node.inputs[0].op is not SUB:
        return None
    product, softplus_z = node.inputs[0].inputs
    if softplus_z.op is SOFTPLUS and product.op is MUL and any(x is softplus_z.inputs[0] for x in product.inputs):
        return _same_type(node, ew.sub(softplus_z, product))
    return None


def mean_binary_cross_entropy(node):
    """mean(softplus(z) - z t) over every element, z and t of one shape and dtype ->
    binary_cross_entropy_with_logits(z, t): the gradient is then exactly the built-in's."""
    if node.op is not MEAN or node.attrs["keepdims"] or node.attrs["axis"] != tuple(range(node.inputs[0].ndim)):
        return None
    found = _softplus_minus_product(node.inputs[0])
    if found is None:
        return None
    z, t = found
    if z.shape != t.shape or z.shape != node.inputs[0].shape or z.dtype != t.dtype or t.dtype.kind != "f":
        return None
    return _same_type(node, losses.binary_cross_entropy_with_logits(z, t))


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


RULES = [
    log_of_softmax, log_of_sigmoid, log_of_one_minus_sigmoid, log_of_one_plus, softplus_by_hand, exp_minus_one,
    log_sum_exp, binary_cross_entropy_by_hand, negated_log_likelihood, mean_binary_cross_entropy,
    gradient_through_sigmoid_log,
]


def stabilize(graph):
    return apply_rules(graph, RULES, "stabilize")
