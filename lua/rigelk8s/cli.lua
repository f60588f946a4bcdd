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

local function levenshtein(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = {[0] = i}
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end
M.distance = levenshtein

-- closest(word, candidates): the nearest candidate within a small edit distance, or nil.
function M.closest(word, candidates)
  local best, best_d
  for _, c in ipairs(candidates) do
    local d = levenshtein(word, c)
    if d <= math.max(2, #word // 3) and (not best_d or d < best_d) then best, best_d = c, d end
  end
  return best
end

-- Joins spec lists: cli.merge(cli.global, {...}).
function M.merge(...)
  local out = {}
  for _, list in ipairs{...} do
    for _, s in ipairs(list) do out[#out + 1] = s end
  end
  return out
end

function M.help(spec, info)
  local lines = {}
  if info and info.usage then lines[#lines + 1] = "usage: " .. info.usage end
  if info and info.description then lines[#lines + 1] = "\n" .. info.description end
  lines[#lines + 1] = "\nflags:"
  for _, s in ipairs(spec) do
    local names = (s[2] and (s[2] .. ", ") or "    ") .. s[3]
    if s.value then names = names .. " " .. s.value end
    local help = s.help or ""
    if s.default ~= nil and s.value then help = help .. " (default " .. tostring(s.default) .. ")" end
    lines[#lines + 1] = string.format("  %-28s %s", names, help)
  end
  lines[#lines + 1] = "  -h, --help                   show this help"
  return table.concat(lines, "\n") .. "\n"
end

function M.parse(argv, spec, info)
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
        local hint = M.closest(name, longs)
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
