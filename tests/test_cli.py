"""The graphc command line: help, demo, inspect."""
import os
import subprocess
import sys

import pytest

from graphc import demo
from graphc.cli import main
from graphc.demo import busy_note, compare_times, run, spiral


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "demo" in text and "inspect" in text


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "COMMAND" in capsys.readouterr().out


def test_demo_trains_and_reports(capsys):
    lines = []
    result = run(steps=150, out=lines.append)
    text = "\n".join(lines)
    assert "nodes as built" in text and "after optimization" in text and "fused kernels" in text
    assert "compile:" in text and "kernel cache" in text
    assert "time per training step: compiled" in text and "eager" in text
    assert f"the fastest of {demo.TIMING_ROUNDS} rounds, taken in turns" in text
    assert result["param_diff"] < 1e-12
    assert abs(result["compiled_loss"] - result["eager_loss"]) < 1e-12
    assert result["test_accuracy"] > 0.9


def test_demo_times_are_the_fastest_rounds_taken_in_turns():
    now, calls = [0.0], []
    costs = {"compiled": iter([5, 5, 1, 3, 9, 9]), "eager": iter([30, 16, 50])}  # ms, call by call

    def step(name):
        def call():
            calls.append(name)
            now[0] += next(costs[name]) / 1e3
        return call

    compiled, eager = compare_times(step("compiled"), step("eager"), rounds=3, compiled_per_round=2,
                                    clock=lambda: now[0])
    assert calls == ["compiled", "compiled", "eager"] * 3
    assert (round(compiled * 1e3, 9), round(eager * 1e3, 9)) == (2.0, 16.0)


def test_demo_says_when_the_machine_is_busy(monkeypatch):
    monkeypatch.setattr(demo.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(demo.os, "getloadavg", lambda: (3.04, 2.0, 1.0))
    assert busy_note() == ("note: the machine is busy (load average 3.0 on 2 CPUs): both times are inflated, "
                           "their ratio may be off")
    monkeypatch.setattr(demo.os, "getloadavg", lambda: (0.4, 0.2, 0.1))
    assert busy_note() == ""


def test_spiral_is_balanced_and_deterministic():
    x1, y1 = spiral(seed=3)
    x2, y2 = spiral(seed=3)
    assert (x1 == x2).all() and (y1 == y2).all()
    assert sorted(set(y1.tolist())) == [0, 1, 2] and (y1 == 0).sum() == 300


def test_inspect_prints_graph_and_writes_dot(tmp_path, capsys):
    dot = tmp_path / "g.dot"
    assert main(["inspect", "--dot", str(dot)]) == 0
    text = capsys.readouterr().out
    assert "kernel over" in text and "stabilize" in text
    body = dot.read_text()
    assert body.startswith("digraph graphc {") and "matmul" in body and body.rstrip().endswith("}")


def test_inspect_unoptimized(capsys):
    assert main(["inspect", "--unoptimized"]) == 0
    assert "cross_entropy" in capsys.readouterr().out


def test_console_script_runs(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "graphc")
    result = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "demo" in result.stdout
