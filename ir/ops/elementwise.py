"""Broadcasting elementwise ops.

Each op (subclasses of Elementwise) declares its partial derivatives once (`partials`), which give
both its VJP and its JVP; a unary op may declare just `deriv` (multiplied in) or `divisor`
(divided by). `scalar` is the expression the fusion pass inlines into a loop body; the functions
it calls (exp, maximum, ...) are named neutrally, and each backend maps those names to its own
implementations (numba: backends/numba_backend/kernel_functions.py).
"""
import math
import numbers
from functools import partial

import numpy as np

from ..dispatch import apply
from ..registry import Op, register
from ..source import user_site
from ..types import broadcast_shapes, ufunc_result_dtype
from . import shape as shp
from .sources import CONSTANT


def broadcast_links(shapes, rank):
    """dim_links of NumPy broadcasting of `shapes` to `rank` dims: the dims that are not 1 at one
    position must all be equal (graphc never broadcasts a None dimension)."""
    output, equal = [], []
    for d in range(rank):
        sources = [
            (k, len(shape) - rank + d) for k, shape in enumerate(shapes)
            if len(shape) - rank + d >= 0 and shape[len(shape) - rank + d] != 1
        ]
        output.append(sources[0] if sources else None)
        equal += [(sources[0], other) for other in sources[1:]]
    return output, equal


class Elementwise(Op):
    elementwise = True
    broadcasts = True
    ufunc = None  # the NumPy ufunc whose type rules (and usually implementation) this op follows

    def batches_along_new_axis(self, node, positions):
        # a new leading axis lines up under NumPy's right-aligned broadcasting only on inputs
        # that have the result's full rank
        return all(node.inputs[i].ndim == node.ndim for i in positions)

    def infer(self, inputs, attrs):
        shape = broadcast_shapes(*(x.shape for x in inputs), op=self.name)
        return shape, ufunc_result_dtype(self.ufunc, tuple(x.dtype for x in inputs))

    def impl(self, *args):
        return self.ufunc(*args)

    def partials(self, out, *inputs):
        """Per input, its partial derivative as a map t -> t * d out / d input (None where the input
        passes no derivative). An elementwise op's Jacobian is diagonal, so the same map takes a
        cotangent back (VJP) and a tangent forward (JVP): one declaration gives both, as JAX's
        defjvp2 does."""
        raise NotImplementedError(f"op {self.name} declares no partial derivatives")

    def vjp(self, g, out, *inputs):
        # Thunks: the central caller evaluates only the gradients that are needed, so eager
        # backward does not compute, say, log(x) for a constant exponent. The identity costs
        # nothing to apply, and eager backward calls this once per op: it gets no thunk.
        partials = self.partials(out, *inputs)
        return tuple([g if p is _same else None if p is None else partial(p, g) for p in partials])

    def jvp(self, tangents, out, *inputs):
        total = None
        for t, p in zip(tangents, self.partials(out, *inputs)):
            if t is not None and p is not None:
                total = _plus(total, p(t))
        return total

    def dim_links(self, node):
        return broadcast_links([x.shape for x in node.inputs], node.ndim)

    def unbroadcast_needed(self, index, inputs):
        # Only a size-1 (or missing) dimension broadcasts. A None dimension is taken to equal the
        # sizes it meets, as PyTensor does; backends check that at run time (check_runtime_shapes).
        x = inputs[index]
        rank = max(len(v.shape) for v in inputs)
        if len(x.shape) < rank:
            return True
        for axis, d in enumerate(x.shape):
            if d == 1 and any(v.shape[axis - rank] != 1 for v in inputs if len(v.shape) >= rank - axis):
                return True
        return False


class Unary(Elementwise):
    """f(x) with f' given either as `deriv(x, out)` (multiplied in) or as `divisor(x, out)`
    (divided by: g / x is exact where g * (1 / x) rounds twice)."""

    def deriv(self, x, out):
        raise NotImplementedError

    divisor = None

    def partials(self, out, x):
        if self.divisor is not None:
            return (lambda t: div(t, self.divisor(x, out)),)
        return (lambda t: mul(t, self.deriv(x, out)),)


