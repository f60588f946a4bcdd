-- rigelk8s.rollout: the Tracker's verdicts from watch events (no cluster), and
-- rollout.wait on one watch set against the Kubernetes API emulator.
local rollout = require "rigelk8s.rollout"
local k8s = require "rigelk8s.k8s"
local sys = require "rigelk8s.sys"
local emulator = require "emulator"

local function deployment(fields)
  return {
    apiVersion = "apps/v1", kind = "Deployment",
    metadata = {name = fields.name or "app", namespace = "ns", uid = fields.uid or "d-1",
                generation = fields.generation or 2,
                annotations = {["deployment.kubernetes.io/revision"] = fields.revision or "2"}},
    spec = {replicas = fields.replicas or 1},
    status = fields.status or {observedGeneration = 2, replicas = 1, updatedReplicas = 1,
                               availableReplicas = 0, unavailableReplicas = 1},
  }
end

local function replicaset(owner_uid, uid, rev)
  return {apiVersion = "apps/v1", kind = "ReplicaSet",
          metadata = {name = "app-" .. uid, namespace = "ns", uid = uid,
                      annotations = {["deployment.kubernetes.io/revision"] = rev},
                      ownerReferences = {{uid = owner_uid, kind = "Deployment", name = "app", controller = true}}}}
end

local function crashing_pod(owner_uid, uid)
  return {apiVersion = "v1", kind = "Pod",
          metadata = {name = "app-pod-" .. uid, namespace = "ns", uid = uid,
                      ownerReferences = {{uid = owner_uid, kind = "ReplicaSet", name = "rs", controller = true}}},
          spec = {nodeName = "robot-1", containers = {{name = "ros-app", image = "app:crashloop"}}},
          status = {phase = "Running",
                    conditions = {{type = "PodScheduled", status = "True"}, {type = "Ready", status = "False"}},
                    containerStatuses = {{name = "ros-app", ready = false, restartCount = 3, image = "app:crashloop",
                                          state = {waiting = {reason = "CrashLoopBackOff",
                                                              message = "back-off 40s restarting failed container"}},
                                          lastState = {terminated = {exitCode = 1, reason = "Error"}}}}}}
end

local function event(uid, involved_uid, etype, reason, message, count)
  return {apiVersion = "v1", kind = "Event",
          metadata = {name = "ev-" .. uid, namespace = "ns", uid = uid},
          involvedObject = {kind = "Pod", uid = involved_uid, name = "p"},
          type = etype, reason = reason, message = message, count = count or 1}
end

local function pvc(name, class)
  return {apiVersion = "v1", kind = "PersistentVolumeClaim",
          metadata = {name = name, namespace = "ns", uid = "pvc-" .. name},
          spec = {storageClassName = class, resources = {requests = {storage = "1Gi"}}},
          status = {phase = "Pending"}}
end

local function observe_all(t, objects)
  for _, o in ipairs(objects) do t:observe{type = "ADDED", object = o} end
end

