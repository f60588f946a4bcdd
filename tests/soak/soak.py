#!/usr/bin/env python3
"""Load and soak: W workers (default 50) run deploy / update / delete cycles at the same
time against one emulator, each in its own namespace holding 40 objects (the ROS
manifests plus 35 ConfigMaps), so 2,000 objects are live at the peak. Every rigelk8s
process runs under GNU time; its peak RSS is recorded. The run fails when any process
fails, or when the median peak RSS of the last tenth of the processes of a command is
more than 10% above that of the first tenth (a leak, or growth with the run's history).

  make soak                                  (= python3 tests/soak/soak.py --bin build/rigelk8s)
  python3 tests/soak/soak.py --workers 10 --cycles 2     a quick look"""
import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "emulator"))  # tests/emulator/emuharness.py
from emuharness import ROOT, Emulator, clean_env, write_rigelfile  # noqa: E402
from emuharness import small_orchestration as orchestration  # noqa: E402

TIME = "/usr/bin/time"


def run(bin_, args, env, timeout):
    """One rigelk8s process under GNU time: (exit code, peak RSS in kB, seconds, stdout, stderr)."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        t0 = time.monotonic()
        p = subprocess.run([TIME, "-f", "%M", "-o", rss.name, bin_] + args, capture_output=True,
                           text=True, env=env, timeout=timeout)
        elapsed = time.monotonic() - t0
        text = rss.read().strip().splitlines()
    kb = int(text[-1]) if text and text[-1].isdigit() else -1
    return p.returncode, kb, elapsed, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.environ.get("RIGELK8S_BIN") or os.path.join(ROOT, "build", "rigelk8s"))
    ap.add_argument("--workers", type=int, default=50)
    ap.add_argument("--cycles", type=int, default=8)
    ap.add_argument("--long-cycles", type=int, default=30, help="cycles of the one long-lived process")
    ap.add_argument("--extra", type=int, default=35, help="ConfigMaps per namespace (plus 5 ROS objects)")
    ap.add_argument("--tolerance", type=float, default=0.10)
    a = ap.parse_args()
    bin_ = os.path.abspath(a.bin)
    if not os.path.exists(TIME):
        sys.exit("soak: %s is missing (apt-get install time)" % TIME)

    emu = Emulator()
    tmp = tempfile.mkdtemp(prefix="rk-soak-")
    script = os.path.join(HERE, "cycle.lua")
    samples = []  # (start order, command, worker, cycle, rss kB, seconds)
    failures = []
    lock = threading.Lock()
    order = [0]
    peak = {"objects": 0, "namespaces": 0}
    managed = ("configmaps", "deployments.apps", "services", "persistentvolumeclaims", "namespaces")
    stop = threading.Event()

    def watch_peak():
        while not stop.is_set():
            st, _, body = emu.admin("state")
            if st == 200:
                with lock:
                    # What the workflows created; kube-root-ca.crt ConfigMaps and the
                    # bootstrap objects are a few dozen of these.
                    peak["objects"] = max(peak["objects"], sum(body["objects"].get(k, 0) for k in managed))
                    peak["namespaces"] = max(peak["namespaces"], body["objects"].get("namespaces", 0))
            stop.wait(0.5)

    def worker(w):
        ns = "soak-%02d" % w
        rf = write_rigelfile(tmp, orchestration(ns, persistent_storage={"volumes": [{"name": "data", "size": "1Gi"}]}),
                             name="Rigelfile-%02d" % w)
        common = ["-f", rf, "--kubeconfig", emu.kubeconfig, "-o", "json", "--timeout", "120s"]
        for c in range(a.cycles):
            steps = [("deploy", ["run", script] + common, {}),
                     ("update", ["run", script] + common,
                      {"SOAK_IMAGE": "registry.example.com/robot/app:%d.%d" % (c + 2, w), "SOAK_GENERATION": str(c + 2)}),
                     ("delete", ["delete", "--delete-storage"] + common, {})]
            for cmd, args, extra in steps:
                env = clean_env(dict(extra, SOAK_EXTRA=str(a.extra)))
                with lock:
                    order[0] += 1
                    n = order[0]
                code, kb, secs, out, err = run(bin_, args, env, timeout=300)
                state = None
                try:
                    state = json.loads(out).get("state")
                except ValueError:
                    pass
                with lock:
                    samples.append((n, cmd, w, c, kb, secs))
                    if code != 0 or state != "ready":
                        failures.append("worker %d cycle %d %s: exit %d state %s\n%s%s" % (w, c, cmd, code, state, out[-800:], err[-800:]))
                if code != 0:
                    return

    long_out = {}

    def long_lived():
        """One process that cycles in-process: its RSS after each cycle must stay flat."""
        rf = write_rigelfile(tmp, orchestration("soak-long"), name="Rigelfile-long")
        p = subprocess.run([bin_, "run", os.path.join(HERE, "longrun.lua"), emu.kubeconfig, rf, str(a.long_cycles)],
                           capture_output=True, text=True, env=clean_env({"SOAK_EXTRA": str(a.extra)}), timeout=1800)
        long_out.update(code=p.returncode, stdout=p.stdout, stderr=p.stderr)

    t0 = time.monotonic()
    peaker = threading.Thread(target=watch_peak, daemon=True)
    peaker.start()
    longer = threading.Thread(target=long_lived, daemon=True)
    longer.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(a.workers) as pool:
            list(pool.map(worker, range(a.workers)))
        longer.join()
    finally:
        stop.set()
        peaker.join(2)
        st, _, state = emu.admin("state")
        emu.stop()
    wall = time.monotonic() - t0

    print("soak: %d workers x %d cycles (deploy, update, delete), %d objects per namespace, "
          "%d processes in %.0fs" % (a.workers, a.cycles, a.extra + 5, len(samples), wall))
    print("soak: peak live objects (namespaces, Deployments, Services, PVCs, ConfigMaps): %d in %d namespaces"
          % (peak["objects"], peak["namespaces"]))
    ok = True
    if failures:
        ok = False
        print("soak: %d processes failed; the first:\n%s" % (len(failures), failures[0]))
    left = {k: v for k, v in state["objects"].items() if k in ("configmaps", "deployments.apps", "persistentvolumeclaims")}
    print("soak: left in the emulator after the last delete: %s" % left)
    print("soak: peak RSS (kB) per command, processes in start order:")
    print("  %-8s %6s %9s %9s %9s %9s %9s %8s" % ("command", "runs", "first10%", "last10%", "min", "median", "max", "change"))
    for cmd in ("deploy", "update", "delete"):
        xs = [s for s in sorted(samples) if s[1] == cmd and s[4] > 0]
        if len(xs) < 10:
            print("  %-8s too few runs (%d)" % (cmd, len(xs)))
            ok = False
            continue
        k = max(1, len(xs) // 10)
        first = statistics.median(s[4] for s in xs[:k])
        last = statistics.median(s[4] for s in xs[-k:])
        change = (last - first) / first
        rss = [s[4] for s in xs]
        print("  %-8s %6d %9d %9d %9d %9d %9d %+7.1f%%" % (cmd, len(xs), first, last, min(rss), statistics.median(rss),
                                                         max(rss), 100 * change))
        secs = [s[5] for s in xs]
        print("  %-8s seconds per run: median %.2f, max %.2f" % ("", statistics.median(secs), max(secs)))
        if change > a.tolerance:
            ok = False
            print("soak: %s: peak RSS grew by %.1f%% from the first tenth of the runs to the last (limit %d%%)"
                  % (cmd, 100 * change, 100 * a.tolerance))
    series = [int(l.split()[3]) for l in long_out.get("stdout", "").splitlines() if l.startswith("cycle ")]
    if long_out.get("code") != 0 or len(series) != a.long_cycles:
        ok = False
        print("soak: the long-lived process failed (exit %s):\n%s" % (long_out.get("code"), long_out.get("stderr", "")[-1500:]))
    elif series:
        k = max(1, len(series) // 10)
        first, last = statistics.median(series[:k]), statistics.median(series[-k:])
        change = (last - first) / first
        print("soak: one long-lived process, %d cycles in-process: RSS after each cycle (kB): %s"
              % (len(series), " ".join(str(x) for x in series)))
        print("soak: long-lived process: first10%% %d kB, last10%% %d kB, change %+.1f%%" % (first, last, 100 * change))
        if change > a.tolerance:
            ok = False
            print("soak: the long-lived process grew by %.1f%% (limit %d%%)" % (100 * change, 100 * a.tolerance))
    print("soak: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
