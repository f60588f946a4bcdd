-- The orchestration job's schema (`jobs.NAME.with` of an orchestration job), the ros_graph
-- and ros2 parts of it, and the ROS distributions, built with rigelk8s.schema_validate.
-- The schema is documented for users at the top of rigelfile.lua; this is the
-- machine-readable copy. Use it through rigelk8s.schema:
--
--   local schema = require "rigelk8s.schema"
--   local cfg, problems = schema.validate(raw, schema.orchestration, "jobs.x.with.orchestration")
local S = require "rigelk8s.schema_validate"
local util = require "rigelk8s.util"

local M = {}

local check, show, child, to_text = S.check, S.show, S.child, S.to_text
local validate, bool_words = S.validate_at, S.BOOL_WORDS
local is_null = util.is_null
local function is_list(t) return util.is_list(t, "holes") end

-------------------------------------------------------------------------------------------
-- The orchestration job's schema
-------------------------------------------------------------------------------------------

M.ROS1_DISTROS = {"noetic", "melodic", "kinetic", "lunar", "indigo"}
M.ROS2_DISTROS = {"foxy", "galactic", "humble", "iron", "jazzy", "kilted", "rolling"}

local readiness = S.object({
  {"command", S.command{}},
  {"initial_delay_seconds", S.int{min = 0, default = 5}},
  {"period_seconds", S.int{min = 1, default = 10}},
  -- The Python plugin's meaning: the deadline of the whole readiness wait (--timeout wins).
  {"timeout_seconds", S.int{min = 1}},
  {"probe_timeout_seconds", S.int{min = 1, default = 1}},
  {"failure_threshold", S.int{min = 1, default = 3}},
  {"init_container", S.bool{}},
}, {example = "readiness: {command: VALUE}"})

local volume = S.object({
  {"name", S.name{required = true, max = 59, example = "data"}},
  {"size", S.quantity{required = true, positive = true, unit_required = true, example = "1Gi"}},
  {"storage_class", S.string{nonempty = true}},
  {"host_path", S.abspath{}},
  {"mount_path", S.abspath{no_colon = true}},
  {"access_mode", S.enum({"ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"},
                         {default = "ReadWriteOnce"})},
})

local persistent_storage = S.object({
  {"volumes", S.list(volume, {default = {}, unique = "name", example = "[{name: data, size: 1Gi}]"})},
})

local rolling_update = S.object({
  {"strategy", S.enum({"Rolling", "Recreate"}, {default = "Rolling",
                      aliases = {RollingUpdate = "Rolling"}})},
  {"max_surge", S.int_or_percent{default = 1}},
  {"max_unavailable", S.int_or_percent{default = 0}},
}, {check = function(ru, path, vx)
  if ru.strategy == "Rolling" and (ru.max_surge == 0 or ru.max_surge == "0%") and
      (ru.max_unavailable == 0 or ru.max_unavailable == "0%") then
    vx.problem(path .. ".max_surge", "max_surge and max_unavailable are both 0, so a rollout " ..
               "could never make progress; set max_surge: 1")
  end
end})

local resources = S.object({
  {"requests", S.map(S.quantity{})},
  {"limits", S.map(S.quantity{})},
})

local placement = {kind = "placement"}
function check.placement(v, ty, path, vx)
  if type(v) == "string" then
    return check.enum(v, {values = {"local", "remote"}}, path, vx)
  end
  if type(v) == "table" and not is_list(v) then
    return validate(v, S.map(S.string{}), path, vx)
  end
  vx.problem(path, string.format("expected local, remote or a nodeSelector map, got %s", show(v)))
end

local component = S.object({
  {"name", S.name{required = true, max = 63, example = "planner"}},
  {"readiness", readiness},
  {"volumes", S.list(S.name{})},
  {"image", S.image{}},
  {"placement", placement},
  {"replicas", S.int{min = 0, default = 1}},
  {"env", S.env{}},
  {"command", S.command{}},
  {"args", S.list(S.string{})},
  {"after", S.list(S.name{})},
  {"resources", resources},
})

local components = S.list(component, {unique = "name"})

local distributed = S.object({
  {"enabled", S.bool{default = false}},
  {"default_to_remote", S.bool{default = false}},
  {"force_local_flag", S.bool{default = false}},
  {"components", components},
})

-- The plugin's dict forms: `prometheus: {enabled: true, ...}`. Left out, a switch is on
-- when observability.enabled is (rigelfile.finish fills that in: enabled stays nil here).
local prometheus = S.bool_or(S.object({
  {"enabled", S.bool{}},
  {"retention", S.string{nonempty = true}},
  {"scrape_interval", S.string{nonempty = true}},
}), {unset = true})

