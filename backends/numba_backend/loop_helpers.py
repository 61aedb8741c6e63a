"""Small numba functions the generated code of compiled loops calls (compiled_loop.py): copies
into the loop's buffers and the set-up and finish of a reduction's result, for arrays of any
rank (numba has no `a[...] = b` for every rank, nor 0-d array creation)."""
import numba
import numpy as np

_jit = numba.njit(nogil=True, error_model="numpy", fastmath=False)


@_jit
def copy_into(target, value):
    """target (C-contiguous) = value, element by element in C order; the shapes are equal."""
    flat = target.reshape(-1)
    source = np.ascontiguousarray(value).reshape(-1)
    for i in range(flat.size):
        flat[i] = source[i]


@_jit
def fill(target, value):
    flat = target.reshape(-1)
    for i in range(flat.size):
        flat[i] = value


@_jit
def divide_by(target, count):
    """A mean's result: its sum divided by the number of values summed, as np.divide does."""
    flat = target.reshape(-1)
    for i in range(flat.size):
        flat[i] = flat[i] / count
