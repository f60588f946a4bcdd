-- Command-line flags for the stock workflows and user scripts.
--
--   local opts, rest = cli.parse(arg, {
--     {"file", "-f", "--file", value = "PATH", default = "Rigelfile", help = "the Rigelfile"},
--     {"verbose", "-v", "--verbose", help = "log every request"},
--   }, {usage = "rigelk8s deploy [flags]"})
--
-- A spec entry is {key, short, long, value = METAVAR (takes a value), multi = true
-- (repeatable, collects a list), default = ..., help = ...}. `--flag=value` works too.
-- Unknown flags raise a usage error (exit 2) that suggests the closest known flag.
-- `--help` prints the generated help and exits 0.
local errors = require "rigelk8s.errors"
local util = require "rigelk8s.util"

local M = {}

-- The global flags every cluster command accepts (see README, "Command line").
M.global = {
  {"file", "-f", "--file", value = "PATH", default = "Rigelfile", help = "Rigelfile to read"},
  {"job", nil, "--job", value = "NAME", help = "orchestration job to use"},
  {"config", nil, "--config", value = "PATH", help = "job configuration as JSON ('-' = stdin) instead of a Rigelfile"},
  {"kubeconfig", nil, "--kubeconfig", value = "PATH", help = "kubeconfig file"},
  {"context", nil, "--context", value = "NAME", help = "kubeconfig context"},
  {"namespace", "-n", "--namespace", value = "NS", help = "namespace (overrides the Rigelfile)"},
  {"timeout", nil, "--timeout", value = "DURATION", default = "5m", help = "how long to wait (e.g. 90s, 5m)"},
  {"request_timeout", nil, "--request-timeout", value = "DURATION", help = "how long one API request may take (default 30s, or RIGELK8S_REQUEST_TIMEOUT)"},
  {"atomic", nil, "--atomic", help = "roll back a failed update"},
  {"dry_run", nil, "--dry-run", help = "server-side dry run: change nothing"},
  {"output", "-o", "--output", value = "text|json", default = "text", help = "output format"},
  {"progress", nil, "--progress", help = "with -o json, still write progress lines to stderr"},
  {"verbose", "-v", "--verbose", help = "log every API request"},
  {"no_color", nil, "--no-color", help = "no colours (NO_COLOR is respected too)"},
}

