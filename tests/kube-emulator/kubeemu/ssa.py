"""Server-side apply: field sets (FieldsV1), ownership, conflicts, apply merge.

Simplified structured-merge-diff: field sets are sets of paths; a path is a tuple of
path elements 'f:<field>', 'k:<json key>', 'v:<json value>'. Leaves are scalars, atomic
lists and atomic structs; associative lists are keyed by the keys below.
"""
import json

from .common import ApiError, deepcopy, now_ts

LIST_MAP_KEYS = {
    "containers": ("name",), "initContainers": ("name",), "ephemeralContainers": ("name",),
    "env": ("name",), "volumes": ("name",), "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",), "imagePullSecrets": ("name",), "hostAliases": ("ip",),
    "ownerReferences": ("uid",), "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
    "resourceClaims": ("name",),
    "podIPs": ("ip",), "hostIPs": ("ip",),
}
SET_LISTS = {"finalizers"}
# kube-apiserver 1.19 tracks LabelSelector fields one by one (f:selector/f:matchLabels/f:app),
# see the transcripts; only these selectors stay atomic here.
ATOMIC_SELECTOR_KINDS = set()
# Maps and lists an Update owns as a whole ("." in fieldsV1) when it creates them
# (transcripts: f:data, f:annotations, f:conditions, f:podIPs, f:capacity of Update entries).
OWNED_WHEN_CREATED = {"data", "stringData", "binaryData", "labels", "annotations", "conditions",
                      "podIPs", "capacity", "allocatable", "requests", "limits", "nodeSelector",
                      "matchLabels", "finalizers", "ownerReferences"}
IGNORED_TOP = {"apiVersion", "kind"}
IGNORED_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}
DEFAULTS_FOR_KEYS = {"protocol": "TCP"}


def list_keys(names, kind):
    last = names[-1]
    if last == "ports":
        if len(names) >= 2 and names[-2] in ("containers", "initContainers", "ephemeralContainers"):
            return ("containerPort", "protocol")
        if names[:-1] == ("spec",) and kind == "Service":
            return ("port", "protocol")
        return None
    if last == "conditions" and names[0] == "status":
        return ("type",)
    return LIST_MAP_KEYS.get(last)


def is_atomic_map(names, kind):
    if names in (("spec", "selector"),) and kind in ATOMIC_SELECTOR_KINDS:
        return True
    last = names[-1] if names else ""
    if last in ("labelSelector", "namespaceSelector", "podSelector"):
        return True
    return False


def key_pe(item, keys):
    kv = {}
    for k in keys:
        if k in item:
            kv[k] = item[k]
        elif k in DEFAULTS_FOR_KEYS:
            kv[k] = DEFAULTS_FOR_KEYS[k]
    return "k:" + json.dumps(kv, sort_keys=True, separators=(",", ":"))


class FieldSet:
    """leaves: path -> value ; members: set of all owned paths (leaves + list items)."""

    def __init__(self):
        self.leaves = {}
        self.items = set()

    def paths(self):
        return set(self.leaves) | self.items


def compute(obj, kind, skip_status=False, skip_spec=False):
    fs = FieldSet()

    def walk(v, path, names):
        if isinstance(v, dict) and v and not (names and is_atomic_map(names, kind)):
            for k, x in v.items():
                walk(x, path + ("f:" + k,), names + (k,))
            return
        if isinstance(v, list) and v and names:
            keys = list_keys(names, kind)
            if keys and all(isinstance(i, dict) for i in v):
                for item in v:
                    pe = key_pe(item, keys)
                    ipath = path + (pe,)
                    fs.items.add(ipath)
                    for k, x in item.items():
                        walk(x, ipath + ("f:" + k,), names + (k,))
                return
            if names[-1] in SET_LISTS and all(not isinstance(i, (dict, list)) for i in v):
                for item in v:
                    fs.leaves[path + ("v:" + json.dumps(item),)] = True
                return
        fs.leaves[path] = v

    for k, v in obj.items():
        if k in IGNORED_TOP:
            continue
        if k == "metadata":
            if isinstance(v, dict):
                for mk, mv in v.items():
                    if mk in IGNORED_META:
                        continue
                    walk(mv, ("f:metadata", "f:" + mk), ("metadata", mk))
            continue
        if k == "status" and skip_status:
            continue
        if k != "status" and skip_spec:
            continue
        walk(v, ("f:" + k,), (k,))
    return fs


