"""How a matmul runs on NumPy's BLAS: which threads do the work.

OpenBLAS (the BLAS of NumPy's wheels) cuts a gemm statically among its threads: the calling
thread does its share, then waits for the others. On a busy machine a worker may not get a
core for a whole scheduler slice (milliseconds), so a 100 µs matmul takes 10 ms: a training
step of 720x64 @ 64x64 matmuls ran 60x slower next to two processes running NumPy matmuls.

So a matmul smaller than THREADS_FROM float64 multiply-adds (m * n * k per product, weighted
by dtype: `on_one_thread`) runs on one thread; a larger one is NumPy's call as it is, on the
BLAS's threads. The choice depends on the shapes and dtypes alone, never on timings, so a result never
depends on how busy the machine was: below the threshold it is OpenBLAS's one-thread result,
equal to NumPy's to rounding (NumPy's own result changes that much with the thread count),
above it NumPy's exactly.

The thread count is OpenBLAS's process-wide setting, changed with openblas_set_num_threads
through ctypes in the library NumPy loaded (~1 µs a change from Python; threadpoolctl's context
manager costs ~20 µs; the `_local` variant is process-wide too). While any thread is in a
one-thread section the setting is 1, so a larger BLAS call made by another thread in that
window runs on one thread too: slower, and its result is the one-thread one (equal to NumPy's
to rounding), as for any NumPy call made while the thread count is lowered.
"""
import ctypes
import glob
import math
import os
import threading

import numpy as np

from graphc.ir.ops.linalg import MATMUL

# Where a second thread pays, measured on 2 cores, quiet, one vs two OpenBLAS threads (float64,
# medians of minima): 96^3 (0.9M multiply-adds) gains nothing, 128^3 (2.1M) 1.3x, 720x64x64
# (2.9M) 1.6-1.8x, i.e. 75-95 µs of ~200; on a busy machine the same call loses ~10 ms (100x the
# gain) whenever the worker waits for a core. The gain grows with the size, the loss does not:
# threads are worth that risk from 2^22 multiply-adds, twice where they start to pay, which is
# ~140 µs on one core at the ~30 GFLOP/s a current core does in dgemm (float32 does twice the
# multiply-adds in that time, complex128 a quarter: `_WORK_PER_MULTIPLY_ADD`).
THREADS_FROM = 1 << 22
# OpenBLAS runs calls this small on one thread itself (its lowest threshold among the routines
# NumPy's matmul calls is dot's 10,000 elements; gemm's is 262,144 multiply-adds), so setting
# the thread count around them (~3 µs) would only add to a call of 1-2 µs.
LEFT_ALONE_BELOW = 1 << 13
# A general matrix product (gemm: both result dims > 1, operands not one buffer, which NumPy
# hands to syrk) below this many multiply-adds OpenBLAS also keeps on the calling thread
# (measured with its threads callback, float64 and float32, shapes from 32x64x64 to 4000x8x8:
# no hand-off below 2^18; syrk handed off at 1000x2x1000). Skipping the thread-count change
# there saves ~2 us a call, which a loop body pays every step.
GEMM_ALONE_BELOW = 1 << 18
_WORK_PER_MULTIPLY_ADD = {"d": 1.0, "f": 0.5, "D": 4.0, "F": 2.0}  # by dtype.char


class OpenBLASThreads:
    """The thread-count functions of the OpenBLAS library that NumPy uses."""

    def __init__(self, library, get_threads, set_threads):
        self.library = library
        self._get = get_threads
        self._set = set_threads
        self._lock = threading.Lock()
        self._alone = 0  # one-thread sections in flight
        self._saved = 1

    def threads(self):
        """The thread count the user has (outside graphc's one-thread sections)."""
        with self._lock:
            return self._saved if self._alone else self._get()

    def one_thread(self, fn, *args):
        """fn(*args) with OpenBLAS on one thread; the count in use before is restored when the
        last one-thread section in flight ends."""
        with self._lock:
            if self._alone == 0:
                self._saved = self._get()
                self._set(1)
            self._alone += 1
        try:
            return fn(*args)
        finally:
            with self._lock:
                self._alone -= 1
                if self._alone == 0:
                    self._set(self._saved)


def _symbol_name(lib, name):
    """`name` as OpenBLAS builds spell it (scipy-openblas prefixes it and adds 64_ for its
    64-bit integers), or None if the library has no such symbol."""
    for prefix in ("scipy_", ""):
        for suffix in ("64_", "_64", ""):
            if hasattr(lib, prefix + name + suffix):
                return prefix + name + suffix
    return None


def _symbol(lib, name):
    spelled = _symbol_name(lib, name)
    return None if spelled is None else getattr(lib, spelled)


