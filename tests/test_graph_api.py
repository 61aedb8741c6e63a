"""The define-then-run API: leaves, operators, indexing, methods, feeds, updates, outputs,
inspection, and gradient semantics (unconnected inputs, non-differentiable paths, stop_gradient,
grad_y, deep chains)."""
import sys

import networkx as nx
import numpy as np
import pytest

import graphc as gc

HERE = __file__


def compile_np(inputs, outputs, updates=None, **kw):
    return gc.compile(inputs, outputs, updates=updates, backend=kw.pop("backend", "numpy"), **kw)


# ---- leaves ------------------------------------------------------------------------------------
def test_placeholder_constant_variable_attributes():
    x = gc.placeholder((None, 4), "float32", name="x")
    assert isinstance(x, gc.Node)
    assert x.shape == (None, 4) and x.dtype == np.float32 and x.name == "x"
    assert x.op.name == "placeholder" and x.inputs == ()
    assert gc.placeholder(3).shape == (3,) and gc.placeholder(()).shape == ()
    assert gc.placeholder((2,)).dtype == np.float64  # the default dtype
    c = gc.constant([[1, 2], [3, 4]], name="c")
    assert c.op.name == "constant" and c.shape == (2, 2) and c.dtype == np.int64 and c.name == "c"
    assert gc.constant(2.0, dtype="float32").dtype == np.float32
    init = np.arange(6.0).reshape(2, 3)
    w = gc.Variable(init, name="w")
    assert isinstance(w, gc.Node) and w.op.name == "variable"
    assert w.shape == (2, 3) and w.dtype == np.float64 and w.name == "w"
    init[0, 0] = 100.0  # the variable copied its initial value
    np.testing.assert_array_equal(w.value, np.arange(6.0).reshape(2, 3))
    y = x * 2.0 + 1.0
    assert y.op.name == "add" and y.inputs[0].op.name == "mul" and y.inputs[0].inputs[0] is x
    assert y.site.startswith(HERE + ":")


def test_unnamed_placeholders_get_distinct_names_usable_as_keywords():
    a, b = gc.placeholder((2,)), gc.placeholder((2,))
    assert a.name != b.name and a.name.isidentifier() and b.name.isidentifier()
    f = compile_np([a, b], a - b)
    np.testing.assert_array_equal(f(**{a.name: np.ones(2), b.name: np.full(2, 3.0)}), [-2.0, -2.0])


def test_variable_value_is_assignable_and_used_by_the_next_call():
    w = gc.Variable(np.ones(3), name="w")
    x = gc.placeholder((3,), name="x")
    f = compile_np([x], x * w)
    np.testing.assert_array_equal(f(np.arange(3.0)), [0, 1, 2])
    w.value = [2, 2, 2]  # ints are cast to the variable's float dtype
    assert w.value.dtype == np.float64
    np.testing.assert_array_equal(f(np.arange(3.0)), [0, 2, 4])


def test_constant_is_a_frozen_copy():
    data = np.array([1.0, 2.0])
    c = gc.constant(data)
    data[0] = 50.0
    x = gc.placeholder((2,), name="x")
    np.testing.assert_array_equal(compile_np([x], x + c)(np.zeros(2)), [1.0, 2.0])


# ---- operators -----------------------------------------------------------------------------------
def test_operators_and_reflected_operators_with_numpy_on_the_left():
    x = gc.placeholder((3,), name="x")
    a = np.array([1.0, 2.0, 4.0])
    m = np.arange(6.0).reshape(2, 3)
    exprs = {
        "x+a": (x + a, lambda v: v + a), "a+x": (a + x, lambda v: a + v), "a-x": (a - x, lambda v: a - v),
        "a*x": (a * x, lambda v: a * v), "a/x": (a / x, lambda v: a / v), "a**x": (a ** x, lambda v: a ** v),
        "x**a": (x ** a, lambda v: v ** a), "m@x": (m @ x, lambda v: m @ v), "x@a": (x @ a, lambda v: v @ a),
        "-x": (-x, lambda v: -v), "+x": (+x, lambda v: +v), "abs": (abs(x), np.abs), "2-x": (2 - x, lambda v: 2 - v),
        "3/x": (3 / x, lambda v: 3 / v), "1.5**x": (1.5 ** x, lambda v: 1.5 ** v),
        "a<x": (a < x, lambda v: a < v), "a>=x": (a >= x, lambda v: a >= v), "x<=a": (x <= a, lambda v: v <= a),
        "x>2": (x > 2, lambda v: v > 2),
    }
    v = np.array([0.5, 2.0, 3.0])
    outs = compile_np([x], [e for e, _ in exprs.values()])(v)
    for (label, (node, ref)), got in zip(exprs.items(), outs):
        want = ref(v)
        assert isinstance(node, gc.Node), label
        assert node.dtype == want.dtype, label
        np.testing.assert_allclose(got, want, err_msg=label)
    assert exprs["a<x"][0].dtype == np.bool_


