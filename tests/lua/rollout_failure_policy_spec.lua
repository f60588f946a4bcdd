-- rigelk8s.rollout: what counts as a failure (no cluster: a Tracker fed by hand, with a
-- clock the test moves). Pull errors: permanent ones fail at once, transient ones are
-- retried until PULL_ATTEMPTS failed pulls; Unschedulable pods: NotTriggerScaleUp and a
-- nodeSelector no node matches fail at once, everything else after the grace period.
local rollout = require "rigelk8s.rollout"
local core = require "rigelk8s.rollout_core"

local function pod(name, spec, status)
  return {apiVersion = "v1", kind = "Pod",
          metadata = {name = name, namespace = "ns", uid = "uid-" .. name},
          spec = spec, status = status}
end

local function pulling(name, reason, message)
  return pod(name, {nodeName = "robot-1", containers = {{name = "app", image = "r.example.com/app:1"}}},
             {phase = "Pending",
              conditions = {{type = "PodScheduled", status = "True"}, {type = "Ready", status = "False"}},
              containerStatuses = {{name = "app", ready = false, restartCount = 0, image = "r.example.com/app:1",
                                    state = {waiting = {reason = reason, message = message}}}}})
end

local function unschedulable(name, spec, message)
  spec.containers = {{name = "app", image = "app:1"}}
  return pod(name, spec, {phase = "Pending",
                          conditions = {{type = "PodScheduled", status = "False", reason = "Unschedulable",
                                         message = message}}})
end

local n = 0
local function event(p, etype, reason, message, count)
  n = n + 1
  return {apiVersion = "v1", kind = "Event", type = etype, reason = reason, message = message, count = count or 1,
          metadata = {name = p.metadata.name .. ".e" .. n, namespace = "ns", uid = "ev-" .. n},
          involvedObject = {kind = "Pod", name = p.metadata.name, namespace = "ns", uid = p.metadata.uid}}
end

local function node(name, labels)
  return {apiVersion = "v1", kind = "Node", metadata = {name = name, labels = labels}}
end

local function tracker(p, opts)
  opts = opts or {}
  local now = 0
  opts.clock = function() return now end
  local t = rollout.tracker({p}, opts)
  t:observe{type = "ADDED", object = p}
  return t, function(s) now = now + s end
end

local function judge(t)
  return t:evaluate(t.targets[1])
end

local TIMEOUT = 'failed to pull and unpack image "r.example.com/app:1": failed to resolve reference ' ..
                '"r.example.com/app:1": failed to do request: Head "https://r.example.com/v2/app/manifests/1": ' ..
                'dial tcp 10.0.0.9:443: i/o timeout'
local NOT_FOUND = 'failed to pull and unpack image "r.example.com/app:1": failed to resolve reference ' ..
                  '"r.example.com/app:1": r.example.com/app:1: not found'

describe("pull errors", function()
  it("classifies the kubelet's messages", function()
    assert.are.same({"permanent", "not found"}, {core.pull_error(NOT_FOUND)})
    assert.are.same({"transient", "i/o timeout"}, {core.pull_error(TIMEOUT)})
    assert.are.same({"unknown", ""}, {core.pull_error('Back-off pulling image "x"')})
  end)

  it("fails at once for a permanent error", function()
    local p = pulling("p", "ErrImagePull", NOT_FOUND)
    local v = judge(tracker(p), p)
    assert.are.equal("failed", v.state)
    assert.are.equal("ErrImagePull", v.reasons[1])
    assert.truthy(v.message:find("not found", 1, true))
  end)

  it("retries a transient error and says what the registry said, then gives up after N attempts", function()
    local p = pulling("p", "ErrImagePull", TIMEOUT)
    local t = tracker(p, {pull_attempts = 3})
    local v = judge(t, p)
    assert.are.equal("progressing", v.state)
    assert.are.equal("ImagePullRetrying", v.reasons[1])
    assert.truthy(v.message:find("retrying (registry said: " .. TIMEOUT, 1, true), v.message)
    t:observe{type = "ADDED", object = event(p, "Warning", "Failed",
                                             'Failed to pull image "r.example.com/app:1": ' .. TIMEOUT, 2)}
    v = judge(t, p)
    assert.are.equal("progressing", v.state)
    assert.truthy(v.message:find("2 of 3 pull attempts failed", 1, true), v.message)
    -- The third pull fails otherwise: the status (the freshest) and the event say so.
    p = pulling("p", "ErrImagePull", "dial tcp: connection refused")
    t:observe{type = "MODIFIED", object = p}
    t:observe{type = "ADDED", object = event(p, "Warning", "Failed",
                                             'Failed to pull image "r.example.com/app:1": dial tcp: connection refused')}
    v = judge(t, p)
    assert.are.equal("failed", v.state)
    assert.are.equal("ImagePullRetriesExhausted", v.reasons[1])
    assert.truthy(v.message:find("3 pull attempts failed (the limit is 3); the last error: dial tcp: connection refused",
                                 1, true), v.message)
  end)

  it("reads the cause of an ImagePullBackOff from the pull events (kubelet < 1.32)", function()
    local p = pulling("p", "ImagePullBackOff", 'Back-off pulling image "r.example.com/app:1"')
    local t = tracker(p)
    assert.are.equal("progressing", judge(t, p).state)
    t:observe{type = "ADDED", object = event(p, "Warning", "Failed",
                                             'Failed to pull image "r.example.com/app:1": ' .. NOT_FOUND)}
    local v = judge(t, p)
    assert.are.equal("failed", v.state)
    assert.truthy(v.message:find(NOT_FOUND, 1, true), v.message)
  end)

  it("keeps CreateContainerConfigError fast, naming the missing ConfigMap", function()
    local p = pulling("p", "CreateContainerConfigError", 'configmap "robot-params" not found')
    local v = judge(tracker(p), p)
    assert.are.equal("failed", v.state)
    assert.truthy(v.message:find('configmap "robot-params" not found', 1, true), v.message)
  end)
end)