@register
class NEG(Unary):
    name, ufunc, scalar, linear = "neg", np.negative, "(-{0})", True
    integer_overflow_wraps = True

    def partials(self, out, x):
        return (neg,)


@register
class EXP(Unary):
    name, ufunc, scalar = "exp", np.exp, "exp({0})"

    def deriv(self, x, out):
        return out


@register
class LOG(Unary):
    name, ufunc, scalar = "log", np.log, "log({0})"

    def divisor(self, x, out):
        return x


@register
class LOG1P(Unary):
    name, ufunc, scalar = "log1p", np.log1p, "log1p({0})"

    def divisor(self, x, out):
        return add(x, 1)


@register
class EXPM1(Unary):
    name, ufunc, scalar = "expm1", np.expm1, "expm1({0})"

    def deriv(self, x, out):
        return add(out, 1)


@register
class SQRT(Unary):
    name, ufunc, scalar = "sqrt", np.sqrt, "sqrt({0})"

    def divisor(self, x, out):
        return mul(out, 2)


@register
class SQUARE(Unary):
    name, ufunc, scalar = "square", np.square, "({0} * {0})"
    integer_overflow_wraps = True

    def deriv(self, x, out):
        return mul(x, 2)


@register
class ABS(Unary):
    name, ufunc, scalar = "abs", np.abs, "abs({0})"

    def deriv(self, x, out):
        return sign(x)


@register
class SIGN(Unary):
    name, ufunc, scalar = "sign", np.sign, "sign({0})"

    # sign is flat wherever it is differentiable: a zero gradient, as in PyTorch.
    def partials(self, out, x):
        return (shp.zeros_like,)


@register
class SIN(Unary):
    name, ufunc, scalar = "sin", np.sin, "sin({0})"

    def deriv(self, x, out):
        return cos(x)


@register
class COS(Unary):
    name, ufunc, scalar = "cos", np.cos, "cos({0})"

    def deriv(self, x, out):
        return neg(sin(x))


@register
class TANH(Unary):
    name, ufunc, scalar = "tanh", np.tanh, "tanh({0})"

    def deriv(self, x, out):
        return sub(1, square(out))


@register
class SIGMOID(Unary):
    name, ufunc, scalar = "sigmoid", np.exp, "sigmoid({0})"

    def impl(self, x):
        # exp(-|x|) never overflows; the two branches give full relative accuracy on each side.
        with np.errstate(over="ignore"):
            e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(e.dtype, copy=False)

    def deriv(self, x, out):
        return mul(out, sub(1, out))


@register
class RELU(Unary):
    name, scalar = "relu", "relu({0}, {zero})"

    def infer(self, inputs, attrs):
        (x,) = inputs
        return x.shape, x.dtype

    def impl(self, x):
        return np.maximum(x, x.dtype.type(0))

    def partials(self, out, x):
        return (lambda t: where(greater(out, 0), t, 0),)


neg = lambda x: apply(NEG, x)  # noqa: E731 (one line per op reads as a table)
exp = lambda x: apply(EXP, x)  # noqa: E731
log = lambda x: apply(LOG, x)  # noqa: E731
log1p = lambda x: apply(LOG1P, x)  # noqa: E731
expm1 = lambda x: apply(EXPM1, x)  # noqa: E731
sqrt = lambda x: apply(SQRT, x)  # noqa: E731
square = lambda x: apply(SQUARE, x)  # noqa: E731
abs = lambda x: apply(ABS, x)  # noqa: E731
sign = lambda x: apply(SIGN, x)  # noqa: E731
sin = lambda x: apply(SIN, x)  # noqa: E731
cos = lambda x: apply(COS, x)  # noqa: E731
tanh = lambda x: apply(TANH, x)  # noqa: E731
sigmoid = lambda x: apply(SIGMOID, x)  # noqa: E731
relu = lambda x: apply(RELU, x)  # noqa: E731


