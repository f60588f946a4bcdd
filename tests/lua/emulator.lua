-- Starts the Kubernetes API emulator (tests/kube-emulator) for a spec and stops it after.
--
--   local emulator = require "emulator"       -- busted --lpath=tests/lua/?.lua
--   local emu = emulator.start{tls = true}   -- also: ready_delay = S, args = {...}
--   emu.url, emu.kubeconfig                  -- contexts: emulator, emulator-cert (tls),
--                                            -- emulator-viewer (read-only)
--   emu:fault{status = 503, count = 3}       -- POST /_emulator/faults
--   emu:config()                             -- the kubeconfig, parsed
--   emu:stop()
--
-- RK_SOURCE_DIR (set by ctest) locates the emulator; the current directory otherwise.
local M = {}

local Emulator = {}
Emulator.__index = Emulator

local function source_dir()
  local d = os.getenv("RK_SOURCE_DIR")
  return (d and d ~= "") and d or "."
end

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function tmpdir()
  local p = io.popen("mktemp -d /tmp/rk-emulator-XXXXXX")
  local d = p:read("l")
  p:close()
  return d
end

-- start{tls = bool, ready_delay = seconds, args = {extra flags}} -> emulator
function M.start(opts)
  opts = opts or {}
  local dir = tmpdir()
  local self = setmetatable({dir = dir, kubeconfig = dir .. "/kubeconfig", log = dir .. "/emulator.log"},
                            Emulator)
  local exe = source_dir() .. "/tests/kube-emulator/kube-emulator"
  local args = {"--port", "0", "--write-kubeconfig", self.kubeconfig}
  if opts.tls then args[#args + 1] = "--tls" end
  if opts.ready_delay then
    args[#args + 1] = "--ready-delay"
    args[#args + 1] = tostring(opts.ready_delay)
  end
  for _, a in ipairs(opts.args or {}) do args[#args + 1] = a end
  local quoted = {}
  for i, a in ipairs(args) do quoted[i] = shell_quote(a) end
  -- `echo $$; exec ...` prints the pid the emulator will have.
  local cmd = string.format("sh -c 'echo $$; exec \"$0\" \"$@\" 2>>\"$RK_EMU_LOG\"' %s %s",
                            shell_quote(exe), table.concat(quoted, " "))
  self.pipe = io.popen("RK_EMU_LOG=" .. shell_quote(self.log) .. " " .. cmd, "r")
  self.pid = tonumber(self.pipe:read("l"))
  for line in self.pipe:lines() do
    local url = line:match("listening on (%S+)")
    if url then
      self.url = url
      break
    end
  end
  if not self.url then
    local f = io.open(self.log)
    local log = f and f:read("a") or ""
    if f then f:close() end
    self:stop()
    error("the kube emulator did not start:\n" .. log, 2)
  end
  -- The kubeconfig is written once the server listens; wait for it to be complete.
  for _ = 1, 200 do
    local f = io.open(self.kubeconfig)
    if f then
      local text = f:read("a")
      f:close()
      if text:find("current%-context") then break end
    end
    os.execute("sleep 0.05")
  end
  return self
end

function Emulator:stop()
  if self.pid then
    os.execute("kill " .. self.pid .. " 2>/dev/null")
    self.pid = nil
  end
  if self.pipe then
    self.pipe:close()
    self.pipe = nil
  end
  if self.dir then
    os.execute("rm -rf " .. shell_quote(self.dir))
    self.dir = nil
  end
end

-- The emulator's kubeconfig as a Lua table.
function Emulator:config()
  local yaml = require "rigelk8s.yaml"
  local f = assert(io.open(self.kubeconfig))
  local text = f:read("a")
  f:close()
  return yaml.load(text)
end

-- Writes a kubeconfig next to the emulator's (for variations: other users, bad CAs).
function Emulator:write_kubeconfig(name, config)
  local yaml = require "rigelk8s.yaml"
  local path = self.dir .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(yaml.dump(config))
  f:close()
  return path
end

-- Named entries of a kubeconfig section: section(cfg, "users", "emulator").
function M.entry(cfg, section, name)
  for _, e in ipairs(cfg[section] or {}) do
    if e.name == name then return e end
  end
end

-- fault{status = 429, count = 2, retry_after = 1} / {drop_watches = true} / ...
-- Uses a short-lived client of the emulator's own kubeconfig.
function Emulator:fault(spec)
  local k8s = require "rigelk8s.k8s"
  local json = require "rigelk8s.json"
  local c <close> = k8s.connect{kubeconfig = self.kubeconfig, context = "emulator", retries = 0}
  local v, err = c:call{verb = "raw", method = "POST", path = "/_emulator/faults",
                        body = json.encode(spec)}
  if not v then error(err, 2) end
  return v
end

return M
