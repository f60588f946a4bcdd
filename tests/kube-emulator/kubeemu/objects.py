"""Defaulting and validation for the built-in kinds (a useful subset of the real rules)."""
import re

from .common import FieldError, get_path

DNS1123_SUB = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

MSG_SUB = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
           "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
           "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
MSG_LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
             "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
MSG_1035 = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
            "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
            "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
MSG_LABEL_VALUE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
                   "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
                   "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")

LABEL_NAME_KINDS = {"Namespace"}
DNS1035_KINDS = {"Service"}
PATH_SEGMENT_KINDS = set()


class GoRepr(str):
    """A value already rendered the Go way (go_value prints it as is)."""


def go_label_selector(sel):
    """v1.LabelSelector as kube-apiserver prints it in a field error (%#v)."""
    sel = sel if isinstance(sel, dict) else {}
    ml = sel.get("matchLabels")
    mls = "map[string]string(nil)" if ml is None else "map[string]string{" + ", ".join(
        '"%s":"%s"' % (k, v) for k, v in sorted(ml.items())) + "}"
    me = sel.get("matchExpressions")
    if not me:
        mes = "[]v1.LabelSelectorRequirement(nil)"
    else:
        mes = "[]v1.LabelSelectorRequirement{" + ", ".join(
            'v1.LabelSelectorRequirement{Key:"%s", Operator:"%s", Values:[]string{%s}}' % (
                r.get("key"), r.get("operator"), ", ".join('"%s"' % v for v in r.get("values") or []))
            for r in me) + "}"
    return "v1.LabelSelector{MatchLabels:%s, MatchExpressions:%s}" % (mls, mes)


def image_pull_policy(image):
    img = image or ""
    tag = ""
    last = img.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    if ":" in last:
        tag = last.rsplit(":", 1)[1]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def default_container(c):
    if "image" in c and "imagePullPolicy" not in c:
        c["imagePullPolicy"] = image_pull_policy(c.get("image"))
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for p in c.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        pr = c.get(probe)
        if isinstance(pr, dict):
            pr.setdefault("timeoutSeconds", 1)
            pr.setdefault("periodSeconds", 10)
            pr.setdefault("successThreshold", 1)
            pr.setdefault("failureThreshold", 3)


def default_pod_spec(spec):
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            if isinstance(c, dict):
                default_container(c)
    for v in spec.get("volumes") or []:
        if isinstance(v, dict):
            if "configMap" in v and isinstance(v["configMap"], dict):
                v["configMap"].setdefault("defaultMode", 420)
            if "secret" in v and isinstance(v["secret"], dict):
                v["secret"].setdefault("defaultMode", 420)
            if "hostPath" in v and isinstance(v["hostPath"], dict):
                v["hostPath"].setdefault("type", "")
            if "emptyDir" in v and v["emptyDir"] is None:
                v["emptyDir"] = {}


def _int_or_percent(v, default):
    return default if v is None else v


