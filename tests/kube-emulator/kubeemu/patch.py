"""JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch."""
from .common import ApiError, deepcopy, dumps


def _patch_err(msg):
    return ApiError(400, "BadRequest", msg)


# ---------------------------------------------------------------- merge patch
def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    else:
        target = dict(target)
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target


# ----------------------------------------------------------------- json patch
def _unescape(tok):
    return tok.replace("~1", "/").replace("~0", "~")


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise _patch_err("invalid JSON pointer %r" % path)
    return [_unescape(t) for t in path[1:].split("/")]


def _resolve_parent(doc, toks, path):
    cur = doc
    for t in toks[:-1]:
        if isinstance(cur, dict):
            if t not in cur:
                raise _patch_err("the server rejected our request due to an error in our request: doc is missing path: \"%s\"" % path)
            cur = cur[t]
        elif isinstance(cur, list):
            try:
                cur = cur[int(t)]
            except (ValueError, IndexError):
                raise _patch_err("doc is missing path: \"%s\"" % path)
        else:
            raise _patch_err("doc is missing path: \"%s\"" % path)
    return cur


def _get(doc, path):
    toks = _pointer(path)
    if not toks:
        return doc
    parent = _resolve_parent(doc, toks, path)
    last = toks[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _patch_err("doc is missing key: %s" % path)
        return parent[last]
    if isinstance(parent, list):
        try:
            return parent[int(last)]
        except (ValueError, IndexError):
            raise _patch_err("doc is missing index: %s" % path)
    raise _patch_err("doc is missing path: %s" % path)


def _add(doc, path, value):
    toks = _pointer(path)
    if not toks:
        return value
    parent = _resolve_parent(doc, toks, path)
    last = toks[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            try:
                i = int(last)
            except ValueError:
                raise _patch_err("invalid index %r" % last)
            if i < 0 or i > len(parent):
                raise _patch_err("add operation does not apply: doc is missing path: \"%s\"" % path)
            parent.insert(i, value)
    else:
        raise _patch_err("add operation does not apply: doc is missing path: \"%s\"" % path)
    return doc


def _remove(doc, path):
    toks = _pointer(path)
    if not toks:
        raise _patch_err("cannot remove root")
    parent = _resolve_parent(doc, toks, path)
    last = toks[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _patch_err("remove operation does not apply: doc is missing path: \"%s\"" % path)
        return parent.pop(last)
    if isinstance(parent, list):
        try:
            return parent.pop(int(last))
        except (ValueError, IndexError):
            raise _patch_err("remove operation does not apply: doc is missing path: \"%s\"" % path)
    raise _patch_err("remove operation does not apply: doc is missing path: \"%s\"" % path)


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise _patch_err("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise _patch_err("invalid JSON patch operation %s" % dumps(op))
        kind = op["op"]
        path = op.get("path", "")
        if kind == "add":
            doc = _add(doc, path, deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            toks = _pointer(path)
            if not toks:
                doc = deepcopy(op.get("value"))
                continue
            _get(doc, path)
            parent = _resolve_parent(doc, toks, path)
            if isinstance(parent, dict):
                parent[toks[-1]] = deepcopy(op.get("value"))
            else:
                parent[int(toks[-1])] = deepcopy(op.get("value"))
        elif kind == "move":
            v = _remove(doc, op["from"])
            doc = _add(doc, path, v)
        elif kind == "copy":
            v = deepcopy(_get(doc, op["from"]))
            doc = _add(doc, path, v)
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise ApiError(422, "Invalid", "the server rejected our request due to an error in our request: testing value %s failed" % path)
        else:
            raise _patch_err("Unexpected kind: %s" % kind)
    return doc


# ------------------------------------------------------- strategic merge patch
SMP_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "hostAliases": "ip", "conditions": "type",
    "ownerReferences": "uid", "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
}
SMP_PRIMITIVE_MERGE = {"finalizers"}


def smp_merge_key(names):
    if not names:
        return None
    last = names[-1]
    if last == "ports":
        if len(names) >= 2 and names[-2] in ("containers", "initContainers", "ephemeralContainers"):
            return "containerPort"
        if names[:-1] == ("spec",):
            return "port"
        return None
    if last == "conditions" and names[0] != "status":
        return None
    return SMP_KEYS.get(last)


_DELETE = object()


def _strip(v):
    if isinstance(v, dict):
        return {k: _strip(x) for k, x in v.items()
                if not (k.startswith("$setElementOrder/") or k.startswith("$deleteFromPrimitiveList/") or k in ("$patch", "$retainKeys"))}
    if isinstance(v, list):
        return [_strip(x) for x in v]
    return v


def strategic_merge(orig, patch, names=()):
    if not isinstance(patch, dict):
        return deepcopy(patch)
    if not isinstance(orig, dict):
        orig = {}
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip(patch)
    if directive == "delete":
        return _DELETE
    result = dict(orig)
    orders = {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            f = k.split("/", 1)[1]
            if isinstance(result.get(f), list):
                result[f] = [x for x in result[f] if x not in (v or [])]
            continue
        if v is None:
            result.pop(k, None)
            continue
        sub = names + (k,)
        if isinstance(v, dict):
            r = strategic_merge(result.get(k), v, sub)
            if r is _DELETE:
                result.pop(k, None)
            else:
                result[k] = r
        elif isinstance(v, list):
            result[k] = _smp_list(result.get(k), v, sub)
        else:
            result[k] = v
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    for f, order in orders.items():
        if isinstance(result.get(f), list):
            result[f] = _apply_order(result[f], order, smp_merge_key(names + (f,)))
    return result


def _apply_order(items, order, key):
    def ident(x):
        if key and isinstance(x, dict):
            return dumps(x.get(key))
        return dumps(x)
    want = []
    for o in order or []:
        want.append(ident(o) if not (key and isinstance(o, dict)) else dumps(o.get(key)))
    pos = {w: i for i, w in enumerate(want)}
    indexed = list(enumerate(items))
    indexed.sort(key=lambda t: (pos.get(ident(t[1]), len(want) + t[0])))
    return [x for _, x in indexed]


def _smp_list(cur, patch, names):
    key = smp_merge_key(names)
    if key is None:
        if names[-1] in SMP_PRIMITIVE_MERGE and isinstance(cur, list):
            out = list(cur)
            for x in patch:
                if x not in out:
                    out.append(x)
            return out
        return _strip(patch)
    if any(isinstance(e, dict) and e.get("$patch") == "replace" for e in patch):
        return [_strip(e) for e in patch if not (isinstance(e, dict) and e.get("$patch") == "replace")]
    result = [deepcopy(e) for e in (cur if isinstance(cur, list) else [])]
    for e in patch:
        if not isinstance(e, dict):
            continue
        kv = e.get(key)
        idx = None
        for i, item in enumerate(result):
            if isinstance(item, dict) and item.get(key) == kv:
                idx = i
                break
        if e.get("$patch") == "delete":
            if idx is not None:
                result.pop(idx)
            continue
        if idx is not None:
            r = strategic_merge(result[idx], e, names)
            if r is _DELETE:
                result.pop(idx)
            else:
                result[idx] = r
        else:
            r = strategic_merge({}, e, names)
            if r is not _DELETE:
                result.append(_strip(r))
    return result
