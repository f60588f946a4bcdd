"""Server-side Table output (meta.k8s.io/v1 Table) for `kubectl get`, mirroring the real printers."""
import time

from .common import get_path, parse_ts

TABLE_CT = "application/json;as=Table;v=v1;g=meta.k8s.io"


def human_duration(seconds):
    d = int(seconds)
    if d < -1:
        return "<invalid>"
    if d < 0:
        d = 0
    if d < 120:
        return "%ds" % d
    m = d // 60
    if m < 10:
        s = d % 60
        return "%dm%ds" % (m, s) if s else "%dm" % m
    if m < 180:
        return "%dm" % m
    h = d // 3600
    if h < 8:
        mm = (d % 3600) // 60
        return "%dh%dm" % (h, mm) if mm else "%dh" % h
    if h < 48:
        return "%dh" % h
    if h < 24 * 8:
        hh = h % 24
        return "%dd%dh" % (h // 24, hh) if hh else "%dd" % (h // 24)
    if h < 24 * 365 * 2:
        return "%dd" % (h // 24)
    if h < 24 * 365 * 8:
        dd = (h // 24) % 365
        return "%dy%dd" % (h // 24 // 365, dd) if dd else "%dy" % (h // 24 // 365)
    return "%dy" % (h // 24 // 365)


def age(obj, now=None):
    ts = get_path(obj, "metadata", "creationTimestamp")
    if not ts:
        return "<unknown>"
    return human_duration((now or time.time()) - parse_ts(ts))


def col(name, typ="string", fmt="", priority=0, desc=""):
    return {"name": name, "type": typ, "format": fmt, "description": desc or name, "priority": priority}


NAME = col("Name", fmt="name", desc="Name must be unique within a namespace.")
AGE = col("Age", desc="CreationTimestamp is a timestamp representing the server time when this object was created.")


def pod_status(p):
    st = p.get("status") or {}
    reason = st.get("phase") or "Unknown"
    if st.get("reason"):
        reason = st["reason"]
    for cs in st.get("initContainerStatuses") or []:
        state = cs.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason") not in (None, "PodInitializing"):
            return "Init:" + state["waiting"]["reason"]
    waiting = None
    for cs in st.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            waiting = state["waiting"]["reason"]
        elif "terminated" in state and state["terminated"].get("reason"):
            reason = state["terminated"]["reason"]
    if waiting:
        reason = waiting
    if p["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _ports(svc):
    out = []
    for p in get_path(svc, "spec", "ports") or []:
        s = "%s/%s" % (p.get("port"), p.get("protocol", "TCP"))
        if p.get("nodePort"):
            s = "%s:%s/%s" % (p.get("port"), p["nodePort"], p.get("protocol", "TCP"))
        out.append(s)
    return ",".join(out) or "<none>"


def _containers(tmpl_spec):
    cs = (tmpl_spec or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _sel(sel):
    from .selectors import selector_to_string
    return selector_to_string(sel) if sel else "<none>"


def row(kind, o, now):
    st = o.get("status") or {}
    sp = o.get("spec") or {}
    n = o["metadata"]["name"]
    if kind == "Pod":
        cs = st.get("containerStatuses") or []
        total = len(sp.get("containers") or [])
        rdy = sum(1 for c in cs if c.get("ready"))
        restarts = sum(c.get("restartCount", 0) for c in cs)
        return [n, "%d/%d" % (rdy, total), pod_status(o), str(restarts), age(o, now),
                st.get("podIP") or "<none>", sp.get("nodeName") or "<none>", "<none>", "<none>"]
    if kind == "Deployment":
        c, i = _containers(get_path(sp, "template", "spec"))
        return [n, "%d/%d" % (st.get("readyReplicas", 0), sp.get("replicas", 0)), st.get("updatedReplicas", 0),
                st.get("availableReplicas", 0), age(o, now), c, i, _sel(sp.get("selector"))]
    if kind == "ReplicaSet":
        c, i = _containers(get_path(sp, "template", "spec"))
        return [n, sp.get("replicas", 0), st.get("replicas", 0), st.get("readyReplicas", 0), age(o, now), c, i,
                _sel(sp.get("selector"))]
    if kind == "StatefulSet":
        c, i = _containers(get_path(sp, "template", "spec"))
        return [n, "%d/%d" % (st.get("readyReplicas", 0), sp.get("replicas", 0)), age(o, now), c, i]
    if kind == "DaemonSet":
        c, i = _containers(get_path(sp, "template", "spec"))
        ns = get_path(sp, "template", "spec", "nodeSelector")
        return [n, st.get("desiredNumberScheduled", 0), st.get("currentNumberScheduled", 0), st.get("numberReady", 0),
                st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0),
                ",".join("%s=%s" % kv for kv in sorted(ns.items())) if ns else "<none>", age(o, now), c, i, _sel(sp.get("selector"))]
    if kind == "Job":
        conds = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
        status = "Complete" if conds.get("Complete") == "True" else "Failed" if conds.get("Failed") == "True" else "Running"
        dur = ""
        if st.get("startTime"):
            end = parse_ts(st["completionTime"]) if st.get("completionTime") else now
            dur = human_duration(end - parse_ts(st["startTime"]))
        c, i = _containers(get_path(sp, "template", "spec"))
        return [n, status, "%d/%d" % (st.get("succeeded", 0), sp.get("completions", 1) or 1), dur, age(o, now), c, i,
                _sel(sp.get("selector"))]
    if kind == "Service":
        ext = ",".join(sp.get("externalIPs") or []) or ("<pending>" if sp.get("type") == "LoadBalancer" else "<none>")
        return [n, sp.get("type", "ClusterIP"), sp.get("clusterIP") or "<none>", ext, _ports(o), age(o, now),
                ",".join("%s=%s" % kv for kv in sorted((sp.get("selector") or {}).items())) or "<none>"]
    if kind == "PersistentVolumeClaim":
        return [n, st.get("phase", "Pending"), sp.get("volumeName", ""), (st.get("capacity") or {}).get("storage", ""),
                ",".join(_am(x) for x in st.get("accessModes") or []), sp.get("storageClassName") or "<unset>",
                "<unset>", age(o, now), sp.get("volumeMode", "Filesystem")]
    if kind == "PersistentVolume":
        cr = sp.get("claimRef") or {}
        return [n, (sp.get("capacity") or {}).get("storage", ""), ",".join(_am(x) for x in sp.get("accessModes") or []),
                sp.get("persistentVolumeReclaimPolicy", ""), st.get("phase", ""),
                "%s/%s" % (cr.get("namespace"), cr.get("name")) if cr else "", sp.get("storageClassName", ""),
                "<unset>", st.get("reason", ""), age(o, now), sp.get("volumeMode", "Filesystem")]
    if kind == "Node":
        ready = "Unknown"
        for c in st.get("conditions") or []:
            if c.get("type") == "Ready":
                ready = "Ready" if c.get("status") == "True" else "NotReady"
        roles = sorted(k.split("/", 1)[1] for k in (o["metadata"].get("labels") or {})
                       if k.startswith("node-role.kubernetes.io/")) or ["<none>"]
        ip = next((a.get("address") for a in st.get("addresses") or [] if a.get("type") == "InternalIP"), "<none>")
        info = st.get("nodeInfo") or {}
        return [n, ready, ",".join(roles), age(o, now), info.get("kubeletVersion", ""), ip, "<none>",
                info.get("osImage", ""), info.get("kernelVersion", ""), info.get("containerRuntimeVersion", "")]
    if kind == "Namespace":
        return [n, st.get("phase", "Active"), age(o, now)]
    if kind == "ConfigMap":
        return [n, len(o.get("data") or {}) + len(o.get("binaryData") or {}), age(o, now)]
    if kind == "Secret":
        return [n, o.get("type", "Opaque"), len(o.get("data") or {}), age(o, now)]
    if kind == "Endpoints":
        addrs = []
        for s in o.get("subsets") or []:
            for a in s.get("addresses") or []:
                for p in s.get("ports") or [{}]:
                    addrs.append("%s:%s" % (a.get("ip"), p.get("port")) if p else a.get("ip"))
        shown = ",".join(addrs[:3]) + (" + %d more..." % (len(addrs) - 3) if len(addrs) > 3 else "")
        return [n, shown or "<none>", age(o, now)]
    if kind == "Event":
        io = o.get("involvedObject") or {}
        last = o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
        return [human_duration(now - parse_ts(last)) if last else "<unknown>", o.get("type", ""), o.get("reason", ""),
                "%s/%s" % ((io.get("kind") or "").lower(), io.get("name", "")), o.get("message", "")]
    if kind == "StorageClass":
        ann = o["metadata"].get("annotations") or {}
        name = n + (" (default)" if ann.get("storageclass.kubernetes.io/is-default-class") == "true" else "")
        return [name, o.get("provisioner", ""), o.get("reclaimPolicy", "Delete"), o.get("volumeBindingMode", "Immediate"),
                bool(o.get("allowVolumeExpansion", False)), age(o, now)]
    if kind == "CustomResourceDefinition":
        return [n, o["metadata"].get("creationTimestamp", "")]
    return [n, age(o, now)]


def _am(m):
    return {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}.get(m, m)


def columns(kind):
    wide = lambda *names: [col(x, priority=1) for x in names]
    if kind == "Pod":
        return [NAME, col("Ready"), col("Status"), col("Restarts"), AGE] + wide("IP", "Node", "Nominated Node", "Readiness Gates")
    if kind == "Deployment":
        return [NAME, col("Ready"), col("Up-to-date", "integer"), col("Available", "integer"), AGE] + wide("Containers", "Images", "Selector")
    if kind == "ReplicaSet":
        return [NAME, col("Desired", "integer"), col("Current", "integer"), col("Ready", "integer"), AGE] + wide("Containers", "Images", "Selector")
    if kind == "StatefulSet":
        return [NAME, col("Ready"), AGE] + wide("Containers", "Images")
    if kind == "DaemonSet":
        return [NAME, col("Desired", "integer"), col("Current", "integer"), col("Ready", "integer"),
                col("Up-to-date", "integer"), col("Available", "integer"), col("Node Selector"), AGE] + wide("Containers", "Images", "Selector")
    if kind == "Job":
        return [NAME, col("Status"), col("Completions"), col("Duration"), AGE] + wide("Containers", "Images", "Selector")
    if kind == "Service":
        return [NAME, col("Type"), col("Cluster-IP"), col("External-IP"), col("Port(s)"), AGE] + wide("Selector")
    if kind == "PersistentVolumeClaim":
        return [NAME, col("Status"), col("Volume"), col("Capacity"), col("Access Modes"), col("StorageClass"),
                col("VolumeAttributesClass"), AGE] + wide("VolumeMode")
    if kind == "PersistentVolume":
        return [NAME, col("Capacity"), col("Access Modes"), col("Reclaim Policy"), col("Status"), col("Claim"),
                col("StorageClass"), col("VolumeAttributesClass"), col("Reason"), AGE] + wide("VolumeMode")
    if kind == "Node":
        return [NAME, col("Status"), col("Roles"), AGE, col("Version")] + wide("Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime")
    if kind == "Namespace":
        return [NAME, col("Status"), AGE]
    if kind == "ConfigMap":
        return [NAME, col("Data", "integer"), AGE]
    if kind == "Secret":
        return [NAME, col("Type"), col("Data", "integer"), AGE]
    if kind == "Endpoints":
        return [NAME, col("Endpoints"), AGE]
    if kind == "Event":
        return [col("Last Seen"), col("Type"), col("Reason"), col("Object"), col("Message")]
    if kind == "StorageClass":
        return [NAME, col("Provisioner"), col("ReclaimPolicy"), col("VolumeBindingMode"), col("AllowVolumeExpansion", "boolean"), AGE]
    if kind == "CustomResourceDefinition":
        return [NAME, col("Created At", fmt="date-time")]
    return [NAME, AGE]


def wants_table(accept):
    return "as=Table" in (accept or "")


def table(kind, objs, rv, include="Metadata", meta=None):
    now = time.time()
    rows = []
    for o in objs:
        r = {"cells": row(kind, o, now)}
        if include == "Object":
            r["object"] = o
        elif include != "None":
            r["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}
        rows.append(r)
    md = {"resourceVersion": str(rv)}
    if meta:
        md.update(meta)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": md, "columnDefinitions": columns(kind), "rows": rows}
