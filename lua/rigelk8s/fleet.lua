-- Fleet runs: the same workflow on many clusters at once. Each target (a kubeconfig
-- context, with an optional namespace and kubeconfig) runs as its own rigelk8s process
-- with `-o json`, at most --max-parallel at a time; one failing target does not stop the
-- others unless --fail-fast. A live per-target table, then a summary (or one JSON
-- document with per-target results).
--
-- Targets come from `--contexts a,b,c` or the Rigelfile job's `fleet:` list
-- ({context, namespace, name, kubeconfig}). Processes, not coroutines: every target gets
-- its own connections, watches and failure domain, and the 2-core machine's second core.
local errors = require "rigelk8s.errors"
local progress = require "rigelk8s.progress"
local sys = require "rigelk8s.sys"

local M = {}

-- Flags that configure the fleet itself and are not passed on to each target.
M.flags = {
  {"contexts", nil, "--contexts", value = "A,B,...", help = "run on each of these kubeconfig contexts"},
  {"max_parallel", nil, "--max-parallel", value = "N", default = "16", help = "fleet: targets at once"},
  {"fail_fast", nil, "--fail-fast", help = "fleet: stop every target after the first failure"},
}
local OWN = {["--contexts"] = true, ["--max-parallel"] = true, ["--fail-fast"] = true,
             ["-o"] = true, ["--output"] = true, ["--context"] = true}

function M.is_child() return os.getenv("RIGELK8S_FLEET_CHILD") == "1" end

-- A child's report field as text: JSON null (rigelk8s.null, which is truthy) and other
-- non-strings count as absent, e.g. the diagnosis of a child that exited non-zero
-- after reporting success.
function M.text(v) return type(v) == "string" and v or nil end

