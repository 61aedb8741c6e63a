"""Random values in graph mode (gc.random.*) and dropout, graph and eager.

Values are checked against an independent Philox reference (op_domains_random.reference), bit
for bit between the numpy and numba backends, per call (a new counter each call, advanced once
however often the node is used), in loops split between threads, and in distribution (fixed
seeds, deterministic bounds). Dropout is compared with PyTorch's formula on the same mask.
"""
import threading

import numpy as np
import pytest
import torch

import graphc as gc
from graphc.backends.numba_backend import runner
from graphc.ir import philox
from graphc.ir.ops.random import RANDOM_UNIFORM, GeneratorState
from op_domains_random import philox_words, reference

BACKENDS = ["numpy", "numba"]


def bits(a):
    a = np.ascontiguousarray(np.atleast_1d(a))
    return a.view(np.uint8).tobytes()


def state_of(node):
    (state,) = [x for x in node.inputs if isinstance(x, GeneratorState)]
    return int(state.value)


# ---- the generator ------------------------------------------------------------------------------
KAT = [  # Random123 tests/kat_vectors, philox4x32 10: counter words, key words -> result words
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter, key, want", KAT)
def test_philox_known_answers(counter, key, want):
    words = philox.philox4x32(*[np.uint64(w) for w in counter + key])
    assert tuple(int(w) for w in words) == want
    # the reference of the op domains is the same function, written independently
    index, call = counter[0] | counter[1] << 32, counter[2] | counter[3] << 32
    assert tuple(philox_words(key[0] | key[1] << 32, call, index)) == want


def test_log_and_cos_polynomials_are_accurate_over_the_whole_range():
    u = np.concatenate([np.random.default_rng(0).random(200000), [2.0 ** -53, 0.5, 1 - 2.0 ** -53, 1.0]])
    u = np.maximum(u, 2.0 ** -53)
    want = np.log(u)
    assert np.max(np.abs(philox.log_unit(u) - want) / np.maximum(np.abs(want), 1e-300)) < 9e-16  # 4 ulp
    assert philox.log_unit(np.array(1.0)) == 0.0
    t = np.concatenate([np.random.default_rng(1).random(200000), [0.0, 0.25, 0.5, 0.75, 1 - 2.0 ** -53]])
    assert np.max(np.abs(philox.cos_two_pi(t) - np.cos(2 * np.pi * t))) < 1e-15


# ---- values per call, on both backends ---------------------------------------------------------
def _compiled(kind, dtype, backend, shape=(3, 5), seed=123):
    draw = gc.random.uniform if kind == "uniform" else gc.random.normal
    u = draw(shape, dtype=dtype, seed=seed)
    return u, gc.compile([], u, backend=backend)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["uniform", "normal"])
def test_same_seed_same_stream_bit_identical_on_both_backends(kind, dtype):
    runs = {}
    for backend in BACKENDS:
        _, f = _compiled(kind, dtype, backend)
        runs[backend] = [f() for _ in range(3)]
    for a, b in zip(runs["numpy"], runs["numba"]):
        assert a.dtype == np.dtype(dtype) and a.shape == (3, 5)
        assert bits(a) == bits(b)
    first, second, third = runs["numba"]
    assert not np.any(first == second) and not np.any(second == third)  # new values every call
    for call, got in enumerate(runs["numpy"]):  # call k draws with counter k
        # the reference's normal uses NumPy's log and cos: equal to a few ulp of the sample's scale
        rtol, atol = (1e-15, 1e-14) if dtype == "float64" else (2e-7, 1e-6)
        np.testing.assert_allclose(got, reference(kind, (3, 5), dtype, key=123, counter=call), rtol=rtol, atol=atol)


@pytest.mark.parametrize("backend", BACKENDS)
def test_state_advances_once_per_call_however_often_the_node_is_used(backend):
    u = gc.random.uniform((4,), seed=9)
    f = gc.compile([], [u, u * 2.0, gc.sum(u)], backend=backend)
    g = gc.compile([], u + u, backend=backend)  # another function reading the same state
    for call in range(3):
        a, b, s = f()
        want = reference("uniform", (4,), np.float64, key=9, counter=2 * call)
        assert bits(a) == bits(want) and bits(b) == bits(want * 2.0)
        np.testing.assert_allclose(s, want.sum(), rtol=1e-15)
        assert bits(g()) == bits(reference("uniform", (4,), np.float64, key=9, counter=2 * call + 1) * 2)
    assert state_of(u) == 6


