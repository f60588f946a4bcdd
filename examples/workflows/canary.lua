-- Canary by replicas with a soak: one pod of the new version beside the stable ones, both
-- behind the same Service; if it stays Ready without restarts for --soak seconds, the
-- stable Deployment gets the new image and the canary goes; otherwise the canary goes
-- and the stable version is left untouched.
--
--   rigelk8s run examples/workflows/canary.lua -f Rigelfile --image robot:2.0 [--soak 20]
local wf = require "rigelk8s.workflow"
local sys = require "rigelk8s.sys"

local info = {command = "canary",
              usage = "rigelk8s run canary.lua [-f Rigelfile] --image IMAGE [--soak SECONDS] [flags]",
              flags = {{"image", nil, "--image", value = "IMAGE", help = "the canary's image"},
                       {"soak", nil, "--soak", value = "SECONDS", default = "20", help = "how long the canary must stay healthy"}}}

-- The canary's trouble during the soak, or nil: a pod not Ready, or restarted.
local function trouble(client, ns, name)
  for _, p in ipairs(client:list{apiVersion = "v1", kind = "Pod", namespace = ns, label_selector = "app=" .. name}) do
    for _, cs in ipairs(p.status and p.status.containerStatuses or {}) do
      if (cs.restartCount or 0) > 0 or not cs.ready then
        local log = client:try_logs(p, {container = cs.name, tail = 5, previous = (cs.restartCount or 0) > 0})
        return string.format("pod %s: container %s %s%s", p.metadata.name, cs.name,
                             (cs.restartCount or 0) > 0 and ("restarted " .. math.floor(cs.restartCount) .. " times") or "is not ready",
                             log and ("; its log ends:\n" .. log) or "")
      end
    end
  end
end

return wf.main(function(ctx)
  local cfg = wf.config(ctx)
  local client = wf.connect(ctx)
  local app = cfg.deployment_name
  if not ctx.opts.image then require("rigelk8s.errors").usage("--image: the canary needs the new image") end
  local soak = tonumber(ctx.opts.soak) or require("rigelk8s.errors").usage("--soak: a number of seconds")

  -- 1. The stable version as the Rigelfile says, and the Service in front of every pod of the app.
  wf.render(ctx)
  wf.add(ctx, {apiVersion = "v1", kind = "Service", metadata = {name = app},
               spec = {selector = {["rigel.io/app"] = app},
                       ports = {{name = "http", port = 80, targetPort = 8080, protocol = "TCP"}}}})
  wf.apply(ctx, ctx.objects)
  local stable = wf.wait(ctx, wf.wait_targets(ctx))
  if stable.state ~= "ready" then return wf.finish(ctx, stable, {note = "the stable version is not Ready: no canary"}) end

  -- 2. One canary pod; its own selector label keeps it apart from the stable ReplicaSets.
  local canary = wf.render(ctx, {name = app .. "-canary", image = ctx.opts.image, replicas = 1,
                                 selector_labels = {track = "canary"}})
  wf.apply(ctx, {canary})
  local result = wf.wait(ctx, {canary})
  local problem = result.state ~= "ready" and (result.diagnosis or result.state) or nil

  -- 3. The soak: watch it for a while.
  local deadline = sys.now() + soak
  while not problem and sys.now() < deadline do
    if not sys.sleep(math.min(1, deadline - sys.now())) then break end
    problem = trouble(client, cfg.namespace, canary.metadata.name)
  end

  -- 4. Promote or drop; the canary goes either way (the report says so).
  client:delete(canary, {propagation_policy = "Background"})
  wf.record(ctx, "deleted", canary)
  if problem then
    result = wf.wait(ctx, wf.wait_targets(ctx))  -- the stable rows, as they are now
    result.state = "failed"
    result.diagnosis = "canary " .. ctx.opts.image .. " failed: " .. problem
    wf.set_row(ctx, canary, "failed", "deleted: failed during the canary")
    return wf.finish(ctx, result, {promoted = false, note = "the stable version was left untouched"})
  end
  wf.set_image(ctx, ctx.opts.image)
  wf.render(ctx)
  wf.apply(ctx, wf.phase_objects(ctx, {"application"}))
  return wf.finish(ctx, wf.wait(ctx, wf.wait_targets(ctx)), {promoted = true,
    note = string.format("canary soaked %ds without trouble; %s now runs %s", soak, app, ctx.opts.image)})
end, arg, info)
