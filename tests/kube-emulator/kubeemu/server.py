"""HTTP(S) front end: routing, authentication, faults, watches, kubeconfig, start-up."""
import argparse
import base64
import http
import json
import os
import queue
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import yamlmini
from .api import Api
from .common import ApiError, bad_request, deepcopy, dumpb, loads, not_found, now_ts, parse_ts
from .controllers import Controllers
from .registry import Registry, RType
from .selectors import parse_field_selector, parse_label_selector, match_fields, match_reqs
from .store import Store
from . import podexec
from . import ssa
from . import simlogs
from . import svcproxy
from . import tables

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0", "gitCommit": "0000000000000000000000000000000000000000",
           "gitTreeState": "clean", "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.3", "compiler": "gc",
           "platform": "linux/amd64", "emulator": "kube-emulator"}
PUBLIC_PATHS = ("/version", "/healthz", "/livez", "/readyz")
ADMIN_TOKEN = "emulator-admin-token"
VIEWER_TOKEN = "emulator-viewer-token"
AGG_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
REASONS = {s.value: s.phrase for s in http.HTTPStatus}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock if hasattr(self, "statuses") else _Null():
            self.latency_ms = 0
            self.latency_count = None
            self.statuses = []
            self.gone_next_watch = False

    def add(self, spec, server, current=None):
        if not isinstance(spec, dict):
            raise bad_request("fault must be a JSON object")
        with self.lock:
            if "latency_ms" in spec:
                self.latency_ms = float(spec["latency_ms"])
                self.latency_count = spec.get("count") if "status" not in spec else None
            if "status" in spec:
                code = int(spec["status"])
                self.statuses.append({"status": code, "count": int(spec.get("count", 1)),
                                      "retry_after": spec.get("retry_after"), "path": spec.get("path"),
                                      "method": spec.get("method"), "message": spec.get("message")})
            if spec.get("gone_next_watch"):
                self.gone_next_watch = True
        if spec.get("drop_watches"):
            server.drop_watches()
        if spec.get("restart"):
            server.restart_connections(current)

    def take(self, method, path):
        """Returns (latency_seconds, status_fault or None) for one request."""
        with self.lock:
            lat = 0.0
            if self.latency_ms:
                lat = self.latency_ms / 1000.0
                if self.latency_count is not None:
                    self.latency_count -= 1
                    if self.latency_count <= 0:
                        self.latency_ms = 0
                        self.latency_count = None
            for f in self.statuses:
                if f["path"] and not path.startswith(f["path"]):
                    continue
                if f["method"] and f["method"].upper() != method:
                    continue
                f["count"] -= 1
                if f["count"] <= 0:
                    self.statuses.remove(f)
                return lat, f
            return lat, None

    def take_gone(self):
        with self.lock:
            g = self.gone_next_watch
            self.gone_next_watch = False
            return g

    def describe(self):
        with self.lock:
            return {"latency_ms": self.latency_ms, "statuses": [dict(s) for s in self.statuses],
                    "gone_next_watch": self.gone_next_watch}


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def fault_error(f):
    code = f["status"]
    headers = {}
    if code == 429:
        ra = f.get("retry_after")
        ra = 1 if ra is None else ra
        headers["Retry-After"] = str(ra)
        return ApiError(429, "TooManyRequests", f.get("message") or "Too many requests, please try again later.",
                        {"retryAfterSeconds": int(ra)}, headers)
    if code == 503:
        return ApiError(503, "ServiceUnavailable", f.get("message") or "The server is currently unable to handle the request",
                        None, {"Retry-After": str(f["retry_after"])} if f.get("retry_after") is not None else {})
    if code == 500:
        return ApiError(500, "InternalError", f.get("message") or "Internal error occurred: injected fault",
                        {"causes": [{"message": "injected fault"}]})
    if code == 504:
        return ApiError(504, "Timeout", f.get("message") or "Timeout: request did not complete within the allowed duration")
    reason = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
              410: "Gone", 422: "Invalid"}.get(code, "InternalError")
    return ApiError(code, reason, f.get("message") or "injected fault")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-emulator"
    sys_version = ""
    disable_nagle_algorithm = True
    wbufsize = 0

    def setup(self):
        ctx = self.server.ssl_ctx
        if ctx is not None:
            self.request.settimeout(10)
            self.request = ctx.wrap_socket(self.request, server_side=True)
            self.request.settimeout(None)
        super().setup()
        self.server.track(self.connection, True)

    def finish(self):
        self.server.track(self.connection, False)
        try:
            super().finish()
        except (OSError, ValueError):
            pass

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_HEAD(self):
        self.dispatch("HEAD")

    # ------------------------------------------------------------- plumbing
    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while True:
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, code, body, ctype="application/json", headers=None):
        if self.command == "HEAD":
            payload = b""
        else:
            payload = body
        lines = ["HTTP/1.1 %d %s" % (code, REASONS.get(code, "Unknown")),
                 "Content-Type: " + ctype,
                 "Content-Length: %d" % len(body),
                 "Cache-Control: no-cache, private",
                 "Audit-Id: %x" % id(body),
                 "X-Kubernetes-Pf-Flowschema-Uid: emulator",
                 "X-Kubernetes-Pf-Prioritylevel-Uid: emulator"]
        if headers:
            for k, v in headers.items():
                lines.append("%s: %s" % (k, v))
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + payload)

    def send_obj(self, code, obj, headers=None):
        self.send(code, dumpb(obj), headers=headers)

    def send_error_status(self, e):
        self.send(e.code, dumpb(e.status()), headers=e.headers)

    # -------------------------------------------------------------- dispatch
    def dispatch(self, method):
        srv = self.server
        try:
            url = urllib.parse.urlsplit(self.path)
            path = url.path
            if len(path) > 1 and path.endswith("/"):
                path = path[:-1]
            q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            body = self.read_body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
            if path.startswith("/_emulator/") or path == "/_emulator":
                return self.admin(method, path, q, body)
            srv.requests += 1
            if srv.request_log is not None:
                srv.log_request_line(method, self.path)
            lat, fault = srv.faults.take(method, path)
            if lat:
                time.sleep(lat)
            if fault is not None:
                raise fault_error(fault)
            user = self.authenticate(path)
            self.user = user
            if method in WRITE_METHODS and user.get("readonly") and not path.startswith("/apis/authorization"):
                raise self.forbidden(method, path)
            if "/proxy" in url.path and svcproxy.serve(self, method, url.path, url.query, body):
                return
            self.route(method, path, q, body)
        except ApiError as e:
            try:
                self.send_error_status(e)
            except OSError:
                self.close_connection = True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        except Exception as e:  # pragma: no cover - internal errors become 500 Status
            import traceback
            sys.stderr.write("internal error: %s\n" % traceback.format_exc())
            try:
                self.send_error_status(ApiError(500, "InternalError", "Internal error occurred: %s" % e))
            except OSError:
                self.close_connection = True

    def authenticate(self, path):
        srv = self.server
        hdr = self.headers.get("Authorization")
        if hdr:
            if hdr.startswith("Bearer "):
                tok = hdr[7:].strip()
                u = srv.tokens.get(tok)
                if u is not None:
                    return u
            raise ApiError(401, "Unauthorized", "Unauthorized")
        if srv.ssl_ctx is not None:
            try:
                cert = self.connection.getpeercert()
            except (ValueError, AttributeError):
                cert = None
            if cert:
                cn = None
                groups = []
                for rdn in cert.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            cn = v
                        if k == "organizationName":
                            groups.append(v)
                if cn:
                    return {"name": cn, "readonly": cn == "emulator-viewer" and "system:masters" not in groups,
                            "groups": groups}
        if path in PUBLIC_PATHS or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            return {"name": "system:anonymous", "readonly": True}
        if srv.ssl_ctx is None and not srv.opts.require_auth:
            # kubectl/client-go never send bearer tokens over plain http: treat "no credentials" as admin
            return {"name": "emulator-admin", "readonly": False}
        raise ApiError(401, "Unauthorized", "Unauthorized")

    def forbidden(self, method, path):
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]
        info = self.server.path_info(path)
        if info is None:
            return ApiError(403, "Forbidden", 'forbidden: User "%s" cannot %s path "%s"' % (self.user["name"], verb, path),
                            {})
        rt, ns, name, sub = info
        res = rt.plural + ("/" + sub if sub else "")
        msg = '%s%s is forbidden: User "%s" cannot %s resource "%s" in API group "%s"' % (
            rt.plural + ("." + rt.group if rt.group else ""), ' "%s"' % name if name else "",
            self.user["name"], verb, res, rt.group)
        msg += ' in the namespace "%s"' % ns if ns else " at the cluster scope"
        return ApiError(403, "Forbidden", msg, {"name": name, "group": rt.group, "kind": rt.plural} if name
                        else {"group": rt.group, "kind": rt.plural})

    # ---------------------------------------------------------------- admin
    def admin(self, method, path, q, body):
        srv = self.server
        try:
            if path == "/_emulator/service-proxy":
                return svcproxy.admin(self, method, body)
            if path == "/_emulator/pod-logs":
                return simlogs.admin(self, method, body)
            if path == "/_emulator/faults" and method == "POST":
                spec = json.loads(body or b"{}")
                for s in (spec if isinstance(spec, list) else [spec]):
                    srv.faults.add(s, srv, self.connection)
                if isinstance(spec, dict) and spec.get("restart"):
                    self.close_connection = True
                return self.send_obj(200, {"ok": True, "faults": srv.faults.describe()})
            if path == "/_emulator/faults" and method == "GET":
                return self.send_obj(200, srv.faults.describe())
            if path == "/_emulator/reset" and method == "POST":
                srv.faults.reset()
                return self.send_obj(200, {"ok": True})
            if path == "/_emulator/state" and method == "GET":
                return self.send_obj(200, srv.state())
            if path == "/_emulator/settle":
                timeout = float(q.get("timeout", "10"))
                ok = srv.settle(timeout)
                return self.send_obj(200 if ok else 504, {"settled": ok, "resourceVersion": str(srv.store.rv)})
            if path == "/_emulator/exec-files":
                return self.send_obj(*podexec.admin(method, body))
            raise ApiError(404, "NotFound", "unknown emulator admin endpoint %s %s" % (method, path))
        except ValueError as e:
            raise bad_request("invalid JSON: %s" % e)

    # ---------------------------------------------------------------- routes
    def route(self, method, path, q, body):
        srv = self.server
        reg = srv.reg
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            return self.send(200, b"ok", "text/plain; charset=utf-8")
        if path == "/version":
            return self.send_obj(200, VERSION)
        if path == "" or path == "/":
            return self.send_obj(200, {"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v3",
                                                 "/readyz", "/version"] + sorted(
                "/apis/%s/%s" % gv for gv in reg.by_gv if gv[0])})
        accept = self.headers.get("Accept") or ""
        if path == "/api":
            if srv.aggregated and "as=APIGroupDiscoveryList" in accept and "v=v2;" in accept.replace(" ", "") + ";":
                return self.send(200, reg.aggregated(True), AGG_V2)
            return self.send_obj(200, reg.api_versions("%s:%d" % srv.server_address[:2]))
        if path == "/apis":
            if srv.aggregated and "as=APIGroupDiscoveryList" in accept and "v=v2;" in accept.replace(" ", "") + ";":
                return self.send(200, reg.aggregated(False), AGG_V2)
            return self.send(200, reg.api_group_list())
        if path.startswith("/openapi/"):
            return self.openapi(path)
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            body_ = reg.resource_list("", parts[1])
            if body_ is None:
                raise self.not_found_path()
            return self.send(200, body_)
        if parts[0] == "apis" and len(parts) == 2:
            g = reg.api_group(parts[1])
            if g is None:
                raise self.not_found_path()
            return self.send_obj(200, g)
        if parts[0] == "apis" and len(parts) == 3:
            body_ = reg.resource_list(parts[1], parts[2])
            if body_ is None:
                raise self.not_found_path()
            return self.send(200, body_)
        if parts[0] == "apis" and len(parts) >= 4 and parts[1] == "authorization.k8s.io":
            return self.access_review(parts, body)
        if len(parts) >= 6 and parts[:3] == ["api", "v1", "namespaces"] and parts[3:4] and \
                parts[4] == "services" and parts[6:7] == ["proxy"]:
            return self.service_proxy(method, parts[3], parts[5], parts[7:])
        if podexec.EXEC_PATH.match(path):  # kubectl cp (the pod side is simulated; podexec.py)
            try:
                return podexec.serve(self, method, path)
            except podexec.ExecError as e:
                raise ApiError(e.code, e.reason, e.message)
        info = srv.parse_resource_path(parts)
        if info is None:
            if (parts[0] == "api" and len(parts) >= 2 and not reg.has_gv("", parts[1])) or \
                    (parts[0] == "apis" and len(parts) >= 3 and not reg.has_gv(parts[1], parts[2])) or \
                    parts[0] not in ("api", "apis"):
                return self.unknown_path()
            raise self.not_found_path()
        rt, ns, name, sub, watch_prefix = info
        self.resource(method, rt, ns, name, sub, watch_prefix, q, body)

    def not_found_path(self):
        # a known group/version without that resource (kube-apiserver 1.19: details {})
        return ApiError(404, "NotFound", "the server could not find the requested resource", {})

    def unknown_path(self):
        """Paths outside any served group/version: the mux's plain-text 404."""
        self.send(404, b"404 page not found\n", "text/plain; charset=utf-8")

    def service_proxy(self, method, ns, target, rest):
        """services/<[scheme:]name[:port]>/proxy: this emulator runs no pods, so it answers
        the way kube-apiserver does when it cannot reach one (no endpoints, wrong port,
        missing service, or a dial error for an address nobody listens on)."""
        srv = self.server
        bits = target.split(":")
        if len(bits) == 3:
            bits = bits[1:]
        name, port = bits[0], (bits[1] if len(bits) > 1 else "")
        rt = srv.reg.get("", "v1", "services")
        svc = srv.store.get(rt.key, ns, name)
        if svc is None:
            raise not_found(rt, name)
        ports = (svc.get("spec") or {}).get("ports") or []
        sp = None
        for p in ports:
            if port == "" or port == str(p.get("port")) or port == p.get("name"):
                sp = p
                break
        if sp is None:
            raise ApiError(503, "ServiceUnavailable", 'no service port %s found for service "%s"' % (port, name))
        ep = srv.store.get(srv.reg.get("", "v1", "endpoints").key, ns, name)
        for subset in (ep or {}).get("subsets") or []:
            for a in subset.get("addresses") or []:
                for epp in subset.get("ports") or []:
                    if epp.get("name", "") == sp.get("name", ""):
                        raise ApiError(503, "ServiceUnavailable",
                                       "error trying to reach service: dial tcp %s:%s: connect: connection refused"
                                       % (a.get("ip"), epp.get("port")))
        raise ApiError(503, "ServiceUnavailable", 'no endpoints available for service "%s"' % name)

    def openapi(self, path):
        reg = self.server.reg
        if path == "/openapi/v3":
            return self.send(200, reg.openapi_root())
        if path.startswith("/openapi/v3/"):
            rest = path[len("/openapi/v3/"):].split("/")
            doc = None
            if rest[0] == "api" and len(rest) == 2:
                doc = reg.openapi_gv("", rest[1])
            elif rest[0] == "apis" and len(rest) == 3:
                doc = reg.openapi_gv(rest[1], rest[2])
            if doc is None:
                raise self.not_found_path()
            return self.send(200, doc)
        raise self.not_found_path()

    def access_review(self, parts, body):
        obj = self.parse_json(body) if body else {}
        ra = (obj.get("spec") or {}).get("resourceAttributes") or {}
        verb = ra.get("verb", "get")
        allowed = not (self.user.get("readonly") and verb in ("create", "update", "patch", "delete", "deletecollection"))
        obj.setdefault("apiVersion", "authorization.k8s.io/v1")
        obj["status"] = {"allowed": allowed}
        if allowed:
            obj["status"]["reason"] = "emulator: user may do anything"
        obj.setdefault("metadata", {})["creationTimestamp"] = None
        return self.send_obj(201, obj)

    # ------------------------------------------------------------- resources
    def manager(self, q, default_suffix=""):
        m = q.get("fieldManager")
        if m:
            return m
        ua = self.headers.get("User-Agent") or "unknown"
        return ua.split("/", 1)[0] or "unknown"

    def dry_run(self, q):
        dr = q.get("dryRun")
        if dr is None or dr == "":
            return False
        if dr != "All":
            raise bad_request('Invalid dryRun value "%s": dryRun must be "All"' % dr)
        return True

    def validation(self, q):
        v = q.get("fieldValidation")
        if v in (None, ""):
            return "Warn"
        if v not in ("Strict", "Warn", "Ignore"):
            raise bad_request('fieldValidation: Unsupported value: "%s": supported values: "Ignore", "Strict", "Warn"' % v)
        return v

    def warn_headers(self, warnings):
        if not warnings:
            return None
        return {"Warning": ", ".join('299 - %s' % json.dumps(w) for w in warnings)}

    def out(self, rt, obj):
        if obj.get("apiVersion") != rt.api_version and obj.get("kind") == rt.kind:
            obj = dict(obj)
            obj["apiVersion"] = rt.api_version
        return obj

    def resource(self, method, rt, ns, name, sub, watch_prefix, q, body):
        srv = self.server
        api = srv.api
        if sub == "log" and rt.kind == "Pod" and rt.group == "" and method in ("GET", "HEAD") and name:
            return self.pod_log(rt, ns, name, q)
        if sub and sub not in ("status", "scale"):
            raise self.not_found_path()
        if sub == "status" and not rt.status:
            raise self.not_found_path()
        if sub == "scale" and not rt.scale:
            raise self.not_found_path()
        if method in ("GET", "HEAD"):
            if name is None:
                if watch_prefix or q.get("watch") in ("true", "1", "True"):
                    return self.watch(rt, ns, q)
                return self.list(rt, ns, q)
            if watch_prefix:
                q = dict(q)
                q["fieldSelector"] = "metadata.name=" + name + ("," + q["fieldSelector"] if q.get("fieldSelector") else "")
                return self.watch(rt, ns, q)
            obj = srv.store.get(rt.key, ns, name)
            if obj is None:
                raise not_found(rt, name)
            if sub == "scale":
                return self.send_obj(200, api.scale_view(rt, obj))
            if tables.wants_table(self.headers.get("Accept")):
                return self.send(200, dumpb(tables.table(rt.kind, [self.out(rt, obj)], obj["metadata"].get("resourceVersion"),
                                                         q.get("includeObject", "Metadata"))), tables.TABLE_CT)
            if obj.get("apiVersion") == rt.api_version:
                return self.send(200, srv.store.get_raw(rt.key, ns, name) or dumpb(obj))
            return self.send_obj(200, self.out(rt, obj))
        dry = self.dry_run(q)
        if method == "POST":
            if name is not None:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            if rt.namespaced and ns is None:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            obj = self.parse_json(body)
            warns = []
            res = api.create(rt, ns, obj, manager=self.manager(q), dry_run=dry, validation=self.validation(q),
                             warnings=warns)
            return self.send_obj(201, self.out(rt, res), self.warn_headers(warns))
        if method == "PUT":
            if name is None:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            obj = self.parse_json(body)
            if sub == "scale":
                return self.send_obj(200, api.update_scale(rt, ns, name, obj, self.manager(q), dry))
            warns = []
            res = api.update(rt, ns, name, obj, subresource=sub, manager=self.manager(q), dry_run=dry,
                             validation=self.validation(q), warnings=warns)
            return self.send_obj(200, self.out(rt, res), self.warn_headers(warns))
        if method == "PATCH":
            if name is None:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            ctype = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
            force = q.get("force") in ("true", "1", "True")
            if force and ctype != "application/apply-patch+yaml":
                raise bad_request("force is only allowed for apply patches")
            manager = q.get("fieldManager") if ctype == "application/apply-patch+yaml" else self.manager(q)
            warns = []
            res, created = api.patch(rt, ns, name, ctype, body, subresource=sub, manager=manager, dry_run=dry, force=force,
                                     validation=self.validation(q), warnings=warns)
            return self.send_obj(201 if created else 200, self.out(rt, res) if sub != "scale" else res,
                                 self.warn_headers(warns))
        if method == "DELETE":
            opts = {}
            if body:
                opts = self.parse_json(body)
            prop = q.get("propagationPolicy") or opts.get("propagationPolicy")
            if opts.get("orphanDependents") is True:
                prop = prop or "Orphan"
            if prop not in (None, "Foreground", "Background", "Orphan"):
                raise bad_request('DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "%s": supported values: "Foreground", "Background", "Orphan", "nil"' % prop)
            if opts.get("dryRun") == ["All"]:
                dry = True
            if name is None:
                return self.delete_collection(rt, ns, q, prop, dry)
            grace = q.get("gracePeriodSeconds", opts.get("gracePeriodSeconds"))
            try:
                grace = int(grace) if grace not in (None, "") else None
            except ValueError:
                raise bad_request("invalid gracePeriodSeconds %r" % grace)
            res = api.delete(rt, ns, name, prop, dry_run=dry, preconditions=opts.get("preconditions"), grace=grace)
            return self.send_obj(200, self.out(rt, res) if res.get("kind") != "Status" else res)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def parse_json(self, body):
        ctype = (self.headers.get("Content-Type") or "application/json").split(";", 1)[0].strip().lower()
        if ctype in ("application/yaml", "application/x-yaml", "text/yaml"):
            try:
                return yamlmini.load(body.decode("utf-8"))
            except (yamlmini.YAMLError, UnicodeDecodeError) as e:
                raise bad_request("error decoding YAML: %s" % e)
        if ctype == "application/vnd.kubernetes.protobuf":
            from . import proto
            return proto.decode(body)
        if ctype not in ("application/json", "", "*/*"):
            raise ApiError(415, "UnsupportedMediaType", "415: Unsupported Media Type", {})
        try:
            obj = json.loads(body or b"")
        except ValueError as e:
            raise bad_request("error decoding JSON: %s" % e)
        if not isinstance(obj, dict):
            raise bad_request("the body of the request must be a JSON object")
        return obj

    def selectors(self, q):
        lr = parse_label_selector(q.get("labelSelector", ""))
        fr = parse_field_selector(q.get("fieldSelector", ""))
        return lr, fr

    def list(self, rt, ns, q):
        srv = self.server
        lr, fr = self.selectors(q)
        limit = q.get("limit")
        try:
            limit = int(limit) if limit not in (None, "", "0") else 0
        except ValueError:
            raise bad_request("invalid limit %r" % limit)
        cont = q.get("continue")
        start = None
        list_rv = None
        if cont:
            bad = go_base64_error(cont)
            if bad is not None:
                raise bad_request("invalid continue token: continue key is not valid: illegal base64 data at input byte %d" % bad)
            try:
                tok = json.loads(base64.urlsafe_b64decode(cont + "=" * (-len(cont) % 4)))
                start = tuple(tok["start"])
                list_rv = tok["rv"]
            except Exception:
                raise bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
        with srv.store.lock:
            rv = srv.store.rv
            items = srv.store.items(rt.key, ns)
            raws = srv.store.raw.get(rt.key) or {}
            out = []
            more = False
            remaining = 0
            for key, obj in items:
                if start is not None and (key[0] or "", key[1]) <= (start[0] or "", start[1]):
                    continue
                if lr and not match_reqs(lr, obj["metadata"].get("labels")):
                    continue
                if fr and not match_fields(fr, obj):
                    continue
                if limit and len(out) >= limit:
                    more = True
                    remaining += 1
                    continue
                out.append((key, obj, raws.get(key)))
        meta = {"resourceVersion": str(list_rv or rv)}
        if more:
            last = out[-1][0]
            meta["continue"] = base64.urlsafe_b64encode(json.dumps({"rv": list_rv or rv, "start": [last[0] or "", last[1]]}).encode()).decode().rstrip("=")
            meta["remainingItemCount"] = remaining
        if tables.wants_table(self.headers.get("Accept")):
            meta.pop("resourceVersion")
            tbl = tables.table(rt.kind, [self.out(rt, o) for _, o, _ in out], list_rv or rv,
                               q.get("includeObject", "Metadata"), meta)
            return self.send(200, dumpb(tbl), tables.TABLE_CT)
        if out and out[0][1].get("apiVersion") != rt.api_version:
            item_bytes = [dumpb(self.out(rt, o)) for _, o, _ in out]
        else:
            item_bytes = [r if r is not None else dumpb(o) for _, o, r in out]
        head = dumpb({"kind": rt.kind + "List", "apiVersion": rt.api_version, "metadata": meta})
        body = head[:-1] + b',"items":[' + b",".join(item_bytes) + b"]}"
        self.send(200, body)

    def delete_collection(self, rt, ns, q, prop, dry):
        srv = self.server
        lr, fr = self.selectors(q)
        items = []
        with srv.store.lock:
            for key, obj in srv.store.items(rt.key, ns):
                if lr and not match_reqs(lr, obj["metadata"].get("labels")):
                    continue
                if fr and not match_fields(fr, obj):
                    continue
                items.append(obj)
            if not dry:
                for obj in items:
                    try:
                        srv.api.delete(rt, obj["metadata"].get("namespace"), obj["metadata"]["name"], prop)
                    except ApiError:
                        pass
        self.send_obj(200, {"kind": rt.kind + "List", "apiVersion": rt.api_version,
                            "metadata": {"resourceVersion": str(srv.store.rv)}, "items": [self.out(rt, o) for o in items]})

    # ----------------------------------------------------------------- watch
    def start_chunked(self):
        head = ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-cache, private\r\n"
                "Transfer-Encoding: chunked\r\n\r\n").encode()
        self.wfile.write(head)

    def chunk(self, data):
        return b"%x\r\n%s\r\n" % (len(data), data)

    def watch(self, rt, ns, q):
        srv = self.server
        lr, fr = self.selectors(q)
        rv_s = q.get("resourceVersion")
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1", "True")
        send_initial = q.get("sendInitialEvents") in ("true", "1", "True")
        timeout = q.get("timeoutSeconds")
        try:
            timeout = float(timeout) if timeout not in (None, "") else None
        except ValueError:
            raise bad_request("invalid timeoutSeconds")
        initial = rv_s in (None, "", "0") or send_initial
        since = 0
        if not initial:
            try:
                since = int(rv_s)
            except ValueError:
                # kube-apiserver 1.19 answers a watch with a non-numeric resourceVersion with a 500
                raise ApiError(500, "", 'resourceVersion: Invalid value: "%s": strconv.ParseUint: parsing "%s": '
                               'invalid syntax' % (rv_s, rv_s))
        if srv.faults.take_gone():
            return self.watch_gone(since, srv.store.rv)
        if not initial and 0 < since < srv.min_watch_rv:
            # older than this server's watch cache (it starts after bootstrap, as a real
            # kube-apiserver's starts at its first list): 410 Expired (transcript 07)
            return self.watch_gone(since, srv.min_watch_rv)
        try:
            w, backlog, cur_rv = srv.store.watch(rt.key, ns, lr, fr, since, initial)
        except ValueError as e:
            return self.watch_gone(since, int(str(e.args[0])) + 1)
        srv.watch_started(w, self)
        try:
            self.start_chunked()
            pre = b'{"type":"'
            kind_av = b'{"kind":"%s","apiVersion":"%s"' % (rt.kind.encode(), rt.api_version.encode())
            conv = rt.crd is not None
            as_table = tables.wants_table(self.headers.get("Accept"))
            include = q.get("includeObject", "Metadata")
            def line(t, raw):
                if as_table and t not in ("BOOKMARK", "ERROR"):
                    obj = self.out(rt, loads(raw))
                    raw = dumpb(tables.table(rt.kind, [obj], obj["metadata"].get("resourceVersion"), include))
                elif conv and raw and b'"apiVersion":"%s"' % rt.api_version.encode() not in raw[:200]:
                    raw = dumpb(self.out(rt, loads(raw)))
                return self.chunk(pre + t.encode() + b'","object":' + raw + b"}\n")
            if backlog:
                out = [line(t, raw) for t, raw in backlog]
                for i in range(0, len(out), 200):
                    self.wfile.write(b"".join(out[i:i + 200]))
            if send_initial and bookmarks:
                bm = kind_av + b',"metadata":{"resourceVersion":"%d","creationTimestamp":null,"annotations":{"k8s.io/initial-events-end":"true"}}}' % cur_rv
                self.wfile.write(line("BOOKMARK", bm))
            deadline = time.time() + timeout if timeout else None
            interval = srv.bookmark_interval
            next_bm = time.time() + interval
            sock = self.connection
            while True:
                now = time.time()
                wait = 1.0
                if deadline is not None:
                    if now >= deadline:
                        break
                    wait = min(wait, deadline - now)
                if bookmarks:
                    wait = min(wait, max(0.0, next_bm - now))
                try:
                    item = w.q.get(timeout=max(wait, 0.001))
                except queue.Empty:
                    if bookmarks and time.time() >= next_bm:
                        with srv.store.lock:
                            brv = srv.store.rv if w.q.empty() else None
                        if brv is not None:
                            bm = kind_av + b',"metadata":{"resourceVersion":"%d","creationTimestamp":null}}' % brv
                            self.wfile.write(line("BOOKMARK", bm))
                        next_bm = time.time() + interval
                    if self.peer_closed(sock):
                        self.close_connection = True
                        return
                    continue
                if item is None:
                    if w.abort:
                        self.close_connection = True
                        try:
                            sock.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                        return
                    break
                batch = [line(item[0], item[1])]
                while len(batch) < 256:
                    try:
                        nxt = w.q.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        w.q.put(None)
                        break
                    batch.append(line(nxt[0], nxt[1]))
                self.wfile.write(b"".join(batch))
            self.wfile.write(b"0\r\n\r\n")
        except (OSError, ValueError):
            self.close_connection = True
        finally:
            srv.store.unwatch(w)
            srv.watch_ended(w)

    def pod_log(self, rt, ns, name, q):
        pod = self.server.store.get(rt.key, ns, name)
        if pod is None:
            raise not_found(rt, name)
        containers = [c for c in (pod.get("spec") or {}).get("containers") or []]
        inits = [c for c in (pod.get("spec") or {}).get("initContainers") or []]
        cname = q.get("container")
        if not cname:
            if len(containers) != 1:
                raise bad_request("a container name must be specified for pod %s, choose one of: [%s]"
                                  % (name, " ".join(c.get("name", "") for c in containers)))
            cname = containers[0].get("name")
        c = next((x for x in containers + inits if x.get("name") == cname), None)
        if c is None:
            raise bad_request('container %s is not valid for pod %s' % (cname, name))
        statuses = ((pod.get("status") or {}).get("containerStatuses") or []) + \
            ((pod.get("status") or {}).get("initContainerStatuses") or [])
        cs = next((x for x in statuses if x.get("name") == cname), {})
        state = cs.get("state") or {}
        image = c.get("image", "")
        previous = q.get("previous") in ("true", "1")
        if previous:
            if not (cs.get("lastState") or {}).get("terminated"):
                raise bad_request('previous terminated container "%s" in pod "%s" not found' % (cname, name))
            lines = ["[emulator] %s starting (image %s)" % (cname, image), "fatal: simulated crash, exiting with code 1"]
            lines = simlogs.lines(self.server, ns, cname, lines[:1]) + lines[1:]
        elif "running" in state or "terminated" in state:
            lines = ["[emulator] %s started (image %s)" % (cname, image)]
            if "never-ready" in image:
                lines.append("waiting for dependencies: readiness probe will keep failing")
            elif "fail" in image and "terminated" in state:
                lines.append("error: simulated job failure, exiting with code 1")
            else:
                lines.append("ready")
        elif "waiting" in state and "crashloop" in image:
            lines = ["[emulator] %s starting (image %s)" % (cname, image), "fatal: simulated crash, exiting with code 1"]
            lines = simlogs.lines(self.server, ns, cname, lines[:1]) + lines[1:]
        else:
            reason = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
            if reason in ("ErrImagePull", "ImagePullBackOff"):
                msg = 'container "%s" in pod "%s" is waiting to start: trying and failing to pull image' % (cname, name)
            else:
                msg = 'container "%s" in pod "%s" is waiting to start: %s' % (cname, name, reason)
            raise bad_request(msg)
        if not previous and ("running" in state or "terminated" in state):
            lines = simlogs.lines(self.server, ns, cname, lines)
        return self.send_log(rt, ns, name, q, pod, cname, cs, image, lines, previous)

    # Test hooks in the image name, for clients' bad-input handling (see simlogs.py):
    # "log-huge-line" logs one line of HUGE_LINE bytes; "log-cut" ends its log with a line
    # without a newline and drops the connection there (no final chunk).
    HUGE_LINE = 64 * 1024 * 1024

    def send_log(self, rt, ns, name, q, pod, cname, cs, image, texts, previous):
        srv = self.server
        state = cs.get("state") or {}
        run = state.get("running") or state.get("terminated") or {}
        t0 = parse_ts(run.get("startedAt")) or time.time()
        now = time.time()
        follow = q.get("follow") in ("true", "1")
        since = q.get("sinceSeconds")
        if since not in (None, ""):
            if not since.isdigit() or int(since) < 1:
                raise bad_request('sinceSeconds: Invalid value: "%s": must be greater than 0' % since)
        tail = q.get("tailLines")
        if tail not in (None, "") and not tail.lstrip("-").isdigit():
            raise bad_request('tailLines: Invalid value: "%s"' % tail)
        # (time, text, hook) entries in time order; hook: "huge" (the text is HUGE_LINE
        # bytes of 'x') or "cut" (the stream is dropped after this text, without its newline)
        entries = [(t0, t, None) for t in texts]
        live = not previous and ("running" in state or "terminated" in state)
        if live and "log-huge-line" in image:
            entries.insert(1, (t0, "", "huge"))
            entries.append((t0, "after the huge line", None))
        if live and "log-cut" in image:
            entries.append((t0, "this line is cut off mid-", "cut"))
        tick = srv.opts.log_tick
        k = 0
        if live and tick > 0:
            until = parse_ts(state["terminated"].get("finishedAt")) if "terminated" in state else now
            while t0 + (k + 1) * tick <= until:
                k += 1
                entries.append((t0 + k * tick, "[emulator] %s tick %d" % (cname, k), None))
        if since not in (None, ""):
            entries = [e for e in entries if e[0] >= now - int(since)]
        if tail not in (None, "") and int(tail) >= 0:
            entries = entries[-int(tail):] if int(tail) else []
        stamps = q.get("timestamps") in ("true", "1")

        def render(t, text):
            pre = (now_ts(t).replace("Z", ".000000000Z") + " ") if stamps else ""
            return (pre + text + "\n").encode()
        if not follow and all(h is None for _, _, h in entries):
            return self.send(200, b"".join(render(t, x) for t, x, _ in entries), "text/plain")
        self.close_connection = True
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: no-cache, private\r\n"
                         b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        try:
            for t, text, hook in entries:
                if hook == "huge":
                    piece = b"x" * (1024 * 1024)
                    for _ in range(self.HUGE_LINE // len(piece)):
                        self.wfile.write(self.chunk(piece))
                    self.wfile.write(self.chunk(b"\n"))
                elif hook == "cut":
                    self.wfile.write(self.chunk(render(t, text)[:-1]))
                    self.wfile.flush()
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                else:
                    self.wfile.write(self.chunk(render(t, text)))
            if follow and not previous:
                self.follow_log(rt, ns, name, pod, cname, cs, t0, k, render)
            self.wfile.write(b"0\r\n\r\n")
        except (OSError, ValueError):
            pass

    def follow_log(self, rt, ns, name, pod, cname, cs, t0, k, render):
        """Keeps a followed log open while the container runs: a tick line every
        --log-tick seconds (none when 0); ends when the pod is gone (or replaced), the
        container stopped or restarted, or the client went away."""
        srv = self.server
        uid = (pod.get("metadata") or {}).get("uid")
        restarts = cs.get("restartCount", 0)
        tick = srv.opts.log_tick
        while True:
            time.sleep(0.05)
            if self.peer_closed(self.connection):
                return
            cur = srv.store.get(rt.key, ns, name)
            if cur is None or (cur.get("metadata") or {}).get("uid") != uid:
                return
            st = ((cur.get("status") or {}).get("containerStatuses") or []) + \
                ((cur.get("status") or {}).get("initContainerStatuses") or [])
            c = next((x for x in st if x.get("name") == cname), {})
            if "running" not in (c.get("state") or {}) or c.get("restartCount", 0) != restarts:
                return
            if tick > 0 and time.time() >= t0 + (k + 1) * tick:
                k += 1
                self.wfile.write(self.chunk(render(t0 + k * tick, "[emulator] %s tick %d" % (cname, k))))
                self.wfile.flush()

    def peer_closed(self, sock):
        try:
            r, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        if not r:
            return False
        if isinstance(sock, ssl.SSLSocket):
            return True
        try:
            return sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def watch_gone(self, since, oldest):
        self.start_chunked()
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": "too old resource version: %d (%d)" % (since, oldest), "reason": "Expired", "code": 410}
        ev = dumpb({"type": "ERROR", "object": st}) + b"\n"
        self.wfile.write(self.chunk(ev) + b"0\r\n\r\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, opts):
        self.opts = opts
        self.verbose = opts.verbose
        self.reg = Registry()
        self.store = Store(history=opts.history)
        self.api = Api(self.store, self.reg, opts)
        self.api.on_crd_change = self.crd_changed
        self.controllers = Controllers(self.api, opts)
        self.faults = Faults()
        self.min_watch_rv = 0
        self.ssl_ctx = None
        self.aggregated = not opts.no_aggregated_discovery
        self.bookmark_interval = opts.bookmark_interval
        self.tokens = {ADMIN_TOKEN: {"name": "emulator-admin", "readonly": False},
                       VIEWER_TOKEN: {"name": "emulator-viewer", "readonly": True}}
        self.conns = set()
        self.conns_lock = threading.Lock()
        self.watches = {}
        self.requests = 0
        # --request-log PATH: one JSON line per API request, in the order they arrive.
        self.request_log = open(opts.request_log, "a", buffering=1) if getattr(opts, "request_log", None) else None
        self.request_log_lock = threading.Lock()
        self.request_seq = 0
        super().__init__(addr, Handler)

    def log_request_line(self, method, target):
        with self.request_log_lock:
            self.request_seq += 1
            self.request_log.write(json.dumps({"seq": self.request_seq, "time": round(time.time(), 6),
                                               "method": method, "path": target}) + "\n")

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)

    def track(self, conn, add):
        with self.conns_lock:
            if add:
                self.conns.add(conn)
            else:
                self.conns.discard(conn)

    def watch_started(self, w, handler):
        with self.conns_lock:
            self.watches[w] = handler

    def watch_ended(self, w):
        with self.conns_lock:
            self.watches.pop(w, None)

    def drop_watches(self):
        with self.conns_lock:
            ws = list(self.watches)
        for w in ws:
            w.close(abort=True)

    def restart_connections(self, current=None):
        self.drop_watches()
        with self.conns_lock:
            conns = [c for c in self.conns if c is not current]
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def settle(self, timeout):
        end = time.time() + timeout
        stable = 0
        while time.time() < end:
            if self.controllers.idle():
                stable += 1
                if stable >= 3:
                    return True
            else:
                stable = 0
            time.sleep(0.005)
        return False

    def state(self):
        with self.store.lock:
            counts = {}
            for (g, plural), m in self.store.data.items():
                if m:
                    counts[plural + ("." + g if g else "")] = len(m)
            return {"resourceVersion": str(self.store.rv), "objects": counts, "watches": len(self.watches),
                    "connections": len(self.conns), "requests": self.requests, "writes": self.store.writes,
                    "faults": self.faults.describe(), "controllersIdle": self.controllers.idle()}

    def path_info(self, path):
        parts = path.strip("/").split("/")
        r = self.parse_resource_path(parts)
        if r is None:
            return None
        return r[:4]

    def parse_resource_path(self, parts):
        reg = self.reg
        if parts[0] == "api" and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        if not reg.has_gv(group, version):
            return None
        watch_prefix = False
        if rest and rest[0] == "watch":
            watch_prefix = True
            rest = rest[1:]
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            rt = reg.get(group, version, rest[2])
            if rt is not None and rt.namespaced:
                ns = rest[1]
                rest = rest[2:]
        if not rest or len(rest) > 3:
            return None
        rt = reg.get(group, version, rest[0])
        if rt is None:
            return None
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if rt.namespaced and ns is None and name is not None:
            return None
        return rt, ns, name, sub, watch_prefix

    # ------------------------------------------------------------------ CRDs
    def crd_changed(self, crd, deleted):
        spec = crd.get("spec") or {}
        group = spec.get("group")
        names = spec.get("names") or {}
        plural = names.get("plural")
        if not group or not plural:
            return
        if deleted:
            self.reg.remove_crd(group, plural)
            self.store.drop_rkey((group, plural))
            return
        # (re)register served versions
        self.reg.remove_crd(group, plural)
        for v in spec.get("versions") or []:
            if not v.get("served", True):
                continue
            subs = v.get("subresources") or {}
            rt = RType(group, v["name"], plural, names.get("kind"), spec.get("scope") == "Namespaced",
                       names.get("shortNames") or [], status="status" in subs, scale="scale" in subs,
                       generation=True, categories=names.get("categories") or [], crd=crd["metadata"]["name"],
                       singular=names.get("singular") or names.get("kind", "").lower())
            if rt.status:
                ssa._KINDS_WITH_STATUS.add(rt.kind)
            self.reg.add(rt)
        # storage key points at the storage version
        for v in spec.get("versions") or []:
            if v.get("storage"):
                st = self.reg.get(group, v["name"], plural)
                if st is not None:
                    self.reg.by_key[(group, plural)] = st
        status = deepcopy(crd.get("status") or {})
        now = now_ts()
        want_conds = [{"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts",
                       "message": "no conflicts found"},
                      {"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted",
                       "message": "the initial names have been accepted"}]
        old_types = {c.get("type"): c for c in status.get("conditions") or []}
        conds = [old_types.get(c["type"]) if old_types.get(c["type"], {}).get("status") == "True" else c for c in want_conds]
        acc = {k: names[k] for k in ("plural", "singular", "shortNames", "kind", "listKind", "categories") if k in names}
        new_status = {"conditions": conds, "acceptedNames": acc,
                      "storedVersions": [v["name"] for v in spec.get("versions") or [] if v.get("storage")]}
        if new_status != crd.get("status"):
            new = dict(crd)
            new["status"] = new_status
            self.store.put(("apiextensions.k8s.io", "customresourcedefinitions"), new)

    # ------------------------------------------------------------- bootstrap
    def bootstrap(self, nodes_spec):
        api = self.api
        rt = lambda g, p: self.reg.storage(g, p)
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            api.create(rt("", "namespaces"), None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, internal=True)
        api.create(rt("storage.k8s.io", "storageclasses"), None, {
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "emulator.local/hostpath", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}, internal=True)
        api.create(rt("storage.k8s.io", "storageclasses"), None, {
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast-ssd"},
            "provisioner": "emulator.local/ssd", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate",
            "allowVolumeExpansion": True}, internal=True)
        api.create(rt("", "services"), "default", {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}},
            internal=True)
        for i, (name, labels) in enumerate(parse_nodes(nodes_spec)):
            lbl = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                   "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64"}
            lbl.update(labels)
            now = now_ts()
            node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": lbl},
                    "spec": {"podCIDR": "10.244.%d.0/24" % i, "podCIDRs": ["10.244.%d.0/24" % i]},
                    "status": {
                        "conditions": [
                            {"type": t, "status": "False", "lastHeartbeatTime": now, "lastTransitionTime": now,
                             "reason": "Kubelet" + r, "message": m}
                            for t, r, m in (("MemoryPressure", "HasSufficientMemory", "kubelet has sufficient memory available"),
                                            ("DiskPressure", "HasNoDiskPressure", "kubelet has no disk pressure"),
                                            ("PIDPressure", "HasSufficientPID", "kubelet has sufficient PID available"))] +
                        [{"type": "Ready", "status": "True", "lastHeartbeatTime": now, "lastTransitionTime": now,
                          "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
                        "addresses": [{"type": "InternalIP", "address": "172.18.0.%d" % (2 + i)},
                                      {"type": "Hostname", "address": name}],
                        "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                        "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                        "nodeInfo": {"kubeletVersion": "v1.32.0", "kubeProxyVersion": "v1.32.0",
                                     "containerRuntimeVersion": "containerd://1.7.24", "operatingSystem": "linux",
                                     "architecture": "amd64", "osImage": "Emulated Linux", "kernelVersion": "6.1.0",
                                     "machineID": "", "systemUUID": "", "bootID": ""}}}
            api.create(rt("", "nodes"), None, node, internal=True)


def go_base64_error(s):
    """Offset Go's base64 decoder reports for s (URL alphabet, padding optional), or None."""
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    body = s.rstrip("=")
    for i, ch in enumerate(body):
        if ch not in alphabet:
            return i
    if len(body) % 4 == 1:
        return len(body) - 1
    return None


def parse_nodes(spec):
    if not spec:
        return [("emulator-node", {})]
    out = []
    for part in spec.split(";"):
        part = part.strip()
        if not part:
            continue
        name, _, labels = part.partition(":")
        lbl = {}
        for kv in labels.split(","):
            kv = kv.strip()
            if not kv:
                continue
            k, _, v = kv.partition("=")
            lbl[k.strip()] = v.strip()
        out.append((name.strip(), lbl))
    return out or [("emulator-node", {})]


# ---------------------------------------------------------------------- TLS
def make_certs(tmp):
    cnf = os.path.join(tmp, "openssl.cnf")
    with open(cnf, "w") as f:
        f.write("[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = x\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda args: subprocess.run(["openssl"] + args, check=True, capture_output=True, cwd=tmp)
    p = lambda n: os.path.join(tmp, n)
    run(["req", "-config", cnf, "-x509"] + ec + ["-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "3650",
         "-subj", "/CN=emulator-ca", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"])
    run(["req", "-config", cnf, "-x509"] + ec + ["-keyout", p("server.key"), "-out", p("server.crt"), "-days", "3650",
         "-subj", "/CN=kube-apiserver", "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:0:0:0:0:0:0:0:1",
         "-addext", "basicConstraints=critical,CA:FALSE",
         "-addext", "keyUsage=critical,digitalSignature,keyEncipherment", "-addext", "extendedKeyUsage=serverAuth"])
    run(["req", "-config", cnf, "-x509"] + ec + ["-keyout", p("client.key"), "-out", p("client.crt"), "-days", "3650",
         "-subj", "/O=system:masters/CN=emulator-admin", "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
         "-addext", "basicConstraints=critical,CA:FALSE",
         "-addext", "keyUsage=critical,digitalSignature,keyEncipherment", "-addext", "extendedKeyUsage=clientAuth"])
    return {k: p(k + ".crt") for k in ("ca", "server", "client")}, {k: p(k + ".key") for k in ("ca", "server", "client")}


def b64file(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def write_kubeconfig(path, url, tls_files=None):
    cluster = {"server": url}
    users = [{"name": "emulator-admin", "user": {"token": ADMIN_TOKEN}},
             {"name": "emulator-viewer", "user": {"token": VIEWER_TOKEN}}]
    contexts = [{"name": "emulator", "context": {"cluster": "emulator", "user": "emulator-admin", "namespace": "default"}},
                {"name": "emulator-viewer", "context": {"cluster": "emulator", "user": "emulator-viewer", "namespace": "default"}}]
    if tls_files:
        certs, keys = tls_files
        cluster["certificate-authority-data"] = b64file(certs["ca"])
        users.insert(1, {"name": "emulator-cert", "user": {"client-certificate-data": b64file(certs["client"]),
                                                           "client-key-data": b64file(keys["client"])}})
        contexts.insert(1, {"name": "emulator-cert", "context": {"cluster": "emulator", "user": "emulator-cert",
                                                                 "namespace": "default"}})
    cfg = {"apiVersion": "v1", "kind": "Config", "clusters": [{"name": "emulator", "cluster": cluster}],
           "users": users, "contexts": contexts, "current-context": "emulator", "preferences": {}}
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(yamlmini.dump(cfg) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="kube-emulator", description="Kubernetes API server emulator for tests")
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = pick a free one)")
    ap.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    ap.add_argument("--write-kubeconfig", metavar="PATH", help="write a kubeconfig for the emulator to PATH")
    ap.add_argument("--tls", action="store_true", help="serve HTTPS with a generated CA, accept client certificates")
    ap.add_argument("--nodes", default="", help="nodes, e.g. 'robot-1:deploymentType=local;cloud-1:deploymentType=remote'")
    ap.add_argument("--ready-delay", type=float, default=0.5, help="seconds from scheduling to Running/Ready (default 0.5)")
    ap.add_argument("--crash-backoff", type=float, default=0.5, help="first CrashLoopBackOff restart interval in seconds")
    ap.add_argument("--controller-delay", type=float, default=0.1,
                    help="seconds before the deployment controller acts on a spec change of an existing Deployment (default 0.1)")
    ap.add_argument("--controller-delay-new", type=float, default=0.0,
                    help="seconds before the deployment controller picks up a new Deployment (default 0)")
    ap.add_argument("--namespace-finalize-delay", type=float, default=0.5,
                    help="seconds a deleted namespace stays Terminating (default 0.5)")
    ap.add_argument("--pod-stop-delay", type=float, default=0.1,
                    help="seconds a kubelet takes to stop a gracefully deleted pod (default 0.1)")
    ap.add_argument("--autoscaler", choices=("none", "scale-up", "no-scale-up"), default="none",
                    help="a simulated cluster autoscaler for Unschedulable pods: scale-up (event TriggeredScaleUp, "
                         "then a node that fits after --scale-up-delay), no-scale-up (event NotTriggerScaleUp), "
                         "none (default)")
    ap.add_argument("--scale-up-delay", type=float, default=2.0,
                    help="seconds from TriggeredScaleUp to the new node (default 2)")
    ap.add_argument("--no-root-ca-configmap", action="store_true",
                    help="do not publish kube-root-ca.crt into namespaces (kube-apiserver < 1.20 did not)")
    ap.add_argument("--history", type=int, default=1000, help="watch event history kept per resource (default 1000)")
    ap.add_argument("--bookmark-interval", type=float, default=1.0, help="seconds between watch BOOKMARK events")
    ap.add_argument("--log-tick", type=float, default=0.0,
                    help="seconds between the tick lines every running container logs (default 0: none)")
    ap.add_argument("--fault", action="append", default=[], help="fault JSON applied at start (repeatable)")
    ap.add_argument("--no-aggregated-discovery", action="store_true", help="serve only legacy discovery documents")
    ap.add_argument("--require-auth", action="store_true",
                    help="over plain http, answer 401 to requests without credentials (kubectl will then fail)")
    ap.add_argument("--request-log", metavar="PATH",
                    help="append one JSON line per API request ({seq, time, method, path}) to PATH, in arrival order")
    ap.add_argument("--verbose", "-v", action="store_true", help="log requests to stderr")
    return ap.parse_args(argv)


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    tmpdir = None
    tls_files = None
    if opts.tls:
        tmpdir = tempfile.mkdtemp(prefix="kube-emulator-")
        os.chmod(tmpdir, 0o700)
        tls_files = make_certs(tmpdir)
        with open(tls_files[0]["ca"]) as f:
            opts.ca_pem = f.read()
    srv = Server((opts.host, opts.port), opts)
    if opts.tls:
        certs, keys = tls_files
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certs["server"], keys["server"])
        ctx.load_verify_locations(certs["ca"])
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        srv.ssl_ctx = ctx
    for f in opts.fault:
        srv.faults.add(json.loads(f), srv)
    srv.bootstrap(opts.nodes)
    srv.min_watch_rv = srv.store.rv
    srv.controllers.start()
    host, port = srv.server_address[:2]
    url = "%s://%s:%d" % ("https" if opts.tls else "http", host, port)
    if opts.write_kubeconfig:
        write_kubeconfig(opts.write_kubeconfig, url, tls_files)
    print("listening on %s" % url, flush=True)
    try:
        srv.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
    return 0
