-- rollout.wait right after an undo, fed watch events in the order a real kube-apiserver
-- 1.19 with its controller manager wrote them (../shared/apiserver-transcripts/
-- 06-deployment-failed-rollout-undo.json, the timeline after the undo; 05 for a plain
-- image change). The Deployment's generation is ahead of observedGeneration, its
-- revision annotation and Progressing condition still describe the crashing rollout it
-- was rolled back from, and the crashing pod is still there: the wait must follow the
-- rollback until Ready, not fail on what it just left.
local rollout = require "rigelk8s.rollout"
local sys = require "rigelk8s.sys"

local function copy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = copy(x) end
  return c
end

-- The templates as the server stores them (defaulted), good and crashing.
local function template(image, hash)
  local labels = {app = "ros"}
  if hash then labels["pod-template-hash"] = hash end
  return {metadata = {labels = labels},
          spec = {containers = {{name = "ros", image = image, imagePullPolicy = "IfNotPresent",
                                 terminationMessagePath = "/dev/termination-log", resources = {}}},
                  restartPolicy = "Always", dnsPolicy = "ClusterFirst", securityContext = {}}}
end
local GOOD, CRASH = "example/ros:good", "example/ros:crash"

local function condition(ctype, status, reason, message)
  return {type = ctype, status = status, reason = reason, message = message}
end
local AVAILABLE = condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")

-- A Deployment row of the timeline: generation, observedGeneration, revision, counts.
local function deploy(gen, observed, rev, image, st, progressing)
  return {apiVersion = "apps/v1", kind = "Deployment",
          metadata = {name = "ros", namespace = "ns", uid = "d-1", generation = gen,
                      annotations = {["deployment.kubernetes.io/revision"] = rev}},
          spec = {replicas = 1, selector = {matchLabels = {app = "ros"}}, template = template(image)},
          status = {observedGeneration = observed, replicas = st[1], updatedReplicas = st[2],
                    readyReplicas = st[3], availableReplicas = st[3],
                    conditions = {AVAILABLE, progressing}}}
end

local function rs(hash, rev, image, spec_replicas, replicas, ready, created)
  return {apiVersion = "apps/v1", kind = "ReplicaSet",
          metadata = {name = "ros-" .. hash, namespace = "ns", uid = "rs-" .. hash, creationTimestamp = created,
                      annotations = {["deployment.kubernetes.io/revision"] = rev},
                      labels = {app = "ros", ["pod-template-hash"] = hash},
                      ownerReferences = {{uid = "d-1", kind = "Deployment", name = "ros", controller = true}}},
          spec = {replicas = spec_replicas, template = template(image, hash)},
          status = {replicas = replicas, readyReplicas = ready, availableReplicas = ready}}
end

local function pod(hash, sfx, image, state)
  local p = {apiVersion = "v1", kind = "Pod",
             metadata = {name = "ros-" .. hash .. "-" .. sfx, namespace = "ns", uid = "p-" .. hash,
                         labels = {app = "ros", ["pod-template-hash"] = hash},
                         ownerReferences = {{uid = "rs-" .. hash, kind = "ReplicaSet", name = "ros-" .. hash,
                                             controller = true}}},
             spec = {nodeName = "node-1", containers = {{name = "ros", image = image}}}}
  if state == "ready" then
    p.status = {phase = "Running", conditions = {{type = "Ready", status = "True"}},
                containerStatuses = {{name = "ros", ready = true, restartCount = 0, image = image,
                                      state = {running = {startedAt = "2020-01-01T00:00:00Z"}}}}}
  elseif state == "pending" then
    p.status = {phase = "Pending"}
  else
    p.status = {phase = "Running", conditions = {{type = "Ready", status = "False"}},
                containerStatuses = {{name = "ros", ready = false, restartCount = 3, image = image,
                                      state = {waiting = {reason = "CrashLoopBackOff",
                                                          message = "back-off 40s restarting failed container"}},
                                      lastState = {terminated = {exitCode = 1, reason = "Error"}}}}}
  end
  return p
end

local function backoff_event(hash)
  return {apiVersion = "v1", kind = "Event", metadata = {name = "ev-" .. hash, namespace = "ns", uid = "e-" .. hash},
          involvedObject = {kind = "Pod", uid = "p-" .. hash, name = "ros-" .. hash},
          type = "Warning", reason = "BackOff", message = "Back-off restarting failed container", count = 3}
end

local TIMED_OUT = condition("Progressing", "False", "ProgressDeadlineExceeded",
                            'ReplicaSet "ros-h2" has timed out progressing.')
local H1_DONE = condition("Progressing", "True", "NewReplicaSetAvailable",
                          'ReplicaSet "ros-h1" has successfully progressed.')
local H1_OLD = "2020-01-01T00:00:00Z"
local H2_NEW = "2020-01-01T00:01:00Z"

