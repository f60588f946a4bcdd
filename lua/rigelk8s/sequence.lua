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
--                                  Details at Runner:lua_start.
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
local cli = require "rigelk8s.cli"
local errors = require "rigelk8s.errors"
local progress = require "rigelk8s.progress"
local rigelfile = require "rigelk8s.rigelfile"
local sys = require "rigelk8s.sys"
local yaml = require "rigelk8s.yaml"
local core = require "rigelk8s"

local M = {}

M.LUA_PLUGIN = "rigelk8s.lua"
-- The Rigel plugin shim (examples/rigel-plugin): a Rigelfile that points its job at the
-- shim for `rigel run` is still deployed natively by `rigelk8s sequence`.
M.SHIM_PLUGIN = "rigelk8s_rigel.OrchestrationPlugin"
-- Keys of a job's `with` that steer how the job runs; they are not part of its config.
M.RUNNER_KEYS = {"cleanup", "timeout"}
-- The shim's name for the same Lua runner (Rigel loads "rigelk8s.lua" through the shim too).
M.SHIM_LUA_PLUGIN = "rigelk8s_rigel.LuaPlugin"
-- Keys of a rigelk8s.lua job's `with` besides its configuration.
M.LUA_KEYS = {"script", "args"}

local null = core.null
local function is_null(v) return v == nil or v == null end
local function is_list(v)
  return type(v) == "table" and (core.is_array(v) or (v[1] ~= nil))
end
local function is_map(v) return type(v) == "table" and not is_null(v) and not is_list(v) end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

local function contains(list, v)
  for _, x in ipairs(list) do if x == v then return true end end
  return false
end

local function shallow_copy(t)
  local out = {}
  for k, v in pairs(t or {}) do out[k] = v end
  return setmetatable(out, getmetatable(t))
end

-- The position-map path of a child: 0-based list indexes, quoted odd keys.
local function child(path, key)
  if math.type(key) == "integer" then return yaml.path_join(path, key - 1) end
  return yaml.path_join(path, key)
end

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- The kind of runner a plugin name gets.
function M.runner_of(plugin)
  if contains(rigelfile.ORCHESTRATION_PLUGINS, plugin) or plugin == M.SHIM_PLUGIN then return "deploy" end
  if plugin == M.LUA_PLUGIN or plugin == M.SHIM_LUA_PLUGIN then return "lua" end
  return "rigel"
end

-------------------------------------------------------------------------------------------
-- Planning: the sequence's shape, checked and normalized
-------------------------------------------------------------------------------------------

local STAGE_KEYS = {"jobs", "dependencies", "parallel", "matrix", "description"}
local STAGE_SHAPES = "a stage is {jobs: [...]}, {jobs: [...], dependencies: [...]} or " ..
                     "{parallel: [stages], matrix: {key: [values]}}"

local Planner = {}
Planner.__index = Planner

