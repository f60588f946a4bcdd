#!/usr/bin/env python3
"""Deploy-and-wait: rigelk8s vs kubectl, and how fast rigelk8s notices success.

  python3 bench/deploy_bench.py [path/to/rigelk8s]

1. Throughput. The full example (examples/Rigelfile.example: storage, rolling update,
   readiness, extra params) against the emulator at --ready-delay 0, each run in a fresh
   namespace:
     rigelk8s deploy -f Rigelfile.example -n NS
   vs what a script does with kubectl, given the same manifests (`rigelk8s render`, not
   timed):
     kubectl apply --server-side -f manifests.yaml
     kubectl rollout status deployment/ros-master -n NS
     kubectl rollout status deployment/rigel-k8s-application -n NS
   Medians of RUNS runs each (interleaved, after one warm-up each, so kubectl's discovery
   cache is warm as it is for a real user). Target: rigelk8s <= 0.5x kubectl.

2. Latency. With --ready-delay 0.5, the emulator (started with a store hook, see
   LAUNCHER) logs the wall-clock time at which it stores each pod's Ready=True; the
   latency is from the last pod's time until rigelk8s prints "deploy succeeded" (and
   until it exits), read on the same clock. The same for the end of kubectl's second
   `rollout status`. Target: rigelk8s <= 50 ms median. Both tools wait for the
   Deployment's status, which the controller updates after the pod, so the emulated
   controller's own lag is inside the figure.

Peak RSS is that of one more run under GNU time (`/usr/bin/time -f %M`)."""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "emulator"))
from emuharness import Emulator  # noqa: E402

# deploy_bench.py [BIN] [--runs N] [--json]: --json adds one last line of JSON for bench.py.
_args = [a for a in sys.argv[1:] if not a.startswith("--")]
BIN = os.path.abspath(_args[0] if _args and not _args[0].isdigit() else os.path.join(ROOT, "build", "rigelk8s"))
JSON_OUT = "--json" in sys.argv
RIGELFILE = os.path.join(ROOT, "examples", "Rigelfile.example")
RUNS = int(os.environ.get("DEPLOY_BENCH_RUNS", "7"))
if "--runs" in sys.argv:
    RUNS = max(5, int(sys.argv[sys.argv.index("--runs") + 1]))
LATENCY_READY_DELAY = 0.5


def fail(msg):
    sys.exit("deploy_bench: " + msg)


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        fail("%s exited %d:\n%s%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
    return p


def render(ns, directory):
    path = os.path.join(directory, ns + ".yaml")
    with open(path, "w") as f:
        f.write(run([BIN, "render", "-f", RIGELFILE, "-n", ns]).stdout)
    return path


def rigelk8s_cmd(kc, ns):
    return [BIN, "deploy", "-f", RIGELFILE, "-n", ns, "--kubeconfig", kc, "--timeout", "60s"]


def kubectl_cmds(kc, ns, manifest):
    k = ["kubectl", "--kubeconfig", kc]
    return [k + ["apply", "--server-side", "-f", manifest],
            k + ["rollout", "status", "deployment/ros-master", "-n", ns, "--timeout", "60s"],
            k + ["rollout", "status", "deployment/rigel-k8s-application", "-n", ns, "--timeout", "60s"]]


def timed(cmds):
    t0 = time.perf_counter()
    for c in cmds:
        run(c)
    return time.perf_counter() - t0


def peak_rss(cmd):
    if not os.path.exists("/usr/bin/time"):
        return -1
    with tempfile.NamedTemporaryFile("r") as out:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name] + cmd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lines = out.read().strip().splitlines()
        return int(lines[-1]) if lines and lines[-1].isdigit() else -1


# The emulator, started with a store hook that writes "<time.time()> <ns> <pod>" the moment
# the server stores a pod whose Ready condition just turned True (before any watcher is
# served): the server's own clock for "the last pod turned Ready".
LAUNCHER = """
import os, sys, time, signal
sys.path.insert(0, %(dir)r)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
from kubeemu import server, store
log = open(os.environ["RK_READY_LOG"], "a", buffering=1)
def ready(o):
    conds = ((o or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)
def hook(rkey, typ, obj, old):
    if rkey == ("", "pods") and typ != "DELETED" and ready(obj) and not ready(old):
        log.write("%%.6f %%s %%s\\n" %% (time.time(), obj["metadata"]["namespace"], obj["metadata"]["name"]))
init = store.Store.__init__
def patched(self, *a, **kw):
    init(self, *a, **kw)
    self.hooks.append(hook)
store.Store.__init__ = patched
sys.exit(server.main())
"""


