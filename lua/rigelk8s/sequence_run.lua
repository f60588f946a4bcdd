-- rigelk8s.sequence_run: runs a planned sequence: its stages in order (sequential,
-- concurrent with dependencies, or parallel branches), stopping at the first failure, and
-- builds the run's report.
local branches = require "rigelk8s.sequence_branches"
local errors = require "rigelk8s.errors"
local seq_jobs = require "rigelk8s.sequence_jobs"
local sys = require "rigelk8s.sys"
local util = require "rigelk8s.util"

local M = {}

local Runner, elapsed_since, RUNNER_LABEL = seq_jobs.Runner, seq_jobs.elapsed_since, seq_jobs.RUNNER_LABEL
local null = util.null

-- A stream that prefixes every line (branch output from child processes).
local function prefixed_stream(stream, prefix)
  local at_line_start = true
  local s = {}
  function s.write(self, ...)
    for i = 1, select("#", ...) do
      local text = tostring((select(i, ...)))
      local out = {}
      for piece, nl in text:gmatch("([^\n]*)(\n?)") do
        if piece == "" and nl == "" then break end
        if at_line_start and (piece ~= "" or nl ~= "") then out[#out + 1] = prefix end
        out[#out + 1] = piece .. nl
        at_line_start = nl ~= ""
      end
      stream:write(table.concat(out))
    end
    return self
  end
  function s.flush() stream:flush() end
  return s
end

local function run_sequential(self, _, data, out)
  for _, j in ipairs(out.jobs) do
    if not self:start(j, data) then return false end
    if not self:stop(j) then return false end
  end
  return true
end

local function run_concurrent(self, _, data, out)
  local deps, jobs = {}, {}
  for _, j in ipairs(out.jobs) do
    if j.role == "dependency" then deps[#deps + 1] = j else jobs[#jobs + 1] = j end
  end
  local ok, started = true, {}
  for _, d in ipairs(deps) do
    if not self:start(d, data) then ok = false; break end
    started[#started + 1] = d
  end
  if ok then
    for _, j in ipairs(jobs) do
      if not self:start(j, data) or not self:stop(j) then ok = false; break end
    end
  end
  if sys.interrupted() then
    local left = {}
    for _, d in ipairs(started) do left[#left + 1] = d.name end
    if #left > 0 then self:say("  interrupted: dependencies left as they are: %s", table.concat(left, ", ")) end
    return false
  end
  for i = #started, 1, -1 do
    if not self:stop(started[i]) then ok = false end
  end
  return ok
end

local function stage_title(stage)
  local function names(list)
    local out = {}
    for _, e in ipairs(list or {}) do out[#out + 1] = e.name end
    return table.concat(out, ", ")
  end
  if stage.kind == "sequential" then return "jobs " .. names(stage.jobs) end
  if stage.kind == "concurrent" then
    return string.format("jobs %s, dependencies %s", names(stage.jobs), names(stage.dependencies))
  end
  local keys = {}
  for _, m in ipairs(stage.matrix) do keys[#keys + 1] = m.key end
  return string.format("parallel: %d stage%s%s", #stage.stages, #stage.stages == 1 and "" or "s",
                       #keys > 0 and (", matrix " .. table.concat(keys, " x ")) or "")
end

-- Runs stages in order, stopping at the first failed one; appends their reports to
-- `reports` as it goes (so that an interrupted run still reports what it did).
local function run_stages(self, stages, data, reports)
  for i, stage in ipairs(stages) do
    reports[i] = {index = i, kind = stage.kind, description = stage.description or null, state = "not_run",
                  jobs = stage.kind ~= "parallel" and self:stage_jobs(stage) or nil}
  end
  for i, stage in ipairs(stages) do
    if sys.interrupted() then return end
    local rep = reports[i]
    self:say("stage %d/%d: %s", i, #stages, stage_title(stage))
    local t0 = sys.now()
    rep.state = "running"
    local ok
    if stage.kind == "sequential" then ok = run_sequential(self, stage, data, rep)
    elseif stage.kind == "concurrent" then ok = run_concurrent(self, stage, data, rep)
    else ok = branches.run(self, stage, i, data, rep) end
    rep.elapsed_seconds = elapsed_since(t0)
    rep.state = ok and "succeeded" or (sys.interrupted() and "interrupted" or "failed")
    if not ok then return end
  end
end

-- Jobs reports hold their plan entries while running; reports carry plain fields only.
local function clean_job(j)
  return {name = j.name, plugin = j.plugin, runner = RUNNER_LABEL[j.runner] or j.runner, role = j.role,
          state = j.state, exit_code = j.exit_code or null, message = j.message or null,
          elapsed_seconds = j.elapsed_seconds or null, result = j.result or null,
          cleanup = j.cleanup or null}
end

local function clean_stages(stages)
  for _, s in ipairs(stages) do
    if s.jobs then
      for i, j in ipairs(s.jobs) do s.jobs[i] = clean_job(j) end
    end
  end
  return stages
end

-- run(plan, opts) -> report. opts: kubeconfig, context, timeout (seconds), dry_run,
-- verbose, no_color, json, skip_foreign, stream (default io.stderr), branch = {stage =
-- index, data = {...}, label = "k=v"} (run one branch of a parallel stage).
function M.run(plan, opts)
  opts = opts or {}
  local self = setmetatable({plan = plan, opts = opts}, Runner)
  self.stream = opts.stream or io.stderr
  if opts.branch then
    self.stream = prefixed_stream(self.stream, "[" .. opts.branch.label .. "] ")
    self.tty = false
  end
  self.out = self:new_out()
  local t0 = sys.now()
  local data = opts.branch and opts.branch.data or {}
  local stages, reports = plan.stages, util.list()
  if opts.branch then
    local stage = plan.stages[opts.branch.stage]
    if not stage or stage.kind ~= "parallel" then
      errors.usage("--branch %s: stage %s of sequence %s is not a parallel stage", tostring(opts.branch.stage),
                   tostring(opts.branch.stage), plan.name)
    end
    stages = stage.stages
  else
    self:say("sequence %s (%s): %d stage%s", plan.name, plan.file, #plan.stages, #plan.stages == 1 and "" or "s")
  end
  -- Ctrl-C raises wherever Lua runs at that moment; the report is still owed.
  local ok, err = pcall(run_stages, self, stages, data, reports)
  if not ok and not sys.interrupted() then error(err, 0) end
  for _, rep in ipairs(reports) do
    if rep.state == "running" then rep.state = "interrupted" end
  end
  local report = {command = "sequence", sequence = plan.name, file = plan.file,
                  stages = clean_stages(reports), elapsed_seconds = elapsed_since(t0)}
  if sys.interrupted() then
    report.state, report.exit_code = "interrupted", errors.EXIT.interrupted
  elseif self.failure then
    report.state, report.exit_code = "failed", self.failure.exit_code
    report.failed_job = self.failure.name
    report.message = self.failure.message
  else
    report.state, report.exit_code = "succeeded", 0
  end
  if opts.branch then report.label = opts.branch.label end
  return report
end

return M
