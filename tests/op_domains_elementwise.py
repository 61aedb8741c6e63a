"""Test domains of the elementwise ops for models: erf, gelu, silu, leaky_relu, the rounding ops,
floor_divide and remainder, the isnan/isinf/isfinite predicates and the logical ops (loaded by
op_domains.py). Gradient cases keep their values away from kinks and jumps; integer and bool
cases check NumPy's type rules."""
import math

import numpy as np

import graphc as gc
from op_domains import BOOL, I64, Case, add, away_from_zero, each, ints, normal, uniform

_math_erf = np.frompyfunc(math.erf, 1, 1)


def erf_ref(x):
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    return np.asarray(_math_erf(x.astype(np.float64)), np.float64).astype(dtype)


def gelu_ref(x):
    wide = np.asarray(x, np.float64)
    return (wide * 0.5 * (1.0 + erf_ref(wide / math.sqrt(2.0)))).astype(np.asarray(x).dtype)


def gelu_tanh_ref(x):
    wide = np.asarray(x, np.float64)
    inner = math.sqrt(2.0 / math.pi) * (wide + 0.044715 * wide ** 3)
    return (0.5 * wide * (1.0 + np.tanh(inner))).astype(np.asarray(x).dtype)


def silu_ref(x):
    return x / (1 + np.exp(-x))


def leaky_relu_ref(slope):
    return lambda x: np.where(x > 0, x, x * x.dtype.type(slope))


def off_integers(low=-3, high=3):
    """k + f with f in [0.1, 0.4] or [0.6, 0.9]: away from the jumps of floor/ceil/trunc/round."""
    def gen(rng, shape):
        f = rng.uniform(0.1, 0.4, shape) + rng.choice([0.0, 0.5], shape)
        return rng.integers(low, high, shape) + f
    return gen


def off_multiples(rng, shapes):
    """(x, y) with x / y = k + f, f in [0.2, 0.8]: away from remainder's jumps at multiples of y."""
    y = away_from_zero(0.5, 2.0)(rng, shapes[1])
    q = rng.integers(-3, 3, shapes[0]) + rng.uniform(0.2, 0.8, shapes[0])
    return [q * y, y]


def with_specials(rng, shape):
    """Ordinary values with nan and +-inf among them."""
    v = rng.standard_normal(shape)
    pick = rng.integers(0, 4, shape)
    return np.choose(pick, [v, np.full(shape, np.nan), np.full(shape, np.inf), np.full(shape, -np.inf)])


def with_infinities(rng, shape):
    v = rng.standard_normal(shape)
    return np.where(rng.integers(0, 3, shape) == 0, np.inf * np.sign(v), v)


def truthy(rng, shape):
    """Floats that are 0.0, -0.0 or not, as logical operands."""
    return rng.choice([0.0, -0.0, 1.5, -2.0, np.nan], shape)


# ---- erf, gelu, silu, leaky_relu ------------------------------------------------------------------
add(Case("erf", "(3, 4)", gc.erf, [(3, 4)], erf_ref))
add(Case("erf", "wide", gc.erf, [(12,)], erf_ref, gen=each(uniform(-6, 6))))
add(Case("erf", "int_input", gc.erf, [(5,)], erf_ref, dtypes=[I64], gen=each(ints(-3, 4))))
add(Case("gelu", "(3, 4)", gc.gelu, [(3, 4)], gelu_ref))
add(Case("gelu", "broadcast_wide", lambda x, y: gc.gelu(x * y), [(4, 1), (3,)],
         lambda x, y: gelu_ref(x * y), gen=each(uniform(-3, 3), uniform(-2, 2))))
add(Case("gelu_tanh", "(3, 4)", lambda x: gc.gelu(x, approximate="tanh"), [(3, 4)], gelu_tanh_ref))
add(Case("gelu_tanh", "wide", lambda x: gc.gelu(x, "tanh"), [(10,)], gelu_tanh_ref, gen=each(uniform(-6, 6))))
add(Case("silu", "(3, 4)", gc.silu, [(3, 4)], silu_ref))
add(Case("silu", "wide", gc.silu, [(10,)], silu_ref, gen=each(uniform(-30, 30))))
add(Case("leaky_relu", "default_slope", gc.leaky_relu, [(3, 4)], leaky_relu_ref(0.01),
         gen=each(away_from_zero())))
add(Case("leaky_relu", "slope_0.2", lambda x: gc.leaky_relu(x, negative_slope=0.2), [(5,)],
         leaky_relu_ref(0.2), gen=each(away_from_zero())))

