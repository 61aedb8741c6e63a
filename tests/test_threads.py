"""Compiled functions called from several threads at once (API.md section 13), and the bounded
per-shape state a compiled function keeps."""
import sys
import threading
import time
import tracemalloc

import numpy as np
import pytest

import graphc as gc

BACKENDS = ["numba", "numpy"]


@pytest.fixture
def fast_switching():
    """Switch threads every few microseconds, so interleavings that a race needs are common."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def run_threads(target, count):
    errors = []

    def guarded(k):
        try:
            target(k)
        except BaseException as err:  # a failure inside a thread must fail the test
            errors.append(err)

    threads = [threading.Thread(target=guarded, args=(k,)) for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def one_layer_step():
    """Loss and gradients of a 1-layer classifier: matmul results, shared values and partial
    reductions all live in reused buffers on the numba backend."""
    rng = np.random.default_rng(0)
    x = gc.placeholder((None, 24), name="x")
    y = gc.placeholder((None,), "int64", name="y")
    W = gc.Variable(rng.standard_normal((24, 10)) * 0.3, name="W")
    b = gc.Variable(rng.standard_normal(10) * 0.1, name="b")
    h = gc.tanh(x @ W + b)
    loss = gc.cross_entropy(h, y) + 0.01 * gc.sum(W * W)
    return [x, y], [loss, h.sum(axis=0), *gc.grad(loss, [W, b])]


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_calls_each_get_their_own_results(backend, fast_switching):
    inputs, outputs = one_layer_step()
    f = gc.compile(inputs, outputs, backend=backend)
    reference = gc.compile(inputs, outputs, backend="numpy", optimize=False)
    rng = np.random.default_rng(1)
    feeds = [(rng.standard_normal((n, 24)), rng.integers(0, 10, n)) for n in (40, 40, 72, 72, 40, 72)]
    expected = [reference(*feed) for feed in feeds]
    wrong = []

    def worker(k):
        for i in range(60):
            j = (k + i) % len(feeds)
            got = f(*feeds[j])
            for g, e in zip(got, expected[j]):
                if g.shape != e.shape or not np.allclose(g, e, rtol=1e-12, atol=1e-12):
                    wrong.append((k, i))

    run_threads(worker, 4)
    assert wrong == [], f"{len(wrong)} of 240 concurrent calls returned another call's values"


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_updates_are_atomic_and_never_lost(backend, fast_switching):
    a = gc.Variable(np.zeros(5), name="A")
    b = gc.Variable(np.zeros(5), name="B")
    x = gc.placeholder((5,), name="x")
    step = gc.compile([x], [], updates={a: a + x, b: b - x}, backend=backend)
    seen = []
    reader = gc.compile([], [a + b], backend=backend)

    def worker(k):
        for i in range(150):
            step(np.full(5, float(k + 1)))
            if i % 10 == 0:
                seen.append(reader()[0])  # a whole call's state: A + B stays 0

    run_threads(worker, 4)
    np.testing.assert_array_equal(a.value, np.full(5, 150.0 * (1 + 2 + 3 + 4)))
    np.testing.assert_array_equal(a.value + b.value, np.zeros(5))
    assert all(np.array_equal(s, np.zeros(5)) for s in seen)


def test_assigning_value_during_an_updating_call_is_not_lost():
    # The call reads v, spends a while computing, then commits v + ...; an assignment made
    # meanwhile must come after that commit, not be overwritten by it.
    v = gc.Variable(np.ones(1_000_000), name="v")
    slow = sum(gc.sin(v * float(k)) for k in range(1, 25))
    step = gc.compile([], [], updates={v: v + slow}, backend="numpy")
    started = threading.Event()

    def worker(k):
        if k == 0:
            started.set()
            step()
        else:
            started.wait()
            time.sleep(0.03)
            v.value = np.full(1_000_000, 7.0)

    run_threads(worker, 2)
    np.testing.assert_array_equal(v.value, np.full(1_000_000, 7.0))


def exp_kernel(max_plans=4):
    x = gc.placeholder((None,), name="x")
    return gc.compile([x], gc.exp(x) * 2.0, max_plans=max_plans)


def test_plans_are_bounded_and_least_recently_used_goes_first():
    f = exp_kernel(max_plans=2)
    sizes = {"a": 3, "b": 5, "c": 7}
    for key in "abac":  # b is the least recently used when c arrives
        n = sizes[key]
        np.testing.assert_allclose(f(np.arange(n, dtype=float)), np.exp(np.arange(n)) * 2.0, rtol=1e-15)
    assert (f.stats.as_dict()["plans"], f.stats.as_dict()["plan_evictions"]) == (2, 1)
    f(np.arange(3.0))  # a is still there
    assert f.stats.as_dict()["plan_evictions"] == 1
    f(np.arange(5.0))  # b comes back: c or a goes
    assert f.stats.as_dict()["plan_evictions"] == 2
    assert "loop layouts: 2 kept (at most 2 per kernel), 2 evicted" in str(f.stats)


def test_many_input_sizes_do_not_keep_memory():
    f = exp_kernel()
    f(np.zeros(10))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(60):
            f(np.ones(100_000 + n))  # each result dropped at once
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 4 * 800_000, f"{kept / 1e6:.1f} MB kept after 60 input sizes"
    assert f.stats.as_dict()["plans"] <= 4


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_max_plans_must_be_a_positive_int(bad):
    x = gc.placeholder((None,), name="x")
    with pytest.raises(ValueError, match="max_plans must be a positive int"):
        gc.compile([x], gc.exp(x), max_plans=bad)


def test_a_failed_call_returns_its_workspace_to_the_pool():
    x = gc.placeholder((None,), "int64", name="x")
    y = gc.placeholder((None,), "int64", name="y")
    f = gc.compile([x, y], x ** y)
    np.testing.assert_array_equal(f(np.array([2, 3]), np.array([1, 2])), [2, 9])
    pool = f._runner.run.__globals__["free"]
    assert len(pool) == 1
    with pytest.raises(ValueError, match="negative integer powers"):
        f(np.array([2, 3]), np.array([-1, 2]))
    assert len(pool) == 1  # the next call reuses its buffers instead of allocating new ones
    np.testing.assert_array_equal(f(np.array([2, 3]), np.array([3, 0])), [8, 1])
