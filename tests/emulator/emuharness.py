"""The one test harness: every Python suite (tests/**/test_*.py), the soak test and the
benchmarks in bench/ import it. It starts and stops the kube-emulator and talks raw
HTTP(S) to it, runs rigelk8s (plainly, under a pseudo-terminal, in the background), writes
Rigelfiles and kubeconfigs, and judges what the cluster really holds. Stdlib only.
ROS-only helpers (a real rosmaster and rospy nodes) build on it in tests/e2e/rosharness.py.

How a suite finds it (the one way, from any directory; X is how far up tests/ is):

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), X, "emulator"))
    from emuharness import Emulator, rigelk8s  # noqa: E402

RIGELK8S_BIN is the binary under test (set by ctest), RK_SOURCE_DIR the repository root.

Two targets for the end-to-end suites:
- default: every test starts its own emulator (Emulator), with the knobs it needs (nodes,
  timing, fault injection);
- cluster mode, when RIGELK8S_TEST_KUBECONFIG is set (make test-cluster sets it from
  KUBECONFIG): every test runs against that cluster (RealCluster; context
  RIGELK8S_TEST_CONTEXT, else the kubeconfig's current one), in namespaces of its own
  (unique_namespace), deleted at the end of the test and waited for. Tests that need
  emulator-only knobs skip themselves (emulator_only). Failure modes come from
  failmodes.py (next to this file)."""
import base64
import http.client
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("RK_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BIN = os.path.abspath(os.environ.get("RIGELK8S_BIN") or os.path.join(ROOT, "build", "rigelk8s"))
BUILD = os.environ.get("RK_BUILD_DIR") or os.path.dirname(BIN)
EMULATOR = os.path.join(ROOT, "tests", "kube-emulator", "kube-emulator")
sys.path.insert(0, os.path.join(ROOT, "tests", "kube-emulator"))
from kubeemu import yamlmini  # noqa: E402
import failmodes  # noqa: E402

ADMIN = "emulator-admin-token"
VIEWER = "emulator-viewer-token"
NODES = "robot-1:deploymentType=local;cloud-1:deploymentType=remote"
GOOD_IMAGE = failmodes.EMULATOR["good"]


def free_port():
    """A loopback port that nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def stop_process(proc, grace=10):
    """Ends a child process the test started: SIGTERM, SIGKILL after grace seconds; closes
    its stdout pipe."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout:
        proc.stdout.close()


class _Api:
    """What the Emulator and a RealCluster share: requests over one keep-alive connection
    per thread, and waiting for a condition. A subclass sets tls, host, port, ssl_ctx,
    prefix and conn_timeout, and says which headers authenticate (_auth)."""

    prefix = ""
    conn_timeout = 30
    time_scale = staticmethod(lambda seconds: seconds)

    def _init_api(self):
        self._local = threading.local()
        self._conns = []

    def conn(self, timeout=None, ctx=None):
        if self.tls:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout or self.conn_timeout,
                                               context=ctx or self.ssl_ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.conn_timeout)

    def request(self, method, path, body=None, ctype=None, token=ADMIN, headers=None, conn=None):
        """Returns (status, response, parsed body or bytes)."""
        hdrs = self._auth(token)
        hdrs.update(headers or {})
        data = None
        if body is not None:
            if isinstance(body, (bytes, str)):
                data = body.encode() if isinstance(body, str) else body
            else:
                data = json.dumps(body).encode()
            hdrs["Content-Type"] = ctype or "application/json"
        own = conn is None
        for attempt in range(2):
            c = conn
            if c is None:
                c = getattr(self._local, "conn", None)
                if c is None:
                    c = self._local.conn = self.conn()
                    self._conns.append(c)
            try:
                c.request(method, self.prefix + path, body=data, headers=hdrs)
                r = c.getresponse()
                raw = r.read()
                break
            except (http.client.HTTPException, ConnectionError, OSError):
                if not own or attempt:
                    raise
                self._local.conn = None
                try:
                    c.close()
                except Exception:
                    pass
        ct = r.getheader("Content-Type") or ""
        parsed = raw
        if ct.startswith("application/json") and raw:
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

    def wait_for(self, fn, timeout=10, interval=0.02, msg="condition"):
        end = time.time() + self.time_scale(timeout)
        last = None
        while time.time() < end:
            last = fn()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError("timed out waiting for %s (last=%r)" % (msg, last))

    def _close_conns(self):
        for c in self._conns:
            try:
                c.close()
            except Exception:
                pass


