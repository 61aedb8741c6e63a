"""Vectorizable transcendental functions for numba loop kernels.

numba lowers ``math.exp``/``np.tanh``/... to scalar libm calls, which stop LLVM's
loop vectorizer; a fused numba loop then runs several times slower than NumPy's
SIMD ufuncs.  The functions here are branch-free range reduction + polynomial
(+ exponent reconstruction through integer bit casts), so a loop such as::

    for i in range(n):
        out[i] = vm_exp(x[i])

compiles to AVX2/AVX-512 code.  Special inputs (nan, +-inf, +-0, overflow,
underflow, subnormals) are patched in with selects (``a if c else b`` on values
that are already computed), never with branches, so they do not block
vectorization either.

Public API: njit dispatchers, callable from njit code (and from Python)::

    vm_exp(x)   vm_expm1(x)   vm_log(x)   vm_log1p(x)   vm_sqrt(x)
    vm_tanh(x)  vm_sigmoid(x) vm_sin(x)   vm_cos(x)     vm_pow(x, y)
    vm_erf(x)   vm_gelu(x)    vm_gelu_tanh(x)

A float32 argument gives a float32 result (vm_pow: when both are float32);
any other real argument is converted to float64 and gives float64, as NumPy's
ufuncs do.  ``FUNCTIONS`` maps names to them.  Results follow NumPy, special
values included; accuracy is within 1-3 ulp of NumPy (tests/test_vecmath.py).

Design notes:

* Inlining: the functions are compiled with ``forceinline=True`` (LLVM
  ``alwaysinline``), not numba's ``inline='always'``.  numba's IR-level
  inlining would compile the body with the *caller's* flags: in a kernel with
  the default ``error_model='python'`` every division gains a
  ZeroDivisionError branch (no vectorization), and a caller with
  ``fastmath=True`` would delete the NaN/inf selects.  LLVM-level inlining
  keeps each instruction's own flags, so kernels vectorize and stay correct
  whatever flags they are compiled with.
* Flags: ``error_model='numpy'`` (no division checks) and fastmath limited to
  contract/nsz/arcp.  nnan/ninf would delete the special-value selects;
  reassoc would let LLVM "simplify" the error-free transformations
  ((a + b) - a ...) and the round-to-integer shift trick.  nsz never matters
  for these functions' results because every -0.0 case is restored explicitly
  (tests/test_vecmath.py checks the sign of every zero result), and
  arcp only changes the rounding of an approximation; without the two, float32
  tanh and exp ran ~20% slower (bench/bench_vecmath.py).  They are wrong in a
  caller, though: the generated kernels are compiled without fastmath, where
  nsz turned -(p - q) into q - p and arcp float32 1/sqrt(x) into an rsqrt
  estimate (nan at 0); scalar_ops, whose selects define NumPy's -0.0 and nan
  behaviour, has no fastmath either.
* Fused multiply-add: the double-double steps (pow, sin/cos reduction) use an
  explicit ``llvm.fma`` so they are exact regardless of contraction.  On a CPU
  without FMA that becomes a (correct but slow, scalar) libm call.
* float32: exp/expm1/log/log1p/tanh/sigmoid have native float32 code paths
  (16 lanes per zmm register, float32 minimax polynomials).  sin/cos/pow/erf/gelu in
  float32 compute in float64 and round once, which is more accurate than
  needed and still vectorizes (at float64 width, so slower than NumPy's
  float32 SIMD sin/cos).
* sin/cos are correct for every finite x: Cody-Waite reduction for
  |x| < 2**45 and a table-driven (Payne-Hanek) reduction beyond.  Both run in
  every lane, because a branch to libm for the rare huge arguments made LLVM
  call libm for *every* element.

Polynomial coefficient origin is given next to each set.  The minimax fits
were produced with a Remez exchange in 60-digit mpmath arithmetic on the
stated interval and then rounded to the working precision; fdlibm constants
are the published Sun fdlibm ones (also used by musl, FreeBSD, Go, ...).
"""
import math
import struct

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

__all__ = [
    "vm_exp", "vm_expm1", "vm_log", "vm_log1p", "vm_tanh", "vm_sigmoid",
    "vm_sin", "vm_cos", "vm_pow", "vm_sqrt", "vm_erf", "vm_gelu", "vm_gelu_tanh", "FUNCTIONS",
    "JIT_OPTIONS",
]

#: Options every function here is compiled with.  forceinline (LLVM alwaysinline)
#: is what dissolves them into the caller's loop; the callers' own flags do not
#: matter (see the module docstring).
JIT_OPTIONS = dict(error_model="numpy", fastmath={"contract", "nsz", "arcp"}, forceinline=True)

# cache=True: compiled once per machine, not in every process (a cold start pays seconds).
_vjit = numba.njit(cache=True, **JIT_OPTIONS)

_INF = math.inf
_NAN = math.nan
_F32 = np.float32


# --------------------------------------------------------------------------
# Bit-level helpers.  These are LLVM bitcasts / intrinsics, i.e. single
# vectorizable instructions (no memory round trip, no libm call).
# --------------------------------------------------------------------------

@intrinsic
def _as_int(typingctx, x):
    """Reinterpret float64 -> int64, float32 -> int32."""
    if x == types.float64:
        ity = types.int64
    elif x == types.float32:
        ity = types.int32
    else:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(ity.bitwidth))
    return ity(x), codegen


def _int_as_float(fty, width):
    @intrinsic
    def cast(typingctx, i):
        if not isinstance(i, types.Integer):
            return None

        def codegen(context, builder, sig, args):
            v = args[0]
            # numba widens integer arithmetic to int64; narrowing to the float's
            # width here is free after LLVM's instcombine.
            if i.bitwidth > width:
                v = builder.trunc(v, ir.IntType(width))
            elif i.bitwidth < width:
                v = builder.sext(v, ir.IntType(width))
            return builder.bitcast(v, context.get_value_type(fty))
        return fty(i), codegen
    return cast


_as_float64 = _int_as_float(types.float64, 64)   # reinterpret low 64 bits as float64
_as_float32 = _int_as_float(types.float32, 32)   # reinterpret low 32 bits as float32


def _llvm_float_call(name, fty, builder, context, llargs):
    lty = context.get_value_type(fty)
    fnty = ir.FunctionType(lty, [lty] * len(llargs))
    suffix = "f64" if fty == types.float64 else "f32"
    fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.{name}.{suffix}")
    return builder.call(fn, llargs)