function Planner:problem(path, message, at)
  self.problems[#self.problems + 1] = {path = path, message = message, at = at}
end

-- A job reference: "name" or {name:, with:}. Returns {name=, with=, path=} or nil.
function Planner:entry(v, path)
  local jobs = is_map(self.doc.jobs) and self.doc.jobs or {}
  local name, with
  if type(v) == "string" then
    name = v
  elseif is_map(v) then
    for _, k in ipairs(sorted_keys(v)) do
      if k ~= "name" and k ~= "with" then
        self:problem(child(path, k), string.format(
          "unknown key '%s' in a job entry; an entry is a job name or {name: job, with: {...}}", k),
          child(path, k) .. "#key")
      end
    end
    name = v.name
    if type(name) ~= "string" then
      self:problem(path, "a job entry needs name: (the job to run)")
      return nil
    end
    if not is_null(v.with) and not is_map(v.with) then
      self:problem(child(path, "with"), "expected a map of settings merged over the job's with:")
    elseif is_map(v.with) then
      with = v.with
    end
  else
    self:problem(path, "expected a job name or {name: job, with: {...}}")
    return nil
  end
  if not is_map(jobs[name]) then
    local names = sorted_keys(jobs)
    local hint = cli.closest(name, names)
    self:problem(path, string.format("no job named '%s'%s%s", name,
      hint and ("; did you mean '" .. hint .. "'?") or "",
      #names > 0 and (" (jobs: " .. table.concat(names, ", ") .. ")") or "; the Rigelfile has no jobs:"))
    return nil
  end
  local plugin = jobs[name].plugin
  if type(plugin) ~= "string" or plugin == "" then
    self:problem(child(child("jobs", name), "plugin"), string.format(
      "job %s has no plugin:; use %s, %s or a Rigel plugin", name,
      rigelfile.ORCHESTRATION_PLUGINS[1], M.LUA_PLUGIN), child("jobs", name) .. "#key")
    return nil
  end
  local e = {name = name, with = with, path = path, plugin = plugin, runner = M.runner_of(plugin)}
  self.entries[#self.entries + 1] = e
  return e
end

function Planner:entry_list(v, path, what)
  local out = {}
  if not is_list(v) then
    self:problem(path, string.format("%s: expected a list of job names or {name:, with:} entries", what))
    return out
  end
  for i, item in ipairs(v) do
    local e = self:entry(item, child(path, i))
    if e then out[#out + 1] = e end
  end
  return out
end

-- The matrix keys in file order (positions), each with its list of values.
function Planner:matrix(v, path)
  if not is_map(v) then
    self:problem(path, "matrix: expected a map of key: [values], e.g. matrix: {ns: [robot-a, robot-b]}")
    return {}
  end
  local keys = sorted_keys(v)
  local function line(k)
    local p = self.positions[child(path, k) .. "#key"]
    return p and (p.line * 100000 + p.column) or 0
  end
  table.sort(keys, function(a, b)
    local la, lb = line(a), line(b)
    if la ~= lb then return la < lb end
    return tostring(a) < tostring(b)
  end)
  local out = {}
  for _, k in ipairs(keys) do
    local values = v[k]
    if type(values) == "string" and values:find("{{", 1, true) then
      out[#out + 1] = {key = k, values = values, path = child(path, k)}   -- rendered at run time
    elseif not is_list(values) or #values == 0 then
      self:problem(child(path, k), string.format("matrix.%s: expected a non-empty list of values", k))
    else
      out[#out + 1] = {key = k, values = values, path = child(path, k)}
    end
  end
  return out
end

function Planner:stage(v, path, inner)
  if not is_map(v) then
    self:problem(path, STAGE_SHAPES)
    return nil
  end
  local unknown = false
  for _, k in ipairs(sorted_keys(v)) do
    if not contains(STAGE_KEYS, k) then
      unknown = true
      local hint = cli.closest(tostring(k), STAGE_KEYS)
      self:problem(child(path, k), string.format("unknown key '%s' in a stage%s (%s)", k,
        hint and ("; did you mean '" .. hint .. "'?") or "", STAGE_SHAPES), child(path, k) .. "#key")
    end
  end
  if unknown and v.jobs == nil and v.parallel == nil then return nil end
  local stage = {path = path, description = type(v.description) == "string" and v.description or nil}
  if v.parallel ~= nil then
    if inner then
      self:problem(child(path, "parallel"),
        "a parallel stage cannot be nested in another parallel stage; list sequential or concurrent stages here",
        child(path, "parallel") .. "#key")
      return nil
    end
    if v.jobs ~= nil or v.dependencies ~= nil then
      self:problem(path, "a stage has either jobs: or parallel:, not both; " .. STAGE_SHAPES)
      return nil
    end
    stage.kind = "parallel"
    stage.stages = {}
    if not is_list(v.parallel) or #v.parallel == 0 then
      self:problem(child(path, "parallel"), "parallel: expected a non-empty list of stages")
    else
      for i, s in ipairs(v.parallel) do
        stage.stages[#stage.stages + 1] = self:stage(s, child(child(path, "parallel"), i), true)
      end
    end
    stage.matrix = is_null(v.matrix) and {} or self:matrix(v.matrix, child(path, "matrix"))
    return stage
  end
  if v.matrix ~= nil then
    self:problem(child(path, "matrix"), "matrix: belongs to a parallel stage ({parallel: [stages], matrix: {...}})",
                 child(path, "matrix") .. "#key")
  end
  if v.jobs == nil then
    self:problem(path, "a stage needs jobs: or parallel:; " .. STAGE_SHAPES)
    return nil
  end
  stage.jobs = self:entry_list(v.jobs, child(path, "jobs"), "jobs")
  if v.dependencies ~= nil then
    stage.kind = "concurrent"
    stage.dependencies = self:entry_list(v.dependencies, child(path, "dependencies"), "dependencies")
  else
    stage.kind = "sequential"
  end
  return stage
end

local function raise_problems(problems, file, positions)
  errors.raise{message = rigelfile.format_problems(problems, {file = file, positions = positions}),
               exit_code = errors.EXIT.usage, reason = "InvalidSequence"}
end

function M.sequence_names(doc)
  return is_map(doc.sequences) and sorted_keys(doc.sequences) or {}
end

-- Strings of a value, for finding the {{ data.x }} names a job depends on.
local function data_refs(v, out)
  out = out or {}
  if type(v) == "string" then
    for name in v:gmatch("data%s*%.%s*([%a_][%w_]*)") do out[name] = true end
    for name in v:gmatch("data%s*%[%s*['\"]([^'\"]+)['\"]") do out[name] = true end
  elseif type(v) == "table" and not is_null(v) then
    for k, item in pairs(v) do data_refs(k, out); data_refs(item, out) end
  end
  return out
end

-- plan{file=, name=, skip_foreign=, rigel=} -> plan. rigel is the path of the rigel
-- executable (default: looked up on PATH; false: none). Raises (exit 2) on any problem.
function M.plan(opts)
  local file = opts.file or "Rigelfile"
  local doc, positions = rigelfile.read(file, {default_name = opts.default_file})
  local plan = {file = file, dir = file:match("^(.*)/[^/]*$") or ".", name = opts.name,
                doc = doc, positions = positions, skip_foreign = opts.skip_foreign}
  local names = M.sequence_names(doc)
  local where = {file = file, positions = positions}
  if not is_map(doc.sequences) then
    errors.raise{message = rigelfile.format_problems({{path = "sequences", message = doc.sequences == nil
      and "the Rigelfile has no sequences:; add one, e.g. sequences: {demo: {stages: [{jobs: [deploy_k8s]}]}}"
      or "expected a map of sequence name: {stages: [...]}", at = "sequences#key"}}, where),
      exit_code = errors.EXIT.usage, reason = "InvalidSequence"}
  end
  if type(opts.name) ~= "string" then
    errors.usage("which sequence? rigelk8s sequence NAME (%s: %s)", file,
                 #names > 0 and table.concat(names, ", ") or "no sequences")
  end
  if doc.sequences[opts.name] == nil then
    local hint = cli.closest(opts.name, names)
    errors.raise{message = rigelfile.format_problems({{path = "sequences", at = "sequences#key", message =
      string.format("no sequence named '%s'%s (sequences: %s)", opts.name,
        hint and ("; did you mean '" .. hint .. "'?") or "", table.concat(names, ", "))}}, where),
      exit_code = errors.EXIT.usage, reason = "UnknownSequence"}
  end

  local p = setmetatable({doc = doc, positions = positions, problems = {}, entries = {}}, Planner)
  local seq = doc.sequences[opts.name]
  local spath = child("sequences", opts.name)
  plan.path = spath
  plan.stages = {}
  if not is_map(seq) or not is_list(seq.stages) then
    p:problem(spath, "a sequence is {stages: [stage, ...]}; " .. STAGE_SHAPES)
  else
    for _, k in ipairs(sorted_keys(seq)) do
      if k ~= "stages" and k ~= "description" then
        p:problem(child(spath, k), string.format("unknown key '%s' in a sequence%s", k,
          k == "matrix" and "; matrix: belongs to a parallel stage ({parallel: [stages], matrix: {...}})"
          or "; a sequence is {stages: [...]}"), child(spath, k) .. "#key")
      end
    end
    for i, s in ipairs(seq.stages) do
      plan.stages[#plan.stages + 1] = p:stage(s, child(child(spath, "stages"), i), false)
    end
    if #seq.stages == 0 then p:problem(child(spath, "stages"), "the sequence has no stages") end
  end
  if #p.problems > 0 then raise_problems(p.problems, file, positions) end

  -- Foreign jobs: delegated to rigel, skipped, or the reason nothing runs.
  if opts.rigel == nil then opts.rigel = sys.which("rigel") end
  plan.rigel = opts.rigel or nil
  local base = file:match("([^/]*)$")
  local foreign, seen = {}, {}
  for _, e in ipairs(p.entries) do
    if e.runner == "rigel" then
      if not seen[e.name] then
        seen[e.name] = true
        foreign[#foreign + 1] = e
      end
      if e.with and not opts.skip_foreign then
        p:problem(child(e.path, "with"), string.format(
          "job %s (plugin %s) is run by `rigel run job %s`, which cannot take this entry's with:; " ..
          "move these settings into jobs.%s.with", e.name, e.plugin, e.name, e.name), child(e.path, "with") .. "#key")
      end
    end
  end
  plan.foreign = foreign
  -- `rigel run job NAME` gets no shared data: a delegated job that uses {{ data.x }}
  -- (a matrix value included) would fail in Rigel, after the jobs before it ran.
  if not opts.skip_foreign then
    local matrix_of = {}
    for _, stage in ipairs(plan.stages) do
      if stage.kind == "parallel" then
        local keys = {}
        for _, m in ipairs(stage.matrix or {}) do keys[#keys + 1] = tostring(m.key) end
        for _, inner in ipairs(stage.stages) do
          for _, list in ipairs{inner.jobs or {}, inner.dependencies or {}} do
            for _, e in ipairs(list) do
              if e.runner == "rigel" and #keys > 0 then matrix_of[e.name] = keys end
            end
          end
        end
      end
    end
    for _, e in ipairs(foreign) do
      local with = doc.jobs[e.name].with
      local refs = {}
      for n in pairs(data_refs(is_map(with) and with or {})) do refs[#refs + 1] = n end
      table.sort(refs)
      if #refs > 0 then
        local wpath = child(child("jobs", e.name), "with")
        local keys = matrix_of[e.name]
        local uses = "{{ data." .. table.concat(refs, " }}, {{ data.") .. " }}"
        p:problem(wpath, string.format(
          "job %s (plugin %s) uses %s%s, but it is delegated to `rigel run job %s`, which gets no shared " ..
          "data%s: run the whole sequence with `rigel run sequence %s`%s, or write the values into jobs.%s.with",
          e.name, e.plugin, uses, keys and (" in a matrix branch (matrix: " .. table.concat(keys, ", ") .. ")") or "",
          e.name, keys and " and no matrix values" or "", opts.name,
          keys and " (Rigel gives every job of a branch its matrix values)" or "", e.name), wpath .. "#key")
      end
    end
  end
  if #foreign > 0 and not opts.skip_foreign and (not plan.rigel or base ~= "Rigelfile") then
    local lines = {}
    local why = not plan.rigel and "`rigel` is not on PATH"
                or string.format("rigel reads ./Rigelfile, not %s", base)
    lines[1] = string.format("%s: sequence %s cannot run: %d job%s use%s a plugin that only Rigel runs, and %s:",
                             file, opts.name, #foreign, #foreign == 1 and "" or "s", #foreign == 1 and "s" or "", why)
    for _, e in ipairs(foreign) do
      local pos = rigelfile.position(positions, child("jobs", e.name) .. "#key")
      lines[#lines + 1] = string.format("  %s:%d:%d: job %s (plugin %s)", file, pos and pos.line or 0,
                                        pos and pos.column or 0, e.name, e.plugin)
    end
    lines[#lines + 1] = not plan.rigel
      and "Install Rigel 0.3 (pip install \"git+https://github.com/rigel-ros/rigel@develop\"; `pip install rigel` " ..
          "gives 0.2.22, which has no jobs) so that these jobs run with `rigel run job NAME`, or run " ..
          "them yourself and rerun with --skip-foreign to run the rest of the sequence."
      or "Name the file Rigelfile so that rigel can run these jobs, or rerun with --skip-foreign to run the rest."
    errors.raise{message = table.concat(lines, "\n"), exit_code = errors.EXIT.usage, reason = "ForeignJobs",
                 jobs = foreign}
  end
  if #p.problems > 0 then raise_problems(p.problems, file, positions) end
  M.preflight(plan)
  return plan
end

-------------------------------------------------------------------------------------------
-- Job configuration: the merged, rendered `with` of one run of a job
-------------------------------------------------------------------------------------------

-- The job's `with` with the entry's `with` merged over it, and a position map in which
-- the entry's keys point at the sequence entry (so messages name the line that set them).
local function merged_with(plan, entry)
  local job = plan.doc.jobs[entry.name]
  local merged = is_map(job.with) and shallow_copy(job.with) or {}
  local positions = plan.positions
  if entry.with then
    positions = shallow_copy(plan.positions)
    local from, to = child(entry.path, "with"), child(child("jobs", entry.name), "with")
    for k, v in pairs(entry.with) do merged[k] = v end
    for path, pos in pairs(plan.positions) do
      if path:sub(1, #from + 1) == from .. "." or path:sub(1, #from + 2) == from .. "[\"" then
        positions[to .. path:sub(#from + 1)] = pos
      end
    end
  end
  return merged, positions
end

-- Renders the runner keys (cleanup, timeout) and removes them from `with`.
local function runner_settings(plan, entry, with, positions, data)
  local template = require "rigelk8s.template"
  local ctx = template.context{vars = is_map(plan.doc.vars) and plan.doc.vars or {}, data = data}
  local out, problems = {}, {}
  local wpath = child(child("jobs", entry.name), "with")
  for _, k in ipairs(M.RUNNER_KEYS) do
    if with[k] ~= nil then
      local v, probs = template.render(with[k], {ctx = ctx, path = child(wpath, k), positions = positions})
      for _, pr in ipairs(probs) do problems[#problems + 1] = pr end
      out[k] = v
      with[k] = nil
    end
  end
  if out.cleanup ~= nil then
    local s = tostring(out.cleanup):lower()
    if s == "true" or s == "yes" or s == "1" then out.cleanup = true
    elseif s == "false" or s == "no" or s == "0" then out.cleanup = false
    else problems[#problems + 1] = {path = child(wpath, "cleanup"), message = "cleanup: expected true or false"} end
  end
  if out.timeout ~= nil then
    local ok, secs = pcall(cli.duration, tostring(out.timeout), child(wpath, "timeout"))
    if ok then out.timeout = secs
    else problems[#problems + 1] = {path = child(wpath, "timeout"),
                                    message = "expected a duration such as 90s, 5m or 1h"} end
  end
  if #problems > 0 then raise_problems(problems, plan.file, positions) end
  return out
end

-- rigelfile.load reads and parses the file itself; a sequence entry's `with` needs it to
-- load an edited copy of the document instead, so the copy stands in for the file during
-- the call. (A `doc`/`positions` option of rigelfile.load would make this unnecessary.)
-- The validated orchestration config of one run of an orchestration job, plus its
-- runner settings.
function M.orchestration_config(plan, entry, data)
  local with, positions = merged_with(plan, entry)
  local settings = runner_settings(plan, entry, with, positions, data)
  local doc = shallow_copy(plan.doc)
  doc.jobs = shallow_copy(plan.doc.jobs)
  doc.jobs[entry.name] = {plugin = "rigelk8s", with = with}
  local cfg = rigelfile.load{file = plan.file, job = entry.name, data = data, doc = doc,
                             positions = shallow_copy(positions)}
  return cfg, settings
end

-- The rendered `with` of a rigelk8s.lua job, split into script, args and configuration.
function M.lua_config(plan, entry, data)
  local template = require "rigelk8s.template"
  local with, positions = merged_with(plan, entry)
  local settings = runner_settings(plan, entry, with, positions, data)
  local wpath = child(child("jobs", entry.name), "with")
  local ctx = template.context{vars = is_map(plan.doc.vars) and plan.doc.vars or {}, data = data}
  local rendered, problems = template.render(with, {ctx = ctx, path = wpath, positions = positions})
  local script, args = rendered.script, rendered.args
  if type(script) ~= "string" or script == "" then
    problems[#problems + 1] = {path = child(wpath, "script"), at = wpath,
                               message = "a rigelk8s.lua job needs script: (a Lua file, relative to the Rigelfile)"}
  end
  if args ~= nil and not (is_list(args) or (type(args) == "table" and next(args) == nil)) then
    problems[#problems + 1] = {path = child(wpath, "args"), message = "args: expected a list of command-line arguments"}
  end
  if #problems > 0 then raise_problems(problems, plan.file, positions) end
  local config = {}
  for k, v in pairs(rendered) do
    if not contains(M.LUA_KEYS, k) then config[k] = v end
  end
  local path = script:sub(1, 1) == "/" and script or (plan.dir .. "/" .. script)
  local argv = {}
  for i, a in ipairs(args or {}) do argv[i] = tostring(a) end
  return {script = path, args = argv, config = config}, settings
end

-- Checks what can be checked before anything runs (see the header).
function M.preflight(plan)
  local lines, seen = {}, {}
  local function check(label, fn, ...)
    local ok, err = pcall(fn, ...)
    if ok then return end
    for line in (errors.wrap(err).message .. "\n"):gmatch("([^\n]*)\n") do
      if not line:match(": %d+ problems:$") and line ~= "" and not seen[line] then
        seen[line] = true
        lines[#lines + 1] = label and (line .. " (with " .. label .. ")") or line
      end
    end
  end
  local function entry_check(e, data, known, label)
    if e.runner == "rigel" then return end
    local with = merged_with(plan, e)
    for name in pairs(data_refs(with)) do
      if not known[name] then return end   -- needs data produced at run time
    end
    if not next(data_refs(with)) then label = nil end
    if e.runner == "deploy" then
      check(label, M.orchestration_config, plan, e, data)
    elseif e.runner == "lua" then
      check(label, function()
        local job = M.lua_config(plan, e, data)
        local where = child(child(child("jobs", e.name), "with"), "script")
        local f = io.open(job.script, "r")
        if not f then
          raise_problems({{path = where, message = string.format(
            "%s: no such file (the script is relative to the Rigelfile's directory)", job.script)}},
            plan.file, plan.positions)
        end
        f:close()
        local chunk, err = loadfile(job.script, "t")
        if not chunk then raise_problems({{path = where, message = err}}, plan.file, plan.positions) end
      end)
    end
  end
  local function stage_check(stage, data, known, label)
    for _, e in ipairs(stage.dependencies or {}) do entry_check(e, data, known, label) end
    for _, e in ipairs(stage.jobs or {}) do entry_check(e, data, known, label) end
  end
  for _, stage in ipairs(plan.stages) do
    if stage.kind == "parallel" then
      local refs = {}
      for _, m in ipairs(stage.matrix) do data_refs(m.values, refs) end
      if next(refs) == nil then   -- else the matrix needs data produced at run time
        local ok, combos = pcall(M.combinations, plan, stage, {})
        if not ok then
          check(nil, error, combos, 0)
        else
          for _, combo in ipairs(combos) do
            local known = {}
            for k in pairs(combo.values) do known[k] = true end
            for _, inner in ipairs(stage.stages) do stage_check(inner, combo.values, known, combo.label) end
          end
        end
      end
    else
      stage_check(stage, {}, {})
    end
  end
  local function where(line)
    local l, c = line:match("^[^\n]-:(%d+):(%d+):")
    return (tonumber(l) or 0) * 100000 + (tonumber(c) or 0)
  end
  table.sort(lines, function(a, b)
    if where(a) ~= where(b) then return where(a) < where(b) end
    return a < b
  end)
  if #lines > 1 then
    table.insert(lines, 1, string.format("%s: %d problems in the jobs of sequence %s (nothing was run):",
                                         plan.file, #lines, plan.name))
  end
  if #lines > 0 then
    errors.raise{message = table.concat(lines, "\n"), exit_code = errors.EXIT.usage, reason = "InvalidConfig"}
  end
end

-- The combinations of a parallel stage's matrix: a list of {values = {k = v}, label = "k=v ..."}
-- in Rigel's order (the last key varies fastest). Matrix values may be templates.
function M.combinations(plan, stage, data)
  local template = require "rigelk8s.template"
  local ctx = template.context{vars = is_map(plan.doc.vars) and plan.doc.vars or {}, data = data}
  local axes = {}
  for _, m in ipairs(stage.matrix) do
    local values, problems = template.render(m.values, {ctx = ctx, path = m.path, positions = plan.positions})
    if #problems > 0 then raise_problems(problems, plan.file, plan.positions) end
    if not is_list(values) or #values == 0 then
      raise_problems({{path = m.path, message = "the matrix values must render to a non-empty list"}},
                     plan.file, plan.positions)
    end
    axes[#axes + 1] = {key = m.key, values = values}
  end
  local out = {{values = {}, parts = {}}}
  for _, axis in ipairs(axes) do
    local next_out = {}
    for _, combo in ipairs(out) do
      for _, v in ipairs(axis.values) do
        local values, parts = shallow_copy(combo.values), shallow_copy(combo.parts)
        values[axis.key] = v
        parts[#parts + 1] = axis.key .. "=" .. (type(v) == "table" and require("rigelk8s.json").encode(v)
                                                or tostring(v))
        next_out[#next_out + 1] = {values = values, parts = parts}
      end
    end
    out = next_out
  end
  for _, combo in ipairs(out) do
    combo.label = #combo.parts > 0 and table.concat(combo.parts, " ") or "branch"
    combo.parts = nil
  end
  return out
end

-------------------------------------------------------------------------------------------
-- Running
-------------------------------------------------------------------------------------------

local Runner = {}
Runner.__index = Runner

local function elapsed_since(t) return math.floor((sys.now() - t) * 1000 + 0.5) / 1000 end

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

-- A stand-in for io.stdout that keeps what is written (see with_stdout).
local function capture_file()
  local buf = {}
  local f = {}
  function f.write(self, ...)
    for i = 1, select("#", ...) do buf[#buf + 1] = tostring((select(i, ...))) end
    return self
  end
  function f.flush(self) return self end
  function f.setvbuf() return true end
  function f.close() return true end
  function f.lines() return function() return nil end end
  function f.seek() return 0 end
  return f, function() return table.concat(buf) end
end

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
  local cfg, settings = M.orchestration_config(self.plan, job.entry, data)
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
  local spec, settings = M.lua_config(self.plan, job.entry, data)
  job.settings = settings
  local chunk, err = loadfile(spec.script, "t")
  if not chunk then errors.usage("job %s: %s", job.name, err) end
  local tmp = os.tmpname()
  local ok_w, werr = sys.write_private(tmp, json.encode(next(spec.config) and spec.config or core.array{}))
  if not ok_w then errors.raise{message = "job " .. job.name .. ": " .. tostring(werr)} end
  local argv = self:workflow_argv(settings, {"--config", tmp})
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
  local jobs = core.array{}
  for _, e in ipairs(stage.dependencies or {}) do jobs[#jobs + 1] = self:new_job(e, "dependency") end
  for _, e in ipairs(stage.jobs or {}) do jobs[#jobs + 1] = self:new_job(e, "job") end
  return jobs
end

function Runner:run_sequential(_, data, out)
  for _, j in ipairs(out.jobs) do
    if not self:start(j, data) then return false end
    if not self:stop(j) then return false end
  end
  return true
end

function Runner:run_concurrent(_, data, out)
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

-- Each branch runs as a child `rigelk8s sequence NAME --branch STAGE --branch-data FILE`
-- process, all at once like Rigel's threads: Lua has no threads, and no branch may wait
-- for another's rollout. A child prefixes its progress lines with its matrix values and
-- prints its report as JSON.
function Runner:run_parallel(stage, index, data, out)
  local json = require "rigelk8s.json"
  local combos = M.combinations(self.plan, stage, data)
  out.matrix = null
  for _, m in ipairs(stage.matrix) do
    if out.matrix == null then out.matrix = {} end
    out.matrix[m.key] = m.values
  end
  out.branches = core.array{}
  local exe = sys.exe()
  if not exe then errors.raise{message = "cannot find the rigelk8s executable (/proc/self/exe) to run branches"} end
  local o = self.opts
  local flags = {"-f", self.plan.file, "--branch", tostring(index)}
  local function add(...) for _, a in ipairs{...} do flags[#flags + 1] = a end end
  if o.kubeconfig then add("--kubeconfig", o.kubeconfig) end
  if o.context then add("--context", o.context) end
  if o.timeout then add("--timeout", tostring(o.timeout)) end
  if o.request_timeout then add("--request-timeout", tostring(o.request_timeout)) end
  if o.dry_run then add("--dry-run") end
  if o.verbose then add("--verbose") end
  if o.no_color then add("--no-color") end
  if o.json then add("-o", "json") end
  if o.skip_foreign then add("--skip-foreign") end
  local dir = os.tmpname()
  os.remove(dir)
  assert(sys.mkdir_private(dir))
  local running, branches = {}, {}
  for i, combo in ipairs(combos) do
    local branch_data = shallow_copy(data)
    for k, v in pairs(combo.values) do branch_data[k] = v end
    local b = {combo = combo, data_file = dir .. "/" .. i .. ".json", report_file = dir .. "/" .. i .. ".out"}
    branches[i] = b
    local ok_w, werr = sys.write_private(b.data_file, json.encode{
      data = next(branch_data) and branch_data or core.array{}, label = combo.label})
    if not ok_w then errors.raise{message = tostring(werr)} end
    local argv = {exe, "sequence", self.plan.name}
    for _, f in ipairs(flags) do argv[#argv + 1] = f end
    argv[#argv + 1] = "--branch-data"
    argv[#argv + 1] = b.data_file
    self:say("  branch %d/%d: %s", i, #combos, combo.label)
    local pid, err = sys.spawn(argv, {stdout = b.report_file})
    if pid then
      running[pid] = b
    else
      b.report = {state = "failed", exit_code = errors.EXIT.failed, stages = core.array{}, message = err}
    end
  end
  -- Ctrl-C reaches the branches too (one process group): they stop and report on their
  -- own; this loop goes on collecting them, and kills the ones still there after 10s.
  local deadline
  local function collect()
    while next(running) do
      local pids = {}
      for p in pairs(running) do pids[#pids + 1] = p end
      local pid, code = sys.wait(pids, 0.5)
      if pid == nil and code then error(code, 0) end
      if pid and running[pid] then
        running[pid].exit_code = code
        running[pid] = nil
      elseif not pid then
        if sys.interrupted() then
          deadline = deadline or sys.now() + 10
          if sys.now() > deadline then
            for p in pairs(running) do sys.kill(p, 9) end
          end
        end
      end
    end
  end
  while next(running) do
    local ok, err = pcall(collect)
    if not ok and not sys.interrupted() then error(err, 0) end
  end
  local all_ok = true
  for _, b in ipairs(branches) do
    if not b.report then
      local f = io.open(b.report_file, "rb")
      local text = f and f:read("a") or ""
      if f then f:close() end
      local ok, rep = pcall(json.decode, text)
      if ok and type(rep) == "table" and rep.exit_code ~= nil then
        b.report = rep
      else
        b.report = {state = "failed", exit_code = b.exit_code ~= 0 and b.exit_code or errors.EXIT.failed,
                    stages = core.array{}, message = string.format(
                      "the branch process exited with %s without a report (see its messages above)",
                      tostring(b.exit_code))}
      end
    end
    os.remove(b.data_file)
    os.remove(b.report_file)
    local rep = b.report
    rep.command, rep.sequence, rep.file = nil, nil, nil
    rep.label = b.combo.label
    rep.values = next(b.combo.values) and b.combo.values or null
    out.branches[#out.branches + 1] = rep
    if rep.exit_code ~= 0 then
      all_ok = false
      if not self.failure then
        self.failure = {name = (rep.failed_job or "a job") .. " [" .. b.combo.label .. "]",
                        exit_code = rep.exit_code, message = rep.message or rep.state}
      end
    end
  end
  os.remove(dir)
  return all_ok
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
function Runner:run_stages(stages, data, reports)
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
    if stage.kind == "sequential" then ok = self:run_sequential(stage, data, rep)
    elseif stage.kind == "concurrent" then ok = self:run_concurrent(stage, data, rep)
    else ok = self:run_parallel(stage, i, data, rep) end
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
  local stages, reports = plan.stages, core.array{}
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
  local ok, err = pcall(self.run_stages, self, stages, data, reports)
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

-------------------------------------------------------------------------------------------
-- Reporting
-------------------------------------------------------------------------------------------

local function each_job(stages, fn, label)
  for _, s in ipairs(stages or {}) do
    for _, j in ipairs(s.jobs or {}) do fn(s, j, label) end
    for _, b in ipairs(s.branches or {}) do each_job(b.stages, fn, b.label) end
  end
end

-- Counts of job states over the whole report (branches included).
function M.counts(report)
  local c = {succeeded = 0, failed = 0, skipped = 0, not_run = 0, interrupted = 0}
  each_job(report.stages, function(_, j) c[j.state] = (c[j.state] or 0) + 1 end)
  return c
end

-- The text summary: one line per job, then the verdict.
function M.summary(report)
  local lines = {}
  local SYMBOL = {succeeded = "✓", failed = "✗", skipped = "-", not_run = " ", interrupted = "!"}
  local function walk(stages, indent, label, outer)
    for _, s in ipairs(stages or {}) do
      local index = (outer and (outer .. ".") or "") .. s.index
      for _, j in ipairs(s.jobs or {}) do
        local what = j.name .. (j.role == "dependency" and " (dependency)" or "")
        lines[#lines + 1] = string.format("%s%s stage %-4s %-40s %-11s %s", indent, SYMBOL[j.state] or "?", index,
          (label and ("[" .. label .. "] ") or "") .. what, j.state,
          j.elapsed_seconds ~= null and j.elapsed_seconds and string.format("%.1fs", j.elapsed_seconds) or "")
      end
      if s.kind == "parallel" and s.state == "not_run" then
        lines[#lines + 1] = string.format("%s  stage %-4s %-40s %s", indent, index, "(parallel)", s.state)
      end
      for _, b in ipairs(s.branches or {}) do
        if #(b.stages or {}) == 0 and b.message then
          lines[#lines + 1] = string.format("%s✗ stage %-4s [%s] %s", indent, index, b.label, b.message)
        end
        walk(b.stages, indent, b.label, index)
      end
    end
  end
  walk(report.stages, "  ")
  local c = M.counts(report)
  local parts = {string.format("%d succeeded", c.succeeded)}
  if c.failed > 0 then parts[#parts + 1] = string.format("%d failed", c.failed) end
  if c.skipped > 0 then parts[#parts + 1] = string.format("%d skipped", c.skipped) end
  if c.not_run > 0 then parts[#parts + 1] = string.format("%d not run", c.not_run) end
  if c.interrupted > 0 then parts[#parts + 1] = string.format("%d interrupted", c.interrupted) end
  local verdict = string.format("sequence %s %s in %.1fs: %s", report.sequence, report.state,
                                report.elapsed_seconds, table.concat(parts, ", "))
  if report.failed_job then
    verdict = verdict .. string.format("\nfailed: %s: %s", report.failed_job,
                                       tostring(report.message or ""):gsub("\n", "\n  "))
  end
  return "summary:\n" .. table.concat(lines, "\n") .. "\n" .. verdict
end

return M
