"""Running one fused kernel on the CPU: a plan per input shapes, threads, compile accounting.

A plan (the loop layout from layout.py plus the compiled loop nest for it) is cached per tuple
of input shapes, so a steady-state call costs a dict lookup, the numba dispatch and, for large
sizes, handing halves of the work to a thread pool (kernels are compiled with nogil, so the
threads run truly in parallel, without numba's slower-to-compile parallel mode). Plans hold no
arrays: each result is written where the call's sink for it (a Slot or Recycler of the call's
workspace) says, so concurrent calls never share an output.
"""
import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from graphc.ir.errors import GraphcError
from graphc.ir.interpreter import located, node_values

from .codegen import kernel_source
from .kernel_cache import entry_was_damaged, load_kernel
from .layout import Layout

# Below this many loop iterations a second thread costs more than it saves (measured here: a
# 1e6-element kernel runs ~1.8x faster on 2 threads, a 1e5 one gains nothing).
PARALLEL_THRESHOLD = 1 << 19
# In a graph that also calls BLAS, OpenBLAS's threads keep spinning after each matmul; handing
# a kernel to another thread next to them made an MLP step 20x slower on 2 cores at 64k
# elements. There, only very large kernels are split.
PARALLEL_THRESHOLD_WITH_BLAS = 1 << 22
_pool = []
_pool_lock = threading.Lock()
_clock = itertools.count()


def _threads():
    return max(1, min(os.cpu_count() or 1, 8))


def _executor():
    if not _pool:
        with _pool_lock:  # two first calls at once must not start two pools
            if not _pool:
                _pool.append(ThreadPoolExecutor(max_workers=_threads(), thread_name_prefix="graphc"))
    return _pool[0]


