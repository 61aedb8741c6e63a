"""The registry-driven test domain of every op.

For each op name in `graphc.ir.OPS`, `DOMAINS[name]` holds one or more `Case`s: a builder that
takes input values (graph placeholders here; eager tensors later, where `graph_only` is False),
the input shapes and dtypes (several shapes, axes, keepdims and broadcasting cases), a generator
of input values that respects the op's domain (positive for log/sqrt, away from the kinks of
abs/relu/clip, no ties for max/min unless the case is about ties), and an independent NumPy
reference. The value, gradient and registry tests are parametrized over `ALL_CASES`; a backend
test parametrizes the same cases over `BACKENDS`. An op without a case fails test_op_registry.
"""
import glob
import importlib
import os

import numpy as np

import graphc as gc
from graphc.ir import OPS
from graphc.ir.ops import indexing, nn, reductions, shape as shp

# Backends every value/gradient test runs on (the `backend` fixture): both by default; a
# developer iterating on one may set e.g. GRAPHC_TEST_BACKENDS=numpy.
BACKENDS = os.environ.get("GRAPHC_TEST_BACKENDS", "numpy,numba").split(",")

F64 = np.dtype(np.float64)
I64 = np.dtype(np.int64)
BOOL = np.dtype(np.bool_)


# ---- value generators: (rng, shape) -> array ---------------------------------------------------
def normal(rng, shape):
    return rng.standard_normal(shape)


def uniform(lo, hi):
    return lambda rng, shape: rng.uniform(lo, hi, shape)


positive = uniform(0.5, 2.0)


def away_from_zero(margin=0.2, high=2.0):
    """|x| in [margin, high]: keeps finite differences off the kink of abs/relu/sign at 0."""
    return lambda rng, shape: rng.uniform(margin, high, shape) * rng.choice([-1.0, 1.0], shape)


def distinct(offset=0.0):
    """Values at least 0.4 apart (on a 0.5 grid plus small noise): no ties for max/min/argmax."""

    def gen(rng, shape):
        size = int(np.prod(shape, dtype=np.int64))
        grid = (rng.permutation(size) - size / 2) * 0.5 + offset
        return (grid + rng.uniform(-0.05, 0.05, size)).reshape(shape)

    return gen


def ints(lo, hi):
    return lambda rng, shape: rng.integers(lo, hi, shape).astype(np.int64)


def bools(rng, shape):
    return rng.integers(0, 2, shape).astype(bool)


def small_ints_as_float(rng, shape):
    """Floats with many ties (-2..2): comparisons must get equality right."""
    return rng.integers(-2, 3, shape).astype(np.float64)


def each(*gens):
    """A joint generator from one generator per input."""
    return lambda rng, shapes: [g(rng, s) for g, s in zip(gens, shapes)]


def _size(shape):
    return int(np.prod(shape, dtype=np.int64))


class Case:
    """One test domain of one op.

    build(*inputs) -> node; shapes/dtypes: of the inputs; gen(rng, shapes) -> list of arrays;
    ref(*arrays) -> the NumPy reference value. `diff`: the input positions differentiated
    (default: every floating input). `fd_ref(*base_arrays)`, where given, returns the function
    whose finite differences the derivatives must match instead of `ref` (stop_gradient: the
    stopped value is a constant frozen at the base point). `nondiff`: the case's op passes no
    gradient (default: the registry's `differentiable` flag).
    """

    def __init__(self, op, name, build, shapes, ref, gen=None, dtypes=None, diff=None,
                 second_order=True, fd_ref=None, nondiff=None, f32=True, dynamic=True, graph_only=False,
                 fd_eps=1e-6, rtol=1e-7, atol=1e-12, grad_rtol=1e-5, grad_atol=1e-6):
        assert op in OPS, f"case for unknown op {op!r}"
        self.op = op
        self.name = name
        self.build = build
        self.shapes = [tuple(s) for s in shapes]
        self.dtypes = [np.dtype(d) for d in (dtypes or [F64] * len(self.shapes))]
        assert len(self.dtypes) == len(self.shapes)
        self.ref = ref
        self.gen = gen or each(*[_default_gen(d) for d in self.dtypes])
        floats = [i for i, d in enumerate(self.dtypes) if d.kind == "f"]
        self.diff = tuple(floats if diff is None else diff)
        self.second_order = second_order and fd_ref is None
        self.fd_ref = fd_ref
        self.nondiff = (not OPS[op].differentiable) if nondiff is None else nondiff
        self.f32 = f32  # float32 inputs make sense (the values test repeats in float32)
        self.dynamic = dynamic  # buildable with every dimension None
        self.graph_only = graph_only  # builder uses graph-only things (constants, Variables)
        self.fd_eps = fd_eps
        self.rtol, self.atol = rtol, atol
        self.grad_rtol, self.grad_atol = grad_rtol, grad_atol

    @property
    def id(self):
        return f"{self.op}[{self.name}]"

    def __repr__(self):
        return self.id

    @property
    def differentiable(self):
        """The op passes gradients on this case's differentiable inputs."""
        return bool(self.diff) and not self.nondiff

    def inputs(self, seed=0, float_dtype=None):
        rng = np.random.default_rng(seed)
        arrays = [np.asarray(a) for a in self.gen(rng, self.shapes)]
        out = []
        for a, d in zip(arrays, self.dtypes):
            if d.kind == "f" and float_dtype is not None:
                d = np.dtype(float_dtype)
            out.append(np.asarray(a, dtype=d))
        return out

    def placeholders(self, dynamic=False, float_dtype=None):
        """One placeholder per input; `dynamic`: every dimension other than 1 declared None."""
        nodes = []
        for i, (s, d) in enumerate(zip(self.shapes, self.dtypes)):
            if d.kind == "f" and float_dtype is not None:
                d = np.dtype(float_dtype)
            # None dimensions never broadcast implicitly (a size-1 dimension must be declared 1)
            shape = tuple(None if d != 1 else 1 for d in s) if dynamic else s
            nodes.append(gc.placeholder(shape, d, name=f"in{i}"))
        return nodes

    def expected(self, arrays):
        with np.errstate(all="ignore"):
            return np.asarray(self.ref(*arrays))

    def derivative_ref(self, base):
        """The function whose finite differences at `base` the derivatives must match."""
        return self.ref if self.fd_ref is None else self.fd_ref(*base)