def _same_float(*tys):
    return tys[0] in (types.float32, types.float64) and all(t == tys[0] for t in tys)


@intrinsic
def _fma(typingctx, a, b, c):
    """a*b + c with a single rounding (vfmadd)."""
    if _same_float(a, b, c):
        return a(a, b, c), lambda ctx, bld, sig, args: _llvm_float_call("fma", a, bld, ctx, args)


@intrinsic
def _trunc(typingctx, a):
    """Round toward zero, staying a float (vrndscale / vroundpd)."""
    if _same_float(a):
        return a(a), lambda ctx, bld, sig, args: _llvm_float_call("trunc", a, bld, ctx, args)


@intrinsic
def _copysign(typingctx, a, b):
    """|a| with the sign bit of b (a bit operation: keeps -0.0 and nan signs)."""
    if _same_float(a, b):
        return a(a, b), lambda ctx, bld, sig, args: _llvm_float_call("copysign", a, bld, ctx, args)


# --------------------------------------------------------------------------
# Shared constants
# --------------------------------------------------------------------------

# Adding 1.5*2**52 rounds a |v| < 2**51 to an integer (ties to even) and leaves
# that integer in the low mantissa bits, so one add gives both round(v) as a
# float (after subtracting the shift again) and as an int (bits - shift bits).
# Cheaper than rint + float->int conversion, and needs no AVX-512DQ.
_SHIFT = 6755399441055744.0
_SHIFT_BITS = 0x4338000000000000
_SHIFT_F = _F32(12582912.0)            # 1.5*2**23, float32 analogue
_SHIFT_F_BITS = 0x4B400000
_SHIFT_256 = 1.5 * 2.0 ** 60           # same trick: rounds |v| < 2**59 to a multiple of 256

# Below these |x|, f(x) rounds to x for expm1/log1p (float64, float32).
_ROUNDS_TO_X = 2.0 ** -54
_ROUNDS_TO_X_F = _F32(2.0 ** -25)

_INV_LN2 = 1.4426950408889634
# fdlibm's split of ln2: _LN2_HI has 32 significant bits, so k*_LN2_HI is
# exact for |k| < 2**21 and x - k*_LN2_HI has no rounding error.
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10

# m = x / 2**k is reduced into [sqrt(2)/2, sqrt(2)) by subtracting these bits
# (of sqrt(2)/2) before extracting the exponent, keeping |log(m)| <= ln2/2.
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD
_SQRT_HALF_BITS_F = 0x3F3504F3
_TWO54 = 18014398509481984.0           # scales float64 subnormals into the normal range
_TWO25_F = _F32(33554432.0)            # same for float32
_TINY = 2.2250738585072014e-308        # smallest normal float64
_TINY_F = _F32(1.17549435e-38)         # smallest normal float32


# --------------------------------------------------------------------------
# exp / expm1 (float64)
# --------------------------------------------------------------------------

# expm1(r) ~= r + r**2 * (1/2 + r*P(r)) for |r| <= 0.3467 (covers ln2/2 plus
# reduction slack).  P: degree-9 minimax for (expm1(r) - r - r**2/2)/r**3,
# relative error 2**-54.2 (Remez/mpmath); in expm1 that is < 2**-59.
_E0 = 0.16666666666666669
_E1 = 0.04166666666666666
_E2 = 0.008333333333330063
_E3 = 0.0013888888888900588
_E4 = 0.00019841269863056157
_E5 = 2.480158727509453e-05
_E6 = 2.7557268448925852e-06
_E7 = 2.7557329620098283e-07
_E8 = 2.5100393302249062e-08
_E9 = 2.0893986754801968e-09


@_vjit
def _expm1_p(r):
    p = _E9
    p = p * r + _E8
    p = p * r + _E7
    p = p * r + _E6
    p = p * r + _E5
    p = p * r + _E4
    p = p * r + _E3
    p = p * r + _E2
    p = p * r + _E1
    return p * r + _E0


@_vjit
def _expm1_corr(r):
    # expm1(r) = r + this correction; keeping the two apart puts the rounding
    # error into the final add only.
    return (r * r) * (0.5 + r * _expm1_p(r))


@_vjit
def _reduce_ln2(x):
    """x = k*ln2 + rh + rl with integer k, |rh + rl| <= ~ln2/2, rh exact and
    rl tiny (-k*ln2_lo).  Needs |x| < 2**20 * ln2."""
    kd = x * _INV_LN2 + _SHIFT
    k = _as_int(kd) - _SHIFT_BITS
    kd = kd - _SHIFT
    return k, x - kd * _LN2_HI, -kd * _LN2_LO


@_vjit
def _exp_reduced(rh, rl):
    """e**(rh + rl) for |rh + rl| <= 0.3467, |rl| << |rh|."""
    c = _expm1_corr(rh + rl)
    # 1 + rh is split exactly into hi + lo (Fast2Sum: |rh| < 1), so the only
    # significant rounding is the last add: ~0.5 ulp instead of ~0.8.
    hi = 1.0 + rh
    lo = (1.0 - hi) + rh
    return hi + (lo + (rl + c))


@_vjit
def _scale2(p, k):
    """p * 2**k for |k| <= 2044.  Two factors so that neither 2**(k/2) over/underflows;
    the last multiply does the only rounding, so subnormal results are rounded once."""
    k1 = k >> 1
    s1 = _as_float64((k1 + 1023) << 52)
    s2 = _as_float64((k - k1 + 1023) << 52)
    return (p * s1) * s2


@_vjit
def _exp_f64(x):
    # Clamp so the exponent arithmetic stays in range; +-1400 still over/underflows
    # to inf/0.  Written with '>'/'<' so NaN passes through unchanged (and then
    # propagates through the polynomial).
    xc = 1400.0 if x > 1400.0 else x
    xc = -1400.0 if xc < -1400.0 else xc
    k, rh, rl = _reduce_ln2(xc)
    return _scale2(_exp_reduced(rh, rl), k)


@_vjit
def _expm1_scale(k, q):
    """2**k * (1 + q) - 1 for q = expm1(r)."""
    # Evaluated as 2*((t - 1/2) + t*q) with t = 2**(k-1): t - 1/2 is exact for
    # |k| <= 53 (no cancellation error) and t stays finite at k = 1024.
    t = _as_float64((k + 1022) << 52)
    y = 2.0 * ((t - 0.5) + t * q)
    # k == 0: x itself is the reduced argument; using q avoids the 0.5*q
    # scaling, which would lose the last bit of subnormal x.
    return q if k == 0 else y


