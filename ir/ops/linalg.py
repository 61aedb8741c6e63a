"""matmul (NumPy semantics: 1-D promotion, broadcast batch dimensions) and transpose."""
import numpy as np

from ..dispatch import apply
from ..errors import ShapeError
from ..registry import Op, register
from ..types import broadcast_shapes, fmt_shape, ufunc_result_dtype
from . import elementwise as ew
from . import shape as shp


@register
class MATMUL(Op):
    name, broadcasts, backward_name = "matmul", True, "Mm"
    accepts_out = True

    def infer(self, inputs, attrs):
        x, y = inputs
        if x.ndim == 0 or y.ndim == 0:
            raise ShapeError(
                f"matmul: operands must have at least 1 dimension; got {fmt_shape(x.shape)} @ {fmt_shape(y.shape)}"
            )
        k1 = x.shape[-1]
        k2 = y.shape[-2] if y.ndim >= 2 else y.shape[0]
        if k1 is not None and k2 is not None and k1 != k2:
            raise ShapeError(
                f"matmul: shapes {fmt_shape(x.shape)} and {fmt_shape(y.shape)} do not align: "
                f"{k1} (last dim of the left) != {k2} (the right's contraction dim)"
            )
        try:
            batch = broadcast_shapes(x.shape[:-2], y.shape[:-2], op=self.name)
        except ShapeError:  # name the operands' shapes, not just their batch parts
            raise ShapeError(
                f"matmul: the batch dimensions of {fmt_shape(x.shape)} and {fmt_shape(y.shape)} cannot be "
                "broadcast together"
            ) from None
        rows = (x.shape[-2],) if x.ndim >= 2 else ()
        cols = (y.shape[-1],) if y.ndim >= 2 else ()
        return batch + rows + cols, ufunc_result_dtype(np.matmul, (x.dtype, y.dtype))

    def impl(self, x, y):
        return np.asarray(np.matmul(x, y))  # 1-D @ 1-D: a 0-d array, like every other op's result

    def unbroadcast_needed(self, index, inputs):
        return any(v.ndim > 2 for v in inputs)  # only batch dimensions broadcast

    def batches_along_new_axis(self, node, positions):
        # (..., m, k) @ (k, n) with a new leading axis on the left: one more batch dimension
        return list(positions) == [0] and node.inputs[1].ndim == 2

    def dim_links(self, node):
        x, y = node.inputs
        contraction = [((0, x.ndim - 1), (1, y.ndim - 2 if y.ndim >= 2 else 0))]
        batch_rank = node.ndim - (x.ndim >= 2) - (y.ndim >= 2)
        # the batch dims lead, so their axis numbers are those of the operands
        output, equal = ew.broadcast_links([v.shape[:-2] for v in (x, y)], batch_rank)
        if x.ndim >= 2:
            output.append((0, x.ndim - 2))
        if y.ndim >= 2:
            output.append((1, y.ndim - 1))
        return output, contraction + list(equal)

    def vjp(self, g, out, x, y):
        if x.ndim == 1 and y.ndim == 1:
            return (lambda: ew.mul(g, y), lambda: ew.mul(g, x))
        if x.ndim == 1:  # (k) @ (..., k, n) -> (..., n)
            return (
                lambda: shp.squeeze(matmul(y, shp.expand_dims(g, -1)), -1),
                lambda: ew.mul(shp.expand_dims(x, -1), shp.expand_dims(g, -2)),
            )
        if y.ndim == 1:  # (..., m, k) @ (k) -> (..., m)
            return (
                lambda: ew.mul(shp.expand_dims(g, -1), y),
                lambda: shp.squeeze(matmul(shp.expand_dims(g, -2), x), -2),
            )
        return (lambda: matmul(g, swap_last(y)), lambda: matmul(swap_last(x), g))

    def jvp(self, tangents, out, x, y):
        tx, ty = tangents
        return ew._plus(None if tx is None else matmul(tx, y), None if ty is None else matmul(x, ty))


def matmul(x, y):
    return apply(MATMUL, x, y)


@register
class TRANSPOSE(Op):
    name, linear, backward_name = "transpose", True, "Permute"
    returns_view = True

    def normalize(self, inputs, attrs):
        rank = inputs[0].ndim
        axes = attrs.get("axes")
        if axes is None:
            return {"axes": tuple(reversed(range(rank)))}
        axes = tuple(int(a) for a in axes)
        if len(axes) != rank or sorted(a % rank for a in axes) != list(range(rank)):
            raise ShapeError(f"transpose: axes {axes} are not a permutation of the {rank} axes")
        return {"axes": tuple(a % rank for a in axes)}

    def infer(self, inputs, attrs):
        return tuple(inputs[0].shape[a] for a in attrs["axes"]), inputs[0].dtype

    def impl(self, x, *, axes):
        return np.transpose(x, axes)

    def dim_links(self, node):
        return [(0, a) for a in node.attrs["axes"]], ()

    def vjp(self, g, out, x, *, axes):
        return (transpose(g, tuple(np.argsort(axes).tolist())),)


def transpose(x, axes=None):
    return apply(TRANSPOSE, x, axes=axes)


def swap_last(x):
    """Swap the last two axes (the matrix transpose of a batch of matrices)."""
    axes = list(range(x.ndim))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return transpose(x, axes)