-- A client whose watch set hands out the scripted events one arrival at a time (a
-- poll with timeout 0 finds nothing new, as when the next event is still on its way).
local function scripted_client(events)
  local i, adds = 0, {}
  local ws = {}
  function ws:add(_, name) adds[#adds + 1] = name; return #adds end
  function ws:next(timeout)
    if timeout == 0 then return nil end
    i = i + 1
    local ev = events[i]
    if not ev then
      sys.sleep(math.min(timeout, 0.05))
      return nil
    end
    return {type = ev[1], object = ev[2], watch = ev[2].kind}
  end
  function ws:close() end
  local c = {}
  function c:watch_set() return ws end
  function c:try_get() return nil end
  return c, function() return i end
end

local function run(events, target, timeout)
  local c, consumed = scripted_client(events)
  local seen = {}
  local result = rollout.wait(c, {target}, {timeout = timeout or 3, settle = 0, event_grace = 0,
                                            on_progress = function(rows)
                                              seen[#seen + 1] = {state = rows[1].state, short = rows[1].short}
                                            end})
  return result, seen, consumed()
end

-- Transcript 06, after the undo patch (revision 1's template back; the crashing
-- ReplicaSet ros-h2 still owns the revision annotation and the Progressing condition).
local function undo_timeline()
  local crash_pod = pod("h2", "s2", CRASH, "crash")
  local deleting = copy(crash_pod)
  deleting.metadata.deletionTimestamp = "2020-01-01T00:02:00Z"
  return {
    -- What the watches list first: the state right after the undo.
    {"ADDED", deploy(3, 2, "2", GOOD, {2, 1, 1}, TIMED_OUT)},
    {"ADDED", rs("h1", "1", GOOD, 1, 1, 1, H1_OLD)},
    {"ADDED", rs("h2", "2", CRASH, 1, 1, 0, H2_NEW)},
    {"ADDED", pod("h1", "s1", GOOD, "ready")},
    {"ADDED", crash_pod},
    {"ADDED", backoff_event("h2")},
    -- Then the rows in resourceVersion order.
    {"MODIFIED", rs("h1", "3", GOOD, 1, 1, 1, H1_OLD)},
    {"MODIFIED", deploy(3, 2, "3", GOOD, {2, 1, 1}, TIMED_OUT)},
    {"MODIFIED", rs("h2", "2", CRASH, 0, 1, 0, H2_NEW)},
    {"MODIFIED", deleting},
    {"MODIFIED", deploy(3, 3, "3", GOOD, {2, 1, 1}, TIMED_OUT)},
    {"MODIFIED", rs("h2", "2", CRASH, 0, 0, 0, H2_NEW)},
    {"MODIFIED", deploy(3, 3, "3", GOOD, {1, 1, 1}, H1_DONE)},
    {"DELETED", deleting},
  }
end

describe("rollout.wait after an undo (transcript 06 order)", function()
  it("does not fail on the crashing pods it rolls back from, and follows the rollback until Ready", function()
    local events = undo_timeline()
    local result, seen, consumed = run(events, deploy(3, 2, "2", GOOD, {2, 1, 1}, TIMED_OUT))
    assert.are.equal("ready", result.state, result.diagnosis)
    -- Ready only with the last Deployment row (NewReplicaSetAvailable), not earlier.
    assert.are.equal(#events - 1, consumed)
    for _, s in ipairs(seen) do assert.are_not.equal("failed", s.state, s.short) end
    assert.are.equal("waiting for the object to appear", seen[1].short)  -- before the first event
    assert.are.equal("waiting for the controller to see the change", seen[2].short)
  end)

  it("judges the ReplicaSet whose template matches, not the one the revision annotation names", function()
    local t = rollout.tracker{deploy(3, 2, "2", GOOD, {2, 1, 1}, TIMED_OUT)}
    for i = 1, 6 do t:observe{type = "ADDED", object = undo_timeline()[i][2]} end
    local d = t.cache["Deployment/ns/ros"]
    assert.are.equal("ros-h1", t:new_replicaset(d).metadata.name)
    local pods = t:current_pods(d)
    assert.are.equal(1, #pods)
    assert.are.equal("ros-h1-s1", pods[1].metadata.name)
    -- Once the controller has seen the spec, the ProgressDeadlineExceeded condition that
    -- names ros-h2 is the old rollout's and fails nothing.
    t:observe{type = "MODIFIED", object = deploy(3, 3, "3", GOOD, {2, 1, 1}, TIMED_OUT)}
    local row = t:verdict().rows[1]
    assert.are.equal("progressing", row.state)
    assert.truthy(row.message:find("ros-h2", 1, true))
  end)

  it("still fails when the deadline is exceeded by the ReplicaSet now rolled out", function()
    local t = rollout.tracker{deploy(2, 2, "2", CRASH, {2, 1, 1}, TIMED_OUT)}
    for _, o in ipairs{deploy(2, 2, "2", CRASH, {2, 1, 1}, TIMED_OUT), rs("h1", "1", GOOD, 1, 1, 1, H1_OLD),
                       rs("h2", "2", CRASH, 1, 1, 0, H2_NEW)} do
      t:observe{type = "ADDED", object = o}
    end
    local v = t:verdict()
    assert.are.equal("failed", v.rows[1].state)
    assert.are.equal("ProgressDeadlineExceeded", v.failed.reasons[1])
  end)
end)

describe("rollout.wait on an image change (transcript 06, before the undo)", function()
  it("diagnoses the new ReplicaSet's crash loop once the controller has seen the change", function()
    local events = {
      {"ADDED", deploy(2, 1, "1", CRASH, {1, 1, 1}, H1_DONE)},
      {"ADDED", rs("h1", "1", GOOD, 1, 1, 1, H1_OLD)},
      {"ADDED", pod("h1", "s1", GOOD, "ready")},
      {"ADDED", rs("h2", "2", CRASH, 0, 0, 0, H2_NEW)},
      {"MODIFIED", deploy(2, 1, "2", CRASH, {1, 1, 1}, H1_DONE)},
      {"ADDED", pod("h2", "s2", CRASH, "pending")},
      {"MODIFIED", deploy(2, 2, "2", CRASH, {1, 0, 1}, H1_DONE)},
      {"MODIFIED", rs("h2", "2", CRASH, 1, 1, 0, H2_NEW)},
      {"MODIFIED", deploy(2, 2, "2", CRASH, {2, 1, 1}, H1_DONE)},
      {"MODIFIED", pod("h2", "s2", CRASH, "crash")},
      {"ADDED", backoff_event("h2")},
      {"MODIFIED", deploy(2, 2, "2", CRASH, {2, 1, 1}, TIMED_OUT)},
    }
    local result, _, consumed = run(events, deploy(2, 1, "1", CRASH, {1, 1, 1}, H1_DONE))
    assert.are.equal("failed", result.state)
    assert.truthy(result.diagnosis:find("CrashLoopBackOff", 1, true), result.diagnosis)
    -- As soon as the crash shows, long before the deadline condition.
    assert.is_true(consumed <= 11, tostring(consumed))
  end)
end)

describe("StatefulSets and DaemonSets right after a change", function()
  local function sts(gen, observed, update_rev)
    return {apiVersion = "apps/v1", kind = "StatefulSet",
            metadata = {name = "db", namespace = "ns", uid = "s-1", generation = gen},
            spec = {replicas = 1},
            status = {observedGeneration = observed, replicas = 1, readyReplicas = 0, updatedReplicas = 0,
                      currentRevision = "db-old", updateRevision = update_rev}}
  end
  local function owned_pod(owner, name, labels, state)
    local p = pod("x", name, "img", state)
    p.metadata.name, p.metadata.uid, p.metadata.labels = name, "p-" .. name, labels
    p.metadata.ownerReferences = {{uid = owner, kind = "X", name = "x", controller = true}}
    return p
  end

  it("a StatefulSet is not failed by its updateRevision's pods before the controller saw the spec", function()
    local t = rollout.tracker{sts(3, 2, "db-crash")}
    t:observe{type = "ADDED", object = sts(3, 2, "db-crash")}
    t:observe{type = "ADDED", object = owned_pod("s-1", "db-0", {["controller-revision-hash"] = "db-crash"}, "crash")}
    assert.are.equal("progressing", t:verdict().rows[1].state)
    assert.are.equal("waiting for the controller to see the change", t:verdict().rows[1].short)
    -- Seen, and the update revision's pod crashes: that is a failure.
    t:observe{type = "MODIFIED", object = sts(3, 3, "db-crash")}
    assert.are.equal("failed", t:verdict().rows[1].state)
  end)

  it("a DaemonSet judges the pods of its current template generation only", function()
    local ds = {apiVersion = "apps/v1", kind = "DaemonSet",
                metadata = {name = "agent", namespace = "ns", uid = "ds-1", generation = 4},
                spec = {}, status = {observedGeneration = 4, desiredNumberScheduled = 2, updatedNumberScheduled = 1,
                                     numberAvailable = 1, numberReady = 1}}
    local t = rollout.tracker{ds}
    t:observe{type = "ADDED", object = ds}
    t:observe{type = "ADDED", object = owned_pod("ds-1", "agent-a", {["pod-template-generation"] = "3"}, "crash")}
    t:observe{type = "ADDED", object = owned_pod("ds-1", "agent-b", {["pod-template-generation"] = "4"}, "ready")}
    assert.are.equal("progressing", t:verdict().rows[1].state)
    t:observe{type = "ADDED", object = owned_pod("ds-1", "agent-c", {["pod-template-generation"] = "4"}, "crash")}
    assert.are.equal("failed", t:verdict().rows[1].state)
  end)
end)
