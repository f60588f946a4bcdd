-- rigelk8s status: each object of the Rigelfile with its readiness; Deployments with
-- their revision and images; their pods with node, readiness, phase and restarts.
-- Inventory members the Rigelfile no longer renders are shown too (marked); with
-- `--app NAME -n NS` the objects come from the inventory alone, without a Rigelfile.
-- Exit 0 when everything exists and is ready, 1 otherwise (3: cluster unreachable).
-- --ros adds the live ROS graph (nodes, topics with publisher and subscriber counts,
-- services) from the ROS 1 master through the service proxy, or for ROS 2 from a check
-- Job (rigelk8s.rosgraph_job) that watches the graph for a few seconds; a declared
-- ros_graph that does not hold, or a graph that cannot be read, makes the exit code 1.
local wf = require "rigelk8s.workflow"
local core = require "rigelk8s.rollout_core"
local errors = require "rigelk8s.errors"

local info = {command = "status", usage = "rigelk8s status [-f Rigelfile | --app NAME -n NS] [flags]",
              description = "Show the objects of the Rigelfile, their readiness, revisions and pods.",
              flags = {{"app", nil, "--app", value = "NAME", help = "application NAME from its inventory alone (no Rigelfile; needs -n)"},
                       {"ros", nil, "--ros", help = "also show the live ROS graph"}}}

-- The live graph for --ros: {graph, problems} or {error}; ok is false when it is unusable.
-- ROS 2 has no master: a check Job watches the graph for ROS2_SETTLE seconds (or until the
-- declared graph holds, whichever is later) and reports it.
local ROS2_SETTLE = 3

local function ros_graph_report(ctx, client, rigelk8s)
  local rosgraph = require "rigelk8s.rosgraph"
  local want = wf.wanted_graph(ctx.cfg) or {}
  local g, err
  if ctx.cfg.ros_version == "ros2" then
    local r = require("rigelk8s.rosgraph_job").wait(client, ctx.cfg, want,
      {timeout = want.timeout or 30, settle = ROS2_SETTLE})
    g = r.graph
    if not g then err = r.error or {message = r.message, reason = r.state} end
  else
    g, err = rosgraph.graph(client, {namespace = ctx.cfg.namespace, service = want.service,
                                     port = want.port, nodes = want.nodes, types = true})
  end
  if not g then
    if err.exit_code == errors.EXIT.unreachable then error(err, 0) end
    return {error = err.message, reason = err.reason}, false
  end
  local problems = wf.wanted_graph(ctx.cfg) and rosgraph.check(g, want) or {}
  return {graph = rosgraph.document(g), text = rosgraph.text(g), problems = rigelk8s.array(problems),
          declared = wf.wanted_graph(ctx.cfg) ~= nil}, #problems == 0
end

