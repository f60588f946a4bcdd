-- rigelk8s distributed: deploy the components of a distributed Rigelfile in dependency
-- order (`after:`). The ROS master comes first; then each wave of components whose
-- dependencies are Ready is applied and waited for together. The report names every
-- component with the nodes its pods run on, and every node with the components on it.
local wf = require "rigelk8s.workflow"
local errors = require "rigelk8s.errors"
local rigelk8s = require "rigelk8s"

local info = {command = "distributed", usage = "rigelk8s distributed [-f Rigelfile] [flags]",
              description = "Deploy distributed components in dependency order, each on its nodes."}

-- The nodes of a component's running pods: {node = count}, sorted node names.
local function placement(client, d)
  local sel = {}
  for k, v in pairs(d.spec.selector.matchLabels or {}) do sel[#sel + 1] = k .. "=" .. v end
  table.sort(sel)
  local count, names = {}, {}
  for _, p in ipairs(client:list{apiVersion = "v1", kind = "Pod", namespace = d.metadata.namespace,
                                 label_selector = table.concat(sel, ",")}) do
    local node = p.spec.nodeName
    if node and not p.metadata.deletionTimestamp then
      if not count[node] then names[#names + 1] = node end
      count[node] = (count[node] or 0) + 1
    end
  end
  table.sort(names)
  return count, names
end

local function selector_text(sel)
  local out = {}
  for k, v in pairs(sel or {}) do out[#out + 1] = k .. "=" .. tostring(v) end
  table.sort(out)
  return #out > 0 and table.concat(out, ",") or "any node"
end

return wf.main(function(ctx)
  wf.config(ctx)
  wf.render(ctx)
  local client = wf.connect(ctx)
  wf.apply(ctx, wf.phase_objects(ctx, {"namespace", "storage", "master"}))
  local done, rows = {}, {}
  local master = wf.phase_objects(ctx, {"master"})
  if #master > 0 then
    local result = wf.wait(ctx, master, {hooks = false})
    for _, r in ipairs(result.rows) do rows[#rows + 1] = r end
    if result.state ~= "ready" then
      wf.result_hooks(ctx, result)
      return wf.finish(ctx, result, {note = "no component was applied: the ROS master is not Ready"})
    end
    for _, o in ipairs(master) do done[o.metadata.name] = true end
  end
  local pending = {}
  for _, e in ipairs(ctx.entries) do if e.phase == "application" then pending[#pending + 1] = e end end
  local components, per_node, node_names = rigelk8s.array{}, {}, {}
  local result = {state = "ready", rows = rows}
  local function report(wave)
    for _, o in ipairs(wave) do
      local count, names = placement(client, o)
      local parts = {}
      for _, n in ipairs(names) do
        parts[#parts + 1] = count[n] > 1 and string.format("%s (%d pods)", n, count[n]) or n
        if not per_node[n] then per_node[n] = {}; node_names[#node_names + 1] = n end
        table.insert(per_node[n], count[n] > 1 and string.format("%s (%d)", o.metadata.name, count[n]) or o.metadata.name)
      end
      local sel = o.spec.template.spec.nodeSelector
      components[#components + 1] = {name = o.metadata.name, nodes = rigelk8s.array(names),
                                     node_selector = sel or rigelk8s.null}
      ctx.out:say("component %s (%s): %s", o.metadata.name, selector_text(sel),
                  #parts > 0 and ("pods on " .. table.concat(parts, ", ")) or "no pod is on a node")
    end
  end
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
    local r = wf.wait(ctx, wave, {hooks = false})
    for _, row in ipairs(r.rows) do rows[#rows + 1] = row end
    report(wave)
    if r.state ~= "ready" then
      local waiting = {}
      for _, e in ipairs(rest) do waiting[#waiting + 1] = e.object.metadata.name end
      result = r
      result.rows = rows
      result.not_applied = waiting
      break
    end
    for _, o in ipairs(wave) do done[o.metadata.name] = true end
    pending = rest
  end
  -- Every wave is Ready: now the ROS graph they form together (when ros_graph is declared).
  if result.state == "ready" then wf.ros_graph_gate(ctx, result) end
  if result.state == "ready" then wf.apply(ctx, wf.phase_objects(ctx, {"observability"})) end
  table.sort(node_names)
  local nodes, lines = rigelk8s.array{}, {}
  for _, n in ipairs(node_names) do
    table.sort(per_node[n])
    nodes[#nodes + 1] = {name = n, components = rigelk8s.array(per_node[n])}
    lines[#lines + 1] = string.format("  node %s: %s", n, table.concat(per_node[n], ", "))
  end
  if #lines > 0 then ctx.out:say("placement by node:\n%s", table.concat(lines, "\n")) end
  wf.result_hooks(ctx, result)
  local note
  if result.not_applied and #result.not_applied > 0 then
    note = "not applied, because a component they wait for failed: " .. table.concat(result.not_applied, ", ")
  end
  return wf.finish(ctx, result, {components = components, nodes = nodes, note = note})
end, arg, info)
