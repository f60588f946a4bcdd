-- rigelk8s fleet status | resume
--   status: one row per target and Deployment: reachable, image, revision, Ready, drift
--           from the Rigelfile (the server-side diff), last change. -o json: the same data.
--   resume [PID]: lets a rollout paused by --pause go on to its next wave.
local wf = require "rigelk8s.workflow"
local fleet = require "rigelk8s.fleet"
local errors = require "rigelk8s.errors"
local sys = require "rigelk8s.sys"

local sub = arg[1]
local rest = {}
for i = 2, #arg do rest[#rest + 1] = arg[i] end

local USAGE = "usage: rigelk8s fleet status [--fleet FILE | --contexts A,B] [--select K=V] [-o json]\n" ..
              "       rigelk8s fleet resume [PID]\n"

if sub == nil or sub == "-h" or sub == "--help" then
  io.stdout:write(USAGE)
  return sub == nil and errors.EXIT.usage or 0
end

if sub == "resume" then
  local dir = fleet.runtime_dir()
  local pids = {}
  if rest[1] then
    if not rest[1]:match("^%d+$") then
      io.stderr:write("rigelk8s: fleet resume: expected the PID of a paused rollout, got '" .. rest[1] .. "'\n")
      return errors.EXIT.usage
    end
    pids[1] = rest[1]
  else
    local p = io.popen("ls -1 '" .. dir:gsub("'", "'\\''") .. "' 2>/dev/null")
    for line in p:lines() do
      local pid = line:match("^(%d+)%.paused$")
      if pid then pids[#pids + 1] = pid end
    end
    p:close()
  end
  local n = 0
  for _, pid in ipairs(pids) do
    local f = io.open(dir .. "/" .. pid .. ".paused")
    if f then
      local label = f:read("l") or ""
      f:close()
      sys.write_private(dir .. "/" .. pid .. ".resume", "resume\n")
      io.stdout:write(string.format("resumed rollout %s (paused after %s)\n", pid, label))
      n = n + 1
    end
  end
  if n == 0 then
    io.stderr:write("rigelk8s: fleet resume: no paused rollout" .. (rest[1] and (" with PID " .. rest[1]) or "") ..
                    " (paused rollouts leave their marker in " .. dir .. ")\n")
    return errors.EXIT.failed
  end
  return 0
end

if sub ~= "status" then
  io.stderr:write("rigelk8s: fleet: unknown subcommand '" .. sub .. "'\n" .. USAGE)
  return errors.EXIT.usage
end

local info = {command = "fleet status", usage = "rigelk8s fleet status [flags]",
              description = "Every target of the fleet: reachable, image and revision per Deployment, Ready, drift, last change."}

return wf.main(function(ctx)
  local cfg = (not ctx.opts.contexts) and wf.config(ctx) or nil
  local targets = fleet.targets(ctx, cfg)
  if not targets then
    errors.usage("fleet status: no fleet to show; give --fleet FILE, --contexts A,B or a fleet: list in %s",
                 ctx.opts.file or "the Rigelfile")
  end
  return fleet.status(ctx, targets, rest)
end, rest, info)
