-- rigelk8s distributed: deploy the components of a distributed Rigelfile in dependency
-- order (`after:`). Each wave of components whose dependencies are Ready is applied and
-- waited for together; the report names every component and the nodes its pods run on.
local wf = require "rigelk8s.workflow"
local errors = require "rigelk8s.errors"

local info = {command = "distributed", usage = "rigelk8s distributed [-f Rigelfile] [flags]",
              description = "Deploy distributed components in dependency order, each on its nodes."}

local function placement_report(client, d)
  local sel = {}
  for k, v in pairs(d.spec.selector.matchLabels or {}) do sel[#sel + 1] = k .. "=" .. v end
  table.sort(sel)
  local nodes = {}
  for _, p in ipairs(client:list{apiVersion = "v1", kind = "Pod", namespace = d.metadata.namespace,
                                 label_selector = table.concat(sel, ",")}) do
    if p.spec.nodeName and not p.metadata.deletionTimestamp then
      nodes[#nodes + 1] = p.spec.nodeName
    end
  end
  table.sort(nodes)
  return nodes
end

return wf.main(function(ctx)
  wf.config(ctx)
  wf.render(ctx)
  local client = wf.connect(ctx)
  wf.apply(ctx, wf.phase_objects(ctx, {"namespace", "storage", "master"}))
  local done, result = {}, {state = "ready", rows = {}}
  local master = wf.phase_objects(ctx, {"master"})
  if #master > 0 then
    result = wf.wait(ctx, master)
    if result.state ~= "ready" then
      return wf.finish(ctx, result, {note = "no component was applied: the master is not Ready"})
    end
    for _, o in ipairs(master) do done[o.metadata.name] = true end
  end
  local pending = {}
  for _, e in ipairs(ctx.entries) do if e.phase == "application" then pending[#pending + 1] = e end end
  local rows, components = {}, {}
  while #pending > 0 do
    local wave, rest = {}, {}
    for _, e in ipairs(pending) do
      local ready = true
      for _, dep in ipairs(e.after or {}) do if not done[dep] then ready = false end end
      if ready then wave[#wave + 1] = e.object else rest[#rest + 1] = e end
    end
    if #wave == 0 then
      local names = {}
      for _, e in ipairs(rest) do names[#names + 1] = e.object.metadata.name end
      errors.usage("components %s wait on each other (a cycle in `after:`)", table.concat(names, ", "))
    end
    local names = {}
    for _, o in ipairs(wave) do names[#names + 1] = o.metadata.name end
    ctx.out:say("wave: %s", table.concat(names, ", "))
    wf.apply(ctx, wave)
    result = wf.wait(ctx, wave)
    for _, r in ipairs(result.rows) do rows[#rows + 1] = r end
    for _, o in ipairs(wave) do
      local nodes = placement_report(client, o)
      components[#components + 1] = {name = o.metadata.name, nodes = require("rigelk8s").array(nodes),
                                     node_selector = o.spec.template.spec.nodeSelector}
      if not ctx.json then
        ctx.out:say("component %s: pods on %s", o.metadata.name,
                    #nodes > 0 and table.concat(nodes, ", ") or "no node")
      end
    end
    if result.state ~= "ready" then
      local waiting = {}
      for _, e in ipairs(rest) do waiting[#waiting + 1] = e.object.metadata.name end
      result.rows = rows
      return wf.finish(ctx, result, {components = components,
        note = #waiting > 0 and ("not applied, waiting on a failed component: " .. table.concat(waiting, ", ")) or nil})
    end
    for _, o in ipairs(wave) do done[o.metadata.name] = true end
    pending = rest
  end
  wf.apply(ctx, wf.phase_objects(ctx, {"observability"}))
  result.rows = rows
  return wf.finish(ctx, result, {components = components})
end, arg, info)
