"""Source code of fused kernels: one loop nest per kernel variant.

A variant is the kernel specialized to a run-time layout: the rank after coalescing, which inputs
are scalars, which input dimensions broadcast (index 0), and which dimensions a reduction folds.
numba specializes on the input dtypes; the source pins every intermediate to its node's dtype,
so values round and wrap exactly where NumPy's would.

Kernels are compiled without fastmath (kernel_cache's header): nsz turned -(p - q) into q - p
(+0.0 where NumPy has -0.0), arcp turned float32 1/sqrt(x) into an rsqrt estimate (nan at 0, an
ulp off elsewhere) and x / c into x * (1/c), contract fused a*b + c into one fma (rounded once,
and -inf where NumPy has inf - inf = nan). vecmath's functions keep their own flags.

Floating-point sums are kept in float64 (float32 ones too, which then never overflow in between).
Along the innermost dimension a row is summed with NumPy's pairwise base case (eight interleaved
partial sums over each block of BLOCK values) and the block sums pairwise through a binary
counter, so the error grows with log(n) as in NumPy's pairwise summation. Over outer dimensions
NumPy adds one row after another; so does graphc in float64, and in float32 it adds groups of
GROUP rows into float64 partial sums, a chunk of columns at a time.
"""
import numpy as np

from graphc.ir.ops.elementwise import ADD, NEGATIVE_INT_POWER, POW

from .kernel_functions import WIDENING, functions_called

# Values summed pairwise inside one block (NumPy's pairwise summation also bottoms out at 128).
BLOCK = 128
# Cascade levels: enough for 2**64 blocks.
LEVELS = 64
# Columns of an outer-axis sum gathered at a time (8 KiB of float64 partial sums), and rows
# added at the result's own precision before they go into those (NumPy's pairwise sum also adds
# 16 values in turn in each of its partial sums).
CHUNK = 1024
GROUP = 16


def numpy_type_name(dtype):
    dtype = np.dtype(dtype)
    return "np.bool_" if dtype.kind == "b" else f"np.{dtype.name}"


def _pow_template(node, exponent_broadcasts):
    if node.dtype.kind in "iu":
        return "({0} ** {1})"  # pow() is the floating-point power
    if exponent_broadcasts:
        # NumPy's power loop takes x ** 0.5 as sqrt(x) when the exponent's stride is 0, which
        # differs from pow at -inf (nan, not inf) and -0.0 (kept, not +0.0).
        return "(sqrt({cast}({0})) if {1} == 0.5 else pow({0}, {1}))"
    return node.op.scalar


def _mixed_sign_loop(node):
    """The operand dtypes of NumPy's loop for a binary ufunc op taking a signed and an unsigned
    integer (int64 and uint64, say), else None. NumPy then computes in float64, or compares
    exactly (a loop keeping both types), where numba would add them as int64 (wrapping) and
    compare them as float64."""
    kinds = [x.dtype.kind for x in node.inputs]
    if getattr(node.op, "ufunc", None) is None or sorted(kinds) != ["i", "u"]:
        return None
    return node.op.ufunc.resolve_dtypes(tuple(x.dtype for x in node.inputs) + (None,))[:2]


def _signed_unsigned_comparison(template, args, signed_first, dtype):
    """An exact comparison of a signed with an unsigned integer: a negative one is below every
    unsigned value (the relation of -1 to 0), else both compare as uint64."""
    signed, unsigned = args if signed_first else args[::-1]
    below = ("np.int64(-1)", "np.int64(0)") if signed_first else ("np.int64(0)", "np.int64(-1)")
    same = (f"np.uint64({signed})", unsigned) if signed_first else (unsigned, f"np.uint64({signed})")
    return f"({fill_template(template, below, dtype)} if {signed} < 0 else {fill_template(template, same, dtype)})"


