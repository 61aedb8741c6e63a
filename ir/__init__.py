"""graphc's intermediate representation: nodes, graphs and the op registry."""
from . import ops  # noqa: F401  (registers every op)
from .errors import FeedError, GradientError, GraphcError, ShapeError  # noqa: F401
from .graph import Graph  # noqa: F401
from .node import Node, Variable  # noqa: F401
from .registry import OPS, Op  # noqa: F401
