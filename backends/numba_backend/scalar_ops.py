"""Scalar helpers for generated kernels whose NumPy semantics need care with nan and -0.0.

Written as selects so loops stay vectorizable. NumPy's maximum(a, b) is `a if a > b or a is nan
else b`: that returns b on ties (maximum(-0.0, 0.0) == 0.0) and propagates nan from either side.
"""
import numba
import numpy as np
from numba import types
from numba.extending import overload
from numba.np import numpy_support

# No fastmath: nsz would let LLVM pick either zero on ties, which these selects fix as NumPy does.
_jit = numba.njit(cache=True, error_model="numpy", forceinline=True)


@_jit
def vm_maximum(a, b):
    return a if (a > b or a != a) else b


@_jit
def vm_minimum(a, b):
    return a if (a < b or a != a) else b


@_jit
def vm_relu(x, zero):
    # `zero` comes typed from the kernel (x*0 would be nan for -inf); relu(-0.0) is +0.0 as in NumPy.
    return x if (x > 0 or x != x) else zero


@_jit
def vm_sign(x):
    # np.sign: -1/0/+1, nan for nan, and +0.0 for -0.0.
    return x if x != x else (x > 0) - (x < 0)


@_jit
def vm_clip(x, lo, hi):
    return vm_minimum(vm_maximum(x, lo), hi)


# Summation steps of the generated float sum kernels (codegen), compiled once per machine and
# called rather than inlined: written out in each kernel (above all the scratch arrays: numba
# compiles its np.empty per kernel) they tripled a kernel's compile time. They run once per
# block of values or once per call, not per value.
_step = numba.njit(cache=True, nogil=True, error_model="numpy")


@_step
def vm_float64_buffer(n):
    return np.empty(n, np.float64)


@_step
def vm_float32_buffer(n):
    return np.empty(n, np.float32)


@_step
def vm_widen(out):
    """A float64 copy of a float32 result to accumulate in."""
    return out.astype(np.float64)


@_step
def vm_narrow_into(out, wide):
    out[...] = wide


@_step
def vm_add_block(levels, filled, block, width):
    """Add the sum of block[:width] to a pairwise cascade and return the new count of blocks.

    The block sum is NumPy's pairwise base case: eight interleaved partial sums, then a tree.
    levels[b] holds the sum of 2**b blocks while bit b of `filled` is set, so equal-sized partial
    sums merge as soon as both are complete (pairwise summation over the blocks)."""
    for k in range(width, 8):  # a last block shorter than the eight partial sums
        block[k] = 0.0
    whole = max(width - width % 8, 8)
    r0, r1, r2, r3 = block[0], block[1], block[2], block[3]
    r4, r5, r6, r7 = block[4], block[5], block[6], block[7]
    for k in range(8, whole, 8):
        r0, r1, r2, r3 = r0 + block[k], r1 + block[k + 1], r2 + block[k + 2], r3 + block[k + 3]
        r4, r5, r6, r7 = r4 + block[k + 4], r5 + block[k + 5], r6 + block[k + 6], r7 + block[k + 7]
    s = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for k in range(whole, width):
        s = s + block[k]
    level = 0
    while filled >> level & 1:
        s = levels[level] + s
        level += 1
    levels[level] = s
    return filled + 1


@_step
def vm_cascade_total(levels, filled, total):
    """total plus every partial sum left in the cascade, smallest first."""
    level = 0
    while filled:
        if filled & 1:
            total = levels[level] + total
        filled >>= 1
        level += 1
    return total


@_step
def vm_flush_group(acc, part, width):
    """Add a group's partial column sums into the float64 ones and restart the group at 0."""
    for k in range(width):
        acc[k] = acc[k] + part[k]
        part[k] = 0




# ---- rounding, integer division and predicates, by NumPy's rules per dtype ------------------------
# numba's float floor returns an int (Python's math.floor), its int // and % return 0 for
# INT_MIN // -1 where NumPy wraps, and LLVM's sdiv is undefined behaviour for x / 0 and INT_MIN / -1.
# These overloads pick NumPy's definition for the argument types; codegen casts both operands of a
# division to the loop's dtype first (bool // bool runs in int8), so they share one type.
_OVERLOAD_OPTIONS = dict(error_model="numpy", forceinline=True)


