"""A minimal pods/exec for `kubectl cp` out of a pod (the pod side is simulated).

The emulator runs no containers, so an exec cannot run anything. What `kubectl cp
POD:PATH DEST` sends is `tar cf - PATH`; this module answers exactly that, with a tar
stream built from files a test registered for the pod:

    POST /_emulator/exec-files
    {"namespace": "ns", "pod": "name or name prefix", "container": "c" (optional),
     "files": {"/root/results/out.txt": "text", ...}}
    GET  /_emulator/exec-files   -> the registrations

Transport: the WebSocket protocol `v5.channel.k8s.io` (or v4), which kubectl 1.32 tries
first (GET with Upgrade: websocket). Stdout is channel 1, stderr 2, and the final Status
goes on channel 3. SPDY is not implemented: a request without a WebSocket upgrade gets
400 with a message saying so. Any other command gets a Failure Status with exit code 126.
"""
import base64
import hashlib
import io
import json
import re
import struct
import time
import tarfile
import threading
import urllib.parse

EXEC_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/exec$")
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
POD = ("", "pods")

_lock = threading.Lock()
_files = []  # [{"namespace", "pod", "container", "files": {path: bytes}}]


class ExecError(Exception):
    def __init__(self, code, reason, message):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def admin(method, body):
    """The /_emulator/exec-files endpoint: returns (status code, JSON-able answer)."""
    if method == "GET":
        with _lock:
            return 200, [{"namespace": r["namespace"], "pod": r["pod"], "container": r["container"],
                          "files": sorted(r["files"])} for r in _files]
    if method == "DELETE":
        with _lock:
            _files.clear()
        return 200, {"ok": True}
    spec = json.loads(body or b"{}")
    if not isinstance(spec, dict) or not spec.get("namespace") or not spec.get("pod") \
            or not isinstance(spec.get("files"), dict):
        raise ValueError('expected {"namespace", "pod", "files": {path: content}}')
    files = {}
    for path, content in spec["files"].items():
        if not path.startswith("/"):
            raise ValueError("file paths are absolute: %r" % path)
        files[path.rstrip("/")] = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    with _lock:
        _files.append({"namespace": spec["namespace"], "pod": spec["pod"],
                       "container": spec.get("container"), "files": files})
    return 200, {"ok": True, "registered": sorted(files)}


def _files_for(ns, pod, container):
    out = {}
    with _lock:
        for r in _files:
            if r["namespace"] == ns and pod.startswith(r["pod"]) and r["container"] in (None, container):
                out.update(r["files"])
    return out


def _tar_of(files, path):
    """GNU tar's answer to `tar cf - path`: members named without the leading '/'."""
    path = path.rstrip("/") or "/"
    chosen = {p: data for p, data in files.items() if p == path or p.startswith(path + "/")}
    if not chosen:
        return None
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        dirs = set()
        for p in sorted(chosen):
            parts = p.strip("/").split("/")
            top = path.strip("/").split("/")
            # The directories from the requested path down to the file, as tar lists them.
            for i in range(len(top), len(parts)):
                d = "/".join(parts[:i])
                if d and d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
            info = tarfile.TarInfo("/".join(parts))
            info.size, info.mode = len(chosen[p]), 0o644
            tar.addfile(info, io.BytesIO(chosen[p]))
    return buf.getvalue()


# ---------------------------------------------------------------- WebSocket framing

def _frame(opcode, payload):
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 1 << 16:
        head += bytes([126]) + struct.pack(">H", n)
    else:
        head += bytes([127]) + struct.pack(">Q", n)
    return head + payload


