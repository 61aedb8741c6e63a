"""Lets a source checkout import graphc as it is, without `pip install`.

The repository keeps ir/, passes/ and backends/ beside graphc/ (pyproject.toml maps them under
graphc/ only when installing). From a checkout, this finder gives graphc.ir, graphc.passes and
graphc.backends those sibling folders, so `python -c "import graphc"` and `python -m pytest` at
the repository root use the checkout's files and only those, even next to a regular install.
"""
import importlib.util
import os
import sys

SUBPACKAGES = ("ir", "passes", "backends")


def checkout_root(package_dir):
    """The repository root when `package_dir` (graphc/) sits in a source checkout, else None.

    An installed graphc holds its subpackages inside itself, so it never needs the finder.
    """
    root = os.path.dirname(package_dir)
    if os.path.isdir(os.path.join(package_dir, "ir")):
        return None
    if not os.path.isfile(os.path.join(root, "pyproject.toml")):
        return None
    if not all(os.path.isfile(os.path.join(root, sub, "__init__.py")) for sub in SUBPACKAGES):
        return None
    return root


class SourceTreeFinder:
    """Finds graphc.<sub> in <root>/<sub>; their own modules are then found the usual way.

    A meta path finder by protocol (find_spec) rather than by importlib.abc.MetaPathFinder,
    whose import alone takes longer than the rest of graphc's own modules.
    """

    def __init__(self, root):
        self.root = root
        self.folders = {f"graphc.{sub}": os.path.join(root, sub) for sub in SUBPACKAGES}

    def find_spec(self, fullname, path=None, target=None):
        folder = self.folders.get(fullname)
        if folder is None:
            return None
        return importlib.util.spec_from_file_location(
            fullname, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder]
        )


def install(package_dir):
    root = checkout_root(package_dir)
    if root is None or any(isinstance(f, SourceTreeFinder) and f.root == root for f in sys.meta_path):
        return
    # First in line: an installed graphc elsewhere on the path must not supply subpackages to
    # the checkout's graphc/.
    sys.meta_path.insert(0, SourceTreeFinder(root))
