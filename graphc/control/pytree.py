"""Structures of values ("pytrees", as in JAX): loop states, operands and results are a value or
tuples (namedtuples included), lists and dicts of structures. A structure flattens to its leaves in a fixed order (dict
keys sorted) and a description (`TreeDef`) that rebuilds it from leaves."""
import numpy as np


class TreeDef:
    """The shape of a structure without its leaves: compared to check that a loop body returns
    the structure it was given."""

    __slots__ = ("kind", "keys", "children")

    def __init__(self, kind, keys, children):
        self.kind = kind  # "leaf", tuple, list or dict
        self.keys = keys  # a dict's sorted keys, else None
        self.children = children  # TreeDefs of the items

    @property
    def leaves(self):
        if self.kind == "leaf":
            return 1
        return sum(child.leaves for child in self.children)

    def __eq__(self, other):
        return (isinstance(other, TreeDef) and self.kind == other.kind and self.keys == other.keys
                and self.children == other.children)

    def __hash__(self):
        return hash((self.kind if isinstance(self.kind, str) else self.kind.__name__, self.keys,
                     tuple(self.children)))

    def __repr__(self):
        if self.kind == "leaf":
            return "*"
        if self.kind is dict:
            return "{" + ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.keys, self.children)) + "}"
        inner = ", ".join(repr(c) for c in self.children)
        return f"({inner},)" if self.kind is tuple and len(self.children) == 1 else \
            (f"({inner})" if self.kind is tuple else f"[{inner}]")


_LEAF = TreeDef("leaf", None, ())


def flatten(tree):
    """(leaves, TreeDef) of a structure; anything that is not a tuple, list or dict is a leaf."""
    leaves = []

    def walk(node):
        if isinstance(node, (tuple, list)):  # namedtuples too: rebuilt as their own type
            return TreeDef(type(node), None, tuple(walk(item) for item in node))
        if isinstance(node, dict):
            keys = tuple(sorted(node))
            return TreeDef(dict, keys, tuple(walk(node[k]) for k in keys))
        leaves.append(node)
        return _LEAF

    return leaves, walk(tree)


def unflatten(treedef, leaves):
    """The structure `treedef` describes, with `leaves` (in flatten's order) in its places."""
    items = iter(leaves)

    def build(td):
        if td.kind == "leaf":
            return next(items)
        children = [build(child) for child in td.children]
        if td.kind is dict:
            return dict(zip(td.keys, children))
        if hasattr(td.kind, "_fields"):
            return td.kind(*children)
        return td.kind(children)

    result = build(treedef)
    if next(items, _LEAF) is not _LEAF:
        raise ValueError(f"unflatten: more leaves than the structure {treedef!r} holds")
    return result


def leaf_paths(treedef):
    """A readable path for each leaf, for messages: `[0]`, `['h']`, `[1][0]`; `value` for a leaf."""
    paths = []

    def walk(td, prefix):
        if td.kind == "leaf":
            paths.append(prefix or "value")
            return
        keys = td.keys if td.kind is dict else range(len(td.children))
        for key, child in zip(keys, td.children):
            walk(child, f"{prefix}[{key!r}]")

    walk(treedef, "")
    return paths


def with_index_hint(err, index_dtype):
    """fori_loop's dtype error, with why the usual cause happens: the loop index is an integer
    array, and NumPy's promotion (which graphc follows in both modes) makes int64 * float32 a
    float64, where JAX's weak integers would keep float32."""
    return TypeError(f"{err}. The loop index i is a 0-d {np.dtype(index_dtype).name} value: NumPy's rules "
                     f"promote it with float32 to float64; cast it to the carry's dtype (i.astype(...))")
