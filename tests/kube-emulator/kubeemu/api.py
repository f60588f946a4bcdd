"""The write pipeline: create / update / patch / apply / delete, shared by HTTP and controllers."""
import json
import time

from . import objects, ssa
from .common import (ApiError, already_exists, bad_request, conflict, deepcopy, get_path, invalid,
                     new_uid, not_found, now_ts, rand_suffix)
from .patch import json_patch, merge_patch, strategic_merge
from .selectors import selector_to_string
from . import yamlmini
from . import schema

STATUS_RESET = {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "HorizontalPodAutoscaler",
                "PodDisruptionBudget", "Ingress", "CustomResourceDefinition", "ReplicationController", "ResourceQuota"}

PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": "apply-cbor",
}


_QSUFFIX = {"": 1, "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18,
            "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60, "m": 0.001}


def quantity(q):
    """A resource quantity ("1Gi", "500M", "2") as a number (0 when unparsable)."""
    import re as _re
    m = _re.match(r"^([0-9.]+)([a-zA-Z]*)$", str(q).strip())
    if not m or m.group(2) not in _QSUFFIX:
        return 0
    try:
        return float(m.group(1)) * _QSUFFIX[m.group(2)]
    except ValueError:
        return 0


def _strip_meta_for_gen(obj):
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _cmp_view(obj):
    """Object view for no-op detection: ignore resourceVersion and managedFields timestamps."""
    md = dict(obj.get("metadata") or {})
    md.pop("resourceVersion", None)
    mf = md.pop("managedFields", None)
    if mf:
        md["managedFields"] = [{k: v for k, v in e.items() if k != "time"} for e in mf]
    out = dict(obj)
    out["metadata"] = md
    return out


def check_fields(rt, obj, validation, warnings, apply=False, name=""):
    """Field validation of known built-in kinds: Strict rejects, Warn warns and drops, Ignore drops."""
    if rt.crd or validation is None:
        return
    unknown = schema.unknown_fields(rt.kind, obj, prune=(validation != "Strict"))
    if not unknown:
        return
    if validation == "Strict":
        if apply:
            ns = get_path(obj, "metadata", "namespace")
            raise bad_request("failed to create typed patch object (%s; %s, Kind=%s): %s" % (
                (ns + "/" if ns else "") + name, rt.api_version, rt.kind,
                "; ".join(".%s: field not declared in schema" % u for u in unknown)))
        raise bad_request('%s in version "%s" cannot be handled as a %s: strict decoding error: %s' % (
            rt.kind, rt.version, rt.kind, ", ".join('unknown field "%s"' % u for u in unknown)))
    if validation == "Warn" and warnings is not None:
        for u in unknown:
            warnings.append('unknown field "%s"' % u)


class Api:
    def __init__(self, store, registry, opts):
        self.store = store
        self.reg = registry
        self.opts = opts
        self.ip_next = 10
        self.used_ips = set()
        self.on_crd_change = None  # callback

    # ---------------------------------------------------------------- helpers
    def rt_for_obj(self, obj):
        return self.reg.gvk(obj.get("apiVersion", ""), obj.get("kind", ""))

    def alloc_cluster_ip(self):
        while True:
            n = self.ip_next
            self.ip_next += 1
            ip = "10.96.%d.%d" % ((n >> 8) & 0xFF, n & 0xFF)
            if n & 0xFF in (0, 255):
                continue
            if ip not in self.used_ips:
                self.used_ips.add(ip)
                return ip

    def namespace_check(self, rt, ns, creating=True, name=""):
        if not rt.namespaced:
            return
        nsobj = self.store.get(("", "namespaces"), None, ns)
        if nsobj is None:
            raise ApiError(404, "NotFound", 'namespaces "%s" not found' % ns,
                           {"name": ns, "kind": "namespaces"})
        if creating and nsobj["metadata"].get("deletionTimestamp"):
            raise ApiError(403, "Forbidden",
                           "%s \"%s\" is forbidden: unable to create new content in namespace %s because it is being terminated"
                           % (rt.plural, name, ns), {"name": name, "kind": rt.plural,
                                                   "causes": [{"reason": "NamespaceTerminating", "message": "namespace %s is being terminated" % ns, "field": "metadata.namespace"}]})

    def check_type(self, rt, obj, require=True):
        if not isinstance(obj, dict):
            raise bad_request("the body of the request was in an unknown format")
        av, kind = obj.get("apiVersion"), obj.get("kind")
        if require and not kind:
            raise bad_request("Object 'Kind' is missing in '%s'" % json.dumps(obj)[:200])
        if require and not av:
            raise bad_request("Object 'apiVersion' is missing in '%s'" % json.dumps(obj)[:200])
        if kind and kind != rt.kind:
            raise bad_request("the API version in the data (%s) does not match the expected API version (%s)" % (av, rt.api_version)
                              if av != rt.api_version else
                              "kind mismatch: expected %s, got %s" % (rt.kind, kind))
        if av and av != rt.api_version:
            # other versions of the same group are accepted for CRDs/multi-version groups
            g = av.split("/", 1)[0] if "/" in av else ""
            if g != rt.group:
                raise bad_request("the API version in the data (%s) does not match the expected API version (%s)" % (av, rt.api_version))

    # ----------------------------------------------------------------- create
    def create(self, rt, ns, body, manager=None, dry_run=False, internal=False, managed_fields=None,
               validation=None, warnings=None):
        with self.store.lock:
            obj = deepcopy(body)
            if not internal:
                self.check_type(rt, obj)
                check_fields(rt, obj, validation, warnings)
            obj["apiVersion"] = rt.api_version
            obj["kind"] = rt.kind
            md = obj.get("metadata")
            if not isinstance(md, dict):
                md = obj["metadata"] = {}
            if rt.namespaced:
                if md.get("namespace") and ns and md["namespace"] != ns:
                    raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
                ns = ns or md.get("namespace") or "default"
                md["namespace"] = ns
            else:
                md.pop("namespace", None)
                ns = None
            if not md.get("name") and md.get("generateName"):
                for _ in range(20):
                    cand = md["generateName"] + rand_suffix()
                    if self.store.get(rt.key, ns, cand) is None:
                        md["name"] = cand
                        break
            if md.get("resourceVersion") and not internal:
                raise bad_request("resourceVersion should not be set on objects to be created")
            for k in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp", "selfLink"):
                md.pop(k, None)
            if not internal:
                errs = objects.validate_name(rt.kind, md.get("name"), md.get("generateName"))
                if errs:
                    raise invalid(rt, md.get("name") or md.get("generateName") or "", errs)
                self.namespace_check(rt, ns, name=md.get("name") or "")
            name = md["name"]
            if self.store.get(rt.key, ns, name) is not None:
                raise already_exists(rt, name)
            md["uid"] = new_uid()
            md["creationTimestamp"] = now_ts()
            if rt.generation or rt.crd:
                md["generation"] = 1
            self._prepare_create(rt, obj)
            objects.apply_defaults(rt.kind, obj)
            if not internal:
                errs = objects.validate(rt.kind, obj)
                if errs:
                    raise invalid(rt, name, errs)
                if rt.kind == "CustomResourceDefinition":
                    self._crd_check(obj)
            if rt.kind == "PersistentVolumeClaim" and not internal:
                # StorageObjectInUseProtection admission (transcript 10)
                fins = md.setdefault("finalizers", [])
                if "kubernetes.io/pvc-protection" not in fins:
                    fins.append("kubernetes.io/pvc-protection")
            if managed_fields is not None:
                md["managedFields"] = managed_fields
            elif manager:
                md.pop("managedFields", None)
                ssa.record_update(None, obj, manager, rt.api_version, rt.kind)
            if dry_run:
                return obj
            if rt.kind == "Service":
                ip = get_path(obj, "spec", "clusterIP")
                if ip and ip != "None":
                    self.used_ips.add(ip)
            stored, _ = self.store.put(rt.key, obj, created=True)
            if rt.kind == "CustomResourceDefinition" and self.on_crd_change:
                self.on_crd_change(stored, False)
            return stored

    def _prepare_create(self, rt, obj):
        kind = rt.kind
        if kind in STATUS_RESET or (rt.crd and rt.status):
            obj["status"] = {}
        if kind == "Pod":
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif kind == "PersistentVolumeClaim":
            obj["status"] = {"phase": "Pending"}
            spec = obj.setdefault("spec", {})
            if "storageClassName" not in spec and not spec.get("volumeName"):
                dflt = self.default_storage_class()
                if dflt:
                    spec["storageClassName"] = dflt
        elif kind == "PersistentVolume":
            obj["status"] = {"phase": "Available"} if not get_path(obj, "spec", "claimRef") else {"phase": "Bound"}
        elif kind == "Namespace":
            obj["status"] = {"phase": "Active"}
        elif kind == "Service":
            spec = obj.setdefault("spec", {}) if isinstance(obj.get("spec"), dict) else obj.setdefault("spec", {})
            if spec.get("type") != "ExternalName":
                ip = spec.get("clusterIP")
                if not ip:
                    ip = self.alloc_cluster_ip()
                    spec["clusterIP"] = ip
                spec["clusterIPs"] = [ip]
            obj["status"] = {"loadBalancer": {}}
        elif kind == "Job":
            spec = obj.get("spec")
            if isinstance(spec, dict) and not spec.get("manualSelector"):
                uid = obj["metadata"]["uid"]
                tmpl = spec.setdefault("template", {})
                tmd = tmpl.setdefault("metadata", {}) or {}
                tmpl["metadata"] = tmd
                lbl = tmd.setdefault("labels", {}) or {}
                tmd["labels"] = lbl
                name = obj["metadata"].get("name")
                lbl.update({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
                            "controller-uid": uid, "job-name": name})
                spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        elif kind == "Event":
            obj.setdefault("count", 1)
            obj.setdefault("type", "Normal")

    def default_storage_class(self):
        for sc in self.store.objs(("storage.k8s.io", "storageclasses")):
            if (sc["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true":
                return sc["metadata"]["name"]
        return None

    def _crd_check(self, obj):
        spec = obj["spec"]
        group = spec["group"]
        for v in spec.get("versions") or []:
            other = self.reg.get(group, v.get("name"), spec["names"]["plural"])
            if other is not None and not other.crd:
                raise invalid(self.reg.storage("apiextensions.k8s.io", "customresourcedefinitions"),
                              obj["metadata"]["name"],
                              [objects.FieldError("spec.group", "Invalid", group, "conflicts with a built-in resource")])

    # ----------------------------------------------------------------- update
    def update(self, rt, ns, name, body, subresource=None, manager=None, dry_run=False, internal=False,
               managed_fields=None, check_rv=True, validation=None, warnings=None):
        with self.store.lock:
            old = self.store.get(rt.key, ns, name)
            if old is None:
                raise not_found(rt, name)
            obj = deepcopy(body)
            if not internal:
                self.check_type(rt, obj, require=False)
                check_fields(rt, obj, validation, warnings)
            md = obj.get("metadata")
            if not isinstance(md, dict):
                md = obj["metadata"] = {}
            if md.get("name") and md["name"] != name:
                raise bad_request("the name of the object (%s) does not match the name on the URL (%s)" % (md["name"], name))
            if rt.namespaced and md.get("namespace") and md["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            omd = old["metadata"]
            if check_rv and md.get("resourceVersion") and md["resourceVersion"] != omd["resourceVersion"]:
                raise conflict(rt, name)
            new = self._merge_for_update(rt, old, obj, subresource)
            return self._commit_update(rt, old, new, subresource, manager, dry_run, internal, managed_fields)

    def _merge_for_update(self, rt, old, obj, subresource):
        omd = old["metadata"]
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        if subresource == "status":
            new = deepcopy(old)
            new["status"] = obj.get("status", {})
            return new
        new = obj
        md = new["metadata"]
        for k in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "generation"):
            if k in omd:
                md[k] = omd[k]
            else:
                md.pop(k, None)
        if "managedFields" not in md and "managedFields" in omd:
            md["managedFields"] = omd["managedFields"]
        if rt.status or rt.kind in ("Namespace",):
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if rt.kind == "Service":
            spec = new.get("spec")
            if isinstance(spec, dict):
                ospec = old.get("spec") or {}
                if not spec.get("clusterIP") and ospec.get("clusterIP"):
                    spec["clusterIP"] = ospec["clusterIP"]
                if ospec.get("clusterIPs") and not spec.get("clusterIPs"):
                    spec["clusterIPs"] = ospec["clusterIPs"]
        if rt.kind == "Job":
            spec = new.get("spec")
            ospec = old.get("spec") or {}
            if isinstance(spec, dict) and not spec.get("selector") and ospec.get("selector"):
                spec["selector"] = ospec["selector"]
        if rt.kind == "PersistentVolumeClaim":
            spec = new.get("spec")
            ospec = old.get("spec") or {}
            if isinstance(spec, dict):
                if "storageClassName" not in spec and "storageClassName" in ospec:
                    spec["storageClassName"] = ospec["storageClassName"]
                if not spec.get("volumeName") and ospec.get("volumeName"):
                    spec["volumeName"] = ospec["volumeName"]
        return new

    def _pvc_resize_admission(self, rt, old, new):
        """PersistentVolumeClaimResize admission: a bound claim may grow only when its
        StorageClass exists and sets allowVolumeExpansion (transcript 10)."""
        if rt.kind != "PersistentVolumeClaim" or not get_path(old, "spec", "volumeName"):
            return
        was = get_path(old, "spec", "resources", "requests", "storage")
        now = get_path(new, "spec", "resources", "requests", "storage")
        if now is None or was is None or quantity(now) <= quantity(was):
            return
        sc = self.store.get(("storage.k8s.io", "storageclasses"), None, get_path(old, "spec", "storageClassName") or "")
        if sc is None or not sc.get("allowVolumeExpansion"):
            name = old["metadata"]["name"]
            raise ApiError(403, "Forbidden", '%s "%s" is forbidden: only dynamically provisioned pvc can be resized and '
                           "the storageclass that provisions the pvc must support resize" % (rt.plural, name),
                           {"name": name, "kind": rt.plural})

    def _commit_update(self, rt, old, new, subresource, manager, dry_run, internal, managed_fields):
        name = old["metadata"]["name"]
        if not internal and subresource is None:
            self._pvc_resize_admission(rt, old, new)
        objects.apply_defaults(rt.kind, new)
        if not internal and subresource is None:
            errs = objects.validate(rt.kind, new, old)
            if errs:
                raise invalid(rt, name, errs)
        md = new["metadata"]
        if (rt.generation or rt.crd) and subresource is None:
            gen = old["metadata"].get("generation", 1)
            if _strip_meta_for_gen(new) != _strip_meta_for_gen(old):
                gen += 1
            md["generation"] = gen
        if managed_fields is not None:
            md["managedFields"] = managed_fields
        elif manager and not internal:
            req = md.get("managedFields")
            omf = old["metadata"].get("managedFields")
            if req is not None and req != omf and req != []:
                base = [] if req == [{}] else req
                if not isinstance(base, list) or not all(isinstance(e, dict) and e.get("manager") for e in base):
                    raise invalid(rt, name, [objects.FieldError("metadata.managedFields", "Invalid", None,
                                                                "every entry needs a manager")])
                ssa.record_update(old, new, manager, rt.api_version, rt.kind, subresource, base_mf=base)
            else:
                ssa.record_update(old, new, manager, rt.api_version, rt.kind, subresource)
        md["resourceVersion"] = old["metadata"]["resourceVersion"]
        if _cmp_view(new) == _cmp_view(old):
            return old
        if dry_run:
            return new
        # finalizer-driven deletion completes when the last finalizer is removed
        if md.get("deletionTimestamp") and not md.get("finalizers"):
            self.store.put(rt.key, new)
            return self._remove(rt, old["metadata"].get("namespace"), name) or new
        stored, _ = self.store.put(rt.key, new)
        if rt.kind == "CustomResourceDefinition" and self.on_crd_change:
            self.on_crd_change(stored, False)
        return stored

    # ------------------------------------------------------------------ scale
    def scale_view(self, rt, obj):
        spec = obj.get("spec") or {}
        st = obj.get("status") or {}
        sel = spec.get("selector")
        md = obj["metadata"]
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": md["name"], "namespace": md.get("namespace"), "uid": md.get("uid"),
                             "resourceVersion": md.get("resourceVersion"), "creationTimestamp": md.get("creationTimestamp")},
                "spec": {"replicas": spec.get("replicas", 0)},
                "status": {"replicas": st.get("replicas", 0),
                           "selector": selector_to_string(sel) if isinstance(sel, dict) else ""}}

    def update_scale(self, rt, ns, name, scale, manager=None, dry_run=False):
        with self.store.lock:
            old = self.store.get(rt.key, ns, name)
            if old is None:
                raise not_found(rt, name)
            rv = get_path(scale, "metadata", "resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise conflict(rt, name)
            replicas = get_path(scale, "spec", "replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise invalid(rt, name, [objects.FieldError("spec.replicas", "Invalid", replicas, "must be greater than or equal to 0")])
            new = deepcopy(old)
            new["spec"]["replicas"] = replicas
            res = self._commit_update(rt, old, new, None, manager, dry_run, False, None)
            return self.scale_view(rt, res)

    # ------------------------------------------------------------------ patch
    def patch(self, rt, ns, name, ctype, raw, subresource=None, manager=None, dry_run=False, force=False,
              validation=None, warnings=None):
        ptype = PATCH_TYPES.get(ctype)
        if ptype is None or ptype == "apply-cbor":
            # the route's Consumes check (go-restful) answers before the patch handler
            raise ApiError(415, "UnsupportedMediaType", "415: Unsupported Media Type", {})
        if ptype == "strategic" and rt.crd:
            raise ApiError(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted media types include: "
                           "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
        if ptype == "apply":
            return self.apply(rt, ns, name, raw, subresource, manager, dry_run, force, validation, warnings)
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            # kube-apiserver 1.19 answers a patch body that is not JSON with a 500 (transcript 09)
            raise ApiError(500, "", "Invalid JSON Patch")
        with self.store.lock:
            old = self.store.get(rt.key, ns, name)
            if old is None:
                raise not_found(rt, name)
            if subresource == "scale":
                base = self.scale_view(rt, old)
            else:
                base = old
            if ptype == "merge":
                if not isinstance(body, dict):
                    raise bad_request("error decoding patch: merge patch must be a JSON object")
                patched = merge_patch(base, body)
            elif ptype == "json":
                patched = json_patch(base, body)
            else:
                if not isinstance(body, dict):
                    raise bad_request("error decoding patch: strategic merge patch must be a JSON object")
                patched = strategic_merge(deepcopy(base), body)
            if not isinstance(patched, dict):
                raise bad_request("patch produced an invalid object")
            if subresource is None:
                check_fields(rt, patched, validation, warnings)
            if subresource == "scale":
                return self.update_scale(rt, ns, name, patched, manager, dry_run), False
            rv = get_path(patched, "metadata", "resourceVersion")
            if rv is not None and rv != old["metadata"]["resourceVersion"]:
                raise conflict(rt, name)
            patched.setdefault("metadata", {})
            if subresource == "status":
                new = deepcopy(old)
                new["status"] = patched.get("status", {})
            else:
                new = self._merge_for_update(rt, old, patched, None)
            return self._commit_update(rt, old, new, subresource, manager, dry_run, False, None), False

    def parse_apply_body(self, raw):
        text = (raw or b"").decode("utf-8", "replace")
        s = text.lstrip()
        if s.startswith("{"):
            try:
                return json.loads(s)
            except ValueError:
                pass
        try:
            return yamlmini.load(text)
        except yamlmini.YAMLError as e:
            raise bad_request("error decoding YAML: %s" % e)

    def apply(self, rt, ns, name, raw, subresource=None, manager=None, dry_run=False, force=False,
              validation=None, warnings=None):
        if not manager:
            raise ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                           'is required for apply patch',
                           {"group": "meta.k8s.io", "kind": "PatchOptions",
                            "causes": [{"reason": "FieldValueRequired", "message": "Required value: is required for apply patch",
                                        "field": "fieldManager"}]})
        body = self.parse_apply_body(raw)
        if not isinstance(body, dict):
            raise bad_request("error decoding YAML: the body is not an object")
        missing = ssa.missing_protocol(body, rt.kind)
        if missing:
            # kube-apiserver 1.19 cannot build the typed patch: ports are keyed by
            # (port, protocol) and it does not default the key first (transcript 09)
            raise ApiError(500, "", "failed to create typed patch object: %s: element %d: associative list with "
                           'keys has an element that omits key field "protocol"' % missing)
        self.check_type(rt, body, require=True)
        md = body.get("metadata") or {}
        if md.get("managedFields"):
            raise bad_request("metadata.managedFields must be nil")
        if md.get("name") and md["name"] != name:
            raise bad_request("the name of the object (%s) does not match the name on the URL (%s)" % (md["name"], name))
        if rt.namespaced and md.get("namespace") and md["namespace"] != ns:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        body = deepcopy(body)
        if subresource is None:
            check_fields(rt, body, validation, warnings, apply=True, name=name)
        bmd = body.setdefault("metadata", {})
        bmd["name"] = name
        if rt.namespaced:
            bmd["namespace"] = ns
        else:
            bmd.pop("namespace", None)
        want_rv = bmd.pop("resourceVersion", None)
        for k in ("uid", "creationTimestamp", "generation", "managedFields"):
            bmd.pop(k, None)
        with self.store.lock:
            old = self.store.get(rt.key, ns, name)
            if old is None:
                if subresource:
                    raise not_found(rt, name)
                new, mf = ssa.apply(None, body, manager, rt.api_version, rt.kind, force)
                new.setdefault("metadata", {})["name"] = name
                created = self.create(rt, ns, new, manager=None, dry_run=dry_run, managed_fields=mf)
                return created, True
            if want_rv and want_rv != old["metadata"]["resourceVersion"]:
                raise conflict(rt, name)
            new, mf = ssa.apply(old, body, manager, rt.api_version, rt.kind, force, subresource)
            if subresource == "status":
                merged = deepcopy(old)
                merged["status"] = new.get("status", {})
                new = merged
            else:
                new = self._merge_for_update(rt, old, new, None)
            return self._commit_update(rt, old, new, subresource, manager, dry_run, False, mf), False

    # ----------------------------------------------------------------- delete
    def _remove(self, rt, ns, name):
        final = self.store.remove(rt.key, ns, name)
        if final is not None and rt.kind == "CustomResourceDefinition" and self.on_crd_change:
            self.on_crd_change(final, True)
        if final is not None and rt.kind == "Service":
            ip = get_path(final, "spec", "clusterIP")
            self.used_ips.discard(ip)
        return final

    def delete(self, rt, ns, name, propagation=None, dry_run=False, preconditions=None, internal=False,
               grace=None):
        with self.store.lock:
            old = self.store.get(rt.key, ns, name)
            if old is None:
                raise not_found(rt, name)
            md = old["metadata"]
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != md.get("uid"):
                raise conflict(rt, name, "Precondition failed: UID in precondition: %s, UID in object meta: %s" % (pre["uid"], md.get("uid")))
            if pre.get("resourceVersion") and pre["resourceVersion"] != md.get("resourceVersion"):
                raise conflict(rt, name, "Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s" % (pre["resourceVersion"], md.get("resourceVersion")))
            status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                      "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": md.get("uid")}}
            if dry_run:
                return status
            uid = md.get("uid")
            if rt.kind == "Namespace":
                if md.get("deletionTimestamp"):
                    return old
                new = deepcopy(old)
                new["metadata"]["deletionTimestamp"] = now_ts()
                new.setdefault("status", {})["phase"] = "Terminating"
                stored, _ = self.store.put(rt.key, new)
                return stored
            if propagation == "Orphan":
                for child in self.store.children_of(uid):
                    crt = self.rt_for_obj(child)
                    if crt is None:
                        continue
                    c = deepcopy(child)
                    c["metadata"]["ownerReferences"] = [r for r in c["metadata"].get("ownerReferences") or []
                                                        if r.get("uid") != uid]
                    if not c["metadata"]["ownerReferences"]:
                        del c["metadata"]["ownerReferences"]
                    self.store.put(crt.key, c)
            elif propagation == "Foreground" and self.store.children_of(uid) and not internal:
                # like kube-apiserver: the object stays, with the foregroundDeletion finalizer,
                # until the garbage collector has deleted its dependents (controllers.sync_gc)
                if md.get("deletionTimestamp"):
                    return old
                new = deepcopy(old)
                nmd = new["metadata"]
                nmd["deletionTimestamp"] = now_ts()
                nmd["deletionGracePeriodSeconds"] = 0
                nmd["finalizers"] = list(nmd.get("finalizers") or []) + ["foregroundDeletion"]
                if rt.generation or rt.crd:
                    nmd["generation"] = nmd.get("generation", 1) + 1
                stored, _ = self.store.put(rt.key, new)
                return stored
            elif propagation == "Foreground":
                for child in self.store.children_of(uid):
                    crt = self.rt_for_obj(child)
                    if crt is None:
                        continue
                    try:
                        self.delete(crt, child["metadata"].get("namespace"), child["metadata"]["name"], "Foreground",
                                    internal=True)
                    except ApiError:
                        pass
            if rt.kind == "Pod" and not internal and grace is None:
                grace = get_path(old, "spec", "terminationGracePeriodSeconds")
                grace = 30 if grace is None else grace
            if rt.kind == "Pod" and grace and get_path(old, "spec", "nodeName") and \
                    get_path(old, "status", "phase") not in ("Succeeded", "Failed"):
                # graceful: the pod stays Terminating until its kubelet has stopped it
                if md.get("deletionTimestamp"):
                    return old
                new = deepcopy(old)
                new["metadata"]["deletionTimestamp"] = now_ts(time.time() + grace)
                new["metadata"]["deletionGracePeriodSeconds"] = grace
                stored, _ = self.store.put(rt.key, new)
                return stored
            if md.get("finalizers"):
                if md.get("deletionTimestamp"):
                    return old
                new = deepcopy(old)
                new["metadata"]["deletionTimestamp"] = now_ts()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                stored, _ = self.store.put(rt.key, new)
                return stored
            self._remove(rt, ns, name)
            return status
