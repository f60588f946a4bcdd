-- rigelk8s.sequence_branches: a parallel stage, one child process per branch of its matrix.
local config = require "rigelk8s.sequence_config"
local errors = require "rigelk8s.errors"
local seq_plan = require "rigelk8s.sequence_plan"
local sys = require "rigelk8s.sys"
local util = require "rigelk8s.util"

local M = {}

local null, shallow_copy = util.null, seq_plan.shallow_copy

-- Each branch runs as a child `rigelk8s sequence NAME --branch STAGE --branch-data FILE`
-- process, all at once like Rigel's threads: Lua has no threads, and no branch may wait
-- for another's rollout. A child prefixes its progress lines with its matrix values and
-- prints its report as JSON.
--
-- run(runner, stage, index, data, out) -> whether every branch succeeded; out.branches
-- gets their reports (runner: a rigelk8s.sequence_jobs Runner).
function M.run(self, stage, index, data, out)
  local json = require "rigelk8s.json"
  local combos = config.combinations(self.plan, stage, data)
  out.matrix = null
  for _, m in ipairs(stage.matrix) do
    if out.matrix == null then out.matrix = {} end
    out.matrix[m.key] = m.values
  end
  out.branches = util.list()
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
  if o.report_dir then add("--report-dir", o.report_dir) end
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
      data = next(branch_data) and branch_data or util.list(), label = combo.label})
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
      b.report = {state = "failed", exit_code = errors.EXIT.failed, stages = util.list(), message = err}
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
                    stages = util.list(), message = string.format(
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

return M
