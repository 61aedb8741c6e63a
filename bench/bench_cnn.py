"""Benchmark for issue 11 (convolution and pooling): one SGD training step of a small CNN.

    conv 3x3 x16 (padding 1) -> relu -> max pool 2 -> conv 3x3 x32 (padding 1) -> relu -> max pool 2
    -> linear -> 10, softmax cross-entropy (mean over the batch), lr 0.05

on random images of 8x8 and 28x28 (one channel), batch 64 and 256, float32 (--f64: float64 too).
Each call computes the loss and the gradients and applies the update. Contenders, all in this
process on the same data from the same initial parameters:

- graphc: gc.Variable parameters, gc.grad, gc.compile(..., updates=...) (numba backend);
- torch: eager, autograd backward, SGD under no_grad (oneDNN convolutions on CPU);
- jax.jit: value_and_grad of lax.conv_general_dilated / reduce_window, a jitted step returning
  new parameters;
- pytensor: its conv2d and pool_2d with shared variables and updates (default mode, and the
  other mode common.pytensor_modes gives), skipped with a note where a mode cannot compile it
  or where pytensor has no such ops (pytensor 3 removed them).

The losses of the first two steps (the second shows the update) are compared with torch's.
Target: graphc/torch <= 1.0.

Run: python bench/bench_cnn.py [--f64]
"""
import sys

import numpy as np

from common import (
    Target, header, import_jax, import_pytensor, import_torch, print_breakdown, print_cpu_features,
    print_summary, print_table, pytensor_function, pytensor_modes, time_all,
)

import graphc as gc

LR = 0.05
IMAGES = [8, 28]
BATCHES = [64, 256]
DTYPES = ["float32", "float64"] if "--f64" in sys.argv else ["float32"]
CLASSES = 10


def dense_inputs(image):
    return 32 * (image // 4) ** 2


def init_params(image, dtype, seed=0):
    rng = np.random.default_rng(seed)

    def he(shape, fan_in):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)

    return [he((16, 1, 3, 3), 9), np.zeros(16, dtype), he((32, 16, 3, 3), 144), np.zeros(32, dtype),
            he((dense_inputs(image), CLASSES), dense_inputs(image)), np.zeros(CLASSES, dtype)]


def make_data(batch, image, dtype, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, 1, image, image)).astype(dtype), rng.integers(0, CLASSES, batch)


# ---------------------------------------------------------------- implementations
def graphc_step(params, image, dtype):
    x = gc.placeholder((None, 1, image, image), dtype, name="x")
    y = gc.placeholder((None,), "int64", name="y")
    vs = [gc.Variable(p.copy(), name=f"p{i}") for i, p in enumerate(params)]
    w1, b1, w2, b2, w3, b3 = vs
    h = gc.max_pool2d(gc.relu(gc.conv2d(x, w1, padding=1) + b1.reshape(1, -1, 1, 1)), 2)
    h = gc.max_pool2d(gc.relu(gc.conv2d(h, w2, padding=1) + b2.reshape(1, -1, 1, 1)), 2)
    loss = gc.cross_entropy(gc.reshape(h, (-1, dense_inputs(image))) @ w3 + b3, y)
    step = gc.compile([x, y], loss, updates={v: v - LR * g for v, g in zip(vs, gc.grad(loss, vs))})
    return (lambda xb, yb: float(step(xb, yb))), step


def torch_step(torch, params, image):
    F = torch.nn.functional
    ps = [torch.tensor(p, requires_grad=True) for p in params]
    cache = {}

    def call(x, y):
        key = (id(x), id(y))
        if key not in cache:  # the batch becomes a tensor once, outside the timing
            cache.clear()
            cache[key] = (torch.from_numpy(x), torch.from_numpy(y))
        xt, yt = cache[key]
        w1, b1, w2, b2, w3, b3 = ps
        h = F.max_pool2d(F.relu(F.conv2d(xt, w1, b1, padding=1)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, w2, b2, padding=1)), 2)
        loss = F.cross_entropy(h.reshape(-1, dense_inputs(image)) @ w3 + b3, yt)
        loss.backward()
        with torch.no_grad():
            for p in ps:
                p -= LR * p.grad
                p.grad = None
        return loss.item()

    return call


