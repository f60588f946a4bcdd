"""Shared helpers: time formats, JSON, Status errors, names."""
import json
import random
import threading
import time
import uuid

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_loads = json.loads


def dumps(obj):
    return _dumps(obj)


def dumpb(obj):
    return _dumps(obj).encode("utf-8")


def loads(data):
    return _loads(data)


def deepcopy(obj):
    """Fast deep copy for JSON-like data."""
    t = type(obj)
    if t is dict:
        return {k: deepcopy(v) for k, v in obj.items()}
    if t is list:
        return [deepcopy(v) for v in obj]
    return obj


def now_ts(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def parse_ts(s):
    import calendar
    if not s:
        return 0.0
    try:
        return float(calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return 0.0


def new_uid():
    return str(uuid.uuid4())


ALNUM = "bcdfghjklmnpqrstvwxz2456789"


def rand_suffix(n=5):
    return "".join(random.choice(ALNUM) for _ in range(n))


def safe_encode(s):
    return "".join(ALNUM[ord(c) % len(ALNUM)] for c in s)


def fnv32a(data):
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def hash_obj(obj, collision=0):
    raw = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    h = fnv32a(raw)
    if collision:
        h = fnv32a(raw + str(collision).encode())
    return safe_encode(str(h))


class ApiError(Exception):
    """An error that becomes a Kubernetes Status object."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": self.message}
        if self.reason:
            st["reason"] = self.reason
        if self.details is not None:
            # Go's omitempty: an empty group (the core group) is not serialised
            d = {k: v for k, v in self.details.items() if not (k == "group" and not v)}
            if d or self.details == {}:
                st["details"] = d
        st["code"] = self.code
        return st


def qualified(rt):
    return rt.plural + ("." + rt.group if rt.group else "")


def not_found(rt, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (qualified(rt), name),
                    {"name": name, "group": rt.group, "kind": rt.plural})


def already_exists(rt, name):
    return ApiError(409, "AlreadyExists", '%s "%s" already exists' % (qualified(rt), name),
                    {"name": name, "group": rt.group, "kind": rt.plural})


def conflict(rt, name, msg="the object has been modified; please apply your changes to the latest version and try again"):
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s' % (qualified(rt), name, msg),
                    {"name": name, "group": rt.group, "kind": rt.plural})


def bad_request(msg):
    return ApiError(400, "BadRequest", msg)


def go_value(v):
    """Render a value roughly the way Go's %#v / %v does in field errors."""
    if type(v).__name__ == "GoRepr":
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, dict):
        if all(isinstance(x, str) for x in v.values()):
            return "map[string]string{" + ", ".join("%s:%s" % (json.dumps(k), json.dumps(x)) for k, x in sorted(v.items())) + "}"
        return json.dumps(v, sort_keys=True)
    return str(v)


class FieldError:
    __slots__ = ("field", "kind", "value", "detail")

    def __init__(self, field, kind, value=None, detail=""):
        self.field, self.kind, self.value, self.detail = field, kind, value, detail

    def cause(self):
        if self.kind == "Required":
            msg = "Required value" + (": " + self.detail if self.detail else "")
            reason = "FieldValueRequired"
        elif self.kind == "Invalid":
            msg = "Invalid value: %s: %s" % (go_value(self.value), self.detail)
            reason = "FieldValueInvalid"
        elif self.kind == "Duplicate":
            msg = "Duplicate value: %s" % go_value(self.value)
            reason = "FieldValueDuplicate"
        elif self.kind == "Unsupported":
            msg = "Unsupported value: %s: supported values: %s" % (go_value(self.value), self.detail)
            reason = "FieldValueNotSupported"
        elif self.kind == "NotFound":
            msg = "Not found: %s" % go_value(self.value)
            reason = "FieldValueNotFound"
        elif self.kind == "Forbidden":
            msg = "Forbidden: %s" % self.detail
            reason = "FieldValueForbidden"
        else:
            msg = self.detail
            reason = "FieldValueInvalid"
        return {"reason": reason, "message": msg, "field": self.field}


def invalid(rt, name, errs):
    causes = [e.cause() for e in errs]
    parts = ["%s: %s" % (c["field"], c["message"]) for c in causes]
    body = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    kind_q = rt.kind + ("." + rt.group if rt.group else "")
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (kind_q, name, body),
                    {"name": name, "group": rt.group, "kind": rt.kind, "causes": causes})


def get_path(obj, *keys, default=None):
    cur = obj
    for k in keys:
        if isinstance(cur, dict):
            cur = cur.get(k)
        else:
            return default
        if cur is None:
            return default
    return cur


_registry_lock = threading.Lock()


def server_registry(server, name):
    """A dict kept on one emulator server under attribute name (created on first use):
    the test hooks' registrations (simulated logs, service-proxy routes)."""
    with _registry_lock:
        reg = getattr(server, name, None)
        if reg is None:
            reg = {}
            setattr(server, name, reg)
        return reg
