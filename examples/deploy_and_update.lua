-- deploy_and_update.lua: deploy a Rigelfile, roll out a new image, follow it and show
-- what runs where; then (with --broken-image) an update that fails, is diagnosed and is
-- rolled back; and what to do when the cluster cannot be reached. It is made of the
-- steps the stock workflows use (rigelk8s.workflow) and the rollout API, so it is also a
-- template for your own workflows.
--
--   rigelk8s run examples/deploy_and_update.lua --help
--   rigelk8s run examples/deploy_and_update.lua -f examples/Rigelfile.example \
--       --image my-registry/my-ros-app:v1.1.0 --broken-image my-registry/my-ros-app:crashloop
--
-- Exit codes are the stock ones: 0 done (a failed update that was rolled back counts as
-- done: the cluster is healthy again), 1 a rollout failed and stayed failed, 2 a bad
-- flag or Rigelfile, 3 the cluster is unreachable, 4 a timeout.
local wf = require "rigelk8s.workflow"
local rollout = require "rigelk8s.rollout"
local errors = require "rigelk8s.errors"

local info = {
  command = "deploy-and-update",
  usage = "rigelk8s run examples/deploy_and_update.lua [-f Rigelfile] [--image IMAGE] " ..
          "[--broken-image IMAGE] [flags]",
  description = table.concat({
    "Deploy the Rigelfile and wait until it is Ready; roll out --image (default: the current",
    "image with tag suffix -next) and follow the rolling update; show the revisions and pods;",
    "with --broken-image, roll that out too, expect it to fail, and roll back to the revision",
    "before it. An unreachable cluster ends the run with exit code 3 and what to check.",
  }, "\n"),
  flags = {
    {"image", nil, "--image", value = "IMAGE", help = "the image to update to"},
    {"broken_image", nil, "--broken-image", value = "IMAGE",
     help = "an image whose update fails, to show the diagnosis and the rollback"},
  },
}

-- The Deployments that run the application (one, or one per component).
local function app_deployments(ctx)
  local out = {}
  for _, o in ipairs(wf.phase_objects(ctx, {"application"})) do
    if o.kind == "Deployment" then out[#out + 1] = {name = o.metadata.name, namespace = o.metadata.namespace} end
  end
  return out
end

local function revisions(client, deployments)
  local out = {}
  for _, d in ipairs(deployments) do
    local live = client:try_get{apiVersion = "apps/v1", kind = "Deployment", name = d.name, namespace = d.namespace}
    local ann = live and live.metadata.annotations or {}
    out[d.name] = tonumber(ann["deployment.kubernetes.io/revision"])
  end
  return out
end

-- Applies what the config renders to now and waits for it. Returns the rollout result.
local function roll_out(ctx, what)
  ctx.out:say("== %s", what)
  wf.render(ctx)
  ctx.applied = nil
  wf.apply(ctx, ctx.objects)
  return wf.wait(ctx, wf.wait_targets(ctx))
end

-- Revisions, images and pods (with their nodes) of each application Deployment.
local function show_status(ctx, client, deployments)
  ctx.out:say("== status")
  for _, d in ipairs(deployments) do
    local history = rollout.history(client, d)
    for _, h in ipairs(history) do
      ctx.out:say("  deployment %s revision %d: %s", d.name, h.revision, table.concat(h.images or {}, ", "))
    end
    for _, p in ipairs(client:list{apiVersion = "v1", kind = "Pod", namespace = d.namespace,
                                   label_selector = "app=" .. d.name}) do
      local ready = "not ready"
      for _, c in ipairs(p.status and p.status.conditions or {}) do
        if c.type == "Ready" and c.status == "True" then ready = "ready" end
      end
      ctx.out:say("  pod %s on %s: %s", p.metadata.name, p.spec.nodeName or "no node yet", ready)
    end
  end
end

local function next_image(image)
  if image:match(":[^/]+$") then return image .. "-next" end
  return image .. ":next"
end

return wf.main(function(ctx)
  local cfg = wf.config(ctx)

  -- An unreachable cluster: wf.connect makes one cheap request first and raises an error
  -- with exit code 3 that names the server. Say what to check, then stop with that code.
  local ok, client = pcall(wf.connect, ctx)
  if not ok then
    local e = errors.wrap(client)
    if e.exit_code == errors.EXIT.unreachable then
      errors.raise{exit_code = e.exit_code, reason = e.reason, message = e.message .. "\n" .. table.concat({
        "Nothing was changed. Check that:",
        "  - the cluster is up (kubectl cluster-info" .. (ctx.opts.kubeconfig and (" --kubeconfig " .. ctx.opts.kubeconfig) or "") .. ");",
        "  - the context is the one you mean (--context, kubectl config current-context);",
        "  - the network path is there (VPN, proxy, firewall) and the credentials are current;",
        "then run this again: every step is idempotent.",
      }, "\n")}
    end
    error(e, 0)
  end

  -- 1. Deploy.
  local result = roll_out(ctx, "deploy " .. cfg.deployment_name .. " to namespace " .. cfg.namespace)
  if result.state ~= "ready" then
    return wf.finish(ctx, result, {note = "the first deploy did not become Ready; nothing was updated"})
  end
  local deployments = app_deployments(ctx)

  -- 2. Rolling update to a new image, followed live.
  local image = ctx.opts.image or next_image(cfg.application_image)
  local before = revisions(client, deployments)
  wf.set_image(ctx, image)
  result = roll_out(ctx, "rolling update to " .. image)
  if result.state ~= "ready" then
    return wf.finish(ctx, result, {note = "the update to " .. image .. " failed; the cluster is left as it is " ..
                                          "(rigelk8s rollback puts the previous revision back)"})
  end
  local after = revisions(client, deployments)
  for _, d in ipairs(deployments) do
    ctx.out:say("deployment %s: revision %s -> %s", d.name, tostring(before[d.name]), tostring(after[d.name]))
  end

  -- 3. Status.
  show_status(ctx, client, deployments)

  -- 4. A failed update: diagnosed as soon as the pods show it, then rolled back to the
  --    revisions that ran before it, and that rollback followed too.
  local note
  if ctx.opts.broken_image then
    local good = revisions(client, deployments)
    wf.set_image(ctx, ctx.opts.broken_image)
    local failed = roll_out(ctx, "update to " .. ctx.opts.broken_image .. " (expected to fail)")
    if failed.state == "ready" then
      note = ctx.opts.broken_image .. " did not fail: nothing to roll back"
    elseif failed.state == "interrupted" then
      return wf.finish(ctx, failed)
    else
      ctx.out:say("the update failed (%s):\n  %s", failed.state, (failed.diagnosis or ""):gsub("\n", "\n  "))
      local rolled = {}
      for _, d in ipairs(deployments) do
        local rev = rollout.undo(client, d, good[d.name])
        rolled[#rolled + 1] = string.format("%s to revision %d", d.name, rev)
        ctx.out:say("rolling back deployment %s to revision %d", d.name, rev)
      end
      local targets = {}
      for _, o in ipairs(wf.phase_objects(ctx, {"application"})) do
        if o.kind == "Deployment" then targets[#targets + 1] = o end
      end
      result = wf.wait(ctx, targets)
      if result.state ~= "ready" then
        return wf.finish(ctx, result, {note = "the rollback did not become Ready either"})
      end
      note = string.format("the failed update was rolled back (%s); %s runs again", table.concat(rolled, ", "), image)
      show_status(ctx, client, deployments)
    end
  end
  return wf.finish(ctx, result, {note = note, image = image})
end, arg, info)