class Emulator(_Api):
    """The kube-emulator on a free loopback port (--port 0), stopped by stop()."""

    def __init__(self, *args, tls=False, ready_delay=0.0):
        self.tmp = tempfile.mkdtemp(prefix="emu-test-")
        self.kubeconfig = os.path.join(self.tmp, "kubeconfig")
        cmd = [sys.executable, EMULATOR, "--port", "0", "--write-kubeconfig", self.kubeconfig,
               "--ready-delay", str(ready_delay)] + list(args)
        if tls:
            cmd.append("--tls")
        self.tls = tls
        t0 = time.time()
        self._errf = open(os.path.join(self.tmp, "stderr"), "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._errf, text=True)
        line = self.proc.stdout.readline()
        self.startup = time.time() - t0
        m = re.match(r"listening on (https?)://([0-9.]+):(\d+)", line or "")
        if not m:
            self.stop()
            raise RuntimeError("emulator did not start: %r %s" % (line, self.stderr()))
        self.scheme, self.host, self.port = m.group(1), m.group(2), int(m.group(3))
        self.url = "%s://%s:%d" % (self.scheme, self.host, self.port)
        with open(self.kubeconfig) as f:
            self.config = yamlmini.load(f.read())
        self.ssl_ctx = None
        if tls:
            self.ca_file = os.path.join(self.tmp, "ca.crt")
            cluster = self.config["clusters"][0]["cluster"]
            with open(self.ca_file, "wb") as f:
                f.write(base64.b64decode(cluster["certificate-authority-data"]))
            self.ssl_ctx = ssl.create_default_context(cafile=self.ca_file)
        self._init_api()

    def stderr(self):
        try:
            with open(os.path.join(self.tmp, "stderr")) as f:
                return f.read()
        except OSError:
            return ""

    def user(self, name):
        for u in self.config["users"]:
            if u["name"] == name:
                return u["user"]
        raise KeyError(name)

    def client_cert_ctx(self):
        u = self.user("emulator-cert")
        crt = os.path.join(self.tmp, "client.crt")
        key = os.path.join(self.tmp, "client.key")
        with open(crt, "wb") as f:
            f.write(base64.b64decode(u["client-certificate-data"]))
        with open(key, "wb") as f:
            f.write(base64.b64decode(u["client-key-data"]))
        ctx = ssl.create_default_context(cafile=self.ca_file)
        ctx.load_cert_chain(crt, key)
        return ctx

    def _auth(self, token):
        return {"Authorization": "Bearer " + token} if token else {}

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body, ctype="application/merge-patch+json", **kw):
        return self.request("PATCH", path, body, ctype=ctype, **kw)

    def delete(self, path, body=None, **kw):
        return self.request("DELETE", path, body, **kw)

    def admin(self, path, body=None):
        return self.request("POST" if body is not None else "GET", "/_emulator/" + path, body, token=None)

    def fault(self, spec):
        st, _, b = self.admin("faults", spec)
        assert st == 200, b
        return b

    def settle(self, timeout=10):
        st, _, b = self.request("GET", "/_emulator/settle?timeout=%s" % timeout, token=None)
        return st == 200

    def stop(self):
        self._close_conns()
        stop_process(self.proc, 5)
        self._errf.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class WatchStream:
    """Raw-socket watch client that checks the chunked framing and yields events."""

    def __init__(self, emu, path, token=ADMIN, timeout=10):
        self.sock = socket.create_connection((emu.host, emu.port), timeout=timeout)
        if emu.tls:
            self.sock = emu.ssl_ctx.wrap_socket(self.sock, server_hostname="localhost")
        req = "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n" % (path, emu.host)
        if token:
            req += "Authorization: Bearer %s\r\n" % token
        self.sock.sendall((req + "\r\n").encode())
        self.buf = b""
        head = self._read_until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for l in lines[1:]:
            if ":" in l:
                k, v = l.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()
        self.ended = False
        self.chunks = 0

    def _read_until(self, sep):
        while sep not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("connection closed")
            self.buf += d
        i = self.buf.index(sep)
        out, self.buf = self.buf[:i], self.buf[i + len(sep):]
        return out

    def _read_n(self, n):
        while len(self.buf) < n:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("connection closed")
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def next_chunk(self):
        size = int(self._read_until(b"\r\n").split(b";")[0], 16)
        if size == 0:
            self._read_until(b"\r\n")
            self.ended = True
            return None
        data = self._read_n(size)
        assert self._read_n(2) == b"\r\n"
        self.chunks += 1
        return data

    def next(self):
        """Next event dict, or None at clean end of stream. Each chunk must be exactly one JSON line."""
        data = self.next_chunk()
        if data is None:
            return None
        assert data.endswith(b"\n") and data.count(b"\n") == 1, data
        return json.loads(data)

    def events(self, n, skip_bookmarks=True):
        out = []
        while len(out) < n:
            ev = self.next()
            if ev is None:
                break
            if skip_bookmarks and ev["type"] == "BOOKMARK":
                continue
            out.append(ev)
        return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def deployment(name, image="nginx:1.25", replicas=1, labels=None, **spec_extra):
    labels = labels or {"app": name}
    spec = {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)},
                         "spec": {"containers": [{"name": "main", "image": image}]}}}
    spec.update(spec_extra)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


