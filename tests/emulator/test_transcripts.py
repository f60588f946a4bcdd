"""Replay the kube-apiserver 1.19 transcripts against the kube-emulator and compare.

The transcripts (../shared/apiserver-transcripts/*.json beside the clone, or the folder
named by RK_TRANSCRIPTS) were recorded from a real kube-apiserver with its controller
manager; their README explains the format. Every scenario is one test method here. Each
runs against a freshly started emulator, in fresh namespaces standing for `NS`/`NS2`.

What is compared (after normalising both sides the way the transcripts README says):
status codes; Status kind/status/reason/message/details (causes included); the shape of
`managedFields` (manager, operation, apiVersion, subresource, fieldsV1 keys, in order);
identity facts (a placeholder such as <rv1> must stand for one emulator value, and one
emulator value for one placeholder: so a no-op apply that writes is caught); selected
object content (labels, annotations, finalizers, data, deletion marks, the pod
template's containers and volumes); list item names and paging metadata; watch event
types and how the stream ended. Timing-dependent steps (timelines, polls) are compared
on ordering facts, not on exact rows.

A step that differs fails the test unless it is listed in
tests/emulator/transcript_known_differences.json with its reason; that list mirrors the
README section "Known differences from a real kube-apiserver (checked against the
transcripts)" of tests/kube-emulator/README.md (checked below). A listed difference
that no longer occurs fails too, so the list stays true.
"""
import glob
import http.client
import json
import os
import re
import socket
import threading
import time
import unittest
import uuid

from emuharness import ADMIN, ROOT, VIEWER, Emulator

HERE = os.path.dirname(os.path.abspath(__file__))
KNOWN_FILE = os.path.join(HERE, "transcript_known_differences.json")
EMU_README = os.path.join(ROOT, "tests", "kube-emulator", "README.md")
UA = "tr-recorder/1.0"
PLACEHOLDER = re.compile(r"<(uid|rv|continue|ip|hash|sfx|pv)(\d+)>")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def transcripts_dir():
    env = os.environ.get("RK_TRANSCRIPTS")
    if env:
        return env
    src = os.environ.get("RK_SOURCE_DIR") or ROOT
    return os.path.join(os.path.dirname(os.path.abspath(src)), "shared", "apiserver-transcripts")


TDIR = transcripts_dir()
FILES = sorted(glob.glob(os.path.join(TDIR, "*.json")))


def load_known():
    with open(KNOWN_FILE) as f:
        return json.load(f)


# ---------------------------------------------------------------- alignment / normalising

