"""Dead-code elimination: keep only what the outputs and updates need."""
from graphc.ir.graph import Graph


def dce(graph):
    # Graph() walks back from outputs and updates, so unreachable nodes are simply not included.
    return Graph(graph.inputs, graph.outputs, graph.updates)
