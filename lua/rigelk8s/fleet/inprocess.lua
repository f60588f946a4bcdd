-- The fleet's in-process runner: every target's stock command (scripts/update.lua,
-- deploy, status, diff, rollback) runs in a coroutine of this process, with the same
-- arguments a child process would get (`--context`, `-n`, `--kubeconfig`, `-o json`, the
-- marking `--hooks`), so each target gets the whole single-cluster workflow: the
-- watch-driven wait on the new observedGeneration, pod diagnoses, --atomic of its own,
-- the hold check, the report. The interface is fleet/runner.lua's (start, reap, idle,
-- each, signal, close, n), so the waves (fleet/waves.lua) do not know which runs.
--
-- How the targets run at once without threads: the clients they connect join one
-- kube.group() (one curl multi handle for all), and rigelk8s.k8s makes their calls
-- cooperative (k8s.lua, "Cooperative calls"): a request or a watch wait starts what it
-- can without blocking and yields (client or watch set, wake time). The scheduler here
-- resumes a target when its client has news (client:news() changed) or its wake time
-- has come, and otherwise sleeps in group:wait, one poll over every target's
-- connections. Measured at 100 targets: README, Performance.
--
-- What a target's script writes on stdout (its -o json report), stderr and with print
-- is captured per target while it runs, as a child's would be.
local sys = require "rigelk8s.sys"
local errors = require "rigelk8s.errors"
local fleet = require "rigelk8s.fleet"
local runner = require "rigelk8s.fleet.runner"
local k8s = require "rigelk8s.k8s"

local M = {}

local Inproc = setmetatable({}, {__index = runner.Runner}) -- each() is shared
Inproc.__index = Inproc
M.Inproc = Inproc

-- Targets at once when --max-parallel is not given: all of them (they cost little here).
M.DEFAULT_PARALLEL = 1000

function M.new(ctx, p)
  local tmp = os.tmpname()
  os.remove(tmp)
  assert(sys.mkdir_private(tmp))
  local hooks = tmp .. "/fleet-hooks.lua"
  assert(sys.write_private(hooks, fleet.MARK_HOOKS))
  return setmetatable({ctx = ctx, p = p, tmp = tmp, hooks = hooks, group = require("rigelk8s.kube").group(),
                       running = {}, finished = {}, n = 0, kind = "inprocess",
                       default_parallel = M.DEFAULT_PARALLEL}, Inproc)
end

function Inproc:close()
  os.remove(self.hooks)
  os.remove(self.tmp)
  if self.group then self.group:close() end
end

-- A stand-in for a file that keeps what is written (f.text() gives it).
local function capture()
  local f, text = require("rigelk8s.util").capture_file()
  f.text = text
  return f
end

