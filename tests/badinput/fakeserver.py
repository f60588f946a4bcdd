"""A tiny misbehaving "API server" for the bad-input corpus: /version answers normally
(unless the mode breaks it), and the mode decides what every other request gets —
garbage JSON, truncated bodies, wrong content types, broken watch streams, endless
pagination. It counts the writes it receives (it stores nothing)."""
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.0-fake", "platform": "linux/amd64"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    # ---- plumbing ------------------------------------------------------------------

    def send(self, code, body, ctype="application/json", length=None, close=False):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if close:
            self.close_connection = True

    def chunks(self, pieces, end=True):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for p in pieces:
                if isinstance(p, str):
                    p = p.encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(p), p))
                self.wfile.flush()
            if end:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = not end

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # ---- requests ------------------------------------------------------------------

    def do_GET(self):
        mode = self.server.mode
        path = self.path
        if path.startswith("/version"):
            if mode == "version-truncated":
                return self.send(200, '{"major": "1", "minor"')
            if mode == "version-html":
                return self.send(200, "<html><body><h1>Please log in</h1></body></html>", "text/html")
            if mode == "version-not-object":
                return self.send(200, "[1, 2, 3]")
            if mode == "version-length-lies":
                return self.send(200, json.dumps(VERSION)[:20], length=4000, close=True)
            return self.send(200, VERSION)
        watch = "watch=true" in path or "watch=1" in path
        if watch:
            return self.watch(mode)
        if mode == "get-garbage":
            return self.send(200, '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ')
        if mode == "get-wrong-type":
            return self.send(200, "hello, this is not JSON", "text/plain")
        if mode == "get-invalid-utf8":
            return self.send(200, b'{"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "\xff\xfe"}}')
        if mode == "get-deep":
            return self.send(200, "[" * 200000 + "]" * 200000)
        if mode == "get-huge-number":
            return self.send(200, '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generation": 1e999}}')
        if mode == "error-not-status":
            return self.send(502, "<html><body>502 Bad Gateway</body></html>", "text/html")
        if mode == "error-binary":
            return self.send(403, b"denied\x00\x1b[2J\x07garbage" + os.urandom(64), "application/octet-stream")
        if mode == "error-status-garbage":
            return self.send(409, {"kind": "Status", "code": "not-a-number", "message": 42,
                                   "details": {"causes": "nope"}, "reason": ["x"]})
        if mode == "body-cut":
            return self.send(200, '{"apiVersion": "v1"', length=5000, close=True)
        if mode == "list-endless":
            return self.send(200, {"apiVersion": "v1", "kind": "ConfigMapList",
                                   "metadata": {"resourceVersion": "1", "continue": "again"},
                                   "items": [{"metadata": {"name": "cm", "namespace": "default"}}]})
        if mode == "list-bad-items":
            return self.send(200, {"apiVersion": "v1", "kind": "ConfigMapList", "metadata": {},
                                   "items": "not-a-list"})
        if mode == "discovery-garbage" and path.startswith("/apis/"):
            return self.send(200, "{{{{ not json", "application/json")
        return self.send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                               "reason": "NotFound", "code": 404, "message": "not found"})

    def watch(self, mode):
        if mode == "watch-garbage":
            return self.chunks(["this is not json\n"])
        if mode == "watch-not-event":
            return self.chunks(['{"type": 42, "object": "x"}\n'])
        if mode == "watch-deep":
            return self.chunks(['{"type": "ADDED", "object": ' + "[" * 100000 + "]" * 100000 + "}\n"])
        if mode == "watch-huge-line":
            return self.chunks(["x" * (1 << 20)] * 70, end=False)
        if mode == "watch-error-event":
            return self.chunks([json.dumps({"type": "ERROR", "object": {
                "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 403, "reason": "Forbidden",
                "message": "configmaps is forbidden: User \"x\" cannot watch resource"}}) + "\n"])
        if mode == "watch-cut":
            # Half an event, then the connection drops (no terminating chunk).
            return self.chunks(['{"type": "ADDED", "object": {"kind": "Conf'], end=False)
        if mode == "watch-html":
            return self.send(200, "<html>proxy</html>\n", "text/html")
        return self.send(404, {"kind": "Status", "code": 404, "reason": "NotFound", "message": "not found"})

    def write(self):
        self.server.writes += 1
        self.body()
        mode = self.server.mode
        if mode in ("get-garbage", "write-garbage"):
            return self.send(200, "{ garbage")
        return self.send(500, {"kind": "Status", "code": 500, "reason": "InternalError",
                               "message": "the fake server stores nothing"})

    do_POST = do_PUT = do_PATCH = do_DELETE = write


class FakeServer:
    def __init__(self, mode):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.mode = mode
        self.httpd.writes = 0
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def writes(self):
        return self.httpd.writes

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
