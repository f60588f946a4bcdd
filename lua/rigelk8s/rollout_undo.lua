-- rigelk8s.rollout_undo: kubectl-style history, undo, pause, resume and restart of a
-- Deployment, defined into rigelk8s.rollout (rollout.history, rollout.undo,
-- rollout.extract, rollout.apply_entry, rollout.pause, rollout.resume, rollout.restart).
local core = require "rigelk8s.rollout_core"

local M = require "rigelk8s.rollout_tracker"

-- kubectl-style history of a Deployment: list of {revision, name, images, change_cause}.
local function replicasets_of(client, deploy)
  local list = client:list{apiVersion = "apps/v1", kind = "ReplicaSet",
                           namespace = deploy.metadata.namespace}
  return list
end

function M.history(client, ref)
  local d = client:get{apiVersion = "apps/v1", kind = "Deployment", name = ref.name,
                       namespace = ref.namespace}
  return core.history(d, replicasets_of(client, d)), d
end

-- The applied configuration a field manager owns in obj: the parts of obj named by a
-- managedFields entry's fieldsV1 (client-go's ExtractInto). "f:x" is a map key, "k:{...}"
-- the list item with those key fields, "v:..." a set item, "i:N" a list index; an empty
-- set owns the whole value below it.
local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = deep_copy(x) end
  return setmetatable(c, getmetatable(v))
end

