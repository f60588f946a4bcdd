"""Simulated container output. The emulator runs no containers; its kubelet invents a log
line or two. A test that needs a particular program's output (the ROS 2 graph check Job's
JSON line, say) registers it for a container name in a namespace:

    POST /_emulator/pod-logs {"namespace": "ns", "container": "ros-graph-check",
                              "lines": ["RIGELK8S_ROS_GRAPH {...}"]}
    DELETE /_emulator/pod-logs                      # forget them all

Every pod of that namespace with a container of that name then logs those lines (after
the emulator's "started" line) once the container has run; a crash-looping container
logs them between its "starting" line and its "fatal: simulated crash" line, in its
current and its previous instance. Tests that rely on this must say that the output is
simulated.

pods/log also takes follow=true (a chunked text stream that stays open while the
container runs and ends when the pod is deleted or replaced, or the container stops or
restarts), sinceSeconds (lines of the last N seconds; the emulator's lines carry the
container's start time) and tailLines. With --log-tick SECONDS every running container
also logs "[emulator] NAME tick N" every SECONDS from its start (in plain reads too).
Test hooks in the image name: "log-huge-line" logs a 64 MiB line of 'x' after its first
line; "log-cut" breaks the log off after its start lines with "this line is cut off
mid-" (no newline) and drops the connection there (no final chunk). That line has the
container's start time, so a reader that asks again with a sinceSeconds past it gets the
tick lines after it, without the cut."""
import json

from .common import ApiError, server_registry

def _registry(server):
    return server_registry(server, "_simulated_logs")


def admin(handler, method, body):
    reg = _registry(handler.server)
    if method == "DELETE":
        reg.clear()
        return handler.send_obj(200, {"ok": True})
    if method != "POST":
        raise ApiError(405, "MethodNotAllowed", "use POST or DELETE on /_emulator/pod-logs")
    spec = json.loads(body or b"{}")
    if not spec.get("namespace") or not spec.get("container") or not isinstance(spec.get("lines"), list):
        raise ApiError(400, "BadRequest", "pod-logs registration needs namespace, container and lines (a list)")
    reg[(spec["namespace"], spec["container"])] = [str(l) for l in spec["lines"]]
    return handler.send_obj(200, {"ok": True})


def lines(server, namespace, container, default):
    """The simulated lines for this container, or default."""
    sim = _registry(server).get((namespace, container))
    if sim is None:
        return default
    return default[:1] + sim