class ReadyLog:
    def __init__(self, directory):
        self.path = os.path.join(directory, "ready.log")
        open(self.path, "w").close()
        self.launcher = os.path.join(directory, "emulator-with-ready-log.py")
        with open(self.launcher, "w") as f:
            f.write(LAUNCHER % {"dir": os.path.join(ROOT, "tests", "kube-emulator")})

    def start(self, ready_delay):
        import emuharness
        os.environ["RK_READY_LOG"] = self.path
        saved, emuharness.EMULATOR = emuharness.EMULATOR, self.launcher
        try:
            return Emulator(ready_delay=ready_delay)
        finally:
            emuharness.EMULATOR = saved

    def last_ready(self, ns, expect):
        end = time.time() + 5
        while time.time() < end:
            with open(self.path) as f:
                times = [float(l.split()[0]) for l in f if l.split()[1:2] == [ns]]
            if len(times) >= expect:
                return max(times)
            time.sleep(0.01)
        fail("only %d of %d pods of %s turned Ready" % (len(times), expect, ns))


def rigelk8s_latency(emu, log, ns):
    p = subprocess.Popen(rigelk8s_cmd(emu.kubeconfig, ns), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    reported = None
    for line in p.stderr:
        if reported is None and "deploy succeeded" in line:
            reported = time.time()
    p.wait()
    exited = time.time()
    if p.returncode != 0 or reported is None:
        fail("rigelk8s deploy in %s failed (exit %d)" % (ns, p.returncode))
    last = log.last_ready(ns, 2)
    return (reported - last) * 1000, (exited - last) * 1000


def kubectl_latency(emu, log, ns, manifest):
    timed(kubectl_cmds(emu.kubeconfig, ns, manifest))
    done = time.time()
    return (done - log.last_ready(ns, 2)) * 1000


def med(xs):
    return statistics.median(xs)


def main():
    if not os.access(BIN, os.X_OK):
        fail("no rigelk8s binary at %s" % BIN)
    if not shutil.which("kubectl"):
        fail("kubectl is not on PATH")
    tmp = tempfile.mkdtemp(prefix="deploy-bench-")
    try:
        emu = Emulator(ready_delay=0)
        try:
            kc = emu.kubeconfig
            timed([rigelk8s_cmd(kc, "warm-r")])
            timed(kubectl_cmds(kc, "warm-k", render("warm-k", tmp)))
            ours, theirs = [], []
            for i in range(RUNS):
                manifest = render("k%d" % i, tmp)
                pair = [("r", lambda: ours.append(timed([rigelk8s_cmd(kc, "r%d" % i)]))),
                        ("k", lambda: theirs.append(timed(kubectl_cmds(kc, "k%d" % i, manifest))))]
                for _, f in (pair if i % 2 == 0 else reversed(pair)):
                    f()
            rss_ours = peak_rss(rigelk8s_cmd(kc, "rss-r"))
            rss_kubectl = peak_rss(kubectl_cmds(kc, "rss-k", render("rss-k", tmp))[0])
        finally:
            emu.stop()
        r, k = med(ours) * 1000, med(theirs) * 1000
        print("deploy-and-wait, %s at --ready-delay 0 (medians of %d, fresh namespaces):" %
              (os.path.relpath(RIGELFILE, ROOT), RUNS))
        print("  rigelk8s deploy                          %7.1f ms (min %.1f, max %.1f)" %
              (r, min(ours) * 1000, max(ours) * 1000))
        print("  kubectl apply --server-side + 2x rollout %7.1f ms (min %.1f, max %.1f)" %
              (k, min(theirs) * 1000, max(theirs) * 1000))
        print("  ratio rigelk8s/kubectl                   %7.2fx  (target <= 0.5x: %s)" %
              (r / k, "met" if r / k <= 0.5 else "NOT met"))
        print("  peak RSS: rigelk8s deploy %d KiB, kubectl apply %d KiB" % (rss_ours, rss_kubectl))

        log = ReadyLog(tmp)
        emu = log.start(LATENCY_READY_DELAY)
        try:
            report, exit_, kubectl = [], [], []
            timed([rigelk8s_cmd(emu.kubeconfig, "lwarm")])
            for i in range(RUNS):
                a, b = rigelk8s_latency(emu, log, "l%d" % i)
                report.append(a)
                exit_.append(b)
                kubectl.append(kubectl_latency(emu, log, "lk%d" % i, render("lk%d" % i, tmp)))
        finally:
            emu.stop()
        print("latency from the last pod turning Ready (--ready-delay %.1f, medians of %d):" %
              (LATENCY_READY_DELAY, RUNS))
        print("  rigelk8s prints success   %6.1f ms (min %.1f, max %.1f)  (target <= 50 ms: %s)" %
              (med(report), min(report), max(report), "met" if med(report) <= 50 else "NOT met"))
        print("  rigelk8s exits            %6.1f ms (min %.1f, max %.1f)" % (med(exit_), min(exit_), max(exit_)))
        print("  kubectl rollout status    %6.1f ms (min %.1f, max %.1f)" % (med(kubectl), min(kubectl), max(kubectl)))
        if JSON_OUT:
            import json
            print(json.dumps({"rigelk8s_s": r / 1000, "kubectl_s": k / 1000,
                              "verdict_latency_ms": med(report), "kubectl_latency_ms": med(kubectl),
                              "rss_kib": {"deploy (seed example)": rss_ours}}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
