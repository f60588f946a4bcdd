/* A whole Rigelfile through what `rigelk8s render` does: YAML load (with positions),
 * job selection, template rendering, validation and defaults (rigelfile.lua, schema.lua),
 * and the Kubernetes objects (ros.lua), which must then dump as YAML and JSON.
 *
 * Acceptable outcomes: objects, or a structured configuration error (errors.lua: the
 * message a user sees, exit code 2). Any other Lua error is a bug (the user would get a
 * traceback instead of a diagnosis), and so is running longer than
 * FUZZ_RIGELFILE_MAX_INSTRUCTIONS. The environment is empty, so only the file decides. */
#include <string.h>

#include "fuzz.h"
#include "fuzz_lua.h"

#define FUZZ_RIGELFILE_MAX_INSTRUCTIONS 200000000L

static const char fuzz_rigelfile_harness[] =
    "local text = ...\n"
    "local core, yaml, json = require 'rigelk8s', require 'rigelk8s.yaml', "
    "require 'rigelk8s.json'\n"
    "local errors = require 'rigelk8s.errors'\n"
    "local rigelfile, ros = require 'rigelk8s.rigelfile', require 'rigelk8s.ros'\n"
    /* What rigelfile.read checks before it hands the document on. */
    "local ok, doc, positions = pcall(yaml.load, text, {filename = 'Rigelfile', positions = "
    "true})\n"
    "if not ok or type(doc) ~= 'table' or doc == core.null or core.is_array(doc) then "
    "return end\n"
    "local function internal(e)\n"
    "  if errors.is(e) then return e end\n"
    "  return debug.traceback(tostring(e), 2)\n"
    "end\n"
    "local function run(f, ...)\n"
    "  local ok, res = xpcall(f, internal, ...)\n"
    "  if ok then return res end\n"
    "  if errors.is(res) then\n"
    "    if type(res.message) ~= 'string' or res.message == '' then error('empty message', 0) end\n"
    "    return nil\n"
    "  end\n"
    "  error(res, 0)\n"
    "end\n"
    "local cfg = run(rigelfile.load, {file = 'Rigelfile', doc = doc, positions = positions,\n"
    "                                 env = function() return nil end})\n"
    "if not cfg then return end\n"
    "local objects = run(ros.objects, cfg)\n"
    "if not objects then return end\n"
    "yaml.dump_all(objects)\n"
    "json.encode(core.array(objects))\n";

int fuzz_rigelfile_one(const uint8_t *data, size_t size)
{
    lua_State *L = fuzz_lua_new();
    lua_pushlstring(L, (const char *)data, size);
    const char *failure = fuzz_lua_call(L, fuzz_rigelfile_harness,
                                        sizeof fuzz_rigelfile_harness - 1, "=fuzz_rigelfile", 1,
                                        FUZZ_RIGELFILE_MAX_INSTRUCTIONS);
    if (failure) {
        fuzz_dump("input", (const char *)data, size);
        fuzz_fail("rendering the Rigelfile raised an error that is not a diagnosis:\n%s",
                  failure);
    }
    lua_close(L);
    return 0;
}

RK_FUZZ_ENTRY(fuzz_rigelfile_one)
