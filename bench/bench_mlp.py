"""Benchmark 3: one SGD training step of an MLP 64 -> 256 tanh -> 256 tanh -> 10, softmax
cross-entropy (mean over the batch, integer labels), lr 0.1, batch 64 and 1797, float64/float32.

graphc: gc.Variable parameters, gc.grad, gc.compile([x, y], loss, updates={W: W - lr*gW, ...}).
Peers: hand-written NumPy backprop (in-place SGD), jax.jit (a jitted step returning new params),
torch (autograd backward + manual SGD under no_grad), pytensor (shared variables + updates).
All start from the same initial parameters and see the same batch; the losses of the first two
steps (the second one shows the update) are compared across frameworks.

Targets: graphc/numpy <= 0.6 at batch 1797, <= 1.0 at batch 64.

Run: python bench/bench_mlp.py [--quick]
"""
import sys

import numpy as np

from common import (
    header, import_jax, import_pytensor, import_torch, print_summary, print_table, pytensor_function,
    Target, print_breakdown, time_all,
)

import graphc as gc

SIZES = [64, 256, 256, 10]
LR = 0.1
BATCHES = [64, 1797]
DTYPES = ["float64", "float32"]
if "--quick" in sys.argv:
    DTYPES = ["float64"]


def init_params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        params.append((rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(dtype))
        params.append((rng.standard_normal(fan_out) * 0.1).astype(dtype))
    return params


def make_data(batch, dtype, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, SIZES[0])).astype(dtype)
    y = rng.integers(0, SIZES[-1], batch).astype(np.int64)
    return x, y


# ---------------------------------------------------------------- implementations
def graphc_graph(params, dtype):
    """The training step as a graph: (inputs, loss, updates), ready for gc.compile."""
    x = gc.placeholder((None, SIZES[0]), dtype, name="x")
    y = gc.placeholder((None,), "int64", name="y")
    vs = [gc.Variable(p.copy(), name=f"p{i}") for i, p in enumerate(params)]
    W1, b1, W2, b2, W3, b3 = vs
    h1 = gc.tanh(x @ W1 + b1)
    h2 = gc.tanh(h1 @ W2 + b2)
    loss = gc.cross_entropy(h2 @ W3 + b3, y)
    grads = gc.grad(loss, vs)
    return [x, y], loss, {v: v - LR * g for v, g in zip(vs, grads)}


def graphc_step(params, dtype):
    inputs, loss, updates = graphc_graph(params, dtype)
    step = gc.compile(inputs, loss, updates=updates)
    return (lambda xb, yb: float(step(xb, yb))), step


class NumpyMLP:
    """Hand-written forward and backward pass with in-place SGD (what a NumPy user would write)."""

    def __init__(self, params):
        self.p = [p.copy() for p in params]

    def __call__(self, x, y):
        W1, b1, W2, b2, W3, b3 = self.p
        n = x.shape[0]
        h1 = np.tanh(x @ W1 + b1)
        h2 = np.tanh(h1 @ W2 + b2)
        logits = h2 @ W3 + b3
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        rows = np.arange(n)
        loss = float(np.mean(np.log(s[:, 0]) - z[rows, y]))
        d3 = e / s
        d3[rows, y] -= 1
        d3 /= n
        gW3, gb3 = h2.T @ d3, d3.sum(axis=0)
        d2 = (d3 @ W3.T) * (1 - h2 * h2)
        gW2, gb2 = h1.T @ d2, d2.sum(axis=0)
        d1 = (d2 @ W2.T) * (1 - h1 * h1)
        gW1, gb1 = x.T @ d1, d1.sum(axis=0)
        for p, g in zip(self.p, (gW1, gb1, gW2, gb2, gW3, gb3)):
            p -= LR * g
        return loss


def blas_floor(params, x):
    """Just the 8 matmuls of one step (forward 3, backward 5), fresh outputs like NumPy's: the
    BLAS time that graphc, which also runs matmul on NumPy's BLAS, cannot go below."""
    W1, b1, W2, b2, W3, b3 = params
    n = x.shape[0]
    rng = np.random.default_rng(2)
    h1, h2 = np.tanh(x @ W1 + b1), np.tanh(np.tanh(x @ W1 + b1) @ W2 + b2)
    d3, d2, d1 = (rng.standard_normal((n, k)).astype(x.dtype) for k in (10, 256, 256))
    return lambda: (x @ W1, h1 @ W2, h2 @ W3, h2.T @ d3, d3 @ W3.T, h1.T @ d2, d2 @ W2.T, x.T @ d1)


