/* rigelk8s.base64_encode / base64_decode: core/base64.c, the one base64 codec, for Lua
 * (the failure report's masking, the ApplySet id's base64url). */
#include <lauxlib.h>
#include <stdlib.h>

#include "base64.h"
#include "buf.h"
#include "lua_modules.h"

/* rigelk8s.base64_encode(s) -> the padded standard base64 of s (core/base64.c). */
static int l_base64_encode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    rk_buf b;
    rk_buf_init(&b);
    rk_base64_encode(&b, s, len);
    rk_error err;
    if (rk_buf_status(&b, &err) != RK_OK) {
        rk_buf_free(&b);
        return luaL_error(L, "base64_encode: %s", err.msg);
    }
    lua_pushlstring(L, b.data ? b.data : "", b.len);
    rk_buf_free(&b);
    return 1;
}

/* rigelk8s.base64_decode(s) -> the bytes, or nil and why (core/base64.h's one rule). */
static int l_base64_decode(lua_State *L)
{
    size_t len, out_len;
    const char *s = luaL_checklstring(L, 1, &len);
    unsigned char *out;
    rk_error err;
    if (rk_base64_decode(s, len, &out, &out_len, &err) != RK_OK) {
        luaL_pushfail(L);
        lua_pushstring(L, err.msg);
        return 2;
    }
    lua_pushlstring(L, (const char *)out, out_len);
    free(out);
    return 1;
}

const luaL_Reg rk_lua_base64_fns[] = {
    {"base64_encode", l_base64_encode},
    {"base64_decode", l_base64_decode},
    {NULL, NULL},
};