INDEXING = [
    ("x[1]", lambda x: x[1]),
    ("x[-1]", lambda x: x[-1]),
    ("x[1, 2]", lambda x: x[1, 2]),
    ("x[1:3, ::2]", lambda x: x[1:3, ::2]),
    ("x[::-1]", lambda x: x[::-1]),
    ("x[None]", lambda x: x[None]),
    ("x[:, None]", lambda x: x[:, None]),
    ("x[..., 0]", lambda x: x[..., 0]),
    ("x[..., None]", lambda x: x[..., None]),
    ("x[idx]", lambda x: x[np.array([3, 0, 0])]),
    ("x[list]", lambda x: x[[1, 2]]),
    ("x[:, idx]", lambda x: x[:, np.array([4, 1])]),
    ("x[idx2d]", lambda x: x[np.array([[0, 1], [1, 0]])]),
    ("x[idx, idx]", lambda x: x[np.array([0, 1]), np.array([2, 3])]),
    ("x[mask]", lambda x: x[np.array([True, False, False, True])]),
    ("x[1:, 4]", lambda x: x[1:, 4]),
    ("x[-3:-1, :-2]", lambda x: x[-3:-1, :-2]),
]


@pytest.mark.parametrize("label,index", INDEXING, ids=[i[0] for i in INDEXING])
def test_indexing_forms_match_numpy(label, index):
    x = gc.placeholder((4, 5), name="x")
    v = np.arange(20.0).reshape(4, 5)
    y = index(x)
    want = index(v)
    assert y.shape == np.shape(want)
    got = compile_np([x], y)(v)
    np.testing.assert_array_equal(got, want)
    # and the gradient scatters back (repeated indices accumulate)
    g = compile_np([x], gc.grad(gc.sum(y * 2.0), x))(v)
    expect = np.zeros_like(v)
    np.add.at(expect, _key_of(index), 2.0)
    np.testing.assert_array_equal(g, expect)


def _key_of(index):
    """Recover the NumPy key an indexing lambda applies (by indexing a recorder)."""
    class Recorder:
        def __getitem__(self, key):
            return key
    return index(Recorder())


def test_indexing_with_a_graph_index_and_unknown_sizes():
    x = gc.placeholder((None, 3), name="x")
    i = gc.placeholder((None,), "int64", name="i")
    f = compile_np([x, i], [x[i], x[i, 1], x[1:, ::2]])
    v = np.arange(15.0).reshape(5, 3)
    rows, col, sl = f(v, np.array([4, 0, 4]))
    np.testing.assert_array_equal(rows, v[[4, 0, 4]])
    np.testing.assert_array_equal(col, v[[4, 0, 4], 1])
    np.testing.assert_array_equal(sl, v[1:, ::2])
    assert x[1:, ::2].shape == (None, 2)


