"""The one interpreter: evaluates a graph (a top-level graph or an op's body) node by node with
each op's NumPy implementation.

The numpy backend is this interpreter; `fused` and every other op with a body evaluate the body
with it; nan_check observes it step by step; verify compares two graphs with it. Every other
execution path (the optimizing pipeline, the numba backend, eager mode) is checked against it.
"""
import numpy as np

from .errors import ExecutionError, GraphcError
from .node import read_state
from .types import check_none_dims


def located(err, node, within=""):
    """The same kind of error, with the failing node and its creation site added."""
    message = f"{err} (while computing {node.op.name}{within} built at {node.site})"
    try:
        return type(err)(message)
    except Exception:
        return ExecutionError(message)


def evaluate_node(node, args, observe=None):
    """The value of `node` given its inputs' values; errors name the node and its line."""
    try:
        result = node.op.evaluate(args, node.attrs, observe)
        if node.op.elementwise and any(None in x.shape for x in node.inputs):
            check_none_dims([x.shape for x in node.inputs], [np.shape(a) for a in args], np.shape(result),
                            node.op.name, node.site)
        return result
    except GraphcError:
        raise
    except Exception as err:  # name the node: a bare NumPy error says nothing about the model
        raise located(err, node) from err


def node_values(graph, args, state=None, observe=None):
    """Every node's value (by node id), given one value per graph input.

    Variables take their values from `state` (in graph.variables order), else their current
    ones. `observe(node, inputs, result)` is called after each step, inside bodies too.
    """
    values = {id(x): value for x, value in zip(graph.inputs, args)}
    variables = graph.variables
    if variables:
        for var, value in zip(variables, read_state(variables) if state is None else state):
            values[id(var)] = value
    for node in graph.nodes:
        if id(node) in values:
            continue
        inputs = [values[id(x)] for x in node.inputs]
        values[id(node)] = evaluate_node(node, inputs, observe)
        if observe is not None:
            observe(node, inputs, values[id(node)])
    return values


def evaluate(graph, args, state=None, observe=None):
    """(values of graph.outputs, values of its updates in graph.updates order)."""
    values = node_values(graph, args, state, observe)
    return [values[id(x)] for x in graph.outputs], [values[id(v)] for v in graph.updates.values()]