def _read_frame(rfile):
    """One client frame: (opcode, payload), or (None, b"") at end of stream."""
    head = rfile.read(2)
    if len(head) < 2:
        return None, b""
    opcode, n = head[0] & 0x0F, head[1] & 0x7F
    if n == 126:
        n = struct.unpack(">H", rfile.read(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", rfile.read(8))[0]
    mask = rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
    data = rfile.read(n)
    return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def serve(handler, method, path):
    """Handles GET/POST .../pods/NAME/exec on the handler's connection."""
    m = EXEC_PATH.match(path)
    ns, name = m.group(1), m.group(2)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query)
    command = query.get("command", [])
    pod = handler.server.store.get(POD, ns, name)
    if pod is None:
        raise ExecError(404, "NotFound", 'pods "%s" not found' % name)
    containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    container = (query.get("container") or [None])[0] or (containers[0] if containers else None)
    if container not in containers:
        raise ExecError(400, "BadRequest", "container %s is not valid for pod %s" % (container, name))
    if (pod.get("status") or {}).get("phase") != "Running":
        raise ExecError(400, "BadRequest", "cannot exec into a container in a completed pod; current phase is %s"
                        % (pod.get("status") or {}).get("phase"))
    upgrade = (handler.headers.get("Upgrade") or "").lower()
    if upgrade != "websocket":
        raise ExecError(400, "BadRequest", "the emulator's exec speaks only WebSocket (v5/v4.channel.k8s.io); "
                        "SPDY (%s) is not implemented" % (handler.headers.get("Upgrade") or "no upgrade"))
    offered = [p.strip() for p in (handler.headers.get("Sec-WebSocket-Protocol") or "").split(",")]
    proto = next((p for p in PROTOCOLS if p in offered), None)
    if proto is None:
        raise ExecError(400, "BadRequest", "no supported subprotocol among %s (want one of %s)"
                        % (offered, ", ".join(PROTOCOLS)))
    key = handler.headers.get("Sec-WebSocket-Key") or ""
    accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
    handler.close_connection = True
    handler.wfile.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: %s\r\n\r\n" % (accept, proto))
                        .encode("latin-1"))
    send = lambda channel, data: handler.wfile.write(_frame(2, bytes([channel]) + data))  # noqa: E731
    handler.wfile.flush()
    # kubectl (client-go's websocket executor) starts reading frames before it has registered
    # its streams, and drops frames for streams it does not know yet ("Unknown stream id 1,
    # discarding message", then "closed all streams"). A real kubelet's first bytes come after
    # the container process started; answering at once raced with that on a loaded machine.
    time.sleep(0.5)
    send(1, b"")  # the API server's "streams are ready" message on the lowest channel
    stdout, stderr, code = b"", b"", 0
    if len(command) == 4 and command[:3] == ["tar", "cf", "-"]:
        data = _tar_of(_files_for(ns, name, container), command[3])
        if data is None:
            stderr = ("tar: %s: Cannot stat: No such file or directory\n"
                      "tar: Exiting with failure status due to previous errors\n" % command[3]).encode()
            code = 2
        else:
            stdout = data
    else:
        stderr = ("emulator: exec runs only `tar cf - PATH` (what kubectl cp sends), not %s\n"
                  % " ".join(command)).encode()
        code = 126
    for i in range(0, len(stdout), 32 * 1024):
        send(1, stdout[i:i + 32 * 1024])
    if stderr:
        send(2, stderr)
    if code == 0:
        status = {"metadata": {}, "status": "Success"}
    else:
        status = {"metadata": {}, "status": "Failure",
                  "message": "command terminated with non-zero exit code: exit status %d" % code,
                  "reason": "NonZeroExitCode",
                  "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
    send(3, json.dumps(status).encode())
    handler.wfile.write(_frame(8, struct.pack(">H", 1000)))
    handler.wfile.flush()
    # Drain until the client closes (answering pings), so it reads everything first.
    handler.connection.settimeout(5)
    try:
        while True:
            opcode, payload = _read_frame(handler.rfile)
            if opcode is None or opcode == 8:
                break
            if opcode == 9:
                handler.wfile.write(_frame(10, payload))
    except OSError:
        pass
