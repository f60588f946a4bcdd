"""Simulated control plane: deployment/replicaset/statefulset/daemonset/job controllers,
scheduler, kubelet, endpoints, PVC binder, namespace lifecycle and garbage collector.

Everything runs on one background thread, driven by store change hooks and timers. Each
reconcile holds the store lock, so it never races with API writes.
"""
import collections
import heapq
import itertools
import math
import sys
import threading
import time
import traceback

from . import ssa
from .common import ApiError, deepcopy, get_path, hash_obj, now_ts, parse_ts, rand_suffix
from .selectors import match_reqs

POD = ("", "pods")
NODE = ("", "nodes")
SVC = ("", "services")
EP = ("", "endpoints")
PVC = ("", "persistentvolumeclaims")
PV = ("", "persistentvolumes")
NS = ("", "namespaces")
SA = ("", "serviceaccounts")
CM = ("", "configmaps")
EVT = ("", "events")
DEP = ("apps", "deployments")
RS = ("apps", "replicasets")
STS = ("apps", "statefulsets")
DS = ("apps", "daemonsets")
CR = ("apps", "controllerrevisions")
JOB = ("batch", "jobs")
SC = ("storage.k8s.io", "storageclasses")

REV = "deployment.kubernetes.io/revision"
OWNER_KEY = {"Deployment": "deploy", "ReplicaSet": "rs", "StatefulSet": "sts", "DaemonSet": "ds", "Job": "job"}


def controller_ref(obj):
    for r in obj["metadata"].get("ownerReferences") or []:
        if r.get("controller"):
            return r
    return None


def owner_ref(obj, kind, api_version="apps/v1"):
    md = obj["metadata"]
    return {"apiVersion": api_version, "kind": kind, "name": md["name"], "uid": md["uid"],
            "controller": True, "blockOwnerDeletion": True}


def cond(obj, typ):
    for c in get_path(obj, "status", "conditions") or []:
        if c.get("type") == typ:
            return c
    return None


def pod_ready(pod):
    c = cond(pod, "Ready")
    return bool(c and c.get("status") == "True")


def pod_active(pod):
    return not pod["metadata"].get("deletionTimestamp") and get_path(pod, "status", "phase") not in ("Succeeded", "Failed")


def resolve_iop(v, total, round_up):
    if v is None:
        return 0
    if isinstance(v, str):
        if v.endswith("%"):
            x = int(v[:-1]) * total / 100.0
            return int(math.ceil(x)) if round_up else int(math.floor(x))
        return int(v)
    return int(v)


def tmpl_key(tmpl):
    t = deepcopy(tmpl or {})
    lbl = get_path(t, "metadata", "labels")
    if isinstance(lbl, dict):
        lbl.pop("pod-template-hash", None)
    md = t.get("metadata")
    if isinstance(md, dict):
        md.pop("creationTimestamp", None)
        if not md.get("labels"):
            md.pop("labels", None)
        if not md:
            t.pop("metadata")
    return hash_obj(t)


def set_condition(conds, typ, status, reason, message, always_update=False):
    """Kubernetes-style condition setter. Returns True if anything changed."""
    now = now_ts()
    for i, c in enumerate(conds):
        if c.get("type") == typ:
            if c.get("status") == status and c.get("reason") == reason and not always_update:
                return False
            new = {"type": typ, "status": status, "lastUpdateTime": now,
                   "lastTransitionTime": c.get("lastTransitionTime", now) if c.get("status") == status else now,
                   "reason": reason, "message": message}
            if new == c:
                return False
            del conds[i]
            conds.append(new)
            return True
    conds.append({"type": typ, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
                  "reason": reason, "message": message})
    return True


def node_matches(pod_spec, node):
    labels = node["metadata"].get("labels") or {}
    for k, v in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    terms = get_path(pod_spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                     "nodeSelectorTerms")
    if terms:
        ok = False
        for t in terms:
            exprs = t.get("matchExpressions") or []
            fields = t.get("matchFields") or []
            good = True
            for e in exprs:
                key, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
                has = key in labels
                if op == "In" and not (has and labels[key] in vals):
                    good = False
                elif op == "NotIn" and has and labels[key] in vals:
                    good = False
                elif op == "Exists" and not has:
                    good = False
                elif op == "DoesNotExist" and has:
                    good = False
                elif op in ("Gt", "Lt"):
                    try:
                        lv, rv = int(labels.get(key, "")), int(vals[0])
                        if (op == "Gt" and not lv > rv) or (op == "Lt" and not lv < rv):
                            good = False
                    except (ValueError, IndexError):
                        good = False
            for f in fields:
                if f.get("key") == "metadata.name":
                    name = node["metadata"]["name"]
                    if f.get("operator") == "In" and name not in (f.get("values") or []):
                        good = False
                    if f.get("operator") == "NotIn" and name in (f.get("values") or []):
                        good = False
            if good and (exprs or fields):
                ok = True
                break
        if not ok:
            return False
    return True


