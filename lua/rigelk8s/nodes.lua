-- Placement check before a deploy: a pod whose nodeSelector no node matches stays
-- Pending forever. For every nodeSelector among the rendered pod templates, the nodes
-- are listed once; when none carries the labels, a warning says which label to put on
-- which nodes (`kubectl label node NODE deploymentType=remote`).
--
--   nodes.placement_warnings(client, objects) -> {text, ...} (empty when all is well, or
--                                                  when nodes cannot be listed)
local M = {}

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function matches(node, selector)
  local labels = node.metadata and node.metadata.labels or {}
  for k, v in pairs(selector) do
    if labels[k] ~= v then return false end
  end
  return true
end

function M.placement_warnings(client, objects)
  local wanted, order = {}, {}
  for _, o in ipairs(objects) do
    local spec = type(o.spec) == "table" and type(o.spec.template) == "table" and o.spec.template.spec
    local sel = type(spec) == "table" and spec.nodeSelector
    if type(sel) == "table" and next(sel) then
      local parts = {}
      for _, k in ipairs(sorted_keys(sel)) do parts[#parts + 1] = k .. "=" .. tostring(sel[k]) end
      local key = table.concat(parts, " ")
      if not wanted[key] then
        wanted[key] = {selector = sel, objects = {}}
        order[#order + 1] = key
      end
      table.insert(wanted[key].objects, string.format("%s/%s", o.kind, o.metadata.name))
    end
  end
  if #order == 0 then return {} end
  -- A user without the right to list nodes still gets the deploy; the check is advice.
  local nodes = client:try_list{apiVersion = "v1", kind = "Node"}
  if not nodes then return {} end
  local names = {}
  for _, n in ipairs(nodes) do names[#names + 1] = n.metadata.name end
  table.sort(names)
  local out = {}
  for _, key in ipairs(order) do
    local w = wanted[key]
    local any = false
    for _, n in ipairs(nodes) do
      if matches(n, w.selector) then any = true break end
    end
    if not any then
      local example = names[1] or "NODE"
      out[#out + 1] = string.format(
        "warning: no node is labelled %s, so %s will stay Pending; label the nodes that should run " ..
        "them: kubectl label node %s %s (nodes: %s)", key, table.concat(w.objects, ", "), example, key,
        #names > 0 and table.concat(names, ", ") or "none found")
    end
  end
  return out
end

return M
