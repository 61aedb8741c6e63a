"""Elementwise fusion, with reductions fused onto the chain that feeds them.

The rule (after tinygrad): a fusible node joins the kernels of its consumers when every consumer
is in a kernel, its shape is their iteration shape and they have room (MAX_KERNEL_OPS). With one
such kernel its value never leaves that loop; with up to MAX_RECOMPUTE_HOMES it is recomputed in
each rather than stored. A reduction that folds elementwise (sum/mean/max/min) ends a kernel: its
iteration shape is its input's, so `sum(x * y)` makes no temporary. Everything else is a kernel
boundary, and each kernel records why each of its inputs is one (shown in the graph listing).

Each kernel becomes one `fused` node whose body graph holds copies of its members.
"""
from graphc.ir.graph import Graph
from graphc.ir.node import Node
from graphc.ir.ops.fused import FUSED
from graphc.ir.ops.sources import CONSTANT, PARAMETER, PLACEHOLDER, VARIABLE, parameter
from graphc.ir.ops.tuples import part
from graphc.ir.types import fmt_shape

from .rewrite import clone_with_inputs

# numba's compile time grows faster than linearly with a function's size (a 3000-op kernel took
# 49 s): past this many ops a chain continues in a new kernel.
MAX_KERNEL_OPS = 96
# A value whose consumers sit in at most this many kernels is recomputed in each of them.
MAX_RECOMPUTE_HOMES = 3
_SCALAR_KINDS = "biuf"


def _scalar_dtype(dtype):
    # numba has no float16 and the kernels no complex support: those stay on NumPy.
    return dtype.kind in _SCALAR_KINDS and not (dtype.kind == "f" and dtype.itemsize < 4)


def _fusible(node):
    # A random op is a scalar function of the element's index in the loop (its iteration shape
    # is its own shape, as every member's is).
    return (
        (node.op.elementwise or node.op.fuses_as_broadcast or node.op.draws_random)
        and node.op.scalar is not None
        and _scalar_dtype(node.dtype)
        and all(_scalar_dtype(x.dtype) for x in node.inputs)
    )


def _reducible(node):
    return (
        node.op.combine is not None
        and node.dtype.kind in "iuf"
        and _scalar_dtype(node.dtype)
        and _scalar_dtype(node.inputs[0].dtype)
    )


class Kernel:
    """A fused region while fusion groups nodes: `members` in topological order, computing
    `roots` (one, or several for a multi-output kernel); `root` is the first."""

    def __init__(self, root):
        self.root = root
        self.roots = [root]
        self.reduce = _reducible(root)
        self.iter_shape = root.inputs[0].shape if self.reduce else root.shape
        self.members = [root]
        self.inputs = []  # external input nodes (of the original graph)
        self.reasons = []  # why each input is a boundary, aligned with inputs

    def collect_inputs(self):
        member_ids = {id(m) for m in self.members}
        seen = set()
        self.inputs = []
        for m in self.members:
            for x in m.inputs:
                if id(x) not in member_ids and id(x) not in seen:
                    seen.add(id(x))
                    self.inputs.append(x)

    def absorb(self, other, order):
        """Take over `other`'s members and results (a sibling over the same loop)."""
        members = {id(m): m for m in self.members + other.members}
        self.members = sorted(members.values(), key=lambda m: order[id(m)])
        self.roots += other.roots
        self.collect_inputs()

    def nodes(self, outer_inputs):
        """{id(old root): new node} for the `fused` node computing this kernel from
        `outer_inputs` (kernel.inputs' new nodes), reading each result through a `part` node if
        there are several. The body is a copy of the members over one parameter per input."""
        inner = {id(x): parameter(x, i) for i, x in enumerate(self.inputs)}
        for m in self.members:
            inner[id(m)] = Node(m.op, [inner[id(x)] for x in m.inputs], m.attrs, m.shape, m.dtype,
                                name=m.name, site=m.site)
        body = Graph([inner[id(x)] for x in self.inputs], [inner[id(r)] for r in self.roots])
        attrs = {"body": body, "reasons": tuple(self.reasons)}
        root = self.root
        if len(self.roots) == 1:
            return {id(root): Node(FUSED, outer_inputs, attrs, root.shape, root.dtype, name=root.name, site=root.site)}
        fused = Node.tuple_valued(FUSED, outer_inputs, attrs, [(r.shape, r.dtype) for r in self.roots], site=root.site)
        return {id(r): part(fused, j, name=r.name, site=r.site) for j, r in enumerate(self.roots)}