def tolerates(pod_spec, node):
    for taint in get_path(node, "spec", "taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        ok = False
        for tol in pod_spec.get("tolerations") or []:
            if tol.get("key") and tol.get("key") != taint.get("key"):
                continue
            if not tol.get("key") and tol.get("operator") != "Exists":
                continue
            if tol.get("effect") and tol.get("effect") != taint.get("effect"):
                continue
            if tol.get("operator", "Equal") == "Equal" and tol.get("value", "") != taint.get("value", ""):
                continue
            ok = True
            break
        if not ok:
            return False
    return True


# Image pull faults by image name (tests/kube-emulator/README.md, "Kubelet"), with
# containerd's wording: permanent ones the kubelet never gets past, transient ones
# (`flaky-pull`: the first FLAKY_PULL_FAILURES attempts; `registry-down`: every attempt).
FLAKY_PULL_FAILURES = 2


def image_ref(img):
    """The fully qualified reference containerd names in its messages."""
    first = img.split("/", 1)[0]
    if "/" in img and ("." in first or ":" in first or first == "localhost"):
        ref = img
    elif "/" in img:
        ref = "docker.io/" + img
    else:
        ref = "docker.io/library/" + img
    if ":" not in ref.rsplit("/", 1)[-1] and "@" not in ref:
        ref += ":latest"
    return ref


def pull_fault(img, attempt):
    """(kind, message) of the pull of img at attempt (1, 2, ...): kind "permanent" or
    "transient"; None when the pull succeeds."""
    img = img or ""
    ref = image_ref(img)
    host = ref.split("/", 1)[0]
    repo, _, tag = ref.split("/", 1)[1].rpartition(":")
    head = 'failed to pull and unpack image "%s": ' % ref
    if "imagepull-fail" in img:
        # kept as it always was (existing tests): Docker Hub's answer for a missing repository
        return "permanent", ('failed to pull and unpack image "docker.io/library/%s": failed to resolve reference '
                             '"docker.io/library/%s": pull access denied, repository does not exist or may require '
                             'authorization' % (img, img))
    if "not-found" in img:
        return "permanent", head + 'failed to resolve reference "%s": %s: not found' % (ref, ref)
    if "unauthorized" in img:
        return "permanent", head + ('failed to resolve reference "%s": failed to authorize: failed to fetch anonymous '
                                    'token: unexpected status from GET request to https://%s/token?scope=repository'
                                    '%%3A%s%%3Apull&service=%s: 401 Unauthorized' % (ref, host, repo.replace("/", "%2F"), host))
    if "registry-down" in img or ("flaky-pull" in img and attempt <= FLAKY_PULL_FAILURES):
        if attempt % 2:
            return "transient", head + ('failed to copy: httpReadSeeker: failed open: unexpected status code '
                                        'https://%s/v2/%s/manifests/sha256:%064x: 503 Service Unavailable'
                                        % (host, repo, abs(hash(ref)) % (1 << 63)))
        return "transient", head + ('failed to resolve reference "%s": failed to do request: Head '
                                    '"https://%s/v2/%s/manifests/%s": dial tcp 10.96.7.7:443: i/o timeout'
                                    % (ref, host, repo, tag))
    return None


PVC_PROTECTION = "kubernetes.io/pvc-protection"


class Controllers:
    def __init__(self, api, opts):
        self.api = api
        self.store = api.store
        self.reg = api.reg
        self.opts = opts
        self.ready_delay = float(opts.ready_delay)
        self.crash_backoff = float(getattr(opts, "crash_backoff", 0.5))
        # how long the deployment controller takes to notice a spec change (a real
        # kube-controller-manager is not instant: observedGeneration < generation and the old
        # revision annotation are visible for a moment, transcripts 05/06)
        self.controller_delay = float(getattr(opts, "controller_delay", 0.0) or 0.0)
        self.controller_delay_new = float(getattr(opts, "controller_delay_new", 0.0) or 0.0)
        # how long a terminating namespace stays before it is gone (1.19 rig: ~5 s)
        self.ns_finalize_delay = float(getattr(opts, "namespace_finalize_delay", 0.0) or 0.0)
        # how long a kubelet takes to stop a gracefully deleted pod
        self.pod_stop_delay = float(getattr(opts, "pod_stop_delay", 0.1) or 0.0)
        # a simulated cluster autoscaler for Unschedulable pods (--autoscaler): "scale-up"
        # says TriggeredScaleUp and adds a fitting node after --scale-up-delay seconds,
        # "no-scale-up" says NotTriggerScaleUp, "none" (the default) says nothing
        self.autoscaler = getattr(opts, "autoscaler", None) or "none"
        self.scale_up_delay = float(getattr(opts, "scale_up_delay", 2.0) or 0.0)
        self.scaler_told = set()
        self.seen_at = {}
        self.deferred = set()
        self.cv = threading.Condition()
        self.pending = collections.OrderedDict()
        self.timers = []
        self.seq = itertools.count()
        self.kstate = {}
        self.ev_index = {}
        self.ip_counters = {}
        self.busy = False
        self.store.hooks.append(self.on_change)
        self.rt = {k: self.reg.storage(*k) for k in (POD, NODE, SVC, EP, PVC, PV, NS, SA, CM, EVT, DEP, RS, STS, DS, CR, JOB, SC)}
        self.thread = None

    # ---------------------------------------------------------------- plumbing
    def start(self):
        self.thread = threading.Thread(target=self.run, name="controllers", daemon=True)
        self.thread.start()

    def enqueue(self, key):
        with self.cv:
            if key not in self.pending:
                self.pending[key] = True
                self.cv.notify()

    def schedule(self, delay, key):
        with self.cv:
            heapq.heappush(self.timers, (time.time() + max(0.0, delay), next(self.seq), key))
            self.cv.notify()

    def idle(self):
        with self.cv:
            due = self.timers and self.timers[0][0] <= time.time()
            # work held back by --controller-delay (not_before) is not idleness
            deferred = any(k in self.deferred for _, _, k in self.timers)
            return not self.pending and not self.busy and not due and not deferred

    def run(self):
        while True:
            with self.cv:
                while True:
                    now = time.time()
                    while self.timers and self.timers[0][0] <= now:
                        _, _, key = heapq.heappop(self.timers)
                        self.pending[key] = True
                    if self.pending:
                        key, _ = self.pending.popitem(last=False)
                        self.busy = True
                        break
                    self.busy = False
                    timeout = (self.timers[0][0] - now) if self.timers else None
                    self.cv.wait(timeout)
            try:
                with self.store.lock:
                    self.dispatch(key)
            except ApiError as e:
                if e.code not in (404, 409):
                    sys.stderr.write("controller %r: %s\n" % (key, e.message))
            except Exception:
                sys.stderr.write("controller %r failed:\n%s" % (key, traceback.format_exc()))
            finally:
                with self.cv:
                    self.busy = False

    def on_change(self, rkey, typ, obj, old):
        md = obj["metadata"]
        ns, name = md.get("namespace"), md["name"]
        if rkey == POD:
            self.enqueue(("pod", ns, name))
            ref = controller_ref(obj)
            if ref and ref.get("kind") in OWNER_KEY:
                self.enqueue((OWNER_KEY[ref["kind"]], ns, ref.get("name")))
            labels = md.get("labels") or {}
            olabels = (old or {}).get("metadata", {}).get("labels") or {}
            for svc in self.store.objs(SVC, ns):
                sel = get_path(svc, "spec", "selector")
                if sel and (match_reqs([(k, "=", (v,)) for k, v in sel.items()], labels) or
                            match_reqs([(k, "=", (v,)) for k, v in sel.items()], olabels)):
                    self.enqueue(("svc", ns, svc["metadata"]["name"]))
            if typ == "DELETED":
                self.kstate.pop(md.get("uid"), None)
                for v in get_path(obj, "spec", "volumes") or []:
                    claim = get_path(v, "persistentVolumeClaim", "claimName")
                    if claim:
                        self.enqueue(("pvc", ns, claim))
        elif rkey == DEP:
            self.enqueue(("deploy", ns, name))
        elif rkey == RS:
            self.enqueue(("rs", ns, name))
            ref = controller_ref(obj)
            if ref and ref.get("kind") == "Deployment":
                self.enqueue(("deploy", ns, ref.get("name")))
        elif rkey == STS:
            self.enqueue(("sts", ns, name))
        elif rkey == DS:
            self.enqueue(("ds", ns, name))
        elif rkey == JOB:
            self.enqueue(("job", ns, name))
        elif rkey == SVC:
            self.enqueue(("svc", ns, name))
        elif rkey == PVC:
            self.enqueue(("pvc", ns, name))
            self.enqueue(("sched-ns", ns, None))
            if typ == "DELETED" and get_path(obj, "spec", "volumeName"):
                self.enqueue(("pv-release", None, obj["spec"]["volumeName"]))
        elif rkey == SC or (rkey == PV and typ != "DELETED"):
            # A claim naming its volume (spec.volumeName) may arrive before the volume:
            # like the real binder's resync, a new volume gets the pending claims looked at.
            self.enqueue(("pvc-all", None, None))
        elif rkey == NODE:
            self.enqueue(("ds-all", None, None))
            self.enqueue(("sched-all", None, None))
        elif rkey == NS:
            self.enqueue(("ns", None, name))
        if typ == "DELETED" and md.get("uid") in self.store.children:
            self.enqueue(("gc", None, md["uid"]))
        if typ != "DELETED" and md.get("deletionTimestamp") and "foregroundDeletion" in (md.get("finalizers") or []):
            self.enqueue(("fgdel", ns, md["uid"]))

    def not_before(self, tag, delay, key):
        """True while `tag` was first seen less than `delay` s ago; schedules key for then."""
        if delay <= 0:
            return False
        now = time.time()
        t0 = self.seen_at.setdefault(tag, now)
        if len(self.seen_at) > 10000:
            self.seen_at.clear()
            self.seen_at[tag] = t0
        if now - t0 < delay:
            with self.cv:
                self.deferred.add(key)
            self.schedule(delay - (now - t0), key)
            return True
        with self.cv:
            self.deferred.discard(key)
        return False

    def sync_fgdel(self, ns, uid):
        """Foreground deletion: delete the dependents, then drop the foregroundDeletion finalizer."""
        ref = self.store.by_uid.get(uid)
        if ref is None:
            return
        obj = self.store.get(ref[0], ref[1], ref[2])
        if obj is None or "foregroundDeletion" not in (obj["metadata"].get("finalizers") or []):
            return
        children = self.store.children_of(uid)
        for child in children:
            rt = self.api.rt_for_obj(child)
            if rt is None or child["metadata"].get("deletionTimestamp"):
                continue
            try:
                self.api.delete(rt, child["metadata"].get("namespace"), child["metadata"]["name"], "Foreground",
                                internal=True)
            except ApiError:
                pass
        if self.store.children_of(uid):
            self.schedule(0.05, ("fgdel", ns, uid))
            return
        rt = self.api.rt_for_obj(obj)
        new = deepcopy(obj)
        fins = [f for f in new["metadata"].get("finalizers") or [] if f != "foregroundDeletion"]
        if fins:
            new["metadata"]["finalizers"] = fins
            self.save(rt.key, new)
        else:
            new["metadata"].pop("finalizers", None)
            self.save(rt.key, new)
            self.api._remove(rt, obj["metadata"].get("namespace"), obj["metadata"]["name"])

    def dispatch(self, key):
        kind, ns, name = key
        fn = getattr(self, "sync_" + kind.replace("-", "_"))
        fn(ns, name)

    # ---------------------------------------------------------------- helpers
    def save(self, rkey, obj):
        # controllers' writes are Update operations owned like on a real cluster: the
        # kubelet owns the pod status it writes, kube-controller-manager the rest
        md = obj.get("metadata") or {}
        old = self.store.get(rkey, md.get("namespace"), md.get("name"))
        rt = self.rt.get(rkey) or self.api.rt_for_obj(obj)
        if old is not None and old is not obj and rt is not None:
            try:
                ssa.record_update(old, obj, "kubelet" if rkey == POD else "kube-controller-manager",
                                  rt.api_version, rt.kind, whole=True)
            except Exception:
                pass
        self.store.put(rkey, obj)
        return obj

    def set_status(self, rkey, obj, status):
        if obj.get("status") == status:
            return obj
        new = dict(obj)
        new["metadata"] = dict(obj["metadata"])
        new["status"] = status
        return self.save(rkey, new)

    def create(self, rkey, obj):
        md = obj["metadata"]
        return self.api.create(self.rt[rkey], md.get("namespace"), obj, internal=True,
                               manager="kube-controller-manager")

    def delete(self, rkey, ns, name):
        rt = self.rt.get(rkey) or self.reg.storage(*rkey)
        try:
            return self.api.delete(rt, ns, name, "Background", internal=True)
        except ApiError:
            return None

    def event(self, obj, etype, reason, message, component="kubelet", host=None):
        md = obj["metadata"]
        ns = md.get("namespace") or "default"
        ikey = (ns, md.get("uid"), reason, message)
        evname = self.ev_index.get(ikey)
        if evname:
            ev = self.store.get(EVT, ns, evname)
            if ev is not None:
                new = deepcopy(ev)
                new["count"] = ev.get("count", 1) + 1
                new["lastTimestamp"] = now_ts()
                self.save(EVT, new)
                return
        name = "%s.%x" % (md["name"], time.time_ns())
        now = now_ts()
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": name, "namespace": ns},
              "involvedObject": {"kind": obj.get("kind"), "namespace": md.get("namespace"), "name": md["name"],
                                 "uid": md.get("uid"), "apiVersion": obj.get("apiVersion"),
                                 "resourceVersion": md.get("resourceVersion")},
              "reason": reason, "message": message, "source": {"component": component},
              "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": etype,
              "eventTime": None, "reportingComponent": component, "reportingInstance": host or ""}
        if host:
            ev["source"]["host"] = host
        try:
            self.create(EVT, ev)
            self.ev_index[ikey] = name
        except ApiError:
            pass

    def owned(self, obj, rkey):
        uid = obj["metadata"]["uid"]
        out = []
        for c in self.store.children_of(uid, rkey):
            ref = controller_ref(c)
            if ref and ref.get("uid") == uid:
                out.append(c)
        return out

    def new_pod(self, owner, owner_kind, owner_api, tmpl, name, extra_labels=None, node=None, extra_spec=None):
        md = owner["metadata"]
        tmd = tmpl.get("metadata") or {}
        labels = dict(tmd.get("labels") or {})
        labels.update(extra_labels or {})
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": md["namespace"], "labels": labels,
                            "ownerReferences": [owner_ref(owner, owner_kind, owner_api)]},
               "spec": deepcopy(tmpl.get("spec") or {})}
        if tmd.get("annotations"):
            pod["metadata"]["annotations"] = dict(tmd["annotations"])
        if node:
            pod["spec"]["nodeName"] = node
        if extra_spec:
            pod["spec"].update(extra_spec)
        return self.create(POD, pod)

    def available(self, pod, min_ready, now):
        if not pod_ready(pod):
            return False
        if not min_ready:
            return True
        c = cond(pod, "Ready")
        return parse_ts(c.get("lastTransitionTime")) + min_ready <= now

    # ------------------------------------------------------------ deployments
    def sync_deploy(self, ns, name):
        d = self.store.get(DEP, ns, name)
        if d is None or d["metadata"].get("deletionTimestamp"):
            return
        gen = d["metadata"].get("generation", 1)
        # (only spec changes of an existing Deployment wait: on creation there is no old
        # ReplicaSet a client could mistake for the new one, and deploys stay fast)
        delay = self.controller_delay if gen > 1 else self.controller_delay_new
        if gen != get_path(d, "status", "observedGeneration") and \
                self.not_before(("deploy", d["metadata"]["uid"], gen), delay, ("deploy", ns, name)):
            return
        spec = d["spec"]
        replicas = spec.get("replicas", 1)
        strategy = get_path(spec, "strategy", "type") or "RollingUpdate"
        paused = bool(spec.get("paused"))
        rss = self.owned(d, RS)
        rss.sort(key=lambda r: (r["metadata"].get("creationTimestamp", ""), r["metadata"]["name"]))
        tkey = tmpl_key(spec.get("template"))
        new_rs = None
        olds = []
        for rs in rss:
            if new_rs is None and tmpl_key(get_path(rs, "spec", "template")) == tkey:
                new_rs = rs
            else:
                olds.append(rs)
        rev = lambda r: int((r["metadata"].get("annotations") or {}).get(REV, "0") or 0)
        max_old = max([rev(r) for r in olds] or [0])
        conds = deepcopy(get_path(d, "status", "conditions") or [])
        surge, unavail = self.fenceposts(d)
        if new_rs is None and not paused:
            if strategy == "Recreate" and any(self.rs_has_pods(r) for r in olds):
                pass
            else:
                if strategy == "Recreate":
                    n = replicas
                else:
                    total = sum(get_path(r, "spec", "replicas") or 0 for r in olds)
                    n = max(0, min(replicas + surge - total, replicas))
                new_rs = self.create_rs(d, max_old + 1, n, surge)
                set_condition(conds, "Progressing", "True", "NewReplicaSetCreated",
                              'Created new replica set "%s"' % new_rs["metadata"]["name"], always_update=True)
        elif new_rs is not None and rev(new_rs) <= max_old:
            new_rs = self.set_rs_annotations(new_rs, {REV: str(max_old + 1)})
        if not paused:
            if strategy == "Recreate":
                self.rollout_recreate(d, new_rs, olds)
            else:
                self.rollout_rolling(d, new_rs, olds, surge, unavail)
        # keep desired/max annotations right
        if new_rs is not None:
            want = {"deployment.kubernetes.io/desired-replicas": str(replicas),
                    "deployment.kubernetes.io/max-replicas": str(replicas + (surge if strategy != "Recreate" else 0))}
            new_rs = self.set_rs_annotations(new_rs, want)
        self.cleanup_history(d, olds)
        # refresh RS objects for status
        all_rs = [self.store.get(RS, ns, r["metadata"]["name"]) for r in ([new_rs] if new_rs else []) + olds]
        all_rs = [r for r in all_rs if r is not None]
        new_rs = self.store.get(RS, ns, new_rs["metadata"]["name"]) if new_rs else None
        st = lambda r, k: get_path(r, "status", k) or 0
        status = {"observedGeneration": d["metadata"].get("generation", 1),
                  "replicas": sum(st(r, "replicas") for r in all_rs),
                  "updatedReplicas": st(new_rs, "replicas") if new_rs else 0,
                  "readyReplicas": sum(st(r, "readyReplicas") for r in all_rs),
                  "availableReplicas": sum(st(r, "availableReplicas") for r in all_rs)}
        total_spec = sum(get_path(r, "spec", "replicas") or 0 for r in all_rs)
        status["unavailableReplicas"] = max(total_spec - status["availableReplicas"], 0)
        for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"):
            if not status[k]:
                del status[k]
        g = lambda k: status.get(k, 0)
        min_avail = replicas - (unavail if strategy != "Recreate" else 0)
        if g("availableReplicas") >= min_avail:
            set_condition(conds, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        else:
            set_condition(conds, "Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
        old_status = d.get("status") or {}
        og = lambda k: old_status.get(k, 0)
        rsname = new_rs["metadata"]["name"] if new_rs else None
        pds = spec.get("progressDeadlineSeconds")
        prog = cond({"status": {"conditions": conds}}, "Progressing")
        if paused:
            if not (prog and prog.get("reason") == "DeploymentPaused"):
                set_condition(conds, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused")
        else:
            if prog and prog.get("reason") == "DeploymentPaused":
                set_condition(conds, "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed")
                prog = cond({"status": {"conditions": conds}}, "Progressing")
            complete = (g("updatedReplicas") == replicas and g("replicas") == replicas and
                        g("availableReplicas") == replicas)
            progressing = (g("updatedReplicas") > og("updatedReplicas") or
                           (g("replicas") - g("updatedReplicas")) < (og("replicas") - og("updatedReplicas")) or
                           g("readyReplicas") > og("readyReplicas") or
                           g("availableReplicas") > og("availableReplicas"))
            if complete:
                set_condition(conds, "Progressing", "True", "NewReplicaSetAvailable",
                              'ReplicaSet "%s" has successfully progressed.' % rsname)
            elif progressing and pds is not None:
                set_condition(conds, "Progressing", "True", "ReplicaSetUpdated",
                              'ReplicaSet "%s" is progressing.' % rsname if rsname else
                              'Deployment "%s" is progressing.' % name, always_update=True)
            elif pds is not None:
                prog = cond({"status": {"conditions": conds}}, "Progressing")
                if prog is None:
                    set_condition(conds, "Progressing", "True", "ReplicaSetUpdated",
                                  'ReplicaSet "%s" is progressing.' % rsname)
                elif prog.get("reason") not in ("NewReplicaSetAvailable", "ProgressDeadlineExceeded"):
                    deadline = parse_ts(prog.get("lastUpdateTime")) + pds
                    if time.time() >= deadline:
                        set_condition(conds, "Progressing", "False", "ProgressDeadlineExceeded",
                                      'ReplicaSet "%s" has timed out progressing.' % rsname)
                    else:
                        self.schedule(deadline - time.time() + 0.02, ("deploy", ns, name))
            prog = cond({"status": {"conditions": conds}}, "Progressing")
            if pds is not None and prog and prog.get("reason") in ("NewReplicaSetCreated", "ReplicaSetUpdated", "FoundNewReplicaSet") and not complete:
                deadline = parse_ts(prog.get("lastUpdateTime")) + pds
                self.schedule(max(0.0, deadline - time.time()) + 0.02, ("deploy", ns, name))
        order = {"Available": 0, "Progressing": 1}
        conds.sort(key=lambda c: order.get(c.get("type"), 2))
        status["conditions"] = conds
        if old_status.get("collisionCount"):
            status["collisionCount"] = old_status["collisionCount"]
        # deployment revision annotation
        d2 = d
        if new_rs is not None:
            r = str(rev(new_rs))
            ann = d["metadata"].get("annotations") or {}
            if ann.get(REV) != r:
                d2 = dict(d)
                d2["metadata"] = dict(d["metadata"])
                d2["metadata"]["annotations"] = dict(ann, **{REV: r})
        if d2 is not d and d.get("status") != status:
            # like the real controller: the revision annotation is written first (when it
            # finds/creates the new ReplicaSet), the status in a second write, so a reader
            # can see the new revision while observedGeneration still lags (transcripts 05/06)
            d2 = self.save(DEP, deepcopy(d2))
        if d2 is not d or d.get("status") != status:
            new = dict(d2)
            new["metadata"] = dict(d2["metadata"])
            new["status"] = status
            self.save(DEP, new)

    def fenceposts(self, d):
        spec = d["spec"]
        replicas = spec.get("replicas", 1)
        if (get_path(spec, "strategy", "type") or "RollingUpdate") != "RollingUpdate":
            return 0, 0
        ru = get_path(spec, "strategy", "rollingUpdate") or {}
        surge = resolve_iop(ru.get("maxSurge", "25%"), replicas, True)
        unavail = resolve_iop(ru.get("maxUnavailable", "25%"), replicas, False)
        if surge == 0 and unavail == 0:
            unavail = 1
        if unavail > replicas:
            unavail = replicas
        return surge, unavail

    def rs_has_pods(self, rs):
        return (get_path(rs, "spec", "replicas") or 0) > 0 or (get_path(rs, "status", "replicas") or 0) > 0 or \
            any(pod_active(p) for p in self.owned(rs, POD))

    def create_rs(self, d, revision, replicas, surge):
        md = d["metadata"]
        spec = d["spec"]
        tmpl = deepcopy(spec["template"])
        collision = get_path(d, "status", "collisionCount") or 0
        while True:
            h = hash_obj(self.template_for_hash(tmpl), collision)
            name = "%s-%s" % (md["name"], h)
            existing = self.store.get(RS, md["namespace"], name)
            if existing is None:
                break
            collision += 1
        tmpl.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
        sel = deepcopy(spec.get("selector") or {})
        sel.setdefault("matchLabels", {})["pod-template-hash"] = h
        ann = {k: v for k, v in (md.get("annotations") or {}).items()
               if k not in ("kubectl.kubernetes.io/last-applied-configuration", REV)
               and not k.startswith("deployment.kubernetes.io/")}
        ann.update({REV: str(revision), "deployment.kubernetes.io/desired-replicas": str(spec.get("replicas", 1)),
                    "deployment.kubernetes.io/max-replicas": str(spec.get("replicas", 1) + surge)})
        labels = dict(get_path(spec, "template", "metadata", "labels") or {})
        labels["pod-template-hash"] = h
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": name, "namespace": md["namespace"], "labels": labels, "annotations": ann,
                           "ownerReferences": [owner_ref(d, "Deployment")]},
              "spec": {"replicas": replicas, "selector": sel, "template": tmpl}}
        if spec.get("minReadySeconds"):
            rs["spec"]["minReadySeconds"] = spec["minReadySeconds"]
        return self.create(RS, rs)

    def template_for_hash(self, tmpl):
        t = deepcopy(tmpl)
        lbl = get_path(t, "metadata", "labels")
        if isinstance(lbl, dict):
            lbl.pop("pod-template-hash", None)
        return t

    def set_rs_annotations(self, rs, want):
        ann = rs["metadata"].get("annotations") or {}
        if all(ann.get(k) == v for k, v in want.items()):
            return rs
        new = deepcopy(rs)
        new["metadata"].setdefault("annotations", {}).update(want)
        return self.save(RS, new)

    def scale_rs(self, rs, n, d=None):
        if (get_path(rs, "spec", "replicas") or 0) == n:
            return rs
        new = deepcopy(rs)
        new["spec"]["replicas"] = n
        new["metadata"]["generation"] = rs["metadata"].get("generation", 1) + 1
        if d is not None:
            surge, _ = self.fenceposts(d)
            new["metadata"].setdefault("annotations", {}).update({
                "deployment.kubernetes.io/desired-replicas": str(d["spec"].get("replicas", 1)),
                "deployment.kubernetes.io/max-replicas": str(d["spec"].get("replicas", 1) + surge)})
        return self.save(RS, new)

    def rollout_recreate(self, d, new_rs, olds):
        replicas = d["spec"].get("replicas", 1)
        for i, rs in enumerate(olds):
            olds[i] = self.scale_rs(rs, 0, d)
        if any(any(pod_active(p) for p in self.owned(rs, POD)) for rs in olds):
            return
        if new_rs is not None:
            self.scale_rs(new_rs, replicas, d)

    def rollout_rolling(self, d, new_rs, olds, surge, unavail):
        replicas = d["spec"].get("replicas", 1)
        spec_r = lambda r: get_path(r, "spec", "replicas") or 0
        if new_rs is not None:
            cur = spec_r(new_rs)
            if cur > replicas:
                new_rs = self.scale_rs(new_rs, replicas, d)
            elif cur < replicas:
                total = cur + sum(spec_r(r) for r in olds)
                max_total = replicas + surge
                if total < max_total:
                    up = min(max_total - total, replicas - cur)
                    new_rs = self.scale_rs(new_rs, cur + up, d)
        old_count = sum(spec_r(r) for r in olds)
        if old_count == 0:
            return
        all_rs = ([new_rs] if new_rs else []) + olds
        all_count = sum(spec_r(r) for r in all_rs)
        min_avail = replicas - unavail
        new_unavail = (spec_r(new_rs) - (get_path(new_rs, "status", "availableReplicas") or 0)) if new_rs else 0
        max_down = all_count - min_avail - new_unavail
        if max_down <= 0:
            return
        cleaned = 0
        for i, rs in enumerate(olds):
            if cleaned >= max_down:
                break
            if spec_r(rs) == 0:
                continue
            unhealthy = spec_r(rs) - (get_path(rs, "status", "availableReplicas") or 0)
            if unhealthy <= 0:
                continue
            n = min(max_down - cleaned, unhealthy)
            olds[i] = self.scale_rs(rs, spec_r(rs) - n, d)
            cleaned += n
        all_rs = ([new_rs] if new_rs else []) + olds
        available = sum(get_path(r, "status", "availableReplicas") or 0 for r in all_rs)
        if available <= min_avail:
            return
        down = available - min_avail
        for i, rs in enumerate(olds):
            if down <= 0:
                break
            if spec_r(rs) == 0:
                continue
            n = min(spec_r(rs), down)
            olds[i] = self.scale_rs(rs, spec_r(rs) - n, d)
            down -= n

    def cleanup_history(self, d, olds):
        limit = d["spec"].get("revisionHistoryLimit", 10)
        if limit is None:
            return
        dead = [r for r in olds if self.store.get(RS, r["metadata"]["namespace"], r["metadata"]["name"]) is not None
                and (get_path(r, "spec", "replicas") or 0) == 0 and (get_path(r, "status", "replicas") or 0) == 0]
        if len(dead) <= limit:
            return
        dead.sort(key=lambda r: int((r["metadata"].get("annotations") or {}).get(REV, "0") or 0))
        for r in dead[:len(dead) - limit]:
            self.delete(RS, r["metadata"]["namespace"], r["metadata"]["name"])

    # ------------------------------------------------------------ replicasets
    def sync_rs(self, ns, name):
        rs = self.store.get(RS, ns, name)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return
        want = get_path(rs, "spec", "replicas")
        want = 1 if want is None else want
        pods = [p for p in self.owned(rs, POD) if pod_active(p)]
        tmpl = get_path(rs, "spec", "template") or {}
        if len(pods) < want:
            for _ in range(want - len(pods)):
                pods.append(self.new_pod(rs, "ReplicaSet", "apps/v1", tmpl, "%s-%s" % (name, rand_suffix())))
        elif len(pods) > want:
            def rank(p):
                return (1 if get_path(p, "spec", "nodeName") else 0,
                        {"Pending": 0, "Unknown": 1, "Running": 2}.get(get_path(p, "status", "phase"), 0),
                        1 if pod_ready(p) else 0,
                        tuple(-ord(c) for c in p["metadata"].get("creationTimestamp", "")))
            pods.sort(key=rank)
            for p in pods[:len(pods) - want]:
                self.delete(POD, ns, p["metadata"]["name"])
            pods = pods[len(pods) - want:]
        now = time.time()
        mrs = get_path(rs, "spec", "minReadySeconds") or 0
        ready = sum(1 for p in pods if pod_ready(p))
        avail = sum(1 for p in pods if self.available(p, mrs, now))
        if mrs and avail < ready:
            self.schedule(mrs / 2.0 if mrs < 2 else 1.0, ("rs", ns, name))
        status = {"replicas": len(pods), "observedGeneration": rs["metadata"].get("generation", 1)}
        if pods:
            status["fullyLabeledReplicas"] = len(pods)
        if ready:
            status["readyReplicas"] = ready
        if avail:
            status["availableReplicas"] = avail
        self.set_status(RS, rs, status)

    # ----------------------------------------------------------- statefulsets
    def sync_sts(self, ns, name):
        sts = self.store.get(STS, ns, name)
        if sts is None or sts["metadata"].get("deletionTimestamp"):
            return
        spec = sts["spec"]
        replicas = spec.get("replicas", 1)
        tmpl = spec.get("template") or {}
        update_rev = "%s-%s" % (name, hash_obj(self.template_for_hash(tmpl)))
        self.ensure_revision(sts, "StatefulSet", update_rev, tmpl)
        parallel = spec.get("podManagementPolicy") == "Parallel"
        pods = {p["metadata"]["name"]: p for p in self.owned(sts, POD)}
        old_status = sts.get("status") or {}
        current_rev = old_status.get("currentRevision") or update_rev
        # create / replace in ordinal order
        for i in range(replicas):
            pname = "%s-%d" % (name, i)
            p = pods.get(pname)
            if p is not None and get_path(p, "status", "phase") in ("Failed", "Succeeded"):
                self.delete(POD, ns, pname)
                p = None
            if p is None:
                self.ensure_claims(sts, i)
                extra = {"controller-revision-hash": update_rev, "statefulset.kubernetes.io/pod-name": pname,
                         "apps.kubernetes.io/pod-index": str(i)}
                vols = []
                for t in spec.get("volumeClaimTemplates") or []:
                    vols.append({"name": t["metadata"]["name"],
                                 "persistentVolumeClaim": {"claimName": "%s-%s-%d" % (t["metadata"]["name"], name, i)}})
                t2 = deepcopy(tmpl)
                if vols:
                    ps = t2.setdefault("spec", {})
                    existing = {v.get("name") for v in ps.get("volumes") or []}
                    ps["volumes"] = (ps.get("volumes") or []) + [v for v in vols if v["name"] not in existing]
                extra_spec = {"hostname": pname}
                if spec.get("serviceName"):
                    extra_spec["subdomain"] = spec["serviceName"]
                pods[pname] = self.new_pod(sts, "StatefulSet", "apps/v1", t2, pname, extra, extra_spec=extra_spec)
                if not parallel:
                    break
            elif not pod_ready(p) and not parallel:
                break
        # scale down: highest ordinal first
        extra_pods = sorted([n for n in pods if self.ordinal(n, name) >= replicas], key=lambda n: -self.ordinal(n, name))
        for n in extra_pods:
            if not parallel and not all(pod_ready(pods[m]) for m in pods if self.ordinal(m, name) < replicas):
                break
            self.delete(POD, ns, n)
            pods.pop(n)
            if not parallel:
                break
        live = [pods[n] for n in pods if 0 <= self.ordinal(n, name) < replicas]
        # rolling update: replace highest ordinal pod with an old revision once all are ready
        partition = get_path(spec, "updateStrategy", "rollingUpdate", "partition") or 0
        if get_path(spec, "updateStrategy", "type") != "OnDelete" and len(live) == replicas and all(pod_ready(p) for p in live):
            for i in range(replicas - 1, partition - 1, -1):
                p = pods.get("%s-%d" % (name, i))
                if p is not None and (p["metadata"].get("labels") or {}).get("controller-revision-hash") != update_rev:
                    self.delete(POD, ns, p["metadata"]["name"])
                    self.enqueue(("sts", ns, name))
                    break
        now = time.time()
        mrs = spec.get("minReadySeconds") or 0
        rev_of = lambda p: (p["metadata"].get("labels") or {}).get("controller-revision-hash")
        updated = sum(1 for p in live if rev_of(p) == update_rev)
        ready = sum(1 for p in live if pod_ready(p))
        if updated == replicas and ready == replicas:
            current_rev = update_rev
        current = sum(1 for p in live if rev_of(p) == current_rev)
        status = {"observedGeneration": sts["metadata"].get("generation", 1), "replicas": len(live),
                  "readyReplicas": ready, "currentReplicas": current, "updatedReplicas": updated,
                  "currentRevision": current_rev, "updateRevision": update_rev, "collisionCount": 0,
                  "availableReplicas": sum(1 for p in live if self.available(p, mrs, now))}
        for k in ("readyReplicas", "currentReplicas", "updatedReplicas"):
            if not status[k]:
                del status[k]
        self.set_status(STS, sts, status)

    @staticmethod
    def ordinal(pname, sts_name):
        suffix = pname[len(sts_name) + 1:]
        return int(suffix) if suffix.isdigit() else -1

    def ensure_claims(self, sts, i):
        md = sts["metadata"]
        for t in get_path(sts, "spec", "volumeClaimTemplates") or []:
            cname = "%s-%s-%d" % (t["metadata"]["name"], md["name"], i)
            if self.store.get(PVC, md["namespace"], cname) is None:
                labels = dict(get_path(t, "metadata", "labels") or {})
                labels.update(get_path(sts, "spec", "selector", "matchLabels") or {})
                pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                       "metadata": {"name": cname, "namespace": md["namespace"], "labels": labels},
                       "spec": deepcopy(t.get("spec") or {})}
                try:
                    self.create(PVC, pvc)
                except ApiError:
                    pass

    def ensure_revision(self, owner, kind, rev_name, tmpl):
        md = owner["metadata"]
        if self.store.get(CR, md["namespace"], rev_name) is not None:
            return
        existing = self.owned(owner, CR)
        revision = max([c.get("revision", 0) for c in existing] or [0]) + 1
        labels = dict(get_path(owner, "spec", "selector", "matchLabels") or {})
        labels["controller-revision-hash"] = rev_name.rsplit("-", 1)[-1]
        cr = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
              "metadata": {"name": rev_name, "namespace": md["namespace"], "labels": labels,
                           "ownerReferences": [owner_ref(owner, kind)]},
              "data": {"spec": {"template": dict(deepcopy(tmpl), **{"$patch": "replace"})}},
              "revision": revision}
        try:
            self.create(CR, cr)
        except ApiError:
            pass

    # ------------------------------------------------------------- daemonsets
    def sync_ds_all(self, ns, name):
        for ds in self.store.objs(DS):
            self.enqueue(("ds", ds["metadata"]["namespace"], ds["metadata"]["name"]))

    def sync_ds(self, ns, name):
        ds = self.store.get(DS, ns, name)
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return
        spec = ds["spec"]
        tmpl = spec.get("template") or {}
        h = hash_obj(self.template_for_hash(tmpl))
        self.ensure_revision(ds, "DaemonSet", "%s-%s" % (name, h), tmpl)
        pspec = tmpl.get("spec") or {}
        nodes = sorted(self.store.objs(NODE), key=lambda n: n["metadata"]["name"])
        wanted = [n["metadata"]["name"] for n in nodes if node_matches(pspec, n) and tolerates(pspec, n)]
        by_node = {}
        for p in self.owned(ds, POD):
            if pod_active(p):
                by_node.setdefault(get_path(p, "spec", "nodeName"), []).append(p)
        gen = str(ds["metadata"].get("generation", 1))
        for node in wanted:
            if node not in by_node:
                p = self.new_pod(ds, "DaemonSet", "apps/v1", tmpl, "%s-%s" % (name, rand_suffix()),
                                 {"controller-revision-hash": h, "pod-template-generation": gen}, node=node)
                by_node[node] = [p]
        for node, ps in list(by_node.items()):
            if node not in wanted:
                for p in ps:
                    self.delete(POD, ns, p["metadata"]["name"])
                del by_node[node]
        pods = [ps[0] for ps in by_node.values()]
        if get_path(spec, "updateStrategy", "type") != "OnDelete":
            max_unavail = resolve_iop(get_path(spec, "updateStrategy", "rollingUpdate", "maxUnavailable") or 1,
                                      len(wanted), False) or 1
            unavailable = sum(1 for p in pods if not pod_ready(p))
            budget = max_unavail - unavailable
            for p in pods:
                if budget <= 0:
                    break
                if (p["metadata"].get("labels") or {}).get("controller-revision-hash") != h and pod_ready(p):
                    self.delete(POD, ns, p["metadata"]["name"])
                    budget -= 1
                    self.enqueue(("ds", ns, name))
        pods = [p for p in self.owned(ds, POD) if pod_active(p)]
        now = time.time()
        mrs = spec.get("minReadySeconds") or 0
        ready = sum(1 for p in pods if pod_ready(p))
        avail = sum(1 for p in pods if self.available(p, mrs, now))
        updated = sum(1 for p in pods if (p["metadata"].get("labels") or {}).get("controller-revision-hash") == h)
        status = {"currentNumberScheduled": len({get_path(p, "spec", "nodeName") for p in pods}),
                  "desiredNumberScheduled": len(wanted), "numberMisscheduled": 0, "numberReady": ready,
                  "observedGeneration": ds["metadata"].get("generation", 1)}
        if updated:
            status["updatedNumberScheduled"] = updated
        if avail:
            status["numberAvailable"] = avail
        if len(wanted) - avail > 0:
            status["numberUnavailable"] = len(wanted) - avail
        self.set_status(DS, ds, status)

    # ------------------------------------------------------------------- jobs
    def sync_job(self, ns, name):
        job = self.store.get(JOB, ns, name)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return
        spec = job["spec"]
        status = deepcopy(job.get("status") or {})
        conds = status.get("conditions") or []
        done = any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conds)
        pods = self.owned(job, POD)
        succeeded = sum(1 for p in pods if get_path(p, "status", "phase") == "Succeeded")
        failed = sum(1 for p in pods if get_path(p, "status", "phase") == "Failed")
        active = [p for p in pods if pod_active(p)]
        completions = spec.get("completions", 1)
        completions = 1 if completions is None else completions
        parallelism = spec.get("parallelism", 1)
        backoff = spec.get("backoffLimit", 6)
        now = now_ts()
        status.setdefault("startTime", now)
        if not done:
            if failed > backoff:
                for p in active:
                    self.delete(POD, ns, p["metadata"]["name"])
                active = []
                msg = "Job has reached the specified backoff limit"
                set_condition(conds, "FailureTarget", "True", "BackoffLimitExceeded", msg)
                set_condition(conds, "Failed", "True", "BackoffLimitExceeded", msg)
                for c in conds:
                    c["lastProbeTime"] = c.pop("lastUpdateTime", now)
            elif succeeded >= completions:
                msg = "Reached expected number of succeeded pods"
                set_condition(conds, "SuccessCriteriaMet", "True", "CompletionsReached", msg)
                set_condition(conds, "Complete", "True", "CompletionsReached", msg)
                for c in conds:
                    c["lastProbeTime"] = c.pop("lastUpdateTime", now)
                status["completionTime"] = now
            elif not spec.get("suspend"):
                want = min(parallelism, completions - succeeded)
                tmpl = spec.get("template") or {}
                for _ in range(want - len(active)):
                    active.append(self.new_pod(job, "Job", "batch/v1", tmpl, "%s-%s" % (name, rand_suffix()),
                                               {"batch.kubernetes.io/job-name": name, "job-name": name}))
        status["conditions"] = conds
        if not conds:
            del status["conditions"]
        for k, v in (("active", len(active)), ("succeeded", succeeded), ("failed", failed),
                     ("ready", sum(1 for p in active if pod_ready(p)))):
            if v or k == "ready":
                status[k] = v
            else:
                status.pop(k, None)
        status["terminating"] = 0
        status["uncountedTerminatedPods"] = {}
        self.set_status(JOB, job, status)

    # -------------------------------------------------------- scheduler/kubelet
    def sync_sched_all(self, ns, name):
        for p in self.store.objs(POD):
            if not get_path(p, "spec", "nodeName"):
                self.enqueue(("pod", p["metadata"]["namespace"], p["metadata"]["name"]))

    def sync_sched_ns(self, ns, name):
        for p in self.store.objs(POD, ns):
            if not get_path(p, "spec", "nodeName"):
                self.enqueue(("pod", ns, p["metadata"]["name"]))

    def sync_pod(self, ns, name):
        pod = self.store.get(POD, ns, name)
        if pod is not None and pod["metadata"].get("deletionTimestamp") and \
                pod["metadata"].get("deletionGracePeriodSeconds"):
            # gracefully deleted: the kubelet stops the containers, then removes the pod
            if self.not_before(("podstop", pod["metadata"]["uid"]), self.pod_stop_delay, ("pod", ns, name)):
                return
            if not pod["metadata"].get("finalizers"):
                self.api._remove(self.rt[POD], ns, name)
            return
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        if get_path(pod, "status", "phase") in ("Succeeded", "Failed"):
            return
        if not get_path(pod, "spec", "nodeName"):
            self.schedule_pod(pod)
            return
        self.kubelet(pod)

    def schedule_pod(self, pod):
        spec = pod["spec"]
        md = pod["metadata"]
        ns = md["namespace"]
        nodes = sorted(self.store.objs(NODE), key=lambda n: n["metadata"]["name"])
        n = len(nodes)
        msg = None
        for v in spec.get("volumes") or []:
            claim = get_path(v, "persistentVolumeClaim", "claimName")
            if not claim:
                continue
            pvc = self.store.get(PVC, ns, claim)
            if pvc is None:
                msg = '0/%d nodes are available: persistentvolumeclaim "%s" not found.' % (n, claim)
                break
            if get_path(pvc, "status", "phase") != "Bound":
                msg = "0/%d nodes are available: pod has unbound immediate PersistentVolumeClaims." % n
                break
        candidates = []
        if msg is None:
            no_match = 0
            tainted = 0
            for node in nodes:
                if not node_matches(spec, node):
                    no_match += 1
                elif not tolerates(spec, node) or get_path(node, "spec", "unschedulable"):
                    tainted += 1
                else:
                    candidates.append(node)
            if not candidates:
                parts = []
                if no_match:
                    parts.append("%d node(s) didn't match Pod's node affinity/selector" % no_match)
                if tainted:
                    parts.append("%d node(s) had untolerated taint(s)" % tainted)
                msg = "0/%d nodes are available: %s." % (n, ", ".join(parts) if parts else "no nodes available to schedule pods")
        if msg is not None:
            if not candidates and "PersistentVolumeClaim" not in msg and "persistentvolumeclaim" not in msg:
                self.autoscale(pod, nodes)
            status = deepcopy(pod.get("status") or {})
            conds = status.setdefault("conditions", [])
            c = cond(pod, "PodScheduled")
            if not (c and c.get("status") == "False" and c.get("message") == msg):
                conds[:] = [x for x in conds if x.get("type") != "PodScheduled"]
                conds.append({"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                              "lastTransitionTime": now_ts(), "reason": "Unschedulable", "message": msg})
                self.set_status(POD, pod, status)
                self.event(pod, "Warning", "FailedScheduling", msg, component="default-scheduler")
            return
        counts = collections.Counter(get_path(p, "spec", "nodeName") for p in self.store.objs(POD))
        node = min(candidates, key=lambda nd: (counts.get(nd["metadata"]["name"], 0), nd["metadata"]["name"]))
        nname = node["metadata"]["name"]
        new = deepcopy(pod)
        new["spec"]["nodeName"] = nname
        st = new.setdefault("status", {})
        host_ip = self.node_ip(node)
        st["hostIP"] = host_ip
        st["hostIPs"] = [{"ip": host_ip}]
        conds = [c for c in st.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now_ts()})
        st["conditions"] = conds
        self.save(POD, new)
        self.kstate[md["uid"]] = {"t0": time.time(), "stage": "scheduled"}
        self.event(new, "Normal", "Scheduled", "Successfully assigned %s/%s to %s" % (ns, md["name"], nname),
                   component="default-scheduler")

    def autoscale(self, pod, nodes):
        """The cluster autoscaler's answer to an Unschedulable pod (once per pod), told
        before the scheduler's FailedScheduling event, as a watcher would have seen it
        by the time it reads the pod's events."""
        md = pod["metadata"]
        if self.autoscaler == "none" or md["uid"] in self.scaler_told:
            return
        self.scaler_told.add(md["uid"])
        n = len(nodes)
        if self.autoscaler == "no-scale-up":
            self.event(pod, "Normal", "NotTriggerScaleUp",
                       "pod didn't trigger scale-up: %d node(s) didn't fit, 1 max node group size reached" % n,
                       component="cluster-autoscaler")
            return
        self.event(pod, "Normal", "TriggeredScaleUp",
                   "pod triggered scale-up: [{kubeemu-pool %d->%d (max: 10)}]" % (n, n + 1),
                   component="cluster-autoscaler")
        self.schedule(self.scale_up_delay, ("scale-up", md["namespace"], md["name"]))

    def sync_scale_up(self, ns, name):
        """The node group's new node: a copy of the first node, without its taints and
        cordon, with the labels the pod's nodeSelector asks for."""
        pod = self.store.get(POD, ns, name)
        nodes = sorted(self.store.objs(NODE), key=lambda n: n["metadata"]["name"])
        if pod is None or get_path(pod, "spec", "nodeName") or not nodes:
            return
        i = len(nodes)
        nname = "kubeemu-pool-%d" % i
        while any(nd["metadata"]["name"] == nname for nd in nodes):
            i += 1
            nname = "kubeemu-pool-%d" % i
        node = deepcopy(nodes[0])
        labels = {k: v for k, v in (node["metadata"].get("labels") or {}).items()
                  if k.startswith(("kubernetes.io/", "beta.kubernetes.io/"))}
        labels["kubernetes.io/hostname"] = nname
        labels.update(get_path(pod, "spec", "nodeSelector") or {})
        node["metadata"] = {"name": nname, "labels": labels}
        node["spec"] = {"podCIDR": "10.244.%d.0/24" % i, "podCIDRs": ["10.244.%d.0/24" % i]}
        node["status"]["addresses"] = [{"type": "InternalIP", "address": "172.18.0.%d" % (2 + i)},
                                       {"type": "Hostname", "address": nname}]
        self.create(NODE, node)

    def node_ip(self, node):
        for a in get_path(node, "status", "addresses") or []:
            if a.get("type") == "InternalIP":
                return a.get("address")
        return "172.18.0.2"

    def alloc_pod_ip(self, node_name):
        nodes = sorted(n["metadata"]["name"] for n in self.store.objs(NODE))
        idx = nodes.index(node_name) if node_name in nodes else 0
        c = self.ip_counters.get(node_name, 1) + 1
        self.ip_counters[node_name] = c
        return "10.244.%d.%d" % ((idx + 64 * ((c - 2) // 253)) % 256, (c - 2) % 253 + 2)

    def container_status(self, c, state, ready, restarts=0, last=None, started=None, init=False):
        img = c.get("image", "")
        s = {"name": c.get("name"), "state": state, "lastState": last or {}, "ready": ready,
             "restartCount": restarts, "image": img if ":" in img.rsplit("/", 1)[-1] else img + ":latest",
             "imageID": "", "containerID": ""}
        if "running" in state or "terminated" in state:
            s["imageID"] = "docker.io/library/%s@sha256:%064x" % (img.split(":")[0].split("/")[-1], abs(hash(img)) % (1 << 63))
            s["containerID"] = "containerd://%064x" % (abs(hash((img, c.get("name"), restarts, time.time()))) % (1 << 63))
        if started is not None:
            s["started"] = started
        return s

    def pod_conditions(self, pod, ready, initialized=True, containers_ready=None, reason=None, message=None):
        now = now_ts()
        old = {c.get("type"): c for c in get_path(pod, "status", "conditions") or []}

        def mk(typ, ok, r=None, m=None):
            status = "True" if ok else "False"
            prev = old.get(typ)
            c = {"type": typ, "status": status, "lastProbeTime": None,
                 "lastTransitionTime": prev.get("lastTransitionTime") if prev and prev.get("status") == status else now}
            if not ok and r:
                c["reason"] = r
                if m:
                    c["message"] = m
            return c
        cr = ready if containers_ready is None else containers_ready
        return [mk("PodReadyToStartContainers", True), mk("Initialized", initialized, "ContainersNotInitialized"),
                mk("Ready", ready, reason, message), mk("ContainersReady", cr, reason, message),
                old.get("PodScheduled") or mk("PodScheduled", True)]

    def kubelet(self, pod):
        md = pod["metadata"]
        ns, name, uid = md["namespace"], md["name"], md["uid"]
        ks = self.kstate.get(uid)
        if ks is None:
            ks = self.kstate[uid] = {"t0": time.time(), "stage": "scheduled"}
            if get_path(pod, "status", "phase") == "Running":
                ks["stage"] = "running"
        now = time.time()
        spec = pod["spec"]
        containers = spec.get("containers") or []
        inits = spec.get("initContainers") or []
        key = ("pod", ns, name)
        stage = ks["stage"]
        node = spec.get("nodeName")
        start = ks["t0"] + self.ready_delay
        base_status = deepcopy(pod.get("status") or {})
        base_status.setdefault("phase", "Pending")
        if stage == "scheduled":
            if now < start:
                st = dict(base_status)
                st["conditions"] = self.pod_conditions(pod, False, initialized=not inits, reason="ContainersNotReady",
                                                       message="containers with unready status: [%s]" % " ".join(c.get("name", "") for c in containers))
                if inits:
                    st["conditions"][1]["reason"] = "ContainersNotInitialized"
                    st["conditions"][1]["message"] = "containers with incomplete status: [%s]" % " ".join(c.get("name", "") for c in inits)
                st["containerStatuses"] = [self.container_status(c, {"waiting": {"reason": "ContainerCreating" if not inits else "PodInitializing"}}, False, started=False) for c in containers]
                if inits:
                    st["initContainerStatuses"] = [self.container_status(c, {"waiting": {"reason": "PodInitializing"}}, False) for c in inits]
                st["startTime"] = st.get("startTime") or now_ts()
                ks["stage"] = "creating"
                self.set_status(POD, pod, st)
                self.schedule(start - now, key)
                return
            ks["stage"] = stage = "creating"
        if stage == "creating":
            if now < start:
                self.schedule(start - now, key)
                return
            self.start_containers(pod, ks, base_status)
            return
        if stage == "pullerr":
            if now >= ks["next"]:
                img = ks["bad_image"]
                st = base_status
                for cs in (st.get("containerStatuses") or []) + (st.get("initContainerStatuses") or []):
                    if "waiting" in cs.get("state", {}) and cs["state"]["waiting"].get("reason") == "ErrImagePull":
                        cs["state"] = {"waiting": {"reason": "ImagePullBackOff",
                                                   "message": 'Back-off pulling image "%s"' % cs.get("image_raw", img)}}
                for cs in (st.get("containerStatuses") or []) + (st.get("initContainerStatuses") or []):
                    cs.pop("image_raw", None)
                ks["stage"] = "pullbackoff"
                self.set_status(POD, pod, st)
                self.event(pod, "Normal", "BackOff", 'Back-off pulling image "%s"' % img, host=node)
                self.event(pod, "Warning", "Failed", "Error: ImagePullBackOff", host=node)
                if ks.get("retry_pull"):
                    # the kubelet pulls again after its back-off (10 s doubling on a real one)
                    ks["next"] = now + 2 * max(0.05, min(self.ready_delay, 1.0))
                    self.schedule(ks["next"] - now, key)
            else:
                self.schedule(ks["next"] - now, key)
            return
        if stage == "pullbackoff":
            if ks.get("retry_pull") and now >= ks["next"]:
                self.start_containers(pod, ks, base_status)
            elif ks.get("retry_pull"):
                self.schedule(ks["next"] - now, key)
            return
        if stage == "crash":
            if now >= ks["next"]:
                ks["restarts"] += 1
                st = base_status
                for cs in st.get("containerStatuses") or []:
                    if cs["name"] in ks["crashers"]:
                        cs["restartCount"] = ks["restarts"]
                        delay = min(10 * (2 ** (ks["restarts"] - 1)), 300)
                        cs["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                                                   "message": "back-off %ds restarting failed container=%s pod=%s_%s(%s)" % (delay, cs["name"], name, ns, uid)}}
                        cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": now_ts(now - 0.1),
                                                          "finishedAt": now_ts(), "containerID": cs.get("containerID", "")}}
                self.set_status(POD, pod, st)
                for c in ks["crashers"]:
                    self.event(pod, "Warning", "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)" % (c, name, ns, uid), host=node)
                interval = min(self.crash_backoff * (2 ** (ks["restarts"] - 1)), 10.0)
                ks["next"] = now + interval
                self.schedule(interval, key)
            else:
                self.schedule(ks["next"] - now, key)
            return
        if stage == "job-running":
            if now >= ks["next"]:
                fail = any("fail" in (c.get("image") or "") for c in containers)
                st = base_status
                st["phase"] = "Failed" if fail else "Succeeded"
                st["conditions"] = self.pod_conditions(pod, False, reason="PodCompleted")
                for c in st["conditions"]:
                    if c["type"] in ("Ready", "ContainersReady"):
                        c["reason"] = "PodFailed" if fail else "PodCompleted"
                        c.pop("message", None)
                    if c["type"] == "PodReadyToStartContainers":
                        c["status"] = "False"
                st["containerStatuses"] = [self.container_status(c, {"terminated": {
                    "exitCode": 1 if fail else 0, "reason": "Error" if fail else "Completed",
                    "startedAt": ks.get("started_at", now_ts()), "finishedAt": now_ts()}}, False, started=False)
                    for c in containers]
                ks["stage"] = "done"
                self.set_status(POD, pod, st)
            else:
                self.schedule(ks["next"] - now, key)
            return

    def start_containers(self, pod, ks, st):
        md = pod["metadata"]
        ns, name, uid = md["namespace"], md["name"], md["uid"]
        spec = pod["spec"]
        node = spec.get("nodeName")
        containers = spec.get("containers") or []
        inits = spec.get("initContainers") or []
        key = ("pod", ns, name)
        now = time.time()
        st["startTime"] = st.get("startTime") or now_ts()
        if not st.get("podIP"):
            ip = self.alloc_pod_ip(node)
            st["podIP"] = ip
            st["podIPs"] = [{"ip": ip}]
        attempt = ks["pull_attempts"] = ks.get("pull_attempts", 0) + 1
        faults = {id(c): pull_fault(c.get("image"), attempt) for c in inits + containers}
        bad = [c for c in inits + containers if faults[id(c)]]
        if bad:
            img = bad[0].get("image")
            bad_init = any(c is bad[0] for c in inits)
            kind, err = faults[id(bad[0])]
            st["conditions"] = self.pod_conditions(pod, False, initialized=not (inits and bad_init), reason="ContainersNotReady",
                                                   message="containers with unready status: [%s]" % " ".join(c.get("name", "") for c in containers))
            if inits:
                st["initContainerStatuses"] = []
                for c in inits:
                    if faults[id(c)]:
                        s = self.container_status(c, {"waiting": {"reason": "ErrImagePull", "message": faults[id(c)][1]}}, False)
                    elif bad_init:
                        s = self.container_status(c, {"waiting": {"reason": "PodInitializing"}}, False)
                    else:
                        s = self.container_status(c, {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now_ts(), "finishedAt": now_ts()}}, True)
                    s["image_raw"] = c.get("image")
                    st["initContainerStatuses"].append(s)
            st["containerStatuses"] = []
            for c in containers:
                if faults[id(c)] and not bad_init:
                    s = self.container_status(c, {"waiting": {"reason": "ErrImagePull", "message": faults[id(c)][1]}}, False, started=False)
                else:
                    s = self.container_status(c, {"waiting": {"reason": "PodInitializing" if bad_init else "ContainerCreating"}}, False, started=False)
                s["image_raw"] = c.get("image")
                st["containerStatuses"].append(s)
            st["phase"] = "Pending"
            ks["stage"] = "pullerr"
            ks["bad_image"] = img
            ks["retry_pull"] = kind == "transient"
            ks["next"] = now + max(0.05, min(self.ready_delay, 1.0))
            clean = deepcopy(st)
            for cs in (clean.get("containerStatuses") or []) + (clean.get("initContainerStatuses") or []):
                cs.pop("image_raw", None)
            self.set_status(POD, pod, clean)
            self.event(pod, "Normal", "Pulling", 'Pulling image "%s"' % img, host=node)
            self.event(pod, "Warning", "Failed", 'Failed to pull image "%s": %s' % (img, err), host=node)
            self.event(pod, "Warning", "Failed", "Error: ErrImagePull", host=node)
            self.schedule(ks["next"] - now, key)
            return
        if inits:
            st["initContainerStatuses"] = [self.container_status(c, {"terminated": {
                "exitCode": 0, "reason": "Completed", "startedAt": now_ts(), "finishedAt": now_ts()}}, True) for c in inits]
        started_at = now_ts()
        ks["started_at"] = started_at
        st["phase"] = "Running"
        rp = spec.get("restartPolicy", "Always")
        crashers = [c.get("name") for c in containers if "crashloop" in (c.get("image") or "")]
        never = [c.get("name") for c in containers if "never-ready" in (c.get("image") or "")]
        statuses = []
        for c in containers:
            cname = c.get("name")
            if cname in crashers:
                statuses.append(self.container_status(c, {"waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": "back-off 10s restarting failed container=%s pod=%s_%s(%s)" % (cname, name, ns, uid)}},
                    False, restarts=1, last={"terminated": {"exitCode": 1, "reason": "Error", "startedAt": started_at,
                                                            "finishedAt": started_at}}, started=False))
            else:
                statuses.append(self.container_status(c, {"running": {"startedAt": started_at}},
                                                      cname not in never, started=True))
        st["containerStatuses"] = statuses
        unready = crashers + never
        if rp != "Always" and not crashers:
            unready = []
        st["conditions"] = self.pod_conditions(pod, not unready, reason="ContainersNotReady",
                                               message="containers with unready status: [%s]" % " ".join(unready))
        self.set_status(POD, pod, st)
        for c in inits + containers:
            self.event(pod, "Normal", "Pulled", 'Container image "%s" already present on machine' % c.get("image"), host=node)
            self.event(pod, "Normal", "Created", "Created container %s" % c.get("name"), host=node)
            self.event(pod, "Normal", "Started", "Started container %s" % c.get("name"), host=node)
        if crashers:
            ks["stage"] = "crash"
            ks["crashers"] = crashers
            ks["restarts"] = 1
            ks["next"] = now + self.crash_backoff
            for c in crashers:
                self.event(pod, "Warning", "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)" % (c, name, ns, uid), host=node)
            self.schedule(self.crash_backoff, key)
        elif rp != "Always":
            ks["stage"] = "job-running"
            ks["next"] = now + self.ready_delay
            self.schedule(self.ready_delay, key)
        else:
            ks["stage"] = "running"

    # ---------------------------------------------------------------- services
    def sync_svc(self, ns, name):
        svc = self.store.get(SVC, ns, name)
        ep = self.store.get(EP, ns, name)
        if svc is None:
            if ep is not None and (ep["metadata"].get("labels") or {}).get("endpoints.emulator/managed") != "false":
                self.delete(EP, ns, name)
            return
        sel = get_path(svc, "spec", "selector")
        if not sel:
            return
        reqs = [(k, "=", (v,)) for k, v in sel.items()]
        pods = [p for p in self.store.objs(POD, ns) if match_reqs(reqs, p["metadata"].get("labels"))
                and pod_active(p) and get_path(p, "status", "podIP")]
        pods.sort(key=lambda p: p["metadata"]["name"])
        ports = []
        for sp in get_path(svc, "spec", "ports") or []:
            tp = sp.get("targetPort", sp.get("port"))
            if isinstance(tp, str) and not tp.isdigit():
                resolved = None
                for p in pods:
                    for c in get_path(p, "spec", "containers") or []:
                        for cp in c.get("ports") or []:
                            if cp.get("name") == tp:
                                resolved = cp.get("containerPort")
                tp = resolved
            if tp is None:
                continue
            e = {"port": int(tp), "protocol": sp.get("protocol", "TCP")}
            if sp.get("name"):
                e["name"] = sp["name"]
            ports.append(e)
        addr = lambda p: {"ip": p["status"]["podIP"], "nodeName": p["spec"].get("nodeName"),
                          "targetRef": {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"],
                                        "uid": p["metadata"]["uid"]}}
        ready = [addr(p) for p in pods if pod_ready(p)]
        notready = [addr(p) for p in pods if not pod_ready(p)]
        subsets = []
        if (ready or notready) and ports:
            s = {}
            if ready:
                s["addresses"] = ready
            if notready:
                s["notReadyAddresses"] = notready
            s["ports"] = ports
            subsets.append(s)
        labels = dict(svc["metadata"].get("labels") or {})
        if ep is None:
            obj = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {
                "name": name, "namespace": ns,
                "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": now_ts()}}}
            if labels:
                obj["metadata"]["labels"] = labels
            if subsets:
                obj["subsets"] = subsets
            self.create(EP, obj)
        else:
            if ep.get("subsets", []) == subsets and (ep["metadata"].get("labels") or {}) == labels:
                return
            new = deepcopy(ep)
            if subsets:
                new["subsets"] = subsets
            else:
                new.pop("subsets", None)
            if labels:
                new["metadata"]["labels"] = labels
            self.save(EP, new)

    # -------------------------------------------------------------------- pvcs
    def claim_in_use(self, ns, claim):
        for p in self.store.objs(POD, ns):
            if get_path(p, "status", "phase") in ("Succeeded", "Failed"):
                continue
            for v in get_path(p, "spec", "volumes") or []:
                if get_path(v, "persistentVolumeClaim", "claimName") == claim:
                    return True
        return False

    def sync_pvc_all(self, ns, name):
        for p in self.store.objs(PVC):
            if get_path(p, "status", "phase") != "Bound":
                self.enqueue(("pvc", p["metadata"]["namespace"], p["metadata"]["name"]))

    def sync_pvc(self, ns, name):
        pvc = self.store.get(PVC, ns, name)
        if pvc is not None and pvc["metadata"].get("deletionTimestamp"):
            # pvc-protection controller: the finalizer goes once no pod uses the claim
            fins = pvc["metadata"].get("finalizers") or []
            if PVC_PROTECTION in fins and not self.claim_in_use(ns, name):
                new = deepcopy(pvc)
                rest = [f for f in fins if f != PVC_PROTECTION]
                if rest:
                    new["metadata"]["finalizers"] = rest
                    self.save(PVC, new)
                else:
                    new["metadata"].pop("finalizers", None)
                    self.save(PVC, new)
                    self.api._remove(self.rt[PVC], ns, name)
            return
        if pvc is None or get_path(pvc, "status", "phase") == "Bound":
            return
        spec = pvc.get("spec") or {}
        md = pvc["metadata"]
        if spec.get("volumeName"):
            pv = self.store.get(PV, None, spec["volumeName"])
            if pv is None:
                return
            self.bind(pvc, pv)
            return
        cls = spec.get("storageClassName")
        if not cls:
            self.event(pvc, "Normal", "FailedBinding", "no persistent volumes available for this claim and no storage class is set",
                       component="persistentvolume-controller")
            return
        sc = self.store.get(SC, None, cls)
        if sc is None:
            self.event(pvc, "Warning", "ProvisioningFailed", 'storageclass.storage.k8s.io "%s" not found' % cls,
                       component="persistentvolume-controller")
            return
        provisioner = sc.get("provisioner", "emulator/hostpath")
        pvname = "pvc-" + md["uid"]
        pv = self.store.get(PV, None, pvname)
        if pv is None:
            pv = {"apiVersion": "v1", "kind": "PersistentVolume",
                  "metadata": {"name": pvname, "annotations": {"pv.kubernetes.io/provisioned-by": provisioner},
                               "finalizers": []},
                  "spec": {"capacity": {"storage": get_path(spec, "resources", "requests", "storage") or "1Gi"},
                           "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                           "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy", "Delete"),
                           "storageClassName": cls, "volumeMode": spec.get("volumeMode", "Filesystem"),
                           "hostPath": {"path": "/var/lib/emulator/%s/%s" % (ns, name), "type": ""},
                           "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": name,
                                        "namespace": ns, "uid": md["uid"]}}}
            del pv["metadata"]["finalizers"]
            pv = self.create(PV, pv)
            self.event(pvc, "Normal", "ProvisioningSucceeded",
                       "Successfully provisioned volume %s using %s" % (pvname, provisioner),
                       component="persistentvolume-controller")
        self.bind(pvc, pv)

    def bind(self, pvc, pv):
        md = pvc["metadata"]
        npv = deepcopy(pv)
        npv["spec"]["claimRef"] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": md["name"],
                                   "namespace": md["namespace"], "uid": md["uid"]}
        npv["status"] = {"phase": "Bound"}
        if npv != pv:
            self.save(PV, npv)
        new = deepcopy(pvc)
        new["spec"]["volumeName"] = pv["metadata"]["name"]
        ann = new["metadata"].setdefault("annotations", {})
        ann["pv.kubernetes.io/bind-completed"] = "yes"
        ann["pv.kubernetes.io/bound-by-controller"] = "yes"
        new["status"] = {"phase": "Bound", "accessModes": get_path(pv, "spec", "accessModes") or [],
                         "capacity": get_path(pv, "spec", "capacity") or {}}
        self.save(PVC, new)

    def sync_pv_release(self, ns, name):
        pv = self.store.get(PV, None, name)
        if pv is None:
            return
        ref = get_path(pv, "spec", "claimRef") or {}
        if ref.get("namespace") and self.store.get(PVC, ref["namespace"], ref.get("name")) is not None:
            return
        if get_path(pv, "spec", "persistentVolumeReclaimPolicy") == "Delete":
            self.delete(PV, None, name)
        else:
            self.set_status(PV, pv, {"phase": "Released"})

    # -------------------------------------------------------------- namespaces
    def sync_ns(self, ns, name):
        nsobj = self.store.get(NS, None, name)
        if nsobj is None:
            return
        if nsobj["metadata"].get("deletionTimestamp"):
            if self.not_before(("nsdel", nsobj["metadata"]["uid"]), self.ns_finalize_delay, ("ns", None, name)):
                return
            for rt in list(self.reg.by_key.values()):
                if not rt.namespaced:
                    continue
                for obj in self.store.objs(rt.key, name):
                    try:
                        self.api.delete(rt, name, obj["metadata"]["name"], "Background", internal=True)
                    except ApiError:
                        pass
                    o = self.store.get(rt.key, name, obj["metadata"]["name"])
                    if o is not None:  # finalizers: force removal
                        self.api._remove(rt, name, obj["metadata"]["name"])
            if nsobj["metadata"].get("finalizers"):
                return  # a real server keeps it Terminating until its finalizers are removed
            self.api._remove(self.rt[NS], None, name)
            return
        if self.store.get(SA, name, "default") is None:
            try:
                self.create(SA, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name}})
            except ApiError:
                pass
        if not getattr(self.opts, "no_root_ca_configmap", False) and self.store.get(CM, name, "kube-root-ca.crt") is None:
            try:
                self.create(CM, {"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": "kube-root-ca.crt", "namespace": name,
                                              "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
                                 "data": {"ca.crt": getattr(self.opts, "ca_pem", "") or "emulator"}})
            except ApiError:
                pass

    # ---------------------------------------------------------------------- gc
    def sync_gc(self, ns, uid):
        for child in self.store.children_of(uid):
            refs = child["metadata"].get("ownerReferences") or []
            alive = [r for r in refs if r.get("uid") != uid and self.store.by_uid.get(r.get("uid"))]
            rt = self.api.rt_for_obj(child)
            if rt is None:
                continue
            md = child["metadata"]
            if not alive:
                try:
                    self.api.delete(rt, md.get("namespace"), md["name"], "Background", internal=True)
                except ApiError:
                    pass
            elif len(alive) != len(refs):
                new = deepcopy(child)
                new["metadata"]["ownerReferences"] = alive
                self.save(rt.key, new)
