"""Running one fused kernel: plan the loop layout for the input shapes, reuse buffers, thread.

A plan is cached per tuple of input shapes, so a steady-state call costs a dict lookup, the
numba dispatch and, for large sizes, handing halves of the work to a thread pool (kernels are
compiled with nogil, so the threads run truly in parallel, without numba's slower-to-compile
parallel mode). Plans hold no arrays: the result is written where the call's `sink` (a Slot
or Recycler of the call's workspace) says, so concurrent calls never share an output.
"""
import itertools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from graphc.backends.numpy_backend import located, run_node
from graphc.ir.errors import GraphcError
from graphc.ir.types import check_none_dims, reduced_shape

from .codegen import Variant, kernel_source
from .kernel_cache import entry_was_damaged, load_kernel

# Below this many loop iterations a second thread costs more than it saves (measured here: a
# 1e6-element kernel runs ~1.8x faster on 2 threads, a 1e5 one gains nothing).
PARALLEL_THRESHOLD = 1 << 19
# In a graph that also calls BLAS, OpenBLAS's threads keep spinning after each matmul; handing
# a kernel to another thread next to them made an MLP step 20x slower on 2 cores at 64k
# elements. There, only very large kernels are split.
PARALLEL_THRESHOLD_WITH_BLAS = 1 << 22
_pool = []
_clock = itertools.count()


def _threads():
    return max(1, min(os.cpu_count() or 1, 8))


def _executor():
    if not _pool:
        _pool.append(ThreadPoolExecutor(max_workers=_threads(), thread_name_prefix="graphc"))
    return _pool[0]


def _init_value(op_name, dtype):
    if op_name in ("sum", "mean"):
        return 0
    if dtype.kind == "f":
        return -np.inf if op_name == "max" else np.inf
    info = np.iinfo(dtype)
    return info.min if op_name == "max" else info.max


def coalesce(shape, flags, reduced):
    """Merge adjacent dims that every input broadcasts (or not) alike; drop size-1 dims."""
    groups = []  # (size, per-input flags, reduced)
    for d, size in enumerate(shape):
        if size == 1:
            continue
        col = tuple(f[d] for f in flags)
        if groups and groups[-1][1] == col and groups[-1][2] == reduced[d]:
            groups[-1][0] *= size
        else:
            groups.append([size, col, reduced[d]])
    return groups


