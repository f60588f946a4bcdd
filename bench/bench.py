#!/usr/bin/env python3
"""make bench: the six headline figures, each beside its reference measured in the same run.

  1. start-up + `render` of the seed README's full example, vs
     `kubectl create --dry-run=client -o yaml --validate=false -f` of the same manifests;
  2. server-side apply of 500 and of 2,000 objects, vs `kubectl apply --server-side`;
  3. the same apply vs the server limit: `curl --parallel` sending the same requests
     over keep-alive connections (a minimal concurrent client);
  4. deploy-and-wait of the seed example vs kubectl apply + rollout status
     (emulator --ready-delay 0)           } from bench/deploy_bench.py
  5. latency from the last pod Ready to the verdict }
  6. peak RSS of each rigelk8s run (GNU time).

Every figure is a median of RUNS (default 5) runs, against emulators started here.
Usage: bench/bench.py [path/to/rigelk8s] [--runs N] [--only 1,2,3]"""
import argparse
import json
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

SEED = os.path.join(ROOT, "examples", "Rigelfile.example")
TIME = "/usr/bin/time"


def run(cmd, env=None, stdin=None, check=True):
    """Runs cmd under GNU time; returns (seconds, peak RSS KiB, stdout)."""
    with tempfile.NamedTemporaryFile("r") as rss:
        t0 = time.perf_counter()
        p = subprocess.run([TIME, "-f", "%M", "-o", rss.name] + cmd, env=env, stdin=stdin,
                           capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if check and p.returncode != 0:
            sys.exit(f"bench: {' '.join(cmd)} exited {p.returncode}:\n{p.stderr[-2000:]}")
        lines = rss.read().split()
        return dt, int(lines[-1]) if lines and lines[-1].isdigit() else -1, p.stdout


def med(xs):
    return statistics.median(xs)


class Table:
    def __init__(self):
        self.rows = []

    def add(self, n, what, ours, ref_name, ref, unit="ms", lower_is_better=True, target=None):
        ratio = (ref / ours) if lower_is_better else (ours / ref)
        self.rows.append((n, what, ours, ref_name, ref, unit, ratio, target))
        fmt = (lambda v: f"{v * 1000:.1f} ms") if unit == "ms" else (lambda v: f"{v / 1024:.1f} MB")
        verdict = ""
        if target is not None:
            verdict = "  [target " + target[0] + ": " + ("met" if target[1](ratio, ours, ref) else "MISSED") + "]"
        print(f"{n}. {what}: rigelk8s {fmt(ours)} | {ref_name} {fmt(ref)} | {ratio:.1f}x{verdict}",
              flush=True)


def kubectl_env(emu, home):
    env = dict(os.environ, KUBECONFIG=emu.kubeconfig, HOME=home)
    return env


def bench_render(bin_, runs, table, rss):
    emu = Emulator(ready_delay=0)
    home = tempfile.mkdtemp()
    try:
        manifests = os.path.join(home, "seed.yaml")
        with open(manifests, "w") as f:
            f.write(subprocess.run([bin_, "render", "-f", SEED], check=True, capture_output=True,
                                   text=True).stdout)
        env = kubectl_env(emu, home)
        run(["kubectl", "create", "--dry-run=client", "-o", "yaml", "--validate=false", "-f", manifests], env)
        ours, theirs = [], []
        for _ in range(runs):
            dt, kib, _ = run([bin_, "render", "-f", SEED])
            ours.append(dt)
            rss.append(("render", kib))
            theirs.append(run(["kubectl", "create", "--dry-run=client", "-o", "yaml", "--validate=false",
                               "-f", manifests], env)[0])
        table.add(1, "start-up + render of the seed example", med(ours), "kubectl create --dry-run=client",
                  med(theirs), target=(">= 10x faster", lambda r, o, t: r >= 10))
    finally:
        emu.stop()
        shutil.rmtree(home, ignore_errors=True)


APPLY_LUA = """
local yaml = require "rigelk8s.yaml"
local k8s = require "rigelk8s.k8s"
local file, ns = ...
local docs = yaml.load_file(file, {all = true})
local c <close> = k8s.connect{namespace = ns}
local results, failed = c:apply_all(docs, {concurrency = 16})
if failed > 0 then for _, r in ipairs(results) do if not r.ok then error(r.error, 0) end end end
"""


def write_configmaps(path, n, ns):
    with open(path, "w") as f:
        for i in range(n):
            f.write(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bench-{i:05d}\n"
                    f"  namespace: {ns}\n  labels: {{app: apply-bench}}\n"
                    f"data:\n  ROS_MASTER_URI: http://ros-master:11311\n  index: \"{i}\"\n")


def curl_config(path, url, n, ns, bodies_dir):
    """One PATCH (server-side apply) per object, the same requests rigelk8s sends."""
    os.makedirs(bodies_dir, exist_ok=True)
    with open(path, "w") as f:
        for i in range(n):
            body = os.path.join(bodies_dir, f"{i}.json")
            with open(body, "w") as b:
                json.dump({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": f"bench-{i:05d}", "namespace": ns,
                                        "labels": {"app": "apply-bench"}},
                           "data": {"ROS_MASTER_URI": "http://ros-master:11311", "index": str(i)}}, b)
            if i:
                f.write("next\n")
            f.write(f'url = "{url}/api/v1/namespaces/{ns}/configmaps/bench-{i:05d}'
                    f'?fieldManager=rigelk8s"\n')
            f.write('request = "PATCH"\n')
            f.write('header = "Content-Type: application/apply-patch+yaml"\n')
            f.write('header = "Accept: application/json"\n')
            f.write(f'data-binary = "@{body}"\n')
            f.write('output = "/dev/null"\nsilent\n')


