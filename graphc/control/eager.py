"""Control flow on eager tensors and plain values (API.md section 9): cond, while_loop, scan and
fori_loop run as Python control flow, so the tape records exactly the ops that run and backward()
goes through them like through any Python loop. What makes them more than a Python loop is the
contract they share with graph mode: a loop keeps its carry's structure, dtypes and shapes, a
predicate is a 0-d value, and a while_loop never runs past max_iterations silently; the errors
name the carry's leaf and the user's line of the call, as graph mode's do.
"""
import numbers
import operator

import numpy as np

from graphc.eager.grad_mode import no_grad
from graphc.eager.tensor import Tensor
from graphc.ir.dispatch import plain_dtype
from graphc.ir.errors import IterationLimitError, ShapeError
from graphc.ir.ops import stack
from graphc.ir.source import user_site

from .pytree import flatten, leaf_paths, unflatten, with_index_hint

__all__ = ["cond", "while_loop", "scan", "fori_loop"]

# A None leaf is an empty place in a structure (a y that a step does not produce), not a value.
_NONE_SPEC = (None, None)


def _site():
    return f" [at {user_site()}]"


def _truth(fn_name, what, pred):
    """The Python bool of a predicate; a 0-d value only, so that eager and graph mode agree."""
    if isinstance(pred, Tensor):
        shape = pred.shape
    elif isinstance(pred, (np.ndarray, np.generic, numbers.Number)):
        shape = np.shape(pred)
    else:
        raise TypeError(f"{fn_name}: {what} must be a bool or a 0-d tensor/array, got "
                        f"{type(pred).__name__}{_site()}")
    if shape != ():
        raise TypeError(f"{fn_name}: {what} must be a bool or a 0-d tensor/array, got one of shape "
                        f"{shape}{_site()}")
    return bool(pred.item() if isinstance(pred, Tensor) else np.asarray(pred).item())


def _spec(fn_name, name, leaf):
    """(shape, dtype) of a leaf of a carry or of a step's y."""
    if leaf is None:
        return _NONE_SPEC
    if isinstance(leaf, (Tensor, np.ndarray, np.generic)):
        return leaf.shape, leaf.dtype
    if isinstance(leaf, numbers.Number):
        return (), plain_dtype(leaf)
    raise TypeError(f"{fn_name}: {name} is a {type(leaf).__name__}, not a tensor, array or "
                    f"scalar{_site()}")


def _leaf_name(prefix, path):
    return prefix if path == "value" else prefix + path


class _Signature:
    """The structure, dtypes and shapes a loop carry (or a scan's y) must keep from step to step."""

    def __init__(self, fn_name, prefix, value):
        self.fn_name, self.prefix = fn_name, prefix
        leaves, self.treedef = flatten(value)
        self.names = [_leaf_name(prefix, p) for p in leaf_paths(self.treedef)]
        self.specs = [_spec(fn_name, n, leaf) for n, leaf in zip(self.names, leaves)]

    def check(self, producer, value):
        """The leaves of `value`, which `producer` returned in place of a value of this signature."""
        leaves, treedef = flatten(value)
        if treedef != self.treedef:
            raise TypeError(f"{self.fn_name}: {producer} returned {self.prefix} with structure "
                            f"{treedef!r}, but it must keep the structure {self.treedef!r}{_site()}")
        for name, (shape, dtype), leaf in zip(self.names, self.specs, leaves):
            new_shape, new_dtype = _spec(self.fn_name, name, leaf)
            if (new_shape is None) != (shape is None):
                raise TypeError(f"{self.fn_name}: {producer} returned {name} as "
                                f"{'None' if new_shape is None else 'a value'}, but it was "
                                f"{'None' if shape is None else 'a value'}{_site()}")
            if new_shape != shape:
                raise ShapeError(f"{self.fn_name}: {producer} changed the shape of {name} from "
                                 f"{shape} to {new_shape}{_site()}")
            if new_dtype != dtype:
                raise TypeError(f"{self.fn_name}: {producer} changed the dtype of {name} from "
                                f"{dtype} to {new_dtype}{_site()}")
        return leaves


def cond(pred, true_fn, false_fn, *operands):
    """true_fn(*operands) if pred else false_fn(*operands); only the taken branch runs (and only
    it is recorded, so only it gets gradients)."""
    branch = true_fn if _truth("cond", "pred", pred) else false_fn
    return branch(*operands)


def _check_max_iterations(max_iterations):
    if max_iterations is None:
        return None
    if isinstance(max_iterations, bool) or not isinstance(max_iterations, numbers.Integral):
        raise TypeError(f"while_loop: max_iterations must be None or an int, got "
                        f"{type(max_iterations).__name__}{_site()}")
    if max_iterations < 0:
        raise ValueError(f"while_loop: max_iterations must be >= 0, got {max_iterations}{_site()}")
    return int(max_iterations)


def while_loop(cond_fn, body_fn, init_val, max_iterations=None):
    """val = body_fn(val) while cond_fn(val); returns the last val (init_val when cond_fn is false
    at once). A loop whose condition still holds after max_iterations bodies raises."""
    limit = _check_max_iterations(max_iterations)
    carry = _Signature("while_loop", "carry", init_val)
    val, trips = init_val, 0
    while _truth("while_loop", "cond_fn's result", cond_fn(val)):
        if trips == limit:
            raise IterationLimitError(f"while_loop: the condition still holds after "
                                      f"max_iterations={limit} iterations{_site()}")
        val = body_fn(val)
        carry.check("body_fn", val)
        trips += 1
    return val


