"""The numba backend: fused kernels compiled by numba, everything else on NumPy (BLAS matmul),
sequenced by a generated straight-line driver so a call adds only a few microseconds."""
import time

import numpy as np

from graphc.backends.nan_check import checked
from graphc.backends.numpy_backend import located
from graphc.ir.errors import GraphcError
from graphc.passes.fusion import fuse
from graphc.passes.verify import RUNTIME_SIZE

from .memory import plan_memory
from .nn_kernels import lower
from .runner import KernelRunner


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


class MatmulInto:
    """BLAS matmul into the memory plan's buffer (2-D; batched matmul allocates)."""

    def __init__(self, slot):
        self.slot = slot

    def __call__(self, a, b):
        if a.ndim != 2 or b.ndim != 2:
            return np.matmul(a, b)
        out = self.slot.get((a.shape[0], b.shape[1]), np.result_type(a.dtype, b.dtype))
        return np.matmul(a, b, out=out)


class CompiledDriver:
    """The straight-line program that runs a fused graph (its source is kept as `.source`)."""

    def __init__(self, graph, stats, nan_check=False):
        self.graph = graph
        self.runners = []
        slots = plan_memory(graph)
        near_blas = any(node.op.name == "matmul" for node in graph.nodes)
        names = {id(node): f"v{i}" for i, node in enumerate(graph.nodes)}
        namespace = {}
        lines = ["def run(feeds):"]
        inputs = {id(x): i for i, x in enumerate(graph.inputs)}
        numpy_ops = {}
        for node in graph.nodes:
            target = names[id(node)]
            args = ", ".join(names[id(x)] for x in node.inputs)
            kind = node.op.name
            if kind == "placeholder":
                lines.append(f"    {target} = feeds[{inputs[id(node)]}]")
            elif kind == "variable":
                namespace[f"var_{target}"] = node
                lines.append(f"    {target} = var_{target}._value")
            elif kind == "constant":
                namespace[f"c_{target}"] = node.attrs["value"]
                lines.append(f"    {target} = c_{target}")
            elif kind == "fused":
                runner = KernelRunner(node.attrs["kernel"], stats, slots.get(id(node)), near_blas)
                self.runners.append((node, runner))
                namespace[f"k_{target}"] = checked(node, runner) if nan_check else runner.entry()
                lines.append(f"    {target} = k_{target}({args})")
            elif kind == "matmul" and id(node) in slots:
                step = MatmulInto(slots[id(node)])
                namespace[f"mm_{target}"] = checked(node, step) if nan_check else step
                lines.append(f"    {target} = mm_{target}({args})")
            elif kind == "transpose":  # a view: inline, without an op call
                axes = node.attrs["axes"]
                lines.append(f"    {target} = {args}.T" if axes == (1, 0) else f"    {target} = {args}.transpose({axes!r})")
            elif (lowered := lower(node)) is not None:
                step = located_step(node, lowered)
                namespace[f"nn_{target}"] = checked(node, step) if nan_check else step
                lines.append(f"    {target} = nn_{target}({args})")
            else:
                numpy_ops[kind] = numpy_ops.get(kind, 0) + 1
                step = located_step(node, node.op.impl)
                namespace[f"op_{target}"] = checked(node, step) if nan_check else step
                namespace[f"at_{target}"] = node.attrs
                lines.append(f"    {target} = op_{target}({args}{', ' if args else ''}**at_{target})")
        outs = ", ".join(names[id(x)] for x in graph.outputs)
        ups = ", ".join(names[id(v)] for v in graph.updates.values())
        lines.append(f"    return [{outs}], [{ups}]")
        self.source = "\n".join(lines)
        # Outputs computed by a kernel or matmul without a reusable buffer are new every call.
        self.fresh_outputs = [x.op.name in ("fused", "matmul") and id(x) not in slots for x in graph.outputs]
        exec(compile(self.source, "<graphc driver>", "exec"), namespace)
        self.run = namespace["run"]
        stats.kernels = len(self.runners)
        stats.buffers = len({id(slot) for slot in slots.values()})
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
            runner.warm([_example(x, kernel.iter_shape) for x in kernel.inputs])

    def __call__(self, feeds):
        return self.run(feeds)

    @property
    def kernel_sources(self):
        """The generated numba source of every kernel variant compiled so far."""
        return "\n".join(f"# {' -> '.join(r.kernel.ops())}\n{r.source}" for _, r in self.runners)


class NumbaBackend:
    name = "numba"
    passes = [("fuse", fuse)]

    def prepare(self, graph, stats, nan_check=False):
        start = time.perf_counter()
        driver = CompiledDriver(graph, stats, nan_check)
        driver.warm()
        stats.kernel_compile_time = time.perf_counter() - start
        return driver