local loki = S.bool_or(S.object({
  {"enabled", S.bool{}},
  {"retention", S.string{nonempty = true}},
}), {unset = true})

local grafana = S.bool_or(S.object({
  {"enabled", S.bool{}},
  {"default_dashboards", S.bool{default = false}},
  -- Secret-like: never printed; given to helm in a 0600 values file.
  {"admin_password", S.string{nonempty = true, secret = true}},
  {"admin_user", S.string{nonempty = true}},
}), {unset = true})

local observability = S.object({
  {"enabled", S.bool{default = false}},
  {"prometheus", prometheus},
  {"loki", loki},
  {"grafana", grafana},
  {"node_exporter", S.bool{default = false}},
  {"ros_metrics", S.bool{default = false}},
  {"metrics_port", S.int{min = 1, max = 65535, default = 9102}},
  {"metrics_path", S.abspath{default = "/metrics"}},
  {"namespace", S.name{default = "monitoring"}},
})

local results = S.object({
  {"source_path", S.abspath{}},
  {"container", S.string{default = "ros-app"}},
  {"destination", S.string{}},
})

-- hooks: a Lua file (or a list of them) that registers workflow hooks (before_apply,
-- after_apply, on_ready, on_failure); see lua/rigelk8s/workflow.lua.
local hooks = {kind = "hook_files"}
function check.hook_files(v, ty, path, vx)
  if type(v) == "string" then v = {v} end
  if type(v) ~= "table" or not is_list(v) then
    vx.problem(path, "expected a Lua file name or a list of them, e.g. hooks: hooks.lua")
    return nil
  end
  local out = {}
  for i, f in ipairs(v) do
    if type(f) ~= "string" or not f:match("%.lua$") then
      vx.problem(child(path, i), "expected the name of a Lua file ending in .lua, e.g. hooks.lua")
    else
      out[#out + 1] = f
    end
  end
  return out
end

local fleet_member = S.object({
  {"context", S.string{required = true, nonempty = true, example = "robot-1"}},
  {"namespace", S.name{}},
  {"name", S.string{}},
  {"kubeconfig", S.string{nonempty = true}},
  {"labels", S.any_map{}},
})

local additional = S.object({
  {"application", S.any_map{}},
  {"ros_master", S.any_map{}},
})

-- Private registries: a kubernetes.io/dockerconfigjson Secret made from the user's docker
-- config, holding only the entry of the application image's registry.
local registry_credentials = {kind = "registry_credentials"}
function check.registry_credentials(v, ty, path, vx)
  local src
  if type(v) == "table" and not is_list(v) then
    for k in pairs(v) do
      if k ~= "from_docker_config" then
        vx.problem(child(path, k), string.format("unknown key '%s'; known keys: from_docker_config", tostring(k)),
                   child(path, k) .. "#key")
      end
    end
    src = v.from_docker_config
  else
    vx.problem(path, "expected a map, e.g. registry_credentials: {from_docker_config: true}")
    return nil
  end
  if is_null(src) then
    vx.problem(path, "missing key 'from_docker_config'; add from_docker_config: true " ..
               "(~/.docker/config.json) or the path of a docker config file")
    return nil
  end
  if type(src) == "boolean" or (type(src) == "string" and bool_words[src:lower()] ~= nil) then
    local b = check.bool(src, ty, child(path, "from_docker_config"), vx)
    if not b then return nil end
    return {from_docker_config = true}
  end
  if type(src) ~= "string" or src == "" then
    vx.problem(child(path, "from_docker_config"), string.format(
      "expected true or the path of a docker config file, got %s", show(src)))
    return nil
  end
  return {from_docker_config = src}
end

M.orchestration = S.object({
  {"deploy_ros_master", S.bool{default = false}},
  {"namespace", S.name{default = "default"}},
  {"deployment_name", S.name{default = "rigel-k8s-application", max = 55}},
  {"application_image", S.image{}},
  {"ros_master_image", S.image{}},
  {"ros_master_uri", S.string{nonempty = true}},
  {"distro", S.enum({})}, -- values filled in below
  {"ros_version", S.enum({"ros1", "ros2"}, {aliases = {["1"] = "ros1", ["2"] = "ros2"}})},
  {"ros_domain_id", S.int{min = 0, max = 232, default = 0}},
  {"wait_for_master", S.bool{default = false}},
  {"master_init_container", S.bool{default = false}},
  {"replicas", S.int{min = 0, default = 1}},
  {"progress_deadline_seconds", S.int{min = 1, default = 600}},
  {"readiness", readiness},
  {"persistent_storage", persistent_storage},
  {"rolling_update", rolling_update},
  {"distributed", distributed},
  {"components", components},
  {"observability", observability},
  {"results", results},
  {"hooks", hooks},
  {"fleet", S.list(fleet_member)},
  {"image_pull_secrets", S.list(S.name{max = 253, subdomain = true}, {example = "[regcred]"})},
  {"registry_credentials", registry_credentials},
  {"additional_k8s_params", additional},
})
-- `distro` accepts every known ROS 1 and ROS 2 distribution.
do
  local all = {}
  for _, d in ipairs(M.ROS1_DISTROS) do all[#all + 1] = d end
  for _, d in ipairs(M.ROS2_DISTROS) do all[#all + 1] = d end
  M.orchestration.by_key.distro.values = all
  M.DISTROS = all
end

-------------------------------------------------------------------------------------------
-- ros_graph: what "done" means for the ROS graph (lua/rigelk8s/rosgraph.lua), under
-- orchestration and per component. Absent: no graph check.
-------------------------------------------------------------------------------------------

-- A global ROS graph name: /talker, /robot1/scan.
local ros_name = {kind = "ros_name"}
function check.ros_name(v, ty, path, vx)
  local s = to_text(v)
  if not s or not s:match("^/[%w_/~]*$") or s:match("//") or (#s > 1 and s:match("/$")) then
    vx.problem(path, string.format("%s is not a global ROS name; write it with a leading slash, e.g. /%s",
                                   show(v), (s or "talker"):gsub("^/*", ""):gsub("[^%w_/]", "_")))
    return nil
  end
  return s
end

-- Seconds: a number or a duration such as 60s, 2m, 1m30s.
local seconds = {kind = "seconds"}
function check.seconds(v, ty, path, vx)
  if type(v) == "number" and v > 0 then return v end
  local s = to_text(v)
  local total, rest = 0, s
  if s and s:match("^%d+%.?%d*$") then total, rest = tonumber(s), "" end
  while rest and rest ~= "" do
    local n, unit, tail = rest:match("^(%d+%.?%d*)([hms])(.*)$")
    if not n then rest = nil; break end
    total = total + tonumber(n) * ({h = 3600, m = 60, s = 1})[unit]
    rest = tail
  end
  if not rest or total <= 0 then
    vx.problem(path, string.format("expected a positive duration such as 60s or 2m, got %s", show(v)))
    return nil
  end
  return total
end

local topic_want = S.object({
  {"publishers", S.int{min = 0, default = 0}},
  {"subscribers", S.int{min = 0, default = 0}},
}, {example = "{publishers: 1, subscribers: 1}"})

M.ros_graph = S.object({
  {"nodes", S.list(ros_name, {default = {}, example = "[/talker, /listener]"})},
  {"topics", S.map(topic_want, {default = {}})},
  {"services", S.list(ros_name, {default = {}, example = "[/add_two_ints]"})},
  {"timeout", seconds},
  {"service", S.name{default = "ros-master"}},
  {"port", S.int{min = 1, max = 65535, default = 11311}},
  {"on_unavailable", S.enum({"job", "fail", "skip"}, {default = "job"})},
}, {optional = true, check = function(g, path, vx)
  g.timeout = g.timeout or 60
  for name in pairs(g.topics or {}) do
    local p = child(path .. ".topics", name)
    check.ros_name(name, ros_name, p, {problem = function(_, m) vx.problem(p, m, p .. "#key") end})
  end
end})

for _, obj in ipairs{M.orchestration, component} do
  obj.fields[#obj.fields + 1] = {"ros_graph", M.ros_graph}
  obj.by_key.ros_graph = M.ros_graph
  obj.keys[#obj.keys + 1] = "ros_graph"
end

-- ros2: how ROS 2 pods find each other (lua/rigelk8s/ros2net.lua).
M.ros2 = S.object({
  {"rmw", S.enum({"fastdds", "cyclonedds"}, {default = "fastdds",
                 aliases = {rmw_fastrtps_cpp = "fastdds", rmw_cyclonedds_cpp = "cyclonedds",
                            fastrtps = "fastdds", cyclone = "cyclonedds"}})},
  {"shared_memory", S.bool{default = false}},
  {"super_client", S.bool{default = true}},
})
M.orchestration.fields[#M.orchestration.fields + 1] = {"ros2", M.ros2}
M.orchestration.by_key.ros2 = M.ros2
M.orchestration.keys[#M.orchestration.keys + 1] = "ros2"

return M
