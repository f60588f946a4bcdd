-- rigelk8s deploy: validate and render the Rigelfile, apply everything in dependency
-- order (namespace, storage, ROS master, application, observability) without waiting in
-- between (ROS nodes wait for their master themselves), then wait for all of it together
-- and print a summary. `wait_for_master: true` applies the application only once the
-- master is Ready. A deploy that changes nothing says so (and nothing rolls out).
local wf = require "rigelk8s.workflow"

local info = {command = "deploy", usage = "rigelk8s deploy [-f Rigelfile] [flags]",
              description = "Render the Rigelfile's orchestration job, apply it, and wait until it is Ready.",
              flags = {{"logs", nil, "--logs", help = "stream the new pods' logs while waiting (rigelk8s logs)"},
                       wf.UNSCHEDULABLE_GRACE_FLAG}}

return wf.main(function(ctx)
  wf.unschedulable_grace(ctx) -- a bad duration is a usage error before anything is applied
  return wf.finish(ctx, wf.deploy(ctx))
end, arg, info)
