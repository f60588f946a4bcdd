-- A custom rollout built from the stock steps: deploy as `rigelk8s deploy` does, plus
--   * a ConfigMap of site settings that the application reads as environment variables,
--   * a check after the deploy: the ROS master's Service has a ready endpoint on 11311
--     and every application pod runs the image the Rigelfile asks for.
--
--   rigelk8s run examples/custom-workflow.lua -f Rigelfile [--site NAME] [--kubeconfig PATH] ...
--
-- Every global flag works (-n, --timeout, -o json, --hooks, --dry-run, ...), and so do
-- the Rigelfile's hooks. Copy it and change what your site needs.
local wf = require "rigelk8s.workflow"

local info = {
  command = "custom-deploy",
  usage = "rigelk8s run custom-workflow.lua [-f Rigelfile] [--site NAME] [flags]",
  description = "The stock deploy, plus a site ConfigMap and a post-deploy check.",
  flags = {{"site", nil, "--site", value = "NAME", default = "lab", help = "site name for the ConfigMap"}},
}

-- The post-deploy check: returns nil when all is well, or what is wrong.
local function check(ctx, cfg)
  local client = wf.connect(ctx)
  if cfg.deploy_ros_master and cfg.ros_version == "ros1" then
    local ep = client:try_get{apiVersion = "v1", kind = "Endpoints", name = "ros-master",
                              namespace = cfg.namespace}
    local ready = 0
    for _, subset in ipairs(ep and ep.subsets or {}) do
      local has_port = false
      for _, p in ipairs(subset.ports or {}) do if p.port == 11311 then has_port = true end end
      if has_port then ready = ready + #(subset.addresses or {}) end
    end
    if ready == 0 then return "Service ros-master has no ready endpoint on port 11311" end
  end
  local app = wf.find(ctx, "Deployment", cfg.deployment_name)
  local want = app.spec.template.spec.containers[1].image
  for _, p in ipairs(client:list{apiVersion = "v1", kind = "Pod", namespace = cfg.namespace,
                                 label_selector = "app=" .. cfg.deployment_name}) do
    if not p.metadata.deletionTimestamp and p.spec.containers[1].image ~= want then
      return string.format("pod %s runs %s, not %s", p.metadata.name, p.spec.containers[1].image, want)
    end
  end
  return nil
end

return wf.main(function(ctx)
  local cfg = wf.config(ctx)
  wf.render(ctx)

  -- 1. One more object: applied in the "config" phase, before the workloads that read it.
  local settings = cfg.deployment_name .. "-site"
  wf.add(ctx, {
    apiVersion = "v1", kind = "ConfigMap",
    metadata = {name = settings, labels = {["app.kubernetes.io/managed-by"] = "rigelk8s",
                                           ["app.kubernetes.io/part-of"] = cfg.deployment_name}},
    data = {SITE = ctx.opts.site, ROS_LOG_DIR = "/tmp/ros-logs"},
  }, "config")

  -- 2. The rendered application reads it: rendered objects are plain tables to edit.
  local app = wf.find(ctx, "Deployment", cfg.deployment_name)
  if app then
    local container = app.spec.template.spec.containers[1]
    container.envFrom = container.envFrom or {}
    table.insert(container.envFrom, {configMapRef = {name = settings}})
  end

  -- 3. The stock steps: apply in dependency order, wait for everything together.
  wf.apply(ctx, ctx.objects)
  local result = wf.wait(ctx, wf.wait_targets(ctx))
  if result.state ~= "ready" or ctx.opts.dry_run then return wf.finish(ctx, result) end

  -- 4. The post-deploy check turns a rolled-out but broken deployment into a failure.
  local problem = check(ctx, cfg)
  if problem then
    result.state = "failed"
    result.diagnosis = "post-deploy check: " .. problem
  else
    ctx.out:say("post-deploy check passed: ros-master has a ready endpoint, pods run %s",
                app and app.spec.template.spec.containers[1].image or "the expected image")
  end
  return wf.finish(ctx, result, {site = ctx.opts.site, check = problem or "passed"})
end, arg, info)
