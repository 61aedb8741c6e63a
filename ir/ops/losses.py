"""Losses, mean over the batch, with PyTorch's meanings (cross_entropy lives in nn.py).

mse_loss is a composition: its value and gradient (2 (pred - target) / N) are stable as they
are, and the numba backend fuses it into one kernel. nll_loss and
binary_cross_entropy_with_logits are ops, so their gradients are the closed forms
(-one_hot / N and (sigmoid(z) - t) / N) rather than sums of partial terms that cancel, and
the logits of a BCE never pass through sigmoid-then-log, whose log(0) is -inf at |z| > 37.
"""
import numpy as np

from ..dispatch import apply
from ..errors import ShapeError
from ..registry import Op, register
from ..source import site_of, user_site
from ..types import fmt_shape, shapes_agree
from . import elementwise as ew
from . import reductions as red
from .nn import check_class_inputs, check_labels, one_hot_like
from .softplus import SOFTPLUS


def _shape_and_dtype(x):
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return tuple(x.shape), np.dtype(x.dtype)
    x = np.asarray(x)
    return x.shape, x.dtype


def _check_same_shape_floats(op_name, first, second, a, b):
    """PyTorch's elementwise losses compare equal shapes (no broadcasting, which would silently
    average over a cross product) of floating-point values."""
    (shape_a, dtype_a), (shape_b, dtype_b) = _shape_and_dtype(a), _shape_and_dtype(b)
    if not shapes_agree(shape_a, shape_b):
        raise ShapeError(
            f"{op_name}: {first} {fmt_shape(shape_a)} and {second} {fmt_shape(shape_b)} must have the "
            f"same shape [built at {user_site()}]"
        )
    if dtype_a.kind != "f" or dtype_b.kind != "f":
        raise TypeError(
            f"{op_name}: expected floating-point {first} and {second}, got {dtype_a} and {dtype_b} "
            f"[built at {user_site()}]"
        )


def mse_loss(pred, target):
    """mean((pred - target) ** 2) over every element."""
    _check_same_shape_floats("mse_loss", "pred", "target", pred, target)
    return red.mean(ew.square(ew.sub(pred, target)))


@register
class NLL_LOSS(Op):
    """Mean over the batch of -log_probs[i, labels[i]]; log_probs (N, C), labels (N,) ints."""

    name = "nll_loss"
    nondiff_inputs = (1,)
    linear = True  # in log_probs: the JVP is the loss of the tangent

    def infer(self, inputs, attrs):
        return check_class_inputs(self.name, "log_probs", *inputs)

    def impl(self, log_probs, labels):
        _check_rows_at_run_time(self.name, "log_probs", log_probs, labels)
        check_labels(labels, log_probs.shape[1], self.name)
        picked = log_probs[np.arange(len(labels)), labels]
        return np.asarray(-np.mean(picked), dtype=_float_dtype(log_probs.dtype))

    def dim_links(self, node):
        return (), [((0, 0), (1, 0))]  # one label per row

    def vjp(self, g, out, log_probs, labels):
        with site_of(out):  # one_hot_like checks the labels: its errors name the loss's line
            picked = one_hot_like(labels, log_probs)
            batch = red.axis_size(log_probs, (0,), picked.dtype)
            return (ew.mul(ew.neg(ew.div(picked, batch)), g), None)


def _float_dtype(dtype):
    return dtype if np.dtype(dtype).kind == "f" else np.dtype(np.float64)


def _check_rows_at_run_time(op_name, what, scores, labels):
    if len(labels) != len(scores):  # None dims: only known now; NumPy would pick rows silently
        raise ValueError(
            f"{op_name}: {len(scores)} rows of {what} {fmt_shape(scores.shape)} but {len(labels)} "
            f"labels {fmt_shape(labels.shape)} at run time"
        )


def nll_loss(log_probs, labels):
    return apply(NLL_LOSS, log_probs, labels)


@register
class BINARY_CROSS_ENTROPY_WITH_LOGITS(Op):
    """Mean over every element of -(t log sigmoid(z) + (1 - t) log(1 - sigmoid(z))), computed as
    (1 - t) z + softplus(-z), PyTorch's form (inf, not inf - inf, at z = inf and t = 0): finite
    wherever z and t are, with the gradient (sigmoid(z) - t) / N."""

    name, backward_name = "binary_cross_entropy_with_logits", "BinaryCrossEntropyWithLogits"

    def infer(self, inputs, attrs):
        logits, targets = inputs
        if not shapes_agree(logits.shape, targets.shape):
            raise ShapeError(
                f"{self.name}: logits {fmt_shape(logits.shape)} and targets {fmt_shape(targets.shape)} "
                "must have the same shape"
            )
        if logits.dtype.kind != "f" or targets.dtype.kind != "f":
            raise TypeError(
                f"{self.name}: expected floating-point logits and targets, got {logits.dtype} and {targets.dtype}"
            )
        return (), np.result_type(logits.dtype, targets.dtype)

    def dim_links(self, node):
        return (), [((0, d), (1, d)) for d in range(node.inputs[0].ndim)]

    def impl(self, logits, targets):
        if logits.shape != targets.shape:  # None dims: only known now
            raise ValueError(
                f"{self.name}: logits {fmt_shape(logits.shape)} and targets {fmt_shape(targets.shape)} "
                "differ in shape at run time"
            )
        dtype = np.result_type(logits.dtype, targets.dtype)
        z, t = logits.astype(dtype, copy=False), targets.astype(dtype, copy=False)
        return np.asarray(np.mean((1 - t) * z + SOFTPLUS.impl(-z)), dtype=dtype)

    def _partials(self, logits, targets, out):
        with site_of(out):
            count = red.axis_size(logits, tuple(range(logits.ndim)), out.dtype)
            return ew.div(ew.sub(ew.sigmoid(logits), targets), count), ew.div(ew.neg(logits), count)

    def vjp(self, g, out, logits, targets):
        dlogits, dtargets = self._partials(logits, targets, out)
        return ew.mul(dlogits, g), ew.mul(dtargets, g)

    def jvp(self, tangents, out, logits, targets):
        total = None
        for tangent, partial in zip(tangents, self._partials(logits, targets, out)):
            if tangent is not None:
                term = red.sum(ew.mul(partial, tangent))
                total = term if total is None else ew.add(total, term)
        return total


def binary_cross_entropy_with_logits(logits, targets):
    return apply(BINARY_CROSS_ENTROPY_WITH_LOGITS, logits, targets)
