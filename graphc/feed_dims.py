"""Which run-time sizes of the inputs must agree, found once at compile time.

A `None` dimension is only known when fed. When two inputs meet in an op (`x + y`, `x @ W`,
`cross_entropy(logits, labels)`), their sizes there must agree; without a check before the
call, a clash surfaces deep inside a kernel as NumPy's raw "shape mismatch". Each op says
which sizes it ties together (`Op.dim_links`); this module follows those ties from the inputs
through the graph and turns them into checks on the feeds.
"""
from graphc.ir.errors import FeedError


class _Size:
    """One run-time size shared by several dimensions (a union-find class)."""

    __slots__ = ("parent", "known", "inputs", "site")

    def __init__(self, known=None, input_dim=None):
        self.parent = self
        self.known = known  # a static size this class is tied to, if any
        self.inputs = [input_dim] if input_dim else []  # (input index, axis) declared None
        self.site = None  # "op built at file:line" where it was first tied to another

    def root(self):
        size = self
        while size.parent is not size:
            size.parent = size.parent.parent
            size = size.parent
        return size


def _join(a, b, node):
    a, b = a.root(), b.root()
    if a is b:
        return
    b.parent = a
    a.inputs += b.inputs
    if a.known is None:
        a.known = b.known
    if a.site is None:
        a.site = b.site or f"{node.op.name} built at {node.site}"


def size_links(graph):
    """The checks to make on each call: a list of (input i, axis a, input j, axis b, site)
    meaning feeds[i].shape[a] == feeds[j].shape[b], and (input i, axis a, None, size, site)
    meaning feeds[i].shape[a] == size."""
    position = {id(x): i for i, x in enumerate(graph.inputs)}
    sizes = {}
    for node in graph.nodes:
        if id(node) in position:
            sizes[id(node)] = [
                _Size(input_dim=(position[id(node)], axis)) if d is None else _Size(known=d)
                for axis, d in enumerate(node.shape)
            ]
            continue
        if not node.inputs:
            sizes[id(node)] = [_Size(known=d) for d in node.shape]
            continue
        output, equal = node.op.dim_links(node)
        for (i, a), (j, b) in equal:
            _join(sizes[id(node.inputs[i])][a], sizes[id(node.inputs[j])][b], node)
        sizes[id(node)] = [
            sizes[id(node.inputs[ref[0]])][ref[1]] if ref is not None else _Size(known=node.shape[d])
            for d, ref in enumerate(output)
        ]
    checks, seen = [], set()
    for dims in sizes.values():
        for size in dims:
            size = size.root()
            if id(size) in seen or not size.inputs or size.site is None:
                continue
            seen.add(id(size))
            (i, a), rest = size.inputs[0], size.inputs[1:]
            checks += [(i, a, j, b, size.site) for j, b in rest]
            if size.known is not None:
                checks.append((i, a, None, size.known, size.site))
    return checks


def fast_conditions(checks):
    """The checks as Python expressions over `args`, for the generated fast feed check."""
    return [
        f"args[{i}].shape[{a}] == {b}" if j is None else f"args[{i}].shape[{a}] == args[{j}].shape[{b}]"
        for i, a, j, b, _ in checks
    ]


_NO_BROADCAST = ("; graphc does not broadcast a dimension declared None: declare it as 1 or use "
                 "gc.broadcast_to")


def check_sizes(inputs, feeds, checks):
    """Raise FeedError naming both inputs and their sizes for the first check that fails."""
    for i, a, j, b, site in checks:
        got = feeds[i].shape[a]
        other = b if j is None else feeds[j].shape[b]
        if got == other:
            continue
        hint = _NO_BROADCAST if 1 in (got, other) else ""
        if j is None:
            message = f"input '{inputs[i].name}': dimension {a} is {got} at run time but must be {b}, the size it meets in {site}"
        elif i == j:
            message = (f"input '{inputs[i].name}': dimensions {a} and {b} are {got} and {other} at run time; "
                       f"they must be equal where they meet in {site}")
        else:
            message = (f"inputs '{inputs[i].name}' and '{inputs[j].name}' disagree: dimension {a} of "
                       f"'{inputs[i].name}' is {got} but dimension {b} of '{inputs[j].name}' is {other}; "
                       f"they must be equal where they meet in {site}")
        raise FeedError(message + hint)
