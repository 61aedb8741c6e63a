"""Train an MLP on scikit-learn's bundled digits (8x8 images, 10 classes) with graphc.

    pip install ".[examples]" && python examples/mlp_digits.py

64 -> 256 tanh -> 256 tanh -> 10, softmax cross-entropy, SGD (lr 0.1), batch 64, 30 epochs, an
80/20 split with seed 0: a correct implementation reaches about 97% test accuracy.
"""
import argparse
import time

import numpy as np

import graphc as gc


def load_digits_split(seed=0):
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SystemExit("this example needs scikit-learn: pip install scikit-learn (or pip install '.[examples]')")
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float64)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    split = int(0.8 * len(y))
    train, test = order[:split], order[split:]
    return x[train], y[train], x[test], y[test]


def build(sizes, lr, seed=0):
    rng = np.random.default_rng(seed)
    x = gc.placeholder((None, sizes[0]), "float64", name="x")
    y = gc.placeholder((None,), "int64", name="y")
    params, h = [], x
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = gc.Variable(rng.normal(0.0, 1.0 / np.sqrt(fan_in), (fan_in, fan_out)), name=f"W{i + 1}")
        b = gc.Variable(np.zeros(fan_out), name=f"b{i + 1}")
        params += [w, b]
        h = h @ w + b
        if i < len(sizes) - 2:
            h = gc.tanh(h)
    loss = gc.cross_entropy(h, y)
    grads = gc.grad(loss, params)
    step = gc.compile([x, y], loss, updates={p: p - lr * g for p, g in zip(params, grads)})
    predict = gc.compile([x], gc.argmax(h, axis=1))
    return step, predict


def train(epochs=30, batch=64, lr=0.1, seed=0, out=print):
    x_train, y_train, x_test, y_test = load_digits_split(seed)
    start = time.perf_counter()
    step, predict = build([64, 256, 256, 10], lr, seed)
    out(f"compiled in {time.perf_counter() - start:.2f} s: {step.stats.kernels} kernels, "
        f"{step.stats.nodes_before} -> {step.stats.nodes_after} nodes")
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(len(y_train))
        losses = [float(step(x_train[idx], y_train[idx])) for idx in np.array_split(order, len(order) // batch)]
        if epoch % 5 == 4 or epoch == epochs - 1:
            accuracy = np.mean(predict(x_test) == y_test)
            out(f"epoch {epoch + 1:2d}: train loss {np.mean(losses):.4f}, test accuracy {accuracy:.2%}")
    out(f"trained in {time.perf_counter() - start:.2f} s")
    return float(np.mean(predict(x_test) == y_test))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()
    train(args.epochs, args.batch, args.lr)
