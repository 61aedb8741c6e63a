"""The eager frontend of `graphc.ir.dispatch.apply`: run an op now and record it on the tape.

Nothing about an op is written here: weak scalars, attribute normalization, shape/dtype checks,
the computation, which inputs are read only for their shape and which results are views all come
from the op's declaration, exactly as graph mode builds a node.
"""
import numpy as np

from graphc.ir.derivatives import call_vjp
from graphc.ir.dispatch import plain_dtype, register_frontend, register_plain_handler, resolve_weak_scalars
from graphc.ir.errors import GraphcError
from graphc.ir.source import user_site

from .grad_mode import is_grad_enabled
from .tape import GradNode, SavedTensor, node_class
from .tensor import Tensor


class OpBackward(GradNode):
    """The backward of one registry op: calls the op's VJP rule through the shared caller."""

    def __init__(self, op, attrs, saved_inputs, next_functions):
        super().__init__(next_functions)
        self.op = op
        self.attrs = attrs
        self.saved_inputs = saved_inputs  # SavedTensor for tensors, plain ndarray otherwise
        self.saved_output = None

    def save_output(self, tensor):
        self.saved_output = SavedTensor(tensor, None, self.name(), is_output=True)

    def apply(self, grads, wanted):
        inputs = [Tensor._saved_alias(s, s.edge) if isinstance(s, SavedTensor) else s for s in self.saved_inputs]
        out = Tensor._saved_alias(self.saved_output, self.saved_output.edge_for(self))
        return call_vjp(self.op, grads[0], out, inputs, self.attrs, wanted)

    def release(self):
        for s in self.saved_inputs:
            if isinstance(s, SavedTensor):
                s.release()
        self.saved_output.release()


def make_op_node(op, attrs, args, arrays, grad_name=None):
    """Record op(args): save every input (the rule may read any) and link to their nodes."""
    name = grad_name or op.grad_fn_name
    saved, edges = [], []
    for i, (a, arr) in enumerate(zip(args, arrays)):
        if isinstance(a, Tensor):
            edge = a._grad_edge() if not op.is_nondiff_input(i) else None
            saved.append(SavedTensor(a, a._grad_edge(), name))
        else:
            edge = None
            saved.append(arr)
        edges.append(edge)
    return node_class(OpBackward, name)(op, attrs, saved, edges)


def _dtype_of(value):
    return value.dtype if isinstance(value, Tensor) else plain_dtype(value)


def _records(op, args, attrs, dtype):
    if not is_grad_enabled() or dtype.kind not in "fc" or op.blocks_gradient(attrs):
        return False
    return any(
        isinstance(a, Tensor) and a.requires_grad and not op.is_nondiff_input(i) for i, a in enumerate(args)
    )


def eager_apply(op, args, attrs, grad_name=None):
    """Compute op(*args) on the tensors' arrays; the result is a Tensor, recorded if it needs grad."""
    args = resolve_weak_scalars(args, _dtype_of) if op.elementwise else list(args)
    # An input read only for its shape may be read after the graph was freed or the tensor changed
    # in place: like PyTorch, which saves only sizes for such uses.
    arrays = [
        a._read(op.is_shape_input(i)) if isinstance(a, Tensor) else np.asarray(a) for i, a in enumerate(args)
    ]
    try:
        attrs = op.normalize(arrays, dict(attrs))
        _, dtype = op.infer(arrays, attrs)  # the same shape/dtype errors as graph mode
    except GraphcError as err:
        raise type(err)(f"{err} [at {user_site()}]") from None
    except TypeError as err:
        raise TypeError(f"{err} [at {user_site()}]") from None
    result = np.asarray(op.impl(*arrays, **attrs))
    # PyTorch's view ops: their output shares memory and the version counter with input 0, so an
    # in-place write shows through both ways.
    view_of = args[0] if op.returns_view and isinstance(args[0], Tensor) else None
    if view_of is not None and not np.may_share_memory(result, arrays[0]):
        view_of = None  # NumPy had to copy (e.g. reshape of a transposed array): a new tensor
    if view_of is None and (not result.flags.writeable or any(np.may_share_memory(result, a) for a in arrays)):
        result = result.copy()  # only view ops may alias their inputs; the rest own their data
    out = Tensor._make(result) if view_of is None else view_of._view(result, op, attrs, tuple(args[1:]))
    if _records(op, args, attrs, dtype):
        node = make_op_node(op, attrs, args, arrays, grad_name)
        out._set_history(node)
        node.save_output(out)
    return out


def _handler(op, args, attrs):
    return eager_apply(op, args, attrs)


register_frontend(Tensor, _handler, priority=1)  # graph nodes (priority 0) win when both meet
register_plain_handler(_handler)  # ops on plain arrays and scalars give tensors too
