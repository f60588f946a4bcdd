-- rigelk8s.sequence_plan: reads a Rigelfile sequence and checks its shape: stages, job
-- entries, matrices, foreign jobs (see rigelk8s.sequence for the whole story). Also the
-- small helpers the other sequence_* parts share (child paths, copies, problem reports).
local errors = require "rigelk8s.errors"
local rigelfile = require "rigelk8s.rigelfile"
local sys = require "rigelk8s.sys"
local util = require "rigelk8s.util"
local yaml = require "rigelk8s.yaml"

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

local is_null, is_list, is_map = util.is_null, util.is_list, util.is_map

local sorted_keys, contains = util.sorted_keys, util.contains

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

M.shallow_copy, M.child = shallow_copy, child

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
    local hint = util.closest(name, names)
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
      local hint = util.closest(tostring(k), STAGE_KEYS)
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
M.raise_problems = raise_problems

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
M.data_refs = data_refs
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
    local hint = util.closest(opts.name, names)
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
  return plan
end

return M
