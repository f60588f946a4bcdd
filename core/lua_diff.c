/* rigelk8s.diff_core: the Lua face of diff.h.
 *
 *   unified(a, b [, {from =, to =, context =}]) -> the unified diff text, "" when equal */
#include <lauxlib.h>
#include <lua.h>

#include "diff.h"
#include "lua_modules.h"

static int l_unified(lua_State *L)
{
    size_t a_len, b_len;
    const char *a = luaL_checklstring(L, 1, &a_len);
    const char *b = luaL_checklstring(L, 2, &b_len);
    rk_diff_opts opts = {NULL, NULL, 3};
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_getfield(L, 3, "from");
        opts.from = luaL_optstring(L, -1, NULL);
        lua_getfield(L, 3, "to");
        opts.to = luaL_optstring(L, -1, NULL);
        lua_getfield(L, 3, "context");
        lua_Integer ctx = luaL_optinteger(L, -1, 3);
        luaL_argcheck(L, ctx >= 0 && ctx <= 1000000, 3, "context must be 0 to 1000000");
        opts.context = (int)ctx;
    }
    rk_buf out = RK_BUF_INIT;
    rk_error err;
    rk_status st = rk_diff_unified(a, a_len, b, b_len, &opts, &out, &err);
    if (st != RK_OK) {
        rk_buf_free(&out);
        return luaL_error(L, "%s", err.msg);
    }
    lua_pushlstring(L, out.data ? out.data : "", out.len);
    rk_buf_free(&out);
    return 1;
}

int luaopen_rigelk8s_diff_core(lua_State *L)
{
    static const luaL_Reg fns[] = {{"unified", l_unified}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
