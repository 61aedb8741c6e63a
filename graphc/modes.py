"""One model function, two modes: trace it into a graph, JIT-compile it per input signature,
and compare its eager and compiled runs (values, gradients, time)."""
import time

import numpy as np

from graphc.ir.node import Node
from graphc.ir.ops.sources import placeholder

from .compile import compile as compile_graph


def _is_array_like(value):
    return isinstance(value, (np.ndarray, np.generic, list)) or hasattr(value, "_graphc_array")


def _as_array(value):
    data = getattr(value, "_graphc_array", None)
    return np.asarray(data() if data is not None else value)


def _placeholders_for(args):
    """A placeholder per array-like argument; Python scalars stay static values."""
    inputs, traced = [], []
    for i, value in enumerate(args):
        if _is_array_like(value):
            array = _as_array(value)
            node = placeholder(array.shape, array.dtype, name=f"arg{i}")
            inputs.append(node)
            traced.append(node)
        else:
            traced.append(value)
    return inputs, traced


def _flatten(result, where):
    if isinstance(result, Node):
        return [result], None
    if isinstance(result, (tuple, list)) and all(isinstance(r, Node) for r in result):
        return list(result), type(result)
    raise TypeError(
        f"{where}: the function must return a graph node or a tuple/list of nodes when traced, "
        f"got {type(result).__name__}; did it convert a value to NumPy or Python?"
    )


def trace(fn, *example_args):
    """Run `fn` once on placeholders shaped like the examples; return its output node(s)."""
    _, traced = _placeholders_for(example_args)
    return fn(*traced)


class JitFunction:
    """`gc.jit(fn)`: compiled on the first call and again for each new input shape/dtype signature."""

    def __init__(self, fn, **compile_options):
        self.fn = fn
        self.compile_options = compile_options
        self.compiled = {}  # signature -> (CompiledFunction, output container type)
        self._last = None
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__name__ = getattr(fn, "__name__", "jit_function")

    @staticmethod
    def signature(args):
        return tuple(
            ("array", _as_array(a).shape, _as_array(a).dtype.str) if _is_array_like(a) else ("static", type(a), a)
            for a in args
        )

    def lower(self, *args):
        """The compiled function for these arguments' signature (compiling it if new)."""
        key = self.signature(args)
        entry = self.compiled.get(key)
        if entry is None:
            inputs, traced = _placeholders_for(args)
            outputs, container = _flatten(self.fn(*traced), f"jit({self.__name__})")
            entry = self.compiled[key] = (compile_graph(inputs, outputs, **self.compile_options), container)
        self._last = entry[0]
        return entry

    def __call__(self, *args):
        compiled, container = self.lower(*args)
        results = compiled(*[_as_array(a) for a in args if _is_array_like(a)])
        return results[0] if container is None else container(results)

    @property
    def graph(self):
        """The optimized graph of the most recently used signature."""
        if self._last is None:
            raise RuntimeError(f"jit({self.__name__}) has not been called yet: there is no graph to show")
        return self._last.graph

    @property
    def stats(self):
        if self._last is None:
            raise RuntimeError(f"jit({self.__name__}) has not been called yet: there are no stats")
        return self._last.stats


def jit(fn=None, **compile_options):
    """Decorator: compile `fn` per input signature (usable as @gc.jit or @gc.jit(backend=...))."""
    if fn is None:
        return lambda f: JitFunction(f, **compile_options)
    return JitFunction(fn, **compile_options)


