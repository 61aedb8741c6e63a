"""Every op on the numba backend (optimized, fused) against the reference interpreter, values
and gradients, on the first test domain of each op in the registry."""
import numpy as np
import pytest

import graphc as gc
from op_domains import DOMAINS

FIRST_CASES = [DOMAINS[name][0] for name in sorted(DOMAINS)]


@pytest.mark.parametrize("case", FIRST_CASES, ids=[c.id for c in FIRST_CASES])
def test_numba_matches_reference(case):
    xs = case.placeholders()
    y = case.build(*xs)
    outputs = [y]
    if case.differentiable and y.dtype.kind == "f":
        weight = gc.constant(np.linspace(-1.0, 1.0, max(1, int(np.prod(y.shape)))).reshape(y.shape))
        outputs += gc.grad(gc.sum(y * weight), [xs[i] for i in case.diff])
    arrays = case.inputs(seed=0)
    fast = gc.compile(xs, outputs)
    slow = gc.compile(xs, outputs, backend="numpy", optimize=False)
    with np.errstate(all="ignore"):
        got, want = fast(*arrays), slow(*arrays)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("case", FIRST_CASES, ids=[c.id for c in FIRST_CASES])
def test_nan_check_runs_every_op(case, backend):
    # nan_check wraps every step, NumPy steps with attributes included; on NaN-free inputs it
    # must change nothing.
    xs = case.placeholders()
    y = case.build(*xs)
    arrays = case.inputs(seed=0)
    checked = gc.compile(xs, y, backend=backend, nan_check=True)
    plain = gc.compile(xs, y, backend="numpy", optimize=False)
    with np.errstate(all="ignore"):
        want = plain(*arrays)
        if np.asarray(want).dtype.kind in "fc" and np.isnan(want).any():
            with pytest.raises(gc.NaNError, match="NaN produced by"):
                checked(*arrays)
            return
        got = checked(*arrays)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)
