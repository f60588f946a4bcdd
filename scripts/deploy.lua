-- rigelk8s deploy: validate and render the Rigelfile, apply everything in dependency
-- order (namespace, storage, ROS master, application, observability) without waiting in
-- between (ROS nodes wait for their master themselves), then wait for all of it together
-- and print a summary. `wait_for_master: true` applies the application only once the
-- master is Ready.
local wf = require "rigelk8s.workflow"

local info = {command = "deploy", usage = "rigelk8s deploy [-f Rigelfile] [flags]",
              description = "Render the Rigelfile's orchestration job, apply it, and wait until it is Ready."}

return wf.main(function(ctx)
  local cfg = wf.config(ctx)
  wf.render(ctx)
  wf.connect(ctx)
  if cfg.gate_on_master then
    wf.apply(ctx, wf.phase_objects(ctx, {"namespace", "storage", "master"}))
    local master = wf.wait(ctx, wf.phase_objects(ctx, {"master"}))
    if master.state ~= "ready" then
      return wf.finish(ctx, master, {note = "the application was not applied: its master is not Ready"})
    end
    wf.apply(ctx, wf.phase_objects(ctx, {"application", "observability"}))
  else
    wf.apply(ctx, ctx.objects)
  end
  wf.observability_stack(ctx)
  local result = wf.wait(ctx, wf.wait_targets(ctx))
  return wf.finish(ctx, result, wf.no_change_note(ctx))
end, arg, info)