class CompareReport:
    """Differences between eager and compiled runs of one function, and the time of each."""

    def __init__(self, rows, eager_seconds, compiled_seconds, compile_seconds):
        self.rows = rows  # dicts: name, shape, max_abs, max_rel
        self.eager_time = eager_seconds
        self.compiled_time = compiled_seconds
        self.compile_time = compile_seconds

    @property
    def max_abs(self):
        return max((r["max_abs"] for r in self.rows), default=0.0)

    @property
    def max_rel(self):
        return max((r["max_rel"] for r in self.rows), default=0.0)

    @property
    def speedup(self):
        return self.eager_time / self.compiled_time if self.compiled_time else float("inf")

    def __getitem__(self, name):
        for row in self.rows:
            if row["name"] == name:
                return row
        raise KeyError(name)

    def __str__(self):
        width = max([len(r["name"]) for r in self.rows] + [6])
        lines = [f"{'value':<{width}}  {'shape':<14}{'max abs diff':>14}{'max rel diff':>14}"]
        for r in self.rows:
            lines.append(f"{r['name']:<{width}}  {str(r['shape']):<14}{r['max_abs']:>14.3e}{r['max_rel']:>14.3e}")
        lines.append(
            f"time per call: eager {self.eager_time * 1e3:.3f} ms, compiled {self.compiled_time * 1e3:.3f} ms "
            f"({self.speedup:.1f}x), compile {self.compile_time:.2f} s"
        )
        return "\n".join(lines)

    __repr__ = __str__


def _difference(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"compare: eager result has shape {a.shape} but compiled has {b.shape}")
    both_nan = np.isnan(a) & np.isnan(b)
    same_inf = np.isinf(a) & (a == b)
    ok = both_nan | same_inf
    diff = np.where(ok, 0.0, np.abs(a - b))
    scale = np.where(ok, 1.0, np.maximum(np.abs(a), np.abs(b)))
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(diff == 0, 0.0, diff / scale)
    return (float(diff.max()) if diff.size else 0.0), (float(rel.max()) if rel.size else 0.0)


def _median_time(fn, budget=0.3, max_repeats=50):
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < budget and len(times) < max_repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def compare(fn, *args, wrt=None):
    """Run `fn` eagerly and compiled on `args`; with `wrt` (argument positions) also compare the
    gradients of the sum of its outputs. Returns a CompareReport."""
    from . import eager

    positions = [] if wrt is None else ([wrt] if isinstance(wrt, int) else list(wrt))
    for p in positions:
        if not 0 <= p < len(args) or not _is_array_like(args[p]):
            raise ValueError(f"compare: wrt={p} is not the position of an array argument")
        if _as_array(args[p]).dtype.kind not in "fc":
            raise TypeError(f"compare: argument {p} has dtype {_as_array(args[p]).dtype}; gradients need floats")

    # compiled: trace once, differentiate the graph, compile
    start = time.perf_counter()
    inputs, traced = _placeholders_for(args)
    outputs, _ = _flatten(fn(*traced), "compare")
    node_of = {i: traced[i] for i in positions}
    graph_outputs = list(outputs)
    if positions:
        from graphc.ir.ops.reductions import sum as total
        from graphc.passes.autodiff import grad

        objective = total(outputs[0])
        for extra in outputs[1:]:
            objective = objective + total(extra)
        graph_outputs += grad(objective, [node_of[i] for i in positions])
    compiled = compile_graph(inputs, graph_outputs)
    compile_seconds = time.perf_counter() - start
    feeds = [_as_array(a) for a in args if _is_array_like(a)]
    compiled_values = compiled(*feeds)

    # eager: the same function on tensors, PyTorch style
    def run_eager():
        tensors = [
            eager.tensor(_as_array(a), requires_grad=i in positions) if _is_array_like(a) else a
            for i, a in enumerate(args)
        ]
        if not positions:
            with eager.no_grad():
                result = fn(*tensors)
            return [r.detach().numpy() for r in (result if isinstance(result, (tuple, list)) else [result])]
        result = fn(*tensors)
        results = list(result) if isinstance(result, (tuple, list)) else [result]
        objective = results[0].sum()
        for extra in results[1:]:
            objective = objective + extra.sum()
        objective.backward()
        return [r.detach().numpy() for r in results] + [tensors[i].grad.numpy() for i in positions]

    eager_values = run_eager()
    names = [f"output {k}" for k in range(len(outputs))] + [f"grad arg {p}" for p in positions]
    rows = []
    for name, a, b in zip(names, eager_values, compiled_values):
        max_abs, max_rel = _difference(a, b)
        rows.append({"name": name, "shape": tuple(np.shape(b)), "max_abs": max_abs, "max_rel": max_rel})
    eager_seconds = _median_time(run_eager)
    compiled_seconds = _median_time(lambda: compiled(*feeds))
    return CompareReport(rows, eager_seconds, compiled_seconds, compile_seconds)
