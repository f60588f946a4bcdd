#!/usr/bin/env python3
"""Fleet: an update over 100 emulated clusters against the same update on one.

FLEET_EMULATORS emulator processes (default 10: what two cores carry) serve
FLEET_TARGETS targets (default 100), one namespace per target, spread evenly. Every run
changes the image, so a real rolling update happens on each target. Reported: the
median time of the single-cluster update (a plain `rigelk8s update`, and a fleet of one
target), the time of the 100-target update (median of FLEET_RUNS, default 3) with the
shipped design (every target in one process: lua/rigelk8s/fleet/inprocess.lua), and the
peak resident memory of all rigelk8s processes together (RSS, and PSS, which counts
shared library pages once; sampled every 20 ms from /proc). Targets: at most 3x the
single-cluster time, at most 300 MB. The ratio is taken against the faster of the two
single-cluster figures. The process runner (one rigelk8s per target,
RIGELK8S_FLEET_RUNNER=process) is measured as the reference, at the --max-parallel
values of FLEET_PARALLEL (default "16"). Pods become Ready FLEET_READY_DELAY seconds
after scheduling (default 1.0)."""
import json
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
RUNS = int(os.environ.get("FLEET_RUNS", "3"))
READY_DELAY = float(os.environ.get("FLEET_READY_DELAY", "1.0"))
PARALLEL = [int(x) for x in os.environ.get("FLEET_PARALLEL", "16").split(",") if x]
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


def timed(args, cwd, sample=False, runner=None):
    """Wall time, (peak RSS, processes, peak PSS), CPU seconds of rigelk8s and its children."""
    sampler = RssSampler() if sample else None
    env = dict(os.environ)
    env.pop("RIGELK8S_FLEET_RUNNER", None)
    if runner:
        env["RIGELK8S_FLEET_RUNNER"] = runner
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([BIN] + args, cwd=cwd, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    peak = sampler.done() if sampler else (0, 0, 0)
    if p.returncode != 0:
        sys.exit(f"fleet_bench: {' '.join(args)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    timed.last_stdout = p.stdout
    return dt, peak, cpu


def series(label, args, d, emus, runner=None):
    """Runs an update RUNS times (a new image each time); prints and returns the median."""
    times, peaks, cpus, ecpus, spans = [], [], [], [], []
    for _ in range(RUNS):
        series.v += 1
        e0 = emu_cpu(emus)
        dt, peak, cpu = timed(args + ["--image", f"my/app:v{series.v}"], d, sample=True, runner=runner)
        times.append(dt)
        peaks.append(peak)
        cpus.append(cpu)
        ecpus.append(emu_cpu(emus) - e0)
        if "-o" in args:
            # Where the time went, from the fleet's own report: when the last target
            # started, each target's own update time, when the last one finished.
            doc = json.loads(timed.last_stdout)
            ts = doc["targets"]
            spans.append((max(t["started_at"] for t in ts), statistics.median(t["elapsed_seconds"] for t in ts),
                          max(t["elapsed_seconds"] for t in ts), max(t["finished_at"] for t in ts)))
    m = statistics.median(times)
    rss, procs, pss = max(peaks)
    if spans:
        print(f"  {label}: per run, last target started at / median target update / slowest target / "
              f"last target finished (s): " + "; ".join("%.2f / %.2f / %.2f / %.2f" % sp for sp in spans))
    return m, rss, procs, pss, statistics.median(cpus), statistics.median(ecpus), times


series.v = 0


def main():
    emus = [Emulator(ready_delay=READY_DELAY) for _ in range(EMULATORS)]
    try:
        d = tempfile.mkdtemp()
        with open(os.path.join(d, "Rigelfile"), "w") as f:
            f.write(RIGELFILE)
        one, many = write_fleet(d, emus, 1), write_fleet(d, emus, TARGETS)
        timed(["deploy", "--fleet", many], d)
        plain = ["update", "--kubeconfig", emus[0].kubeconfig, "--context", "emulator", "-n", "bench-0"]
        m_plain, _, _, _, cpu_plain, ecpu_plain, _ = series("plain", plain, d, emus)
        m_one, _, _, _, cpu_one, _, _ = series("one", ["update", "--fleet", one], d, emus)
        m1 = min(m_plain, m_one)
        print(f"== fleet update: {TARGETS} targets on {EMULATORS} emulators "
              f"(--ready-delay {READY_DELAY}; targets: <= 3x one cluster, <= 300 MB)")
        print(f"update, 1 cluster, plain `rigelk8s update`: median {m_plain * 1000:.0f} ms (n={RUNS}); "
              f"CPU: rigelk8s {cpu_plain:.2f} s, emulator {ecpu_plain:.2f} s")
        print(f"update, 1 cluster, a fleet of one        : median {m_one * 1000:.0f} ms (n={RUNS}); "
              f"CPU: rigelk8s {cpu_one:.2f} s")
        print(f"load average before the fleet runs: {os.getloadavg()[0]:.1f} (2 cores shared; numbers above ~2 are noise)")

        def show(label, r):
            m, rss, procs, pss, cpu, ecpu, times = r
            print(f"update, {TARGETS} targets, {label}: median {m * 1000:.0f} ms "
                  f"(runs: {', '.join('%.2f' % t for t in times)} s), "
                  f"{m / m1:.2f}x one cluster [target <= 3x: {'met' if m / m1 <= 3 else 'NOT met'}]; "
                  f"peak of all rigelk8s processes: RSS {rss / 2**20:.0f} MB, PSS {pss / 2**20:.0f} MB "
                  f"({procs} process{'es' if procs != 1 else ''}) "
                  f"[target <= 300 MB: {'met' if rss <= 300 * 2**20 else 'NOT met'}]; "
                  f"CPU: rigelk8s {cpu:.1f} s, emulators {ecpu:.1f} s")
            # The CPU this update needs, spread over every core: on a machine with nothing
            # else to do, the wall time cannot be lower than this (nor than one cluster's).
            cores = os.cpu_count() or 1
            print(f"  CPU of rigelk8s and the emulators / {cores} cores: {(cpu + ecpu) / cores:.2f} s "
                  f"({(cpu + ecpu) / cores / m1:.2f}x one cluster)")

        show("in one process (shipped)", series("in one process", ["update", "--fleet", many, "-o", "json"], d, emus))
        for par in PARALLEL:
            show(f"process per target, --max-parallel {par}",
                 series(f"processes, --max-parallel {par}",
                        ["update", "--fleet", many, "--max-parallel", str(par), "-o", "json"], d, emus,
                        runner="process"))
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    finally:
        for e in emus:
            e.stop()


if __name__ == "__main__":
    main()