def _boundary_reason(x, uses, is_output, kernel):
    kind = x.op.name
    if x.op is PLACEHOLDER or x.op is VARIABLE:
        return f"{kind} '{x.label}'"
    if x.op is CONSTANT:
        return "constant"
    if x.op is PARAMETER:
        return "a parameter of the body"
    if is_output:
        return "a graph output, kept in memory"
    if x.op.combine is not None:
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
    return all(x.op is CONSTANT and all(d == 1 for d in x.shape) for x in values)


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
    """Group the graph's nodes into kernels: a list of Kernels in the order of their first root."""
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
    kernels = []
    for node in reversed(graph.nodes):  # consumers before producers
        if not (_reducible(node) or _fusible(node)):
            continue
        homes = _consumer_kernels(node, consumers, homes_of) if id(node) not in outputs else None
        if homes and _fusible(node) and all(
            node.shape == k.iter_shape and len(k.members) < MAX_KERNEL_OPS for k in homes
        ):
            # One home: the value lives only inside that loop and is never stored. Several
            # homes: recomputing it in each loop costs a few instructions per element, storing
            # it costs a write and a read per element and another kernel launch. Only the roots
            # of a kernel have uses outside it, so kernels stay convex.
            if len(homes) == 1 or len(homes) <= MAX_RECOMPUTE_HOMES or _recomputable(node):
                for kernel in homes:
                    kernel.members.append(node)
                homes_of[id(node)] = homes
                continue
        kernel = Kernel(node)
        kernels.append(kernel)
        homes_of[id(node)] = [kernel]
    order = {id(n): i for i, n in enumerate(graph.nodes)}
    for kernel in kernels:
        kernel.members.reverse()  # collected consumer-first; the loop body wants producers first
        kernel.collect_inputs()
    kernels = _merge_siblings(sorted(kernels, key=lambda k: order[id(k.root)]), order)
    for kernel in kernels:
        kernel.reasons = [_boundary_reason(x, uses.get(id(x), 0), id(x) in outputs, kernel) for x in kernel.inputs]
    return kernels


def _merge_siblings(kernels, order):
    """Elementwise kernels over the same loop that recompute the same values become one kernel
    with several results (the gradients of f(x, y) wrt x and y: one pass over the inputs that
    computes the shared forward values once), where neither needs the other's results."""
    merged = []
    for kernel in kernels:
        target = next((m for m in merged if _can_merge(m, kernel, order)), None)
        if target is None:
            merged.append(kernel)
        else:
            target.absorb(kernel, order)
    return merged


def _can_merge(a, b, order):
    if a.reduce or b.reduce or a.iter_shape != b.iter_shape:
        return False
    ids_a = {id(m) for m in a.members}
    shared = sum(id(m) in ids_a for m in b.members)
    if not shared or len(a.members) + len(b.members) - shared > MAX_KERNEL_OPS:
        return False
    return not _reaches(b.inputs, a.roots, order) and not _reaches(a.inputs, b.roots, order)


def _reaches(starts, targets, order):
    """Whether some node of `starts` is or depends on a node of `targets`. A node can only
    depend on nodes before it in the graph's order, so the walk stops below the first target."""
    target_ids = {id(t) for t in targets}
    floor = min(order[i] for i in target_ids)
    stack = [x for x in starts if order[id(x)] >= floor]
    seen = set()
    while stack:
        node = stack.pop()
        if id(node) in target_ids:
            return True
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(x for x in node.inputs if order[id(x)] >= floor)
    return False


def fuse(graph):
    """Replace each kernel by one `fused` node whose inputs are the kernel's external inputs (and
    a multi-output kernel's results by `part` nodes of it)."""
    kernels = find_kernels(graph)
    kernel_of = {id(root): kernel for kernel in kernels for root in kernel.roots}
    new = {}

    def inputs_of(node):
        kernel = kernel_of.get(id(node))
        return kernel.inputs if kernel is not None else node.inputs

    # Made depth-first from each node: the results of one multi-output kernel may sit far apart
    # in the old order, and the kernel must come after the inputs of all of them.
    for start in graph.nodes:
        stack = [start]
        while stack:
            node = stack[-1]
            if id(node) in new:
                stack.pop()
                continue
            missing = [x for x in inputs_of(node) if id(x) not in new]
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            kernel = kernel_of.get(id(node))
            if kernel is not None:
                new.update(kernel.nodes([new[id(x)] for x in kernel.inputs]))
            elif node.inputs:
                new[id(node)] = clone_with_inputs(node, [new[id(x)] for x in node.inputs])
            else:
                new[id(node)] = node
    return Graph(
        graph.inputs,
        [new[id(x)] for x in graph.outputs],
        {var: new[id(v)] for var, v in graph.updates.items()},
    )
