-- The fleet's pure parts: --select terms, wave plans, count/percent options.
local fleet = require "rigelk8s.fleet"

local function targets(n)
  local out = {}
  for i = 1, n do out[i] = {name = "r" .. i, context = "c" .. i, labels = {site = i <= n // 2 and "lab" or "field"}} end
  return out
end

local function names(wave)
  local out = {}
  for _, t in ipairs(wave.targets) do out[#out + 1] = t.name end
  return table.concat(out, ",")
end

local function opts(o)
  local ctx = {opts = {max_parallel = "16", max_failures = "0", offline = "skip"}}
  for k, v in pairs(o or {}) do ctx.opts[k] = v end
  return fleet.options(ctx)
end

describe("fleet --select", function()
  it("keeps the targets that match every term", function()
    local terms = fleet.parse_select("site=field,name!=r4")
    local kept = {}
    for _, t in ipairs(targets(6)) do if fleet.matches(t, terms) then kept[#kept + 1] = t.name end end
    assert.same({"r5", "r6"}, kept)
  end)

  it("matches any of a|b, and by name or context without labels", function()
    local t = {name = "r2", context = "ctx-2"}
    assert.is_true(fleet.matches(t, fleet.parse_select("name=r1|r2")))
    assert.is_false(fleet.matches(t, fleet.parse_select("name=r1|r3")))
    assert.is_true(fleet.matches(t, fleet.parse_select("context=ctx-2")))
    assert.is_false(fleet.matches(t, fleet.parse_select("site=lab")))
    assert.is_true(fleet.matches(t, fleet.parse_select("site!=lab")))
  end)

  it("refuses a term that is not KEY=VALUE", function()
    local ok, e = pcall(fleet.parse_select, "site")
    assert.is_false(ok)
    assert.equal(2, e.exit_code)
    assert.matches("'site' is not KEY=VALUE or KEY!=VALUE", e.message, 1, true)
  end)
end)

describe("fleet waves", function()
  it("runs the canary, then waves of --wave-size", function()
    local w = fleet.plan(targets(10), opts{canary = "1", wave_size = "3"})
    assert.equal(4, #w)
    assert.same({"canary", "wave 1", "wave 2", "wave 3"}, {w[1].name, w[2].name, w[3].name, w[4].name})
    assert.equal("r1", names(w[1]))
    assert.equal("r2,r3,r4", names(w[2]))
    assert.equal("r8,r9,r10", names(w[4]))
  end)

  it("takes a percentage of the fleet, rounded up, at least one", function()
    local w = fleet.plan(targets(10), opts{wave_size = "25%"})
    assert.same({3, 3, 3, 1}, {#w[1].targets, #w[2].targets, #w[3].targets, #w[4].targets})
    w = fleet.plan(targets(3), opts{wave_size = "1%"})
    assert.equal(3, #w)
  end)

  it("is one wave without wave flags", function()
    local w = fleet.plan(targets(5), opts{})
    assert.equal(1, #w)
    assert.equal("all", w[1].name)
  end)

  it("refuses --wave-size 0, 0% and 101%", function()
    for _, bad in ipairs{"0", "0%", "101%", "x", "-1"} do
      local ok, e = pcall(opts, {wave_size = bad})
      assert.is_false(ok, bad)
      assert.equal(2, e.exit_code)
      assert.matches("--wave-size: expected a whole number >= 1 or a percentage", e.message, 1, true)
    end
  end)

  it("parses --offline and --max-failures", function()
    assert.equal("skip", opts{}.offline)
    local p = opts{offline = "wait:2m", max_failures = "10%"}
    assert.equal("wait", p.offline)
    assert.equal(120, p.offline_wait)
    assert.same({n = 10, percent = true}, p.max_failures)
    local ok, e = pcall(opts, {offline = "sometimes"})
    assert.is_false(ok)
    assert.matches("--offline: expected skip, fail or wait:DURATION", e.message, 1, true)
  end)
end)

describe("fleet runners", function()
  -- A context as workflow.context leaves it, with a config already loaded (no Rigelfile
  -- is read: cfg stands in for it).
  local function ctx(o, cfg)
    local c = {opts = o or {}, cfg = cfg or {namespace = "x"}}
    c.cfg_loaded = true
    return c
  end
  local wf = require "rigelk8s.workflow"
  local real_config = wf.config
  before_each(function() wf.config = function(c) return c.cfg end end)
  after_each(function() wf.config = real_config end)

  it("runs the stock commands in this process", function()
    for _, cmd in ipairs{"deploy", "update", "status", "diff", "rollback"} do
      assert.is_nil(fleet.needs_processes(ctx(), cmd), cmd)
    end
  end)

  it("gives each target a process for hooks, ros_graph, delete, distributed", function()
    assert.matches("--hooks", fleet.needs_processes(ctx{hooks = {"h.lua"}}, "update"), 1, true)
    assert.matches("hooks:", fleet.needs_processes(ctx({}, {namespace = "x", hooks = "h.lua"}), "update"), 1, true)
    assert.matches("ros_graph", fleet.needs_processes(ctx({}, {namespace = "x", ros_graph = {nodes = {"/a"}}}), "deploy"), 1, true)
    assert.truthy(fleet.needs_processes(ctx(), "delete"))
    assert.truthy(fleet.needs_processes(ctx(), "distributed"))
  end)

  it("keeps a target's marks, in a process or in a coroutine", function()
    local job = {}
    fleet.read_marks(job, {"applying", "applied\tDeployment/app,ConfigMap/c"})
    assert.is_false(job.applying)
    assert.equal("Deployment/app,ConfigMap/c", job.changed)
    local co = coroutine.create(function()
      assert.is_true(fleet.is_child())
      assert.is_true(fleet.marking())
      fleet.mark("held\tmapping")
    end)
    local cur = {kind = "main", marks = {}}
    fleet.current[co] = cur
    assert(coroutine.resume(co))
    assert.same({"held\tmapping"}, cur.marks)
    assert.is_false(fleet.is_child()) -- not here, outside the target's coroutine
  end)
end)
