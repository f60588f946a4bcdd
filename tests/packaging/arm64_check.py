#!/usr/bin/env python3
"""make test-arm64: the arm64 build (make cross-arm64, argument 1: its build directory) run
under qemu-user on this machine:
  - --version, and --version -v, which loads the arm64 plugin and its arm64 libcurl;
  - every render golden (tests/e2e/render_golden.sh, with the arm64 binary);
  - one deploy of the seed's full example against the Kubernetes emulator over loopback
    (TLS, so the arm64 OpenSSL is exercised), then a status and a delete.
qemu-user is a stand-in for an arm64 machine: it runs real arm64 code, but the kernel,
timing and CPU features are this machine's."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "emulator"))  # tests/emulator/emuharness.py
from emuharness import ROOT, Emulator, orchestration, write_rigelfile  # noqa: E402

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        failures.append(what)


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build-arm64"))
    binary = os.path.join(build, "rigelk8s")
    qemu = shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")
    if not qemu:
        print("FAIL: qemu-user is not installed (make deps-arm64 installs qemu-user-static)")
        return 1
    out = subprocess.run(["file", "-b", binary], capture_output=True, text=True).stdout
    check("ARM aarch64" in out, "%s is an arm64 executable (%s)" % (binary, out.split(",")[1].strip() if "," in out else out))

    tmp = tempfile.mkdtemp(prefix="rk-arm64-")
    started = time.time()
    # A wrapper, so that scripts that take RIGELK8S_BIN run the arm64 binary under qemu.
    wrapper = os.path.join(tmp, "rigelk8s-arm64")
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\nexec %s -L /usr/aarch64-linux-gnu %s "$@"\n' % (qemu, binary))
    os.chmod(wrapper, 0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGELK8S_")}
    emu = None
    try:
        t0 = time.time()
        r = subprocess.run([wrapper, "--version"], capture_output=True, text=True, env=env)
        check(r.returncode == 0 and r.stdout.startswith("rigelk8s "), "--version: %s" % r.stdout.strip())
        r = subprocess.run([wrapper, "--version", "-v"], capture_output=True, text=True, env=env)
        check(r.returncode == 0 and "\nlibcurl: " in r.stdout,
              "--version -v loads the arm64 plugin: %s" % r.stdout.strip().replace("\n", "; "))
        print("  (%.1fs)" % (time.time() - t0))

        t0 = time.time()
        r = subprocess.run(["bash", os.path.join(ROOT, "tests", "e2e", "render_golden.sh")],
                           capture_output=True, text=True,
                           env=dict(env, RIGELK8S_BIN=wrapper, RK_SOURCE_DIR=ROOT))
        check(r.returncode == 0, "render goldens with the arm64 binary:\n" + r.stdout[-1500:] + r.stderr[-500:])
        print("  (%.1fs)" % (time.time() - t0))

        t0 = time.time()
        emu = Emulator(tls=True)
        rf = write_rigelfile(tmp, orchestration("arm64-demo"))
        r = subprocess.run([wrapper, "deploy", "-f", rf, "--kubeconfig", emu.kubeconfig,
                            "--timeout", "120s", "-o", "json"],
                           capture_output=True, text=True, env=env, cwd=tmp, timeout=300)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            doc = {}
        check(r.returncode == 0 and doc.get("state") == "ready",
              "deploy against the emulator (TLS, loopback): exit %d, state %s %s"
              % (r.returncode, doc.get("state"), r.stderr[-800:] if r.returncode else ""))
        check(doc.get("rigelk8s_version") is not None, "the JSON result carries rigelk8s_version")
        code, _, d = emu.get("/apis/apps/v1/namespaces/arm64-demo/deployments/rigel-k8s-application")
        check(code == 200 and d.get("status", {}).get("availableReplicas") == 1,
              "the emulator has the application Deployment, available (%s)" % code)
        r = subprocess.run([wrapper, "status", "-f", rf, "--kubeconfig", emu.kubeconfig, "-o", "json"],
                           capture_output=True, text=True, env=env, cwd=tmp, timeout=300)
        check(r.returncode == 0 and json.loads(r.stdout or "{}").get("ready") is True,
              "status: everything ready (exit %d) %s" % (r.returncode, r.stderr[-400:]))
        r = subprocess.run([wrapper, "delete", "-f", rf, "--kubeconfig", emu.kubeconfig, "--timeout", "120s"],
                           capture_output=True, text=True, env=env, cwd=tmp, timeout=300)
        check(r.returncode == 0, "delete (exit %d) %s" % (r.returncode, r.stderr[-400:]))
        print("  (%.1fs)" % (time.time() - t0))
    finally:
        if emu:
            emu.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("arm64_check: checks took %.1fs" % (time.time() - started))
    if failures:
        print("arm64_check: %d failure(s)" % len(failures))
        return 1
    print("arm64_check: OK (under qemu-user, a stand-in for an arm64 machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
