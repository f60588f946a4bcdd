-- Fleet runs: the same workflow on many clusters (robots), in waves.
--
-- Targets come from `--contexts a,b,c`, a fleet file (`--fleet FILE`) or the Rigelfile
-- job's `fleet:` list ({name, context, kubeconfig, namespace, labels}); `--select`
-- picks a subset by label. A `--canary N` runs first, then waves of `--wave-size N|P%`.
-- A wave is healthy when every target in it finished Ready (the target waits on the new
-- observedGeneration) and, with `--min-ready D`, is still Ready D later. More than
-- `--max-failures` failures in a wave stop the rollout; with `--atomic` every target
-- that changed, in the failed wave and in every wave before it, is rolled back.
--
-- The parts: this file (targets, options, the wave plan, the hold check and the marks a
-- target leaves), fleet/waves.lua (the rollout, wave by wave), fleet/report.lua (the
-- final report and `fleet status`), and two runners with the same interface (start,
-- reap, idle, each, signal, close) that run one stock command on one target:
--
-- * fleet/inprocess.lua, the default: every target's stock workflow runs in a Lua
--   coroutine of this process, with its own client; the clients share one curl multi
--   handle (kube.group()), their calls yield instead of blocking (rigelk8s.k8s,
--   "Cooperative calls"), and one scheduler waits on all of them at once. At 100 targets
--   it measured 3.2x faster than processes, with a quarter of their memory and a sixth
--   of their CPU (README, Performance).
-- * fleet/runner.lua: one rigelk8s process per target (`-o json`), at most
--   --max-parallel at once. Used where a target may run code we do not control
--   (--hooks files, a Rigelfile's hooks:), for ros_graph checks (they sleep between
--   polls, which would stall every other target), for delete and distributed, and
--   with RIGELK8S_FLEET_RUNNER=process. A target that hangs or crashes there takes
--   down only its own process.
--
-- A target tells the fleet how far it got (M.mark): whether it reached the cluster at
-- all (else it is *offline*), whether its namespace carries the veto annotation
-- `rigelk8s.io/hold` (*held*), and whether its apply changed anything (what Ctrl-C and
-- --atomic must know). Per target the fleet keeps a few short strings, never the
-- target's whole report.
local errors = require "rigelk8s.errors"
local sys = require "rigelk8s.sys"
local cli = require "rigelk8s.cli"

local M = {}

M.HOLD_ANNOTATION = "rigelk8s.io/hold"

-- Flags that configure the fleet itself and are not passed on to each target.
M.flags = {
  {"contexts", nil, "--contexts", value = "A,B,...", help = "run on each of these kubeconfig contexts"},
  {"fleet", nil, "--fleet", value = "FILE", help = "fleet file: a list of {name, context, kubeconfig, namespace, labels}"},
  {"select", nil, "--select", value = "K=V,K!=V", help = "fleet: only targets whose labels match (name=a|b picks by name)"},
  {"max_parallel", nil, "--max-parallel", value = "N", help = "fleet: targets at once (default: every target in one process; 16 processes)"},
  {"fail_fast", nil, "--fail-fast", help = "fleet: stop every target after the first failure"},
  {"canary", nil, "--canary", value = "N", help = "fleet: update N targets first, on their own"},
  {"wave_size", nil, "--wave-size", value = "N|P%", help = "fleet: targets per wave after the canary (default all)"},
  {"min_ready", nil, "--min-ready", value = "DURATION", help = "fleet: a wave is healthy once Ready this long"},
  {"max_failures", nil, "--max-failures", value = "N|P%", default = "0", help = "fleet: failures a wave may have and the rollout go on"},
  {"pause_between", nil, "--pause-between", value = "DURATION", help = "fleet: wait this long between waves"},
  {"pause", nil, "--pause", help = "fleet: wait for Enter or `rigelk8s fleet resume` between waves"},
  {"offline", nil, "--offline", value = "skip|fail|wait:D", default = "skip", help = "fleet: what an unreachable or held target does"},
}
local OWN = {["-o"] = true, ["--output"] = true, ["--context"] = true}
for _, f in ipairs(M.flags) do OWN[f[3]] = f.value and true or false end
OWN["-o"], OWN["--output"], OWN["--context"] = true, true, true

