"""The numba backend: fused kernels compiled by numba, everything else on NumPy (BLAS matmul),
sequenced by a generated straight-line driver so a call adds only a few microseconds."""
import functools
import time

import numpy as np

from graphc.backends.nan_check import checked
from graphc.backends.numpy_backend import located
from graphc.ir.errors import GraphcError
from graphc.passes.fusion import fuse
from graphc.passes.verify import RUNTIME_SIZE

from graphc.ir.ops.linalg import MATMUL

from .blas import matmul_into
from .memory import WRITES_FRESH, plan_memory, workspace_factory
from .nn_kernels import lower
from .runner import KernelRunner, PlanCache


def _example(node, iter_shape):
    """A stand-in input for warming a kernel. A None dim takes the kernel's known size there, if
    any (a constant may fix it), else a size > 1 (None dims never broadcast)."""
    lead = len(iter_shape) - len(node.shape)
    shape = tuple(
        (iter_shape[lead + i] if iter_shape[lead + i] is not None else RUNTIME_SIZE) if d is None else d
        for i, d in enumerate(node.shape)
    )
    return np.zeros(shape, node.dtype)


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


class CompiledDriver:
    """The straight-line program that runs a fused graph (its source is kept as `.source`).

    `run(feeds, state)` takes the inputs and the Variables' values (a snapshot the caller took)
    and returns (outputs, update values). Intermediate buffers belong to a workspace, one per
    call in flight: a call takes a free workspace from the pool (or makes one) and puts it back
    when it returns, so concurrent calls never share a buffer and never wait for each other.
    """

    def __init__(self, graph, stats, nan_check, max_plans):
        self.graph = graph
        self.runners = []
        slots, slot_count = plan_memory(graph)
        near_blas = any(node.op is MATMUL for node in graph.nodes)
        names = {id(node): f"v{i}" for i, node in enumerate(graph.nodes)}
        sinks = {}  # id(node) -> index of its buffer (or result recycler) in a workspace
        recyclers = 0
        namespace = {"free": [], "workspace": None}
        lines = ["def run(feeds, state):", "    try:", "        ws = free.pop()", "    except IndexError:",
                 "        ws = workspace()"]
        inputs = {id(x): i for i, x in enumerate(graph.inputs)}
        variables = {id(v): i for i, v in enumerate(graph.variables)}
        numpy_ops = {}
        plan_cache = PlanCache(max_plans, stats)
        for node in graph.nodes:
            target = names[id(node)]
            args = ", ".join(names[id(x)] for x in node.inputs)
            kind = node.op.name
            if kind in WRITES_FRESH:
                if id(node) in slots:
                    sinks[id(node)] = slots[id(node)]
                else:
                    sinks[id(node)] = slot_count + recyclers
                    recyclers += 1
            if kind == "placeholder":
                lines.append(f"    {target} = feeds[{inputs[id(node)]}]")
            elif kind == "variable":
                lines.append(f"    {target} = state[{variables[id(node)]}]")
            elif kind == "constant":
                namespace[f"c_{target}"] = node.attrs["value"]
                lines.append(f"    {target} = c_{target}")
            elif kind == "fused":
                runner = KernelRunner(node.attrs["kernel"], stats, plan_cache, near_blas)
                self.runners.append((node, runner))
                namespace[f"k_{target}"] = checked(node, runner, takes_sink=True) if nan_check else runner.entry()
                lines.append(f"    {target} = k_{target}(ws[{sinks[id(node)]}], {args})")
            elif kind == "matmul":
                step = located_step(node, matmul_into)
                namespace[f"mm_{target}"] = checked(node, step, takes_sink=True) if nan_check else step
                lines.append(f"    {target} = mm_{target}(ws[{sinks[id(node)]}], {args})")
            elif kind == "transpose":  # a view: inline, without an op call
                axes = node.attrs["axes"]
                lines.append(f"    {target} = {args}.T" if axes == (1, 0) else f"    {target} = {args}.transpose({axes!r})")
            else:
                lowered = lower(node)
                if lowered is None:
                    numpy_ops[kind] = numpy_ops.get(kind, 0) + 1
                    lowered = functools.partial(node.op.impl, **node.attrs) if node.attrs else node.op.impl
                step = located_step(node, lowered)
                namespace[f"op_{target}"] = checked(node, step) if nan_check else step
                lines.append(f"    {target} = op_{target}({args})")
        outs = ", ".join(names[id(x)] for x in graph.outputs)
        ups = ", ".join(names[id(v)] for v in graph.updates.values())
        lines.append("    free.append(ws)")
        lines.append(f"    return [{outs}], [{ups}]")
        self.source = "\n".join(lines)
        namespace["workspace"] = workspace_factory(slot_count, recyclers)
        # Outputs computed by a kernel or matmul into a recycled result are new arrays that
        # nobody else holds: the caller may hand them out as they are.
        self.fresh_outputs = [id(x) in sinks and sinks[id(x)] >= slot_count for x in graph.outputs]
        exec(compile(self.source, "<graphc driver>", "exec"), namespace)
        self.run = namespace["run"]
        stats.kernels = len(self.runners)
        stats.buffers = slot_count
        stats.buffered_values = len(slots)
        stats.numpy_ops = numpy_ops
        stats.slow_paths.extend(
            f"{count} x {kind} runs as a NumPy op (not fused)"
            for kind, count in sorted(numpy_ops.items())
            if kind not in ("matmul", "transpose", "reshape", "reshape_like", "expand_dims", "squeeze", "getitem")
        )

    def warm(self):
        """Compile every kernel now (for the layouts static shapes predict), not on the first call."""
        for node, runner in self.runners:
            kernel = node.attrs["kernel"]
            try:
                runner.warm([_example(x, kernel.iter_shape) for x in kernel.inputs])
            except GraphcError:
                raise
            except Exception as err:  # numba could not compile it: say which kernel, whose line
                raise runner.located(err) from err

    def __call__(self, feeds, state):
        return self.run(feeds, state)

    @property
    def kernel_sources(self):
        """The generated numba source of every kernel variant compiled so far."""
        return "\n".join(f"# {' -> '.join(r.kernel.ops())}\n{r.source}" for _, r in self.runners)


class NumbaBackend:
    name = "numba"
    passes = [("fuse", fuse)]

    def prepare(self, graph, stats, nan_check, max_plans):
        start = time.perf_counter()
        driver = CompiledDriver(graph, stats, nan_check, max_plans)
        driver.warm()
        stats.kernel_compile_time = time.perf_counter() - start
        return driver
