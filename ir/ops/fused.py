"""`fused`: a loop kernel made by the fusion pass. Its body is a closed graph over parameters
(one per kernel input) whose outputs are the kernel's results: one array, or a tuple of arrays
(a multi-output kernel, read through `part` nodes). The reference implementation runs the body
with the interpreter; a backend compiles the body into one loop nest."""
import numpy as np

from ..interpreter import evaluate
from ..registry import Op, register
from ..sweeps import backward, forward
from ..types import TupleType, fmt_shape


@register
class FUSED(Op):
    name = "fused"
    body_attrs, noted_attrs = ("body",), ("reasons",)
    created_by_passes = True
    accepts_out = True

    def infer(self, inputs, attrs):
        roots = attrs["body"].outputs
        if len(roots) == 1:
            return roots[0].shape, roots[0].dtype
        return TupleType((r.shape, r.dtype) for r in roots)

    def evaluate(self, args, attrs, observe=None):
        outputs, _ = evaluate(attrs["body"], args, observe=observe)
        outputs = [np.asarray(x) for x in outputs]
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def impl(self, *args, body, reasons):
        return self.evaluate(args, {"body": body, "reasons": reasons})

    def vjp(self, g, out, *inputs, body, reasons):
        """The body's own gradient, swept over the body inlined on the kernel's inputs (fusion
        runs after autodiff, so this serves only a user differentiating an optimized graph)."""
        cotangents = g if isinstance(g, tuple) else (g,)
        return backward(body.inline(inputs), cotangents, inputs)

    def jvp(self, tangents, out, *inputs, body, reasons):
        results = forward(body.inline(inputs), {id(x): t for x, t in zip(inputs, tangents) if t is not None})
        return results[0] if len(results) == 1 else tuple(results)

    def listing_notes(self, node, labels):
        body = node.attrs["body"]
        root = body.outputs[0]
        shape = root.inputs[0].shape if root.op.combine is not None else root.shape
        ops = " -> ".join(m.op.name for m in body.nodes if m.inputs)
        lines = [f"kernel over {fmt_shape(shape)}: {ops}"]
        lines += [f"in {labels[id(x)]}: {why}" for x, why in zip(node.inputs, node.attrs["reasons"])]
        return lines