def jax_step(jax, params, image):
    jnp, lax = jax.numpy, jax.lax

    def conv(x, w, b):
        y = lax.conv_general_dilated(x, w, (1, 1), ((1, 1), (1, 1)), dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return y + b.reshape(1, -1, 1, 1)

    def pool(x):
        return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def loss_fn(p, x, y):
        w1, b1, w2, b2, w3, b3 = p
        h = pool(jax.nn.relu(conv(x, w1, b1)))
        h = pool(jax.nn.relu(conv(h, w2, b2)))
        logp = jax.nn.log_softmax(h.reshape(-1, dense_inputs(image)) @ w3 + b3, axis=-1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def step(p, x, y):
        loss, g = jax.value_and_grad(loss_fn)(p, x, y)
        return loss, tuple(pi - LR * gi for pi, gi in zip(p, g))

    state = {"p": tuple(jax.device_put(p) for p in params)}
    placed = {}

    def call(x, y):
        key = (id(x), id(y))
        if key not in placed:
            placed.clear()
            placed[key] = (jax.device_put(x), jax.device_put(y))
        loss, state["p"] = step(state["p"], *placed[key])
        jax.block_until_ready(state["p"])
        return float(loss)

    return call


def pytensor_has_cnn_ops():
    import importlib

    try:
        importlib.import_module("pytensor.tensor.conv")
        importlib.import_module("pytensor.tensor.signal.pool")
        return True
    except ImportError as err:
        print(f"skipped: pytensor {getattr(__import__('pytensor'), '__version__', '?')} has no neural-net conv2d/"
              f"pool_2d ({err}; pytensor 3 keeps only signal.convolve1d/2d, no channels, no pooling)")
        return False


def pytensor_step(pytensor, params, image, dtype, mode):
    from pytensor.tensor.conv import conv2d
    from pytensor.tensor.signal.pool import pool_2d

    pt = pytensor.tensor
    x = pt.tensor4("x", dtype=dtype)
    y = pt.vector("y", dtype="int64")
    vs = [pytensor.shared(p.copy(), name=f"p{i}") for i, p in enumerate(params)]
    w1, b1, w2, b2, w3, b3 = vs
    h = pool_2d(pt.maximum(conv2d(x, w1, border_mode=(1, 1)) + b1.dimshuffle("x", 0, "x", "x"), 0), (2, 2),
                ignore_border=True)
    h = pool_2d(pt.maximum(conv2d(h, w2, border_mode=(1, 1)) + b2.dimshuffle("x", 0, "x", "x"), 0), (2, 2),
                ignore_border=True)
    logp = pt.special.log_softmax(h.reshape((-1, dense_inputs(image))) @ w3 + b3, axis=-1)
    loss = -pt.mean(logp[pt.arange(y.shape[0]), y])
    lr = np.asarray(LR, dtype=dtype)
    f = pytensor_function(pytensor, [x, y], loss, mode=mode,
                          updates=[(v, v - lr * g) for v, g in zip(vs, pytensor.grad(loss, vs))])
    return None if f is None else (lambda xb, yb: float(f(xb, yb)))


# ---------------------------------------------------------------- main
def main():
    jax, torch, pytensor = import_jax(), import_torch(), import_pytensor()
    header("bench_cnn: SGD step of conv3x3x16-relu-pool2-conv3x3x32-relu-pool2-linear, cross-entropy, lr 0.05",
           jax, torch, pytensor)
    print_cpu_features()
    print("torch = eager autograd + SGD under no_grad; jax.jit = jitted step returning new params (batch placed "
          "on the device once); pytensor = its conv2d/pool_2d with updates\n")
    modes = pytensor_modes(pytensor) if pytensor and pytensor_has_cnn_ops() else []
    impls = ["graphc"] + (["torch"] if torch else []) + (["jax.jit"] if jax else []) + [label for label, _ in modes]
    rows, agreement = [], []
    for dtype in DTYPES:
        for image in IMAGES:
            params = init_params(image, dtype)
            makers = {"graphc": lambda: graphc_step(params, image, dtype)[0]}
            if torch:
                makers["torch"] = lambda: torch_step(torch, params, image)
            if jax:
                makers["jax.jit"] = lambda: jax_step(jax, params, image)
            for label, mode in modes:
                makers[label] = lambda mode=mode: pytensor_step(pytensor, params, image, dtype, mode)
            for batch in BATCHES:
                x, y = make_data(batch, image, dtype)
                calls, losses = {}, {}
                for name, make in makers.items():
                    try:
                        step = make()  # fresh parameters from the same init for every contender
                        if step is None:
                            continue
                        losses[name] = (step(x, y), step(x, y))  # loss at init, after one update
                    except Exception as err:  # a peer's mode that cannot run this graph
                        print(f"skipped: {name} at {image}x{image} batch={batch}: {type(err).__name__}: "
                              f"{str(err)[:160]}")
                        continue
                    calls[name] = lambda step=step: step(x, y)
                times = time_all(calls, warmup=3, repeats=7, min_repeat_time=0.1, budget=8.0)
                rows.append((f"{dtype} {image}x{image} batch={batch}", times))
                agreement.append((f"{dtype} {image}x{image} batch={batch}", dtype, losses))

    targets = [Target("graphc/torch<=1", lambda case, times: None if not times.get("torch") or not
                      times.get("graphc") else (times["graphc"] / times["torch"], 1.0))]
    print("median time per training step (ms):")
    print_table("cnn", rows, impls, unit="ms", targets=targets)

    print("agreement (same init, same batch): loss at step 1 and after one SGD update, relative to torch's")
    for case, dtype, losses in agreement:
        ref = losses.get("torch")
        if ref is None:
            continue
        tol = 1e-4 if dtype == "float32" else 1e-9
        parts, worst = [], 0.0
        for name, (l1, l2) in losses.items():
            if name == "torch":
                continue
            rel = max(abs(l1 - ref[0]) / abs(ref[0]), abs(l2 - ref[1]) / abs(ref[1]))
            worst = max(worst, rel)
            parts.append(f"{name} {rel:.1e}")
        print(f"  {case}: torch loss {ref[0]:.6f} -> {ref[1]:.6f}; {', '.join(parts)}  "
              f"[{'AGREE' if worst <= tol else 'DISAGREE'} at {tol:g}]")
    print()
    for image in IMAGES:  # where graphc's step spends its time (graphc internals)
        x, y = make_data(256, image, DTYPES[0])
        call, f = graphc_step(init_params(image, DTYPES[0]), image, DTYPES[0])
        print_breakdown(f"graphc step breakdown, {DTYPES[0]} {image}x{image} batch=256", f, lambda: call(x, y),
                        reps=10)
    print()
    print_summary()


if __name__ == "__main__":
    main()
