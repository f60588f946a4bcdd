/* The Lua face of the codecs (rigelk8s.yaml, rigelk8s.json and the value bridge of
 * core/lua_value.c): loading into Lua tables and dumping back must give exactly the
 * bytes the C codec gives without Lua in between, so the bridge loses nothing (key
 * order, null, empty lists versus empty maps, integers versus floats, binary strings).
 * yaml.load must succeed and fail on the same inputs as rk_yaml_load, positions must be
 * well formed, and a loaded YAML stream must survive json.encode/json.decode. */
#include <string.h>

#include "fuzz.h"
#include "fuzz_lua.h"
#include "json.h"
#include "yaml_doc.h"

#define FUZZ_CODEC_MAX_ALIAS_NODES 20000
#define FUZZ_CODEC_MAX_INSTRUCTIONS 100000000L

static const char fuzz_codec_harness[] =
    "local yaml, json, core = require 'rigelk8s.yaml', require 'rigelk8s.json', "
    "require 'rigelk8s'\n"
    "local s, keep_null_docs, c_yaml, c_json = ...\n"
    "local function fail(fmt, ...) error(string.format(fmt, ...), 0) end\n"
    "local ok, docs, positions = pcall(yaml.load, s, {all = true, positions = true,\n"
    "  keep_null_docs = keep_null_docs, max_alias_nodes = %d, filename = 'fuzz.yaml'})\n"
    "if ok ~= (c_yaml ~= nil) then\n"
    "  fail('yaml.load %%s, rk_yaml_load %%s', ok and 'succeeded' or 'failed: ' .. "
    "tostring(docs),\n"
    "       c_yaml and 'succeeded' or 'failed')\n"
    "end\n"
    "if not ok and type(docs) ~= 'string' then fail('yaml.load raised a %%s', type(docs)) end\n"
    "if ok then\n"
    "  if not core.is_array(docs) then fail('yaml.load{all=true} gave no array') end\n"
    "  local out = yaml.dump_all(docs)\n"
    "  if out ~= c_yaml then\n"
    "    fail('through Lua the YAML dump changed:\\n%%s\\n--- without Lua:\\n%%s', out, c_yaml)\n"
    "  end\n"
    "  if type(positions) ~= 'table' or #positions ~= #docs then fail('positions') end\n"
    "  for _, pos in ipairs(positions) do\n"
    "    for path, p in pairs(pos) do\n"
    "      if type(path) ~= 'string' or math.type(p.line) ~= 'integer' or\n"
    "         math.type(p.column) ~= 'integer' or p.line < 1 or p.column < 1 then\n"
    "        fail('bad position for %%q', tostring(path))\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  local jok, j = pcall(json.encode, docs)\n"
    "  if jok then\n"
    "    local back = json.decode(j)\n"
    "    if json.encode(back) ~= j then fail('json.encode is not a fixed point: %%s', j) end\n"
    "  elseif type(j) ~= 'string' then\n"
    "    fail('json.encode raised a %%s', type(j))\n"
    "  end\n"
    "end\n"
    "local jok, v = pcall(json.decode, s)\n"
    "if jok ~= (c_json ~= nil) then\n"
    "  fail('json.decode %%s, rk_json_decode %%s', jok and 'succeeded' or 'failed: ' .. "
    "tostring(v),\n"
    "       c_json and 'succeeded' or 'failed')\n"
    "end\n"
    "if jok then\n"
    "  local e = json.encode(v)\n"
    "  if e ~= c_json then\n"
    "    fail('through Lua the JSON encoding changed:\\n%%s\\n--- without Lua:\\n%%s', e, c_json)\n"
    "  end\n"
    "  yaml.dump(v)\n"
    "end\n";

int fuzz_lua_codec_one(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    int keep_null_docs = (int)(size & 1);
    rk_error err;
    rk_buf c_yaml = RK_BUF_INIT, c_json = RK_BUF_INIT;
    int yaml_ok = 0, json_ok = 0;
    rk_yaml_opts opts = {.max_alias_nodes = FUZZ_CODEC_MAX_ALIAS_NODES,
                         .keep_null_docs = keep_null_docs};
    rk_value *docs = NULL, *tree = NULL;
    if (rk_yaml_load(s, size, "fuzz.yaml", &opts, &docs, &err) == RK_OK) {
        if (rk_yaml_dump_all(docs, &c_yaml, &err) != RK_OK)
            fuzz_fail("a loaded tree does not dump: %s", err.msg);
        yaml_ok = 1;
    }
    if (rk_json_decode(s, size, &tree, &err) == RK_OK) {
        if (rk_json_encode(tree, 0, &c_json, &err) != RK_OK)
            fuzz_fail("a decoded tree does not encode: %s", err.msg);
        json_ok = 1;
    }
    rk_value_free(docs);
    rk_value_free(tree);

    char code[sizeof fuzz_codec_harness + 16];
    int len = snprintf(code, sizeof code, fuzz_codec_harness, FUZZ_CODEC_MAX_ALIAS_NODES);
    lua_State *L = fuzz_lua_new();
    lua_pushlstring(L, s, size);
    lua_pushboolean(L, keep_null_docs);
    if (yaml_ok)
        lua_pushlstring(L, c_yaml.data ? c_yaml.data : "", c_yaml.len);
    else
        lua_pushnil(L);
    if (json_ok)
        lua_pushlstring(L, c_json.data ? c_json.data : "", c_json.len);
    else
        lua_pushnil(L);
    const char *failure = fuzz_lua_call(L, code, (size_t)len, "=fuzz_lua_codec", 4,
                                        FUZZ_CODEC_MAX_INSTRUCTIONS);
    if (failure) {
        fuzz_dump("input", s, size);
        fuzz_fail("%s", failure);
    }
    lua_close(L);
    rk_buf_free(&c_yaml);
    rk_buf_free(&c_json);
    return 0;
}

RK_FUZZ_ENTRY(fuzz_lua_codec_one)
