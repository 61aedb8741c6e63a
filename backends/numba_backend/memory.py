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

from graphc.ir.ops.tuples import PART


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


def result_owners(graph):
    """{id(step): the nodes whose buffers that step writes} for the steps that write into
    buffers the workspace provides (ops with accepts_out): the node itself, or for a tuple
    value its `part` nodes, in result order."""
    owners = {}
    for node in graph.nodes:
        if node.op.accepts_out:
            owners[id(node)] = [node] if node.parts is None else [None] * len(node.parts)
    for node in graph.nodes:
        if node.op is PART and id(node.inputs[0]) in owners:
            owners[id(node.inputs[0])][node.attrs["index"]] = node
    return owners


def plan_memory(graph, owners):
    """(slot index by id(node), number of slots) for every intermediate that may use a reused
    buffer; nodes whose lifetimes do not overlap share a slot. `owners` is result_owners(graph)."""
    order = {id(node): i for i, node in enumerate(graph.nodes)}
    escaping = {id(x) for x in graph.outputs} | {id(v) for v in graph.updates.values()}
    # A node owns its buffer if a step writes it there, or it is a leaf; any other node's value
    # may be a view of its inputs' buffers.
    fresh = {id(n) for written in owners.values() for n in written if n is not None}
    fresh |= {id(n) for n in graph.nodes if not n.inputs}
    writes = set(owners)  # steps that write fresh results: their inputs are done once they ran
    last_use = {id(n): order[id(n)] for n in graph.nodes}
    for node in reversed(graph.nodes):  # a view's lifetime extends its sources'
        for x in node.inputs:
            end = order[id(node)] if id(node) in writes or id(node) in fresh else last_use[id(node)]
            last_use[id(x)] = max(last_use[id(x)], end)
    for node in graph.nodes:  # anything that reaches an output (maybe as a view) must escape
        if id(node) in escaping and id(node) not in fresh:
            stack = list(node.inputs)
            while stack:
                x = stack.pop()
                if id(x) not in escaping:
                    escaping.add(id(x))
                    if id(x) not in fresh:
                        stack.extend(x.inputs)
    slots = {}
    count = 0
    free = {}  # (static shape, dtype) -> slots whose owner is dead
    releases = {}  # step index -> slots freed after it
    for node in graph.nodes:
        i = order[id(node)]
        for key, slot in releases.pop(i - 1, []):
            free.setdefault(key, []).append(slot)
        # A step's results get their buffers when the step runs (before its `part` nodes), so
        # none of them can be a buffer the step still reads.
        for owner in owners.get(id(node), ()):
            if owner is None or id(owner) in escaping:
                continue
            key = (owner.shape, owner.dtype.str)
            pool = free.get(key)
            if pool:
                slot = pool.pop()
            else:
                slot, count = count, count + 1
            slots[id(owner)] = slot
            releases.setdefault(max(last_use[id(owner)], i), []).append((key, slot))
    return slots, count