@_vjit
def _expm1_core(x):
    """expm1 except that -0.0 comes back as +0.0 (callers fix the sign)."""
    # Outside [-40, 710] the result is -1 (to double precision) or inf.
    xc = 710.0 if x > 710.0 else x
    xc = -40.0 if xc < -40.0 else xc
    k, rh, rl = _reduce_ln2(xc)
    r = rh + rl
    return _expm1_scale(k, r + _expm1_corr(r))


@_vjit
def _expm1_f64(x):
    y = _expm1_core(x)
    # expm1(x) rounds to x there; this also keeps -0.0.
    return x if abs(x) < _ROUNDS_TO_X else y


# --------------------------------------------------------------------------
# log / log1p (float64): fdlibm e_log.c / s_log1p.c (musl formulation)
# --------------------------------------------------------------------------

# log(1+f) = f - f*f/2 + s*(f*f/2 + R(s*s)), s = f/(2+f).  R: fdlibm's Remez
# approximation (|error| < 2**-58.45), constants Lg1..Lg7 from fdlibm.
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01


@_vjit
def _log_kernel(f):
    """(s*(hfsq + R), hfsq) with log(1+f) = f - hfsq + s*(hfsq + R), for f in
    [sqrt(2)/2 - 1, sqrt(2) - 1]; callers add the big terms last."""
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    return s * (hfsq + (t1 + t2)), hfsq


@_vjit
def _split_exponent(ix):
    """bits of positive normal x -> (k, m) with x = 2**k * m, m in [sqrt(2)/2, sqrt(2))."""
    k = (ix - _SQRT_HALF_BITS) >> 52
    m = _as_float64(ix - (k << 52))
    return k, m


@_vjit
def _log_f64(x):
    sub = x < _TINY
    k, m = _split_exponent(_as_int(x * _TWO54 if sub else x))
    dk = np.float64(k) - (54.0 if sub else 0.0)
    f = m - 1.0                       # exact: m is within a factor 2 of 1
    c, hfsq = _log_kernel(f)
    r = c + dk * _LN2_LO - hfsq + f + dk * _LN2_HI
    # Specials; the core above produced garbage for them, but no traps.
    r = x if not x < _INF else r      # +inf -> inf, nan -> nan
    r = -_INF if x == 0.0 else r
    return _NAN if x < 0.0 else r


@_vjit
def _log1p_f64(x):
    u = 1.0 + x
    k, m = _split_exponent(_as_int(u))
    # u = 1+x was rounded; c is that rounding error (exact, in one of two forms
    # depending on the magnitude of u), fed back as the first-order term c/u.
    # For k >= 54 it is below half an ulp of the result and must be dropped
    # (its computation there is no longer exact).
    c = (1.0 - (u - x)) if k >= 2 else (x - (u - 1.0))
    c = c / u if k < 54 else 0.0
    f = m - 1.0
    s, hfsq = _log_kernel(f)
    dk = np.float64(k)
    r = s + (dk * _LN2_LO + c) - hfsq + f + dk * _LN2_HI
    r = x if abs(x) < _ROUNDS_TO_X else r    # log1p(x) rounds to x; keeps -0.0
    r = x if not x < _INF else r                     # +inf, nan
    r = -_INF if x == -1.0 else r
    return _NAN if x < -1.0 else r


# --------------------------------------------------------------------------
# tanh / sigmoid (float64)
# --------------------------------------------------------------------------

@_vjit
def _tanh_f64(x):
    # tanh|x| = t/(t+2), t = expm1(2|x|): no cancellation, ~2 ulp.  tanh rounds
    # to 1 for |x| > 19.1; clamping at 20 keeps t finite (inf/inf would be nan).
    ax = abs(x)
    ax = 20.0 if ax > 20.0 else ax          # NaN passes through
    k, rh, rl = _reduce_ln2(2.0 * ax)
    r = rh + rl
    c = _expm1_corr(r)
    t = _expm1_scale(k, r + c)
    y = t / (t + 2.0)
    # Small |x| (k == 0, so r = 2|x| exactly and t = r + c): rewrite as
    # tanh|x| = t/2 - (t/2)*y = |x| + (c/2 - (t/2)*y), which moves every
    # rounding error into the small correction: correctly rounded for tiny x.
    y = ax + _fma(-0.5 * t, y, 0.5 * c) if k == 0 else y
    return _copysign(y, x)                  # keeps -0.0 and the odd symmetry


@_vjit
def _sigmoid_f64(x):
    # e = exp(-|x|) <= 1 never overflows; sigmoid(x) = 1/(1+e) for x >= 0 and
    # e/(1+e) for x < 0, so large negative x gives a (subnormal) e**x instead of
    # 1/(1+inf) = 0.  One division for both sides.
    e = _exp_f64(-abs(x))
    num = 1.0 if x >= 0.0 else e
    return num / (1.0 + e)


# --------------------------------------------------------------------------
# sin / cos (float64)
# --------------------------------------------------------------------------

_TWO_OVER_PI = 0.6366197723675814
# pi/2 = _PIO2_1 + _PIO2_2 + _PIO2_3 (each the nearest double to the remainder,
# ~160 bits together).  x - k*_PIO2_1 done as one fma is exact (|result| < 1 and
# all its bits lie above 2**-53), the next two fmas round only once each, and
# 160 bits leave enough margin for the worst-case cancellation (x close to a
# multiple of pi/2) for |k| up to ~2**46.
_PIO2_1 = 1.5707963267948966
_PIO2_2 = 6.123233995736766e-17
_PIO2_3 = -1.4973849048591698e-33
_HUGE_ARG = 35184372088832.0            # 2**45: from here on, the table reduction


def _two_over_pi_mod4(exponents, nbits=1400):
    """Row i: (2**e * 2/pi) mod 4 for e = exponents[i], as three doubles (~160 bits).

    2/pi comes from Machin's formula pi = 16 atan(1/5) - 4 atan(1/239) in exact
    integer arithmetic (64 guard bits); nbits covers max(e) + 2 + 160 bits."""
    from fractions import Fraction
    g = nbits + 64
    one = 1 << g

    def atan_inv(n):                      # atan(1/n) * 2**g
        total, power, k = 0, one // n, 0
        while power:
            term = power // (2 * k + 1)
            total += -term if k & 1 else term
            power //= n * n
            k += 1
        return total

    two_over_pi = (2 << (g + nbits)) // (16 * atan_inv(5) - 4 * atan_inv(239))
    rows = []
    for e in exponents:
        # 2/pi * 2**e = two_over_pi * 2**(e - nbits); mod 4 keeps nbits - e + 2 bits
        rest = Fraction(two_over_pi & ((1 << (nbits - e + 2)) - 1), 1 << (nbits - e))
        row = []
        for _ in range(3):
            row.append(float(rest))       # correctly rounded
            rest -= Fraction(row[-1])
        rows.append(row)
    return np.array(rows)