def apply_defaults(kind, obj):
    spec = obj.get("spec")
    if kind == "Pod":
        obj.setdefault("spec", {})
        default_pod_spec(obj["spec"])
        obj["spec"].setdefault("serviceAccountName", "default")
        obj["spec"].setdefault("serviceAccount", obj["spec"]["serviceAccountName"])
        obj["spec"].setdefault("enableServiceLinks", True)
        obj["spec"].setdefault("priority", 0)
        obj["spec"].setdefault("preemptionPolicy", "PreemptLowerPriority")
        obj["spec"].setdefault("tolerations", [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}])
    elif kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController"):
        if not isinstance(spec, dict):
            return
        tmpl = spec.get("template")
        if isinstance(tmpl, dict):
            tmpl.setdefault("metadata", {})
            if tmpl["metadata"] is None:
                tmpl["metadata"] = {}
            tmpl["metadata"].pop("creationTimestamp", None)
            default_pod_spec(tmpl.setdefault("spec", {}))
        if kind in ("Deployment", "ReplicaSet", "StatefulSet"):
            spec.setdefault("replicas", 1)
        if kind in ("Deployment", "StatefulSet", "DaemonSet"):
            spec.setdefault("revisionHistoryLimit", 10)
        if kind == "Deployment":
            st = spec.setdefault("strategy", {})
            st.setdefault("type", "RollingUpdate")
            if st["type"] == "RollingUpdate":
                ru = st.setdefault("rollingUpdate", {})
                ru.setdefault("maxUnavailable", "25%")
                ru.setdefault("maxSurge", "25%")
            spec.setdefault("progressDeadlineSeconds", 600)
        elif kind == "StatefulSet":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            us = spec.setdefault("updateStrategy", {})
            us.setdefault("type", "RollingUpdate")
            if us["type"] == "RollingUpdate":
                us.setdefault("rollingUpdate", {}).setdefault("partition", 0)
            spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
            for t in spec.get("volumeClaimTemplates") or []:
                if isinstance(t, dict):
                    t.setdefault("apiVersion", "v1")
                    t.setdefault("kind", "PersistentVolumeClaim")
                    ts = t.setdefault("spec", {})
                    ts.setdefault("volumeMode", "Filesystem")
                    t.setdefault("status", {"phase": "Pending"})
        elif kind == "DaemonSet":
            us = spec.setdefault("updateStrategy", {})
            us.setdefault("type", "RollingUpdate")
            if us["type"] == "RollingUpdate":
                ru = us.setdefault("rollingUpdate", {})
                ru.setdefault("maxUnavailable", 1)
                ru.setdefault("maxSurge", 0)
        elif kind == "Job":
            spec.setdefault("parallelism", 1)
            spec.setdefault("completions", 1)
            spec.setdefault("backoffLimit", 6)
            spec.setdefault("completionMode", "NonIndexed")
            spec.setdefault("suspend", False)
            spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    elif kind == "Service":
        if not isinstance(spec, dict):
            obj["spec"] = spec = {}
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                if "port" in p:
                    p.setdefault("targetPort", p["port"])
        spec.setdefault("internalTrafficPolicy", "Cluster")
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("ipFamilies", ["IPv4"])
    elif kind == "PersistentVolumeClaim":
        if isinstance(spec, dict):
            spec.setdefault("volumeMode", "Filesystem")
    elif kind == "PersistentVolume":
        if isinstance(spec, dict):
            spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
            spec.setdefault("volumeMode", "Filesystem")
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
        sd = obj.pop("stringData", None)
        if isinstance(sd, dict):
            import base64
            data = obj.setdefault("data", {}) or {}
            obj["data"] = data
            for k, v in sd.items():
                data[k] = base64.b64encode(str(v).encode()).decode()
    elif kind == "StorageClass":
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")
    elif kind == "Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
        md = obj.setdefault("metadata", {})
        lbl = md.get("labels") or {}
        lbl["kubernetes.io/metadata.name"] = md.get("name")
        md["labels"] = lbl
    elif kind == "CustomResourceDefinition":
        if isinstance(spec, dict):
            names = spec.setdefault("names", {})
            if isinstance(names, dict) and "kind" in names:
                names.setdefault("singular", names["kind"].lower())
                names.setdefault("listKind", names["kind"] + "List")
            spec.setdefault("conversion", {"strategy": "None"})


def validate_name(kind, name, generate_name=None):
    errs = []
    if not name:
        if not generate_name:
            errs.append(FieldError("metadata.name", "Required", None, "name or generateName is required"))
        return errs
    if kind in LABEL_NAME_KINDS:
        if not DNS1123_LABEL.match(name) or len(name) > 63:
            errs.append(FieldError("metadata.name", "Invalid", name, MSG_LABEL))
    elif kind in DNS1035_KINDS:
        if not DNS1035_LABEL.match(name) or len(name) > 63:
            errs.append(FieldError("metadata.name", "Invalid", name, MSG_1035))
    else:
        if not DNS1123_SUB.match(name) or len(name) > 253:
            errs.append(FieldError("metadata.name", "Invalid", name, MSG_SUB))
    return errs


