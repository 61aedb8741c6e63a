"""How compiled matmuls use NumPy's BLAS threads (issue 8, item 6): small ones run on one thread
(OpenBLAS hands no work to its threads, whose waits stall on a busy machine), large ones are
NumPy's own call; values equal NumPy's either way, and the thread count is left as it was.

OpenBLAS's threads callback (openblas_set_threads_callback_function) is called for every BLAS
call that OpenBLAS splits among threads: the tests count those calls (running their jobs on
Python threads meanwhile)."""
import ctypes
import threading

import numpy as np
import pytest

import graphc as gc
from graphc.backends.numba_backend import blas

BACKENDS = ["numba", "numpy"]
DOJOB = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
THREADS_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_int, DOJOB, ctypes.c_int, ctypes.c_size_t, ctypes.c_void_p,
                                    ctypes.c_int)
SHAPES = [(720, 64), (64, 64), (64,), (4, 64, 64)]  # x, w, v, s below


@pytest.fixture(scope="module")
def openblas():
    assert blas.OPENBLAS is not None, "these tests need NumPy's OpenBLAS (the BLAS of NumPy's wheels)"
    return ctypes.CDLL(blas.OPENBLAS.library)


@pytest.fixture
def handoffs(openblas):
    """A list that gets an entry for each BLAS call OpenBLAS splits among its (2) threads."""
    calls = []

    def run_jobs(sync, dojob, count, size, data, arg):
        calls.append(count)
        workers = [threading.Thread(target=dojob, args=(i, data + i * size, arg)) for i in range(count)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    set_callback = blas._symbol(openblas, "openblas_set_threads_callback_function")
    set_callback.argtypes = [THREADS_CALLBACK]
    callback = THREADS_CALLBACK(run_jobs)
    before = blas.OPENBLAS.threads()
    blas.OPENBLAS._set(2)
    set_callback(callback)
    yield calls
    set_callback(THREADS_CALLBACK(0))
    blas.OPENBLAS._set(before)


def small_graph(dtype):
    """The small products of a training step (720x64 @ 64x64 and its gradient's 64x720 @
    720x64), a matrix times its own transpose (BLAS syrk), matrix @ vector, and a batched one."""
    x, w, v, s = (gc.placeholder((None,) + shape[1:], dtype, name=n) for shape, n in zip(SHAPES, "xwvs"))
    h = x @ w
    return [x, w, v, s], [h, h.T @ x, x.T @ x, x @ v, s @ w]


def reference(matmul, x, w, v, s):
    h = matmul(x, w)
    return [h, matmul(h.T, x), matmul(x.T, x), matmul(x, v), matmul(s, w)]


def one_thread_matmul(a, b):
    return blas.OPENBLAS.one_thread(np.matmul, a, b)


def feeds(dtype, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "i":
        return [rng.integers(-50, 50, shape).astype(dtype) for shape in SHAPES]
    return [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]


@pytest.fixture(scope="module")
def compiled():
    """{(backend, dtype): the small graph compiled} (matmuls only: no kernels to build)."""
    return {(backend, dtype): gc.compile(*small_graph(dtype), backend=backend)
            for backend in BACKENDS for dtype in ["float64", "float32", "int64", "int32"]}


def test_small_matmuls_hand_no_work_to_blas_threads(compiled, handoffs):
    data = feeds("float64")
    np.matmul(data[0], data[1])
    assert len(handoffs) == 1, "probe check: NumPy's own 720x64 @ 64x64 runs on OpenBLAS's threads"
    handoffs.clear()
    for dtype in ["float64", "float32"]:
        compiled["numba", dtype](*feeds(dtype))
    assert handoffs == []


def _rounding_scale(expected, dtype):
    """Where a sum of hundreds of products cancels to a small entry, BLAS kernels that add in
    another order (one thread or several, AVX2 or AVX-512) differ by rounding errors of the size
    of the large entries, not the small one: an absolute tolerance scaled by the largest."""
    return (1e-6 if dtype == "float32" else 1e-13) * max(1.0, float(np.abs(expected).max()))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_small_matmuls_give_the_one_thread_blas_result(compiled, dtype):
    data = feeds(dtype)
    got = compiled["numba", dtype](*data)
    for value, one_thread, threaded in zip(got, reference(one_thread_matmul, *data), reference(np.matmul, *data)):
        assert value.dtype == threaded.dtype and value.shape == threaded.shape
        np.testing.assert_array_equal(value, one_thread)  # deterministic: never the load's choice
        np.testing.assert_allclose(value, threaded, rtol=1e-5 if dtype == "float32" else 1e-12,
                                   atol=_rounding_scale(threaded, dtype))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["int64", "int32", "float64", "float32"])
def test_matmul_values_equal_numpy(compiled, backend, dtype):
    data = feeds(dtype, seed=1)
    got = compiled[backend, dtype](*data)
    for value, expected in zip(got, reference(np.matmul, *data)):
        assert value.dtype == expected.dtype and value.shape == expected.shape
        if dtype.startswith("int") or backend == "numpy":
            np.testing.assert_array_equal(value, expected)
        else:
            np.testing.assert_allclose(value, expected, rtol=1e-5 if dtype == "float32" else 1e-12,
                                       atol=_rounding_scale(expected, dtype))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_large_matmuls_are_numpys_threaded_call(handoffs, dtype):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((2048, 256)).astype(dtype)  # 2048x256 @ 256x64: 2^25 multiply-adds
    b = rng.standard_normal((256, 64)).astype(dtype)
    assert not blas.on_one_thread(2048, 256, 64, np.dtype(dtype))
    x, y = gc.placeholder((None, 256), dtype), gc.placeholder((256, 64), dtype)
    f = gc.compile([x, y], x @ y)
    handoffs.clear()
    value = f(a, b)
    assert len(handoffs) == 1
    np.testing.assert_array_equal(value, np.matmul(a, b))


def test_thread_count_is_restored_after_concurrent_calls(compiled, openblas):
    f = compiled["numba", "float64"]
    data = feeds("float64")
    expected = reference(one_thread_matmul, *data)
    before = blas.OPENBLAS.threads()
    errors = []

    def calls():
        try:
            for _ in range(30):
                for value, want in zip(f(*data), expected):
                    np.testing.assert_array_equal(value, want)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=calls) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert blas.OPENBLAS.threads() == before
    get_threads = blas._symbol(openblas, "openblas_get_num_threads")
    assert get_threads() == before  # OpenBLAS's own setting, not only graphc's view of it


