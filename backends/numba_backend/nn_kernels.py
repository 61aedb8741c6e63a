"""numba versions of the row-wise nn ops (softmax, log_softmax, logsumexp, cross_entropy).

On NumPy each of these is half a dozen array passes and temporaries; on small batches the
per-call overhead of those passes dominates a training step. Here each is one pass over the
rows. They cover the common layout (reduction over the last axis of a 2-D array); any other
layout keeps the op's NumPy implementation. Same algorithms as the NumPy references (shift by
the row maximum, sum of exponentials), so results agree to rounding.
"""
import math

import numba
import numpy as np

from graphc.ir.ops.nn import CROSS_ENTROPY, LOG_SOFTMAX, ONE_HOT_LIKE, SOFTMAX
from graphc.ir.ops.reductions import AXIS_SIZE, LOGSUMEXP

from .scalar_ops import vm_maximum
from .vecmath import JIT_OPTIONS, vm_exp, vm_log

_jit = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath=JIT_OPTIONS["fastmath"])


@_jit
def _row_lse(x, i):
    """log(sum(exp(x[i]))), shifted by the row's maximum (0 if that is not finite, as NumPy's
    reference does, so an all -inf row gives -inf and a row with +inf gives +inf)."""
    peak = -np.inf
    for j in range(x.shape[1]):
        peak = vm_maximum(peak, x[i, j])
    if not math.isfinite(peak):
        peak = 0.0
    total = 0.0
    for j in range(x.shape[1]):
        total += vm_exp(x[i, j] - peak)
    return vm_log(total) + peak


@_jit
def softmax_rows(x, out):
    for i in range(x.shape[0]):
        peak = -np.inf
        for j in range(x.shape[1]):
            peak = vm_maximum(peak, x[i, j])
        total = 0.0
        for j in range(x.shape[1]):
            e = vm_exp(x[i, j] - peak)
            out[i, j] = e
            total += e
        for j in range(x.shape[1]):
            out[i, j] = out[i, j] / total


@_jit
def log_softmax_rows(x, out):
    for i in range(x.shape[0]):
        lse = _row_lse(x, i)
        for j in range(x.shape[1]):
            out[i, j] = x[i, j] - lse


@_jit
def logsumexp_rows(x, out):
    for i in range(x.shape[0]):
        out[i] = _row_lse(x, i)


@_jit
def cross_entropy_rows(x, labels):
    """Mean over rows of lse(x[i]) - x[i, labels[i]]; returns (loss, index of a bad label or -1)."""
    total = 0.0
    for i in range(x.shape[0]):
        label = labels[i]
        if label < 0 or label >= x.shape[1]:
            return 0.0, i
        total += _row_lse(x, i) - x[i, label]
    return total / x.shape[0], -1


@_jit
def one_hot_rows(labels, out):
    """out[i] = one-hot of labels[i]; returns the index of a label outside [0, classes), or -1."""
    out[:] = 0
    for i in range(labels.shape[0]):
        label = labels[i]
        if label < 0 or label >= out.shape[1]:
            return i
        out[i, label] = 1
    return -1


def _rows(node, axis_attr="axis"):
    """Whether this node reduces over the last axis of a 2-D float32/float64 input."""
    x = node.inputs[0]
    if x.ndim != 2 or x.dtype.kind != "f" or x.dtype.itemsize < 4 or node.dtype != x.dtype:
        return False
    axis = node.attrs.get(axis_attr)
    return axis in (1, (1,))


def _run_rows(kernel, x):
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    kernel(x, out)
    return out


def _softmax(node):
    return (lambda x: _run_rows(softmax_rows, x)) if _rows(node) else None


def _log_softmax(node):
    return (lambda x: _run_rows(log_softmax_rows, x)) if _rows(node) else None


def _logsumexp(node):
    if not _rows(node):
        return None
    keep = node.attrs["keepdims"]

    def logsumexp_step(x):
        x = np.ascontiguousarray(x)
        out = np.empty(x.shape[0], x.dtype)
        logsumexp_rows(x, out)
        return out.reshape(-1, 1) if keep else out

    return logsumexp_step


def _one_hot_like(node):
    if node.inputs[0].ndim != 1 or node.dtype.kind != "f":
        return None
    dtype = node.dtype

    def one_hot_step(labels, ref):
        out = np.empty((labels.shape[0], ref.shape[-1]), dtype)
        if one_hot_rows(np.ascontiguousarray(labels), out) >= 0:
            node.op.impl(labels, ref)  # raises the reference's IndexError message
        return out

    return one_hot_step


def _axis_size(node):
    axes, dtype = node.attrs["axis"], node.dtype
    return lambda x: np.asarray(math.prod(x.shape[a] for a in axes), dtype)


def _cross_entropy(node):
    x = node.inputs[0]
    if x.dtype.kind != "f" or x.dtype.itemsize < 4 or node.dtype != x.dtype or node.attrs["label_smoothing"]:
        return None  # label smoothing: the NumPy implementation
    dtype = node.dtype

    def cross_entropy_step(x, labels):
        if x.shape[0] == 0 or x.shape[0] != labels.shape[0]:
            # NumPy's mean of nothing (nan, with its warning), or the reference's row-count error
            return node.op.impl(x, labels)
        loss, bad = cross_entropy_rows(np.ascontiguousarray(x), np.ascontiguousarray(labels))
        if bad >= 0:
            return node.op.impl(x, labels)  # raises the reference's IndexError message
        return np.asarray(loss, dtype)

    return cross_entropy_step


# op -> (node -> a fast step function, or None where the NumPy implementation stays)
ROW_KERNELS = {
    SOFTMAX: _softmax,
    LOG_SOFTMAX: _log_softmax,
    LOGSUMEXP: _logsumexp,
    ONE_HOT_LIKE: _one_hot_like,
    AXIS_SIZE: _axis_size,
    CROSS_ENTROPY: _cross_entropy,
}
