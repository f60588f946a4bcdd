-- rigelk8s.rollout_wait: rollout.wait, defined into rigelk8s.rollout: one watch set
-- for many objects, a tracker's verdict after each batch of events, the fail_fast modes
-- (rollout.wait_mode), the grace for a failure's events, and the result's diagnosis.
local sys = require "rigelk8s.sys"

local M = require "rigelk8s.rollout_tracker"

local NODES_EVERY = 5

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
  tracker:prime_unwatched(client)
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

return M
