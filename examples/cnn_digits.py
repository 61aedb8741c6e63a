"""Train a small CNN on scikit-learn's digits (8x8 images, 10 classes) with graphc, in graph mode.

    pip install ".[examples]" && python examples/cnn_digits.py

conv 3x3 x16 (padding 1) -> relu -> max pool 2 -> conv 3x3 x32 (padding 1) -> relu -> max pool 2
-> linear 128 -> 10, softmax cross-entropy, SGD with momentum 0.9 (lr 0.05) written as the compiled
step's updates, batch 32, 15 epochs, float32, the 80/20 split of the MLP example: a correct
implementation reaches about 98.9% test accuracy.
"""
import argparse
import time

import numpy as np

import graphc as gc
from mlp_digits import load_digits_split  # the same data and split as the MLP example

DTYPE = "float32"


def init_params(seed=0):
    """He-initialized weights (fan-in), zero biases: (name, array) pairs."""
    rng = np.random.default_rng(seed)

    def he(shape, fan_in):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(DTYPE)

    return [("conv1", he((16, 1, 3, 3), 9)), ("bias1", np.zeros(16, DTYPE)),
            ("conv2", he((32, 16, 3, 3), 16 * 9)), ("bias2", np.zeros(32, DTYPE)),
            ("dense", he((32 * 2 * 2, 10), 128)), ("bias3", np.zeros(10, DTYPE))]


def cnn(params, x):
    """Logits of a batch of images x (batch, 1, 8, 8)."""
    w1, b1, w2, b2, w3, b3 = params
    h = gc.max_pool2d(gc.relu(gc.conv2d(x, w1, padding=1) + b1.reshape(1, -1, 1, 1)), 2)  # (batch, 16, 4, 4)
    h = gc.max_pool2d(gc.relu(gc.conv2d(h, w2, padding=1) + b2.reshape(1, -1, 1, 1)), 2)  # (batch, 32, 2, 2)
    return gc.reshape(h, (-1, 32 * 2 * 2)) @ w3 + b3


def build(lr, momentum, seed=0, image=8):
    """The compiled training step (loss, SGD with momentum as updates) and the predictor."""
    params = [gc.Variable(value, name=name) for name, value in init_params(seed)]
    velocities = [gc.Variable(np.zeros(p.shape, DTYPE), name=f"v_{p.name}") for p in params]
    x = gc.placeholder((None, 1, image, image), DTYPE, name="x")
    y = gc.placeholder((None,), "int64", name="y")
    logits = cnn(params, x)
    loss = gc.cross_entropy(logits, y)
    updates = {}
    for p, v, g in zip(params, velocities, gc.grad(loss, params)):
        new_v = momentum * v + g
        updates[v] = new_v
        updates[p] = p - lr * new_v
    step = gc.compile([x, y], loss, updates=updates)
    predict = gc.compile([x], gc.argmax(logits, axis=1))
    return step, predict


def train(epochs=15, batch=32, lr=0.05, momentum=0.9, seed=0, out=print):
    x_train, y_train, x_test, y_test = load_digits_split(seed)
    x_train, x_test = (a.reshape(-1, 1, 8, 8).astype(DTYPE) for a in (x_train, x_test))
    start = time.perf_counter()
    step, predict = build(lr, momentum, seed)
    out(f"compiled in {time.perf_counter() - start:.2f} s: {step.stats.kernels} kernels, "
        f"{step.stats.nodes_before} -> {step.stats.nodes_after} nodes")
    rng = np.random.default_rng(seed)
    epoch_times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        order = rng.permutation(len(y_train))
        losses = [float(step(x_train[idx], y_train[idx])) for idx in np.array_split(order, len(order) // batch)]
        epoch_times.append(time.perf_counter() - start)
        if epoch % 5 == 4 or epoch == epochs - 1:
            accuracy = np.mean(predict(x_test) == y_test)
            out(f"epoch {epoch + 1:2d}: train loss {np.mean(losses):.4f}, test accuracy {accuracy:.2%}")
    train_acc, test_acc = np.mean(predict(x_train) == y_train), np.mean(predict(x_test) == y_test)
    out(f"accuracy: train {train_acc:.2%}, test {test_acc:.2%}")
    out(f"time per epoch: {np.median(epoch_times) * 1e3:.1f} ms (median of {epochs})")
    return float(test_acc)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.9)
    args = parser.parse_args()
    train(args.epochs, args.batch, args.lr, args.momentum)
