/* Module "rigelk8s.json": the Lua face of json.c.
 *
 *   json.encode(value [, {indent = true | N}]) -> string (compact unless indent; true = 2)
 *   json.decode(str)                           -> value (null is json.null, arrays marked)
 *   json.null, json.array                      -> the shared sentinel and array constructor
 *
 * Tables convert by the rules in lua_value.h. Errors are raised as strings:
 * "JSON parse error at byte N (line L, column C): message" for decode, "json.encode: ..."
 * naming the path of the offending value for encode. */
#include <lauxlib.h>
#include <lua.h>

#include "buf.h"
#include "json.h"
#include "lua_modules.h"
#include "lua_value.h"

static int l_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    int indent = 0;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_getfield(L, 2, "indent");
        if (lua_isinteger(L, -1))
            indent = (int)luaL_checkinteger(L, -1);
        else if (lua_toboolean(L, -1))
            indent = 2;
        if (indent < 0 || indent > 16)
            return luaL_error(L, "json.encode: indent must be between 0 and 16");
        lua_pop(L, 1);
    }
    lua_settop(L, 1);
    rk_lua_box *box = rk_lua_push_box(L);
    rk_error err;
    if (rk_lua_to_value(L, 1, &box->tree, &err) != RK_OK)
        return luaL_error(L, "json.encode: %s", err.msg);
    if (rk_json_encode(box->tree, indent, &box->out, &err) != RK_OK)
        return luaL_error(L, "json.encode: %s", err.msg);
    lua_pushlstring(L, box->out.data ? box->out.data : "", box->out.len);
    rk_value_free(box->tree);
    box->tree = NULL;
    rk_buf_free(&box->out);
    return 1;
}

static int l_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    rk_lua_box *box = rk_lua_push_box(L);
    rk_error err;
    if (rk_json_decode(s, len, &box->tree, &err) != RK_OK) {
        lua_pushstring(L, err.msg);
        return lua_error(L);
    }
    rk_lua_push_value(L, box->tree);
    rk_value_free(box->tree);
    box->tree = NULL;
    return 1;
}

int luaopen_rigelk8s_json(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"encode", l_encode},
        {"decode", l_decode},
        {NULL, NULL},
    };
    luaL_newlib(L, fns);
    luaopen_rigelk8s(L);
    lua_getfield(L, -1, "null");
    lua_setfield(L, -3, "null");
    lua_getfield(L, -1, "array");
    lua_setfield(L, -3, "array");
    lua_pop(L, 1);
    return 1;
}
