-- Line diff of a 4,000-line manifest with 80 changed lines: rigelk8s.diff (Myers in C,
-- core/diff.c) against the Lua LCS diff it replaced (bench/diff_reference.lua), one
-- engine per process so each process's peak RSS is its own.
--   rigelk8s run bench/diff_bench.lua generate DIR [LINES] [CHANGES]  -> DIR/a.yaml, DIR/b.yaml
--   rigelk8s run bench/diff_bench.lua c|lua|read DIR [RUNS]
-- c and lua print "<engine> median <ms> min <ms> cpu <ms> lines <n> changed <-lines>/<+lines>"
-- (wall clock median and minimum, median CPU time; the machine may be shared);
-- read only reads the files (the baseline of the peak RSS).
local mode, dir, n1, n2 = ...
assert(mode and dir, "usage: diff_bench.lua generate|c|lua|read DIR [N]")
local sys = require "rigelk8s.sys"

local function write(path, text)
  local f = assert(io.open(path, "w")); f:write(text); f:close()
end
local function read(path)
  local f = assert(io.open(path)); local s = f:read("a"); f:close(); return s
end

if mode == "generate" then
  local lines, changes = tonumber(n1) or 4000, tonumber(n2) or 80
  -- Deployments of a ROS fleet as `rigelk8s diff` shows them: many repeated lines
  -- (the same keys in every object), which is what makes a line diff work.
  local a, i = {}, 0
  while #a < lines do
    i = i + 1
    local name = string.format("robot-%04d", i)
    for _, l in ipairs{
      "apiVersion: apps/v1", "kind: Deployment", "metadata:",
      "  labels:", "    app.kubernetes.io/name: " .. name, "    app.kubernetes.io/part-of: rigel",
      "  name: " .. name, "  namespace: fleet", "spec:", "  progressDeadlineSeconds: 600",
      "  replicas: 1", "  revisionHistoryLimit: 10", "  selector:", "    matchLabels:",
      "      app.kubernetes.io/name: " .. name, "  template:", "    metadata:", "      labels:",
      "        app.kubernetes.io/name: " .. name, "    spec:", "      containers:",
      "      - env:", "        - name: ROS_MASTER_URI", "          value: http://ros-master:11311",
      "        - name: ROS_HOSTNAME", "          value: " .. name,
      "        image: registry.example.com/robot/nav:1.0." .. i,
      "        imagePullPolicy: IfNotPresent", "        name: app", "        ports:",
      "        - containerPort: 11311", "          protocol: TCP", "        resources:",
      "          limits:", "            cpu: '1'", "            memory: 512Mi",
      "          requests:", "            cpu: 100m", "            memory: 128Mi",
      "      restartPolicy: Always", "---"} do
      if #a < lines then a[#a + 1] = l end
    end
  end
  -- 80 changes spread over the file: image bumps, replicas, new env lines, removed lines.
  local b, step = {}, #a // changes
  for k, l in ipairs(a) do
    local c = (k % step == step // 2) and (k // step) % 4
    if c == 0 then b[#b + 1] = l .. "-changed"
    elseif c == 1 then b[#b + 1] = l; b[#b + 1] = "        # added line " .. k
    elseif c == 2 then -- removed
    elseif c == 3 then b[#b + 1] = "  # replaced line " .. k
    else b[#b + 1] = l end
  end
  write(dir .. "/a.yaml", table.concat(a, "\n") .. "\n")
  write(dir .. "/b.yaml", table.concat(b, "\n") .. "\n")
  return
end

local a, b = read(dir .. "/a.yaml"), read(dir .. "/b.yaml")
if mode == "read" then print("read", #a + #b); return end
local runs = tonumber(n1) or 5
local unified
if mode == "c" then
  unified = require("rigelk8s.diff").unified
else
  local here = arg[0]:match("^(.*)/[^/]*$") or "."
  unified = dofile(here .. "/diff_reference.lua").unified
end
local times, cpu, out = {}, {}, nil
for r = 1, runs do
  local t0, c0 = sys.now(), os.clock()
  out = unified(a, b, {from = "live", to = "merged"})
  times[r], cpu[r] = (sys.now() - t0) * 1000, (os.clock() - c0) * 1000
end
table.sort(times)
table.sort(cpu)
local minus, plus = 0, 0
for line in out:gmatch("[^\n]*") do
  local c = line:sub(1, 1)
  if c == "-" and line:sub(1, 3) ~= "---" then minus = minus + 1 end
  if c == "+" and line:sub(1, 3) ~= "+++" then plus = plus + 1 end
end
local _, nlines = a:gsub("\n", "")
print(string.format("%s median %.2f min %.2f cpu %.2f lines %d changed %d/%d", mode,
                    times[(runs + 1) // 2], times[1], cpu[(runs + 1) // 2], nlines, minus, plus))