def to_fieldsv1(paths):
    root = {}
    for p in sorted(paths, key=len):
        node = root
        for pe in p:
            node = node.setdefault(pe, {})
    # mark members that have children with "."
    pset = set(paths)

    def mark(node, prefix):
        for pe, child in list(node.items()):
            if pe == ".":
                continue
            cp = prefix + (pe,)
            if child and cp in pset:
                child["."] = {}
            mark(child, cp)
    mark(root, ())
    return root


def from_fieldsv1(fv):
    out = set()

    def walk(node, prefix):
        if not node:
            if prefix:
                out.add(prefix)
            return
        for pe, child in node.items():
            if pe == ".":
                out.add(prefix)
                continue
            walk(child, prefix + (pe,))
    walk(fv or {}, ())
    return out


def _pe_match(item, pe):
    kv = json.loads(pe[2:])
    for k, v in kv.items():
        iv = item.get(k, DEFAULTS_FOR_KEYS.get(k))
        if iv != v:
            return False
    return True


_MISSING = object()


def lookup(obj, path):
    cur = obj
    for pe in path:
        if pe.startswith("f:"):
            if not isinstance(cur, dict) or pe[2:] not in cur:
                return _MISSING
            cur = cur[pe[2:]]
        elif pe.startswith("k:"):
            if not isinstance(cur, list):
                return _MISSING
            for item in cur:
                if isinstance(item, dict) and _pe_match(item, pe):
                    cur = item
                    break
            else:
                return _MISSING
        elif pe.startswith("v:"):
            if not isinstance(cur, list) or json.loads(pe[2:]) not in cur:
                return _MISSING
            return True
        else:
            return _MISSING
    return cur


def remove_path(obj, path):
    cur = obj
    for pe in path[:-1]:
        nxt = lookup(cur, (pe,))
        if nxt is _MISSING:
            return
        cur = nxt
    last = path[-1]
    if last.startswith("f:") and isinstance(cur, dict):
        cur.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(cur, list):
        cur[:] = [i for i in cur if not (isinstance(i, dict) and _pe_match(i, last))]
    elif last.startswith("v:") and isinstance(cur, list):
        v = json.loads(last[2:])
        cur[:] = [i for i in cur if i != v]


def prune_empty(obj, path):
    """After a removal, drop the maps/lists left empty on the way up (a real server does
    not keep an empty env list or labels map the applier no longer sets)."""
    while len(path) > 1:
        v = lookup(obj, path)
        if v is _MISSING or not isinstance(v, (dict, list)) or v:
            return
        remove_path(obj, path)
        path = path[:-1]