# ---- binary ------------------------------------------------------------------------------------
def _known_value(v):
    """The value of a constant (a graph constant, or an eager rule's plain array), else None."""
    if isinstance(v, (np.ndarray, np.generic, int, float)):
        return np.asarray(v)
    if getattr(v, "op", None) is CONSTANT:
        return v.attrs["value"]
    return None


def _same(t):
    """The partial derivative 1: the tangent passes unchanged."""
    return t


def _plus(a, b):
    """Sum of two tangents where None means zero."""
    if a is None:
        return b
    if b is None:
        return a
    return add(a, b)


@register
class ADD(Elementwise):
    name, ufunc, scalar, linear = "add", np.add, "({0} + {1})", True
    integer_overflow_wraps = True

    def partials(self, out, x, y):
        return (_same, _same)


@register
class SUB(Elementwise):
    name, ufunc, scalar, linear = "sub", np.subtract, "({0} - {1})", True
    integer_overflow_wraps = True

    def partials(self, out, x, y):
        return (_same, neg)


@register
class MUL(Elementwise):
    name, ufunc, scalar = "mul", np.multiply, "({0} * {1})"
    integer_overflow_wraps = True

    def partials(self, out, x, y):
        return (lambda t: mul(t, y), lambda t: mul(t, x))


@register
class DIV(Elementwise):
    name, ufunc, scalar, backward_name = "div", np.true_divide, "({0} / {1})", "Div"

    def partials(self, out, x, y):
        return (lambda t: div(t, y), lambda t: neg(div(mul(t, out), y)))


NEGATIVE_INT_POWER = "Integers to negative integer powers are not allowed."  # NumPy's words


@register
class POW(Elementwise):
    name, ufunc, scalar = "pow", np.power, "pow({0}, {1})"
    integer_overflow_wraps = True

    def infer(self, inputs, attrs):
        shape, dtype = super().infer(inputs, attrs)
        exponent = _known_value(inputs[1])
        if dtype.kind in "iu" and exponent is not None and exponent.dtype.kind == "i" and np.any(exponent < 0):
            # NumPy raises when it runs; a constant exponent fails the build already
            raise ValueError(f"pow: {NEGATIVE_INT_POWER} (the exponent is the constant {exponent.min()}) "
                             f"[built at {user_site()}]")
        return shape, dtype

    def _dx(self, x, y):
        exponent = sub(y, 1)
        known = _known_value(y)
        if known is None or not np.all(known != 0):
            # y * x**(y - 1) is 0 * inf at x == 0, y == 0, where x**0 is constant: its derivative
            # is 0 (PyTorch's value). The power's exponent is moved off -1 at that point only, so
            # elsewhere this expression and its own derivatives stay exact.
            exponent = sub(where(mul(equal(x, 0), equal(y, 0)), 1, y), 1)
        return mul(y, pow(x, exponent))

    def _dy(self, x, y, out):
        # d/dy x**y = x**y log x. Where x == 0 and y >= 0 PyTorch takes the limit 0 (for y < 0 the
        # value is -inf, as out * log(0)); log's argument is moved to 1 there, so that this
        # expression's own derivatives are 0 too, not 0 * log(0) = nan.
        zero_base = mul(equal(x, 0), greater_equal(y, 0))  # both: logical and
        return mul(out, log(where(zero_base, 1, x)))

    def partials(self, out, x, y):
        return (lambda t: mul(t, self._dx(x, y)), lambda t: mul(t, self._dy(x, y, out)))


class _Extremum(Elementwise):
    """maximum/minimum: ties split the gradient evenly between both sides (as JAX does)."""

    wins = None  # the comparison under which x is the chosen side

    def _share(self, g, x, y):
        return where(self.wins(x, y), g, where(equal(x, y), mul(g, 0.5), 0))

    def partials(self, out, x, y):
        return (lambda t: self._share(t, x, y), lambda t: self._share(t, y, x))


