-- rigelk8s.ros2net: ROS 2 networking that works across pods (used by ros.lua).
--
-- The failure modes this avoids, seen on real clusters:
--  * DDS multicast discovery does not cross pods on Flannel or Calico. Fast DDS therefore
--    discovers through the discovery server (ROS_DISCOVERY_SERVER, by DNS name), and
--    CycloneDDS through a unicast peer list with multicast off.
--  * Fast DDS picks shared memory between participants it believes share a host; two
--    pods on one node share the kernel but not /dev/shm, so the topics go silent. Shared
--    memory is off unless `ros2.shared_memory: true` (single-pod setups).
--  * The `ros2` CLI (and a readiness probe such as `ros2 node list`) only sees the whole
--    graph as a discovery-server *super client* (ROS_SUPER_CLIENT), on by default.
--
--   ros2net.env(cfg)        -> env entries for every ROS 2 container (after ROS_DOMAIN_ID)
--   ros2net.pod(cfg)        -> {volumes = {...}, mounts = {...}} for every ROS 2 pod
--   ros2net.objects(cfg)    -> extra objects (the Fast DDS profile ConfigMap, the CycloneDDS
--                              peers Service), applied with the discovery server
local util = require "rigelk8s.util"

local M = {}

M.RMW = {fastdds = "rmw_fastrtps_cpp", cyclonedds = "rmw_cyclonedds_cpp"}
-- Fast DDS reads FASTDDS_BUILTIN_TRANSPORTS from 2.13 on (Jazzy and later); older
-- distributions (Foxy .. Iron) need an XML profile that replaces the builtin transports.
M.BUILTIN_TRANSPORTS_ENV = {jazzy = true, kilted = true, rolling = true}
M.PROFILE_DIR = "/etc/rigelk8s/fastdds"
M.PROFILE_FILE = M.PROFILE_DIR .. "/profile.xml"
M.CYCLONE_PORT = 7400

local list = util.list

local function opts(cfg)
  local o = cfg.ros2 or {}
  return {rmw = o.rmw or "fastdds", shared_memory = o.shared_memory == true,
          super_client = o.super_client ~= false}
end
M.options = opts

function M.profile_name(cfg) return cfg.deployment_name .. "-fastdds-profile" end
function M.peers_name(cfg) return cfg.deployment_name .. "-dds-peers" end
function M.peers_host(cfg) return string.format("%s.%s.svc", M.peers_name(cfg), cfg.namespace) end

local function uses_profile(cfg)
  local o = opts(cfg)
  return o.rmw == "fastdds" and not o.shared_memory and not M.BUILTIN_TRANSPORTS_ENV[cfg.distro]
end

-- UDPv4 only: no shared-memory transport (the builtin set would add SHM).
M.FASTDDS_PROFILE = [[<?xml version="1.0" encoding="UTF-8"?>
<!-- rigelk8s: UDPv4 only. Shared memory between pods on one node goes silent. -->
<profiles xmlns="http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles">
  <transport_descriptors>
    <transport_descriptor>
      <transport_id>rigelk8s_udpv4</transport_id>
      <type>UDPv4</type>
    </transport_descriptor>
  </transport_descriptors>
  <participant profile_name="rigelk8s_udpv4_only" is_default_profile="true">
    <rtps>
      <userTransports>
        <transport_id>rigelk8s_udpv4</transport_id>
      </userTransports>
      <useBuiltinTransports>false</useBuiltinTransports>
    </rtps>
  </participant>
</profiles>
]]

-- CycloneDDS configuration, inline in CYCLONEDDS_URI: unicast discovery of the peers
-- Service's pod addresses, multicast off, shared memory (iceoryx) off unless asked for.
function M.cyclonedds_config(cfg)
  local o = opts(cfg)
  return string.format("<CycloneDDS><Domain Id=\"any\"><General><AllowMulticast>false</AllowMulticast>" ..
    "</General>%s<Discovery><ParticipantIndex>auto</ParticipantIndex>" ..
    "<MaxAutoParticipantIndex>100</MaxAutoParticipantIndex><Peers><Peer address=\"%s\"/></Peers>" ..
    "</Discovery></Domain></CycloneDDS>",
    o.shared_memory and "<SharedMemory><Enable>true</Enable></SharedMemory>" or "", M.peers_host(cfg))
end

function M.env(cfg)
  local o = opts(cfg)
  local env = {{name = "RMW_IMPLEMENTATION", value = M.RMW[o.rmw]}}
  if o.rmw == "cyclonedds" then
    env[#env + 1] = {name = "CYCLONEDDS_URI", value = M.cyclonedds_config(cfg)}
    return env
  end
  if cfg.deploy_ros_master and o.super_client then
    env[#env + 1] = {name = "ROS_SUPER_CLIENT", value = "true"}
  end
  if not o.shared_memory then
    if M.BUILTIN_TRANSPORTS_ENV[cfg.distro] then
      env[#env + 1] = {name = "FASTDDS_BUILTIN_TRANSPORTS", value = "UDPv4"}
    else
      env[#env + 1] = {name = "FASTRTPS_DEFAULT_PROFILES_FILE", value = M.PROFILE_FILE}
    end
  end
  return env
end

function M.pod(cfg)
  if not uses_profile(cfg) then return {volumes = {}, mounts = {}} end
  return {volumes = {{name = "fastdds-profile", configMap = {name = M.profile_name(cfg)}}},
          mounts = {{name = "fastdds-profile", mountPath = M.PROFILE_DIR, readOnly = true}}}
end

-- Extra objects; meta(name, component) gives the metadata ros.lua uses everywhere.
function M.objects(cfg, meta)
  local out = {}
  if uses_profile(cfg) then
    out[#out + 1] = {apiVersion = "v1", kind = "ConfigMap", metadata = meta(M.profile_name(cfg), "dds-profile"),
                     data = {["profile.xml"] = M.FASTDDS_PROFILE}}
  end
  if opts(cfg).rmw == "cyclonedds" then
    -- Headless: its DNS name resolves to every pod of the application (components
    -- included), Ready or not, which is the peer list CycloneDDS needs to start from.
    out[#out + 1] = {apiVersion = "v1", kind = "Service", metadata = meta(M.peers_name(cfg), "dds-peers"),
                     spec = {clusterIP = "None", publishNotReadyAddresses = true,
                             selector = {["rigel.io/app"] = cfg.deployment_name},
                             ports = list{{name = "dds-discovery", port = M.CYCLONE_PORT,
                                           targetPort = M.CYCLONE_PORT, protocol = "UDP"}}}}
  end
  return out
end

return M
