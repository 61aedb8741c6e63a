"""Graph nodes: immutable, single-output, compared by identity. Each keeps the user's file:line."""
import itertools
import threading

import numpy as np

from .dispatch import plain_dtype, register_frontend, resolve_weak_scalars
from .errors import GraphcError, ShapeError
from .operators import OperatorMixin
from .source import user_site
from .types import TupleType, check_fits, fmt_shape

_ids = itertools.count()


class Node(OperatorMixin):
    """A value in a graph: the output of `op` applied to `inputs` with `attrs`."""

    __slots__ = ("op", "inputs", "attrs", "shape", "dtype", "parts", "name", "site", "id", "__weakref__")

    def __init__(self, op, inputs, attrs, shape, dtype, name=None, site=None, parts=None):
        self.op = op
        self.inputs = tuple(inputs)
        self.attrs = attrs
        shape = tuple(shape)
        self.shape = RuntimeShape(shape, self) if None in shape else shape
        self.dtype = np.dtype(dtype)
        # A tuple-valued node (an op with several results) has parts: one (shape, dtype) each,
        # read through `part` projections. Its own shape and dtype are () and object.
        self.parts = parts
        self.name = name
        self.site = site if site is not None else user_site()
        self.id = next(_ids)

    @classmethod
    def tuple_valued(cls, op, inputs, attrs, parts, name=None, site=None):
        return cls(op, inputs, attrs, (), object, name=name, site=site,
                   parts=tuple((tuple(shape), np.dtype(dtype)) for shape, dtype in parts))

    @property
    def type_text(self):
        """`float64[3, None]`, or `(float64[3], float32[])` for a tuple value."""
        if self.parts is not None:
            return "(" + ", ".join(f"{dtype.name}{fmt_shape(shape)}" for shape, dtype in self.parts) + ")"
        return f"{self.dtype.name}{fmt_shape(self.shape)}"

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def label(self):
        """How listings and errors refer to this node."""
        return self.name if self.name else f"%{self.id}"

    def __repr__(self):
        return (
            f"<Node {self.label}: {self.op.name} {self.type_text} "
            f"at {self.site}>"
        )

    def __bool__(self):
        raise TypeError(
            f"the truth value of graph node {self.label} ({self.op.name}, built at {self.site}) "
            "is only known when the graph runs; use gc.where(cond, a, b) instead of `if`/`and`/`or`. "
            "(`==` on nodes is elementwise, so `node in a_list`, list.index and list.remove cannot "
            "find a node: keep nodes in a dict or set, or compare with `is`)"
        )

    def __array__(self, *args, **kwargs):
        raise TypeError(
            f"graph node {self.label} (built at {self.site}) has no value until it is compiled and "
            "run; use gc.compile([...], node) to get arrays"
        )

    def __float__(self):
        self.__array__()

    __int__ = __complex__ = __index__ = __float__

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d node")
        if self.shape[0] is None:
            raise TypeError(f"len() of node {self.label}: its first dimension is only known at run time")
        return self.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


class RuntimeShape(tuple):
    """The shape of a node with sizes known only at run time (None). It remembers its node, so a
    function given `x.shape` (gc.random.uniform(x.shape)) can take x's run-time sizes; it keeps
    that node alive, as `gc.random.uniform((x @ w).shape)` holds nothing else of `x @ w`. It
    pickles and copies as a plain tuple."""

    def __new__(cls, dims, node):
        shape = super().__new__(cls, dims)
        shape.node = node
        return shape

    def __reduce__(self):
        return tuple, (tuple(self),)


# Held only while a call reads all its Variables' values, or commits all its updates: a call
# sees the state either before or after another call's updates, never half of them.
_STATE_LOCK = threading.Lock()


def read_state(variables):
    """The current values of `variables`, all from the same moment."""
    with _STATE_LOCK:
        return [v._value for v in variables]


def write_state(assignments):
    """Assign (variable, new array) pairs as one step."""
    with _STATE_LOCK:
        for var, value in assignments:
            var._value = value


class Variable(Node):
    """A parameter: a graph leaf whose current value is kept between calls (`.value`).

    The value array is never written in place: an update or an assignment replaces it, so an
    array read from `.value` (or by a running call) never changes under its reader. `lock` is
    held by a call that updates this Variable, from reading its value to committing the new one.
    """

    __slots__ = ("_value", "lock")

    def __init__(self, value, name=None):
        from .ops.sources import VARIABLE

        array = np.array(value)  # copies: the caller's array must not alias the state
        super().__init__(VARIABLE, (), {}, array.shape, array.dtype, name=name or None)
        self._value = array
        self.lock = threading.Lock()

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, new):
        array = np.asarray(new)
        if array.shape != self.shape:
            raise ShapeError(
                f"Variable {self.label}: cannot assign a value of shape {fmt_shape(array.shape)}; "
                f"expected {fmt_shape(self.shape)}"
            )
        # Python ints are weak, as in NumPy 2: they may fill any integer variable they fit.
        weak_int = not isinstance(new, (np.ndarray, np.generic)) and array.dtype.kind in "iub" \
            and self.dtype.kind in "iu"
        if not weak_int and not np.can_cast(array.dtype, self.dtype, casting="same_kind"):
            raise TypeError(
                f"Variable {self.label}: cannot assign a {array.dtype} value to a {self.dtype} variable"
            )
        check_fits(array, self.dtype, f"Variable {self.label}")
        array = np.array(array, dtype=self.dtype)
        with self.lock:  # waits for a running call that updates this Variable
            self._value = array

    def __repr__(self):
        return f"<Variable {self.label}: {self.dtype.name}{fmt_shape(self.shape)}>"


def as_node(value, dtype=None):
    """Wrap a non-node value (array, scalar, eager tensor) as a constant node."""
    if isinstance(value, Node):
        return value
    from .ops.sources import constant

    data = getattr(value, "_graphc_array", None)
    if data is not None:  # an eager tensor: take its current data as a constant
        value = data()
    return constant(value, dtype=dtype)


def _dtype_of(value):
    return value.dtype if isinstance(value, Node) or hasattr(value, "_graphc_array") else plain_dtype(value)


def build_node(op, args, attrs):
    """The graph frontend of `apply`: constants for non-nodes, then inference, then the node."""
    site = user_site()
    args = resolve_weak_scalars(args, _dtype_of) if op.elementwise else args
    inputs = [a if isinstance(a, Node) else as_node(a) for a in args]
    try:
        attrs = op.normalize(inputs, dict(attrs))
        inferred = op.infer(inputs, attrs)
    except GraphcError as err:
        raise type(err)(f"{err} [built at {site}]") from None
    except (TypeError, IndexError) as err:
        raise type(err)(f"{err} [built at {site}]") from None
    if isinstance(inferred, TupleType):
        return Node.tuple_valued(op, inputs, attrs, inferred, site=site)
    return Node(op, inputs, attrs, *inferred, site=site)


register_frontend(Node, build_node, priority=0)