def _default_gen(dtype):
    if dtype.kind == "f":
        return normal
    if dtype.kind == "b":
        return bools
    return ints(0, 3)


DOMAINS = {}


def add(case):
    DOMAINS.setdefault(case.op, []).append(case)


# ---- elementwise unary -------------------------------------------------------------------------
def _sigmoid_ref(x):
    # not 1 / (1 + exp(-x)), which flushes sigmoid(-710) = 4.5e-309 to 0
    return np.exp(-np.logaddexp(0, -x))


UNARY = {
    # name: (builder, reference, generator)
    "neg": (gc.neg, np.negative, normal),
    "exp": (gc.exp, np.exp, normal),
    "log": (gc.log, np.log, positive),
    "log1p": (gc.log1p, np.log1p, uniform(-0.5, 2.0)),
    "expm1": (gc.expm1, np.expm1, normal),
    "sqrt": (gc.sqrt, np.sqrt, positive),
    "square": (gc.square, np.square, normal),
    "abs": (gc.abs, np.abs, away_from_zero()),
    "sign": (gc.sign, np.sign, away_from_zero()),
    "sin": (gc.sin, np.sin, normal),
    "cos": (gc.cos, np.cos, normal),
    "tanh": (gc.tanh, np.tanh, normal),
    "sigmoid": (gc.sigmoid, _sigmoid_ref, normal),
    "relu": (gc.relu, lambda x: np.maximum(x, 0), away_from_zero()),
}
UNARY_SHAPES = [(), (7,), (2, 3, 4)]

for _name, (_fn, _ref, _gen) in UNARY.items():
    for _shape in UNARY_SHAPES:
        add(Case(_name, f"{_shape}", _fn, [_shape], _ref, gen=each(_gen)))

# operator and method spellings of unary ops
add(Case("neg", "operator", lambda x: -x, [(3, 4)], np.negative))
add(Case("abs", "builtin", lambda x: abs(x), [(3, 4)], np.abs, gen=each(away_from_zero())))
add(Case("exp", "method", lambda x: x.exp(), [(3,)], np.exp))
add(Case("log", "method", lambda x: x.log(), [(3,)], np.log, gen=each(positive)))
add(Case("sqrt", "method", lambda x: x.sqrt(), [(3,)], np.sqrt, gen=each(positive)))
add(Case("tanh", "method", lambda x: x.tanh(), [(3,)], np.tanh))
add(Case("sigmoid", "wide", gc.sigmoid, [(40,)], _sigmoid_ref, gen=each(uniform(-30, 30))))
add(Case("sigmoid", "method", lambda x: x.sigmoid(), [(3,)], _sigmoid_ref))
add(Case("relu", "method", lambda x: x.relu(), [(3, 2)], lambda x: np.maximum(x, 0),
         gen=each(away_from_zero())))


# ---- elementwise binary ------------------------------------------------------------------------
def _pair_apart(rng, shapes):
    """Two arrays whose every pair of entries differs by >= 0.15: no ties for maximum/minimum."""
    return [distinct(0.0)(rng, shapes[0]), distinct(0.25)(rng, shapes[1])]


BINARY = {
    "add": (gc.add, np.add, each(normal, normal)),
    "sub": (gc.sub, np.subtract, each(normal, normal)),
    "mul": (gc.mul, np.multiply, each(normal, normal)),
    "div": (gc.div, np.divide, each(normal, away_from_zero(0.5))),
    "pow": (gc.pow, np.power, each(positive, normal)),
    "maximum": (gc.maximum, np.maximum, _pair_apart),
    "minimum": (gc.minimum, np.minimum, _pair_apart),
}
BINARY_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((3, 1), (1, 4)),
    ((2, 1, 4), (3, 1)),
    ((), (2, 3)),
    ((5,), ()),
]

for _name, (_fn, _ref, _gen) in BINARY.items():
    for _shapes in BINARY_SHAPES:
        add(Case(_name, f"{_shapes[0]}x{_shapes[1]}", _fn, list(_shapes), _ref, gen=_gen))

# Python operators (incl. reflected ones with a NumPy array or scalar on the left)
_LEFT = np.array([0.5, -1.5, 2.0, 3.0])
add(Case("add", "operator", lambda x, y: x + y, [(2, 4), (4,)], np.add))
add(Case("add", "reflected_array", lambda x: _LEFT + x, [(3, 4)], lambda x: _LEFT + x))
add(Case("add", "python_scalar", lambda x: x + 2.5, [(3, 4)], lambda x: x + 2.5))
add(Case("sub", "operator", lambda x, y: x - y, [(2, 4), (4,)], np.subtract))
add(Case("sub", "reflected_array", lambda x: _LEFT - x, [(3, 4)], lambda x: _LEFT - x))
add(Case("sub", "reflected_scalar", lambda x: 1 - x, [(3,)], lambda x: 1 - x))
add(Case("mul", "operator", lambda x, y: x * y, [(2, 4), (4,)], np.multiply))
add(Case("mul", "reflected_array", lambda x: _LEFT * x, [(3, 4)], lambda x: _LEFT * x))
add(Case("mul", "self", lambda x: x * x, [(3, 4)], lambda x: x * x))
add(Case("div", "operator", lambda x, y: x / y, [(2, 4), (4,)], np.divide,
         gen=each(normal, away_from_zero(0.5))))
