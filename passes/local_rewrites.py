"""Local rewrites: rules that look at one node (and its inputs) and may return a replacement.

Each rule is `rule(node) -> node | None`. A replacement must have the node's dtype and a shape
that agrees with it. Rules run to a fixed point; a rule that raises is an error, never skipped.
"""
from graphc.ir.errors import GraphcError
from graphc.ir.source import site_override
from graphc.ir.types import shapes_agree

from .rewrite import clone_with_inputs, rebuild

MAX_SWEEPS = 20


class RewriteError(GraphcError, RuntimeError):
    pass


def _compatible(old, new):
    return new.dtype == old.dtype and shapes_agree(old.shape, new.shape)


def apply_rules(graph, rules, name):
    """Rebuild `graph` applying `rules` bottom-up until nothing changes."""
    for _ in range(MAX_SWEEPS):
        changed = [False]

        def replace(node, inputs):
            node = clone_with_inputs(node, inputs)
            for _ in range(MAX_SWEEPS):
                for rule in rules:
                    with site_override(node.site):
                        try:
                            new = rule(node)
                        except Exception as err:
                            raise RewriteError(
                                f"{name}: rule {rule.__name__} failed on {node.op.name} built at {node.site}: {err}"
                            ) from err
                    if new is not None and new is not node:
                        if not _compatible(node, new):
                            raise RewriteError(
                                f"{name}: rule {rule.__name__} turned {node.op.name} {node.dtype}{node.shape} "
                                f"into {new.op.name} {new.dtype}{new.shape} (built at {node.site})"
                            )
                        node = new
                        changed[0] = True
                        break
                else:
                    return node
            return node

        graph = rebuild(graph, replace)
        if not changed[0]:
            return graph
    return graph
