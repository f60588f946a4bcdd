-- rigelk8s.rollout_core: the Lua API over the C verdicts, history and undo. The golden
-- cases are the same files the C tests read (tests/fixtures/rollout/), so the Lua path
-- (which converts only part of each object) must reach the same verdicts as C does.
local rollout = require "rigelk8s.rollout_core"
local json = require "rigelk8s.json"
local core = require "rigelk8s"

local null = core.null
local root = os.getenv("RK_SOURCE_DIR") or "."

local function fixture(name)
  local path = root .. "/tests/fixtures/rollout/" .. name
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return json.decode(text)
end

local function denull(v)
  if rawequal(v, null) then return nil end
  return v
end

local function deepcopy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = deepcopy(x) end
  return t
end

local rule_for_kind = {
  Deployment = "deployment", StatefulSet = "statefulset", DaemonSet = "daemonset",
  Pod = "pod", PersistentVolumeClaim = "pvc", Job = "job", Service = "service",
}

local deployment = {
  apiVersion = "apps/v1", kind = "Deployment",
  metadata = {name = "ros-app", generation = 2},
  spec = {replicas = 2},
  status = {observedGeneration = 2, replicas = 2, updatedReplicas = 2, availableReplicas = 1},
}

describe("rigelk8s.rollout_core", function()
  it("exports the verdict rules, event_for, history and undo", function()
    for _, name in ipairs{"evaluate", "deployment", "statefulset", "daemonset", "pod", "pvc",
                          "job", "service", "event_for", "history", "rollback_plan",
                          "rollback_template"} do
      assert.is_function(rollout[name], name)
    end
  end)

  describe("verdicts", function()
    it("are {state, message, reasons} and nothing else", function()
      local v = rollout.evaluate(deployment)
      assert.same({
        state = "progressing",
        message = 'Waiting for deployment "ros-app" rollout to finish: '
          .. "1 of 2 updated replicas are available...",
        reasons = {"ReplicasNotAvailable"},
      }, v)
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = k end
      table.sort(keys)
      assert.same({"message", "reasons", "state"}, keys)
    end)

    it("mark reasons as an array, so JSON output keeps it a list", function()
      local v = rollout.evaluate(deployment)
      assert.is_true(core.is_array(v.reasons))
      assert.equal('{"reasons":["ReplicasNotAvailable"]}', json.encode({reasons = v.reasons}))
    end)

    it("read hand-written tables as well as decoded JSON", function()
      local d = deepcopy(deployment)
      d.status.availableReplicas = 2
      assert.same({state = "ready", message = 'deployment "ros-app" successfully rolled out',
                   reasons = {"RolledOut"}}, rollout.evaluate(d))
      assert.same(rollout.evaluate(d), rollout.deployment(d))
    end)

    it("treat the null sentinel as an absent field", function()
      local d = deepcopy(deployment)
      d.status.conditions = null
      d.status.availableReplicas = null
      assert.equal('Waiting for deployment "ros-app" rollout to finish: '
                   .. "0 of 2 updated replicas are available...", rollout.evaluate(d).message)
    end)

    it("do not convert the pod template (it is never read)", function()
      -- A function cannot become JSON: if the template were converted this would fail.
      local d = deepcopy(deployment)
      d.spec.template = {spec = {containers = {{name = "ros-app", hook = print}}}}
      d.metadata.managedFields = {{manager = print}}
      assert.equal("progressing", rollout.evaluate(d).state)
      d.status.hook = print
      local v, err, code = rollout.evaluate(d)
      assert.is_nil(v)
      assert.equal("invalid", code)
      assert.matches("status.hook", err, 1, true)
    end)

    it("return nil, message, code for a field of the wrong type", function()
      local d = deepcopy(deployment)
      d.status.replicas = "2"
      local v, err, code = rollout.evaluate(d)
      assert.is_nil(v)
      assert.equal('deployment "ros-app": status.replicas: expected an integer, got string', err)
      assert.equal("invalid", code)
    end)

    it("return nil, message, code for an object without a kind", function()
      local v, err, code = rollout.evaluate({metadata = {name = "x"}})
      assert.is_nil(v)
      assert.equal('object "x": no kind: cannot tell how to judge its readiness', err)
      assert.equal("invalid", code)
    end)

    it("raise when the object is not a table", function()
      assert.has_error(function() rollout.evaluate("deployment/x") end)
      assert.has_error(function() rollout.pod() end)
    end)

    it("judge any table by the rule asked for, whatever its kind says", function()
      local v = rollout.service({kind = "Pod", metadata = {name = "s"},
                                 spec = {clusterIP = "None"}})
      assert.equal('service "s" is ready (headless)', v.message)
    end)
  end)

  for _, file in ipairs{"deployment.json", "statefulset.json", "daemonset.json", "pod.json",
                        "pvc.json", "job.json", "service.json", "other.json"} do
    describe("golden " .. file, function()
      local doc = fixture(file)
      local rule = rule_for_kind[denull(doc.kind) or ""]
      for _, case in ipairs(doc.cases) do
        it(case.name, function()
          local want = {state = case.state, message = case.message, reasons = case.reasons}
          assert.same(want, rollout.evaluate(case.object))
          if rule then assert.same(want, rollout[rule](case.object)) end
        end)
      end
    end)
  end

  describe("event_for", function()
    for _, case in ipairs(fixture("events.json").cases) do
      it(case.name, function()
        local text, event = rollout.event_for(case.object, case.events)
        assert.equal(denull(case.expect), text)
        if text then
          -- The event handed back is the caller's own table, not a copy.
          local list = case.events.items or case.events
          local found = false
          for _, e in ipairs(list) do found = found or rawequal(e, event) end
          assert.is_true(found)
          assert.equal("Warning", event.type)
        else
          assert.is_nil(event)
        end
      end)
    end

    it("accepts no event list at all", function()
      assert.is_nil(rollout.event_for({kind = "Pod", metadata = {name = "p"}}, nil))
    end)

    it("returns nil, message, code when the list is not a list", function()
      local pod = {kind = "Pod", metadata = {name = "p"}}
      local text, err, code = rollout.event_for(pod, {items = "x"})
      assert.is_nil(text)
      assert.equal("events: expected a list (or a List object with items), got string", err)
      assert.equal("invalid", code)
      assert.has_error(function() rollout.event_for({kind = "Pod"}, "events") end)
    end)
  end)

  describe("history and undo", function()
    local cases = fixture("history.json").cases

    for _, case in ipairs(cases) do
      it("history: " .. case.name, function()
        local h = assert(rollout.history(case.deployment, case.replicasets))
        assert.is_true(core.is_array(h))
        local want = {}
        for i, r in ipairs(case.history.revisions) do
          want[i] = {revision = r.revision, name = r.name, images = r.images,
                     change_cause = denull(r.change_cause), current = r.current}
        end
        assert.same(want, h)
      end)

      it("undo: " .. case.name, function()
        for _, want in ipairs(case.rollbacks) do
          local plan, err, code = rollout.rollback_plan(case.deployment, case.replicasets,
                                                        want.to_revision)
          if denull(want.error) then
            assert.is_nil(plan)
            assert.equal(want.error, err)
            assert.equal(want.code, code)
            local t, terr, tcode = rollout.rollback_template(case.deployment, case.replicasets,
                                                             want.to_revision)
            assert.is_nil(t)
            assert.equal(want.error, terr)
            assert.equal(want.code, tcode)
          else
            assert(plan, err)
            assert.same({revision = want.revision, replicaset = want.replicaset,
                         unchanged = want.unchanged, template = want.template,
                         annotations = want.annotations}, plan)
            assert.same(want.template, rollout.rollback_template(case.deployment, case.replicasets,
                                                                 want.to_revision))
          end
        end
      end)
    end

    it("undoes to the previous revision when to_revision is left out", function()
      local case = cases[1]
      local plan = rollout.rollback_plan(case.deployment, case.replicasets)
      assert.equal(2, plan.revision)
      assert.same(plan.template, rollout.rollback_template(case.deployment, case.replicasets))
      assert.is_nil(plan.template.metadata.labels["pod-template-hash"])
      local template, err, revision = rollout.rollback_template(case.deployment, case.replicasets)
      assert.same(plan.template, template)
      assert.is_nil(err)
      assert.equal(2, revision)
      assert.equal("ghcr.io/rigel/app:1.1", plan.template.spec.containers[1].image)
    end)

    it("leaves its arguments alone and returns tables that are the caller's own", function()
      local case = cases[1]
      local before = json.encode(case.replicasets)
      local t = rollout.rollback_template(case.deployment, case.replicasets, 1)
      t.spec.containers[1].image = "changed"
      assert.equal(before, json.encode(case.replicasets))
      local again = rollout.rollback_template(case.deployment, case.replicasets, 1)
      assert.equal("ghcr.io/rigel/app:1.0", again.spec.containers[1].image)
    end)

    it("returns an empty history for a Deployment without ReplicaSets", function()
      local h = rollout.history(cases[1].deployment, nil)
      assert.same({}, h)
      assert.equal("[]", json.encode(h))
    end)

    it("raises for a to_revision that is not an integer", function()
      assert.has_error(function() rollout.rollback_plan(cases[1].deployment, {}, 1.5) end)
    end)
  end)
end)
