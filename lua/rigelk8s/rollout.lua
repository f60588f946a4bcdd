-- Rollout policy on top of the C evaluation primitives (rigelk8s.rollout_core):
-- wait for many objects at once on one set of watches, follow the pods that belong to
-- each workload, diagnose failures the moment they show, and kubectl-style history,
-- undo, pause, resume and restart.
--
--   local rollout = require "rigelk8s.rollout"
--   local result = rollout.wait(client, objects, {timeout = 300, fail_fast = true,
--                                                 on_progress = function(rows) end})
--   -- result.state: "ready" | "failed" | "timeout" | "interrupted"
--   -- result.objects: per object {name, kind, state, message, reasons}
--   -- result.diagnosis: the first failure's full text (pod, container, reason, events)
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

function M.tracker(targets)
  local t = setmetatable({targets = {}, cache = {}, by_kind = {}, events = {}}, Tracker)
  for _, o in ipairs(targets) do
    local md = o.metadata or {}
    t.targets[#t.targets + 1] = {
      kind = o.kind, apiVersion = o.apiVersion, name = md.name, namespace = md.namespace,
      key = key(o.kind, md.namespace, md.name), label = o.kind .. "/" .. md.name,
    }
  end
  return t
end

function Tracker:observe(ev)
  local o = ev.object
  if type(o) ~= "table" or not o.metadata or not o.kind then return end
  local kind = o.kind
  if kind == "Event" then
    local uid = o.involvedObject and o.involvedObject.uid or o.involvedObject and o.involvedObject.name
    if uid then
      local list = self.events[uid] or {}
      list[#list + 1] = o
      if #list > 20 then table.remove(list, 1) end
      self.events[uid] = list
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
  local list = {}
  for _, id in ipairs{obj.metadata.uid, obj.metadata.name} do
    for _, e in ipairs(self.events[id] or {}) do list[#list + 1] = e end
  end
  return list
end

local function last_events_text(events, n)
  local out = {}
  for i = math.max(1, #events - (n or 3) + 1), #events do
    local e = events[i]
    out[#out + 1] = string.format("    %s %s: %s", e.type or "Normal", e.reason or "?", e.message or "")
  end
  return table.concat(out, "\n")
end

-- The pods that run the current revision of a workload.
function Tracker:current_pods(w)
  local pods = {}
  local uid = w.metadata.uid
  if w.kind == "Deployment" then
    local rev = annotation(w, "deployment.kubernetes.io/revision")
    local current
    for _, rs in pairs(self.by_kind.ReplicaSet or {}) do
      if owned_by(rs, uid) and (rev == nil or annotation(rs, "deployment.kubernetes.io/revision") == rev) then
        current = rs
      end
    end
    if not current then return pods end
    for _, p in pairs(self.by_kind.Pod or {}) do
      if owned_by(p, current.metadata.uid) then pods[#pods + 1] = p end
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

-- Verdict for one target: {state, message, reasons, diagnosis, pods}.
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
  if obj.kind == "PersistentVolumeClaim" and v.state ~= "ready" then
    local why = core.event_for(obj, self:events_for(obj))
    if why then v.message = v.message .. ": " .. why end
  end
  if WORKLOADS[obj.kind] and v.state ~= "ready" then
    local pods = self:current_pods(obj)
    v.pods = pods
    for _, p in ipairs(pods) do
      local pv = core.pod(p)
      if pv and pv.state == "failed" then
        local events = self:events_for(p)
        v.state = "failed"
        v.reasons = pv.reasons or {}
        v.message = pv.message
        v.diagnosis = string.format("%s %s: %s", obj.kind, obj.metadata.name, pv.message)
        if #events > 0 then
          v.diagnosis = v.diagnosis .. "\n  last events:\n" .. last_events_text(events, 3)
        end
        break
      end
    end
  end
  if v.state == "failed" and not v.diagnosis then
    v.diagnosis = string.format("%s %s: %s", obj.kind, obj.metadata.name, v.message)
    local events = self:events_for(obj)
    if #events > 0 then v.diagnosis = v.diagnosis .. "\n  last events:\n" .. last_events_text(events, 3) end
  end
  return v
end

function Tracker:verdict()
  local rows, all_ready, failed = {}, true, nil
  for _, t in ipairs(self.targets) do
    local v = self:evaluate(t)
    rows[#rows + 1] = {name = t.label, kind = t.kind, namespace = t.namespace,
                       object = t.name, state = v.state, message = v.message,
                       reasons = v.reasons, diagnosis = v.diagnosis}
    if v.state ~= "ready" then all_ready = false end
    if v.state == "failed" and not failed then failed = rows[#rows] end
  end
  return {ready = all_ready, failed = failed, rows = rows}
end

-- The watches a set of targets needs: one per (namespace, kind), plus the pods,
-- ReplicaSets and Events that explain workloads and claims.
function M.watch_specs(targets)
  local need = {}
  local function add(ns, kind)
    need[(ns or "") .. "|" .. kind] = {apiVersion = API[kind], kind = kind, namespace = ns}
  end
  for _, t in ipairs(targets) do
    if API[t.kind] then add(t.namespace, t.kind) end
    if WORKLOADS[t.kind] then add(t.namespace, "Pod"); add(t.namespace, "Event") end
    if t.kind == "Deployment" then add(t.namespace, "ReplicaSet") end
    if t.kind == "PersistentVolumeClaim" then add(t.namespace, "Event") end
  end
  local specs = {}
  for _, s in pairs(need) do specs[#specs + 1] = s end
  table.sort(specs, function(a, b) return (a.namespace or "") .. a.kind < (b.namespace or "") .. b.kind end)
  return specs
end

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

function M.wait(client, objects, opts)
  opts = opts or {}
  local timeout = opts.timeout or 300
  local fail_fast = opts.fail_fast ~= false
  local start = sys.now()
  local deadline = start + timeout
  local tracker = M.tracker(objects)
  prime_unwatched(client, tracker)
  local ws = client:watch_set()
  for _, spec in ipairs(M.watch_specs(tracker.targets)) do
    if spec.kind ~= "Service" then ws:add(spec) end
  end
  local result
  local ok, err = pcall(function()
    while true do
      local v = tracker:verdict()
      if opts.on_progress then opts.on_progress(v.rows, v) end
      if v.ready then
        result = {state = "ready", rows = v.rows}
        return
      end
      if v.failed and fail_fast then
        result = {state = "failed", rows = v.rows, diagnosis = v.failed.diagnosis, failed = v.failed}
        return
      end
      local remaining = deadline - sys.now()
      if remaining <= 0 then
        result = {state = "timeout", rows = v.rows}
        return
      end
      local ev = ws:next(remaining)
      -- Drain what has already arrived before evaluating again.
      while ev do
        tracker:observe(ev)
        ev = ws:next(0)
      end
      if sys.interrupted() then
        result = {state = "interrupted", rows = tracker:verdict().rows}
        return
      end
    end
  end)
  ws:close()
  if not ok then
    if sys.interrupted() then
      result = {state = "interrupted", rows = tracker:verdict().rows}
    else
      error(err, 0)
    end
  end
  result.elapsed = sys.now() - start
  if result.state ~= "ready" and not result.diagnosis then
    local lines = {}
    for _, r in ipairs(result.rows) do
      if r.state ~= "ready" then
        lines[#lines + 1] = string.format("  %s: %s (%s)", r.name, r.message or "", r.state)
      end
    end
    result.diagnosis = table.concat(lines, "\n")
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

-- Rolls a Deployment back to to_revision (0 or nil: the previous one), exactly like
-- `kubectl rollout undo`: the old ReplicaSet's template and kubectl's annotations are
-- restored with one JSON patch. Returns the revision restored and whether anything
-- changed (false is kubectl's "skipped rollback").
function M.undo(client, ref, to_revision)
  local d = client:get{apiVersion = "apps/v1", kind = "Deployment", name = ref.name,
                       namespace = ref.namespace}
  local plan, err = core.rollback_plan(d, replicasets_of(client, d), to_revision or 0)
  if not plan then
    require("rigelk8s.errors").raise{message = string.format("deployment %s: %s", ref.name, err),
                                     exit_code = 1, reason = "RollbackFailed"}
  end
  if plan.unchanged then return plan.revision, false end
  client:patch(d, {
    {op = "replace", path = "/spec/template", value = plan.template},
    {op = "replace", path = "/metadata/annotations", value = plan.annotations},
  }, {type = "json"})
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
