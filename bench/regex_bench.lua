-- regex_replace on PCRE2 (rigelk8s.regex) against the Lua backtracking engine it replaced
-- (bench/regex_reference.lua), in one process, same inputs:
--   1. the templates of a typical Rigelfile (tests/golden/rigelfiles/templates.Rigelfile:
--      two chained regex_replace, lower, default, replace), rendered through
--      rigelk8s.template with either engine;
--   2. the regex_replace patterns Rigelfiles use, on image references;
--   3. PCRE2 with every pattern compiled afresh (a unique (?#n) comment defeats the
--      cache) against the cached compile;
--   4. '\s+' -> ' ' over a 100 kB text.
--   rigelk8s run bench/regex_bench.lua [ROUNDS]
-- Prints microseconds per render / per call (median of 5 timed batches).
local rounds = tonumber((...)) or 2000
local sys = require "rigelk8s.sys"
local yaml = require "rigelk8s.yaml"
local template = require "rigelk8s.template"
local pcre = require "rigelk8s.regex"
local here = arg[0]:match("^(.*)/[^/]*$") or "."
local old = dofile(here .. "/regex_reference.lua")

local function median_us(n, f)
  local t = {}
  for b = 1, 5 do
    local t0 = sys.now()
    for _ = 1, n do f() end
    t[b] = (sys.now() - t0) * 1e6 / n
  end
  table.sort(t)
  return t[3]
end

local function row(what, new_us, old_us, old_name)
  print(string.format("%-58s %9.2f us   %s %9.2f us   %5.1fx", what, new_us, old_name or "old Lua engine",
                      old_us, old_us / new_us))
end

-- 1. A typical Rigelfile's templates.
local f = assert(io.open(here .. "/../tests/golden/rigelfiles/templates.Rigelfile"))
local doc = yaml.load(f:read("a")); f:close()
local env = {RK_GOLDEN_TAG = "v2.3.1", RK_GOLDEN_REGISTRY = "ghcr.io"}
local function render_once()
  local out, problems = template.render(doc.jobs.deploy_k8s.with,
    {vars = doc.vars, env = function(k) return env[k] end, path = "with"})
  assert(#problems == 0, problems[1] and problems[1].message)
  return out
end
template.regex = pcre
local want = render_once().orchestration.deployment_name
local t_new = median_us(rounds, render_once)
template.regex = old
assert(render_once().orchestration.deployment_name == want, "the engines disagree")
local t_old = median_us(rounds, render_once)
template.regex = pcre
print(string.format("templates.Rigelfile renders to deployment_name %q with both engines", want))
row("render the with: block of templates.Rigelfile", t_new, t_old)

-- 2. Patterns Rigelfiles use, on image references.
local cases = {
  {".*:", "", "registry.example.com/robots/nav_stack:v2.3.1"},
  {"^.*/([^/:]+):(.*)$", "\\1-\\2", "registry.example.com/robots/nav_stack:v2.3.1"},
  {"[^a-z0-9]+", "-", "nav_stack-v2.3.1"},
  {"^(\\w+)/(.*)$", "\\2@\\1", "ghcr/robots/nav:1"},
  {"\\d+", "N", "ros-noetic-2024-05-01"},
}
for _, c in ipairs(cases) do
  assert(pcre.sub(c[1], c[2], c[3]) == old.sub(c[1], c[2], c[3]), c[1])
  local tn = median_us(rounds * 5, function() pcre.sub(c[1], c[2], c[3]) end)
  local to = median_us(rounds * 5, function() old.sub(c[1], c[2], c[3]) end)
  row(string.format("sub(%q, %q)", c[1], c[2]), tn, to)
end

-- 3. Compile caching.
local n = 0
local p = "^.*/([^/:]+):(.*)$"
local s = "registry.example.com/robots/nav_stack:v2.3.1"
local fresh = median_us(rounds, function() n = n + 1; pcre.sub(p .. "(?#" .. n .. ")", "\\1-\\2", s) end)
local cached = median_us(rounds, function() pcre.sub(p, "\\1-\\2", s) end)
print(string.format("%-58s %9.2f us   compiled every call %9.2f us   %5.1fx",
                    "PCRE2 sub, pattern compiled once (cache)", cached, fresh, fresh / cached))

-- 4. A long text.
local words = {}
for i = 1, 12000 do words[i] = (i % 7 == 0) and "ros  \t" or "node " end
local text = table.concat(words)
assert(pcre.sub("\\s+", " ", text) == old.sub("\\s+", " ", text))
row(string.format("sub('\\\\s+', ' ') over %d kB", #text // 1024),
    median_us(5, function() pcre.sub("\\s+", " ", text) end),
    median_us(1, function() old.sub("\\s+", " ", text) end))
print("PCRE2 " .. pcre.pcre2_version)
