"""gc.random: random values in graph mode (uniform, normal, bernoulli), and gc.dropout.

Each call builds one random node (ir/ops/random.py) with its own key (the seed, or one drawn from
gc.manual_seed's generator now) and its own GeneratorState; a compiled function draws new values
on every call because gc.compile advances every GeneratorState its graph reads once per call
(`state_advances`), committed with the updates: a failed call advances nothing, and concurrent
calls, which take the states' locks like any updated Variable, each see their own counter.

Random nodes inside a loop body (gc.scan, gc.while_loop, gc.fori_loop) are refused when the loop
is built (`refuse_draws_in_loop`): every step would see the same values.
"""
import itertools
import numbers
import threading

import numpy as np

from graphc.ir.dispatch import apply
from graphc.ir.errors import ShapeError
from graphc.ir.node import Node, RuntimeShape
from graphc.ir.ops import elementwise as ew
from graphc.ir.ops.random import RANDOM_NORMAL, RANDOM_UNIFORM, RANDOM_UNIFORM_FLOAT32, GeneratorState
from graphc.ir import philox
from graphc.ir.ops.sources import constant

from . import seeding

__all__ = ["uniform", "normal", "bernoulli"]

_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))
_state_names = itertools.count()
_draws = threading.local()  # random nodes this thread has built: loops compare before and after


def _dtype(dtype, what):
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"gc.random.{what}: dtype must be float64 or float32, got {dtype!r}") from None
    if dtype not in _FLOATS:
        raise TypeError(f"gc.random.{what}: dtype must be float64 or float32, got {dtype}")
    return dtype


def _shape(shape, what):
    """(static shape tuple, the node whose run-time shape it is or None)."""
    if isinstance(shape, RuntimeShape):
        return tuple(shape), shape.node
    if isinstance(shape, (numbers.Integral,)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"gc.random.{what}: shape must be a tuple of ints or a node's .shape, got {shape!r}")
    if None in shape:
        raise ShapeError(
            f"gc.random.{what}: shape {tuple(shape)} holds None; a size known only at run time must come "
            f"whole from a node, as gc.random.{what}(x.shape)"
        )
    if not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise ShapeError(f"gc.random.{what}: shape entries must be non-negative ints, got {tuple(shape)}")
    return tuple(int(d) for d in shape), None


def _seed(seed, what):
    if seed is None:
        return seeding.draw_seed()
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
        raise TypeError(f"{what}: seed must be an int or None, got {seed!r}")
    if not 0 <= seed < 2 ** 64:
        raise ValueError(f"{what}: seed must be in [0, 2**64), got {seed}")
    return int(seed)


def _number(value, name, what):
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value):
        raise TypeError(f"gc.random.{what}: {name} must be a finite number, got {value!r}")
    return float(value)


def _draw(op, shape, dtype, seed, what):
    static, like = _shape(shape, what)
    key = constant(np.uint64(_seed(seed, f"gc.random.{what}")))
    state = GeneratorState(name=f"random_state{next(_state_names)}")
    _draws.count = getattr(_draws, "count", 0) + 1
    inputs = (key, state) if like is None else (key, state, like)
    return apply(op, *inputs, shape=static, dtype=dtype)


def uniform(shape, low=0.0, high=1.0, dtype="float64", seed=None):
    """Uniform values in [low, high) (low + (high - low) * u for u uniform in [0, 1) on the grid
    of 2**-53, float32: 2**-24; rounding may give `high` itself when low != 0 or high != 1)."""
    dtype = _dtype(dtype, "uniform")
    low, high = _number(low, "the low bound", "uniform"), _number(high, "the high bound", "uniform")
    if not low <= high:
        raise ValueError(f"gc.random.uniform: needs low <= high, got low={low}, high={high}")
    u = _draw(RANDOM_UNIFORM if dtype == np.float64 else RANDOM_UNIFORM_FLOAT32, shape, dtype, seed, "uniform")
    return u if (low, high) == (0.0, 1.0) else ew.add(low, ew.mul(high - low, u))


