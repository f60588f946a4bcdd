-- Private registries: the credentials Secret of `registry_credentials` is filled in here,
-- at deploy time, from the user's docker config. Render never calls this (it shows the
-- placeholder of ros.lua), so credentials are read only when something is applied.
--
--   registry.of(image) -> the registry host of an image ("docker.io" when it has none)
--   registry.docker_config_path(setting, base_dir) -> path of the docker config to read
--   registry.auth_for(config, host) -> key, entry of config.auths for host (or nil)
--   registry.fill(cfg, entries) -> fills the Secret in ros.manifests() entries
--
-- Only the entries of the registries our images come from go into the Secret (the
-- application image's is required; a component image's registry is added when the file
-- has it). The data is sent to the API server and nowhere else: it is never printed,
-- never logged (-v logs no bodies) and never written to disk by rigelk8s.
local errors = require "rigelk8s.errors"

local M = {}

local DOCKER_HUB = {["docker.io"] = true, ["index.docker.io"] = true, ["registry-1.docker.io"] = true}

function M.of(image)
  local first, rest = image:match("^([^/]+)/(.+)$")
  if first and rest and (first:find("[.:]") or first == "localhost") then return first end
  return "docker.io"
end

-- "https://index.docker.io/v1/" -> "index.docker.io"; "registry.example.com:5000" stays.
local function host_of(key)
  return (key:gsub("^%a[%w+.-]*://", ""):gsub("/.*$", ""))
end

function M.auth_for(config, host)
  local auths = type(config) == "table" and type(config.auths) == "table" and config.auths or {}
  local keys = {}
  for k in pairs(auths) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local h = host_of(k)
    if h == host or (DOCKER_HUB[h] and DOCKER_HUB[host]) then return k, auths[k] end
  end
  return nil
end

function M.docker_config_path(setting, base_dir)
  if setting == true then
    local dir = os.getenv("DOCKER_CONFIG")
    if not dir or dir == "" then
      local home = os.getenv("HOME")
      if not home or home == "" then return nil end
      dir = home .. "/.docker"
    end
    return dir .. "/config.json"
  end
  if setting:sub(1, 1) ~= "/" and base_dir then return base_dir .. "/" .. setting end
  return setting
end

local function usage(field, fmt, ...)
  errors.raise{message = string.format("%s: " .. fmt, field, ...), exit_code = errors.EXIT.usage,
               reason = "InvalidConfig"}
end

-- The dockerconfigjson text for cfg (raises exit 2 with the fix when it cannot be made).
function M.dockerconfigjson(cfg)
  local field = (cfg.source and cfg.source.path or "with.orchestration") .. ".registry_credentials.from_docker_config"
  local base_dir = cfg.source and cfg.source.file and cfg.source.file:match("^(.*)/[^/]*$")
  local path = M.docker_config_path(cfg.registry_credentials.from_docker_config, base_dir)
  if not path then usage(field, "HOME is not set, so ~/.docker/config.json cannot be found; give the path of the docker config") end
  local f = io.open(path, "rb")
  if not f then
    usage(field, "cannot read %s; run `docker login REGISTRY` (which writes it), or give the path of a docker config file", path)
  end
  local text = f:read("a")
  f:close()
  local json = require "rigelk8s.json"
  local ok, config = pcall(json.decode, text)
  if not ok or type(config) ~= "table" then
    -- The decoder's message may quote the file's content: it is not shown.
    usage(field, "%s is not valid JSON; check the file, or run `docker login` again", path)
  end
  local images = {cfg.application_image}
  for _, c in ipairs(cfg.components or {}) do
    if c.image then images[#images + 1] = c.image end
  end
  local auths, seen = {}, {}
  for i, image in ipairs(images) do
    local host = M.of(image)
    if not seen[host] then
      seen[host] = true
      local key, entry = M.auth_for(config, host)
      if key then
        auths[key] = entry
      elseif i == 1 then
        local helper = (type(config.credHelpers) == "table" and config.credHelpers[host]) or config.credsStore
        if type(helper) == "string" then
          usage(field, "%s keeps the credentials of %s in the credential helper '%s', which rigelk8s does not run; " ..
                "create the Secret yourself (kubectl create secret docker-registry NAME ...) and list it under " ..
                "image_pull_secrets, or write a docker config with an auths entry for %s", path, host, helper, host)
        end
        usage(field, "%s has no auths entry for %s (the registry of %s); run `%s`", path, host,
              image, host == "docker.io" and "docker login" or ("docker login " .. host))
      end
    end
  end
  return json.encode({auths = auths})
end

function M.fill(cfg, entries)
  if not cfg.registry_credentials then return end
  local ros = require "rigelk8s.ros"
  local name = ros.registry_secret_name(cfg)
  for _, e in ipairs(entries) do
    local o = e.object
    if o.kind == "Secret" and o.metadata.name == name then
      o.stringData = {[".dockerconfigjson"] = M.dockerconfigjson(cfg)}
    end
  end
end

return M
