"""Named pass pipelines. A pass is a function Graph -> Graph; each run records its node counts
and time in the compile stats, and with verify=True its result is checked against the input graph
with the reference backend."""
import time

from .constant_fold import constant_fold
from .cse import cse
from .dce import dce
from .loop_hoist import hoist_loops
from .prune_loops import prune_loop_history
from .rewrite import within_bodies
from .simplify import simplify
from .stabilize import stabilize

# stabilize first, on the graph as the user wrote it: its rules match the unstable forms users
# write (log(softmax(x)), log(1 + x), ...). Then canonicalize (constant folding, CSE), so that
# simplify's local rules see shared subexpressions and literal constants; CSE again merges what
# simplify made equal, and DCE drops what the rewrites orphaned. Last, loops drop the per-step
# history that no gradient reads, and move out what does not need their carry; the inputs that
# only the moved work read are then dropped from the loops.
PIPELINES = {
    "default": [
        ("stabilize", stabilize),
        ("constant_fold", constant_fold),
        ("cse", cse),
        ("simplify", simplify),
        ("cse_again", cse),
        ("dce", dce),
        ("prune_loops", prune_loop_history),
        ("hoist_loops", hoist_loops),
        ("prune_loops_again", prune_loop_history),
    ],
    "none": [],
}


def run_pipeline(graph, passes, stats, verify=None):
    """Run (name, fn) passes in order, recording each in `stats`; `verify(name, before, after)`.
    Each pass runs inside every body first (a loop's body is optimized and fused like a graph)."""
    for name, fn in passes:
        before = len(graph.nodes)
        start = time.perf_counter()
        result = within_bodies(fn)(graph)
        elapsed = time.perf_counter() - start
        stats.record_pass(name, before, len(result.nodes), elapsed)
        if verify is not None:
            verify(name, graph, result)
        graph = result
    return graph
