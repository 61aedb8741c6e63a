"""Local rewrites: rules that look at one node (and its inputs) and may return a replacement.

Each rule is `rule(node) -> node | None`. A replacement must have the node's dtype and a shape
that agrees with it. Rules run to a fixed point; a rule that raises is an error, never skipped.
"""
from graphc.ir.errors import RewriteError
from graphc.ir.source import site_override
from graphc.ir.types import shapes_agree

from .rewrite import clone_with_inputs, rebuild

MAX_SWEEPS = 20



def _compatible(old, new):
    return new.dtype == old.dtype and shapes_agree(old.shape, new.shape)


def _not_converging(name, fired, where):
    rules = ", ".join(sorted({rule.__name__ for rule in fired}))
    return RewriteError(
        f"{name}: the rewrite rules did not converge after {MAX_SWEEPS} sweeps {where}; "
        f"rules that kept firing: {rules}"
    )


def apply_rules(graph, rules, name):
    """Rebuild `graph` applying `rules` bottom-up until nothing changes.

    Rules that keep undoing each other (or growing the graph) never reach a fixed point: that
    is a RewriteError naming them, never a graph silently left half rewritten.
    """
    for _ in range(MAX_SWEEPS):
        fired = []

        def replace(node, inputs):
            node = clone_with_inputs(node, inputs)
            here = []
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
                        here.append(rule)
                        break
                else:
                    fired.extend(here)
                    return node
            raise _not_converging(name, here[-MAX_SWEEPS // 2:], f"on {node.op.name} built at {node.site}")

        graph = rebuild(graph, replace)
        if not fired:
            return graph
    raise _not_converging(name, fired, "over the graph")