# ---- rounding: zero gradients away from the jumps; integers are returned as they are -------------
for _name, _fn, _ref in (("floor", gc.floor, np.floor), ("ceil", gc.ceil, np.ceil),
                         ("trunc", gc.trunc, np.trunc), ("round", gc.round, np.round)):
    add(Case(_name, "(3, 4)", _fn, [(3, 4)], _ref, gen=each(off_integers())))
    add(Case(_name, "int64", _fn, [(6,)], _ref, dtypes=[I64], gen=each(ints(-5, 6))))
# ties go to the even neighbour (values only: the function jumps there)
add(Case("round", "half_to_even", gc.round, [(8,)], np.round, diff=(),
         gen=lambda rng, s: [np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 1e15 + 0.5])]))

# ---- floor_divide and remainder --------------------------------------------------------------------
add(Case("floor_divide", "float", gc.floor_divide, [(3, 4), (4,)], np.floor_divide,
         gen=each(normal, away_from_zero(0.5))))
add(Case("floor_divide", "int_with_zero_divisors", gc.floor_divide, [(4, 5), (5,)], np.floor_divide,
         dtypes=[I64, I64], gen=each(ints(-9, 10), ints(-3, 4))))
add(Case("floor_divide", "operator_bool", lambda x, y: x // y, [(6,), (6,)], np.floor_divide,
         dtypes=[BOOL, BOOL]))
add(Case("remainder", "float", gc.remainder, [(3, 4), (4,)], np.remainder, gen=off_multiples))
add(Case("remainder", "int_with_zero_divisors", gc.remainder, [(4, 5), (5,)], np.remainder,
         dtypes=[I64, I64], gen=each(ints(-9, 10), ints(-3, 4))))
add(Case("remainder", "operator", lambda x, y: x % y, [(2, 3), (3,)], np.remainder, gen=off_multiples))
add(Case("remainder", "reflected_scalar", lambda y: 5.0 % y, [(6,)], lambda y: 5.0 % y,
         gen=each(uniform(0.73, 0.82))))

# ---- predicates -------------------------------------------------------------------------------------
for _name, _fn, _ref in (("isnan", gc.isnan, np.isnan), ("isinf", gc.isinf, np.isinf),
                         ("isfinite", gc.isfinite, np.isfinite)):
    add(Case(_name, "infinities", _fn, [(3, 4)], _ref, gen=each(with_infinities)))
    add(Case(_name, "nan_and_inf", _fn, [(10,)], _ref, gen=each(with_specials)))
    add(Case(_name, "int64", _fn, [(5,)], _ref, dtypes=[I64]))

# ---- logical ops ------------------------------------------------------------------------------------
add(Case("logical_and", "bool", gc.logical_and, [(3, 4), (4,)], np.logical_and, dtypes=[BOOL, BOOL]))
add(Case("logical_and", "floats_by_truth", gc.logical_and, [(6,), (6,)], np.logical_and,
         gen=each(truthy, truthy)))
add(Case("logical_and", "operator", lambda x, y: x & y, [(2, 3), (3,)], np.logical_and, dtypes=[BOOL, BOOL]))
add(Case("logical_or", "bool", gc.logical_or, [(3, 4), (4,)], np.logical_or, dtypes=[BOOL, BOOL]))
add(Case("logical_or", "floats_by_truth", gc.logical_or, [(6,), (6,)], np.logical_or,
         gen=each(truthy, truthy)))
add(Case("logical_or", "operator_reflected", lambda x: True | x, [(5,)], lambda x: np.logical_or(True, x),
         dtypes=[BOOL]))
add(Case("logical_not", "bool", gc.logical_not, [(3, 4)], np.logical_not, dtypes=[BOOL]))
add(Case("logical_not", "floats_by_truth", gc.logical_not, [(6,)], np.logical_not, gen=each(truthy)))
add(Case("logical_not", "operator", lambda x: ~x, [(4,)], np.logical_not, dtypes=[BOOL]))

# ---- == and != on values ----------------------------------------------------------------------------
_ties = each(lambda rng, s: rng.integers(-2, 3, s).astype(np.float64),
             lambda rng, s: rng.integers(-2, 3, s).astype(np.float64))
add(Case("equal", "operator", lambda x, y: x == y, [(2, 3), (3,)], np.equal, gen=_ties))
add(Case("equal", "reflected_array", lambda x: np.array([0.0, 1.0, -1.0]) == x, [(2, 3)],
         lambda x: np.array([0.0, 1.0, -1.0]) == x, gen=_ties))
add(Case("not_equal", "operator", lambda x, y: x != y, [(2, 3), (3,)], np.not_equal, gen=_ties))
add(Case("not_equal", "python_scalar", lambda x: x != 1.0, [(4,)], lambda x: x != 1.0, gen=_ties))
