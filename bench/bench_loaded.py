"""Benchmark 6: a small-matmul training step on a quiet machine and next to two processes that
keep NumPy's BLAS busy.

The step is `graphc demo`'s: one SGD step of a 2 -> 64 tanh -> 64 tanh -> 3 MLP on 720 points
(720x64 @ 64x64 matmuls), float64; with --full also the 64-256-256-10 MLP of bench_mlp at
batch 1797 (matmuls of 30-120M multiply-adds, where the BLAS's threads pay on a quiet machine).
The benchmark starts COMPETITORS processes, each multiplying 1000x1000 float64 matrices in a loop
on all of OpenBLAS's threads, and stops them itself (also on an error or Ctrl-C; each one also
exits when this process is gone). It does so twice: with the competitors in this process's
session, and in sessions of their own. With Linux's autogroup scheduling each session gets an
equal CPU share: competitors in this session leave this process ~1/(2 * COMPETITORS + 1) of
the cores (a single-threaded step can't stay within 2.5x of quiet on 2 cores), competitors in
their own sessions leave it a session's share. --same-session or --own-sessions runs one.

Contenders: graphc; graphc-plain, the same step with every matmul a plain NumPy call on the
BLAS's threads (how graphc ran them before issue 8); numpy, the hand-written step of bench_mlp;
jax.jit and torch when installed. Each is timed quiet, under each load, then quiet again
(medians, contenders interleaved); the ratio is loaded / quiet (the lower quiet median).

Target: graphc loaded/quiet <= 3 on the demo step.

Run: python bench/bench_loaded.py [--full] [--same-session | --own-sessions]
"""
import os
import signal
import subprocess
import sys
import time

import numpy as np

from bench_mlp import NumpyMLP, jax_step, torch_step
from common import header, import_jax, import_torch, print_cpu_features, print_summary, record_target, time_all

import graphc as gc
from graphc.backends.numba_backend import backend as numba_backend
from graphc.demo import init_params, model, spiral

COMPETITORS = 2
LOADS = [(label, own) for label, own in [("same session", False), ("own sessions", True)]
         if f"--{label.replace(' ', '-')}" in sys.argv or not {"--same-session", "--own-sessions"} & set(sys.argv)]
LIMIT = 3.0
# Each competitor: big matmuls forever; it says "ready" after its first one and stops when its
# parent is gone (its parent id changes), so a killed benchmark leaves nothing running.
COMPETITOR = """
import os, sys
import numpy as np
parent = int(sys.argv[1])
a = np.random.default_rng(0).standard_normal((1000, 1000))
a @ a
print("ready", flush=True)
while os.getppid() == parent:
    a @ a
"""


class Competitors:
    """COMPETITORS processes running NumPy matmuls, from `with` until its end (always)."""

    def __init__(self, own_sessions):
        self.own_sessions = own_sessions

    def __enter__(self):
        self.procs = []
        try:
            for _ in range(COMPETITORS):
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-c", COMPETITOR, str(os.getpid())], stdout=subprocess.PIPE, text=True,
                    start_new_session=self.own_sessions))
            for proc in self.procs:
                if proc.stdout.readline().strip() != "ready":
                    raise RuntimeError(f"competitor {proc.pid} failed to start (exit code {proc.poll()})")
        except BaseException:
            self.stop()
            raise
        time.sleep(0.5)  # let their OpenBLAS threads reach their steady state
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()


def plain_matmul(sink, a, b):
    """How graphc ran a matmul before issue 8: NumPy's call as it is, on the BLAS's threads."""
    if a.ndim != 2 or b.ndim != 2:
        return np.asarray(np.matmul(a, b))
    return np.matmul(a, b, out=sink.get((a.shape[0], b.shape[1]), np.result_type(a.dtype, b.dtype)))


