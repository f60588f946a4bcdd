-- rigelk8s delete: tear the application down in reverse dependency order and wait until
-- it is gone. Persistent volume claims (and the namespace holding them) are kept unless
-- --delete-storage is given. Objects of the application's inventory that the Rigelfile
-- no longer renders are deleted too; `--app NAME -n NS` needs no Rigelfile at all.
local wf = require "rigelk8s.workflow"

local info = {command = "delete", usage = "rigelk8s delete [-f Rigelfile | --app NAME -n NS] [--delete-storage] [flags]",
              description = "Delete what deploy created, in reverse order; keeps storage by default.",
              flags = {{"delete_storage", nil, "--delete-storage", help = "also delete PVCs, PVs and the namespace"},
                       {"app", nil, "--app", value = "NAME", help = "delete application NAME from its inventory alone (no Rigelfile; needs -n)"}}}

return wf.main(function(ctx)
  if ctx.opts.app then require("rigelk8s.inventory").with_app(ctx, ctx.opts.app) end
  return wf.finish(ctx, wf.delete(ctx, ctx.opts.delete_storage))
end, arg, info)