def test_methods():
    x = gc.placeholder((2, 3, 4), name="x")
    v = np.random.default_rng(0).standard_normal((2, 3, 4))
    cases = [
        (x.sum(), v.sum()), (x.sum(axis=1), v.sum(axis=1)), (x.sum(axis=(0, 2), keepdims=True), v.sum((0, 2), keepdims=True)),
        (x.mean(axis=-1), v.mean(-1)), (x.max(axis=0), v.max(0)), (x.min(), v.min()),
        (x.reshape(6, 4), v.reshape(6, 4)), (x.reshape((4, -1)), v.reshape(4, -1)), (x.reshape(-1), v.reshape(-1)),
        (x.transpose(), v.transpose()), (x.transpose(1, 2, 0), v.transpose(1, 2, 0)), (x.T, v.T),
        (x.astype("float32"), v.astype(np.float32)), (x.astype(np.int64), v.astype(np.int64)),
        (x.argmax(axis=2), v.argmax(axis=2)), (x[0].T.sum(axis=1), v[0].T.sum(axis=1)),
    ]
    outs = compile_np([x], [c for c, _ in cases])(v)
    for (node, want), got in zip(cases, outs):
        assert node.shape == np.shape(want) and node.dtype == np.asarray(want).dtype
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_len_and_iteration_of_a_node():
    x = gc.placeholder((3, 2), name="x")
    assert len(x) == 3
    rows = list(x)
    assert len(rows) == 3 and all(r.shape == (2,) for r in rows)
    v = np.arange(6.0).reshape(3, 2)
    for got, want in zip(compile_np([x], rows)(v), v):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(TypeError, match="only known at run time"):
        len(gc.placeholder((None, 2)))


# ---- feeds, outputs, updates -------------------------------------------------------------------
def test_none_dimensions_take_any_size_per_call():
    x = gc.placeholder((None, 3), name="x")
    f = compile_np([x], [x.sum(axis=0), x * 2.0, gc.grad(gc.sum(x ** 2), x)])
    for n in (1, 5, 0, 2):
        v = np.arange(n * 3.0).reshape(n, 3)
        s, d, g = f(v)
        np.testing.assert_array_equal(s, v.sum(axis=0))
        np.testing.assert_array_equal(d, v * 2)
        np.testing.assert_array_equal(g, 2 * v)


def test_positional_and_keyword_feeds():
    x = gc.placeholder((2,), name="x")
    y = gc.placeholder((2,), "int64", name="labels")
    f = compile_np([x, y], x - y)
    a, b = np.array([1.0, 2.0]), np.array([3, 5])
    want = a - b
    np.testing.assert_array_equal(f(a, b), want)
    np.testing.assert_array_equal(f(x=a, labels=b), want)
    np.testing.assert_array_equal(f(labels=b, x=a), want)
    np.testing.assert_array_equal(f(a, labels=b), want)
    np.testing.assert_array_equal(f([1, 2], [3, 5]), want)  # Python lists are accepted
    assert f.inputs == [x, y]


def test_feeds_are_converted_to_the_placeholder_dtype():
    x = gc.placeholder((2,), "float32", name="x")
    f = compile_np([x], x * 2.0)
    out = f(np.array([1.0, 2.0]))  # float64 data into a float32 input: same kind, converted
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [2.0, 4.0])
    assert f([1, 2]).dtype == np.float32
    s = gc.placeholder((), name="s")
    assert compile_np([s], s + 1)(2) == 3.0


def test_outputs_single_node_list_and_tuple():
    x = gc.placeholder((2,), name="x")
    v = np.array([1.0, 2.0])
    single = compile_np([x], x + 1)(v)
    assert isinstance(single, np.ndarray)
    np.testing.assert_array_equal(single, [2, 3])
    listed = compile_np([x], [x + 1])(v)
    assert isinstance(listed, list) and len(listed) == 1
    a, b = compile_np([x], (x + 1, x * 3))(v)
    np.testing.assert_array_equal(b, [3, 6])
    assert compile_np(x, x.sum())(v) == 3.0  # a single input node needs no list
    same_twice = compile_np([x], [x * 2, x * 2])(v)
    np.testing.assert_array_equal(same_twice[0], same_twice[1])
    same_twice[0][0] = 99.0  # two outputs never share memory
    assert same_twice[1][0] == 2.0


