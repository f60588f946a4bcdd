/* rigelk8s.kube: the Lua binding of kube.c and watch.c. Small primitives that return
 * `value` or `nil, err` (err is a rigelk8s.errors value: code, reason, message, causes,
 * conflicts, details, exit_code); the friendly, raising API is lua/rigelk8s/k8s.lua,
 * which adds its methods to kube.Client and kube.WatchSet.
 *
 *   kube.connect{kubeconfig, context, namespace, verbose, timeout, retries} -> client
 *   client:call(spec)            one request -> decoded answer, HTTP status
 *   client:call_many(specs, n)   many requests, n in flight -> {{ok, status, object} |
 *                                {ok = false, status, error}}, in the order given
 *                                (object is decoded from JSON on first access)
 *   client:list_all(spec)        a list, every page (limit/continue) merged into one
 *   client:resolve(apiVersion, kind) -> {group, version, kind, plural, namespaced}
 *   client:watch_set()           -> set; set:add(spec [, key]) -> id;
 *                                   set:next([timeout]) -> {type, object, watch = key, id}
 *                                   or nil; set:remove(id); set:count(); set:close()
 *                                set:add_log(spec [, key]) -> id: a pod's log as LINE
 *                                   events {line, dropped, partial} then one END
 *                                   {cut, error}, in the same set:next loop
 *   client:close()               idempotent; also __close and __gc
 *   client.namespace / context / server / cluster / user / kubeconfig
 *
 * This file: the module, errors as Lua values, kube.connect and the client object. The
 * calls (call, call_many, list_all, resolve) are in lua_kube_call.c, watch sets and logs
 * in lua_kube_watch.c, groups and start_many in lua_kube_group.c; lua_kube_internal.h
 * is what they share. */
#include <curl/curl.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "kube.h"
#include "lua_kube_internal.h"
#include "lua_modules.h"
#include "lua_value.h"
#include "watch.h"

/* ---- errors ------------------------------------------------------------------------- */

/* Gives the table on top of the stack the rigelk8s.errors metatable (via errors.new),
 * so that tostring() and the host's exit codes work. */
static void make_structured(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, "rigelk8s.kube.errors_new") != LUA_TFUNCTION) {
        lua_pop(L, 1);
        lua_getglobal(L, "require");
        lua_pushliteral(L, "rigelk8s.errors");
        if (lua_pcall(L, 1, 1, 0) != LUA_OK || lua_type(L, -1) != LUA_TTABLE) {
            lua_pop(L, 1);
            return;
        }
        lua_getfield(L, -1, "new");
        lua_remove(L, -2);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, "rigelk8s.kube.errors_new");
    }
    lua_pushvalue(L, -2);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        lua_pop(L, 1);
        return;
    }
    lua_replace(L, -2);
}

void rk_lk_set_str(lua_State *L, const char *key, const char *value)
{
    lua_pushstring(L, value);
    lua_setfield(L, -2, key);
}

/* `conflict with "kubectl-client-side-apply" using v1` -> kubectl-client-side-apply */
static void push_manager(lua_State *L, const char *message)
{
    const char *a = strchr(message, '"');
    const char *b = a ? strchr(a + 1, '"') : NULL;
    if (a && b)
        lua_pushlstring(L, a + 1, (size_t)(b - a - 1));
    else
        lua_pushstring(L, message);
}

void rk_lk_push_kube_error(lua_State *L, const rk_kube_error *e)
{
    lua_createtable(L, 0, 8);
    lua_pushinteger(L, e->code);
    lua_setfield(L, -2, "code");
    rk_lk_set_str(L, "reason", e->reason[0] ? e->reason : "Unknown");
    rk_lk_set_str(L, "message", e->message[0] ? e->message : e->reason);
    lua_pushinteger(L, e->exit_code ? e->exit_code : RK_EXIT_FAILED);
    lua_setfield(L, -2, "exit_code");
    lua_createtable(L, (int)e->ncauses, 0);
    for (size_t i = 0; i < e->ncauses; i++) {
        lua_createtable(L, 0, 3);
        rk_lk_set_str(L, "field", e->causes[i].field);
        rk_lk_set_str(L, "reason", e->causes[i].reason);
        rk_lk_set_str(L, "message", e->causes[i].message);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "causes");
    if (e->name[0] || e->kind[0]) {
        lua_createtable(L, 0, 3);
        rk_lk_set_str(L, "name", e->name);
        rk_lk_set_str(L, "kind", e->kind);
        rk_lk_set_str(L, "group", e->group);
        lua_setfield(L, -2, "details");
    }
    int nconf = 0;
    for (size_t i = 0; i < e->ncauses; i++)
        nconf += rk_kube_cause_is_conflict(&e->causes[i]);
    if (nconf) {
        lua_createtable(L, nconf, 0);
        int j = 0;
        for (size_t i = 0; i < e->ncauses; i++) {
            if (!rk_kube_cause_is_conflict(&e->causes[i]))
                continue;
            lua_createtable(L, 0, 2);
            rk_lk_set_str(L, "field", e->causes[i].field);
            push_manager(L, e->causes[i].message);
            lua_setfield(L, -2, "manager");
            lua_rawseti(L, -2, ++j);
        }
        lua_setfield(L, -2, "conflicts");
    }
    make_structured(L);
}

int rk_lk_fail_kube(lua_State *L, const rk_kube_error *e)
{
    lua_pushnil(L);
    rk_lk_push_kube_error(L, e);
    return 2;
}
/* ---- client ------------------------------------------------------------------------- */

lclient *rk_lk_check_client(lua_State *L, int idx)
{
    lclient *c = luaL_checkudata(L, idx, CLIENT_MT);
    if (!c->k)
        luaL_error(L, "the kubernetes client is closed");
    return c;
}

