"""Source code of fused kernels: one loop nest per kernel variant.

A variant is the kernel specialized to a run-time layout: the rank after coalescing, which inputs
are scalars, which input dimensions broadcast (index 0), and which dimensions a reduction folds.
numba specializes on the input dtypes; the source pins every intermediate to its node's dtype,
so values round and wrap exactly where NumPy's would.

Kernels are compiled without fastmath (kernel_cache's header): nsz turned -(p - q) into q - p
(+0.0 where NumPy has -0.0), arcp turned float32 1/sqrt(x) into an rsqrt estimate (nan at 0, an
ulp off elsewhere) and x / c into x * (1/c), contract fused a*b + c into one fma (rounded once,
and -inf where NumPy has inf - inf = nan). vecmath's functions keep their own flags.
"""
import numpy as np

from graphc.ir.ops.elementwise import NEGATIVE_INT_POWER

REDUCE_COMBINE = {
    "sum": "({acc} + {val})",
    "mean": "({acc} + {val})",
    "max": "vm_maximum({acc}, {val})",
    "min": "vm_minimum({acc}, {val})",
}


def numpy_type_name(dtype):
    dtype = np.dtype(dtype)
    return "np.bool_" if dtype.kind == "b" else f"np.{dtype.name}"


def _pow_template(node, exponent_broadcasts):
    if node.dtype.kind in "iu":
        return "({0} ** {1})"  # vm_pow is the floating-point power
    if exponent_broadcasts:
        # NumPy's power loop takes x ** 0.5 as sqrt(x) when the exponent's stride is 0, which
        # differs from pow at -inf (nan, not inf) and -0.0 (kept, not +0.0).
        return "(vm_sqrt({cast}({0})) if {1} == 0.5 else vm_pow({0}, {1}))"
    return node.op.scalar


def scalar_expression(node, args, exponent_broadcasts=False):
    """The op's scalar template filled in with argument variable names."""
    template = node.op.scalar
    if node.op.name == "pow":
        template = _pow_template(node, exponent_broadcasts)
    cast = numpy_type_name(node.dtype)
    return template.format(*args, zero=f"{cast}(0)", cast=cast)


# Ops whose scalar code may come out wider than the node's dtype even when every input already
# has that dtype (numba unifies the branches of vm_sign's select to float64).
_WIDENING = ("sign",)


def _widened_by_numba(dtype):
    """numba computes bool and integer arithmetic below 64 bits in (u)int64 (uint8 - uint8 is a
    uint64): such a result must be cast back to wrap as NumPy's does."""
    return dtype.kind in "biu" and dtype.itemsize < 8


# numba marks signed integer arithmetic `nsw` (overflow is undefined behaviour), and LLVM then
# folds, e.g., (x - y) > 0 into x > y; NumPy wraps. These ops run on their operands' bits as
# uint64, which wraps modulo 2**64, and are cast back to the node's dtype.
_WRAPPING_OPS = ("add", "sub", "mul", "neg", "square", "pow")


def _wraps_via_uint64(node):
    return node.dtype.kind == "i" and node.op.name in _WRAPPING_OPS


def needs_cast(node):
    """Pin the value to the node's dtype unless numba already computes in exactly that type.

    Every cast is a typing step and IR for numba; a kernel of many float32 ops would otherwise
    spend a large part of its compile time on no-op conversions.
    """
    return (
        node.op.name in _WIDENING
        or _widened_by_numba(node.dtype)
        or _wraps_via_uint64(node)
        or any(x.dtype != node.dtype for x in node.inputs)
    )


def _guard_lines(node, args):
    """Checks NumPy makes before computing the node, as statements preceding its value."""
    if node.op.name == "pow" and node.dtype.kind in "iu" and node.inputs[1].dtype.kind == "i":
        message = f"{NEGATIVE_INT_POWER} (while computing pow built at {node.site})"
        return [f"if {args[1]} < 0:", f"    raise ValueError({message!r})"]
    return []


def _exponent_broadcasts(node, uniform):
    """Whether NumPy's inner loop would see this pow's exponent with stride 0: the exponent is
    one value over the whole loop and broadcasts against the result (NumPy's own rule, measured:
    a 0-d or size-1 exponent broadcast to a larger result, but not (1,) ** (1,))."""
    x, y = node.inputs
    if id(y) not in uniform:
        return False
    return id(x) not in uniform or y.ndim == 0 or y.shape != node.shape


