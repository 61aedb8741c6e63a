"""The on-disk kernel cache: damaged entries are recompiled, unsafe or unwritable dirs refused.

The cache holds code that graphc executes, so a file there is never trusted for being there:
tests damage and plant files the way a disk, a crash or another local user could, and check
that the results still equal NumPy's and that no planted code or pickle runs.
"""
import json
import os
import pickle
import re
import stat
import subprocess
import sys
import tempfile
import textwrap
import warnings

import numpy as np
import pytest

import graphc as gc
from graphc.backends.numba_backend import cache_dir, kernel_cache
from graphc.backends.numba_backend.cache_dir import CacheDirWarning

DAMAGED = "damaged cache entry"


def _python(script, env, cwd, *args):
    # cwd outside the checkout: there, the source tree would shadow the installed package
    done = subprocess.run([sys.executable, "-c", script, *args], env=env, cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done


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
    for made in (tmp_path / "cache", kernels):
        assert stat.S_IMODE(made.stat().st_mode) == 0o700
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


# ---- dirs that must not be used -------------------------------------------------------------------
PLANTED_EXPR = "x * 0.25 - x * x"  # a kernel of its own


@pytest.fixture
def fresh_process_state(monkeypatch):
    """As in a new process: no kernel loaded yet, no cache dir chosen, no private dir made."""
    monkeypatch.setattr(kernel_cache, "_modules", {})
    monkeypatch.setattr(cache_dir, "_kernel_dirs", {})
    monkeypatch.setattr(cache_dir, "_private", [])
    return monkeypatch


def _compile_and_check(expr):
    x = gc.placeholder((None,), name="x")
    f = gc.compile([x], eval(expr))
    _assert_values(f(np.linspace(-2.0, 3.0, 7)), expr, "float64")
    return f


def _private_dir_named_in(warning):
    found = re.search(r"caching kernels in '([^']+)' instead", str(warning.message))
    assert found, str(warning.message)
    return found.group(1)


def _assert_private(kernels):
    root = os.path.dirname(kernels)
    assert os.path.dirname(root) == tempfile.gettempdir() and os.path.basename(root).startswith("graphc-cache-")
    for path in (root, kernels):
        st = os.stat(path)
        assert st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) == 0o700  # getuid: geteuid may be faked
    assert [f for f in os.listdir(kernels) if f.endswith(".py")]  # it is used, not just made


@pytest.fixture(scope="module")
def planted_kernel(tmp_path_factory):
    """The file name and source of PLANTED_EXPR's kernel, as another user can compute them."""
    with pytest.MonkeyPatch.context() as mp:
        trusted = tmp_path_factory.mktemp("trusted")
        mp.setenv("GRAPHC_CACHE_DIR", str(trusted))
        mp.setattr(kernel_cache, "_modules", {})
        _compile_and_check(PLANTED_EXPR)
    (source,) = (trusted / "kernels").glob("k_*.py")
    compiled = sorted(p.name for p in (trusted / "kernels").glob("*.compiled"))
    return source.name, source.read_text(), compiled


def _refuse(path, how, monkeypatch):
    if how == "owned by another user":
        if os.geteuid() == 0:
            for d, _, files in os.walk(path):
                for name in [d] + [os.path.join(d, f) for f in files]:
                    os.chown(name, 12345, 12345)
        else:  # only root can give a file away: be another user instead
            monkeypatch.setattr(os, "geteuid", lambda: os.getuid() + 12345)
        return r"is owned by uid \d+, not by the current user"
    path.chmod(0o777)
    return r"is writable by group or others \(mode 0777\)"


