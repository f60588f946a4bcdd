-- rigelk8s.rosgraph: is the ROS graph up? Pods can all be Ready while the ROS nodes cannot
-- see each other; this module asks the ROS 1 master itself.
--
--   local rosgraph = require "rigelk8s.rosgraph"
--   local g, err = rosgraph.graph(client, {namespace = "ns"})  -- the live graph, or nil, err
--   local problems = rosgraph.check(g, want)                   -- {} when the graph holds
--   local r = rosgraph.wait(client, want, {namespace, timeout, interval, on_check})
--   print(rosgraph.text(g))                                    -- for people
--
-- The master is reached through the API server's service proxy,
-- POST /api/v1/namespaces/NS/services/ros-master:11311/proxy/ with an XML-RPC body
-- (text/xml): no exec, no port-forward, nothing extra in the cluster. The caller needs
-- RBAC permission to create services/proxy in the namespace.
--
-- graph: {master = "ros-master:11311", namespace, nodes = {"/a", ...} (sorted),
--         topics = {["/t"] = {type = "std_msgs/String" | nil, publishers = {...},
--                             subscribers = {...}}},
--         services = {["/s"] = {providers = {...}}}}
-- want (the Rigelfile's ros_graph, normalized by schema.lua): {nodes = {...},
--         topics = {["/t"] = {publishers = N, subscribers = N}}, services = {...},
--         timeout = seconds, service = "ros-master", port = 11311,
--         on_unavailable = "job" | "fail" | "skip"}. Counts are minimums.
--
-- Errors are rigelk8s.errors values with reason "Forbidden" (the proxy is refused: RBAC),
-- "MasterUnavailable" (no Service, no endpoints, connection refused, a master that does
-- not answer XML-RPC) or "MasterError" (the master answered with an error code).
local errors = require "rigelk8s.errors"
local xmlrpc = require "rigelk8s.xmlrpc"
local sys = require "rigelk8s.sys"

local M = {}

M.CALLER_ID = "/rigelk8s"
M.DEFAULT_TIMEOUT = 60
-- The master has no watch: the gate polls. 0.2 s keeps the gate under a second after the
-- last node registers while costing the master one getSystemState per poll.
M.INTERVAL = 0.2

local function where(target)
  return string.format("%s:%s", target.service or "ros-master", tostring(target.port or 11311))
end

function M.proxy_path(namespace, service, port)
  return string.format("/api/v1/namespaces/%s/services/%s:%s/proxy/", namespace,
                       service or "ros-master", tostring(port or 11311))
end

local function permission_hint(ns)
  return string.format("the ROS graph check needs RBAC permission to create services/proxy " ..
    "in namespace %s (a Role rule: apiGroups [\"\"], resources [\"services/proxy\"], " ..
    "verbs [\"get\", \"create\"]); grant it, or set ros_graph.on_unavailable to job " ..
    "(check from a Job in the cluster, the default) or skip (deploy without the check)", ns)
end
M.permission_hint = permission_hint

-- call(client, target, method, params) -> the master's value (code 1), or nil, err.
-- target: {namespace, service, port}.
function M.call(client, target, method, params)
  local ns = target.namespace or client.namespace
  local path = M.proxy_path(ns, target.service, target.port)
  local body = xmlrpc.encode_call(method, params or {M.CALLER_ID})
  local answer, err = client:call{verb = "raw", method = "POST", path = path, body = body,
                                   content_type = "text/xml", text = true}
  local at = string.format("the ROS master %s in namespace %s (through the API server's service proxy)",
                           where(target), ns)
  if answer == nil then
    if err.code == 403 then
      return nil, errors.new{reason = "Forbidden", code = 403, exit_code = errors.EXIT.failed,
        message = string.format("cannot ask %s: the API server answered 403 Forbidden (%s); %s",
                                at, err.message, permission_hint(ns))}
    end
    if err.code == 401 or err.exit_code == errors.EXIT.unreachable and err.code == 0 then
      return nil, errors.new{reason = err.reason, code = err.code, exit_code = err.exit_code,
                             message = err.message}
    end
    local hint = ""
    if err.code == 404 then
      hint = string.format("; is the master deployed (deploy_ros_master: true)? Otherwise set " ..
                           "ros_graph.service and ros_graph.port to the Service in front of it")
    end
    return nil, errors.new{reason = "MasterUnavailable", code = err.code, exit_code = errors.EXIT.failed,
      message = string.format("%s did not answer: %s%s", at, err.message, hint)}
  end
  local v, derr = xmlrpc.decode_response(answer)
  if v == nil then
    return nil, errors.new{reason = "MasterUnavailable", exit_code = errors.EXIT.failed,
      message = string.format("%s: %s answered something that is not the ROS Master API: %s",
                              method, at, derr.message)}
  end
  if type(v) ~= "table" or math.type(v[1]) ~= "integer" then
    return nil, errors.new{reason = "MasterUnavailable", exit_code = errors.EXIT.failed,
      message = string.format("%s: %s answered without the [code, statusMessage, value] of the ROS Master API",
                              method, at)}
  end
  if v[1] ~= 1 then
    return nil, errors.new{reason = "MasterError", code = v[1], exit_code = errors.EXIT.failed,
      message = string.format("%s: %s answered code %d: %s", method, at, v[1], tostring(v[2]))}
  end
  return v[3]