@register
class MAXIMUM(_Extremum):
    name, ufunc, scalar = "maximum", np.maximum, "maximum({0}, {1})"
    wins = staticmethod(lambda x, y: greater(x, y))


@register
class MINIMUM(_Extremum):
    name, ufunc, scalar = "minimum", np.minimum, "minimum({0}, {1})"
    wins = staticmethod(lambda x, y: less(x, y))


add = lambda x, y: apply(ADD, x, y)  # noqa: E731
sub = lambda x, y: apply(SUB, x, y)  # noqa: E731
mul = lambda x, y: apply(MUL, x, y)  # noqa: E731
div = lambda x, y: apply(DIV, x, y)  # noqa: E731
pow = lambda x, y: apply(POW, x, y)  # noqa: E731
maximum = lambda x, y: apply(MAXIMUM, x, y)  # noqa: E731
minimum = lambda x, y: apply(MINIMUM, x, y)  # noqa: E731


# ---- comparisons: boolean results, no gradient path -------------------------------------------
class Comparison(Elementwise):
    differentiable = False

    def partials(self, out, x, y):
        return (None, None)


@register
class LESS(Comparison):
    name, ufunc, scalar = "less", np.less, "({0} < {1})"


@register
class LESS_EQUAL(Comparison):
    name, ufunc, scalar = "less_equal", np.less_equal, "({0} <= {1})"


@register
class GREATER(Comparison):
    name, ufunc, scalar = "greater", np.greater, "({0} > {1})"


@register
class GREATER_EQUAL(Comparison):
    name, ufunc, scalar = "greater_equal", np.greater_equal, "({0} >= {1})"


@register
class EQUAL(Comparison):
    name, ufunc, scalar = "equal", np.equal, "({0} == {1})"


@register
class NOT_EQUAL(Comparison):
    name, ufunc, scalar = "not_equal", np.not_equal, "({0} != {1})"


less = lambda x, y: apply(LESS, x, y)  # noqa: E731
less_equal = lambda x, y: apply(LESS_EQUAL, x, y)  # noqa: E731
greater = lambda x, y: apply(GREATER, x, y)  # noqa: E731
greater_equal = lambda x, y: apply(GREATER_EQUAL, x, y)  # noqa: E731
equal = lambda x, y: apply(EQUAL, x, y)  # noqa: E731
not_equal = lambda x, y: apply(NOT_EQUAL, x, y)  # noqa: E731


# ---- ops for models: erf, gelu, silu, leaky_relu, rounding, integer division, predicates, logic --
_SQRT1_2 = 0.7071067811865476  # 1/sqrt(2)
_TWO_OVER_SQRT_PI = 1.1283791670955126  # erf'(0)
_INV_SQRT_2PI = 0.3989422804014327  # the standard normal density at 0
_GELU_BETA = 0.7978845608028654  # sqrt(2/pi), PyTorch's kBeta of the tanh approximation
_GELU_KAPPA = 0.044715
_math_erf = np.frompyfunc(math.erf, 1, 1)


def _erf_values(x, dtype):
    """math.erf (glibc's, within 1 ulp) on every element, in float64, then rounded once to dtype."""
    return np.asarray(_math_erf(np.asarray(x, np.float64)), np.float64).astype(dtype)


def _floating(op, x):
    """Infer helper: ops that PyTorch defines for floating inputs only."""
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got {x.dtype} (cast it first)")
    return x.shape, x.dtype


@register
class ERF(Unary):
    # NumPy has no erf ufunc; np.exp's type rules are those of any float-valued unary function
    # (integers give float64), as scipy.special.erf's are.
    name, ufunc, scalar = "erf", np.exp, "erf({0})"

    def impl(self, x):
        return _erf_values(x, ufunc_result_dtype(np.exp, (x.dtype,)))

    def deriv(self, x, out):
        return mul(exp(neg(square(x))), _TWO_OVER_SQRT_PI)


def _normal_cdf(x):
    return mul(add(erf(mul(x, _SQRT1_2)), 1), 0.5)


