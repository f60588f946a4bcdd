-- rigelk8s.workflow_context: the table rigelk8s.workflow is (wf), with the run context
-- in it: the flags every cluster workflow accepts, wf.context (flags, output), wf.config
-- (the Rigelfile's orchestration config) and wf.set_image. The other workflow_* parts
-- define their steps into this same table; workflow.lua joins them.
local cli = require "rigelk8s.cli"
local errors = require "rigelk8s.errors"
local progress = require "rigelk8s.progress"
local sys = require "rigelk8s.sys"

local M = {}
M.EXIT = errors.EXIT

-- Flags every cluster workflow accepts, beyond cli.global.
M.flags = {
  {"hooks", nil, "--hooks", value = "FILE", multi = true, help = "Lua file of hooks (repeatable)"},
  {"force_conflicts", nil, "--force-conflicts", help = "take over fields another field manager owns"},
  -- The inventory (lua/rigelk8s/inventory.lua): what left the Rigelfile is pruned.
  {"no_prune", nil, "--no-prune", help = "do not delete objects that left the Rigelfile"},
  {"prune_storage", nil, "--prune-storage", help = "also prune volume claims that left the Rigelfile (their data is lost)"},
  {"adopt", nil, "--adopt", help = "take over an application that another Rigelfile deployed"},
}
for _, f in ipairs(require("rigelk8s.fleet").flags) do M.flags[#M.flags + 1] = f end

-- --report-dir: on every command that waits for a rollout (and on a script's own), the
-- directory of the failure report (README, "When a rollout fails"; wf.failure_report).
M.report_flag = {"report_dir", nil, "--report-dir", value = "DIR",
                 help = "where a failed rollout's report (logs, events, specs) is saved (default: RIGELK8S_REPORT_DIR, else the working directory)"}
local NO_ROLLOUT = {status = true, delete = true, diff = true, list = true, ["fleet status"] = true}

-- Builds the run context: flags, output, Rigelfile config (lazily), client (lazily).
function M.context(argv, info)
  info = info or {}
  -- info.spec: a command's whole flag list, when it cannot take the global one as it is
  -- (logs: -f is --follow there).
  local spec = info.spec or cli.merge(cli.global, M.flags, NO_ROLLOUT[info.command] and {} or {M.report_flag},
                                      info.flags or {})
  local opts, rest = cli.parse(argv, spec, {usage = info.usage or ("rigelk8s " .. (info.command or "run") .. " [flags]"),
                                            description = info.description})
  opts.output, opts.timeout = opts.output or "text", opts.timeout or "5m"
  if opts.output ~= "text" and opts.output ~= "json" then
    errors.usage("-o/--output: expected text or json, got '%s'", tostring(opts.output))
  end
  local ctx = {
    command = info.command, opts = opts, args = rest, json = opts.output == "json",
    timeout = cli.duration(opts.timeout, "--timeout"), started = sys.now(),
  }
  for _, a in ipairs(argv or {}) do
    if a == "--timeout" or a:match("^%-%-timeout=") then ctx.timeout_given = true end
  end
  -- With -o json, stdout carries one document and stderr stays quiet (errors excepted),
  -- unless --progress asks for the progress lines (the Rigel shim logs them).
  ctx.out = progress.new{quiet = ctx.json and not opts.progress, no_color = opts.no_color, start = ctx.started}
  M.hooks_of(ctx)
  for _, f in ipairs(opts.hooks or {}) do M.load_hooks(f, ctx) end
  return ctx
end

-- The orchestration config: from --config (JSON, the Rigel plugin shim) or the Rigelfile.
function M.config(ctx)
  if ctx.cfg then return ctx.cfg end
  local rigelfile = require "rigelk8s.rigelfile"
  ctx.cfg = rigelfile.load{file = ctx.opts.file, job = ctx.opts.job, config = ctx.opts.config,
                           namespace = ctx.opts.namespace,
                           default_file = ctx.opts.file == "Rigelfile"}
  -- With -o json the warnings are in the report (finish) and stderr stays quiet.
  if not ctx.json then
    for _, w in ipairs(ctx.cfg.warnings or {}) do io.stderr:write("rigelk8s: ", w, "\n") end
  end
  -- readiness.timeout_seconds is the deadline of the readiness wait (the Python plugin's
  -- meaning), unless --timeout is given.
  local r = ctx.cfg.readiness
  if r and r.timeout_seconds and not ctx.timeout_given then ctx.timeout = r.timeout_seconds end
  if ctx.cfg.hooks and not ctx.hooks_loaded then
    ctx.hooks_loaded = true
    local dir = (ctx.cfg.source and ctx.cfg.source.file or ""):match("^(.*)/[^/]*$")
    for _, f in ipairs(type(ctx.cfg.hooks) == "table" and ctx.cfg.hooks or {ctx.cfg.hooks}) do
      M.load_hooks((dir and not f:match("^/")) and (dir .. "/" .. f) or f, ctx)
    end
  end
  return ctx.cfg
end

-- Overrides the application image (update --image): the application and every
-- component that used the application image.
function M.set_image(ctx, image)
  -- The same check as application_image in a Rigelfile: a bad --image must stop the
  -- update before anything is applied.
  local why = type(image) ~= "string" and "is not text" or require("rigelk8s.schema").image_problem(image)
  if why then errors.usage("--image: %q %s", tostring(image), why) end
  local cfg = M.config(ctx)
  local old = cfg.application_image
  cfg.application_image = image
  for _, c in ipairs(cfg.components or {}) do
    if c.image == nil or c.image == old then c.image = image end
  end
end

return M
