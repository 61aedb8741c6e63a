"""Neural-net ops with stable implementations and gradients (not compositions to be rescued)."""
import numpy as np

from ..dispatch import apply
from ..errors import ShapeError
from ..registry import Op, register
from ..source import site_of, user_site
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


def check_class_inputs(op_name, what, scores, labels):
    """(shape, dtype) of a loss over class scores (N, C) and integer labels (N,)."""
    if scores.ndim != 2 or labels.ndim != 1:
        raise ShapeError(
            f"{op_name}: expected {what} of shape (N, C) and labels of shape (N,); got "
            f"{fmt_shape(scores.shape)} and {fmt_shape(labels.shape)}"
        )
    if np.dtype(labels.dtype).kind not in "iu":
        raise TypeError(f"{op_name}: labels must be integer class indices, got dtype {labels.dtype}")
    n, m = scores.shape[0], labels.shape[0]
    if n is not None and m is not None and n != m:
        raise ShapeError(
            f"{op_name}: {n} rows of {what} {fmt_shape(scores.shape)} but {m} labels {fmt_shape(labels.shape)}"
        )
    return (), float_dtype_for(scores.dtype)


@register
class CROSS_ENTROPY(Op):
    """Mean over the batch of -log softmax(logits)[i, labels[i]]; logits (N, C), labels (N,) ints.

    label_smoothing = e (PyTorch's meaning) mixes the one-hot target with the uniform one: each
    row's loss is (1 - e) * -logp[label] + e * mean_c(-logp[c]), whose gradient is
    (softmax - ((1 - e) one_hot + e / C)) / N."""

    name, backward_name = "cross_entropy", "NllLoss"
    nondiff_inputs = (1,)

    def normalize(self, inputs, attrs):
        smoothing = attrs.get("label_smoothing", 0.0)
        if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float, np.integer, np.floating)):
            raise TypeError(f"cross_entropy: label_smoothing must be a number, got {type(smoothing).__name__}")
        if not 0.0 <= smoothing <= 1.0:  # also rejects nan
            raise ValueError(
                f"cross_entropy: label_smoothing must lie in [0.0, 1.0], got {smoothing} [built at {user_site()}]"
            )
        return {"label_smoothing": float(smoothing)}

    def infer(self, inputs, attrs):
        return check_class_inputs(self.name, "logits", *inputs)

    # the numba row kernel (label_smoothing 0 only) calls this without attributes on bad labels
    def impl(self, logits, labels, *, label_smoothing=0.0):
        if len(labels) != len(logits):  # None dims: only known now; NumPy would pick rows silently
            raise ValueError(
                f"cross_entropy: {len(logits)} rows of logits {fmt_shape(logits.shape)} but {len(labels)} "
                f"labels {fmt_shape(labels.shape)} at run time"
            )
        check_labels(labels, logits.shape[1], self.name)
        logp = LOG_SOFTMAX.impl(logits, axis=1)
        picked = -logp[np.arange(len(labels)), labels]
        if label_smoothing == 0.0:
            return np.asarray(np.mean(picked))
        uniform = -np.mean(logp, axis=1)
        return np.asarray(np.mean((1.0 - label_smoothing) * picked + label_smoothing * uniform), logp.dtype)

    def dim_links(self, node):
        return (), [((0, 0), (1, 0))]  # one label per row

    def _dlogits(self, logits, labels, out, label_smoothing):
        with site_of(out):  # one_hot_like checks the labels: its errors name the loss's line
            probs = softmax(logits, -1)
            batch = red.axis_size(logits, (0,), probs.dtype)
            target = one_hot_like(labels, probs)
            if label_smoothing != 0.0:
                classes = red.axis_size(logits, (1,), probs.dtype)
                target = ew.add(ew.mul(target, 1.0 - label_smoothing), ew.div(label_smoothing, classes))
            return ew.div(ew.sub(probs, target), batch)

    def vjp(self, g, out, logits, labels, *, label_smoothing):
        return (ew.mul(self._dlogits(logits, labels, out, label_smoothing), g), None)

    def jvp(self, tangents, out, logits, labels, *, label_smoothing):
        return red.sum(ew.mul(self._dlogits(logits, labels, out, label_smoothing), tangents[0]))


def cross_entropy(logits, labels, label_smoothing=0.0):
    return apply(CROSS_ENTROPY, logits, labels, label_smoothing=label_smoothing)


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