def missing_protocol(obj, kind):
    """(path, index) of the first ports item without protocol in an applied object, or None."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    if kind == "Service":
        for i, p in enumerate(spec.get("ports") or []):
            if isinstance(p, dict) and "protocol" not in p:
                return ".spec.ports", i
    pod_specs = [(".spec", spec)]
    tspec = (spec.get("template") or {}).get("spec") if isinstance(spec.get("template"), dict) else None
    if isinstance(tspec, dict):
        pod_specs.append((".spec.template.spec", tspec))
    jt = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") if isinstance(spec.get("jobTemplate"), dict) else None
    if isinstance(jt, dict) and isinstance(jt.get("spec"), dict):
        pod_specs.append((".spec.jobTemplate.spec.template.spec", jt["spec"]))
    for prefix, ps in pod_specs:
        for field in ("initContainers", "containers"):
            for c in ps.get(field) or []:
                if not isinstance(c, dict):
                    continue
                for i, p in enumerate(c.get("ports") or []):
                    if isinstance(p, dict) and "protocol" not in p:
                        return '%s.%s[name="%s"].ports' % (prefix, field, c.get("name")), i
    return None


def path_str(path):
    out = []
    for pe in path:
        if pe.startswith("f:"):
            out.append("." + pe[2:])
        elif pe.startswith("k:"):
            kv = json.loads(pe[2:])
            out.append("[" + ",".join("%s=%s" % (k, json.dumps(v)) for k, v in sorted(kv.items())) + "]")
        elif pe.startswith("v:"):
            out.append("[=%s]" % pe[2:])
    return "".join(out)


def apply_merge(live, applied, names, kind):
    if isinstance(applied, dict) and isinstance(live, dict) and not (names and is_atomic_map(names, kind)):
        out = live
        for k, v in applied.items():
            if v is None:
                out.pop(k, None)
            elif k in out:
                out[k] = apply_merge(out[k], v, names + (k,), kind)
            else:
                out[k] = deepcopy(v)
        return out
    if isinstance(applied, list) and isinstance(live, list) and names:
        keys = list_keys(names, kind)
        if keys and all(isinstance(i, dict) for i in applied) and all(isinstance(i, dict) for i in live):
            out = live
            for item in applied:
                pe = key_pe(item, keys)
                for i, li in enumerate(out):
                    if _pe_match(li, pe):
                        out[i] = apply_merge(li, item, names, kind)
                        break
                else:
                    out.append(deepcopy(item))
            return out
        if names[-1] in SET_LISTS:
            out = list(live)
            for x in applied:
                if x not in out:
                    out.append(x)
            return out
    return deepcopy(applied)


class Managers:
    """Wraps metadata.managedFields as a list of entries with parsed path sets."""

    def __init__(self, mf):
        self.entries = []
        for e in mf or []:
            if not isinstance(e, dict):
                continue
            self.entries.append([dict(e), from_fieldsv1(e.get("fieldsV1"))])

    def find(self, manager, op, subresource=None):
        for e in self.entries:
            m = e[0]
            if m.get("manager") == manager and m.get("operation") == op and m.get("subresource") == subresource:
                return e
        return None

    def set(self, manager, op, api_version, paths, subresource=None, stamp=True):
        e = self.find(manager, op, subresource)
        if e is None:
            meta = {"manager": manager, "operation": op, "apiVersion": api_version}
            e = [meta, set()]
            self.entries.append(e)
        e[0]["apiVersion"] = api_version
        if stamp or "time" not in e[0]:
            e[0]["time"] = now_ts()
        e[1] = set(paths)
        return e

    def dump(self):
        """Entries as the real server orders them: Apply before Update, then by time
        (1 s resolution), then by manager name; entries that own nothing are dropped."""
        out = []
        for meta, paths in sorted(self.entries, key=lambda e: (
                e[0].get("operation") != "Apply", e[0].get("time") or "", e[0].get("manager") or "",
                e[0].get("subresource") or "")):
            if not paths:
                continue
            m = {"manager": meta.get("manager"), "operation": meta.get("operation"),
                 "apiVersion": meta.get("apiVersion"), "time": meta.get("time") or now_ts(),
                 "fieldsType": "FieldsV1", "fieldsV1": to_fieldsv1(paths)}
            if meta.get("subresource"):
                m["subresource"] = meta["subresource"]
            out.append(m)
        return out


def _sub(subresource):
    return subresource or None


_OLD = object()


def record_update(old, new, manager, api_version, kind, subresource=None, base_mf=_OLD, whole=False):
    """Update-operation ownership tracking. Mutates new['metadata']['managedFields'].

    base_mf: managedFields to start from (a client may rewrite them, e.g. kubectl's
    client-side-apply -> server-side-apply upgrade); default: the old object's.
    whole: track the object and its status together (a controller writing both, as
    kube-apiserver 1.19 shows them: one entry without a subresource)."""
    skip_status = subresource is None and kind_has_status(kind) and not whole
    skip_spec = subresource == "status"
    nf = compute(new, kind, skip_status=skip_status, skip_spec=skip_spec)
    if base_mf is _OLD:
        base_mf = (old or {}).get("metadata", {}).get("managedFields") if old else None
    mgrs = Managers(base_mf)
    if old is None:
        changed = nf.paths()
        removed = set()
    else:
        of = compute(old, kind, skip_status=skip_status, skip_spec=skip_spec)
        changed = {p for p, v in nf.leaves.items() if of.leaves.get(p, _MISSING) != v}
        changed |= nf.items - of.items
        removed = of.paths() - nf.paths()
    changed |= created_nodes(old, new, skip_status, skip_spec)
    if not changed and not removed:
        dumped = mgrs.dump()
        if dumped:
            new["metadata"]["managedFields"] = dumped
        else:
            new["metadata"].pop("managedFields", None)
        return
    for e in mgrs.entries:
        e[1] -= changed
        e[1] -= removed
        # drop paths below removed list items
        if removed:
            e[1] = {p for p in e[1] if not any(p[:len(r)] == r for r in removed)}
    e = mgrs.find(manager, "Update", _sub(subresource))
    paths = (e[1] if e else set()) | changed
    # (a list item is owned as a whole only when the update created it: transcript 06,
    # where an undo patch changing one image owns just .image)
    mgrs.set(manager, "Update", api_version, paths, _sub(subresource))
    new["metadata"]["managedFields"] = mgrs.dump()


def created_nodes(old, new, skip_status, skip_spec):
    """Paths of maps/lists (named in OWNED_WHEN_CREATED) that new has and old had not."""
    out = set()

    def walk(v, path, name):
        if isinstance(v, dict):
            if v and name in OWNED_WHEN_CREATED and (old is None or lookup(old, path) is _MISSING):
                out.add(path)
            if name in OWNED_WHEN_CREATED and name != "conditions":
                return
            for k, x in v.items():
                walk(x, path + ("f:" + k,), k)
        elif isinstance(v, list) and v and name in OWNED_WHEN_CREATED:
            if old is None or lookup(old, path) is _MISSING:
                out.add(path)
    for k, v in new.items():
        if k in IGNORED_TOP or (k == "status" and skip_status) or (k not in ("status", "metadata") and skip_spec):
            continue
        if k == "metadata":
            for mk in ("labels", "annotations", "finalizers", "ownerReferences"):
                if mk in (v or {}):
                    walk(v[mk], ("f:metadata", "f:" + mk), mk)
            continue
        walk(v, ("f:" + k,), k)
    return out


_KINDS_WITH_STATUS = set()


def kind_has_status(kind):
    return kind in _KINDS_WITH_STATUS


def apply(live, applied, manager, api_version, kind, force, subresource=None):
    """Returns (new_object, managedFields). Raises 409 on conflicts."""
    skip_status = subresource is None and kind_has_status(kind)
    skip_spec = subresource == "status"
    applied = deepcopy(applied)
    if skip_status:
        applied.pop("status", None)
    af = compute(applied, kind, skip_status=skip_status, skip_spec=skip_spec)
    apaths = af.paths()
    mgrs = Managers(live.get("metadata", {}).get("managedFields") if live else None)
    conflicts = []
    if live is not None:
        for e in mgrs.entries:
            meta, paths = e
            # every entry but this manager's own Apply entry (same name, operation Update,
            # is a different owner on a real server)
            if meta.get("manager") == manager and meta.get("operation") == "Apply" and \
                    meta.get("subresource") == _sub(subresource):
                continue
            for p, v in af.leaves.items():
                if p in paths:
                    lv = lookup(live, p)
                    if lv is _MISSING or lv != v:
                        conflicts.append((e, p))
    if conflicts and not force:
        causes = []
        by_mgr = {}
        for e, p in conflicts:
            meta = e[0]
            name = meta.get("manager")
            label = '"%s"' % name
            if meta.get("operation") == "Update":
                label += " using " + (meta.get("apiVersion") or "")
            causes.append({"reason": "FieldManagerConflict", "message": "conflict with %s" % label,
                           "field": path_str(p)})
            by_mgr.setdefault(label, []).append(path_str(p))
        if len(conflicts) == 1:
            msg = "Apply failed with 1 conflict: %s: %s" % (causes[0]["message"], causes[0]["field"])
        else:
            parts = []
            for label, fields in by_mgr.items():
                if len(fields) == 1:
                    parts.append("conflict with %s: %s" % (label, fields[0]))
                else:
                    parts.append("conflicts with %s:\n%s" % (label, "\n".join("- " + f for f in fields)))
            msg = "Apply failed with %d conflicts: %s" % (len(conflicts), "\n".join(parts))
        raise ApiError(409, "Conflict", msg, {"causes": causes})
    for e, p in conflicts:
        e[1].discard(p)
    # removal of fields this manager no longer applies
    new = deepcopy(live) if live is not None else {}
    mine = mgrs.find(manager, "Apply", _sub(subresource))
    if mine is not None:
        others = set()
        for e in mgrs.entries:
            if e is not mine:
                others |= e[1]
        gone = mine[1] - apaths
        removed = []
        for p in sorted(gone, key=len):
            if any(p[:len(r)] == r for r in removed):
                continue  # inside an item or map already removed whole
            if p in others or any(o[:len(p)] == p for o in others):
                continue  # another manager owns it or part of it: keep it
            if p[-1].startswith("k:") and any(a[:len(p)] == p for a in apaths):
                continue
            remove_path(new, p)
            removed.append(p)
            prune_empty(new, p[:-1])
    top = {k: v for k, v in applied.items() if k not in ("apiVersion", "kind")}
    new = apply_merge(new, top, (), kind)
    if "apiVersion" in applied:
        new["apiVersion"] = applied["apiVersion"]
    if "kind" in applied:
        new["kind"] = applied["kind"]
    prev = mine[1] if mine else None
    unchanged = prev is not None and prev == apaths
    mgrs.set(manager, "Apply", api_version, apaths, _sub(subresource), stamp=not unchanged)
    return new, mgrs.dump()
