-- One long-lived process doing what the soak's short ones do, cycle after cycle:
-- apply the ROS manifests plus SOAK_EXTRA ConfigMaps, wait for them on one watch set,
-- change the image and wait again, delete the namespace and wait until it is gone.
-- Prints "cycle N rss KB" after each cycle (after a full GC, so that a leak shows and
-- garbage that is merely uncollected does not).
--   rigelk8s run longrun.lua KUBECONFIG RIGELFILE CYCLES
local k8s = require "rigelk8s.k8s"
local rollout = require "rigelk8s.rollout"
local rigelfile = require "rigelk8s.rigelfile"
local ros = require "rigelk8s.ros"

local kubeconfig, file, cycles = arg[1], arg[2], tonumber(arg[3] or "20")
local extra = tonumber(os.getenv("SOAK_EXTRA") or "35")
local c <close> = k8s.connect{kubeconfig = kubeconfig}

local function rss_kb()
  local f = assert(io.open("/proc/self/status"))
  local text = f:read("a")
  f:close()
  return tonumber(text:match("VmRSS:%s*(%d+)"))
end

local function apply_and_wait(cfg, generation)
  local objects, waits = {}, {}
  for _, e in ipairs(ros.manifests(cfg)) do
    objects[#objects + 1] = e.object
    if e.wait or e.object.kind == "PersistentVolumeClaim" then waits[#waits + 1] = e.object end
  end
  for i = 1, extra do
    objects[#objects + 1] = {apiVersion = "v1", kind = "ConfigMap",
                             metadata = {name = string.format("soak-%03d", i), namespace = cfg.namespace},
                             data = {generation = tostring(generation), payload = string.rep("p", 512)}}
  end
  c:apply(objects[1]) -- the namespace first
  local results, failed = c:apply_all(objects)
  assert(failed == 0, "apply failed: " .. tostring(failed))
  local r = rollout.wait(c, waits, {timeout = 120})
  assert(r.state == "ready", "rollout: " .. tostring(r.state) .. " " .. tostring(r.diagnosis))
end

for i = 1, cycles do
  local cfg = rigelfile.load{file = file}
  apply_and_wait(cfg, 1)
  cfg.application_image = string.format("registry.example.com/robot/app:%d", i + 1)
  apply_and_wait(cfg, i + 1)
  c:delete({apiVersion = "v1", kind = "Namespace", name = cfg.namespace}, {wait = 120})
  collectgarbage("collect")
  io.stdout:write(string.format("cycle %d rss %d\n", i, rss_kb()))
  io.stdout:flush()
end
