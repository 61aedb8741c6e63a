"""A scan whose whole loop runs in one numba function: no trip through Python per step.

Where a scan's body has static shapes and consists only of fused kernels, 2-D float matmuls
small enough for one BLAS thread, transposes, reshapes, tuple parts, constants and parameters, its loop is
generated as numba code: the body's kernels (the variants their static layouts need) and CBLAS's
gemm (blas.gemm_function) are called from inside it, every intermediate lives in a buffer
allocated once per call, the carries are double-buffered (a body may read every old carry while
writing the new ones), and each kernel or matmul writes its result where it is kept: the new
carry's buffer or history row, the per-step output's row (see CompiledScan._loop_lines).
Measured on a 64-element elementwise body, a step costs 0.9 µs this way against 2.4 µs driven
from Python; the RNN body of bench_scan.py saves about 20 µs a step per loop.

A body with anything else, None dimensions, or a matmul that graphc would run on more than one
BLAS thread, runs Python-driven (ir/ops/control.run_scan calling the body's compiled driver), as
do zero-trip scans and calls whose inputs do not have the shapes the body was built for. A call
that fails inside the compiled loop is run again that way, so its error names the op and the
user's line exactly as there; nothing outside the call's own buffers was written.
"""
import numba
import numpy as np

from graphc.ir.ops.control import scan_length
from graphc.ir.ops.fused import FUSED
from graphc.ir.ops.linalg import MATMUL, TRANSPOSE
from graphc.ir.ops.shape import EXPAND_DIMS, RESHAPE, RESHAPE_LIKE
from graphc.ir.ops.sources import CONSTANT, PARAMETER
from graphc.ir.ops.tuples import PART

from . import blas
from .kernel_cache import load_kernel
from .layout import Layout
from .loop_kernel import LoopKernel
from .memory import Recycler
from .runner import KernelRunner

RESHAPES = (RESHAPE, RESHAPE_LIKE, EXPAND_DIMS)
# How a value of the body is held in the generated code.
ARRAY, TRANSPOSED, SCALAR = "array", "transposed", "scalar"  # C-contiguous; `.T` of one; a number


class _NotCompilable(Exception):
    """The body has something the compiled loop does not run (the scan then runs Python-driven)."""


class _Source:
    """The generated loop being written: its lines, its arguments, and how each body value is
    held (a name and a kind; a transposed value also names its C-contiguous base)."""

    def __init__(self):
        self.lines = []
        self.params = []  # argument names after `length`
        self.buffers = []  # (name, shape, dtype) allocated by the caller each call
        # (name, value) passed in on every call: constant arrays, and the kernels' loop shapes,
        # which as arguments are typed as the kernels' runners compiled them (a tuple literal in
        # the loop would compile each kernel a second time, for Literal[int] shapes)
        self.constants = []
        self.values = {}  # id(node) -> (name, kind, base)
        self.callees = {}  # global name -> object, for the module's lines
        self.locals = 0

    def value(self, node):
        return self.values[id(node)]

    def contiguous(self, node):
        """An expression for the node's value as a C-contiguous array."""
        name, kind, _ = self.value(node)
        return name if kind == ARRAY else f"np.ascontiguousarray({name})"

    def number(self, node):
        """An expression for the node's single value as a number."""
        name, kind, _ = self.value(node)
        return name if kind == SCALAR else f"{self.contiguous(node)}.reshape(-1)[0]"

    def shaped(self, node, shape):
        """An expression for the node's value as a C-contiguous array of this shape."""
        return _reshaped(self.contiguous(node), node.shape, shape)

    def fresh(self):
        """A new local name for the generated code."""
        self.locals += 1
        return f"f{self.locals}"

    def buffer(self, prefix, shape, dtype):
        name = f"{prefix}{len(self.buffers)}"
        self.buffers.append((name, tuple(shape), np.dtype(dtype)))
        return name


def _typed_statically(node):
    """Whether every value of the node has a static shape and a numeric dtype."""
    types = node.parts if node.parts is not None else [(node.shape, node.dtype)]
    return all(None not in shape and dtype.kind in "biufc" for shape, dtype in types)


