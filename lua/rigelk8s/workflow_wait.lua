-- rigelk8s.workflow_wait: waiting, defined into rigelk8s.workflow: what to wait for
-- (wf.wait_targets, wf.waitable), the time left (wf.remaining), wf.wait with live
-- progress and wf.wait_job, the --unschedulable-grace flag, and the ROS graph gate
-- after a ready wait (wf.wanted_graph, wf.ros_graph_gate).
local cli = require "rigelk8s.cli"
local errors = require "rigelk8s.errors"
local progress = require "rigelk8s.progress"
local sys = require "rigelk8s.sys"

local M = require "rigelk8s.workflow_context"

-- What deploy and update wait for: the rendered objects marked `wait` plus the storage
-- claims, the master first so its problems are reported first.
function M.wait_targets(ctx)
  local out = {}
  for _, phase in ipairs{"master", "storage", "application"} do
    for _, e in ipairs(ctx.entries or {}) do
      if e.phase == phase and (e.wait or e.object.kind == "PersistentVolumeClaim") then
        out[#out + 1] = e.object
      end
    end
  end
  return out
end

-- Objects worth waiting for (workloads, claims, services, jobs), in the given order.
local WAITABLE = {Deployment = true, StatefulSet = true, DaemonSet = true, Job = true,
                  PersistentVolumeClaim = true, Pod = true}
function M.waitable(objects)
  local out = {}
  for _, o in ipairs(objects) do
    if WAITABLE[o.kind] then out[#out + 1] = o end
  end
  return out
end

-- Seconds left of the run's --timeout (the whole command shares one budget, so a gated
-- deploy or a distributed rollout in waves cannot take several times --timeout).
function M.remaining(ctx)
  return math.max(ctx.started + ctx.timeout - sys.now(), 0)
end

-- The --unschedulable-grace of the run in seconds (deploy, update), or nil: the default.
M.UNSCHEDULABLE_GRACE_FLAG = {"unschedulable_grace", nil, "--unschedulable-grace", value = "DURATION",
                              help = "how long a pod may stay Unschedulable while no rule says it never fits (default 30s)"}
function M.unschedulable_grace(ctx)
  local g = ctx.opts.unschedulable_grace
  return g and cli.duration(g, "--unschedulable-grace") or nil
end

-- Waits for objects together with live progress; returns the rollout result
-- ({state = "ready"|"failed"|"timeout"|"interrupted", targets, rows, diagnosis, elapsed};
-- see rigelk8s.rollout). opts: timeout (default: what is left of --timeout), fail_fast
-- ("any": stop at the first failure; "each": once every target is ready or failed;
-- false: until the deadline or every target is terminal), hooks (true: run the
-- after_wait hooks with the result; false to skip them). on_ready / on_failure are not
-- run here: wf.finish runs them once, with the run's final result. With --dry-run
-- nothing was changed, so there is nothing to wait for.
function M.wait(ctx, objects, opts)
  opts = opts or {}
  local rollout = require "rigelk8s.rollout"
  local mode = rollout.wait_mode(opts.fail_fast, "wf.wait")
  local targets = M.waitable(objects)
  local result
  if ctx.opts.dry_run or #targets == 0 then
    result = {state = "ready", rows = {}, targets = {}, elapsed = 0, dry_run = ctx.opts.dry_run or nil}
  else
    -- --logs (deploy, update): the new pods' logs stream while the rollout is waited for.
    local logs = ctx.opts.logs and require("rigelk8s.logs").for_rollout(M.connect(ctx), ctx, targets,
      {color = sys.isatty(1) and progress.color_enabled{no_color = ctx.opts.no_color}})
    result = rollout.wait(M.connect(ctx), targets, {
      timeout = opts.timeout or M.remaining(ctx),
      fail_fast = mode == "none" and false or mode,
      namespaces = M.spans_namespaces(ctx, targets),
      unschedulable_grace = M.unschedulable_grace(ctx),
      tick = logs and 0.25 or (ctx.out.tty and 1 or nil),
      on_progress = function(rows) if logs then logs:pump(0) end; ctx.out:update(rows) end,
    })
    if logs then logs:drain(2, 0.5); logs:close() end
    ctx.out:finish()
  end
  if opts.ros_graph and result.state == "ready" and not result.dry_run then M.ros_graph_gate(ctx, result) end
  -- The evidence goes to disk now, before anything is rolled back or deleted (and before
  -- the after_wait hooks, which may change the cluster): once per run, the first failure.
  if (result.state == "failed" or result.state == "timeout") and opts.failure_report ~= false
     and not ctx.failure_report and not sys.interrupted() then
    M.failure_report(ctx, result, {objects = objects})
  end
  ctx.result = result  -- wf.set_row corrects the rows of the last wait
  if opts.hooks ~= false then M.run_hooks(ctx, "after_wait", result) end
  return result
end

-- The graph the Rigelfile declares (orchestration.ros_graph and every component's,
-- merged: nodes and services united, topic counts the larger), or nil.
function M.wanted_graph(cfg)
  local parts = {}
  if cfg.ros_graph then parts[1] = cfg.ros_graph end
  for _, list in ipairs{cfg.components or {}, cfg.distributed and cfg.distributed.components or {}} do
    for _, c in ipairs(list) do
      if c.ros_graph then parts[#parts + 1] = c.ros_graph end
    end
  end
  if #parts == 0 then return nil end
  local want = {nodes = {}, topics = {}, services = {}, timeout = 0, service = parts[1].service,
                port = parts[1].port, on_unavailable = parts[1].on_unavailable}
  local seen = {nodes = {}, services = {}}
  for _, g in ipairs(parts) do
    for _, key in ipairs{"nodes", "services"} do
      for _, n in ipairs(g[key] or {}) do
        if not seen[key][n] then seen[key][n] = true; want[key][#want[key] + 1] = n end
      end
    end
    for name, t in pairs(g.topics or {}) do
      local w = want.topics[name] or {publishers = 0, subscribers = 0}
      w.publishers = math.max(w.publishers, t.publishers or 0)
      w.subscribers = math.max(w.subscribers, t.subscribers or 0)
      want.topics[name] = w
    end
    want.timeout = math.max(want.timeout, g.timeout or 0)
  end
  return want
end

-- The ROS graph gate: after the pods are Ready, wait until the declared graph holds
-- (rigelk8s.rosgraph). A graph that does not hold turns a ready result into a failed one
-- whose diagnosis names what is missing, so --atomic rolls back as for any failed rollout.
-- A refused proxy (403) falls back to a check Job (ros_graph.on_unavailable: job, the
-- default); `fail` fails at once, `skip` warns and goes on.
function M.ros_graph_gate(ctx, result)
  local cfg = ctx.cfg or {}
  local want = M.wanted_graph(cfg)
  if not want then return end
  local rigelk8s = require "rigelk8s"
  if os.getenv("RIGELK8S_ROS_GRAPH") == "skip" then
    ctx.out:say("warning: the ROS graph was not checked (RIGELK8S_ROS_GRAPH=skip)")
    result.ros_graph = {state = "skipped", reason = "RIGELK8S_ROS_GRAPH=skip"}
    return
  end
  local rosgraph = require "rigelk8s.rosgraph"
  local graphjob = require "rigelk8s.rosgraph_job"
  -- The gate is part of the run: it gets at most what is left of --timeout.
  local timeout, label = want.timeout, nil
  local left = M.remaining(ctx)
  if left < timeout then
    timeout = left
    label = string.format("the %.0fs left of --timeout (ros_graph.timeout is %gs)", left, want.timeout)
  end
  local r, proxy_error
  if cfg.ros_version == "ros2" then -- no master to ask: a check Job joins the graph
    r = graphjob.wait(M.connect(ctx), cfg, want, {timeout = timeout, timeout_label = label})
  else
    r = rosgraph.wait(M.connect(ctx), want, {namespace = cfg.namespace, timeout = timeout, timeout_label = label})
    if r.state == "forbidden" and want.on_unavailable == "job" then
      -- The proxy is refused, but Jobs may be allowed: ask the master from inside the cluster.
      proxy_error = r.error.message
      ctx.out:say("warning: %s; checking the ROS graph with a Job instead (ros_graph.on_unavailable: job)",
                  proxy_error)
      r = graphjob.wait(M.connect(ctx), cfg, want, {timeout = timeout, timeout_label = label})
    end
  end
  result.ros_graph = {state = r.state, elapsed_seconds = r.elapsed, checks = r.checks, job = r.job,
                      problems = rigelk8s.array(r.problems or {}), message = r.message,
                      proxy_error = proxy_error,
                      graph = r.graph and rosgraph.document(r.graph) or rigelk8s.null}
  M.run_hooks(ctx, "on_ros_graph", r.graph, r)
  if r.state == "ready" then
    local g = r.graph
    local nt, ns = 0, 0
    for _ in pairs(g.topics) do nt = nt + 1 end
    for _ in pairs(g.services) do ns = ns + 1 end
    ctx.out:say("ROS graph holds after %.1fs: %d nodes, %d topics, %d services (%s)", r.elapsed,
                #g.nodes, nt, ns, r.job and ("check Job " .. r.job) or ("master " .. g.master))
    return
  end
  if r.state == "interrupted" then
    result.state = "interrupted"
    return
  end
  if (r.state == "forbidden" or r.state == "unavailable") and not r.graph and want.on_unavailable == "skip" then
    result.ros_graph.state = "skipped"
    ctx.out:say("warning: the ROS graph was not checked (ros_graph.on_unavailable: skip): %s", r.message)
    return
  end
  result.state = "failed"
  result.diagnosis = proxy_error and (r.message .. "\n(the check ran as a Job because " .. proxy_error .. ")")
                     or r.message
end

-- Waits for one Job until it is Complete or Failed (its Failed condition: backoffLimit,
-- activeDeadlineSeconds); failed pods in between are retries. opts as for wf.wait.
function M.wait_job(ctx, job, opts)
  if type(job) ~= "table" or job.kind ~= "Job" then
    errors.usage("wf.wait_job: expected a Job object, got %s",
                 type(job) == "table" and tostring(job.kind) or type(job))
  end
  return M.wait(ctx, {job}, opts)
end

-- Whether this run's rows show namespaces: the run's objects (or these) span several.
-- A script sets ctx.namespaces = true (or false) to decide.
function M.spans_namespaces(ctx, objects)
  local rollout = require "rigelk8s.rollout"
  if ctx.namespaces ~= nil then return ctx.namespaces end
  -- Once a run has shown two namespaces, it keeps showing them.
  if rollout.spans_namespaces(M.concat(ctx.objects or {}, objects or {})) then ctx.namespaces = true end
  return ctx.namespaces or false
end

return M
