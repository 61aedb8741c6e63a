"""Recompute instead of store: `gc.remat(body_fn, every)` marks a while_loop or fori_loop body
whose gradient keeps one carry every `every` iterations instead of one per iteration.

Reverse mode through a loop needs the carry each iteration started from. By default the loop
stores all of them: memory of trip count x carry size. A remat body is built as a loop over
segments of `every` iterations (an inner while_loop), so the outer loop stores only the carry
each segment starts from, and the gradient of a segment (the inner loop's) recomputes that
segment's carries from it, one segment at a time: memory of (trips / every + every) x carry size,
for one more run of the forward iterations (every = sqrt(trips) gives 2 sqrt(trips) carries).
The iterations, their order and so the results are those of the plain loop. Eager mode runs the
body as it is (the tape records every iteration either way).
"""
import numbers


class Remat:
    """A loop body whose iterations' carries are recomputed for the gradient, not stored."""

    def __init__(self, fn, every):
        if not callable(fn):
            raise TypeError(f"remat: body_fn must be callable, got {type(fn).__name__}")
        if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
            raise ValueError(f"remat: every must be an int >= 1 (iterations per stored carry), got {every!r}")
        self.fn = fn
        self.every = int(every)

    def __call__(self, *args):
        return self.fn(*args)


def remat(body_fn, every):
    """body_fn, marked so that a while_loop or fori_loop stores one carry every `every`
    iterations for its gradient and recomputes the others."""
    return Remat(body_fn, every)