-- The global flags whose names are keys of `keys` (a set), for a script's own spec:
-- cli.merge(cli.pick{file = true, kubeconfig = true}, {...own flags...}).
function M.pick(keys)
  local out = {}
  for _, s in ipairs(M.global) do
    if keys[s[1]] then out[#out + 1] = s end
  end
  return out
end

-- The commands, in the order `rigelk8s --help` and the man page list them. The one table
-- behind the top-level help, the man page rigelk8s(1) and the shell completions; each
-- command's flags come from its own script's cli.parse call (see M.describe).
M.commands = {
  {"deploy", summary = "render, apply and wait for the Rigelfile's application"},
  {"update", summary = "roll out a changed Rigelfile or --image"},
  {"distributed", summary = "deploy distributed components in dependency order"},
  {"status", summary = "objects, readiness, revisions, pods with their nodes and restarts"},
  {"diff", summary = "server-side dry run compared with the live objects (exit 1 when different)"},
  {"rollback", summary = "back to the previous revision, or --to-revision N"},
  {"delete", summary = "tear down in reverse order; PVCs are kept unless --delete-storage"},
  {"logs", summary = "the logs of the application's pods, prefixed by pod; -f follows them through rollouts"},
  {"list", summary = "the applications rigelk8s deployed, from their inventories (-n NS | -A)"},
  {"render", summary = "print the manifests as YAML (no cluster)"},
  {"results", summary = "copy results.source_path out of the newest ready pod (kubectl cp)"},
  {"fleet", args = "status|resume", summary = "a fleet's robots: a status matrix with drift; resume a rollout paused by --pause"},
  {"sequence", args = "NAME", summary = "run a Rigelfile sequence, as `rigel run sequence NAME` would"},
  {"run", args = "FILE.lua [ARGS...]", summary = "run a Lua script (FILE '-' reads standard input)", builtin = true},
  {"completion", args = "bash|zsh|fish", summary = "print a shell completion script"},
}

-- Top-level options handled by main.c before any command.
M.top_options = {
  {"--version", summary = "print the version and the git commit (with -v: linked library versions)"},
  {"--help", summary = "print this help"},
}

M.environment = {
  {"RIGELK8S_LUA_DIR", "load the Lua library (and ../scripts) from disk, not the built-in copy"},
  {"RIGELK8S_LIBDIR", "where to look first for the plugin rigelk8s-kube.so"},
  {"RIGELK8S_REQUEST_TIMEOUT", "the default for --request-timeout"},
  {"RIGELK8S_REPORT_DIR", "the default for --report-dir: where failed rollouts' reports are saved"},
  {"RIGELK8S_FLEET_RUNNER", "fleet runs: process (one rigelk8s process per target) or inprocess (the default where it can)"},
  {"KUBECONFIG", "colon-separated kubeconfig files, as for kubectl"},
  {"NO_COLOR", "no colours"},
}

M.exit_codes = {
  {0, "success"},
  {1, "failure: a rollout failed, an object was rejected, a diff was found, a script error, output that could not be written"},
  {2, "usage or configuration error: a bad flag, Rigelfile or kubeconfig"},
  {3, "cluster unreachable or not answering in time, or TLS or authentication failed"},
  {4, "timeout"},
  {130, "interrupted (Ctrl-C)"},
}

-- The top-level help, printed by `rigelk8s --help` (scripts/__help.lua).
function M.usage()
  local lines = {"usage: rigelk8s COMMAND [ARGS...]", "", "Deploy ROS applications to Kubernetes. Commands:"}
  for _, c in ipairs(M.commands) do
    lines[#lines + 1] = string.format("  %-26s %s", c[1] .. (c.args and (" " .. c.args) or ""), c.summary)
  end
  for _, c in ipairs(M.unlisted_commands()) do
    lines[#lines + 1] = string.format("  %-26s %s", c.name, c.summary)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "  rigelk8s COMMAND --help    shows a command's flags."
  for _, o in ipairs(M.top_options) do
    lines[#lines + 1] = string.format("  %-26s %s", o[1], o.summary)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Environment:"
  for _, e in ipairs(M.environment) do lines[#lines + 1] = string.format("  %-26s %s", e[1], e[2]) end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Exit codes:"
  for _, e in ipairs(M.exit_codes) do lines[#lines + 1] = string.format("  %-5s %s", e[1], e[2]) end
  return table.concat(lines, "\n") .. "\n"
end

-- describe(name) -> {spec = ..., info = ...}: the flags a stock command accepts, taken
-- from its script's own cli.parse call. The script runs in a coroutine up to that call
-- and is never resumed, so nothing after it (reading files, the cluster) happens.
local describing = false
-- True while describe runs a script up to its cli.parse call: a script with subcommands
-- (fleet) picks the one whose flags the help, man page and completions show.
function M.describing() return describing end
function M.describe(name)
  local chunk = assert(require("rigelk8s.scripts").load(name))
  local saved_arg = arg
  arg = {[0] = "scripts/" .. name .. ".lua"}
  local co = coroutine.create(chunk)
  describing = true
  local ok, got = coroutine.resume(co)
  describing = false
  arg = saved_arg
  if ok and coroutine.status(co) == "suspended" and type(got) == "table" and got.rk_describe then
    return got.rk_describe
  end
  error(string.format("scripts/%s.lua: cannot describe its flags: %s", name,
                      ok and "it never called cli.parse" or tostring(got)), 0)
end

-- Stock scripts missing from M.commands (a new command nobody listed yet): listed after
-- the others, with the summary of their first comment line ("-- rigelk8s NAME: what it
-- does"), without flags; they are not run to find their flags (list them in
-- M.commands for that). Names starting with "_" are internal (help, man page, completion).
function M.unlisted_commands()
  local scripts = require "rigelk8s.scripts"
  local listed, out = {}, {}
  for _, c in ipairs(M.commands) do listed[c[1]] = true end
  for _, name in ipairs(scripts.names()) do
    if not listed[name] and name:sub(1, 1) ~= "_" then
      local text = scripts.source(name) or ""
      local summary = text:match("^%-%-[^\n]-:%s*([^\n]*)") or ""
      out[#out + 1] = {name = name, summary = summary, spec = {}, info = {}, unlisted = true}
    end
  end
  return out
end

-- command_list() -> every command with its flags: {name, args, summary, spec, info}.
-- `run` is handled by main.c and has no flags of its own.
function M.command_list()
  local out = {}
  for _, c in ipairs(M.commands) do
    local e = {name = c[1], args = c.args, summary = c.summary, spec = {}, info = {},
               builtin = c.builtin}
    if c.builtin then
      e.info = {usage = "rigelk8s " .. c[1] .. " " .. c.args}
    else
      local d = M.describe(c[1])
      e.spec, e.info = d.spec, d.info
    end
    out[#out + 1] = e
  end
  for _, c in ipairs(M.unlisted_commands()) do out[#out + 1] = c end
  return out
end

-- Joins spec lists: cli.merge(cli.global, {...}).
function M.merge(...)
  local out = {}
  for _, list in ipairs{...} do
    for _, s in ipairs(list) do out[#out + 1] = s end
  end
  return out
end

-- The flags of a spec as the help shows them: {names = "-f, --file PATH", help = ...}.
-- Shared by --help and the man page, so that the two say the same.
function M.flag_entries(spec)
  local out = {}
  for _, s in ipairs(spec) do
    local names = (s[2] and (s[2] .. ", ") or "") .. s[3]
    if s.value then names = names .. " " .. s.value end
    local help = s.help or ""
    if s.default ~= nil and s.value then help = help .. " (default " .. tostring(s.default) .. ")" end
    out[#out + 1] = {names = names, help = help, short = s[2] ~= nil}
  end
  out[#out + 1] = {names = "-h, --help", help = "show this help", short = true}
  return out
end

function M.help(spec, info)
  local lines = {}
  if info and info.usage then lines[#lines + 1] = "usage: " .. info.usage end
  if info and info.description then lines[#lines + 1] = "\n" .. info.description end
  lines[#lines + 1] = "\nflags:"
  for _, e in ipairs(M.flag_entries(spec)) do
    lines[#lines + 1] = string.format("  %-28s %s", (e.short and "" or "    ") .. e.names, e.help)
  end
  return table.concat(lines, "\n") .. "\n"
end

function M.parse(argv, spec, info)
  if describing then coroutine.yield{rk_describe = {spec = spec, info = info or {}}} end
  local by_flag, longs = {}, {}
  local opts, rest = {}, {}
  for _, s in ipairs(spec) do
    if s[2] then by_flag[s[2]] = s end
    by_flag[s[3]] = s
    longs[#longs + 1] = s[3]
    if s.default ~= nil then opts[s[1]] = s.default end
    if s.multi then opts[s[1]] = {} end
  end
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, #argv do rest[#rest + 1] = argv[j] end
      break
    elseif a == "-h" or a == "--help" then
      io.stdout:write(M.help(spec, info))
      os.exit(0)
    elseif a:sub(1, 1) == "-" and #a > 1 then
      local name, inline = a:match("^(%-%-[^=]+)=(.*)$")
      name = name or a
      local s = by_flag[name]
      if not s then
        local hint = util.closest(name, longs)
        errors.usage("unknown flag '%s'%s; see --help", name,
                     hint and ("; did you mean '" .. hint .. "'?") or "")
      end
      local v = true
      if s.value then
        if inline then
          v = inline
        else
          i = i + 1
          v = argv[i]
          if v == nil then errors.usage("flag %s needs a value (%s)", name, s.value) end
        end
      elseif inline then
        errors.usage("flag %s takes no value", name)
      end
      if s.multi then table.insert(opts[s[1]], v) else opts[s[1]] = v end
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  return opts, rest
end

-- "90s", "5m", "1h30m", "250ms" or a bare number of seconds -> seconds (float).
function M.duration(text, flag)
  if type(text) == "number" then return text end
  local total, pos = 0, 1
  if text:match("^%d+%.?%d*$") then return tonumber(text) end
  local units = {ms = 0.001, s = 1, m = 60, h = 3600}
  for num, unit in text:gmatch("(%d+%.?%d*)(%a+)") do
    if not units[unit] then
      errors.usage("%s: bad duration '%s' (use e.g. 90s, 5m, 1h)", flag or "duration", text)
    end
    total = total + tonumber(num) * units[unit]
    pos = pos + #num + #unit
  end
  if pos ~= #text + 1 then
    errors.usage("%s: bad duration '%s' (use e.g. 90s, 5m, 1h)", flag or "duration", text)
  end
  return total
end

return M
