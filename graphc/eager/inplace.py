"""In-place updates (`add_`, `+=`, `x[i] = v`, ...) and how they rewrite the autograd history.

The new value is computed with ordinary ops, so its gradient comes from the registry like any
other; it is then written into the tensor's memory and the shared version counter is bumped, so a
gradient rule that later reads the old value raises instead of silently using the new one.
Writing through a view re-expresses the base as `base + scatter(new_view - old_view)` (PyTorch's
CopySlices): inside the view the gradient is the view's, outside it is the identity.
"""
import numpy as np

from graphc.ir import ops as F
from graphc.ir.derivatives import call_vjp
from graphc.ir.ops.indexing import build_key, check_mask_sizes, getitem_grad, parse_key
from graphc.ir.ops.shape import broadcast_like
from graphc.ir.registry import OPS

from .apply import eager_apply
from .grad_mode import is_grad_enabled
from .tape import OpBackward
from .tensor import Tensor


def plain_key(key):
    """Index tensors become arrays: indices carry no gradient, and a known mask has a known size."""
    if isinstance(key, Tensor):
        return key._read()
    if isinstance(key, tuple):
        return tuple(k._read() if isinstance(k, Tensor) else k for k in key)
    return key


def _check_leaf(target):
    if not is_grad_enabled():
        return
    if target.is_leaf and target.requires_grad:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation; wrap it in "
            "`with gc.no_grad():` (e.g. for a parameter update) or work on a clone()"
        )
    base = target._base
    if base is not None and base.is_leaf and base.requires_grad:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place operation; "
            "wrap it in `with gc.no_grad():` or work on a clone()"
        )


def _snapshot(target):
    """A copy of target's values with target's autograd identity: what the op's rule will read."""
    copy = Tensor._make(np.array(target._data, copy=True))
    copy._grad_fn, copy._output_nr = target._grad_fn, target._output_nr
    copy._requires_grad = target._requires_grad
    copy._accumulator = target._accumulator
    return copy


def _view_chain(view):
    chain = []
    while view._view_parent is not None:
        chain.append(view)
        view = view._view_parent
    return chain, view


def _adopt(target, new):
    """Make target the output of new's grad_fn (the rule's `out` now lives in target's memory)."""
    node = new._grad_fn
    target._grad_fn, target._output_nr = node, new._output_nr
    if isinstance(node, OpBackward):
        node.save_output(target)


def _write(target, new, name):
    if not np.can_cast(new.dtype, target.dtype, casting="same_kind"):
        raise RuntimeError(f"{name}: result type {new.dtype} can't be cast to the desired output type {target.dtype}")
    if new.shape != target.shape:
        raise RuntimeError(f"{name}: output with shape {target.shape} doesn't match the broadcast shape {new.shape}")
    np.copyto(target._data, new._data, casting="same_kind")
    target._version.bump(name)


def inplace(target, compute, name):
    """target <- compute(target), in place. compute builds the new value with ops."""
    _check_leaf(target)
    recording = is_grad_enabled()
    source = _snapshot(target) if recording and target.requires_grad else target
    new = compute(source)
    if recording and target.requires_grad and not new.requires_grad:
        # The old value no longer matters (zero_, copy_ of a constant): its gradient is zero.
        new = F.where(np.zeros(target.shape, bool), source, new)
    if not (recording and new.requires_grad):
        _write(target, new, name)
        return target
    chain, base = _view_chain(target)
    if not chain:
        _write(target, new, name)
        _adopt(target, new)
        return target
    new_base = _base_after(chain, base, source, new)
    _write(target, new, name)
    _adopt(base, new_base)
    _replay(chain, base)
    return target


def _base_after(chain, base, old_view, new_view):
    """base + (new_view - old_view) pushed back through the view ops (their VJPs scatter)."""
    delta = F.sub(new_view, old_view)
    for view in chain:
        op, attrs, extras = view._view_fn
        parent = view._view_parent
        wanted = [True] + [False] * len(extras)
        delta = call_vjp(op, delta, view, [parent, *extras], attrs, wanted)[0]
    return eager_apply(OPS["add"], (base, delta), {}, grad_name="CopySlices")


def _replay(chain, base):
    """Give each view on the chain a grad_fn that reads the rewritten base (PyTorch regenerates it)."""
    parent = base
    for view in reversed(chain):
        op, attrs, extras = view._view_fn
        fresh = eager_apply(op, (parent, *extras), attrs)
        if fresh._grad_fn is not None:
            _adopt(view, fresh)
        parent = view


def copy_(target, src):
    def compute(t):
        value = src if isinstance(src, Tensor) else np.asarray(src)
        return broadcast_like(F.astype(value, t.dtype), t)

    return inplace(target, compute, "copy_")


def setitem(target, key, value):
    key = plain_key(key)
    spec, arrays = parse_key(key)
    check_mask_sizes(target.shape, spec)  # the mask's True places alone would fit a shorter axis
    if not arrays:  # basic indexing: a view, written through
        copy_(target[key], value)
        return
    # Integer-array indexing makes no view: rebuild the whole tensor with those entries replaced.
    value = value if isinstance(value, Tensor) else np.asarray(value)
    if is_grad_enabled() and (target.requires_grad or (isinstance(value, Tensor) and value.requires_grad)):
        def compute(t):
            old = F.getitem(t, key)
            val = broadcast_like(F.astype(value, t.dtype), old)
            return F.add(t, getitem_grad(F.sub(val, old), t, arrays, spec))

        inplace(target, compute, "index_put_")
    else:
        target._version.bump("index_put_")
    # old + (new - old) can be off in the last bit: store the assigned values exactly
    target._data[build_key(spec, arrays)] = value._read() if isinstance(value, Tensor) else value
