-- rigelk8s.rollout_tracker: the table rigelk8s.rollout is, with the Tracker in it: the
-- latest copy of every watched object and a verdict per target (ready, progressing,
-- failed, terminal), the short progress text, which pods are a workload's current ones,
-- and the watches a set of targets needs. The other rollout_* parts define into this
-- same table; rollout.lua joins them.
local core = require "rigelk8s.rollout_core"
local policy = require "rigelk8s.rollout_policy"
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
-- verdict per target from it. Apart from prime_unwatched (reads through the client it is
-- given) it does no I/O, so it is tested without a cluster.
local Tracker = {}
Tracker.__index = Tracker

-- The failure policy (rigelk8s.rollout_policy): Tracker:judge_pod and its parts, and
-- the limits a tracker starts with.
for name, fn in pairs(policy.tracker_methods) do Tracker[name] = fn end
M.PULL_ATTEMPTS = policy.PULL_ATTEMPTS
M.UNSCHEDULABLE_GRACE = policy.UNSCHEDULABLE_GRACE
M.node_mismatch = policy.node_mismatch

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

-- Targets we cannot watch (ConfigMaps, Services, custom resources, ...) are fetched once.
function Tracker:prime_unwatched(client)
  for _, t in ipairs(self.targets) do
    if not API[t.kind] or t.kind == "Service" then
      local o = client:try_get{apiVersion = t.apiVersion, kind = t.kind, name = t.name,
                               namespace = t.namespace}
      if o then self:observe{type = "ADDED", object = o} end
    end
  end
end

return M
