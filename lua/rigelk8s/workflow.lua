-- Reusable workflow steps. The stock scripts (scripts/*.lua) are short compositions of
-- these; a user script (`rigelk8s run my-rollout.lua -f Rigelfile ...`) reuses them the
-- same way (examples/custom-workflow.lua is a complete one):
--
--   local wf = require "rigelk8s.workflow"
--   return wf.main(function(ctx)            -- ctx: flags, output, Rigelfile, client
--     local cfg = wf.config(ctx)            -- the validated orchestration config
--     wf.render(ctx)                        -- ctx.entries {phase, object, wait, after}, ctx.objects
--     wf.add(ctx, configmap, "config")      -- one more object, in a phase of the apply order
--     wf.find(ctx, "Deployment", cfg.deployment_name).spec.replicas = 2   -- edit a rendered one
--     wf.apply(ctx, ctx.objects)            -- server-side apply, phase by phase, no waiting
--     local result = wf.wait(ctx, wf.wait_targets(ctx))   -- all together, live progress
--     return wf.finish(ctx, result, {note = "..."})       -- report (text or JSON), exit code
--   end, arg, {command = "my-rollout", flags = {{"site", nil, "--site", value = "NAME"}}})
--
-- Every step and its options are in docs/lua-api.md (checked against this module by
-- tests/lua/api_doc_spec.lua). In short: context, config, render (also variants:
-- render(ctx, {name, image, replicas, labels, selector_labels, namespace})), add, find,
-- phase_objects, connect, apply, diff, wait(ctx, objects, {timeout, fail_fast = "any" |
-- "each" | false, hooks}), wait_job, wait_targets, remaining, configmap_from_dir,
-- record, set_row, report, finish, main, failure_report; whole workflows deploy(ctx) and
-- delete(ctx, delete_storage). A failed wait saves a failure report (pod logs, events,
-- specs) before anything else happens (wf.failure_report, rigelk8s.failreport). Apply
-- phases, in order: namespace, config, storage, master, application, other, observability.
-- wait() result: {state = "ready"|"failed"|"timeout"|"interrupted", targets, rows,
-- diagnosis, elapsed, failure_report}; finish() maps it to exit 0/1/4/130. Errors are
-- errors.lua values: exit 2 usage/config, 3 cluster unreachable or credentials refused.
--
-- Hooks live on the run's context: before_apply(ctx, objects) and after_apply(ctx,
-- summary) around each apply, after_wait(ctx, result) after each wait, and on_ready(ctx,
-- result) or on_failure(ctx, result) once per run, from finish, with the final result
-- (a failed apply counts). They come from wf.on(ctx, name, fn) (or wf.on(name, fn) in a
-- hook file or at the top of a script), from the Lua files named by the Rigelfile job's
-- `hooks:` (relative to the Rigelfile), or from `--hooks FILE`. A hook file returns a
-- table of hook functions (or calls wf.on itself; it gets wf as `...`). A hook that
-- raises stops the workflow (exit 1) with the hook's name, file and line in the message;
-- what was already applied is reported.
local errors = require "rigelk8s.errors"
local sys = require "rigelk8s.sys"

-- The parts, each defining its steps into one table (wf): workflow_context (flags,
-- context, config), workflow_hooks, workflow_apply (render, apply, diff),
-- workflow_wait (wait, the ROS graph gate), workflow_report (failure report, report,
-- finish) and workflow_deploy (deploy, delete); rigelk8s.scripting adds its steps below.
local M = require "rigelk8s.workflow_context"
for _, part in ipairs{"rigelk8s.workflow_hooks", "rigelk8s.workflow_apply", "rigelk8s.workflow_wait",
                     "rigelk8s.workflow_report", "rigelk8s.workflow_deploy"} do
  require(part)
end

-- Commands that run on every target of a fleet (`--contexts` or the Rigelfile's fleet:).
local FLEET_COMMANDS = {deploy = true, update = true, status = true, delete = true, diff = true,
                        rollback = true, distributed = true}

-- True when argv asks for JSON output (used before the flags could be parsed).
local function wants_json(argv)
  for i, a in ipairs(argv or {}) do
    if a == "--output=json" or a == "-o=json" or ((a == "-o" or a == "--output") and argv[i + 1] == "json") then
      return true
    end
  end
  return false
end

local function json_error(command, e)
  local json = require "rigelk8s.json"
  local rigelk8s = require "rigelk8s"
  local doc = {command = command, state = "error", exit_code = e.exit_code,
               message = e.message, reason = e.reason or "Error", rigelk8s_version = rigelk8s.version}
  local a = type(e.applied) == "table" and e.applied
  if a then
    -- A failed apply says exactly what reached the cluster and what did not.
    local rejected = rigelk8s.array{}
    for _, f in ipairs(a.failed) do
      rejected[#rejected + 1] = {name = f.ref, message = tostring(f.error)}
    end
    doc.applied = {created = rigelk8s.array(a.created), configured = rigelk8s.array(a.configured),
                   unchanged = rigelk8s.array(a.unchanged), rejected = rejected,
                   not_applied = rigelk8s.array(a.not_applied)}
  end
  io.stdout:write(json.encode(doc), "\n")
end

-- Runs fn(ctx) turning structured errors into the report and exit code; the stock
-- scripts end with `return wf.main(function(ctx) ... end, arg, info)`.
function M.main(fn, argv, info)
  local cok, ctx = pcall(M.context, argv, info)
  if not cok then
    local e = errors.wrap(ctx, errors.EXIT.usage)
    if wants_json(argv) then json_error(info and info.command, e) end
    error(e, 0)
  end
  local ok, ret = pcall(function()
    local fleet = require "rigelk8s.fleet"
    -- --app reads one application's inventory: no Rigelfile, so no fleet either.
    if FLEET_COMMANDS[ctx.command] and not fleet.is_child() and not ctx.opts.app then
      local targets = fleet.targets(ctx, not ctx.opts.contexts and M.config(ctx) or nil)
      if targets then return fleet.run(ctx, targets, argv) end
    end
    if fleet.is_child() then fleet.preflight(ctx, M) end
    return fn(ctx)
  end)
  if ok then return ret end
  local e = errors.wrap(ret)
  if sys.interrupted() then e.exit_code = errors.EXIT.interrupted end
  if e.reason == "ApplyFailed" then
    -- A failed apply is a failure too: on_failure hooks hear about it (their own errors
    -- must not hide the original one).
    pcall(M.result_hooks, ctx, {state = "failed", diagnosis = e.message, rows = {}, targets = {}})
  end
  if ctx.json then json_error(ctx.command, e) end
  error(e, 0)
end

-- wf.render_variant, wf.configmap_from_dir, wf.record, wf.set_row (lua/rigelk8s/scripting.lua).
require("rigelk8s.scripting").extend(M)

return M