def pod(name, image="nginx:1.25", labels=None, **spec_extra):
    spec = {"containers": [{"name": "main", "image": image}]}
    spec.update(spec_extra)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {"app": name}},
            "spec": spec}


def configmap(name, data=None, labels=None):
    md = {"name": name}
    if labels:
        md["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data or {"k": "v"}}


# ---- cluster mode: a cluster of yours instead of the emulator ------------------------

def emulator_only(reason):
    """Skips a test (or class) in cluster mode, saying which emulator knob it needs."""
    import unittest
    return unittest.skipIf(CLUSTER_MODE, "cluster mode: needs the emulator: " + reason)


CLUSTER_KUBECONFIG = os.environ.get("RIGELK8S_TEST_KUBECONFIG") or None
CLUSTER_CONTEXT = os.environ.get("RIGELK8S_TEST_CONTEXT") or None
CLUSTER_MODE = CLUSTER_KUBECONFIG is not None


class RealCluster(_Api):
    """A cluster given by a kubeconfig, with the small part of Emulator's interface the
    tests use (get/request/ok/wait_for, kubeconfig). Credentials: bearer token (or token
    file), client certificate, basic auth; CA data or file, or insecure-skip-tls-verify.
    Exec and auth-provider plugins are not supported: use a token or certificate context
    (or `kubectl proxy` and a kubeconfig pointing at it)."""

    def __init__(self, kubeconfig, context=None):
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
        u = urllib.parse.urlparse(self.server)
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
        self._init_api()
        st, _, version = self.get("/version")
        if st != 200:
            raise RuntimeError("cannot read /version of %s (context %r): HTTP %s %s" % (self.server, ctx_name, st, version))
        self.version = version
        # The kube-emulator runs no containers: its kubelet acts on image names, so the
        # emulator column of the failure-mode table applies even in cluster mode.
        self.is_emulator = version.get("emulator") == "kube-emulator"

    conn_timeout = 60
    time_scale = staticmethod(lambda seconds: failmodes.within(seconds))

    def _auth(self, token):
        return dict(self.headers, Accept="application/json")

    def watch(self, path, timeout=60):
        return _WatchLines(self, path, timeout)

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
        self._close_conns()
        shutil.rmtree(self.tmp, ignore_errors=True)


class _WatchLines:
    """A watch over the cluster's credentials: one JSON event per line (http.client
    undoes the chunking)."""

    def __init__(self, cluster, path, timeout):
        self.conn = cluster.conn(timeout)
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


# ---- Rigelfiles, kubeconfigs, scratch directories ----------------------------------

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


def small_orchestration(namespace, **over):
    """A ROS 1 application with a master, one volume "data" of 1Gi (no storage class) and a
    readiness probe, no rolling-update block: what the reliability suites deploy."""
    over.setdefault("persistent_storage", {"volumes": [{"name": "data", "size": "1Gi"}]})
    over.setdefault("rolling_update", None)
    return orchestration(namespace, **over)


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


class TempDir:
    def __init__(self, prefix="rk-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def join(self, *p):
        return os.path.join(self.path, *p)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


def tmpdir():
    return tempfile.mkdtemp(prefix="rk-e2e-")


# ---- running rigelk8s ---------------------------------------------------------------

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
    """The caller's environment without anything that would point rigelk8s elsewhere
    (KUBECONFIG, NO_COLOR, RIGELK8S_REQUEST_TIMEOUT), plus extra (and HOME=home). Every
    run helper below starts rigelk8s in clean_env(env): env names what a test adds."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("KUBECONFIG", "NO_COLOR", "RIGELK8S_REQUEST_TIMEOUT")}
    if home:
        env["HOME"] = home
    env.update(extra or {})
    return env


def user_env(**extra):
    """The environment without any of rigelk8s's own RIGELK8S_* overrides (no
    RIGELK8S_LUA_DIR, no RIGELK8S_LIBDIR), so that what is tested is what a user gets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGELK8S_")}
    env.update(extra)
    return env


def run(args, **kw):
    """Runs any command (args[0] need not be rigelk8s) in user_env(), 120 s at most;
    returns the subprocess.CompletedProcess (text)."""
    kw.setdefault("env", user_env())
    kw.setdefault("timeout", 120)
    return subprocess.run(args, capture_output=True, text=True, **kw)


def rigelk8s(*args, timeout=120, env=None, cwd=None, stdin=None):
    """Runs rigelk8s without a terminal (environment: clean_env(env)); returns a Run."""
    t0 = time.monotonic()
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=timeout,
                       env=clean_env(env), cwd=cwd, input=stdin,
                       errors="replace")
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
                         stderr=slave, env=clean_env(env))
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
    """rigelk8s in the background; stdout and stderr are collected line by line."""

    def __init__(self, *args, env=None, cwd=None):
        self.args = list(args)
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen([BIN] + self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=clean_env(env), cwd=cwd,
                                     errors="replace")
        self.err, self.out = [], []
        self.err_times, self.out_times = [], []   # time.monotonic() of each line's arrival
        self._threads = [threading.Thread(target=self._read, args=(self.proc.stderr, self.err, self.err_times),
                                          daemon=True),
                         threading.Thread(target=self._read, args=(self.proc.stdout, self.out, self.out_times),
                                          daemon=True)]
        for t in self._threads:
            t.start()

    @staticmethod
    def _read(stream, into, times):
        for line in stream:
            times.append(time.monotonic())
            into.append(line)

    def lines(self, which="out"):
        """The lines of stdout (or "err": stderr) so far, without their newlines."""
        return [l.rstrip("\n") for l in list(self.out if which == "out" else self.err)]

    def stamped(self, which="out"):
        """(arrival time, line) of each line so far."""
        return list(zip(self.out_times if which == "out" else self.err_times, self.lines(which)))

    def wait_until(self, pred, what, timeout=30):
        """Waits until pred() is true; fails naming what, with the output so far."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("never saw %s\n--- stdout\n%s\n--- stderr\n%s" % (
            what, "\n".join(self.lines()[-40:]), "\n".join(self.lines("err"))))

    def interrupt(self, timeout=15):
        """Ctrl-C (unless it already ended), then its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.finish(timeout).code

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

    def signal(self, sig=signal.SIGINT):
        self.proc.send_signal(sig)

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