add(Case("div", "reflected_array", lambda x: _LEFT / x, [(3, 4)], lambda x: _LEFT / x,
         gen=each(away_from_zero(0.5))))
add(Case("pow", "operator", lambda x, y: x ** y, [(2, 4), (4,)], np.power, gen=each(positive, normal)))
add(Case("pow", "int_exponent_negative_base", lambda x: x ** 3, [(3, 4)], lambda x: x ** 3))
add(Case("pow", "square_root_exponent", lambda x: x ** 0.5, [(5,)], np.sqrt, gen=each(positive)))
add(Case("pow", "reflected_scalar", lambda x: 2.0 ** x, [(3, 4)], lambda x: 2.0 ** x))
add(Case("pow", "reflected_array", lambda x: np.array([1.5, 2.5, 0.5]) ** x, [(2, 3)],
         lambda x: np.array([1.5, 2.5, 0.5]) ** x))
# d/dy x**y at x == 0 is 0 by convention (its limit); d/dx x**y with y >= 1.5 is finite there.
add(Case("pow", "zero_base", gc.pow, [(6,), (6,)], np.power, diff=(1,), second_order=False,
         gen=lambda rng, s: [np.array([0.0, 0.0, 0.5, 1.0, 1.5, 2.0]), rng.uniform(1.5, 3.0, s[1])]))
# ties split the gradient evenly, which is exactly what the central difference sees
add(Case("maximum", "ties", gc.maximum, [(5,), (5,)], np.maximum, second_order=False,
         gen=lambda rng, s: [np.array([1.0, 2.0, 3.0, -1.0, 0.5]), np.array([1.0, 1.0, 3.5, -1.0, 0.0])]))
add(Case("minimum", "ties", gc.minimum, [(5,), (5,)], np.minimum, second_order=False,
         gen=lambda rng, s: [np.array([1.0, 2.0, 3.0, -1.0, 0.5]), np.array([1.0, 1.0, 3.5, -1.0, 0.0])]))


# ---- comparisons (boolean results, no gradient) ------------------------------------------------
COMPARISONS = {
    "less": (gc.less, np.less, lambda x, y: x < y),
    "less_equal": (gc.less_equal, np.less_equal, lambda x, y: x <= y),
    "greater": (gc.greater, np.greater, lambda x, y: x > y),
    "greater_equal": (gc.greater_equal, np.greater_equal, lambda x, y: x >= y),
    "equal": (gc.equal, np.equal, None),
    "not_equal": (gc.not_equal, np.not_equal, None),
}
_MIRROR = {"less": "greater", "greater": "less", "less_equal": "greater_equal", "greater_equal": "less_equal"}
for _name, (_fn, _ref, _operator) in COMPARISONS.items():
    _gen = each(small_ints_as_float, small_ints_as_float)
    add(Case(_name, "same_shape", _fn, [(3, 4), (3, 4)], _ref, gen=_gen))
    add(Case(_name, "broadcast", _fn, [(3, 1), (4,)], _ref, gen=_gen))
    add(Case(_name, "int_vs_float", _fn, [(5,), (5,)], _ref, dtypes=[I64, F64], f32=False,
             gen=each(ints(-2, 3), small_ints_as_float)))
    if _operator is not None:
        add(Case(_name, "operator", _operator, [(2, 3), (3,)], _ref, gen=_gen))
        # `array < node` comes back to the node as `node > array`: the mirrored op
        add(Case(_MIRROR[_name], f"reflected_array_{_name}", (lambda op: lambda x: op(np.array([0.0, 1.0, -1.0]), x))(_operator),
                 [(2, 3)], (lambda op: lambda x: op(np.array([0.0, 1.0, -1.0]), x))(_operator),
                 gen=each(small_ints_as_float)))


# ---- selection ---------------------------------------------------------------------------------
for _shapes in [((3, 4), (3, 4), (3, 4)), ((3, 1), (3, 4), (4,)), ((), (2, 3), ()), ((2, 3), (), ())]:
    add(Case("where", f"{_shapes}", gc.where, list(_shapes), np.where, dtypes=[BOOL, F64, F64]))
# a comparison feeding where is simply not a gradient path
add(Case("where", "relu_by_hand", lambda x: gc.where(x > 0, x, 0.0), [(3, 4)], lambda x: np.where(x > 0, x, 0.0),
         gen=each(away_from_zero())))
add(Case("where", "two_sided", lambda x, y: gc.where(x < y, x * y, x - y), [(3, 4), (4,)],
         lambda x, y: np.where(x < y, x * y, x - y), gen=_pair_apart))


def _clip_gen(rng, shapes):
    """x in bands that stay >= 0.1 away from every possible bound (lo in [-1,-.5], hi in [.5,1])."""
    band = rng.integers(0, 3, shapes[0])
    x = np.choose(band, [rng.uniform(-2, -1.1, shapes[0]), rng.uniform(-0.4, 0.4, shapes[0]),
                         rng.uniform(1.1, 2, shapes[0])])
    return [x, rng.uniform(-1, -0.5, shapes[1]), rng.uniform(0.5, 1, shapes[2])]


add(Case("clip", "scalar_bounds", gc.clip, [(3, 4), (), ()], np.clip, gen=_clip_gen))
add(Case("clip", "broadcast_bounds", gc.clip, [(3, 4), (4,), (3, 1)], np.clip, gen=_clip_gen))
add(Case("clip", "hi_only", lambda x: gc.clip(x, hi=0.5), [(3, 4)], lambda x: np.minimum(x, 0.5),
         gen=lambda rng, s: _clip_gen(rng, [s[0], (), ()])[:1]))
