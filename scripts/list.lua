-- rigelk8s list: every application rigelk8s deployed, read from the inventories
-- (lua/rigelk8s/inventory.lua), like `helm list`: name, namespace, job, objects,
-- ready/total, images, last deploy time and the rigelk8s version that deployed it.
-- -n NS lists one namespace (default: the context's), -A all of them. Needs no Rigelfile.
-- Exit 0 (also when there is none), 1 when an inventory cannot be read, 3 unreachable.
local wf = require "rigelk8s.workflow"
local inventory = require "rigelk8s.inventory"
local core = require "rigelk8s.rollout_core"
local errors = require "rigelk8s.errors"

local info = {command = "list", usage = "rigelk8s list [-n NS | -A] [-o json]",
              description = "List the applications rigelk8s deployed, from their inventories (no Rigelfile needed).",
              flags = {{"all_namespaces", "-A", "--all-namespaces", help = "every namespace"}}}

return wf.main(function(ctx)
  if ctx.opts.all_namespaces and ctx.opts.namespace then
    errors.usage("-A and -n %s: give one of them (-A lists every namespace)", ctx.opts.namespace)
  end
  local client = wf.connect(ctx)
  local rigelk8s = require "rigelk8s"
  local apps = inventory.list(client, ctx.opts.namespace, ctx.opts.all_namespaces)
  local rows, bad = rigelk8s.array{}, 0
  for _, a in ipairs(apps) do
    local row = {name = a.app, namespace = a.namespace}
    if a.error then
      bad = bad + 1
      row.error = tostring(a.error.message or a.error)
    else
      local inv = a.inv
      row.job = inv.job ~= "" and inv.job or rigelk8s.null
      row.rigelfile = inv.source ~= "" and inv.source or rigelk8s.null
      row.version = inv.version or rigelk8s.null
      row.deployed = inv.deployed or rigelk8s.null
      row.objects = #inv.members
      local ready, images, seen = 0, {}, {}
      local specs = {}
      for i, m in ipairs(inv.members) do
        specs[i] = {verb = "get", apiVersion = m.apiVersion, kind = m.kind, name = m.name, namespace = m.namespace}
      end
      local results = #specs > 0 and client:call_many(specs, 16) or {}
      for _, r in ipairs(results) do
        if r.ok then
          local live = r.object
          local v = core.evaluate(live)
          if not v or v.state == "ready" then ready = ready + 1 end
          if live.kind == "Deployment" then
            for _, c in ipairs(live.spec.template.spec.containers or {}) do
              if not seen[c.image] then seen[c.image] = true; images[#images + 1] = c.image end
            end
          end
        elseif r.error and r.error.exit_code == errors.EXIT.unreachable then
          error(r.error, 0)
        end
      end
      row.ready = ready
      row.images = rigelk8s.array(images)
    end
    rows[#rows + 1] = row
  end
  if ctx.json then
    io.stdout:write(require("rigelk8s.json").encode{command = "list", applications = rows,
                                                   exit_code = bad > 0 and 1 or 0}, "\n")
  else
    local head = {"NAME", "NAMESPACE", "JOB", "READY", "IMAGES", "DEPLOYED", "VERSION"}
    local lines = {head}
    for _, r in ipairs(rows) do
      if r.error then
        lines[#lines + 1] = {r.name, r.namespace, "-", "-", "-", "-", "-"}
      else
        lines[#lines + 1] = {r.name, r.namespace, r.job == rigelk8s.null and "-" or r.job,
                             string.format("%d/%d", r.ready, r.objects),
                             #r.images > 0 and table.concat(r.images, ",") or "-",
                             r.deployed == rigelk8s.null and "-" or r.deployed,
                             r.version == rigelk8s.null and "-" or r.version}
      end
    end
    local width = {}
    for _, l in ipairs(lines) do
      for i, c in ipairs(l) do width[i] = math.max(width[i] or 0, #c) end
    end
    if #rows == 0 then
      ctx.out:say("no rigelk8s applications %s", ctx.opts.all_namespaces and "in any namespace"
                  or ("in namespace " .. (ctx.opts.namespace or "of the current context")))
    else
      for _, l in ipairs(lines) do
        local cells = {}
        for i, c in ipairs(l) do cells[i] = i < #l and string.format("%-" .. width[i] .. "s", c) or c end
        print(table.concat(cells, "  "))
      end
    end
    for _, r in ipairs(rows) do
      if r.error then ctx.out:say("%s/%s: %s", r.namespace, r.name, r.error) end
    end
  end
  return bad > 0 and 1 or 0
end, arg, info)
