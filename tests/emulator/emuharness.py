"""Test helpers: start/stop the kube-emulator and talk raw HTTP(S) to it (stdlib only)."""
import base64
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EMULATOR = os.path.join(ROOT, "tests", "kube-emulator", "kube-emulator")
sys.path.insert(0, os.path.join(ROOT, "tests", "kube-emulator"))
from kubeemu import yamlmini  # noqa: E402

ADMIN = "emulator-admin-token"
VIEWER = "emulator-viewer-token"


class Emulator:
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
        self._local = threading.local()
        self._conns = []

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

    def conn(self, timeout=30, ctx=None):
        if self.tls:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=ctx or self.ssl_ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, ctype=None, token=ADMIN, headers=None, conn=None):
        """Returns (status, headers, parsed body or bytes). Reuses one keep-alive connection per thread."""
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = "Bearer " + token
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
                c.request(method, path, body=data, headers=hdrs)
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

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body, ctype="application/merge-patch+json", **kw):
        return self.request("PATCH", path, body, ctype=ctype, **kw)

    def delete(self, path, body=None, **kw):
        return self.request("DELETE", path, body, **kw)

    def ok(self, method, path, body=None, **kw):
        if method == "PATCH" and "ctype" not in kw:
            kw["ctype"] = "application/merge-patch+json"
        st, _, b = self.request(method, path, body, **kw)
        if st >= 300:
            raise AssertionError("%s %s -> %d %s" % (method, path, st, b))
        return b

    def admin(self, path, body=None):
        return self.request("POST" if body is not None else "GET", "/_emulator/" + path, body, token=None)

    def fault(self, spec):
        st, _, b = self.admin("faults", spec)
        assert st == 200, b
        return b

    def settle(self, timeout=10):
        st, _, b = self.request("GET", "/_emulator/settle?timeout=%s" % timeout, token=None)
        return st == 200

    def wait_for(self, fn, timeout=10, interval=0.02, msg="condition"):
        end = time.time() + timeout
        last = None
        while time.time() < end:
            last = fn()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError("timed out waiting for %s (last=%r)" % (msg, last))

    def stop(self):
        for c in self._conns:
            try:
                c.close()
            except Exception:
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
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