add(Case("clip", "lo_only", lambda x: gc.clip(x, lo=-0.5), [(3, 4)], lambda x: np.maximum(x, -0.5),
         gen=lambda rng, s: _clip_gen(rng, [s[0], (), ()])[:1]))


# ---- casts and gradient barriers ---------------------------------------------------------------
# float32 rounding: the finite difference needs a wide step and loose tolerances
add(Case("cast", "to_float32", lambda x: gc.astype(x, "float32"), [(3, 4)], lambda x: x.astype(np.float32),
         fd_eps=1e-3, grad_rtol=1e-3, grad_atol=1e-4, rtol=0, atol=0))
add(Case("cast", "to_float64", lambda x: x.astype(np.float64), [(3, 4)], lambda x: x.astype(np.float64)))
add(Case("cast", "method_f32_roundtrip", lambda x: x.astype("float32").astype("float64") * 2.0, [(5,)],
         lambda x: x.astype(np.float32).astype(np.float64) * 2.0, fd_eps=1e-3, grad_rtol=1e-3, grad_atol=1e-4))
add(Case("cast", "to_int64", lambda x: gc.astype(x, "int64"), [(3, 4)], lambda x: x.astype(np.int64),
         gen=each(uniform(-5, 5)), nondiff=True))
add(Case("cast", "to_bool", lambda x: x.astype(bool), [(6,)], lambda x: x.astype(bool),
         gen=each(small_ints_as_float), nondiff=True))
add(Case("cast", "from_int", lambda x: gc.astype(x, "float64"), [(3, 4)], lambda x: x.astype(np.float64),
         dtypes=[I64], f32=False, gen=each(ints(-5, 5))))
add(Case("stop_gradient", "(3, 4)", gc.stop_gradient, [(3, 4)], lambda x: x,
         fd_ref=lambda x0: lambda x: x0))
add(Case("stop_gradient", "inside", lambda x, y: x * gc.stop_gradient(x * y) + y, [(5,), (5,)],
         lambda x, y: x * x * y + y, fd_ref=lambda x0, y0: lambda x, y: x * (x0 * y0) + y))


# ---- reductions --------------------------------------------------------------------------------
def _np_logsumexp(x, axis=None, keepdims=False):
    peak = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - peak), axis=axis, keepdims=True)) + peak
    return out if keepdims else np.squeeze(out, axis=axis)


REDUCTIONS = {
    "sum": (gc.sum, np.sum, normal),
    "mean": (gc.mean, np.mean, normal),
    "max": (gc.max, np.max, distinct()),
    "min": (gc.min, np.min, distinct()),
    "logsumexp": (gc.logsumexp, _np_logsumexp, normal),
}
REDUCE_CONFIGS = [
    ((2, 3, 4), None, False),
    ((2, 3, 4), 0, False),
    ((2, 3, 4), -1, False),
    ((2, 3, 4), (0, 2), False),
    ((2, 3, 4), 1, True),
    ((2, 3, 4), None, True),
    ((5,), 0, True),
    ((), None, False),
]


def _reduce_builder(fn, axis, keepdims):
    return lambda x: fn(x, axis=axis, keepdims=keepdims)


def _reduce_ref(fn, axis, keepdims):
    return lambda x: fn(x, axis=axis, keepdims=keepdims)


for _name, (_fn, _ref, _gen) in REDUCTIONS.items():
    for _shape, _axis, _keep in REDUCE_CONFIGS:
        add(Case(_name, f"{_shape}-axis={_axis}-keepdims={_keep}", _reduce_builder(_fn, _axis, _keep), [_shape],
                 _reduce_ref(_ref, _axis, _keep), gen=each(_gen)))
    add(Case(_name, "method", (lambda n: lambda x: getattr(x, n)(axis=1))(_name), [(3, 4)],
             _reduce_ref(_ref, 1, False), gen=each(_gen)))


def _two_way_ties(rng, shapes):
    """Rows [a, b, b] (b > a): the two maxima share the gradient (central differences agree)."""
    a = rng.uniform(-1, 0, (shapes[0][0], 1))
    b = rng.uniform(0.5, 1, (shapes[0][0], 1))
    return [np.concatenate([a, b, b], axis=1)]


add(Case("max", "two_way_ties", lambda x: gc.max(x, axis=1), [(3, 3)], lambda x: np.max(x, axis=1),
         gen=_two_way_ties, second_order=False))
add(Case("min", "two_way_ties", lambda x: gc.min(-x, axis=1), [(3, 3)], lambda x: np.min(-x, axis=1),
         gen=_two_way_ties, second_order=False))
add(Case("logsumexp", "wide_range", lambda x: gc.logsumexp(x, axis=-1), [(3, 5)],
         lambda x: _np_logsumexp(x, axis=-1), gen=each(uniform(-300, 300)), f32=False))

for _axis, _keep in [(None, False), (0, False), (-1, True), (1, False)]:
    add(Case("argmax", f"axis={_axis}-keepdims={_keep}", (lambda a, k: lambda x: gc.argmax(x, axis=a, keepdims=k))(
        _axis, _keep), [(3, 4)], (lambda a, k: lambda x: np.argmax(x, axis=a, keepdims=k))(_axis, _keep),
        gen=each(distinct())))
add(Case("argmax", "method", lambda x: x.argmax(axis=0), [(4, 2)], lambda x: np.argmax(x, axis=0),
         gen=each(distinct())))


