"""The numba backend: fused kernels compiled by numba, everything else on NumPy (BLAS matmul),
sequenced by a generated straight-line driver so a call adds only a few microseconds.

Each node becomes one line of the driver, made by the lowering its op has in LOWERINGS (a view
inlined, a kernel, a matmul or a convolution/pooling kernel (conv_kernels) writing into the
call's workspace, a row kernel from nn_kernels.ROW_KERNELS), else by calling the op's NumPy
implementation.
"""
import functools
import time

import numpy as np

from graphc.ir.errors import GraphcError
from graphc.ir.interpreter import located
from graphc.ir.ops.control import SCAN
from graphc.ir.ops.fused import FUSED
from graphc.ir.ops.linalg import MATMUL, TRANSPOSE
from graphc.ir.ops.sources import CONSTANT, PARAMETER, PLACEHOLDER, VARIABLE
from graphc.ir.ops.tuples import PART
from graphc.passes.fusion import fuse
from graphc.passes.verify import RUNTIME_SIZE

from ..base import Backend, Executable
from ..nan_check import checked
from .blas import matmul_into
from .compiled_loop import CompiledScan
from .conv_kernels import CONV_STEPS
from .loop_kernel import LoopKernel
from .memory import plan_memory, result_owners, workspace_factory
from .nn_kernels import ROW_KERNELS
from .runner import KernelRunner, PlanCache


def _example_sizes(kernel):
    """The sizes of the kernel's iteration shape to warm it with: a None dim takes the size an
    input fixes there (a constant of shape (1, 4) in a (None, None) loop makes it 4), else a
    size > 1 (None dims never broadcast)."""
    sizes = list(kernel.iter_shape)
    for x in kernel.inputs:
        lead = len(sizes) - len(x.shape)
        for i, d in enumerate(x.shape):
            if sizes[lead + i] is None and d not in (None, 1):
                sizes[lead + i] = d
    return tuple(RUNTIME_SIZE if d is None else d for d in sizes)


def _example(node, sizes):
    """A stand-in input for warming a kernel whose iteration shape is `sizes`."""
    lead = len(sizes) - len(node.shape)
    return np.zeros(tuple(sizes[lead + i] if d is None else d for i, d in enumerate(node.shape)), node.dtype)


