"""Shared helpers of the reliability suites (tests/faults, tests/security, tests/badinput,
tests/soak): run rigelk8s, write Rigelfiles and kubeconfigs, start the emulator, and
judge what the emulator really holds, independently of what rigelk8s reported.

RIGELK8S_BIN is the binary (set by ctest); RK_SOURCE_DIR the repository root."""
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("RK_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BIN = os.path.abspath(os.environ.get("RIGELK8S_BIN") or os.path.join(ROOT, "build", "rigelk8s"))
sys.path.insert(0, os.path.join(ROOT, "tests", "emulator"))

from emuharness import Emulator  # noqa: E402,F401

GOOD_IMAGE = "registry.example.com/robot/app:1.0"


def orchestration(namespace, **over):
    """A ROS 1 application with a master, storage and a readiness probe in namespace."""
    o = {"namespace": namespace, "deploy_ros_master": True, "application_image": GOOD_IMAGE,
         "readiness": {"command": "/usr/local/bin/readiness_probe.sh"},
         "persistent_storage": {"volumes": [{"name": "data", "size": "1Gi"}]}}
    o.update(over)
    return o


def write_rigelfile(directory, orch, name="Rigelfile"):
    doc = {"vars": {"distro": "noetic"},
           "jobs": {"deploy_k8s": {"plugin": "src.plugin.OrchestrationPlugin",
                                   "with": {"orchestration": orch}}}}
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
    return path


class Run:
    def __init__(self, args, code, stdout, stderr, elapsed):
        self.args, self.code, self.stdout, self.stderr, self.elapsed = args, code, stdout, stderr, elapsed

    @property
    def output(self):
        return self.stdout + self.stderr

    def json(self):
        return json.loads(self.stdout)

    def __repr__(self):
        return "rigelk8s %s -> exit %s in %.2fs\n--- stdout\n%s\n--- stderr\n%s" % (
            " ".join(self.args), self.code, self.elapsed, self.stdout[-6000:], self.stderr[-6000:])


def clean_env(extra=None, home=None):
    """The caller's environment without anything that would point rigelk8s elsewhere."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("KUBECONFIG", "NO_COLOR", "RIGELK8S_REQUEST_TIMEOUT")}
    if home:
        env["HOME"] = home
    env.update(extra or {})
    return env


def rigelk8s(*args, timeout=120, env=None, cwd=None, stdin=None):
    t0 = time.monotonic()
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=timeout,
                       env=env if env is not None else clean_env(), cwd=cwd, input=stdin,
                       errors="replace")
    return Run(list(args), p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


class Background:
    """rigelk8s in the background; stdout and stderr are collected line by line."""

    def __init__(self, *args, env=None, cwd=None):
        self.args = list(args)
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen([BIN] + self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env if env is not None else clean_env(), cwd=cwd,
                                     errors="replace")
        self.err, self.out = [], []
        self._threads = [threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
                         threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True)]
        for t in self._threads:
            t.start()

    @staticmethod
    def _read(stream, into):
        for line in stream:
            into.append(line)

    def count(self, needle):
        return sum(1 for l in list(self.err) if needle in l)

    def wait_for(self, needle, n=1, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.count(needle) >= n:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)
        raise AssertionError("rigelk8s never printed %r %d times:\n%s" % (needle, n, "".join(self.err)))

    def running(self):
        return self.proc.poll() is None

    def finish(self, timeout=90):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("rigelk8s did not finish in %ss:\n%s" % (timeout, "".join(self.err)))
        for t in self._threads:
            t.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return Run(self.args, self.proc.returncode, "".join(self.out), "".join(self.err),
                   time.monotonic() - self.t0)


def free_port():
    """A loopback port that nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def kubeconfig(path, server, user=None, cluster_extra=None, context="ctx", namespace="default"):
    """Writes a one-context kubeconfig (JSON is YAML) and returns its path."""
    cluster = {"server": server}
    cluster.update(cluster_extra or {})
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": context,
           "clusters": [{"name": "c", "cluster": cluster}],
           "users": [{"name": "u", "user": user or {}}],
           "contexts": [{"name": context, "context": {"cluster": "c", "user": "u", "namespace": namespace}}]}
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
    os.chmod(path, 0o600)
    return path


def make_ca(directory, cn="some-other-ca"):
    """A self-signed CA (openssl CLI) that signed nothing the emulator serves. Returns the
    PEM path."""
    os.makedirs(directory, exist_ok=True)
    key, crt = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=" + cn],
                   check=True, capture_output=True)
    return crt


def b64file(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


# ---- what the emulator really holds -------------------------------------------------

def names(emu, path):
    st, _, body = emu.get(path)
    if st == 404:
        return []
    assert st == 200, (path, st, body)
    return sorted(i["metadata"]["name"] for i in body["items"])


def live(emu, kind, namespace, name):
    paths = {"Deployment": "/apis/apps/v1/namespaces/%s/deployments/%s",
             "StatefulSet": "/apis/apps/v1/namespaces/%s/statefulsets/%s",
             "PersistentVolumeClaim": "/api/v1/namespaces/%s/persistentvolumeclaims/%s",
             "Service": "/api/v1/namespaces/%s/services/%s",
             "ConfigMap": "/api/v1/namespaces/%s/configmaps/%s",
             "Secret": "/api/v1/namespaces/%s/secrets/%s"}
    st, _, body = emu.get(paths[kind] % (namespace, name))
    return body if st == 200 else None


def really_ready(obj):
    """kubectl's rollout-status rules, written again here so that the test does not trust
    the code under test."""
    if obj is None:
        return False
    kind, spec, status = obj["kind"], obj.get("spec", {}), obj.get("status", {})
    if kind == "Deployment":
        want = spec.get("replicas", 1)
        return (status.get("observedGeneration", 0) >= obj["metadata"].get("generation", 1)
                and status.get("updatedReplicas", 0) == want and status.get("replicas", 0) == want
                and status.get("availableReplicas", 0) == want)
    if kind == "PersistentVolumeClaim":
        return status.get("phase") == "Bound"
    return True


def applied_refs(emu, namespace):
    """Kind/name of what the rendered ROS manifests can create in namespace."""
    out = []
    if emu.get("/api/v1/namespaces/" + namespace)[0] == 200:
        out.append("Namespace/" + namespace)
    for kind, path in (("PersistentVolumeClaim", "/api/v1/namespaces/%s/persistentvolumeclaims"),
                       ("Deployment", "/apis/apps/v1/namespaces/%s/deployments"),
                       ("Service", "/api/v1/namespaces/%s/services"),
                       ("ConfigMap", "/api/v1/namespaces/%s/configmaps"),
                       ("Secret", "/api/v1/namespaces/%s/secrets")):
        for n in names(emu, path % namespace):
            if kind == "ConfigMap" and n == "kube-root-ca.crt":
                continue
            out.append("%s/%s" % (kind, n))
    return sorted(out)


def verbose_lines(text):
    """The -v request log lines of a run's stderr."""
    return [l for l in text.splitlines() if re.match(r"rigelk8s: (GET|PATCH|POST|PUT|DELETE) ", l)]


def user_lines(text):
    """What a user sees without -v: stderr minus the request log."""
    return [l for l in text.splitlines() if l and not re.match(r"rigelk8s: (GET|PATCH|POST|PUT|DELETE) ", l)]


class TempDir:
    def __init__(self, prefix="rk-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def join(self, *p):
        return os.path.join(self.path, *p)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)
