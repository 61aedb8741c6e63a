"""Projections out of tuple-valued nodes (an op with several results, e.g. a multi-output fused
kernel). A node stays single-output: each result is read through its own `part` node."""
from ..node import Node
from ..registry import Op, register


@register
class PART(Op):
    name, created_by_passes = "part", True

    def infer(self, inputs, attrs):
        (tuple_node,) = inputs
        if tuple_node.parts is None:
            raise TypeError(f"part: {tuple_node.label} is not tuple-valued")
        return tuple_node.parts[attrs["index"]]

    def impl(self, value, *, index):
        return value[index]

    def vjp(self, g, out, tuple_node, *, index):
        """A tuple's cotangent is a tuple with one entry per result (None: zero); autodiff adds
        the cotangents of a tuple's parts slot by slot, and the tuple op's rule gets the sum."""
        return (tuple(g if i == index else None for i in range(len(tuple_node.parts))),)

    def jvp(self, tangents, out, tuple_node, *, index):
        return None if tangents[0] is None else tangents[0][index]


def part(tuple_node, index, name=None, site=None):
    """The node reading result `index` of a tuple-valued node."""
    shape, dtype = tuple_node.parts[index]
    return Node(PART, (tuple_node,), {"index": index}, shape, dtype, name=name, site=site or tuple_node.site)
