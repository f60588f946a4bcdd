-- rigelk8s delete: tear the application down in reverse dependency order and wait until
-- it is gone. Persistent volume claims (and the namespace holding them) are kept unless
-- --delete-storage is given.
local wf = require "rigelk8s.workflow"

local info = {command = "delete", usage = "rigelk8s delete [-f Rigelfile] [--delete-storage] [flags]",
              description = "Delete what deploy created, in reverse order; keeps storage by default.",
              flags = {{"delete_storage", nil, "--delete-storage", help = "also delete PVCs, PVs and the namespace"}}}

return wf.main(function(ctx)
  wf.config(ctx)
  wf.render(ctx)
  local client = wf.connect(ctx)
  local order = {"observability", "application", "master"}
  if ctx.opts.delete_storage then order[#order + 1] = "storage"; order[#order + 1] = "namespace" end
  local deleted, missing, kept = {}, {}, {}
  for _, phase in ipairs(order) do
    local objs = wf.phase_objects(ctx, {phase})
    for i = #objs, 1, -1 do
      local o = objs[i]
      local res, err = client:try_delete(o, {propagation_policy = "Foreground", wait = ctx.timeout,
                                             ignore_not_found = true, dry_run = ctx.opts.dry_run})
      if res == nil and err then error(err, 0) end
      if res == false then missing[#missing + 1] = wf.ref(o) else deleted[#deleted + 1] = wf.ref(o) end
      ctx.out:say("%s %s%s", wf.ref(o), res == false and "not found" or "deleted",
                  ctx.opts.dry_run and " (dry run)" or "")
    end
  end
  if not ctx.opts.delete_storage then
    for _, o in ipairs(wf.phase_objects(ctx, {"storage", "namespace"})) do kept[#kept + 1] = wf.ref(o) end
    if #kept > 0 then
      ctx.out:say("kept (use --delete-storage to delete them too): %s", table.concat(kept, ", "))
    end
  end
  local rigelk8s = require "rigelk8s"
  return wf.finish(ctx, {state = "ready", rows = {},
                         summary = string.format("%d deleted, %d already gone", #deleted, #missing)}, {
    deleted = rigelk8s.array(deleted), not_found = rigelk8s.array(missing), kept = rigelk8s.array(kept)})
end, arg, info)