local function same_value(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same_value(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function extract(v, fs)
  if type(fs) ~= "table" or next(fs) == nil or type(v) ~= "table" then return deep_copy(v) end
  local rigelk8s, json = require "rigelk8s", require "rigelk8s.json"
  if rigelk8s.is_array(v) or v[1] ~= nil then
    local wanted = {}
    for fk, child in pairs(fs) do
      local tag, rest = fk:sub(1, 2), fk:sub(3)
      local ok, decoded = pcall(json.decode, rest)
      if tag == "k:" and ok and type(decoded) == "table" then
        wanted[#wanted + 1] = {keys = decoded, child = child}
      elseif tag == "v:" and ok then
        wanted[#wanted + 1] = {value = decoded}
      elseif tag == "i:" and tonumber(rest) then
        wanted[#wanted + 1] = {index = tonumber(rest) + 1, child = child}
      end
    end
    local out = rigelk8s.array{}
    for i, item in ipairs(v) do
      for _, w in ipairs(wanted) do
        if w.keys and type(item) == "table" then
          local match = true
          for k, want in pairs(w.keys) do
            if not same_value(item[k], want) then match = false; break end
          end
          if match then
            local e = extract(item, w.child)
            for k, want in pairs(w.keys) do e[k] = deep_copy(want) end
            out[#out + 1] = e
            break
          end
        elseif (w.value ~= nil and same_value(item, w.value)) or w.index == i then
          out[#out + 1] = w.index and extract(item, w.child) or deep_copy(item)
          break
        end
      end
    end
    return out
  end
  local out = {}
  for fk, child in pairs(fs) do
    if fk:sub(1, 2) == "f:" and v[fk:sub(3)] ~= nil then
      out[fk:sub(3)] = extract(v[fk:sub(3)], child)
    end
  end
  return out
end
M.extract = extract

-- The managedFields entry of manager's server-side applies to obj (not a subresource's).
function M.apply_entry(obj, manager)
  for _, e in ipairs(obj.metadata and obj.metadata.managedFields or {}) do
    if e.manager == manager and e.operation == "Apply" and (e.subresource == nil or e.subresource == "")
       and e.apiVersion == obj.apiVersion then
      return e
    end
  end
end

-- Rolls a Deployment back to to_revision (0 or nil: the previous one), like `kubectl
-- rollout undo`: the old ReplicaSet's template and kubectl's annotations come back.
-- Returns the revision restored and whether anything changed (false is kubectl's
-- "skipped rollback"). opts: field_manager (the applier to restore as, "rigelk8s"),
-- force (take over fields another manager changed since: --force-conflicts).
--
-- Why an Apply and not kubectl's patch: a server keys field ownership by manager AND
-- operation. kubectl's undo is an Update; written under our manager name it creates a
-- "rigelk8s"/Update entry that owns the template fields it changed, and the next
-- "rigelk8s"/Apply (deploy, update) conflicts with it until someone forces. So when the
-- Deployment is ours (our manager has an Apply entry), the undo is a server-side apply by
-- that same manager of what it applied before, with spec.template replaced by the old
-- revision's: the Apply entry then owns the restored template, and the next apply of the
-- Rigelfile changes it without conflict (fields only the undo set are dropped again, as
-- any apply drops what it no longer sends). Sending everything the entry owned keeps
-- the replicas, selector and labels it owns (an apply removes owned fields it omits).
-- No force: a field another manager changed (kubectl edit) is a conflict to report, not
-- to take silently. A Deployment our manager never applied (made by kubectl) gets
-- kubectl's patch, since there is no Apply entry to poison.
function M.undo(client, ref, to_revision, opts)
  opts = opts or {}
  local d = client:get{apiVersion = "apps/v1", kind = "Deployment", name = ref.name,
                       namespace = ref.namespace}
  local plan, err, code = core.rollback_plan(d, replicasets_of(client, d), to_revision or 0)
  local errors = require "rigelk8s.errors"
  if not plan then
    -- No such revision is a wrong argument (exit 2, with the revisions there are); a
    -- paused Deployment is a state kubectl refuses as well (exit 1).
    local msg = string.format("deployment %s: %s", ref.name, err)
    if code == "not_found" then
      local revs = {}
      for _, h in ipairs(core.history(d, replicasets_of(client, d)) or {}) do revs[#revs + 1] = tostring(h.revision) end
      msg = msg .. string.format(" (revisions: %s; see rigelk8s rollback --history)",
                                 #revs > 0 and table.concat(revs, ", ") or "none")
    end
    errors.raise{message = msg, exit_code = code == "not_found" and errors.EXIT.usage or errors.EXIT.failed,
                 reason = "RollbackFailed"}
  end
  if plan.unchanged then return plan.revision, false end
  local manager = opts.field_manager or "rigelk8s"
  local entry = M.apply_entry(d, manager)
  if not entry then
    client:patch(d, {
      {op = "replace", path = "/spec/template", value = plan.template},
      {op = "replace", path = "/metadata/annotations", value = plan.annotations},
    }, {type = "json"})
    return plan.revision, true
  end
  local cfg = extract(d, entry.fieldsV1)
  cfg.apiVersion, cfg.kind = "apps/v1", "Deployment"
  cfg.metadata = cfg.metadata or {}
  cfg.metadata.name, cfg.metadata.namespace = d.metadata.name, d.metadata.namespace
  cfg.spec = cfg.spec or {}
  local template = deep_copy(plan.template)
  -- The ReplicaSet's copy carries the server's `creationTimestamp: null`: not a field to own.
  if type(template.metadata) == "table" then template.metadata.creationTimestamp = nil end
  cfg.spec.template = template
  -- kubectl's annotations: the old revision's (change-cause...) replace the current ones.
  -- An apply can only set or drop annotations this manager owns, and must not touch the
  -- controller's (revision): only keys whose value changes, or that we own, are sent.
  local owned = type(cfg.metadata.annotations) == "table" and cfg.metadata.annotations or {}
  local live = d.metadata.annotations or {}
  local ann = {}
  for k, v in pairs(plan.annotations or {}) do
    if owned[k] ~= nil or live[k] ~= v then ann[k] = v end
  end
  cfg.metadata.annotations = next(ann) and ann or nil
  local ok, aerr = client:try_apply(cfg, {field_manager = manager, force = opts.force})
  if not ok then
    aerr = errors.wrap(aerr)
    if aerr.conflicts and #aerr.conflicts > 0 then
      aerr.message = string.format("deployment %s: the rollback to revision %d %s", ref.name, plan.revision,
                                   require("rigelk8s.explain").conflict_text(aerr.conflicts, "the old revision's"))
    else
      aerr.message = string.format("deployment %s: the rollback to revision %d failed: %s", ref.name,
                                   plan.revision, aerr.message)
    end
    error(aerr, 0)
  end
  return plan.revision, true
end

local function patch_deploy(client, ref, patch)
  local d = {apiVersion = "apps/v1", kind = "Deployment",
             metadata = {name = ref.name, namespace = ref.namespace}}
  return client:patch(d, patch, {type = "merge"})
end

function M.pause(client, ref) return patch_deploy(client, ref, {spec = {paused = true}}) end
function M.resume(client, ref) return patch_deploy(client, ref, {spec = {paused = false}}) end
function M.restart(client, ref)
  return patch_deploy(client, ref, {spec = {template = {metadata = {annotations = {
    ["kubectl.kubernetes.io/restartedAt"] = os.date("!%Y-%m-%dT%H:%M:%SZ")}}}}})
end

return M
