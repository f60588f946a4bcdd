-- A migration Job before the deploy: the application is applied only once the Job is
-- Complete. A failing migration (after its retries) stops the run with the Job's log.
--
--   rigelk8s run examples/workflows/migrate-then-deploy.lua -f Rigelfile [--migration-image IMAGE]
local wf = require "rigelk8s.workflow"

local info = {command = "migrate-then-deploy",
              usage = "rigelk8s run migrate-then-deploy.lua [-f Rigelfile] [--migration-image IMAGE] [flags]",
              flags = {{"migration_image", nil, "--migration-image", value = "IMAGE",
                        help = "the migration's image (default: the application's)"}}}

return wf.main(function(ctx)
  local cfg = wf.config(ctx)
  wf.render(ctx)
  local job = {apiVersion = "batch/v1", kind = "Job",
               metadata = {name = cfg.deployment_name .. "-migrate", namespace = cfg.namespace},
               spec = {backoffLimit = 2,  -- two retries: a migration may meet a database still starting
                       template = {spec = {restartPolicy = "Never", containers = {{
                         name = "migrate", image = ctx.opts.migration_image or cfg.application_image,
                         args = {"migrate", "--to", "latest"}}}}}}}
  wf.apply(ctx, wf.phase_objects(ctx, {"namespace", "config", "storage"}))
  wf.apply(ctx, {job})
  local migration = wf.wait_job(ctx, job)
  if migration.state ~= "ready" then
    -- The log of the last attempt says why (pods of a Job carry job-name=<job>).
    local client = wf.connect(ctx)
    local pods = client:list{apiVersion = "v1", kind = "Pod", namespace = cfg.namespace,
                             label_selector = "job-name=" .. job.metadata.name}
    local last = pods[#pods]
    local log = last and client:try_logs(last, {tail = 20})
    if log then migration.diagnosis = migration.diagnosis .. "\n  log of " .. last.metadata.name .. ":\n    " ..
                                      log:gsub("\n$", ""):gsub("\n", "\n    ") end
    return wf.finish(ctx, migration, {note = "the application was not applied: the migration did not complete"})
  end
  wf.apply(ctx, ctx.objects)
  return wf.finish(ctx, wf.wait(ctx, wf.wait_targets(ctx)), {note = "migration " .. job.metadata.name .. " completed first"})
end, arg, info)
