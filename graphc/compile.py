"""gc.compile: graph -> optimized graph -> backend callable, with checked feeds and atomic updates."""
import time

import numpy as np

from graphc.ir.errors import FeedError, ShapeError
from graphc.ir.graph import Graph
from graphc.ir.node import Node, Variable
from graphc.ir.types import fmt_shape, shapes_agree

from .feeds import bind_feeds, make_fast_check
from .stats import CompileStats

BACKENDS = {}


def register_backend(name, factory):
    BACKENDS[name] = factory


def _check_graph_spec(inputs, outputs, updates):
    for x in inputs:
        if not isinstance(x, Node) or x.op.name != "placeholder":
            raise TypeError(f"compile: inputs must be placeholders, got {x!r}")
    names = [x.name for x in inputs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"compile: two inputs share the name(s) {', '.join(dupes)}; names must be unique")
    for y in outputs:
        if not isinstance(y, Node):
            raise TypeError(f"compile: outputs must be graph nodes, got {type(y).__name__}")
    for var, value in updates.items():
        if not isinstance(var, Variable):
            raise TypeError(f"compile: updates keys must be Variables, got {var!r}")
        if not isinstance(value, Node):
            raise TypeError(f"compile: the update of {var.label} must be a graph node, got {type(value).__name__}")
        if value.dtype != var.dtype:
            raise TypeError(
                f"compile: the update of {var.label} has dtype {value.dtype} (built at {value.site}) but the "
                f"variable is {var.dtype}; cast it with .astype({var.dtype.name!r})"
            )
        if not shapes_agree(value.shape, var.shape):
            raise ShapeError(
                f"compile: the update of {var.label} has shape {fmt_shape(value.shape)} (built at {value.site}) "
                f"but the variable has shape {fmt_shape(var.shape)}"
            )


class CompiledFunction:
    """A compiled graph. Call with inputs by position or by placeholder name."""

    def __init__(self, graph, runner, stats, single_output):
        self.graph = graph
        self.stats = stats
        self._runner = runner
        self._single = single_output
        self._variables = [n for n in graph.nodes if isinstance(n, Variable)]
        self._updates = list(graph.updates.items())
        self._fast_check = make_fast_check(graph.inputs)
        self._run = getattr(runner, "run", runner)  # the driver's generated function itself
        fresh = getattr(runner, "fresh_outputs", None)
        self._fresh_outputs = bool(fresh) and all(fresh) and len({id(x) for x in graph.outputs}) == len(graph.outputs)

    @property
    def inputs(self):
        return list(self.graph.inputs)

    @property
    def source(self):
        """The generated code: the driver and (numba backend) each kernel's loop nest."""
        parts = [getattr(self._runner, "source", "# reference interpreter: no generated code")]
        kernels = getattr(self._runner, "kernel_sources", "")
        return "\n\n".join(parts + ([kernels] if kernels else []))

    def __call__(self, *args, **kwargs):
        if kwargs or not self._fast_check(args):
            args = bind_feeds(self.graph.inputs, args, kwargs)
        if self._fresh_outputs and not self._updates:
            # Each output is a new array the backend wrote this call: nothing can alias it.
            outputs = self._run(args)[0]
            return outputs[0] if self._single else outputs
        state = [v._value for v in self._variables]
        outputs, new_values = self._run(args)
        return self._finish(args, state, outputs, new_values)

    def _finish(self, feeds, state, outputs, new_values):
        # Every update was computed from the old values; only now, after the whole call
        # succeeded, are they checked and assigned together.
        checked = []
        for (var, _), value in zip(self._updates, new_values):
            value = np.asarray(value)
            if value.shape != var.shape:
                raise ShapeError(
                    f"update of {var.label}: computed shape {fmt_shape(value.shape)}, "
                    f"variable has {fmt_shape(var.shape)}; no variable was changed"
                )
            checked.append((var, value))
        # An output can be a feed or a variable's state itself (an identity graph), or the same
        # array as another output (CSE merged them): copy those, so no result shares memory.
        taken = {id(a) for a in feeds} | {id(a) for a in state}
        results = []
        for v in outputs:
            v = _owned(np.asarray(v))
            if id(v) in taken:
                v = np.array(v)
            taken.add(id(v))
            results.append(v)
        # A fresh array computed for this update becomes the new state as is; anything that
        # may be shared (a feed, old state, an output, another update, a view) is copied.
        shared = {id(a) for a in feeds} | {id(a) for a in state} | {id(a) for a in results}
        for var, value in checked:
            if id(value) in shared or not value.flags.owndata or not value.flags.writeable or value.dtype != var.dtype:
                value = np.array(value, dtype=var.dtype)
            shared.add(id(value))
            var._value = value
        return results[0] if self._single else results

    def __repr__(self):
        names = ", ".join(x.name for x in self.graph.inputs)
        return f"<graphc compiled function ({names}) -> {len(self.graph.outputs)} output(s), {self.stats.backend}>"


def _owned(array):
    # Outputs must not alias graph constants, variable state or internal buffers.
    return array if array.flags.owndata and array.flags.writeable else np.array(array)


def compile(inputs, outputs, updates=None, backend="numba", optimize=True, verify=False, nan_check=False):
    """Compile a graph from `inputs` (placeholders) to `outputs`, applying `updates` per call.

    verify=True re-runs the graph with the reference backend after every pass and names the first
    pass and node whose values changed. nan_check=True checks every step's result and raises
    NaNError naming the first op (inside fused kernels too) that made NaN from NaN-free inputs.
    """
    from graphc.passes.pipeline import PIPELINES, run_pipeline
    from graphc.passes.verify import check_pass

    start = time.perf_counter()
    if isinstance(inputs, Node):
        inputs = [inputs]
    single = isinstance(outputs, Node)
    outputs = [outputs] if single else list(outputs)
    updates = dict(updates or {})
    _check_graph_spec(list(inputs), outputs, updates)
    if backend not in BACKENDS:
        raise ValueError(f"compile: unknown backend {backend!r}; choose one of {', '.join(sorted(BACKENDS))}")
    graph = Graph(inputs, outputs, updates)
    fed = {id(x) for x in graph.inputs}
    for node in graph.nodes:
        if node.op.name == "placeholder" and id(node) not in fed:
            raise FeedError(
                f"compile: the outputs depend on placeholder '{node.name}' ({node.dtype.name}"
                f"{fmt_shape(node.shape)}, built at {node.site}), which is not among the inputs"
            )
    stats = CompileStats()
    stats.backend = backend
    stats.nodes_before = len(graph.nodes)
    engine = BACKENDS[backend]()
    check = check_pass if verify else None
    if optimize:
        graph = run_pipeline(graph, PIPELINES["default"], stats, verify=check)
    # Lowering passes (fusion) are how a backend executes, so they run even without optimize.
    graph = run_pipeline(graph, getattr(engine, "passes", []), stats, verify=check)
    stats.nodes_after = len(graph.nodes)
    runner = engine.prepare(graph, stats, nan_check=nan_check)
    stats.compile_time = time.perf_counter() - start
    return CompiledFunction(graph, runner, stats, single)