@register
class GELU(Unary):
    """x * Phi(x) = x * 0.5 * (1 + erf(x / sqrt 2)), PyTorch's approximate="none"."""

    name, scalar, backward_name = "gelu", "gelu({0})", "Gelu"

    def infer(self, inputs, attrs):
        return _floating(self.name, inputs[0])

    def impl(self, x):
        wide = np.asarray(x, np.float64)
        return (wide * 0.5 * (1.0 + _erf_values(wide * _SQRT1_2, np.float64))).astype(x.dtype)

    def deriv(self, x, out):
        density = mul(exp(mul(square(x), -0.5)), _INV_SQRT_2PI)
        return add(_normal_cdf(x), mul(x, density))


@register
class GELU_TANH(Unary):
    """PyTorch's approximate="tanh": 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x**3)))."""

    name, scalar, backward_name = "gelu_tanh", "gelu_tanh({0})", "Gelu"

    def infer(self, inputs, attrs):
        return _floating(self.name, inputs[0])

    def impl(self, x):
        wide = np.asarray(x, np.float64)
        inner = _GELU_BETA * (wide + _GELU_KAPPA * wide * wide * wide)
        return (0.5 * wide * (1.0 + np.tanh(inner))).astype(x.dtype)

    def deriv(self, x, out):
        # PyTorch's GeluBackward for tanh: 0.5 (1 + t) + 0.5 x (1 - t**2) beta (1 + 3 kappa x**2)
        x_sq = square(x)
        t = tanh(mul(add(x, mul(mul(x_sq, x), _GELU_KAPPA)), _GELU_BETA))
        slope = mul(add(mul(x_sq, 3 * _GELU_KAPPA), 1), _GELU_BETA)
        return add(mul(add(t, 1), 0.5), mul(mul(mul(x, 0.5), sub(1, square(t))), slope))


@register
class SILU(Unary):
    """x * sigmoid(x) (PyTorch's SiLU, also called swish)."""

    name, scalar = "silu", "({0} * sigmoid({0}))"

    def infer(self, inputs, attrs):
        return _floating(self.name, inputs[0])

    def impl(self, x):
        return x * SIGMOID.impl(x)

    def deriv(self, x, out):
        s = sigmoid(x)
        return mul(s, add(1, mul(x, sub(1, s))))


@register
class LEAKY_RELU(Elementwise):
    """x where x > 0, else negative_slope * x. The slope is input 1 (a 0-d value of x's dtype), so
    the scalar template reads it like any operand; it carries no gradient, as in PyTorch."""

    name, scalar, backward_name = "leaky_relu", "({0} if {0} > 0 else {0} * {1})", "LeakyRelu"
    nondiff_inputs = (1,)

    def infer(self, inputs, attrs):
        x, slope = inputs
        if slope.shape != ():
            raise TypeError(f"leaky_relu: negative_slope must be a number, got shape {slope.shape}")
        return _floating(self.name, x)

    def impl(self, x, slope):
        return np.where(x > 0, x, x * slope).astype(x.dtype, copy=False)

    def partials(self, out, x, slope):
        return (lambda t: where(greater(x, 0), t, mul(t, slope)), None)


class _Flat(Unary):
    """Piecewise constant: a zero gradient wherever it is differentiable, as in PyTorch."""

    def partials(self, out, x):
        return (shp.zeros_like,)


@register
class FLOOR(_Flat):
    name, ufunc, scalar = "floor", np.floor, "floor({0})"


@register
class CEIL(_Flat):
    name, ufunc, scalar = "ceil", np.ceil, "ceil({0})"


@register
class TRUNC(_Flat):
    name, ufunc, scalar = "trunc", np.trunc, "trunc({0})"


@register
class ROUND(_Flat):
    """Half to even (np.round = torch.round); integers are returned as they are, as np.round does."""

    name, scalar = "round", "round_half_even({0})"

    def infer(self, inputs, attrs):
        (x,) = inputs
        if x.dtype.kind not in "iuf":
            raise TypeError(f"round: expected a numeric input, got {x.dtype}")
        return x.shape, x.dtype

    def impl(self, x):
        return np.round(x)


