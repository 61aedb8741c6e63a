"""Scalar helpers for generated kernels whose NumPy semantics need care with nan and -0.0.

Written as selects so loops stay vectorizable. NumPy's maximum(a, b) is `a if a > b or a is nan
else b`: that returns b on ties (maximum(-0.0, 0.0) == 0.0) and propagates nan from either side.
"""
import numba

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