def jax_step(jax, params):
    jnp = jax.numpy

    def loss_fn(p, x, y):
        W1, b1, W2, b2, W3, b3 = p
        h1 = jnp.tanh(x @ W1 + b1)
        h2 = jnp.tanh(h1 @ W2 + b2)
        logp = jax.nn.log_softmax(h2 @ W3 + b3, axis=-1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def step(p, x, y):
        loss, g = jax.value_and_grad(loss_fn)(p, x, y)
        return loss, tuple(pi - LR * gi for pi, gi in zip(p, g))

    state = {"p": tuple(jax.device_put(p) for p in params)}
    placed = {}

    def call(x, y):
        key = (id(x), id(y))
        if key not in placed:  # the batch goes to the device once, outside the timing
            placed.clear()
            placed[key] = (jax.device_put(x), jax.device_put(y))
        loss, state["p"] = step(state["p"], *placed[key])
        jax.block_until_ready(state["p"])
        return float(loss)

    return call


def torch_step(torch, params):
    ps = [torch.tensor(p, requires_grad=True) for p in params]
    F = torch.nn.functional
    cache = {}

    def call(x, y):
        key = (id(x), id(y))
        if key not in cache:
            cache.clear()
            cache[key] = (torch.from_numpy(x), torch.from_numpy(y))
        xt, yt = cache[key]
        W1, b1, W2, b2, W3, b3 = ps
        h1 = torch.tanh(xt @ W1 + b1)
        h2 = torch.tanh(h1 @ W2 + b2)
        loss = F.cross_entropy(h2 @ W3 + b3, yt)
        loss.backward()
        with torch.no_grad():
            for p in ps:
                p -= LR * p.grad
                p.grad = None
        return loss.item()

    return call


def pytensor_step(pytensor, params, dtype):
    pt = pytensor.tensor
    x = pt.matrix("x", dtype=dtype)
    y = pt.vector("y", dtype="int64")
    vs = [pytensor.shared(p.copy(), name=f"p{i}") for i, p in enumerate(params)]
    W1, b1, W2, b2, W3, b3 = vs
    h1 = pt.tanh(x @ W1 + b1)
    h2 = pt.tanh(h1 @ W2 + b2)
    logp = pt.special.log_softmax(h2 @ W3 + b3, axis=-1)
    loss = -pt.mean(logp[pt.arange(y.shape[0]), y])
    grads = pytensor.grad(loss, vs)
    lr = np.asarray(LR, dtype=dtype)
    f = pytensor_function(pytensor, [x, y], loss, updates=[(v, v - lr * g) for v, g in zip(vs, grads)])
    if f is None:
        return None
    return lambda xb, yb: float(f(xb, yb))


# ---------------------------------------------------------------- main
def main():
    jax, torch, pytensor = import_jax(), import_torch(), import_pytensor()
    header("bench_mlp: SGD step, MLP 64->256 tanh->256 tanh->10, softmax cross-entropy, lr 0.1",
           jax, torch, pytensor)
    print("numpy = hand-written backprop; jax.jit = jitted step returning new params (batch placed on the "
          "device once); torch = autograd + manual SGD under no_grad; pytensor = its default mode; blas-floor = only the step's 8 "
          "matmuls on NumPy's BLAS (not a framework: graphc/blas-floor shows how far graphc is above the BLAS "
          "time it cannot avoid)\n")

    impls = ["graphc", "numpy"] + (["jax.jit"] if jax else []) + (["torch"] if torch else []) \
        + (["pytensor"] if pytensor else []) + ["blas-floor"]
    rows, agreement = [], []
    for dtype in DTYPES:
        params = init_params(dtype)
        makers = {"graphc": lambda: graphc_step(params, dtype)[0], "numpy": lambda: NumpyMLP(params)}
        if jax:
            makers["jax.jit"] = lambda: jax_step(jax, params)
        if torch:
            makers["torch"] = lambda: torch_step(torch, params)
        if pytensor:
            makers["pytensor"] = lambda: pytensor_step(pytensor, params, dtype)
        for batch in BATCHES:
            x, y = make_data(batch, dtype)
            calls, losses = {}, {}
            for name, make in makers.items():
                step = make()  # fresh parameters from the same init for every framework and case
                if step is None:
                    continue
                losses[name] = (step(x, y), step(x, y))  # loss at init, loss after one SGD step
                calls[name] = lambda step=step: step(x, y)
            calls["blas-floor"] = blas_floor(params, x)
            times = time_all(calls, warmup=3, repeats=9, min_repeat_time=0.05, budget=6.0)
            rows.append((f"{dtype} batch={batch}", times))
            agreement.append((dtype, batch, losses))

    def applies(batch):
        return lambda case: case.endswith(f"batch={batch}")

    targets = [
        Target("graphc/numpy<=0.6 @1797", _ratio("numpy", 0.6, applies(1797))),
        Target("graphc/numpy<=1.0 @64", _ratio("numpy", 1.0, applies(64))),
    ]
    print("median time per training step (ms):")
    print_table("mlp", rows, impls, unit="ms", targets=targets)

    print("agreement (same init, same batch): loss at step 1 and after one SGD update (step 2); "
          "max relative difference from the NumPy loss")
    for dtype, batch, losses in agreement:
        ref = losses["numpy"]
        tol = 1e-6 if dtype == "float64" else 1e-5
        parts = []
        worst = 0.0
        for name, (l1, l2) in losses.items():
            rel = max(abs(l1 - ref[0]) / abs(ref[0]), abs(l2 - ref[1]) / abs(ref[1]))
            if name != "numpy":
                worst = max(worst, rel)
                parts.append(f"{name} {rel:.1e}")
        verdict = "AGREE" if worst <= tol else "DISAGREE"
        print(f"  {dtype} batch={batch}: numpy loss {ref[0]:.9f} -> {ref[1]:.9f}; {', '.join(parts)}  "
              f"[{verdict} at {tol:g}]")
    print()
    # Where graphc's step spends its time (graphc internals; a fresh step from the same init).
    for dtype in DTYPES:
        for batch in BATCHES:
            x, y = make_data(batch, dtype)
            call, f = graphc_step(init_params(dtype), dtype)
            print_breakdown(f"graphc step breakdown, {dtype} batch={batch}", f, lambda: call(x, y), reps=20)
    print()
    print_summary()


def _ratio(peer, limit, applies):
    def check(case, times):
        if not applies(case) or times.get("graphc") is None or times.get(peer) is None:
            return None
        return times["graphc"] / times[peer], limit
    return check


if __name__ == "__main__":
    main()
