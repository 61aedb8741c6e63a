"""The op registry drives the tests: every registered op must have a test domain, every case must
really exercise its op, and the forward, gradient and second-order graphs of all cases together
must reach every op (internal helpers such as sum_like or getitem_grad included)."""
import numpy as np
import pytest

import graphc as gc
from graphc.ir import OPS, Op
from graphc.ir.ops.elementwise import Elementwise
from op_domains import ALL_CASES, DOMAINS, GRAD_CASES, SECOND_ORDER_CASES, case_ids, ops_in

LEAVES = {"placeholder", "constant", "variable", "parameter"}
# Ops no derivative passes through (not differentiable, or only non-gradient inputs), by arity.
NO_DERIVATIVE = {"argmax": 1, "axis_size": 1, "zeros_like": 1, "one_hot_like": 2, "stop_gradient": 1,
                 "random_uniform": 3, "random_uniform_float32": 3, "random_normal": 3,
                 "any": 1, "all": 1, "argsort": 1, "topk_indices": 1}
# Ops no user builds (fused kernels, body parameters, tuple projections) are exercised through
# the passes that make them: tests/test_subgraphs.py and the fusion tests.
BY_PASSES = {name for name, op in OPS.items() if op.created_by_passes}


def test_ops_only_passes_create():
    assert BY_PASSES == {"fused", "parameter", "part"}


def test_every_op_has_a_test_domain():
    missing = sorted(set(OPS) - set(DOMAINS) - BY_PASSES)
    assert not missing, f"ops without a test domain in tests/op_domains.py: {missing}"


def test_no_domain_for_an_unregistered_op():
    stale = sorted(set(DOMAINS) - set(OPS))
    assert not stale, f"test domains for ops that are not registered: {stale}"


def test_every_domain_is_nonempty_and_ids_are_unique():
    assert all(DOMAINS[name] for name in DOMAINS)
    ids = case_ids(ALL_CASES)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


@pytest.mark.parametrize("case", ALL_CASES, ids=case_ids(ALL_CASES))
def test_case_builds_a_graph_holding_its_op(case):
    xs = case.placeholders()
    y = case.build(*xs)
    assert isinstance(y, gc.Node)
    assert case.op in ops_in(y), f"{case.id} builds {sorted(ops_in(y))}, not its op"


def _second_order_graph(case):
    xs = case.placeholders()
    y = case.build(*xs)
    arrays = case.inputs()
    r = np.random.default_rng(0).standard_normal(case.expected(arrays).shape)
    wrt = [xs[i] for i in case.diff]
    grads = gc.grad(gc.sum(y * r), wrt)
    roots = [y] + grads
    if case.second_order:
        loss2 = gc.sum(grads[0] * 1.5)
        for g in grads[1:]:
            loss2 = loss2 + gc.sum(g * 0.5)
        roots += gc.grad(loss2, wrt)
    return roots


def test_forward_gradient_and_second_order_graphs_reach_every_op():
    """Internal helpers (sum_like, broadcast_like, getitem_grad, index_add, scatter_add, concat_part,
    one_hot_like, axis_size, zeros_like, ...) are reached by gradient graphs too, not only directly."""
    reached_direct, reached_by_grads = set(), set()
    for case in ALL_CASES:
        reached_direct |= ops_in(case.build(*case.placeholders()))
    for case in GRAD_CASES:
        roots = _second_order_graph(case)
        reached_by_grads |= ops_in(roots[1:])
    assert not sorted(set(OPS) - BY_PASSES - reached_direct)
    helpers = {"sum_like", "broadcast_like", "reshape_like", "concat_part", "getitem_grad", "index_add",
               "scatter_add", "one_hot_like", "axis_size", "zeros_like"}
    # every helper except zeros_like (used only where a shape is unknown) appears in gradient graphs
    assert not sorted(helpers - {"zeros_like"} - reached_by_grads)


def test_second_order_cases_cover_every_differentiable_op():
    covered = {c.op for c in SECOND_ORDER_CASES}
    differentiable = {c.op for c in GRAD_CASES}
    # stop_gradient's cases freeze values at the base point, which finite differences cannot see
    assert differentiable - covered <= {"stop_gradient"}, sorted(differentiable - covered)


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_declares_everything(name):
    op = OPS[name]
    assert isinstance(op, Op) and op.name == name
    assert op.grad_fn_name.endswith("Backward0")
    if name in LEAVES:
        return
    cls = type(op)
    assert cls.infer is not Op.infer, f"{name} has no shape/dtype inference"
    assert cls.impl is not Op.impl or name == "placeholder", f"{name} has no reference implementation"
    if name in NO_DERIVATIVE:  # Op's own rules give None gradients
        arity = NO_DERIVATIVE[name]
        assert not op.has_derivative(arity)
        assert op.vjp(None, None, *[None] * arity) == (None,) * arity
        assert op.jvp([None] * arity, None, *[None] * arity) is None
        return
    assert cls.vjp is not Op.vjp, f"{name} has no VJP rule"
    assert cls.jvp is not Op.jvp or op.linear, f"{name} has no JVP rule and is not linear"
    if op.elementwise:
        assert op.scalar, f"elementwise op {name} has no scalar expression for fusion"


def test_nondifferentiable_ops_are_flagged():
    flagged = {name for name, op in OPS.items() if not op.differentiable}
    assert flagged == {"argmax", "less", "less_equal", "greater", "greater_equal", "equal", "not_equal",
                       "floor_divide", "isnan", "isinf", "isfinite", "logical_and", "logical_or", "logical_not",
                       "any", "all", "argsort", "topk_indices"}
    assert OPS["cast"].blocks_gradient({"dtype": np.dtype("int32")})
    assert OPS["cast"].blocks_gradient({"dtype": np.dtype(bool)})
    assert not OPS["cast"].blocks_gradient({"dtype": np.dtype("float32")})


def test_elementwise_ops_derive_vjp_and_jvp_from_their_partials():
    # One declaration per op (Elementwise.partials); `where` alone keeps a JVP of one select.
    own = {
        name: [rule for rule in ("vjp", "jvp") if getattr(type(op), rule) is not getattr(Elementwise, rule)]
        for name, op in OPS.items() if isinstance(op, Elementwise)
    }
    assert {name: rules for name, rules in own.items() if rules} == {"where": ["jvp"]}
    x, y = np.array([2.0, -0.0]), np.array([3.0, 5.0])
    t = np.array([1.0, 10.0])
    mul_vjp = [grad() for grad in OPS["mul"].vjp(t, x * y, x, y)]
    assert [g.tolist() for g in mul_vjp] == [[3.0, 50.0], [2.0, -0.0]]