class CompiledScan:
    """The compiled loop of one scan node, and the Python-driven run to fall back on."""

    def __init__(self, node, stats, plan_cache, python_run):
        self.node = node
        self.stats = stats
        self.python_run = python_run
        attrs = node.attrs
        self.body = body = attrs["body"]
        self.n_carry, self.n_xs = attrs["n_carry"], attrs["n_xs"]
        if not all(_typed_statically(x) for x in body.nodes):
            raise _NotCompilable("a value of the body has no static shape")
        self.runners = []
        src = self._generate(stats, plan_cache)
        self.constants = [value for _, value in src.constants]
        self.source = "\n".join(src.lines) + "\n"
        self.function, self.source_on_disk = _load(self.source, src.callees)
        stored_outputs = len(body.outputs) - self.n_carry - len(self.ys_in_history)
        self._allocations = 2 * self.n_carry + len(self.buffers) + stored_outputs \
            + (self.n_carry if attrs["keep_history"] else 0)
        self._free = []

    @classmethod
    def of(cls, node, stats, plan_cache, python_run):
        """The compiled loop for this scan node, or None where its body must run Python-driven."""
        try:
            return cls(node, stats, plan_cache, python_run)
        except _NotCompilable as why:
            stats.slow_paths.append(f"the scan built at {node.site} runs Python-driven, step by step: {why}")
            return None

    # ---------------------------------------------------------------- code generation
    def _generate(self, stats, plan_cache):
        src = _Source()
        body, n_carry, n_xs = self.body, self.n_carry, self.n_xs
        carries = [f"cur{j}" for j in range(n_carry)]
        spares = [f"nxt{j}" for j in range(n_carry)]
        xs = [f"xs{j}" for j in range(n_xs)]
        captured = [f"cap{j}" for j in range(len(body.inputs) - n_carry - n_xs)]
        lines = src.lines
        step_lines = []
        for k, p in enumerate(body.inputs):
            if k < n_carry:
                src.values[id(p)] = (carries[k], ARRAY, None)
            elif k < n_carry + n_xs:
                name = xs[k - n_carry]
                src.values[id(p)] = (f"{name}[t]", SCALAR if p.ndim == 0 else ARRAY, None)
            else:
                src.values[id(p)] = (captured[k - n_carry - n_xs], ARRAY, None)
        for node in body.nodes:
            if node.op is PARAMETER:
                continue
            step_lines += self._lower(src, node, stats, plan_cache)
        loop_lines = self._loop_lines(src, carries, spares, step_lines)
        lines.append(f"def loop(length, {', '.join(src.params)}):")
        lines += loop_lines
        return src

    def _loop_lines(self, src, carries, spares, step_lines):
        """The loop around the body's lines. Each result is computed where it is kept, so that a
        step copies nothing (measured on the RNN of bench_scan.py at T=200: 5 copies of 2048
        floats a step were 8% of the call):

        - a new carry that a kernel or matmul computes is written into the spare carry buffer,
          or, where the history is kept, straight into its row of the history, which then serves
          as the next step's carry;
        - a per-step output that a kernel or matmul computes is written into its row of ys;
        - a per-step output that is a new carry kept in the history is not stored at all: it is
          the history without its first (last, in reverse) row (self.ys_in_history).
        Values that are not a buffer of the step (a carry passed through, a view) are copied.
        """
        body, n_carry = self.body, self.n_carry
        attrs = self.node.attrs
        reverse = attrs["reverse"]
        carry_outs, y_outs = body.outputs[:n_carry], body.outputs[n_carry:]
        # 0-d carries keep their history by copies (a row of a 1-D history is a number, not a buffer)
        in_history = [attrs["keep_history"] and p.ndim > 0 for p in body.inputs[:n_carry]]
        copied_history = [attrs["keep_history"] and not kept for kept in in_history]
        buffers = {name for name, _, _ in src.buffers}
        bound = {}  # buffer name -> where the step writes it instead

        def place(value, target):
            name, kind, _ = src.value(value)
            if kind == ARRAY and name in buffers and name not in bound:
                bound[name] = target
                return True
            return False

        start_row, end_row = ("t + 1", "t") if reverse else ("t", "t + 1")
        first_row, last_row = ("length", "0") if reverse else ("0", "length")
        head, tail = [], []
        new_carries = [f"new{j}" if kept else spare for j, (kept, spare) in enumerate(zip(in_history, spares))]
        for j, c in enumerate(carry_outs):
            if in_history[j]:
                head.append(f"{new_carries[j]} = hist{j}[{end_row}]")
            if copied_history[j]:
                head += _store(src, f"hist{j}[{start_row}]", carries[j], ARRAY, 0, row=True)
            if not place(c, new_carries[j]):
                name, kind, _ = src.value(c)
                tail += _store(src, new_carries[j], name, kind, c.ndim)
        ys, self.ys_in_history = [], {}
        for j, y in enumerate(y_outs):
            carry = next((k for k, c in enumerate(carry_outs) if c is y and in_history[k]), None)
            if carry is not None:
                self.ys_in_history[j] = carry
                continue
            ys.append(f"ys{j}")
            if y.ndim == 0 or not place(y, f"ys{j}[t]"):
                name, kind, _ = src.value(y)
                tail += _store(src, f"ys{j}[t]", name, kind, y.ndim, row=True)
        for j, (current, spare) in enumerate(zip(carries, spares)):
            tail.append(f"{current} = {new_carries[j]}" if in_history[j] else f"{current}, {spare} = {spare}, {current}")
        head += [f"{name} = {target}" for name, target in bound.items()]
        self.buffers = [buffer for buffer in src.buffers if buffer[0] not in bound]
        history = [f"hist{j}" for j in range(n_carry)] if attrs["keep_history"] else []
        src.params = carries + spares + [f"xs{j}" for j in range(self.n_xs)] \
            + [f"cap{j}" for j in range(len(body.inputs) - n_carry - self.n_xs)] \
            + [name for name, _ in src.constants] + [name for name, _, _ in self.buffers] + ys + history
        lines = []
        for j, kept in enumerate(in_history):
            if kept:
                lines += _indented(1, _store(src, f"hist{j}[{first_row}]", carries[j], ARRAY, body.inputs[j].ndim, row=True))
        lines += ["    for step in range(length):", "        t = length - 1 - step" if reverse else "        t = step"]
        lines += _indented(2, head) + _indented(2, step_lines) + _indented(2, tail)
        for j, (kept, copied) in enumerate(zip(in_history, copied_history)):
            if kept:  # the final carry as an array of its own, not a row of the history
                lines += _indented(1, _store(src, spares[j], carries[j], ARRAY, body.inputs[j].ndim))
            elif copied:
                lines += _indented(1, _store(src, f"hist{j}[{last_row}]", carries[j], ARRAY, 0, row=True))
        finals = [spare if kept else current for kept, current, spare in zip(in_history, carries, spares)]
        lines.append(f"    return ({''.join(c + ', ' for c in finals)})")
        return lines

    def _lower(self, src, node, stats, plan_cache):
        """The lines computing one body node (none for a view), its value recorded in src."""
        op = node.op
        if op is CONSTANT:
            name = f"k{len(src.constants)}"
            if node.ndim == 0:  # passed as a number: reading one out of an array costs a reshape
                src.constants.append((name, np.asarray(node.attrs["value"], node.dtype)[()]))
                src.values[id(node)] = (name, SCALAR, None)
            else:
                src.constants.append((name, np.ascontiguousarray(node.attrs["value"], node.dtype)))
                src.values[id(node)] = (name, ARRAY, None)
            return []
        if op is TRANSPOSE and node.ndim == 2:
            name, kind, base = src.value(node.inputs[0])
            if kind == ARRAY:
                src.values[id(node)] = (f"{name}.T", TRANSPOSED, name)
            elif kind == TRANSPOSED:
                src.values[id(node)] = (base, ARRAY, None)
            else:
                raise _NotCompilable("transpose of a number")
            return []
        if op in RESHAPES:  # a view of the same values in the same order
            name = f"r{len(src.values)}"
            src.values[id(node)] = (name, ARRAY, None)
            return [f"{name} = {src.shaped(node.inputs[0], node.shape)}"]
        if op is PART and node.inputs[0].op is FUSED:
            src.values[id(node)] = src.values[(id(node.inputs[0]), node.attrs["index"])]
            return []
        if op is FUSED:
            return self._lower_kernel(src, node, stats, plan_cache)
        if op is MATMUL:
            return self._lower_matmul(src, node)
        raise _NotCompilable(f"{op.name} in the body")

    def _lower_kernel(self, src, node, stats, plan_cache):
        runner = KernelRunner(LoopKernel(node), stats, plan_cache, near_blas=True)
        kernel = runner.kernel
        layout = Layout(kernel, [x.shape for x in node.inputs])
        if layout.empty:
            raise _NotCompilable("an empty kernel")
        fn = runner.function_for(layout.variant)
        self.runners.append(runner)
        fn_name = f"kernel{len(src.callees)}"
        src.callees[fn_name] = fn
        args = []
        for x, target in zip(node.inputs, layout.input_shapes):
            args.append(src.number(x) if target is None else src.shaped(x, target))
        lines, outs = [], []
        for j, root in enumerate(kernel.roots):
            name = src.buffer("b", layout.result_shape, root.dtype)
            key = id(node) if len(kernel.roots) == 1 else (id(node), j)
            src.values[key] = (name, ARRAY, None)
            outs.append(_reshaped(name, layout.result_shape, layout.out_loop_shape))
        if kernel.reduce:
            init = np.asarray(kernel.root.op.identity(kernel.root.dtype), kernel.root.dtype)[()]
            lines += _store(src, outs[0], _literal(init), SCALAR, len(layout.out_loop_shape))
        shape = f"s{len(src.constants)}"
        src.constants.append((shape, tuple(layout.shape_arg)))
        lines.append(f"{fn_name}({shape}, {', '.join(args + outs)})")
        if kernel.reduce and kernel.root.op.divides_by_count:
            flat = src.fresh()
            lines += [f"{flat} = {outs[0]}.reshape(-1)", f"for i in range({flat}.size):", f"    {flat}[i] /= {layout.count}"]
        return lines

    def _lower_matmul(self, src, node):
        a, b = node.inputs
        m, k = a.shape if a.ndim == 2 else (0, 0)
        n = b.shape[1] if b.ndim == 2 else 0
        gemm = blas.gemm_function(node.dtype)
        if not (a.ndim == b.ndim == 2 and a.dtype == b.dtype == node.dtype and gemm is not None):
            raise _NotCompilable("a matmul that is not a 2-D float BLAS product")
        if not 0 < m * k * n < blas.GEMM_ALONE_BELOW:  # larger ones keep graphc's thread policy
            raise _NotCompilable("a matmul too large for one BLAS thread, or an empty one")
        gemm_name = f"gemm_{node.dtype.char}"
        src.callees[gemm_name] = gemm
        out = src.buffer("b", node.shape, node.dtype)
        src.values[id(node)] = (out, ARRAY, None)
        operands, lines = [], []
        for x, cols in ((a, k), (b, n)):
            name, kind, base = src.value(x)
            if kind == TRANSPOSED:  # a row-major (cols, rows) base, read transposed by the BLAS
                operands.append((blas.CBLAS_TRANS, f"{base}.ctypes.data", x.shape[0]))
            else:
                if kind != ARRAY:
                    raise _NotCompilable("a matmul of numbers")
                operands.append((blas.CBLAS_NO_TRANS, f"{name}.ctypes.data", cols))
        (ta, pa, lda), (tb, pb, ldb) = operands
        one, zero = ("1.0", "0.0") if node.dtype.char == "d" else ("np.float32(1.0)", "np.float32(0.0)")
        lines.append(f"{gemm_name}({blas.CBLAS_ROW_MAJOR}, {ta}, {tb}, {m}, {n}, {k}, {one}, {pa}, {lda}, "
                     f"{pb}, {ldb}, {zero}, {out}.ctypes.data, {n})")
        return lines

    # ---------------------------------------------------------------- running
    def _arguments(self, carry, xs, captured, length, recyclers=None):
        """The loop's arguments; the arrays it writes come from `recyclers` (one each, in
        order) where given: the previous call's, where nobody holds them any more, since a fresh
        multi-megabyte history costs its page faults again on every call (measured: the RNN's
        forward loop at T=200 took 11 ms with fresh arrays, 5 ms with reused ones)."""
        made = iter(recyclers or ())

        def new(shape, dtype):
            return next(made).get(tuple(shape), np.dtype(dtype)) if recyclers else np.empty(shape, dtype)

        body = self.body
        args = []
        for c, p in zip(carry, body.inputs):
            start = new(p.shape, p.dtype)
            np.copyto(start, c)
            args.append(start)
        args += [new(p.shape, p.dtype) for p in body.inputs[:self.n_carry]]
        args += [np.ascontiguousarray(x) for x in xs]
        args += [np.ascontiguousarray(c) for c in captured]
        args += self.constants
        args += [new(shape, dtype) for _, shape, dtype in self.buffers]
        stored = [new((length,) + y.shape, y.dtype) for j, y in enumerate(body.outputs[self.n_carry:])
                  if j not in self.ys_in_history]
        history = [new((length + 1,) + p.shape, p.dtype) for p in body.inputs[:self.n_carry]] \
            if self.node.attrs["keep_history"] else []
        rows = slice(0, length) if self.node.attrs["reverse"] else slice(1, length + 1)
        made_ys = iter(stored)
        ys = [history[self.ys_in_history[j]][rows] if j in self.ys_in_history else next(made_ys)
              for j in range(len(body.outputs) - self.n_carry)]
        return args + stored + history, ys, history

    def _fits(self, args):
        """Whether these inputs have the shapes and dtypes the body was built for."""
        params = self.body.inputs
        n_carry, n_xs = self.n_carry, self.n_xs
        for k, (a, p) in enumerate(zip(args, params)):
            shape = np.shape(a)[1:] if n_carry <= k < n_carry + n_xs else np.shape(a)
            if shape != p.shape or np.asarray(a).dtype != p.dtype:
                return False
        return True

    def __call__(self, attrs, args, run_bodies):
        n_carry, n_xs = self.n_carry, self.n_xs
        xs = [np.asarray(x) for x in args[n_carry:n_carry + n_xs]]
        length = scan_length(attrs, xs)
        if length == 0 or not self._fits(args):
            return self.python_run(attrs, args, run_bodies)
        try:  # each call in flight has its own recyclers
            recyclers = self._free.pop()
        except IndexError:
            recyclers = [Recycler() for _ in range(self._allocations)]
        try:
            all_args, ys, history = self._arguments(args[:n_carry], xs, args[n_carry + n_xs:], length, recyclers)
            carries = self.function(length, *all_args)
        except Exception:  # the Python-driven run raises the error with the op and the user's line
            return self.python_run(attrs, args, run_bodies)
        finally:
            self._free.append(recyclers)
        return tuple(carries) + tuple(ys) + tuple(history)

    def warm(self):
        """Compile the loop (or load it from the disk cache) for the types its inputs will have."""
        length = 0
        xs = [np.zeros((0,) + p.shape, p.dtype) for p in self.body.inputs[self.n_carry:self.n_carry + self.n_xs]]
        carry = [np.zeros(p.shape, p.dtype) for p in self.body.inputs[:self.n_carry]]
        captured = [np.zeros(p.shape, p.dtype) for p in self.body.inputs[self.n_carry + self.n_xs:]]
        all_args, _, _ = self._arguments(carry, xs, captured, length)
        sig = tuple(numba.typeof(a) for a in [length] + all_args)
        fn = self.function
        in_process = sig in fn.overloads
        loaded_before = sum(fn.stats.cache_hits.values())
        fn.compile(sig)
        from_disk = sum(fn.stats.cache_hits.values()) > loaded_before
        why = ("already compiled in this process" if in_process else
               "loaded from the on-disk cache" if from_disk else "new loop (first compile of this scan's loop)")
        self.stats.cache.append({"kernel": f"scan loop at {self.node.site}", "hit": in_process or from_disk,
                                 "why": why})


