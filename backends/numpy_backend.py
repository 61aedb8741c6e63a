"""The reference interpreter: evaluates a graph node by node with each op's NumPy implementation.

Every other execution path (the optimizing pipeline, the numba backend, eager mode) is checked
against this one.
"""
import numpy as np

from graphc.ir.errors import GraphcError
from graphc.ir.node import read_state

from .nan_check import check_step
from graphc.ir.types import check_none_dims


class ExecutionError(GraphcError, RuntimeError):
    """An op failed while running; the message names the node and the user's file:line."""


def run_node(node, values):
    """Evaluate one node given the values of its inputs (by node id)."""
    args = [values[id(x)] for x in node.inputs]
    try:
        result = node.op.impl(*args, **node.attrs)
        if node.op.elementwise and any(None in x.shape for x in node.inputs):
            check_none_dims([x.shape for x in node.inputs], [np.shape(a) for a in args], np.shape(result),
                            node.op.name, node.site)
        return result
    except GraphcError:
        raise
    except Exception as err:  # name the node: a bare NumPy error says nothing about the model
        raise located(err, node) from err


def located(err, node, within=""):
    """The same kind of error, with the failing node and its creation site added."""
    message = f"{err} (while computing {node.op.name}{within} built at {node.site})"
    try:
        return type(err)(message)
    except Exception:
        return ExecutionError(message)


def node_values(graph, feeds, state=None, nan_check=False):
    """Every node's value (by node id), given the feeds in graph.inputs order.

    Variables take their values from `state` (in graph.variables order), else their current ones.
    """
    values = {id(x): value for x, value in zip(graph.inputs, feeds)}
    variables = graph.variables
    for var, value in zip(variables, read_state(variables) if state is None else state):
        values[id(var)] = value
    for node in graph.nodes:
        if id(node) in values:
            continue
        values[id(node)] = run_node(node, values)
        if nan_check:
            check_step(node, [values[id(x)] for x in node.inputs], values[id(node)])
    return values


def evaluate(graph, feeds, state, nan_check=False):
    """Values of graph.outputs and of each update, given the feeds and the Variables' values."""
    values = node_values(graph, feeds, state, nan_check)
    outputs = [values[id(x)] for x in graph.outputs]
    updates = [values[id(v)] for v in graph.updates.values()]
    return outputs, updates


class NumpyBackend:
    name = "numpy"

    def prepare(self, graph, stats, nan_check, max_plans):
        """Nothing to compile (and no loop layouts to keep): the interpreter walks the graph on
        each call."""
        return lambda feeds, state: evaluate(graph, feeds, state, nan_check)
