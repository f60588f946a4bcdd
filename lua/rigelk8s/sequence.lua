-- Rigelfile sequences, run the way Rigel runs them, without Rigel.
--
--   local sequence = require "rigelk8s.sequence"
--   local plan = sequence.plan{file = "Rigelfile", name = "demo"}   -- validates everything
--   local report = sequence.run(plan, {kubeconfig = ..., json = false})
--   os.exit(report.exit_code)
--
-- Stages (Rigel's three shapes; `description:` is allowed on each):
--   {jobs: [a, {name: b, with: {...}}]}          sequential: each job is started, then
--                                                stopped, one after the other
--   {jobs: [...], dependencies: [...]}           concurrent: the dependencies are started,
--                                                then the jobs run (start + stop each), then
--                                                the dependencies are stopped, last first
--   {parallel: [stage, ...], matrix: {k: [..]}}  parallel: one branch per combination of
--                                                the matrix values (Rigel's itertools.product,
--                                                keys in file order); every branch runs the
--                                                listed stages with {{ data.k }} set, all
--                                                branches at once (one child process each)
-- A sequence entry's `with` is merged shallowly over the job's own `with` (its keys
-- replace the job's keys), then templates are rendered with vars and the shared data.
--
-- Jobs, by plugin:
--   src.plugin.OrchestrationPlugin | rigelk8s    run natively: start = the deploy workflow
--                                  (render, apply, wait); stop = nothing, or the delete
--                                  workflow (storage kept) when its with (or the
--                                  entry's) has `cleanup: true`. `timeout: 5m` bounds
--                                  its wait (default: --timeout). The
--                                  result is published as {{ data.rigelk8s }} (the deploy
--                                  JSON report: state, namespace, objects, ...).
--                                  Its scalar fields are also {{ data.rigelk8s_FIELD }}
--                                  (rigelk8s_namespace, rigelk8s_state, ...) plus
--                                  rigelk8s_deployment_name: the flat keys that Rigel
--                                  can look up (the shim publishes the same ones).
--   rigelk8s.lua | rigelk8s_rigel.LuaPlugin
--                                  runs the Lua file `with.script` (relative to the
--                                  Rigelfile) in this process, as script(config, job):
--                                  config = the rendered `with` without script/args;
--                                  job = {name, sequence, rigelfile, data}, where data is
--                                  the shared data ({{ data.x }} of later jobs); `arg` =
--                                  the sequence's cluster flags plus `--config FILE` (the
--                                  config as JSON, for wf.main/wf.config) and with.args.
--                                  Details at Runner:lua_start (sequence_jobs.lua).
--   anything else ("foreign")      delegated to `rigel run job NAME` in the Rigelfile's
--                                  directory when `rigel` is on PATH and the file is named
--                                  Rigelfile (Rigel reads ./Rigelfile); otherwise the whole
--                                  sequence is refused before anything runs, unless
--                                  skip_foreign is set (those jobs are then reported as
--                                  skipped). `rigel run job` gets no shared data, so a
--                                  delegated job whose with uses {{ data.x }} (a matrix
--                                  value in a parallel branch included) is refused too.
--
-- Everything that can be checked without a cluster is checked before the first job runs:
-- the sequence's shape, job names, foreign jobs, each orchestration job's config (for
-- every matrix combination; jobs that use runtime data such as {{ data.rigelk8s.x }} are
-- checked when they run) and each Lua job's script. Problems are raised as one structured
-- error (exit code 2), one line per problem with FILE:LINE:COLUMN.
--
-- Failure: the first job that fails stops its stage and the sequence (the stages after it
-- are reported as not run); dependencies that were started are still stopped. All
-- branches of a parallel stage run to the end; the stage fails if any branch failed.
--
-- Where this differs from Rigel: a failure is reported and ends the run with its exit
-- code (Rigel lets a failed thread's exception go unreported and carries on);
-- dependencies are stopped in reverse order, and also when a job failed; an entry's
-- `with` applies to that entry only (Rigel's dict.update leaks it into later uses of the
-- job); a delegated foreign job runs to completion (`rigel run job` has no separate start
-- and stop), so as a dependency it is not kept running during the stage's jobs.
--
-- The parts: rigelk8s.sequence_plan (the sequence's shape), sequence_config (each job's
-- rendered configuration, the matrix combinations, the preflight), sequence_jobs (one
-- job, by runner), sequence_branches (the child processes of a parallel stage),
-- sequence_run (the stages, the report) and sequence_report (counts and summary).
local config = require "rigelk8s.sequence_config"
local plan = require "rigelk8s.sequence_plan"
local report = require "rigelk8s.sequence_report"
local run = require "rigelk8s.sequence_run"

local M = {}

for _, k in ipairs{"LUA_PLUGIN", "SHIM_PLUGIN", "RUNNER_KEYS", "SHIM_LUA_PLUGIN", "LUA_KEYS",
                   "runner_of", "sequence_names"} do
  M[k] = plan[k]
end
M.orchestration_config, M.lua_config = config.orchestration_config, config.lua_config
M.combinations, M.preflight = config.combinations, config.preflight
M.run = run.run
M.counts, M.summary = report.counts, report.summary

-- plan{file=, name=, skip_foreign=, rigel=} -> plan: the sequence read and checked, and
-- every job's configuration checked (preflight). Raises (exit 2) on any problem.
function M.plan(opts)
  local p = plan.plan(opts)
  config.preflight(p)
  return p
end

return M