class Mapper:
    """Bidirectional placeholder <-> emulator value map for one scenario."""

    def __init__(self, ns_map):
        self.ns_map = ns_map          # real namespace -> "NS"/"NS2"
        self.server = None            # the emulator's host:port (recorded as <server>)
        self.fwd = {}                 # "<rv1>" -> "1234"
        self.back = {}                # "1234" -> "<rv1>"  (per class)
        self.conflicts = []
        self.aliases = {}

    def bind(self, ph, raw, where, weak=False):
        cls = PLACEHOLDER.match(ph).group(1)
        if weak:
            # a list's resourceVersion is the store's current revision: on the rig other
            # namespaces' writes moved it, here nothing else writes, so only bind forwards
            self.fwd.setdefault(ph, raw)
            self.back.setdefault((cls, raw), ph)
            return
        if ph in self.fwd and self.fwd[ph] != raw:
            self.conflicts.append("%s: %s stood for %r, now %r" % (where, ph, self.fwd[ph], raw))
            return
        key = (cls, raw)
        if key in self.back and self.back[key] != ph:
            self.conflicts.append("%s: emulator value %r was %s, transcript now says %s"
                                  % (where, raw, self.back[key], ph))
            return
        self.fwd[ph] = raw
        self.back[key] = ph

    def align(self, rec, emu, where=""):
        """Walk the recorded and the emulator's answers in parallel, binding placeholders."""
        if isinstance(rec, dict) and isinstance(emu, dict):
            if isinstance(rec.get("items"), list) and isinstance(rec.get("metadata"), dict) and \
                    isinstance(emu.get("metadata"), dict):
                rv, erv = rec["metadata"].get("resourceVersion"), emu["metadata"].get("resourceVersion")
                if isinstance(rv, str) and PLACEHOLDER.fullmatch(rv) and isinstance(erv, str):
                    self.bind(rv, erv, where, weak=True)
                rec = dict(rec, metadata={k: v for k, v in rec["metadata"].items() if k != "resourceVersion"})
            for k, v in rec.items():
                ek = self.key_for(k, emu)
                if ek is not None:
                    self.align(v, emu[ek], where + "." + k)
            return
        if isinstance(rec, list) and isinstance(emu, list):
            for a, b in zip(rec, emu):
                self.align(a, b, where + "[]")
            return
        if isinstance(rec, str) and isinstance(emu, str) and PLACEHOLDER.search(rec):
            self.align_str(rec, emu, where)

    def key_for(self, k, emu):
        if k in emu:
            return k
        if PLACEHOLDER.search(k):
            pat = self.pattern(k)
            for ek in emu:
                if re.fullmatch(pat, ek):
                    m = re.fullmatch(pat, ek)
                    for ph, raw in zip(PLACEHOLDER.findall(k), m.groups()):
                        self.bind("<%s%s>" % ph, raw, "key")
                    return ek
        return None

    @staticmethod
    def pattern(s):
        out, pos = "", 0
        for m in PLACEHOLDER.finditer(s):
            out += re.escape(s[pos:m.start()]) + "(.+?)"
            pos = m.end()
        return out + re.escape(s[pos:])

    def align_str(self, rec, emu, where):
        m = re.fullmatch(self.pattern(rec), emu)
        if not m:
            return
        before = len(self.conflicts)
        for ph, raw in zip(PLACEHOLDER.finditer(rec), m.groups()):
            self.bind(ph.group(0), raw, where)
        if len(self.conflicts) == before:
            # e.g. "too old resource version: 1 (<rv5>)": the same text, once normalised
            self.aliases[emu] = rec

    def norm(self, v):
        """The emulator's value with known values replaced by placeholders, times by <time>."""
        if isinstance(v, dict):
            return {self.norm_str(k): self.norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self.norm(x) for x in v]
        if isinstance(v, str):
            return self.norm_str(v)
        return v

    def norm_str(self, s):
        if s in self.aliases:
            return self.aliases[s]
        if TIME_RE.match(s):
            return "<time>"
        if self.server and s == self.server:
            return "<server>"
        for rig, emu in IMAGES.items():
            if s == emu:
                return rig
        for real, ph in self.ns_map.items():
            s = re.sub(r"\b%s\b" % re.escape(real), ph, s)
        for (cls, raw), ph in sorted(self.back.items(), key=lambda kv: -len(kv[0][1])):
            if s == raw:
                return ph
            if cls in ("uid", "hash", "sfx", "pv", "ip", "continue") and len(raw) >= 5:
                s = s.replace(raw, ph)
        return s

    def subst(self, s):
        """A recorded request path/body with placeholders replaced by the emulator's values."""
        for rig, emu in IMAGES.items():
            s = s.replace('"%s"' % rig, '"%s"' % emu)
        for ph, raw in self.fwd.items():
            s = s.replace(ph, raw)
        for real, ph in sorted(self.ns_map.items(), key=lambda kv: -len(kv[1])):
            s = re.sub(r"(?<=/namespaces/)%s(?=/|$|\?)" % ph, real, s)
            s = re.sub(r'(?<="namespace": ")%s(?=")' % ph, real, s)
        return s


def mf_shape(mf, sort_updates):
    out = []
    for e in mf or []:
        out.append({"manager": e.get("manager"), "operation": e.get("operation"),
                    "apiVersion": e.get("apiVersion"), "subresource": e.get("subresource"),
                    "fieldsV1": e.get("fieldsV1")})
    if sort_updates:
        applies = [e for e in out if e["operation"] == "Apply"]
        updates = sorted((e for e in out if e["operation"] != "Apply"), key=lambda e: e["manager"] or "")
        out = applies + updates
    return out


