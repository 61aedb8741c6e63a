"""How graphc/eager is put together: its modules import one another one way only, at module level.

A cycle forced imports inside functions, which cost about 2 us on every op, backward and in-place
update; with the Tensor writing its own state, none is needed.
"""
import ast
import graphlib
import pathlib

import graphc.eager

EAGER = pathlib.Path(graphc.eager.__file__).parent


def _trees():
    return {path.stem: ast.parse(path.read_text()) for path in EAGER.glob("*.py")}


def test_eager_modules_import_each_other_without_a_cycle():
    depends = {}
    for name, tree in _trees().items():
        depends[name] = {
            node.module or alias.name
            for node in tree.body if isinstance(node, ast.ImportFrom) and node.level == 1
            for alias in node.names
        }
    order = list(graphlib.TopologicalSorter(depends).static_order())  # raises CycleError
    assert order.index("tensor") < order.index("apply") < order.index("methods")


def test_no_eager_module_imports_inside_a_function():
    late = [
        f"{name}.py:{node.lineno}"
        for name, tree in _trees().items()
        for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(fn) if isinstance(node, (ast.Import, ast.ImportFrom))
    ]
    assert late == []
