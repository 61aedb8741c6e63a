"""A graph: the nodes needed for some outputs, in a deterministic topological order."""
import numpy as np

from .node import Node, Variable


def toposort(roots):
    """Post-order DFS from `roots`, iterative (deep chains must not hit the recursion limit)."""
    order, seen = [], set()
    for root in roots:
        if id(root) in seen:
            continue
        stack = [(root, iter(root.inputs))]
        seen.add(id(root))
        while stack:
            node, children = stack[-1]
            for child in children:
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append((child, iter(child.inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def substitute(outputs, replace):
    """`outputs` with the nodes of `replace` (id -> node) read in their place: a copy (same op,
    attrs, site) of every node that depends on a replaced one; the others are kept as they are."""
    new = dict(replace)
    for node in toposort(outputs):
        if id(node) in new or not node.inputs:
            continue
        inputs = [new.get(id(x), x) for x in node.inputs]
        if any(a is not b for a, b in zip(inputs, node.inputs)):
            new[id(node)] = Node(node.op, inputs, node.attrs, node.shape, node.dtype, name=node.name,
                                 site=node.site, parts=node.parts)
    return [new.get(id(y), y) for y in outputs]


def _attr_text(node):
    parts = []
    shown_below = set(node.op.body_attrs) | set(node.op.noted_attrs)
    for key, value in node.attrs.items():
        if key in shown_below:
            continue  # bodies and notes are listed, indented, below the node
        if key == "value":
            value = np.asarray(value)
            text = np.array2string(value, threshold=6, precision=4) if value.size <= 6 else f"<{value.size} values>"
            parts.append(text.replace("\n", ""))
        else:
            parts.append(f"{key}={value}")
    return ", ".join(parts)


def describe(node, labels, indent="  "):
    """A node's listing lines: `label = op(inputs; attrs) : type  @ file:line`, then its notes,
    then each body it holds, indented one level deeper."""
    args = [labels[id(x)] for x in node.inputs]
    attrs = _attr_text(node)
    call = ", ".join(args + ([attrs] if attrs else []))
    lines = [f"{indent}{labels[id(node)]} = {node.op.name}({call}) : {node.type_text}  @ {node.site}"]
    lines += [f"{indent}    {note}" for note in node.op.listing_notes(node, labels)]
    for key, body in zip(node.op.body_attrs, node.op.subgraphs(node.attrs)):
        lines += body.listing(f"{key} ", indent + "    ", labels)
    return lines


class Graph:
    """`inputs` (placeholders), `outputs`, and `updates` (variable -> new value node)."""

    def __init__(self, inputs, outputs, updates=None):
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.updates = dict(updates or {})
        self.nodes = toposort(self.outputs + list(self.updates.values()) + self.inputs)

    @property
    def variables(self):
        """The Variables whose values the graph reads, in node order."""
        return [node for node in self.nodes if isinstance(node, Variable)]

    def __len__(self):
        return len(self.nodes)

    def labels(self):
        """A unique label per node, bodies' nodes included: its name, else %index."""
        labels = {}
        used = set()
        for i, (node, _) in enumerate(self.walk()):
            label = node.name if node.name and node.name not in used else f"%{i}"
            used.add(label)
            labels[id(node)] = label
        return labels

    def walk(self, parent=None):
        """Every node with the node whose body holds it (None at the top), bodies depth first
        right after their node."""
        for node in self.nodes:
            yield node, parent
            for body in node.op.subgraphs(node.attrs):
                yield from body.walk(node)

    def inline(self, args):
        """This body's outputs built over `args` (nodes, one per body input)."""
        return substitute(self.outputs, {id(param): arg for param, arg in zip(self.inputs, args)})

    def listing(self, kind="graph", indent="", labels=None):
        labels = labels or self.labels()
        head = ", ".join(f"{labels[id(x)]}: {x.type_text}" for x in self.inputs)
        lines = [f"{indent}{kind}({head}) with {len(self.nodes)} nodes"]
        for node in self.nodes:
            lines += describe(node, labels, indent + "  ")
        lines.append(f"{indent}  return " + ", ".join(labels[id(x)] for x in self.outputs))
        for var, value in self.updates.items():
            lines.append(f"{indent}  update {labels[id(var)]} <- {labels[id(value)]}")
        return lines

    def __str__(self):
        return "\n".join(self.listing())

    __repr__ = __str__

    def to_networkx(self):
        import networkx as nx

        labels = self.labels()
        graph = nx.DiGraph()
        for node, parent in self.walk():
            # a body's nodes carry the label of the node that holds them (`inside`)
            graph.add_node(
                labels[id(node)], op=node.op.name, shape=node.shape, dtype=node.dtype.name, site=node.site,
                attrs=_attr_text(node), type=node.type_text, inside=None if parent is None else labels[id(parent)],
            )
            for pos, x in enumerate(node.inputs):
                graph.add_edge(labels[id(x)], labels[id(node)], position=pos)
        for i, out in enumerate(self.outputs):
            graph.nodes[labels[id(out)]]["output"] = i
        for var, value in self.updates.items():
            graph.add_edge(labels[id(value)], labels[id(var)], update=True)
        return graph

    def to_dot(self):
        """Graphviz source; each body is a cluster inside the box of the node that holds it."""
        labels = self.labels()
        lines = ["digraph graphc {", "  rankdir=TB;", "  node [fontname=monospace, fontsize=10];"]
        lines += self._dot_lines(labels, "  ")
        lines.append("}")
        return "\n".join(lines)

    def _dot_lines(self, labels, indent):
        lines = []
        outputs = {id(x) for x in self.outputs}
        for node in self.nodes:
            shape = "box" if node.inputs or node.op.body_attrs else "ellipse"
            bold = ", style=bold" if id(node) in outputs else ""
            text = "\\n".join(_dot_escape(p) for p in (labels[id(node)], node.op.name, node.type_text))
            lines.append(f'{indent}"{_dot_escape(labels[id(node)])}" [label="{text}", shape={shape}{bold}];')
            for x in node.inputs:
                lines.append(f'{indent}"{_dot_escape(labels[id(x)])}" -> "{_dot_escape(labels[id(node)])}";')
            for key, body in zip(node.op.body_attrs, node.op.subgraphs(node.attrs)):
                name = _dot_escape(f"cluster_{labels[id(node)]}_{key}")
                lines.append(f'{indent}subgraph "{name}" {{')
                lines.append(f'{indent}  label="{_dot_escape(labels[id(node)] + " " + key)}"; style=dashed;')
                lines += body._dot_lines(labels, indent + "  ")
                lines.append(f"{indent}}}")
        for var, value in self.updates.items():
            lines.append(f'{indent}"{_dot_escape(labels[id(value)])}" -> "{_dot_escape(labels[id(var)])}" '
                         "[style=dashed, label=update];")
        return lines


def _dot_escape(text):
    return str(text).replace("\\", "\\\\").replace('"', '\\"')
