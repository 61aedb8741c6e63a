"""Run every graphc benchmark in sequence, each in its own subprocess (a fresh interpreter: no
shared JIT caches, thread pools or allocator state), printing everything, then the collected
PASS/FAIL target lines.

Run: python bench/run_all.py [--quick] [bench_name ...]
     (use the interpreter of the environment that has the peers, e.g. /tmp/benchvenv/bin/python)
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCHMARKS = ["bench_elementwise", "bench_gradient", "bench_mlp", "bench_overhead", "bench_compile", "bench_loaded",
              "bench_scan", "bench_cnn"]


def main():
    flags = [a for a in sys.argv[1:] if a.startswith("--")]
    chosen = [a.removesuffix(".py") for a in sys.argv[1:] if not a.startswith("--")] or BENCHMARKS
    targets, timings = [], []
    for name in chosen:
        script = os.path.join(HERE, name + ".py")
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-u", script, *flags], cwd=HERE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            print(line, end="", flush=True)
            if line.startswith("TARGET "):
                targets.append(line.rstrip())
        rc = proc.wait()
        timings.append((name, time.perf_counter() - start, rc))
        print()
    print("=" * 100)
    print("run_all summary")
    print("=" * 100)
    for name, seconds, rc in timings:
        print(f"{name:<20} {seconds:7.1f} s  {'ok' if rc == 0 else f'EXIT {rc}'}")
    print()
    for line in targets:
        print(line)
    npass = sum(" PASS " in t for t in targets)
    print(f"\n{npass} of {len(targets)} targets pass")
    return 0 if all(rc == 0 for _, _, rc in timings) else 1


if __name__ == "__main__":
    sys.exit(main())
