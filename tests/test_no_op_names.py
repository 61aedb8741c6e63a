"""Op facts live on the op: outside ir/ops/, code refers to an op by the op itself (`node.op is
TANH`), never by its name. A string literal equal to an op's name is how such a reference looks,
so this test finds every one outside ir/ops/ and tests/ and fails on any not allowed below."""
import ast
import os

from graphc.ir.registry import OPS  # importing graphc.ir registers every op

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OP_NAMES = frozenset(OPS)
SKIPPED_FOLDERS = {"tests", os.path.join("ir", "ops"), "build", "dist"}

# Scalar templates call functions by backend-neutral names (`tanh({0})`), several of them equal to
# an op's name; each backend's table maps those names to its own implementations.
_TEMPLATE_FUNCTION = "a scalar-template function name mapped to this backend's implementation"

# Literals that equal an op's name but do not refer to the op.
NOT_OP_REFERENCES = {
    ("graphc/__init__.py", "zeros_like"): "the eager function gc.zeros_like, loaded on first use",
    ("passes/fusion.py", "constant"): "the listing's text for why a kernel ends at a constant",
    **{(path, name): "the name of the user's function (gc.cond, gc.scan) in its error messages"
       for path in ("graphc/control/graph.py", "graphc/control/eager.py") for name in ("cond", "scan")},
    ("bench/bench_overhead.py", "abs"): "a benchmark target kind: an absolute time limit",
    ("bench/bench_scan.py", "scan"): "the benchmark's name and the label of its graph kind in tables",
    **{("bench/bench_vecmath.py", name): "the label of the vecmath function a case times"
       for name in ("exp", "log", "sigmoid", "tanh")},
    **{("backends/numba_backend/kernel_functions.py", name): _TEMPLATE_FUNCTION
       for name in ("abs", "clip", "maximum", "minimum", "relu", "sign", "floor", "ceil", "trunc",
                    "floor_divide", "remainder", "isnan", "isinf", "isfinite")},
    **{("backends/numba_backend/vecmath.py", name): _TEMPLATE_FUNCTION
       for name in ("cos", "exp", "expm1", "log", "log1p", "pow", "sigmoid", "sin", "sqrt", "tanh",
                    "erf", "gelu", "gelu_tanh")},
    ("backends/numba_backend/vecmath.py", "trunc"): "the LLVM intrinsic llvm.trunc that _trunc calls",
}

ALLOWED = set(NOT_OP_REFERENCES)


def _python_files():
    for folder, subfolders, files in os.walk(REPO):
        relative = os.path.relpath(folder, REPO)
        subfolders[:] = sorted(
            d for d in subfolders
            if not d.startswith((".", "__")) and not d.endswith(".egg-info")
            and os.path.normpath(os.path.join(relative, d)) not in SKIPPED_FOLDERS
        )
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.relpath(os.path.join(folder, name), REPO).replace(os.sep, "/")


def op_name_literals():
    """(file, literal, line) for every string literal equal to an op's name."""
    found = []
    for path in _python_files():
        with open(os.path.join(REPO, path), encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in OP_NAMES:
                found.append((path, node.value, node.lineno))
    return found


def test_the_scan_sees_the_passes():
    # A scan that silently skipped the tree would pass for the wrong reason.
    files = set(_python_files())
    assert {"passes/simplify.py", "graphc/compile.py", "ir/graph.py"} <= files
    assert not any(f.startswith(("tests/", "ir/ops/")) for f in files)


def test_no_op_is_named_by_a_string_outside_ir_ops():
    unexpected = [f"{path}:{line}: {name!r}" for path, name, line in op_name_literals()
                  if (path, name) not in ALLOWED]
    assert not unexpected, (
        "refer to ops by identity (node.op is TANH) or by a fact on the op, not by name:\n"
        + "\n".join(unexpected)
    )


def test_the_allow_list_has_no_stale_entries():
    used = {(path, name) for path, name, _ in op_name_literals()}
    stale = sorted(ALLOWED - used)
    assert not stale, f"remove these allow-list entries, the literals are gone: {stale}"
