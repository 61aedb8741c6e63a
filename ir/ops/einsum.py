"""einsum with NumPy's subscripts. Contractions reach BLAS through np.einsum(optimize=True).

The subscripts are normalized when the node is built: explicit output, the ellipsis spelled out
as letters. The gradient wrt an operand is an einsum of g and the other operands into that
operand's distinct subscripts, broadcast over letters that only that operand has (a sum over
them), and, where a letter repeats within the operand (a diagonal or trace), put back on that
diagonal by an einsum with identity matrices. A dimension declared 1 broadcasts against its
letter's other sizes, as in NumPy and PyTorch (its gradient is summed back, as for elementwise
ops).
"""
import string

import numpy as np

from ..dispatch import apply
from ..errors import ShapeError
from ..registry import Op, register
from ..types import fmt_shape
from . import elementwise as ew
from . import shape as shp

LETTERS = string.ascii_letters


def _split_term(term, rank, position):
    """A term's letters, with `...` as None, checked against the operand's rank."""
    if term.count("...") > 1 or term.replace("...", "").count(".") or any(
            c not in LETTERS for c in term.replace("...", "")):
        raise ValueError(f"einsum: invalid subscripts {term!r} for operand {position}: use letters and at most one '...'")
    letters = term.replace("...", "")
    if "..." not in term and rank is not None and len(letters) != rank:
        raise ValueError(f"einsum: operand {position} has rank {rank} but subscripts {term!r} name {len(letters)} axes")
    if "..." in term and rank is not None and len(letters) > rank:
        raise ValueError(f"einsum: operand {position} has rank {rank}, fewer than the axes {term!r} names")
    return term


def parse_subscripts(subscripts, ranks):
    """(input label strings, output label string) with the ellipsis replaced by letters."""
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts must be a string, got {subscripts!r}")
    spec = subscripts.replace(" ", "")
    if spec.count("->") > 1:
        raise ValueError(f"einsum: subscripts {subscripts!r} hold more than one '->'")
    lhs, arrow, rhs = spec.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(terms)} operands, {len(ranks)} given")
    terms = [_split_term(t, r, i) for i, (t, r) in enumerate(zip(terms, ranks))]
    used = set("".join(terms))
    free = [c for c in LETTERS if c not in used]
    spans = [r - len(t.replace("...", "")) if "..." in t else 0 for t, r in zip(terms, ranks)]
    width = max(spans, default=0)
    if width > len(free):
        raise ValueError("einsum: too many axes under '...'")
    ellipsis = "".join(free[:width])
    inputs = tuple(t.replace("...", ellipsis[width - n:]) for t, n in zip(terms, spans))
    if arrow:
        output = rhs.replace("...", ellipsis) if "..." in rhs else rhs
        if rhs.replace("...", "").count(".") or any(c not in LETTERS for c in output):
            raise ValueError(f"einsum: invalid output subscripts {rhs!r}")
        known = set("".join(inputs))
        for c in output:
            if output.count(c) > 1:
                raise ValueError(f"einsum: output subscript {c!r} repeats in {rhs!r}")
            if c not in known:
                raise ValueError(f"einsum: output subscript {c!r} is not among the inputs' subscripts")
    else:  # NumPy's implicit output: the ellipsis axes, then the letters used once, in order
        counts = "".join(t.replace("...", "") for t in terms)
        output = ellipsis + "".join(sorted(c for c in set(counts) if counts.count(c) == 1))
    return inputs, output


