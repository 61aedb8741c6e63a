"""Test domains of the random ops, against an independent reference of the same Philox stream.

The cases build the ops with a constant generator state (not a GeneratorState, which gc.compile
advances per call), so a node's values are the same in every compiled function the battery makes
of it: the battery checks the op (values on both backends, fused or not, unknown sizes, the
gradient of `u * x`, which is `u`), and tests/test_random.py checks the per-call advancing.
The reference computes Philox4x32-10 with Python integers, one element at a time, and the normal
transform with NumPy's log and cos (ir/philox.py uses its own polynomials: equal to a few ulp).
"""
import numpy as np

from graphc.ir.dispatch import apply
from graphc.ir.ops.random import RANDOM_NORMAL, RANDOM_UNIFORM, RANDOM_UNIFORM_FLOAT32
from graphc.ir.ops.sources import constant
from op_domains import Case, add

KEY, STATE = 0x243F6A8885A308D3, 5
_MASK = 0xFFFFFFFF


def philox_words(key, counter, index):
    """Philox4x32-10 (Random123's philox4x32_R with R=10) on Python ints."""
    c = [index & _MASK, index >> 32, counter & _MASK, counter >> 32]
    k = [key & _MASK, key >> 32]
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & _MASK, (p0 >> 32) ^ c[3] ^ k[1], p0 & _MASK]
        k = [(k[0] + 0x9E3779B9) & _MASK, (k[1] + 0xBB67AE85) & _MASK]
    return c


def reference(kind, shape, dtype, key=KEY, counter=STATE):
    """The op's values for elements 0..size-1 (row-major), computed independently."""
    size = int(np.prod(shape, dtype=np.int64))
    words = [philox_words(key, counter, i) for i in range(size)]
    if kind == "uniform" and np.dtype(dtype) == np.float32:
        return np.array([(w[0] >> 8) / 2 ** 24 for w in words], np.float32).reshape(shape)
    u1 = np.array([((w[0] << 32 | w[1]) >> 11) / 2 ** 53 for w in words]).reshape(shape)
    if kind == "uniform":
        return u1
    u2 = np.array([((w[2] << 32 | w[3]) >> 11) / 2 ** 53 for w in words]).reshape(shape)
    return (np.sqrt(-2 * np.log(1 - u1)) * np.cos(2 * np.pi * u2)).astype(dtype)


def _draw(op, dtype, like=None, shape=None):
    inputs = [constant(np.uint64(KEY)), constant(np.uint64(STATE))] + ([like] if like is not None else [])
    return apply(op, *inputs, shape=like.shape if like is not None else shape, dtype=dtype)


_CASES = [
    # op, name, kind, dtype
    (RANDOM_UNIFORM, "uniform", np.float64),
    (RANDOM_UNIFORM_FLOAT32, "uniform", np.float32),
    (RANDOM_NORMAL, "normal", np.float64),
]
for _op, _kind, _dtype in _CASES:
    add(Case(_op.name, "like_x_times_x", lambda x, op=_op, d=_dtype: _draw(op, d, like=x) * x, [(3, 4)],
             lambda x, k=_kind, d=_dtype: reference(k, x.shape, d) * x, graph_only=True, rtol=1e-13))
    add(Case(_op.name, "static_plus_x", lambda x, op=_op, d=_dtype: _draw(op, d, shape=(2, 5)) + x, [(5,)],
             lambda x, k=_kind, d=_dtype: reference(k, (2, 5), d) + x, graph_only=True, rtol=1e-13))
add(Case(RANDOM_NORMAL.name, "float32_like_x", lambda x: _draw(RANDOM_NORMAL, np.float32, like=x) - x, [(7,)],
         lambda x: reference("normal", x.shape, np.float32) - x, graph_only=True, rtol=1e-6, atol=1e-6))