def test_a_failed_call_advances_nothing():
    x = gc.placeholder((None,), name="x")
    u = gc.random.uniform((3,), seed=4)
    f = gc.compile([x], [u, gc.reshape(x, (2, 3))])
    with pytest.raises(Exception):
        f(np.zeros(5))
    assert state_of(u) == 0
    assert bits(f(np.zeros(6))[0]) == bits(reference("uniform", (3,), np.float64, key=4, counter=0))


def test_concurrent_calls_each_get_their_own_counter():
    u = gc.random.uniform((64,), seed=77)
    f = gc.compile([], u)
    results, lock = [], threading.Lock()

    def worker():
        for _ in range(10):
            value = f()
            with lock:
                results.append(bits(value))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    want = {bits(reference("uniform", (64,), np.float64, key=77, counter=c)) for c in range(40)}
    assert sorted(results) == sorted(want)
    assert state_of(u) == 40


def test_unseeded_draws_differ_and_manual_seed_reproduces_them():
    gc.manual_seed(2024)
    a, b = gc.random.uniform((8,)), gc.random.uniform((8,))
    f = gc.compile([], [a, b])
    va, vb = f()
    assert not np.any(va == vb)
    assert sum(1 for n in f.graph.walk() if n[0].op.draws_random) == 2  # CSE merged nothing
    gc.manual_seed(2024)
    c = gc.random.uniform((8,))
    assert bits(gc.compile([], c)()) == bits(va)
    # the same seed twice: two draws of one stream, equal values, two states
    d, e = gc.random.normal((5,), seed=3), gc.random.normal((5,), seed=3)
    vd, ve = gc.compile([], [d, e])()
    assert bits(vd) == bits(ve)


def test_constant_folding_keeps_a_random_op_with_constant_inputs():
    from graphc.ir.dispatch import apply

    u = apply(RANDOM_UNIFORM, gc.constant(np.uint64(1)), gc.constant(np.uint64(0)), shape=(3,), dtype="float64")
    f = gc.compile([], u * 2.0, backend="numpy")
    assert any(n.op is RANDOM_UNIFORM for n, _ in f.graph.walk())


def test_random_values_are_fused_into_the_kernel_that_reads_them():
    x = gc.placeholder((None, 4), name="x")
    f = gc.compile([x], gc.random.normal(x.shape, seed=1) * x + 1.0)
    assert f.stats.kernels == 2  # the loop, and the state's advance
    f(np.ones((2, 4)))
    assert "philox_normal(" in f.source


# ---- loops split between threads ---------------------------------------------------------------
def _split_everything(monkeypatch):
    monkeypatch.setattr(runner, "PARALLEL_THRESHOLD", 8)
    monkeypatch.setattr(runner, "_threads", lambda: 3)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_split_loops_give_the_values_of_the_unsplit_loop(monkeypatch, dtype):
    def build():
        x = gc.placeholder((None, 7), dtype, name="x")
        u = gc.random.uniform(x.shape, seed=5, dtype=dtype)
        z = gc.random.normal((10, 7), seed=6, dtype=dtype)
        outs = [u * x, z, gc.max(z * x, axis=0), gc.max(u, axis=1)]  # max: exact in any order
        return x, outs

    a = np.random.default_rng(0).standard_normal((10, 7)).astype(dtype)
    x, outs = build()
    reference_run = gc.compile([x], outs, backend="numpy")(a)
    _split_everything(monkeypatch)
    x, outs = build()
    f = gc.compile([x], outs)
    got = f(a)
    for g, w in zip(got, reference_run):
        assert bits(g) == bits(w)
    split = [plan.split for _, r in f._runner.runners for plan in r.plans.values() if r.kernel.draws_random]
    assert split and all(split)


# ---- distributions (fixed seeds: deterministic bounds) ----------------------------------------
N = 200_000


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_uniform_distribution(dtype):
    u = gc.compile([], gc.random.uniform((N,), low=-2.0, high=3.0, dtype=dtype, seed=31))()
    assert u.dtype == np.dtype(dtype) and u.min() >= -2.0 and u.max() < 3.0
    assert abs(u.mean() - 0.5) < 0.02 and abs(u.var() - 25 / 12) < 0.03
    counts, _ = np.histogram(u, bins=20, range=(-2, 3))
    assert np.all(np.abs(counts - N / 20) < 5 * np.sqrt(N / 20))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_normal_distribution(dtype):
    from math import erf, sqrt

    z = gc.compile([], gc.random.normal((N,), mean=1.0, std=2.0, dtype=dtype, seed=32))()
    assert z.dtype == np.dtype(dtype)
    assert abs(z.mean() - 1.0) < 0.02 and abs(z.std() - 2.0) < 0.02
    edges = np.linspace(-3, 3, 13)
    counts, _ = np.histogram((z - 1.0) / 2.0, bins=edges)
    expected = N * np.diff([0.5 * (1 + erf(e / sqrt(2))) for e in edges])
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected) + 5)
    assert np.max(np.abs(z - 1.0) / 2.0) < 8.6  # Box-Muller on 53-bit uniforms