# ---- linear algebra ----------------------------------------------------------------------------
MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (3, 4, 2)),
    ((3, 4), (2, 4, 5)),
    ((4,), (2, 4, 3)),
    ((2, 3, 4), (4,)),
]
for _shapes in MATMUL_SHAPES:
    add(Case("matmul", f"{_shapes[0]}@{_shapes[1]}", gc.matmul, list(_shapes), np.matmul,
             rtol=1e-12, atol=1e-12))
add(Case("matmul", "operator", lambda x, y: x @ y, [(2, 3), (3, 2)], np.matmul, rtol=1e-12, atol=1e-12))
add(Case("matmul", "reflected_array", lambda x: np.arange(6.0).reshape(2, 3) @ x, [(3, 2)],
         lambda x: np.arange(6.0).reshape(2, 3) @ x, rtol=1e-12, atol=1e-12))

for _shape, _axes in [((3, 4), None), ((2, 3, 4), None), ((2, 3, 4), (1, 0, 2)), ((2, 3, 4), (2, 0, 1)),
                      ((2, 3, 4), (-1, 0, 1))]:
    add(Case("transpose", f"{_shape}-{_axes}", (lambda a: lambda x: gc.transpose(x, a))(_axes), [_shape],
             (lambda a: lambda x: np.transpose(x, a))(_axes)))
add(Case("transpose", "T", lambda x: x.T, [(3, 4)], lambda x: x.T))
add(Case("transpose", "method_args", lambda x: x.transpose(2, 0, 1), [(2, 3, 4)], lambda x: x.transpose(2, 0, 1)))
add(Case("transpose", "method_tuple", lambda x: x.transpose((1, 0)), [(2, 3)], lambda x: x.transpose((1, 0))))


# ---- shape ops ---------------------------------------------------------------------------------
for _shape, _target in [((3, 4), (12,)), ((3, 4), (2, -1)), ((2, 3, 4), (4, 6)), ((), (1, 1)),
                        ((2, 3, 4), (-1,)), ((6,), (3, 2, 1))]:
    add(Case("reshape", f"{_shape}->{_target}", (lambda t: lambda x: gc.reshape(x, t))(_target), [_shape],
             (lambda t: lambda x: np.reshape(x, t))(_target)))
add(Case("reshape", "method_args", lambda x: x.reshape(4, 3), [(3, 4)], lambda x: x.reshape(4, 3)))
add(Case("reshape", "method_tuple", lambda x: x.reshape((2, 6)), [(3, 4)], lambda x: x.reshape((2, 6))))

for _shape, _target in [((3, 1), (2, 3, 4)), ((4,), (3, 4)), ((), (2, 2)), ((1, 4), (1, 4))]:
    add(Case("broadcast_to", f"{_shape}->{_target}", (lambda t: lambda x: gc.broadcast_to(x, t))(_target),
             [_shape], (lambda t: lambda x: np.broadcast_to(x, t))(_target), dynamic=False))

for _shape, _axis in [((3, 4), 0), ((3, 4), -1), ((3, 4), (0, 2)), ((), 0), ((3, 4), 1)]:
    add(Case("expand_dims", f"{_shape}-axis={_axis}", (lambda a: lambda x: gc.expand_dims(x, a))(_axis), [_shape],
             (lambda a: lambda x: np.expand_dims(x, a))(_axis)))

for _axis, _dyn in [(None, False), (1, True), ((1, 3), True), (-1, True)]:
    add(Case("squeeze", f"axis={_axis}", (lambda a: lambda x: gc.squeeze(x, a))(_axis), [(3, 1, 4, 1)],
             (lambda a: lambda x: np.squeeze(x, a))(_axis), dynamic=_dyn))
add(Case("squeeze", "method", lambda x: x.squeeze(0), [(1, 3)], lambda x: x.squeeze(0)))

for _shapes, _axis in [([(2, 3), (4, 3)], 0), ([(2, 3), (2, 1), (2, 2)], 1), ([(2, 3, 4), (2, 3, 1)], -1),
                       ([(3,)], 0)]:
    add(Case("concatenate", f"{_shapes}-axis={_axis}", (lambda a: lambda *xs: gc.concatenate(xs, axis=a))(_axis),
             _shapes, (lambda a: lambda *xs: np.concatenate(xs, axis=a))(_axis)))
add(Case("concatenate", "same_input_twice", lambda x: gc.concatenate([x, x * 2], axis=0), [(2, 3)],
         lambda x: np.concatenate([x, x * 2], axis=0)))
for _axis in (0, -1, 1):
    add(Case("concatenate", f"stack-axis={_axis}", (lambda a: lambda x, y: gc.stack([x, y], axis=a))(_axis),
             [(3, 4), (3, 4)], (lambda a: lambda x, y: np.stack([x, y], axis=a))(_axis)))


# ---- indexing ----------------------------------------------------------------------------------
def _index_case(name, key, shape, dynamic=True):
    add(Case("getitem", name, lambda x: x[key], [shape], lambda x: x[key], dynamic=dynamic))


_index_case("int", 1, (4, 5))
_index_case("negative_int_pair", (-1, 2), (4, 5))
_index_case("full_int", (1, 2), (4, 5))
_index_case("slices", (slice(1, 3), slice(None, None, 2)), (4, 5))
_index_case("reverse", (slice(None, None, -1), slice(1, None)), (4, 5))
_index_case("newaxis", None, (3, 4))
_index_case("ellipsis_int", (Ellipsis, 0), (2, 3, 4))
_index_case("newaxis_between", (slice(None), None, slice(1, 3)), (3, 4))
_index_case("int_array_repeated", np.array([0, 2, 2, 1]), (4, 5))
_index_case("negative_int_array", np.array([-1, 0]), (4, 5))
_index_case("list_on_axis1", (slice(None), [0, 3, 3]), (4, 5))
_index_case("2d_int_array", np.array([[0, 1], [2, 2]]), (4, 5))
_index_case("advanced_noncontiguous", ([0, 1], slice(None), [2, 0]), (3, 4, 5))
_index_case("int_and_array_noncontiguous", (1, slice(None), [0, 2]), (3, 4, 5))
_index_case("int_and_array_contiguous", (slice(None), 1, [0, 2]), (3, 4, 5))
_index_case("numpy_bool_mask", np.array([True, False, True, True]), (4, 5), dynamic=False)
_index_case("empty_slice", slice(2, 2), (4, 5))
add(Case("getitem", "index_node", lambda x, i: x[i], [(4, 5), (6,)], lambda x, i: x[i], dtypes=[F64, I64],
         gen=each(normal, ints(-4, 4))))