def _candidate_libraries():
    """Paths of the OpenBLAS libraries in this process (Linux), then those NumPy's wheels ship;
    NumPy's own first: SciPy loads another OpenBLAS (32-bit integers, other symbol names), and
    gemm_function's callers are compiled and cached against NumPy's (calling SciPy's through
    that signature crashed the process)."""
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.rstrip("\n").partition("/")[2]
                if "openblas" in os.path.basename(path).lower():
                    paths.append("/" + path)
    except OSError:  # not Linux
        pass
    root = os.path.dirname(np.__file__)
    own = []
    for folder in (os.path.join(root, "..", "numpy.libs"), os.path.join(root, ".dylibs")):
        own += [os.path.realpath(p) for p in glob.glob(os.path.join(folder, "*openblas*"))]
    return list(dict.fromkeys(own + [os.path.realpath(p) for p in paths]))


def _find_openblas():
    """NumPy's OpenBLAS thread control, or None if NumPy uses another BLAS or none is found."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:  # the layout of NumPy's build information changed
        return None
    if "openblas" not in blas.lower():
        return None
    for path in _candidate_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        get_threads, set_threads = _symbol(lib, "openblas_get_num_threads"), _symbol(lib, "openblas_set_num_threads")
        if get_threads is not None and set_threads is not None:
            get_threads.restype, get_threads.argtypes = ctypes.c_int, []
            set_threads.restype, set_threads.argtypes = None, [ctypes.c_int]
            return OpenBLASThreads(path, get_threads, set_threads)
    return None


OPENBLAS = _find_openblas()


def blas_info():
    """What runs NumPy's matmuls here, for benchmarks and bug reports."""
    if OPENBLAS is None:
        return {"library": None}
    lib = ctypes.CDLL(OPENBLAS.library)
    info = {"library": OPENBLAS.library, "threads": OPENBLAS.threads()}
    for key, name in (("config", "openblas_get_config"), ("core", "openblas_get_corename")):
        fn = _symbol(lib, name)
        if fn is not None:
            fn.restype = ctypes.c_char_p
            info[key] = fn().decode()
    return info


def on_one_thread(m, k, n, dtype):
    """Whether graphc runs (m, k) @ (k, n) products of `dtype` with OpenBLAS on one thread."""
    # float64 multiply-adds; nan for an empty product, inf where NumPy runs no BLAS (integers)
    work = m * k * n * _WORK_PER_MULTIPLY_ADD.get(dtype.char, math.inf)
    return OPENBLAS is not None and LEFT_ALONE_BELOW <= work < THREADS_FROM


def matmul_into(sink, a, b):
    """The matmul step: a 2-D result is written into `sink.get(shape, dtype)` (other ranks
    allocate), on the threads its size calls for (see the module's docstring)."""
    dtype = np.result_type(a.dtype, b.dtype)
    m = a.shape[-2] if a.ndim >= 2 else 1
    n = b.shape[-1] if b.ndim >= 2 else 1
    alone = on_one_thread(m, a.shape[-1], n, dtype)
    if a.ndim == 2 and b.ndim == 2:
        out = sink.get((m, n), dtype)
        if alone and not (m > 1 and n > 1 and m * a.shape[-1] * n < GEMM_ALONE_BELOW
                          and not np.may_share_memory(a, b)):
            return OPENBLAS.one_thread(np.matmul, a, b, out)
        return np.matmul(a, b, out=out)
    return OPENBLAS.one_thread(MATMUL.impl, a, b) if alone else MATMUL.impl(a, b)


# CBLAS's enum values (row-major storage, operand as stored or transposed).
CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS = 101, 111, 112
_gemm_functions = {}


def gemm_function(dtype):
    """CBLAS's gemm for float64 or float32 in NumPy's OpenBLAS, as a function numba code can call
    (`gemm(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)`, pointers
    as integers), or None where there is no such OpenBLAS. Compiled loops call it directly, so a
    matmul inside a loop costs no trip through Python; the code refers to the symbol by name,
    which is why a loop calling it can be cached on disk."""
    dtype = np.dtype(dtype)
    if OPENBLAS is None or dtype.char not in "df":
        return None
    if dtype.char not in _gemm_functions:
        import llvmlite.binding
        from numba import types

        lib = ctypes.CDLL(OPENBLAS.library)
        name = _symbol_name(lib, "cblas_dgemm" if dtype.char == "d" else "cblas_sgemm")
        if name is None:
            return None
        llvmlite.binding.load_library_permanently(OPENBLAS.library)
        size = types.int64 if "64" in name else types.int32  # an ILP64 build's integers are 64-bit
        scalar = types.float64 if dtype.char == "d" else types.float32
        enum, ptr = types.int32, types.voidptr
        signature = types.void(enum, enum, enum, size, size, size, scalar, ptr, size, ptr, size, scalar, ptr, size)
        _gemm_functions[dtype.char] = types.ExternalFunction(name, signature)
    return _gemm_functions[dtype.char]