def test_outputs_do_not_alias_state_feeds_or_constants():
    w = gc.Variable(np.ones(2), name="w")
    x = gc.placeholder((2,), name="x")
    c = gc.constant(np.zeros(2))
    f = compile_np([x], [w, x, c])
    fed = np.array([5.0, 6.0])
    out_w, out_x, out_c = f(fed)
    out_w[0] = 42.0
    out_x[0] = 42.0
    out_c[0] = 42.0
    np.testing.assert_array_equal(w.value, [1.0, 1.0])
    np.testing.assert_array_equal(fed, [5.0, 6.0])
    np.testing.assert_array_equal(f(fed)[2], [0.0, 0.0])


def test_updates_are_applied_simultaneously():
    a = gc.Variable(np.array([1.0, 2.0]), name="a")
    b = gc.Variable(np.array([3.0, 4.0]), name="b")
    swap = compile_np([], [a + b], updates={a: b, b: a})
    np.testing.assert_array_equal(swap()[0], [4.0, 6.0])  # outputs see the values before the call
    np.testing.assert_array_equal(a.value, [3.0, 4.0])
    np.testing.assert_array_equal(b.value, [1.0, 2.0])
    swap()
    np.testing.assert_array_equal(a.value, [1.0, 2.0])
    step = compile_np([], [], updates={a: a * 10, b: a + b})  # b reads the old a
    assert step() == []
    np.testing.assert_array_equal(a.value, [10.0, 20.0])
    np.testing.assert_array_equal(b.value, [4.0, 6.0])


def test_sgd_step_with_gradient_updates():
    rng = np.random.default_rng(0)
    xv, yv = rng.standard_normal((8, 3)), rng.integers(0, 2, 8)
    x = gc.placeholder((None, 3), name="x")
    y = gc.placeholder((None,), "int64", name="y")
    W = gc.Variable(np.zeros((3, 2)), name="W")
    b = gc.Variable(np.zeros(2), name="b")
    loss = gc.cross_entropy(x @ W + b, y)
    gW, gb = gc.grad(loss, [W, b])
    step = compile_np([x, y], [loss, gW], updates={W: W - 0.5 * gW, b: b - 0.5 * gb})
    first, g0 = step(xv, yv)
    np.testing.assert_allclose(first, np.log(2.0))
    p = np.full((8, 2), 0.5)
    np.testing.assert_allclose(g0, xv.T @ (p - np.eye(2)[yv]) / 8)
    np.testing.assert_allclose(W.value, -0.5 * g0)
    losses = [step(xv, yv)[0] for _ in range(20)]
    assert losses[-1] < losses[0] < first


