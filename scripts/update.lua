-- rigelk8s update: re-apply the (changed) Rigelfile, or just a new image with --image,
-- and follow the rolling update. With --atomic a failed update is rolled back to the
-- revision that ran before, the rollback is waited for, and both are reported (exit 1:
-- the update failed, even when the rollback is Ready again). Without --atomic the
-- failure is reported and the cluster is left as it is.
local wf = require "rigelk8s.workflow"
local rollout = require "rigelk8s.rollout"

local info = {command = "update", usage = "rigelk8s update [-f Rigelfile] [--image IMAGE] [--atomic] [flags]",
              description = "Roll out a changed Rigelfile (or a new image) and follow the rolling update.",
              flags = {{"image", nil, "--image", value = "IMAGE", help = "new application image"},
                       {"logs", nil, "--logs", help = "stream the new pods' logs while waiting (rigelk8s logs)"},
                       wf.UNSCHEDULABLE_GRACE_FLAG}}

local function images_of(d)
  local out = {}
  local spec = d and d.spec and d.spec.template and d.spec.template.spec
  for _, c in ipairs(spec and spec.containers or {}) do out[#out + 1] = c.image end
  return table.concat(out, ",")
end

return wf.main(function(ctx)
  wf.unschedulable_grace(ctx) -- a bad duration is a usage error before anything is applied
  wf.config(ctx)
  if ctx.opts.image then wf.set_image(ctx, ctx.opts.image) end
  wf.render(ctx)
  local client = wf.connect(ctx)
  local apps = {}
  for _, d in ipairs(wf.phase_objects(ctx, {"application"})) do
    if d.kind == "Deployment" then apps[#apps + 1] = d end
  end
  -- The revision each application Deployment runs now: --atomic returns to it.
  local before = {}
  for _, d in ipairs(apps) do
    local live = client:try_get(d)
    local ann = live and live.metadata.annotations or {}
    local rev = tonumber(ann["deployment.kubernetes.io/revision"])
    if rev then before[d.metadata.name] = {revision = rev, images = images_of(live)} end
  end
  wf.apply(ctx, ctx.objects)
  local result = wf.wait(ctx, wf.wait_targets(ctx), {ros_graph = true})
  if result.state == "ready" or result.state == "interrupted" then
    return wf.finish(ctx, result, wf.no_change_note(ctx))
  end
  if not ctx.opts.atomic then
    return wf.finish(ctx, result, {note = "the cluster is left as it is; rerun with --atomic to roll " ..
                                          "back a failed update automatically, or run `rigelk8s rollback`"})
  end

  -- --atomic: put back the revisions that ran before, wait for them, report both.
  local revision_now = {}
  for _, r in ipairs(result.rows) do
    if r.kind == "Deployment" and r.revision then revision_now[r.object] = r.revision end
  end
  local rolled, targets, rigelk8s = {}, {}, require "rigelk8s"
  for _, d in ipairs(apps) do
    local prev = before[d.metadata.name]
    if prev and revision_now[d.metadata.name] ~= prev.revision then
      local restored = rollout.undo(client, {name = d.metadata.name, namespace = d.metadata.namespace},
                                    prev.revision, {force = ctx.opts.force_conflicts})
      rolled[#rolled + 1] = {deployment = d.metadata.name, to_revision = restored, images = prev.images}
      targets[#targets + 1] = d
      ctx.out:say("--atomic: rolling deployment %s back to revision %d (%s)", d.metadata.name,
                  restored, prev.images)
    end
  end
  if #rolled == 0 then
    return wf.finish(ctx, result, {rolled_back = false,
      note = "--atomic: nothing to roll back (the application did not exist before, or this update did not change it)"})
  end
  -- The rollback gets a fresh --timeout: the update may have used all of it. Its wait is
  -- part of this run's outcome, not one of its own: no after_wait, and wf.finish runs
  -- on_failure once with the update's result (rolled_back says how the rollback went).
  local back = wf.wait(ctx, targets, {timeout = ctx.timeout, hooks = false})
  local after = {}
  for _, r in ipairs(back.rows) do
    if r.revision then after[r.object] = r.revision end
  end
  local parts, doc_rolled = {}, rigelk8s.array{}
  for _, r in ipairs(rolled) do
    parts[#parts + 1] = string.format("deployment %s back to revision %d (%s%s)", r.deployment, r.to_revision,
                                      r.images, after[r.deployment] and string.format("; now revision %d", after[r.deployment]) or "")
    doc_rolled[#doc_rolled + 1] = {deployment = r.deployment, to_revision = r.to_revision,
                                   revision = after[r.deployment], images = r.images}
  end
  local note
  if back.state == "ready" then
    note = string.format("update failed, so --atomic rolled %s: Ready again after %.1fs",
                         table.concat(parts, ", "), back.elapsed or 0)
  else
    note = string.format("update failed, and --atomic rolled %s, but the rollback is not Ready either (%s):\n%s",
                         table.concat(parts, ", "), back.state, back.diagnosis or "")
  end
  if back.state == "interrupted" then result.state = "interrupted" end
  result.rolled_back = back.state == "ready"
  return wf.finish(ctx, result, {note = note, rolled_back = result.rolled_back, rollback = {
    state = back.state, deployments = doc_rolled, diagnosis = back.diagnosis or rigelk8s.null}})
end, arg, info)
