-- ros.lua: the manifests for a config. Configs come from rigelfile.from_config, so every
-- test goes through validation and defaults exactly as a Rigelfile would.
local rigelfile = require "rigelk8s.rigelfile"
local ros = require "rigelk8s.ros"

local function cfg_of(orch, opts) return rigelfile.from_config({orchestration = orch or {}}, opts) end
-- deploy_ros_master is false by default (the seed's table): tests of the master ask for it.
local function master_cfg(orch, opts)
  orch = orch or {}
  orch.deploy_ros_master = true
  return cfg_of(orch, opts)
end

local function find(objects, kind, name)
  for _, o in ipairs(objects) do
    if o.kind == kind and o.metadata.name == name then return o end
  end
  return nil
end

local function container(deploy, name)
  for _, c in ipairs(deploy.spec.template.spec.containers) do
    if c.name == name then return c end
  end
end

local function env_map(c)
  local out = {}
  for _, e in ipairs(c.env or {}) do out[e.name] = e.value or e.valueFrom end
  return out
end

local function names(list)
  local out = {}
  for i, x in ipairs(list or {}) do out[i] = x.name end
  return out
end

-- Every port of every generated object, with the path it was found at.
local function all_ports(objects)
  local out = {}
  local function walk(v, path)
    if type(v) ~= "table" then return end
    for k, x in pairs(v) do
      if k == "ports" and type(x) == "table" then
        for _, p in ipairs(x) do out[#out + 1] = {port = p, path = path} end
      else
        walk(x, path .. "." .. tostring(k))
      end
    end
  end
  for _, o in ipairs(objects) do walk(o, o.kind .. "/" .. o.metadata.name) end
  return out
end

describe("ROS 1 master", function()
  local objects = ros.objects(master_cfg{})
  local master = find(objects, "Deployment", "ros-master")
  local svc = find(objects, "Service", "ros-master")

  it("runs roscore with the distro's setup sourced", function()
    local c = container(master, "ros-master-container")
    assert.equal("ros:noetic-ros-core", c.image)
    assert.same({"bash", "-c"}, c.command)
    assert.same({"source /opt/ros/noetic/setup.bash && exec roscore -p 11311"}, c.args)
    assert.same({type = "Recreate"}, master.spec.strategy)
  end)

  it("probes TCP 11311 for readiness and liveness", function()
    local c = container(master, "ros-master-container")
    assert.same({port = 11311}, c.readinessProbe.tcpSocket)
    assert.same({port = 11311}, c.livenessProbe.tcpSocket)
  end)

  it("has a headless Service named ros with port 11311", function()
    assert.equal("None", svc.spec.clusterIP)
    assert.same({app = "ros-master"}, svc.spec.selector)
    assert.same({{name = "ros", port = 11311, targetPort = 11311, protocol = "TCP"}}, svc.spec.ports)
  end)

  it("labels with app and the app.kubernetes.io set", function()
    assert.same({
      app = "ros-master",
      ["app.kubernetes.io/name"] = "ros-master",
      ["app.kubernetes.io/instance"] = "rigel-k8s-application",
      ["app.kubernetes.io/component"] = "ros-master",
      ["app.kubernetes.io/part-of"] = "rigel-k8s-application",
      ["app.kubernetes.io/managed-by"] = "rigelk8s",
    }, master.metadata.labels)
    assert.equal("rigel-k8s-application", master.spec.template.metadata.labels["rigel.io/app"])
    assert.equal("ros-master", master.spec.template.metadata.labels["rigel.io/component"])
  end)

  it("is left out when deploy_ros_master is false", function()
    local objs = ros.objects(cfg_of{deploy_ros_master = false})
    assert.is_nil(find(objs, "Deployment", "ros-master"))
    local app = find(objs, "Deployment", "rigel-k8s-application")
    assert.is_nil(app.spec.template.spec.initContainers)
  end)
end)

describe("application", function()
  it("gets ROS_MASTER_URI and ROS_IP from the downward API", function()
    local app = find(ros.objects(master_cfg{namespace = "robots"}), "Deployment", "rigel-k8s-application")
    local env = env_map(container(app, "ros-app"))
    assert.equal("http://ros-master.robots.svc:11311", env.ROS_MASTER_URI)
    assert.same({fieldRef = {fieldPath = "status.podIP"}}, env.ROS_IP)
    assert.is_nil(env.ROS_HOSTNAME)
  end)

  it("turns the readiness command into an exec probe with its timings", function()
    local app = find(ros.objects(cfg_of{readiness = {command = "/usr/local/bin/readiness_probe.sh",
                                                      period_seconds = 3}}),
                     "Deployment", "rigel-k8s-application")
    local probe = container(app, "ros-app").readinessProbe
    assert.same({command = {"/usr/local/bin/readiness_probe.sh"}}, probe.exec)
    assert.equal(5, probe.initialDelaySeconds)
    assert.equal(3, probe.periodSeconds)
    assert.equal(1, probe.timeoutSeconds)
    assert.same({"sh", "-c", "test -f /tmp/ready && rostopic list"},
                ros.command_argv("test -f /tmp/ready && rostopic list"))
    assert.same({"a", "b"}, ros.command_argv({"a", "b"}))
  end)

  it("adds the seed's readiness-init init container sharing /tmp", function()
    local app = find(ros.objects(master_cfg{readiness = {command = "/probe.sh"}, master_init_container = true}),
                     "Deployment", "rigel-k8s-application")
    local spec = app.spec.template.spec
    assert.same({"wait-for-master", "readiness-init"}, names(spec.initContainers))
    local init = spec.initContainers[2]
    assert.same({"sh", "-c", "touch /tmp/ready"}, init.command)
    assert.same({{name = "readiness", mountPath = "/tmp"}}, init.volumeMounts)
    assert.same({{name = "readiness", mountPath = "/tmp"}}, container(app, "ros-app").volumeMounts)
    assert.equal("readiness", spec.volumes[1].name)
  end)

  it("leaves the init container out when asked", function()
    local app = find(ros.objects(cfg_of{readiness = {command = "/probe.sh", init_container = false}}),
                     "Deployment", "rigel-k8s-application")
    assert.is_nil(app.spec.template.spec.initContainers)
    assert.is_nil(app.spec.template.spec.volumes)
  end)

  it("uses RollingUpdate with surge settings, or Recreate", function()
    local app = find(ros.objects(cfg_of{rolling_update = {max_surge = "50%", max_unavailable = 1}}),
                     "Deployment", "rigel-k8s-application")
    assert.same({type = "RollingUpdate", rollingUpdate = {maxSurge = "50%", maxUnavailable = 1}},
                app.spec.strategy)
    assert.equal(600, app.spec.progressDeadlineSeconds)
    app = find(ros.objects(cfg_of{rolling_update = {strategy = "Recreate"}}), "Deployment",
               "rigel-k8s-application")
    assert.same({type = "Recreate"}, app.spec.strategy)
  end)

  it("applies the seed README's env-var example: appended to ros-app's env", function()
    local cfg = master_cfg{additional_k8s_params = {application = {spec = {template = {spec = {containers = {
      {name = "ros-app", env = {{name = "ROS_DOMAIN_ID", value = "42"},
                                {name = "CUSTOM_CONFIG", value = "production"}}}}}}}}}}
    local app = find(ros.objects(cfg), "Deployment", "rigel-k8s-application")
    assert.equal(1, #app.spec.template.spec.containers)
    assert.same({"ROS_MASTER_URI", "ROS_IP", "ROS_DOMAIN_ID", "CUSTOM_CONFIG"},
                names(container(app, "ros-app").env))
    assert.equal("production", env_map(container(app, "ros-app")).CUSTOM_CONFIG)
  end)

  it("applies the seed README's resource-limits example to ros-app", function()
    local resources = {requests = {cpu = "100m", memory = "256Mi"}, limits = {cpu = "1000m", memory = "1Gi"}}
    local cfg = cfg_of{additional_k8s_params = {application = {spec = {template = {spec = {containers = {
      {name = "ros-app", resources = resources}}}}}}}}
    local app = find(ros.objects(cfg), "Deployment", "rigel-k8s-application")
    local c = container(app, "ros-app")
    assert.same(resources, c.resources)
    assert.equal("ros:noetic-ros-core", c.image)
  end)

  it("merges additional_k8s_params.ros_master into the master", function()
    local cfg = master_cfg{additional_k8s_params = {ros_master = {spec = {template = {spec = {
      tolerations = {{key = "robot", operator = "Exists"}}}}}}}}
    local master = find(ros.objects(cfg), "Deployment", "ros-master")
    assert.same({{key = "robot", operator = "Exists"}}, master.spec.template.spec.tolerations)
  end)
end)

describe("storage", function()
  it("makes a PVC per volume mounted at mount_path or /persistent_<name>", function()
    local objs = ros.objects(cfg_of{persistent_storage = {volumes = {
      {name = "logs-volume", size = "1Gi", storage_class = "standard"},
      {name = "data-volume", size = "10Gi", storage_class = "fast-ssd", mount_path = "/data"}}}})
    local pvc = find(objs, "PersistentVolumeClaim", "logs-volume-pvc")
    assert.same({accessModes = {"ReadWriteOnce"}, resources = {requests = {storage = "1Gi"}},
                 storageClassName = "standard"}, pvc.spec)
    local app = find(objs, "Deployment", "rigel-k8s-application")
    local mounts = container(app, "ros-app").volumeMounts
    assert.same({name = "logs-volume", mountPath = "/persistent_logs-volume"}, mounts[#mounts - 1])
    assert.same({name = "data-volume", mountPath = "/data"}, mounts[#mounts])
    assert.is_nil(find(objs, "PersistentVolume", "default-logs-volume-pv"))
  end)

  it("pre-binds a hostPath PV when host_path is given", function()
    local objs = ros.objects(cfg_of{namespace = "r", persistent_storage = {volumes = {
      {name = "bag", size = "2Gi", host_path = "/srv/bags"}}}})
    local pv = find(objs, "PersistentVolume", "r-bag-pv")
    assert.same({path = "/srv/bags", type = "DirectoryOrCreate"}, pv.spec.hostPath)
    assert.same({namespace = "r", name = "bag-pvc"}, pv.spec.claimRef)
    assert.equal("", pv.spec.storageClassName)
    local pvc = find(objs, "PersistentVolumeClaim", "bag-pvc")
    assert.equal("r-bag-pv", pvc.spec.volumeName)
    assert.equal("", pvc.spec.storageClassName)
  end)
end)

describe("placement", function()
  local function selector(distributed, placement)
    local cfg = cfg_of{distributed = distributed}
    return ros.placement(cfg, placement)
  end
  -- The truth table documented in ros.lua: the Python plugin placed pods only when
  -- default_to_remote was set and force_local_flag was not.
  it("follows enabled / force_local_flag / default_to_remote as the plugin did", function()
    assert.is_nil(selector{enabled = false, default_to_remote = true})
    assert.is_nil(selector{enabled = true, force_local_flag = true, default_to_remote = true})
    assert.same({deploymentType = "remote"}, selector{enabled = true, default_to_remote = true})
    assert.is_nil(selector{enabled = true})
    assert.is_nil(selector{enabled = true, force_local_flag = true})
  end)

  it("uses a component's explicit placement", function()
    assert.same({deploymentType = "remote"}, selector({}, "remote"))
    assert.same({deploymentType = "local"}, selector({enabled = true, force_local_flag = true}, "remote"))
    assert.same({gpu = "true"}, selector({enabled = true}, {gpu = "true"}))
  end)
end)

describe("components", function()
  local cfg = master_cfg{distributed = {enabled = true, default_to_remote = true, components = {
    {name = "planner", placement = "local", after = {"driver"}, env = {MODE = "fast"}},
    {name = "driver", image = "reg/driver:1", command = "roslaunch driver driver.launch"},
  }}}
  local entries = ros.manifests(cfg)

  it("become one Deployment each, in dependency order, after the master", function()
    local apps = {}
    for _, e in ipairs(entries) do
      if e.phase == "application" then apps[#apps + 1] = e end
    end
    assert.equal(2, #apps)
    assert.equal("driver", apps[1].object.metadata.name)
    assert.same({"ros-master"}, apps[1].after)
    assert.same({"ros-master", "driver"}, apps[2].after)
    assert.is_true(apps[1].wait)
  end)

  it("share the master's environment and take their own settings", function()
    local objs = ros.objects(cfg)
    local driver = find(objs, "Deployment", "driver")
    local planner = find(objs, "Deployment", "planner")
    assert.equal("reg/driver:1", container(driver, "ros-app").image)
    -- command keeps the image's ENTRYPOINT (/ros_entrypoint.sh in ros:* images): args.
    assert.is_nil(container(driver, "ros-app").command)
    assert.same({"bash", "-c", "roslaunch driver driver.launch"}, container(driver, "ros-app").args)
    assert.same({deploymentType = "remote"}, driver.spec.template.spec.nodeSelector)
    assert.same({deploymentType = "local"}, planner.spec.template.spec.nodeSelector)
    local env = env_map(container(planner, "ros-app"))
    assert.equal("fast", env.MODE)
    assert.equal("http://ros-master.default.svc:11311", env.ROS_MASTER_URI)
    assert.is_nil(find(objs, "Deployment", "rigel-k8s-application"))
  end)
end)

describe("ROS 2", function()
  local cfg = master_cfg({ros_domain_id = 7, namespace = "r2"}, {vars = {distro = "humble"}})
  local objs = ros.objects(cfg)

  it("runs a Fast DDS discovery server behind a ClusterIP UDP service (stable across restarts)", function()
    local d = find(objs, "Deployment", "ros-discovery-server")
    local c = d.spec.template.spec.containers[1]
    assert.equal("ros:humble-ros-core", c.image)
    assert.matches("fastdds discovery --server-id 0 --port 11811", c.args[1], 1, true)
    local svc = find(objs, "Service", "ros-discovery-server")
    assert.is_nil(svc.spec.clusterIP)
    assert.equal("ClusterIP", svc.spec.type)
    assert.same({{name = "discovery", port = 11811, targetPort = 11811, protocol = "UDP"}}, svc.spec.ports)
    assert.is_nil(find(objs, "Deployment", "ros-master"))
  end)

  it("points the application at it, with ROS_DOMAIN_ID", function()
    local app = find(objs, "Deployment", "rigel-k8s-application")
    local env = env_map(container(app, "ros-app"))
    assert.equal("ros-discovery-server.r2.svc:11811", env.ROS_DISCOVERY_SERVER)
    assert.equal("7", env.ROS_DOMAIN_ID)
    assert.is_nil(env.ROS_MASTER_URI)
    assert.is_nil(app.spec.template.spec.initContainers)
  end)
end)

describe("observability", function()
  local cfg = cfg_of{observability = {enabled = true, prometheus = true, loki = true,
                                      grafana = {default_dashboards = true}}}
  local objs = ros.objects(cfg)

  it("annotates the pods for scraping and opens a metrics port", function()
    local app = find(objs, "Deployment", "rigel-k8s-application")
    assert.same({["prometheus.io/scrape"] = "true", ["prometheus.io/port"] = "9102",
                 ["prometheus.io/path"] = "/metrics"}, app.spec.template.metadata.annotations)
    assert.same({{name = "metrics", containerPort = 9102, protocol = "TCP"}}, container(app, "ros-app").ports)
  end)

  it("adds a metrics Service, a ServiceMonitor and a dashboard ConfigMap", function()
    local svc = find(objs, "Service", "rigel-k8s-application-metrics")
    local sm = find(objs, "ServiceMonitor", "rigel-k8s-application")
    assert.equal("monitoring.coreos.com/v1", sm.apiVersion)
    assert.same(sm.spec.selector.matchLabels, {["rigel.io/app"] = "rigel-k8s-application",
                                               ["rigel.io/metrics"] = "true"})
    for k, v in pairs(sm.spec.selector.matchLabels) do assert.equal(v, svc.metadata.labels[k]) end
    local cm = find(objs, "ConfigMap", "rigel-k8s-application-grafana-dashboard")
    assert.equal("1", cm.metadata.labels.grafana_dashboard)
    local json = require("rigelk8s.json").decode(cm.data["rigel-k8s-application.json"])
    assert.equal("rigelk8s-default-rigel-k8s-application", json.uid)
  end)

  it("lists the helm releases it needs", function()
    local releases = ros.helm_releases(cfg)
    assert.same({"rigelk8s-monitoring", "rigelk8s-loki"}, names(releases))
    assert.equal("prometheus-community/kube-prometheus-stack", releases[1].chart)
    assert.equal("monitoring", releases[1].namespace)
    assert.same({}, ros.helm_releases(cfg_of{}))
  end)

  it("does nothing when not enabled", function()
    local o = ros.objects(cfg_of{observability = {prometheus = true}})
    assert.is_nil(find(o, "ServiceMonitor", "rigel-k8s-application"))
  end)
end)

describe("every generated port", function()
  it("names its protocol", function()
    local cfg = master_cfg{observability = {enabled = true, prometheus = true}}
    local ports = all_ports(ros.objects(cfg))
    assert.is_true(#ports >= 4)
    for _, p in ipairs(ports) do
      assert.is_truthy(p.port.protocol, "port without protocol at " .. p.path)
    end
  end)
end)

describe("phases", function()
  it("orders namespace, storage, master, application, observability", function()
    local cfg = master_cfg{namespace = "robots", persistent_storage = {volumes = {{name = "d", size = "1Gi"}}},
                           observability = {enabled = true, prometheus = true}}
    local rank = {}
    for i, p in ipairs(ros.PHASES) do rank[p] = i end
    local last = 0
    for _, e in ipairs(ros.manifests(cfg)) do
      assert.is_true(rank[e.phase] >= last)
      last = rank[e.phase]
    end
    assert.equal("Namespace", ros.manifests(cfg)[1].object.kind)
    assert.equal("Namespace", ros.objects(cfg)[1].kind)
    assert.is_nil(find(ros.objects(cfg_of{}), "Namespace", "default"))
  end)
end)

describe("the seed's contract", function()
  it("deploys no master by default, sets no ROS_MASTER_URI, and warns naming the fix", function()
    local cfg = cfg_of{}
    assert.is_false(cfg.deploy_ros_master)
    local objs = ros.objects(cfg)
    assert.is_nil(find(objs, "Deployment", "ros-master"))
    local env = env_map(container(find(objs, "Deployment", "rigel-k8s-application"), "ros-app"))
    assert.is_nil(env.ROS_MASTER_URI)
    assert.equal(1, #cfg.warnings)
    assert.matches("set deploy_ros_master: true, or ros_master_uri:", cfg.warnings[1], 1, true)
  end)

  it("does not warn when ROS_MASTER_URI comes from ros_master_uri or an overlay", function()
    local cfg = cfg_of{ros_master_uri = "http://m.lab:11311"}
    assert.same({}, cfg.warnings)
    local env = env_map(container(find(ros.objects(cfg), "Deployment", "rigel-k8s-application"), "ros-app"))
    assert.equal("http://m.lab:11311", env.ROS_MASTER_URI)
    assert.same({}, cfg_of{additional_k8s_params = {application = {spec = {template = {spec = {containers = {
      {name = "ros-app", env = {{name = "ROS_MASTER_URI", value = "http://x:11311"}}}}}}}}}}.warnings)
  end)

  it("warns a ROS 2 application on Fast DDS without a discovery server, naming the fixes", function()
    local cfg = cfg_of({}, {vars = {distro = "humble"}})
    assert.equal(1, #cfg.warnings)
    assert.matches("gets no Fast DDS discovery server", cfg.warnings[1], 1, true)
    assert.matches("set deploy_ros_master: true, or ros2: {rmw: cyclonedds}", cfg.warnings[1], 1, true)
    -- not with a server, not with CycloneDDS (unicast peers), not with the user's own server
    assert.same({}, cfg_of({deploy_ros_master = true}, {vars = {distro = "humble"}}).warnings)
    assert.same({}, cfg_of({ros2 = {rmw = "cyclonedds"}}, {vars = {distro = "humble"}}).warnings)
    assert.same({}, cfg_of({additional_k8s_params = {application = {spec = {template = {spec = {containers = {
      {name = "ros-app", env = {{name = "ROS_DISCOVERY_SERVER", value = "ds.lab:11811"}}}}}}}}}},
      {vars = {distro = "humble"}}).warnings)
  end)

  it("names the master container ros-master-container; an overlay may use either name", function()
    for _, name in ipairs{"ros-master", "ros-master-container"} do
      local cfg = master_cfg{additional_k8s_params = {ros_master = {spec = {template = {spec = {containers = {
        {name = name, resources = {limits = {cpu = "1"}}}}}}}}}}
      local master = find(ros.objects(cfg), "Deployment", "ros-master")
      assert.equal(1, #master.spec.template.spec.containers)
      local c = container(master, "ros-master-container")
      assert.equal("ros:noetic-ros-core", c.image)
      assert.same({limits = {cpu = "1"}}, c.resources)
    end
  end)

  it("turns Prometheus, Loki and Grafana on with observability.enabled, each unless switched off", function()
    local o = cfg_of{observability = {enabled = true}}.observability
    assert.is_true(o.prometheus.enabled and o.loki.enabled and o.grafana.enabled)
    o = cfg_of{observability = {enabled = true, loki = false, prometheus = {enabled = false}}}.observability
    assert.is_false(o.loki.enabled)
    assert.is_false(o.prometheus.enabled)
    assert.is_true(o.grafana.enabled)
    o = cfg_of{observability = {prometheus = {enabled = true}}}.observability
    assert.is_false(o.prometheus.enabled) -- observability.enabled is false: all off
  end)

  it("hands the Grafana admin password to helm values only, never to a manifest", function()
    local cfg = master_cfg{observability = {enabled = true, grafana = {admin_password = "pw-123",
                                                                       default_dashboards = true}}}
    local yaml = require("rigelk8s.yaml").dump_all(ros.objects(cfg))
    assert.is_nil(yaml:find("pw-123", 1, true))
    local found
    for _, r in ipairs(ros.helm_releases(cfg)) do
      if r.values.grafana and r.values.grafana.adminPassword then found = r.values.grafana.adminPassword end
    end
    assert.equal("pw-123", found)
  end)

  it("keeps readiness.timeout_seconds for the wait and probe_timeout_seconds for the probe", function()
    local cfg = cfg_of{readiness = {command = "/p.sh", timeout_seconds = 90, probe_timeout_seconds = 4}}
    assert.equal(90, cfg.readiness.timeout_seconds)
    local c = container(find(ros.objects(cfg), "Deployment", "rigel-k8s-application"), "ros-app")
    assert.equal(4, c.readinessProbe.timeoutSeconds)
  end)

  it("puts image_pull_secrets and the registry Secret on every pod", function()
    local cfg = master_cfg{image_pull_secrets = {"a", "b"}, registry_credentials = {from_docker_config = true},
                           components = {{name = "c1"}}}
    local objs = ros.objects(cfg)
    local secret = find(objs, "Secret", "rigel-k8s-application-registry")
    assert.equal("kubernetes.io/dockerconfigjson", secret.type)
    assert.equal(ros.REGISTRY_PLACEHOLDER, secret.stringData[".dockerconfigjson"])
    for _, name in ipairs{"ros-master", "c1"} do
      assert.same({"a", "b", "rigel-k8s-application-registry"},
                  names(find(objs, "Deployment", name).spec.template.spec.imagePullSecrets))
    end
  end)
end)

describe("components get what the application gets", function()
  local cfg = master_cfg{readiness = {command = "/probe.sh"},
                         persistent_storage = {volumes = {{name = "logs", size = "1Gi"}, {name = "maps", size = "1Gi"}}},
                         components = {{name = "a", command = {"roslaunch", "x", "y.launch"}, args = {"v:=1"}},
                                       {name = "b", volumes = {"maps"}, readiness = {command = "/b.sh",
                                                                                    init_container = false}}}}
  local objs = ros.objects(cfg)
  local a, b = find(objs, "Deployment", "a"), find(objs, "Deployment", "b")

  it("readiness probe and init container, unless the component has its own", function()
    assert.same({"/probe.sh"}, container(a, "ros-app").readinessProbe.exec.command)
    assert.same({"readiness-init"}, names(a.spec.template.spec.initContainers))
    assert.same({"/b.sh"}, container(b, "ros-app").readinessProbe.exec.command)
    assert.is_nil(b.spec.template.spec.initContainers)
  end)

  it("every persistent volume mounted, or those named under volumes:", function()
    assert.same({"readiness", "logs", "maps"}, names(container(a, "ros-app").volumeMounts))
    assert.same({"maps"}, names(container(b, "ros-app").volumeMounts))
    assert.same({"maps"}, names(b.spec.template.spec.volumes))
  end)

  it("command becomes args, so the image's ENTRYPOINT stays", function()
    local c = container(a, "ros-app")
    assert.is_nil(c.command)
    assert.same({"roslaunch", "x", "y.launch", "v:=1"}, c.args)
    assert.equal("http://ros-master.default.svc:11311", env_map(c).ROS_MASTER_URI)
  end)
end)

describe("names an API server would refuse", function()
  it("are found in the rendered objects, whatever made them", function()
    local problems = ros.check_objects{
      {kind = "Service", metadata = {name = "9lives"}},
      {kind = "ConfigMap", metadata = {name = "ok.name", labels = {app = string.rep("x", 64)}}},
      {kind = "Deployment", metadata = {name = "Bad_Name"}},
    }
    assert.equal(3, #problems)
    assert.matches("start with a letter", problems[1].message, 1, true)
    assert.matches("metadata.labels.app is 64 characters", problems[2].message, 1, true)
    assert.equal("Deployment/Bad_Name", problems[3].object)
  end)
end)

describe("ROS 2 networking (rigelk8s.ros2net)", function()
  local function env_of(objs, name)
    local d = find(objs, "Deployment", name)
    return env_map(container(d, "ros-app")), d
  end

  it("turns shared memory off with a Fast DDS profile before Jazzy, mounted in every pod", function()
    local cfg = master_cfg({namespace = "r2", components = {{name = "a"}, {name = "b"}}}, {vars = {distro = "humble"}})
    local objs = ros.objects(cfg)
    local cm = find(objs, "ConfigMap", "rigel-k8s-application-fastdds-profile")
    assert.matches("<useBuiltinTransports>false</useBuiltinTransports>", cm.data["profile.xml"], 1, true)
    assert.matches("<type>UDPv4</type>", cm.data["profile.xml"], 1, true)
    for _, name in ipairs{"a", "b"} do
      local env, d = env_of(objs, name)
      assert.equal("/etc/rigelk8s/fastdds/profile.xml", env.FASTRTPS_DEFAULT_PROFILES_FILE)
      assert.equal("rmw_fastrtps_cpp", env.RMW_IMPLEMENTATION)
      assert.equal("true", env.ROS_SUPER_CLIENT)
      assert.equal("0", env.ROS_DOMAIN_ID)
      assert.equal("ros-discovery-server.r2.svc:11811", env.ROS_DISCOVERY_SERVER)
      assert.same({{name = "fastdds-profile", mountPath = "/etc/rigelk8s/fastdds", readOnly = true}},
                  container(d, "ros-app").volumeMounts)
      assert.equal("rigel-k8s-application-fastdds-profile", d.spec.template.spec.volumes[1].configMap.name)
    end
  end)

  it("uses FASTDDS_BUILTIN_TRANSPORTS from Jazzy on, and no profile", function()
    local objs = ros.objects(master_cfg({namespace = "r2"}, {vars = {distro = "jazzy"}}))
    local env, d = env_of(objs, "rigel-k8s-application")
    assert.equal("UDPv4", env.FASTDDS_BUILTIN_TRANSPORTS)
    assert.is_nil(env.FASTRTPS_DEFAULT_PROFILES_FILE)
    assert.is_nil(find(objs, "ConfigMap", "rigel-k8s-application-fastdds-profile"))
    assert.is_nil(d.spec.template.spec.volumes)
  end)

  it("leaves shared memory on when asked (single-pod setups)", function()
    for _, distro in ipairs{"humble", "jazzy"} do
      local objs = ros.objects(master_cfg({ros2 = {shared_memory = true}}, {vars = {distro = distro}}))
      local env = env_of(objs, "rigel-k8s-application")
      assert.is_nil(env.FASTDDS_BUILTIN_TRANSPORTS)
      assert.is_nil(env.FASTRTPS_DEFAULT_PROFILES_FILE)
      assert.is_nil(find(objs, "ConfigMap", "rigel-k8s-application-fastdds-profile"))
    end
  end)

  it("gives CycloneDDS a unicast peer list through a headless Service, multicast off, no server", function()
    local cfg = master_cfg({namespace = "cy", ros_domain_id = 4, ros2 = {rmw = "cyclonedds"},
                        components = {{name = "a"}}}, {vars = {distro = "humble"}})
    local objs = ros.objects(cfg)
    assert.is_nil(find(objs, "Deployment", "ros-discovery-server"))
    local svc = find(objs, "Service", "rigel-k8s-application-dds-peers")
    assert.equal("None", svc.spec.clusterIP)
    assert.is_true(svc.spec.publishNotReadyAddresses)
    assert.same({["rigel.io/app"] = "rigel-k8s-application"}, svc.spec.selector)
    local env, d = env_of(objs, "a")
    assert.equal("rigel.io/app", next(svc.spec.selector))
    assert.equal("rigel-k8s-application", d.spec.template.metadata.labels["rigel.io/app"])
    assert.equal("rmw_cyclonedds_cpp", env.RMW_IMPLEMENTATION)
    assert.equal("4", env.ROS_DOMAIN_ID)
    assert.matches("<AllowMulticast>false</AllowMulticast>", env.CYCLONEDDS_URI, 1, true)
    assert.matches('<Peer address="rigel-k8s-application-dds-peers.cy.svc"/>', env.CYCLONEDDS_URI, 1, true)
    assert.is_nil(env.ROS_DISCOVERY_SERVER)
    assert.is_nil(env.ROS_SUPER_CLIENT)
  end)
end)
