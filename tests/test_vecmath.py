"""Accuracy, special values and vectorization of backends/numba_backend/vecmath.py.

Every function is applied through a compiled array loop (the way generated
kernels use it) and compared with NumPy in ulps (integer-view distance, so
subnormals and sign changes count correctly).  Kernels are compiled once per
module (``_kernel`` cache).
"""
import math
import re

import numba
import numpy as np
import pytest

from graphc.backends.numba_backend import vecmath as vm

F64, F32 = np.float64, np.float32
DTYPES = [F64, F32]
UNARY = ["exp", "expm1", "log", "log1p", "tanh", "sigmoid", "sin", "cos", "sqrt", "erf"]
MAX_ULP = 4          # vs NumPy's own ufunc, both dtypes
MAX_ULP_F32_CR = 2   # float32 vs the correctly rounded result (float64 NumPy -> float32)


# ---------------------------------------------------------------- helpers

_KERNELS = {}


def _kernel(name, **jit_kwargs):
    """One loop kernel per (function, flags); numba then specializes per dtype."""
    key = (name, tuple(sorted(jit_kwargs.items())))
    if key not in _KERNELS:
        f = vm.FUNCTIONS[name]
        if name == "pow":
            @numba.njit(**jit_kwargs)
            def k(x, y, out):
                for i in range(x.size):
                    out[i] = f(x[i], y[i])
        else:
            @numba.njit(**jit_kwargs)
            def k(x, out):
                for i in range(x.size):
                    out[i] = f(x[i])
        _KERNELS[key] = k
    return _KERNELS[key]


def run(name, *args, **jit_kwargs):
    out = np.empty_like(args[0])
    _kernel(name, **jit_kwargs)(*args, out)
    return out


def np_sigmoid(x):
    # The reference is the numerically stable form: the naive 1/(1+exp(-x))
    # flushes to 0 for x < -709 where the true value is a subnormal.
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def np_erf(x):
    # NumPy has no erf: glibc's (math.erf, within 1 ulp) on each value, in float64, rounded once
    return np.asarray(np.frompyfunc(math.erf, 1, 1)(x.astype(F64)), F64).astype(x.dtype)


NUMPY = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p,
         "tanh": np.tanh, "sigmoid": np_sigmoid, "sin": np.sin, "cos": np.cos,
         "sqrt": np.sqrt, "erf": np_erf}


def ulp_distance(a, b):
    """|a - b| in units in the last place, via the monotone integer view; nan==nan is 0."""
    a, b = np.asarray(a), np.asarray(b)
    ity, mask = (np.int64, 0x7FFFFFFFFFFFFFFF) if a.dtype == F64 else (np.int32, 0x7FFFFFFF)

    def ordered(v):
        i = v.view(ity).astype(np.int64)
        return np.where(i < 0, -(i & mask), i)

    oa, ob = ordered(a), ordered(b)
    same_sign = (oa >= 0) == (ob >= 0)
    # same sign: exact int64 difference; opposite signs: huge anyway, avoid overflow
    d = np.where(same_sign, np.abs(np.where(same_sign, oa - ob, 0)).astype(F64),
                 np.abs(oa.astype(F64) - ob.astype(F64)))
    na, nb = np.isnan(a), np.isnan(b)
    return np.where(na & nb, 0.0, np.where(na | nb, np.inf, d))


def reference(name, x):
    """(NumPy in x's dtype, correctly rounded-ish result in x's dtype)."""
    with np.errstate(all="ignore"):
        ref = NUMPY[name](x)
        cr = NUMPY[name](x.astype(F64)).astype(x.dtype) if x.dtype == F32 else ref
    return ref, cr


RNG_SEED = 1234


def _logspace(rng, lo, hi, n, both_signs=True):
    v = 10.0 ** rng.uniform(lo, hi, n)
    return np.concatenate([v, -v]) if both_signs else v


