-- rigelk8s diff: what `deploy` would change. Each rendered object goes through a
-- server-side dry-run apply; the result is compared with the live object as a unified
-- diff of YAML. managedFields are dropped and Secret data is masked.
-- Exit 0: no differences; 1: differences; 2/3: configuration or cluster errors.
local wf = require "rigelk8s.workflow"
local diff = require "rigelk8s.diff"
local yaml = require "rigelk8s.yaml"

local info = {command = "diff", usage = "rigelk8s diff [-f Rigelfile] [flags]",
              description = "Show what deploy would change, as a unified diff (exit 1 when there is one)."}

return wf.main(function(ctx)
  wf.config(ctx)
  wf.render(ctx)
  local client = wf.connect(ctx)
  local changed = {}
  local out = {}
  for _, o in ipairs(ctx.objects) do
    local live, err = client:try_get(o)
    if not live and err and err.code ~= 404 then error(err, 0) end
    local merged, aerr = client:try_apply(o, {dry_run = true, force = ctx.opts.force_conflicts})
    if not merged then
      if aerr and aerr.code == 404 and o.kind ~= "Namespace" then
        -- Its namespace does not exist yet: the object would be created as rendered.
        merged = o
      else
        error(aerr, 0)
      end
    end
    local a, b = diff.mask_secrets(diff.clean(live), diff.clean(merged))
    local name = string.format("%s/%s", o.kind, o.metadata.name)
    local text = diff.unified(a and yaml.dump(a) or "", yaml.dump(b),
                              {from = "live/" .. name, to = "merged/" .. name})
    if text ~= "" then
      changed[#changed + 1] = name
      out[#out + 1] = text
    end
  end
  if ctx.json then
    local json = require "rigelk8s.json"
    local rigelk8s = require "rigelk8s"
    io.stdout:write(json.encode{command = "diff", changed = rigelk8s.array(changed),
                                diff = table.concat(out)}, "\n")
  else
    io.stdout:write(table.concat(out))
    if #changed == 0 then io.stderr:write("no differences\n") end
  end
  return #changed == 0 and 0 or 1
end, arg, info)
