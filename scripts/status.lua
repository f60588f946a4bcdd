-- rigelk8s status: each object of the Rigelfile with its readiness; Deployments with
-- their revision; pods with their node, readiness and restarts.
local wf = require "rigelk8s.workflow"
local core = require "rigelk8s.rollout_core"

local info = {command = "status", usage = "rigelk8s status [-f Rigelfile] [flags]",
              description = "Show the objects of the Rigelfile, their readiness, revisions and pods."}

return wf.main(function(ctx)
  wf.config(ctx)
  wf.render(ctx)
  local client = wf.connect(ctx)
  local rigelk8s = require "rigelk8s"
  local report, all_ready = rigelk8s.array{}, true
  for _, o in ipairs(ctx.objects) do
    local live, err = client:try_get(o)
    local row = {kind = o.kind, name = o.metadata.name, namespace = o.metadata.namespace}
    if not live then
      row.state, row.message = "missing", (err and err.code == 404) and "not found" or tostring(err)
      all_ready = false
    else
      local v = core.evaluate(live) or {state = "progressing", message = "cannot evaluate"}
      row.state, row.message = v.state, v.message
      if v.state ~= "ready" then all_ready = false end
      if o.kind == "Deployment" then
        local ann = live.metadata.annotations or {}
        row.revision = tonumber(ann["deployment.kubernetes.io/revision"])
        row.pods = rigelk8s.array{}
        local sel = {}
        for k, val in pairs(live.spec.selector.matchLabels or {}) do sel[#sel + 1] = k .. "=" .. val end
        table.sort(sel)
        for _, p in ipairs(client:list{apiVersion = "v1", kind = "Pod", namespace = o.metadata.namespace,
                                       label_selector = table.concat(sel, ",")}) do
          local restarts = 0
          for _, cs in ipairs(p.status and p.status.containerStatuses or {}) do restarts = restarts + (cs.restartCount or 0) end
          local pv = core.pod(p) or {state = "?"}
          row.pods[#row.pods + 1] = {name = p.metadata.name, node = p.spec.nodeName or "<none>",
                                     state = pv.state, restarts = restarts,
                                     phase = p.status and p.status.phase or "Unknown"}
        end
      end
    end
    report[#report + 1] = row
  end
  if ctx.json then
    local json = require "rigelk8s.json"
    io.stdout:write(json.encode{command = "status", ready = all_ready, objects = report}, "\n")
  else
    for _, r in ipairs(report) do
      print(string.format("%-12s %-28s %-12s %s%s", r.kind, r.name, r.state, r.message or "",
                          r.revision and ("  (revision " .. r.revision .. ")") or ""))
      for _, p in ipairs(r.pods or {}) do
        print(string.format("    pod %-40s node=%-14s %-11s %-8s restarts=%d", p.name, p.node, p.state,
                            p.phase, p.restarts))
      end
    end
  end
  return all_ready and 0 or 1
end, arg, info)
