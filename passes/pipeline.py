"""Named pass pipelines. A pass is a function Graph -> Graph; each run records its node counts
and time in the compile stats, and with verify=True its result is checked against the input graph
with the reference backend."""
import time

from .constant_fold import constant_fold
from .cse import cse
from .dce import dce
from .simplify import simplify
from .stabilize import stabilize

# canonicalize (constant folding, CSE) first, so that the local rules see shared subexpressions
# and literal constants; DCE last drops what the rewrites orphaned.
PIPELINES = {
    "default": [
        ("stabilize", stabilize),
        ("constant_fold", constant_fold),
        ("cse", cse),
        ("simplify", simplify),
        ("cse_again", cse),
        ("dce", dce),
    ],
    "none": [],
}


def register_pass(pipeline, name, fn, after=None):
    passes = PIPELINES.setdefault(pipeline, [])
    index = len(passes) if after is None else [n for n, _ in passes].index(after) + 1
    passes.insert(index, (name, fn))


def run_pipeline(graph, passes, stats, verify=None):
    """Run (name, fn) passes in order, recording each in `stats`; `verify(name, before, after)`."""
    for name, fn in passes:
        before = len(graph.nodes)
        start = time.perf_counter()
        result = fn(graph)
        elapsed = time.perf_counter() - start
        stats.record_pass(name, before, len(result.nodes), elapsed)
        if verify is not None:
            verify(name, graph, result)
        graph = result
    return graph
