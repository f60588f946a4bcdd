-- The failure report: the evidence of a failed rollout, read from the cluster before
-- anything is rolled back or deleted, and saved as a 0600 JSON file (README, "When a
-- rollout fails"). wf.wait builds and writes it on the first failed wait of a run
-- (workflow.lua, wf.failure_report); this module does the reading, masking and writing.
--
--   local failreport = require "rigelk8s.failreport"
--   local doc = failreport.collect(client, result, {objects = rendered, app = "name",
--                                                   namespace = "ns", command = "update"})
--   failreport.mask(doc, failreport.known_secrets(rendered))   -- in place
--   local path, err = failreport.write(doc, dir, "name")        -- dir: nil = "."
--   local shown = failreport.shown(doc)   -- the ~10 log lines the text report shows
--
-- What is in it, per workload (Deployment, StatefulSet, DaemonSet, Job, or a bare Pod)
-- that did not become ready: its rendered spec (as rigelk8s applied it) and its live
-- copy, its events, and for each failing pod (at most MAX_PODS): the pod's conditions,
-- every container's state, last state and restart count, the last LOG_TAIL lines of
-- the current and of the previous container (pods/log?previous=true; no previous
-- container is recorded as {available = false, reason}), and the pod's events. Also the
-- verdict: the state, the diagnosis and the rows of the wait.
--
-- Masking (MASKING below is the rule as the report states it): every Secret's data and
-- stringData values; env values whose names look secret; passwords in URLs
-- (scheme://user:PASSWORD@host); kubectl's last-applied-configuration annotation; and
-- every value of the run's own Secrets (the rendered ones: registry credentials, a
-- script's wf.add) and of the masked env values wherever it appears in the report's
-- text, logs included.
local rigelk8s = require "rigelk8s"
local sys = require "rigelk8s.sys"

local M = {}

M.LOG_TAIL = 200     -- lines of each container log kept
M.SHOWN_LINES = 10   -- lines the text report shows under the diagnosis
M.MAX_PODS = 5       -- failing pods per workload
M.MAX_EVENTS = 50    -- events per object (the newest)
M.MASK = "***"

M.MASKING = "Secret data and stringData values, env values whose names contain PASS, PWD, SECRET, " ..
            "TOKEN, KEY, CREDENTIAL, AUTH, PRIVATE, COOKIE or SESSION (any case), passwords in " ..
            "URLs (scheme://user:PASSWORD@host) and the kubectl.kubernetes.io/last-applied-configuration " ..
            "annotation are replaced by ***; every value of the run's rendered Secrets (registry " ..
            "credentials included) and of those env values, when at least 4 characters long, is " ..
            "replaced by *** wherever it appears (logs, events, messages). env valueFrom " ..
            "references (secretKeyRef) are names, not values, and are kept."

local API = {Deployment = "apps/v1", StatefulSet = "apps/v1", DaemonSet = "apps/v1", ReplicaSet = "apps/v1",
             Job = "batch/v1", Pod = "v1", PersistentVolumeClaim = "v1"}
local WORKLOADS = {Deployment = true, StatefulSet = true, DaemonSet = true, Job = true, Pod = true}

local function array(t) return rigelk8s.array(t or {}) end

local function copy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = copy(x) end
  return setmetatable(c, getmetatable(v))
end

local function lines_of(text)
  local out = {}
  if type(text) ~= "string" or text == "" then return out end
  for line in (text:sub(-1) == "\n" and text or (text .. "\n")):gmatch("(.-)\n") do out[#out + 1] = line end
  return out
end

local function message_of(err)
  if type(err) == "table" then return tostring(err.message or err.reason or "error") end
  return tostring(err)
end

-- A live object without the bookkeeping nobody reads in a report.
local function clean(obj)
  if type(obj) ~= "table" then return rigelk8s.null end
  local c = copy(obj)
  if type(c.metadata) == "table" then c.metadata.managedFields = nil end
  return c
end

local function owned_by(obj, uids)
  for _, ref in ipairs(type(obj.metadata) == "table" and obj.metadata.ownerReferences or {}) do
    if uids[ref.uid] then return true end
  end
  return false
end

local function selector_text(sel)
  local parts = {}
  for k, v in pairs(type(sel) == "table" and type(sel.matchLabels) == "table" and sel.matchLabels or {}) do
    parts[#parts + 1] = k .. "=" .. tostring(v)
  end
  table.sort(parts)
  return #parts > 0 and table.concat(parts, ",") or nil
end

-- The pods of a workload: those it owns (a Deployment through its ReplicaSets); also,
-- for a Deployment, its newest ReplicaSet (whose events tell of pods it could not make).
local function pods_of(client, w)
  local ns = w.metadata.namespace
  local uids = {[w.metadata.uid or ""] = true}
  local sel = selector_text(type(w.spec) == "table" and w.spec.selector)
  local newest
  if w.kind == "Deployment" then
    local rss = client:try_list{apiVersion = "apps/v1", kind = "ReplicaSet", namespace = ns, label_selector = sel}
    local owner = {[w.metadata.uid or ""] = true}
    local function rev(rs)
      local a = rs.metadata.annotations or {}
      return tonumber(a["deployment.kubernetes.io/revision"]) or 0
    end
    for _, rs in ipairs(rss or {}) do
      if owned_by(rs, owner) then
        uids[rs.metadata.uid] = true
        if not newest or rev(rs) > rev(newest) then newest = rs end
      end
    end
  end
  local pods, err = client:try_list{apiVersion = "v1", kind = "Pod", namespace = ns, label_selector = sel}
  if not pods then return {}, err, newest end
  local out = {}
  for _, p in ipairs(pods) do
    if owned_by(p, uids) then out[#out + 1] = p end
  end
  table.sort(out, function(a, b) return a.metadata.name < b.metadata.name end)
  return out, nil, newest
end

local function ready(p)
  for _, c in ipairs(type(p.status) == "table" and p.status.conditions or {}) do
    if c.type == "Ready" then return c.status == "True" end
  end
  return false
end

-- The pods worth reporting: the failing one the verdict names first, then the others
-- that are not Ready (a Succeeded pod is done, not failing). When none is failing (a
-- timeout of a workload whose pods are Ready but too few, or the ROS graph gate), every
-- pod: their logs are still the evidence.
local function pick_pods(pods, subject)
  local failing, first = {}, nil
  for _, p in ipairs(pods) do
    local phase = type(p.status) == "table" and p.status.phase
    if subject and p.metadata.name == subject then first = p
    elseif not ready(p) and phase ~= "Succeeded" then failing[#failing + 1] = p end
  end
  if first then table.insert(failing, 1, first) end
  if #failing == 0 then failing = pods end
  local out = {}
  for i = 1, math.min(#failing, M.MAX_PODS) do out[i] = failing[i] end
  return out, #failing
end

local function event_time(e)
  return e.lastTimestamp or e.eventTime or (type(e.series) == "table" and e.series.lastObservedTime)
         or e.firstTimestamp or (type(e.metadata) == "table" and e.metadata.creationTimestamp) or ""
end

-- The events about one object (by uid), oldest first, the newest MAX_EVENTS.
local function events_of(client, obj)
  local uid = obj.metadata and obj.metadata.uid
  if not uid then return array{} end
  local items, err = client:try_list{apiVersion = "v1", kind = "Event", namespace = obj.metadata.namespace,
                                     field_selector = "involvedObject.uid=" .. uid}
  if not items then return {error = message_of(err)} end
  table.sort(items, function(a, b)
    local ta, tb = tostring(event_time(a)), tostring(event_time(b))
    if ta ~= tb then return ta < tb end
    return (a.metadata.name or "") < (b.metadata.name or "")
  end)
  local out = array{}
  for i = math.max(1, #items - M.MAX_EVENTS + 1), #items do
    local e = items[i]
    local src = type(e.source) == "table" and e.source.component or e.reportingController
    out[#out + 1] = {type = e.type or "Normal", reason = e.reason or rigelk8s.null,
                     message = e.message or e.note or "", count = tonumber(e.count) or 1,
                     first_seen = e.firstTimestamp or e.eventTime or rigelk8s.null,
                     last_seen = event_time(e) ~= "" and event_time(e) or rigelk8s.null,
                     source = src or rigelk8s.null}
  end
  return out
end

local function log_of(client, pod, container, previous)
  local text, err = client:try_logs(pod, {container = container, tail = M.LOG_TAIL, previous = previous or nil})
  if text == nil then
    return {available = false, reason = message_of(err)}
  end
  return {available = true, lines = array(lines_of(text))}
end

local function container_entries(client, pod)
  local spec = type(pod.spec) == "table" and pod.spec or {}
  local st = type(pod.status) == "table" and pod.status or {}
  local status_of = {}
  for _, list in ipairs{st.initContainerStatuses or {}, st.containerStatuses or {}} do
    for _, cs in ipairs(list) do status_of[cs.name] = cs end
  end
  local out = array{}
  for _, group in ipairs{{list = spec.initContainers or {}, init = true}, {list = spec.containers or {}, init = false}} do
    for _, c in ipairs(group.list) do
      local cs = status_of[c.name] or {}
      out[#out + 1] = {
        name = c.name, init = group.init, image = c.image or rigelk8s.null,
        ready = cs.ready == true, restart_count = tonumber(cs.restartCount) or 0,
        state = cs.state or rigelk8s.null, last_state = cs.lastState or rigelk8s.null,
        log = log_of(client, pod, c.name, false),
        previous_log = log_of(client, pod, c.name, true),
      }
    end
  end
  return out
end

local function pod_entry(client, pod)
  local st = type(pod.status) == "table" and pod.status or {}
  return {name = pod.metadata.name, namespace = pod.metadata.namespace,
          phase = st.phase or rigelk8s.null, node = (type(pod.spec) == "table" and pod.spec.nodeName) or rigelk8s.null,
          reason = st.reason or rigelk8s.null, message = st.message or rigelk8s.null,
          conditions = array(st.conditions or {}),
          containers = container_entries(client, pod),
          events = events_of(client, pod)}
end

local function rendered_of(objects, kind, name, ns)
  for _, o in ipairs(objects or {}) do
    local md = type(o) == "table" and type(o.metadata) == "table" and o.metadata or {}
    if o.kind == kind and md.name == name and (ns == nil or md.namespace == nil or md.namespace == ns) then
      return o
    end
  end
end

-- Names of the ConfigMaps and Secrets a pod template reads (env, envFrom, volumes,
-- imagePullSecrets).
local function references(pod_spec)
  local refs = {ConfigMap = {}, Secret = {}}
  if type(pod_spec) ~= "table" then return refs end
  for _, s in ipairs(pod_spec.imagePullSecrets or {}) do refs.Secret[s.name or ""] = true end
  for _, v in ipairs(pod_spec.volumes or {}) do
    if type(v.secret) == "table" and v.secret.secretName then refs.Secret[v.secret.secretName] = true end
    if type(v.configMap) == "table" and v.configMap.name then refs.ConfigMap[v.configMap.name] = true end
  end
  for _, group in ipairs{pod_spec.initContainers or {}, pod_spec.containers or {}} do
    for _, c in ipairs(group) do
      for _, e in ipairs(c.env or {}) do
        local from = type(e.valueFrom) == "table" and e.valueFrom or {}
        if type(from.secretKeyRef) == "table" and from.secretKeyRef.name then refs.Secret[from.secretKeyRef.name] = true end
        if type(from.configMapKeyRef) == "table" and from.configMapKeyRef.name then
          refs.ConfigMap[from.configMapKeyRef.name] = true
        end
      end
      for _, e in ipairs(c.envFrom or {}) do
        if type(e.secretRef) == "table" and e.secretRef.name then refs.Secret[e.secretRef.name] = true end
        if type(e.configMapRef) == "table" and e.configMapRef.name then refs.ConfigMap[e.configMapRef.name] = true end
      end
    end
  end
  return refs
end

local function pod_spec_of(o)
  if type(o) ~= "table" or type(o.spec) ~= "table" then return nil end
  if o.kind == "Pod" then return o.spec end
  local t = o.spec.template
  if o.kind == "CronJob" then t = type(o.spec.jobTemplate) == "table" and o.spec.jobTemplate.spec.template end
  return type(t) == "table" and t.spec or nil
end

-- The rendered ConfigMaps and Secrets the workload reads (Secrets masked later): their
-- keys are evidence when a pod fails on a missing key.
local function related_of(objects, w, ns)
  local refs = references(pod_spec_of(w))
  local out = array{}
  for _, kind in ipairs{"ConfigMap", "Secret"} do
    local names = {}
    for n in pairs(refs[kind]) do names[#names + 1] = n end
    table.sort(names)
    for _, n in ipairs(names) do
      local o = rendered_of(objects, kind, n, ns)
      out[#out + 1] = o and {kind = kind, name = n, rendered = copy(o)}
                      or {kind = kind, name = n, rendered = rigelk8s.null,
                          note = "not rendered by this run (made outside the Rigelfile)"}
    end
  end
  return out
end

-- collect(client, result, opts) -> the report document (not yet masked). result: a wait
-- result (rows with kind, object, namespace, state, message, subject). opts: objects
-- (the rendered objects), app, namespace, command. The document also names the
-- cluster (context, server) and how long reading it took (collected_in_seconds).
function M.collect(client, result, opts)
  opts = opts or {}
  local t0 = sys.now()
  local doc = {
    kind = "RigelK8sFailureReport", version = 1,
    app = opts.app or rigelk8s.null, namespace = opts.namespace or rigelk8s.null,
    command = opts.command or rigelk8s.null,
    created = os.date("!%Y-%m-%dT%H:%M:%SZ"),
    rigelk8s_version = rigelk8s.version,
    state = result.state, diagnosis = result.diagnosis or rigelk8s.null,
    elapsed_seconds = result.elapsed or rigelk8s.null,
    log_tail_lines = M.LOG_TAIL, masking = M.MASKING,
    -- Which cluster: a fleet's robots run the same app, each into its own report.
    context = client.context or rigelk8s.null, server = client.server or rigelk8s.null,
    rows = array{}, workloads = array{}, objects = array{},
  }
  if result.ros_graph then doc.ros_graph = copy(result.ros_graph) end
  local rows = result.rows or {}
  -- The rows that explain the failure: failed ones; on a timeout every one not ready;
  -- when none is (the ROS graph gate failed after the pods were Ready), every workload.
  local chosen = {}
  for _, r in ipairs(rows) do
    doc.rows[#doc.rows + 1] = {name = r.name, kind = r.kind, namespace = r.namespace or rigelk8s.null,
                               state = r.state, message = r.message or "", reasons = array(r.reasons or {})}
    if r.state == "failed" or (result.state ~= "failed" and r.state ~= "ready") then chosen[#chosen + 1] = r end
  end
  if #chosen == 0 then
    for _, r in ipairs(rows) do if WORKLOADS[r.kind] then chosen[#chosen + 1] = r end end
  end
  for _, r in ipairs(chosen) do
    local ns = r.namespace or opts.namespace
    local ref = {apiVersion = API[r.kind] or "v1", kind = r.kind, name = r.object, namespace = ns}
    local live, lerr = client:try_get(ref)
    local entry = {kind = r.kind, name = r.object, namespace = ns or rigelk8s.null, state = r.state,
                   message = r.message or "", reasons = array(r.reasons or {}),
                   rendered = copy(rendered_of(opts.objects, r.kind, r.object, ns)) or rigelk8s.null,
                   live = clean(live)}
    if not live then entry.live_error = message_of(lerr) end
    if WORKLOADS[r.kind] then
      entry.pods = array{}
      if live then
        local pods, perr, newest_rs
        if r.kind == "Pod" then pods = {live} else pods, perr, newest_rs = pods_of(client, live) end
        local subject = type(r.subject) == "table" and r.subject.kind == "Pod" and r.subject.metadata.name or nil
        local picked, failing = pick_pods(pods, subject)
        if perr then entry.pods_error = message_of(perr) end
        if failing > #picked then
          entry.pods_note = string.format("%d failing pods; the first %d are in this report", failing, #picked)
        end
        for _, p in ipairs(picked) do entry.pods[#entry.pods + 1] = pod_entry(client, p) end
        if r.kind ~= "Pod" then entry.events = events_of(client, live) end
        -- The newest ReplicaSet speaks for a Deployment's pods it could not create
        -- (FailedCreate: a quota, an admission webhook).
        if newest_rs then
          entry.replicaset = {name = newest_rs.metadata.name, events = events_of(client, newest_rs)}
        end
        entry.related = related_of(opts.objects, entry.rendered ~= rigelk8s.null and entry.rendered or live, ns)
      end
      doc.workloads[#doc.workloads + 1] = entry
    else
      if live then entry.events = events_of(client, live) end
      doc.objects[#doc.objects + 1] = entry
    end
  end
  doc.collected_in_seconds = sys.now() - t0
  return doc
end

---------------------------------------------------------------------------------------
-- Masking

local SECRET_NAME_WORDS = {"pass", "pwd", "secret", "token", "key", "credential", "auth", "private",
                           "cookie", "session"}

-- Whether an env variable's name looks like it holds a secret.
function M.secret_name(name)
  if type(name) ~= "string" then return false end
  local lower = name:lower()
  for _, w in ipairs(SECRET_NAME_WORDS) do
    if lower:find(w, 1, true) then return true end
  end
  return false
end

-- Standard base64 to bytes, or nil when s is not base64 (core/base64.c's rule).
local function b64decode(s)
  if type(s) ~= "string" then return nil end
  return (require("rigelk8s").base64_decode(s))
end
M.b64decode = b64decode

-- A value worth searching for: long enough not to hit ordinary words, and not a flag
-- (true, 1, yes) that a secret-looking name happens to carry.
local FLAGS = {["true"] = true, ["false"] = true, yes = true, no = true, on = true, off = true,
               null = true, none = true}
local function worth(v)
  return type(v) == "string" and #v >= 4 and not FLAGS[v:lower()] and not v:match("^%d+$")
end

-- The secret values the run itself knows, to scrub from the report's text: every value
-- of the rendered Secrets (data decoded from base64, and the raw base64 too; for a
-- docker config, each registry's auth, password and tokens), and the literal values of
-- env variables with secret-looking names in the rendered workloads.
function M.known_secrets(objects)
  local set = {}
  local function add(v) if worth(v) then set[v] = true end end
  local function add_docker_config(text)
    local ok, cfg = pcall(require("rigelk8s.json").decode, text)
    if not ok or type(cfg) ~= "table" or type(cfg.auths) ~= "table" then return end
    for _, a in pairs(cfg.auths) do
      if type(a) == "table" then
        for _, k in ipairs{"auth", "password", "identitytoken", "registrytoken"} do add(a[k]) end
        local up = b64decode(a.auth)
        local pass = up and up:match("^[^:]*:(.*)$")
        add(pass)
      end
    end
  end
  for _, o in ipairs(objects or {}) do
    if type(o) == "table" and o.kind == "Secret" then
      for _, field in ipairs{"data", "stringData"} do
        for _, v in pairs(type(o[field]) == "table" and o[field] or {}) do
          if type(v) == "string" then
            add(v)
            local plain = field == "data" and b64decode(v) or v
            add(plain)
            if plain then add_docker_config(plain) end
          end
        end
      end
    end
    local spec = pod_spec_of(o)
    for _, group in ipairs{spec and spec.initContainers or {}, spec and spec.containers or {}} do
      for _, c in ipairs(group) do
        for _, e in ipairs(c.env or {}) do
          if M.secret_name(e.name) then add(e.value) end
        end
      end
    end
  end
  local list = {}
  for v in pairs(set) do list[#list + 1] = v end
  -- Longest first: a value that contains another is replaced whole.
  table.sort(list, function(a, b) return #a > #b or (#a == #b and a < b) end)
  return list
end

local function scrub(s, secrets)
  if type(s) ~= "string" then return s end
  for _, v in ipairs(secrets) do
    if s:find(v, 1, true) then
      local out, i = {}, 1
      while true do
        local a, b = s:find(v, i, true)
        if not a then break end
        out[#out + 1] = s:sub(i, a - 1)
        out[#out + 1] = M.MASK
        i = b + 1
      end
      out[#out + 1] = s:sub(i)
      s = table.concat(out)
    end
  end
  -- scheme://user:password@host
  s = s:gsub("(%a[%w+.-]*://[^/%s:@]+:)[^@/%s]+@", "%1" .. M.MASK .. "@")
  return s
end
M.scrub = scrub

local LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

-- Masks v in place: Secrets' values, secret-looking env values, last-applied annotations,
-- then every string through scrub.
local function mask_value(v, secrets)
  if type(v) ~= "table" then return end
  if v.kind == "Secret" then
    for _, field in ipairs{"data", "stringData"} do
      if type(v[field]) == "table" then
        for k in pairs(v[field]) do v[field][k] = M.MASK end
      end
    end
  end
  if type(v.metadata) == "table" and type(v.metadata.annotations) == "table"
     and v.metadata.annotations[LAST_APPLIED] ~= nil then
    v.metadata.annotations[LAST_APPLIED] = M.MASK
  end
  if type(v.env) == "table" then
    for _, e in ipairs(v.env) do
      if type(e) == "table" and M.secret_name(e.name) and type(e.value) == "string" then e.value = M.MASK end
    end
  end
  for k, x in pairs(v) do
    if type(x) == "string" then
      v[k] = scrub(x, secrets)
    else
      mask_value(x, secrets)
    end
  end
end

-- mask(doc, secrets) -> doc, masked in place. secrets: known_secrets(...) (or {}).
function M.mask(doc, secrets)
  local rule = doc.masking
  mask_value(doc, secrets or {})
  doc.masking = rule   -- the rule's own text shows what a masked URL looks like
  return doc
end

---------------------------------------------------------------------------------------
-- Writing and showing

-- "rigelk8s-failure-APP-20261207T181632Z.json": APP reduced to [a-z0-9.-].
function M.file_name(app, t)
  local name = tostring(app or "run"):lower():gsub("[^a-z0-9.-]+", "-"):gsub("^[-.]+", "")
  if name == "" then name = "run" end
  return string.format("rigelk8s-failure-%s-%s.json", name, os.date("!%Y%m%dT%H%M%SZ", t))
end

-- write(doc, dir, app) -> path, or nil and a message naming the directory. The file is
-- new (never overwrites: a second report in the same second gets -2, -3, ...) and 0600.
function M.write(doc, dir, app)
  dir = (dir == nil or dir == "") and "." or dir:gsub("/+$", "")
  if dir == "" then dir = "/" end
  -- An absolute path in the output: whoever reads the JSON may run elsewhere.
  local shown_dir = dir
  dir = sys.realpath(dir) or dir
  local text = require("rigelk8s.json").encode(doc, {indent = 2}) .. "\n"
  local base = M.file_name(app, os.time()):gsub("%.json$", "")
  local last
  for n = 1, 50 do
    local path = (dir == "/" and "" or dir) .. "/" .. base .. (n > 1 and ("-" .. n) or "") .. ".json"
    local ok, err = sys.write_private(path, text, {exclusive = true})
    if ok then return path end
    last = err
    if not tostring(err):match("^exists: ") then break end
  end
  local why = tostring(last):match(": ([^:]+)$") or tostring(last)
  return nil, string.format("cannot write the failure report in %s (%s); give --report-dir a directory " ..
                            "you can write to", shown_dir == "." and "the working directory" or shown_dir, why)
end

-- The log lines the text report shows: of the first failing container of the first pod
-- reported; for a container waiting to restart (CrashLoopBackOff) or terminated, its
-- previous instance's lines when there are any, which say why it stopped. Returns
-- {pod, container, which = "previous" | "current", lines, exit_code} or nil.
function M.shown(doc, n)
  n = n or M.SHOWN_LINES
  for _, w in ipairs(type(doc) == "table" and doc.workloads or {}) do
    for _, p in ipairs(w.pods or {}) do
      local pick
      for _, c in ipairs(p.containers or {}) do
        -- Not ready, and not an init container that finished its work.
        local term = type(c.state) == "table" and c.state.terminated
        if not c.ready and not (c.init and term and tonumber(term.exitCode) == 0) then pick = c; break end
      end
      pick = pick or (p.containers or {})[1]
      if pick then
        local waiting = type(pick.state) == "table" and pick.state.waiting
        local use, which = pick.log, "current"
        if (waiting or pick.restart_count > 0) and pick.previous_log.available and #pick.previous_log.lines > 0 then
          use, which = pick.previous_log, "previous"
        elseif not (use.available and #use.lines > 0) and pick.previous_log.available then
          use, which = pick.previous_log, "previous"
        end
        local last = type(pick.last_state) == "table" and pick.last_state.terminated
        local term = type(pick.state) == "table" and pick.state.terminated
        local out = {pod = p.name, container = pick.name, which = which, lines = {},
                     reason = not use.available and use.reason or nil,
                     exit_code = which == "previous" and last and last.exitCode or (term and term.exitCode) or nil}
        for i = math.max(1, #(use.lines or {}) - n + 1), #(use.lines or {}) do out.lines[#out.lines + 1] = use.lines[i] end
        return out
      end
    end
  end
end

-- The text under the diagnosis: the shown lines, indented, and where the report is.
function M.text(shown, path, err)
  local out = {}
  if shown then
    local what = string.format("%s container of pod %s, container %s", shown.which, shown.pod, shown.container)
    if shown.exit_code and shown.exit_code ~= rigelk8s.null then what = what .. ", exit code " .. tostring(shown.exit_code) end
    if #shown.lines > 0 then
      out[#out + 1] = string.format("last %d log line%s (%s):", #shown.lines, #shown.lines == 1 and "" or "s", what)
      for _, l in ipairs(shown.lines) do out[#out + 1] = "  | " .. l end
    elseif shown.reason then
      out[#out + 1] = string.format("no log (%s): %s", what, shown.reason)
    end
  end
  if path then
    out[#out + 1] = "failure report (logs of every failing container, events, specs): " .. path
  elseif err then
    out[#out + 1] = "no failure report: " .. err
  end
  return table.concat(out, "\n")
end

return M