add(Case("getitem", "index_node_axis1", lambda x, i: x[:, i], [(4, 5), (2, 3)], lambda x, i: x[:, i],
         dtypes=[F64, I64], gen=each(normal, ints(0, 5))))


def _getitem_grad_ref(key):
    def ref(g, x):
        out = np.zeros(x.shape, g.dtype)
        np.add.at(out, key, g)
        return out

    return ref


for _name, _key, _gshape in [("slices", (slice(1, 3), slice(None, None, 2)), (2, 3)),
                             ("int_array_repeated", np.array([0, 2, 2]), (3, 5)),
                             ("int", 1, (5,))]:
    _spec, _arrays = indexing.parse_key(_key)
    add(Case("getitem_grad", _name,
             (lambda sp, ar: lambda g, x: indexing.getitem_grad(g, x, ar, sp))(_spec, _arrays),
             [_gshape, (4, 5)], _getitem_grad_ref(_key)))

for _shape, _dim, _index in [((4, 5), 0, [0, 2, 2, 3]), ((4, 5), 1, [4, 0]), ((2, 3, 4), -1, [1, 1, 0, 3, 2]),
                             ((4, 5), 0, np.array([], dtype=np.int64))]:
    add(Case("index_select", f"{_shape}-dim={_dim}-{list(_index)}",
             (lambda d, i: lambda x: gc.index_select(x, d, i))(_dim, _index), [_shape],
             (lambda d, i: lambda x: np.take(x, np.asarray(i, dtype=np.int64), axis=d))(_dim, _index)))
add(Case("index_select", "index_node", lambda x, i: gc.index_select(x, 1, i), [(3, 5), (7,)],
         lambda x, i: np.take(x, i, axis=1), dtypes=[F64, I64], gen=each(normal, ints(0, 5))))


def _index_add_ref(dim, index):
    def ref(g, x):
        out = np.zeros(x.shape, g.dtype)
        np.add.at(out, (slice(None),) * dim + (np.asarray(index),), g)
        return out

    return ref


for _gshape, _xshape, _dim, _index in [((3, 5), (4, 5), 0, [0, 2, 2]), ((4, 2), (4, 5), 1, [4, 4])]:
    add(Case("index_add", f"dim={_dim}",
             (lambda d, i: lambda g, x: indexing.index_add(g, x, np.asarray(i), d))(_dim, _index),
             [_gshape, _xshape], _index_add_ref(_dim, _index)))


def _np_gather(x, dim, index):
    """PyTorch's gather, element by element (index may be smaller than x off `dim`)."""
    dim = dim % x.ndim
    out = np.empty(index.shape, x.dtype)
    for pos in np.ndindex(*index.shape):
        src = list(pos)
        src[dim] = index[pos]
        out[pos] = x[tuple(src)]
    return out


for _xshape, _dim, _ishape in [((3, 4), 0, (2, 4)), ((3, 4), 1, (3, 6)), ((2, 3, 4), 1, (2, 2, 4)),
                               ((3, 4), -1, (2, 3))]:
    add(Case("gather", f"{_xshape}-dim={_dim}-{_ishape}", (lambda d: lambda x, i: gc.gather(x, d, i))(_dim),
             [_xshape, _ishape], (lambda d: lambda x, i: _np_gather(x, d, i))(_dim), dtypes=[F64, I64],
             gen=(lambda d: lambda rng, s: [normal(rng, s[0]), rng.integers(0, s[0][d], s[1])])(_dim)))
add(Case("gather", "constant_index", lambda x: gc.gather(x, 1, [[0, 0], [2, 1]]), [(2, 3)],
         lambda x: _np_gather(x, 1, np.array([[0, 0], [2, 1]]))))


def _scatter_add_ref(dim, index):
    def ref(g, x):
        out = np.zeros(x.shape, g.dtype)
        for pos in np.ndindex(*index.shape):
            dst = list(pos)
            dst[dim] = index[pos]
            out[tuple(dst)] += g[pos]
        return out

    return ref


_SCATTER_INDEX = np.array([[0, 2, 2, 1], [2, 2, 0, 0]])
add(Case("scatter_add", "dim=0", lambda g, x: indexing.scatter_add(g, x, _SCATTER_INDEX, 0), [(2, 4), (3, 4)],
         _scatter_add_ref(0, _SCATTER_INDEX)))
add(Case("scatter_add", "dim=1", lambda g, x: indexing.scatter_add(g, x, _SCATTER_INDEX, 1), [(2, 4), (2, 5)],
         _scatter_add_ref(1, _SCATTER_INDEX)))


# ---- neural-net ops ----------------------------------------------------------------------------
def _np_softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _np_log_softmax(x, axis=-1):
    return x - _np_logsumexp(x, axis=axis, keepdims=True)


