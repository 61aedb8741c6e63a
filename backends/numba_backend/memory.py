"""The memory plan: intermediates live in buffers reused across calls and, once dead, by later
steps of the same call.

Only results that never leave a call get a slot (graph outputs and update values are fresh
arrays the caller keeps). A step that runs a NumPy op may return a view of its input, so a
buffer stays alive until the last use of anything that may alias it.
"""
import numpy as np

# Steps whose result is a fresh array written by us (never a view of an input).
WRITES_FRESH = ("fused", "matmul")


class Slot:
    """One reusable buffer; reallocated only when the requested shape or dtype changes."""

    __slots__ = ("buffer",)

    def __init__(self):
        self.buffer = None

    def get(self, shape, dtype):
        buf = self.buffer
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self.buffer = np.empty(shape, dtype)
        return buf


def plan_memory(graph):
    """Map id(node) -> Slot for every intermediate that may use a reused buffer."""
    order = {id(node): i for i, node in enumerate(graph.nodes)}
    escaping = {id(x) for x in graph.outputs} | {id(v) for v in graph.updates.values()}
    # root[id] = the buffer owner a node's value may alias (itself for fresh results)
    root = {}
    for node in graph.nodes:
        if node.op.name in WRITES_FRESH or not node.inputs:
            root[id(node)] = id(node)
        else:
            root[id(node)] = None  # may alias any of its inputs' buffers: handled via last_use
    last_use = {id(n): order[id(n)] for n in graph.nodes}
    for node in reversed(graph.nodes):  # a view's lifetime extends its sources'
        for x in node.inputs:
            end = last_use[id(node)] if node.op.name not in WRITES_FRESH else order[id(node)]
            last_use[id(x)] = max(last_use[id(x)], end)
    for node in graph.nodes:  # anything that reaches an output (maybe as a view) must escape
        if id(node) in escaping and node.op.name not in WRITES_FRESH:
            stack = list(node.inputs)
            while stack:
                x = stack.pop()
                if id(x) not in escaping:
                    escaping.add(id(x))
                    if x.op.name not in WRITES_FRESH:
                        stack.extend(x.inputs)
    slots = {}
    free = {}  # (static shape, dtype) -> slots whose owner is dead
    releases = {}  # step index -> slots freed after it
    for node in graph.nodes:
        i = order[id(node)]
        for key, slot in releases.pop(i - 1, []):
            free.setdefault(key, []).append(slot)
        if node.op.name not in WRITES_FRESH or id(node) in escaping:
            continue
        key = (node.shape, node.dtype.str)
        pool = free.get(key)
        slot = pool.pop() if pool else Slot()
        slots[id(node)] = slot
        releases.setdefault(last_use[id(node)], []).append((key, slot))
    return slots
