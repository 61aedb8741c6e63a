"""How graphc imports: from a bare source checkout, one copy of it, and lazily.

Each check runs in a fresh interpreter, since this process has long imported everything.
"""
import json
import os
import site
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code, no_site_hooks=False):
    """Run `code` in a new interpreter at the repository root, PYTHONPATH unset; its stdout."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if no_site_hooks:
        # A plain checkout: numpy and friends importable, but no .pth hooks (an editable
        # install's finder is one) and no graphc install to fall back on.
        paths = [REPO] + site.getsitepackages()
        code = f"import sys; sys.path[:0] = {paths!r}\n" + code
        args = [sys.executable, "-S", "-c", code]
    else:
        args = [sys.executable, "-c", code]
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


CHECKOUT_FILES = """
import json, sys
import numpy as np
import graphc as gc
import graphc.backends.numpy_backend, graphc.eager, graphc.passes.pipeline
x = gc.placeholder((2,), name="x")
value = gc.compile([x], gc.tanh(x).sum(), backend="numpy")(np.array([0.5, 0.5]))
files = sorted({m.__file__ for name, m in list(sys.modules.items()) if name.split(".")[0] == "graphc"})
print(json.dumps({"value": float(value), "files": files}))
"""


def _under_repo(files):
    roots = tuple(os.path.join(REPO, sub) + os.sep for sub in ("graphc", "ir", "passes", "backends"))
    return [f for f in files if not f.startswith(roots)]


def test_a_bare_checkout_imports_and_runs_from_its_own_files():
    result = json.loads(run_python(CHECKOUT_FILES, no_site_hooks=True))
    assert abs(result["value"] - 2 * 0.46211715726000974) < 1e-12
    assert any(f.endswith(os.path.join("ir", "ops", "elementwise.py")) for f in result["files"])
    assert _under_repo(result["files"]) == []


def test_the_repository_root_uses_one_copy_of_graphc():
    # Next to any install (editable or regular), running at the root must not mix copies.
    result = json.loads(run_python(CHECKOUT_FILES))
    assert _under_repo(result["files"]) == []


LOADED = """
import json, sys
def loaded():
    return {"numba": "numba" in sys.modules, "eager": "graphc.eager" in sys.modules}
import graphc.ir
steps = [loaded()]
import graphc as gc
x = gc.placeholder((3,), name="x")
f = gc.compile([x], gc.grad(gc.tanh(x).sum(), x), backend="numpy")
steps.append(loaded())
t = gc.tensor([1.0, 2.0], requires_grad=True)
(t * t).sum().backward()
steps.append(loaded())
steps.append(gc.autograd.grad is not None and t.grad.numpy().tolist() == [2.0, 4.0])
gc.compile([x], x + 1)
steps.append(loaded())
print(json.dumps(steps))
"""


def test_graph_mode_imports_neither_eager_mode_nor_numba():
    ir_only, graph_mode, eager, eager_works, numba_compiled = json.loads(run_python(LOADED))
    assert ir_only == {"numba": False, "eager": False}
    assert graph_mode == {"numba": False, "eager": False}
    assert eager == {"numba": False, "eager": True}
    assert eager_works is True
    assert numba_compiled == {"numba": True, "eager": True}


def test_an_op_on_plain_arrays_still_gives_a_tensor():
    out = run_python(
        "import graphc as gc, numpy as np\n"
        "y = gc.exp(np.zeros(2))\n"
        "print(type(y).__name__, y.numpy().tolist())"
    )
    assert out.split(None, 1) == ["Tensor", "[1.0, 1.0]\n"]