def project_obj(o, sort_updates):
    """The parts of an object the comparison looks at."""
    if not isinstance(o, dict):
        return o
    md = o.get("metadata") or {}
    p = {"kind": o.get("kind"), "apiVersion": o.get("apiVersion")}
    for k in ("name", "namespace", "uid", "resourceVersion", "generation", "labels", "annotations",
              "finalizers", "deletionGracePeriodSeconds", "ownerReferences"):
        if k in md:
            p[k] = md[k]
    if "deletionTimestamp" in md:
        p["deleting"] = True
    if "managedFields" in md:
        p["managedFields"] = mf_shape(md["managedFields"], sort_updates)
    for k in ("data", "stringData", "binaryData"):
        if k in o:
            p[k] = o[k]
    spec = o.get("spec") or {}
    tspec = (spec.get("template") or {}).get("spec")
    if tspec is not None:
        p["template.containers"] = [
            {k: c.get(k) for k in ("name", "image", "env", "volumeMounts") if k in c}
            for c in tspec.get("containers") or []]
        if "volumes" in tspec:
            p["template.volumes"] = tspec["volumes"]
        p["template.labels"] = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    if o.get("kind") == "PersistentVolumeClaim":
        p["spec"] = {k: spec.get(k) for k in ("storageClassName", "resources", "volumeName")}
    if o.get("kind") in ("Deployment", "ReplicaSet") and "selector" in spec:
        p["selector"] = spec["selector"]
    return p


def project_body(body, sort_updates, unordered_items=False):
    if not isinstance(body, dict):
        return body
    if body.get("kind") == "Status":
        return body
    if isinstance(body.get("items"), list) and (body.get("kind") or "").endswith("List"):
        md = body.get("metadata") or {}
        items = [project_obj(dict(i, kind=None, apiVersion=None), sort_updates) for i in body["items"]]
        if unordered_items:
            items.sort(key=lambda i: i.get("name") or "")
        # (the list's own resourceVersion is the store revision: on the rig other
        # namespaces' writes moved it, so it is not compared)
        return {"kind": body.get("kind"),
                "continue": md.get("continue"), "remainingItemCount": md.get("remainingItemCount"),
                "items": items}
    if "metadata" in body:
        return project_obj(body, sort_updates)
    # discovery documents and other bodies: compared whole
    return body


def diff(a, b, path=""):
    """First few differences between recorded a and emulator b, as strings."""
    out = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in b:
                out.append("%s.%s: recorded %s, emulator has none" % (path, k, short(a[k])))
            elif k not in a:
                out.append("%s.%s: emulator has %s, recorded none" % (path, k, short(b[k])))
            else:
                out += diff(a[k], b[k], path + "." + k)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            out += diff(x, y, "%s[%d]" % (path, i))
        return out
    if a != b:
        out.append("%s: recorded %s, emulator %s" % (path or "<body>", short(a), short(b)))
    return out


def short(v):
    s = json.dumps(v, sort_keys=True)
    return s if len(s) <= 400 else s[:400] + "..."


# ---------------------------------------------------------------- timeline / poll facts

def row_of(kind, ev_type, o):
    md = o.get("metadata") or {}
    st = o.get("status") or {}
    spec = o.get("spec") or {}
    r = {"kind": kind, "name": md.get("name"), "type": ev_type}
    if kind in ("Deployment", "ReplicaSet"):
        r.update(generation=md.get("generation"), observedGeneration=st.get("observedGeneration"),
                 revision=(md.get("annotations") or {}).get("deployment.kubernetes.io/revision"),
                 specReplicas=spec.get("replicas"), replicas=st.get("replicas", 0),
                 ready=st.get("readyReplicas", 0), available=st.get("availableReplicas", 0))
        if kind == "Deployment":
            r["updated"] = st.get("updatedReplicas", 0)
            r["conditions"] = ["%s=%s/%s" % (c.get("type"), c.get("status"), c.get("reason"))
                               for c in st.get("conditions") or []]
    else:
        ready = None
        for c in st.get("conditions") or []:
            if c.get("type") == "Ready":
                ready = c.get("status")
        cs = []
        restarts = 0
        for c in st.get("containerStatuses") or []:
            state = c.get("state") or {}
            for k, v in state.items():
                cs.append(k + (":" + v["reason"] if isinstance(v, dict) and v.get("reason") and k == "waiting" else ""))
            restarts += c.get("restartCount", 0)
        r.update(phase=st.get("phase"), ready=ready, containers=cs, restarts=restarts)
    r["deleting"] = "deletionTimestamp" in md
    return r


def compact(rows):
    out, last = [], {}
    for r in rows:
        key = (r["kind"], r["name"])
        state = {k: v for k, v in r.items() if k != "type"}
        if r["type"] in ("ADDED", "DELETED") or last.get(key) != state:
            out.append(r)
        last[key] = state
    return out


