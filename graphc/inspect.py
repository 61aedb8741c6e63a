"""Looking at graphs before they are compiled."""
from graphc.ir.graph import Graph, toposort
from graphc.ir.node import Node
from graphc.ir.ops.sources import PLACEHOLDER


def debugprint(nodes):
    """The unoptimized graph of a node (or list of nodes) as text, one node a line."""
    if isinstance(nodes, Node):
        roots = [nodes]
    elif isinstance(nodes, (list, tuple)):
        roots = list(nodes)
    else:
        raise TypeError(f"debugprint: expected a graph node or a list of nodes, got {type(nodes).__name__}")
    for root in roots:
        if not isinstance(root, Node):
            raise TypeError(f"debugprint: expected graph nodes, got {type(root).__name__}")
    inputs = [n for n in toposort(roots) if n.op is PLACEHOLDER]
    return str(Graph(inputs, roots))