def need_binary(test):
    """Skips the test when there is no rigelk8s binary to test."""
    if not os.access(BIN, os.X_OK):
        test.skipTest("no rigelk8s binary at %s (set RIGELK8S_BIN)" % BIN)


def start_emulator(test, *args, nodes=NODES, ready_delay=0.2, **kw):
    """The usual setUp of an end-to-end test: skips without the binary, then gives the test
    an emulator with these nodes (test.emu, test.kc its kubeconfig, stopped at cleanup), a
    reader of its objects (test.k) and a scratch directory (test.dir, removed)."""
    need_binary(test)
    test.emu = Emulator("--nodes", nodes, *args, ready_delay=ready_delay, **kw)
    test.addCleanup(test.emu.stop)
    test.kc = test.emu.kubeconfig
    test.k = Cluster(test.emu)
    test.dir = tmpdir()
    test.addCleanup(shutil.rmtree, test.dir, True)


# ---- what the cluster really holds ---------------------------------------------------

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
        self.events = []
        path = "/apis/apps/v1/namespaces/%s/deployments?watch=1" % ns
        if isinstance(emu, RealCluster):
            self.ws = emu.watch(path, timeout=60)
        else:
            self.ws = WatchStream(emu, path, timeout=60)
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
            if kind == "ConfigMap" and n.startswith("rigelk8s."):
                continue  # the application's inventory (README: Inventory and pruning), not a manifest
            out.append("%s/%s" % (kind, n))
    return sorted(out)


def verbose_lines(text):
    """The -v request log lines of a run's stderr."""
    return [l for l in text.splitlines() if re.match(r"rigelk8s: (GET|PATCH|POST|PUT|DELETE) ", l)]


def user_lines(text):
    """What a user sees without -v: stderr minus the request log."""
    return [l for l in text.splitlines() if l and not re.match(r"rigelk8s: (GET|PATCH|POST|PUT|DELETE) ", l)]


SERVICE_MONITOR_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {"group": "monitoring.coreos.com", "scope": "Namespaced",
             "names": {"plural": "servicemonitors", "singular": "servicemonitor",
                       "kind": "ServiceMonitor", "listKind": "ServiceMonitorList"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields": True}}}]}}
