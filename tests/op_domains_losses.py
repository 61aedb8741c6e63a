"""Test domains of softplus, log_sigmoid and the loss ops (loaded by op_domains.py); mse_loss, a
composition of other ops, is tested in test_losses.py."""
import numpy as np

import graphc as gc
from op_domains import F64, I64, Case, add, each, ints, normal, uniform


def _np_softplus(x):
    return np.logaddexp(0, x)


def _np_log_sigmoid(x):
    return -np.logaddexp(0, -x)


def _np_log_softmax(x):
    shifted = x - np.max(x, axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


for _name, _fn, _ref in [("softplus", gc.softplus, _np_softplus), ("log_sigmoid", gc.log_sigmoid, _np_log_sigmoid)]:
    add(Case(_name, "(2, 3)", _fn, [(2, 3)], _ref))
    # both tails: |x| up to 30, where exp(x) alone would lose every digit of log(1 + exp(x))
    add(Case(_name, "wide", _fn, [(12,)], _ref, gen=each(uniform(-30, 30))))
    add(Case(_name, "int64", _fn, [(4,)], _ref, dtypes=[I64], gen=each(ints(-3, 4)), f32=False))


def _np_nll(log_probs, labels):
    return -np.mean(log_probs[np.arange(len(labels)), labels])


for _n, _c in [(4, 3), (1, 5)]:
    add(Case("nll_loss", f"{_n}x{_c}", gc.nll_loss, [(_n, _c), (_n,)], _np_nll, dtypes=[F64, I64],
             gen=(lambda c: each(normal, ints(0, c)))(_c)))
add(Case("nll_loss", "of_log_softmax", lambda x, y: gc.nll_loss(gc.log_softmax(x, axis=1), y), [(3, 4), (3,)],
         lambda x, y: _np_nll(_np_log_softmax(x), y), dtypes=[F64, I64], gen=each(normal, ints(0, 4))))


def _np_bce(z, t):
    return np.mean(np.logaddexp(0, z) - z * t)


add(Case("binary_cross_entropy_with_logits", "(3, 4)", gc.binary_cross_entropy_with_logits, [(3, 4), (3, 4)],
         _np_bce, gen=each(normal, uniform(0, 1))))
add(Case("binary_cross_entropy_with_logits", "wide_logits", gc.binary_cross_entropy_with_logits, [(6,), (6,)],
         _np_bce, gen=each(uniform(-30, 30), uniform(0, 1))))


def _np_smoothed_cross_entropy(eps):
    def ref(logits, labels):
        logp = _np_log_softmax(logits)
        picked = -logp[np.arange(len(labels)), labels]
        return np.mean((1 - eps) * picked - eps * np.mean(logp, axis=1))

    return ref


for _eps in (0.1, 1.0):
    add(Case("cross_entropy", f"label_smoothing={_eps}",
             (lambda e: lambda x, y: gc.cross_entropy(x, y, label_smoothing=e))(_eps), [(4, 3), (4,)],
             _np_smoothed_cross_entropy(_eps), dtypes=[F64, I64], gen=each(normal, ints(0, 3))))
