-- rigelk8s.rollout_policy: the failure policy for pods that may still come right: a
-- retried image pull and an Unschedulable pod, judged from events, nodes and time.
-- Plain functions and Tracker methods (tracker_methods: pull_history, judge_pull,
-- judge_unschedulable, judge_pod), which rigelk8s.rollout_tracker installs into its
-- Tracker; rigelk8s.rollout offers PULL_ATTEMPTS, UNSCHEDULABLE_GRACE and node_mismatch.
local core = require "rigelk8s.rollout_core"

local M = {}
local Tracker = {}   -- methods of the rollout Tracker (self: a tracker)
M.tracker_methods = Tracker

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

return M
