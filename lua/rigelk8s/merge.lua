-- Deep merge for `additional_k8s_params`: the user's overlay is merged over a generated
-- Kubernetes object.
--
--   merge.deep(base, overlay) -> a new table; neither argument is modified.
--
-- Rules:
--   * maps merge key by key, recursively;
--   * lists of named items merge by `name`: an overlay item whose name matches a base item
--     is merged into it (recursively), other overlay items are appended in their order.
--     These lists are the ones Kubernetes itself keys by name (containers, initContainers,
--     ephemeralContainers, env, volumes, volumeMounts, ports, volumeDevices,
--     imagePullSecrets, resourceClaims), and any other list whose items all have a `name`.
--     `ports` items without a name match by containerPort (as strategic merge patch does);
--   * every other list, and every scalar, is replaced by the overlay's value;
--   * `null` in the overlay (rigelk8s.null) removes the key, as in a JSON merge patch.
local M = {}

local util = require "rigelk8s.util"

M.NAMED_LISTS = {
  containers = true, initContainers = true, ephemeralContainers = true, env = true,
  volumes = true, volumeMounts = true, ports = true, volumeDevices = true,
  imagePullSecrets = true, resourceClaims = true,
}

local is_null, is_list, is_map = util.is_null, util.is_list, util.is_map

-- copy(v): a deep copy that keeps metatables (list markers, key order).
local function copy(v)
  if type(v) ~= "table" or is_null(v) then return v end
  local out = {}
  for k, item in pairs(v) do out[k] = copy(item) end
  return setmetatable(out, getmetatable(v))
end
M.copy = copy

local function all_named(list)
  for _, item in ipairs(list) do
    if not is_map(item) or type(item.name) ~= "string" then return false end
  end
  return true
end

local function item_key(key, item)
  if not is_map(item) then return nil end
  if type(item.name) == "string" then return "name:" .. item.name end
  if key == "ports" and item.containerPort ~= nil then
    return "port:" .. tostring(item.containerPort) .. "/" .. tostring(item.protocol or "TCP")
  end
  return nil
end

local deep

local function merge_named(key, base, overlay)
  local out = setmetatable({}, getmetatable(base) or getmetatable(overlay))
  local index = {}
  for i, item in ipairs(base) do
    out[i] = copy(item)
    local k = item_key(key, item)
    if k then index[k] = i end
  end
  for _, item in ipairs(overlay) do
    local k = item_key(key, item)
    -- An unnamed port may still match a named base port by its number.
    if key == "ports" and k and not index[k] and is_map(item) and item.containerPort ~= nil then
      for i, b in ipairs(out) do
        if is_map(b) and b.containerPort == item.containerPort and
            (b.protocol or "TCP") == (item.protocol or "TCP") and
            (item.name == nil or b.name == item.name) then
          k = k .. "#"; index[k] = i; break
        end
      end
    end
    if k and index[k] then
      out[index[k]] = deep(out[index[k]], item)
    else
      out[#out + 1] = copy(item)
      if k then index[k] = #out end
    end
  end
  return out
end

function deep(base, overlay, key)
  if is_null(overlay) then return nil end
  if is_map(base) and is_map(overlay) then
    local out = copy(base)
    for k, v in pairs(overlay) do
      if is_null(v) then
        out[k] = nil
      else
        out[k] = deep(base[k], v, k)
      end
    end
    return out
  end
  if is_list(base) and is_list(overlay) and
      ((key and M.NAMED_LISTS[key]) or (all_named(base) and all_named(overlay))) then
    return merge_named(key, base, overlay)
  end
  return copy(overlay)
end

-- deep(base, overlay): see the header. `base` may be nil (the result is a copy of overlay).
function M.deep(base, overlay)
  if overlay == nil then return copy(base) end
  return deep(base, overlay, nil)
end

return M