def bench_apply(bin_, runs, table, rss):
    emu = Emulator(ready_delay=0)
    home = tempfile.mkdtemp()
    try:
        env = kubectl_env(emu, home)
        script = os.path.join(home, "apply.lua")
        with open(script, "w") as f:
            f.write(APPLY_LUA)
        run(["kubectl", "get", "ns"], env)  # warm kubectl's discovery cache
        for n in (500, 2000):
            ours, theirs, limit = [], [], []
            for r in range(runs):
                for who in ("rk", "kc", "curl"):
                    ns = f"b{n}-{who}-{r}"
                    emu.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                          "metadata": {"name": ns}})
                    path = os.path.join(home, f"{ns}.yaml")
                    write_configmaps(path, n, ns)
                    if who == "rk":
                        dt, kib, _ = run([bin_, "run", script, path, ns], dict(os.environ, KUBECONFIG=emu.kubeconfig))
                        ours.append(dt)
                        rss.append((f"apply {n}", kib))
                    elif who == "kc":
                        theirs.append(run(["kubectl", "apply", "--server-side", "-f", path], env)[0])
                    else:
                        cfg = os.path.join(home, f"{ns}.curl")
                        curl_config(cfg, emu.url, n, ns, os.path.join(home, ns))
                        limit.append(run(["curl", "--parallel", "--parallel-max", "16", "-K", cfg])[0])
            table.add(2, f"server-side apply of {n} objects", med(ours), "kubectl apply --server-side",
                      med(theirs), target=(">= 5x faster", lambda r, o, t: r >= 5))
            table.add(3, f"server-side apply of {n} objects", med(ours), "server limit (curl --parallel 16)",
                      med(limit), target=("within 1.5x", lambda r, o, t: o <= 1.5 * t))
    finally:
        emu.stop()
        shutil.rmtree(home, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin", nargs="?", default=os.path.join(ROOT, "build", "rigelk8s"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="1,2,3,4,5,6")
    a = ap.parse_args()
    bin_ = os.path.abspath(a.bin)
    runs = max(5, a.runs)
    only = set(a.only.split(","))
    for tool in ("kubectl", "curl"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is not installed; the reference figures need it")
    if not os.path.exists(TIME):
        sys.exit("bench: GNU time is missing (apt-get install time)")
    print(f"== make bench: medians of {runs} runs; ratios are reference / rigelk8s\n", flush=True)
    table, rss = Table(), []
    if "1" in only:
        bench_render(bin_, runs, table, rss)
    if "2" in only or "3" in only:
        bench_apply(bin_, runs, table, rss)
    if "4" in only or "5" in only:
        deploy = os.path.join(ROOT, "bench", "deploy_bench.py")
        if os.path.exists(deploy):
            p = subprocess.run([sys.executable, deploy, bin_, "--runs", str(runs), "--json"],
                               capture_output=True, text=True)
            if p.returncode != 0:
                print(p.stderr)
                sys.exit("bench: deploy_bench failed")
            d = json.loads(p.stdout.strip().splitlines()[-1])
            table.add(4, "deploy-and-wait of the seed example", d["rigelk8s_s"], "kubectl apply + rollout status",
                      d["kubectl_s"], target=("<= 0.5x kubectl", lambda r, o, t: o <= 0.5 * t))
            print(f"5. last pod Ready -> verdict: median {d['verdict_latency_ms']:.1f} ms "
                  f"(kubectl rollout status: {d['kubectl_latency_ms']:.1f} ms) "
                  f"[target <= 50 ms: {'met' if d['verdict_latency_ms'] <= 50 else 'MISSED'}]", flush=True)
            for k, v in d.get("rss_kib", {}).items():
                rss.append((k, v))
    if "6" in only:
        print("6. peak RSS of each rigelk8s run (median per kind; target <= 10 MB for the seed example):")
        kinds = {}
        for k, v in rss:
            kinds.setdefault(k, []).append(v)
        for k, vs in kinds.items():
            print(f"   {k}: {med(vs) / 1024:.1f} MB")


if __name__ == "__main__":
    main()
