"""The functions generated kernels may call, by their backend-neutral names.

Ops' scalar templates name functions neutrally (`tanh({0})`, `maximum({0}, {1})`); this table is
the numba backend's implementation of each, plus the helpers codegen itself emits (summation
steps). The kernel header is generated from it (`header_imports`), so a name is either here, and
then defined in every kernel, or an error when the kernel is built.
"""
import builtins
import re
from collections import defaultdict
from functools import lru_cache

from . import random_kernels, scalar_ops, vecmath

KERNEL_FUNCTIONS = {
    **vecmath.FUNCTIONS,
    **random_kernels.FUNCTIONS,
    "abs": builtins.abs,  # numba's own abs follows NumPy exactly and vectorizes
    "sign": scalar_ops.vm_sign,
    "maximum": scalar_ops.vm_maximum,
    "minimum": scalar_ops.vm_minimum,
    "relu": scalar_ops.vm_relu,
    "clip": scalar_ops.vm_clip,
    "floor": scalar_ops.vm_floor,
    "ceil": scalar_ops.vm_ceil,
    "trunc": scalar_ops.vm_trunc,
    "round_half_even": scalar_ops.vm_round_half_even,
    "floor_divide": scalar_ops.vm_floor_divide,
    "remainder": scalar_ops.vm_remainder,
    "isnan": scalar_ops.vm_isnan,
    "isinf": scalar_ops.vm_isinf,
    "isfinite": scalar_ops.vm_isfinite,
    # codegen's float summation steps (scalar_ops says why they are called, not inlined)
    "float64_buffer": scalar_ops.vm_float64_buffer,
    "float32_buffer": scalar_ops.vm_float32_buffer,
    "widen": scalar_ops.vm_widen,
    "narrow_into": scalar_ops.vm_narrow_into,
    "add_block": scalar_ops.vm_add_block,
    "cascade_total": scalar_ops.vm_cascade_total,
    "flush_group": scalar_ops.vm_flush_group,
}

# Functions whose numba result may be wider than arguments of one dtype: numba unifies the branches
# of vm_sign's select (x, or an int from the comparisons) to float64, so codegen casts it back.
WIDENING = frozenset({"sign"})

_CALL = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\(")  # not np.float64(: attributes are not in the table


@lru_cache(maxsize=None)
def functions_called(template):
    """The function names a scalar template calls ('{cast}(' is a dtype, not a function)."""
    return frozenset(_CALL.findall(template))


def header_imports():
    """`from <module> import <implementation> as <neutral name>` lines, one per module, sorted so
    the header (and so every kernel's digest) is the same in every process."""
    by_module = defaultdict(list)
    for name, function in KERNEL_FUNCTIONS.items():
        imported = function.__name__
        by_module[function.__module__].append(imported if imported == name else f"{imported} as {name}")
    return "".join(
        f"from {module} import {', '.join(sorted(names))}\n" for module, names in sorted(by_module.items())
    )
