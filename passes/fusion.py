"""Elementwise fusion, with reductions fused onto the chain that feeds them.

The rule (after tinygrad): a fusible node joins the kernel of its consumer when it has exactly
one consumer, that consumer is in a kernel, and its shape is the kernel's iteration shape. A
reduction (sum/mean/max/min) ends a kernel: its iteration shape is its input's, so `sum(x * y)`
makes no temporary. Everything else is a kernel boundary, and each kernel records why each of
its inputs is one (shown in the graph listing).
"""
import numpy as np

from graphc.ir.graph import Graph
from graphc.ir.node import Node
from graphc.ir.registry import Op
from graphc.ir.types import fmt_shape

from .rewrite import clone_with_inputs

REDUCTIONS = ("sum", "mean", "max", "min")
# numba's compile time grows faster than linearly with a function's size (a 3000-op kernel took
# 49 s): past this many ops a chain continues in a new kernel.
MAX_KERNEL_OPS = 96
# A value whose consumers sit in at most this many kernels is recomputed in each of them.
MAX_RECOMPUTE_HOMES = 3
_SCALAR_KINDS = "biuf"


def _scalar_dtype(dtype):
    # numba has no float16 and the kernels no complex support: those stay on NumPy.
    return dtype.kind in _SCALAR_KINDS and not (dtype.kind == "f" and dtype.itemsize < 4)


# Not elementwise by NumPy's rules, but inside a loop over its output it is just its input read
# with broadcasting: fusing it saves materializing a stride-0 broadcast (the gradient seed).
FUSIBLE_BROADCASTS = ("broadcast_like",)


def _fusible(node):
    return (
        (node.op.elementwise or node.op.name in FUSIBLE_BROADCASTS)
        and node.op.scalar is not None
        and _scalar_dtype(node.dtype)
        and all(_scalar_dtype(x.dtype) for x in node.inputs)
    )


def _reducible(node):
    return (
        node.op.name in REDUCTIONS
        and node.dtype.kind in "iuf"
        and _scalar_dtype(node.dtype)
        and _scalar_dtype(node.inputs[0].dtype)
    )


class Kernel:
    """A fused region: `members` in topological order, ending at `root`."""

    def __init__(self, root):
        self.root = root
        self.reduce = root.op.name in REDUCTIONS
        self.iter_shape = root.inputs[0].shape if self.reduce else root.shape
        self.members = [root]
        self.inputs = []  # external input nodes (of the original graph)
        self.reasons = []  # why each input is a boundary, aligned with inputs

    def ops(self):
        return [m.op.name for m in self.members]

    def listing(self, input_labels):
        lines = [f"kernel over {fmt_shape(self.iter_shape)}: " + " -> ".join(self.ops())]
        for label, why in zip(input_labels, self.reasons):
            lines.append(f"in {label}: {why}")
        return lines


class FusedOp(Op):
    """A fused kernel in the graph. Its reference implementation replays the member ops."""

    name = "fused"

    def listing_extra(self, node, labels):
        return node.attrs["kernel"].listing([labels[id(x)] for x in node.inputs])

    def infer(self, inputs, attrs):
        root = attrs["kernel"].root
        return root.shape, root.dtype

    def impl(self, *args, kernel):
        values = {id(x): a for x, a in zip(kernel.inputs, args)}
        for node in kernel.members:
            values[id(node)] = node.op.impl(*[values[id(x)] for x in node.inputs], **node.attrs)
        return np.asarray(values[id(kernel.root)])


FUSED = FusedOp()


def _boundary_reason(x, uses, is_output, kernel):
    kind = x.op.name
    if kind in ("placeholder", "variable"):
        return f"{kind} '{x.label}'"
    if kind == "constant":
        return "constant"
    if is_output:
        return "a graph output, kept in memory"
    if kind in REDUCTIONS:
        return f"result of a reduction ({kind})"
    if not _fusible(x):
        return f"{kind} is not elementwise: runs as its own step"
    if uses > 1:
        return f"used by {uses} consumers in different kernels or steps: kept in memory"
    if len(kernel.members) >= MAX_KERNEL_OPS and x.shape == kernel.iter_shape:
        return f"kernel size limit ({MAX_KERNEL_OPS} ops) reached: the chain continues in another kernel"
    if x.shape != kernel.iter_shape:
        return f"shape {fmt_shape(x.shape)} differs from the iteration shape {fmt_shape(kernel.iter_shape)}"
    return "kept in memory"