class Variant:
    """Layout of one kernel call. inputs[k] is 'scalar' or a tuple of per-dim broadcast flags."""

    def __init__(self, rank, inputs, reduced):
        self.rank = rank
        self.inputs = tuple(inputs)
        self.reduced = tuple(reduced)  # per dim: folded by the reduction (all False if none)

    def key(self):
        return (self.rank, self.inputs, self.reduced)


def kernel_body(kernel, variant, indent):
    """Lines computing the root's (pre-reduction) value `val` at the current loop indices."""
    names = {}
    uniform = set()  # ids of values that are one scalar over the whole loop
    lines = []
    loop_index = [f"i{d}" for d in range(variant.rank)]
    for k, (x, kind) in enumerate(zip(kernel.inputs, variant.inputs)):
        if kind == "scalar":
            names[id(x)] = f"a{k}"
            uniform.add(id(x))
        else:
            index = ", ".join("0" if flag else loop_index[d] for d, flag in enumerate(kind))
            lines.append(f"v{k} = a{k}[{index}]")
            names[id(x)] = f"v{k}"
    members = kernel.members[:-1] if kernel.reduce else kernel.members
    for j, node in enumerate(members):
        args = [names[id(x)] for x in node.inputs]
        lines += _guard_lines(node, args)
        operands = [f"np.uint64({a})" for a in args] if _wraps_via_uint64(node) else args
        expr = scalar_expression(node, operands, node.op.name == "pow" and _exponent_broadcasts(node, uniform))
        if needs_cast(node):
            expr = f"{numpy_type_name(node.dtype)}({expr})"
        lines.append(f"t{j} = {expr}")
        names[id(node)] = f"t{j}"
        if all(id(x) in uniform for x in node.inputs):
            uniform.add(id(node))
    if kernel.reduce:
        root = kernel.root
        lines.append(f"val = {numpy_type_name(root.dtype)}({names[id(root.inputs[0])]})")
    else:
        lines.append(f"val = {names[id(kernel.root)]}")
    return [" " * indent + line for line in lines]


def kernel_source(kernel, variant, name):
    """Python source of `def name(shape, a0, a1, ..., out)`; `out` is pre-filled for reductions."""
    rank = variant.rank
    args = ", ".join(["shape"] + [f"a{k}" for k in range(len(kernel.inputs))] + ["out"])
    lines = [f"def {name}({args}):"]
    for d in range(rank):
        lines.append(f"    n{d} = shape[{d}]")
    if rank == 0:
        lines += kernel_body(kernel, variant, 4)
        if kernel.reduce:
            combine = REDUCE_COMBINE[kernel.root.op.name].format(acc="out[()]", val="val")
            lines.append(f"    out[()] = {combine}")
        else:
            lines.append("    out[()] = val")
        return "\n".join(lines) + "\n"
    out_index = ", ".join(
        "0" if variant.reduced[d] else f"i{d}" for d in range(rank)
    )
    inner_reduced = kernel.reduce and variant.reduced[rank - 1]
    for d in range(rank):
        pad = "    " * (d + 1)
        if d == rank - 1 and inner_reduced:
            # Fold the innermost dimension in a local: the compiler cannot keep out[...] in a
            # register (it may alias an input), and a local chain is what LLVM optimizes best.
            out_slot = ", ".join("0" if variant.reduced[e] else f"i{e}" for e in range(rank - 1)) or ""
            lines.append(f"{pad}acc = out[{out_slot + (', ' if out_slot else '')}0]")
        lines.append(f"{pad}for i{d} in range(n{d}):")
    pad = "    " * (rank + 1)
    lines += kernel_body(kernel, variant, len(pad))
    if not kernel.reduce:
        lines.append(f"{pad}out[{out_index}] = val")
    elif inner_reduced:
        lines.append(f"{pad}acc = {REDUCE_COMBINE[kernel.root.op.name].format(acc='acc', val='val')}")
        lines.append(f"{'    ' * rank}out[{out_index}] = acc")
    else:
        combine = REDUCE_COMBINE[kernel.root.op.name].format(acc=f"out[{out_index}]", val="val")
        lines.append(f"{pad}out[{out_index}] = {combine}")
    return "\n".join(lines) + "\n"
