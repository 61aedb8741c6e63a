"""Find the user's file:line that is building a node, skipping graphc's own frames."""
import contextlib
import os
import sys

# The installed package maps ir/, passes/ and backends/ under graphc/, but a source checkout keeps
# them side by side; both layouts must count as "inside graphc".
_HERE = os.path.dirname(os.path.abspath(__file__))
_PARENT = os.path.dirname(_HERE)
if os.path.basename(_PARENT) == "graphc":  # installed: everything lives under graphc/
    _INTERNAL_ROOTS = (_PARENT + os.sep,)
else:  # source checkout: the four package folders, not tests/ or examples/
    _INTERNAL_ROOTS = tuple(
        os.path.join(_PARENT, name) + os.sep for name in ("graphc", "ir", "passes", "backends")
    )


# graphc's own example code is user code: its nodes should point at the demo's lines.
_USER_FILES = ("demo.py",)


def _is_internal(filename):
    path = os.path.abspath(filename)
    return path.startswith(_INTERNAL_ROOTS) and os.path.basename(path) not in _USER_FILES


_internal_cache = {}


_override = []


@contextlib.contextmanager
def site_override(site):
    """Nodes built inside take `site`: a rewrite's new nodes keep the user's line they replace."""
    _override.append(site)
    try:
        yield
    finally:
        _override.pop()


def site_of(node):
    """Nodes built inside take the site of graph node `node` (an eager tensor has none to give):
    a gradient rule's nodes then point at the user's line of the op they differentiate, so a
    run-time check that only the gradient makes still names the user's call."""
    site = getattr(node, "site", None)
    return contextlib.nullcontext() if site is None else site_override(site)


def user_site():
    """Return 'file:line' of the innermost frame outside graphc, or '<unknown>'."""
    if _override:
        return _override[-1]
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        internal = _internal_cache.get(filename)
        if internal is None:
            internal = _internal_cache[filename] = _is_internal(filename)
        if not internal:
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"