def _literal(value):
    """Python source for a number of its own dtype (inf and nan have no literal)."""
    if value.dtype.kind == "f" and not np.isfinite(value):
        text = "np.nan" if np.isnan(value) else "np.inf" if value > 0 else "-np.inf"
    else:
        text = repr(value.item())
    return f"np.{value.dtype.name}({text})"


def _reshaped(expr, shape, target):
    """`expr` (an array of `shape`) as an array of the target shape: reshaped only where the
    shapes differ, since each reshape costs the loop's compile ~20 ms."""
    return expr if tuple(shape) == tuple(target) else f"{expr}.reshape({tuple(target)!r})"


def _store(src, target, name, kind, ndim, row=False):
    """Lines writing a value of `ndim` dimensions into an array of its shape, or (row, ndim 0)
    into one element of a stacked array: element loops over the indices, which numba compiles
    in a fraction of the time of a slice assignment, a helper function (one more compile per
    type) or a reshape (~20 ms each)."""
    number = name if kind == SCALAR else f"np.ascontiguousarray({name}).reshape(-1)[0]"
    if ndim == 0 and row:
        return [f"{target} = {number}"]
    if ndim == 0:  # a 0-d array: numba indexes it only through a 1-d view
        flat = src.fresh()
        return [f"{flat} = {target}.reshape(-1)", f"{flat}[0] = {number}"]
    dest = src.fresh()
    index = ", ".join(f"i{k}" for k in range(ndim))
    lines = [f"{dest} = {target}"]
    for k in range(ndim):
        lines.append("    " * k + f"for i{k} in range({dest}.shape[{k}]):")
    lines.append("    " * ndim + f"{dest}[{index}] = {name if kind == SCALAR else f'{name}[{index}]'}")
    return lines


def _indented(levels, lines):
    return ["    " * levels + line for line in lines]


def _load(source, callees):
    """The loop's numba dispatcher, from a module (kept on disk, compiled code cached) whose
    globals name the kernels and gemm functions it calls."""
    globals_lines = ["import sys as _sys", "from graphc.backends.numba_backend import blas as _blas"]
    for name, fn in callees.items():
        if hasattr(fn, "py_func"):  # a kernel's dispatcher
            globals_lines.append(f"{name} = _sys.modules[{fn.py_func.__module__!r}].{fn.py_func.__name__}")
        else:
            globals_lines.append(f"{name} = _blas.gemm_function({'float64' if name.endswith('d') else 'float32'!r})")
    return load_kernel(source + "\n" + "\n".join(globals_lines) + "\n", "loop")

