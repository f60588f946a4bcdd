"""Helpers for the end-to-end workflow tests: Rigelfiles, running rigelk8s (plainly, under
a pseudo-terminal, or in the background), and reading the cluster's objects.

RIGELK8S_BIN is the binary (set by ctest); RK_SOURCE_DIR the repository root.

Two modes:
- default: every test starts its own emulator (tests/emulator/emuharness.py starts and
  stops it), with the knobs it needs (nodes, timing, fault injection);
- cluster mode, when RIGELK8S_TEST_KUBECONFIG is set (make test-cluster sets it from
  KUBECONFIG): every test runs against that cluster (context RIGELK8S_TEST_CONTEXT, else
  the kubeconfig's current one), in namespaces of its own (ns("app1") gives a unique
  name), deleted at the end of the test and waited for. Tests that need emulator-only
  knobs skip themselves (emulator_only). Failure modes come from failmodes.py."""
import base64
import http.client
import json
import ssl
import uuid
import os
import pty
import select
import shutil
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
import failmodes  # noqa: E402

NODES = "robot-1:deploymentType=local;cloud-1:deploymentType=remote"
GOOD_IMAGE = failmodes.EMULATOR["good"]

CLUSTER_KUBECONFIG = os.environ.get("RIGELK8S_TEST_KUBECONFIG") or None
CLUSTER_CONTEXT = os.environ.get("RIGELK8S_TEST_CONTEXT") or None
CLUSTER_MODE = CLUSTER_KUBECONFIG is not None


def emulator_only(reason):
    """Skips a test (or class) in cluster mode, saying which emulator knob it needs."""
    import unittest
    return unittest.skipIf(CLUSTER_MODE, "cluster mode: needs the emulator: " + reason)


