"""The memory plan: intermediates live in buffers reused across calls and, once dead, by later
steps of the same call.

Only results that never leave a call get a slot (graph outputs and update values are fresh
arrays the caller keeps). A step that runs a NumPy op may return a view of its input, so a
buffer stays alive until the last use of anything that may alias it.

The buffers themselves live in a workspace (a list of Slots and Recyclers, indexed by the
plan), one per call in flight, so that concurrent calls of one compiled function never share
a buffer.
"""
import sys

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


class Recycler:
    """Where a result that leaves the call is written: a fresh array, or one of the last two
    this recycler handed out if nobody holds it any more.

    Writing into a dropped result again is safe and saves the page faults of a new large
    allocation, a cost comparable to the kernel itself. Two are kept because `out = f(x)` in a
    loop still holds the previous result during the call.
    """

    __slots__ = ("last", "before")

    def __init__(self):
        self.last = self.before = None

    def get(self, shape, dtype):
        # A reference count of 3 is this object's attribute, the local name and the argument.
        result = self.last
        if result is not None and sys.getrefcount(result) <= 3 and result.shape == shape and result.dtype == dtype:
            return result
        result = self.before
        if result is not None and sys.getrefcount(result) <= 3 and result.shape == shape and result.dtype == dtype:
            return result
        result = np.empty(shape, dtype)
        self.before = self.last
        self.last = result
        return result


def workspace_factory(slots, recyclers):
    """A function making one call's workspace: `slots` Slots, then `recyclers` Recyclers."""
    def workspace():
        return [Slot() for _ in range(slots)] + [Recycler() for _ in range(recyclers)]

    return workspace


def plan_memory(graph):
    """(slot index by id(node), number of slots) for every intermediate that may use a reused
    buffer; nodes whose lifetimes do not overlap share a slot."""
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
    count = 0
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
        if pool:
            slot = pool.pop()
        else:
            slot, count = count, count + 1
        slots[id(node)] = slot
        releases.setdefault(last_use[id(node)], []).append((key, slot))
    return slots, count
