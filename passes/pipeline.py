"""Named pass pipelines. A pass is a function Graph -> Graph; each run records its node counts
and time in the compile stats, and with verify=True its result is checked against the input graph
with the reference backend."""
import time

from .constant_fold import constant_fold
from .cse import cse

PIPELINES = {
    "default": [("constant_fold", constant_fold), ("cse", cse)],
    "none": [],
}


def register_pass(pipeline, name, fn, after=None):
    passes = PIPELINES.setdefault(pipeline, [])
    index = len(passes) if after is None else [n for n, _ in passes].index(after) + 1
    passes.insert(index, (name, fn))


def run_pipeline(graph, pipeline, stats, verify=None):
    for name, fn in PIPELINES[pipeline]:
        before = len(graph.nodes)
        start = time.perf_counter()
        result = fn(graph)
        elapsed = time.perf_counter() - start
        stats.record_pass(name, before, len(result.nodes), elapsed)
        if verify is not None:
            verify(name, graph, result)
        graph = result
    return graph
