#!/usr/bin/env python3
"""Fleet: an update over 100 emulated clusters against the same update on one.

FLEET_EMULATORS emulator processes (default 10: what two cores carry) serve
FLEET_TARGETS targets (default 100), one namespace per target, spread evenly. Every run
changes the image, so a real rolling update happens on each target. Reported: the
median time of the single-cluster update, the time of the 100-target update (median of
FLEET_RUNS, default 2), and the peak resident memory of all rigelk8s processes together
(sampled every 20 ms from /proc). Targets: at most 3x the single-cluster time, at most
300 MB. FLEET_PARALLEL lists the --max-parallel values to compare (default "16,32").
Pods become Ready FLEET_READY_DELAY seconds after scheduling (default 1.0).
The same update through bench/fleet_inprocess.lua (one process for every target, the
design fleet.lua did not take) is measured last."""
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "emulator"))
from emuharness import Emulator  # noqa: E402

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "rigelk8s"))
EMULATORS = int(os.environ.get("FLEET_EMULATORS", "10"))
TARGETS = int(os.environ.get("FLEET_TARGETS", "100"))
RUNS = int(os.environ.get("FLEET_RUNS", "2"))
READY_DELAY = float(os.environ.get("FLEET_READY_DELAY", "1.0"))
PARALLEL = [int(x) for x in os.environ.get("FLEET_PARALLEL", "16,32").split(",")]
RIGELFILE = """\
vars: {distro: noetic, base_image: "my/app:v0"}
jobs:
  deploy_k8s:
    plugin: rigelk8s
    with:
      orchestration:
        namespace: bench
"""


class RssSampler:
    """Peak of the summed RSS (and PSS: shared library pages counted once) of every
    process running BIN."""

    def __init__(self):
        self.peak = 0
        self.peak_pss = 0
        self.peak_procs = 0
        self.stop = False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.stop:
            total, pss, n = 0, 0, 0
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    if os.readlink(f"/proc/{pid}/exe") != BIN:
                        continue
                    with open(f"/proc/{pid}/status") as f:
                        for line in f:
                            if line.startswith("VmRSS:"):
                                total += int(line.split()[1]) * 1024
                                n += 1
                                break
                    with open(f"/proc/{pid}/smaps_rollup") as f:
                        for line in f:
                            if line.startswith("Pss:"):
                                pss += int(line.split()[1]) * 1024
                                break
                except OSError:
                    continue
            if total > self.peak:
                self.peak, self.peak_procs = total, n
            self.peak_pss = max(self.peak_pss, pss)
            time.sleep(0.02)

    def done(self):
        self.stop = True
        self.t.join()
        return self.peak, self.peak_procs, self.peak_pss


def emu_cpu(emus):
    """CPU seconds the emulator processes have used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for e in emus:
        with open(f"/proc/{e.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def write_fleet(dirname, emus, n):
    lines = ["fleet:"]
    for i in range(n):
        e = emus[i % len(emus)]
        lines.append(f"  - {{name: t{i}, context: emulator, kubeconfig: {e.kubeconfig}, namespace: bench-{i}}}")
    path = os.path.join(dirname, f"fleet-{n}.yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def timed(args, cwd, sample=False):
    """Wall time, (peak RSS, processes, peak PSS), CPU seconds of rigelk8s and its children."""
    sampler = RssSampler() if sample else None
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([BIN] + args, cwd=cwd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    peak = sampler.done() if sampler else (0, 0, 0)
    if p.returncode != 0:
        sys.exit(f"fleet_bench: {' '.join(args)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return dt, peak, cpu


def main():
    emus = [Emulator(ready_delay=READY_DELAY) for _ in range(EMULATORS)]
    try:
        d = tempfile.mkdtemp()
        with open(os.path.join(d, "Rigelfile"), "w") as f:
            f.write(RIGELFILE)
        one, many = write_fleet(d, emus, 1), write_fleet(d, emus, TARGETS)
        timed(["deploy", "--fleet", many, "--max-parallel", "50"], d)
        v = 0
        t_one = []
        for _ in range(3):
            v += 1
            e0 = emu_cpu(emus)
            dt, _, cpu1 = timed(["update", "--fleet", one, "--image", f"my/app:v{v}"], d)
            ecpu1 = emu_cpu(emus) - e0
            t_one.append(dt)
        m1 = statistics.median(t_one)
        print(f"== fleet update: {TARGETS} targets on {EMULATORS} emulators "
              f"(--ready-delay {READY_DELAY}; targets: <= 3x one cluster, <= 300 MB)")
        print(f"update, 1 cluster           : median {m1 * 1000:.0f} ms (n=3); CPU: rigelk8s {cpu1:.2f} s, emulators {ecpu1:.2f} s")
        print(f"load average before the fleet runs: {os.getloadavg()[0]:.1f} (2 cores shared; numbers above ~2 are noise)")
        for par in PARALLEL:
            times, peaks, cpus, ecpus = [], [], [], []
            for _ in range(RUNS):
                v += 1
                e0 = emu_cpu(emus)
                dt, peak, cpu = timed(["update", "--fleet", many, "--image", f"my/app:v{v}",
                                       "--max-parallel", str(par)], d, sample=True)
                times.append(dt)
                peaks.append(peak)
                cpus.append(cpu)
                ecpus.append(emu_cpu(emus) - e0)
            m = statistics.median(times)
            rss, procs, pss = max(peaks)
            print(f"update, {TARGETS} targets, --max-parallel {par:3d}: median {m * 1000:.0f} ms (n={RUNS}), "
                  f"{m / m1:.2f}x one cluster [target <= 3x: {'met' if m / m1 <= 3 else 'NOT met'}]; "
                  f"peak of all rigelk8s processes: RSS {rss / 2**20:.0f} MB, PSS {pss / 2**20:.0f} MB "
                  f"({procs} processes) [target <= 300 MB: {'met' if rss <= 300 * 2**20 else 'NOT met'}]; "
                  f"CPU: rigelk8s {statistics.median(cpus):.1f} s, emulators {statistics.median(ecpus):.1f} s")
        # The in-process alternative (bench/fleet_inprocess.lua): one process, one client
        # per target, applies in turn, then every target waited on together.
        times, peaks, cpus, ecpus = [], [], [], []
        for _ in range(RUNS):
            v += 1
            e0 = emu_cpu(emus)
            dt, peak, cpu = timed(["run", os.path.join(ROOT, "bench", "fleet_inprocess.lua"), many,
                                   f"my/app:v{v}"], d, sample=True)
            times.append(dt)
            peaks.append(peak)
            cpus.append(cpu)
            ecpus.append(emu_cpu(emus) - e0)
        m = statistics.median(times)
        rss, procs, pss = max(peaks)
        print(f"update, {TARGETS} targets, in-process prototype: median {m * 1000:.0f} ms (n={RUNS}), "
              f"{m / m1:.2f}x one cluster; peak RSS {rss / 2**20:.0f} MB, PSS {pss / 2**20:.0f} MB "
              f"({procs} process); CPU: rigelk8s {statistics.median(cpus):.1f} s, emulators {statistics.median(ecpus):.1f} s")
    finally:
        for e in emus:
            e.stop()


if __name__ == "__main__":
    main()