@register
class FLOOR_DIVIDE(Elementwise):
    """Python's floor division (np.floor_divide): integer division by 0 gives 0 and INT_MIN // -1
    wraps to INT_MIN, as in NumPy. Not differentiable (PyTorch has no derivative for it)."""

    name, ufunc, differentiable = "floor_divide", np.floor_divide, False
    # both operands in the loop's dtype (bool // bool runs in int8), as NumPy's loop takes them
    scalar = "floor_divide({cast}({0}), {cast}({1}))"

    def partials(self, out, x, y):
        return (None, None)


@register
class REMAINDER(Elementwise):
    """Python's modulo (np.remainder): the result has the divisor's sign; x % 0 is 0 for integers
    and nan for floats. d/dx = 1, d/dy = -floor_divide(x, y), as in PyTorch."""

    name, ufunc = "remainder", np.remainder
    scalar = "remainder({cast}({0}), {cast}({1}))"

    def partials(self, out, x, y):
        # the quotient is piecewise constant: no gradient of its own (PyTorch's div(rounding_mode=
        # "floor") in this rule has none), so second derivatives are 0, not an error
        return (_same, lambda t: neg(mul(t, stop_gradient(floor_divide(x, y)))))


class _Predicate(Unary):
    differentiable = False

    def partials(self, out, x):
        return (None,)


@register
class ISNAN(_Predicate):
    name, ufunc, scalar = "isnan", np.isnan, "isnan({0})"


@register
class ISINF(_Predicate):
    name, ufunc, scalar = "isinf", np.isinf, "isinf({0})"


@register
class ISFINITE(_Predicate):
    name, ufunc, scalar = "isfinite", np.isfinite, "isfinite({0})"


@register
class LOGICAL_NOT(_Predicate):
    name, ufunc, scalar = "logical_not", np.logical_not, "({0} == 0)"


@register
class LOGICAL_AND(Comparison):
    name, ufunc, scalar = "logical_and", np.logical_and, "(({0} != 0) & ({1} != 0))"


@register
class LOGICAL_OR(Comparison):
    name, ufunc, scalar = "logical_or", np.logical_or, "(({0} != 0) | ({1} != 0))"


erf = lambda x: apply(ERF, x)  # noqa: E731
silu = lambda x: apply(SILU, x)  # noqa: E731
floor = lambda x: apply(FLOOR, x)  # noqa: E731
ceil = lambda x: apply(CEIL, x)  # noqa: E731
trunc = lambda x: apply(TRUNC, x)  # noqa: E731
round = lambda x: apply(ROUND, x)  # noqa: E731
floor_divide = lambda x, y: apply(FLOOR_DIVIDE, x, y)  # noqa: E731
remainder = lambda x, y: apply(REMAINDER, x, y)  # noqa: E731
isnan = lambda x: apply(ISNAN, x)  # noqa: E731
isinf = lambda x: apply(ISINF, x)  # noqa: E731
isfinite = lambda x: apply(ISFINITE, x)  # noqa: E731
logical_not = lambda x: apply(LOGICAL_NOT, x)  # noqa: E731
logical_and = lambda x, y: apply(LOGICAL_AND, x, y)  # noqa: E731
logical_or = lambda x, y: apply(LOGICAL_OR, x, y)  # noqa: E731


def gelu(x, approximate="none"):
    """PyTorch's GELU: x * Phi(x) exactly, or its tanh approximation (approximate="tanh")."""
    ops = {"none": GELU, "tanh": GELU_TANH}
    if approximate not in ops:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return apply(ops[approximate], x)


def leaky_relu(x, negative_slope=0.01):
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, numbers.Real):
        raise TypeError(f"leaky_relu: negative_slope must be a real number, got {negative_slope!r}")
    return apply(LEAKY_RELU, x, float(negative_slope))


