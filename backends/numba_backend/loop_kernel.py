"""What code generation and the runner read off a `fused` node: its body's parameters (the loop's
inputs), member steps and results, and the shape the loop iterates over."""


class LoopKernel:
    def __init__(self, node):
        body = node.attrs["body"]
        self.node = node
        self.inputs = body.inputs  # parameters, aligned with node.inputs
        self.members = [m for m in body.nodes if m.inputs]
        self.roots = body.outputs
        self.root = self.roots[0]
        self.reduce = self.root.op.combine is not None
        self.iter_shape = self.root.inputs[0].shape if self.reduce else self.root.shape
        # A member draws random values: the loop needs each element's flat index in the whole
        # loop (codegen), also where a thread runs only part of it (runner).
        self.draws_random = any(m.op.draws_random for m in self.members)

    def ops(self):
        return [m.op.name for m in self.members]

    @property
    def description(self):
        return " -> ".join(self.ops())
