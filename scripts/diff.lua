-- rigelk8s diff: what `deploy` would change. Each rendered object goes through a
-- server-side dry-run apply; the result is compared with the live object as a unified
-- diff of YAML. managedFields are dropped and Secret data is masked.
-- Exit 0: no differences; 1: differences; 2/3: configuration or cluster errors.
local wf = require "rigelk8s.workflow"

local info = {command = "diff", usage = "rigelk8s diff [-f Rigelfile] [flags]",
              description = "Show what deploy would change, as a unified diff (exit 1 when there is one)."}

return wf.main(function(ctx)
  wf.config(ctx)
  wf.render(ctx)
  local text, changed = wf.diff(ctx, ctx.objects)
  if ctx.json then
    local json = require "rigelk8s.json"
    local rigelk8s = require "rigelk8s"
    io.stdout:write(json.encode{command = "diff", changed = rigelk8s.array(changed), diff = text,
                                exit_code = #changed == 0 and 0 or 1, rigelk8s_version = rigelk8s.version}, "\n")
  else
    io.stdout:write(text)
    ctx.out:say("%s", #changed == 0 and "no differences"
                or string.format("%d object%s would change: %s", #changed, #changed == 1 and "" or "s",
                                 table.concat(changed, ", ")))
  end
  return #changed == 0 and 0 or 1
end, arg, info)
