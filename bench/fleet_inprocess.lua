-- The in-process alternative to fleet.lua's process per target, as a measurement
-- prototype (bench/fleet_bench.py runs it; it is not a product path):
--   rigelk8s run bench/fleet_inprocess.lua FLEET_FILE IMAGE
-- One process, one client per target: each target is rendered and applied in turn (the
-- C core's requests block), then every target's Deployments are waited on together,
-- by polling each target's watch set with a short timeout in turn. No hooks, offline,
-- held, --atomic or diagnoses: it measures the floor of what an in-process design costs.
local wf = require "rigelk8s.workflow"
local core = require "rigelk8s.rollout_core"
local yaml = require "rigelk8s.yaml"
local sys = require "rigelk8s.sys"

local fleet_file, image = arg[1], arg[2]
local f = assert(io.open(fleet_file))
local doc = yaml.load(f:read("a"))
f:close()
local dir = fleet_file:match("^(.*)/[^/]*$") or "."

local waits = {}
for _, t in ipairs(doc.fleet) do
  local kc = t.kubeconfig:match("^/") and t.kubeconfig or (dir .. "/" .. t.kubeconfig)
  local ctx = wf.context({"--kubeconfig", kc, "--context", t.context, "-n", t.namespace, "-o", "json"},
                         {command = "update", flags = {{"image", nil, "--image", value = "IMAGE"}}})
  wf.config(ctx)
  wf.set_image(ctx, image)
  wf.render(ctx)
  wf.apply(ctx, ctx.objects)
  local client = wf.connect(ctx)
  local ws = client:watch_set()
  local pending = {}
  for _, o in ipairs(ctx.objects) do
    if o.kind == "Deployment" then
      pending[o.metadata.name] = true
      ws:add{apiVersion = "apps/v1", kind = "Deployment", namespace = t.namespace,
             field_selector = "metadata.name=" .. o.metadata.name}
    end
  end
  waits[#waits + 1] = {name = t.name, ws = ws, pending = pending, client = client}
end

local deadline = sys.now() + 300
local left = #waits
while left > 0 and sys.now() < deadline do
  for _, w in ipairs(waits) do
    if next(w.pending) then
      local ev = w.ws:next(0.002)
      while ev do
        local o = ev.object
        if o and o.kind == "Deployment" then
          local v = core.evaluate(o)
          if v and v.state == "ready" then w.pending[o.metadata.name] = nil end
          if v and v.state == "failed" then error(w.name .. ": " .. tostring(v.message)) end
        end
        if not next(w.pending) then left = left - 1; w.ws:close(); break end
        ev = w.ws:next(0)
      end
    end
  end
end
if left > 0 then error(left .. " targets not ready in time") end
io.stdout:write(string.format("in-process: %d targets ready\n", #waits))
return 0