def timeline_facts(rows):
    """Ordering facts of a Deployment rollout timeline (same function for both sides)."""
    facts = {}
    deps = [(i, r) for i, r in enumerate(rows) if r["kind"] == "Deployment"]
    if not deps:
        return {"deployment rows": 0}
    gens = []
    for _, r in deps:
        if r["generation"] not in gens:
            gens.append(r["generation"])
    for g in gens:
        rs = [(i, r) for i, r in deps if r["generation"] == g]
        first = rs[0][1]
        facts["generation %s: first row has observedGeneration < generation" % g] = \
            first["observedGeneration"] is None or first["observedGeneration"] < g
        facts["generation %s: observedGeneration catches up" % g] = \
            any(r["observedGeneration"] == g for _, r in rs)
        # the controller writes the new revision annotation before it writes the status
        # that observes the generation (two writes, so a reader can see one without the other)
        first_rev = rs[0][1]["revision"]
        facts["generation %s: the revision moves while observedGeneration still lags" % g] = any(
            r["revision"] != first_rev and (r["observedGeneration"] is None or r["observedGeneration"] < g)
            for _, r in rs)
    start_rev = deps[0][1]["revision"]
    seen = [start_rev]
    for i, r in deps:
        rev = r["revision"]
        if rev in seen:
            continue
        seen.append(rev)
        rs_rows = [j for j, x in enumerate(rows) if x["kind"] == "ReplicaSet" and x["revision"] == rev]
        facts["revision %s: a ReplicaSet carries it before the Deployment does" % rev] = \
            bool(rs_rows) and rs_rows[0] < i
    last = deps[-1][1]
    facts["final Deployment: observedGeneration == generation"] = last["observedGeneration"] == last["generation"]
    facts["final Deployment: conditions"] = last["conditions"]
    facts["final Deployment: replicas/updated/ready"] = (last["replicas"], last["updated"], last["ready"])
    pods_deleted = sorted({r["name"] for r in rows if r["kind"] == "Pod" and r["type"] == "DELETED"})
    facts["pods deleted"] = len(pods_deleted)
    return facts


def poll_state(status, body, keys):
    if status == 404:
        return {"status": 404}
    md = body.get("metadata") or {}
    st = body.get("status") or {}
    s = {}
    for k in keys:
        if k == "finalizers":
            s[k] = md.get("finalizers")
        elif k == "deleting":
            s[k] = "deletionTimestamp" in md
        elif k == "replicas":
            s[k] = st.get("replicas", 0)
        elif k == "phase":
            s[k] = st.get("phase")
        elif k == "conditions":
            s[k] = ["%s=%s" % (c.get("type"), c.get("status")) for c in st.get("conditions") or []]
        elif k == "status":
            continue
        else:
            s[k] = body.get(k)
    return s


def is_subsequence(small, big):
    it = iter(big)
    return all(any(x == y for y in it) for x in small)


# ---------------------------------------------------------------- per-scenario setup

def apply_body(kind, api, name, spec_yaml):
    return 'apiVersion: "%s"\nkind: "%s"\nmetadata:\n  name: "%s"\n%s' % (api, kind, name, spec_yaml)


def deployment_yaml(name, image="nginx"):
    return apply_body("Deployment", "apps/v1", name,
                      "spec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: \"%s\"\n"
                      "  template:\n    metadata:\n      labels:\n        app: \"%s\"\n    spec:\n"
                      "      containers:\n        - name: \"app\"\n          image: \"%s\"" % (name, name, image))