def test_bernoulli():
    m = gc.compile([], gc.random.bernoulli(0.3, (N,), seed=33))()
    assert m.dtype == np.bool_ and abs(m.mean() - 0.3) < 0.01
    assert not gc.compile([], gc.random.bernoulli(0.0, (100,), seed=1))().any()
    assert gc.compile([], gc.random.bernoulli(1.0, (100,), seed=1))().all()


# ---- run-time shapes ---------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_none_batch_shape_takes_the_fed_size(backend):
    x = gc.placeholder((None, 3), name="x")
    u = gc.random.uniform(x.shape, seed=8)
    assert u.shape == (None, 3)
    f = gc.compile([x], [u, gc.dropout(x, 0.5, seed=9)], backend=backend)
    small, _ = f(np.ones((2, 3)))
    big, dropped = f(np.ones((5, 3)))
    assert small.shape == (2, 3) and big.shape == (5, 3) and dropped.shape == (5, 3)
    # element i's value depends only on (key, counter, i): the rows of a small batch are a prefix
    assert bits(small) == bits(reference("uniform", (2, 3), np.float64, key=8, counter=0))
    assert bits(big) == bits(reference("uniform", (5, 3), np.float64, key=8, counter=1))
    assert set(np.unique(dropped)) <= {0.0, 2.0}



def test_the_shape_of_an_expression_built_in_place_is_usable():
    # (x @ w).shape outlives the expression it came from, which nothing else keeps
    x = gc.placeholder((None, 3), name="x")
    w = np.ones((3, 2))
    u = gc.random.uniform((x @ w).shape, seed=8)
    z = gc.random.normal(gc.transpose(x).shape, seed=9)
    small_u, small_z = gc.compile([x], [u, z])(np.ones((4, 3)))
    assert small_u.shape == (4, 2) and small_z.shape == (3, 4)

# ---- dropout -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_matches_torch_on_its_mask_and_its_gradient_uses_that_mask(backend, dtype):
    p = 0.3
    a = np.random.default_rng(1).uniform(0.5, 2.0, (50, 8)).astype(dtype)
    r = np.random.default_rng(2).standard_normal((50, 8)).astype(dtype)
    x = gc.placeholder((None, 8), dtype, name="x")
    y = gc.dropout(x, p, seed=12)
    f = gc.compile([x], [y, gc.grad(gc.sum(y * r), x)], backend=backend)
    for _ in range(2):
        got, grad = f(a)
        keep = got != 0
        assert 0.6 < keep.mean() < 0.8
        xt = torch.tensor(a, requires_grad=True)
        want = xt * (torch.tensor(keep.astype(dtype)) / (1 - p))  # torch's dropout given the mask
        want.backward(torch.tensor(r))
        assert bits(got) == bits(want.detach().numpy())
        assert bits(grad) == bits(xt.grad.numpy())
        np.testing.assert_allclose(grad, r * keep / (1 - p), rtol=1e-6)
    assert f(a)[0].dtype == np.dtype(dtype)


def test_dropout_edges():
    x = gc.placeholder((4,), name="x")
    assert gc.dropout(x, 0.5, training=False) is x and gc.dropout(x, 0.0) is x
    f = gc.compile([x], gc.dropout(x, 1.0))
    out = f(np.array([1.0, -2.0, np.inf, 3.0]))
    assert out.tolist()[:2] == [0.0, -0.0] and np.isnan(out[2])  # torch: x * 0
    g = gc.compile([x], gc.grad(gc.sum(gc.dropout(x, 1.0)), x))(np.ones(4))
    assert not g.any()


