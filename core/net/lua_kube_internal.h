/* lua_kube_internal.h — what the parts of rigelk8s.kube share: lua_kube.c (module,
 * errors, client), lua_kube_call.c (requests), lua_kube_watch.c (watch sets, logs) and
 * lua_kube_group.c (the fleet's group and batch binding): the client and watch-set
 * userdata and the helpers that read spec tables and turn answers into Lua values. Not a
 * public API. */
#ifndef RK_LUA_KUBE_INTERNAL_H
#define RK_LUA_KUBE_INTERNAL_H

#include <lauxlib.h>
#include <lua.h>

#include "kube.h"
#include "watch.h"

#define CLIENT_MT   "rigelk8s.Client"
#define WATCHSET_MT "rigelk8s.WatchSet"

typedef struct lwatchset lwatchset;

typedef struct lbatch lbatch;

typedef struct {
    rk_kube *k;
    lwatchset *sets; /* open watch sets: closed before the client */
    lbatch *batches; /* unfinished start_many batches: abandoned before the client */
} lclient;

struct lwatchset {
    rk_watch_set *ws;
    lclient *owner;
    lwatchset *next;
};

/* One request being put together: the call plus the JSON body it owns. */
typedef struct {
    rk_kube_call call;
    rk_buf body;
} built;

lclient *rk_lk_check_client(lua_State *L, int idx);
/* Fields of a spec table at t: a string (NULL if absent; the table keeps it alive), a
 * boolean, a number (dflt if absent). */
const char *rk_lk_opt_field(lua_State *L, int t, const char *key);
int rk_lk_bool_field(lua_State *L, int t, const char *key);
lua_Number rk_lk_num_field(lua_State *L, int t, const char *key, lua_Number dflt);
/* Sets t[key] = value (nil for NULL) on the table on top. */
void rk_lk_set_str(lua_State *L, const char *key, const char *value);
/* Pushes nil and the error as a rigelk8s.errors value: returns 2. */
int rk_lk_fail_kube(lua_State *L, const rk_kube_error *e);
/* Fills b from the spec table at t (strings point into it). 0, or -1 with kerr set. */
int rk_lk_build_call(lua_State *L, int t, built *b, rk_kube_error *kerr);
void rk_lk_push_kube_error(lua_State *L, const rk_kube_error *e);
/* Sets `object` (decoded lazily) and `namespace` on the result table on top. */
int rk_lk_set_lazy_object(lua_State *L, rk_kube *k, const rk_kube_prepared *p,
                          const rk_http_response *resp, rk_kube_error *kerr);
/* The connect option `group` (a kube.group() or nil). */
rk_http_group *rk_lk_opt_group(lua_State *L, int t);
/* Adds kube.group, client:start_many, client:news and set:news (lua_kube_group.c). The
 * module table is on top; the Client and WatchSet method tables are its fields. */
void rk_lk_open_group(lua_State *L);
/* Abandons the client's unfinished batches (client:close). */
void rk_lk_close_batches(lclient *c);
/* Client methods call, call_many, list_all, resolve (lua_kube_call.c). */
extern const luaL_Reg rk_lk_call_methods[];
/* Client method watch_set, and the WatchSet methods (lua_kube_watch.c). */
extern const luaL_Reg rk_lk_watch_methods[];
extern const luaL_Reg rk_lk_set_methods[];
/* WatchSet __gc and __close (set:close). */
int rk_lk_set_close(lua_State *L);
/* Frees a watch set (client:close closes its open sets). */
void rk_lk_close_set(lwatchset *s);

#endif