class Plan:
    """How to call the kernel for one combination of input shapes: its layout, the compiled loop
    for that layout, and whether the loop is split between threads."""

    def __init__(self, runner, shapes):
        self.runner = runner
        layout = self.layout = Layout(runner.kernel, shapes)
        self.fn = runner.function_for(layout.variant)
        threshold = PARALLEL_THRESHOLD_WITH_BLAS if runner.near_blas else PARALLEL_THRESHOLD
        self.split = bool(layout.loop_shape) and layout.size >= threshold and layout.loop_shape[0] >= 2 \
            and _threads() > 1
        self.used = next(_clock)
        self.call = self._fast_call() if not (self.split or layout.empty) else None

    def _fast_call(self):
        """A straight-line function for this layout: a small call is a handful of operations."""
        kernel, layout = self.runner.kernel, self.layout
        root = kernel.root
        ns = {"fn": self.fn, "ascontig": np.ascontiguousarray, "loop": layout.shape_arg,
              "shape": layout.result_shape, "out_loop": layout.out_loop_shape, "count": layout.count,
              "divide": np.divide, "init": root.op.identity(root.dtype) if kernel.reduce else None}
        args = []
        for k, target in enumerate(layout.input_shapes):
            if target is None:
                args.append(f"x{k}[()]" if layout.input_ranks[k] == 0 else f"x{k}.reshape(-1)[0]")
            else:
                args.append(f"ascontig(x{k}).reshape({target!r})")
        sinks = [f"s{j}" for j in range(len(kernel.roots))]
        inputs = [f"x{k}" for k in range(len(layout.input_shapes))]
        lines = [f"def call({', '.join(sinks + inputs)}):"]
        reshaped = layout.out_loop_shape != layout.result_shape
        outs = []
        for j, r in enumerate(kernel.roots):
            ns[f"dtype{j}"] = r.dtype
            lines.append(f"    r{j} = s{j}.get(shape, dtype{j})")
            if reshaped:
                lines.append(f"    o{j} = r{j}.reshape(out_loop)")
            outs.append(f"o{j}" if reshaped else f"r{j}")
        if kernel.reduce:
            lines.append(f"    {outs[0]}.fill(init)")
        lines.append(f"    fn(loop, {', '.join(args + outs)})")
        if kernel.reduce and root.op.divides_by_count:
            lines.append(f"    divide({outs[0]}, count, out={outs[0]})")
        results = ", ".join(f"r{j}" for j in range(len(kernel.roots)))
        lines.append(f"    return {results}" if len(kernel.roots) == 1 else f"    return ({results},)")
        exec(compile("\n".join(lines), "<graphc kernel call>", "exec"), ns)
        return ns["call"]

    def arguments(self, arrays):
        args = []
        for a, target in zip(arrays, self.layout.input_shapes):
            if target is None:
                args.append(a.reshape(-1)[0])
            else:
                args.append(np.ascontiguousarray(a).reshape(target))
        return args

    def run(self, sinks, arrays):
        if self.call is not None:
            return self.call(*sinks, *arrays)
        kernel, layout = self.runner.kernel, self.layout
        if layout.empty:  # NumPy's semantics (errors for max of nothing, 0 for sum) via the reference
            return kernel.node.op.evaluate(arrays, kernel.node.attrs)
        args = self.arguments(arrays)
        results = [sink.get(layout.result_shape, r.dtype) for sink, r in zip(sinks, kernel.roots)]
        outs = [r.reshape(layout.out_loop_shape) for r in results]
        if kernel.reduce:
            outs[0].fill(kernel.root.op.identity(outs[0].dtype))
        if self.split:
            self._run_split(args, outs)
        else:
            self.fn(layout.shape_arg, *args, *outs)
        if kernel.reduce and kernel.root.op.divides_by_count:
            np.divide(outs[0], layout.count, out=outs[0])
        return results[0] if len(results) == 1 else tuple(results)

    def _run_split(self, args, outs):
        layout = self.layout
        n = layout.loop_shape[0]
        parts = _threads()
        bounds = [n * i // parts for i in range(parts + 1)]
        reduced_first = layout.variant.reduced[0] if layout.variant.reduced else False
        root = self.runner.kernel.root
        calls, partials = [], []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            if lo == hi:
                continue
            sub = [a if kind == "scalar" or kind[0] else a[lo:hi] for a, kind in zip(args, layout.variant.inputs)]
            shape = (hi - lo,) + layout.shape_arg[1:]
            if self.runner.kernel.draws_random:  # where these rows start in the whole loop
                shape = shape[:-1] + (lo,)
            if reduced_first:  # each thread folds its rows into its own partial result
                part = np.full_like(outs[0], root.op.identity(outs[0].dtype))
                partials.append(part)
                calls.append((shape, *sub, part))
            else:
                calls.append((shape, *sub, *[out[lo:hi] for out in outs]))
        # The calling thread takes the first share itself: one hand-off fewer than it waiting.
        jobs = [_executor().submit(self.fn, *call) for call in calls[1:]]
        self.fn(*calls[0])
        for job in jobs:
            job.result()
        if reduced_first:
            total = partials[0]
            for part in partials[1:]:
                total = root.op.combine.impl(total, part)
            outs[0][...] = total


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
    """One fused kernel on the CPU: its compiled loop nest per layout variant, its plans, and the
    entry function the driver calls with the call's sinks (one per result) and the inputs."""

    def __init__(self, kernel, stats, plan_cache, near_blas=False):
        self.kernel = kernel
        self.near_blas = near_blas  # the graph also runs BLAS: split only very large loops
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

    def __call__(self, sinks, arrays):
        return self.plan(arrays).run(sinks, arrays)

    def entry(self):
        """A call function of fixed arity: the plan for the input shapes, then its fast path."""
        inputs = ", ".join(f"x{k}" for k in range(len(self.kernel.inputs)))
        sinks = ", ".join(f"s{j}" for j in range(len(self.kernel.roots)))
        key = "(" + "".join(f"x{k}.shape, " for k in range(len(self.kernel.inputs))) + ")"
        source = (
            f"def entry({sinks}, {inputs}):\n"
            f"    try:\n"
            f"        plan = plans.get({key})\n"
            f"        if plan is not None and plan.call is not None:\n"
            f"            plan.used = tick()\n"
            f"            return plan.call({sinks}, {inputs})\n"
            f"        return runner(({sinks},), ({inputs},))\n"
            f"    except GraphcError:\n"
            f"        raise\n"
            f"    except Exception as err:\n"
            f"        raise runner.explain(err, ({inputs},)) from err\n"
        )
        ns = {"plans": self.plans, "runner": self, "tick": _clock.__next__, "GraphcError": GraphcError}
        exec(compile(source, "<graphc kernel entry>", "exec"), ns)
        return ns["entry"]

    def explain(self, err, arrays):
        """The error to raise for a failed kernel call: the member op that fails the same way
        on the reference interpreter (naming it and the user's line), else the kernel's ops and
        the line that built its result."""
        try:
            with np.errstate(all="ignore"):
                node_values(self.kernel.node.attrs["body"], arrays)
        except Exception as reference_err:  # the interpreter's errors name the member and its line
            return reference_err
        return self.located(err)

    def located(self, err):
        return located(err, self.kernel.root, f" in the fused kernel {self.kernel.description}")

    def warm(self, example_arrays):
        """Compile (or load from the disk cache) the variant these example inputs need."""
        plan = self.plan(example_arrays)
        layout = plan.layout
        if layout.empty:
            return
        args = plan.arguments(example_arrays)
        outs = [np.empty(layout.out_loop_shape, r.dtype) for r in self.kernel.roots]
        sig = tuple(numba.typeof(a) for a in [layout.shape_arg] + args + outs)
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
        elif self.source_on_disk[layout.variant.key()]:
            why = f"kernel source was cached, but not compiled for these types ({types})"
        else:
            why = f"new kernel (first compile of this loop nest for {types})"
        self.stats.cache.append({"kernel": self.kernel.description, "hit": in_process or from_disk, "why": why})