def _jit_only(name):
    def stub(*args):
        raise NotImplementedError(f"{name} is callable from numba-compiled code only")

    stub.__name__ = stub.__qualname__ = name
    return stub


def _rounding(name, float_function):
    stub = _jit_only(name)

    @overload(stub, jit_options=_OVERLOAD_OPTIONS)
    def _ov(x):
        if isinstance(x, (types.Integer, types.Boolean)):
            return lambda x: x  # np.floor & co. return integers as they are
        if isinstance(x, types.Float):
            return lambda x: float_function(x)
    return stub


vm_floor = _rounding("vm_floor", np.floor)
vm_ceil = _rounding("vm_ceil", np.ceil)
vm_trunc = _rounding("vm_trunc", np.trunc)
vm_round_half_even = _rounding("vm_round_half_even", np.rint)


@_jit
def _float_divmod(a, b, zero, one, half):
    """NumPy's npy_divmod (npymath), for b != 0: the floor quotient and the remainder with the
    divisor's sign, from fmod, with its signs of zero and its snapping of the quotient. The
    constants come in a's type, so float32 stays float32 as in NumPy's float32 loop."""
    mod = np.fmod(a, b)
    div = (a - mod) / b
    nonzero = mod != 0  # nan counts as nonzero, as in C
    adjust = nonzero and ((b < 0) != (mod < 0))
    mod = (mod + b if adjust else mod) if nonzero else np.copysign(zero, b)
    div = div - one if adjust else div
    floordiv = np.floor(div)
    floordiv = floordiv + one if div - floordiv > half else floordiv
    floordiv = floordiv if div != 0 else np.copysign(zero, a / b)
    return floordiv, mod


@_jit
def _float_floor_divide(a, b, zero, one, half):
    return a / b if b == 0 else _float_divmod(a, b, zero, one, half)[0]


@_jit
def _float_remainder(a, b, zero, one, half):
    return np.fmod(a, b) if b == 0 else _float_divmod(a, b, zero, one, half)[1]


@_jit
def _signed_floor_divide(a, b, one):
    # b is never 0 or -1 in the division; a // -1 is -a, wrapping at INT_MIN as NumPy's does
    q = a // (one if (b == 0) | (b == -one) else b)
    negated = np.int64(np.uint64(0) - np.uint64(a))
    return 0 if b == 0 else (negated if b == -one else q)


@_jit
def _unsigned_floor_divide(a, b, one):
    return b if b == 0 else a // (one if b == 0 else b)


@_jit
def _signed_remainder(a, b, one):
    # x % -1 is 0 (and INT_MIN % -1 must not reach the division); x % 0 is 0 in NumPy
    r = a % (one if (b == 0) | (b == -one) else b)
    return b - b if b == 0 else r


@_jit
def _unsigned_remainder(a, b, one):
    return b if b == 0 else a % (one if b == 0 else b)


def _division(name, float_impl, signed_impl, unsigned_impl):
    stub = _jit_only(name)

    @overload(stub, jit_options=_OVERLOAD_OPTIONS)
    def _ov(a, b):
        if a != b:
            return None
        scalar = numpy_support.as_dtype(a).type
        if isinstance(a, types.Float):
            return lambda a, b: float_impl(a, b, scalar(0), scalar(1), scalar(0.5))
        if isinstance(a, types.Integer):
            impl = signed_impl if a.signed else unsigned_impl
            return lambda a, b: impl(a, b, scalar(1))
    return stub


vm_floor_divide = _division("vm_floor_divide", _float_floor_divide, _signed_floor_divide, _unsigned_floor_divide)
vm_remainder = _division("vm_remainder", _float_remainder, _signed_remainder, _unsigned_remainder)


@_jit
def vm_isnan(x):
    return x != x


@_jit
def vm_isinf(x):
    return (x == np.inf) | (x == -np.inf)


@_jit
def vm_isfinite(x):
    return (x == x) & (x != np.inf) & (x != -np.inf)