def normal(shape, mean=0.0, std=1.0, dtype="float64", seed=None):
    """Normal values: mean + std * z, z standard normal (Box-Muller on Philox's bits)."""
    dtype = _dtype(dtype, "normal")
    mean, std = _number(mean, "the mean", "normal"), _number(std, "the std", "normal")
    if std < 0:
        raise ValueError(f"gc.random.normal: std must be >= 0, got {std}")
    z = _draw(RANDOM_NORMAL, shape, dtype, seed, "normal")
    return z if (mean, std) == (0.0, 1.0) else ew.add(mean, ew.mul(std, z))


def _probability(p, what):
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0 <= p <= 1:
        raise ValueError(f"{what}: p must be a number in [0, 1], got {p!r}")
    return float(p)


def bernoulli(p, shape, seed=None):
    """Bool values, True with probability p (u < p for u uniform in [0, 1): p=0 is never True,
    p=1 always), as jax.random.bernoulli."""
    p = _probability(p, "gc.random.bernoulli")
    return ew.less(_draw(RANDOM_UNIFORM, shape, np.dtype(np.float64), seed, "bernoulli"), p)


def dropout(x, p=0.5, training=True, seed=None):
    """PyTorch's dropout: each value zeroed with probability p, the others scaled by 1/(1-p) (as
    torch: x * (mask / (1-p)), so inf and nan give nan where dropped). training=False or p=0:
    x itself. On a graph node the mask is a random node (new per call, the gradient
    reading the same mask); on an eager tensor it is drawn now, from gc.manual_seed's generator
    unless `seed` is given, and its backward uses that mask."""
    p = _probability(p, "dropout")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"dropout: training must be a bool, got {training!r}")
    dtype = np.dtype(x.dtype) if hasattr(x, "dtype") else np.asarray(x).dtype
    if dtype.kind != "f":
        raise TypeError(f"dropout: x must be floating point, got {dtype}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return ew.mul(x, np.zeros((), dtype))
    scale = np.ones((), dtype) / np.asarray(1.0 - p, dtype)  # torch divides by 1-p in x's dtype
    if isinstance(x, Node):
        keep = bernoulli(1.0 - p, x.shape, seed)
    else:  # eager: the first call's values of the same Philox stream
        shape = np.shape(x.detach().numpy() if hasattr(x, "detach") else x)
        index = np.arange(int(np.prod(shape)), dtype=np.uint64).reshape(shape)
        key = np.uint64(_seed(seed, "dropout"))
        keep = philox.uniform_float64(key, np.uint64(0), index) < 1.0 - p
    return ew.mul(x, ew.mul(ew.astype(keep, dtype), scale))


# ---- used by gc.compile and graph-mode loops --------------------------------------------------
def state_advances(graph, updates):
    """{GeneratorState: state + 1} for every generator state the graph reads (bodies' captured
    ones included, as they are inputs of their loop or cond node)."""
    advances = {}
    for var in graph.variables:
        if isinstance(var, GeneratorState):
            if var in updates:
                raise ValueError(f"compile: {var.label} is the generator state of a random node; it advances "
                                 "by itself once per call and cannot be updated")
            advances[var] = ew.add(var, np.uint64(1))
    return advances


def draws_so_far():
    """How many random nodes this thread has built: a loop builder compares it before and after
    tracing its body."""
    return getattr(_draws, "count", 0)


def refuse_draws_in_loop(before, kind, site):
    if draws_so_far() != before:
        raise NotImplementedError(
            f"{kind}: random values (gc.random.*, gc.dropout) drawn inside a loop body are not supported yet: "
            f"every step would see the same values. Draw them before the loop with a leading axis of one "
            f"row per step and pass them as scanned values (xs) ({site})"
        )