const char *rk_lk_opt_field(lua_State *L, int t, const char *key)
{
    lua_getfield(L, t, key);
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    lua_pop(L, 1); /* the string stays alive: the table holds it */
    return s;
}

int rk_lk_bool_field(lua_State *L, int t, const char *key)
{
    lua_getfield(L, t, key);
    int b = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return b;
}

lua_Number rk_lk_num_field(lua_State *L, int t, const char *key, lua_Number dflt)
{
    lua_getfield(L, t, key);
    lua_Number n = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : dflt;
    lua_pop(L, 1);
    return n;
}

static int kube_connect(lua_State *L)
{
    if (!lua_isnoneornil(L, 1))
        luaL_checktype(L, 1, LUA_TTABLE);
    else
        lua_settop(L, 0), lua_newtable(L);
    rk_kube_options o = {0};
    o.kubeconfig = rk_lk_opt_field(L, 1, "kubeconfig");
    o.context = rk_lk_opt_field(L, 1, "context");
    o.namespace = rk_lk_opt_field(L, 1, "namespace");
    o.verbose = rk_lk_bool_field(L, 1, "verbose");
    o.timeout = rk_lk_num_field(L, 1, "timeout", 0);
    o.max_retries = (int)rk_lk_num_field(L, 1, "retries", 0);
    o.group = rk_lk_opt_group(L, 1);
    if (o.max_retries == 0 && lua_getfield(L, 1, "retries") == LUA_TNUMBER)
        o.max_retries = -1; /* retries = 0 asked for none */
    lua_settop(L, 1);
    lclient *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    luaL_setmetatable(L, CLIENT_MT);
    rk_kube_error kerr;
    if (rk_kube_connect(&o, &c->k, &kerr) != RK_OK)
        return rk_lk_fail_kube(L, &kerr);
    return 1;
}

static int client_close(lua_State *L)
{
    lclient *c = luaL_checkudata(L, 1, CLIENT_MT);
    for (lwatchset *s = c->sets, *n; s; s = n) {
        n = s->next;
        rk_lk_close_set(s);
    }
    c->sets = NULL;
    rk_lk_close_batches(c);
    rk_kube_free(c->k);
    c->k = NULL;
    return 0;
}

static int client_index(lua_State *L)
{
    lclient *c = luaL_checkudata(L, 1, CLIENT_MT);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return 1;
    const char *key = lua_tostring(L, 2);
    if (!key || !c->k)
        return 1;
    const rk_kubeconfig *kc = rk_kube_config(c->k);
    const char *v = NULL;
    if (strcmp(key, "namespace") == 0)
        v = kc->namespace;
    else if (strcmp(key, "context") == 0)
        v = kc->context;
    else if (strcmp(key, "server") == 0)
        v = kc->server;
    else if (strcmp(key, "cluster") == 0)
        v = kc->cluster_name;
    else if (strcmp(key, "user") == 0)
        v = kc->user_name;
    else if (strcmp(key, "kubeconfig") == 0)
        v = kc->path;
    else if (strcmp(key, "closed") == 0) {
        lua_pushboolean(L, 0);
        return 1;
    }
    if (v)
        lua_pushstring(L, v);
    else
        lua_pushnil(L);
    return 1;
}

static int client_tostring(lua_State *L)
{
    lclient *c = luaL_checkudata(L, 1, CLIENT_MT);
    if (!c->k) {
        lua_pushliteral(L, "rigelk8s.Client (closed)");
        return 1;
    }
    const rk_kubeconfig *kc = rk_kube_config(c->k);
    lua_pushfstring(L, "rigelk8s.Client (%s, context \"%s\", namespace \"%s\")", kc->server,
                    kc->context, kc->namespace);
    return 1;
}

/* ---- module --------------------------------------------------------------------------- */

int luaopen_rigelk8s_kube(lua_State *L)
{
    static const luaL_Reg client_methods[] = {{"close", client_close}, {NULL, NULL}};
    lua_newtable(L);          /* the module */
    luaopen_rigelk8s_hash(L); /* OpenSSL's digests: this plugin links libcrypto already */
    lua_setfield(L, -2, "hash");
    if (luaL_newmetatable(L, CLIENT_MT)) {
        lua_newtable(L);
        luaL_setfuncs(L, client_methods, 0);
        luaL_setfuncs(L, rk_lk_call_methods, 0);  /* lua_kube_call.c */
        luaL_setfuncs(L, rk_lk_watch_methods, 0); /* lua_kube_watch.c */
        lua_pushvalue(L, -1);
        lua_setfield(L, -4, "Client"); /* k8s.lua adds the friendly methods here */
        lua_pushcclosure(L, client_index, 1);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, client_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, client_close);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, client_tostring);
        lua_setfield(L, -2, "__tostring");
    } else {
        lua_getfield(L, -1, "__index");
        lua_getupvalue(L, -1, 1);
        lua_setfield(L, -4, "Client");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, WATCHSET_MT)) {
        lua_newtable(L);
        luaL_setfuncs(L, rk_lk_set_methods, 0);
        lua_pushvalue(L, -1);
        lua_setfield(L, -4, "WatchSet");
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, rk_lk_set_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, rk_lk_set_close);
        lua_setfield(L, -2, "__close");
    } else {
        lua_getfield(L, -1, "__index");
        lua_setfield(L, -3, "WatchSet");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, kube_connect);
    lua_setfield(L, -2, "connect");
    rk_lk_open_group(L);
    lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version); /* the linked libcurl */
    lua_setfield(L, -2, "curl_version");
    return 1;
}