for _shape, _axis in [((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1), ((5,), -1)]:
    add(Case("softmax", f"{_shape}-axis={_axis}", (lambda a: lambda x: gc.softmax(x, a))(_axis), [_shape],
             (lambda a: lambda x: _np_softmax(x, a))(_axis)))
    add(Case("log_softmax", f"{_shape}-axis={_axis}", (lambda a: lambda x: gc.log_softmax(x, axis=a))(_axis),
             [_shape], (lambda a: lambda x: _np_log_softmax(x, a))(_axis)))
add(Case("softmax", "default_axis", gc.softmax, [(2, 3)], _np_softmax))


def _np_cross_entropy(logits, labels):
    return -np.mean(_np_log_softmax(logits, 1)[np.arange(len(labels)), labels])


for _n, _c in [(4, 3), (1, 5), (6, 2)]:
    add(Case("cross_entropy", f"{_n}x{_c}", gc.cross_entropy, [(_n, _c), (_n,)], _np_cross_entropy,
             dtypes=[F64, I64], gen=(lambda c: each(normal, ints(0, c)))(_c)))
add(Case("one_hot_like", "labels(4,)", nn.one_hot_like, [(4,), (4, 3)],
         lambda labels, ref: np.eye(3, dtype=ref.dtype)[labels], dtypes=[I64, F64], gen=each(ints(0, 3), normal)))
add(Case("one_hot_like", "labels(2,3)", nn.one_hot_like, [(2, 3), (5,)],
         lambda labels, ref: np.eye(5, dtype=ref.dtype)[labels], dtypes=[I64, F64], gen=each(ints(0, 5), normal)))


# ---- run-time shape helpers (used by gradient rules) -------------------------------------------
def _np_sum_like(g, ref):
    lead = g.ndim - ref.ndim
    g = np.sum(g, axis=tuple(range(lead))) if lead else g
    axes = tuple(i for i, d in enumerate(ref.shape) if d == 1 and g.shape[i] != 1)
    return np.sum(g, axis=axes, keepdims=True) if axes else g


for _g, _r in [((2, 3, 4), (3, 1)), ((3, 4), (4,)), ((3, 4), (3, 4)), ((2, 3), ()), ((2, 3, 4), (1, 3, 1))]:
    add(Case("sum_like", f"{_g}->{_r}", reductions.sum_like, [_g, _r], _np_sum_like))
for _x, _r in [((3, 1), (2, 3, 4)), ((), (3,)), ((4,), (3, 4))]:
    add(Case("broadcast_like", f"{_x}->{_r}", shp.broadcast_like, [_x, _r],
             lambda x, ref: np.broadcast_to(x, ref.shape)))
for _x, _r in [((3, 4), (2, 6)), ((6,), (1, 2, 3)), ((2, 3), (6,))]:
    add(Case("reshape_like", f"{_x}->{_r}", shp.reshape_like, [_x, _r], lambda x, ref: np.reshape(x, ref.shape)))
for _axis, _index, _refs in [(0, 0, [(2, 4), (3, 4)]), (0, 1, [(2, 4), (3, 4)]), (1, 2, [(5, 1), (5, 2), (5, 1)])]:
    _gshape = list(_refs[0])
    _gshape[_axis] = sum(r[_axis] for r in _refs)

    def _concat_part_ref(g, *refs, axis=_axis, index=_index):
        return np.split(g, np.cumsum([r.shape[axis] for r in refs])[:-1], axis=axis)[index]

    add(Case("concat_part", f"axis={_axis}-index={_index}",
             (lambda a, i: lambda g, *refs: shp.concat_part(g, refs, a, i))(_axis, _index),
             [tuple(_gshape)] + _refs, _concat_part_ref))
add(Case("axis_size", "(0, 2)-float64", lambda x: reductions.axis_size(x, (0, 2), np.float64), [(2, 3, 4)],
         lambda x: np.float64(8.0)))
add(Case("axis_size", "(1,)-float32", lambda x: reductions.axis_size(x, (1,), np.float32), [(2, 3)],
         lambda x: np.float32(3.0)))
add(Case("axis_size", "scaled", lambda x: x / reductions.axis_size(x, (0,), x.dtype), [(4, 2)],
         lambda x: x / 4.0))
add(Case("zeros_like", "(3, 4)", shp.zeros_like, [(3, 4)], np.zeros_like))
add(Case("zeros_like", "int64", lambda x: shp.zeros_like(x, np.int64), [(2, 3)], lambda x: np.zeros(x.shape, np.int64)))
add(Case("zeros_like", "plus_x", lambda x: x + shp.zeros_like(x), [(5,)], lambda x: x + 0.0))


# ---- control flow (built by gc.scan / gc.while_loop / gc.cond / gc.fori_loop) --------------------
def _rnn(h0, xs, w):
    h_t, hs = gc.scan(lambda h, x: (gc.tanh(h @ w + x),) * 2, h0, xs)
    return hs + h_t


def _rnn_ref(h0, xs, w):
    h, hs = h0, []
    for x in xs:
        h = np.tanh(h @ w + x)
        hs.append(h)
    return np.stack(hs) + h


def _leaky_sum_reverse(c0, xs, scale):
    # the carry and per-step outputs of a reverse scan, a captured value, a dict carry
    final, ys = gc.scan(lambda c, x: ({"s": c["s"] * 0.5 + x * scale}, c["s"] * x), {"s": c0}, xs, reverse=True)
    return ys + final["s"]


def _leaky_sum_reverse_ref(c0, xs, scale):
    s, ys = c0, [None] * len(xs)
    for t in range(len(xs) - 1, -1, -1):
        ys[t] = s * xs[t]
        s = s * 0.5 + xs[t] * scale
    return np.stack(ys) + s


def _newton_sqrt(a):
    _, x = gc.while_loop(lambda s: s[0] < 6, lambda s: (s[0] + 1, 0.5 * (s[1] + a / s[1])), (0, a + 1.0))
    return x


def _newton_sqrt_ref(a):
    x = a + 1.0
    for _ in range(6):
        x = 0.5 * (x + a / x)
    return x


def _fori_poly(x):
    return gc.fori_loop(0, 3, lambda i, acc: acc * x + gc.astype(i, x.dtype), gc.zeros_like(x) + 1.0)


def _fori_poly_ref(x):
    acc = np.ones_like(x)
    for i in range(3):
        acc = acc * x + i
    return acc


def _branches(p, x):
    return gc.cond(p > 0, lambda v: gc.sin(v) * 2.0, lambda v: v * v, x)


add(Case("scan", "rnn", _rnn, [(2, 3), (4, 2, 3), (3, 3)], _rnn_ref,
         gen=each(normal, normal, lambda rng, s: rng.standard_normal(s) * 0.5), rtol=1e-12, atol=1e-12))
add(Case("scan", "reverse_dict_carry_captured", _leaky_sum_reverse, [(3,), (5, 3), ()], _leaky_sum_reverse_ref,
         rtol=1e-12, atol=1e-12))
add(Case("scan", "fori_loop_static_bounds", _fori_poly, [(4,)], _fori_poly_ref, rtol=1e-12, atol=1e-12))
add(Case("while", "newton_sqrt", _newton_sqrt, [(3,)], _newton_sqrt_ref, gen=each(positive),
         rtol=1e-12, atol=1e-12))
for _sign, _gen in (("true", uniform(0.5, 1.0)), ("false", uniform(-1.0, -0.5))):
    add(Case("cond", f"taken_{_sign}", _branches, [(), (3,)],
             lambda p, x: np.sin(x) * 2.0 if p > 0 else x * x, gen=each(_gen, normal), diff=(1,),
             rtol=1e-12, atol=1e-12))


# ---- graph leaves ------------------------------------------------------------------------------
_CONST = np.array([[1.5, -2.0, 0.5], [3.0, 0.25, -1.0]])
_VAR = np.array([0.5, -1.0, 2.0])
add(Case("placeholder", "identity", lambda x: x, [(3, 4)], lambda x: x))
add(Case("placeholder", "twice", lambda x, y: x * y + x, [(2, 3), (3,)], lambda x, y: x * y + x))
add(Case("constant", "array", lambda x: x * gc.constant(_CONST), [(2, 3)], lambda x: x * _CONST, graph_only=True))
add(Case("constant", "float32_constant", lambda x: x + gc.constant(_CONST, dtype="float32"), [(2, 3)],
         lambda x: x + _CONST.astype(np.float32), graph_only=True))
add(Case("variable", "array", lambda x: x * gc.Variable(_VAR) + gc.Variable(_VAR, name="bias"), [(2, 3)],
         lambda x: x * _VAR + _VAR, graph_only=True))


# ---- op families kept in their own files ----------------------------------------------------------
# tests/op_domains_<family>.py add their cases with this module's `Case` and `add` (importing it
# while it loads, so everything above is defined), before the case lists below are made.
for _path in sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "op_domains_*.py"))):
    importlib.import_module(os.path.splitext(os.path.basename(_path))[0])


