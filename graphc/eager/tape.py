"""The autograd tape: one backward node per recorded op, linked to the nodes of its inputs.

A tensor's `grad_fn` is the node that made it; a leaf that requires grad gets an AccumulateGrad
node instead. Edges are (node, output_nr) pairs, as in PyTorch, so a tensor handed to a gradient
rule can be a fresh alias of the original and still route gradients to the same place.

This module knows nothing of the Tensor class (tensor.py builds on it): the node of a registry op,
which makes tensors when it runs, is in apply.py.
"""
import itertools

import numpy as np

_sequence = itertools.count()
_node_classes = {}


class VersionCounter:
    """Shared by a tensor, its views and its detached aliases: bumped by every in-place write."""

    __slots__ = ("value", "last_op")

    def __init__(self):
        self.value = 0
        self.last_op = None

    def bump(self, op_name):
        self.value += 1
        self.last_op = op_name


def freed_error(node_name):
    return RuntimeError(
        f"Trying to backward through the graph a second time (or directly access saved tensors after "
        f"they have already been freed): {node_name} needs a value that the first backward released. "
        "Saved intermediate values of the graph are freed when you call .backward() or "
        "autograd.grad(). Specify retain_graph=True if you need to backward through the graph a "
        "second time or if you need to access saved tensors after calling backward."
    )


def modified_error(shape, dtype, counter, expected, node_name):
    by = f" by {counter.last_op}" if counter.last_op else ""
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation{by}: a {dtype} tensor of shape {tuple(shape)} saved by {node_name} is at version "
        f"{counter.value}; expected version {expected} instead. Hint: clone() it before the "
        "in-place change, or use the out-of-place op."
    )


class SavedTensor:
    """A tensor an op's gradient rule may read, with the version it had when it was saved."""

    __slots__ = ("data", "counter", "version", "edge", "is_output", "freed", "node_name")

    def __init__(self, tensor, edge, node_name, is_output=False):
        self.data = tensor._data
        self.counter = tensor._version
        self.version = tensor._version.value
        # An output's edge is its own node, filled in at unpack time: storing it here would make
        # every node a reference cycle, freed only by the cyclic garbage collector.
        self.edge = edge
        self.is_output = is_output
        self.freed = False
        self.node_name = node_name

    def check(self):
        """Raise if the value is gone (freed graph) or changed in place since it was saved."""
        if self.freed:
            raise freed_error(self.node_name)
        if self.counter.value != self.version:
            raise modified_error(self.data.shape, self.data.dtype, self.counter, self.version, self.node_name)

    def release(self):
        # Keep shape and dtype (rules read them, as PyTorch keeps sizes) but not the values.
        self.data = np.broadcast_to(np.zeros((), self.data.dtype), self.data.shape)
        self.freed = True

    def edge_for(self, owner):
        """Where a gradient for the saved value goes; `owner` is the node that saved it."""
        return (owner, 0) if self.is_output else self.edge


class GradNode:
    """A node of the backward graph. Subclasses say how to turn output grads into input grads."""

    def __init__(self, next_functions, num_outputs=1):
        self.next_functions = tuple(next_functions)  # (node, output_nr) or None per input
        self.num_outputs = num_outputs
        self.sequence_nr = next(_sequence)
        self.pre_hooks = {}  # output_nr -> {key: fn(grad) -> grad or None}

    def name(self):
        return type(self).__name__

    def apply(self, grads, wanted):
        raise NotImplementedError

    def release(self):
        """Drop saved values after a backward that did not retain the graph."""

    def register_prehook(self, output_nr, fn):
        hooks = self.pre_hooks.setdefault(output_nr, {})
        key = object()
        hooks[key] = fn
        return RemovableHandle(hooks, key)

    def __repr__(self):
        return f"<{self.name()} object at {hex(id(self))}>"


class RemovableHandle:
    def __init__(self, table, key):
        self._table, self._key = table, key

    def remove(self):
        self._table.pop(self._key, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def node_class(base, name):
    """A subclass per grad_fn name, so type(y.grad_fn).__name__ reads 'MulBackward0' as in PyTorch."""
    cls = _node_classes.get((base, name))
    if cls is None:
        cls = _node_classes[(base, name)] = type(name, (base,), {"__module__": base.__module__})
    return cls


class AccumulateGrad(GradNode):
    """The node of a leaf that requires grad: backward() adds its gradient into `.grad`."""

    def __init__(self, variable):
        super().__init__(())
        self.variable = variable  # the leaf holds this node only weakly, so no cycle

    @property
    def pre_hooks(self):
        # A leaf's hooks live on the tensor: this node may die with the graph and be remade.
        return self.variable._leaf_hooks

    @pre_hooks.setter
    def pre_hooks(self, value):
        pass  # GradNode.__init__ sets an empty table; the tensor's own is used instead

    def apply(self, grads, wanted):
        return []