-- The target being run in this coroutine by the in-process runner ({kind, marks}).
M.current = setmetatable({}, {__mode = "k"})

-- True inside a target's run: a child process, or a target's coroutine.
function M.is_child()
  return os.getenv("RIGELK8S_FLEET_CHILD") == "1" or M.current[coroutine.running()] ~= nil
end

-- A child's report field as text: JSON null (rigelk8s.null, which is truthy) and other
-- non-strings count as absent.
function M.text(v) return type(v) == "string" and v or nil end

function M.read_all(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- Shell quoting for the retry command a user copies.
function M.shq(s)
  if s:match("^[%w%-_./=:,@%%+]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

---------------------------------------------------------------------------------------
-- Targets

-- The context names of a kubeconfig file (nil, message when it cannot be read).
local function kubeconfig_contexts(path)
  local text = M.read_all(path)
  if not text then return nil, "cannot read " .. path end
  local yaml = require "rigelk8s.yaml"
  local ok, doc = pcall(yaml.load, text)
  if not ok or type(doc) ~= "table" then return nil, path .. " is not a kubeconfig (YAML mapping)" end
  local names = {}
  for _, c in ipairs(type(doc.contexts) == "table" and doc.contexts or {}) do
    if type(c) == "table" and type(c.name) == "string" then names[c.name] = true end
  end
  return names
end

local function default_kubeconfigs(ctx)
  if ctx.opts.kubeconfig then return {ctx.opts.kubeconfig} end
  local env = os.getenv("KUBECONFIG")
  local out = {}
  if env and env ~= "" then
    for p in env:gmatch("[^:]+") do out[#out + 1] = p end
    return out
  end
  return {(os.getenv("HOME") or ".") .. "/.kube/config"}
end

-- Every target's context must exist in its kubeconfig: a typo is a usage error before
-- anything changes, not an "offline" robot at the end.
local function check_contexts(ctx, targets)
  local cache = {}
  for _, t in ipairs(targets) do
    local files = t.kubeconfig and {t.kubeconfig} or default_kubeconfigs(ctx)
    local found, readable, why = false, false, nil
    for _, f in ipairs(files) do
      if cache[f] == nil then
        local names, err = kubeconfig_contexts(f)
        cache[f] = names or {err = err}
      end
      if cache[f].err then why = cache[f].err else readable = true end
      if readable and cache[f][t.context] then found = true end
    end
    if not found then
      local known = {}
      for _, f in ipairs(files) do
        for n in pairs(cache[f]) do if n ~= "err" then known[#known + 1] = n end end
      end
      table.sort(known)
      local hint = require("rigelk8s.util").closest(t.context, known)
      errors.usage("%s: target '%s': context '%s' is not in %s%s; %s", t.where, t.name, t.context,
                   table.concat(files, ":"), why and not readable and (" (" .. why .. ")") or "",
                   hint and ("did you mean '" .. hint .. "'?")
                   or ("use one of: " .. (#known > 0 and table.concat(known, ", ") or "(none)")))
    end
  end
end

-- "site=lab,robot!=r7,name=a|b" -> list of {key, values = {set}, negate}
function M.parse_select(text)
  local terms = {}
  for term in text:gmatch("[^,]+") do
    term = term:match("^%s*(.-)%s*$")
    local k, neg, v = term:match("^([%w%._/%-]+)%s*(!?)=%s*(.*)$")
    if not k or v == "" then
      errors.usage("--select: '%s' is not KEY=VALUE or KEY!=VALUE (e.g. --select site=lab,robot!=r7)", term)
    end
    local set = {}
    for one in v:gmatch("[^|]+") do set[one] = true end
    terms[#terms + 1] = {key = k, values = set, negate = neg == "!"}
  end
  if #terms == 0 then errors.usage("--select: expected KEY=VALUE terms, e.g. --select site=lab") end
  return terms
end

function M.matches(t, terms)
  for _, term in ipairs(terms) do
    local v = t.labels and t.labels[term.key]
    if v == nil and term.key == "name" then v = t.name end
    if v == nil and term.key == "context" then v = t.context end
    local hit = v ~= nil and term.values[tostring(v)] or false
    if hit == term.negate then return false end
  end
  return true
end

-- A fleet file: a YAML list of targets, or a mapping with a `fleet:` (or `targets:`) list.
local function load_fleet_file(path)
  local text = M.read_all(path)
  if not text then errors.usage("--fleet %s: cannot read the file; check the path", path) end
  local yaml = require "rigelk8s.yaml"
  local ok, doc = pcall(yaml.load, text)
  if not ok then errors.usage("--fleet %s: %s", path, tostring(type(doc) == "table" and doc.message or doc)) end
  local list, key = doc, nil
  if type(doc) == "table" and (doc.fleet or doc.targets) then
    key = doc.fleet and "fleet" or "targets"
    list = doc[key]
  end
  if type(list) ~= "table" or (next(list) ~= nil and list[1] == nil) then
    errors.usage("%s: expected a list of targets ({name, context, kubeconfig, namespace, labels}) or `fleet:` with one", path)
  end
  return list, key and (path .. ": " .. key) or path
end

local function normalise(list, where_prefix, base_dir, ctx)
  local out, seen = {}, {}
  for i, f in ipairs(list) do
    local where = string.format("%s[%d]", where_prefix, i - 1)
    if type(f) ~= "table" or type(f.context) ~= "string" or f.context == "" then
      errors.usage("%s: expected a mapping with a `context:` (e.g. {name: robot-1, context: robot-1})", where)
    end
    for k in pairs(f) do
      if not ({name = 1, context = 1, kubeconfig = 1, namespace = 1, labels = 1})[k] then
        errors.usage("%s: unknown key '%s'; a target has name, context, kubeconfig, namespace, labels", where, tostring(k))
      end
    end
    if f.labels ~= nil and type(f.labels) ~= "table" then
      errors.usage("%s.labels: expected a mapping, e.g. {site: lab}", where)
    end
    local name = f.name and tostring(f.name) or f.context
    if seen[name] then
      errors.usage("%s: target name '%s' is used twice (first at %s); give each target a distinct `name:`",
                   where, name, seen[name])
    end
    seen[name] = where
    local kc = f.kubeconfig
    if kc and base_dir and not kc:match("^/") then kc = base_dir .. "/" .. kc end
    local labels
    if f.labels then
      labels = {}
      for k, v in pairs(f.labels) do labels[tostring(k)] = tostring(v) end
    end
    out[#out + 1] = {name = name, context = f.context, where = where,
                     namespace = ctx.opts.namespace or f.namespace, kubeconfig = kc, labels = labels}
  end
  return out
end

-- The targets of this run, or nil when it is not a fleet run.
function M.targets(ctx, cfg)
  if M.is_child() then return nil end
  local out
  if ctx.opts.contexts then
    out = {}
    for name in ctx.opts.contexts:gmatch("[^,%s]+") do
      if out[name] then errors.usage("--contexts: '%s' is given twice", name) end
      out[name] = true
      out[#out + 1] = {name = name, context = name, namespace = ctx.opts.namespace, where = "--contexts"}
    end
    if #out == 0 then errors.usage("--contexts: expected a comma-separated list of contexts") end
    for _, t in ipairs(out) do out[t.name] = nil end
  elseif ctx.opts.fleet then
    local list, where = load_fleet_file(ctx.opts.fleet)
    out = normalise(list, where, ctx.opts.fleet:match("^(.*)/[^/]*$"), ctx)
  elseif cfg and cfg.fleet and #cfg.fleet > 0 then
    local file = cfg.source and cfg.source.file or "Rigelfile"
    local prefix = (cfg.source and cfg.source.path) and (cfg.source.path .. ".fleet") or "fleet"
    out = normalise(cfg.fleet, file .. ": " .. prefix, file:match("^(.*)/[^/]*$"), ctx)
  else
    if ctx.opts.select then errors.usage("--select: this run has no fleet; give --fleet FILE or a fleet: list") end
    return nil
  end
  check_contexts(ctx, out)
  if ctx.opts.select then
    local terms, picked = M.parse_select(ctx.opts.select), {}
    for _, t in ipairs(out) do if M.matches(t, terms) then picked[#picked + 1] = t end end
    if #picked == 0 then
      errors.usage("--select %s matches none of the %d targets; check the labels in the fleet file", ctx.opts.select, #out)
    end
    out = picked
  end
  return out
end

---------------------------------------------------------------------------------------
-- Options

local function count_or_percent(text, flag, min)
  local n, pct = tostring(text):match("^(%d+)(%%?)$")
  n = tonumber(n)
  if not n or n < min or (pct == "%" and (n < 1 or n > 100)) then
    errors.usage("%s: expected a whole number >= %d or a percentage 1%%..100%% (e.g. %s 10 or %s 25%%), got '%s'",
                 flag, min, flag, flag, tostring(text))
  end
  return {n = n, percent = pct == "%"}
end

function M.of(spec, total, round_up)
  if not spec.percent then return spec.n end
  local v = spec.n * total / 100
  return round_up and math.max(1, math.ceil(v)) or math.floor(v)
end

function M.options(ctx)
  local o = ctx.opts
  local max = o.max_parallel and tonumber(o.max_parallel)
  if o.max_parallel and (not max or max < 1 or max % 1 ~= 0) then
    errors.usage("--max-parallel: expected a whole number >= 1, got '%s'", tostring(o.max_parallel))
  end
  -- nil: the runner's default (fleet/runner.lua, fleet/inprocess.lua)
  local p = {max_parallel = max}
  if o.canary then p.canary = count_or_percent(o.canary, "--canary", 1) end
  if o.wave_size then p.wave_size = count_or_percent(o.wave_size, "--wave-size", 1) end
  p.max_failures = count_or_percent(o.max_failures, "--max-failures", 0)
  p.min_ready = o.min_ready and cli.duration(o.min_ready, "--min-ready") or 0
  p.pause_between = o.pause_between and cli.duration(o.pause_between, "--pause-between") or 0
  local off = o.offline
  if off == "skip" or off == "fail" then p.offline = off
  else
    local d = off:match("^wait:(.+)$")
    if not d then errors.usage("--offline: expected skip, fail or wait:DURATION (e.g. wait:10m), got '%s'", off) end
    p.offline, p.offline_wait = "wait", cli.duration(d, "--offline wait")
  end
  return p
end

-- Canary first, then waves of the remaining targets.
function M.plan(targets, p)
  local waves, i = {}, 1
  if p.canary then
    local n = math.min(M.of(p.canary, #targets, true), #targets)
    local w = {name = "canary", targets = {}}
    for j = 1, n do w.targets[j] = targets[j] end
    waves[1], i = w, n + 1
  end
  local size = p.wave_size and M.of(p.wave_size, #targets, true) or math.huge
  local k = 0
  while i <= #targets do
    k = k + 1
    local w = {name = "wave " .. k, targets = {}}
    while i <= #targets and #w.targets < size do w.targets[#w.targets + 1] = targets[i]; i = i + 1 end
    waves[#waves + 1] = w
  end
  if #waves == 1 and not p.canary and not p.wave_size then waves[1].name = "all" end
  return waves
end

---------------------------------------------------------------------------------------
-- Marks: how far a target got. A child process appends them to the file named by
-- RIGELK8S_FLEET_MARK (rewritten whole at each mark); a target in a coroutine to its
-- job. Only a target's main command marks (not the fleet's status checks and rollbacks).

local child_marks = {}

function M.marking()
  local cur = M.current[coroutine.running()]
  if cur then return cur.kind == "main" end
  return os.getenv("RIGELK8S_FLEET_MARK") ~= nil
end

function M.mark(line)
  local cur = M.current[coroutine.running()]
  if cur then
    if cur.kind == "main" then cur.marks[#cur.marks + 1] = line end
    return
  end
  local path = os.getenv("RIGELK8S_FLEET_MARK")
  if not path then return end
  child_marks[#child_marks + 1] = line
  sys.write_private(path, table.concat(child_marks, "\n") .. "\n")
end

-- Reads marks into job: held, applying (started applying), changed (what the apply
-- created or configured, "Kind/name,...").
function M.read_marks(job, lines)
  for _, line in ipairs(lines) do
    local what, rest = line:match("^(%w+)\t?(.*)$")
    if what == "held" then job.held = rest
    elseif what == "applying" then job.applying = true
    elseif what == "applied" then
      job.applying = false
      if rest ~= "" then job.changed = rest end
    end
  end
end

-- The hooks a target's main command loads (its `--hooks` file): they mark.
M.MARK_HOOKS = [[
local fleet = require "rigelk8s.fleet"
local started = false
return {
  before_apply = function()
    if started or not fleet.marking() then return end
    started = true
    fleet.mark("applying")
  end,
  after_apply = function(ctx, s)
    local changed = {}
    for _, r in ipairs(s.created or {}) do changed[#changed + 1] = r end
    for _, r in ipairs(s.configured or {}) do changed[#changed + 1] = r end
    fleet.mark("applied\t" .. table.concat(changed, ","))
  end,
}
]]

-- In a fleet child, before a command that changes the cluster: the robot's veto. Run by
-- workflow.main; a held namespace ends the child with reason Held, and the marker file
-- tells the parent why. An unreachable cluster fails here, before anything changed.
local CHANGES = {deploy = true, update = true, distributed = true, rollback = true, delete = true}
function M.preflight(ctx, wf)
  if not M.marking() or not CHANGES[ctx.command] then return end
  local cfg = wf.config(ctx)
  local ns = cfg and cfg.namespace
  if not ns then return end
  local live, err = wf.connect(ctx):try_get{apiVersion = "v1", kind = "Namespace", name = ns}
  if not live and err and err.exit_code == errors.EXIT.unreachable then error(err, 0) end
  local ann = live and live.metadata and live.metadata.annotations
  local hold = type(ann) == "table" and ann[M.HOLD_ANNOTATION]
  if hold then
    hold = tostring(hold)
    M.mark("held\t" .. hold:gsub("[\t\n]", " "))
    errors.raise{message = string.format("namespace %s is held (%s: %s); nothing was changed; remove the annotation " ..
                                         "when the robot may be updated", ns, M.HOLD_ANNOTATION, hold),
                 exit_code = errors.EXIT.failed, reason = "Held"}
  end
end

---------------------------------------------------------------------------------------
-- Helpers shared by the runners, the waves and the report

-- The command line of each target: argv without the fleet's own flags.
function M.passthrough(argv)
  local out, i = {}, 1
  while i <= #argv do
    local a = argv[i]
    local name = a:match("^(%-%-?[^=]+)=") or a
    if OWN[name] ~= nil then
      if not a:find("=", 1, true) and OWN[name] then i = i + 1 end
    else
      out[#out + 1] = a
    end
    i = i + 1
  end
  return out
end

-- "app rev 3, master rev 1" from a target's report.
function M.revisions(doc)
  local parts = {}
  for _, o in ipairs(type(doc) == "table" and type(doc.objects) == "table" and doc.objects or {}) do
    if o.kind == "Deployment" and o.revision then
      parts[#parts + 1] = string.format("%s rev %s", o.name, tostring(o.revision))
    end
  end
  return table.concat(parts, ", ")
end

-- The first line of a target report's diagnosis or message.
function M.message_of(doc, code)
  local m = M.text(doc.diagnosis) or M.text(doc.message) or ("exit " .. tostring(code))
  return (m:gsub("\n.*", ""))
end

-- The child args for status/rollback on a target: the Rigelfile selection, no command flags.
function M.status_args(base)
  local keep = {["-f"] = true, ["--file"] = true, ["--job"] = true, ["--config"] = true,
                ["--request-timeout"] = true, ["--timeout"] = true, ["--kubeconfig"] = true}
  local out, i = {}, 1
  while i <= #base do
    local a = base[i]
    local name = a:match("^(%-%-?[^=]+)=") or a
    if keep[name] then
      out[#out + 1] = a
      if not a:find("=", 1, true) then out[#out + 1] = base[i + 1]; i = i + 1 end
    end
    i = i + 1
  end
  return out
end

local function runtime_dir()
  local base = os.getenv("XDG_RUNTIME_DIR")
  if not base or base == "" then base = (os.getenv("TMPDIR") or "/tmp") .. "/rigelk8s-" .. (os.getenv("USER") or "user") end
  local dir = base .. "/rigelk8s-fleet"
  for _, d in ipairs{base, dir} do
    local ok, err = sys.mkdir_private(d)
    if not ok then
      errors.raise{message = string.format("--pause: cannot use %s for the pause marker (%s); set XDG_RUNTIME_DIR to a private directory", d, tostring(err)),
                   exit_code = errors.EXIT.failed}
    end
  end
  return dir
end
M.runtime_dir = runtime_dir

---------------------------------------------------------------------------------------
-- Runners

-- Commands the in-process runner runs (the rest, delete and distributed, go to processes).
local INPROCESS = {deploy = true, update = true, status = true, diff = true, rollback = true}

-- Why this run's targets cannot run in this process, or nil when they can.
function M.needs_processes(ctx, command)
  local choice = os.getenv("RIGELK8S_FLEET_RUNNER")
  if choice == "process" then return "RIGELK8S_FLEET_RUNNER=process" end
  if choice and choice ~= "" and choice ~= "inprocess" then
    errors.usage("RIGELK8S_FLEET_RUNNER: expected process or inprocess, got '%s'", choice)
  end
  if not INPROCESS[command] then return command .. " runs one process per target" end
  if ctx.opts.hooks and #ctx.opts.hooks > 0 then return "--hooks runs code of its own on every target" end
  local wf = require "rigelk8s.workflow"
  local okc, cfg = pcall(wf.config, ctx)
  if not okc then cfg = nil end
  if cfg and cfg.hooks then return "the Rigelfile's hooks: run code of their own on every target" end
  if cfg and wf.wanted_graph(cfg) then
    return "ros_graph checks poll with sleeps, which would hold up every other target"
  end
  return nil
end

-- The runner for this run: in-process unless needs_processes says otherwise.
function M.new_runner(ctx, p, command)
  local why = M.needs_processes(ctx, command)
  if why then
    local r = require("rigelk8s.fleet.runner").new(ctx, p)
    r.why = why
    return r
  end
  return require("rigelk8s.fleet.inprocess").new(ctx, p)
end

-- Runs the command on every target, wave by wave; returns the exit code.
function M.run(ctx, targets, argv)
  return require("rigelk8s.fleet.waves").run(ctx, targets, argv)
end

function M.report(ctx, targets, waves, info)
  return require("rigelk8s.fleet.report").report(ctx, targets, waves, info)
end

-- rigelk8s fleet status: one row per target and Deployment.
function M.status(ctx, targets, argv)
  return require("rigelk8s.fleet.report").status(ctx, targets, argv)
end

return M
