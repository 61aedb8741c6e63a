"""Scalar templates name functions neutrally; the numba backend's table implements every one of
them, and the kernel header it generates defines exactly that table."""
import re

import numpy as np

import graphc as gc
from graphc.backends.numba_backend import kernel_cache
from graphc.backends.numba_backend.kernel_functions import KERNEL_FUNCTIONS, functions_called
from graphc.ir.registry import OPS

# Python builtins codegen's loops call; everything else a kernel calls comes from the header.
LOOP_BUILTINS = {"range", "min"}


def test_every_function_an_op_template_calls_is_in_the_numba_table():
    called = {name: functions_called(op.scalar) for name, op in OPS.items() if op.scalar}
    unknown = {name: sorted(fs - KERNEL_FUNCTIONS.keys()) for name, fs in called.items()}
    assert {name: fs for name, fs in unknown.items() if fs} == {}
    assert called["tanh"] == {"tanh"} and called["maximum"] == {"maximum"} and called["add"] == set()


def test_function_names_in_templates_are_neutral_not_numba_names():
    assert not [name for name, op in OPS.items() if op.scalar and "vm_" in op.scalar]
    # reductions fold with their combine op's template (sum: add, max: maximum, ...)
    combines = set().union(*(functions_called(op.combine.scalar) for op in OPS.values() if op.combine))
    assert combines == {"maximum", "minimum"} <= KERNEL_FUNCTIONS.keys()


def test_functions_called_ignores_attributes_and_dtype_casts():
    assert functions_called("(sqrt({cast}({0})) if {1} == 0.5 else pow({0}, {1}))") == {"sqrt", "pow"}
    assert functions_called("np.float64(erf({0}))") == {"erf"}  # an unknown name is reported


def test_the_generated_header_defines_exactly_the_table():
    namespace = {}
    exec(kernel_cache.HEADER, namespace)
    defined = set(namespace) - {"__builtins__", "numba", "np", "_jit"}
    assert defined == set(KERNEL_FUNCTIONS)
    assert all(namespace[name] is function for name, function in KERNEL_FUNCTIONS.items())
    assert "vm_" not in "".join(defined)


def _kernel_sources(f):
    return re.findall(r"^def kernel.*?(?=^\S|\Z)", f.source, flags=re.S | re.M)


def test_generated_kernels_call_only_table_functions():
    x = gc.placeholder((None, None), np.float32, name="x")
    y = gc.placeholder((None, None), np.float32, name="y")
    body = gc.maximum(gc.tanh(x), gc.sign(y)) ** y + gc.relu(x)
    outputs = [gc.sum(body, axis=0), gc.sum(body * 2, axis=1), gc.max(gc.exp(x) - y, axis=1)]
    f = gc.compile([x, y], outputs)
    a = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    b = np.linspace(0.5, 3, 12, dtype=np.float32).reshape(3, 4)
    want = np.maximum(np.tanh(a), np.sign(b)) ** b + np.maximum(a, 0)
    got = f(a, b)
    np.testing.assert_allclose(got[0], want.sum(axis=0), rtol=1e-6)
    np.testing.assert_allclose(got[1], (want * 2).sum(axis=1), rtol=1e-6)
    np.testing.assert_allclose(got[2], (np.exp(a) - b).max(axis=1), rtol=1e-6)
    sources = _kernel_sources(f)
    assert sources
    called = set().union(*(functions_called(s) for s in sources)) - {"kernel"}  # its own `def`
    assert called - LOOP_BUILTINS <= KERNEL_FUNCTIONS.keys(), sorted(called - LOOP_BUILTINS - KERNEL_FUNCTIONS.keys())
    assert {"tanh", "maximum", "sign", "pow", "relu", "exp"} <= called
