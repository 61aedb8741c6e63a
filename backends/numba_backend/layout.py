"""Loop layout of a fused kernel for one combination of input shapes (target-neutral).

The loop runs over the broadcast shape of the inputs with adjacent dimensions merged where every
input broadcasts (or not) alike and size-1 dimensions dropped; each input is then either one
scalar over the whole loop or an array indexed with 0 in the dimensions it broadcasts along. The
resulting `Variant` is what code generation specializes a loop nest on.
"""
import math

import numpy as np

from graphc.ir.types import check_none_dims, reduced_shape


class Variant:
    """Layout of one kernel call. inputs[k] is 'scalar' or a tuple of per-dim broadcast flags."""

    def __init__(self, rank, inputs, reduced):
        self.rank = rank
        self.inputs = tuple(inputs)
        self.reduced = tuple(reduced)  # per dim: folded by the reduction (all False if none)

    def key(self):
        return (self.rank, self.inputs, self.reduced)


def coalesce(shape, flags, reduced):
    """Merge adjacent dims that every input broadcasts (or not) alike; drop size-1 dims."""
    groups = []  # (size, per-input flags, reduced)
    for d, size in enumerate(shape):
        if size == 1:
            continue
        col = tuple(f[d] for f in flags)
        if groups and groups[-1][1] == col and groups[-1][2] == reduced[d]:
            groups[-1][0] *= size
        else:
            groups.append([size, col, reduced[d]])
    return groups


class Layout:
    """How a kernel's loop runs for input arrays of `shapes`:

    loop_shape: the coalesced loop (shape_arg: what the kernel is passed for it); input_shapes[k]:
    the shape input k is reshaped to (None for a scalar); result_shape: each result's shape;
    out_loop_shape: the result seen in loop dimensions (1 where a reduction folds); count:
    elements folded into each reduced value.
    """

    def __init__(self, kernel, shapes):
        # A static iteration shape counts too: a random node of a static shape may be the only
        # member that has it (its inputs, key and state, are 0-d).
        static = () if None in kernel.iter_shape else kernel.iter_shape
        full = np.broadcast_shapes(*shapes, static)
        check_none_dims([x.shape for x in kernel.inputs], shapes, full, "fused kernel " + kernel.description,
                        kernel.root.site)
        rank = len(full)
        axes = kernel.root.attrs["axis"] if kernel.reduce else ()
        reduced = [d in axes for d in range(rank)]
        padded = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
        flags = [tuple(p[d] == 1 and full[d] != 1 for d in range(rank)) for p in padded]
        groups = coalesce(full, flags, reduced)
        self.loop_shape = tuple(g[0] for g in groups)
        self.empty = 0 in full
        kinds = []
        self.input_shapes = []
        for k, s in enumerate(shapes):
            if math.prod(s) == 1:
                kinds.append("scalar")
                self.input_shapes.append(None)
            else:
                kinds.append(tuple(g[1][k] for g in groups))
                self.input_shapes.append(tuple(1 if g[1][k] else g[0] for g in groups))
        red = tuple(g[2] for g in groups)
        self.variant = Variant(len(groups), kinds, red)
        if kernel.reduce:
            self.out_loop_shape = tuple(1 if r else n for n, r in zip(self.loop_shape, red))
            self.result_shape = reduced_shape(full, axes, kernel.root.attrs["keepdims"])
            self.count = math.prod(full[d] for d in axes)
        else:
            self.out_loop_shape = self.loop_shape
            self.result_shape = full
            self.count = None
        self.input_ranks = [len(s) for s in shapes]
        self.size = math.prod(self.loop_shape)
        # The kernel's `shape` argument: the loop shape, and for a kernel that draws random values
        # the index its first dimension starts at (0; a thread running rows lo:hi passes lo).
        self.shape_arg = self.loop_shape + ((0,) if kernel.draws_random else ())