@pytest.mark.parametrize("how", ["owned by another user", "world-writable"])
def test_unsafe_dir_is_refused_and_nothing_planted_there_runs(tmp_path, planted_kernel, fresh_process_state, how):
    name, source, compiled = planted_kernel
    marker = tmp_path / "executed"
    unsafe = tmp_path / "unsafe"
    kernels = unsafe / "kernels"
    (kernels / "__pycache__").mkdir(parents=True)
    (kernels / name).write_text(f"open({str(marker)!r}, 'w').write('executed')\n" + source)
    for planted in compiled:
        (kernels / planted).write_bytes(pickle.dumps(_Planted(marker)))
    # numba's own index, named as numba would name it for this kernel's function
    lineno = source.splitlines().index("@_jit") + 1
    numba_index = f"{name[:-3]}.kernel-{lineno}.py{sys.version_info[0]}{sys.version_info[1]}.nbi"
    (kernels / "__pycache__" / numba_index).write_bytes(pickle.dumps(_Planted(marker)))
    planted_files = {p: p.read_bytes() for p in kernels.rglob("*") if p.is_file()}
    reason = _refuse(unsafe, how, fresh_process_state)
    fresh_process_state.setenv("GRAPHC_CACHE_DIR", str(unsafe))

    with pytest.warns(CacheDirWarning, match=re.escape(repr(str(unsafe))) + " " + reason) as caught:
        _compile_and_check(PLANTED_EXPR)
    assert not marker.exists()
    assert {p: p.read_bytes() for p in kernels.rglob("*") if p.is_file()} == planted_files
    (warning,) = [w for w in caught if issubclass(w.category, CacheDirWarning)]
    _assert_private(_private_dir_named_in(warning))


# ---- dirs that cannot be used ---------------------------------------------------------------------
def test_unusable_cache_dir_means_a_private_cache_and_one_warning(tmp_path, fresh_process_state):
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("")
    fresh_process_state.setenv("GRAPHC_CACHE_DIR", str(not_a_dir))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _compile_and_check("x * x + 0.5 * x")
        fresh_process_state.setattr(kernel_cache, "_modules", {})  # the next load reads the disk again
        second = _compile_and_check("x * x + 0.5 * x")
    (warning,) = [w for w in caught if issubclass(w.category, CacheDirWarning)]
    assert f"dir {str(not_a_dir)!r} exists but is not a directory" in str(warning.message)
    _assert_private(_private_dir_named_in(warning))
    assert second.stats.cache[0]["hit"]  # the private cache works as a cache


def test_no_temp_dir_either_means_an_in_memory_cache(tmp_path, fresh_process_state):
    def no_temp_dir(*args, **kwargs):
        raise FileNotFoundError("No usable temporary directory found")

    fresh_process_state.setenv("GRAPHC_CACHE_DIR", str(tmp_path / "a-file"))
    (tmp_path / "a-file").write_text("")
    fresh_process_state.setattr(tempfile, "mkdtemp", no_temp_dir)
    with pytest.warns(CacheDirWarning, match="keeping kernels in memory only"):
        _compile_and_check("x * x - 0.5 * x")


# No writable HOME, and a package dir numba cannot write to either: numba had nowhere to cache
# graphc's own functions and `import graphc` failed.
NO_HOME = textwrap.dedent(
    """
    import json
    import numba.core.caching as caching
    # as for a read-only install: numba may not cache beside graphc's source files
    caching.CacheImpl._locator_classes = [caching.UserProvidedCacheLocator, caching.UserWideCacheLocator]
    import numpy as np, graphc as gc
    from graphc.backends.numba_backend import scalar_ops
    x = gc.placeholder((None,), name="x")
    f = gc.compile([x], gc.relu(x) * 2.0)
    print(json.dumps({"value": f(np.linspace(-2.0, 3.0, 7)).tolist(), "numba": scalar_ops.vm_relu.stats.cache_path}))
    """
)


def test_no_writable_home_and_a_read_only_install_still_import_and_compile(tmp_path):
    home = tmp_path / "home-is-a-file"
    home.write_text("")
    unset = ("GRAPHC_CACHE_DIR", "NUMBA_CACHE_DIR", "NUMBA_CACHE_LOCATOR_CLASSES", "XDG_CACHE_HOME")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["HOME"] = str(home)
    done = _python(NO_HOME, env, tmp_path)
    assert done.stderr.count("CacheDirWarning: graphc:") == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert f"dir {str(home / '.cache' / 'graphc')!r} cannot be created (Not a directory)" in done.stderr
    private_root = os.path.dirname(re.search(r"caching kernels in '([^']+)' instead", done.stderr).group(1))
    result = json.loads(done.stdout)
    np.testing.assert_array_equal(result["value"], np.maximum(np.linspace(-2.0, 3.0, 7), 0.0) * 2.0)
    assert result["numba"].startswith(os.path.join(private_root, "numba"))
