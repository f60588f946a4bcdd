/* lua_kube_watch.c — watch sets of rigelk8s.kube (see lua_kube.c): client:watch_set()
 * and the WatchSet methods add (a watch), add_log (a pod's log as LINE and END events),
 * next, remove, count and close, on top of watch.c. */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "kube.h"
#include "lua_kube_internal.h"
#include "lua_value.h"
#include "watch.h"

void rk_lk_close_set(lwatchset *s)
{
    rk_watch_set_free(s->ws);
    s->ws = NULL;
    s->owner = NULL;
}

static lwatchset *check_set(lua_State *L, int idx)
{
    lwatchset *s = luaL_checkudata(L, idx, WATCHSET_MT);
    if (!s->ws)
        luaL_error(L, "the watch set is closed (or its client was)");
    return s;
}

static int client_watch_set(lua_State *L)
{
    lclient *c = rk_lk_check_client(L, 1);
    lwatchset *s = lua_newuserdatauv(L, sizeof *s, 2);
    memset(s, 0, sizeof *s);
    luaL_setmetatable(L, WATCHSET_MT);
    if (rk_watch_set_new(c->k, &s->ws) != RK_OK)
        return luaL_error(L, "out of memory");
    s->owner = c;
    s->next = c->sets;
    c->sets = s;
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1); /* keeps the client alive as long as the set */
    lua_newtable(L);
    lua_setiuservalue(L, -2, 2); /* id -> key */
    return 1;
}

