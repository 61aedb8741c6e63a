"""verify=True: after each pass, run the graph before and after it with the reference interpreter
on the same random feeds, and name the pass and the first node whose values diverge."""
import numpy as np

from graphc.ir.errors import GraphcError
from graphc.ir.interpreter import node_values
from graphc.ir.ops.sources import CONSTANT

RUNTIME_SIZE = 3  # the size given to every None dimension in the random feeds


class VerificationError(GraphcError, AssertionError):
    pass


def random_feeds(graph, seed=0):
    """One random array per input, in graph.inputs order."""
    rng = np.random.default_rng(seed)
    feeds = []
    for x in graph.inputs:
        shape = tuple(RUNTIME_SIZE if d is None else d for d in x.shape)
        if x.dtype.kind in "fc":
            feeds.append(rng.standard_normal(shape).astype(x.dtype))
        elif x.dtype.kind in "iu":
            feeds.append(rng.integers(0, 2, size=shape).astype(x.dtype))
        else:
            feeds.append(rng.integers(0, 2, size=shape).astype(bool))
    return feeds


# Passes whose job is to compute finite values where the graph as written overflows (log(0) in
# log(1 - sigmoid(z)) at z > 37): where the value before one was inf or nan, any value after is right.
RESCUING_PASSES = frozenset({"stabilize"})


def _close(a, b, rtol, rescue=False):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        if rescue:
            finite = np.isfinite(a)
            a, b = a[finite], b[finite]
        return bool(np.allclose(a, b, rtol=rtol, atol=rtol, equal_nan=True))
    return bool(np.array_equal(a, b))


def check_pass(name, before, after, rtol=1e-6):
    feeds = random_feeds(before)
    with np.errstate(all="ignore"):
        old = node_values(before, feeds)
        new = node_values(after, feeds)
    rescue = name in RESCUING_PASSES

    def close(a, b):
        return _close(a, b, rtol, rescue)

    changed = [f"output {i} ({a.op.name} built at {a.site})" for i, (a, b) in enumerate(zip(before.outputs, after.outputs))
               if not close(old[id(a)], new[id(b)])]
    changed += [f"the update of variable {var.label}" for var in before.updates
                if not close(old[id(before.updates[var])], new[id(after.updates[var])])]
    if not changed:
        return  # a rewrite's own intermediate values (log_sigmoid(-z) for log(1 - sigmoid(z))) are new
    # Nodes keep their creation site through rewrites. A new node is suspect when its value
    # matches none of the old nodes built on the same line with the same shape and dtype (a
    # fused kernel, built on its result's line, is compared with that result); the first suspect
    # is named. A tuple value is checked through its parts.
    old_ids = {id(n) for n in before.nodes}
    old_at = {}
    for node in before.nodes:
        old_at.setdefault((node.site, node.shape, node.dtype), []).append(node)
    for node in after.nodes:
        if id(node) in old_ids or node.op is CONSTANT or node.parts is not None:
            continue
        candidates = [c for c in old_at.get((node.site, node.shape, node.dtype), []) if c.op is not CONSTANT]
        if not candidates or any(close(old[id(c)], new[id(node)]) for c in candidates):
            continue
        twin = next((c for c in candidates if c.op.name == node.op.name), candidates[0])
        was = "" if twin.op.name == node.op.name else f", was {twin.op.name}"
        diff = np.max(np.abs(np.asarray(old[id(twin)], float) - np.asarray(new[id(node)], float)))
        raise VerificationError(
            f"pass '{name}' changed the value of {node.op.name} (built at {node.site}{was}): "
            f"max difference {diff:.3g}"
        )
    raise VerificationError(f"pass '{name}' changed {changed[0]}")
