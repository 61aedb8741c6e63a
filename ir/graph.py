"""A graph: the nodes needed for some outputs, in a deterministic topological order."""
import numpy as np

from .node import Variable
from .types import fmt_shape


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


def _attr_text(node):
    parts = []
    for key, value in node.attrs.items():
        if key == "kernel":
            continue  # a fused kernel lists its ops on the lines below
        if key == "value":
            value = np.asarray(value)
            text = np.array2string(value, threshold=6, precision=4) if value.size <= 6 else f"<{value.size} values>"
            parts.append(text.replace("\n", ""))
        else:
            parts.append(f"{key}={value}")
    return ", ".join(parts)


def describe(node, labels):
    """One listing line: label = op(inputs; attrs) : dtype(shape)  @ file:line."""
    args = [labels[id(x)] for x in node.inputs]
    attrs = _attr_text(node)
    call = ", ".join(args + ([attrs] if attrs else []))
    text = f"{labels[id(node)]} = {node.op.name}({call}) : {node.dtype.name}{fmt_shape(node.shape)}"
    text += f"  @ {node.site}"
    extra = getattr(node.op, "listing_extra", None)
    if extra:
        text += "\n" + "\n".join("      " + line for line in extra(node, labels))
    return text


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
        labels = {}
        used = set()
        for i, node in enumerate(self.nodes):
            label = node.name if node.name and node.name not in used else f"%{i}"
            used.add(label)
            labels[id(node)] = label
        return labels

    def __str__(self):
        labels = self.labels()
        head = ", ".join(f"{labels[id(x)]}: {x.dtype.name}{fmt_shape(x.shape)}" for x in self.inputs)
        lines = [f"graph({head}) with {len(self.nodes)} nodes"]
        lines += ["  " + describe(node, labels) for node in self.nodes]
        lines.append("  return " + ", ".join(labels[id(x)] for x in self.outputs))
        for var, value in self.updates.items():
            lines.append(f"  update {labels[id(var)]} <- {labels[id(value)]}")
        return "\n".join(lines)

    __repr__ = __str__

    def to_networkx(self):
        import networkx as nx

        labels = self.labels()
        graph = nx.DiGraph()
        for node in self.nodes:
            graph.add_node(
                labels[id(node)], op=node.op.name, shape=node.shape, dtype=node.dtype.name, site=node.site,
                attrs=_attr_text(node),
            )
            for pos, x in enumerate(node.inputs):
                graph.add_edge(labels[id(x)], labels[id(node)], position=pos)
        for i, out in enumerate(self.outputs):
            graph.nodes[labels[id(out)]]["output"] = i
        for var, value in self.updates.items():
            graph.add_edge(labels[id(value)], labels[id(var)], update=True)
        return graph

    def to_dot(self):
        labels = self.labels()

        def esc(text):
            return str(text).replace("\\", "\\\\").replace('"', '\\"')

        lines = ["digraph graphc {", "  rankdir=TB;", "  node [fontname=monospace, fontsize=10];"]
        outputs = {id(x) for x in self.outputs}
        for node in self.nodes:
            kind = node.op.name
            shape = "ellipse" if kind in ("placeholder", "variable", "constant") else "box"
            bold = ", style=bold" if id(node) in outputs else ""
            parts = [labels[id(node)], kind, f"{node.dtype.name}{fmt_shape(node.shape)}"]
            text = "\\n".join(esc(p) for p in parts)
            lines.append(f'  "{esc(labels[id(node)])}" [label="{text}", shape={shape}{bold}];')
            for x in node.inputs:
                lines.append(f'  "{esc(labels[id(x)])}" -> "{esc(labels[id(node)])}";')
        for var, value in self.updates.items():
            lines.append(f'  "{esc(labels[id(value)])}" -> "{esc(labels[id(var)])}" [style=dashed, label=update];')
        lines.append("}")
        return "\n".join(lines)
