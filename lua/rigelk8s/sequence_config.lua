-- rigelk8s.sequence_config: the configuration of each run of a job in a sequence (the
-- job's `with` merged with the entry's and rendered; the combinations of a matrix) and the
-- preflight that checks all of them before anything runs.
local cli = require "rigelk8s.cli"
local errors = require "rigelk8s.errors"
local seq_plan = require "rigelk8s.sequence_plan"
local rigelfile = require "rigelk8s.rigelfile"
local util = require "rigelk8s.util"

local M = {}

local is_map = util.is_map
-- Rendered values are lists as the template engine reads them (see util.is_list).
local function is_list(v) return util.is_list(v, "first") end
local child, shallow_copy, contains = seq_plan.child, seq_plan.shallow_copy, util.contains
local raise_problems, data_refs = seq_plan.raise_problems, seq_plan.data_refs

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
  for _, k in ipairs(seq_plan.RUNNER_KEYS) do
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
    if not contains(seq_plan.LUA_KEYS, k) then config[k] = v end
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

return M
