"""The on-disk kernel cache: damaged entries are recompiled.

The cache holds code that graphc executes, so a file there is never trusted for being there:
tests damage and plant files the way a disk, a crash or another local user could, and check
that the results still equal NumPy's and that no planted code or pickle runs.
"""
import json
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np

DAMAGED = "damaged cache entry"


def _python(script, env, cwd, *args):
    # cwd outside the checkout: there, the source tree would shadow the installed package
    return subprocess.run([sys.executable, "-c", script, *args], env=env, cwd=cwd,
                          capture_output=True, text=True, check=True)


class _Planted:
    """Unpickling this runs code: it leaves `marker` behind."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('unpickled')",)


def _values(expr, dtype):
    x = np.linspace(-2.0, 3.0, 7).astype(dtype)
    return eval(expr, {"x": x})


def _assert_values(got, expr, dtype):
    want = _values(expr, dtype)
    np.testing.assert_allclose(np.asarray(got, dtype=dtype), want, rtol=1e-6 if dtype == "float32" else 1e-13)


# ---- damaged entries, across processes ----------------------------------------------------------
# One fresh process builds each kernel below (one per expression and dtype) and lists the files
# each one added to the cache; the test damages them one way per kernel; a second process must
# get NumPy's values and count each as a damaged entry; a third finds every entry repaired.
BUILD_KERNELS = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np, graphc as gc
    cache = os.path.join(os.environ["GRAPHC_CACHE_DIR"], "kernels")
    def files():
        return {os.path.relpath(os.path.join(d, f), cache) for d, _, fs in os.walk(cache) for f in fs}
    report = []
    for expr, dtype in json.loads(sys.argv[1]):
        before = files()
        x = gc.placeholder((None,), dtype, name="x")
        f = gc.compile([x], eval(expr))
        value = f(np.linspace(-2.0, 3.0, 7).astype(dtype))
        report.append({"value": value.tolist(), "cache": f.stats.cache, "added": sorted(files() - before)})
    print(json.dumps(report))
    """
)
# (expression, dtype, damage): each expression makes a kernel of its own
DAMAGE_CASES = [
    ("x * 2.0 + 1.0", "float64", "source cut by one line"),
    ("x * 3.0 - 1.0", "float64", "source empty"),
    ("(x + 1.0) * (x - 2.0)", "float64", "source garbage"),
    ("x * x - x", "float64", "sources swapped between kernels"),
    ("x / (x + 4.0)", "float64", "sources swapped between kernels"),
    ("x * x * x + 2.0", "float64", "compiled code cut"),
    ("(x + 3.0) / (x * x + 1.0)", "float64", "compiled code empty"),
    ("x - x / (1.0 + x * x)", "float64", "compiled code replaced by a planted pickle"),
    ("(x - 1.0) * x * 0.5", "float64", "compiled code swapped between kernels"),
    ("x * (x + 2.0) * 3.0", "float64", "compiled code swapped between kernels"),
    ("(x - 0.5) * (x + 0.5)", "float64", "compiled code swapped between signatures"),
    ("(x - 0.5) * (x + 0.5)", "float32", "compiled code swapped between signatures"),
]


def _swap(a, b):
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)


def _damage(kernels, report, marker):
    """Apply each case's damage to the files its kernel added (numba's or graphc's own)."""
    sources = [[kernels / f for f in r["added"] if f.endswith(".py")] for r in report]
    compiled = [[kernels / f for f in r["added"] if not f.endswith(".py")] for r in report]
    pending = {}  # a swap waits for its partner
    for k, (_, _, damage) in enumerate(DAMAGE_CASES):
        if damage.startswith("source"):
            (source,) = sources[k]
            lines = source.read_bytes().splitlines(keepends=True)
            if damage == "source cut by one line":
                source.write_bytes(b"".join(lines[:-1]))
            elif damage == "source empty":
                source.write_bytes(b"")
            elif damage == "source garbage":
                source.write_bytes(bytes(range(256)) * 4)
            else:
                pending.setdefault(damage, []).append(source)
            continue
        assert compiled[k], f"kernel {k} added no compiled code to the cache"
        for path in compiled[k]:
            if damage == "compiled code cut":
                path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
            elif damage == "compiled code empty":
                path.write_bytes(b"")
            elif damage == "compiled code replaced by a planted pickle":
                path.write_bytes(pickle.dumps(_Planted(marker)))
        if "swapped" in damage:
            pending.setdefault(damage, []).append(max(compiled[k], key=lambda p: p.stat().st_size))
    for pair in pending.values():
        _swap(*pair)


def test_damaged_entries_are_recompiled_then_trusted_again(tmp_path):
    cases = json.dumps([(expr, dtype) for expr, dtype, _ in DAMAGE_CASES])
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(tmp_path / "cache"))
    marker = tmp_path / "unpickled"

    def run():
        done = _python(BUILD_KERNELS, env, tmp_path, cases)
        assert "Traceback" not in done.stderr and "Warning" not in done.stderr, done.stderr
        report = json.loads(done.stdout)
        for (expr, dtype, damage), r in zip(DAMAGE_CASES, report):
            _assert_values(r["value"], expr, dtype)
            assert len(r["cache"]) == 1, (damage, r["cache"])
        return report

    cold = run()
    kernels = tmp_path / "cache" / "kernels"
    assert len({f for r in cold for f in r["added"] if f.endswith(".py")}) == len(DAMAGE_CASES) - 1

    _damage(kernels, cold, marker)
    damaged = run()
    assert [r["cache"][0] for r in damaged] == [{"kernel": r["cache"][0]["kernel"], "hit": False, "why": DAMAGED}
                                               for r in damaged]
    assert not marker.exists()

    repaired = run()
    assert [(r["cache"][0]["hit"], r["cache"][0]["why"]) for r in repaired] == (
        [(True, "loaded from the on-disk cache")] * len(DAMAGE_CASES))
    assert not marker.exists()
