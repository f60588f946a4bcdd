-- rigelk8s sequence NAME: run a Rigelfile sequence the way `rigel run sequence NAME` does
-- (sequential, concurrent and parallel/matrix stages; see lua/rigelk8s/sequence.lua),
-- with orchestration jobs deployed natively, rigelk8s.lua jobs run in-process and other
-- plugins delegated to `rigel run job`. Progress per stage and job, then a summary (or
-- one JSON document with -o json).
local cli = require "rigelk8s.cli"
local errors = require "rigelk8s.errors"
local sequence = require "rigelk8s.sequence"

local spec = cli.merge(cli.pick{file = true, kubeconfig = true, context = true, timeout = true, dry_run = true,
                            output = true, verbose = true, no_color = true, request_timeout = true}, {
  {"report_dir", nil, "--report-dir", value = "DIR",
   help = "where a failed job's rollout report (logs, events, specs) is saved (default: RIGELK8S_REPORT_DIR, else the working directory)"},
  {"skip_foreign", nil, "--skip-foreign", help = "skip jobs whose plugin rigelk8s cannot run, instead of refusing"},
  {"list", nil, "--list", help = "list the Rigelfile's sequences"},
  {"branch", nil, "--branch", value = "STAGE", help = "(internal) run one branch of parallel stage STAGE"},
  {"branch_data", nil, "--branch-data", value = "FILE", help = "(internal) the branch's data, as JSON"},
})
local info = {
  usage = "rigelk8s sequence NAME [-f Rigelfile] [--skip-foreign] [flags]",
  description = "Run a Rigelfile sequence: orchestration jobs deploy natively, rigelk8s.lua jobs run their\n" ..
                "script, other plugins are delegated to `rigel run job NAME` (rigel on PATH).",
}

local json_wanted = false
for i, a in ipairs(arg) do
  if a == "-o=json" or a == "--output=json" or ((a == "-o" or a == "--output") and arg[i + 1] == "json") then
    json_wanted = true
  end
end

local function json_error(e)
  local json = require "rigelk8s.json"
  io.stdout:write(json.encode{command = "sequence", state = "error", exit_code = e.exit_code,
                              rigelk8s_version = require("rigelk8s").version,
                              message = e.message, reason = e.reason or "Error"}, "\n")
end

local ok, ret = xpcall(function()
  local opts, rest = cli.parse(arg, spec, info)
  if opts.output ~= "text" and opts.output ~= "json" then
    errors.usage("-o/--output: expected text or json, got '%s'", tostring(opts.output))
  end
  cli.duration(opts.timeout, "--timeout")
  local file_given = false
  for _, a in ipairs(arg) do
    if a == "-f" or a == "--file" or a:match("^%-%-file=") then file_given = true end
  end
  if opts.list then
    local rigelfile = require "rigelk8s.rigelfile"
    local doc = rigelfile.read(opts.file, {default_name = not file_given})
    for _, name in ipairs(sequence.sequence_names(doc)) do print(name) end
    return 0
  end
  if #rest > 1 then
    errors.usage("sequence: one sequence at a time (got %s); see --help", table.concat(rest, ", "))
  end
  local plan = sequence.plan{file = opts.file, name = rest[1], skip_foreign = opts.skip_foreign,
                             default_file = not file_given}
  local run_opts = {kubeconfig = opts.kubeconfig, context = opts.context, timeout = opts.timeout,
                    request_timeout = opts.request_timeout,
                    dry_run = opts.dry_run, verbose = opts.verbose, no_color = opts.no_color,
                    json = opts.output == "json", skip_foreign = opts.skip_foreign, report_dir = opts.report_dir}
  local json = require "rigelk8s.json"
  if opts.branch then
    local f = opts.branch_data and io.open(opts.branch_data, "rb")
    if not f then errors.usage("--branch needs --branch-data FILE") end
    local branch = json.decode(f:read("a"))
    f:close()
    run_opts.branch = {stage = tonumber(opts.branch), data = branch.data, label = branch.label}
  end
  local report = sequence.run(plan, run_opts)
  if opts.branch or run_opts.json then
    report.rigelk8s_version = require("rigelk8s").version
    io.stdout:write(json.encode(report), "\n")
  else
    io.stderr:write(sequence.summary(report), "\n")
  end
  return report.exit_code
end, function(e)
  if type(e) == "table" then return e end
  return debug.traceback(tostring(e), 2)   -- a bug: keep where it happened
end)
if ok then return ret end
local e = errors.wrap(ret)
if json_wanted then json_error(e) end
error(e, 0)