static void unlink_set(lwatchset *s)
{
    if (!s->owner)
        return;
    for (lwatchset **p = &s->owner->sets; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
}

int rk_lk_set_close(lua_State *L)
{
    lwatchset *s = luaL_checkudata(L, 1, WATCHSET_MT);
    if (s->ws) {
        unlink_set(s);
        rk_lk_close_set(s);
    }
    return 0;
}

/* Records the key (argument 3, default: the id) that events of watch id carry as `watch`,
 * and returns the id. */
static int remember_key(lua_State *L, int id)
{
    lua_getiuservalue(L, 1, 2);
    if (lua_isnoneornil(L, 3))
        lua_pushinteger(L, id);
    else
        lua_pushvalue(L, 3);
    lua_rawseti(L, -2, id);
    lua_pushinteger(L, id);
    return 1;
}

/* set:add(spec [, key]) -> id: spec has apiVersion, kind, namespace, name,
 * label_selector, field_selector, resource_version, all_namespaces, bookmarks,
 * server_timeout. Events of this watch carry `watch = key` (default: the id). */
static int set_add(lua_State *L)
{
    lwatchset *s = check_set(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    rk_watch_spec spec = {0};
    spec.api_version = rk_lk_opt_field(L, 2, "apiVersion");
    spec.kind = rk_lk_opt_field(L, 2, "kind");
    spec.namespace = rk_lk_opt_field(L, 2, "namespace");
    spec.name = rk_lk_opt_field(L, 2, "name");
    spec.all_namespaces = rk_lk_bool_field(L, 2, "all_namespaces");
    spec.label_selector = rk_lk_opt_field(L, 2, "label_selector");
    spec.field_selector = rk_lk_opt_field(L, 2, "field_selector");
    spec.resource_version = rk_lk_opt_field(L, 2, "resource_version");
    spec.bookmarks = rk_lk_bool_field(L, 2, "bookmarks");
    spec.server_timeout = (long)rk_lk_num_field(L, 2, "server_timeout", 0);
    int id;
    rk_kube_error kerr;
    if (rk_watch_set_add(s->ws, &spec, &id, &kerr) != RK_OK)
        return rk_lk_fail_kube(L, &kerr);
    return remember_key(L, id);
}

/* set:add_log(spec [, key]) -> id: spec has namespace, pod, container, follow, previous,
 * timestamps, since (seconds), tail (lines), max_line (bytes). Its events are LINE
 * {line, dropped, partial} and, last, END {cut, error}; they carry `watch = key`. */
static int set_add_log(lua_State *L)
{
    lwatchset *s = check_set(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    rk_log_spec spec = {0};
    spec.namespace = rk_lk_opt_field(L, 2, "namespace");
    spec.pod = rk_lk_opt_field(L, 2, "pod");
    spec.container = rk_lk_opt_field(L, 2, "container");
    spec.follow = rk_lk_bool_field(L, 2, "follow");
    spec.previous = rk_lk_bool_field(L, 2, "previous");
    spec.timestamps = rk_lk_bool_field(L, 2, "timestamps");
    spec.since_seconds = (long)rk_lk_num_field(L, 2, "since", 0);
    spec.tail_lines = (long)rk_lk_num_field(L, 2, "tail", -1);
    lua_Number ml = rk_lk_num_field(L, 2, "max_line", 0);
    spec.max_line = ml > 0 ? (size_t)ml : 0;
    int id;
    rk_kube_error kerr;
    if (rk_watch_set_add_log(s->ws, &spec, &id, &kerr) != RK_OK)
        return rk_lk_fail_kube(L, &kerr);
    return remember_key(L, id);
}

static int set_remove(lua_State *L)
{
    lwatchset *s = check_set(L, 1);
    lua_Integer id = luaL_checkinteger(L, 2);
    rk_watch_set_remove(s->ws, (int)id);
    lua_getiuservalue(L, 1, 2);
    lua_pushnil(L);
    lua_rawseti(L, -2, id);
    return 0;
}

static int set_count(lua_State *L)
{
    lwatchset *s = check_set(L, 1);
    lua_pushinteger(L, (lua_Integer)rk_watch_set_count(s->ws));
    return 1;
}

/* set:next([timeout]) -> {type, object, watch, id} | nil (timeout, or no watch left);
 * ERROR events carry `error` and end their watch. nil, err when interrupted. */
static int set_next(lua_State *L)
{
    lwatchset *s = check_set(L, 1);
    double timeout = luaL_optnumber(L, 2, -1);
    rk_watch_event *ev;
    rk_kube_error kerr;
    if (rk_watch_set_next(s->ws, timeout, &ev, &kerr) != RK_OK)
        return rk_lk_fail_kube(L, &kerr);
    if (!ev) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, 0, 4);
    rk_lk_set_str(L, "type", ev->type);
    lua_pushinteger(L, ev->watch_id);
    lua_setfield(L, -2, "id");
    lua_getiuservalue(L, 1, 2);
    lua_rawgeti(L, -1, ev->watch_id);
    lua_setfield(L, -3, "watch");
    lua_pop(L, 1);
    if (ev->object) {
        luaL_checkstack(L, 8, "decoding an event");
        rk_lua_push_value(L, ev->object);
        lua_setfield(L, -2, "object");
    }
    if (ev->text) {
        lua_pushlstring(L, ev->text, ev->text_len);
        lua_setfield(L, -2, "line");
        lua_pushinteger(L, (lua_Integer)ev->dropped);
        lua_setfield(L, -2, "dropped");
        lua_pushboolean(L, ev->partial);
        lua_setfield(L, -2, "partial");
    }
    if (strcmp(ev->type, "END") == 0) {
        lua_pushboolean(L, ev->cut);
        lua_setfield(L, -2, "cut");
    }
    if (ev->error) {
        rk_lk_push_kube_error(L, ev->error);
        lua_setfield(L, -2, "error");
    }
    if (ev->error || strcmp(ev->type, "END") == 0) {
        lua_getiuservalue(L, 1, 2);
        lua_pushnil(L);
        lua_rawseti(L, -2, ev->watch_id);
        lua_pop(L, 1);
    }
    rk_watch_event_free(ev);
    return 1;
}

const luaL_Reg rk_lk_watch_methods[] = {{"watch_set", client_watch_set}, {NULL, NULL}};

const luaL_Reg rk_lk_set_methods[] = {
    {"add", set_add},           {"remove", set_remove},   {"next", set_next}, {"count", set_count},
    {"close", rk_lk_set_close}, {"add_log", set_add_log}, {NULL, NULL}};