class Plan:
    """How to call the kernel for one combination of input shapes."""

    def __init__(self, runner, shapes):
        kernel = runner.kernel
        self.runner = runner
        full = np.broadcast_shapes(*shapes)
        check_none_dims([x.shape for x in kernel.inputs], shapes, full, "fused kernel " + " -> ".join(kernel.ops()),
                        kernel.root.site)
        rank = len(full)
        self.full_shape = full
        axes = kernel.root.attrs["axis"] if kernel.reduce else ()
        reduced = [d in axes for d in range(rank)]
        padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
        scalar = [math.prod(s) == 1 for s in shapes]
        flags = [tuple(p[d] == 1 and full[d] != 1 for d in range(rank)) for p in padded]
        groups = coalesce(full, flags, reduced)
        self.loop_shape = tuple(g[0] for g in groups)
        self.empty = 0 in full
        kinds = []
        self.input_shapes = []
        for k in range(len(shapes)):
            if scalar[k]:
                kinds.append("scalar")
                self.input_shapes.append(None)
            else:
                kinds.append(tuple(g[1][k] for g in groups))
                self.input_shapes.append(tuple(1 if g[1][k] else g[0] for g in groups))
        red = tuple(g[2] for g in groups)
        self.variant = Variant(len(groups), kinds, red)
        if kernel.reduce:
            self.out_loop_shape = tuple(1 if r else n for n, r in zip(self.loop_shape, red))
            self.result_shape = reduced_shape(full, axes, kernel.root.attrs["keepdims"])
            self.count = math.prod(full[d] for d in axes)
        else:
            self.out_loop_shape = self.loop_shape
            self.result_shape = full
        self.fn = runner.function_for(self.variant)
        size = math.prod(self.loop_shape)
        threshold = PARALLEL_THRESHOLD_WITH_BLAS if runner.near_blas else PARALLEL_THRESHOLD
        self.split = bool(self.loop_shape) and size >= threshold and self.loop_shape[0] >= 2 and _threads() > 1
        self.input_ranks = [len(s) for s in shapes]
        self.used = next(_clock)
        self.call = self._fast_call() if not (self.split or self.empty) else None

    def _fast_call(self):
        """A straight-line function for this layout: a small call is a handful of operations."""
        kernel = self.runner.kernel
        n = len(self.input_shapes)
        ns = {"fn": self.fn, "ascontig": np.ascontiguousarray,
              "dtype": self.runner.dtype, "loop": self.loop_shape, "shape": self.result_shape,
              "out_loop": self.out_loop_shape, "init": _init_value(kernel.root.op.name, self.runner.dtype)
              if kernel.reduce else None, "count": getattr(self, "count", None), "divide": np.divide}
        args = []
        for k, target in enumerate(self.input_shapes):
            if target is None:
                args.append(f"x{k}[()]" if self.input_ranks[k] == 0 else f"x{k}.reshape(-1)[0]")
            else:
                args.append(f"ascontig(x{k}).reshape({target!r})")
        lines = [f"def call(sink, {', '.join(f'x{k}' for k in range(n))}):"]
        lines.append("    r = sink.get(shape, dtype)")
        out = "r" if self.out_loop_shape == self.result_shape else "r.reshape(out_loop)"
        lines.append(f"    o = {out}")
        if kernel.reduce:
            lines.append("    o.fill(init)")
        lines.append(f"    fn(loop, {', '.join(args + ['o'])})")
        if kernel.reduce and kernel.root.op.name == "mean":
            lines.append("    divide(o, count, out=o)")
        lines.append("    return r")
        exec(compile("\n".join(lines), "<graphc kernel call>", "exec"), ns)
        return ns["call"]

    def arguments(self, arrays):
        args = []
        for a, target in zip(arrays, self.input_shapes):
            if target is None:
                args.append(a.reshape(-1)[0])
            else:
                args.append(np.ascontiguousarray(a).reshape(target))
        return args

    def output(self, sink):
        """The result array (in the node's shape) and its loop-shaped view for the kernel."""
        result = sink.get(self.result_shape, self.runner.dtype)
        return result, result.reshape(self.out_loop_shape)

    def run(self, sink, arrays):
        if self.call is not None:
            return self.call(sink, *arrays)
        kernel = self.runner.kernel
        if self.empty:
            return kernel_reference(kernel, arrays)
        args = self.arguments(arrays)
        result, out = self.output(sink)
        if kernel.reduce:
            out.fill(_init_value(kernel.root.op.name, out.dtype))
        if self.split:
            self._run_split(args, out)
        else:
            self.fn(self.loop_shape, *args, out)
        if kernel.reduce and kernel.root.op.name == "mean":
            np.divide(out, self.count, out=out)
        return result

    def _run_split(self, args, out):
        n = self.loop_shape[0]
        parts = _threads()
        bounds = [n * i // parts for i in range(parts + 1)]
        reduced_first = self.variant.reduced[0] if self.variant.reduced else False
        calls, outs = [], []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            if lo == hi:
                continue
            sub = [a if kind == "scalar" or kind[0] else a[lo:hi] for a, kind in zip(args, self.variant.inputs)]
            shape = (hi - lo,) + self.loop_shape[1:]
            if reduced_first:  # each thread folds its rows into its own partial result
                part = np.full_like(out, _init_value(self.runner.kernel.root.op.name, out.dtype))
                outs.append(part)
            else:
                part = out[lo:hi]
            calls.append((shape, *sub, part))
        # The calling thread takes the first share itself: one hand-off fewer than it waiting.
        jobs = [_executor().submit(self.fn, *call) for call in calls[1:]]
        self.fn(*calls[0])
        for job in jobs:
            job.result()
        if reduced_first:
            combine = {"sum": np.add, "mean": np.add, "max": np.maximum, "min": np.minimum}
            ufunc = combine[self.runner.kernel.root.op.name]
            out[...] = outs[0]
            for part in outs[1:]:
                ufunc(out, part, out=out)


def kernel_reference(kernel, arrays):
    """Empty inputs: NumPy's semantics (errors for max of nothing, 0 for sum) via the reference."""
    from graphc.passes.fusion import FUSED

    return FUSED.impl(*arrays, kernel=kernel)


class PlanCache:
    """The bound on each kernel's plans, shared by the kernels of one compiled function, and the
    count of plans evicted (shown in stats)."""

    def __init__(self, limit, stats):
        self.limit = limit
        self.evictions = 0
        self.owners = []  # the kernels' plan dicts
        self._lock = threading.Lock()  # misses only: a hit reads the dict without it
        stats.plan_cache = self

    def new_plans(self):
        plans = {}
        self.owners.append(plans)
        return plans

    def insert(self, plans, key, plan):
        with self._lock:
            if key not in plans and len(plans) >= self.limit:
                oldest = min(plans, key=lambda k: plans[k].used)
                del plans[oldest]
                self.evictions += 1
            plans[key] = plan

    @property
    def size(self):
        return sum(len(plans) for plans in self.owners)


class KernelRunner:
    def __init__(self, kernel, stats, plan_cache, near_blas=False):
        self.kernel = kernel
        self.near_blas = near_blas  # the graph also runs BLAS: split only very large loops
        self.dtype = kernel.root.dtype
        self.stats = stats
        self.plan_cache = plan_cache
        self.plans = plan_cache.new_plans()
        self.functions = {}
        self.sources = {}
        self.source_on_disk = {}

    def function_for(self, variant):
        key = variant.key()
        fn = self.functions.get(key)
        if fn is None:
            source = kernel_source(self.kernel, variant, "kernel")
            fn, on_disk = load_kernel(source, "kernel")
            self.functions[key] = fn
            self.sources[key] = source
            self.source_on_disk[key] = on_disk
        return fn

    @property
    def source(self):
        """The generated source of each variant compiled so far (readable, kept for inspection)."""
        return "\n".join(self.sources.values())

    def plan(self, arrays):
        shapes = tuple(a.shape for a in arrays)
        plan = self.plans.get(shapes)
        if plan is None:
            plan = Plan(self, shapes)
            self.plan_cache.insert(self.plans, shapes, plan)
        else:
            plan.used = next(_clock)
        return plan

    def __call__(self, sink, *arrays):
        return self.plan(arrays).run(sink, arrays)

    def entry(self):
        """A call function of fixed arity: the plan for the input shapes, then its fast path."""
        n = len(self.kernel.inputs)
        names = ", ".join(f"x{k}" for k in range(n))
        key = "(" + "".join(f"x{k}.shape, " for k in range(n)) + ")"
        source = (
            f"def entry(sink, {names}):\n"
            f"    try:\n"
            f"        plan = plans.get({key})\n"
            f"        if plan is not None and plan.call is not None:\n"
            f"            plan.used = tick()\n"
            f"            return plan.call(sink, {names})\n"
            f"        return runner(sink, {names})\n"
            f"    except GraphcError:\n"
            f"        raise\n"
            f"    except Exception as err:\n"
            f"        raise runner.explain(err, ({names},)) from err\n"
        )
        ns = {"plans": self.plans, "runner": self, "tick": _clock.__next__, "GraphcError": GraphcError}
        exec(compile(source, "<graphc kernel entry>", "exec"), ns)
        return ns["entry"]

    def explain(self, err, arrays):
        """The error to raise for a failed kernel call: the member op that fails the same way
        on the reference interpreter (naming it and the user's line), else the kernel's ops and
        the line that built its result."""
        values = {id(x): a for x, a in zip(self.kernel.inputs, arrays)}
        try:
            with np.errstate(all="ignore"):
                for member in self.kernel.members:
                    values[id(member)] = run_node(member, values)
        except Exception as reference_err:  # run_node's errors name the member and its line
            return reference_err
        return self.located(err)

    def located(self, err):
        return located(err, self.kernel.root, f" in the fused kernel {' -> '.join(self.kernel.ops())}")

    def warm(self, example_arrays):
        """Compile (or load from the disk cache) the variant these example inputs need."""
        plan = self.plan(example_arrays)
        if plan.empty:
            return
        args = plan.arguments(example_arrays)
        out = np.empty(plan.out_loop_shape, self.dtype)
        import numba

        sig = tuple(numba.typeof(a) for a in [plan.loop_shape] + args + [out])
        fn = plan.fn
        in_process = sig in fn.overloads
        loaded_before = sum(fn.stats.cache_hits.values())
        fn.compile(sig)
        from_disk = sum(fn.stats.cache_hits.values()) > loaded_before
        types = ", ".join(str(t) for t in sig[1:])
        if in_process:
            why = "already compiled in this process"
        elif from_disk:
            why = "loaded from the on-disk cache"
        elif entry_was_damaged(fn, sig):
            why = "damaged cache entry"
        elif self.source_on_disk[plan.variant.key()]:
            why = f"kernel source was cached, but not compiled for these types ({types})"
        else:
            why = f"new kernel (first compile of this loop nest for {types})"
        self.stats.cache.append(
            {"kernel": " -> ".join(self.kernel.ops()), "hit": in_process or from_disk, "why": why}
        )
