-- rigelk8s.rollout: the terminal-state model of waits. Jobs fail only by their Failed
-- condition; the wait modes fail_fast = "any" | "each" | false over several namespaces;
-- result.targets in input order. Against the Kubernetes API emulator.
local rollout = require "rigelk8s.rollout"
local k8s = require "rigelk8s.k8s"
local sys = require "rigelk8s.sys"
local emulator = require "emulator"

local function job(ns, name, image, backoff)
  return {apiVersion = "batch/v1", kind = "Job", metadata = {name = name, namespace = ns},
          spec = {backoffLimit = backoff,
                  template = {spec = {restartPolicy = "Never",
                                      containers = {{name = "main", image = image}}}}}}
end

local function app(ns, name, image)
  return {apiVersion = "apps/v1", kind = "Deployment", metadata = {name = name, namespace = ns},
          spec = {replicas = 1, selector = {matchLabels = {app = name}},
                  template = {metadata = {labels = {app = name}},
                              spec = {containers = {{name = "main", image = image}}}}}}
end

-- Seconds since the epoch of an RFC 3339 UTC timestamp (second resolution).
local function epoch(ts)
  local y, mo, d, h, mi, s = ts:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)")
  local t = os.time{year = tonumber(y), month = tonumber(mo), day = tonumber(d),
                    hour = tonumber(h), min = tonumber(mi), sec = tonumber(s), isdst = false}
  -- os.time reads the fields as local time; correct by the zone's offset.
  local now = os.time()
  return t + (now - os.time(os.date("!*t", now)))
end

describe("rollout job model (no cluster)", function()
  it("counts attempts from backoffLimit and the failed pods", function()
    local j = job("ns", "j", "x", 2)
    j.status = {failed = 1, active = 1}
    local a = rollout.job_attempt(j)
    assert.are.same({attempt = 2, attempts = 3}, a)
    j.spec.backoffLimit = nil
    assert.are.same({attempt = 2, attempts = 7}, rollout.job_attempt(j))
  end)

  it("does not fail a Job whose pod failed while a retry runs", function()
    local j = job("ns", "j", "x", 1)
    j.metadata.uid = "j-1"
    j.status = {failed = 1, active = 1}
    local t = rollout.tracker{j}
    local function pod(name, phase)
      return {apiVersion = "v1", kind = "Pod",
              metadata = {name = name, namespace = "ns", uid = name,
                          ownerReferences = {{uid = "j-1", kind = "Job", name = "j", controller = true}}},
              spec = {nodeName = "robot-1", containers = {{name = "main", image = "x"}}},
              status = {phase = phase,
                        conditions = {{type = "PodScheduled", status = "True"},
                                      {type = "Ready", status = phase == "Running" and "True" or "False"}},
                        containerStatuses = {{name = "main", ready = phase == "Running", restartCount = 0,
                state = phase == "Failed" and {terminated = {exitCode = 1, reason = "Error"}}
                        or {running = {}}}}}}
    end
    for _, o in ipairs{j, pod("j-a", "Failed"), pod("j-b", "Running")} do t:observe{type = "ADDED", object = o} end
    local v = t:verdict()
    assert.are.equal("progressing", v.rows[1].state)
    assert.are.equal("attempt 2/2 running", v.rows[1].short)
    -- The Failed condition is what fails it, terminally.
    j.status = {failed = 2, conditions = {{type = "Failed", status = "True", reason = "BackoffLimitExceeded",
                                           message = "Job has reached the specified backoff limit"}}}
    t:observe{type = "MODIFIED", object = j}
    v = t:verdict()
    assert.are.equal("failed", v.rows[1].state)
    assert.is_true(v.rows[1].terminal)
  end)

  it("names rows with their namespace when the targets span several", function()
    local t = rollout.tracker{app("a", "robot", "x"), app("b", "robot", "x")}
    local v = t:verdict()
    assert.are.equal("a/Deployment/robot", v.rows[1].name)
    assert.are.equal("b/Deployment/robot", v.rows[2].name)
    local one = rollout.tracker{app("a", "robot", "x")}:verdict()
    assert.are.equal("Deployment/robot", one.rows[1].name)
  end)

  it("refuses an unknown mode with the ones there are", function()
    local ok, e = pcall(rollout.wait_mode, "all", "wf.wait")
    assert.is_false(ok)
    assert.truthy(tostring(e.message or e):find('wf.wait: fail_fast must be "any", "each" or false', 1, true))
  end)
end)