def test_updates_are_not_applied_when_the_call_fails():
    x = gc.placeholder((None,), name="x")
    labels = gc.placeholder((None,), "int64", name="labels")
    a = gc.Variable(np.array([1.0]), name="a")
    b = gc.Variable(np.array([5.0]), name="b")
    loss = gc.cross_entropy(gc.reshape(x, (-1, 1)) * a, labels)
    f = compile_np([x, labels], loss, updates={a: a + 1, b: b + x.sum()})
    f(np.array([1.0]), np.array([0]))
    np.testing.assert_array_equal([a.value[0], b.value[0]], [2.0, 6.0])
    with pytest.raises(gc.FeedError):  # before anything runs
        f(np.array([1.0]), np.array([0.5]))
    with pytest.raises(IndexError, match="labels must lie in"):  # while running
        f(np.array([1.0]), np.array([3]))
    np.testing.assert_array_equal([a.value[0], b.value[0]], [2.0, 6.0])
    # an update whose run-time shape is wrong: checked before any variable is assigned
    g = compile_np([x], [], updates={a: a + 1, b: b + x})
    with pytest.raises(gc.ShapeError, match="no variable was changed"):
        g(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal([a.value[0], b.value[0]], [2.0, 6.0])
    g(np.array([1.0]))
    np.testing.assert_array_equal([a.value[0], b.value[0]], [3.0, 7.0])


# ---- inspection --------------------------------------------------------------------------------
def _small_model():
    x = gc.placeholder((None, 3), name="x")
    W = gc.Variable(np.ones((3, 2)), name="W")
    h = gc.tanh(x @ W)
    loss = gc.mean(h * h)
    g = gc.grad(loss, W)
    return x, W, loss, g


def test_graph_listing():
    x, W, loss, g = _small_model()
    f = compile_np([x], [loss, g], updates={W: W - 0.1 * g})
    text = str(f.graph)
    lines = text.splitlines()
    assert lines[0].startswith("graph(x: float64(?, 3))")
    assert "placeholder" in text and "variable" in text and "matmul" in text and "tanh" in text
    assert "float64(?, 2)" in text and "float64(3, 2)" in text
    assert any(line.strip().startswith("return ") for line in lines)
    assert any(line.strip().startswith("update W <- ") for line in lines)
    assert f"{HERE}:" in text  # each node keeps the user's file:line
    # topological order: every input is defined on an earlier line
    labels = f.graph.labels()
    seen = set()
    for node in f.graph.nodes:
        assert all(labels[id(i)] in seen for i in node.inputs)
        seen.add(labels[id(node)])
    node_lines = [line for line in lines[1:] if " = " in line]
    assert len(node_lines) == len(f.graph.nodes) == len(f.graph)
    assert repr(f.graph) == text


def test_graph_to_networkx_and_dot():
    x, W, loss, g = _small_model()
    f = compile_np([x], [loss, g], updates={W: W - 0.1 * g})
    G = f.graph.to_networkx()
    assert isinstance(G, nx.DiGraph)
    assert G.number_of_nodes() == len(f.graph.nodes)
    assert nx.is_directed_acyclic_graph(G.subgraph([n for n in G if n != "W"]))
    ops = nx.get_node_attributes(G, "op")
    assert ops["x"] == "placeholder" and ops["W"] == "variable"
    assert "matmul" in ops.values() and "tanh" in ops.values()
    assert G.nodes["x"]["shape"] == (None, 3) and G.nodes["x"]["dtype"] == "float64"
    outputs = {n: d["output"] for n, d in G.nodes(data=True) if "output" in d}
    assert sorted(outputs.values()) == [0, 1]
    assert any(d.get("update") for _, _, d in G.edges(data=True))
    edges = sum(len(n.inputs) for n in f.graph.nodes)
    assert G.number_of_edges() >= edges - 1  # duplicate (a, a) edges collapse in a DiGraph
    dot = f.graph.to_dot()
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert '"x"' in dot and "matmul" in dot and "float64(?, 3)" in dot and "->" in dot
    assert "update" in dot
    assert dot.count("[label=") >= len(f.graph.nodes)


def test_stats_fields():
    x, W, loss, g = _small_model()
    f = compile_np([x], [loss, g])
    s = f.stats
    assert s.backend == "numpy"
    assert s.nodes_before > 0 and 0 < s.nodes_after <= s.nodes_before
    assert s.compile_time > 0
    assert s.kernels == 0
    assert s.passes and all({"name", "nodes_before", "nodes_after", "seconds"} <= set(p) for p in s.passes)
    names = [p["name"] for p in s.passes]
    assert "constant_fold" in names and "cse" in names
    assert s.passes[0]["nodes_before"] == s.nodes_before and s.passes[-1]["nodes_after"] == s.nodes_after
    for before, after in zip(s.passes, s.passes[1:]):
        assert before["nodes_after"] == after["nodes_before"]
    d = s.as_dict()
    for key in ("backend", "nodes_before", "nodes_after", "passes", "kernels", "compile_time", "cache_hits",
                "cache_misses", "slow_paths"):
        assert key in d
    assert s["kernels"] == 0
    text = str(s)
    assert "numpy" in text and "constant_fold" in text
    unopt = compile_np([x], [loss, g], optimize=False)
    assert unopt.stats.passes == [] and unopt.stats.nodes_after == unopt.stats.nodes_before


def test_debugprint():
    x, W, loss, g = _small_model()
    text = gc.debugprint(loss)
    assert "placeholder" in text and "matmul" in text and "tanh" in text and "mean" in text
    assert f"{HERE}:" in text
    assert "return" in text
    both = gc.debugprint([loss, g])
    assert len(both.splitlines()) > len(text.splitlines())
    with pytest.raises(TypeError, match="expected graph nodes"):
        gc.debugprint([3.0])


def test_repr_of_nodes_and_functions():
    x = gc.placeholder((None, 2), "float32", name="x")
    assert "x" in repr(x) and "float32(?, 2)" in repr(x) and "placeholder" in repr(x)
    w = gc.Variable(np.zeros(3), name="w")
    assert "w" in repr(w) and "float64(3,)" in repr(w)
    f = compile_np([x], x * 2)
    assert "x" in repr(f) and "numpy" in repr(f)


# ---- gradient semantics ------------------------------------------------------------------------
def test_grad_of_unconnected_input_is_zeros_of_its_shape():
    x = gc.placeholder((2, 3), name="x")
    z = gc.placeholder((None, 4), name="z")
    w = gc.Variable(np.ones((5,)), name="w")
    y = gc.sum(x * 2.0)
    gz, gw, gx = gc.grad(y, [z, w, x])
    assert gz.shape == (None, 4) and gw.shape == (5,)
    got_z, got_w, got_x = compile_np([x, z], [gz, gw, gx])(np.ones((2, 3)), np.ones((7, 4)))
    np.testing.assert_array_equal(got_z, np.zeros((7, 4)))
    np.testing.assert_array_equal(got_w, np.zeros(5))
    np.testing.assert_array_equal(got_x, np.full((2, 3), 2.0))
    # a single node in gives a single node out
    assert isinstance(gc.grad(y, x), gc.Node)


@pytest.mark.parametrize("label,make,opname", [
    ("argmax", lambda x: gc.argmax(x, axis=1).astype("float64"), "argmax"),
    ("comparison", lambda x: (x > 0).astype("float64") * 3.0, "greater"),
    ("int_cast", lambda x: x.astype("int64").astype("float64"), "cast"),
    ("equal", lambda x: gc.equal(x, 1.0) * 2.0, "equal"),
])
def test_grad_through_a_nondifferentiable_op_raises_naming_it(label, make, opname):
    x = gc.placeholder((2, 3), name="x")
    y = gc.sum(make(x))
    with pytest.raises(gc.GradientError) as info:
        gc.grad(y, x)
    msg = str(info.value)
    assert f"'{opname}'" in msg and "x" in msg and f"{HERE}:" in msg and "stop_gradient" in msg


def test_one_differentiable_path_is_enough():
    x = gc.placeholder((3,), name="x")
    y = gc.sum(x * (x > 0).astype("float64") + gc.argmax(x).astype("float64") + x)
    v = np.array([-1.0, 2.0, 0.5])
    np.testing.assert_array_equal(compile_np([x], gc.grad(y, x))(v), (v > 0) + 1.0)


def test_comparison_feeding_where_is_fine():
    x = gc.placeholder((4,), name="x")
    y = gc.sum(gc.where(x > 0, x * x, -x))
    v = np.array([-2.0, -0.5, 1.0, 3.0])
    np.testing.assert_array_equal(compile_np([x], gc.grad(y, x))(v), np.where(v > 0, 2 * v, -1.0))
    # only the condition depends on c: c is simply not connected, its gradient is zero
    c = gc.placeholder((4,), name="c")
    y2 = gc.sum(gc.where(c > 0, 1.0, 2.0) * x)
    gc_, gx = compile_np([x, c], gc.grad(y2, [c, x]))(v, v)
    np.testing.assert_array_equal(gc_, np.zeros(4))
    np.testing.assert_array_equal(gx, np.where(v > 0, 1.0, 2.0))


def test_stop_gradient_gives_zeros():
    x = gc.placeholder((3,), name="x")
    v = np.array([1.0, 2.0, 3.0])
    g_only, g_mixed = compile_np([x], [gc.grad(gc.sum(gc.stop_gradient(x) ** 2), x),
                                       gc.grad(gc.sum(x * gc.stop_gradient(x)), x)])(v)
    np.testing.assert_array_equal(g_only, np.zeros(3))
    np.testing.assert_array_equal(g_mixed, v)
    np.testing.assert_array_equal(compile_np([x], gc.stop_gradient(x) * 2)(v), 2 * v)


def test_grad_y_gives_vector_jacobian_products():
    x = gc.placeholder((3,), name="x")
    W = gc.constant(np.arange(6.0).reshape(2, 3))
    y = W @ gc.exp(x)
    gy = gc.placeholder((2,), name="gy")
    v, u = np.array([0.1, -0.2, 0.3]), np.array([1.0, -2.0])
    got = compile_np([x, gy], gc.grad(y, x, grad_y=gy))(v, u)
    np.testing.assert_allclose(got, (u @ np.arange(6.0).reshape(2, 3)) * np.exp(v))
    got2 = compile_np([x], gc.grad(y, [x], grad_y=np.array([0.0, 1.0])))(v)
    np.testing.assert_allclose(got2[0], np.arange(3.0, 6.0) * np.exp(v))


def test_grad_of_non_scalar_without_grad_y_raises():
    x = gc.placeholder((3,), name="x")
    y = gc.exp(x)
    with pytest.raises(gc.ShapeError, match=r"must be a scalar.*\(3,\).*grad_y"):
        gc.grad(y, x)
    with pytest.raises(gc.ShapeError, match=r"grad_y has shape \(2,\)"):
        gc.grad(y, x, grad_y=np.ones(2))


def test_grad_wrt_intermediate_nodes_and_variables():
    x = gc.placeholder((3,), name="x")
    w = gc.Variable(np.array([1.0, 2.0, 3.0]), name="w")
    h = x * w
    y = gc.sum(gc.sin(h))
    gh, gw, gx = gc.grad(y, [h, w, x])
    v = np.array([0.3, -0.1, 0.2])
    got_h, got_w, got_x = compile_np([x], [gh, gw, gx])(v)
    hv = v * w.value
    np.testing.assert_allclose(got_h, np.cos(hv))
    np.testing.assert_allclose(got_w, np.cos(hv) * v)
    np.testing.assert_allclose(got_x, np.cos(hv) * w.value)


def test_jvp_api():
    x = gc.placeholder((3,), name="x")
    y = gc.placeholder((3,), name="y")
    f1, f2 = x * y, gc.sum(gc.exp(x))
    t1, t2 = gc.jvp([f1, f2], [x, y], [np.ones(3), np.zeros(3)])
    single = gc.jvp(f2, x, np.ones(3))
    v, u = np.array([0.0, 1.0, 2.0]), np.array([3.0, 4.0, 5.0])
    a, b, c = compile_np([x, y], [t1, t2, single])(v, u)
    np.testing.assert_allclose(a, u)
    np.testing.assert_allclose(b, np.exp(v).sum())
    np.testing.assert_allclose(c, b)
    with pytest.raises(ValueError, match="2 tangents for 1 inputs"):
        gc.jvp(f1, [x], [np.ones(3), np.ones(3)])
    unrelated = gc.jvp(gc.sum(y), x, np.ones(3))
    assert compile_np([y], unrelated)(u) == 0.0


def test_long_chain_builds_differentiates_and_compiles_without_recursion_error():
    depth = 1000
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(min(old_limit, 1000))  # a recursive graph walk would fail on this chain
    try:
        _long_chain(depth)
    finally:
        sys.setrecursionlimit(old_limit)


def _long_chain(depth):
    x = gc.placeholder((3,), name="x")
    y = x
    for i in range(depth):
        y = gc.sin(y) if i % 2 else y * 0.999
    loss = gc.sum(y)
    g = gc.grad(loss, x)
    text = gc.debugprint(g)
    assert text.count("sin(") >= depth // 2
    f = compile_np([x], [loss, g])
    v = np.array([0.1, 0.5, -0.3])
    want_y, want_g = v.copy(), np.ones(3)
    for i in range(depth):
        if i % 2:
            want_g = want_g * np.cos(want_y)
            want_y = np.sin(want_y)
        else:
            want_y, want_g = want_y * 0.999, want_g * 0.999
    got_loss, got_g = f(v)
    np.testing.assert_allclose(got_loss, want_y.sum(), rtol=1e-12)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-10)
    assert len(f.graph.nodes) > depth
    str(f.graph), f.graph.to_dot(), f.graph.to_networkx()
