"""Random values as pure functions of (key, call counter, element index): Philox4x32-10 and its
transforms to floats, written once in plain arithmetic.

NumPy runs these functions on arrays (the reference implementation of the random ops) and the
numba backend compiles the very same functions for scalars, called inside fused loops
(backends/numba_backend/random_kernels.py). Every step is an integer operation on uint64 values
holding 32-bit words, or a float64 `+ - * /` or `sqrt` (correctly rounded everywhere), in the
same order on both sides; kernels are compiled without fastmath, so nothing is contracted to an
fma: both give the same bits. No libm call is made (NumPy's and glibc's log and cos differ in the
last bit), so the logarithm and the sine are polynomials here. Nothing branches on a value: the
same code must run on an array.

The counter of element `index` in call `counter` is the 128-bit word (index, counter) (low word
first), the key the 64-bit seed: an element's value does not depend on how a loop is split.
"""
import numpy as np

MASK32 = np.uint64(0xFFFFFFFF)
SHIFT32 = np.uint64(32)
# Philox4x32's multipliers and Weyl key increments (Salmon et al., SC11, "Parallel random
# numbers: as easy as 1, 2, 3").
M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
ROUNDS = 10
SHIFT11, SHIFT8 = np.uint64(11), np.uint64(8)
TWO_TO_MINUS_53 = 2.0 ** -53
TWO_TO_MINUS_24 = np.float32(2.0 ** -24)

LN2_HI = 6.93147180369123816490e-01  # ln 2 split so that e * LN2_HI is exact for |e| < 2**11
LN2_LO = 1.90821492927058770002e-10
SQRT_HALF = 0.70710678118654752440
TWO_PI = 6.28318530717958647693
# (limit, 2**bits, bits): log_unit scales m < limit up by 2**bits, halving the exponent range
BINARY_SCALES = tuple((2.0 ** -bits, 2.0 ** bits, float(bits)) for bits in (32, 16, 8, 4, 2, 1))


def philox4x32(c0, c1, c2, c3, k0, k1):
    """The four 32-bit output words (as uint64) of Philox4x32-10 for a counter and key of
    32-bit words held in uint64 values."""
    for _ in range(ROUNDS):
        p0 = M0 * c0
        p1 = M1 * c2
        c0, c1, c2, c3 = (p1 >> SHIFT32) ^ c1 ^ k0, p1 & MASK32, (p0 >> SHIFT32) ^ c3 ^ k1, p0 & MASK32
        k0 = (k0 + W0) & MASK32
        k1 = (k1 + W1) & MASK32
    return c0, c1, c2, c3


def random_words(key, counter, index):
    """Philox's words for element `index` of call `counter` under `key` (all uint64)."""
    return philox4x32(index & MASK32, index >> SHIFT32, counter & MASK32, counter >> SHIFT32,
                      key & MASK32, key >> SHIFT32)


def unit_float64(hi, lo):
    """A uniform float64 in [0, 1) from the top 53 of 64 bits (exact: every value k / 2**53)."""
    return np.float64(((hi << SHIFT32) | lo) >> SHIFT11) * TWO_TO_MINUS_53


def log_unit(u):
    """ln(u) for u in [2**-53, 1]: u = m * 2**e with m in [sqrt(1/2), sqrt(2)) (found by exact
    scalings by powers of two, as frexp is not available to numba), and ln(m) = 2 atanh(s),
    s = (m - 1) / (m + 1), |s| < 0.172, summed to s**21 (the next term is below 2**-56)."""
    m = u
    e = 0.0
    for limit, factor, bits in BINARY_SCALES:  # after each: m >= limit; at the end m in [1/2, 1]
        small = m < limit
        m = m * (1.0 + small * (factor - 1.0))
        e = e - small * bits
    low = m < SQRT_HALF
    m = m + m * low
    e = e - low * 1.0
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    series = 2.0 + z * (2.0 / 3 + z * (2.0 / 5 + z * (2.0 / 7 + z * (2.0 / 9 + z * (2.0 / 11 + z * (
        2.0 / 13 + z * (2.0 / 15 + z * (2.0 / 17 + z * (2.0 / 19 + z * (2.0 / 21))))))))))
    return e * LN2_HI + (s * series + e * LN2_LO)


def sin_small(x):
    """sin(x) for |x| <= pi/2: its Taylor series to x**23 (the next term is below 2**-60)."""
    z = x * x
    poly = 1.0 - z / 6.0 * (1.0 - z / 20.0 * (1.0 - z / 42.0 * (1.0 - z / 72.0 * (1.0 - z / 110.0 * (
        1.0 - z / 156.0 * (1.0 - z / 210.0 * (1.0 - z / 272.0 * (1.0 - z / 342.0 * (1.0 - z / 420.0 * (
            1.0 - z / 506.0))))))))))
    return x * poly


def cos_two_pi(t):
    """cos(2 pi t) for t in [0, 1): with s = |t - 1/2| in [0, 1/2] (exact), cos(2 pi t) =
    -cos(2 pi s) = sin(2 pi (s - 1/4)), whose argument lies in [-pi/2, pi/2]."""
    s = np.abs(t - 0.5)
    return sin_small(TWO_PI * (s - 0.25))


def uniform_float64(key, counter, index):
    """Element `index`'s standard uniform float64 in [0, 1)."""
    w0, w1, w2, w3 = random_words(key, counter, index)
    return unit_float64(w0, w1)


def uniform_float32(key, counter, index):
    """Element `index`'s standard uniform float32 in [0, 1), from the top 24 bits of a word."""
    w0, w1, w2, w3 = random_words(key, counter, index)
    return np.float32(w0 >> SHIFT8) * TWO_TO_MINUS_24


def normal_float64(key, counter, index):
    """Element `index`'s standard normal float64 (Box-Muller on the block's two 53-bit uniforms:
    u1 in (0, 1], so |z| <= sqrt(-2 ln 2**-53) = 8.57)."""
    w0, w1, w2, w3 = random_words(key, counter, index)
    u1 = 1.0 - unit_float64(w0, w1)
    u2 = unit_float64(w2, w3)
    return np.sqrt(-2.0 * log_unit(u1)) * cos_two_pi(u2)


# The functions the random ops' scalar templates call, by their backend-neutral names (each
# takes key, counter and the element's flat index), and the helpers they call, in order of use.
# A float32 normal is the float64 one rounded once (the op casts it, in NumPy as in a kernel).
FUNCTIONS = {
    "philox_uniform": uniform_float64,
    "philox_uniform_float32": uniform_float32,
    "philox_normal": normal_float64,
}
HELPERS = ("philox4x32", "random_words", "unit_float64", "log_unit", "sin_small", "cos_two_pi")