# float64: x = M * 2**e with an integer M < 2**53; e >= -7 once |x| >= 2**45 and
# e <= 971.  One row per e, fetched with a gather.
_HUGE_E_MIN = -8
_TWO_OVER_PI_MOD4 = _two_over_pi_mod4(range(_HUGE_E_MIN, 972))
_HUGE_BE_MIN = 1075 + _HUGE_E_MIN                       # as biased exponents
_HUGE_BE_MAX = _HUGE_BE_MIN + _TWO_OVER_PI_MOD4.shape[0] - 1

# float32: x = M * 2**e with M < 2**24 and 22 <= e <= 104 for |x| >= 2**45.
# K = x * 2**-E is still an integer (< 2**56) for E = 22, 54, 86 when x >= 2**(E+23),
# and K*C_E carries enough bits for float32, so three rows picked with selects
# replace the gathers.
_F32_ROWS = _two_over_pi_mod4([22, 54, 86])
_F32_R0, _F32_R1, _F32_R2 = (tuple(float(v) for v in row) for row in _F32_ROWS)
_F32_S0, _F32_S1, _F32_S2 = 2.0 ** -22, 2.0 ** -54, 2.0 ** -86
_F32_B1, _F32_B2 = 2.0 ** 78, 2.0 ** 110      # x >= 2**(E+23): use row E