@register
class EINSUM(Op):
    """`subscripts` is (input label strings, output label string); `ones` lists the (operand,
    axis) places declared with size 1, which broadcast against their letter's other places (as
    NumPy and PyTorch do). Every other place of a letter must have the same size, at run time
    too: like elementwise ops, a dimension declared None never broadcasts implicitly."""

    name = "einsum"
    broadcasts = True  # a size-1 place meeting a larger size: its gradient is summed back

    def normalize(self, inputs, attrs):
        if not inputs:
            raise ValueError("einsum: need at least one operand")
        spec = attrs["subscripts"]
        if not isinstance(spec, tuple):  # a user's string; gradients pass normalized ones
            spec = parse_subscripts(spec, [x.ndim for x in inputs])
        ones = tuple((k, a) for k, x in enumerate(inputs) for a, d in enumerate(x.shape) if d == 1)
        return {"subscripts": spec, "ones": ones}

    def _sizes(self, shapes, labels, ones):
        """Each letter's size, checking that its places agree (places in `ones` broadcast)."""
        sizes = {}
        for k, (shape, term) in enumerate(zip(shapes, labels)):
            for axis, (c, d) in enumerate(zip(term, shape)):
                if (k, axis) in ones:
                    sizes.setdefault(c, 1)
                    continue
                known = sizes.get(c, 1)
                if d is not None and known not in (None, 1) and d != known:
                    shown = ", ".join(f"{t}: {fmt_shape(s)}" for t, s in zip(labels, shapes))
                    raise ShapeError(f"einsum: subscript {c!r} has sizes {known} and {d} ({shown})")
                sizes[c] = d if known in (None, 1) else known
        return sizes

    def infer(self, inputs, attrs):
        labels, output = attrs["subscripts"]
        sizes = self._sizes([x.shape for x in inputs], labels, attrs["ones"])
        return tuple(sizes[c] for c in output), np.result_type(*(x.dtype for x in inputs))

    def impl(self, *xs, subscripts, ones):
        labels, output = subscripts
        self._sizes([np.shape(x) for x in xs], labels, ones)  # None dimensions are known only now
        out = np.asarray(np.einsum(",".join(labels) + "->" + output, *xs, optimize=True))
        # a pure permutation comes back as a view of the operand: results never alias inputs here
        return out.copy() if any(np.may_share_memory(out, x) for x in xs) else out

    def vjp(self, g, out, *xs, subscripts, ones):
        labels, output = subscripts
        grads = []
        for k, (x, term) in enumerate(zip(xs, labels)):
            others = [(y, t) for j, (y, t) in enumerate(zip(xs, labels)) if j != k]
            # letters whose full size g or another operand has (a size-1 place has only 1)
            full = set(output).union(*({c for a, c in enumerate(t) if (j, a) not in ones}
                                       for j, (_, t) in enumerate(zip(xs, labels)) if j != k))
            distinct = "".join(dict.fromkeys(term))
            # the shape of the gradient before it goes back on a diagonal: x's diagonal's
            ref = x if distinct == term else einsum_of([x], [term], distinct)
            operands, terms = [g] + [y for y, _ in others], [output] + [t for _, t in others]
            if any(c not in full and (k, a) not in ones for a, c in enumerate(term)):
                # a letter summed over that only this operand has at full size: every place along
                # it gets the same gradient, so the einsum also multiplies by ones shaped like x
                operands, terms = operands + [ew.add(shp.zeros_like(ref, g.dtype), 1)], terms + [distinct]
            grad = einsum_of(operands, terms, distinct)
            if distinct != term:
                grad = _onto_diagonals(grad, distinct, term, ref)
            grads.append(grad)
        return tuple(grads)

    def jvp(self, tangents, out, *xs, subscripts, ones):
        labels, output = subscripts
        total = None
        for k, t in enumerate(tangents):
            if t is None:
                continue
            term = einsum_of(list(xs[:k]) + [t] + list(xs[k + 1:]), labels, output)
            total = term if total is None else ew.add(total, term)
        return total

    def dim_links(self, node):
        """A letter's places other than size-1 ones have equal sizes, which the output has."""
        labels, output = node.attrs["subscripts"]
        first, equal = {}, []
        for k, term in enumerate(labels):
            for axis, c in enumerate(term):
                if (k, axis) in node.attrs["ones"]:
                    continue
                if c in first:
                    equal.append((first[c], (k, axis)))
                else:
                    first[c] = (k, axis)
        return [first.get(c) for c in output], equal


def _onto_diagonals(grad, distinct, term, ref):
    """grad (subscripts `distinct`) placed on the diagonals of `term`, zero elsewhere: each repeat
    of a letter gets a fresh letter, tied to the first by an identity matrix."""
    fresh = iter(c for c in LETTERS if c not in term)
    spread, eyes, eye_labels, seen = "", [], [], set()
    for c in term:
        if c in seen:
            spread += next(fresh)
            eyes.append(_identity_along(ref, distinct.index(c), grad.dtype))
            eye_labels.append(c + spread[-1])
        else:
            seen.add(c)
            spread += c
    return einsum_of([grad] + eyes, [distinct] + eye_labels, spread)


def _identity_along(ref, axis, dtype):
    """The identity matrix as large as ref's `axis` (its size may be known only at run time)."""
    from . import reductions as red
    from . import scans

    others = tuple(d for d in range(ref.ndim) if d != axis)
    ones = ew.add(shp.zeros_like(red.sum(ew.stop_gradient(ref), others), dtype), 1)
    places = scans.cumsum(ones, 0)
    return ew.astype(ew.equal(shp.expand_dims(places, 1), shp.expand_dims(places, 0)), dtype)


def einsum_of(operands, labels, output):
    return apply(EINSUM, *operands, subscripts=(tuple(labels), output))


def einsum(subscripts, *operands):
    """np.einsum(subscripts, *operands) (see the module doc for what is not accepted)."""
    return apply(EINSUM, *operands, subscripts=subscripts)
