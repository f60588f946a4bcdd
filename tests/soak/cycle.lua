-- One step of a soak cycle: the stock deploy (or update) steps plus SOAK_EXTRA
-- ConfigMaps, so that every namespace holds a realistic number of objects.
--   rigelk8s run cycle.lua -f Rigelfile -n NS -o json            (deploy)
--   SOAK_IMAGE=img SOAK_GENERATION=2 rigelk8s run cycle.lua ...   (update)
-- The delete step is the stock `rigelk8s delete --delete-storage`.
local wf = require "rigelk8s.workflow"

return wf.main(function(ctx)
  wf.config(ctx)
  if os.getenv("SOAK_IMAGE") then wf.set_image(ctx, os.getenv("SOAK_IMAGE")) end
  wf.render(ctx)
  local generation = os.getenv("SOAK_GENERATION") or "1"
  for i = 1, tonumber(os.getenv("SOAK_EXTRA") or "35") do
    wf.add(ctx, {apiVersion = "v1", kind = "ConfigMap",
                 metadata = {name = string.format("soak-%03d", i), labels = {soak = "true"}},
                 data = {generation = generation, payload = string.rep("p", 512)}}, "config")
  end
  wf.apply(ctx, ctx.objects)
  return wf.finish(ctx, wf.wait(ctx, wf.wait_targets(ctx)))
end, arg, {command = os.getenv("SOAK_IMAGE") and "soak-update" or "soak-deploy"})
