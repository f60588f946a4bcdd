-- rigelk8s.rosgraph_job: the graph gate from inside the cluster. ROS 2 has no master to ask,
-- and a ROS 1 master may sit behind a service proxy the user may not use (403), so a
-- short-lived Job runs the application's own image with the application's ROS env: it
-- joins the graph (ROS 2: a discovery-server super client with Fast DDS, a unicast peer
-- with CycloneDDS; ROS 1: asks the master at ROS_MASTER_URI with rosgraph.Master), waits
-- until the wanted graph holds or its time is up, and prints the graph as one line of JSON,
-- which rigelk8s reads from the pod's log. The Job removes itself (ttlSecondsAfterFinished).
--
--   local graphjob = require "rigelk8s.rosgraph_job"
--   local job = graphjob.job(cfg, want, {name = ..., timeout = ...})   -- the manifest
--   local g, err = graphjob.parse(log_text)        -- the graph (as rosgraph.graph's) or nil, err
--   local r = graphjob.wait(client, cfg, want, {timeout})  -- like rosgraph.wait's result
local errors = require "rigelk8s.errors"
local sys = require "rigelk8s.sys"

local M = {}

M.MARKER = "RIGELK8S_ROS_GRAPH "
M.CONTAINER = "ros-graph-check"
M.TTL_SECONDS = 120
M.NODE_NAME = "rigelk8s_graph_check"

-- Runs in the application's image (rclpy and the configured RMW are there).
-- The check both scripts make: does graph g hold what the Rigelfile wants (python, shared
-- by the ROS 1 and ROS 2 scripts; `want` is a global of each).
local HOLDS = [=[
def holds(g):
    have = set(g["nodes"])
    if any(n not in have for n in want.get("nodes", [])):
        return False
    by = {t["name"]: t for t in g["topics"]}
    for name, w in (want.get("topics") or {}).items():
        t = by.get(name, {"publishers": [], "subscribers": []})
        if len(t["publishers"]) < w.get("publishers", 0) or len(t["subscribers"]) < w.get("subscribers", 0):
            return False
    svc = set(s["name"] for s in g["services"])
    return all(s in svc for s in want.get("services", []))
]=]

M.SCRIPT = [=[
import json, os, time
import rclpy
from rclpy.node import Node
ME = "rigelk8s_graph_check"
want = json.loads(os.environ.get("RIGELK8S_WANT") or "{}")
deadline = time.monotonic() + float(os.environ.get("RIGELK8S_TIMEOUT") or "60")
settled = time.monotonic() + float(os.environ.get("RIGELK8S_SETTLE") or "0")
rclpy.init()
node = Node(ME)
def full(ns, n):
    return "/" + n if ns in ("", "/") else ns.rstrip("/") + "/" + n
def graph():
    names = [(n, ns) for n, ns in node.get_node_names_and_namespaces() if n != ME]
    topics = []
    for name, types in node.get_topic_names_and_types():
        pubs = sorted(full(i.node_namespace, i.node_name) for i in node.get_publishers_info_by_topic(name))
        subs = sorted(full(i.node_namespace, i.node_name) for i in node.get_subscriptions_info_by_topic(name)
                      if i.node_name != ME)
        topics.append({"name": name, "type": types[0] if types else None, "publishers": pubs, "subscribers": subs})
    services = {}
    for n, ns in names:
        try:
            for s, _ in node.get_service_names_and_types_by_node(n, ns):
                services.setdefault(s, []).append(full(ns, n))
        except Exception:
            pass
    return {"nodes": sorted(set(full(ns, n) for n, ns in names)), "topics": topics,
            "services": [{"name": s, "providers": sorted(p)} for s, p in sorted(services.items())]}
]=] .. HOLDS .. [=[while True:
    rclpy.spin_once(node, timeout_sec=0.2)
    g = graph()
    if (holds(g) and time.monotonic() >= settled) or time.monotonic() > deadline:
        break
print("RIGELK8S_ROS_GRAPH " + json.dumps(g, sort_keys=True), flush=True)
node.destroy_node()
rclpy.shutdown()
]=]

-- The ROS 1 script: the master's own client library (rosgraph.Master), as in the image.
M.SCRIPT_ROS1 = [=[
import json, os, time
import rosgraph
want = json.loads(os.environ.get("RIGELK8S_WANT") or "{}")
deadline = time.monotonic() + float(os.environ.get("RIGELK8S_TIMEOUT") or "60")
settled = time.monotonic() + float(os.environ.get("RIGELK8S_SETTLE") or "0")
master = rosgraph.Master("/rigelk8s_graph_check")
def graph():
    pubs, subs, srvs = master.getSystemState()
    nodes, topics = set(), {}
    for role, entries in (("publishers", pubs), ("subscribers", subs)):
        for name, who in entries:
            topics.setdefault(name, {"name": name, "type": None, "publishers": [], "subscribers": []})[role] = sorted(who)
            nodes.update(who)
    services = []
    for name, who in srvs:
        services.append({"name": name, "providers": sorted(who)})
        nodes.update(who)
    for n in want.get("nodes", []):
        if n not in nodes:
            try:
                master.lookupNode(n)
                nodes.add(n)
            except rosgraph.MasterError:
                pass
    for name, typ in master.getTopicTypes():
        if name in topics:
            topics[name]["type"] = typ
    return {"nodes": sorted(nodes), "topics": [topics[k] for k in sorted(topics)],
            "services": sorted(services, key=lambda s: s["name"])}
]=] .. HOLDS .. [=[while True:
    try:
        g = graph()
        if (holds(g) and time.monotonic() >= settled) or time.monotonic() > deadline:
            break
    except OSError:
        if time.monotonic() > deadline:
            raise
    time.sleep(0.2)
print("RIGELK8S_ROS_GRAPH " + json.dumps(g, sort_keys=True), flush=True)
]=]

-- The check Job's name: unique per run, so a new check never meets the last one's Job.
function M.job_name(cfg)
  local base = cfg.deployment_name:sub(1, 40)
  return string.format("%s-graph-check-%x", base, math.floor(sys.wall() * 1000) % 0x10000000)
end

-- The Job manifest. opts: name, timeout (seconds the Job waits for the graph), settle
-- (seconds it watches before its first verdict: discovery takes a moment; 0 for the gate,
-- which knows what to wait for).
function M.job(cfg, want, opts)
  local rigelk8s = require "rigelk8s"
  local json = require "rigelk8s.json"
  local ros = require "rigelk8s.ros"
  local net = require("rigelk8s.ros2net")
  opts = opts or {}
  local name = opts.name or M.job_name(cfg)
  local ros1 = cfg.ros_version ~= "ros2"
  local env = {}
  for _, e in ipairs(ros.ros_env(cfg)) do
    if e.name ~= "ROS_SUPER_CLIENT" then env[#env + 1] = e end
  end
  if not ros1 and net.options(cfg).rmw == "fastdds" and cfg.deploy_ros_master then
    -- Only a super client learns about every participant from the discovery server.
    env[#env + 1] = {name = "ROS_SUPER_CLIENT", value = "true"}
  end
  local wanted = {nodes = rigelk8s.array(want.nodes or {}), services = rigelk8s.array(want.services or {}),
                  topics = want.topics or {}}
  env[#env + 1] = {name = "RIGELK8S_WANT", value = json.encode(wanted)}
  env[#env + 1] = {name = "RIGELK8S_TIMEOUT", value = string.format("%d", math.ceil(opts.timeout or 60))}
  if opts.settle then
    env[#env + 1] = {name = "RIGELK8S_SETTLE", value = string.format("%g", opts.settle)}
  end
  env[#env + 1] = {name = "RIGELK8S_SCRIPT", value = ros1 and M.SCRIPT_ROS1 or M.SCRIPT}
  local pod_net = ros1 and {volumes = {}, mounts = {}} or net.pod(cfg)
  local container = {
    name = M.CONTAINER, image = cfg.application_image,
    command = rigelk8s.array{"bash", "-c",
      string.format("source /opt/ros/%s/setup.bash && exec python3 -c \"$RIGELK8S_SCRIPT\"", cfg.distro)},
    env = rigelk8s.array(env),
  }
  if #pod_net.mounts > 0 then container.volumeMounts = rigelk8s.array(pod_net.mounts) end
  local labels = {["app.kubernetes.io/name"] = "ros-graph-check",
                  ["app.kubernetes.io/part-of"] = cfg.deployment_name,
                  ["app.kubernetes.io/managed-by"] = "rigelk8s"}
  local spec = {restartPolicy = "Never", containers = rigelk8s.array{container}}
  if #pod_net.volumes > 0 then spec.volumes = rigelk8s.array(pod_net.volumes) end
  return {
    apiVersion = "batch/v1", kind = "Job",
    metadata = {name = name, namespace = cfg.namespace, labels = labels},
    spec = {
      backoffLimit = 0,
      ttlSecondsAfterFinished = M.TTL_SECONDS,
      activeDeadlineSeconds = math.ceil(opts.timeout or 60) + 60,
      template = {metadata = {labels = labels}, spec = spec},
    },
  }
end

-- parse(log) -> graph ({nodes, topics = {[name] = {type, publishers, subscribers}},
-- services = {[name] = {providers}}}), or nil, message. The last marker line counts.
function M.parse(text)
  local json = require "rigelk8s.json"
  local line
  for l in (text or ""):gmatch("[^\n]+") do
    local at = l:find(M.MARKER, 1, true)
    if at then line = l:sub(at + #M.MARKER) end
  end
  if not line then
    return nil, "the check Job printed no " .. M.MARKER:sub(1, -2) .. " line"
  end
  local ok, doc = pcall(json.decode, line)
  if not ok or type(doc) ~= "table" or type(doc.nodes) ~= "table" or type(doc.topics) ~= "table" then
    return nil, "the check Job's " .. M.MARKER:sub(1, -2) .. " line is not the expected JSON: " ..
                (ok and "nodes/topics missing" or tostring(doc))
  end
  local g = {nodes = {}, topics = {}, services = {}}
  for _, n in ipairs(doc.nodes) do g.nodes[#g.nodes + 1] = n end
  table.sort(g.nodes)
  for _, t in ipairs(doc.topics) do
    g.topics[t.name] = {type = type(t.type) == "string" and t.type or nil,
                        publishers = t.publishers or {}, subscribers = t.subscribers or {}}
  end
  for _, s in ipairs(doc.services or {}) do g.services[s.name] = {providers = s.providers or {}} end
  return g
end

local function log_of(client, ns, job_name)
  local pods = client:list{apiVersion = "v1", kind = "Pod", namespace = ns, label_selector = "job-name=" .. job_name}
  if #pods == 0 then return nil, "the check Job has no pod" end
  local path = string.format("/api/v1/namespaces/%s/pods/%s/log?container=%s", ns, pods[1].metadata.name,
                             M.CONTAINER)
  local text, err = client:call{verb = "raw", method = "GET", path = path, text = true}
  if text == nil then return nil, "reading the check Job's log: " .. err.message end
  return text
end

-- opts: timeout, settle (see job()).
-- wait(client, cfg, want, opts) -> {state = "ready"|"incomplete"|"unavailable"|"interrupted",
-- graph, problems, error, elapsed, job}: runs the check Job and reads its verdict.
function M.wait(client, cfg, want, opts)
  opts = opts or {}
  local rosgraph = require "rigelk8s.rosgraph"
  local rollout = require "rigelk8s.rollout"
  local t0 = sys.now()
  local timeout = opts.timeout or want.timeout or 60
  local job = M.job(cfg, want, {timeout = timeout, settle = opts.settle})
  local r = {job = job.metadata.name, checks = 1}
  local function finish(state, message)
    r.state = state
    if message then r.error = errors.new{reason = "CheckJobFailed", message = message} end
    r.elapsed = sys.now() - t0
    r.message = rosgraph.describe(r, timeout, opts.timeout_label)
    return r
  end
  local _, aerr = client:try_apply(job, {force = true})
  if aerr then return finish("unavailable", "cannot create the ROS 2 graph check Job: " .. aerr.message) end
  -- The Job itself waits up to `timeout` for the graph; allow it time to start and print.
  local done = rollout.wait(client, {job}, {timeout = timeout + 60, fail_fast = true})
  if done.state == "interrupted" then return finish("interrupted") end
  local text, lerr = log_of(client, cfg.namespace, job.metadata.name)
  if done.state ~= "ready" then
    return finish("unavailable", string.format("the ROS 2 graph check Job %s did not succeed (%s): %s%s",
      job.metadata.name, done.state, done.diagnosis or "", text and ("\n  its log:\n" .. text) or ""))
  end
  if not text then return finish("unavailable", lerr) end
  local g, perr = M.parse(text)
  if not g then return finish("unavailable", string.format("%s (Job %s)", perr, job.metadata.name)) end
  g.master = "check Job " .. job.metadata.name
  g.namespace = cfg.namespace
  r.graph = g
  r.problems = rosgraph.check(g, want)
  return finish(#r.problems == 0 and "ready" or "incomplete")
end

return M
