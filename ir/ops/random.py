"""Random ops: standard uniform and normal values drawn from a counter-based generator.

A random node's inputs are its key (a uint64 constant: the seed), its generator state (a
`GeneratorState`, a uint64 Variable counting the calls so far) and, where its shape is only known
at run time, the node whose run-time shape it takes. The value of element i (flat, row-major) is
ir.philox's pure function of (key, counter, i): the same on every backend, however a loop is
split between threads, and new on every call, because gc.compile advances each GeneratorState
once per call in the same atomic commit as the updates (graphc/random.py). The ops declare
`random_state_input`, so passes never fold such a node into a constant nor merge two of them.

graphc/random.py builds the public functions (gc.random.uniform, ...) on these ops.
"""
import math

import numpy as np

from .. import philox
from ..errors import ShapeError
from ..node import Variable
from ..registry import Op, register
from ..types import fmt_shape

UINT64 = np.dtype(np.uint64)


class GeneratorState(Variable):
    """The call counter of one random node: a uint64 Variable that gc.compile advances once per
    call of a compiled function reading it (it is saved and restored like any Variable)."""

    __slots__ = ()

    def __init__(self, value=0, name=None):  # Variable's signature, so it copies and loads like one
        super().__init__(np.uint64(value), name=name)


class _Random(Op):
    """Shared by the random ops: inputs (key, state[, like]), attrs shape and dtype."""

    random_state_input = 1
    nondiff_inputs = (0, 1, 2)  # values with no gradient: the result depends on no input's value
    shape_inputs = (2,)
    dtypes = ()  # the float dtypes the op draws
    function = None  # the ir.philox function of (key, counter, index)

    def normalize(self, inputs, attrs):
        dtype = np.dtype(attrs["dtype"])
        if dtype not in self.dtypes:
            raise TypeError(f"{self.name}: draws {' or '.join(d.name for d in self.dtypes)} values, not {dtype}")
        shape = tuple(attrs["shape"])
        if len(inputs) == 3:
            if shape != inputs[2].shape:
                raise ShapeError(f"{self.name}: shape {fmt_shape(shape)} is not that of its shape input "
                                 f"{fmt_shape(inputs[2].shape)}")
        elif not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ShapeError(f"{self.name}: a static shape needs non-negative ints, got {fmt_shape(shape)}")
        return {"shape": shape, "dtype": dtype}

    def infer(self, inputs, attrs):
        if len(inputs) not in (2, 3) or any(x.shape or x.dtype != UINT64 for x in inputs[:2]):
            raise TypeError(f"{self.name}: takes a 0-d uint64 key and state (and a shape input), got "
                            f"{', '.join(x.type_text for x in inputs)}")
        return attrs["shape"], attrs["dtype"]

    def dim_links(self, node):
        if len(node.inputs) == 3:
            return tuple((2, d) for d in range(node.ndim)), ()
        return super().dim_links(node)

    def impl(self, key, state, like=None, *, shape, dtype):
        if like is not None:
            shape = np.shape(like)
        index = np.arange(math.prod(shape), dtype=np.uint64).reshape(shape)
        return np.asarray(self.function(np.uint64(key), np.uint64(state), index), dtype=dtype)


@register
class RANDOM_UNIFORM(_Random):
    """Standard uniform float64 values in [0, 1), each from the top 53 bits of its Philox block."""

    name = "random_uniform"
    dtypes = (np.dtype(np.float64),)
    function = staticmethod(philox.uniform_float64)
    scalar = "philox_uniform({0}, {1}, {index})"


@register
class RANDOM_UNIFORM_FLOAT32(_Random):
    """Standard uniform float32 values in [0, 1), each from the top 24 bits of its Philox block."""

    name = "random_uniform_float32"
    dtypes = (np.dtype(np.float32),)
    function = staticmethod(philox.uniform_float32)
    scalar = "philox_uniform_float32({0}, {1}, {index})"


@register
class RANDOM_NORMAL(_Random):
    """Standard normal values (Box-Muller in float64; float32 ones are those rounded once)."""

    name = "random_normal"
    dtypes = (np.dtype(np.float64), np.dtype(np.float32))
    function = staticmethod(philox.normal_float64)
    scalar = "philox_normal({0}, {1}, {index})"
