-- What the API server's refusals of a write mean for the user, and the fix: apply
-- conflicts with another field manager, a namespace being deleted, immutable fields of
-- Deployments and PersistentVolumeClaims. Keyed on what a real kube-apiserver answers
-- (status code, reason, causes[].reason/field, message text; see
-- ../shared/apiserver-transcripts/03, 09, 10 and 11), never on the emulator's wording.
--
--   explain.conflict_text(conflicts, values)        -- for err.conflicts ({field, manager})
--   explain.terminating_namespace(err) -> name | nil
--   explain.apply_error(ctx, client, obj, err) -> text  -- one rejected object's line
local M = {}

-- "conflicts with changes another tool made (...)" for a 409 apply conflict's causes:
-- who owns what, and the fix. values: whose values a forced apply writes.
function M.conflict_text(conflicts, values)
  local by, order = {}, {}
  for _, c in ipairs(conflicts) do
    if not by[c.manager] then by[c.manager] = {}; order[#order + 1] = c.manager end
    table.insert(by[c.manager], c.field)
  end
  local parts = {}
  for _, m in ipairs(order) do
    parts[#parts + 1] = string.format('field manager "%s" owns %s', m, table.concat(by[m], ", "))
    if m == "rigelk8s" then
      -- Our own name as an Update: the kubectl-style rollback of older versions wrote one.
      parts[#parts] = parts[#parts] .. " through an Update (a kubectl-style rollback by an older rigelk8s " ..
                      "leaves one; --force-conflicts once clears it)"
    end
  end
  return string.format("conflicts with changes another tool made (%s); fix: rerun with --force-conflicts " ..
                       "to take these fields over (they get %s values), or change the Rigelfile " ..
                       "to keep that tool's values", table.concat(parts, "; "), values or "the Rigelfile's")
end

-- The namespace a 403 says is being deleted: the real body has reason Forbidden, a cause
-- with reason NamespaceTerminating ("namespace NS is being terminated") and the message
-- "... unable to create new content in namespace NS because it is being terminated".
function M.terminating_namespace(err)
  if type(err) ~= "table" or tonumber(err.code) ~= 403 then return nil end
  for _, c in ipairs(err.causes or {}) do
    if c.reason == "NamespaceTerminating" then
      return (c.message or ""):match("namespace (%S+) is being terminated") or
             (err.message or ""):match("in namespace (%S+) because it is being terminated") or "?"
    end
  end
  return (err.message or ""):match("unable to create new content in namespace (%S+) because it is being terminated")
end

local function prefix(ctx)
  local cfg = ctx and ctx.cfg
  return cfg and cfg.source and cfg.source.path or "orchestration"
end

function M.terminating_text(ctx, ns)
  return string.format("namespace %s is being deleted (Terminating): the API server creates nothing in it " ..
                       "until it is gone. fix: wait until `kubectl get namespace %s` answers NotFound and run " ..
                       "again, or deploy into another namespace (%s.namespace, or -n)", ns, ns, prefix(ctx))
end

-- Raises the terminating-namespace error (exit 1) when a namespace the objects go to is
-- being deleted. live: object -> its live copy (nil when absent), as apply's snapshot.
function M.check_namespaces(ctx, objects, live)
  for _, o in ipairs(objects) do
    local l = live[o]
    if o.kind == "Namespace" and l and l.metadata and l.metadata.deletionTimestamp then
      local errors = require "rigelk8s.errors"
      errors.raise{message = M.terminating_text(ctx, o.metadata.name), exit_code = errors.EXIT.failed,
                   reason = "NamespaceTerminating"}
    end
  end
end

local function has_cause(err, pred)
  for _, c in ipairs(err.causes or {}) do
    if pred(c) then return c end
  end
end

-- The persistent_storage volume a claim was rendered from, and its index.
local function volume_of(ctx, claim)
  local cfg = ctx and ctx.cfg or {}
  for i, v in ipairs((cfg.persistent_storage or {}).volumes or {}) do
    if v.name .. "-pvc" == claim then return v, i - 1 end
  end
end

-- What happens to the data when the claim is deleted: the bound volume's reclaimPolicy.
local function data_warning(client, live)
  local pv = live and live.spec and live.spec.volumeName
  local policy
  if pv and client then
    local o = client:try_get{apiVersion = "v1", kind = "PersistentVolume", name = pv}
    policy = o and o.spec and o.spec.persistentVolumeReclaimPolicy
  end
  if policy == "Delete" then
    return string.format("WARNING: the data on the claim is LOST: its PersistentVolume %s has reclaimPolicy " ..
                         "Delete; copy what you need first", pv)
  elseif policy then
    return string.format("the data is kept on PersistentVolume %s (reclaimPolicy %s), but the new claim gets " ..
                         "a new volume: copy the data over, or bind the new claim to %s by hand", pv, policy, pv)
  end
  return "WARNING: whether the data on the claim survives depends on its PersistentVolume's reclaimPolicy " ..
         "(Delete: lost; Retain: kept on the volume, not reused by the new claim); copy what you need first"
end

local function claim_text(ctx, client, obj, err)
  local forbidden_resize = tonumber(err.code) == 403 and
    (err.message or ""):find("only dynamically provisioned pvc can be resized", 1, true)
  local shrink = has_cause(err, function(c) return (c.message or ""):find("can not be less than previous value", 1, true) end)
  local immutable = tonumber(err.code) == 422 and
    has_cause(err, function(c) return (c.message or ""):find("immutable after creation", 1, true) end)
  if not (forbidden_resize or shrink or immutable) then return nil end
  local live = client and client:try_get(obj)
  local v, i = volume_of(ctx, obj.metadata.name)
  local base = v and string.format("%s.persistent_storage.volumes[%d]", prefix(ctx), i) or nil
  local lspec, ospec = live and live.spec or {}, obj.spec or {}
  local lsize = lspec.resources and lspec.resources.requests and lspec.resources.requests.storage
  local osize = ospec.resources and ospec.resources.requests and ospec.resources.requests.storage
  local field, now, want, why
  if live and lspec.storageClassName ~= ospec.storageClassName then
    field, now, want = "storage_class", tostring(lspec.storageClassName), tostring(ospec.storageClassName)
    why = "the storage class of an existing claim cannot change"
  elseif forbidden_resize or shrink or (live and lsize ~= osize) then
    field, now, want = "size", tostring(lsize or "?"), tostring(osize or "?")
    why = shrink and "a claim cannot shrink" or
          "this claim cannot grow: only a dynamically provisioned claim whose StorageClass has " ..
          "allowVolumeExpansion: true can"
  else
    why = "the spec of an existing claim cannot change"
  end
  local where = base and (field and (base .. "." .. field) or base) or ("PersistentVolumeClaim " .. obj.metadata.name)
  local text = string.format("%s: %s (%s%s). fix: keep %s at %s, or delete and recreate the claim " ..
                             "(`rigelk8s delete --delete-storage`, then deploy again; or `kubectl delete pvc %s -n %s` " ..
                             "once no pod uses it). %s",
                             where, why, now and ("the claim has " .. now) or "", want and (", the Rigelfile asks for " .. want) or "",
                             field or "it", now or "its current value", obj.metadata.name, obj.metadata.namespace or "",
                             data_warning(client, live))
  return text
end

local function selector_text(ctx, obj, err)
  if tonumber(err.code) ~= 422 then return nil end
  local c = has_cause(err, function(c)
    return c.field == "spec.selector" and (c.message or ""):find("field is immutable", 1, true)
  end)
  if not c then return nil end
  local params = obj.metadata.name == "ros-master" and "ros_master" or "application"
  return string.format("spec.selector of a Deployment cannot change, and the live one selects other labels " ..
                       "than this Rigelfile renders (through %s.additional_k8s_params.%s, or the Deployment was " ..
                       "made by another tool or version). fix: delete and recreate the Deployment (`kubectl delete " ..
                       "deployment %s -n %s`, then deploy again): its pods restart; the data on its claims is kept, " ..
                       "the claims are separate objects", prefix(ctx), params, obj.metadata.name,
                       obj.metadata.namespace or "")
end

-- The text for one object the server refused to apply; the error's own text otherwise.
function M.apply_error(ctx, client, obj, err)
  if type(err) ~= "table" then return tostring(err) end
  if err.conflicts and #err.conflicts > 0 then return M.conflict_text(err.conflicts) end
  local ns = M.terminating_namespace(err)
  if ns then return M.terminating_text(ctx, ns) end
  if obj and obj.kind == "PersistentVolumeClaim" then
    local t = claim_text(ctx, client, obj, err)
    if t then return t end
  end
  if obj and obj.kind == "Deployment" then
    local t = selector_text(ctx, obj, err)
    if t then return t end
  end
  return tostring(err)
end

return M
