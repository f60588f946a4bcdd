-- The fleet's process runner: one rigelk8s process per target (`-o json`), at most
-- --max-parallel at once (see lua/rigelk8s/fleet.lua for when it is used instead of
-- fleet/inprocess.lua). Everything about spawning and reaping sits here, behind the
-- interface both runners share:
--   runner:start(t, command, args, kind) -> job, started   (kind "main" marks)
--   runner:reap() -> the next finished job or nil (never blocks)
--   runner:idle(secs)   waits a little for news (here: sleeps)
--   runner:each(targets, command, args_for, done)   bounded parallelism, done(job) each
--   runner:signal(sig), runner:close(), runner.n (jobs running)
-- A job ends with code (the exit code), doc (the target's -o json report), elapsed, and
-- from its marks held, applying, changed.
local sys = require "rigelk8s.sys"
local fleet = require "rigelk8s.fleet"

local M = {}

local Runner = {}
Runner.__index = Runner
M.Runner = Runner

function M.new(ctx, p)
  local tmp = os.tmpname()
  os.remove(tmp)
  assert(sys.mkdir_private(tmp))
  local hooks = tmp .. "/fleet-hooks.lua"
  assert(sys.write_private(hooks, fleet.MARK_HOOKS))
  return setmetatable({ctx = ctx, p = p, tmp = tmp, hooks = hooks, exe = sys.exe() or "rigelk8s",
                       running = {}, n = 0, seq = 0, kind = "process",
                       default_parallel = 16}, Runner)
end

function Runner:close()
  os.remove(self.hooks)
  os.remove(self.tmp)
end

-- Starts `command args...` for target t; job = {t, kind, files...}.
function Runner:start(t, command, args, kind)
  self.seq = self.seq + 1
  local base = self.tmp .. "/" .. self.seq
  local job = {t = t, kind = kind, out = base .. ".out", err = base .. ".err", mark = base .. ".mark"}
  local cmd = {self.exe, command}
  for _, a in ipairs(args) do cmd[#cmd + 1] = a end
  for _, a in ipairs{"--context", t.context, "-o", "json", "--no-color"} do cmd[#cmd + 1] = a end
  if t.namespace then cmd[#cmd + 1] = "-n"; cmd[#cmd + 1] = t.namespace end
  if t.kubeconfig then cmd[#cmd + 1] = "--kubeconfig"; cmd[#cmd + 1] = t.kubeconfig end
  if kind == "main" then cmd[#cmd + 1] = "--hooks"; cmd[#cmd + 1] = self.hooks end
  -- Only the command itself gets the marker (and so the hold check): the fleet's own
  -- status checks and --atomic rollbacks restore, they do not start anything new.
  local env = {RIGELK8S_FLEET_CHILD = "1"}
  if kind == "main" then env.RIGELK8S_FLEET_MARK = job.mark end
  local pid, err = sys.spawn(cmd, {stdout = job.out, stderr = job.err, env = env})
  job.started = sys.now()
  if not pid then
    job.code, job.doc = 1, {state = "error", message = tostring(err)}
    return job, false
  end
  job.pid = pid
  self.running[pid] = job
  self.n = self.n + 1
  return job, true
end

-- The target's report, cut down to what the fleet keeps. Shared with the in-process
-- runner (text: what the target wrote on stdout; err_text: on stderr).
function M.finish_job(job, code, text, err_text, marks)
  job.code, job.elapsed = code, sys.now() - job.started
  local json = require "rigelk8s.json"
  local ok, doc = pcall(json.decode, text or "")
  if not (ok and type(doc) == "table") then
    local err = (err_text or ""):gsub("%s+$", "")
    doc = {state = "error", message = err ~= "" and err:match("[^\n]*$") or ("exit " .. code)}
  end
  job.doc = doc
  fleet.read_marks(job, marks)
end

-- The next finished job, or nil when none finished (does not block).
function Runner:reap()
  local pid, code = sys.wait()
  if not pid then return nil end
  local job = self.running[pid]
  if not job then return nil end
  self.running[pid] = nil
  self.n = self.n - 1
  local marks = {}
  for line in (fleet.read_all(job.mark) or ""):gmatch("[^\n]+") do marks[#marks + 1] = line end
  M.finish_job(job, code, fleet.read_all(job.out), fleet.read_all(job.err), marks)
  os.remove(job.out); os.remove(job.err); os.remove(job.mark)
  return job
end

function Runner:idle(secs)
  sys.sleep(secs)
end

function Runner:signal(sig)
  for pid in pairs(self.running) do sys.kill(pid, sig) end
end

-- Runs command on each of targets (bounded parallelism), calling done(job) as each ends.
-- The in-process runner uses the same loop.
function Runner:each(targets, command, args_for, done)
  local i = 1
  while i <= #targets or self.n > 0 do
    while i <= #targets and self.n < self.p.max_parallel and not sys.interrupted() do
      local job, started = self:start(targets[i], command, args_for(targets[i]), "aux")
      if not started then done(job) end
      i = i + 1
    end
    if sys.interrupted() then i = #targets + 1 end
    local job = self:reap()
    if job then done(job) elseif self.n > 0 then self:idle(0.01) end
  end
end

return M