-- The targets of this run, or nil when it is not a fleet run.
function M.targets(ctx, cfg)
  if M.is_child() then return nil end
  local out = {}
  if ctx.opts.contexts then
    for name in ctx.opts.contexts:gmatch("[^,%s]+") do
      out[#out + 1] = {name = name, context = name, namespace = ctx.opts.namespace}
    end
    if #out == 0 then errors.usage("--contexts: expected a comma-separated list of contexts") end
    return out
  end
  if cfg and cfg.fleet and #cfg.fleet > 0 then
    local seen = {}
    local dir = cfg.source and cfg.source.file and cfg.source.file:match("^(.*)/[^/]*$")
    for i, f in ipairs(cfg.fleet) do
      local name = f.name or f.context
      if seen[name] then
        errors.usage("%s: fleet[%d]: target name '%s' is used twice; give each target a distinct `name:`",
                     cfg.source and cfg.source.file or "Rigelfile", i - 1, name)
      end
      seen[name] = true
      local kc = f.kubeconfig
      if kc and dir and not kc:match("^/") then kc = dir .. "/" .. kc end
      out[#out + 1] = {name = name, context = f.context,
                       namespace = ctx.opts.namespace or f.namespace, kubeconfig = kc}
    end
    return out
  end
  return nil
end

-- The argv given to the command, without the fleet's own flags.
local function passthrough(argv)
  local out, i = {}, 1
  while i <= #argv do
    local a = argv[i]
    local name = a:match("^(%-%-?[^=]+)=") or a
    if OWN[name] then
      if not a:find("=", 1, true) and name ~= "--fail-fast" then i = i + 1 end
    else
      out[#out + 1] = a
    end
    i = i + 1
  end
  return out
end

local function read_all(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

local function child_result(t)
  local json = require "rigelk8s.json"
  local out = read_all(t.stdout)
  local ok, doc = pcall(json.decode, out)
  if ok and type(doc) == "table" then return doc end
  local err = read_all(t.stderr):gsub("%s+$", "")
  return {state = "error", message = err ~= "" and err:match("[^\n]*$") or "no result"}
end

-- Runs the command on every target; returns the exit code.
function M.run(ctx, targets, argv)
  local max = tonumber(ctx.opts.max_parallel)
  if not max or max < 1 or max % 1 ~= 0 then
    errors.usage("--max-parallel: expected a whole number >= 1, got '%s'", tostring(ctx.opts.max_parallel))
  end
  local exe = sys.exe() or "rigelk8s"
  local tmp = os.tmpname()
  os.remove(tmp)
  assert(sys.mkdir_private(tmp))
  local base = passthrough(argv)
  local out = progress.new{no_color = ctx.opts.no_color}
  local rows = {}
  for i, t in ipairs(targets) do
    t.index, t.state, t.stdout, t.stderr = i, "pending", tmp .. "/" .. i .. ".out", tmp .. "/" .. i .. ".err"
    rows[i] = {name = t.name, state = "progressing", message = "pending"}
  end
  local running, next_i, stop = {}, 1, false
  local function start(t)
    local cmd = {exe, ctx.command}
    for _, a in ipairs(base) do cmd[#cmd + 1] = a end
    for _, a in ipairs{"--context", t.context, "-o", "json", "--no-color"} do cmd[#cmd + 1] = a end
    if t.namespace then cmd[#cmd + 1] = "-n"; cmd[#cmd + 1] = t.namespace end
    if t.kubeconfig then cmd[#cmd + 1] = "--kubeconfig"; cmd[#cmd + 1] = t.kubeconfig end
    local pid, err = sys.spawn(cmd, {stdout = t.stdout, stderr = t.stderr, env = {RIGELK8S_FLEET_CHILD = "1"}})
    t.started = sys.now()
    if not pid then
      t.state, t.result = "failed", {state = "error", message = err}
      rows[t.index] = {name = t.name, state = "failed", message = err}
      return
    end
    t.pid, t.state = pid, "running"
    running[pid] = t
    rows[t.index] = {name = t.name, state = "progressing", message = "running"}
  end
  local function any_running() return next(running) ~= nil end
  while true do
    while not stop and next_i <= #targets do
      local n = 0
      for _ in pairs(running) do n = n + 1 end
      if n >= max then break end
      start(targets[next_i])
      next_i = next_i + 1
    end
    if not any_running() and (stop or next_i > #targets) then break end
    local pid, code = sys.wait()
    if pid and running[pid] then
      local t = running[pid]
      running[pid] = nil
      t.exit_code, t.elapsed = code, sys.now() - t.started
      t.result = child_result(t)
      t.state = code == 0 and "succeeded" or "failed"
      local msg = code == 0 and string.format("%s in %.1fs", t.result.state or "done", t.elapsed)
                  or (M.text(t.result.diagnosis) or M.text(t.result.message) or ("exit " .. code))
      if t.result.rolled_back then msg = "rolled back: " .. msg end
      rows[t.index] = {name = t.name, state = code == 0 and "ready" or "failed",
                       message = (msg:gsub("\n.*", ""))}
      if code ~= 0 and ctx.opts.fail_fast and not stop then
        stop = true
        for _, r in pairs(running) do sys.kill(r.pid) end
      end
    elseif not pid then
      if not ctx.json then out:update(rows) end
      if sys.interrupted() then stop = true end
      sys.sleep(0.01)
    end
  end
  for _, t in ipairs(targets) do
    if t.state == "pending" then t.state = "skipped"; rows[t.index] = {name = t.name, state = "failed", message = "skipped (--fail-fast)"} end
  end
  if not ctx.json then out:update(rows); out:finish() end
  for _, t in ipairs(targets) do os.remove(t.stdout); os.remove(t.stderr) end
  os.remove(tmp)

  local succeeded, failed, rolled, skipped = {}, {}, {}, {}
  for _, t in ipairs(targets) do
    if t.state == "succeeded" then succeeded[#succeeded + 1] = t.name
    elseif t.state == "skipped" then skipped[#skipped + 1] = t.name
    else failed[#failed + 1] = t end
    if t.result and t.result.rolled_back then rolled[#rolled + 1] = t.name end
  end
  local code = 0
  if #failed > 0 or #skipped > 0 then
    code = errors.EXIT.failed
    local codes = {}
    for _, t in ipairs(failed) do codes[t.exit_code or 1] = true end
    local only = next(codes)
    if only and next(codes, only) == nil then code = only end
  end
  if sys.interrupted() then code = errors.EXIT.interrupted end
  if ctx.json then
    local json = require "rigelk8s.json"
    local rigelk8s = require "rigelk8s"
    local doc = {command = ctx.command, fleet = true, exit_code = code, targets = rigelk8s.array{},
                 rigelk8s_version = rigelk8s.version,
                 succeeded = rigelk8s.array(succeeded), skipped = rigelk8s.array(skipped),
                 rolled_back = rigelk8s.array(rolled), failed = rigelk8s.array{}}
    for _, t in ipairs(targets) do
      doc.targets[#doc.targets + 1] = {name = t.name, context = t.context,
        namespace = t.namespace or rigelk8s.null, state = t.state,
        exit_code = t.exit_code or rigelk8s.null, elapsed_seconds = t.elapsed or rigelk8s.null,
        result = t.result or rigelk8s.null}
    end
    for _, t in ipairs(failed) do doc.failed[#doc.failed + 1] = t.name end
    io.stdout:write(json.encode(doc), "\n")
  else
    out:say("fleet %s: %d succeeded, %d failed, %d rolled back%s", ctx.command, #succeeded, #failed,
            #rolled, #skipped > 0 and (", " .. #skipped .. " skipped") or "")
    for _, t in ipairs(failed) do
      local why = t.result and (M.text(t.result.diagnosis) or M.text(t.result.message)) or ("exit " .. tostring(t.exit_code))
      out:say("  %s (context %s, exit %s): %s", t.name, t.context, tostring(t.exit_code),
              (tostring(why):gsub("\n", "\n    ")))
    end
  end
  return code
end

return M