def scalar_expression(node, args, exponent_broadcasts=False):
    """The op's scalar template filled in with argument variable names."""
    template = node.op.scalar
    if node.op is POW:
        template = _pow_template(node, exponent_broadcasts)
    loop = _mixed_sign_loop(node)
    if loop is not None:
        if [d.kind for d in loop] == [x.dtype.kind for x in node.inputs]:
            return _signed_unsigned_comparison(template, args, loop[0].kind == "i", node.dtype)
        if all(d.kind == "f" for d in loop):
            args = [f"{numpy_type_name(d)}({a})" for d, a in zip(loop, args)]
    return fill_template(template, args, node.dtype)


def fill_template(template, args, dtype):
    """A scalar template with its argument names and the dtype's cast filled in ({index}, which
    random ops' templates read, is the element's flat index in the loop: `flat_index_line`)."""
    cast = numpy_type_name(dtype)
    return template.format(*args, zero=f"{cast}(0)", cast=cast, index="flat")


def flat_index_line(rank):
    """`flat = ...`: the row-major index of the current element in the whole loop (its iteration
    shape is the shape of every member), whatever part of the loop this call runs: the first
    dimension starts at `origin` (shape[rank])."""
    flat = "origin"
    for d in range(rank):
        flat = "(origin + i0)" if d == 0 else f"({flat} * n{d} + i{d})"
    return f"flat = np.uint64({flat})"


def _combine(kernel, acc, val):
    """The root reduction's combine op applied to the accumulator and a value."""
    return fill_template(kernel.root.op.combine.scalar, [acc, val], kernel.root.dtype)


def _widened_by_numba(dtype):
    """numba computes bool and integer arithmetic below 64 bits in (u)int64 (uint8 - uint8 is a
    uint64): such a result must be cast back to wrap as NumPy's does."""
    return dtype.kind in "biu" and dtype.itemsize < 8


def _wraps_via_uint64(node):
    """numba marks signed integer arithmetic `nsw` (overflow is undefined behaviour), and LLVM then
    folds, e.g., (x - y) > 0 into x > y; NumPy wraps. Ops whose integer results wrap run on their
    operands' bits as uint64, which wraps modulo 2**64, and are cast back to the node's dtype."""
    return node.dtype.kind == "i" and node.op.integer_overflow_wraps


def needs_cast(node):
    """Pin the value to the node's dtype unless numba already computes in exactly that type.

    Every cast is a typing step and IR for numba; a kernel of many float32 ops would otherwise
    spend a large part of its compile time on no-op conversions.
    """
    return (
        not WIDENING.isdisjoint(functions_called(node.op.scalar))
        or _widened_by_numba(node.dtype)
        or _wraps_via_uint64(node)
        or any(x.dtype != node.dtype for x in node.inputs)
    )


def _guard_lines(node, args):
    """Checks NumPy makes before computing the node, as statements preceding its value."""
    if node.op is POW and node.dtype.kind in "iu" and node.inputs[1].dtype.kind == "i":
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


def kernel_body(kernel, variant, indent):
    """Lines computing the root's (pre-reduction) value `val` at the current loop indices."""
    names = {}
    uniform = set()  # ids of values that are one scalar over the whole loop
    lines = [flat_index_line(variant.rank)] if kernel.draws_random else []
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
        expr = scalar_expression(node, operands, node.op is POW and _exponent_broadcasts(node, uniform))
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
        lines += [f"{value} = {names[id(root)]}" for value, root in zip(_values(kernel), kernel.roots)]
    return [" " * indent + line for line in lines]


def _values(kernel):
    """The names of the loop body's result values (`val`, or val0, val1... for several)."""
    return ["val"] if len(kernel.roots) == 1 else [f"val{j}" for j in range(len(kernel.roots))]


def _outputs(kernel):
    """The names of the kernel's output arrays (`out`, or out0, out1... for several)."""
    return ["out"] if len(kernel.roots) == 1 else [f"out{j}" for j in range(len(kernel.roots))]


