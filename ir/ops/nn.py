"""Neural-net ops with stable implementations and gradients (not compositions to be rescued)."""
import numpy as np

from ..dispatch import apply
from ..errors import ShapeError
from ..registry import Op, register
from ..source import site_of
from ..types import float_dtype_for, fmt_shape, normalize_axis
from . import elementwise as ew
from . import reductions as red


class _AlongAxis(Op):
    def normalize(self, inputs, attrs):
        (axis,) = normalize_axis(attrs.get("axis", -1), inputs[0].ndim, self.name)
        return {"axis": axis}

    def infer(self, inputs, attrs):
        return inputs[0].shape, float_dtype_for(inputs[0].dtype)

    def dim_links(self, node):
        return [(0, d) for d in range(node.ndim)], ()


@register
class SOFTMAX(_AlongAxis):
    name = "softmax"

    def impl(self, x, *, axis):
        x = np.asarray(x, dtype=float_dtype_for(x.dtype))
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)

    def vjp(self, g, out, x, *, axis):
        return (ew.mul(out, ew.sub(g, red.sum(ew.mul(g, out), axis, True))),)

    def jvp(self, tangents, out, x, *, axis):
        # The Jacobian diag(s) - s s^T is symmetric: the VJP applied to the tangent is the JVP.
        return self.vjp(tangents[0], out, x, axis=axis)[0]


@register
class LOG_SOFTMAX(_AlongAxis):
    name = "log_softmax"

    def impl(self, x, *, axis):
        x = np.asarray(x, dtype=float_dtype_for(x.dtype))
        return x - red.LOGSUMEXP.impl(x, axis=(axis,), keepdims=True)

    def vjp(self, g, out, x, *, axis):
        return (ew.sub(g, ew.mul(ew.exp(out), red.sum(g, axis, True))),)

    def jvp(self, tangents, out, x, *, axis):
        (t,) = tangents
        return ew.sub(t, red.sum(ew.mul(ew.exp(out), t), axis, True))


def softmax(x, axis=-1):
    return apply(SOFTMAX, x, axis=axis)


def log_softmax(x, axis=-1):
    return apply(LOG_SOFTMAX, x, axis=axis)


@register
class CROSS_ENTROPY(Op):
    """Mean over the batch of -log softmax(logits)[i, labels[i]]; logits (N, C), labels (N,) ints."""

    name, backward_name = "cross_entropy", "NllLoss"
    nondiff_inputs = (1,)

    def infer(self, inputs, attrs):
        logits, labels = inputs
        if logits.ndim != 2 or labels.ndim != 1:
            raise ShapeError(
                f"cross_entropy: expected logits of shape (N, C) and labels of shape (N,); got "
                f"{fmt_shape(logits.shape)} and {fmt_shape(labels.shape)}"
            )
        if np.dtype(labels.dtype).kind not in "iu":
            raise TypeError(f"cross_entropy: labels must be integer class indices, got dtype {labels.dtype}")
        n, m = logits.shape[0], labels.shape[0]
        if n is not None and m is not None and n != m:
            raise ShapeError(
                f"cross_entropy: {n} rows of logits {fmt_shape(logits.shape)} but {m} labels {fmt_shape(labels.shape)}"
            )
        return (), float_dtype_for(logits.dtype)

    def impl(self, logits, labels):
        if len(labels) != len(logits):  # None dims: only known now; NumPy would pick rows silently
            raise ValueError(
                f"cross_entropy: {len(logits)} rows of logits {fmt_shape(logits.shape)} but {len(labels)} "
                f"labels {fmt_shape(labels.shape)} at run time"
            )
        check_labels(labels, logits.shape[1], self.name)
        logp = LOG_SOFTMAX.impl(logits, axis=1)
        return np.asarray(-np.mean(logp[np.arange(len(labels)), labels]))

    def dim_links(self, node):
        return (), [((0, 0), (1, 0))]  # one label per row

    def _dlogits(self, logits, labels, out):
        with site_of(out):  # one_hot_like checks the labels: its errors name the loss's line
            probs = softmax(logits, -1)
            batch = red.axis_size(logits, (0,), probs.dtype)
            return ew.div(ew.sub(probs, one_hot_like(labels, probs)), batch)

    def vjp(self, g, out, logits, labels):
        return (ew.mul(self._dlogits(logits, labels, out), g), None)

    def jvp(self, tangents, out, logits, labels):
        return red.sum(ew.mul(self._dlogits(logits, labels, out), tangents[0]))


def cross_entropy(logits, labels):
    return apply(CROSS_ENTROPY, logits, labels)


def check_labels(labels, classes, op_name):
    """Class indices must lie in [0, classes): NumPy would wrap negatives, one-hot would drop them."""
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise IndexError(
            f"{op_name}: labels must lie in [0, {classes}), got values from {labels.min()} to {labels.max()}"
        )


@register
class ONE_HOT_LIKE(Op):
    """One-hot rows for integer labels, with as many classes (and the dtype) as ref's last axis."""

    name = "one_hot_like"
    nondiff_inputs = (0, 1)
    shape_inputs = (1,)

    def infer(self, inputs, attrs):
        labels, ref = inputs
        return labels.shape + (ref.shape[-1],), ref.dtype

    def dim_links(self, node):
        labels, ref = node.inputs
        return [(0, d) for d in range(labels.ndim)] + [(1, ref.ndim - 1)], ()

    def impl(self, labels, ref):
        check_labels(labels, np.shape(ref)[-1], self.name)  # the gradient of a loss may be all that runs
        return (np.expand_dims(labels, -1) == np.arange(np.shape(ref)[-1])).astype(ref.dtype)


def one_hot_like(labels, ref):
    return apply(ONE_HOT_LIKE, labels, ref)
