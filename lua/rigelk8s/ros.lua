-- ROS manifests: the Kubernetes objects for a validated config (rigelfile.lua's cfg).
-- Pure functions: nothing here talks to a cluster.
--
--   ros.manifests(cfg) -> entries, in apply order. Each entry:
--     {phase = "namespace"|"storage"|"master"|"application"|"observability",
--      object = {...},          -- a plain Kubernetes object
--      wait = true|nil,         -- a Deployment whose rollout the workflow waits for
--      after = {"ros-master"}}  -- Deployments that must be Ready before this is applied
--   ros.objects(cfg) -> just the objects, same order (what `rigelk8s render` prints).
--   ros.helm_releases(cfg) -> the helm releases the observability switches need:
--     {name=, chart=, repo=, namespace=, values={...}, reason=} (deploy runs
--     `helm upgrade --install` for each when helm is on PATH; render never does).
--   ros.PHASES: the phase names in order.
--
-- Names users look for (kept from the Python plugin): Deployment/Service `ros-master`,
-- its container `ros-master-container` (an additional_k8s_params.ros_master overlay may
-- name it `ros-master` too), Deployment and label app=`rigel-k8s-application`
-- (deployment_name), container `ros-app`, init container `readiness-init`, PVC
-- `<volume>-pvc`.
--
-- Networking: the master Service is headless, so ros-master.<ns>.svc resolves to the pod
-- IP and ROS's own callbacks (which use IPs) work. Every ROS 1 container gets
-- ROS_MASTER_URI and ROS_IP = status.podIP (downward API); ROS_HOSTNAME is not set, since
-- it would take precedence over ROS_IP and pod host names do not resolve across pods.
-- ROS 2 gets a Fast DDS discovery server (UDP 11811), ROS_DISCOVERY_SERVER and ROS_DOMAIN_ID.
--
-- Labels: every object has app, app.kubernetes.io/{name,instance,component,part-of,
-- managed-by=rigelk8s}. Pods also carry `rigel.io/app` (= deployment_name) and
-- `rigel.io/component` (ros-master, discovery-server, application or the component name):
-- these are the stable labels for log queries, e.g. Loki {rigel_io_app="..."} after
-- promtail's label sanitising. Selectors use `app` alone, as the Python plugin did, because
-- a Deployment's selector cannot change after creation.
--
-- Placement (the seed's `distributed` flags, exactly as the Python plugin placed pods)
-- for the application and for components without an explicit placement:
--   enabled  force_local_flag  default_to_remote   nodeSelector
--   false    any               any                 none
--   true     true              any                 none
--   true     false             true                deploymentType: remote
--   true     false             false               none
-- Our extension, only where the user asks for it: a component's `placement: local|remote`
-- is the nodeSelector deploymentType: local|remote (force_local_flag with enabled turns
-- remote into local); a map is the nodeSelector as written. The master has none.
local merge = require "rigelk8s.merge"

local M = {}

M.PHASES = {"namespace", "storage", "master", "application", "observability"}
M.MASTER_PORT = 11311
M.DISCOVERY_PORT = 11811
M.MASTER_CONTAINER = "ros-master-container"

local util = require "rigelk8s.util"

-- A YAML sequence even when empty.
local list = util.list

local function labels(cfg, name, component)
  return {
    app = name,
    ["app.kubernetes.io/name"] = name,
    ["app.kubernetes.io/instance"] = cfg.deployment_name,
    ["app.kubernetes.io/component"] = component,
    ["app.kubernetes.io/part-of"] = cfg.deployment_name,
    ["app.kubernetes.io/managed-by"] = "rigelk8s",
  }
end

local function pod_labels(cfg, name, component)
  local l = labels(cfg, name, component)
  l["rigel.io/app"] = cfg.deployment_name
  l["rigel.io/component"] = component
  return l
end

local function meta(cfg, name, component)
  return {name = name, namespace = cfg.namespace, labels = labels(cfg, name, component)}
end

local function field_env(name, path)
  return {name = name, valueFrom = {fieldRef = {fieldPath = path}}}
end

-- A command given as text runs as is when it is one word, else through sh -c.
function M.command_argv(cmd)
  if type(cmd) == "table" then return list(merge.copy(cmd)) end
  if cmd:match("^[%w/%._%-+=:@,]+$") then return list{cmd} end
  return list{"sh", "-c", cmd}
end

function M.master_host(cfg)
  return string.format("ros-master.%s.svc", cfg.namespace)
end

function M.discovery_host(cfg)
  return string.format("ros-discovery-server.%s.svc", cfg.namespace)
end

-- The environment every ROS container of the application gets.
function M.ros_env(cfg)
  if cfg.ros_version == "ros2" then
    local env = {
      {name = "ROS_DOMAIN_ID", value = string.format("%d", cfg.ros_domain_id or 0)},
    }
    -- RMW, transports and discovery mode: rigelk8s.ros2net.
    for _, e in ipairs(require("rigelk8s.ros2net").env(cfg)) do env[#env + 1] = e end
    if cfg.deploy_ros_master and require("rigelk8s.ros2net").options(cfg).rmw == "fastdds" then
      table.insert(env, 1, {name = "ROS_DISCOVERY_SERVER",
                            value = string.format("%s:%d", M.discovery_host(cfg), M.DISCOVERY_PORT)})
    end
    return env
  end
  local env = {field_env("ROS_IP", "status.podIP")}
  -- Without a master and without ros_master_uri, the image's own setting stays
  -- (rigelfile.lua warns about it).
  if cfg.ros_master_uri then table.insert(env, 1, {name = "ROS_MASTER_URI", value = cfg.ros_master_uri}) end
  return env
end

-- nodeSelector for the application (see the truth table above), or nil.
function M.placement(cfg, explicit)
  local d = cfg.distributed or {}
  if type(explicit) == "table" then return merge.copy(explicit) end
  if explicit == "local" or explicit == "remote" then
    if d.enabled and d.force_local_flag then explicit = "local" end
    return {deploymentType = explicit}
  end
  if d.enabled and d.default_to_remote and not d.force_local_flag then
    return {deploymentType = "remote"}
  end
  return nil
end

-- The Secret made from registry_credentials, and the pull secrets of every pod.
function M.registry_secret_name(cfg) return cfg.deployment_name .. "-registry" end

local function pull_secrets(cfg)
  local out = {}
  for _, name in ipairs(cfg.image_pull_secrets or {}) do out[#out + 1] = {name = name} end
  if cfg.registry_credentials then out[#out + 1] = {name = M.registry_secret_name(cfg)} end
  if #out == 0 then return nil end
  return list(out)
end

local function strategy(cfg)
  local ru = cfg.rolling_update or {}
  if ru.strategy == "Recreate" then return {type = "Recreate"} end
  return {type = "RollingUpdate",
          rollingUpdate = {maxSurge = ru.max_surge or 1, maxUnavailable = ru.max_unavailable or 0}}
end

local function deployment(cfg, name, component, replicas, pod_spec, pod_meta_extra)
  pod_spec.imagePullSecrets = pull_secrets(cfg)
  local pl = pod_labels(cfg, name, component)
  local annotations
  if pod_meta_extra then
    for k, v in pairs(pod_meta_extra.labels or {}) do pl[k] = v end
    annotations = pod_meta_extra.annotations
  end
  return {
    apiVersion = "apps/v1",
    kind = "Deployment",
    metadata = meta(cfg, name, component),
    spec = {
      replicas = replicas,
      selector = {matchLabels = {app = name}},
      template = {metadata = {labels = pl, annotations = annotations}, spec = pod_spec},
    },
  }
end

-------------------------------------------------------------------------------------------
-- Master (ROS 1) and discovery server (ROS 2)
-------------------------------------------------------------------------------------------

local function ros1_master(cfg)
  local setup = string.format("source /opt/ros/%s/setup.bash && exec roscore -p %d",
                              cfg.distro, M.MASTER_PORT)
  local container = {
    name = M.MASTER_CONTAINER,
    image = cfg.ros_master_image,
    command = list{"bash", "-c"},
    args = list{setup},
    env = list{field_env("ROS_IP", "status.podIP")},
    ports = list{{name = "ros", containerPort = M.MASTER_PORT, protocol = "TCP"}},
    readinessProbe = {tcpSocket = {port = M.MASTER_PORT}, initialDelaySeconds = 2,
                      periodSeconds = 5, timeoutSeconds = 1, failureThreshold = 3},
    livenessProbe = {tcpSocket = {port = M.MASTER_PORT}, initialDelaySeconds = 15,
                     periodSeconds = 10, timeoutSeconds = 1, failureThreshold = 3},
  }
  local d = deployment(cfg, "ros-master", "ros-master", 1, {containers = list{container}})
  -- Two masters would split the ROS graph: never run old and new side by side.
  d.spec.strategy = {type = "Recreate"}
  local svc = {
    apiVersion = "v1",
    kind = "Service",
    metadata = meta(cfg, "ros-master", "ros-master"),
    spec = {
      clusterIP = "None",
      selector = {app = "ros-master"},
      ports = list{{name = "ros", port = M.MASTER_PORT, targetPort = M.MASTER_PORT, protocol = "TCP"}},
    },
  }
  return d, svc
end

local function ros2_discovery(cfg)
  local name = "ros-discovery-server"
  local run = string.format("source /opt/ros/%s/setup.bash && exec fastdds discovery " ..
                            "--server-id 0 --port %d", cfg.distro, M.DISCOVERY_PORT)
  local container = {
    name = "discovery-server",
    image = cfg.ros_master_image,
    command = list{"bash", "-c"},
    args = list{run},
    ports = list{{name = "discovery", containerPort = M.DISCOVERY_PORT, protocol = "UDP"}},
  }
  local d = deployment(cfg, name, "discovery-server", 1, {containers = list{container}})
  d.spec.strategy = {type = "Recreate"}
  -- A ClusterIP Service, not a headless one: clients keep the address they resolved at
  -- start-up, and a headless name resolves to the pod IP, which changes each time the
  -- discovery server restarts (the clients would then talk to nobody). A ClusterIP stays
  -- the same for the Service's lifetime.
  local svc = {
    apiVersion = "v1",
    kind = "Service",
    metadata = meta(cfg, name, "discovery-server"),
    spec = {
      type = "ClusterIP",
      selector = {app = name},
      ports = list{{name = "discovery", port = M.DISCOVERY_PORT, targetPort = M.DISCOVERY_PORT,
                    protocol = "UDP"}},
    },
  }
  return d, svc
end

-------------------------------------------------------------------------------------------
-- Application
-------------------------------------------------------------------------------------------

local function wait_for_master_container(cfg, image)
  local host = M.master_host(cfg)
  local script = string.format(
    "until (exec 3<>/dev/tcp/%s/%d) 2>/dev/null; do echo 'waiting for %s:%d'; sleep 2; done",
    host, M.MASTER_PORT, host, M.MASTER_PORT)
  return {name = "wait-for-master", image = image, command = list{"bash", "-c", script}}
end

local function metrics_extras(cfg)
  if not cfg.metrics then return nil end
  local o = cfg.observability
  return {
    labels = {["rigel.io/metrics"] = "true"},
    annotations = {
      ["prometheus.io/scrape"] = "true",
      ["prometheus.io/port"] = string.format("%d", o.metrics_port),
      ["prometheus.io/path"] = o.metrics_path,
    },
  }
end

local function metrics_port(cfg)
  return {name = "metrics", containerPort = cfg.observability.metrics_port, protocol = "TCP"}
end

local function waits_for_master(cfg)
  return cfg.ros_version == "ros1" and cfg.deploy_ros_master and cfg.master_init_container
end

-- What the application and every component get alike: the readiness probe and the seed's
-- readiness-init init container, the master wait, and the persistent volumes (by name;
-- nil = all of them). Returns the pod spec around container.
local function pod_spec(cfg, container, r, volume_names)
  r = r or {}
  local image = container.image
  local init, volumes, mounts = {}, {}, {}
  if waits_for_master(cfg) then init[#init + 1] = wait_for_master_container(cfg, image) end
  if r.command then
    container.readinessProbe = {
      exec = {command = M.command_argv(r.command)},
      initialDelaySeconds = r.initial_delay_seconds,
      periodSeconds = r.period_seconds,
      timeoutSeconds = r.probe_timeout_seconds,
      failureThreshold = r.failure_threshold,
    }
  end
  if r.init_container then
    -- The Python plugin's pattern: the init container creates /tmp/ready on a shared
    -- emptyDir, which readiness_probe.sh in the image checks.
    init[#init + 1] = {
      name = "readiness-init",
      image = image,
      command = list{"sh", "-c", "touch /tmp/ready"},
      volumeMounts = list{{name = "readiness", mountPath = "/tmp"}},
    }
    volumes[#volumes + 1] = {name = "readiness", emptyDir = {}}
    mounts[#mounts + 1] = {name = "readiness", mountPath = "/tmp"}
  end
  local wanted
  if volume_names then
    wanted = {}
    for _, n in ipairs(volume_names) do wanted[n] = true end
  end
  for _, v in ipairs((cfg.persistent_storage or {}).volumes or {}) do
    if not wanted or wanted[v.name] then
      volumes[#volumes + 1] = {name = v.name, persistentVolumeClaim = {claimName = v.name .. "-pvc"}}
      mounts[#mounts + 1] = {name = v.name, mountPath = v.mount_path}
    end
  end
  if cfg.ros_version == "ros2" then -- the Fast DDS profile (see rigelk8s.ros2net)
    local net = require("rigelk8s.ros2net").pod(cfg)
    for _, v in ipairs(net.volumes) do volumes[#volumes + 1] = v end
    for _, m in ipairs(net.mounts) do mounts[#mounts + 1] = m end
  end
  if cfg.metrics then container.ports = list{metrics_port(cfg)} end
  if #mounts > 0 then container.volumeMounts = list(mounts) end
  local spec = {containers = list{container}}
  if #init > 0 then spec.initContainers = list(init) end
  if #volumes > 0 then spec.volumes = list(volumes) end
  return spec
end

local function application(cfg)
  local container = {name = "ros-app", image = cfg.application_image, env = list(M.ros_env(cfg))}
  local spec = pod_spec(cfg, container, cfg.readiness, nil)
  spec.nodeSelector = M.placement(cfg, nil)
  local d = deployment(cfg, cfg.deployment_name, "application", cfg.replicas, spec,
                       metrics_extras(cfg))
  d.spec.strategy = strategy(cfg)
  d.spec.progressDeadlineSeconds = cfg.progress_deadline_seconds
  return d
end

local function component_deployment(cfg, c)
  local image = c.image or cfg.application_image
  local env = M.ros_env(cfg)
  for _, e in ipairs(c.env or {}) do env[#env + 1] = merge.copy(e) end
  local container = {name = "ros-app", image = image, env = list(env)}
  -- `command:` keeps the image's ENTRYPOINT: it becomes the container's args, so that
  -- official ros:* images still run it through /ros_entrypoint.sh (which sources
  -- /opt/ros). Text runs through bash -c; a list is the argv; `args:` follow it.
  local argv = {}
  if c.command then
    if type(c.command) == "table" then argv = merge.copy(c.command)
    else argv = {"bash", "-c", c.command} end
  end
  for _, a in ipairs(c.args or {}) do argv[#argv + 1] = a end
  if #argv > 0 then container.args = list(argv) end
  if c.resources then container.resources = merge.copy(c.resources) end
  local spec = pod_spec(cfg, container, c.readiness, c.volumes)
  spec.nodeSelector = M.placement(cfg, c.placement)
  local d = deployment(cfg, c.name, c.name, c.replicas, spec, metrics_extras(cfg))
  d.metadata.labels["app.kubernetes.io/part-of"] = cfg.deployment_name
  d.spec.strategy = strategy(cfg)
  d.spec.progressDeadlineSeconds = cfg.progress_deadline_seconds
  return d
end

-------------------------------------------------------------------------------------------
-- Storage
-------------------------------------------------------------------------------------------

function M.pv_name(cfg, volume) return string.format("%s-%s-pv", cfg.namespace, volume.name) end

local function storage(cfg)
  local out = {}
  for _, v in ipairs((cfg.persistent_storage or {}).volumes or {}) do
    local claim = v.name .. "-pvc"
    local pvc = {
      apiVersion = "v1",
      kind = "PersistentVolumeClaim",
      metadata = meta(cfg, claim, "storage"),
      spec = {
        accessModes = list{v.access_mode},
        resources = {requests = {storage = v.size}},
        storageClassName = v.storage_class,
      },
    }
    if v.host_path then
      -- A pre-bound hostPath volume: "" as the class keeps the default class from
      -- provisioning a different volume for the claim.
      local pv_name = M.pv_name(cfg, v)
      local pv = {
        apiVersion = "v1",
        kind = "PersistentVolume",
        metadata = {name = pv_name, labels = labels(cfg, pv_name, "storage")},
        spec = {
          capacity = {storage = v.size},
          accessModes = list{v.access_mode},
          persistentVolumeReclaimPolicy = "Retain",
          storageClassName = v.storage_class or "",
          hostPath = {path = v.host_path, type = "DirectoryOrCreate"},
          claimRef = {namespace = cfg.namespace, name = claim},
        },
      }
      pvc.spec.storageClassName = v.storage_class or ""
      pvc.spec.volumeName = pv_name
      out[#out + 1] = pv
    end
    out[#out + 1] = pvc
  end
  return out
end

-------------------------------------------------------------------------------------------
-- Observability
-------------------------------------------------------------------------------------------

-- A tiny JSON writer with a fixed key order ({k, v} pairs), so dashboards diff cleanly.
local function json(v)
  local t = type(v)
  if t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c)
      local esc = {['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\t'] = '\\t'}
      return esc[c] or string.format("\\u%04x", c:byte())
    end) .. '"'
  elseif t == "number" then
    return math.type(v) == "integer" and string.format("%d", v) or string.format("%.14g", v)
  elseif t == "boolean" then
    return tostring(v)
  elseif v.pairs then
    local parts = {}
    for _, kv in ipairs(v.pairs) do parts[#parts + 1] = json(kv[1]) .. ": " .. json(kv[2]) end
    return "{" .. table.concat(parts, ", ") .. "}"
  else
    local parts = {}
    for _, item in ipairs(v) do parts[#parts + 1] = json(item) end
    return "[" .. table.concat(parts, ", ") .. "]"
  end
end
local function obj(...) return {pairs = {...}} end

local function dashboard_json(cfg)
  local ns, app = cfg.namespace, cfg.deployment_name
  local pods = string.format('namespace="%s", pod=~"(%s|ros-master|ros-discovery-server).*"', ns, app)
  for _, c in ipairs(cfg.components or {}) do
    pods = pods:gsub("%)%.%*\"$", "|" .. c.name .. ").*\"")
  end
  local panels = {}
  local function panel(title, expr, unit, y)
    panels[#panels + 1] = obj({"id", #panels + 1}, {"title", title}, {"type", "timeseries"},
      {"datasource", obj({"type", "prometheus"}, {"uid", "${datasource}"})},
      {"gridPos", obj({"h", 8}, {"w", 12}, {"x", (#panels % 2) * 12}, {"y", y})},
      {"fieldConfig", obj({"defaults", obj({"unit", unit})}, {"overrides", {}})},
      {"targets", {obj({"refId", "A"}, {"expr", expr}, {"legendFormat", "{{pod}} {{container}}"})}})
  end
  panel("CPU (cores)", string.format('sum by (pod, container) (rate(container_cpu_usage_seconds_total{%s, container!=""}[5m]))', pods), "short", 0)
  panel("Memory (working set)", string.format('sum by (pod, container) (container_memory_working_set_bytes{%s, container!=""})', pods), "bytes", 0)
  panel("Container restarts", string.format('sum by (pod, container) (kube_pod_container_status_restarts_total{%s})', pods), "short", 8)
  panel("Ready pods", string.format('sum by (pod) (kube_pod_status_ready{%s, condition="true"})', pods), "short", 8)
  if cfg.metrics then
    panel("Metrics targets up", string.format('up{namespace="%s", pod=~"%s.*"}', ns, app), "short", 16)
  end
  local d = obj(
    {"title", "ROS: " .. app .. " (" .. ns .. ")"},
    {"uid", ("rigelk8s-" .. ns .. "-" .. app):sub(1, 40)},
    {"tags", {"rigelk8s", "ros"}},
    {"timezone", "browser"},
    {"schemaVersion", 39},
    {"refresh", "30s"},
    {"time", obj({"from", "now-1h"}, {"to", "now"})},
    {"templating", obj({"list", {obj({"name", "datasource"}, {"type", "datasource"},
                                     {"query", "prometheus"}, {"label", "Prometheus"})}})},
    {"panels", panels})
  return json(d) .. "\n"
end

local function observability(cfg)
  local out = {}
  local o = cfg.observability
  if not o or not o.enabled then return out end
  local app = cfg.deployment_name
  if o.prometheus.enabled then
    local name = app .. "-metrics"
    local svc_labels = labels(cfg, name, "metrics")
    svc_labels["rigel.io/app"] = app
    svc_labels["rigel.io/metrics"] = "true"
    out[#out + 1] = {
      apiVersion = "v1",
      kind = "Service",
      metadata = {name = name, namespace = cfg.namespace, labels = svc_labels},
      spec = {
        selector = {["rigel.io/app"] = app, ["rigel.io/metrics"] = "true"},
        ports = list{{name = "metrics", port = o.metrics_port, targetPort = "metrics",
                      protocol = "TCP"}},
      },
    }
    local sm_labels = labels(cfg, app, "metrics")
    sm_labels.release = M.MONITORING_RELEASE
    out[#out + 1] = {
      apiVersion = "monitoring.coreos.com/v1",
      kind = "ServiceMonitor",
      metadata = {name = app, namespace = cfg.namespace, labels = sm_labels},
      spec = {
        selector = {matchLabels = {["rigel.io/app"] = app, ["rigel.io/metrics"] = "true"}},
        endpoints = list{{port = "metrics", path = o.metrics_path, interval = "30s"}},
      },
    }
  end
  if o.grafana and o.grafana.enabled and o.grafana.default_dashboards then
    local name = app .. "-grafana-dashboard"
    local l = labels(cfg, name, "dashboard")
    l.grafana_dashboard = "1"
    out[#out + 1] = {
      apiVersion = "v1",
      kind = "ConfigMap",
      metadata = {name = name, namespace = cfg.namespace, labels = l},
      data = {[app .. ".json"] = dashboard_json(cfg)},
    }
  end
  return out
end

-------------------------------------------------------------------------------------------
-- Assembly
-------------------------------------------------------------------------------------------

local function overlay(object, params)
  if params == nil then return object end
  return merge.deep(object, params)
end

-- A ros_master overlay written for an older rigelk8s names the master's container
-- `ros-master`; it means the same container as `ros-master-container`.
local function master_overlay(params)
  local containers = params and type(params.spec) == "table" and type(params.spec.template) == "table" and
                     type(params.spec.template.spec) == "table" and params.spec.template.spec.containers
  if type(containers) ~= "table" then return params end
  local copy = merge.copy(params)
  for _, c in ipairs(copy.spec.template.spec.containers) do
    if type(c) == "table" and c.name == "ros-master" then c.name = M.MASTER_CONTAINER end
  end
  return copy
end

-- The registry credentials Secret. Its data is a placeholder here (render never reads
-- credentials); deploy fills in the real entry (registry.lua) just before applying.
M.REGISTRY_PLACEHOLDER = '{"auths":{}}'
local function registry_secret(cfg)
  return {
    apiVersion = "v1",
    kind = "Secret",
    metadata = meta(cfg, M.registry_secret_name(cfg), "registry-credentials"),
    type = "kubernetes.io/dockerconfigjson",
    stringData = {[".dockerconfigjson"] = M.REGISTRY_PLACEHOLDER},
  }
end

-------------------------------------------------------------------------------------------
-- What an API server would refuse
-------------------------------------------------------------------------------------------

local schema = require "rigelk8s.schema"

-- Problems ({object=, message=}) with names and label values of the rendered objects
-- (the last line of defence: additional_k8s_params can change anything).
function M.check_objects(objects)
  local problems = {}
  for _, o in ipairs(objects) do
    local md = type(o.metadata) == "table" and o.metadata or {}
    local ref = string.format("%s/%s", tostring(o.kind), tostring(md.name))
    local name = type(md.name) == "string" and md.name or ""
    local label_name = o.kind == "Service" or o.kind == "Namespace"
    local why = label_name and schema.dns_label_problem(name) or schema.dns_subdomain_problem(name)
    if not why and o.kind == "Service" and not name:match("^[a-z]") then
      why = "must start with a letter (a Service name is a DNS-1035 label)"
    end
    if why then problems[#problems + 1] = {object = ref, message = "its name " .. why} end
    local function labels_of(where, l)
      local keys = {}
      for k in pairs(type(l) == "table" and l or {}) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      for _, k in ipairs(keys) do
        local v = l[k]
        if type(v) == "string" and #v > 63 then
          problems[#problems + 1] = {object = ref, message = string.format(
            "the value of %s.%s is %d characters long; a label value may have at most 63", where, k, #v)}
        end
      end
    end
    labels_of("metadata.labels", md.labels)
    local tpl = type(o.spec) == "table" and type(o.spec.template) == "table" and o.spec.template.metadata
    if type(tpl) == "table" then labels_of("spec.template.metadata.labels", tpl.labels) end
  end
  return problems
end

function M.manifests(cfg)
  local entries = {}
  local function add(phase, object, extra)
    local e = {phase = phase, object = object}
    for k, v in pairs(extra or {}) do e[k] = v end
    entries[#entries + 1] = e
  end
  local params = cfg.additional_k8s_params or {}

  if cfg.namespace ~= "default" then
    add("namespace", {apiVersion = "v1", kind = "Namespace",
                      metadata = {name = cfg.namespace,
                                  labels = {["app.kubernetes.io/managed-by"] = "rigelk8s"}}})
  end
  for _, o in ipairs(storage(cfg)) do add("storage", o) end

  if cfg.registry_credentials then add("storage", registry_secret(cfg)) end

  local master_name
  local cyclone = cfg.ros_version == "ros2" and require("rigelk8s.ros2net").options(cfg).rmw == "cyclonedds"
  if cfg.deploy_ros_master and not cyclone then -- CycloneDDS discovers peers without a server
    local d, svc
    if cfg.ros_version == "ros2" then d, svc = ros2_discovery(cfg) else d, svc = ros1_master(cfg) end
    master_name = d.metadata.name
    add("master", overlay(d, master_overlay(params.ros_master)), {wait = true})
    add("master", svc)
  end
  if cfg.ros_version == "ros2" then
    for _, o in ipairs(require("rigelk8s.ros2net").objects(cfg, function(n, c) return meta(cfg, n, c) end)) do
      add("master", o)
    end
  end

  local after_master = master_name and list{master_name} or list{}
  if cfg.components and #cfg.components > 0 then
    for _, c in ipairs(cfg.components) do
      local after = list{}
      if master_name then after[#after + 1] = master_name end
      for _, dep in ipairs(c.after or {}) do after[#after + 1] = dep end
      add("application", overlay(component_deployment(cfg, c), params.application),
          {wait = true, after = after})
    end
  else
    add("application", overlay(application(cfg), params.application),
        {wait = true, after = after_master})
  end

  for _, o in ipairs(observability(cfg)) do add("observability", o) end

  local objects = {}
  for i, e in ipairs(entries) do objects[i] = e.object end
  local problems = M.check_objects(objects)
  if #problems > 0 then
    local lines = {}
    for _, p in ipairs(problems) do
      lines[#lines + 1] = string.format("%s: %s: %s", cfg.source and cfg.source.file or "config",
                                        p.object, p.message)
    end
    lines[#lines + 1] = "an API server would refuse these objects; shorten the names in the Rigelfile " ..
                        "(deployment_name, namespace, volume or component names) or in additional_k8s_params"
    require("rigelk8s.errors").raise{message = table.concat(lines, "\n"), exit_code = 2,
                                     reason = "InvalidConfig"}
  end
  return entries
end

function M.objects(cfg)
  local out = {}
  for i, e in ipairs(M.manifests(cfg)) do out[i] = e.object end
  return out
end

-------------------------------------------------------------------------------------------
-- Helm releases for the observability stack
-------------------------------------------------------------------------------------------

M.MONITORING_RELEASE = "rigelk8s-monitoring"

function M.helm_releases(cfg)
  local o = cfg.observability
  local out = {}
  if not o or not o.enabled then return out end
  local grafana = o.grafana and o.grafana.enabled
  local dashboards_sidecar = {dashboards = {enabled = true, label = "grafana_dashboard",
                                            labelValue = "1", searchNamespace = "ALL"}}
  -- The plugin's grafana.admin_password / admin_user: chart values, which deploy hands to
  -- helm in a 0600 file (never on a command line, never printed).
  local function grafana_values(v)
    v.adminPassword = o.grafana.admin_password
    v.adminUser = o.grafana.admin_user
    return v
  end
  if o.prometheus.enabled then
    out[#out + 1] = {
      name = M.MONITORING_RELEASE,
      chart = "prometheus-community/kube-prometheus-stack",
      repo = {name = "prometheus-community", url = "https://prometheus-community.github.io/helm-charts"},
      namespace = o.namespace,
      reason = "observability.prometheus (ServiceMonitor CRD, Prometheus" ..
               (grafana and ", Grafana" or "") .. (o.node_exporter and ", node exporter" or "") .. ")",
      values = {
        prometheus = {prometheusSpec = {serviceMonitorSelectorNilUsesHelmValues = false,
                                        podMonitorSelectorNilUsesHelmValues = false,
                                        retention = o.prometheus.retention,
                                        scrapeInterval = o.prometheus.scrape_interval}},
        grafana = grafana_values{enabled = grafana and true or false, sidecar = dashboards_sidecar},
        nodeExporter = {enabled = o.node_exporter},
      },
    }
  else
    if grafana then
      out[#out + 1] = {
        name = "rigelk8s-grafana",
        chart = "grafana/grafana",
        repo = {name = "grafana", url = "https://grafana.github.io/helm-charts"},
        namespace = o.namespace,
        reason = "observability.grafana",
        values = grafana_values{sidecar = dashboards_sidecar},
      }
    end
    if o.node_exporter then
      out[#out + 1] = {
        name = "rigelk8s-node-exporter",
        chart = "prometheus-community/prometheus-node-exporter",
        repo = {name = "prometheus-community", url = "https://prometheus-community.github.io/helm-charts"},
        namespace = o.namespace,
        reason = "observability.node_exporter",
        values = {},
      }
    end
  end
  if o.loki.enabled then
    local loki = {enabled = true}
    if o.loki.retention then
      loki.config = {table_manager = {retention_deletes_enabled = true,
                                      retention_period = o.loki.retention}}
    end
    out[#out + 1] = {
      name = "rigelk8s-loki",
      chart = "grafana/loki-stack",
      repo = {name = "grafana", url = "https://grafana.github.io/helm-charts"},
      namespace = o.namespace,
      reason = "observability.loki (Loki and promtail; pods are labelled rigel.io/app)",
      values = {loki = loki, promtail = {enabled = true}, grafana = {enabled = false}},
    }
  end
  return out
end

return M