def _is_float_sum(kernel):
    return kernel.root.op.combine is ADD and kernel.root.dtype.kind == "f"


def _index(variant, d_stop, reduced_as_zero=True):
    return ", ".join("0" if reduced_as_zero and variant.reduced[d] else f"i{d}" for d in range(d_stop))


def kernel_source(kernel, variant, name):
    """Python source of `def name(shape, a0, a1, ..., out)` (out0, out1... for a multi-output
    kernel); `out` is pre-filled for reductions. `shape` is the layout's shape_arg."""
    rank = variant.rank
    args = ", ".join(["shape"] + [f"a{k}" for k in range(len(kernel.inputs))] + _outputs(kernel))
    lines = [f"def {name}({args}):"]
    for d in range(rank):
        lines.append(f"    n{d} = shape[{d}]")
    if kernel.draws_random:
        lines.append(f"    origin = shape[{rank}]")
    if rank == 0:
        lines += kernel_body(kernel, variant, 4)
        if kernel.reduce:
            lines.append(f"    out[()] = {_combine(kernel, 'out[()]', 'val')}")
        else:
            lines += [f"    {out}[()] = {value}" for out, value in zip(_outputs(kernel), _values(kernel))]
    elif not kernel.reduce:
        lines += _elementwise_nest(kernel, variant)
    elif _is_float_sum(kernel):
        lines += _summation_nest(kernel, variant)
    else:
        lines += _fold_nest(kernel, variant)
    return "\n".join(lines) + "\n"


def _loops(rank, first=0):
    """`for` headers over dims first..rank-1, each indented one level deeper."""
    return [f"{'    ' * (d + 1)}for i{d} in range(n{d}):" for d in range(first, rank)]


def _elementwise_nest(kernel, variant):
    rank = variant.rank
    lines = _loops(rank)
    lines += kernel_body(kernel, variant, 4 * (rank + 1))
    index = _index(variant, rank, False)
    lines += [f"{'    ' * (rank + 1)}{out}[{index}] = {value}" for out, value in zip(_outputs(kernel), _values(kernel))]
    return lines


def _fold_nest(kernel, variant):
    """max/min, and integer sums (exact, wrapping): a running value per output element."""
    rank = variant.rank
    out_index = _index(variant, rank)
    if not variant.reduced[rank - 1]:
        lines = _loops(rank)
        lines += kernel_body(kernel, variant, 4 * (rank + 1))
        lines.append(f"{'    ' * (rank + 1)}out[{out_index}] = {_combine(kernel, f'out[{out_index}]', 'val')}")
        return lines
    # Fold the innermost dimension in a local: the compiler cannot keep out[...] in a register
    # (it may alias an input), and a local chain is what LLVM optimizes best.
    pad = "    " * rank
    lines = _loops(rank - 1)
    lines.append(f"{pad}acc = out[{out_index}]")
    lines += _loops(rank, rank - 1)
    lines += kernel_body(kernel, variant, 4 * (rank + 1))
    lines.append(f"{pad}    acc = {_combine(kernel, 'acc', 'val')}")
    lines.append(f"{pad}out[{out_index}] = acc")
    return lines


def _summation_nest(kernel, variant):
    """Floating-point sum/mean, accumulated in float64 (see the module doc)."""
    if not variant.reduced[-1]:
        # float64 rows add into the result itself, as in NumPy (an outer-axis sum is not pairwise)
        return _fold_nest(kernel, variant) if kernel.root.dtype == np.float64 else _columns_sum(kernel, variant)
    rank = variant.rank
    out_index = _index(variant, rank)
    # Where outer rows add row sums into the result, they add into a float64 copy of it.
    wide = kernel.root.dtype != np.float64 and any(variant.reduced[:-1])
    sums = "wide" if wide else "out"
    pad = "    " * rank
    lines = ["    wide = widen(out)"] if wide else []
    lines += [f"    block = float64_buffer({BLOCK})", f"    levels = float64_buffer({LEVELS})"]
    lines += _loops(rank - 1)
    lines.append(f"{pad}total = np.float64({sums}[{out_index}])")
    lines += _row_sum(kernel, variant, pad)
    lines.append(f"{pad}{sums}[{out_index}] = total")
    if wide:
        lines.append("    narrow_into(out, wide)")
    return lines


