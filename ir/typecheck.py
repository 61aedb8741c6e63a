"""The type check of a graph (autodidax's check after every transformation): every node, bodies
included, is inferred again from its inputs and must have the type it claims. A pass that
builds a node with a stale shape or dtype is caught at that pass, not as a wrong result later."""
import numpy as np

from .errors import RewriteError
from .types import TupleType, fmt_shape, shapes_agree


def _claimed(node):
    return TupleType(node.parts) if node.parts is not None else (node.shape, node.dtype)


def _agree(claimed, inferred):
    if isinstance(claimed, TupleType) != isinstance(inferred, TupleType):
        return False
    pairs = list(zip(claimed, inferred)) if isinstance(claimed, TupleType) else [(claimed, inferred)]
    if len(claimed) != len(inferred):
        return False
    # A rewrite may learn a size that was None (a constant folded in); it may not change one.
    return all(shapes_agree(tuple(c[0]), tuple(i[0])) and np.dtype(c[1]) == np.dtype(i[1]) for c, i in pairs)


def _text(t):
    if isinstance(t, TupleType):
        return "(" + ", ".join(f"{d.name}{fmt_shape(s)}" for s, d in t) + ")"
    return f"{t[1].name}{fmt_shape(t[0])}"


def check_types(graph, after):
    """Raise RewriteError naming `after` (the pass) and the first node whose type is wrong."""
    for node, _ in graph.walk():
        if not node.inputs:
            continue
        try:
            inferred = node.op.infer(list(node.inputs), node.attrs)
        except Exception as err:
            raise RewriteError(
                f"after pass '{after}': {node.op.name} ({node.label}, built at {node.site}) no longer "
                f"type-checks: {err}"
            ) from err
        if not _agree(_claimed(node), inferred):
            raise RewriteError(
                f"after pass '{after}': {node.op.name} ({node.label}, built at {node.site}) claims "
                f"{_text(_claimed(node))} but its inputs give {_text(inferred)}"
            )
