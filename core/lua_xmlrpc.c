/* Module "rigelk8s.xmlrpc": the Lua face of xmlrpc.c.
 *
 *   xmlrpc.encode_call(method, {params...}) -> the <methodCall> document (a string)
 *   xmlrpc.decode_response(body)            -> the returned value
 *                                           |  nil, {reason, message[, fault]}
 *
 * reason is "Fault" (fault = {faultCode, faultString}, as the server sent it) or
 * "InvalidResponse" (the body is not an XML-RPC response; message says where). Wrong
 * argument types raise. Values convert by the rules in lua_value.h. */
#include <lauxlib.h>
#include <lua.h>

#include "lua_modules.h"
#include "lua_value.h"
#include "xmlrpc.h"

static int l_encode_call(lua_State *L)
{
    const char *method = luaL_checkstring(L, 1);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    rk_lua_box *box = rk_lua_push_box(L);
    rk_error err;
    if (!lua_isnil(L, 2)) {
        if (lua_rawlen(L, 2) == 0 && !rk_lua_is_array(L, 2)) {
            lua_newtable(L);
            rk_lua_mark_array(L, -1);
            lua_replace(L, 2);
        }
        if (rk_lua_to_value(L, 2, &box->tree, &err) != RK_OK)
            return luaL_error(L, "xmlrpc.encode_call: %s", err.msg);
    }
    if (rk_xmlrpc_encode_call(&box->out, method, box->tree, &err) != RK_OK)
        return luaL_error(L, "xmlrpc.encode_call: %s", err.msg);
    lua_pushlstring(L, box->out.data ? box->out.data : "", box->out.len);
    rk_value_free(box->tree);
    box->tree = NULL;
    rk_buf_free(&box->out);
    return 1;
}

static int l_decode_response(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    rk_lua_box *box = rk_lua_push_box(L);
    rk_error err;
    rk_status st = rk_xmlrpc_decode_response(s, len, &box->tree, &err);
    if (st == RK_OK) {
        luaL_checkstack(L, 8, "decoding an XML-RPC response");
        rk_lua_push_value(L, box->tree);
        return 1;
    }
    lua_pushnil(L);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, st == RK_ERR_HTTP ? "Fault" : "InvalidResponse");
    lua_setfield(L, -2, "reason");
    lua_pushstring(L, err.msg);
    lua_setfield(L, -2, "message");
    if (st == RK_ERR_HTTP && box->tree) {
        rk_lua_push_value(L, box->tree);
        lua_setfield(L, -2, "fault");
    }
    return 2;
}

int luaopen_rigelk8s_xmlrpc(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"encode_call", l_encode_call},
        {"decode_response", l_decode_response},
        {NULL, NULL},
    };
    luaL_newlib(L, fns);
    return 1;
}
