-- Rollout policy on top of the C evaluation primitives (rigelk8s.rollout_core):
-- wait for many objects at once on one set of watches, follow the pods that belong to
-- each workload, diagnose failures the moment they show, and kubectl-style history,
-- undo, pause, resume and restart.
--
--   local rollout = require "rigelk8s.rollout"
--   local result = rollout.wait(client, objects, {timeout = 300, fail_fast = "any",
--                                                 on_progress = function(rows) end})
--   -- result.state: "ready" | "failed" | "timeout" | "interrupted"
--   -- result.targets[i]: {namespace, kind, name, state, message, diagnosis, terminal},
--   --   in the order of objects; state "ready" | "failed" | "timeout" | "interrupted" |
--   --   "pending" (not waited for to the end: the wait stopped on another target)
--   -- result.rows: the same targets as progress rows {name, kind, namespace, object,
--   --   state, message, short, reasons, revision, diagnosis}
--   -- result.diagnosis: every failure's full text (pod, container, reason, events)
--   -- result.elapsed: seconds the wait took
--
-- Terminal states: a target is ready, failed-terminal (a Job's Failed condition, a
-- Deployment's ProgressDeadlineExceeded, a claim whose StorageClass does not exist) or
-- failed-for-now (a pod in CrashLoopBackOff, a permanent pull error, Unschedulable with
-- no node to match: someone may still fix it). A transient pull error and an
-- Unschedulable pod that may still get a node are waited for (Tracker:judge_pod). A Job is failed only by its Failed condition (backoffLimit, activeDeadlineSeconds)
-- and ready on Complete; its failed pods are retries, shown as "attempt 2/3 running".
local core = require "rigelk8s.rollout_core"
local sys = require "rigelk8s.sys"

local M = {}

local WORKLOADS = {Deployment = true, StatefulSet = true, DaemonSet = true, Job = true}
local API = {
  Deployment = "apps/v1", ReplicaSet = "apps/v1", StatefulSet = "apps/v1",
  DaemonSet = "apps/v1", Job = "batch/v1", Pod = "v1", PersistentVolumeClaim = "v1",
  Event = "v1", Service = "v1",
}

local function key(kind, ns, name) return kind .. "/" .. (ns or "") .. "/" .. name end
M.key = key

local function obj_key(o)
  return key(o.kind, o.metadata.namespace, o.metadata.name)
end

local function owned_by(obj, uid)
  for _, ref in ipairs(obj.metadata.ownerReferences or {}) do
    if ref.uid == uid then return true end
  end
  return false
end

local function label(obj, name)
  local labels = obj.metadata and obj.metadata.labels
  return labels and labels[name]
end

local function annotation(obj, name)
  local a = obj.metadata and obj.metadata.annotations
  return a and a[name]
end

-- A Tracker holds the latest copy of every object the watches reported and computes a
-- verdict per target from it. It does no I/O, so it is tested without a cluster.
local Tracker = {}
Tracker.__index = Tracker

-- The name of a row: "Kind/name", or "namespace/Kind/name" when the targets span
-- more than one namespace (so rows, progress lines and reports tell them apart).
function M.label(kind, namespace, name, many)
  if many and namespace then return namespace .. "/" .. kind .. "/" .. name end
  return kind .. "/" .. name
end

-- True when the namespaced objects among objects live in more than one namespace.
function M.spans_namespaces(objects)
  local first
  for _, o in ipairs(objects) do
    local ns = (o.metadata or {}).namespace
    if ns and o.kind ~= "Namespace" then
      if first == nil then first = ns elseif ns ~= first then return true end
    end
  end
  return false
end

-- tracker(targets, {namespaces = bool}): namespaces forces (true) or hides (false) the
-- namespace in row names; by default it is shown when the targets span several.
-- pull_attempts (M.PULL_ATTEMPTS), unschedulable_grace (seconds, M.UNSCHEDULABLE_GRACE)
-- and clock (a function returning seconds, sys.now) are the failure policy (see
-- Tracker:judge_pod); nodes (a list of Node objects) may be given or set later.
function M.tracker(targets, opts)
  opts = opts or {}
  local t = setmetatable({targets = {}, cache = {}, by_kind = {}, events = {},
                          pull_attempts = opts.pull_attempts or M.PULL_ATTEMPTS,
                          unschedulable_grace = opts.unschedulable_grace or M.UNSCHEDULABLE_GRACE,
                          clock = opts.clock or sys.now, nodes = opts.nodes,
                          unschedulable_since = {}, pull_errors = {}}, Tracker)
  local many = opts.namespaces
  if many == nil then many = M.spans_namespaces(targets) end
  for _, o in ipairs(targets) do
    local md = o.metadata or {}
    t.targets[#t.targets + 1] = {
      kind = o.kind, apiVersion = o.apiVersion, name = md.name, namespace = md.namespace,
      key = key(o.kind, md.namespace, md.name), label = M.label(o.kind, md.namespace, md.name, many),
    }
  end
  return t
end

-- Events are kept per involved object (uid, and name for events without one). A repeated
-- event (the same Event object with a higher count) replaces its earlier copy and moves
-- to the end, so the list stays in order of last occurrence without duplicates.
local MAX_EVENTS = 30

local function remember_event(list, e)
  local id = e.metadata.uid or e.metadata.name
  for i = #list, 1, -1 do
    local old = list[i]
    if (old.metadata.uid or old.metadata.name) == id then
      table.remove(list, i)
      break
    end
  end
  list[#list + 1] = e
  if #list > MAX_EVENTS then table.remove(list, 1) end
end

function Tracker:observe(ev)
  local o = ev.object
  if type(o) ~= "table" or type(o.metadata) ~= "table" or not o.kind then return end
  local kind = o.kind
  if kind == "Event" then
    local io = o.involvedObject or o.regarding
    local id = type(io) == "table" and (io.uid or io.name)
    if id and ev.type ~= "DELETED" then
      self.events[id] = self.events[id] or {}
      remember_event(self.events[id], o)
    end
    return
  end
  local k = obj_key(o)
  self.by_kind[kind] = self.by_kind[kind] or {}
  if ev.type == "DELETED" then
    self.cache[k] = nil
    self.by_kind[kind][k] = nil
  else
    self.cache[k] = o
    self.by_kind[kind][k] = o
  end
end

function Tracker:events_for(obj)
  local list, seen = {}, {}
  for _, id in ipairs{obj.metadata.uid, obj.metadata.name} do
    for _, e in ipairs(self.events[id] or {}) do
      local eid = e.metadata.uid or e.metadata.name
      if not seen[eid] then
        seen[eid] = true
        list[#list + 1] = e
      end
    end
  end
  return list
end

-- True when a Warning event about obj has arrived: a failure's diagnosis is worth a
-- short wait for it, since the kubelet writes its events just after the pod status.
function Tracker:has_warning(obj)
  if not obj then return true end
  for _, e in ipairs(self:events_for(obj)) do
    if e.type == "Warning" then return true end
  end
  return false
end

-- The last n events worth showing: Warning events (BackOff, Failed, FailedScheduling,
-- ProvisioningFailed...) when there are any, since the Normal ones (Scheduled, Pulled,
-- Started) describe what went right; otherwise the last Normal ones.
function M.pick_events(events, n)
  n = n or 3
  local warnings = {}
  for _, e in ipairs(events) do
    if e.type == "Warning" then warnings[#warnings + 1] = e end
  end
  local from = #warnings > 0 and warnings or events
  local out = {}
  for i = math.max(1, #from - n + 1), #from do out[#out + 1] = from[i] end
  return out
end

local function last_events_text(events, n)
  local out = {}
  for _, e in ipairs(M.pick_events(events, n)) do
    local count = tonumber(e.count) or 1
    out[#out + 1] = string.format("    %s %s%s: %s", e.type or "Normal", e.reason or "?",
                                  count > 1 and string.format(" (x%d)", count) or "",
                                  e.message or e.note or "")
  end
  return table.concat(out, "\n")
end
M.last_events_text = last_events_text

local function int(v)
  v = tonumber(v)
  return v and math.floor(v) or 0
end

-- True while the controller has not yet seen the latest spec of a workload: its status
-- (counts, conditions, revisions, updateRevision) still describes the rollout before.
-- Jobs report no observedGeneration.
local function stale(w)
  if w.kind == "Job" then return false end
  local st = type(w.status) == "table" and w.status or {}
  return int(st.observedGeneration) < int(w.metadata.generation)
end
M.stale = stale

-- Semantic equality as kubectl's apiequality: an empty map or list equals an absent one.
local function nilish(v)
  local rigelk8s = require "rigelk8s"
  return v == nil or v == rigelk8s.null or (type(v) == "table" and next(v) == nil)
end

local function semantic_equal(a, b)
  if nilish(a) and nilish(b) then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do if not semantic_equal(v, b[k]) then return false end end
  for k, v in pairs(b) do if a[k] == nil and not nilish(v) then return false end end
  return true
end

local HASH_LABEL = "pod-template-hash"

-- kubectl's EqualIgnoreHash: two pod templates are the same revision when they are equal
-- but for the pod-template-hash label the ReplicaSet's copy carries.
function M.same_template(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  local la = type(a.metadata) == "table" and a.metadata.labels or nil
  local lb = type(b.metadata) == "table" and b.metadata.labels or nil
  local ha, hb = la and la[HASH_LABEL], lb and lb[HASH_LABEL]
  if la then la[HASH_LABEL] = nil end
  if lb then lb[HASH_LABEL] = nil end
  local same = semantic_equal(a, b)
  if la then la[HASH_LABEL] = ha end
  if lb then lb[HASH_LABEL] = hb end
  return same
end

-- The ReplicaSet the Deployment controller rolls out now: like kubectl's
-- FindNewReplicaSet, the oldest owned ReplicaSet whose template equals the Deployment's.
-- Not the revision annotation: right after an undo the controller has not moved it yet,
-- and it still names the ReplicaSet being rolled back from. Only once the controller has
-- seen the spec, and no template matches (a server that changes templates on copy), the
-- annotation decides.
function Tracker:new_replicaset(d)
  local uid, tmpl = d.metadata.uid, d.spec and d.spec.template
  local best
  for _, rs in pairs(self.by_kind.ReplicaSet or {}) do
    if owned_by(rs, uid) and M.same_template(rs.spec and rs.spec.template, tmpl) then
      local c, bc = rs.metadata.creationTimestamp or "", best and best.metadata.creationTimestamp or ""
      if not best or c < bc or (c == bc and rs.metadata.name < best.metadata.name) then best = rs end
    end
  end
  if best or stale(d) then return best end
  local rev = annotation(d, "deployment.kubernetes.io/revision")
  for _, rs in pairs(self.by_kind.ReplicaSet or {}) do
    if owned_by(rs, uid) and (rev == nil or annotation(rs, "deployment.kubernetes.io/revision") == rev) then
      return rs
    end
  end
end

-- The pods that run the current revision of a workload: the new ReplicaSet's for a
-- Deployment, updateRevision's for a StatefulSet, the current template generation's for
-- a DaemonSet (its pods carry pod-template-generation; when none does, all its pods).
function Tracker:current_pods(w)
  local pods = {}
  local uid = w.metadata.uid
  if w.kind == "Deployment" then
    local current = self:new_replicaset(w)
    if not current then return pods end
    for _, p in pairs(self.by_kind.Pod or {}) do
      if owned_by(p, current.metadata.uid) then pods[#pods + 1] = p end
    end
  elseif w.kind == "DaemonSet" then
    local gen, labelled = tostring(int(w.metadata.generation)), false
    for _, p in pairs(self.by_kind.Pod or {}) do
      if owned_by(p, uid) and label(p, "pod-template-generation") then labelled = true end
    end
    for _, p in pairs(self.by_kind.Pod or {}) do
      if owned_by(p, uid) and (not labelled or label(p, "pod-template-generation") == gen) then
        pods[#pods + 1] = p
      end
    end
  else
    local rev = w.kind == "StatefulSet" and w.status and w.status.updateRevision
    for _, p in pairs(self.by_kind.Pod or {}) do
      if owned_by(p, uid) and (not rev or label(p, "controller-revision-hash") == rev) then
        pods[#pods + 1] = p
      end
    end
  end
  table.sort(pods, function(a, b) return a.metadata.name < b.metadata.name end)
  return pods
end

-- A few words for a live terminal line ("1/2 updated, 1 available"): the counts a person
-- watches, where kubectl's sentence is for logs.
function M.short_message(obj, v)
  if not obj then return "waiting for the object to appear" end
  local st, sp = type(obj.status) == "table" and obj.status or {}, type(obj.spec) == "table" and obj.spec or {}
  local kind, text = obj.kind
  if kind == "Deployment" or kind == "StatefulSet" or kind == "DaemonSet" then
    if stale(obj) and v.state ~= "failed" then return "waiting for the controller to see the change" end
  end
  if kind == "Deployment" then
    local want = sp.replicas == nil and 1 or int(sp.replicas)
    text = string.format("%d/%d updated, %d available", int(st.updatedReplicas), want, int(st.availableReplicas))
    local old = int(st.replicas) - int(st.updatedReplicas)
    if old > 0 and v.state ~= "ready" then text = text .. string.format(", %d old", old) end
  elseif kind == "StatefulSet" then
    local want = sp.replicas == nil and 1 or int(sp.replicas)
    text = string.format("%d/%d ready, %d updated", int(st.readyReplicas), want, int(st.updatedReplicas))
  elseif kind == "DaemonSet" then
    text = string.format("%d/%d ready, %d updated", int(st.numberReady), int(st.desiredNumberScheduled),
                         int(st.updatedNumberScheduled))
  elseif kind == "Job" then
    local want = sp.completions == nil and 1 or int(sp.completions)
    text = string.format("%d/%d succeeded", int(st.succeeded), want)
    if v.state ~= "ready" and v.state ~= "failed" and int(st.active) > 0 then
      local a = M.job_attempt(obj)
      text = string.format("attempt %d/%d running", a.attempt, a.attempts)
      if want > 1 then text = text .. string.format(", %d/%d succeeded", int(st.succeeded), want) end
    end
  elseif kind == "PersistentVolumeClaim" then
    text = st.phase or "Pending"
  elseif kind == "Pod" then
    text = st.phase or "Pending"
  else
    text = v.state == "ready" and "present" or (v.message or v.state)
  end
  if v.state ~= "ready" and v.cause then text = text .. " · " .. v.cause end
  return text
end

-- Which try of a Job runs now: {attempt, attempts}; attempts is backoffLimit + 1 (the
-- API's default backoffLimit is 6), attempt counts the failed pods so far plus one.
function M.job_attempt(job)
  local st = type(job.status) == "table" and job.status or {}
  local sp = type(job.spec) == "table" and job.spec or {}
  local limit = sp.backoffLimit == nil and 6 or int(sp.backoffLimit)
  local attempts = limit + 1
  return {attempt = math.min(int(st.failed) + 1, attempts), attempts = attempts}
end

-- Why a pod is not ready, in one word: "CrashLoopBackOff" (the full text names the pod).
local function cause_of(pv)
  return pv.cause or pv.reasons and pv.reasons[1] or pv.state
end

-- ---- What counts as a failure (README, "What counts as a failure") -------------------
--
-- Image pulls: the C core fails a pod at once for a permanent pull error (the image
-- cannot exist or cannot be had: not found, manifest unknown, unauthorized, denied,
-- invalid reference; rollout_core.pull_error). Any other pull error is the registry or
-- the network failing this time: the kubelet retries (back-off 10 s, doubling, at most
-- 300 s), and so does the wait, until PULL_ATTEMPTS pulls have failed (counted from the
-- kubelet's "Failed to pull image" events) or the deadline.
M.PULL_ATTEMPTS = 5
-- Unschedulable pods: failed at once when the autoscaler says it will not help
-- (NotTriggerScaleUp) or when no node carries the pod's nodeSelector labels (or matches
-- its required node affinity) and the autoscaler has not started a scale-up; otherwise
-- waited for this long (--unschedulable-grace) from when the wait first saw them so.
M.UNSCHEDULABLE_GRACE = 30

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function node_labels(n)
  return type(n.metadata) == "table" and type(n.metadata.labels) == "table" and n.metadata.labels or {}
end

-- One nodeSelectorTerm's matchExpressions against a node's labels (matchFields: only
-- metadata.name, as the scheduler).
local function term_matches(term, n)
  local labels = node_labels(n)
  local exprs, fields = term.matchExpressions or {}, term.matchFields or {}
  if #exprs == 0 and #fields == 0 then return false end
  for _, e in ipairs(exprs) do
    local v, vals = labels[e.key], e.values or {}
    local inv = false
    for _, x in ipairs(vals) do if x == v then inv = true end end
    local op = e.operator
    if (op == "In" and not inv) or (op == "NotIn" and inv) or (op == "Exists" and v == nil)
       or (op == "DoesNotExist" and v ~= nil) then return false end
    if op == "Gt" or op == "Lt" then
      local a, b = tonumber(v), tonumber(vals[1])
      if not a or not b or (op == "Gt" and a <= b) or (op == "Lt" and a >= b) then return false end
    end
  end
  for _, f in ipairs(fields) do
    local inv = false
    for _, x in ipairs(f.values or {}) do if x == n.metadata.name then inv = true end end
    if f.key == "metadata.name" and ((f.operator == "In" and not inv) or (f.operator == "NotIn" and inv)) then
      return false
    end
  end
  return true
end

local function term_text(term)
  local parts = {}
  for _, e in ipairs(term.matchExpressions or {}) do
    parts[#parts + 1] = string.format("%s %s %s", e.key, e.operator, table.concat(e.values or {}, ","))
  end
  return table.concat(parts, " and ")
end

-- Why no node can ever run a pod of spec: nil when some node has every nodeSelector label
-- and matches the required node affinity (taints, cordons and resources are not looked
-- at: they change); else {text, fix}. nodes: the cluster's Node objects.
function M.node_mismatch(spec, nodes)
  if type(spec) ~= "table" or type(nodes) ~= "table" then return nil end
  local sel = type(spec.nodeSelector) == "table" and spec.nodeSelector or {}
  local aff = spec.affinity and spec.affinity.nodeAffinity
  local req = type(aff) == "table" and aff.requiredDuringSchedulingIgnoredDuringExecution
  local terms = type(req) == "table" and req.nodeSelectorTerms or {}
  local names = {}
  for _, n in ipairs(nodes) do names[#names + 1] = n.metadata.name end
  table.sort(names)
  for _, n in ipairs(nodes) do
    local labels, ok = node_labels(n), true
    for k, v in pairs(sel) do if labels[k] ~= v then ok = false end end
    if ok and #terms > 0 then
      ok = false
      for _, t in ipairs(terms) do if term_matches(t, n) then ok = true; break end end
    end
    if ok then return nil end
  end
  local node = names[1] or "NODE"
  local listed = #names > 0 and table.concat(names, ", ") or "none"
  local missing, all = {}, {}
  for _, k in ipairs(sorted_keys(sel)) do
    local pair = k .. "=" .. tostring(sel[k])
    all[#all + 1] = pair
    local any = false
    for _, n in ipairs(nodes) do if node_labels(n)[k] == sel[k] then any = true end end
    if not any then missing[#missing + 1] = pair end
  end
  if #all > 0 then
    -- Every label may exist somewhere but never all on one node: label one node with all.
    local text = #missing > 0
      and string.format("no node has the label%s %s", #missing > 1 and "s" or "", table.concat(missing, ", "))
      or string.format("no node has all of the labels %s", table.concat(all, ", "))
    if #terms > 0 then text = text .. " (and the pod's required node affinity)" end
    return {text = text .. string.format(" (nodes: %s)", listed),
            fix = string.format("kubectl label node %s %s", node, table.concat(all, " "))}
  end
  local wanted = {}
  for _, t in ipairs(terms) do wanted[#wanted + 1] = term_text(t) end
  local fix = "change the pod's node affinity or label a node to match it"
  local e = terms[1] and (terms[1].matchExpressions or {})[1]
  if e and e.operator == "In" and e.values and e.values[1] then
    fix = string.format("kubectl label node %s %s=%s", node, e.key, e.values[1])
  end
  return {text = string.format("no node matches the pod's required node affinity (%s) (nodes: %s)",
                               table.concat(wanted, " or "), listed), fix = fix}
end

local function pod_id(p) return p.metadata.uid or p.metadata.name end

-- How long an Unschedulable pod's verdict waits for the scheduler's event when none comes
-- (a user who may not watch events).
local EVENTS_WAIT = 2

-- The kubelet's failed pull attempts for a pod ("Failed to pull image ...: error"
-- events, each with its count) and the last error it reported.
function Tracker:pull_history(pod)
  local attempts, last = 0, nil
  for _, e in ipairs(self:events_for(pod)) do
    local msg = e.message or e.note or ""
    if e.reason == "Failed" and msg:find("^Failed to pull image") then
      local count = tonumber(e.count) or (type(e.series) == "table" and tonumber(e.series.count)) or 1
      attempts = attempts + math.max(math.floor(count), 1)
      last = msg:match('^Failed to pull image "[^"]*": (.*)$') or msg
    end
  end
  return attempts, last
end

local function waiting_pull_message(pod)
  local st = type(pod.status) == "table" and pod.status or {}
  for _, list in ipairs{st.initContainerStatuses or {}, st.containerStatuses or {}} do
    for _, cs in ipairs(list) do
      local w = type(cs.state) == "table" and cs.state.waiting
      if type(w) == "table" and w.reason == "ErrImagePull" and w.message and w.message ~= "" then
        return w.message
      end
    end
  end
end

function Tracker:judge_pull(p, pv)
  local prefix = pv.message:match("^(.-), retrying") or pv.message
  local attempts, last = self:pull_history(p)
  -- The error in the status now is the freshest; under ImagePullBackOff (kubelet < 1.32:
  -- no cause in it) the last pull event's, or without events (RBAC) the last
  -- ErrImagePull message the wait saw.
  local seen = waiting_pull_message(p)
  if seen then self.pull_errors[pod_id(p)] = seen end
  last = seen or last or self.pull_errors[pod_id(p)]
  local class = last and core.pull_error(last)
  local limit = self.pull_attempts
  if class == "permanent" then
    pv.state, pv.reasons = "failed", {"ErrImagePull"}
    pv.message = string.format("%s: %s", prefix, last)
  elseif attempts >= limit then
    pv.state, pv.reasons = "failed", {"ImagePullRetriesExhausted", pv.reasons[2]}
    pv.message = string.format("%s: %d pull attempts failed (the limit is %d); the last error: %s",
                               prefix, attempts, limit, last or "unknown")
  else
    pv.message = string.format("%s, retrying (%s%s%d of %d pull attempts failed)", prefix,
                               last and (class == "transient" and "registry said: " or "") or "",
                               last and (last .. "; ") or "", attempts, limit)
    pv.cause = string.format("pull failed %d/%d, retrying", attempts, limit)
  end
  return pv
end

function Tracker:judge_unschedulable(p, pv)
  local id, now, grace = pod_id(p), self.clock(), self.unschedulable_grace
  local since = self.unschedulable_since[id] or now
  self.unschedulable_since[id] = since
  self.want_nodes = true
  local name = p.metadata.name
  local said = pv.message:match("^pod [^:]*: Unschedulable: (.*)$") or ""
  local scaler, scheduler_said
  for _, e in ipairs(self:events_for(p)) do
    if e.reason == "TriggeredScaleUp" or e.reason == "NotTriggerScaleUp" then scaler = e end
    if e.reason == "FailedScheduling" then scheduler_said = true end
  end
  local scaler_text = scaler and string.format("%s: %s", scaler.reason, scaler.message or scaler.note or "")
  if scaler and scaler.reason == "NotTriggerScaleUp" then
    pv.state, pv.reasons = "failed", {"NotTriggerScaleUp", "Unschedulable"}
    pv.message = string.format("%s; the cluster autoscaler will not add a node for it (%s)",
                               (pv.message:gsub("%.$", "")), scaler_text)
    return pv
  end
  -- The label rule waits for the scheduler's FailedScheduling event (or, without events,
  -- EVENTS_WAIT seconds): an autoscaler's TriggeredScaleUp told before it may still be on
  -- its way on the event watch, and it would say that a node with the label is coming.
  local heard = scheduler_said or now - since >= EVENTS_WAIT
  local mismatch = not scaler and M.node_mismatch(p.spec, self.nodes)
  if mismatch and not heard then
    self.wake_at = math.min(self.wake_at or math.huge, since + EVENTS_WAIT)
  elseif mismatch then
    pv.state, pv.reasons = "failed", {"NoMatchingNode", "Unschedulable"}
    pv.message = string.format("%s; %s; fix: %s", (pv.message:gsub("%.$", "")), mismatch.text, mismatch.fix)
    return pv
  end
  local waited = now - since
  if waited >= grace then
    pv.state, pv.reasons = "failed", {"Unschedulable"}
    pv.message = string.format("pod %s: Unschedulable for %ds (--unschedulable-grace %ds)%s: %s", name,
                               math.floor(waited), math.floor(grace),
                               scaler and (", although the cluster autoscaler said " .. scaler_text) or "", said)
    return pv
  end
  self.wake_at = math.min(self.wake_at or math.huge, since + grace)
  pv.message = string.format("pod %s: waiting for a node (%s%s%ds of %ds)", name,
                             scaler and ("autoscaler: " .. scaler_text .. "; ") or "",
                             said ~= "" and ("scheduler: " .. said .. "; ") or "", math.floor(waited), math.floor(grace))
  pv.cause = scaler and "waiting for a node (autoscaler scale-up)" or "waiting for a node"
  return pv
end

-- The failure policy for one pod's core verdict: a retried image pull and an
-- Unschedulable pod are judged here, from events, nodes and time.
function Tracker:judge_pod(p, pv)
  if not pv or pv.state ~= "progressing" or not pv.reasons then return pv end
  if pv.reasons[1] == "ImagePullRetrying" then return self:judge_pull(p, pv) end
  if pv.reasons[1] == "Unschedulable" then return self:judge_unschedulable(p, pv) end
  return pv
end

-- Pod verdicts a workload's own message shows while it waits (the log line changes
-- with them: each failed pull, the autoscaler's news).
local SHOWN = {ImagePullRetrying = true, Unschedulable = true}

local STORAGECLASS_MISSING = 'storageclass%.storage%.k8s%.io "([^"]*)" not found'

-- Verdict for one target: {state, message, reasons, diagnosis, cause, detail, subject}.
-- cause is a short reason for the terminal line, detail the longer pod-level text for a
-- timeout summary, subject the object whose events explain a failure.
function Tracker:evaluate(target)
  local obj = self.cache[target.key]
  if not obj then
    return {state = "progressing", message = "waiting for the object to appear", reasons = {}}
  end
  local v, err = core.evaluate(obj)
  if not v then
    -- A malformed object from the server is reported, never a crash.
    return {state = "progressing", message = "cannot evaluate: " .. tostring(err), reasons = {}}
  end
  v.reasons = v.reasons or {}
  v.subject = obj
  if obj.kind == "PersistentVolumeClaim" and v.state ~= "ready" then
    local why, event = core.event_for(obj, self:events_for(obj))
    if why then
      v.message = v.message .. ": " .. why
      v.cause = event.reason
      -- A claim whose class does not exist never binds until someone creates the class
      -- or fixes the Rigelfile: that is a failure to report now, not a reason to wait.
      local class = event.reason == "ProvisioningFailed" and (event.message or ""):match(STORAGECLASS_MISSING)
      if class then
        v.state = "failed"
        v.terminal = true
        v.reasons = {"ProvisioningFailed"}
        v.diagnosis = string.format("%s %s: %s\n  fix: create StorageClass %q or set the volume's " ..
                                    "storage_class to one that exists (kubectl get storageclass)",
                                    obj.kind, obj.metadata.name, v.message, class)
      end
    end
  end
  if obj.kind == "Pod" then v = self:judge_pod(obj, v) end
  if obj.kind == "Deployment" and v.state == "failed" and v.reasons[1] == "ProgressDeadlineExceeded" then
    -- The controller keeps the old Progressing condition until its next sync: right after
    -- an undo to a revision whose ReplicaSet is still up, it names the ReplicaSet that
    -- timed out, not the one now rolled out (transcript 06). Only the new one's counts.
    local new = self:new_replicaset(obj)
    local named
    for _, c in ipairs(type(obj.status) == "table" and obj.status.conditions or {}) do
      if c.type == "Progressing" then named = (c.message or ""):match('ReplicaSet "([^"]+)"') end
    end
    if new and named and named ~= new.metadata.name then
      v.state, v.reasons = "progressing", {"StaleProgressDeadline"}
      v.message = string.format("waiting for the controller to update the Progressing condition " ..
                                "(it still names the earlier ReplicaSet %s)", named)
    end
  end
  if v.state == "failed" and (obj.kind == "Job" or v.reasons[1] == "ProgressDeadlineExceeded") then
    v.terminal = true
  end
  if obj.kind == "Job" and v.state ~= "ready" then
    -- A Job is judged by its own conditions only: a failed pod is a retry the controller
    -- makes (until backoffLimit), and a stuck one may still be fixed. The current pod's
    -- trouble is shown as progress, and in a timeout's summary.
    local st = type(obj.status) == "table" and obj.status or {}
    if v.state ~= "failed" and int(st.active) > 0 then
      local a = M.job_attempt(obj)
      v.message = string.format("%s (attempt %d/%d running)", v.message or "", a.attempt, a.attempts)
    end
    local pods = self:current_pods(obj)
    v.pods = pods
    for _, p in ipairs(pods) do
      local phase = type(p.status) == "table" and p.status.phase
      local pv = phase ~= "Failed" and phase ~= "Succeeded" and core.pod(p)
      if pv and pv.state ~= "ready" and not v.detail then
        v.detail = pv.message
        v.cause = cause_of(pv)
      end
    end
  elseif WORKLOADS[obj.kind] and v.state ~= "ready" then
    local pods = self:current_pods(obj)
    v.pods = pods
    -- While the controller has not seen the spec, the pods are the rollout before this
    -- change (after an undo: the crashing ones being rolled back from): no verdict.
    local judge = not stale(obj)
    for _, p in ipairs(judge and pods or {}) do
      local pv = self:judge_pod(p, core.pod(p))
      if pv and pv.state == "failed" then
        v.state = "failed"
        v.reasons = pv.reasons or {}
        v.message = pv.message
        v.cause = cause_of(pv)
        v.subject = p
        break
      elseif pv and pv.state ~= "ready" and not v.detail then
        v.detail = pv.message
        v.cause = cause_of(pv)
        if pv.reasons and SHOWN[pv.reasons[1]] then v.message = (v.message or "") .. "; " .. pv.message end
      end
    end
  end
  return v
end

-- The full text of a failure: what failed and why, and the events that explain it.
function Tracker:diagnose(target, v)
  local obj = self.cache[target.key]
  local text = v.diagnosis or string.format("%s %s: %s", target.kind, target.name, v.message or v.state)
  local events = v.subject and self:events_for(v.subject) or {}
  if #events == 0 and obj and v.subject ~= obj then events = self:events_for(obj) end
  if #events > 0 then text = text .. "\n  last events:\n" .. last_events_text(events, 3) end
  return text
end

function Tracker:verdict()
  local rows, all_ready, failed, all_seen = {}, true, {}, true
  self.wake_at, self.want_nodes = nil, nil
  for _, t in ipairs(self.targets) do
    local obj = self.cache[t.key]
    if not obj then all_seen = false end
    local v = self:evaluate(t)
    local row = {name = t.label, kind = t.kind, namespace = t.namespace, terminal = v.terminal or nil,
                 object = t.name, state = v.state, message = v.message,
                 reasons = v.reasons, detail = v.detail, short = M.short_message(obj, v),
                 subject = v.subject}
    if obj and obj.kind == "Deployment" then
      row.revision = tonumber(annotation(obj, "deployment.kubernetes.io/revision"))
    end
    if v.state == "failed" then
      row.diagnosis = self:diagnose(t, v)
      failed[#failed + 1] = row
    end
    rows[#rows + 1] = row
    if v.state ~= "ready" then all_ready = false end
  end
  return {ready = all_ready, failed = failed[1], failures = failed, rows = rows, all_seen = all_seen}
end

-- The watches a set of targets needs: one per (namespace, kind), plus the pods,
-- ReplicaSets and Events that explain workloads and claims.
function M.watch_specs(targets)
  local need = {}
  local function add(ns, kind)
    need[(ns or "") .. "|" .. kind] = {apiVersion = API[kind], kind = kind, namespace = ns}
  end
  for _, t in ipairs(targets) do
    if API[t.kind] and t.kind ~= "Service" then add(t.namespace, t.kind) end
    if WORKLOADS[t.kind] then add(t.namespace, "Pod"); add(t.namespace, "Event") end
    if t.kind == "Deployment" then add(t.namespace, "ReplicaSet") end
    if t.kind == "PersistentVolumeClaim" or t.kind == "Pod" then add(t.namespace, "Event") end
  end
  local specs = {}
  for _, s in pairs(need) do specs[#specs + 1] = s end
  table.sort(specs, function(a, b) return (a.namespace or "") .. a.kind < (b.namespace or "") .. b.kind end)
  return specs
end

local NODES_EVERY = 5

-- Targets we cannot watch (ConfigMaps, Services, custom resources, ...) are fetched once.
local function prime_unwatched(client, tracker)
  for _, t in ipairs(tracker.targets) do
    if not API[t.kind] or t.kind == "Service" then
      local o = client:try_get{apiVersion = t.apiVersion, kind = t.kind, name = t.name,
                               namespace = t.namespace}
      if o then tracker:observe{type = "ADDED", object = o} end
    end
  end
end

-- Watches that only explain (events, pods, ReplicaSets) may fail (e.g. RBAC forbids
-- events) without stopping the wait; a failed watch on a target's own kind may not.
local EXPLAINING = {Event = true, Pod = true, ReplicaSet = true}

-- The text of a wait that did not end ready: every failure (targets in order, so the
-- master's problems come first), or every object still not ready.
local function summarize(result)
  if result.failures and #result.failures > 0 then
    -- Targets before the first failure are what it depends on (the master, the claims):
    -- when they are not ready either, that is said first, since it may be the cause.
    local parts = {}
    for _, r in ipairs(result.rows) do
      if r == result.failures[1] then break end
      if r.state ~= "ready" then
        parts[#parts + 1] = string.format("%s is not ready yet: %s%s", r.name, r.message or r.state,
                                          r.detail and r.detail ~= r.message and ("; " .. r.detail) or "")
      end
    end
    for _, r in ipairs(result.failures) do parts[#parts + 1] = r.diagnosis end
    return table.concat(parts, "\n")
  end
  local lines = {}
  for _, r in ipairs(result.rows) do
    if r.state ~= "ready" then
      lines[#lines + 1] = string.format("  %s: %s (%s)", r.name, r.message or "", r.state)
      if r.detail and r.detail ~= r.message then lines[#lines + 1] = "    " .. r.detail end
    end
  end
  return table.concat(lines, "\n")
end

-- The wait modes of opts.fail_fast: "any" (true, nil: stop at the first failure),
-- "each" (stop once every target is ready or failed, with a result per target), false
-- (wait until the deadline, but not past the moment every target is ready or failed
-- for good).
local MODES = {any = "any", each = "each"}
function M.wait_mode(fail_fast, where)
  if fail_fast == nil or fail_fast == true then return "any" end
  if fail_fast == false then return "none" end
  local m = MODES[fail_fast]
  if not m then
    local errors = require "rigelk8s.errors"
    errors.usage("%s: fail_fast must be \"any\", \"each\" or false, got %s", where or "rollout.wait",
                 type(fail_fast) == "string" and ("'" .. fail_fast .. "'") or tostring(fail_fast))
  end
  return m
end

-- Whether a verdict ends the wait in a mode: returns the rows that decide (the failures
-- to wait a moment of event grace for), or nil to go on waiting.
local function decided(v, mode)
  if v.ready then return {} end
  if mode == "any" then return v.failed and {v.failed} or nil end
  for _, r in ipairs(v.rows) do
    if r.state ~= "ready" and not (r.state == "failed" and (mode == "each" or r.terminal)) then return nil end
  end
  return v.failures
end

-- Per-target results, in input order.
local function target_results(rows, state)
  local out = {}
  for i, r in ipairs(rows) do
    local s = r.state
    if s ~= "ready" and s ~= "failed" then
      s = (state == "timeout" or state == "interrupted") and state or "pending"
    end
    out[i] = {namespace = r.namespace, kind = r.kind, name = r.object, state = s,
              message = r.message or "", diagnosis = r.diagnosis, terminal = r.terminal or false,
              row = r.name}
  end
  return out
end

-- wait(client, objects, opts): waits on one watch set until every object is ready, the
-- mode's failures decide (fail_fast, see wait_mode), the timeout passes or the user
-- interrupts. opts: timeout (s, 300), fail_fast ("any"), on_progress(rows, verdict),
-- tick (s: also call on_progress this often without news, for a ticking clock), settle
-- (s, 0.5: progress is not reported before every object has been seen once or this much
-- time passed), event_grace (s, 0.5: how long a failure waits for the Warning event that
-- explains it), namespaces (bool: show the namespace in row names; default: when the
-- objects span several), pull_attempts (M.PULL_ATTEMPTS: failed pulls of an image before
-- a transient pull error fails the pod), unschedulable_grace (seconds,
-- M.UNSCHEDULABLE_GRACE: how long an Unschedulable pod may wait for a node).
function M.wait(client, objects, opts)
  opts = opts or {}
  local timeout = opts.timeout or 300
  local mode = M.wait_mode(opts.fail_fast)
  local grace = opts.event_grace or 0.5
  local start = sys.now()
  local deadline = start + timeout
  local settle_until = start + (opts.settle or 0.5)
  local tracker = M.tracker(objects, {namespaces = opts.namespaces, pull_attempts = opts.pull_attempts,
                                      unschedulable_grace = opts.unschedulable_grace})
  prime_unwatched(client, tracker)
  -- Nodes are listed only while a pod is Unschedulable, at most every NODES_EVERY
  -- seconds (a node may be added or labelled meanwhile). A user who may not list nodes
  -- still gets the grace period, without the "no node has the label" check.
  local nodes_at
  local function verdict()
    local v = tracker:verdict()
    if tracker.want_nodes and tracker.nodes ~= false and (not nodes_at or sys.now() - nodes_at >= NODES_EVERY) then
      nodes_at = sys.now()
      tracker.nodes = client:try_list{apiVersion = "v1", kind = "Node"} or false
      v = tracker:verdict()
    end
    return v
  end
  local ws = client:watch_set()
  for _, spec in ipairs(M.watch_specs(tracker.targets)) do ws:add(spec, spec.kind) end
  local result, failed_since
  local function finish(state, v)
    result = {state = state, rows = v.rows, failed = v.failed,
              failures = state == "failed" and v.failures or nil}
  end
  local ok, err = pcall(function()
    while true do
      local v = verdict()
      local now = sys.now()
      local settled = v.all_seen or now >= settle_until
      if opts.on_progress and (settled or v.ready or v.failed) then opts.on_progress(v.rows, v) end
      if v.ready then return finish("ready", v) end
      local deciding = decided(v, mode)
      if deciding then
        failed_since = failed_since or now
        local explained = true
        for _, r in ipairs(deciding) do
          -- A terminal failure is its own explanation (a Job's Failed condition names
          -- BackoffLimitExceeded): no grace for events.
          if not r.terminal and not tracker:has_warning(r.subject) then explained = false end
        end
        if explained or now - failed_since >= grace or now >= deadline then
          return finish("failed", v)
        end
      else
        failed_since = nil
      end
      local remaining = deadline - now
      if remaining <= 0 then return finish("timeout", v) end
      local wait = remaining
      if failed_since then wait = math.min(wait, failed_since + grace - now) end
      if opts.tick then wait = math.min(wait, opts.tick) end
      if tracker.wake_at then wait = math.min(wait, tracker.wake_at - now) end
      if tracker.want_nodes and nodes_at then wait = math.min(wait, nodes_at + NODES_EVERY - now) end
      if not settled then wait = math.min(wait, settle_until - now) end
      local ev = ws:next(math.max(wait, 0))
      -- Drain what has already arrived before evaluating again.
      while ev do
        if ev.type == "ERROR" and not EXPLAINING[ev.watch] then error(ev.error, 0) end
        tracker:observe(ev)
        ev = ws:next(0)
      end
      if sys.interrupted() then return finish("interrupted", tracker:verdict()) end
    end
  end)
  ws:close()
  if not ok then
    if sys.interrupted() then
      finish("interrupted", tracker:verdict())
    else
      error(err, 0)
    end
  end
  result.elapsed = sys.now() - start
  result.mode = mode
  result.targets = target_results(result.rows, result.state)
  if result.state ~= "ready" then
    result.diagnosis = summarize(result)
  end
  return result
end

-- kubectl-style history of a Deployment: list of {revision, name, images, change_cause}.
local function replicasets_of(client, deploy)
  local list = client:list{apiVersion = "apps/v1", kind = "ReplicaSet",
                           namespace = deploy.metadata.namespace}
  return list
end

function M.history(client, ref)
  local d = client:get{apiVersion = "apps/v1", kind = "Deployment", name = ref.name,
                       namespace = ref.namespace}
  return core.history(d, replicasets_of(client, d)), d
end

-- The applied configuration a field manager owns in obj: the parts of obj named by a
-- managedFields entry's fieldsV1 (client-go's ExtractInto). "f:x" is a map key, "k:{...}"
-- the list item with those key fields, "v:..." a set item, "i:N" a list index; an empty
-- set owns the whole value below it.
local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = deep_copy(x) end
  return setmetatable(c, getmetatable(v))
end

local function same_value(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same_value(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function extract(v, fs)
  if type(fs) ~= "table" or next(fs) == nil or type(v) ~= "table" then return deep_copy(v) end
  local rigelk8s, json = require "rigelk8s", require "rigelk8s.json"
  if rigelk8s.is_array(v) or v[1] ~= nil then
    local wanted = {}
    for fk, child in pairs(fs) do
      local tag, rest = fk:sub(1, 2), fk:sub(3)
      local ok, decoded = pcall(json.decode, rest)
      if tag == "k:" and ok and type(decoded) == "table" then
        wanted[#wanted + 1] = {keys = decoded, child = child}
      elseif tag == "v:" and ok then
        wanted[#wanted + 1] = {value = decoded}
      elseif tag == "i:" and tonumber(rest) then
        wanted[#wanted + 1] = {index = tonumber(rest) + 1, child = child}
      end
    end
    local out = rigelk8s.array{}
    for i, item in ipairs(v) do
      for _, w in ipairs(wanted) do
        if w.keys and type(item) == "table" then
          local match = true
          for k, want in pairs(w.keys) do
            if not same_value(item[k], want) then match = false; break end
          end
          if match then
            local e = extract(item, w.child)
            for k, want in pairs(w.keys) do e[k] = deep_copy(want) end
            out[#out + 1] = e
            break
          end
        elseif (w.value ~= nil and same_value(item, w.value)) or w.index == i then
          out[#out + 1] = w.index and extract(item, w.child) or deep_copy(item)
          break
        end
      end
    end
    return out
  end
  local out = {}
  for fk, child in pairs(fs) do
    if fk:sub(1, 2) == "f:" and v[fk:sub(3)] ~= nil then
      out[fk:sub(3)] = extract(v[fk:sub(3)], child)
    end
  end
  return out
end
M.extract = extract

-- The managedFields entry of manager's server-side applies to obj (not a subresource's).
function M.apply_entry(obj, manager)
  for _, e in ipairs(obj.metadata and obj.metadata.managedFields or {}) do
    if e.manager == manager and e.operation == "Apply" and (e.subresource == nil or e.subresource == "")
       and e.apiVersion == obj.apiVersion then
      return e
    end
  end
end

-- Rolls a Deployment back to to_revision (0 or nil: the previous one), like `kubectl
-- rollout undo`: the old ReplicaSet's template and kubectl's annotations come back.
-- Returns the revision restored and whether anything changed (false is kubectl's
-- "skipped rollback"). opts: field_manager (the applier to restore as, "rigelk8s"),
-- force (take over fields another manager changed since: --force-conflicts).
--
-- Why an Apply and not kubectl's patch: a server keys field ownership by manager AND
-- operation. kubectl's undo is an Update; written under our manager name it creates a
-- "rigelk8s"/Update entry that owns the template fields it changed, and the next
-- "rigelk8s"/Apply (deploy, update) conflicts with it until someone forces. So when the
-- Deployment is ours (our manager has an Apply entry), the undo is a server-side apply by
-- that same manager of what it applied before, with spec.template replaced by the old
-- revision's: the Apply entry then owns the restored template, and the next apply of the
-- Rigelfile changes it without conflict (fields only the undo set are dropped again, as
-- any apply drops what it no longer sends). Sending everything the entry owned keeps
-- the replicas, selector and labels it owns (an apply removes owned fields it omits).
-- No force: a field another manager changed (kubectl edit) is a conflict to report, not
-- to take silently. A Deployment our manager never applied (made by kubectl) gets
-- kubectl's patch, since there is no Apply entry to poison.
function M.undo(client, ref, to_revision, opts)
  opts = opts or {}
  local d = client:get{apiVersion = "apps/v1", kind = "Deployment", name = ref.name,
                       namespace = ref.namespace}
  local plan, err, code = core.rollback_plan(d, replicasets_of(client, d), to_revision or 0)
  local errors = require "rigelk8s.errors"
  if not plan then
    -- No such revision is a wrong argument (exit 2, with the revisions there are); a
    -- paused Deployment is a state kubectl refuses as well (exit 1).
    local msg = string.format("deployment %s: %s", ref.name, err)
    if code == "not_found" then
      local revs = {}
      for _, h in ipairs(core.history(d, replicasets_of(client, d)) or {}) do revs[#revs + 1] = tostring(h.revision) end
      msg = msg .. string.format(" (revisions: %s; see rigelk8s rollback --history)",
                                 #revs > 0 and table.concat(revs, ", ") or "none")
    end
    errors.raise{message = msg, exit_code = code == "not_found" and errors.EXIT.usage or errors.EXIT.failed,
                 reason = "RollbackFailed"}
  end
  if plan.unchanged then return plan.revision, false end
  local manager = opts.field_manager or "rigelk8s"
  local entry = M.apply_entry(d, manager)
  if not entry then
    client:patch(d, {
      {op = "replace", path = "/spec/template", value = plan.template},
      {op = "replace", path = "/metadata/annotations", value = plan.annotations},
    }, {type = "json"})
    return plan.revision, true
  end
  local cfg = extract(d, entry.fieldsV1)
  cfg.apiVersion, cfg.kind = "apps/v1", "Deployment"
  cfg.metadata = cfg.metadata or {}
  cfg.metadata.name, cfg.metadata.namespace = d.metadata.name, d.metadata.namespace
  cfg.spec = cfg.spec or {}
  local template = deep_copy(plan.template)
  -- The ReplicaSet's copy carries the server's `creationTimestamp: null`: not a field to own.
  if type(template.metadata) == "table" then template.metadata.creationTimestamp = nil end
  cfg.spec.template = template
  -- kubectl's annotations: the old revision's (change-cause...) replace the current ones.
  -- An apply can only set or drop annotations this manager owns, and must not touch the
  -- controller's (revision): only keys whose value changes, or that we own, are sent.
  local owned = type(cfg.metadata.annotations) == "table" and cfg.metadata.annotations or {}
  local live = d.metadata.annotations or {}
  local ann = {}
  for k, v in pairs(plan.annotations or {}) do
    if owned[k] ~= nil or live[k] ~= v then ann[k] = v end
  end
  cfg.metadata.annotations = next(ann) and ann or nil
  local ok, aerr = client:try_apply(cfg, {field_manager = manager, force = opts.force})
  if not ok then
    aerr = errors.wrap(aerr)
    if aerr.conflicts and #aerr.conflicts > 0 then
      aerr.message = string.format("deployment %s: the rollback to revision %d %s", ref.name, plan.revision,
                                   require("rigelk8s.explain").conflict_text(aerr.conflicts, "the old revision's"))
    else
      aerr.message = string.format("deployment %s: the rollback to revision %d failed: %s", ref.name,
                                   plan.revision, aerr.message)
    end
    error(aerr, 0)
  end
  return plan.revision, true
end

local function patch_deploy(client, ref, patch)
  local d = {apiVersion = "apps/v1", kind = "Deployment",
             metadata = {name = ref.name, namespace = ref.namespace}}
  return client:patch(d, patch, {type = "merge"})
end

function M.pause(client, ref) return patch_deploy(client, ref, {spec = {paused = true}}) end
function M.resume(client, ref) return patch_deploy(client, ref, {spec = {paused = false}}) end
function M.restart(client, ref)
  return patch_deploy(client, ref, {spec = {template = {metadata = {annotations = {
    ["kubectl.kubernetes.io/restartedAt"] = os.date("!%Y-%m-%dT%H:%M:%SZ")}}}}})
end

return M
