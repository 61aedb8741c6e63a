"""Scalar helpers for generated kernels whose NumPy semantics need care with nan and -0.0.

Written as selects so loops stay vectorizable. NumPy's maximum(a, b) is `a if a > b or a is nan
else b`: that returns b on ties (maximum(-0.0, 0.0) == 0.0) and propagates nan from either side.
"""
import numba
import numpy as np

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

