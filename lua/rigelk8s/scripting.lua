-- Workflow steps for custom scripts, installed into rigelk8s.workflow (wf.*) by
-- extend(wf): variants of the application, a ConfigMap from a directory with the hash
-- that rolls the pods, and the report rows a script owns.
--
--   local d = wf.render(ctx, {name = "robot-green", image = "robot:2", replicas = 1,
--                             labels = {track = "green"}, selector_labels = {track = "green"}})
--   local cm, hash = wf.configmap_from_dir(ctx, "config/", "robot-config")
--   wf.record(ctx, "configured", service)     -- a change made through c:* joins the report
--   wf.set_row(ctx, d, "failed", "rolled back by the canary check")
local errors = require "rigelk8s.errors"

local M = {}

local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = deep_copy(x) end
  return setmetatable(c, getmetatable(v))
end

local VARIANT_KEYS = {name = "string", image = "string", replicas = "number", labels = "table",
                      selector_labels = "table", namespace = "string"}
local VARIANT_NAMES = {"image", "labels", "name", "namespace", "replicas", "selector_labels"}

-- Label keys and values as Kubernetes accepts them (a prefix/ and a name of 63 chars).
local function check_labels(where, t)
  for k, v in pairs(t) do
    if type(k) ~= "string" or not k:match("^[%w][%w._/-]*$") or #k > 253 then
      errors.usage("%s: %q is not a label key (letters, digits, '-', '_', '.', one '/')", where, tostring(k))
    end
    if type(v) ~= "string" or #v > 63 or not v:match("^[%w._-]*$") then
      errors.usage("%s.%s: label values are text of up to 63 letters, digits, '-', '_' or '.', got %s",
                   where, k, tostring(v))
    end
  end
end

