"""gc.compile: graph -> optimized graph -> backend callable, with checked feeds and atomic updates."""
import os
import time

import numpy as np

from graphc.ir.errors import FeedError, ShapeError
from graphc.ir.graph import Graph
from graphc.ir.node import Node, Variable, read_state, write_state
from graphc.ir.ops.sources import PLACEHOLDER
from graphc.ir.typecheck import check_types
from graphc.ir.types import fmt_shape, shapes_agree
from graphc.passes.pipeline import PIPELINES, run_pipeline
from graphc.passes.verify import check_pass

from .feed_dims import size_links
from .feeds import bind_feeds, make_fast_check
from .random import state_advances
from .stats import CompileStats

BACKENDS = {}
# Loop layouts (one per input shape) each kernel keeps; without a bound a function fed many
# sizes would keep every plan forever.
DEFAULT_MAX_PLANS = 32


def register_backend(name, factory):
    BACKENDS[name] = factory


def _check_graph_spec(inputs, outputs, updates):
    for x in inputs:
        if not isinstance(x, Node) or x.op is not PLACEHOLDER:
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
    """A compiled graph. Call with inputs by position or by placeholder name.

    Calls may come from several threads at once. Each reads a snapshot of the Variables'
    values; a call with updates holds the locks of the Variables it updates (taken in one
    global order, so two calls cannot deadlock) from that snapshot until its new values are
    committed, so concurrent updates are never lost and never mixed.
    """

    def __init__(self, graph, runner, stats, single_output, size_checks):
        self.graph = graph
        self.stats = stats
        self._runner = runner
        self._single = single_output
        self._variables = graph.variables
        self._updates = list(graph.updates.items())
        self._locks = [var.lock for var in sorted(graph.updates, key=lambda var: var.id)]
        self._size_checks = size_checks
        self._fast_check = make_fast_check(graph.inputs, size_checks)
        self._run = runner.run  # the driver's generated function itself, for the numba backend
        fresh = runner.fresh_outputs
        self._fresh_outputs = bool(fresh) and all(fresh) and len({id(x) for x in graph.outputs}) == len(graph.outputs)

    @property
    def inputs(self):
        return list(self.graph.inputs)

    @property
    def source(self):
        """The generated code: the driver and (numba backend) each kernel's loop nest."""
        kernels = self._runner.kernel_sources
        return "\n\n".join([self._runner.source] + ([kernels] if kernels else []))

    def __call__(self, *args, **kwargs):
        if kwargs or not self._fast_check(args):
            args = bind_feeds(self.graph.inputs, args, kwargs, self._size_checks)
        if self._locks:
            return self._call_updating(args)
        state = read_state(self._variables) if self._variables else ()
        outputs = self._run(args, state)[0]
        if self._fresh_outputs:
            # Each output is a new array the backend wrote this call: nothing can alias it.
            return outputs[0] if self._single else outputs
        return self._finish(args, state, outputs, [])

    def _call_updating(self, feeds):
        held = []
        try:
            for lock in self._locks:
                lock.acquire()
                held.append(lock)
            state = read_state(self._variables)
            outputs, new_values = self._run(feeds, state)
            return self._finish(feeds, state, outputs, new_values)
        finally:
            for lock in reversed(held):
                lock.release()

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
        assignments = []
        for var, value in checked:
            if id(value) in shared or not value.flags.owndata or not value.flags.writeable or value.dtype != var.dtype:
                value = np.array(value, dtype=var.dtype)
            shared.add(id(value))
            assignments.append((var, value))
        write_state(assignments)
        return results[0] if self._single else results

    def __repr__(self):
        names = ", ".join(x.name for x in self.graph.inputs)
        return f"<graphc compiled function ({names}) -> {len(self.graph.outputs)} output(s), {self.stats.backend}>"


def _owned(array):
    # Outputs must not alias graph constants, variable state or internal buffers.
    return array if array.flags.owndata and array.flags.writeable else np.array(array)


# Type-check the graph after every pass of every compile (the test suite sets it); verify=True
# does so too.
CHECK_TYPES = os.environ.get("GRAPHC_CHECK_TYPES") == "1"


def _pass_checks(verify):
    """The check run after each pass: the type check, then verify's value check, as asked."""
    if not (verify or CHECK_TYPES):
        return None

    def check(name, before, after):
        check_types(after, name)
        if verify:
            check_pass(name, before, after)

    return check


def compile(inputs, outputs, updates=None, backend="numba", optimize=True, verify=False, nan_check=False,
            max_plans=DEFAULT_MAX_PLANS):
    """Compile a graph from `inputs` (placeholders) to `outputs`, applying `updates` per call.

    verify=True re-runs the graph with the reference backend after every pass and names the first
    pass and node whose values changed. nan_check=True checks every step's result and raises
    NaNError naming the first op (inside fused kernels too) that made NaN from NaN-free inputs.
    max_plans bounds the loop layouts (one per input shape) each kernel keeps; the least
    recently used goes first.
    """
    start = time.perf_counter()
    if isinstance(inputs, Node):
        inputs = [inputs]
    single = isinstance(outputs, Node)
    outputs = [outputs] if single else list(outputs)
    updates = dict(updates or {})
    _check_graph_spec(list(inputs), outputs, updates)
    if not isinstance(max_plans, int) or isinstance(max_plans, bool) or max_plans < 1:
        raise ValueError(f"compile: max_plans must be a positive int, got {max_plans!r}")
    if backend not in BACKENDS:
        raise ValueError(f"compile: unknown backend {backend!r}; choose one of {', '.join(sorted(BACKENDS))}")
    graph = Graph(inputs, outputs, updates)
    advances = state_advances(graph, updates)  # random nodes draw new values on every call
    if advances:
        graph = Graph(inputs, outputs, {**updates, **advances})
    fed = {id(x) for x in graph.inputs}
    for node in graph.nodes:
        if node.op is PLACEHOLDER and id(node) not in fed:
            raise FeedError(
                f"compile: the outputs depend on placeholder '{node.name}' ({node.dtype.name}"
                f"{fmt_shape(node.shape)}, built at {node.site}), which is not among the inputs"
            )
    size_checks = size_links(graph)  # of the graph as built: what the user's program requires
    stats = CompileStats()
    stats.backend = backend
    stats.nodes_before = len(graph.nodes)
    engine = BACKENDS[backend]()
    check = _pass_checks(verify)
    if optimize:
        graph = run_pipeline(graph, PIPELINES["default"], stats, verify=check)
    # Lowering passes (fusion) are how a backend executes, so they run even without optimize.
    graph = run_pipeline(graph, engine.passes, stats, verify=check)
    stats.nodes_after = len(graph.nodes)
    runner = engine.prepare(graph, stats, nan_check=nan_check, max_plans=max_plans)
    stats.compile_time = time.perf_counter() - start
    return CompiledFunction(graph, runner, stats, single, size_checks)