def _recomputable(node):
    """A broadcast of a single value (a scalar seed or constant) costs nothing to recompute."""
    if not _fusible(node):
        return False
    values = [x for i, x in enumerate(node.inputs) if not node.op.is_shape_input(i)]
    return all(x.op.name == "constant" and all(d == 1 for d in x.shape) for x in values)


def _consumer_kernels(node, consumers, homes_of):
    """The kernels computing every consumer of node, or None if some consumer is not in one."""
    found = {}
    for c in consumers.get(id(node), []):
        homes = homes_of.get(id(c))
        if homes is None:
            return None
        for kernel in homes:
            found[id(kernel)] = kernel
    return list(found.values()) or None


def find_kernels(graph):
    """Group the graph's nodes into kernels. Returns {id(root): Kernel}."""
    uses = {}
    for node in graph.nodes:
        for x in node.inputs:
            uses[id(x)] = uses.get(id(x), 0) + 1
    roots = graph.outputs + list(graph.updates.values())
    outputs = {id(x) for x in roots}
    consumers = {}
    for node in graph.nodes:
        for x in node.inputs:
            consumers.setdefault(id(x), []).append(node)
    homes_of = {}  # id(node) -> the kernels that compute it (several if it is recomputed)
    kernels = {}
    for node in reversed(graph.nodes):  # consumers before producers
        if not (_reducible(node) or _fusible(node)):
            continue
        homes = _consumer_kernels(node, consumers, homes_of) if id(node) not in outputs else None
        if homes and _fusible(node) and all(
            node.shape == k.iter_shape and len(k.members) < MAX_KERNEL_OPS for k in homes
        ):
            # One home: the value lives only inside that loop and is never stored. Several
            # homes: recomputing it in each loop costs a few instructions per element, storing
            # it costs a write and a read per element and another kernel launch. Only the root
            # of a kernel has uses outside it, so kernels stay convex.
            if len(homes) == 1 or len(homes) <= MAX_RECOMPUTE_HOMES or _recomputable(node):
                for kernel in homes:
                    kernel.members.append(node)
                homes_of[id(node)] = homes
                continue
        kernel = Kernel(node)
        kernels[id(node)] = kernel
        homes_of[id(node)] = [kernel]
    for kernel in kernels.values():
        kernel.members.reverse()  # collected consumer-first; the loop body wants producers first
        member_ids = {id(m) for m in kernel.members}
        seen = set()
        for m in kernel.members:
            for x in m.inputs:
                if id(x) not in member_ids and id(x) not in seen:
                    seen.add(id(x))
                    kernel.inputs.append(x)
                    kernel.reasons.append(_boundary_reason(x, uses.get(id(x), 0), id(x) in outputs, kernel))
    return kernels


def fuse(graph):
    """Replace each kernel by one `fused` node whose inputs are the kernel's external inputs."""
    kernels = find_kernels(graph)
    absorbed = {id(m) for k in kernels.values() for m in k.members if id(m) not in kernels}
    new = {}
    for node in graph.nodes:
        if id(node) in absorbed:
            continue
        kernel = kernels.get(id(node))
        if kernel is not None:
            inputs = [new[id(x)] for x in kernel.inputs]
            new[id(node)] = Node(FUSED, inputs, {"kernel": kernel}, node.shape, node.dtype, name=node.name, site=node.site)
        elif node.inputs:
            new[id(node)] = clone_with_inputs(node, [new[id(x)] for x in node.inputs])
        else:
            new[id(node)] = node
    return Graph(
        graph.inputs,
        [new[id(x)] for x in graph.outputs],
        {var: new[id(v)] for var, v in graph.updates.items()},
    )