def _bound(value):
    """(int value, dtype or None for a Python int) of a fori_loop bound."""
    if isinstance(value, bool) or isinstance(value, np.bool_):
        raise TypeError(f"fori_loop: bounds must be integers, got a bool{_site()}")
    if isinstance(value, numbers.Integral):
        return int(value), (value.dtype if isinstance(value, np.integer) else None)
    if isinstance(value, (Tensor, np.ndarray)):
        if value.shape != () or value.dtype.kind not in "iu":
            raise TypeError(f"fori_loop: bounds must be 0-d integers, got {value.dtype} of shape "
                            f"{value.shape}{_site()}")
        return int(value.item()), value.dtype
    raise TypeError(f"fori_loop: bounds must be integers, got {type(value).__name__}{_site()}")


def fori_loop(lower, upper, body_fn, init_val):
    """val = body_fn(i, val) for i in range(lower, upper); i is a 0-d integer tensor (int64, or
    the bounds' dtype when they are integer arrays or tensors). upper <= lower: no trips."""
    (start, start_dtype), (stop, stop_dtype) = _bound(lower), _bound(upper)
    dtypes = [d for d in (start_dtype, stop_dtype) if d is not None]
    index_dtype = np.result_type(*dtypes) if dtypes else np.dtype(np.int64)
    carry = _Signature("fori_loop", "carry", init_val)
    val = init_val
    for i in range(start, stop):
        val = body_fn(Tensor(np.array(i, dtype=index_dtype)), val)
        try:
            carry.check("body_fn", val)
        except TypeError as err:
            raise with_index_hint(err, index_dtype) from None
    return val


def _scan_length(xs_leaves, xs_names, length):
    """The trip count: the leading length shared by xs' leaves, and `length` when given."""
    if length is not None:
        if isinstance(length, bool):
            raise TypeError(f"scan: length must be an int, got a bool{_site()}")
        try:
            length = operator.index(length)
        except TypeError:
            raise TypeError(f"scan: length must be an int, got {type(length).__name__}{_site()}") from None
        if length < 0:
            raise ValueError(f"scan: length must be >= 0, got {length}{_site()}")
    sizes = {}
    for name, leaf in zip(xs_names, xs_leaves):
        shape = np.shape(leaf) if not isinstance(leaf, Tensor) else leaf.shape
        if leaf is None or not shape:
            raise ValueError(f"scan: {name} has no leading axis to scan over{_site()}")
        sizes[name] = shape[0]
    if not sizes:
        if length is None:
            raise ValueError(f"scan: give xs or length (neither says how many steps to run){_site()}")
        return length
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{name}: {size}" for name, size in sizes.items())
        raise ValueError(f"scan: the leaves of xs have different leading lengths ({listed}){_site()}")
    (n,) = set(sizes.values())
    if length is not None and length != n:
        raise ValueError(f"scan: length={length} but xs have leading length {n}{_site()}")
    return n


def _split_step(result):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TypeError(f"scan: fn must return a pair (carry, y), got {type(result).__name__}{_site()}")
    return result


def _stack(values):
    """One ys leaf from the steps' y leaves; a tensor (recorded) when any step gave a tensor."""
    if values[0] is None:
        return None
    if any(isinstance(v, Tensor) for v in values):
        return stack(values)
    return np.stack(values)


def _zeros(like, shape, dtype):
    """Zeros of the kind of `like`: a tensor for a tensor, else an array."""
    array = np.zeros(shape, dtype)
    return Tensor(array) if isinstance(like, Tensor) else array


def _empty_ys(fn, init, xs_leaves, xs_def, carry):
    """The ys of a 0-step scan: fn runs once on zero rows, unrecorded, only to learn y's structure,
    dtypes and shapes (JAX traces fn once for the same reason), and each ys leaf is an empty
    (0, ...) stack of that y leaf."""
    rows = [_zeros(leaf, leaf.shape[1:], leaf.dtype) for leaf in xs_leaves]
    x = None if xs_def is None else unflatten(xs_def, rows)
    with no_grad(), np.errstate(all="ignore"):  # zeros may well divide by zero: nothing reads them
        new_carry, y = _split_step(fn(init, x))
    carry.check("fn", new_carry)
    y_sig = _Signature("scan", "y", y)
    empty = [None if shape is None else _zeros(leaf, (0,) + shape, dtype)
             for leaf, (shape, dtype) in zip(flatten(y)[0], y_sig.specs)]
    return unflatten(y_sig.treedef, empty)


def scan(fn, init, xs=None, length=None, reverse=False):
    """(carry, y) = fn(carry, x) for each x along xs' axis 0 (x is None when xs is None); returns
    (final carry, ys) with each y leaf stacked along a new axis 0. reverse=True runs from the last
    row to the first, and ys[i] is still the y of xs[i] (JAX's meaning)."""
    xs_leaves, xs_def = ([], None) if xs is None else flatten(xs)
    xs_names = [] if xs_def is None else [_leaf_name("xs", p) for p in leaf_paths(xs_def)]
    n = _scan_length(xs_leaves, xs_names, length)
    carry = _Signature("scan", "carry", init)
    if n == 0:
        return init, _empty_ys(fn, init, xs_leaves, xs_def, carry)
    steps = range(n - 1, -1, -1) if reverse else range(n)
    val, ys_steps, y_sig = init, [], None
    for i in steps:
        x = None if xs_def is None else unflatten(xs_def, [leaf[i] for leaf in xs_leaves])
        val, y = _split_step(fn(val, x))
        carry.check("fn", val)
        if y_sig is None:
            y_sig = _Signature("scan", "y", y)
        ys_steps.append(y_sig.check("fn", y))
    if reverse:
        ys_steps.reverse()
    ys = [_stack([step[k] for step in ys_steps]) for k in range(len(y_sig.specs))]
    return val, unflatten(y_sig.treedef, ys)
