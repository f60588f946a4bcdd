-- Rigelfile loading: read the YAML, find the orchestration job, render its templates,
-- validate it, and fill in defaults. The result (a "cfg") is what ros.lua turns into
-- Kubernetes objects and what the deploy workflows read.
--
--   local rigelfile = require "rigelk8s.rigelfile"
--   local cfg = rigelfile.load{file = "Rigelfile", job = nil, namespace = nil}
--   local cfg = rigelfile.load{config = "with.json"}        -- or config = "-" (stdin)
--   local cfg = rigelfile.from_config(with_table, {source = "config"})
--
-- API (every function raises a structured config error, exit code 2, on bad input):
--   load(opts) -> cfg        opts: file (default "Rigelfile"), job, config (JSON path or
--                            "-"), namespace (-n override), data ({{ data.x }} values),
--                            env (function(name) -> value, default os.getenv)
--   from_config(with, opts) -> cfg   opts: source, path (default "with"), namespace,
--                            job, vars ({distro=, base_image=})
--   read(path) -> doc, positions     the parsed YAML and its position map
--   orchestration_jobs(doc), buildx_jobs(doc) -> sorted job names
--   select_job(doc, name, {file=, positions=}) -> job name
--   finish(raw, info) -> cfg  validation + defaults (used by load and from_config)
--   format_problems(problems, {file=, positions=}) -> message text
--   position(positions, path) -> {line=, column=} of path or its nearest ancestor
--
-- Every problem is raised as one structured error (errors.lua, exit code 2) whose message
-- has one line per problem, in file order:
--   Rigelfile:LINE:COL: jobs.deploy_k8s.with.orchestration.<path>: what is wrong and the fix
--
-- Finding the job
--   Orchestration jobs are those whose plugin is `src.plugin.OrchestrationPlugin` (the
--   Python plugin's name, so existing Rigelfiles work unchanged) or `rigelk8s`. `--job NAME`
--   picks one; a single one is picked automatically; several without --job is an error that
--   lists them. The config is `with.orchestration`. When `with` has no `orchestration` key,
--   the fields may sit directly under `with` (decided: both forms are accepted; with an
--   `orchestration` key, any other key under `with` is an error).
--
-- Templates (see template.lua; regex_replace is PCRE2, core/lua_regex.c): `{{ vars.x }}`, `{{ data.x }}`, filters. Only what is
-- used is rendered: the chosen job's `with`, `application.distro`, and the `with.image` of a
-- BuildX job when the image comes from there. Unrelated jobs may use variables that are
-- only known elsewhere.
--
-- Config schema (key: type = default). Strings are coerced like Rigel's pydantic models
-- do ("5" -> 5, "yes" -> true), so values that come from environment variables work.
--   deploy_ros_master: bool = false       deploy the ROS master (ROS 1) or the Fast DDS
--                                         discovery server (ROS 2); false as in the seed.
--                                         A ROS 1 app with no master and no ros_master_uri
--                                         (nor ROS_MASTER_URI in an overlay) gets a warning
--   namespace: DNS-1123 label = "default" (a Namespace object is rendered unless "default";
--                                          `-n NS` overrides it)
--   deployment_name: DNS-1123 label (<= 55) = "rigel-k8s-application"
--   application_image: text = application_image, else vars.base_image, else the `image` of
--                      a BuildX job (plugin rigel.plugins.core.BuildXPlugin) in this
--                      Rigelfile (the first by name), else ros:<distro>-ros-core
--   ros_master_image: text = ros:<distro>-ros-core
--   ros_master_uri: text = http://ros-master.<namespace>.svc:11311 when the master is
--                   deployed, else unset (no ROS_MASTER_URI); set it to use a master that
--                   rigelk8s does not deploy
--   distro: ROS distribution = application.distro, else vars.distro, else noetic
--           (humble when ros_version is ros2)
--   ros_version: ros1 | ros2 = ros2 when distro is a ROS 2 distro (foxy galactic humble iron
--                jazzy kilted rolling), else ros1
--   ros_domain_id: 0..232 = 0 (ROS 2)
--   wait_for_master: bool = false    deploy applies the application only once the master
--                                    is Ready (ROS nodes otherwise wait for it themselves)
--   master_init_container: bool = false  ROS 1: the application waits in an init container
--                                    (wait-for-master) until the master's port answers
--   replicas: int >= 0 = 1
--   progress_deadline_seconds: int >= 1 = 600
--   readiness:
--     command: text | [args]          exec readiness probe of ros-app; a single word runs as
--                                     is, anything with spaces or shell syntax via sh -c
--     initial_delay_seconds = 5, period_seconds = 10, failure_threshold = 3
--     timeout_seconds: int >= 1 (unset)  the Python plugin's meaning: the deadline of the
--                     whole readiness wait; --timeout, when given, wins (default 5m)
--     probe_timeout_seconds = 1          the probe's own timeoutSeconds
--     init_container: bool = true when command is set (the seed's readiness-init init
--                     container that creates /tmp/ready on an emptyDir shared at /tmp)
--   persistent_storage:
--     volumes: list of
--       name: DNS-1123 label (<= 59) (required)   -> PVC "<name>-pvc"
--       size: quantity with a unit, e.g. 5Gi (required)
--       storage_class: text (unset: the cluster's default class)
--       host_path: absolute path -> also a hostPath PV "<namespace>-<name>-pv" bound to the
--                  PVC (claimRef + volumeName), storageClassName = storage_class or ""
--       mount_path: absolute path = /persistent_<name>
--       access_mode: ReadWriteOnce | ReadOnlyMany | ReadWriteMany | ReadWriteOncePod
--                    = ReadWriteOnce
--   rolling_update:
--     strategy: Rolling | Recreate = Rolling (RollingUpdate is accepted for Rolling)
--     max_surge: int >= 0 | "N%" = 1; max_unavailable: int >= 0 | "N%" = 0 (not both 0)
--   distributed: (placement as the Python plugin: only enabled + default_to_remote
--                without force_local_flag puts nodeSelector deploymentType: remote on
--                the application and on components without a placement; deploy warns,
--                with the `kubectl label node` command, when no node has the label)
--     enabled = false, default_to_remote = false, force_local_flag = false
--     components: see `components`
--   components: list of (one Deployment each instead of the single application, all
--               sharing the master; `distributed.components` is the same list)
--     name: DNS-1123 label (required), image: text = application_image,
--     placement: local | remote | {label: value} (nodeSelector) = from `distributed`,
--     replicas = 1, env: {NAME: value} | [{name, value}], command: text | [args],
--     args: [text], after: [component names] (started once those are Ready),
--     resources: {requests: {cpu: 100m}, limits: {...}},
--     readiness: as readiness (default: the application's, probe and readiness-init),
--     volumes: [volume names] = every persistent_storage volume (mounted as for the app)
--     The entrypoint rule: `command` never replaces the image's ENTRYPOINT; it becomes
--     the container's args (text: bash -c TEXT; a list: as is; then `args`), so ros:*
--     images still run it through /ros_entrypoint.sh, which sources /opt/ros. To
--     replace the ENTRYPOINT, set `command` with additional_k8s_params.
--   observability:
--     enabled = false (true turns prometheus, loki and grafana on, each unless it says
--                      false; false turns every switch off)
--     prometheus: bool | {enabled, retention, scrape_interval}   ServiceMonitor +
--                 "<name>-metrics" Service, scrape annotations
--     loki: bool | {enabled, retention}   (helm release only; see ros.helm_releases)
--     grafana: bool | {enabled, default_dashboards = false, admin_user, admin_password}
--              (admin_password is Secret-like: only in a 0600 helm values file, never
--              printed or rendered)
--     ros_metrics = false  scrape annotations and the `metrics` port on ros-app
--     node_exporter = false   (helm release only)
--     metrics_port: 1..65535 = 9102; metrics_path = /metrics; namespace = monitoring
--   results: {source_path: absolute path, container = ros-app, destination: text}
--            `rigelk8s results` copies source_path out of the newest ready pod
--   image_pull_secrets: [Secret names]   imagePullSecrets of every pod we create
--   registry_credentials: {from_docker_config: true | PATH}   a Secret
--            "<deployment_name>-registry" (kubernetes.io/dockerconfigjson) made at deploy
--            time from ~/.docker/config.json ($DOCKER_CONFIG) or PATH, holding only the
--            auths entries of our images' registries; render shows the placeholder
--            {"auths":{}} (it never reads credentials); added to every pod's pull secrets
-- Names made from these (<deployment_name>-grafana-dashboard, -metrics, -registry, the
-- hostPath PV <namespace>-<volume>-pv) must fit Kubernetes' 63-character label values:
-- a longer one is refused (exit 2) naming the field to shorten, never cut silently.
--   hooks: file.lua | [file.lua, ...]   Lua files registering workflow hooks
--          (before_apply, after_apply, on_ready, on_failure; see workflow.lua), relative
--          to the Rigelfile (run by the workflows, not by render)
--   fleet: list of {context (required), namespace = namespace, name = context, kubeconfig}
--          (deploy/update/status run on every target at once; see fleet.lua)
--   additional_k8s_params:
--     application: Deployment fragment deep-merged over the application (and each
--                  component) Deployment; ros_master: over the master (or discovery
--                  server) Deployment. See merge.lua: named lists merge by name.
--
-- The cfg returned is the validated config with every default filled in, plus:
--   cfg.source = {file=, job=, path=}   where it came from (path is the config's prefix)
--   cfg.image_source = "application_image" | "vars.base_image" | "jobs.NAME.with.image"
--                      | "default"
--   cfg.components = the merged component list (possibly empty)
--   cfg.metrics = bool: the application exposes a scraped metrics port
local errors = require "rigelk8s.errors"
local schema = require "rigelk8s.schema"
local util = require "rigelk8s.util"
local template -- loaded only when a value holds a template (keeps render start-up lean)

local M = {}

M.ORCHESTRATION_PLUGINS = {"src.plugin.OrchestrationPlugin", "rigelk8s",
                           "rigelk8s_rigel.OrchestrationPlugin"}
M.BUILDX_PLUGINS = {"rigel.plugins.core.BuildXPlugin"}
M.schema = schema.orchestration

local is_null = util.is_null
local function is_map(v) return util.is_map(v, "holes") end

local contains, sorted_keys = util.contains, util.sorted_keys

local function config_error(message)
  errors.raise{message = message, exit_code = errors.EXIT.usage, reason = "InvalidConfig"}
end

-- Position of a path, or of its nearest ancestor that has one.
local function position(positions, path)
  if not positions then return nil end
  local p = path
  while p and p ~= "" do
    if positions[p] then return positions[p] end
    p = p:match("^(.*)#key$") or p:match("^(.*)%[%d+%]$") or p:match('^(.*)%["[^"]*"%]$') or
        p:match("^(.*)%.[^.%[%]]*$")
  end
  return nil
end
M.position = position

-- format_problems(problems, {file=, positions=}) -> the multi-line message.
function M.format_problems(problems, where)
  local rows = {}
  for _, pr in ipairs(problems) do
    local pos = pr.pos or position(where.positions, pr.at or pr.path)
    rows[#rows + 1] = {line = pos and pos.line or 0, column = pos and pos.column or 0,
                       path = pr.path, message = pr.message}
  end
  table.sort(rows, function(a, b)
    if a.line ~= b.line then return a.line < b.line end
    if a.column ~= b.column then return a.column < b.column end
    if a.path ~= b.path then return a.path < b.path end
    return a.message < b.message
  end)
  local lines, seen = {}, {}
  for _, r in ipairs(rows) do
    local loc = r.line > 0 and string.format("%s:%d:%d", where.file, r.line, r.column) or where.file
    local text = string.format("%s: %s: %s", loc, r.path, r.message)
    if not seen[text] then
      seen[text] = true
      lines[#lines + 1] = text
    end
  end
  if #lines > 1 then
    table.insert(lines, 1, string.format("%s: %d problems:", where.file, #lines))
  end
  return table.concat(lines, "\n")
end

local function raise_problems(problems, where)
  config_error(M.format_problems(problems, where))
end

-------------------------------------------------------------------------------------------
-- Reading
-------------------------------------------------------------------------------------------

-- read(path) -> doc, positions. Raises (exit 2) for a missing file or bad YAML.
function M.read(path, opts)
  opts = opts or {}
  local f = io.open(path, "rb")
  if not f then
    if opts.default_name then
      config_error(string.format("%s: no Rigelfile in this directory; run rigelk8s where your " ..
                                 "Rigelfile is, or pass -f PATH", path))
    end
    config_error(string.format("%s: no such file; check the path given to -f", path))
  end
  local text = f:read("a")
  f:close()
  local yaml = require "rigelk8s.yaml"
  -- Rigel reads a Rigelfile with PyYAML: its YAML 1.1 scalar rules, not kubectl's (a bare y is "y").
  local ok, doc, positions = pcall(yaml.load, text, {filename = path, positions = true, scalars = "pyyaml"})
  if not ok then
    local msg = type(doc) == "table" and doc.message or tostring(doc)
    if msg:sub(1, #path + 1) ~= path .. ":" then msg = path .. ": " .. msg end
    config_error(msg .. "; fix the YAML syntax")
  end
  if text:find("\n%-%-%-") then
    -- Rigel reads a Rigelfile with yaml.safe_load, which refuses a second document; a
    -- silently ignored second half would deploy something else than the file says.
    local all_ok, docs = pcall(yaml.load, text, {filename = path, all = true, scalars = "pyyaml"})
    if all_ok and type(docs) == "table" and #docs > 1 then
      config_error(string.format("%s: holds %d YAML documents (separated by ---); a Rigelfile is " ..
                                 "one document: merge them or remove the extra ---", path, #docs))
    end
  end
  if is_null(doc) then
    config_error(string.format("%s: the file is empty; see examples/Rigelfile.example", path))
  end
  if not is_map(doc) then
    config_error(string.format("%s:1:1: a Rigelfile is a map with vars:, application:, jobs: " ..
                               "and sequences:", path))
  end
  return doc, positions or {}
end

-------------------------------------------------------------------------------------------
-- Jobs
-------------------------------------------------------------------------------------------

local function jobs_with_plugin(doc, plugins)
  local names = {}
  local jobs = doc.jobs
  if not is_map(jobs) then return names end
  for _, name in ipairs(sorted_keys(jobs)) do
    local job = jobs[name]
    if is_map(job) and contains(plugins, job.plugin) then names[#names + 1] = name end
  end
  return names
end

function M.orchestration_jobs(doc) return jobs_with_plugin(doc, M.ORCHESTRATION_PLUGINS) end
function M.buildx_jobs(doc) return jobs_with_plugin(doc, M.BUILDX_PLUGINS) end

-- select_job(doc, name, where) -> job name. Raises with the choices when ambiguous.
function M.select_job(doc, name, where)
  local file = where.file
  local jobs = doc.jobs
  if jobs ~= nil and not is_map(jobs) then
    raise_problems({{path = "jobs", message = "expected a map of job name: {plugin:, with:}"}}, where)
  end
  local found = M.orchestration_jobs(doc)
  local plugins = table.concat(M.ORCHESTRATION_PLUGINS, " or ")
  if name then
    if not is_map(jobs) or jobs[name] == nil then
      local all = is_map(jobs) and sorted_keys(jobs) or {}
      local hint = util.closest(name, found, "tight")
      local msg = string.format("%s: --job %s: no such job", file, name)
      if hint then msg = msg .. string.format("; did you mean '%s'?", hint) end
      if #found > 0 then
        msg = msg .. string.format(" (orchestration jobs: %s)", table.concat(found, ", "))
      elseif #all > 0 then
        msg = msg .. string.format(" (jobs: %s)", table.concat(all, ", "))
      end
      config_error(msg)
    end
    if not contains(found, name) then
      local plugin = is_map(jobs[name]) and jobs[name].plugin
      raise_problems({{path = "jobs." .. name .. ".plugin", message = string.format(
        "--job %s: the job's plugin is %s, not an orchestration plugin (%s)", name,
        type(plugin) == "string" and ("'" .. plugin .. "'") or "missing", plugins)}}, where)
    end
    return name
  end
  if #found == 1 then return found[1] end
  if #found == 0 then
    config_error(string.format("%s: no orchestration job; add a job with plugin: %s",
                               file, M.ORCHESTRATION_PLUGINS[1]))
  end
  config_error(string.format("%s: %d orchestration jobs (%s); choose one with --job NAME",
                             file, #found, table.concat(found, ", ")))
end

-------------------------------------------------------------------------------------------
-- Validation and defaults
-------------------------------------------------------------------------------------------

local function default_distro(cfg)
  if cfg.ros_version == "ros2" then return "humble" end
  return "noetic"
end

local function add(problems, path, message, at)
  problems[#problems + 1] = {path = path, message = message, at = at}
end

-- Detects cycles in `after`, and unknown names. Returns components topologically sorted
-- (stable: file order among independent ones).
local function order_components(list, prefix, problems)
  local by_name, index = {}, {}
  for i, c in ipairs(list) do
    if c.name then by_name[c.name] = c; index[c.name] = i end
  end
  for i, c in ipairs(list) do
    for j, dep in ipairs(c.after or {}) do
      if not by_name[dep] then
        local hint = util.closest(dep, sorted_keys(by_name), "tight")
        add(problems, string.format("%s[%d].after[%d]", prefix, i - 1, j - 1), string.format(
          "no component named '%s'%s", dep, hint and ("; did you mean '" .. hint .. "'?") or ""))
      elseif dep == c.name then
        add(problems, string.format("%s[%d].after[%d]", prefix, i - 1, j - 1),
            "a component cannot wait for itself")
      end
    end
  end
  local state, out = {}, {}
  local function visit(c, stack)
    if state[c.name] == "done" then return end
    if state[c.name] == "busy" then
      add(problems, string.format("%s[%d].after", prefix, index[c.name] - 1),
          "components wait for each other in a cycle: " .. table.concat(stack, " -> ") ..
          " -> " .. c.name .. "; remove one of these after: entries")
      return
    end
    state[c.name] = "busy"
    stack[#stack + 1] = c.name
    for _, dep in ipairs(c.after or {}) do
      if by_name[dep] and dep ~= c.name then visit(by_name[dep], stack) end
    end
    stack[#stack] = nil
    state[c.name] = "done"
    out[#out + 1] = c
  end
  for _, c in ipairs(list) do
    if c.name then visit(c, {}) end
  end
  return out
end

-- finish(raw, info) -> cfg. `info`:
--   path: config prefix ("jobs.deploy_k8s.with.orchestration"); where: {file=, positions=}
--   distro = {value=, path=} (from application.distro or vars.distro), vars = rendered vars
--   image = function() -> image, source  (BuildX lookup; may add problems)
--   namespace = override from -n
function M.finish(raw, info)
  local prefix = info.path
  local cfg, problems = schema.validate(raw, schema.orchestration, prefix)
  cfg = cfg or {}
  for _, p in ipairs(info.problems or {}) do problems[#problems + 1] = p end

  if info.namespace then
    local why = schema.dns_label_problem(info.namespace)
    if why then
      config_error(string.format("--namespace %s: not a valid namespace name: it %s",
                                 info.namespace, why))
    end
    cfg.namespace = info.namespace
  end
  cfg.namespace = cfg.namespace or "default"
  cfg.deployment_name = cfg.deployment_name or "rigel-k8s-application"

  -- distro and ROS version
  if not cfg.distro and info.distro and info.distro.value ~= nil then
    local d = info.distro
    local v, dp = schema.validate(d.value, schema.orchestration.by_key.distro, d.path)
    for _, p in ipairs(dp) do problems[#problems + 1] = p end
    cfg.distro = v
    cfg.distro_source = d.path
  end
  if cfg.distro then
    local is2 = contains(schema.ROS2_DISTROS, cfg.distro)
    if cfg.ros_version == "ros1" and is2 or cfg.ros_version == "ros2" and not is2 then
      add(problems, prefix .. ".ros_version", string.format(
        "ros_version %s does not match distro %s%s; change one of them", cfg.ros_version,
        cfg.distro, cfg.distro_source and (" (from " .. cfg.distro_source .. ")") or ""))
    end
    cfg.ros_version = cfg.ros_version or (is2 and "ros2" or "ros1")
  else
    cfg.ros_version = cfg.ros_version or "ros1"
    cfg.distro = default_distro(cfg)
  end
  cfg.distro_source = nil

  local default_image = string.format("ros:%s-ros-core", cfg.distro)
  if cfg.application_image then
    cfg.image_source = "application_image"
  else
    local image, source
    if info.image then image, source = info.image(problems) end
    cfg.application_image = image or default_image
    cfg.image_source = image and source or "default"
  end
  cfg.ros_master_image = cfg.ros_master_image or default_image
  cfg.warnings = {}
  if not cfg.ros_master_uri and cfg.deploy_ros_master then
    cfg.ros_master_uri = string.format("http://ros-master.%s.svc:11311", cfg.namespace)
  end

  local r = cfg.readiness
  if r and r.init_container == nil then r.init_container = r.command ~= nil end

  local storage = cfg.persistent_storage
  if storage and storage.volumes then
    local mounts = {}
    for i, v in ipairs(storage.volumes) do
      if v.name == "readiness" then
        add(problems, string.format("%s.persistent_storage.volumes[%d].name", prefix, i - 1),
            "'readiness' is the name of the generated readiness volume; choose another name")
      end
      if v.name and not v.mount_path then v.mount_path = "/persistent_" .. v.name end
      if v.mount_path then
        if mounts[v.mount_path] then
          add(problems, string.format("%s.persistent_storage.volumes[%d].mount_path", prefix, i - 1),
              string.format("%s is also the mount path of volumes[%d]; give each volume its own",
                            v.mount_path, mounts[v.mount_path] - 1))
        else
          mounts[v.mount_path] = i
        end
      end
    end
  end

  -- components: top-level and distributed.components are one list
  local comps, comps_prefix = {}, nil
  local dist_comps = cfg.distributed and cfg.distributed.components
  if cfg.components and dist_comps then
    add(problems, prefix .. ".distributed.components",
        "components are given both here and at the top level; keep one list")
  end
  if cfg.components then comps, comps_prefix = cfg.components, prefix .. ".components"
  elseif dist_comps then comps, comps_prefix = dist_comps, prefix .. ".distributed.components" end
  local reserved = {["ros-master"] = true, ["ros-discovery-server"] = true}
  for i, c in ipairs(comps) do
    if c.name and reserved[c.name] then
      add(problems, string.format("%s[%d].name", comps_prefix, i - 1), string.format(
        "'%s' is the name of the generated master; choose another name", c.name))
    end
  end
  local volume_names = {}
  for _, v in ipairs(storage and storage.volumes or {}) do
    if v.name then volume_names[#volume_names + 1] = v.name end
  end
  for i, c in ipairs(comps) do
    -- Components get what the application gets: its readiness (unless they have their
    -- own) and every persistent volume (unless `volumes:` names a subset).
    if c.readiness and c.readiness.command then
      if c.readiness.init_container == nil then c.readiness.init_container = true end
    elseif r and r.command then
      c.readiness = r
    end
    if c.volumes then
      for j, name in ipairs(c.volumes) do
        if not contains(volume_names, name) then
          local hint = util.closest(name, volume_names, "tight")
          add(problems, string.format("%s[%d].volumes[%d]", comps_prefix, i - 1, j - 1), string.format(
            "no volume named '%s' in persistent_storage.volumes%s", name,
            hint and ("; did you mean '" .. hint .. "'?") or (#volume_names > 0 and
              ("; volumes: " .. table.concat(volume_names, ", ")) or "; add it there first")))
        end
      end
    else
      c.volumes = volume_names
    end
  end
  cfg.components = order_components(comps, comps_prefix, problems)
  if cfg.distributed then cfg.distributed.components = nil end

  for _, member in ipairs(cfg.fleet or {}) do
    member.namespace = member.namespace or cfg.namespace
  end

  -- observability.enabled turns Prometheus, Loki and Grafana on, each unless it says
  -- enabled: false (the plugin's meaning); off, it turns every switch off.
  local o = cfg.observability
  if o then
    for _, k in ipairs{"prometheus", "loki", "grafana"} do
      if o.enabled then
        if o[k].enabled == nil then o[k].enabled = true end
      else
        o[k].enabled = false
      end
    end
    if not o.enabled then o.node_exporter, o.ros_metrics = false, false end
    if not o.grafana.enabled then o.grafana.default_dashboards = false end
  end
  cfg.metrics = (o and o.enabled and (o.prometheus.enabled or o.ros_metrics)) or false

  if #problems == 0 then
    M.check_generated_names(cfg, prefix, problems)
    M.master_warning(cfg, prefix, info.where)
  end
  if #problems > 0 then raise_problems(problems, info.where) end
  return cfg
end

-- Kubernetes limits names and label values; a name rigelk8s makes from the user's
-- (deployment_name + "-grafana-dashboard", the hostPath PV's <namespace>-<volume>-pv) must
-- fit too, or the API server refuses the object. Decided: refuse at render time (exit 2)
-- naming the Rigelfile field to shorten, never shorten silently.
local LABEL_MAX = 63
function M.check_generated_names(cfg, prefix, problems)
  local o = cfg.observability
  local function check(name, field, what)
    if #name > LABEL_MAX then
      local value = field == "namespace" and cfg.namespace or field == "deployment_name" and cfg.deployment_name
      local room = value and (#value - (#name - LABEL_MAX)) or nil
      add(problems, prefix .. "." .. field, string.format(
        "%s would be named \"%s\" (%d characters), but Kubernetes allows at most %d in a " ..
        "label value%s", what, name, #name, LABEL_MAX,
        room and room > 0 and string.format("; shorten %s to %d characters or fewer", field, room)
        or "; choose shorter names"))
      return false
    end
    return true
  end
  local app = cfg.deployment_name
  if o and o.grafana and o.grafana.enabled and o.grafana.default_dashboards then
    check(app .. "-grafana-dashboard", "deployment_name", "the Grafana dashboard ConfigMap")
  end
  if cfg.registry_credentials then
    check(app .. "-registry", "deployment_name", "the registry credentials Secret")
  end
  if o and o.prometheus and o.prometheus.enabled then
    if check(app .. "-metrics", "deployment_name", "the metrics Service") and not app:match("^[a-z]") then
      add(problems, prefix .. ".deployment_name", string.format(
        "\"%s\" starts with a digit, but the metrics Service \"%s-metrics\" needs a name " ..
        "that starts with a letter (DNS-1035); rename the deployment, e.g. \"app-%s\"", app, app, app))
    end
  end
  for i, v in ipairs(cfg.persistent_storage and cfg.persistent_storage.volumes or {}) do
    if v.host_path then
      local pv = string.format("%s-%s-pv", cfg.namespace, v.name)
      if #pv > LABEL_MAX then
        add(problems, string.format("%s.persistent_storage.volumes[%d].name", prefix, i - 1), string.format(
          "the hostPath PersistentVolume would be named \"%s\" (<namespace>-<name>-pv, %d characters), " ..
          "but its app label allows at most %d; shorten the volume name to %d characters or fewer " ..
          "(or the namespace)", pv, #pv, LABEL_MAX, math.max(1, #v.name - (#pv - LABEL_MAX))))
      end
    end
  end
end

-- A ROS 1 application with neither a master nor a ROS_MASTER_URI cannot find its graph
-- (deploy_ros_master is false by default, as in the Python plugin): warn, naming the fix.
-- Likewise a ROS 2 application on Fast DDS without a discovery server: DDS multicast
-- discovery does not cross pods on most cluster networks (Flannel, Calico).
local function sets_env(fragment, name)
  if type(fragment) ~= "table" then return false end
  if fragment.name == name then return true end
  for _, v in pairs(fragment) do
    if type(v) == "table" and sets_env(v, name) then return true end
  end
  return false
end

-- Whether the application's own env sets name everywhere (additional_k8s_params, or
-- every component).
local function user_sets(cfg, name)
  local params = cfg.additional_k8s_params or {}
  if sets_env(params.application, name) then return true end
  if #cfg.components > 0 then
    for _, c in ipairs(cfg.components) do
      if not sets_env(c.env or {}, name) then return false end
    end
    return true
  end
  return false
end

function M.master_warning(cfg, prefix, where)
  if cfg.deploy_ros_master then return end
  local text
  if cfg.ros_version == "ros1" then
    if cfg.ros_master_uri or user_sets(cfg, "ROS_MASTER_URI") then return end
    text = "this ROS 1 application gets no ROS master (deploy_ros_master is false, " ..
      "the default) and no ROS_MASTER_URI, so its nodes look for a master on localhost; set " ..
      "deploy_ros_master: true, or ros_master_uri: http://HOST:11311 for a master you run"
  elseif cfg.ros_version == "ros2" then
    if require("rigelk8s.ros2net").options(cfg).rmw ~= "fastdds" or user_sets(cfg, "ROS_DISCOVERY_SERVER") then
      return
    end
    text = "this ROS 2 application gets no Fast DDS discovery server (deploy_ros_master is " ..
      "false, the default) and no ROS_DISCOVERY_SERVER, so its nodes discover each other by " ..
      "multicast, which does not cross pods on most cluster networks (Flannel, Calico); set " ..
      "deploy_ros_master: true, or ros2: {rmw: cyclonedds} (unicast peers, no server)"
  else
    return
  end
  local pos = position(where and where.positions, prefix)
  local loc = where and where.file or "config"
  if pos then loc = string.format("%s:%d:%d", loc, pos.line, pos.column) end
  cfg.warnings[#cfg.warnings + 1] = string.format("%s: warning: %s: %s", loc, prefix, text)
end

-- Whether any string (value or key) in v contains "{{".
local function has_template(v)
  if type(v) == "string" then return v:find("{{", 1, true) ~= nil end
  if type(v) ~= "table" or is_null(v) then return false end
  for k, item in pairs(v) do
    if has_template(k) or has_template(item) then return true end
  end
  return false
end

-- Splits a job's `with` into the config table and its path (see "Finding the job").
-- Keys of a job's `with` that say how to run the job (rigelk8s sequence, the Rigel
-- plugin shim), not what to deploy: accepted beside the settings, ignored here.
M.JOB_KEYS = {cleanup = true, timeout = true}

local function orchestration_part(with, with_path, problems)
  if is_null(with) then return {}, with_path .. ".orchestration" end
  if not is_map(with) then
    add(problems, with_path, "expected a map; put the settings under with: orchestration:")
    return {}, with_path .. ".orchestration"
  end
  if with.orchestration == nil then
    local settings = {}
    for k, v in pairs(with) do if not M.JOB_KEYS[k] then settings[k] = v end end
    return settings, with_path
  end
  for _, k in ipairs(sorted_keys(with)) do
    if k ~= "orchestration" and not M.JOB_KEYS[k] then
      local known = schema.orchestration.by_key[k]
      add(problems, with_path .. "." .. k, string.format(
        "unknown key '%s' next to orchestration:%s", k,
        known and ("; move it under orchestration:") or ""))
    end
  end
  local o = with.orchestration
  if is_null(o) then o = {} end
  return o, with_path .. ".orchestration"
end

-- load(opts) -> cfg. opts: file (default "Rigelfile"), job, config (JSON path or "-"),
-- namespace, data (values for {{ data.x }}), env (function name -> value; os.getenv),
-- doc + positions (use this parsed Rigelfile instead of reading file).
function M.load(opts)
  opts = opts or {}
  if opts.config then
    local json = require "rigelk8s.json"
    local text, name
    if opts.config == "-" then
      text, name = io.stdin:read("a"), "<stdin>"
    else
      local f = io.open(opts.config, "rb")
      if not f then config_error(string.format("%s: no such file; check the path given to --config",
                                               opts.config)) end
      text, name = f:read("a"), opts.config
      f:close()
    end
    local ok, tbl = pcall(json.decode, text)
    if not ok then
      config_error(string.format("%s: not valid JSON: %s", name,
                                 type(tbl) == "table" and tbl.message or tostring(tbl)))
    end
    return M.from_config(tbl, {source = name, namespace = opts.namespace, job = opts.job})
  end

  local file = opts.file or "Rigelfile"
  -- opts.doc/opts.positions: an already read (possibly edited) Rigelfile, e.g. a
  -- sequence entry's `with` merged over the job's.
  local doc, positions = opts.doc, opts.positions
  if not doc then doc, positions = M.read(file, {default_name = opts.file == nil or opts.default_file}) end
  local where = {file = file, positions = positions}
  local job = M.select_job(doc, opts.job, where)
  local job_path = "jobs." .. job
  local with_path = job_path .. ".with"

  local ctx
  local problems = {}
  local function render(value, path)
    if not has_template(value) then return value, true end
    if not ctx then
      template = template or require "rigelk8s.template"
      ctx = template.context{vars = is_map(doc.vars) and doc.vars or {}, data = opts.data,
                             env = opts.env}
    end
    local out, probs, pos = template.render(value, {ctx = ctx, path = path, positions = positions})
    for _, p in ipairs(probs) do problems[#problems + 1] = p end
    for k, v in pairs(pos) do if where.positions[k] == nil then where.positions[k] = v end end
    return out, #probs == 0
  end

  local with = render(doc.jobs[job].with, with_path)
  local raw, cfg_path = orchestration_part(with, with_path, problems)
  if #problems > 0 then raise_problems(problems, where) end

  -- Variables the rest of the config may fall back on, rendered only when used.
  local function var(name)
    local v
    if is_map(doc.vars) then v = doc.vars[name] end
    if is_null(v) then return nil end
    local out, ok = render(v, "vars." .. name)
    if ok then return out end
    return nil
  end

  local distro
  if is_map(doc.application) and not is_null(doc.application.distro) then
    local v = render(doc.application.distro, "application.distro")
    distro = {value = v, path = "application.distro"}
  elseif is_map(doc.vars) and not is_null(doc.vars.distro) then
    distro = {value = var("distro"), path = "vars.distro"}
  end

  local function image(probs)
    local function checked(v, path)
      local out, ps = schema.validate(v, schema.image{}, path)
      for _, p in ipairs(ps) do probs[#probs + 1] = p end
      return out, path
    end
    local base = var("base_image")
    if base ~= nil then return checked(base, "vars.base_image") end
    for _, name in ipairs(M.buildx_jobs(doc)) do
      local bw = doc.jobs[name].with
      if is_map(bw) and not is_null(bw.image) then
        local path = "jobs." .. name .. ".with.image"
        local v, ok = render(bw.image, path)
        if ok then return checked(v, path) end
        return nil
      end
    end
    return nil
  end

  local cfg = M.finish(raw, {path = cfg_path, where = where, problems = problems,
                             distro = distro, image = image, namespace = opts.namespace})
  cfg.source = {file = file, job = job, path = cfg_path}
  return cfg
end

-- from_config(with, opts) -> cfg: the already-rendered `with` data of an orchestration job
-- (as JSON gives it: {orchestration = {...}} or the fields directly). opts: source (a name
-- for messages, default "config"), path (default "with"), namespace, vars ({distro=,
-- base_image=} used like a Rigelfile's vars).
function M.from_config(with, opts)
  opts = opts or {}
  local source = opts.source or "config"
  local where = {file = source, positions = nil}
  local problems = {}
  local raw, cfg_path = orchestration_part(with, opts.path or "with", problems)
  local vars = opts.vars or {}
  local distro = vars.distro ~= nil and {value = vars.distro, path = "vars.distro"} or nil
  local function image()
    if type(vars.base_image) == "string" and vars.base_image ~= "" then
      return vars.base_image, "vars.base_image"
    end
    return nil
  end
  local cfg = M.finish(raw, {path = cfg_path, where = where, problems = problems,
                             distro = distro, image = image, namespace = opts.namespace})
  cfg.source = {file = source, job = opts.job, path = cfg_path}
  return cfg
end

return M
