-- The primitives of a fleet in one process, against two Kubernetes API emulators
-- (stand-ins for two clusters; HTTPS): kube.group() (clients sharing one curl multi
-- handle and one wait), client:start_many / batch:step / batch:results (call_many in
-- steps, never blocking), client:news(), and the cooperative calls of rigelk8s.k8s
-- (calls made in a registered coroutine yield instead of blocking).
local emulator = require "emulator"
local k8s = require "rigelk8s.k8s"
local kube = require "rigelk8s.kube"
local sys = require "rigelk8s.sys"

local function cm(name, ns, value)
  return {apiVersion = "v1", kind = "ConfigMap", metadata = {name = name, namespace = ns}, data = {v = value}}
end

local function applies(prefix, ns, n, value)
  local specs = {}
  for i = 1, n do specs[i] = {verb = "apply", body = cm(prefix .. i, ns, value), field_manager = "spec"} end
  return specs
end

-- Drives a batch through the group until it is done; returns the results and the number
-- of waits it took.
local function drive(group, b)
  local waits = 0
  while not b:step() do
    assert(group:wait(0.1))
    waits = waits + 1
    assert(waits < 200, "the batch never finished")
  end
  return b:results(), waits
end

describe("kube.group and batches (two emulators)", function()
  local e1, e2, group, c1, c2
  setup(function()
    e1 = emulator.start{tls = true}
    e2 = emulator.start{tls = true}
    group = kube.group()
    c1 = k8s.connect{kubeconfig = e1.kubeconfig, context = "emulator", group = group}
    c2 = k8s.connect{kubeconfig = e2.kubeconfig, context = "emulator-cert", group = group}
    c1:apply{apiVersion = "v1", kind = "Namespace", metadata = {name = "g1"}}
    c2:apply{apiVersion = "v1", kind = "Namespace", metadata = {name = "g2"}}
  end)
  teardown(function()
    if c1 then c1:close() end
    if c2 then c2:close() end
    if group then group:close() end
    if e1 then e1:stop() end
    if e2 then e2:stop() end
  end)

  it("sends nothing until driven, then answers like call_many, for two clients at once", function()
    local b1 = c1:start_many(applies("a", "g1", 20, "1"), 8)
    local b2 = c2:start_many(applies("b", "g2", 20, "1"), 8)
    -- Started, not sent: a first step only queues the transfers.
    assert.is_false(b1:step())
    local n1 = c1:news()
    local r1, r2 = drive(group, b1), drive(group, b2)
    assert.is_true(c1:news() > n1)
    assert.equal(20, #r1)
    assert.equal(20, #r2)
    for i = 1, 20 do
      assert.is_true(r1[i].ok, tostring(r1[i].error))
      assert.equal(201, r1[i].status)
      assert.equal("a" .. i, r1[i].object.metadata.name)
      assert.equal("g1", r1[i].namespace)
      assert.equal("b" .. i, r2[i].object.metadata.name)
    end
    -- The same objects, as call_many (blocking) sees them on each cluster.
    local again = c2:call_many({{verb = "get", apiVersion = "v1", kind = "ConfigMap", name = "b20", namespace = "g2"}})
    assert.equal("1", again[1].object.data.v)
  end)

  it("keeps failures per request: a 404, a spec that is not a table, a text answer", function()
    local b = c1:start_many({
      {verb = "get", apiVersion = "v1", kind = "ConfigMap", name = "nope", namespace = "g1"},
      "not a spec",
      {verb = "get", apiVersion = "v1", kind = "ConfigMap", name = "a1", namespace = "g1", text = true},
    })
    local r = drive(group, b)
    assert.is_false(r[1].ok)
    assert.equal(404, r[1].status)
    assert.equal("NotFound", r[1].error.reason)
    assert.is_false(r[2].ok)
    assert.equal("BadRequest", r[2].error.reason)
    assert.is_true(r[3].ok)
    assert.matches('"name":"a1"', r[3].text, 1, true)
    -- A finished batch is spent.
    assert.has_error(function() b:step() end, "the batch is finished or closed")
  end)

  it("abandons a batch whose client is closed, and one that is closed unfinished", function()
    local group2 = kube.group()
    local c = k8s.connect{kubeconfig = e1.kubeconfig, context = "emulator", group = group2}
    local b = c:start_many(applies("z", "g1", 5, "1"))
    b:step()
    c:close() -- the transfers go with the client
    local r, err = b:results()
    assert.is_nil(r)
    assert.matches("the client was closed", err.message, 1, true)
    local c3 = k8s.connect{kubeconfig = e1.kubeconfig, context = "emulator", group = group2}
    local b3 = c3:start_many(applies("y", "g1", 5, "1"))
    b3:step()
    group2:wait(0.01)
    b3:close()
    c3:close()
    group2:close()
  end)

  it("a grouped client still blocks where it cannot yield (outside a fleet coroutine)", function()
    local live = c1:get{apiVersion = "v1", kind = "ConfigMap", name = "a2", namespace = "g1"}
    assert.equal("1", live.data.v)
    local co = coroutine.wrap(function()
      -- Not registered in k8s.cooperative: blocks, does not yield to this resumer.
      return c2:get{apiVersion = "v1", kind = "ConfigMap", name = "b2", namespace = "g2"}.data.v
    end)
    assert.equal("1", co())
  end)

  it("runs two clusters' workflows side by side: calls in registered coroutines yield", function()
    local group3 = kube.group()
    local log = {}
    local function target(name, emu, ctxname, ns)
      local co = coroutine.create(function()
        local c = k8s.connect{kubeconfig = emu.kubeconfig, context = ctxname}
        log[#log + 1] = name .. " start"
        local objs = {}
        for i = 1, 10 do objs[i] = cm(name .. i, ns, "2") end
        local results = c:apply_all(objs)
        log[#log + 1] = name .. " applied"
        local ws = c:watch_set()
        ws:add{apiVersion = "v1", kind = "ConfigMap", namespace = ns, name = name .. "1"}
        local ev = ws:next(5)
        ws:close()
        log[#log + 1] = name .. " watched"
        return #results, ev and ev.object.data.v
      end)
      k8s.cooperative[co] = group3
      return co
    end
    local cos = {a = target("p", e1, "emulator", "g1"), b = target("q", e2, "emulator-cert", "g2")}
    local out, yields = {}, 0
    local deadline = sys.now() + 20
    while next(cos) and sys.now() < deadline do
      for k, co in pairs(cos) do
        local ok, a, b = coroutine.resume(co)
        assert(ok, a)
        if coroutine.status(co) == "dead" then
          out[k] = {a, b}
          cos[k] = nil
        else
          yields = yields + 1
          assert.is_true(type(a) == "userdata" and type(b) == "number") -- (client or set, wake time)
        end
      end
      group3:wait(0.05)
    end
    assert.same({a = {10, "2"}, b = {10, "2"}}, out)
    assert.is_true(yields >= 4, "the calls should have yielded, got " .. yields)
    -- Interleaved: both targets started before either had applied.
    local first = {log[1], log[2]}
    table.sort(first)
    assert.same({"p start", "q start"}, first)
    group3:close()
  end)
end)
