"""The control-flow examples run as a user runs them (a subprocess each) and say what they promise."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_example(name, *args, timeout=120):
    # the checkout under test, not whichever graphc the interpreter has installed
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, os.path.join(ROOT, "examples", name), *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=timeout, env=env)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_rnn_digits_learns_and_agrees_with_eager_mode():
    # Measured: 95.8, 96.7, 95.0, 96.4% test accuracy after 4, 5, 6, 8 epochs (98.6% at the default 20).
    out = run_example("rnn_digits.py", "--epochs", "5")
    accuracy = re.search(r"accuracy: train ([\d.]+)%, test ([\d.]+)%", out)
    assert accuracy, out
    assert float(accuracy.group(2)) > 90.0, out
    diffs = re.search(r"\(difference ([\d.e+-]+)\), max gradient difference ([\d.e+-]+)", out)
    assert diffs, out
    assert float(diffs.group(1)) < 1e-10 and float(diffs.group(2)) < 1e-10, out
    assert re.search(r"time per epoch: [\d.]+ ms", out), out


def test_cnn_digits_reaches_98_percent():
    # Measured: 96.9, 98.6, 98.9% test accuracy after 5, 10, 15 (the default) epochs; ~70 ms an epoch.
    out = run_example("cnn_digits.py", "--epochs", "15")
    accuracy = re.search(r"accuracy: train ([\d.]+)%, test ([\d.]+)%", out)
    assert accuracy, out
    assert float(accuracy.group(2)) > 98.0, out
    assert re.search(r"time per epoch: [\d.]+ ms", out), out


def test_newton_solver_gradient_matches_the_implicit_derivative():
    out = run_example("newton_solver.py")
    # The listing shows the while node with its condition and body under it.
    assert re.search(r"= while\(.*max_iterations=50", out), out
    assert re.search(r"^\s+cond \(", out, re.M) and re.search(r"^\s+body \(", out, re.M), out
    for mode in ("graph mode, numpy backend", "graph mode, numba backend", "eager mode"):
        assert f"{mode}: " in out, out
    diffs = [float(d) for d in re.findall(r"max difference from the implicit derivative: ([\d.e+-]+)", out)]
    assert len(diffs) == 3, out
    assert max(diffs) < 1e-10, out
