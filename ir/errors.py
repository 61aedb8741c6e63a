"""The errors graphc raises for user mistakes. Each names what was wrong, where, and what was expected."""


class GraphcError(Exception):
    """Base class of graphc's own errors."""


class ShapeError(GraphcError, ValueError):
    """Known sizes that contradict each other, found while building a node."""


class FeedError(GraphcError, ValueError):
    """A compiled function was called with a missing, unknown, mis-shaped or mis-typed input."""


class GradientError(GraphcError, ValueError):
    """A gradient was asked for that cannot be computed (e.g. only non-differentiable paths)."""


class NaNError(GraphcError, FloatingPointError):
    """nan_check=True: an op produced NaN from NaN-free inputs (the message names it)."""


class RewriteError(GraphcError, RuntimeError):
    """A rewrite rule failed, broke a node's type, or a rule set never reached a fixed point."""


class ExecutionError(GraphcError, RuntimeError):
    """An op failed while running; the message names the node and the user's file:line."""


class IterationLimitError(GraphcError, RuntimeError):
    """A while_loop reached its max_iterations while its condition still held."""