def setup_08(t):
    for i in range(1, 8):
        t.call("POST", "/api/v1/namespaces/%s/configmaps" % t.ns["NS"],
               {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-%d" % i}, "data": {"n": str(i)}})


def setup_11(t):
    ns = t.ns["NS"]
    for name in ("fg", "bg"):
        t.call("PATCH", "/apis/apps/v1/namespaces/%s/deployments/%s?fieldManager=a" % (ns, name),
               deployment_yaml(name), "application/apply-patch+yaml")
    t.call("PATCH", "/api/v1/namespaces/%s/pods/solo?fieldManager=a" % ns,
           apply_body("Pod", "v1", "solo", 'spec:\n  containers:\n    - name: "app"\n      image: "nginx"'),
           "application/apply-patch+yaml")
    t.call("PATCH", "/api/v1/namespaces/%s/configmaps/old?fieldManager=a" % t.ns["NS2"],
           apply_body("ConfigMap", "v1", "old", 'data:\n  k: "v"'), "application/apply-patch+yaml")

    def ready():
        for name in ("fg", "bg"):
            st, _, b = t.call("GET", "/apis/apps/v1/namespaces/%s/deployments/%s" % (ns, name))
            if (b.get("status") or {}).get("availableReplicas") != 1:
                return False
        st, _, b = t.call("GET", "/api/v1/namespaces/%s/pods/solo" % ns)
        return (b.get("status") or {}).get("phase") == "Running"
    t.emu.wait_for(ready, timeout=20, msg="fg, bg and solo ready")


def setup_13(t):
    # The rig's Endpoints stayed empty (simulated pods had loopback addresses); here the
    # same state is reached with no pods behind the selector.
    ns = t.ns["NS"]
    for name, extra in (("web", ""), ("web-headless", '  clusterIP: "None"\n')):
        t.call("PATCH", "/api/v1/namespaces/%s/services/%s?fieldManager=a" % (ns, name),
               apply_body("Service", "v1", name, 'spec:\n%s  selector:\n    app: "web"\n  ports:\n'
                          '    - name: "http"\n      port: 80\n      protocol: "TCP"\n' % extra),
               "application/apply-patch+yaml")
    t.emu.settle()


SETUP = {"list-pagination": setup_08, "deletion": setup_11, "service-proxy-http": setup_13}
# Steps the recording sent with other credentials (the notes say which).
TOKENS = {("errors", 11): VIEWER, ("errors", 12): VIEWER, ("errors", 13): "no-such-token"}
# Per-scenario rig state: in ssa-remove-owned-items the controller manager never acted on
# the Deployment (no revision annotation, no kube-controller-manager entry in any answer),
# so the replay holds the emulator's deployment controller back for the whole scenario
# instead of depending on how fast this machine runs the steps.
EMU_ARGS = {"ssa-remove-owned-items": ["--controller-delay", "60", "--controller-delay-new", "60"]}
# Steps the recorder took only once a controller had acted (the step's note says so).
WAIT_BEFORE = {("immutable-fields", 3): ("/api/v1/namespaces/NS/persistentvolumeclaims/data", "status", "phase", "Bound")}
# Scenarios whose recorder let Deployment rollouts finish between steps (its answers show
# the controller's revision annotation and available replicas before the next write).
WAIT_ROLLOUTS = {"update-then-apply-same-manager-name"}
# The rig's stand-in kubelet crash-looped images containing "crash"; the emulator's
# kubelet does that for images containing "crashloop" (its failure-mode convention).
IMAGES = {"ros:noetic-crash": "ros:noetic-crashloop"}
# The recording's viewer user was named "viewer"; the emulator's is "emulator-viewer".
USER_NAMES = {"emulator-viewer": "viewer"}


# ---------------------------------------------------------------- the replay

class Replay:
    def __init__(self, tc, scenario, data):
        self.tc = tc
        self.scenario = scenario
        self.data = data
        self.timing = bool(data.get("timing_dependent"))
        # The rig: kube-apiserver 1.19 (no kube-root-ca.crt publisher, that came with 1.20),
        # a stand-in kubelet marking pods Ready after ~0.5 s, namespaces finalised after ~5 s
        # (2 s here: long enough for the steps that write into a terminating namespace).
        args = ["--no-root-ca-configmap", "--namespace-finalize-delay", "2"] + EMU_ARGS.get(scenario, [])
        self.emu = Emulator(*args, ready_delay=0.5)
        suffix = uuid.uuid4().hex[:6]
        self.ns = {"NS": "tr-%s" % suffix, "NS2": "tr2-%s" % suffix}
        self.mapper = Mapper({v: k for k, v in self.ns.items()})
        self.mapper.server = "%s:%d" % (self.emu.host, self.emu.port)
        self.diffs = {}       # step index -> [diff strings]
        self.watches = None

    def call(self, method, path, body=None, ctype=None, token=ADMIN, accept="application/json"):
        hdrs = {"User-Agent": UA, "Accept": accept}
        return self.emu.request(method, path, body, ctype=ctype, token=token, headers=hdrs)

    def run(self):
        uses_ns2 = "NS2" in json.dumps(self.data["steps"])
        for ph in ("NS", "NS2") if uses_ns2 else ("NS",):
            st, _, b = self.call("POST", "/api/v1/namespaces",
                                 {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.ns[ph]}})
            assert st == 201, (st, b)
        if self.scenario in SETUP:
            SETUP[self.scenario](self)
        steps = self.data["steps"]
        watch_before = {}
        for j, step in enumerate(steps):
            if "timeline" in step:
                k = j - 1
                while k >= 0 and "request" in steps[k] and steps[k]["request"]["method"] == "GET":
                    k -= 1
                if k >= 0 and "request" in steps[k]:
                    watch_before[k] = step
        for i, step in enumerate(steps):
            if i in watch_before:
                self.start_watches(watch_before[i])
            try:
                if "timeline" in step:
                    self.timeline(i, step)
                elif "poll" in step:
                    self.poll(i, step)
                elif "events" in step.get("response", {}):
                    self.watch(i, step)
                else:
                    self.request(i, step)
            except Exception as e:  # a crash in one step is that step's difference
                self.diffs.setdefault(i, []).append("replay error: %r" % (e,))
        if self.mapper.conflicts:
            self.diffs.setdefault("identity", []).extend(self.mapper.conflicts)

    def stop(self):
        if self.watches:
            for w in self.watches:
                w[0].close()
        self.emu.stop()

    def note(self, i, lines):
        if lines:
            self.diffs.setdefault(i, []).extend(lines)

    # -- plain request/response steps
    def request(self, i, step):
        req = step["request"]
        path = self.mapper.subst(req["path"])
        body = req.get("body")
        ctype = req.get("headers", {}).get("Content-Type")
        if body is not None:
            body = self.mapper.subst(body if isinstance(body, str) else json.dumps(body))
        if self.scenario in WAIT_ROLLOUTS:
            self.wait_rollouts()
        if (self.scenario, i) in WAIT_BEFORE:
            wpath, k1, k2, want = WAIT_BEFORE[(self.scenario, i)]
            wpath = self.mapper.subst(wpath)
            try:
                self.emu.wait_for(lambda: (self.call("GET", wpath)[2].get(k1) or {}).get(k2) == want, timeout=10)
            except AssertionError:
                pass
        token = TOKENS.get((self.scenario, i), ADMIN)
        st, r, got = self.call(req["method"], path, body, ctype=ctype, token=token,
                               accept=req.get("headers", {}).get("Accept", "application/json"))
        if isinstance(got, bytes):
            got = got.decode("utf-8", "replace")
        self.compare_response(i, step["response"], st, got)

    def compare_response(self, i, rec, st, got):
        out = []
        if rec["status"] != st:
            out.append("status: recorded %d, emulator %d" % (rec["status"], st))
        rbody = rec.get("body")
        self.mapper.align(rbody, got, "step %d" % i)
        g = self.mapper.norm(got)
        if isinstance(g, dict) and g.get("kind") == "Status" and isinstance(g.get("message"), str):
            for emu_user, rec_user in USER_NAMES.items():
                g["message"] = g["message"].replace('User "%s"' % emu_user, 'User "%s"' % rec_user)
        unordered = "order" in (self.data["steps"][i].get("note") or "") and "varies" in (
            self.data["steps"][i].get("note") or "")
        out += diff(project_body(rbody, self.timing, unordered), project_body(g, self.timing, unordered))
        self.note(i, out)

    def wait_rollouts(self, timeout=5):
        def done():
            st, _, b = self.call("GET", "/apis/apps/v1/namespaces/%s/deployments" % self.ns["NS"])
            for d in b.get("items") or []:
                s_ = d.get("status") or {}
                want = (d.get("spec") or {}).get("replicas", 1)
                if s_.get("observedGeneration") != d["metadata"].get("generation") or \
                        s_.get("updatedReplicas", 0) != want or s_.get("availableReplicas", 0) != want or \
                        s_.get("replicas", 0) != want:
                    return False
            return True
        try:
            self.emu.wait_for(done, timeout=timeout, interval=0.05)
        except AssertionError:
            pass
        self.emu.settle(timeout=2)

    # -- watch steps (a stream read for at most the recorder's 2 s client limit)
    def watch(self, i, step):
        req = step["request"]
        path = self.mapper.subst(req["path"])
        c = http.client.HTTPConnection(self.emu.host, self.emu.port, timeout=15)
        c.request("GET", path, headers={"User-Agent": UA, "Accept": "application/json",
                                        "Authorization": "Bearer " + ADMIN})
        r = c.getresponse()
        rec = step["response"]
        out = []
        if r.status != rec["status"]:
            out.append("status: recorded %d, emulator %d" % (rec["status"], r.status))
        events, ended = [], "server closed the stream"
        limit = 2.0 if "2 s" in rec.get("ended", "") else 15.0
        lines, done = [], threading.Event()

        def reader():
            try:
                while True:
                    line = r.readline()
                    if not line:
                        break
                    lines.append(json.loads(line))
            except Exception:
                pass
            done.set()
        th = threading.Thread(target=reader, daemon=True)
        th.start()
        if r.status == 200:
            if not done.wait(limit):
                ended = "client stopped"
        else:
            done.wait(limit)
        try:
            c.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass
        th.join(2)
        for ev in list(lines) if r.status == 200 else []:
            if ev.get("type") == "BOOKMARK" and not any(e.get("type") == "BOOKMARK" for e in rec["events"]):
                out.append("emulator sent a BOOKMARK event the recording did not get")
                continue
            events.append(ev)
        c.close()
        rec_end = "client stopped" if rec.get("ended", "").startswith("client") else "server closed the stream"
        if rec_end != ended:
            out.append("stream end: recorded %r, emulator %r" % (rec.get("ended"), ended))
        self.mapper.align(rec["events"], events, "step %d" % i)
        got = [{"type": e.get("type"), "object": project_body(self.mapper.norm(e.get("object")), self.timing)}
               for e in events]
        want = [{"type": e.get("type"), "object": project_body(e.get("object"), self.timing)} for e in rec["events"]]
        if len(got) != len(want):
            out.append("events: recorded %d %s, emulator %d %s" % (
                len(want), [w["type"] for w in want], len(got), [g["type"] for g in got]))
        else:
            out += diff(want, got, "events")
        self.note(i, out)

    # -- timelines: watches on Deployments, ReplicaSets and Pods from just before the write
    def start_watches(self, tl):
        self.watches = []
        for p in tl["watch"]:
            path = self.mapper.subst(p)
            base = path.split("?")[0]
            st, _, lst = self.call("GET", base)
            rv = lst["metadata"]["resourceVersion"]
            c = http.client.HTTPConnection(self.emu.host, self.emu.port, timeout=60)
            c.request("GET", "%s?watch=1&resourceVersion=%s&timeoutSeconds=60" % (base, rv),
                      headers={"User-Agent": UA, "Authorization": "Bearer " + ADMIN})
            r = c.getresponse()
            self.watches.append((c, r, base.rsplit("/", 1)[1]))

    def timeline(self, i, step):
        import threading
        m = re.search(r"\((\d+) s\)", step["timeline"])
        window = float(m.group(1)) if m else 5.0
        kinds = {"deployments": "Deployment", "replicasets": "ReplicaSet", "pods": "Pod"}
        evs = []
        lock = threading.Lock()

        def reader(c, r, res):
            try:
                while True:
                    line = r.readline()
                    if not line:
                        return
                    ev = json.loads(line)
                    o = ev.get("object") or {}
                    rv = int((o.get("metadata") or {}).get("resourceVersion") or 0)
                    with lock:
                        evs.append((rv, time.time(), kinds[res], ev["type"], o))
            except Exception:
                return
        threads = [threading.Thread(target=reader, args=w, daemon=True) for w in self.watches]
        for t in threads:
            t.start()
        target = [r for r in step["rows"] if r["kind"] == "Deployment"][-1]
        end = time.time() + window + 2
        while time.time() < end:
            time.sleep(0.2)
            with lock:
                rows = compact([row_of(k, t, o) for _, _, k, t, o in sorted(evs, key=lambda e: e[0])])
            deps = [r for r in rows if r["kind"] == "Deployment"]
            quiet = not evs or time.time() - max(e[1] for e in evs) > 1.0
            if deps and deps[-1]["conditions"] == target["conditions"] and \
                    deps[-1]["observedGeneration"] == deps[-1]["generation"] and quiet:
                # the recording's end state was reached and nothing moved for 1 s
                pods_gone = sum(1 for r in step["rows"] if r["kind"] == "Pod" and r["type"] == "DELETED")
                if sum(1 for r in rows if r["kind"] == "Pod" and r["type"] == "DELETED") >= pods_gone:
                    break
        for c, r, _ in self.watches:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        self.watches = None
        with lock:
            rows = compact([row_of(k, t, o) for _, _, k, t, o in sorted(evs, key=lambda e: e[0])])
        want = timeline_facts(step["rows"])
        got = timeline_facts(rows)
        out = diff(want, got, "facts")
        if out:
            out.append("emulator rows: " + short([{k: v for k, v in r.items() if k in (
                "kind", "type", "generation", "observedGeneration", "revision", "conditions", "phase")}
                for r in rows]))
        self.note(i, out)

    def poll(self, i, step):
        method, path = step["poll"].split()[:2]
        path = self.mapper.subst(path)
        keys = []
        for s in step["states"]:
            for k in s:
                if k not in keys:
                    keys.append(k)
        final = step["states"][-1]
        limit = max(10.0, 3 * float(step.get("reached_after_s") or 0))
        end = time.time() + limit
        states = []
        while time.time() < end:
            st, _, b = self.call(method, path)
            s = poll_state(st, b if isinstance(b, dict) else {}, keys)
            if not states or states[-1] != s:
                states.append(s)
            if s == final:
                break
            time.sleep(0.1)
        out = []
        if states[-1] != final:
            out.append("poll did not reach %s within %.0f s; states %s" % (short(final), limit, short(states)))
        elif not is_subsequence(states, step["states"]):
            out.append("poll states %s are not a subsequence of the recorded %s" % (short(states), short(step["states"])))
        self.note(i, out)


class TestTranscripts(unittest.TestCase):
    maxDiff = None

    def replay(self, fname):
        with open(fname) as f:
            data = json.load(f)
        scenario = data["scenario"]
        known = load_known().get(scenario, [])
        rp = Replay(self, scenario, data)
        try:
            rp.run()
        finally:
            rp.stop()
        problems = []
        used = set()
        for step, lines in sorted(rp.diffs.items(), key=lambda kv: str(kv[0])):
            left = []
            for line in lines:
                hit = None
                for n, k in enumerate(known):
                    if str(k["step"]) == str(step) and (not k.get("match") or re.search(k["match"], line)):
                        hit = n
                        break
                if hit is None:
                    left.append(line)
                else:
                    used.add(hit)
            if left:
                problems.append("%s step %s (%s) differs from the recording:\n    %s" % (
                    scenario, step, self.describe(data, step), "\n    ".join(left)))
        for n, k in enumerate(known):
            if n not in used and not k.get("timing"):
                problems.append("%s step %s is listed as a known difference (%s) but now matches: "
                                "remove it from %s and the README" % (scenario, k["step"], k["reason"], KNOWN_FILE))
        if problems:
            self.fail("\n".join(problems))
        if used:
            print("\n%s: %d listed known difference(s) seen" % (scenario, len(used)))

    @staticmethod
    def describe(data, step):
        if not isinstance(step, int):
            return "placeholder identity"
        s = data["steps"][step]
        if "request" in s:
            return "%s %s" % (s["request"]["method"], s["request"]["path"])
        return s.get("timeline") or s.get("poll") or "?"


class TestKnownDifferencesList(unittest.TestCase):
    def test_list_mirrors_readme(self):
        """Every allow-listed step is in the README section, with its scenario name."""
        known = load_known()
        with open(EMU_README) as f:
            text = f.read()
        title = "## Known differences from a real kube-apiserver (checked against the transcripts)"
        self.assertIn(title, text)
        section = text.split(title, 1)[1].split("\n## ", 1)[0]
        for scenario, entries in known.items():
            if scenario.startswith("_"):
                continue
            for k in entries:
                self.assertTrue(k["reason"].strip(), "%s step %s: empty reason" % (scenario, k["step"]))
                self.assertIn("`%s` step %s" % (scenario, k["step"]), section,
                              "README section lacks `%s` step %s" % (scenario, k["step"]))


def _make(fname):
    def test(self):
        self.replay(fname)
    return test


if FILES:
    for _f in FILES:
        _name = "test_" + re.sub(r"\W", "_", os.path.basename(_f)[:-5])
        setattr(TestTranscripts, _name, _make(_f))
else:
    @unittest.skip("transcripts folder %s is absent (set RK_TRANSCRIPTS)" % TDIR)
    def test_transcripts_absent(self):
        pass
    TestTranscripts.test_transcripts_absent = test_transcripts_absent


if __name__ == "__main__":
    unittest.main()
