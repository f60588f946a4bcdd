"""The service proxy subresource, /api/v1/namespaces/NS/services/NAME:PORT/proxy/..., for
Services that a test has pointed at a local address.

The emulator runs no pods, so there is no endpoint to proxy to. A test that starts a real
server (a ROS master, say) registers its loopback address for a Service:

    POST /_emulator/service-proxy {"namespace": "ns", "service": "ros-master",
                                   "port": "11311", "target": "127.0.0.1:40000"}
    POST /_emulator/service-proxy {..., "forbidden": true}   # RBAC denies services/proxy
    GET /_emulator/service-proxy                              # the routes, with request counts
    DELETE /_emulator/service-proxy                           # forget every registration

Requests for a registered Service that exists in the store are forwarded (method, rest of
the path, query, body and Content-Type) the way kube-apiserver forwards them. Everything
else falls through to the emulator's own routes (the recorded "no endpoints" answers).
The error answers copy kube-apiserver 1.19: 503 ServiceUnavailable "error trying to reach
service: ..." when the target refuses, and the RBAC 403 for services/proxy."""
import http.client
import json
import re

from .common import ApiError, server_registry

_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/services/([^/:]+)(?::([^/]+))?/proxy(/.*)?$")
def of(server):
    """The registrations of one emulator server (created on first use)."""
    return server_registry(server, "_svcproxy_routes")


def admin(handler, method, body):
    routes = of(handler.server)
    if method == "DELETE":
        routes.clear()
        return handler.send_obj(200, {"ok": True})
    if method == "GET":
        return handler.send_obj(200, {"routes": [
            {"namespace": k[0], "service": k[1], "port": k[2], "target": v.get("target"),
             "forbidden": v["forbidden"], "requests": v["requests"]} for k, v in sorted(routes.items())]})
    if method != "POST":
        raise ApiError(405, "MethodNotAllowed", "use POST, GET or DELETE on /_emulator/service-proxy")
    spec = json.loads(body or b"{}")
    for key in ("namespace", "service", "port"):
        if not spec.get(key):
            raise ApiError(400, "BadRequest", "service-proxy registration needs %s" % key)
    if not spec.get("target") and not spec.get("forbidden"):
        raise ApiError(400, "BadRequest", "service-proxy registration needs target HOST:PORT or forbidden: true")
    routes[(spec["namespace"], spec["service"], str(spec["port"]))] = {
        "target": spec.get("target"), "forbidden": bool(spec.get("forbidden")), "requests": 0}
    return handler.send_obj(200, {"ok": True})


def serve(handler, method, raw_path, query, body):
    """Forwards the request when it is for a registered Service; returns False otherwise."""
    m = _PATH.match(raw_path)
    if not m:
        return False
    ns, svc, port, rest = m.group(1), m.group(2), m.group(3) or "", m.group(4) or "/"
    route = of(handler.server).get((ns, svc, port))
    if route is None:
        return False
    if handler.server.store.get(("", "services"), ns, svc) is None:
        return False  # the emulator's own 404 for a missing Service
    route["requests"] += 1
    if route["forbidden"]:
        verb = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete"}.get(method, method.lower())
        raise ApiError(403, "Forbidden",
                       'services "%s" is forbidden: User "%s" cannot %s resource "services/proxy" in API group "" '
                       'in the namespace "%s"' % (svc, handler.user["name"], verb, ns),
                       {"name": svc, "kind": "services"})
    host, _, tport = route["target"].rpartition(":")
    conn = http.client.HTTPConnection(host, int(tport), timeout=10)
    try:
        headers = {}
        if handler.headers.get("Content-Type"):
            headers["Content-Type"] = handler.headers["Content-Type"]
        conn.request(method, rest + ("?" + query if query else ""), body=body or None, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
        ctype = resp.getheader("Content-Type") or "text/plain; charset=utf-8"
        status = resp.status
    except (OSError, http.client.HTTPException) as e:
        why = "connect: connection refused" if isinstance(e, ConnectionRefusedError) else str(e) or type(e).__name__
        raise ApiError(503, "ServiceUnavailable", "error trying to reach service: dial tcp %s: %s" % (
            route["target"], why))
    finally:
        conn.close()
    handler.send(status, payload, ctype)
    return True
