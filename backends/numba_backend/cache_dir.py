"""Where kernels are cached, and whether that place is safe: the cache holds code that is executed.

The cache root is $GRAPHC_CACHE_DIR, else ~/.cache/graphc; kernels live in <root>/kernels.
Both dirs are created with mode 0700 and used only if they are owned by the current user, not
writable by group or others (what ssh's StrictModes asks of ~/.ssh), and writable in fact.
Otherwise graphc warns once and caches in a private `mkdtemp` dir for this process (removed at
exit), or, where not even that can be created, in memory only. There is no shared fallback
path another user could create first.

This module must not import graphc's numba modules: the package imports those inside
`numba_cache_fallback()`, which may need a cache location first.
"""
import atexit
import contextlib
import os
import shutil
import stat
import tempfile
import threading
import warnings

import numba
import numba.core.caching


class CacheDirWarning(UserWarning):
    """The kernel cache dir could not be used safely; graphc cached elsewhere (the message says where)."""


_kernel_dirs = {}  # cache root -> the kernel dir chosen for it in this process (None: memory only)
_private = []  # once made: [this process's private kernel dir], or [None] if none could be made
_lock = threading.Lock()  # one choice (and one warning) per root, also when threads compile at once


def cache_root():
    return os.environ.get("GRAPHC_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "graphc")


def kernel_dir():
    """The dir to cache kernels in for the current cache root, or None to keep them in memory only."""
    root = cache_root()
    with _lock:
        if root not in _kernel_dirs:
            _kernel_dirs[root] = _choose_kernel_dir(root)
        return _kernel_dirs[root]


def _choose_kernel_dir(root):
    path = os.path.join(root, "kernels")
    problem = _why_unsafe(root) or _why_unsafe(path)
    if problem is None:
        return path
    private = _private_kernel_dir()
    instead = f"caching kernels in {private!r} instead (private to this process)" if private else (
        "keeping kernels in memory only (no temporary directory could be created either)")
    warnings.warn(CacheDirWarning(f"graphc: kernel cache {problem}; {instead}"))
    return private


def _why_unsafe(path):
    """Why `path` must not hold cached code (a phrase naming the dir), or None if it may."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)  # exist_ok: the checks below judge an old dir
        st = os.stat(path)
    except FileExistsError:
        return f"dir {path!r} exists but is not a directory"
    except OSError as e:
        return f"dir {path!r} cannot be created ({e.strerror or e})"
    if st.st_uid != os.geteuid():
        return f"dir {path!r} is owned by uid {st.st_uid}, not by the current user (uid {os.geteuid()})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"dir {path!r} is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})"
    try:  # a read-only file system or an immutable dir passes the checks above
        tempfile.TemporaryFile(dir=path).close()
    except OSError as e:
        return f"dir {path!r} is not writable ({e.strerror or e})"
    return None


def _private_kernel_dir():
    """<private root>/kernels, laid out like a cache root so numba's fallback can sit beside it."""
    if not _private:
        try:
            root = tempfile.mkdtemp(prefix="graphc-cache-")  # mode 0700, a name no one can predict
            atexit.register(shutil.rmtree, root, ignore_errors=True)
            path = os.path.join(root, "kernels")
            os.mkdir(path, mode=0o700)
        except OSError:
            path = None
        _private.append(path)
    return _private[0]


def _numba_can_cache(source_file):
    """Whether numba finds a writable cache location for functions defined in source_file."""
    namespace = {}
    exec(compile("def probe():\n    pass\n", source_file, "exec"), namespace)
    try:
        numba.core.caching.FunctionCache(namespace["probe"])
    except RuntimeError:  # numba's "cannot cache function ...: no locator available"
        return False
    return True


@contextlib.contextmanager
def numba_cache_fallback(package_file):
    """Give numba a cache dir while graphc's own @njit(cache=True) functions are defined.

    numba caches them beside their source, else in a user-wide dir under $HOME; with neither
    writable (a read-only install and no writable HOME) it raises at decoration time, that is
    `import graphc` fails. Then point numba at graphc's cache dir, for these definitions only.
    """
    fallback = None
    if not _numba_can_cache(package_file):
        chosen = kernel_dir()
        fallback = chosen and os.path.join(os.path.dirname(chosen), "numba")
    if fallback is None:
        yield
        return
    saved = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = fallback
    try:
        yield
    finally:
        numba.config.CACHE_DIR = saved