def accuracy_inputs(name, dtype):
    """Wide linear + log-spaced ranges, per function and dtype (float64 values)."""
    rng = np.random.default_rng(RNG_SEED)
    n = 40_000
    lin = np.linspace
    f32 = dtype == F32
    if name == "exp":
        return np.concatenate([lin(-104, 88.7, n) if f32 else lin(-745.1, 709.78, n),
                               _logspace(rng, -20, 1.94 if f32 else 2.85, n)])
    if name == "expm1":
        return np.concatenate([lin(-20, 88.7, n) if f32 else lin(-50, 709.78, n),
                               _logspace(rng, -20, 1.94 if f32 else 2.85, n)])
    if name == "log":
        big, sub = (38, (-45, -37.9)) if f32 else (308, (-323.5, -307.7))
        return np.concatenate([_logspace(rng, -big, big, n, False),
                               _logspace(rng, *sub, n // 4, False),        # subnormals
                               1 + _logspace(rng, -7 if f32 else -16, -1, n)])
    if name == "log1p":
        return np.concatenate([_logspace(rng, -20, 38 if f32 else 300, n, False),
                               -_logspace(rng, -20, 0, n, False),
                               -1 + _logspace(rng, -7 if f32 else -16, 0, n // 4, False)])
    if name in ("tanh", "sigmoid"):
        hi = (2.0 if f32 else 2.87) if name == "sigmoid" else 1.7
        return np.concatenate([lin(-50, 50, n), _logspace(rng, -20, hi, n)])
    if name in ("sin", "cos"):
        return np.concatenate([lin(-1e4, 1e4, n), _logspace(rng, -20, 13.5, n),
                               np.arange(1, n) * (np.pi / 2),          # near the zeros
                               _logspace(rng, 13.6, 30 if f32 else 300, n // 20)])  # libm fallback
    if name == "sqrt":
        return _logspace(rng, -38 if f32 else -320, 38 if f32 else 308, n, False)
    if name == "erf":
        # every interval of the piecewise approximation, their borders, both tails (erf -> +-1
        # from |x| ~ 6) and tiny x (erf(x) ~ 2x/sqrt(pi), subnormals included)
        return np.concatenate([lin(-7, 7, n), _logspace(rng, -44 if f32 else -320, 1.5, n),
                               np.array([0.84375, 1.25, 2.857142448425293, 6.0, 5.9999999])])
    raise KeyError(name)


def pow_inputs(dtype):
    rng = np.random.default_rng(RNG_SEED)
    n = 20_000
    f32 = dtype == F32
    zlo, zhi = (-100, 88) if f32 else (-740, 705)      # log of the result
    xs, ys = [], []
    x = 10 ** rng.uniform(-3 if f32 else -10, 3 if f32 else 10, n)
    xs.append(x); ys.append(rng.uniform(-12 if f32 else -30, 12 if f32 else 30, n))
    x = 1 + rng.uniform(-1e-3, 1e-3, n)                 # huge exponents of x ~ 1
    xs.append(x); ys.append(rng.uniform(zlo, zhi, n) / np.log(x))
    x = 10 ** rng.uniform(-37 if f32 else -300, 37 if f32 else 300, n)  # results near over/underflow
    xs.append(x); ys.append(rng.uniform(zlo, zhi, n) / np.log(x))
    x = rng.uniform(0.70, 1.42, n)                      # worst case for the log part
    xs.append(x); ys.append(rng.uniform(zlo, zhi, n) / np.log(x))
    xs.append(-(10 ** rng.uniform(-2, 2, n)))           # negative base, integer exponent
    ys.append(np.round(rng.uniform(-15, 15, n)))
    return np.concatenate(xs).astype(dtype), np.concatenate(ys).astype(dtype)


SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308,
           -2.2250738585072014e-308, 1e-300, -1e-300, 1e-45, -1e-45, 1.2e-38, -1.2e-38,
           1e-8, -1e-8, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0, 19.0, -19.0, 20.0, -20.0, 36.0, -36.0,
           88.72, 89.0, -103.9, -104.0, 709.78, 709.79, 710.0, -708.4, -745.13, -745.14, -746.0,
           800.0, -800.0, 1e13, 3.5e13, -3.6e13, 1e22, -1e22, 3.4e38, -3.4e38, 1e300, -1e300,
           1.7976931348623157e308, -1.7976931348623157e308, -1.0 + 1e-16, -0.9999999]


def check_special(got, want, tol):
    """nan, +-inf and signed zeros exactly; finite nonzero values within tol ulps."""
    got, want = np.asarray(got), np.asarray(want)
    both_nan = np.isnan(got) & np.isnan(want)
    exact = (got == want) & (np.signbit(got) == np.signbit(want))
    close = np.isfinite(want) & (want != 0) & (ulp_distance(got, want) <= tol)
    ok = both_nan | exact | close
    assert ok.all(), f"mismatch: got {got[~ok]!r} want {want[~ok]!r}"


# ---------------------------------------------------------------- accuracy

@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", UNARY)
def test_accuracy_unary(name, dtype):
    with np.errstate(over="ignore"):
        x = accuracy_inputs(name, dtype).astype(dtype)
    got = run(name, x)
    assert got.dtype == dtype
    ref, cr = reference(name, x)
    assert ulp_distance(got, ref).max() <= MAX_ULP
    if dtype == F32:
        assert ulp_distance(got, cr).max() <= MAX_ULP_F32_CR


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_accuracy_pow(dtype):
    x, y = pow_inputs(dtype)
    got = run("pow", x, y)
    assert got.dtype == dtype
    with np.errstate(all="ignore"):
        ref = np.power(x, y)
        cr = np.power(x.astype(F64), y.astype(F64)).astype(dtype)
    assert np.isfinite(ref).mean() > 0.9
    assert ulp_distance(got, ref).max() <= MAX_ULP
    if dtype == F32:
        assert ulp_distance(got, cr).max() <= MAX_ULP_F32_CR


def test_tiny_arguments_exact():
    """Where f(x) ~ x (or 1), the result must be exactly NumPy's (no 2*sigmoid(2x)-1)."""
    x = np.array([1e-8, -1e-8, 3e-9, 1e-20, -1e-200, 2.5e-310, 1e-17], F64)
    for name in ("tanh", "expm1", "log1p", "sin"):
        np.testing.assert_array_equal(run(name, x), NUMPY[name](x), err_msg=name)
    np.testing.assert_array_equal(run("exp", x), np.exp(x))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_sin_cos_symmetry_huge(dtype):
    """The table (Payne-Hanek) reduction must be exactly odd/even in x."""
    rng = np.random.default_rng(RNG_SEED)
    with np.errstate(over="ignore"):
        x = _logspace(rng, 13.5, 38 if dtype == F32 else 308, 5000, False).astype(dtype)
    np.testing.assert_array_equal(run("sin", -x), -run("sin", x))
    np.testing.assert_array_equal(run("cos", -x), run("cos", x))


# ---------------------------------------------------------------- special values

@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", UNARY)
def test_special_values(name, dtype):
    with np.errstate(over="ignore"):
        x = np.array(SPECIAL, F64).astype(dtype)
    got = run(name, x)
    ref, cr = reference(name, x)
    check_special(got, ref, MAX_ULP)
    check_special(got, cr, MAX_ULP_F32_CR if dtype == F32 else MAX_ULP)


def test_documented_special_values():
    inf, nan = np.inf, np.nan
    cases = {
        "exp": [(inf, inf), (-inf, 0.0), (710.0, inf), (-746.0, 0.0), (nan, nan)],
        "log": [(0.0, -inf), (-0.0, -inf), (-1.0, nan), (inf, inf), (-inf, nan)],
        "log1p": [(-1.0, -inf), (-2.0, nan), (-0.0, -0.0), (inf, inf)],
        "expm1": [(-0.0, -0.0), (-inf, -1.0), (inf, inf), (1e6, inf)],
        "tanh": [(-0.0, -0.0), (inf, 1.0), (-inf, -1.0), (nan, nan)],
        "sigmoid": [(inf, 1.0), (-inf, 0.0), (nan, nan), (1e6, 1.0), (-1e6, 0.0)],
        "sin": [(-0.0, -0.0), (inf, nan), (-inf, nan), (nan, nan)],
        "cos": [(-0.0, 1.0), (inf, nan), (nan, nan)],
        "sqrt": [(-0.0, -0.0), (-1.0, nan), (inf, inf)],
        "erf": [(-0.0, -0.0), (0.0, 0.0), (inf, 1.0), (-inf, -1.0), (nan, nan), (7.0, 1.0), (-30.0, -1.0)],
    }
    for dtype in DTYPES:
        for name, pairs in cases.items():
            x = np.array([p[0] for p in pairs], dtype)
            want = np.array([p[1] for p in pairs], dtype)
            got = run(name, x)
            np.testing.assert_array_equal(got, want, err_msg=f"{name} {dtype}")
            num = ~np.isnan(want)       # the sign of a nan carries no meaning
            np.testing.assert_array_equal(np.signbit(got[num]), np.signbit(want[num]), err_msg=name)
    # subnormal results, as NumPy: exp and sigmoid of large negative x
    x = np.array([-740.0, -744.0, -720.0])
    check_special(run("exp", x), np.exp(x), 1)
    check_special(run("sigmoid", x), np.exp(x), 1)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_pow_special_values(dtype):
    vals = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0,
            1.5, -1.5, 1e-300, 5e-324, 1e300, -1e300, 2.0 ** 53, 2.0 ** 53 + 2, -(2.0 ** 53) - 1,
            1e-7, 1e7, 1.0000001, 0.9999999]
    with np.errstate(over="ignore"):
        v = np.array(vals, F64).astype(dtype)
    x, y = (a.ravel() for a in np.meshgrid(v, v, indexing="ij"))
    got = run("pow", x, y)
    with np.errstate(all="ignore"):
        ref = np.power(x, y)
    check_special(got, ref, MAX_ULP)


# ---------------------------------------------------------------- typing / flags

def test_result_dtypes():
    @numba.njit
    def f(a, b):
        return vm.vm_exp(a), vm.vm_pow(a, b), vm.vm_sin(a)

    for a, b, want in [(F32(1), F32(2), F32), (F64(1), F64(2), F64), (F32(1), F64(2), None),
                       (1, 2, F64)]:
        res = f(a, b)
        sig = f.signatures[-1]
        rtys = f.overloads[sig].signature.return_type.types
        if want is not None:
            assert all(str(t) == np.dtype(want).name for t in rtys), (sig, rtys)
        assert rtys[1] == (numba.float32 if want is F32 else numba.float64)
        assert res[0] == pytest.approx(math.exp(1.0), rel=1e-6)


@pytest.mark.parametrize("name", ["exp", "log1p", "tanh", "sigmoid", "sin"])
def test_independent_of_caller_flags(name):
    """fastmath=True / error_model='python' in the kernel must not change the results."""
    x = np.array(SPECIAL, F64)
    base = run(name, x)
    for kw in ({"fastmath": True}, {"error_model": "python"}):
        got = run(name, x, **kw)
        np.testing.assert_array_equal(got, base)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(base))


# ---------------------------------------------------------------- vectorization

def _has_avx2():
    from llvmlite import binding as llvm
    try:
        return bool(llvm.get_host_cpu_features().get("avx2"))
    except Exception:
        return False


# packed (not scalar ...sd/...ss) float arithmetic on a 256/512-bit register
_PACKED = re.compile(r"\bv(?:fn?m(?:add|sub)\d+|mul|add|sub|div|sqrt|max|min|blendm|cmp\w*)p[sd]\s[^\n]*%[yz]mm")


@pytest.mark.skipif(not _has_avx2(), reason="needs AVX2/AVX-512 host")
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", UNARY + ["pow", "gelu", "gelu_tanh"])
def test_loop_vectorizes(name, dtype):
    x = np.ones(64, dtype)
    k = _kernel(name)
    if name == "pow":
        k(x, x, np.empty_like(x))
    else:
        k(x, np.empty_like(x))
    sig = [s for s in k.signatures if s[0].dtype == numba.from_dtype(np.dtype(dtype))][0]
    asm = k.inspect_asm(sig)
    llvm_ir = k.inspect_llvm(sig)
    packed = _PACKED.findall(asm)
    min_ops = 1 if name == "sqrt" else 10
    assert len(packed) >= min_ops, f"{name}: only {len(packed)} packed ymm/zmm ops"
    assert re.search(r"<(4|8|16) x (double|float)>", llvm_ir)