def validate_labels(md, field="metadata.labels"):
    errs = []
    for k, v in (md or {}).items():
        if not isinstance(v, str):
            errs.append(FieldError("%s" % field, "Invalid", v, "label values must be strings"))
            continue
        if len(v) > 63 or not LABEL_VALUE.match(v):
            errs.append(FieldError("%s" % field, "Invalid", v, MSG_LABEL_VALUE))
        key = k.rsplit("/", 1)[-1]
        if not key or len(key) > 63 or not QUALIFIED.match(key):
            errs.append(FieldError(field, "Invalid", k,
                                   "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"))
    return errs


def validate_pod_spec(spec, path, kind=None):
    errs = []
    if not isinstance(spec, dict):
        return [FieldError(path, "Required")]
    containers = spec.get("containers")
    if not containers:
        errs.append(FieldError(path + ".containers", "Required"))
    names = set()
    for key in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(key) or []):
            p = "%s.%s[%d]" % (path, key, i)
            if not isinstance(c, dict):
                errs.append(FieldError(p, "Invalid", c, "must be an object"))
                continue
            n = c.get("name")
            if not n:
                errs.append(FieldError(p + ".name", "Required"))
            elif not DNS1123_LABEL.match(n) or len(n) > 63:
                errs.append(FieldError(p + ".name", "Invalid", n, MSG_LABEL))
            elif n in names:
                errs.append(FieldError(p + ".name", "Duplicate", n))
            else:
                names.add(n)
            if not c.get("image"):
                errs.append(FieldError(p + ".image", "Required"))
            for j, port in enumerate(c.get("ports") or []):
                cp = port.get("containerPort") if isinstance(port, dict) else None
                if cp is None:
                    errs.append(FieldError("%s.ports[%d].containerPort" % (p, j), "Required"))
                elif not isinstance(cp, int) or not 1 <= cp <= 65535:
                    errs.append(FieldError("%s.ports[%d].containerPort" % (p, j), "Invalid", cp,
                                           "must be between 1 and 65535, inclusive"))
                proto = port.get("protocol") if isinstance(port, dict) else None
                if proto not in (None, "TCP", "UDP", "SCTP"):
                    errs.append(FieldError("%s.ports[%d].protocol" % (p, j), "Unsupported", proto, '"SCTP", "TCP", "UDP"'))
            vnames = {v.get("name") for v in spec.get("volumes") or [] if isinstance(v, dict)}
            for j, vm in enumerate(c.get("volumeMounts") or []):
                if isinstance(vm, dict) and vm.get("name") not in vnames:
                    errs.append(FieldError("%s.volumeMounts[%d].name" % (p, j), "NotFound", vm.get("name"), ""))
            for j, e in enumerate(c.get("env") or []):
                if isinstance(e, dict) and not e.get("name"):
                    errs.append(FieldError("%s.env[%d].name" % (p, j), "Required"))
    vseen = set()
    for i, v in enumerate(spec.get("volumes") or []):
        if not isinstance(v, dict) or not v.get("name"):
            errs.append(FieldError("%s.volumes[%d].name" % (path, i), "Required"))
        elif v["name"] in vseen:
            errs.append(FieldError("%s.volumes[%d].name" % (path, i), "Duplicate", v["name"]))
        else:
            vseen.add(v["name"])
    rp = spec.get("restartPolicy")
    if rp is not None and rp not in ("Always", "OnFailure", "Never"):
        errs.append(FieldError(path + ".restartPolicy", "Unsupported", rp, '"Always", "OnFailure", "Never"'))
    return errs


def _nonneg(errs, spec, key, path):
    v = spec.get(key)
    if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
        errs.append(FieldError(path + "." + key, "Invalid", v, "must be greater than or equal to 0"))


