"""Helpers for the end-to-end workflow tests: Rigelfiles, running rigelk8s (plainly, under
a pseudo-terminal, or in the background), and reading the emulator's objects.

RIGELK8S_BIN is the binary (set by ctest); RK_SOURCE_DIR the repository root. The
emulator harness (tests/emulator/emuharness.py) starts and stops the emulator."""
import json
import os
import pty
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("RK_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("RIGELK8S_BIN") or os.path.join(ROOT, "build", "rigelk8s")
sys.path.insert(0, os.path.join(ROOT, "tests", "emulator"))

from emuharness import Emulator  # noqa: E402,F401

NODES = "robot-1:deploymentType=local;cloud-1:deploymentType=remote"
GOOD_IMAGE = "registry.example.com/robot/app:1.0"


def orchestration(namespace, **over):
    """The seed README's full example (storage, rolling update, readiness) in namespace."""
    o = {
        "namespace": namespace,
        "deploy_ros_master": True,  # the seed's example sets it (the default is false)
        "application_image": GOOD_IMAGE,
        "readiness": {"command": "/usr/local/bin/readiness_probe.sh"},
        "persistent_storage": {"volumes": [{"name": "data-volume", "size": "1Gi",
                                            "storage_class": "fast-ssd"}]},
        "rolling_update": {"strategy": "Rolling", "max_surge": 1, "max_unavailable": 0},
    }
    for k, v in over.items():
        if v is None:
            o.pop(k, None)
        else:
            o[k] = v
    return o


def write_rigelfile(directory, orch, name="Rigelfile", distro="noetic"):
    """Writes a Rigelfile (JSON is YAML) with one orchestration job; returns its path."""
    doc = {"vars": {"distro": distro},
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
        return "rigelk8s %s -> exit %s in %.2fs\n--- stdout\n%s--- stderr\n%s" % (
            " ".join(self.args), self.code, self.elapsed, self.stdout, self.stderr)


def env_for(extra=None):
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env.update(extra or {})
    return env


def rigelk8s(*args, timeout=90, env=None, stdin=None):
    """Runs rigelk8s without a terminal; returns a Run."""
    t0 = time.monotonic()
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=timeout,
                       env=env_for(env), input=stdin)
    return Run(list(args), p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


def rigelk8s_tty(*args, timeout=90, env=None, columns=100):
    """Runs rigelk8s with stderr on a pseudo-terminal (stdout is a pipe); returns a Run
    whose stderr is everything written to the terminal, escape sequences included."""
    import fcntl
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    t0 = time.monotonic()
    p = subprocess.Popen([BIN] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=slave, env=env_for(env))
    os.close(slave)
    chunks, out = [], []
    reader = threading.Thread(target=lambda: out.append(p.stdout.read()))
    reader.start()
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if not data:
                break
            chunks.append(data)
        elif p.poll() is not None:
            break
    p.wait(timeout=max(deadline - time.monotonic(), 1))
    reader.join()
    p.stdout.close()
    os.close(master)
    return Run(list(args), p.returncode, out[0].decode(), b"".join(chunks).decode(errors="replace"),
               time.monotonic() - t0)


class Background:
    """rigelk8s in the background: stderr is read line by line as it comes."""

    def __init__(self, *args, env=None):
        self.args = list(args)
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen([BIN] + self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env_for(env))
        self.lines, self.stdout = [], []
        self._err = threading.Thread(target=self._read_err, daemon=True)
        self._err.start()
        self._out = threading.Thread(target=lambda: self.stdout.append(self.proc.stdout.read()), daemon=True)
        self._out.start()

    def _read_err(self):
        for line in self.proc.stderr:
            self.lines.append(line)

    def wait_for_line(self, needle, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(needle in l for l in self.lines):
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError("rigelk8s never printed %r:\n%s" % (needle, "".join(self.lines)))

    def signal(self, sig=signal.SIGINT):
        self.proc.send_signal(sig)

    def finish(self, timeout=20):
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._err.join(5)
        self._out.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return Run(self.args, self.proc.returncode, "".join(self.stdout), "".join(self.lines),
                   time.monotonic() - self.t0)


class Cluster:
    """Reads objects from the emulator by kind."""

    PATHS = {
        "Deployment": "/apis/apps/v1/namespaces/%s/deployments",
        "ReplicaSet": "/apis/apps/v1/namespaces/%s/replicasets",
        "Pod": "/api/v1/namespaces/%s/pods",
        "Service": "/api/v1/namespaces/%s/services",
        "PersistentVolumeClaim": "/api/v1/namespaces/%s/persistentvolumeclaims",
        "ConfigMap": "/api/v1/namespaces/%s/configmaps",
        "Secret": "/api/v1/namespaces/%s/secrets",
        "Event": "/api/v1/namespaces/%s/events",
        "ServiceMonitor": "/apis/monitoring.coreos.com/v1/namespaces/%s/servicemonitors",
    }

    def __init__(self, emu):
        self.emu = emu

    def get(self, kind, ns, name=None):
        """The object (or the list's items without name); None when it is not there."""
        if kind == "Namespace":
            path = "/api/v1/namespaces" + ("/" + name if name else "")
        else:
            path = self.PATHS[kind] % ns + ("/" + name if name else "")
        st, _, body = self.emu.get(path)
        if st == 404:
            return None
        assert st == 200, (path, st, body)
        return body if name else body["items"]

    def pods(self, ns, app):
        return [p for p in self.get("Pod", ns) if p["metadata"]["labels"].get("app") == app]

    def state(self):
        st, _, body = self.emu.get("/_emulator/state", token=None)
        assert st == 200, body
        return body

    def delete_namespace(self, ns):
        self.emu.request("DELETE", "/api/v1/namespaces/" + ns)


class DeploymentEvents:
    """Watches a namespace's Deployments from now on, in the background: the server's own
    order of events, to prove what was created before what was Ready."""

    def __init__(self, emu, ns):
        import emuharness
        self.events = []
        self.ws = emuharness.WatchStream(emu, "/apis/apps/v1/namespaces/%s/deployments?watch=1" % ns, timeout=60)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while True:
                ev = self.ws.next()
                if ev is None:
                    return
                self.events.append(ev)
        except (OSError, EOFError, ValueError):
            return

    def close(self):
        self.ws.close()

    def created_after_available(self, created, available):
        """True when Deployment `created` was ADDED after an event showing `available`
        with every replica available; False when it was added before; None if never."""
        seen = False
        for ev in list(self.events):
            o = ev["object"]
            st = o.get("status", {})
            if o["metadata"]["name"] == available and st.get("availableReplicas", 0) >= o["spec"].get("replicas", 1) \
                    and st.get("observedGeneration") == o["metadata"].get("generation"):
                seen = True
            if o["metadata"]["name"] == created and ev["type"] == "ADDED":
                return seen
        return None


def revision(obj):
    return int(obj["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", "0"))


def image(deploy):
    return deploy["spec"]["template"]["spec"]["containers"][0]["image"]


def tmpdir():
    return tempfile.mkdtemp(prefix="rk-e2e-")
