"""ir.philox's functions compiled by numba for the scalar code of fused loops.

They are the same Python functions the random ops' NumPy reference runs on arrays, compiled with
their helpers bound to the compiled helpers (numba calls only compiled functions), so a kernel
gives bit for bit the values of the reference. Inlined into the loop like vecmath's functions;
no fastmath, so the float steps are not contracted or reordered.
"""
import types

import numba

from graphc.ir import philox

_jit = numba.njit(error_model="numpy", forceinline=True)


def _compiled(names):
    """{name: dispatcher} for ir.philox's functions, their globals bound to the compiled ones."""
    namespace = dict(vars(philox))
    compiled = {}
    for name in names:
        fn = getattr(philox, name)
        copy = types.FunctionType(fn.__code__, namespace, name, fn.__defaults__)
        copy.__module__, copy.__qualname__ = __name__, name  # kernels import it from this module
        namespace[name] = compiled[name] = _jit(copy)
    return compiled


_COMPILED = _compiled(philox.HELPERS + tuple(fn.__name__ for fn in philox.FUNCTIONS.values()))
globals().update(_COMPILED)
# neutral name (the random ops' scalar templates) -> compiled function
FUNCTIONS = {neutral: _COMPILED[fn.__name__] for neutral, fn in philox.FUNCTIONS.items()}
