"""Test domains of the reductions, scans and array ops (API.md section 10): prod var std any all,
cumsum cumprod, sort argsort topk, einsum, pad tril triu flip roll, scatter_add one_hot."""
import numpy as np

import graphc as gc
from op_domains import BOOL, I64, Case, add, away_from_zero, bools, distinct, each, ints, normal


def _axis_case(op, name, build, shape, ref, **kw):
    add(Case(op, name, build, [shape], ref, **kw))


# ---- prod, var, std, any, all ---------------------------------------------------------------------
def _with_zeros(rng, shapes):
    """One zero in row 0, two in row 1, none in row 2: prod's gradient is exact in every case."""
    x = rng.uniform(0.5, 1.5, shapes[0]) * rng.choice([-1.0, 1.0], shapes[0])
    x[0, 1] = 0.0
    x[1, 0] = x[1, 3] = 0.0
    return [x]


_axis_case("prod", "axis=1", lambda x: gc.prod(x, 1), (3, 4), lambda x: np.prod(x, 1), gen=each(away_from_zero(0.5, 1.5)))
_axis_case("prod", "axes=(0,2)-keepdims", lambda x: gc.prod(x, (0, 2), keepdims=True), (2, 3, 2),
           lambda x: np.prod(x, (0, 2), keepdims=True), gen=each(away_from_zero(0.5, 1.5)))
_axis_case("prod", "zeros-axis=1", lambda x: gc.prod(x, 1), (3, 4), lambda x: np.prod(x, 1), gen=_with_zeros)
_axis_case("prod", "zeros-all", gc.prod, (3, 4), np.prod, gen=_with_zeros)
_axis_case("var", "axis=0", lambda x: gc.var(x, 0), (3, 4), lambda x: np.var(x, 0))
_axis_case("var", "axes=(0,2)-keepdims-ddof=1", lambda x: gc.var(x, (0, 2), keepdims=True, ddof=1), (2, 3, 4),
           lambda x: np.var(x, (0, 2), keepdims=True, ddof=1))
_axis_case("std", "axis=1", lambda x: gc.std(x, axis=1), (3, 5), lambda x: np.std(x, 1))
_axis_case("std", "all-ddof=1", lambda x: gc.std(x, ddof=1), (2, 3), lambda x: np.std(x, ddof=1))
_axis_case("any", "axis=1", lambda x: gc.any(x, 1), (3, 4), lambda x: np.any(x, 1), dtypes=[BOOL])
_axis_case("any", "float-keepdims", lambda x: gc.any(x, 0, keepdims=True), (3, 4),
           lambda x: np.any(x, 0, keepdims=True), gen=each(lambda rng, s: normal(rng, s) * (rng.random(s) < 0.2)))
_axis_case("all", "all-axes", gc.all, (3, 4), np.all, dtypes=[BOOL], gen=each(lambda rng, s: rng.random(s) < 0.9))
_axis_case("all", "axis=0", lambda x: gc.all(x, 0), (2, 3), lambda x: np.all(x, 0), dtypes=[BOOL], gen=each(bools))


# ---- cumulative sums and products -------------------------------------------------------------------
_axis_case("cumsum", "axis=1", lambda x: gc.cumsum(x, 1), (3, 4), lambda x: np.cumsum(x, 1))
_axis_case("cumsum", "flattened", gc.cumsum, (2, 3), np.cumsum)
_axis_case("cumprod", "axis=1", lambda x: gc.cumprod(x, 1), (3, 4), lambda x: np.cumprod(x, 1),
           gen=each(away_from_zero(0.5, 1.5)))
_axis_case("cumprod", "zeros-axis=1", lambda x: gc.cumprod(x, 1), (3, 4), lambda x: np.cumprod(x, 1),
           gen=_with_zeros)


# ---- orderings: values differ by >= 0.4, so sort's gradient is the permutation's -------------------
def _desc(x, axis):
    return np.flip(np.sort(x, axis), axis)


_axis_case("argsort", "axis=-1", gc.argsort, (3, 4), lambda x: np.argsort(x, -1), gen=each(distinct()))
_axis_case("argsort", "descending-axis=0", lambda x: gc.argsort(x, 0, descending=True), (4, 3),
           lambda x: np.argsort(-x, 0), gen=each(distinct()))