class RealCluster:
    """A cluster given by a kubeconfig, with the small part of Emulator's interface the
    tests use (get/request/ok/wait_for, kubeconfig). Credentials: bearer token (or token
    file), client certificate, basic auth; CA data or file, or insecure-skip-tls-verify.
    Exec and auth-provider plugins are not supported: use a token or certificate context
    (or `kubectl proxy` and a kubeconfig pointing at it)."""

    def __init__(self, kubeconfig, context=None):
        from emuharness import yamlmini
        self.tmp = tempfile.mkdtemp(prefix="rk-cluster-")
        with open(kubeconfig) as f:
            text = f.read()
        try:
            cfg = json.loads(text)
        except ValueError:
            cfg = yamlmini.load(text)
        base = os.path.dirname(os.path.abspath(kubeconfig))
        ctx_name = context or cfg.get("current-context")
        if not ctx_name:
            raise RuntimeError("%s has no current-context; set RIGELK8S_TEST_CONTEXT" % kubeconfig)

        def find(section, name):
            for item in cfg.get(section) or []:
                if item.get("name") == name:
                    return item
            raise RuntimeError("%s: no %s named %r (RIGELK8S_TEST_CONTEXT)" % (kubeconfig, section[:-1], name))

        ctx = find("contexts", ctx_name)
        cluster = dict(find("clusters", ctx["context"]["cluster"])["cluster"])
        user = dict(find("users", ctx["context"]["user"])["user"] or {})
        if "exec" in user or "auth-provider" in user:
            raise RuntimeError("context %r authenticates through an exec/auth-provider plugin, which the test "
                               "harness does not run; use a token or client-certificate context" % ctx_name)

        def inline(d, key):  # file paths become *-data, so the copy stands alone
            if key in d:
                path = d.pop(key)
                with open(path if os.path.isabs(path) else os.path.join(base, path), "rb") as f:
                    d[key + "-data"] = base64.b64encode(f.read()).decode()
        inline(cluster, "certificate-authority")
        inline(user, "client-certificate")
        inline(user, "client-key")
        if "tokenFile" in user:
            with open(user.pop("tokenFile")) as f:
                user["token"] = f.read().strip()
        self.context = ctx_name
        self.namespace_default = ctx["context"].get("namespace")
        # One kubeconfig with only this context, for rigelk8s (JSON is YAML).
        self.kubeconfig = os.path.join(self.tmp, "kubeconfig")
        with open(self.kubeconfig, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Config", "current-context": ctx_name,
                       "clusters": [{"name": ctx["context"]["cluster"], "cluster": cluster}],
                       "users": [{"name": ctx["context"]["user"], "user": user}],
                       "contexts": [{"name": ctx_name, "context": {"cluster": ctx["context"]["cluster"],
                                                                   "user": ctx["context"]["user"]}}]}, f)
        self.server = cluster["server"].rstrip("/")
        u = urllib_parse(self.server)
        self.tls = u.scheme == "https"
        self.host, self.port = u.hostname, u.port or (443 if self.tls else 80)
        self.prefix = u.path.rstrip("/")
        self.headers = {}
        if user.get("token"):
            self.headers["Authorization"] = "Bearer " + user["token"]
        elif user.get("username"):
            self.headers["Authorization"] = "Basic " + base64.b64encode(
                ("%s:%s" % (user["username"], user.get("password", ""))).encode()).decode()
        self.ssl_ctx = None
        if self.tls:
            ctx_ssl = ssl.create_default_context()
            if cluster.get("insecure-skip-tls-verify"):
                ctx_ssl.check_hostname = False
                ctx_ssl.verify_mode = ssl.CERT_NONE
            elif cluster.get("certificate-authority-data"):
                ctx_ssl.load_verify_locations(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
            if user.get("client-certificate-data"):
                crt, key = os.path.join(self.tmp, "client.crt"), os.path.join(self.tmp, "client.key")
                with open(crt, "wb") as f:
                    f.write(base64.b64decode(user["client-certificate-data"]))
                with open(key, "wb") as f:
                    f.write(base64.b64decode(user["client-key-data"]))
                ctx_ssl.load_cert_chain(crt, key)
            self.ssl_ctx = ctx_ssl
        self._local = threading.local()
        st, _, version = self.get("/version")
        if st != 200:
            raise RuntimeError("cannot read /version of %s (context %r): HTTP %s %s" % (self.server, ctx_name, st, version))
        self.version = version
        # The kube-emulator runs no containers: its kubelet acts on image names, so the
        # emulator column of the failure-mode table applies even in cluster mode.
        self.is_emulator = version.get("emulator") == "kube-emulator"

    def _conn(self, timeout=60):
        if self.tls:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self.ssl_ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, ctype=None, token=None, headers=None):
        hdrs = dict(self.headers, **(headers or {}))
        hdrs["Accept"] = "application/json"
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            hdrs["Content-Type"] = ctype or "application/json"
        for attempt in range(2):
            c = getattr(self._local, "conn", None) or self._conn()
            self._local.conn = c
            try:
                c.request(method, self.prefix + path, body=data, headers=hdrs)
                r = c.getresponse()
                raw = r.read()
                break
            except (http.client.HTTPException, OSError):
                self._local.conn = None
                c.close()
                if attempt:
                    raise
        parsed = raw
        if (r.getheader("Content-Type") or "").startswith("application/json") and raw:
            parsed = json.loads(raw)
        return r.status, r, parsed

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def ok(self, method, path, body=None, **kw):
        if method == "PATCH" and "ctype" not in kw:
            kw["ctype"] = "application/merge-patch+json"
        st, _, b = self.request(method, path, body, **kw)
        if st >= 300:
            raise AssertionError("%s %s -> %d %s" % (method, path, st, b))
        return b

    def watch(self, path, timeout=60):
        return _WatchLines(self, path, timeout)

    def wait_for(self, fn, timeout=10, interval=0.05, msg="condition"):
        end = time.time() + failmodes.within(timeout)
        last = None
        while time.time() < end:
            last = fn()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError("timed out waiting for %s (last=%r)" % (msg, last))

    def delete_namespaces(self, names, timeout=300):
        """Deletes the namespaces and waits until they are gone (a real cluster finalizes
        them: pods terminate, then the namespace goes)."""
        for ns in names:
            self.request("DELETE", "/api/v1/namespaces/" + ns)
        end = time.time() + timeout
        left = list(names)
        while left and time.time() < end:
            left = [ns for ns in left if self.get("/api/v1/namespaces/" + ns)[0] != 404]
            if left:
                time.sleep(0.2)
        return left

    def stop(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


class _WatchLines:
    """A watch over the cluster's credentials: one JSON event per line (http.client
    undoes the chunking)."""

    def __init__(self, cluster, path, timeout):
        self.conn = cluster._conn(timeout)
        hdrs = dict(cluster.headers, Accept="application/json")
        self.conn.request("GET", cluster.prefix + path, headers=hdrs)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status

    def next(self):
        try:
            line = self.resp.readline()
        except (http.client.HTTPException, OSError, AttributeError, ValueError):
            return None  # closed under us (close() from another thread)
        if not line:
            return None
        return json.loads(line)

    def close(self):
        try:
            self.conn.sock and self.conn.sock.shutdown(2)
        except OSError:
            pass
        self.conn.close()


def urllib_parse(url):
    from urllib.parse import urlparse
    return urlparse(url)


_CLUSTER = None


def shared_cluster():
    """The cluster under test in cluster mode (opened once per process), else None."""
    global _CLUSTER
    if not CLUSTER_MODE:
        return None
    if _CLUSTER is None:
        _CLUSTER = RealCluster(CLUSTER_KUBECONFIG, CLUSTER_CONTEXT)
        failmodes.set_target("emulator" if _CLUSTER.is_emulator else "real")
    return _CLUSTER


RUN_ID = uuid.uuid4().hex[:6]
_NAMESPACES = [0]


def unique_namespace(name):
    """A namespace no other test uses: rk<run id><n>-<name>, at most 63 characters."""
    _NAMESPACES[0] += 1
    return ("rk%s%d-%s" % (RUN_ID, _NAMESPACES[0], name))[:63].rstrip("-")


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

    def __init__(self, emu, ns=lambda name: name):
        self.emu = emu
        self.ns = ns  # the test's namespace names -> the cluster's (unique in cluster mode)

    def get(self, kind, ns, name=None):
        """The object (or the list's items without name); None when it is not there."""
        if kind == "Namespace" and name:
            name = self.ns(name)
        elif ns:
            ns = self.ns(ns)
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
        self.emu.request("DELETE", "/api/v1/namespaces/" + self.ns(ns))


class DeploymentEvents:
    """Watches a namespace's Deployments from now on, in the background: the server's own
    order of events, to prove what was created before what was Ready."""

    def __init__(self, emu, ns):
        import emuharness
        self.events = []
        path = "/apis/apps/v1/namespaces/%s/deployments?watch=1" % ns
        if isinstance(emu, RealCluster):
            self.ws = emu.watch(path, timeout=60)
        else:
            self.ws = emuharness.WatchStream(emu, path, timeout=60)
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