# ---- selection -------------------------------------------------------------------------------
@register
class WHERE(Elementwise):
    name, scalar = "where", "({1} if {0} else {2})"
    nondiff_inputs = (0,)

    def infer(self, inputs, attrs):
        cond, x, y = inputs
        shape = broadcast_shapes(cond.shape, x.shape, y.shape, op=self.name)
        return shape, np.result_type(x.dtype, y.dtype)

    def impl(self, cond, x, y):
        return np.where(cond, x, y)

    def partials(self, out, cond, x, y):
        return (None, lambda t: where(cond, t, 0), lambda t: where(cond, 0, t))

    def jvp(self, tangents, out, cond, x, y):
        # One select of both tangents, not the sum of the two partials' selects: a -0.0 tangent
        # stays -0.0 (-0.0 + 0 is +0.0), and the forward graph has two ops fewer.
        _, tx, ty = tangents
        return where(cond, 0 if tx is None else tx, 0 if ty is None else ty)


def where(cond, x, y):
    return apply(WHERE, cond, x, y)


@register
class CLIP(Elementwise):
    """clip(x, lo, hi) = min(max(x, lo), hi). The gradient passes where lo <= x <= hi."""

    name, scalar, backward_name = "clip", "clip({0}, {1}, {2})", "Clamp"

    def infer(self, inputs, attrs):
        shape = broadcast_shapes(*(x.shape for x in inputs), op=self.name)
        return shape, np.result_type(*(x.dtype for x in inputs))

    def impl(self, x, lo, hi):
        return np.minimum(np.maximum(x, lo), hi)

    def partials(self, out, x, lo, hi):
        return (
            lambda t: where(less(x, lo), 0, where(greater(x, hi), 0, t)),
            lambda t: where(less(x, lo), t, 0),
            lambda t: where(greater(x, hi), t, 0),
        )


def clip(x, lo=None, hi=None):
    """Limit x to [lo, hi]; a missing bound is no bound."""
    if lo is None and hi is None:
        raise ValueError("clip: give at least one of lo and hi")
    dtype = np.dtype(getattr(x, "dtype", None) or np.asarray(x).dtype)
    if dtype.kind in "fc":
        lowest, highest = -np.inf, np.inf
    elif dtype.kind in "iu":
        lowest, highest = np.iinfo(dtype).min, np.iinfo(dtype).max
    else:
        raise TypeError(f"clip: expected a numeric array, got dtype {dtype}")
    return apply(
        CLIP,
        x,
        np.asarray(lowest, dtype) if lo is None else lo,
        np.asarray(highest, dtype) if hi is None else hi,
    )


# ---- casts and gradient barriers -------------------------------------------------------------
@register
class CAST(Op):
    name, elementwise, backward_name = "cast", True, "ToCopy"
    scalar = "{cast}({0})"
    linear = True  # its JVP casts the tangent (a cast that blocks gradients is never asked)

    def normalize(self, inputs, attrs):
        return {"dtype": np.dtype(attrs["dtype"])}

    def blocks_gradient(self, attrs):
        # Casting to an integer or bool type cuts the derivative: an error if it is the only path.
        return attrs["dtype"].kind not in "fc"

    def infer(self, inputs, attrs):
        return inputs[0].shape, attrs["dtype"]

    def impl(self, x, *, dtype):
        return np.asarray(x).astype(dtype)

    def vjp(self, g, out, x, *, dtype):
        return (astype(g, x.dtype),)


def astype(x, dtype):
    return apply(CAST, x, dtype=dtype)


@register
class STOP_GRADIENT(Op):
    """Identity whose gradient is zero (graph-mode `detach`)."""

    name, elementwise, scalar = "stop_gradient", True, "{0}"
    nondiff_inputs = (0,)

    def infer(self, inputs, attrs):
        return inputs[0].shape, inputs[0].dtype

    def impl(self, x):
        return x


def stop_gradient(x):
    return apply(STOP_GRADIENT, x)
