"""User-defined differentiable functions: subclass `Function`, call `.apply(*args)`.

forward runs without recording; its outputs get one backward node that calls the user's
backward. Non-tensor arguments take `None` gradients, as in PyTorch.
"""
import numpy as np

from graphc.ir.derivatives import fit_to_input

from .grad_mode import is_grad_enabled, no_grad
from .tape import GradNode, freed_error, modified_error, node_class
from .tensor import Tensor


class FunctionCtx:
    """The `ctx` of forward/backward: saved tensors and anything else set as an attribute."""

    def __init__(self):
        self._saved = ()
        self._freed = False
        self._node_name = "Function"
        self.needs_input_grad = ()
        self.materialize_grads = True
        self._non_differentiable = set()

    def save_for_backward(self, *tensors):
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(
                    f"save_for_backward can only save tensors (or None), got {type(t).__name__}; "
                    "keep other values as attributes of ctx"
                )
        self._saved = tuple((t, None if t is None else t._version.value) for t in tensors)

    @property
    def saved_tensors(self):
        if self._freed:
            raise freed_error(self._node_name)
        for t, version in self._saved:
            if t is not None and t._version.value != version:
                raise modified_error(t.shape, t.dtype, t._version, version, self._node_name)
        return tuple(t for t, _ in self._saved)

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable.update(id(t) for t in tensors)

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)


class FunctionBackward(GradNode):
    def __init__(self, fn_cls, ctx, args, next_functions, outputs):
        super().__init__(next_functions, num_outputs=len(outputs))
        self.fn_cls = fn_cls
        self.ctx = ctx
        self.inputs_meta = [(a.shape, a.dtype) if isinstance(a, Tensor) else None for a in args]
        self.outputs_meta = [(o.shape, o.dtype) if isinstance(o, Tensor) else None for o in outputs]

    def apply(self, grads, wanted):
        if self.ctx.materialize_grads:
            grads = [
                Tensor._make(np.zeros(*meta)) if g is None and meta is not None else g
                for g, meta in zip(grads, self.outputs_meta)
            ]
        result = self.fn_cls.backward(self.ctx, *grads)
        result = result if isinstance(result, tuple) else (result,)
        n = len(self.inputs_meta)
        if len(result) < n or any(g is not None for g in result[n:]):
            raise RuntimeError(
                f"function {self.name()} returned an incorrect number of gradients (expected {n}, got {len(result)})"
            )
        out = []
        for i, (g, meta) in enumerate(zip(result, self.inputs_meta)):
            if meta is None:
                if g is not None:
                    raise RuntimeError(
                        f"function {self.name()} returned a gradient different than None at position "
                        f"{i + 1}, but the corresponding forward input was not a Tensor"
                    )
                out.append(None)
                continue
            if g is None or not wanted[i]:
                out.append(None)
                continue
            if not isinstance(g, Tensor):
                g = Tensor._make(np.asarray(g, dtype=meta[1]))
            out.append(_fit(self.name(), i, g, meta))
        return out

    def release(self):
        self.ctx._freed = True
        self.ctx._saved = ()


def _fit(name, index, grad, meta):
    """Sum a broadcast gradient down to its input's shape and cast it to the input's dtype."""
    shape, dtype = meta
    try:
        ok = grad.shape == shape or np.broadcast_shapes(grad.shape, shape) == grad.shape
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(
            f"function {name} returned an invalid gradient at index {index} - got {list(grad.shape)} but "
            f"expected shape compatible with {list(shape)}"
        )
    return fit_to_input(grad, Tensor._make(np.broadcast_to(np.zeros((), dtype), shape)))


class Function:
    """Base class of custom autograd functions (static forward(ctx, ...) and backward(ctx, ...))."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("subclasses of Function must define a static forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("subclasses of Function must define a static backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx._node_name = cls.__name__ + "Backward"
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            raw = cls.forward(ctx, *args, **kwargs)
        if not (is_grad_enabled() and any(ctx.needs_input_grad)):
            return raw
        outputs = list(raw) if isinstance(raw, tuple) else [raw]
        for k, o in enumerate(outputs):
            if isinstance(o, Tensor) and any(o is a for a in args):
                # An input returned as is becomes a new tensor (a view): the input keeps its history.
                outputs[k] = o = o.detach()
        edges = [a._grad_edge() if isinstance(a, Tensor) and a.requires_grad else None for a in args]
        node = node_class(FunctionBackward, ctx._node_name)(cls, ctx, args, edges, outputs)
        for k, o in enumerate(outputs):
            if isinstance(o, Tensor) and o.dtype.kind in "fc" and id(o) not in ctx._non_differentiable:
                o._set_history(node, k)
        return tuple(outputs) if isinstance(raw, tuple) else outputs[0]