def graphc_step(sizes, x_data, y_data, plain=False):
    x = gc.placeholder((None, sizes[0]), "float64", name="x")
    y = gc.placeholder((None,), "int64", name="y")
    params = [gc.Variable(v) for v in init_params(sizes)]
    loss = gc.cross_entropy(model(params, x), y)
    grads = gc.grad(loss, params)
    updates = {p: p - 0.1 * g for p, g in zip(params, grads)}
    chosen = numba_backend.matmul_into  # the driver takes it from there when it is compiled
    if plain:
        numba_backend.matmul_into = plain_matmul
    try:
        step = gc.compile([x, y], loss, updates=updates)
    finally:
        numba_backend.matmul_into = chosen
    return lambda: step(x_data, y_data)


def cases():
    x, y = spiral()
    yield "demo 2-64-64-3 batch 720", [2, 64, 64, 3], x[:720], y[:720]
    if "--full" in sys.argv:
        rng = np.random.default_rng(1)
        yield "mlp 64-256-256-10 batch 1797", [64, 256, 256, 10], rng.standard_normal((1797, 64)), \
            rng.integers(0, 10, 1797)


def contenders(sizes, x, y, jax, torch):
    params = init_params(sizes)
    calls = {"graphc": graphc_step(sizes, x, y), "graphc-plain": graphc_step(sizes, x, y, plain=True)}
    numpy_step = NumpyMLP(params)
    calls["numpy"] = lambda: numpy_step(x, y)
    if jax is not None:
        jax_call = jax_step(jax, params)
        calls["jax.jit"] = lambda: jax_call(x, y)
    if torch is not None:
        torch_call = torch_step(torch, params)
        calls["torch"] = lambda: torch_call(x, y)
    return calls


def measure(all_calls):
    return {case: time_all(calls, warmup=5, repeats=9, min_repeat_time=0.05, budget=4.0)
            for case, calls in all_calls.items()}


def load_line(when):
    try:
        one, five, _ = os.getloadavg()
        return f"{when}: load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"
    except OSError:
        return f"{when}: load average unknown"


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the cleanup on `kill` too
    jax, torch = import_jax(), import_torch()
    header("bench_loaded: a small-matmul training step, quiet and next to processes using NumPy's BLAS",
           jax, torch)
    print_cpu_features()
    print(f"load: {COMPETITORS} processes, each multiplying 1000x1000 float64 matrices on NumPy's BLAS in a loop, "
          f"{' / '.join(label for label, _ in LOADS)}\n")
    all_calls = {case: contenders(sizes, x, y, jax, torch) for case, sizes, x, y in cases()}
    print(load_line("quiet"))
    quiet = measure(all_calls)
    loaded = {}
    for label, own_sessions in LOADS:
        with Competitors(own_sessions):
            print(load_line(f"competitors running ({label})"))
            loaded[label] = measure(all_calls)
        time.sleep(2.0)  # the competitors' exit and their threads' wind-down
    quiet_again = measure(all_calls)
    print(load_line("quiet again"))
    print()
    report(all_calls, quiet, loaded, quiet_again)
    print_summary()


def report(all_calls, quiet, loaded, quiet_again):
    print("median ms per step, quiet, under each load and quiet again; ratio = loaded / quiet "
          "(quiet: the lower of the two quiet medians)")
    head = f"{'case':<30} {'contender':<13} {'quiet':>8}" + "".join(f" {label:>13}" for label in loaded) \
        + f" {'again':>8}" + "".join(f" {'ratio ' + label:>19}" for label in loaded)
    print(head)
    print("-" * len(head))
    for case, calls in all_calls.items():
        for name in calls:
            base = min(quiet[case][name], quiet_again[case][name])
            line = f"{case:<30} {name:<13} {quiet[case][name] * 1e3:8.3f}"
            line += "".join(f" {times[case][name] * 1e3:13.3f}" for times in loaded.values())
            line += f" {quiet_again[case][name] * 1e3:8.3f}"
            for label, times in loaded.items():
                ratio = times[case][name] / base
                verdict = ""
                if name == "graphc" and case.startswith("demo"):
                    verdict = record_target("loaded", f"{case} ({label})", f"loaded/quiet<={LIMIT:g}", ratio, LIMIT)
                line += f" {verdict:>5} {ratio:13.2f}"
            print(line)
    print()


if __name__ == "__main__":
    main()