end

local function sorted_keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

local function sorted_set(set)
  local out = sorted_keys(set)
  return out
end

-- graph(client, cfg) -> the live graph, or nil, err. cfg: namespace, service, port, and
-- nodes (names to look up with lookupNode when the system state does not list them: a
-- node that neither publishes, subscribes nor serves), types (also ask
-- getPublishedTopics for the message types).
function M.graph(client, cfg)
  cfg = cfg or {}
  local target = {namespace = cfg.namespace or client.namespace, service = cfg.service, port = cfg.port}
  local state, err = M.call(client, target, "getSystemState", {M.CALLER_ID})
  if state == nil then return nil, err end
  if type(state) ~= "table" or #state < 3 then
    return nil, errors.new{reason = "MasterUnavailable", exit_code = errors.EXIT.failed,
      message = "getSystemState: the ROS master answered without [publishers, subscribers, services]"}
  end
  local nodes, topics, services = {}, {}, {}
  local function topic(name)
    topics[name] = topics[name] or {publishers = {}, subscribers = {}}
    return topics[name]
  end
  for i, role in ipairs{"publishers", "subscribers"} do
    for _, entry in ipairs(state[i]) do
      local t = topic(entry[1])
      for _, n in ipairs(entry[2] or {}) do
        t[role][#t[role] + 1] = n
        nodes[n] = true
      end
      table.sort(t[role])
    end
  end
  for _, entry in ipairs(state[3]) do
    local providers = {}
    for _, n in ipairs(entry[2] or {}) do
      providers[#providers + 1] = n
      nodes[n] = true
    end
    table.sort(providers)
    services[entry[1]] = {providers = providers}
  end
  for _, n in ipairs(cfg.nodes or {}) do
    if not nodes[n] then
      local uri = M.call(client, target, "lookupNode", {M.CALLER_ID, n})
      if uri then nodes[n] = true end
    end
  end
  if cfg.types then
    local published = M.call(client, target, "getPublishedTopics", {M.CALLER_ID, ""})
    for _, entry in ipairs(published or {}) do
      if topics[entry[1]] then topics[entry[1]].type = entry[2] end
    end
  end
  return {master = where(target), namespace = target.namespace, nodes = sorted_set(nodes),
          topics = topics, services = services}
end

local function count(n, one, many)
  return string.format("%d %s", n, n == 1 and one or many)
end

-- check(graph, want) -> the list of what is missing, as phrases ({} when the graph holds).
function M.check(g, want)
  local problems = {}
  local have = {}
  for _, n in ipairs(g.nodes) do have[n] = true end
  for _, n in ipairs(want.nodes or {}) do
    if not have[n] then problems[#problems + 1] = string.format("node %s is not registered", n) end
  end
  for _, name in ipairs(sorted_keys(want.topics or {})) do
    local w = want.topics[name]
    local t = g.topics[name] or {publishers = {}, subscribers = {}}
    local np, ns = #t.publishers, #t.subscribers
    local wp, ws = w.publishers or 0, w.subscribers or 0
    if np < wp or ns < ws then
      local short = {}
      if np < wp then short[#short + 1] = string.format("at least %s", count(wp, "publisher", "publishers")) end
      if ns < ws then short[#short + 1] = string.format("at least %s", count(ws, "subscriber", "subscribers")) end
      problems[#problems + 1] = string.format("topic %s has %s and %s (wants %s)", name,
        count(np, "publisher", "publishers"), count(ns, "subscriber", "subscribers"),
        table.concat(short, " and "))
    end
  end
  for _, s in ipairs(want.services or {}) do
    if not g.services[s] then problems[#problems + 1] = string.format("service %s is not advertised", s) end
  end
  return problems
end

-- wait(client, want, opts) -> result, polling until the graph holds or the time is up:
-- {state = "ready" | "incomplete" | "forbidden" | "unavailable" | "interrupted",
--  graph (the last one seen), problems, error (the last error), elapsed, checks, message}.
-- opts: namespace, timeout (seconds; default want.timeout), interval, on_check(graph|nil, err),
-- timeout_label (how the message names the time limit; default "ros_graph.timeout Ns").
-- A 403 ends the wait at once: it will not go away by waiting.
function M.wait(client, want, opts)
  opts = opts or {}
  local t0 = sys.now()
  local timeout = opts.timeout or want.timeout or M.DEFAULT_TIMEOUT
  local interval = opts.interval or M.INTERVAL
  local cfg = {namespace = opts.namespace, service = want.service, port = want.port, nodes = want.nodes}
  local r = {checks = 0}
  while true do
    local g, err = M.graph(client, cfg)
    r.checks = r.checks + 1
    if opts.on_check then opts.on_check(g, err) end
    if g then
      r.graph, r.error = g, nil
      r.problems = M.check(g, want)
      if #r.problems == 0 then r.state = "ready"; break end
      r.state = "incomplete"
    else
      r.error = err
      if err.reason == "Forbidden" then r.state = "forbidden"; break end
      if err.reason ~= "MasterUnavailable" and err.reason ~= "MasterError" then
        r.state = "unavailable"; break -- the API server itself: auth, TLS, unreachable
      end
      r.state = "unavailable"
    end
    if sys.interrupted() then r.state = "interrupted"; break end
    if sys.now() - t0 + interval > timeout then break end
    sys.sleep(interval)
    if sys.interrupted() then r.state = "interrupted"; break end
  end
  r.elapsed = sys.now() - t0
  r.message = M.describe(r, timeout, opts.timeout_label)
  return r
end

-- The diagnosis of a wait result, in one paragraph.
function M.describe(r, timeout, label)
  if r.state == "ready" then
    return string.format("the ROS graph holds (%s, checked in %.1fs)", r.graph and r.graph.master or "?",
                         r.elapsed or 0)
  end
  if r.state == "forbidden" then return r.error.message end
  if r.state == "interrupted" then return "interrupted while checking the ROS graph" end
  local parts = {}
  if r.problems and #r.problems > 0 and not r.error then
    parts[#parts + 1] = "pods are Ready but the ROS graph is incomplete: " .. table.concat(r.problems, "; ")
  elseif r.problems and #r.problems > 0 then
    parts[#parts + 1] = "pods are Ready but the ROS graph was incomplete at the last answer: " ..
                        table.concat(r.problems, "; ")
  end
  if r.error then
    parts[#parts + 1] = (#parts == 0 and "pods are Ready but the ROS graph could not be checked: " or "then ") ..
                        r.error.message
  end
  return table.concat(parts, "; ") ..
         string.format(" (waited %.1fs of %s)", r.elapsed or 0,
                       label or string.format("ros_graph.timeout %gs", timeout or 0))
end

-- The graph as a plain document (JSON output): lists, not sets.
function M.document(g)
  local rigelk8s = require "rigelk8s"
  local topics, services = rigelk8s.array{}, rigelk8s.array{}
  for _, name in ipairs(sorted_keys(g.topics)) do
    local t = g.topics[name]
    topics[#topics + 1] = {name = name, type = t.type or rigelk8s.null,
                           publishers = rigelk8s.array(t.publishers), subscribers = rigelk8s.array(t.subscribers)}
  end
  for _, name in ipairs(sorted_keys(g.services)) do
    services[#services + 1] = {name = name, providers = rigelk8s.array(g.services[name].providers)}
  end
  return {master = g.master, namespace = g.namespace, nodes = rigelk8s.array(g.nodes),
          topics = topics, services = services}
end

-- The graph for people: nodes, topics with publisher and subscriber counts, services.
function M.text(g)
  local from = g.master:match("^check Job") and g.master or ("master " .. g.master)
  local lines = {string.format("ROS graph (%s in namespace %s):", from, g.namespace)}
  lines[#lines + 1] = string.format("  nodes (%d):", #g.nodes)
  for _, n in ipairs(g.nodes) do lines[#lines + 1] = "    " .. n end
  local names = sorted_keys(g.topics)
  lines[#lines + 1] = string.format("  topics (%d):", #names)
  for _, name in ipairs(names) do
    local t = g.topics[name]
    lines[#lines + 1] = string.format("    %s%s  %s, %s", name, t.type and (" [" .. t.type .. "]") or "",
      count(#t.publishers, "publisher", "publishers"), count(#t.subscribers, "subscriber", "subscribers"))
  end
  names = sorted_keys(g.services)
  lines[#lines + 1] = string.format("  services (%d):", #names)
  for _, name in ipairs(names) do
    lines[#lines + 1] = string.format("    %s  (%s)", name, table.concat(g.services[name].providers, ", "))
  end
  return table.concat(lines, "\n")
end

return M