def test_a_thread_count_the_user_set_is_kept(compiled):
    before = blas.OPENBLAS.threads()
    blas.OPENBLAS._set(1)
    try:
        compiled["numba", "float64"](*feeds("float64"))
        assert blas.OPENBLAS.threads() == 1
    finally:
        blas.OPENBLAS._set(before)
    compiled["numba", "float64"](*feeds("float64"))
    assert blas.OPENBLAS.threads() == before


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gemms_openblas_keeps_on_one_thread_make_no_thread_count_change(handoffs, monkeypatch, dtype):
    """A (32, 64) @ (64, 64) product (an RNN step's) runs on the calling thread inside OpenBLAS
    anyway: graphc calls it as it is, saving the thread-count change a loop body pays every step.
    x @ x.T is NumPy's syrk, which OpenBLAS does hand off at sizes gemm keeps: it still gets the
    one-thread section."""
    changes = []
    real_set = blas.OPENBLAS._set
    monkeypatch.setattr(blas.OPENBLAS, "_set", lambda n: (changes.append(n), real_set(n)))
    x = gc.placeholder((None, 64), dtype, name="x")
    w = gc.placeholder((64, 64), dtype, name="w")
    wide = gc.placeholder((None, 2), dtype, name="wide")
    f = gc.compile([x, w], x @ w)
    syrk = gc.compile([wide], wide @ wide.T)
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((32, 64)).astype(dtype), rng.standard_normal((64, 64)).astype(dtype)
    np.testing.assert_allclose(f(a, b), a @ b, rtol=1e-5 if dtype == "float32" else 1e-13)
    assert changes == [] and handoffs == []
    s = rng.standard_normal((1000, 2)).astype(dtype)
    got = syrk(s)
    assert changes and handoffs == []
    np.testing.assert_allclose(got, s @ s.T, rtol=1e-5 if dtype == "float32" else 1e-13)
