-- Blue/green: run the new version beside the old one, and switch the Service only once
-- the new one is Ready. A failed new version never receives traffic.
--
--   rigelk8s run examples/workflows/blue-green.lua -f Rigelfile --image robot:2.0
--
-- The Service <deployment_name> selects the pods of one colour (track=blue|green). The
-- colour it does not select now gets the new version as Deployment <name>-<colour>.
local wf = require "rigelk8s.workflow"

local info = {command = "blue-green",
              usage = "rigelk8s run blue-green.lua [-f Rigelfile] [--image IMAGE] [flags]",
              flags = {{"image", nil, "--image", value = "IMAGE", help = "the new version (default: the Rigelfile's)"}}}

return wf.main(function(ctx)
  local cfg = wf.config(ctx)
  local client = wf.connect(ctx)
  local app = cfg.deployment_name

  -- Which colour is live: the one the Service selects now (none yet: blue goes first).
  local svc = client:try_get{apiVersion = "v1", kind = "Service", name = app, namespace = cfg.namespace}
  local live = svc and svc.spec.selector and svc.spec.selector.track
  local next_colour = live == "blue" and "green" or "blue"

  -- The idle colour gets the new version; it shares the Rigelfile's labels but for track.
  local d = wf.render(ctx, {name = app .. "-" .. next_colour, image = ctx.opts.image,
                            selector_labels = {track = next_colour}})
  wf.render(ctx)
  wf.apply(ctx, wf.concat(wf.phase_objects(ctx, {"namespace"}), {d}))
  local result = wf.wait(ctx, {d})
  if result.state ~= "ready" then
    return wf.finish(ctx, result, {live = live or "none",
      note = string.format("the Service still sends traffic to %s; %s-%s is left for inspection",
                           live or "nothing", app, next_colour)})
  end

  -- Switch: the Service now selects the new colour's pods.
  wf.apply(ctx, {{apiVersion = "v1", kind = "Service", metadata = {name = app, namespace = cfg.namespace},
                  spec = {selector = {["rigel.io/app"] = app, track = next_colour},
                          ports = {{name = "http", port = 80, targetPort = 8080, protocol = "TCP"}}}}})
  return wf.finish(ctx, result, {live = next_colour,
                                 note = string.format("Service %s switched from %s to %s", app, live or "none",
                                                      next_colour)})
end, arg, info)