local NO_MATCH = "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
local TAINTED = "0/1 nodes are available: 1 node(s) were unschedulable."

describe("unschedulable pods", function()
  it("fail at once when no node has the nodeSelector label, naming it and the kubectl fix", function()
    local p = unschedulable("p", {nodeSelector = {gpu = "true", zone = "a"}}, NO_MATCH)
    local t = tracker(p, {nodes = {node("robot-1", {zone = "a"}), node("robot-2", {zone = "b"})}})
    -- Not before the scheduler's event is in: an autoscaler's answer may come before it.
    assert.are.equal("progressing", judge(t, p).state)
    t:observe{type = "ADDED", object = event(p, "Warning", "FailedScheduling", NO_MATCH)}
    local v = judge(t, p)
    assert.are.equal("failed", v.state)
    assert.are.equal("NoMatchingNode", v.reasons[1])
    assert.truthy(v.message:find("no node has the label gpu=true (nodes: robot-1, robot-2); " ..
                                 "fix: kubectl label node robot-1 gpu=true zone=a", 1, true), v.message)
    assert.truthy(v.message:find(NO_MATCH:sub(1, -2) .. "; no node has the label", 1, true), v.message)
  end)

  it("fail for a missing label after 2 s without events (a user who may not watch them)", function()
    local p = unschedulable("p", {nodeSelector = {gpu = "true"}}, NO_MATCH)
    local t, advance = tracker(p, {nodes = {node("robot-1", {})}})
    assert.are.equal("progressing", judge(t, p).state)
    assert.are.equal(2, t.wake_at)
    advance(2)
    assert.are.equal("NoMatchingNode", judge(t, p).reasons[1])
  end)

  it("consider the required node affinity", function()
    local spec = {affinity = {nodeAffinity = {requiredDuringSchedulingIgnoredDuringExecution = {
      nodeSelectorTerms = {{matchExpressions = {{key = "arch", operator = "In", values = {"arm64"}}}}}}}}}
    assert.is_nil(rollout.node_mismatch(spec, {node("a", {arch = "arm64"})}))
    local m = rollout.node_mismatch(spec, {node("a", {arch = "amd64"})})
    assert.truthy(m.text:find("no node matches the pod's required node affinity (arch In arm64)", 1, true), m.text)
    assert.are.equal("kubectl label node a arch=arm64", m.fix)
    assert.is_nil(rollout.node_mismatch({nodeSelector = {zone = "a"}}, {node("x", {zone = "a"})}))
  end)

  it("wait out the grace period when the nodes could match, then fail", function()
    local p = unschedulable("p", {}, TAINTED)
    local t, advance = tracker(p, {unschedulable_grace = 30, nodes = {node("robot-1", {})}})
    local v = judge(t, p)
    assert.are.equal("progressing", v.state)
    assert.truthy(v.message:find("waiting for a node (scheduler: " .. TAINTED .. "; 0s of 30s)", 1, true), v.message)
    assert.are.equal(30, t.wake_at)
    advance(29)
    assert.are.equal("progressing", judge(t, p).state)
    advance(1)
    v = judge(t, p)
    assert.are.equal("failed", v.state)
    assert.truthy(v.message:find("Unschedulable for 30s (--unschedulable-grace 30s): " .. TAINTED, 1, true), v.message)
  end)

  it("fail at once on NotTriggerScaleUp", function()
    local p = unschedulable("p", {}, TAINTED)
    local t = tracker(p, {nodes = {node("robot-1", {})}})
    t:observe{type = "ADDED", object = event(p, "Normal", "NotTriggerScaleUp",
                                             "pod didn't trigger scale-up: 1 node(s) were unschedulable")}
    local v = judge(t, p)
    assert.are.equal("failed", v.state)
    assert.are.equal("NotTriggerScaleUp", v.reasons[1])
    assert.truthy(v.message:find("the cluster autoscaler will not add a node for it (NotTriggerScaleUp: " ..
                                 "pod didn't trigger scale-up", 1, true), v.message)
  end)

  it("wait for a triggered scale-up even when no node has the label yet, within the grace", function()
    local p = unschedulable("p", {nodeSelector = {gpu = "true"}}, NO_MATCH)
    local t, advance = tracker(p, {unschedulable_grace = 60, nodes = {node("robot-1", {})}})
    local scale = "pod triggered scale-up: [{gpu-pool 0->1 (max: 3)}]"
    t:observe{type = "ADDED", object = event(p, "Normal", "TriggeredScaleUp", scale)}
    local v = judge(t, p)
    assert.are.equal("progressing", v.state)
    assert.truthy(v.message:find("waiting for a node (autoscaler: TriggeredScaleUp: " .. scale, 1, true), v.message)
    advance(60)
    v = judge(t, p)
    assert.are.equal("failed", v.state)
    assert.truthy(v.message:find("although the cluster autoscaler said TriggeredScaleUp", 1, true), v.message)
  end)

  it("fail at once for a claim that does not exist", function()
    local p = unschedulable("p", {}, '0/1 nodes are available: persistentvolumeclaim "maps" not found.')
    local v = judge(tracker(p), p)
    assert.are.equal("failed", v.state)
  end)
end)
