-- The application's configuration files from a directory, as a ConfigMap mounted at
-- /etc/robot. The files' SHA-256 is an annotation of the pod template, so changing a
-- file and running again rolls the pods (a ConfigMap change alone would not).
--
--   rigelk8s run examples/workflows/config-from-dir.lua -f Rigelfile --config-dir ./config
local wf = require "rigelk8s.workflow"

local info = {command = "config-from-dir",
              usage = "rigelk8s run config-from-dir.lua [-f Rigelfile] --config-dir DIR [flags]",
              flags = {{"config_dir", nil, "--config-dir", value = "DIR", default = "config",
                        help = "directory of configuration files"}}}

return wf.main(function(ctx)
  local cfg = wf.config(ctx)
  wf.render(ctx)
  local cm, hash = wf.configmap_from_dir(ctx, ctx.opts.config_dir, cfg.deployment_name .. "-config")
  -- Mount it into the application container.
  local d = wf.find(ctx, "Deployment", cfg.deployment_name)
  local pod = d.spec.template.spec
  pod.volumes = pod.volumes or {}
  table.insert(pod.volumes, {name = "robot-config", configMap = {name = cm.metadata.name}})
  local c = pod.containers[1]
  c.volumeMounts = c.volumeMounts or {}
  table.insert(c.volumeMounts, {name = "robot-config", mountPath = "/etc/robot", readOnly = true})
  wf.apply(ctx, ctx.objects)
  return wf.finish(ctx, wf.wait(ctx, wf.wait_targets(ctx)), {config_sha256 = hash,
    note = string.format("ConfigMap %s (sha256 %s) mounted at /etc/robot", cm.metadata.name, hash:sub(1, 12))})
end, arg, info)
