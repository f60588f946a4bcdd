-- rigelk8s delete: tear the application down in reverse dependency order and wait until
-- it is gone. Persistent volume claims (and the namespace holding them) are kept unless
-- --delete-storage is given.
local wf = require "rigelk8s.workflow"

local info = {command = "delete", usage = "rigelk8s delete [-f Rigelfile] [--delete-storage] [flags]",
              description = "Delete what deploy created, in reverse order; keeps storage by default.",
              flags = {{"delete_storage", nil, "--delete-storage", help = "also delete PVCs, PVs and the namespace"}}}

return wf.main(function(ctx)
  return wf.finish(ctx, wf.delete(ctx, ctx.opts.delete_storage))
end, arg, info)