def _columns_sum(kernel, variant):
    """Only outer dims folded: a chunk of the innermost dim at a time, its rows added in the
    result's dtype in groups of GROUP (fast: full SIMD width), each group's sums then added into
    float64 partial sums. Both stay in cache, so the result is read and written once."""
    last = variant.rank - 1
    kept = [d for d in range(last) if not variant.reduced[d]]
    folded = [d for d in range(last) if variant.reduced[d]]
    out_index = _index(variant, variant.rank)
    acc, part = f"acc[i{last} - start]", f"part[i{last} - start]"
    lines = [f"    acc = float64_buffer({CHUNK})", f"    part = float32_buffer({CHUNK})"]
    lines += [f"{'    ' * (depth + 1)}for i{d} in range(n{d}):" for depth, d in enumerate(kept)]
    pad = "    " * (len(kept) + 1)
    columns = f"for i{last} in range(start, stop):"
    lines += [
        f"{pad}for start in range(0, n{last}, {CHUNK}):",
        f"{pad}    stop = min(start + {CHUNK}, n{last})",
        f"{pad}    {columns}",
        f"{pad}        {acc} = out[{out_index}]",
        f"{pad}        {part} = 0",
        f"{pad}    rows = 0",
    ]
    lines += [f"{pad}{'    ' * (depth + 1)}for i{d} in range(n{d}):" for depth, d in enumerate(folded)]
    inner = pad + "    " * (len(folded) + 1)
    lines.append(f"{inner}{columns}")
    lines += kernel_body(kernel, variant, len(inner) + 4)
    lines += [
        f"{inner}    {part} = {part} + val",
        f"{inner}rows += 1",
        f"{inner}if rows == {GROUP}:",
        f"{inner}    rows = 0",
        f"{inner}    flush_group(acc, part, stop - start)",
        f"{pad}    {columns}",
        f"{pad}        out[{out_index}] = {acc} + {part}",
    ]
    return lines


def _chain_limit(dtype):
    """Rows up to this long are summed one value after the other, which is fastest for short rows.
    In float64 that is at most 15 roundings, within NumPy's worst case inside one block (each of
    its eight partial sums adds 16 values in turn, then three more roundings); float32 values
    added in float64 are exact enough at any length, and blocks pay off in speed past one."""
    return 16 if dtype == np.float64 else BLOCK


def _row_sum(kernel, variant, pad):
    """Lines adding the values along the innermost dimension to the float64 `total`."""
    last = variant.rank - 1
    lines = [
        f"if n{last} <= {_chain_limit(kernel.root.dtype)}:",
        f"    for i{last} in range(n{last}):",
    ]
    lines += kernel_body(kernel, variant, 8)
    lines += ["        total = total + val", "else:"]
    lines += ["    " + line for line in _blocked_row_sum(kernel, variant)]
    return [pad + line for line in lines]


def _blocked_row_sum(kernel, variant):
    """Blocks of BLOCK values into `block`, each added to the pairwise cascade (scalar_ops)."""
    last = variant.rank - 1
    lines = [
        "filled = 0",
        f"for start in range(0, n{last}, {BLOCK}):",
        f"    stop = min(start + {BLOCK}, n{last})",
        f"    for i{last} in range(start, stop):",
    ]
    lines += kernel_body(kernel, variant, 8)
    lines += [
        f"        block[i{last} - start] = val",
        "    filled = add_block(levels, filled, block, stop - start)",
        "total = cascade_total(levels, filled, total)",
    ]
    return lines
