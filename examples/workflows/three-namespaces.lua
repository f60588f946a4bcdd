-- One application into several namespaces at once (one per site), waiting for all of
-- them together: every site gets its own result, and a failing site does not hide or
-- cut short the others (fail_fast = "each").
--
--   rigelk8s run examples/workflows/three-namespaces.lua -f Rigelfile \
--       --sites site-a,site-b,site-c [--image-for site-b=robot:2.1]
--
-- Each site gets the application Deployment only (a variant per namespace): use a
-- Rigelfile without a ROS master (deploy_ros_master: false) or without storage, or add
-- the master and claims per site the same way.
local wf = require "rigelk8s.workflow"

local info = {command = "multi-site",
              usage = "rigelk8s run three-namespaces.lua [-f Rigelfile] --sites A,B,C [--image-for SITE=IMAGE] [flags]",
              flags = {{"sites", nil, "--sites", value = "A,B,C", default = "site-a,site-b,site-c",
                        help = "namespaces, comma-separated"},
                       {"image_for", nil, "--image-for", value = "SITE=IMAGE", multi = true,
                        help = "another image for one site (repeatable)"}}}

return wf.main(function(ctx)
  local cfg = wf.config(ctx)
  local images = {}
  for _, spec in ipairs(ctx.opts.image_for or {}) do
    local site, image = spec:match("^([^=]+)=(.+)$")
    if not site then require("rigelk8s.errors").usage("--image-for: expected SITE=IMAGE, got %q", spec) end
    images[site] = image
  end
  local objects, apps = {}, {}
  for site in ctx.opts.sites:gmatch("[^,]+") do
    objects[#objects + 1] = {apiVersion = "v1", kind = "Namespace", metadata = {name = site}}
    local d = wf.render(ctx, {name = cfg.deployment_name, namespace = site, image = images[site],
                              labels = {["robot.example.com/site"] = site}})
    objects[#objects + 1] = d
    apps[#apps + 1] = d
  end
  wf.apply(ctx, objects)
  local result = wf.wait(ctx, apps, {fail_fast = "each"})
  local failed = {}
  for _, t in ipairs(result.targets) do
    if t.state ~= "ready" then failed[#failed + 1] = t.namespace end
  end
  return wf.finish(ctx, result, {failed_sites = #failed > 0 and failed or nil,
    note = #failed > 0 and ("sites not Ready: " .. table.concat(failed, ", ")) or "every site is Ready"})
end, arg, info)
