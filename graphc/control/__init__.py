"""Control flow (API.md section 9): cond, while_loop, scan and fori_loop.

On graph nodes they build loop and branch nodes whose bodies are traced once (graph.py); on eager
tensors and plain values they run as Python control flow, recorded on the tape (eager.py), so one
model function serves both modes.
"""
from graphc.ir.node import Node

from . import graph
from .pytree import flatten
from .remat import Remat


def _on_graph(*structures):
    return any(isinstance(leaf, Node) for s in structures for leaf in flatten(s)[0])


def cond(pred, true_fn, false_fn, *operands):
    """Run true_fn(*operands) if pred, else false_fn(*operands); only the taken branch runs."""
    if _on_graph(pred, list(operands)):
        return graph.cond(pred, true_fn, false_fn, *operands)
    from . import eager
    return eager.cond(pred, true_fn, false_fn, *operands)


def while_loop(cond_fn, body_fn, init_val, max_iterations=None):
    """val = init_val; while cond_fn(val): val = body_fn(val); return val."""
    if _on_graph(init_val):
        return graph.while_loop(cond_fn, body_fn, init_val, max_iterations)
    from . import eager
    return eager.while_loop(cond_fn, body_fn, init_val, max_iterations)


def scan(fn, init, xs=None, length=None, reverse=False):
    """carry, y = fn(carry, x) over xs' leading axis; returns (final carry, stacked ys)."""
    if isinstance(fn, Remat):
        raise TypeError("scan: gc.remat marks a while_loop or fori_loop body; a scan's gradient stores the "
                        "carry of every step (its trip count is known when it is built: split xs into "
                        "segments and scan over them to store fewer)")
    if _on_graph(init, xs):
        return graph.scan(fn, init, xs, length, reverse)
    from . import eager
    return eager.scan(fn, init, xs, length, reverse)


def fori_loop(lower, upper, body_fn, init_val):
    """val = body_fn(i, val) for i in range(lower, upper)."""
    if _on_graph(lower, upper, init_val):
        return graph.fori_loop(lower, upper, body_fn, init_val)
    from . import eager
    return eager.fori_loop(lower, upper, body_fn, init_val)
