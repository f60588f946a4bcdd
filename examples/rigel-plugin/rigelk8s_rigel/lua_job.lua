-- Runs one rigelk8s.lua job for the Rigel shim (LuaPlugin), the way `rigelk8s sequence`
-- runs it (lua/rigelk8s/sequence.lua, Runner:lua_start):
--   rigelk8s run lua_job.lua SPEC.json
-- SPEC: {script, config, args, flags, name, rigelfile, data, data_out, config_file}.
-- The script is called as script(config, job), with the global `arg` = flags, then
-- `--config FILE` (the config as JSON), then args. The shared data table (job.data),
-- as the script left it, is written to data_out as JSON. Exit code: 0 when the script
-- returns nothing, true or 0; 1 when it returns false; a returned integer; the error's
-- exit code (default 1) when it raises, with the message on stderr.
local json = require "rigelk8s.json"
local errors = require "rigelk8s.errors"
local sys = require "rigelk8s.sys"
local core = require "rigelk8s"

local f = assert(io.open(arg[1], "r"))
local spec = json.decode(f:read("a"))
f:close()

local function write(path, value)
  local ok, err = sys.write_private(path, json.encode(value))
  if not ok then
    io.stderr:write("rigelk8s.lua job ", spec.name, ": ", tostring(err), "\n")
    os.exit(1)
  end
end

local config = spec.config
if type(config) ~= "table" or next(config) == nil then config = core.array{} end
write(spec.config_file, config)

local chunk, err = loadfile(spec.script, "t")
if not chunk then
  io.stderr:write(err, "\n")
  os.exit(errors.EXIT.usage)
end

local argv = {[0] = spec.script, [-1] = "rigelk8s"}
for _, a in ipairs(spec.flags or {}) do argv[#argv + 1] = a end
argv[#argv + 1] = "--config"
argv[#argv + 1] = spec.config_file
for _, a in ipairs(spec.args or {}) do argv[#argv + 1] = a end
_G.arg = argv
package.path = (spec.script:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path

local data = spec.data
if type(data) ~= "table" or core.is_array(data) then data = {} end
local job = {name = spec.name, rigelfile = spec.rigelfile, data = data, config_file = spec.config_file}
local ok, ret = pcall(chunk, spec.config, job)
io.stdout:flush()
write(spec.data_out, next(data) and data or setmetatable({}, nil))

if not ok then
  local e = errors.wrap(ret)
  io.stderr:write(e.message or tostring(ret), "\n")
  os.exit(e.exit_code ~= 0 and e.exit_code or errors.EXIT.failed)
end
if ret == nil or ret == true or ret == 0 then os.exit(0) end
if ret == false then
  io.stderr:write("the script returned false\n")
  os.exit(errors.EXIT.failed)
end
if math.type(ret) == "integer" then
  io.stderr:write(string.format("the script returned exit code %d\n", ret))
  os.exit(ret)
end
os.exit(0)