def _int_or_pct(errs, v, path):
    if v is None:
        return
    if isinstance(v, int) and not isinstance(v, bool):
        if v < 0:
            errs.append(FieldError(path, "Invalid", v, "must be greater than or equal to 0"))
        return
    if isinstance(v, str) and re.match(r"^[0-9]+%$", v):
        if int(v[:-1]) > 100:
            errs.append(FieldError(path, "Invalid", v, "must not be greater than 100%"))
        return
    errs.append(FieldError(path, "Invalid", v, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"))


def validate(kind, obj, old=None):
    errs = []
    md = obj.get("metadata") or {}
    if old is None:
        errs += validate_name(kind, md.get("name"), md.get("generateName"))
    errs += validate_labels(md.get("labels"))
    spec = obj.get("spec")
    if kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
        if not isinstance(spec, dict):
            return errs + [FieldError("spec", "Required")]
        _nonneg(errs, spec, "replicas", "spec")
        sel = spec.get("selector")
        tmpl = spec.get("template") or {}
        tlabels = get_path(tmpl, "metadata", "labels") or {}
        if not sel:
            errs.append(FieldError("spec.selector", "Required"))
        elif not (sel.get("matchLabels") or sel.get("matchExpressions")):
            errs.append(FieldError("spec.selector", "Invalid", sel, "empty selector is invalid for deployment"))
        else:
            from .selectors import match_selector_obj
            if not match_selector_obj(sel, tlabels):
                errs.append(FieldError("spec.template.metadata.labels", "Invalid", tlabels,
                                       "`selector` does not match template `labels`"))
        errs += validate_labels(tlabels, "spec.template.metadata.labels")
        errs += validate_pod_spec(tmpl.get("spec"), "spec.template.spec")
        tps = tmpl.get("spec") or {}
        if isinstance(tps, dict) and tps.get("restartPolicy") not in (None, "Always"):
            errs.append(FieldError("spec.template.spec.restartPolicy", "Unsupported", tps.get("restartPolicy"), '"Always"'))
        if kind == "Deployment":
            st = spec.get("strategy") or {}
            if st.get("type") not in (None, "RollingUpdate", "Recreate"):
                errs.append(FieldError("spec.strategy.type", "Unsupported", st.get("type"), '"Recreate", "RollingUpdate"'))
            ru = st.get("rollingUpdate")
            if st.get("type") == "Recreate" and ru:
                errs.append(FieldError("spec.strategy.rollingUpdate", "Forbidden", None, "may not be specified when strategy `type` is 'Recreate'"))
            if isinstance(ru, dict):
                _int_or_pct(errs, ru.get("maxSurge"), "spec.strategy.rollingUpdate.maxSurge")
                _int_or_pct(errs, ru.get("maxUnavailable"), "spec.strategy.rollingUpdate.maxUnavailable")
                if ru.get("maxSurge") in (0, "0%") and ru.get("maxUnavailable") in (0, "0%"):
                    errs.append(FieldError("spec.strategy.rollingUpdate.maxUnavailable", "Invalid", ru.get("maxUnavailable"),
                                           "may not be 0 when `maxSurge` is 0"))
            pds = spec.get("progressDeadlineSeconds")
            if pds is not None and isinstance(pds, int) and pds <= (spec.get("minReadySeconds") or 0):
                errs.append(FieldError("spec.progressDeadlineSeconds", "Invalid", pds,
                                       "must be greater than minReadySeconds"))
        if old is not None and (old.get("spec") or {}).get("selector") != sel:
            errs.append(FieldError("spec.selector", "Invalid", GoRepr(go_label_selector(sel)), "field is immutable"))
    elif kind == "Job":
        if not isinstance(spec, dict):
            return errs + [FieldError("spec", "Required")]
        tmpl = spec.get("template") or {}
        errs += validate_pod_spec(tmpl.get("spec"), "spec.template.spec")
        rp = get_path(tmpl, "spec", "restartPolicy")
        if rp not in ("OnFailure", "Never"):
            errs.append(FieldError("spec.template.spec.restartPolicy", "Required" if rp is None else "Unsupported",
                                   rp, '"OnFailure", "Never"' if rp is not None else 'valid values: "OnFailure", "Never"'))
        for k in ("parallelism", "completions", "backoffLimit"):
            _nonneg(errs, spec, k, "spec")
        if old is not None and (old.get("spec") or {}).get("template") != tmpl:
            errs.append(FieldError("spec.template", "Invalid", None, "field is immutable"))
            errs[-1].value = "core.PodTemplateSpec{...}"
    elif kind == "Pod":
        errs += validate_pod_spec(spec, "spec")
        if old is not None:
            o = old.get("spec") or {}
            n = dict(spec or {})
            oc = [dict(c, image=None) for c in o.get("containers") or []]
            nc = [dict(c, image=None) for c in n.get("containers") or []]
            ignore = ("containers", "activeDeadlineSeconds", "tolerations", "nodeName")
            if oc != nc or {k: v for k, v in o.items() if k not in ignore} != {k: v for k, v in n.items() if k not in ignore}:
                errs.append(FieldError("spec", "Forbidden", None,
                                       "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"))
    elif kind == "Service":
        if not isinstance(spec, dict):
            spec = {}
        stype = spec.get("type", "ClusterIP")
        if stype not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
            errs.append(FieldError("spec.type", "Unsupported", stype, '"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'))
        ports = spec.get("ports") or []
        if not ports and stype != "ExternalName" and spec.get("clusterIP") != "None":
            errs.append(FieldError("spec.ports", "Required"))
        pnames = set()
        for i, p in enumerate(ports):
            if not isinstance(p, dict):
                continue
            pv = p.get("port")
            if pv is None:
                errs.append(FieldError("spec.ports[%d].port" % i, "Required"))
            elif not isinstance(pv, int) or not 1 <= pv <= 65535:
                errs.append(FieldError("spec.ports[%d].port" % i, "Invalid", pv, "must be between 1 and 65535, inclusive"))
            if len(ports) > 1 and not p.get("name"):
                errs.append(FieldError("spec.ports[%d].name" % i, "Required"))
            elif p.get("name") in pnames:
                errs.append(FieldError("spec.ports[%d].name" % i, "Duplicate", p.get("name")))
            pnames.add(p.get("name"))
            if p.get("protocol") not in (None, "TCP", "UDP", "SCTP"):
                errs.append(FieldError("spec.ports[%d].protocol" % i, "Unsupported", p.get("protocol"), '"SCTP", "TCP", "UDP"'))
        if old is not None:
            oip = (old.get("spec") or {}).get("clusterIP")
            nip = spec.get("clusterIP")
            if nip not in (None, "", oip):
                errs.append(FieldError("spec.clusterIPs[0]", "Invalid", nip, "may not change once set"))
    elif kind == "PersistentVolumeClaim":
        if not isinstance(spec, dict):
            return errs + [FieldError("spec", "Required")]
        if not spec.get("accessModes"):
            errs.append(FieldError("spec.accessModes", "Required"))
        if not get_path(spec, "resources", "requests", "storage") and not spec.get("volumeName"):
            errs.append(FieldError("spec.resources[storage]", "Required"))
        if old is not None:
            o = dict(old.get("spec") or {})
            n = dict(spec)
            for d in (o, n):
                d.pop("resources", None)
                if not n.get("volumeName") or not o.get("volumeName"):
                    d.pop("volumeName", None)
            if o != n:
                errs.append(FieldError("spec", "Forbidden", None,
                                       "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"))
    elif kind == "ConfigMap" or kind == "Secret":
        for k in list((obj.get("data") or {}).keys()) + list((obj.get("binaryData") or {}).keys()):
            if not re.match(r"^[-._a-zA-Z0-9]+$", k):
                errs.append(FieldError("data", "Invalid", k,
                                       "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"))
    elif kind == "CustomResourceDefinition":
        if not isinstance(spec, dict):
            return errs + [FieldError("spec", "Required")]
        group = spec.get("group")
        names = spec.get("names") or {}
        if not group:
            errs.append(FieldError("spec.group", "Required"))
        if not names.get("plural"):
            errs.append(FieldError("spec.names.plural", "Required"))
        if not names.get("kind"):
            errs.append(FieldError("spec.names.kind", "Required"))
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            errs.append(FieldError("spec.scope", "Unsupported", spec.get("scope"), '"Cluster", "Namespaced"'))
        if not spec.get("versions"):
            errs.append(FieldError("spec.versions", "Invalid", None, "must have exactly one version marked as storage version"))
        elif sum(1 for v in spec["versions"] if isinstance(v, dict) and v.get("storage")) != 1:
            errs.append(FieldError("spec.versions", "Invalid", None, "must have exactly one version marked as storage version"))
        if group and names.get("plural") and md.get("name") != "%s.%s" % (names["plural"], group):
            errs.append(FieldError("metadata.name", "Invalid", md.get("name"), "must be spec.names.plural+\".\"+spec.group"))
    return errs