local function pod_rows(client, live, rigelk8s)
  local sel = {}
  for k, val in pairs(live.spec.selector.matchLabels or {}) do sel[#sel + 1] = k .. "=" .. val end
  table.sort(sel)
  -- Each pod's revision is its ReplicaSet's.
  local rs_revision = {}
  for _, rs in ipairs(client:list{apiVersion = "apps/v1", kind = "ReplicaSet", namespace = live.metadata.namespace,
                                  label_selector = table.concat(sel, ",")}) do
    local ann = rs.metadata.annotations or {}
    rs_revision[rs.metadata.uid] = tonumber(ann["deployment.kubernetes.io/revision"])
  end
  local pods = rigelk8s.array{}
  for _, p in ipairs(client:list{apiVersion = "v1", kind = "Pod", namespace = live.metadata.namespace,
                                 label_selector = table.concat(sel, ",")}) do
    local restarts = 0
    for _, cs in ipairs(p.status and p.status.containerStatuses or {}) do restarts = restarts + (cs.restartCount or 0) end
    local pv = core.pod(p) or {state = "progressing", reasons = {}}
    local revision
    for _, o in ipairs(p.metadata.ownerReferences or {}) do revision = revision or rs_revision[o.uid] end
    pods[#pods + 1] = {name = p.metadata.name, node = p.spec.nodeName or rigelk8s.null,
                       state = pv.state, reason = pv.state ~= "ready" and pv.reasons and pv.reasons[1] or nil,
                       restarts = restarts, phase = p.status and p.status.phase or "Unknown",
                       revision = revision}
  end
  table.sort(pods, function(a, b) return a.name < b.name end)
  return pods
end

return wf.main(function(ctx)
  local inventory = require "rigelk8s.inventory"
  if ctx.opts.app then
    inventory.with_app(ctx, ctx.opts.app)
  else
    wf.config(ctx)
    wf.render(ctx)
  end
  local client = wf.connect(ctx)
  -- Objects deployed earlier that the Rigelfile no longer renders are shown too.
  inventory.add_unrendered(ctx)
  local unrendered = {}
  for _, e in ipairs(ctx.entries) do if e.unrendered then unrendered[e.object] = true end end
  local rigelk8s = require "rigelk8s"
  local report, all_ready = rigelk8s.array{}, true
  for _, o in ipairs(ctx.objects) do
    local live, err = client:try_get(o)
    if not live and err and err.exit_code == errors.EXIT.unreachable then error(err, 0) end
    local row = {kind = o.kind, name = o.metadata.name, namespace = o.metadata.namespace,
                 unrendered = unrendered[o] or nil}
    if not live then
      row.state = "missing"
      row.message = (err and err.code == 404) and "not found" or tostring(err)
      all_ready = false
    else
      local v = core.evaluate(live) or {state = "progressing", message = "cannot evaluate"}
      row.state, row.message = v.state, v.message
      if v.state ~= "ready" then all_ready = false end
      if o.kind == "Deployment" then
        local ann = live.metadata.annotations or {}
        row.revision = tonumber(ann["deployment.kubernetes.io/revision"])
        local images = {}
        for _, c in ipairs(live.spec.template.spec.containers or {}) do images[#images + 1] = c.image end
        row.images = rigelk8s.array(images)
        row.pods = pod_rows(client, live, rigelk8s)
        -- The last write by anyone, or the last rollout progress (RFC 3339 sorts as text):
        -- `rigelk8s fleet status` shows it.
        local last
        for _, m in ipairs(live.metadata.managedFields or {}) do
          if type(m.time) == "string" and (not last or m.time > last) then last = m.time end
        end
        for _, c in ipairs(live.status and live.status.conditions or {}) do
          if c.type == "Progressing" and type(c.lastUpdateTime) == "string" and (not last or c.lastUpdateTime > last) then
            last = c.lastUpdateTime
          end
        end
        row.last_change = last
      end
    end
    report[#report + 1] = row
  end
  local ros, ros_ok
  if ctx.opts.ros then
    ros, ros_ok = ros_graph_report(ctx, client, rigelk8s)
    all_ready = all_ready and ros_ok
  end
  if ctx.json then
    local json = require "rigelk8s.json"
    local doc = {command = "status", ready = all_ready, exit_code = all_ready and 0 or 1,
                 rigelk8s_version = require("rigelk8s").version,
                 namespace = ctx.cfg.namespace, objects = report}
    if ros then
      doc.ros_graph = ros.graph and {graph = ros.graph, problems = ros.problems}
                      or {error = ros.error, reason = ros.reason}
    end
    io.stdout:write(json.encode(doc), "\n")
  else
    local kw, nw = 4, 4
    for _, r in ipairs(report) do kw = math.max(kw, #r.kind); nw = math.max(nw, #r.name) end
    local fmt = "%-" .. kw .. "s  %-" .. nw .. "s  %-11s %s"
    print(string.format(fmt, "KIND", "NAME", "STATE", "DETAILS"))
    for _, r in ipairs(report) do
      local details = r.message or ""
      if r.unrendered then details = details .. " (no longer in the Rigelfile: the next deploy prunes it)" end
      if r.revision then
        details = string.format("revision %d, %s: %s", r.revision, table.concat(r.images or {}, ","), details)
      end
      print(string.format(fmt, r.kind, r.name, r.state, details))
      for _, p in ipairs(r.pods or {}) do
        print(string.format("    pod %s  node=%s  %s%s  %s  restarts=%d%s", p.name,
                            p.node == rigelk8s.null and "<none>" or p.node, p.state,
                            p.reason and (" (" .. p.reason .. ")") or "", p.phase, p.restarts,
                            p.revision and ("  revision " .. p.revision) or ""))
      end
    end
    if ros and ros.text then
      print(ros.text)
      if #ros.problems > 0 then
        print("  the declared ros_graph does not hold: " .. table.concat(ros.problems, "; "))
      end
    elseif ros then
      print("ROS graph: " .. ros.error)
    end
  end
  return all_ready and 0 or 1
end, arg, info)
