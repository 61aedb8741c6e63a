"""The eager frontend of `graphc.ir.dispatch.apply`: run an op now and record it on the tape.

Nothing about an op is written here: weak scalars, attribute normalization, shape/dtype checks
and the computation all come from the registry, exactly as graph mode builds a node.
"""
import numpy as np

from graphc.ir.dispatch import plain_dtype, register_frontend, register_plain_handler, resolve_weak_scalars
from graphc.ir.errors import GraphcError
from graphc.ir.source import user_site

from .grad_mode import is_grad_enabled
from .tape import make_op_node
from .tensor import Tensor

# Ops whose result is a NumPy view of their first input: PyTorch's view ops. Their output shares
# memory and the version counter with the input, so an in-place write shows through both ways.
VIEW_OPS = frozenset({
    "getitem", "reshape", "reshape_like", "transpose", "expand_dims", "squeeze", "broadcast_to",
    "broadcast_like",
})

# Inputs that an op reads only for their shape (the reference of `sum_like`, ...). Gradient rules
# pass saved tensors there; like PyTorch, which saves only sizes for such uses, reading them is
# allowed after the graph was freed or the tensor changed in place.
_SHAPE_ONLY = {
    "broadcast_like": lambda i: i == 1, "sum_like": lambda i: i == 1, "reshape_like": lambda i: i == 1,
    "zeros_like": lambda i: i == 0, "axis_size": lambda i: i == 0, "one_hot_like": lambda i: i == 1,
    "getitem_grad": lambda i: i == 1, "index_add": lambda i: i == 1, "scatter_add": lambda i: i == 1,
    "concat_part": lambda i: i >= 1,
}
_NEVER = lambda i: False  # noqa: E731


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
    shape_only = _SHAPE_ONLY.get(op.name, _NEVER)
    arrays = [
        a._read(shape_only(i)) if isinstance(a, Tensor) else np.asarray(a) for i, a in enumerate(args)
    ]
    try:
        attrs = op.normalize(arrays, dict(attrs))
        _, dtype = op.infer(arrays, attrs)  # the same shape/dtype errors as graph mode
    except GraphcError as err:
        raise type(err)(f"{err} [at {user_site()}]") from None
    except TypeError as err:
        raise TypeError(f"{err} [at {user_site()}]") from None
    result = np.asarray(op.impl(*arrays, **attrs))
    view_of = args[0] if op.name in VIEW_OPS and isinstance(args[0], Tensor) else None
    if view_of is not None and not np.may_share_memory(result, arrays[0]):
        view_of = None  # NumPy had to copy (e.g. reshape of a transposed array): a new tensor
    if view_of is None and (not result.flags.writeable or any(np.may_share_memory(result, a) for a in arrays)):
        result = result.copy()  # only view ops may alias their inputs; the rest own their data
    out = Tensor._make(result)
    if view_of is not None:
        out._version = view_of._version
        out._base = view_of._base if view_of._base is not None else view_of
        out._view_parent = view_of
        out._view_fn = (op, attrs, tuple(args[1:]))
    if _records(op, args, attrs, dtype):
        node = make_op_node(op, attrs, args, arrays, grad_name)
        out._grad_fn = node
        node.save_output(out)
    return out


def _handler(op, args, attrs):
    return eager_apply(op, args, attrs)


register_frontend(Tensor, _handler, priority=1)  # graph nodes (priority 0) win when both meet
register_plain_handler(_handler)  # ops on plain arrays and scalars give tensors too
