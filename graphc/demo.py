"""`graphc demo`: one model function, trained compiled and checked against eager mode.

A small MLP classifies a three-armed spiral generated in code (no downloads). The same Python
function builds the graph (placeholders and Variables) and runs eagerly (tensors), so the demo
can show both the optimizer's work and that the two modes agree.
"""
import os
import time

import numpy as np

import graphc as gc


def spiral(n_per_class=300, classes=3, noise=0.2, seed=0):
    """Points on `classes` interleaved spiral arms in 2-D, with integer labels."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.05, 1.0, n_per_class)
        theta = np.linspace(c * 2 * np.pi / classes, c * 2 * np.pi / classes + 4.0, n_per_class)
        theta = theta + rng.normal(0.0, noise, n_per_class)
        xs.append(np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1))
        ys.append(np.full(n_per_class, c))
    x, y = np.concatenate(xs), np.concatenate(ys)
    order = rng.permutation(len(y))
    return x[order], y[order].astype(np.int64)


def init_params(sizes, seed=0):
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append(rng.normal(0.0, 1.0 / np.sqrt(fan_in), (fan_in, fan_out)))
        params.append(np.zeros(fan_out))
    return params


def model(params, x):
    """The MLP, written once: works on graph nodes and on eager tensors alike."""
    *hidden, w_out, b_out = params
    h = x
    for w, b in zip(hidden[::2], hidden[1::2]):
        h = gc.tanh(h @ w + b)
    return h @ w_out + b_out


TIMING_ROUNDS = 10  # as many eager steps as the demo timed before


def compare_times(compiled, eager, rounds=TIMING_ROUNDS, compiled_per_round=3, clock=time.perf_counter):
    """Seconds per call of compiled() and of eager(): the fastest of `rounds` rounds, the two
    taking turns. Load from other processes only adds time, so the fastest round is the one
    it disturbed least, and taking turns lets a burst of load hit both alike."""
    best_compiled = best_eager = float("inf")
    for _ in range(rounds):
        start = clock()
        for _ in range(compiled_per_round):
            compiled()
        best_compiled = min(best_compiled, (clock() - start) / compiled_per_round)
        start = clock()
        eager()
        best_eager = min(best_eager, clock() - start)
    return best_compiled, best_eager


def busy_note():
    """A note for the speed line when other processes keep at least half the CPUs busy
    (1-minute load average), else ''."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average on this system
        return ""
    cpus = os.cpu_count() or 1
    if load < cpus / 2:
        return ""
    return (f"note: the machine is busy (load average {load:.1f} on {cpus} CPUs): both times are inflated, "
            "their ratio may be off")


def run(steps=300, lr=0.5, hidden=64, out=print):
    x_data, y_data = spiral()
    split = int(0.8 * len(y_data))
    x_train, y_train, x_test, y_test = x_data[:split], y_data[:split], x_data[split:], y_data[split:]
    start_values = init_params([2, hidden, hidden, 3])

    # ---- graph mode: declare, differentiate, optimize, compile -----------------------------
    x = gc.placeholder((None, 2), "float64", name="x")
    y = gc.placeholder((None,), "int64", name="y")
    params = [gc.Variable(v, name=n) for v, n in zip(start_values, ["W1", "b1", "W2", "b2", "W3", "b3"])]
    logits = model(params, x)
    loss = gc.cross_entropy(logits, y)
    grads = gc.grad(loss, params)
    start = time.perf_counter()
    train_step = gc.compile([x, y], loss, updates={p: p - lr * g for p, g in zip(params, grads)})
    compile_seconds = time.perf_counter() - start
    predict = gc.compile([x], gc.argmax(logits, axis=1))
    stats = train_step.stats
    out("graphc demo: a 2-64-64-3 tanh MLP on a generated 3-class spiral, full-batch SGD")
    out(f"  graph: {stats.nodes_before} nodes as built (forward + gradient + updates), "
        f"{stats.nodes_after} after optimization, {stats.kernels} fused kernels")
    warm = stats.cache_hits == len(stats.cache) and stats.cache
    out(f"  compile: {compile_seconds:.2f} s (kernel cache {'warm' if warm else 'cold'}: "
        f"{stats.cache_hits} hits, {stats.cache_misses} misses)")

    # ---- eager mode: the same function on tensors, PyTorch-style -----------------------------
    eager_params = [gc.tensor(v, requires_grad=True) for v in start_values]
    xt, yt = gc.tensor(x_train), gc.tensor(y_train)

    def eager_step():
        value = gc.cross_entropy(model(eager_params, xt), yt)
        value.backward()
        with gc.no_grad():
            for p in eager_params:
                p -= lr * p.grad
                p.grad.zero_()
        return value.item()

    # One step each from the same start: losses and new parameters must agree.
    compiled_loss = float(train_step(x_train, y_train))
    eager_loss = eager_step()
    param_diff = max(float(np.max(np.abs(p.value - t.detach().numpy()))) for p, t in zip(params, eager_params))
    out(f"  agreement after one step: loss {compiled_loss:.6f} vs eager {eager_loss:.6f}, "
        f"max parameter difference {param_diff:.1e}")
    compiled_time, eager_time = compare_times(lambda: train_step(x_train, y_train), eager_step)
    out(f"  time per training step: compiled {compiled_time * 1e3:.2f} ms, eager {eager_time * 1e3:.2f} ms "
        f"({eager_time / compiled_time:.1f}x faster compiled; the fastest of {TIMING_ROUNDS} rounds, taken in turns)")
    note = busy_note()
    if note:
        out("  " + note)

    for value, p in zip(start_values, params):
        p.value = value
    for step in range(steps):
        value = train_step(x_train, y_train)
        if step % 100 == 0 or step == steps - 1:
            out(f"  step {step:4d}: loss {float(value):.4f}")
    train_acc = float(np.mean(predict(x_train) == y_train))
    test_acc = float(np.mean(predict(x_test) == y_test))
    out(f"  accuracy: train {train_acc:.1%}, test {test_acc:.1%}")
    return {"train_accuracy": train_acc, "test_accuracy": test_acc, "param_diff": param_diff,
            "compiled_loss": compiled_loss, "eager_loss": eager_loss}