@pytest.mark.parametrize("call, error, match", [
    (lambda x: gc.dropout(x, 1.5), ValueError, r"p must be a number in \[0, 1\]"),
    (lambda x: gc.dropout(x, -0.1), ValueError, r"p must be a number in \[0, 1\]"),
    (lambda x: gc.dropout(x, 0.5, training=1), TypeError, "training must be a bool"),
    (lambda x: gc.dropout(gc.placeholder((3,), "int64"), 0.5), TypeError, "floating point"),
    (lambda x: gc.random.bernoulli(2.0, (3,)), ValueError, r"p must be a number in \[0, 1\]"),
    (lambda x: gc.random.uniform((None, 3)), gc.ShapeError, r"must come whole from a node, as gc.random.uniform\(x"),
    (lambda x: gc.random.uniform((x.shape[0], 3)), gc.ShapeError, "holds None"),
    (lambda x: gc.random.uniform((2, -1)), gc.ShapeError, "non-negative ints"),
    (lambda x: gc.random.uniform((2.5,)), gc.ShapeError, "non-negative ints"),
    (lambda x: gc.random.uniform("3"), TypeError, "shape must be a tuple"),
    (lambda x: gc.random.uniform((3,), dtype="int32"), TypeError, "dtype must be float64 or float32"),
    (lambda x: gc.random.normal((3,), dtype="float16"), TypeError, "dtype must be float64 or float32"),
    (lambda x: gc.random.normal((3,), std=-1.0), ValueError, "std must be >= 0"),
    (lambda x: gc.random.uniform((3,), low=2.0, high=1.0), ValueError, "low <= high"),
    (lambda x: gc.random.uniform((3,), seed=-1), ValueError, r"seed must be in \[0, 2\*\*64\)"),
    (lambda x: gc.random.uniform((3,), seed=1.5), TypeError, "seed must be an int"),
])
def test_errors(call, error, match):
    x = gc.placeholder((None, 3), name="x")
    with pytest.raises(error, match=match):
        call(x)


def test_a_generator_state_cannot_be_updated_by_the_user():
    u = gc.random.uniform((3,), seed=1)
    state = [x for x in u.inputs if isinstance(x, GeneratorState)][0]
    with pytest.raises(ValueError, match="generator state of a random node"):
        gc.compile([], u, updates={state: state + np.uint64(2)})


# ---- control flow --------------------------------------------------------------------------------
@pytest.mark.parametrize("build", [
    lambda x: gc.scan(lambda c, _: (c + gc.random.normal((3,)), c), x, length=4),
    lambda x: gc.scan(lambda c, _: (gc.dropout(c, 0.5), c), x, length=4),
    lambda x: gc.fori_loop(0, 3, lambda i, c: c + gc.random.uniform((3,)), x),
    lambda x: gc.while_loop(lambda c: gc.sum(c) < 10, lambda c: c + gc.random.uniform((3,)), x),
])
def test_random_values_inside_a_loop_body_are_refused_when_it_is_built(build):
    with pytest.raises(NotImplementedError, match="inside a loop body are not supported yet"):
        build(gc.placeholder((3,), name="x"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_random_values_in_a_cond_branch_advance_once_per_call(backend):
    x = gc.placeholder((3,), name="x")
    y = gc.cond(gc.sum(x) > 0, lambda v: v * gc.random.uniform((3,), seed=2), lambda v: v * 1.0, x)
    f = gc.compile([x], y, backend=backend)
    ones = np.ones(3)
    assert bits(f(ones)) == bits(reference("uniform", (3,), np.float64, key=2, counter=0))
    assert bits(f(-ones)) == bits(-ones)
    assert bits(f(ones)) == bits(reference("uniform", (3,), np.float64, key=2, counter=2))


# ---- eager mode ----------------------------------------------------------------------------------
def test_eager_dropout_backward_uses_its_mask_and_manual_seed_reproduces_it():
    a = np.random.default_rng(3).uniform(0.5, 2.0, (6, 5))
    gc.manual_seed(11)
    t = gc.tensor(a, requires_grad=True)
    y = gc.dropout(t, 0.4)
    y.backward(gc.tensor(np.ones_like(a)))
    keep = y.detach().numpy() != 0
    assert bits(y.detach().numpy()) == bits(a * (keep / 0.6))
    assert bits(t.grad.numpy()) == bits(keep * (1 / 0.6))
    gc.manual_seed(11)
    again = gc.dropout(gc.tensor(a), 0.4).numpy()
    assert bits(again) == bits(y.detach().numpy())
    assert gc.dropout(t, 0.4, training=False) is t


def test_eager_dropout_with_a_seed_is_the_first_call_of_the_graph():
    a = np.arange(1.0, 21.0)
    x = gc.placeholder((20,), name="x")
    graph_first = gc.compile([x], gc.dropout(x, 0.5, seed=99))(a)
    assert bits(gc.dropout(gc.tensor(a), 0.5, seed=99).numpy()) == bits(graph_first)
