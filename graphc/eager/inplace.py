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
from graphc.ir.ops.elementwise import ADD
from graphc.ir.ops.indexing import build_key, check_mask_sizes, getitem_grad, parse_key
from graphc.ir.ops.shape import broadcast_like

from .apply import OpBackward, eager_apply
from .grad_mode import is_grad_enabled
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


def _adopt(target, new):
    """Make target the output of new's grad_fn (the rule's `out` now lives in target's memory)."""
    node, output_nr = new._grad_edge()
    target._set_history(node, output_nr)
    if isinstance(node, OpBackward):
        node.save_output(target)


def inplace(target, compute, name):
    """target <- compute(target), in place. compute builds the new value with ops."""
    _check_leaf(target)
    recording = is_grad_enabled()
    source = target._snapshot() if recording and target.requires_grad else target
    new = compute(source)
    if recording and target.requires_grad and not new.requires_grad:
        # The old value no longer matters (zero_, copy_ of a constant): its gradient is zero.
        new = F.where(np.zeros(target.shape, bool), source, new)
    if not (recording and new.requires_grad):
        target._assign(new, name)
        return target
    chain, base = target._view_steps()
    if not chain:
        target._assign(new, name)
        _adopt(target, new)
        return target
    new_base = _base_after(chain, base, source, new)
    target._assign(new, name)
    _adopt(base, new_base)
    _replay(chain, base)
    return target


def _base_after(chain, base, old_view, new_view):
    """base + (new_view - old_view) pushed back through the view ops (their VJPs scatter)."""
    delta = F.sub(new_view, old_view)
    for view, parent, op, attrs, extras in chain:
        wanted = [True] + [False] * len(extras)
        delta = call_vjp(op, delta, view, [parent, *extras], attrs, wanted)[0]
    return eager_apply(ADD, (base, delta), {}, grad_name="CopySlices")


def _replay(chain, base):
    """Give each view on the chain a grad_fn that reads the rewritten base (PyTorch regenerates it)."""
    parent = base
    for view, _, op, attrs, extras in reversed(chain):
        fresh = eager_apply(op, (parent, *extras), attrs)
        if fresh.grad_fn is not None:
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
        target._bump_version("index_put_")
    # old + (new - old) can be off in the last bit: store the assigned values exactly
    target._store(build_key(spec, arrays), value._read() if isinstance(value, Tensor) else value)