describe("rollout.wait modes against the emulator", function()
  local emu, c

  setup(function()
    emu = emulator.start{ready_delay = 0.4}
    c = k8s.connect{kubeconfig = emu.kubeconfig}
    for _, ns in ipairs{"jobs", "ns-a", "ns-b", "ns-c"} do
      c:apply{apiVersion = "v1", kind = "Namespace", metadata = {name = ns}}
    end
  end)

  teardown(function()
    if c then c:close() end
    if emu then emu:stop() end
  end)

  it("follows a Job with backoffLimit 2 whose first pod fails, to Complete " ..
     "(the test stands in for the kubelet reporting the first pod failed)", function()
    local j = job("jobs", "retry-once", "app:1", 2)
    c:apply(j)
    local failed_one, shorts = nil, {}
    local result = rollout.wait(c, {j}, {timeout = 30, fail_fast = "any", tick = 0.1, on_progress = function(rows)
      shorts[#shorts + 1] = rows[1].short
      if not failed_one then
        for _, p in ipairs(c:list{apiVersion = "v1", kind = "Pod", namespace = "jobs",
                                  label_selector = "job-name=retry-once"}) do
          local phase = p.status and p.status.phase
          if phase == "Pending" or phase == "Running" then
            c:patch({apiVersion = "v1", kind = "Pod", metadata = {name = p.metadata.name, namespace = "jobs"}},
                    {status = {phase = "Failed", reason = "Error"}}, {type = "merge", subresource = "status"})
            failed_one = p.metadata.name
            break
          end
        end
      end
    end})
    assert.truthy(failed_one, "no pod of the Job was seen running")
    assert.are.equal("ready", result.state, result.diagnosis)
    local live = c:get(j)
    assert.are.equal(1, math.floor(live.status.failed))
    assert.are.equal(1, math.floor(live.status.succeeded))
    local saw_attempt2 = false
    for _, s in ipairs(shorts) do if s == "attempt 2/3 running" then saw_attempt2 = true end end
    assert.is_true(saw_attempt2, "progress never showed the retry: " .. table.concat(shorts, " | "))
    assert.are.same({namespace = "jobs", kind = "Job", name = "retry-once", state = "ready",
                     message = result.targets[1].message, terminal = false, row = "Job/retry-once"},
                    result.targets[1])
  end)

  for _, mode in ipairs{"any", "each", false} do
    it("ends a Job that exhausts its retries within 2 s of its Failed condition (fail_fast = " ..
       tostring(mode) .. ")", function()
      local name = "exhaust-" .. tostring(mode)
      local j = job("jobs", name, "app:fail", 1)
      c:apply(j)
      local seen_failed
      local result = rollout.wait(c, {j}, {timeout = 60, fail_fast = mode, on_progress = function(rows)
        if rows[1].state == "failed" and not seen_failed then seen_failed = sys.now() end
      end})
      local returned, wall = sys.now(), os.time()
      assert.are.equal("failed", result.state)
      assert.truthy(result.elapsed < 30, "waited " .. result.elapsed .. " s, not stopped at the failure")
      assert.truthy(returned - seen_failed < 2)
      local live = c:get(j)
      local cond
      for _, x in ipairs(live.status.conditions) do if x.type == "Failed" then cond = x end end
      -- second resolution on both sides: 2 s plus one second of rounding.
      assert.truthy(wall - epoch(cond.lastTransitionTime) <= 3)
      assert.are.equal("failed", result.targets[1].state)
      assert.is_true(result.targets[1].terminal)
      assert.truthy(result.targets[1].message:find("BackoffLimitExceeded", 1, true))
      assert.truthy(result.diagnosis:find("Job " .. name, 1, true))
    end)
  end

  describe("three namespaces, one failing", function()
    local objs
    before_each(function()
      local suffix = tostring(math.floor(sys.now() * 1000) % 100000)
      objs = {app("ns-a", "robot-" .. suffix, "app:1"), app("ns-b", "robot-" .. suffix, "app:crashloop"),
              app("ns-c", "robot-" .. suffix, "app:1")}
      for _, o in ipairs(objs) do c:apply(o) end
    end)

    it("any: stops at the failure, the others pending or ready, rows name the namespace", function()
      local t0 = sys.now()
      local result = rollout.wait(c, objs, {timeout = 60, fail_fast = "any"})
      assert.are.equal("failed", result.state)
      assert.truthy(sys.now() - t0 < 10)
      assert.are.equal(3, #result.targets)
      for i, ns in ipairs{"ns-a", "ns-b", "ns-c"} do
        assert.are.equal(ns, result.targets[i].namespace)
        assert.are.equal(objs[i].metadata.name, result.targets[i].name)
        assert.are.equal(ns .. "/Deployment/" .. objs[i].metadata.name, result.rows[i].name)
      end
      assert.are.equal("failed", result.targets[2].state)
      assert.truthy(result.targets[2].diagnosis:find("CrashLoopBackOff", 1, true))
      assert.truthy(result.diagnosis:find("ns-b/Deployment/", 1, true) or result.diagnosis:find("ns-b", 1, true))
    end)

    it("each: returns once every target is ready or failed, with a result for each", function()
      local t0 = sys.now()
      local result = rollout.wait(c, objs, {timeout = 60, fail_fast = "each"})
      assert.truthy(sys.now() - t0 < 10, "blocked for " .. (sys.now() - t0) .. " s")
      assert.are.equal("failed", result.state)
      assert.are.same({"ready", "failed", "ready"},
                      {result.targets[1].state, result.targets[2].state, result.targets[3].state})
      assert.is_false(result.targets[2].terminal)
      assert.are.equal("ns-b", result.targets[2].namespace)
    end)

    it("false: waits for all until the deadline, a crash loop being no terminal failure", function()
      local result = rollout.wait(c, objs, {timeout = 2, fail_fast = false})
      assert.are.equal("timeout", result.state)
      assert.truthy(result.elapsed >= 2)
      assert.are.same({"ready", "failed", "ready"},
                      {result.targets[1].state, result.targets[2].state, result.targets[3].state})
    end)

    it("false: never past the moment every target is terminal (a failed Job in one namespace)", function()
      local name = "batch-" .. tostring(math.floor(sys.now() * 1000) % 100000)
      local set = {job("ns-a", name, "app:1", 0), job("ns-b", name, "app:fail", 0), job("ns-c", name, "app:1", 0)}
      for _, o in ipairs(set) do c:apply(o) end
      local result = rollout.wait(c, set, {timeout = 60, fail_fast = false})
      assert.are.equal("failed", result.state)
      assert.truthy(result.elapsed < 10, "waited " .. result.elapsed .. " s")
      assert.are.same({"ready", "failed", "ready"},
                      {result.targets[1].state, result.targets[2].state, result.targets[3].state})
      assert.is_true(result.targets[2].terminal)
    end)
  end)
end)