_axis_case("argsort", "sort-values", gc.sort, (3, 4), np.sort, gen=each(distinct()), nondiff=False)
_axis_case("argsort", "sort-axis=0", lambda x: gc.sort(x, axis=0), (4, 3), lambda x: np.sort(x, 0),
           gen=each(distinct()), nondiff=False)
_axis_case("topk_indices", "indices", lambda x: gc.topk(x, 2)[1], (3, 5), lambda x: np.argsort(-x, -1)[:, :2],
           gen=each(distinct()))
_axis_case("topk_indices", "values-axis=0", lambda x: gc.topk(x, 3, axis=0)[0], (4, 3), lambda x: _desc(x, 0)[:3],
           gen=each(distinct()), nondiff=False)


# ---- einsum ------------------------------------------------------------------------------------------
for _spec, _shapes in [("ij,jk->ik", [(3, 4), (4, 2)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
                       ("ij->", [(3, 4)]), ("i,j", [(3,), (2,)]), ("...ij,jk", [(2, 3, 4), (4, 2)]),
                       ("ijk,j->ki", [(2, 3, 2), (3,)]), ("ii->", [(3, 3)]), ("bii,ij->bj", [(2, 3, 3), (3, 2)])]:
    add(Case("einsum", _spec, (lambda s: lambda *xs: gc.einsum(s, *xs))(_spec), _shapes,
             (lambda s: lambda *xs: np.einsum(s, *xs))(_spec)))


# ---- pad, tril, triu, flip, roll -----------------------------------------------------------------
_axis_case("pad", "pairs-value", lambda x: gc.pad(x, ((1, 2), (0, 1)), value=0.5), (3, 4),
           lambda x: np.pad(x, ((1, 2), (0, 1)), constant_values=0.5))
_axis_case("pad", "int", lambda x: gc.pad(x, 2), (3,), lambda x: np.pad(x, 2))
for _mode in ("reflect", "edge"):
    _axis_case("index_select", f"pad-{_mode}", (lambda m: lambda x: gc.pad(x, ((2, 1), (0, 3)), mode=m))(_mode),
               (3, 4), (lambda m: lambda x: np.pad(x, ((2, 1), (0, 3)), mode=m))(_mode), dynamic=False)
_axis_case("tril", "k=0", gc.tril, (4, 4), np.tril)
_axis_case("tril", "batched-k=-1", lambda x: gc.tril(x, -1), (2, 3, 4), lambda x: np.tril(x, -1))
_axis_case("triu", "k=0", gc.triu, (3, 4), np.triu)
_axis_case("triu", "batched-k=1", lambda x: gc.triu(x, k=1), (2, 4, 3), lambda x: np.triu(x, 1))
_axis_case("flip", "axis=0", lambda x: gc.flip(x, 0), (3, 4), lambda x: np.flip(x, 0))
_axis_case("flip", "all", gc.flip, (2, 3, 2), np.flip)
_axis_case("roll", "flattened", lambda x: gc.roll(x, 5), (3, 4), lambda x: np.roll(x, 5))
_axis_case("roll", "two-axes", lambda x: gc.roll(x, (1, -2), axis=(0, 1)), (3, 4), lambda x: np.roll(x, (1, -2), (0, 1)))


# ---- scatter_add (PyTorch's), one_hot -------------------------------------------------------------
_PLACES = np.array([[0, 2, 2, 1], [2, 2, 0, 0]])


def _torch_scatter_add(x, dim, index, src):
    out = x.copy()
    for pos in np.ndindex(*index.shape):
        dst = list(pos)
        dst[dim] = index[pos]
        out[tuple(dst)] += src[pos]
    return out


add(Case("scatter_add", "public-dim=0", lambda x, s: gc.scatter_add(x, 0, _PLACES, s), [(3, 4), (2, 4)],
         lambda x, s: _torch_scatter_add(x, 0, _PLACES, s), dynamic=False))
add(Case("scatter_add", "public-dim=1-larger-src", lambda x, s: gc.scatter_add(x, 1, _PLACES, s), [(2, 3), (3, 5)],
         lambda x, s: _torch_scatter_add(x, 1, _PLACES, s), dynamic=False))
add(Case("one_hot_like", "one_hot", lambda labels: gc.one_hot(labels, 5), [(2, 3)],
         lambda labels: np.eye(5, dtype=np.int64)[labels], dtypes=[I64], gen=each(ints(0, 5))))
