#!/usr/bin/env python3
"""Fleet: an update across 10 emulators compared with the same update on one.

Target: the 10-cluster update finishes within 2x the time of the single one. Medians of
5 runs each; every run changes the image so that a real rolling update happens. Pods
become Ready FLEET_READY_DELAY seconds after scheduling (default 1.0, closer to real
pods than 0; with 0.2 the ten Python emulators on two cores weigh more)."""
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "emulator"))
from emuharness import Emulator  # noqa: E402

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "rigelk8s"))
RUNS = 5
N = 10
READY_DELAY = float(os.environ.get("FLEET_READY_DELAY", "1.0"))
RIGELFILE = """\
vars: {{distro: noetic, base_image: "my/app:v0"}}
jobs:
  deploy_k8s:
    plugin: rigelk8s
    with:
      orchestration:
        namespace: bench
        fleet:
{targets}
"""


def write(dirname, emus):
    lines = [f"          - {{name: t{i}, context: emulator, kubeconfig: {e.kubeconfig}}}"
             for i, e in enumerate(emus)]
    path = os.path.join(dirname, "Rigelfile")
    with open(path, "w") as f:
        f.write(RIGELFILE.format(targets="\n".join(lines)))
    return path


def timed(args, cwd):
    t0 = time.perf_counter()
    p = subprocess.run([BIN] + args, cwd=cwd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"fleet_bench: {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return dt


def main():
    emus = [Emulator(ready_delay=READY_DELAY) for _ in range(N)]
    try:
        one, many = tempfile.mkdtemp(), tempfile.mkdtemp()
        write(one, emus[:1])
        write(many, emus)
        timed(["deploy"], one)
        timed(["deploy"], many)
        t_one, t_many = [], []
        for r in range(RUNS):
            t_one.append(timed(["update", "--image", f"my/app:v{r + 1}"], one))
            t_many.append(timed(["update", "--image", f"my/app:v{r + 1}"], many))
        m1, m10 = statistics.median(t_one), statistics.median(t_many)
        print(f"== fleet update (emulator --ready-delay {READY_DELAY}; target: 10 clusters <= 2x one)")
        print(f"update, 1 cluster  : median {m1 * 1000:.0f} ms (n={RUNS})")
        print(f"update, {N} clusters: median {m10 * 1000:.0f} ms (n={RUNS})")
        print(f"fleet_bench: {N} clusters take {m10 / m1:.2f}x the time of one")
    finally:
        for e in emus:
            e.stop()


if __name__ == "__main__":
    main()