def located_step(node, fn):
    """Errors from a step name the node and the user's line that built it."""
    def step(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GraphcError:
            raise
        except Exception as err:
            raise located(err, node) from err

    return step


class DriverSource:
    """The driver being generated: its lines, the objects its lines name, and where each node's
    value lives (a local `v<i>`) and which workspace entries receive each step's results."""

    def __init__(self, graph, stats, nan_check, plan_cache):
        self.graph = graph
        self.stats = stats
        self.nan_check = nan_check
        self.names = {id(node): f"v{i}" for i, node in enumerate(graph.nodes)}
        self.inputs = {id(x): i for i, x in enumerate(graph.inputs)}
        self.variables = {id(v): i for i, v in enumerate(graph.variables)}
        self.owners = result_owners(graph)
        self.slots, self.slot_count = plan_memory(graph, self.owners)
        self.recyclers = 0
        self.sinks = {}  # id(owner) -> index of its buffer (or result recycler) in a workspace
        self.namespace = {"free": [], "workspace": None}
        self.runners = []  # (node, KernelRunner)
        self.plan_cache = plan_cache
        self.near_blas = any(node.op is MATMUL for node in graph.nodes)
        self.numpy_ops = {}
        self.bodies = []  # drivers of the bodies of control-flow nodes
        self.loops = []  # scans whose whole loop is one compiled function

    def bind(self, prefix, node, value):
        """Put `value` in the driver's namespace under a name for this node; returns the name."""
        name = f"{prefix}_{self.names[id(node)]}"
        self.namespace[name] = value
        return name

    def sink_args(self, node):
        """`ws[i]` for each result the step writes (a reused slot, or a recycler for a result
        that leaves the call)."""
        args = []
        for owner in self.owners[id(node)]:
            if owner is None:  # a result nobody reads still needs somewhere to go
                index = self.slot_count + self.recyclers
                self.recyclers += 1
            elif id(owner) in self.slots:
                index = self.sinks[id(owner)] = self.slots[id(owner)]
            else:
                index = self.sinks[id(owner)] = self.slot_count + self.recyclers
                self.recyclers += 1
            args.append(f"ws[{index}]")
        return ", ".join(args)

    def step(self, node, fn, sinks=0):
        """Name a step function (checked for NaN when asked) for this node; a step writing into
        the workspace takes its `sinks` first."""
        return self.bind("op", node, checked(node, fn, sinks) if self.nan_check else fn)


def _lower_placeholder(d, node, args):
    return f"feeds[{d.inputs[id(node)]}]"


def _lower_variable(d, node, args):
    return f"state[{d.variables[id(node)]}]"


def _lower_constant(d, node, args):
    return d.bind("c", node, node.attrs["value"])


def _lower_fused(d, node, args):
    runner = KernelRunner(LoopKernel(node), d.stats, d.plan_cache, d.near_blas)
    d.runners.append((node, runner))
    return f"{d.step(node, runner.entry(), sinks=len(runner.kernel.roots))}({d.sink_args(node)}, {args})"


def _lower_matmul(d, node, args):
    return f"{d.step(node, located_step(node, matmul_into), sinks=1)}({d.sink_args(node)}, {args})"


def _lower_transpose(d, node, args):
    axes = node.attrs["axes"]
    return f"{args}.T" if axes == (1, 0) else f"{args}.transpose({axes!r})"


def _lower_part(d, node, args):
    return f"{args}[{node.attrs['index']}]"


def _lower_conv_step(d, node, args):
    """A convolution or pooling kernel writing into a workspace buffer (conv_kernels), or the
    op's NumPy code where no kernel fits the node."""
    fn = CONV_STEPS[node.op](node)
    if fn is None:
        d.numpy_ops[node.op] = d.numpy_ops.get(node.op, 0) + 1
        impl, attrs = node.op.impl, node.attrs

        def fn(sink, *arrays):
            return impl(*arrays, **attrs)
    return f"{d.step(node, located_step(node, fn), sinks=1)}({d.sink_args(node)}, {args})"


# op -> lowering(driver, node, argument names) -> the expression computing the node's value
LOWERINGS = {
    PLACEHOLDER: _lower_placeholder,
    PARAMETER: _lower_placeholder,  # a body's inputs are its driver's feeds
    VARIABLE: _lower_variable,
    CONSTANT: _lower_constant,
    FUSED: _lower_fused,
    MATMUL: _lower_matmul,
    TRANSPOSE: _lower_transpose,
    PART: _lower_part,
    **dict.fromkeys(CONV_STEPS, _lower_conv_step),
}


def _lower_with_bodies(d, node, args):
    """An op whose bodies run as whole graphs (cond, loops): each body compiled once, as a driver
    of its own, and the op's own control logic calling those drivers."""
    drivers = [CompiledDriver(body, d.stats, d.nan_check, None, d.plan_cache) for body in node.op.subgraphs(node.attrs)]
    d.bodies.extend(drivers)
    runs = [_body_runner(driver) for driver in drivers]
    attrs, run_with = node.attrs, node.op.run_with
    if node.op is SCAN and not d.nan_check:  # NaN checks name the step: those loops stay Python-driven
        compiled = CompiledScan.of(node, d.stats, d.plan_cache, run_with)
        if compiled is not None:
            d.loops.append(compiled)
            run_with = compiled
    return f"{d.step(node, located_step(node, lambda *inputs: run_with(attrs, inputs, runs)))}({args})"


def _body_runner(driver):
    run = driver.run

    def run_body(args):
        return run(args, ())[0]

    return run_body


def _lower_numpy(d, node, args):
    """A row kernel where nn_kernels has one for this layout, else the op's NumPy code."""
    make = ROW_KERNELS.get(node.op)
    fn = make(node) if make is not None else None
    if fn is None:
        d.numpy_ops[node.op] = d.numpy_ops.get(node.op, 0) + 1
        fn = functools.partial(node.op.impl, **node.attrs) if node.attrs else node.op.impl
    return f"{d.step(node, located_step(node, fn))}({args})"


class CompiledDriver(Executable):
    """The straight-line program that runs a fused graph (its source is kept as `.source`).

    Intermediate buffers belong to a workspace, one per call in flight: a call takes a free
    workspace from the pool (or makes one) and puts it back when it returns, so concurrent calls
    never share a buffer and never wait for each other.
    """

    def __init__(self, graph, stats, nan_check, max_plans, plan_cache=None):
        """plan_cache: the outermost driver's, for the driver of a body (which then leaves the
        summary in `stats` to the outermost)."""
        self.graph = graph
        outermost = plan_cache is None
        d = DriverSource(graph, stats, nan_check, plan_cache or PlanCache(max_plans, stats))
        # The workspace goes back to the pool also when a step raises (try costs nothing when
        # nothing is raised), so a failed call does not make the next one allocate afresh.
        lines = ["def run(feeds, state):", "    try:", "        ws = free.pop()", "    except IndexError:",
                 "        ws = workspace()", "    try:"]
        for node in graph.nodes:
            args = ", ".join(d.names[id(x)] for x in node.inputs)
            lower = LOWERINGS.get(node.op) or (_lower_with_bodies if node.op.body_attrs else _lower_numpy)
            lines.append(f"        {d.names[id(node)]} = {lower(d, node, args)}")
        outs = ", ".join(d.names[id(x)] for x in graph.outputs)
        ups = ", ".join(d.names[id(v)] for v in graph.updates.values())
        lines.append(f"        return [{outs}], [{ups}]")
        lines.append("    finally:")
        lines.append("        free.append(ws)")
        self.source = "\n".join(lines)
        d.namespace["workspace"] = workspace_factory(d.slot_count, d.recyclers)
        # Outputs computed by a kernel or matmul into a recycled result are new arrays that
        # nobody else holds: the caller may hand them out as they are.
        self.fresh_outputs = [id(x) in d.sinks and d.sinks[id(x)] >= d.slot_count for x in graph.outputs]
        exec(compile(self.source, "<graphc driver>", "exec"), d.namespace)
        self.run = d.namespace["run"]
        self.runners = d.runners
        self.bodies = d.bodies
        self.loops = d.loops
        # What this driver runs, its bodies' drivers included (for the stats of the outermost).
        self.kernel_count = len(d.runners) + sum(body.kernel_count for body in d.bodies)
        self.buffer_count = d.slot_count + sum(body.buffer_count for body in d.bodies)
        self.buffered_values = len(d.slots) + sum(body.buffered_values for body in d.bodies)
        self.numpy_op_counts = dict(d.numpy_ops)
        for body in d.bodies:
            for op, count in body.numpy_op_counts.items():
                self.numpy_op_counts[op] = self.numpy_op_counts.get(op, 0) + count
        if outermost:
            self._record(stats)

    def _record(self, stats):
        stats.kernels = self.kernel_count
        stats.buffers = self.buffer_count
        stats.buffered_values = self.buffered_values
        stats.numpy_ops = {op.name: count for op, count in self.numpy_op_counts.items()}
        stats.slow_paths.extend(
            f"{count} x {op.name} runs as a NumPy op (not fused)"
            for op, count in sorted(self.numpy_op_counts.items(), key=lambda item: item[0].name)
            if not op.returns_view
        )

    def warm(self):
        """Compile every kernel now (for the layouts static shapes predict), not on the first call."""
        for body in self.bodies:
            body.warm()
        for loop in self.loops:
            loop.warm()
        for node, runner in self.runners:
            kernel = runner.kernel
            try:
                sizes = _example_sizes(kernel)
                runner.warm([_example(x, sizes) for x in kernel.inputs])
            except GraphcError:
                raise
            except Exception as err:  # numba could not compile it: say which kernel, whose line
                raise runner.located(err) from err

    def __call__(self, feeds, state):
        return self.run(feeds, state)

    @property
    def kernel_sources(self):
        """The generated numba source of every kernel variant compiled so far."""
        own = [f"# {r.kernel.description}\n{r.source}" for _, r in self.runners]
        own += [f"# the loop of the scan built at {loop.node.site}\n{loop.source}" for loop in self.loops]
        return "\n".join(own + [body.kernel_sources for body in self.bodies if body.kernel_sources])


class NumbaBackend(Backend):
    name = "numba"
    passes = [("fuse", fuse)]

    def prepare(self, graph, stats, nan_check, max_plans):
        start = time.perf_counter()
        driver = CompiledDriver(graph, stats, nan_check, max_plans)
        driver.warm()
        stats.kernel_compile_time = time.perf_counter() - start
        return driver