-- render_variant(wf, ctx, variant) -> a Deployment: the Rigelfile's application rendered
-- as another Deployment, the Rigelfile's config untouched. variant: name (required: the
-- new Deployment's name, and its pods' `app` label), image, replicas, labels (added to
-- the Deployment and its pods), selector_labels (added to its pods and its selector, and
-- so to what tells its pods from the stable ones), namespace (another namespace than the
-- Rigelfile's; the script creates it). The pods keep `rigel.io/app` (the
-- Rigelfile's deployment_name): a Service selecting on it reaches both, one that also
-- selects on a selector label reaches only the variant. Not added to ctx.objects: pass
-- it to wf.add or wf.apply.
function M.render_variant(wf, ctx, variant)
  if type(variant) ~= "table" then errors.usage("wf.render: the variant is a table, got %s", type(variant)) end
  for k, v in pairs(variant) do
    if not VARIANT_KEYS[k] then
      local hint = require("rigelk8s.util").closest(tostring(k), VARIANT_NAMES)
      errors.usage("wf.render: unknown variant field '%s'%s (fields: %s)", tostring(k),
                   hint and ("; did you mean '" .. hint .. "'?") or "", table.concat(VARIANT_NAMES, ", "))
    end
    if type(v) ~= VARIANT_KEYS[k] then
      errors.usage("wf.render: variant.%s must be a %s, got %s", k, VARIANT_KEYS[k], type(v))
    end
  end
  if not variant.name or not variant.name:match("^[a-z0-9][-a-z0-9]*$") or #variant.name > 63 then
    errors.usage("wf.render: variant.name must be a DNS label (lowercase letters, digits, '-'), got %s",
                 tostring(variant.name))
  end
  check_labels("wf.render: variant.labels", variant.labels or {})
  check_labels("wf.render: variant.selector_labels", variant.selector_labels or {})
  local cfg = deep_copy(wf.config(ctx))
  if cfg.components and #cfg.components > 0 then
    errors.usage("wf.render: variants render the application, and this Rigelfile has components; " ..
                 "edit the components' Deployments from wf.render(ctx) instead")
  end
  if variant.image then
    local why = require("rigelk8s.schema").image_problem(variant.image)
    if why then errors.usage("wf.render: variant.image %q %s", variant.image, why) end
    cfg.application_image = variant.image
  end
  if variant.replicas then cfg.replicas = math.floor(variant.replicas) end
  if variant.namespace then
    if not variant.namespace:match("^[a-z0-9][-a-z0-9]*$") or #variant.namespace > 63 then
      errors.usage("wf.render: variant.namespace must be a DNS label, got %q", variant.namespace)
    end
    cfg.namespace = variant.namespace
  end
  local d
  for _, e in ipairs(require("rigelk8s.ros").manifests(cfg)) do
    if e.phase == "application" and e.object.kind == "Deployment" then d = e.object end
  end
  if not d then errors.usage("wf.render: the Rigelfile renders no application Deployment") end
  local name = variant.name
  d.metadata.name = name
  d.metadata.labels.app = name
  d.metadata.labels["app.kubernetes.io/name"] = name
  local pl = d.spec.template.metadata.labels
  pl.app = name
  pl["app.kubernetes.io/name"] = name
  d.spec.selector = {matchLabels = {app = name}}
  for k, v in pairs(variant.labels or {}) do d.metadata.labels[k] = v; pl[k] = v end
  for k, v in pairs(variant.selector_labels or {}) do
    pl[k] = v
    d.spec.selector.matchLabels[k] = v
  end
  return d
end

-- configmap_from_dir(wf, ctx, dir, name, opts) -> the ConfigMap, its hash. Every regular
-- file of dir (not hidden, not in subdirectories) becomes a data key; the SHA-256 of the
-- names and contents is set as the annotation rigelk8s.io/config-<name>-sha256 on the pod
-- template of opts.targets (default: the rendered application Deployments), so a change
-- of the files rolls their pods. The ConfigMap joins ctx.objects in the "config" phase.
function M.configmap_from_dir(wf, ctx, dir, name, opts)
  opts = opts or {}
  local sys = require "rigelk8s.sys"
  if type(dir) ~= "string" then errors.usage("wf.configmap_from_dir: dir must be a path, got %s", type(dir)) end
  if type(name) ~= "string" or not name:match("^[a-z0-9][-a-z0-9.]*$") then
    errors.usage("wf.configmap_from_dir: name must be a DNS name (lowercase letters, digits, '-', '.'), got %s",
                 tostring(name))
  end
  local names, err = sys.listdir(dir)
  if not names then errors.usage("wf.configmap_from_dir: cannot list %s (fix the path)", err) end
  local data, parts, size = {}, {}, 0
  for _, f in ipairs(names) do
    local path = dir:gsub("/$", "") .. "/" .. f
    local text = f:sub(1, 1) ~= "." and f:match("^[-._%w]+$") and sys.readfile(path)
    if text then
      if not utf8.len(text) then
        errors.usage("wf.configmap_from_dir: %s is not UTF-8 text; a ConfigMap's data holds text " ..
                     "(put binary files in a Secret or an image)", path)
      end
      data[f] = text
      size = size + #text
      parts[#parts + 1] = f .. "\0" .. text .. "\0"
    end
  end
  if #parts == 0 then errors.usage("wf.configmap_from_dir: %s has no files to put in ConfigMap %s", dir, name) end
  if size > 1000000 then
    errors.usage("wf.configmap_from_dir: the files of %s hold %d bytes; a ConfigMap holds at most 1 MiB", dir, size)
  end
  local hash = require("rigelk8s.hash").sha256(table.concat(parts))
  local cfg = ctx.cfg or wf.config(ctx)
  local cm = {apiVersion = "v1", kind = "ConfigMap",
              metadata = {name = name, namespace = cfg.namespace,
                          labels = {["app.kubernetes.io/managed-by"] = "rigelk8s",
                                    ["app.kubernetes.io/part-of"] = cfg.deployment_name},
                          annotations = {["rigelk8s.io/sha256"] = hash}},
              data = data}
  if not ctx.entries then wf.render(ctx) end
  local targets = opts.targets
  if not targets then
    targets = {}
    for _, o in ipairs(wf.phase_objects(ctx, {"application"})) do
      if o.kind == "Deployment" then targets[#targets + 1] = o end
    end
  end
  for _, w in ipairs(targets) do
    local tm = w.spec.template.metadata
    tm.annotations = tm.annotations or {}
    tm.annotations["rigelk8s.io/config-" .. name .. "-sha256"] = hash
  end
  wf.add(ctx, cm, "config")
  return cm, hash
end

local ACTIONS = {"configured", "created", "deleted", "unchanged"}
local ACTION_SET = {created = true, configured = true, unchanged = true, deleted = true}

-- record(wf, ctx, action, obj): adds an object the script changed through c:* to the
-- report's "applied" line and JSON (action: created, configured, unchanged, deleted).
function M.record(wf, ctx, action, obj)
  if not ACTION_SET[action] then
    local hint = require("rigelk8s.util").closest(tostring(action), ACTIONS)
    errors.usage("wf.record: unknown action '%s'%s (actions: %s)", tostring(action),
                 hint and ("; did you mean '" .. hint .. "'?") or "", table.concat(ACTIONS, ", "))
  end
  if type(obj) ~= "table" or not obj.kind or type(obj.metadata) ~= "table" then
    errors.usage("wf.record: expected a Kubernetes object with kind and metadata")
  end
  ctx.applied = ctx.applied or {created = {}, configured = {}, unchanged = {}, failed = {}, not_applied = {},
                                skipped = {}}
  ctx.applied[action] = ctx.applied[action] or {}
  table.insert(ctx.applied[action], wf.shown_ref(ctx, obj, {obj}))
  if not ctx.json then ctx.out:say("%s %s", wf.shown_ref(ctx, obj, {obj}), action) end
end

local STATES = {"failed", "progressing", "ready"}
local STATE_SET = {ready = true, failed = true, progressing = true}

-- set_row(wf, ctx, obj, state, message): corrects (or adds) the row of obj in the run's
-- last wait result (ctx.result), e.g. after the script's own rollback. state: ready,
-- failed or progressing. Returns the row.
function M.set_row(wf, ctx, obj, state, message)
  if not STATE_SET[state] then
    local hint = require("rigelk8s.util").closest(tostring(state), STATES)
    errors.usage("wf.set_row: unknown state '%s'%s (states: %s)", tostring(state),
                 hint and ("; did you mean '" .. hint .. "'?") or "", table.concat(STATES, ", "))
  end
  if type(obj) ~= "table" or not obj.kind or type(obj.metadata) ~= "table" then
    errors.usage("wf.set_row: expected a Kubernetes object with kind and metadata")
  end
  local result = ctx.result
  if not result then
    result = {state = "ready", rows = {}, targets = {}, elapsed = 0}
    ctx.result = result
  end
  local ns, name = obj.metadata.namespace, obj.metadata.name
  local row
  for _, r in ipairs(result.rows) do
    if r.kind == obj.kind and r.object == name and r.namespace == ns then row = r end
  end
  if not row then
    row = {kind = obj.kind, namespace = ns, object = name, name = wf.shown_ref(ctx, obj, {obj}), reasons = {}}
    result.rows[#result.rows + 1] = row
    result.targets = result.targets or {}
    result.targets[#result.targets + 1] = {namespace = ns, kind = obj.kind, name = name, row = row.name}
  end
  row.state, row.message, row.short = state, message or state, message or state
  row.diagnosis = state == "failed" and string.format("%s: %s", row.name, message or "failed") or nil
  for _, t in ipairs(result.targets or {}) do
    if t.kind == obj.kind and t.name == name and t.namespace == ns then
      t.state, t.message, t.diagnosis = state == "progressing" and "pending" or state, message or state, row.diagnosis
    end
  end
  return row
end

-- Installs the steps above into wf (wf.render_variant, wf.configmap_from_dir, wf.record,
-- wf.set_row), each taking ctx first like the other steps.
function M.extend(wf)
  wf.render_variant = function(ctx, variant) return M.render_variant(wf, ctx, variant) end
  wf.configmap_from_dir = function(ctx, dir, name, opts) return M.configmap_from_dir(wf, ctx, dir, name, opts) end
  wf.record = function(ctx, action, obj) return M.record(wf, ctx, action, obj) end
  wf.set_row = function(ctx, obj, state, message) return M.set_row(wf, ctx, obj, state, message) end
  return wf
end

return M
