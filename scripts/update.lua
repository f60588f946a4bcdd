-- rigelk8s update: re-apply the (changed) Rigelfile, or just a new image with --image,
-- and follow the rolling update. With --atomic a failed update is rolled back to the
-- revision that ran before, the rollback is waited for, and both are reported.
local wf = require "rigelk8s.workflow"
local rollout = require "rigelk8s.rollout"

local info = {command = "update", usage = "rigelk8s update [-f Rigelfile] [--image IMAGE] [--atomic] [flags]",
              description = "Roll out a changed Rigelfile (or a new image) and follow the rolling update.",
              flags = {{"image", nil, "--image", value = "IMAGE", help = "new application image"}}}

return wf.main(function(ctx)
  local cfg = wf.config(ctx)
  if ctx.opts.image then wf.set_image(ctx, ctx.opts.image) end
  wf.render(ctx)
  local client = wf.connect(ctx)
  local apps = wf.phase_objects(ctx, {"application"})
  -- The revision each application Deployment runs now: --atomic returns to it.
  local before = {}
  for _, d in ipairs(apps) do
    if d.kind == "Deployment" then
      local live = client:try_get(d)
      local ann = live and live.metadata.annotations or {}
      before[d.metadata.name] = tonumber(ann["deployment.kubernetes.io/revision"])
    end
  end
  wf.apply(ctx, ctx.objects)
  local result = wf.wait(ctx, wf.wait_targets(ctx))
  if result.state == "ready" or result.state == "interrupted" then
    return wf.finish(ctx, result, wf.no_change_note(ctx))
  end
  if not ctx.opts.atomic then
    return wf.finish(ctx, result, {note = "the cluster is left as it is; rerun with --atomic to roll back a failed update automatically, or run `rigelk8s rollback`"})
  end
  -- Atomic: report the failure, put the previous revisions back, wait for them.
  local failed_diag = result.diagnosis
  ctx.out:say("update failed:\n  %s", (failed_diag or ""):gsub("\n", "\n  "))
  local rolled = {}
  for _, d in ipairs(apps) do
    local rev = before[d.metadata.name]
    if rev then
      local restored = rollout.undo(client, {name = d.metadata.name, namespace = d.metadata.namespace}, rev)
      rolled[#rolled + 1] = string.format("%s to revision %d", d.metadata.name, restored)
      ctx.out:say("rolling back deployment %s to revision %d", d.metadata.name, restored)
    end
  end
  if #rolled == 0 then
    return wf.finish(ctx, result, {note = "--atomic: nothing to roll back (the application did not exist before)"})
  end
  local back = wf.wait(ctx, apps, {fail_fast = true})
  local note = string.format("rolled back %s: %s", table.concat(rolled, ", "),
                             back.state == "ready" and "the previous revision is Ready again"
                             or ("the rollback did not become Ready: " .. (back.diagnosis or back.state)))
  result.rolled_back = back.state == "ready"
  return wf.finish(ctx, result, {note = note, rolled_back = result.rolled_back,
                                 rollback_state = back.state})
end, arg, info)