describe("rollout Tracker", function()
  it("diagnoses a crashing pod with its Warning events, not the Normal ones, each event once", function()
    local d = deployment{}
    local t = rollout.tracker{d}
    observe_all(t, {d, replicaset("d-1", "rs-2", "2"), crashing_pod("rs-2", "p-1"),
                    event("e1", "p-1", "Normal", "Scheduled", "Successfully assigned ns/p to robot-1"),
                    event("e2", "p-1", "Warning", "BackOff", "Back-off restarting failed container ros-app", 1),
                    event("e3", "p-1", "Normal", "Pulled", "Container image already present")})
    -- The same event again with a higher count replaces the first copy.
    t:observe{type = "MODIFIED", object = event("e2", "p-1", "Warning", "BackOff",
                                                "Back-off restarting failed container ros-app", 3)}
    local v = t:verdict()
    assert.is_false(v.ready)
    assert.are.equal("Deployment/app", v.failed.name)
    assert.are.equal("failed", v.rows[1].state)
    assert.truthy(v.failed.diagnosis:find("CrashLoopBackOff", 1, true))
    assert.truthy(v.failed.diagnosis:find("Warning BackOff (x3): Back-off restarting", 1, true))
    assert.falsy(v.failed.diagnosis:find("Normal", 1, true))
    local _, n = v.failed.diagnosis:gsub("Warning BackOff", "")
    assert.are.equal(1, n)
    assert.are.equal("1/1 updated, 0 available · CrashLoopBackOff", v.rows[1].short)
    assert.are.equal(2, v.rows[1].revision)
    assert.is_true(t:has_warning(v.failed.subject))
  end)

  it("falls back to the last Normal events when there is no Warning", function()
    local events = {}
    for i = 1, 5 do events[i] = event("n" .. i, "x", "Normal", "R" .. i, "m" .. i) end
    local picked = rollout.pick_events(events, 3)
    assert.are.same({"R3", "R4", "R5"}, {picked[1].reason, picked[2].reason, picked[3].reason})
    events[2].type = "Warning"
    picked = rollout.pick_events(events, 3)
    assert.are.equal(1, #picked)
    assert.are.equal("R2", picked[1].reason)
  end)

  it("only looks at the pods of the current revision", function()
    local d = deployment{revision = "3"}
    local t = rollout.tracker{d}
    observe_all(t, {d, replicaset("d-1", "rs-2", "2"), crashing_pod("rs-2", "old")})
    local v = t:verdict()
    assert.are.equal("progressing", v.rows[1].state)
    assert.is_nil(v.failed)
  end)

  it("fails a claim whose storage class does not exist, with the fix", function()
    local claim = pvc("maps-pvc", "gold")
    local t = rollout.tracker{claim}
    t:observe{type = "ADDED", object = claim}
    assert.are.equal("progressing", t:verdict().rows[1].state)
    local ev = event("pf", "pvc-maps-pvc", "Warning", "ProvisioningFailed",
                     'storageclass.storage.k8s.io "gold" not found')
    ev.involvedObject.kind = "PersistentVolumeClaim"
    t:observe{type = "ADDED", object = ev}
    local v = t:verdict()
    assert.are.equal("failed", v.rows[1].state)
    assert.truthy(v.failed.diagnosis:find('ProvisioningFailed: storageclass.storage.k8s.io "gold" not found', 1, true))
    assert.truthy(v.failed.diagnosis:find('fix: create StorageClass "gold"', 1, true))
    assert.are.equal("Pending · ProvisioningFailed", v.rows[1].short)
  end)

  it("keeps waiting on a claim whose provisioning failed for another reason", function()
    local claim = pvc("data-pvc", "standard")
    local t = rollout.tracker{claim}
    local ev = event("pf", "pvc-data-pvc", "Warning", "ProvisioningFailed", "rpc error: quota exceeded, retrying")
    ev.involvedObject.kind = "PersistentVolumeClaim"
    observe_all(t, {claim, ev})
    local row = t:verdict().rows[1]
    assert.are.equal("progressing", row.state)
    assert.truthy(row.message:find("quota exceeded", 1, true))
  end)

  it("lists failures in target order, so the master's come first", function()
    local master = deployment{name = "ros-master", uid = "m-1"}
    local app = deployment{name = "app", uid = "a-1"}
    local t = rollout.tracker{master, app}
    observe_all(t, {app, replicaset("a-1", "rs-a", "2"), crashing_pod("rs-a", "pa"),
                    master, replicaset("m-1", "rs-m", "2"), crashing_pod("rs-m", "pm")})
    local v = t:verdict()
    assert.are.equal(2, #v.failures)
    assert.are.equal("Deployment/ros-master", v.failed.name)
    assert.are.equal("Deployment/app", v.failures[2].name)
  end)

  it("writes short terminal messages", function()
    local short = rollout.short_message
    assert.are.equal("waiting for the object to appear", short(nil, {state = "progressing"}))
    local d = deployment{replicas = 3, status = {observedGeneration = 2, replicas = 4, updatedReplicas = 1,
                                                  availableReplicas = 2}}
    assert.are.equal("1/3 updated, 2 available, 3 old", short(d, {state = "progressing"}))
    d.metadata.generation = 3
    assert.are.equal("waiting for the controller to see the change", short(d, {state = "progressing"}))
    local sts = {kind = "StatefulSet", metadata = {generation = 1}, spec = {replicas = 2},
                 status = {observedGeneration = 1, readyReplicas = 1, updatedReplicas = 2}}
    assert.are.equal("1/2 ready, 2 updated · PodNotReady",
                     short(sts, {state = "progressing", cause = "PodNotReady"}))
    assert.are.equal("Bound", short({kind = "PersistentVolumeClaim", metadata = {}, status = {phase = "Bound"}},
                                    {state = "ready"}))
  end)

  it("watches what explains workloads and claims, once per namespace and kind", function()
    local specs = rollout.watch_specs(rollout.tracker{deployment{}, deployment{name = "b"}, pvc("c", "x")}.targets)
    local kinds = {}
    for _, s in ipairs(specs) do kinds[#kinds + 1] = s.namespace .. "/" .. s.kind end
    assert.are.same({"ns/Deployment", "ns/Event", "ns/PersistentVolumeClaim", "ns/Pod", "ns/ReplicaSet"}, kinds)
  end)
end)

describe("rollout.wait against the emulator", function()
  local emu, c

  setup(function()
    emu = emulator.start{ready_delay = 0.2}
    c = k8s.connect{kubeconfig = emu.kubeconfig}
    c:apply{apiVersion = "v1", kind = "Namespace", metadata = {name = "w"}}
  end)

  teardown(function()
    if c then c:close() end
    if emu then emu:stop() end
  end)

  local function app(name, image)
    return {apiVersion = "apps/v1", kind = "Deployment", metadata = {name = name, namespace = "w"},
            spec = {replicas = 1, selector = {matchLabels = {app = name}},
                    template = {metadata = {labels = {app = name}},
                                spec = {containers = {{name = "main", image = image}}}}}}
  end

  it("waits until a new Deployment is rolled out, reporting progress on the way", function()
    local d = app("good", "nginx:1")
    c:apply(d)
    local seen = {}
    local result = rollout.wait(c, {d}, {timeout = 20, on_progress = function(rows)
      seen[#seen + 1] = rows[1].state .. ": " .. rows[1].message
    end})
    assert.are.equal("ready", result.state)
    assert.are.equal("Deployment/good", result.rows[1].name)
    -- No timing assertion: under a sanitizer the pod may be Ready before the wait begins.
    assert.are.equal('ready: deployment "good" successfully rolled out', seen[#seen])
    -- The object existed before the wait: it is never reported as missing.
    for _, line in ipairs(seen) do assert.falsy(line:find("waiting for the object", 1, true)) end
  end)

  it("reports a crash loop as soon as it is seen, with the Warning event", function()
    local d = app("crash", "app:crashloop")
    c:apply(d)
    local t0 = sys.now()
    local result = rollout.wait(c, {d}, {timeout = 60})
    assert.are.equal("failed", result.state)
    assert.truthy(sys.now() - t0 < 5)
    assert.truthy(result.diagnosis:find("CrashLoopBackOff", 1, true))
    assert.truthy(result.diagnosis:find("Warning BackOff", 1, true))
  end)

  it("puts what a failed object depends on first when that is not ready either", function()
    local master, d = app("master", "ros:never-ready"), app("client", "app:crashloop")
    c:apply(master)
    sys.sleep(0.4)  -- its pod is running (and not ready) before the client starts
    c:apply(d)
    local result = rollout.wait(c, {master, d}, {timeout = 60})
    assert.are.equal("failed", result.state)
    assert.truthy(result.diagnosis:find("^Deployment/master is not ready yet: .*containers not ready: main"))
    assert.truthy(result.diagnosis:find("\nDeployment client: pod client%-"))
  end)

  it("times out with the objects that are not ready and why", function()
    local d = app("slow", "app:never-ready")
    c:apply(d)
    local result = rollout.wait(c, {d, {apiVersion = "v1", kind = "PersistentVolumeClaim",
                                        metadata = {name = "absent", namespace = "w"}}}, {timeout = 1})
    assert.are.equal("timeout", result.state)
    assert.truthy(result.elapsed >= 1 and result.elapsed < 30)  -- the timeout, not a hang
    assert.truthy(result.diagnosis:find("Deployment/slow", 1, true))
    assert.truthy(result.diagnosis:find("running, not ready (containers not ready: main)", 1, true))
    assert.truthy(result.diagnosis:find("PersistentVolumeClaim/absent: waiting for the object to appear", 1, true))
  end)

  it("with fail_fast off, keeps waiting through a failure until the timeout", function()
    local d = app("crash2", "app:crashloop")
    c:apply(d)
    local result = rollout.wait(c, {d}, {timeout = 1, fail_fast = false})
    assert.are.equal("timeout", result.state)
    assert.are.equal("failed", result.rows[1].state)
  end)
end)
