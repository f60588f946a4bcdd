-- rigelk8s.sequence_jobs: starting and stopping one job of a sequence, by its runner:
-- an orchestration job deploys (and cleans up), a rigelk8s.lua job runs its script in this
-- process, a foreign job is delegated to `rigel run job`. A Runner holds one run's plan,
-- options and output; rigelk8s.sequence_run drives it through the stages.
local config = require "rigelk8s.sequence_config"
local errors = require "rigelk8s.errors"
local progress = require "rigelk8s.progress"
local sys = require "rigelk8s.sys"
local util = require "rigelk8s.util"

local M = {}

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local Runner = {}
Runner.__index = Runner

local function elapsed_since(t) return math.floor((sys.now() - t) * 1000 + 0.5) / 1000 end
M.Runner, M.elapsed_since = Runner, elapsed_since

function Runner:new_out()
  -- Like the workflows: with -o json, stderr stays quiet (errors excepted).
  return progress.new{stream = self.stream, tty = self.tty, no_color = self.opts.no_color,
                      quiet = self.opts.json}
end

function Runner:say(fmt, ...) self.out:say(fmt, ...) end

-- The argv a workflow context gets: the sequence's cluster flags.
function Runner:workflow_argv(settings, extra)
  local o = self.opts
  local argv = {}
  local function add(...) for _, a in ipairs{...} do argv[#argv + 1] = a end end
  if o.kubeconfig then add("--kubeconfig", o.kubeconfig) end
  if o.context then add("--context", o.context) end
  local timeout = settings and settings.timeout or o.timeout
  if timeout then add("--timeout", tostring(timeout)) end
  if o.request_timeout then add("--request-timeout", tostring(o.request_timeout)) end
  if o.dry_run then add("--dry-run") end
  if o.verbose then add("--verbose") end
  if o.no_color then add("--no-color") end
  if o.json then add("-o", "json") end
  for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
  return argv
end

function Runner:workflow_context(settings, command)
  local wf = require "rigelk8s.workflow"
  wf.reset_hooks()  -- hooks an earlier rigelk8s.lua job's script registered are not this job's
  local ctx = wf.context(self:workflow_argv(settings), {command = command})
  ctx.opts.report_dir = self.opts.report_dir   -- --report-dir: where a failed deploy's report goes
  ctx.out = self:new_out()
  return ctx
end

-- Every job runs with its own hooks: they live on the job's context, which loads the
-- files of its `hooks:` (relative to the Rigelfile).
function Runner:job_hooks(cfg, ctx)
  local wf = require "rigelk8s.workflow"
  if not (cfg and cfg.hooks) then return end
  for _, f in ipairs(type(cfg.hooks) == "table" and cfg.hooks or {cfg.hooks}) do
    wf.load_hooks(f:sub(1, 1) == "/" and f or (self.plan.dir .. "/" .. f), ctx)
  end
end

local capture_file = require("rigelk8s.util").capture_file

-- Calls fn(...) with io.stdout (and print) captured; returns the captured text, then
-- pcall's results. The sequence's stdout carries one JSON document under -o json, and
-- the reports that workflows print there become parts of it.
local function with_stdout(fn, ...)
  local f, text = capture_file()
  local saved_stdout, saved_print, saved_write = io.stdout, _G.print, io.write
  io.stdout = f
  io.write = function(...) return f:write(...) end
  _G.print = function(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    f:write(table.concat(parts, "\t"), "\n")
  end
  local res = table.pack(pcall(fn, ...))
  io.stdout, _G.print, io.write = saved_stdout, saved_print, saved_write
  return text(), table.unpack(res, 1, res.n)
end

-- The JSON report of a workflow result (what `rigelk8s deploy -o json` prints), and its
-- exit code: wf.report builds it, and nothing is printed. The job's outcome hooks run
-- here, once.
local function json_report(ctx, result, extra)
  local wf = require "rigelk8s.workflow"
  wf.result_hooks(ctx, result)
  local report = wf.report(ctx, result, extra)
  return report.doc, report.code
end

-- start of an orchestration job: deploy; the JSON report is published as data.rigelk8s.
function Runner:deploy_start(job, data)
  local wf = require "rigelk8s.workflow"
  local cfg, settings = config.orchestration_config(self.plan, job.entry, data)
  job.settings, job.cfg = settings, cfg
  local ctx = self:workflow_context(settings, "deploy")
  ctx.cfg = cfg
  self:job_hooks(cfg, ctx)
  if cfg.fleet and #cfg.fleet > 0 then
    self:say("  %s: fleet: is not used by sequences; deploying to the current context only", job.name)
  end
  self:say("  %s: deploying %s to namespace %s", job.name, cfg.deployment_name, cfg.namespace)
  local ok, result, extra = pcall(wf.deploy, ctx)
  local note = extra and extra.note
  if not ok then
    local e = errors.wrap(result)
    if e.reason == "ApplyFailed" then
      pcall(wf.result_hooks, ctx, {state = "failed", diagnosis = e.message, rows = {}, targets = {}})
    end
    error(e, 0)
  end
  local report, code = json_report(ctx, result, {note = note})
  job.result = report
  data.rigelk8s = report
  -- Flat keys as well: Rigel looks {{ data.NAME }} up by the whole dotted NAME, so the
  -- shim publishes rigelk8s_namespace etc.; the same names work here.
  for k, v in pairs(report) do
    if type(k) == "string" and (type(v) == "string" or type(v) == "number" or type(v) == "boolean") then
      data["rigelk8s_" .. k] = v
    end
  end
  data.rigelk8s_deployment_name = cfg.deployment_name
  if not self.opts.json then wf.finish(ctx, result, {note = note}) end
  if code ~= 0 then
    return code, string.format("deploy %s: %s", result.state, result.diagnosis or result.state)
  end
  return 0, string.format("%s is ready in namespace %s", cfg.deployment_name, cfg.namespace)
end

-- stop of an orchestration job: with cleanup: true, delete what it deployed.
function Runner:deploy_stop(job)
  if not (job.settings and job.settings.cleanup) then return nil end
  local wf = require "rigelk8s.workflow"
  local ctx = self:workflow_context(job.settings, "delete")
  ctx.cfg = job.cfg
  self:say("  %s: cleanup: deleting what it deployed (storage is kept)", job.name)
  local result, extra = wf.delete(ctx, false)
  job.cleanup = json_report(ctx, result, extra)
  return 0, "cleanup: " .. result.summary
end

-- start of a rigelk8s.lua job. The script is loaded with loadfile and called as
--   script(config, job)
-- config: the job's rendered `with` without script/args/cleanup/timeout;
-- job: {name=, sequence=, rigelfile=, data=, config_file=} where data is the shared data table: values
-- stored in it are {{ data.x }} for the jobs after this one.
-- The global `arg` is set as for `rigelk8s run SCRIPT`: arg[0] is the script, then the
-- sequence's cluster flags (--kubeconfig, --context, --timeout, -o json, ...), then
-- `--config FILE` (the config as JSON, so that wf.main/wf.config load it as the
-- orchestration config) and with.args. Return nothing, true or 0 for success; a number
-- is an exit code; false or an error fails the job. Under -o json what the script writes
-- to stdout is captured into the job's report (as `output`, parsed when it is JSON).
function Runner:lua_start(job, data)
  local json = require "rigelk8s.json"
  local spec, settings = config.lua_config(self.plan, job.entry, data)
  job.settings = settings
  local chunk, err = loadfile(spec.script, "t")
  if not chunk then errors.usage("job %s: %s", job.name, err) end
  local tmp = os.tmpname()
  local ok_w, werr = sys.write_private(tmp, json.encode(next(spec.config) and spec.config or util.list()))
  if not ok_w then errors.raise{message = "job " .. job.name .. ": " .. tostring(werr)} end
  local argv = self:workflow_argv(settings, {"--config", tmp})
  if self.opts.report_dir then argv[#argv + 1] = "--report-dir"; argv[#argv + 1] = self.opts.report_dir end
  for _, a in ipairs(spec.args) do argv[#argv + 1] = a end
  argv[0], argv[-1] = spec.script, "rigelk8s"
  local info = {name = job.name, sequence = self.plan.name, rigelfile = self.plan.file, data = data,
                config_file = tmp}

  require("rigelk8s.workflow").reset_hooks()
  local saved_arg, saved_path = _G.arg, package.path
  package.path = (spec.script:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
  _G.arg = argv
  self:say("  %s: running %s", job.name, spec.script)
  local text, ok, ret
  if self.opts.json or self.opts.branch then
    -- stdout is the report's (a branch's stdout is read by the parent as its report)
    text, ok, ret = with_stdout(chunk, spec.config, info)
  else
    ok, ret = pcall(chunk, spec.config, info)
  end
  _G.arg, package.path = saved_arg, saved_path
  os.remove(tmp)
  if text and text ~= "" then
    if self.opts.json then
      local pok, doc = pcall(json.decode, text)
      job.result = {output = pok and doc or text}
    else
      self.stream:write(text)
    end
  end
  if not ok then
    local e = errors.wrap(ret)
    return e.exit_code ~= 0 and e.exit_code or errors.EXIT.failed, e.message
  end
  if ret == nil or ret == true or ret == 0 then return 0, "done" end
  if ret == false then return errors.EXIT.failed, "the script returned false" end
  if math.type(ret) == "integer" then return ret, string.format("the script returned exit code %d", ret) end
  return 0, "done"
end

-- start of a foreign job: `rigel run job NAME` in the Rigelfile's directory (its stdout
-- goes to stderr when stdout carries a report). It runs to completion: `rigel run job` has no separate
-- start and stop.
function Runner:rigel_start(job)
  if self.plan.skip_foreign then return nil, "skipped (--skip-foreign)" end
  -- An argv, never a shell string: the job name and the paths stay data.
  local argv = {self.plan.rigel, "run", "job", job.name}
  local cmd = string.format("cd %s && %s", shell_quote(self.plan.dir),
                            table.concat({shell_quote(argv[1]), "run", "job", shell_quote(job.name)}, " "))
  self:say("  %s: delegating to rigel: %s", job.name, cmd)
  if self.opts.dry_run then return nil, "skipped (--dry-run does not run rigel)" end
  local pid, err = sys.spawn(argv, {cwd = self.plan.dir, stdout_to_stderr = self.opts.json or self.opts.branch})
  if not pid then return errors.EXIT.failed, string.format("rigel run job %s: %s", job.name, tostring(err)) end
  local done, code
  repeat
    done, code = sys.wait({pid}, 1)
    if done == nil and code then return errors.EXIT.failed, code end
  until done
  if code == 0 then return 0, "rigel run job " .. job.name .. " succeeded" end
  if code > 128 then return errors.EXIT.interrupted, "rigel was stopped by signal " .. tostring(code - 128) end
  return errors.EXIT.failed, string.format("rigel run job %s exited with %d", job.name, code)
end

local RUNNER_LABEL = {deploy = "rigelk8s deploy", lua = "Lua", rigel = "rigel"}
M.RUNNER_LABEL = RUNNER_LABEL

function Runner:new_job(entry, role)
  return {name = entry.name, entry = entry, plugin = entry.plugin, runner = entry.runner, role = role,
          state = "not_run"}
end

-- Calls fn, turning errors into an exit code and a message.
local function guarded(fn, ...)
  local ok, code, msg = pcall(fn, ...)
  if ok then return code, msg end
  local e = errors.wrap(code)
  if sys.interrupted() then e.exit_code = errors.EXIT.interrupted end
  return e.exit_code, e.message
end

-- Starts a job (Rigel's setup + start + process). Returns true when it succeeded.
function Runner:start(job, data)
  local t0 = sys.now()
  local code, msg
  if job.runner == "deploy" then code, msg = guarded(self.deploy_start, self, job, data)
  elseif job.runner == "lua" then code, msg = guarded(self.lua_start, self, job, data)
  else code, msg = guarded(self.rigel_start, self, job, data) end
  job.elapsed_seconds = elapsed_since(t0)
  if sys.interrupted() and code == 0 then code, msg = errors.EXIT.interrupted, "interrupted" end
  job.message = msg
  if code == nil then
    job.state, job.exit_code = "skipped", 0
  elseif code == 0 then
    job.state, job.exit_code = "succeeded", 0
  else
    job.state = code == errors.EXIT.interrupted and "interrupted" or "failed"
    job.exit_code = code
    self:note_failure(job)
  end
  self:say("  %s: %s%s", job.name, job.state, msg and (": " .. tostring(msg):gsub("\n", "\n    ")) or "")
  return job.exit_code == 0
end

-- Stops a job (Rigel's stop). Only orchestration jobs with cleanup: true do anything.
function Runner:stop(job)
  if job.runner ~= "deploy" or job.state ~= "succeeded" then return true end
  local code, msg = guarded(self.deploy_stop, self, job)
  if code == nil then return true end
  job.stopped = {state = code == 0 and "succeeded" or "failed", message = msg}
  if code ~= 0 then
    job.state, job.exit_code, job.message = "failed", code, "cleanup failed: " .. tostring(msg)
    self:note_failure(job)
  end
  self:say("  %s: %s", job.name, msg or "")
  return code == 0
end

function Runner:note_failure(job)
  if not self.failure then self.failure = job end
end

-- The job reports of a stage, all "not_run" until they run: dependencies first.
function Runner:stage_jobs(stage)
  local jobs = util.list()
  for _, e in ipairs(stage.dependencies or {}) do jobs[#jobs + 1] = self:new_job(e, "dependency") end
  for _, e in ipairs(stage.jobs or {}) do jobs[#jobs + 1] = self:new_job(e, "job") end
  return jobs
end

return M