ALL_CASES = [case for name in sorted(DOMAINS) for case in DOMAINS[name]]
GRAD_CASES = [c for c in ALL_CASES if c.differentiable]
SECOND_ORDER_CASES = [c for c in GRAD_CASES if c.second_order]
NONDIFF_CASES = [c for c in ALL_CASES if c.nondiff and any(d.kind == "f" for d in c.dtypes)]


def case_ids(cases):
    return [c.id for c in cases]


# ---- special values ----------------------------------------------------------------------------
def special_values(dtype):
    """nan, +-inf, +-0.0, huge and subnormal values (both signs), the largest finite ones, the
    edges where exp over- and underflows, and a few ordinary numbers, in `dtype`."""
    dtype = np.dtype(dtype)
    info = np.finfo(dtype)
    huge, subnormal, exp_edges = ((1e300, 1e-310, [710.0, -745.0, -700.0]) if dtype == F64
                                  else (3e38, 1e-40, [89.0, -104.0, -88.0]))
    values = [np.nan, np.inf, -np.inf, 0.0, -0.0, huge, -huge, float(info.max), -float(info.max),
              subnormal, -subnormal, float(info.smallest_subnormal), -float(info.smallest_subnormal),
              *exp_edges, 40.0, -40.0, 0.5, -2.0, 1.0, -1.0]
    return np.array(values, dtype)


def assert_same_special(got, want, maxulp=0):
    """Same dtype, nan places, infinities and signs of zero as NumPy; finite values equal, or
    within `maxulp` units in the last place (for vecmath's transcendental functions)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want)
        return
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    np.testing.assert_array_equal(got[ok & np.isinf(want)], want[ok & np.isinf(want)])
    zero = ok & (want == 0)
    np.testing.assert_array_equal(got[zero], want[zero])
    np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(want[zero]))
    finite = ok & np.isfinite(want)
    if maxulp:
        np.testing.assert_array_max_ulp(got[finite], want[finite], maxulp=maxulp)
    else:
        np.testing.assert_array_equal(got[finite], want[finite])


# ---- running graphs ----------------------------------------------------------------------------
def run(inputs, outputs, feeds, backend="numpy", optimize=True):
    """Compile `inputs -> outputs` on `backend` and call it once with `feeds` (a list)."""
    f = gc.compile(inputs, outputs, backend=backend, optimize=optimize)
    with np.errstate(all="ignore"):
        return f(*feeds)


def ops_in(nodes):
    """Names of every op in the graph of `nodes`."""
    from graphc.ir.graph import toposort

    roots = [nodes] if isinstance(nodes, gc.Node) else list(nodes)
    return {n.op.name for n in toposort(roots)}