function Inproc:start(t, command, args, kind)
  local argv = {[0] = "scripts/" .. command .. ".lua"}
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  for _, a in ipairs{"--context", t.context, "-o", "json", "--no-color"} do argv[#argv + 1] = a end
  if t.namespace then argv[#argv + 1] = "-n"; argv[#argv + 1] = t.namespace end
  if t.kubeconfig then argv[#argv + 1] = "--kubeconfig"; argv[#argv + 1] = t.kubeconfig end
  if kind == "main" then argv[#argv + 1] = "--hooks"; argv[#argv + 1] = self.hooks end
  local job = {t = t, kind = kind, marks = {}, argv = argv, started = sys.now(),
               stdout = capture(), stderr = capture()}
  local chunk, lerr = require("rigelk8s.scripts").load(command)
  if not chunk then
    job.code, job.doc = 1, {state = "error", message = tostring(lerr)}
    return job, false
  end
  job.co = coroutine.create(function()
    local ok, code = pcall(chunk)
    if ok then
      job.exit = math.type(code) == "integer" and code or (code == nil and 0 or 1)
    else
      -- As the host reports a script's error: its message on stderr, its exit code.
      local e = errors.wrap(code)
      job.stderr:write("rigelk8s: ", tostring(e.message), "\n")
      job.exit = sys.interrupted() and errors.EXIT.interrupted or e.exit_code or 1
    end
    return job.exit
  end)
  fleet.current[job.co] = job
  k8s.cooperative[job.co] = self.group
  self.running[#self.running + 1] = job
  self.n = self.n + 1
  return job, true
end

-- The target's clients, closed when it ends: their TLS state and buffers go at once.
local function close_clients(co)
  for _, c in ipairs(k8s.clients_of[co] or {}) do pcall(c.close, c) end
end

local function ended(self, job, code)
  job.co_done = true
  fleet.current[job.co] = nil
  k8s.cooperative[job.co] = nil
  close_clients(job.co)
  runner.finish_job(job, code, job.stdout.text(), job.stderr.text(), job.marks)
  self.finished[#self.finished + 1] = job
end

-- Runs the target until it yields or ends, with its own stdout, stderr, print and arg.
local function resume(self, job)
  local saved = {io.stdout, io.stderr, io.write, _G.print, _G.arg}
  io.stdout, io.stderr = job.stdout, job.stderr
  io.write = function(...) return job.stdout:write(...) end
  _G.print = function(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    job.stdout:write(table.concat(parts, "\t"), "\n")
  end
  _G.arg = job.argv
  -- Restored however this function is left: Ctrl-C raises in this (the main) coroutine
  -- at whatever instruction it runs next (core/host.c).
  local _ <close> = setmetatable({}, {__close = function()
    io.stdout, io.stderr, io.write, _G.print, _G.arg = saved[1], saved[2], saved[3], saved[4], saved[5]
  end})
  local ok, a, b = coroutine.resume(job.co)
  if coroutine.status(job.co) == "dead" then
    if not ok and not job.exit then job.stderr:write("rigelk8s: ", tostring(type(a) == "table" and a.message or a), "\n") end
    ended(self, job, job.exit or 1)
    return
  end
  -- Yielded by a cooperative call: (client or watch set, wake time).
  -- Anything else that yields is resumed again after a moment.
  local ours = type(a) == "userdata" and type(b) == "number"
  job.wait_on, job.wake = ours and a or false, ours and b or (sys.now() + 0.01)
  job.seen = ours and a:news() or nil
end

-- Resumes every target that has something to do; returns how many it resumed.
function Inproc:step()
  local now, stopping, resumed = sys.now(), sys.interrupted(), 0
  local still = {}
  for _, job in ipairs(self.running) do
    if not job.co_done then
      local w = job.wait_on
      if w == nil or stopping or now >= job.wake or (w and w:news() ~= job.seen) then
        resume(self, job)
        resumed = resumed + 1
      end
      if not job.co_done then still[#still + 1] = job end
    end
  end
  self.running = still
  return resumed
end

-- The next finished job, or nil (never waits: idle does). n counts a job until it is
-- reaped, as for processes.
function Inproc:reap()
  if #self.finished == 0 then self:step() end
  local job = table.remove(self.finished, 1)
  if job then self.n = self.n - 1 end
  return job
end

-- Waits up to secs for news on any target's connections (one poll for all of them).
function Inproc:idle(secs)
  if #self.finished > 0 then return end
  if #self.running == 0 or sys.interrupted() then sys.sleep(math.min(secs, 0.005)); return end
  local soonest = math.huge
  for _, job in ipairs(self.running) do
    if job.wait_on == nil then soonest = 0 elseif job.wake < soonest then soonest = job.wake end
  end
  local t = math.max(0, math.min(secs, soonest - sys.now()))
  self.group:wait(t)
end

-- 15 (--fail-fast, or the fleet's own error): stop every running target where it is.
-- 2 (Ctrl-C): nothing to pass on, the targets see sys.interrupted() themselves.
function Inproc:signal(sig)
  if sig == 2 then return end
  for _, job in ipairs(self.running) do
    if not job.co_done then
      -- Closing runs the target's to-be-closed variables (open batches are abandoned).
      coroutine.close(job.co)
      job.stderr:write("rigelk8s: stopped (signal ", tostring(sig), ")\n")
      ended(self, job, 128 + sig)
    end
  end
  self.running = {}
end

return M
