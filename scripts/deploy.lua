-- rigelk8s deploy: validate and render the Rigelfile, apply everything in dependency
-- order (namespace, storage, ROS master, application, observability) without waiting in
-- between (ROS nodes wait for their master themselves), then wait for all of it together
-- and print a summary. `wait_for_master: true` applies the application only once the
-- master is Ready. A deploy that changes nothing says so (and nothing rolls out).
local wf = require "rigelk8s.workflow"

local info = {command = "deploy", usage = "rigelk8s deploy [-f Rigelfile] [flags]",
              description = "Render the Rigelfile's orchestration job, apply it, and wait until it is Ready."}

return wf.main(function(ctx)
  local cfg = wf.config(ctx)
  wf.render(ctx)
  wf.connect(ctx)
  -- The monitoring stack (when helm is there) brings the ServiceMonitor CRD, so it goes
  -- before the objects that need it.
  wf.observability_stack(ctx)
  if cfg.wait_for_master and cfg.deploy_ros_master and not ctx.opts.dry_run then
    wf.apply(ctx, wf.phase_objects(ctx, {"namespace", "storage", "master"}))
    local master = wf.wait(ctx, wf.phase_objects(ctx, {"master"}), {hooks = false})
    if master.state ~= "ready" then
      wf.result_hooks(ctx, master)
      return wf.finish(ctx, master, {note = "wait_for_master: the application was not applied, " ..
                                            "because the ROS master is not Ready"})
    end
    wf.apply(ctx, wf.phase_objects(ctx, {"application", "observability"}))
  else
    wf.apply(ctx, ctx.objects)
  end
  local result = wf.wait(ctx, wf.wait_targets(ctx))
  return wf.finish(ctx, result, wf.no_change_note(ctx))
end, arg, info)