@_vjit
def _two_sum(a, b):
    """a + b = s + err exactly (Knuth's TwoSum, no magnitude precondition)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@_vjit
def _reduce_pio2(x):
    """x = n*pi/2 + r, |r| <= ~pi/4, for |x| < _HUGE_ARG (Cody-Waite, fma)."""
    kd = x * _TWO_OVER_PI + _SHIFT
    n = _as_int(kd)                        # low bits: n mod 4 is all we need
    kd = kd - _SHIFT
    r = _fma(-kd, _PIO2_1, x)
    r = _fma(-kd, _PIO2_2, r)
    return n, _fma(-kd, _PIO2_3, r)


@_vjit
def _reduce_pio2_table(k, c0, c1, c2):
    """k*C = n + f (mod 4), |f| <= 1/2, for an integer-valued k and a table row
    C = c0+c1+c2 = (2**e * 2/pi) mod 4; returns (n, f*pi/2).

    This is Payne-Hanek reduction: x*2/pi mod 4 only needs the bits of 2/pi
    near x's exponent.  The 53 x 160 bit product is formed exactly enough with
    fma partial products and TwoSums."""
    p0 = k * c0
    e0 = _fma(k, c0, -p0)
    p1 = k * c1
    e1 = _fma(k, c1, -p1)
    p0 = p0 - ((p0 + _SHIFT_256) - _SHIFT_256)    # drop a multiple of 256 (so of 4): exact
    s, t = _two_sum(p0, e0)
    s, t2 = _two_sum(s, p1)
    lo = (t + t2) + (e1 + k * c2)
    kd = s + _SHIFT                        # s = n + h, |h| <= 1/2
    n = _as_int(kd)
    h = s - (kd - _SHIFT)
    f = h + lo
    f_lo = lo - (f - h)
    r = f * _PIO2_1                        # (f + f_lo) * pi/2
    return n, r + (_fma(f, _PIO2_1, -r) + (f * _PIO2_2 + f_lo * _PIO2_1))


@_vjit
def _reduce_pio2_huge(x):
    """_reduce_pio2 for finite float64 |x| >= _HUGE_ARG (garbage but harmless otherwise)."""
    ix = _as_int(x)
    m = _copysign(_as_float64((ix & 0x000FFFFFFFFFFFFF) | 0x4330000000000000), x)  # +-M
    # Row of e = biased exponent - 1075.  Clamped first, subtracted after: the
    # other order becomes usub.with.overflow, which LLVM cannot vectorize.
    be = (ix >> 52) & 0x7FF
    be = _HUGE_BE_MIN if be < _HUGE_BE_MIN else be        # normal-path lanes: row 0
    be = _HUGE_BE_MAX if be > _HUGE_BE_MAX else be        # inf/nan lanes
    i = be - _HUGE_BE_MIN
    return _reduce_pio2_table(m, _TWO_OVER_PI_MOD4[i, 0], _TWO_OVER_PI_MOD4[i, 1],
                              _TWO_OVER_PI_MOD4[i, 2])


@_vjit
def _reduce_pio2_huge_f32(x):
    """Same for float64 x holding a float32 value (selects instead of a gather)."""
    ax = abs(x)
    b1 = ax >= _F32_B1
    b2 = ax >= _F32_B2
    c0 = _F32_R2[0] if b2 else (_F32_R1[0] if b1 else _F32_R0[0])
    c1 = _F32_R2[1] if b2 else (_F32_R1[1] if b1 else _F32_R0[1])
    c2 = _F32_R2[2] if b2 else (_F32_R1[2] if b1 else _F32_R0[2])
    scale = _F32_S2 if b2 else (_F32_S1 if b1 else _F32_S0)
    return _reduce_pio2_table(x * scale, c0, c1, c2)


# fdlibm k_sin.c / k_cos.c (Remez on [-pi/4, pi/4], |error| < 2**-58).
_S1 = -1.66666666666666324348e-01
_S2 = 8.33333333332248946124e-03
_S3 = -1.98412698298579493134e-04
_S4 = 2.75573137070700676789e-06
_S5 = -2.50507602534068634195e-08
_S6 = 1.58969099521155010221e-10
_C1 = 4.16666666666666019037e-02
_C2 = -1.38888888888741095749e-03
_C3 = 2.48015872894767294178e-05
_C4 = -2.75573143513906633035e-07
_C5 = 2.08757232129817482790e-09
_C6 = -1.13596475577881948265e-11


@_vjit
def _sin_quadrant(n, r):
    """sin(n*pi/2 + r) for |r| <= ~pi/4."""
    z = r * r
    # fdlibm __kernel_sin(r, 0, 0)
    s = r + (z * r) * (_S1 + z * (_S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))))
    # fdlibm __kernel_cos(r, 0): 1 - z/2 with the rounding error of (1 - z/2)
    # added back, so the result is good to < 1 ulp even near |r| = pi/4.
    cr = z * z * (_C1 + z * (_C2 + z * (_C3 + z * (_C4 + z * (_C5 + z * _C6)))))
    hz = 0.5 * z
    w = 1.0 - hz
    c = w + (((1.0 - w) - hz) + cr)
    # Quadrant n: sin, cos, -sin, -cos.  Selects, not branches.
    v = c if (n & 1) != 0 else s
    return -v if (n & 2) != 0 else v


@_vjit
def _sincos_f64(x, quadrant_offset):
    """sin(x + quadrant_offset*pi/2); the -0.0 case is left to the caller."""
    n, r = _reduce_pio2(x)
    # Both reductions run in every lane (selects, no branch).  The huge one is
    # ~2/3 of the cost (3 gathers + double-double work) for the sake of
    # |x| >= 2**45 only, but a branch around it would not survive vectorization
    # (LLVM would execute it, or a libm call, for every lane anyway).
    nh, rh = _reduce_pio2_huge(x)
    huge = abs(x) >= _HUGE_ARG
    v = _sin_quadrant((nh if huge else n) + quadrant_offset, rh if huge else r)
    return v if abs(x) < _INF else x - x   # +-inf -> nan (the reductions give garbage)


@_vjit
def _sin_f64(x):
    y = _sincos_f64(x, 0)
    return x if x == 0.0 else y            # sin(-0.0) = -0.0


@_vjit
def _cos_f64(x):
    return _sincos_f64(x, 1)


# --------------------------------------------------------------------------
# pow (float64)
# --------------------------------------------------------------------------

# pow needs log|x| to ~2**-66 relative (an absolute error d in y*log|x| is a
# relative error d in the result, and y*log|x| reaches ~745), so log is carried
# as a double-double:  log(m) = 2s*(1 + s**2/3 + s**4*H(s**2)), s = (m-1)/(m+1),
# with everything up to the s**2/3 term in double-double.
# H: degree-7 minimax for (atanh(s)/s - 1 - s**2/3)/s**4 on s**2 in [0, 0.02944]
# (|s| <= (sqrt2-1)/(sqrt2+1)), absolute error 2**-59.9 (Remez/mpmath).
_H0 = 0.2
_H1 = 0.14285714285714687
_H2 = 0.11111111110825661
_H3 = 0.0909090916816182
_H4 = 0.07692297436071448
_H5 = 0.06667404598899175
_H6 = 0.05853062522060215
_H7 = 0.05862129500983294
_THIRD = 0.3333333333333333
_THIRD_LO = 1.850371707708594e-17      # 1/3 - _THIRD


@_vjit
def _log_dd(ax):
    """log(ax) = hi + lo for finite ax > 0 (garbage, but no traps, otherwise)."""
    sub = ax < _TINY
    e, m = _split_exponent(_as_int(ax * _TWO54 if sub else ax))
    ed = np.float64(e) - (54.0 if sub else 0.0)
    f = m - 1.0
    # s = f/(2+f) as s + s_lo: 2+f rounds, its error d_lo is exact (Fast2Sum), and
    # the division residual f - s*d is exact with an fma.
    d = 2.0 + f
    d_lo = f - (d - 2.0)
    s = f / d
    s_lo = (_fma(-s, d, f) - s * d_lo) / d
    # s**2/3 as q + q_lo
    z = s * s
    z_lo = _fma(s, s, -z) + 2.0 * s * s_lo
    q = z * _THIRD
    q_lo = _fma(z, _THIRD, -q) + (z * _THIRD_LO + z_lo * _THIRD)
    h = _H7
    h = h * z + _H6
    h = h * z + _H5
    h = h * z + _H4
    h = h * z + _H3
    h = h * z + _H2
    h = h * z + _H1
    h = h * z + _H0
    # F = 1 + s**2/3 + s**4*H as F + F_lo (Fast2Sum: 1 > q)
    F = 1.0 + q
    F_lo = ((1.0 - F) + q) + (q_lo + (z * z) * h)
    # log(m)/2 = s*F as p + p_lo
    p = s * F
    p_lo = _fma(s, F, -p) + (s * F_lo + s_lo * F)
    # log(ax) = e*ln2 + 2p: e*_LN2_HI is exact; TwoSum for the big addition.
    a = ed * _LN2_HI
    b = 2.0 * p
    hi, err = _two_sum(a, b)
    lo = err + (2.0 * p_lo + ed * _LN2_LO)
    res = hi + lo
    return res, lo - (res - hi)


@_vjit
def _exp_reduced_acc(rh, rl):
    """_exp_reduced with 1 + rh + rh**2/2 summed exactly (Fast2Sum twice, fma for
    rh**2): everything but the final rounding is below 2**-60, so pow results
    are correctly rounded except very close to a rounding boundary."""
    r = rh + rl
    hi = 1.0 + rh
    lo = (1.0 - hi) + rh
    h2 = 0.5 * (rh * rh)
    h2_lo = 0.5 * _fma(rh, rh, -(rh * rh))
    u = hi + h2
    e = h2 - (u - hi)
    # remaining terms of 1 + r + r**2/2 + r**3*P(r), with r = rh + rl
    tail = (lo + e) + (rl + (h2_lo + rl * (rh + 0.5 * rl))) + (r * r) * (r * _expm1_p(r))
    return u + tail


@_vjit
def _exp_dd(zh, zl):
    """exp(zh + zl), |zl| <~ ulp(zh)."""
    zl = zl if abs(zh) < 1400.0 else 0.0    # zl is garbage when zh is huge/inf
    zc = 1400.0 if zh > 1400.0 else zh       # see _exp_f64
    zc = -1400.0 if zc < -1400.0 else zc
    k, rh, rl = _reduce_ln2(zc)
    return _scale2(_exp_reduced_acc(rh, rl + zl), k)


@_vjit
def _pow_specials(x, y, r):
    """Patch the core result r = |x|**y (finite, nonzero x and y) with C99
    Annex F / NumPy special cases, in increasing priority."""
    ax = abs(x)
    yint = _trunc(y) == y                          # +-inf counts as an even integer
    yodd = yint and _trunc(0.5 * y) != 0.5 * y     # |y| >= 2**53 is even
    r = (_INF if y < 0.0 else 0.0) if ax == 0.0 else r
    r = (0.0 if y < 0.0 else _INF) if ax == _INF else r
    r = (_INF if (ax > 1.0) == (y > 0.0) else 0.0) if abs(y) == _INF else r
    r = 1.0 if (ax == 1.0 and abs(y) == _INF) else r     # (-1)**+-inf = 1
    r = -r if (yodd and _as_int(x) < 0) else r          # sign bit: also -0.0, -inf
    r = _NAN if (x < 0.0 and ax < _INF and not yint) else r
    r = x + y if (x != x or y != y) else r
    return 1.0 if (y == 0.0 or x == 1.0) else r         # even pow(nan, 0), pow(1, nan)


@_vjit
def _pow_f64(x, y):
    lh, ll = _log_dd(abs(x))
    zh = y * lh
    zl = _fma(y, lh, -zh) + y * ll
    return _pow_specials(x, y, _exp_dd(zh, zl))


# --------------------------------------------------------------------------
# float32 versions
# --------------------------------------------------------------------------

# float32 split of ln2 (Cephes expf): 9 significant bits, so k*_LN2_HI_F is
# exact for the |k| <= 151 that float32 exp and log need.
_INV_LN2_F = _F32(1.44269504)
_LN2_HI_F = _F32(0.693359375)
_LN2_LO_F = _F32(-2.12194440e-4)
# expm1(r) ~= r + r**2*(1/2 + r*P(r)), |r| <= 0.3467; P: degree-4 minimax,
# relative error 2**-24.4 (Remez/mpmath, rounded to float32).
_EF0 = _F32(0.1666666716337204)
_EF1 = _F32(0.041666556149721146)
_EF2 = _F32(0.008333345875144005)
_EF3 = _F32(0.0013926181709393859)
_EF4 = _F32(0.00019861964392475784)
_HALF_F = _F32(0.5)
_ONE_F = _F32(1.0)
_TWO_F = _F32(2.0)


@_vjit
def _expm1_corr_f32(r):
    p = _EF4
    p = p * r + _EF3
    p = p * r + _EF2
    p = p * r + _EF1
    p = p * r + _EF0
    return (r * r) * (_HALF_F + r * p)


@_vjit
def _reduce_ln2_f32(x):
    kd = x * _INV_LN2_F + _SHIFT_F
    k = _as_int(kd) - _SHIFT_F_BITS
    kd = kd - _SHIFT_F
    r = (x - kd * _LN2_HI_F) - kd * _LN2_LO_F
    return k, r


@_vjit
def _exp_f32(x):
    # float32 exp overflows above 88.72 and is 0 below -103.97; clamping to
    # [-104, 89] keeps |k| <= 150 and still gives inf/0.  NaN passes through.
    xc = _F32(89.0) if x > _F32(89.0) else x
    xc = _F32(-104.0) if xc < _F32(-104.0) else xc
    k, r = _reduce_ln2_f32(xc)
    p = _ONE_F + (r + _expm1_corr_f32(r))
    k1 = k >> 1                                  # two factors: see _scale2
    s1 = _as_float32((k1 + 127) << 23)
    s2 = _as_float32((k - k1 + 127) << 23)
    return (p * s1) * s2


@_vjit
def _expm1_scale_f32(k, q):
    t = _as_float32((k + 126) << 23)             # 2**(k-1), see _expm1_scale
    y = _TWO_F * ((t - _HALF_F) + t * q)
    return q if k == 0 else y


@_vjit
def _expm1_core_f32(x):
    # Below -17.4 expm1 rounds to -1 in float32; above 88.72 it overflows.
    xc = _F32(89.0) if x > _F32(89.0) else x
    xc = _F32(-20.0) if xc < _F32(-20.0) else xc
    k, r = _reduce_ln2_f32(xc)
    return _expm1_scale_f32(k, r + _expm1_corr_f32(r))


@_vjit
def _expm1_f32(x):
    y = _expm1_core_f32(x)
    return x if abs(x) < _ROUNDS_TO_X_F else y


# log: log(1+f) = f - f*f/2 + s*(f*f/2 + R(s*s)) as in fdlibm; R(z) = z*Q(z),
# Q: degree-2 minimax for (2*atanh(s)/s - 2)/s**2 on s**2 in [0, 0.02944],
# relative error 2**-21.8 (Remez/mpmath), i.e. < 2**-28 in log.
_LGF1 = _F32(0.6666668653488159)
_LGF2 = _F32(0.3998876214027405)
_LGF3 = _F32(0.2958061397075653)


@_vjit
def _log_kernel_f32(f):
    hfsq = _HALF_F * f * f
    s = f / (_TWO_F + f)
    z = s * s
    R = z * (_LGF1 + z * (_LGF2 + z * _LGF3))
    return s * (hfsq + R), hfsq


@intrinsic
def _split_exponent_f32(typingctx, x):
    """Positive normal float32 x -> (k, m) as float32s, x = 2**k * m, m in
    [sqrt(2)/2, sqrt(2)).  Written in LLVM IR because numba widens int32
    arithmetic to int64, which would double the integer work per vector."""
    if x != types.float32:
        return None

    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        ix = builder.bitcast(args[0], i32)
        k = builder.ashr(builder.sub(ix, i32(_SQRT_HALF_BITS_F)), i32(23))
        m = builder.bitcast(builder.sub(ix, builder.shl(k, i32(23))), ir.FloatType())
        kf = builder.sitofp(k, ir.FloatType())
        return context.make_tuple(builder, sig.return_type, [kf, m])
    return types.UniTuple(types.float32, 2)(x), codegen


@_vjit
def _log_f32(x):
    sub = x < _TINY_F
    k, m = _split_exponent_f32(x * _TWO25_F if sub else x)
    dk = k - (_F32(25.0) if sub else _F32(0.0))
    f = m - _ONE_F
    c, hfsq = _log_kernel_f32(f)
    r = c + dk * _LN2_LO_F - hfsq + f + dk * _LN2_HI_F
    r = x if not x < _F32(_INF) else r
    r = _F32(-_INF) if x == _F32(0.0) else r
    return _F32(_NAN) if x < _F32(0.0) else r


@_vjit
def _log1p_f32(x):
    u = _ONE_F + x
    k, m = _split_exponent_f32(u)
    c = (_ONE_F - (u - x)) if k >= _TWO_F else (x - (u - _ONE_F))   # see _log1p_f64
    c = c / u if k < _F32(25.0) else _F32(0.0)
    f = m - _ONE_F
    s, hfsq = _log_kernel_f32(f)
    r = s + (k * _LN2_LO_F + c) - hfsq + f + k * _LN2_HI_F
    r = x if abs(x) < _ROUNDS_TO_X_F else r
    r = x if not x < _F32(_INF) else r
    r = _F32(-_INF) if x == _F32(-1.0) else r
    return _F32(_NAN) if x < _F32(-1.0) else r


@_vjit
def _tanh_f32(x):
    # See _tanh_f64; float32 tanh rounds to 1 for |x| > 9.01.
    ax = abs(x)
    ax = _F32(10.0) if ax > _F32(10.0) else ax
    k, r = _reduce_ln2_f32(_TWO_F * ax)
    c = _expm1_corr_f32(r)
    t = _expm1_scale_f32(k, r + c)
    y = t / (t + _TWO_F)
    y = ax + _fma(-_HALF_F * t, y, _HALF_F * c) if k == 0 else y
    return _copysign(y, x)


@_vjit
def _sigmoid_f32(x):
    e = _exp_f32(-abs(x))
    num = _ONE_F if x >= _F32(0.0) else e
    return num / (_ONE_F + e)


@_vjit
def _sincos_f32(x, quadrant_offset):
    # float64 arithmetic, rounded once at the end; see _sincos_f64.
    xd = np.float64(x)
    n, r = _reduce_pio2(xd)
    nh, rh = _reduce_pio2_huge_f32(xd)
    huge = abs(xd) >= _HUGE_ARG
    v = _sin_quadrant((nh if huge else n) + quadrant_offset, rh if huge else r)
    return np.float32(v) if abs(x) < _F32(_INF) else x - x


@_vjit
def _sin_f32(x):
    y = _sincos_f32(x, 0)
    return x if x == _F32(0.0) else y


@_vjit
def _cos_f32(x):
    return _sincos_f32(x, 1)


@_vjit
def _pow_f32(x, y):
    # float64 exp(y*log|x|) has relative error ~|y*log x| * 2**-53 < 2**-44 for
    # any result representable in float32: no double-double needed.
    xd = np.float64(x)
    yd = np.float64(y)
    r = _exp_f64(yd * _log_f64(abs(xd)))
    return np.float32(_pow_specials(xd, yd, r))


# --------------------------------------------------------------------------
# erf (float64), and gelu built on it
# --------------------------------------------------------------------------

# fdlibm's s_erf.c (Sun): on |x| < 0.84375 erf(x) = x + x*pp(x**2)/qq(x**2); on [0.84375, 1.25)
# erx + pa(s)/qa(s), s = |x| - 1; on [1.25, 6) 1 - exp(-x**2 - 0.5625 + R(1/x**2)/S(1/x**2))/|x|
# (ra/sa below 1/0.35, rb/sb above); +-1 from 6 on. Each piece is computed in every lane and
# the right one selected, so the loop vectorizes; where fdlibm branches between coefficient sets
# or rational functions, the lanes select coefficients or numerators instead (one division).
# fdlibm splits the exponential in two (exp(-z*z - 0.5625) * exp((z - x)(z + x) + R/S), z = x
# rounded to 26 bits) so that erfc keeps full relative accuracy; erf = 1 - erfc/|x| does not need
# it: one exp's rounding of its argument, <= 37 * 2**-53 relative, times erfc(x)/|x| <= 0.08, is
# below a tenth of an ulp of the result. Within 1 ulp of glibc's erf (tests/test_vecmath.py).
_ERX = 8.45062911510467529297e-01
_EFX = 1.28379167095512586316e-01
_EFX8 = 1.02703333676410069053e+00
_PP = (1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
       -5.77027029648944159157e-03, -2.37630166566501626084e-05)
_QQ = (3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03,
       1.32494738004321644526e-04, -3.96022827877536812320e-06)
_PA = (-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
       3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
       -2.16637559486879084300e-03)
_QA = (1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02,
       1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02)
_RA = (-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01,
       -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02,
       -8.12874355063065934246e+01, -9.81432934416914548592e+00)
_SA = (1.96512716674392571292e+01, 1.37657754143519042600e+02, 4.34565877475229228821e+02,
       6.45387271733267880336e+02, 4.29008140027567833386e+02, 1.08635005541779435134e+02,
       6.57024977031928170135e+00, -6.04244152148580987438e-02)
# rb/sb have one coefficient fewer; padded with 0 so one polynomial serves both intervals
_RB = (-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01,
       -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03,
       -4.83519191608651397019e+02, 0.0)
_SB = (3.03380607434824582924e+01, 3.25792512996573918826e+02, 1.53672958608443695994e+03,
       3.19985821950859553908e+03, 2.55305040643316442583e+03, 4.74528541206955367215e+02,
       -2.24409524465858183362e+01, 0.0)
_ERF_SPLIT = struct.unpack("<d", struct.pack("<Q", 0x4006DB6E00000000))[0]  # fdlibm's 1/0.35
_ERF_TINY = 2.0 ** -28                  # below, erf(x) = x + efx*x
_ERF_DENORMAL = 2.0 ** -1015            # below, fdlibm scales by 8 to keep efx*x exact enough


@_vjit
def _erf_near_zero(x, ax):
    """erf(x) for |x| < 1.25: the rational function of [0, 0.84375) or of [0.84375, 1.25)."""
    small = ax < 0.84375
    z = x * x
    s = ax - 1.0
    r = _PP[0] + z * (_PP[1] + z * (_PP[2] + z * (_PP[3] + z * _PP[4])))
    q = 1.0 + z * (_QQ[0] + z * (_QQ[1] + z * (_QQ[2] + z * (_QQ[3] + z * _QQ[4]))))
    p = _PA[0] + s * (_PA[1] + s * (_PA[2] + s * (_PA[3] + s * (_PA[4] + s * (_PA[5] + s * _PA[6])))))
    qa = 1.0 + s * (_QA[0] + s * (_QA[1] + s * (_QA[2] + s * (_QA[3] + s * (_QA[4] + s * _QA[5])))))
    ratio = (x * r if small else p) / (q if small else qa)
    return x + ratio if small else _copysign(_ERX + ratio, x)


@_vjit
def _erf_tail(ax):
    """erf(ax) for ax in [1.25, 6] (callers clamp)."""
    inv = 1.0 / ax
    s = inv * inv
    near = ax < _ERF_SPLIT
    r0, r1, r2, r3 = (_RA[0], _RA[1], _RA[2], _RA[3]) if near else (_RB[0], _RB[1], _RB[2], _RB[3])
    r4, r5, r6, r7 = (_RA[4], _RA[5], _RA[6], _RA[7]) if near else (_RB[4], _RB[5], _RB[6], _RB[7])
    s0, s1, s2, s3 = (_SA[0], _SA[1], _SA[2], _SA[3]) if near else (_SB[0], _SB[1], _SB[2], _SB[3])
    s4, s5, s6, s7 = (_SA[4], _SA[5], _SA[6], _SA[7]) if near else (_SB[4], _SB[5], _SB[6], _SB[7])
    big_r = r0 + s * (r1 + s * (r2 + s * (r3 + s * (r4 + s * (r5 + s * (r6 + s * r7))))))
    big_s = 1.0 + s * (s0 + s * (s1 + s * (s2 + s * (s3 + s * (s4 + s * (s5 + s * (s6 + s * s7)))))))
    return 1.0 - _exp_f64(-ax * ax - 0.5625 + big_r / big_s) * inv


@_vjit
def _erf_f64(x):
    ax = abs(x)
    tiny = 0.125 * (8.0 * x + _EFX8 * x) if ax < _ERF_DENORMAL else x + _EFX * x
    tail = _copysign(_erf_tail(min(max(ax, 1.25), 6.0)) if ax < 6.0 else 1.0, x)
    r = tiny if ax < _ERF_TINY else (_erf_near_zero(x, ax) if ax < 1.25 else tail)
    return x if x != x else r


@_vjit
def _erf_f32(x):
    return np.float32(_erf_f64(np.float64(x)))


_SQRT1_2 = 0.7071067811865476
_GELU_BETA = 0.7978845608028654         # sqrt(2/pi), PyTorch's tanh approximation
_GELU_KAPPA = 0.044715


@_vjit
def _gelu_f64(x):
    return x * 0.5 * (1.0 + _erf_f64(x * _SQRT1_2))


@_vjit
def _gelu_f32(x):
    return np.float32(_gelu_f64(np.float64(x)))


@_vjit
def _gelu_tanh_f64(x):
    return 0.5 * x * (1.0 + _tanh_f64(_GELU_BETA * (x + _GELU_KAPPA * x * x * x)))


@_vjit
def _gelu_tanh_f32(x):
    return np.float32(_gelu_tanh_f64(np.float64(x)))


# --------------------------------------------------------------------------
# dtype dispatch and the public functions
# --------------------------------------------------------------------------

_REAL = (types.Float, types.Integer, types.Boolean)


def _dispatch1(f64_impl, f32_impl):
    """jit-only function running f32_impl on float32, else f64_impl on float64(x)."""
    def stub(x):
        raise NotImplementedError("jit-only")

    @overload(stub, jit_options=JIT_OPTIONS)
    def _ov(x):
        if x == types.float32:
            return lambda x: f32_impl(x)
        if isinstance(x, _REAL):
            return lambda x: f64_impl(np.float64(x))
    return stub


def _dispatch2(f64_impl, f32_impl):
    def stub(x, y):
        raise NotImplementedError("jit-only")

    @overload(stub, jit_options=JIT_OPTIONS)
    def _ov(x, y):
        if x == types.float32 and y == types.float32:
            return lambda x, y: f32_impl(x, y)
        if isinstance(x, _REAL) and isinstance(y, _REAL):
            return lambda x, y: f64_impl(np.float64(x), np.float64(y))
    return stub


_exp = _dispatch1(_exp_f64, _exp_f32)
_expm1 = _dispatch1(_expm1_f64, _expm1_f32)
_log = _dispatch1(_log_f64, _log_f32)
_log1p = _dispatch1(_log1p_f64, _log1p_f32)
_tanh = _dispatch1(_tanh_f64, _tanh_f32)
_sigmoid = _dispatch1(_sigmoid_f64, _sigmoid_f32)
_sin = _dispatch1(_sin_f64, _sin_f32)
_cos = _dispatch1(_cos_f64, _cos_f32)
_pow = _dispatch2(_pow_f64, _pow_f32)
_erf = _dispatch1(_erf_f64, _erf_f32)
_gelu = _dispatch1(_gelu_f64, _gelu_f32)
_gelu_tanh = _dispatch1(_gelu_tanh_f64, _gelu_tanh_f32)


@_vjit
def vm_exp(x):
    """e**x."""
    return _exp(x)


@_vjit
def vm_expm1(x):
    """e**x - 1, accurate near 0."""
    return _expm1(x)


@_vjit
def vm_log(x):
    """Natural log; log(0) = -inf, log(x < 0) = nan."""
    return _log(x)


@_vjit
def vm_log1p(x):
    """log(1 + x), accurate near 0; log1p(-1) = -inf."""
    return _log1p(x)


@_vjit
def vm_tanh(x):
    """Hyperbolic tangent."""
    return _tanh(x)


@_vjit
def vm_sigmoid(x):
    """1/(1 + e**-x), without overflow and with relative accuracy for x << 0."""
    return _sigmoid(x)


@_vjit
def vm_sin(x):
    """Sine, for any finite x (huge |x| via Payne-Hanek reduction)."""
    return _sin(x)


@_vjit
def vm_cos(x):
    """Cosine, for any finite x."""
    return _cos(x)


@_vjit
def vm_pow(x, y):
    """x**y with NumPy/C99 semantics (float32 only if both are float32)."""
    return _pow(x, y)


@_vjit
def vm_sqrt(x):
    """Square root (LLVM's sqrt intrinsic vectorizes by itself); sqrt(x < 0) = nan."""
    return np.sqrt(x)


@_vjit
def vm_erf(x):
    """The error function (fdlibm's, within 1 ulp); erf(+-inf) = +-1, erf(-0.0) = -0.0."""
    return _erf(x)


@_vjit
def vm_gelu(x):
    """x * 0.5 * (1 + erf(x / sqrt 2)) (PyTorch's exact GELU)."""
    return _gelu(x)


@_vjit
def vm_gelu_tanh(x):
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3))) (PyTorch's approximate="tanh")."""
    return _gelu_tanh(x)


#: name -> function, for code generators.
FUNCTIONS = {
    "exp": vm_exp, "expm1": vm_expm1, "log": vm_log, "log1p": vm_log1p,
    "tanh": vm_tanh, "sigmoid": vm_sigmoid, "sin": vm_sin, "cos": vm_cos,
    "pow": vm_pow, "sqrt": vm_sqrt, "erf": vm_erf, "gelu": vm_gelu, "gelu_tanh": vm_gelu_tanh,
}
