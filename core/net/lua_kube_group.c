/* rigelk8s.kube, the part a fleet uses to update many clusters from one process:
 *
 *   kube.group()                  -> group: clients connected with {group = g} share
 *                                    one curl multi handle (http.h, "groups")
 *   group:wait(timeout)           drives every transfer of every client of the group for
 *                                 at most timeout seconds (capped at 0.1), returning
 *                                 early when one ended or a watch got data; true, or
 *                                 nil, err on Ctrl-C
 *   client:start_many(specs, n)   -> batch: call_many's requests queued, nothing waited
 *                                    for; batch:step() -> true once every answer is in,
 *                                    else false, seconds until a retry is due (or nil);
 *                                    batch:results() -> what call_many returns (results
 *                                    of specs with text = true carry the body as `text`),
 *                                    or nil, err; batch:close() abandons it
 *   client:news(), set:news()     a counter that grows when one of the client's
 *                                 transfers ends or its watches get data
 *
 * Nothing blocks and nothing uses threads. The cooperative layer on top (k8s.lua: a
 * client call made inside a fleet target's coroutine starts a batch and yields until
 * its client has news) and the scheduler that resumes the coroutines
 * (lua/rigelk8s/fleet/inprocess.lua) are Lua. */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "lua_kube_internal.h"

#define GROUP_MT "rigelk8s.Group"
#define BATCH_MT "rigelk8s.Batch"

typedef struct {
    rk_http_group *g;
} lgroup;

struct lbatch {
    lclient *owner; /* NULL once finished or abandoned */
    lbatch *next;   /* in owner->batches */
    size_t n, np;
    built *bs;
    rk_kube_prepared *ps;
    rk_http_response *resps;
    rk_status *sts;
    size_t *slot; /* prepared index -> spec index */
    rk_kube_batch *kb;
    int failed;   /* rk_kube_send_start failed: err says why */
    int orphaned; /* its client was closed first */
    rk_kube_error err;
};

/* ---- groups --------------------------------------------------------------------------- */

static int group_new(lua_State *L)
{
    lgroup *g = lua_newuserdatauv(L, sizeof *g, 0);
    g->g = NULL;
    luaL_setmetatable(L, GROUP_MT);
    rk_error err;
    if (rk_http_group_new(&g->g, &err) != RK_OK)
        return luaL_error(L, "kube.group: %s", err.msg);
    return 1;
}

static int group_close(lua_State *L)
{
    lgroup *g = luaL_checkudata(L, 1, GROUP_MT);
    rk_http_group_free(g->g); /* the clients keep it alive until they go */
    g->g = NULL;
    return 0;
}

static int group_wait(lua_State *L)
{
    lgroup *g = luaL_checkudata(L, 1, GROUP_MT);
    if (!g->g)
        return luaL_error(L, "the group is closed");
    double t = luaL_optnumber(L, 2, 0.1);
    rk_error err;
    if (rk_http_group_wait(g->g, t > 0 ? (long)(t * 1000) + 1 : 0, &err) != RK_OK) {
        rk_kube_error e;
        memset(&e, 0, sizeof e);
        snprintf(e.reason, sizeof e.reason, "Interrupted");
        snprintf(e.message, sizeof e.message, "interrupted");
        e.exit_code = RK_EXIT_INTERRUPTED;
        lua_pushnil(L);
        rk_lk_push_kube_error(L, &e);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

rk_http_group *rk_lk_opt_group(lua_State *L, int t)
{
    rk_http_group *out = NULL;
    if (lua_getfield(L, t, "group") != LUA_TNIL) {
        lgroup *g = luaL_checkudata(L, -1, GROUP_MT);
        if (!g->g)
            luaL_error(L, "connect: the group is closed");
        out = g->g;
    }
    lua_pop(L, 1);
    return out;
}

/* ---- batches -------------------------------------------------------------------------- */

static void batch_release(lbatch *b)
{
    if (b->owner) {
        for (lbatch **p = &b->owner->batches; *p; p = &(*p)->next) {
            if (*p == b) {
                *p = b->next;
                break;
            }
        }
        b->owner = NULL;
    }
    if (b->kb) {
        rk_kube_send_abandon(b->kb);
        b->kb = NULL;
    }
    for (size_t j = 0; j < b->np; j++) {
        rk_http_response_free(&b->resps[j]);
        rk_kube_prepared_free(&b->ps[j]);
        rk_buf_free(&b->bs[j].body);
    }
    b->np = 0;
    free(b->bs), free(b->ps), free(b->resps), free(b->sts), free(b->slot);
    b->bs = NULL, b->ps = NULL, b->resps = NULL, b->sts = NULL, b->slot = NULL;
}

void rk_lk_close_batches(lclient *c)
{
    while (c->batches) {
        c->batches->orphaned = 1;
        batch_release(c->batches);
    }
}

static int batch_gc(lua_State *L)
{
    batch_release(luaL_checkudata(L, 1, BATCH_MT));
    return 0;
}

static void fail_result(lua_State *L, int results, size_t i, const rk_kube_error *e)
{
    lua_createtable(L, 0, 3);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "ok");
    rk_lk_push_kube_error(L, e);
    lua_setfield(L, -2, "error");
    lua_rawseti(L, results, (lua_Integer)i + 1);
}

static int client_start_many(lua_State *L)
{
    lclient *c = rk_lk_check_client(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer conc = luaL_optinteger(L, 3, 16);
    size_t n = (size_t)lua_rawlen(L, 2);
    lua_settop(L, 2);
    lbatch *b = lua_newuserdatauv(L, sizeof *b, 3); /* 3 */
    memset(b, 0, sizeof *b);
    luaL_setmetatable(L, BATCH_MT);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, 3, 1); /* the client outlives the batch */
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, 3, 2);    /* the specs: the calls point into them */
    lua_createtable(L, (int)n, 0); /* 4: results, failures filled in now */
    size_t m = n ? n : 1;
    b->n = n;
    b->bs = calloc(m, sizeof *b->bs);
    b->ps = calloc(m, sizeof *b->ps);
    b->resps = calloc(m, sizeof *b->resps);
    b->sts = calloc(m, sizeof *b->sts);
    b->slot = calloc(m, sizeof *b->slot);
    if (!b->bs || !b->ps || !b->resps || !b->sts || !b->slot) {
        batch_release(b);
        return luaL_error(L, "out of memory");
    }
    b->owner = c;
    b->next = c->batches;
    c->batches = b;
    rk_kube_error kerr;
    for (size_t i = 0; i < n; i++) {
        size_t j = b->np;
        if (lua_rawgeti(L, 2, (lua_Integer)i + 1) != LUA_TTABLE) {
            memset(&kerr, 0, sizeof kerr);
            snprintf(kerr.reason, sizeof kerr.reason, "BadRequest");
            snprintf(kerr.message, sizeof kerr.message, "item %zu is not a table", i + 1);
            kerr.exit_code = RK_EXIT_FAILED;
            lua_pop(L, 1);
            fail_result(L, 4, i, &kerr);
            continue;
        }
        if (rk_lk_build_call(L, 5, &b->bs[j], &kerr) != 0) {
            lua_pop(L, 1);
            fail_result(L, 4, i, &kerr);
            continue;
        }
        if (rk_kube_prepare(c->k, &b->bs[j].call, &b->ps[j], &kerr) != RK_OK) {
            rk_buf_free(&b->bs[j].body);
            lua_pop(L, 1);
            fail_result(L, 4, i, &kerr);
            continue;
        }
        lua_pop(L, 1);
        b->slot[b->np++] = i;
    }
    lua_setiuservalue(L, 3, 3);
    size_t concurrency = (size_t)(conc > 0 ? conc : 16);
    if (rk_kube_send_start(c->k, b->ps, b->resps, b->np, concurrency, &b->kb, &b->err) != RK_OK)
        b->failed = 1;
    return 1;
}

static lbatch *check_batch(lua_State *L)
{
    lbatch *b = luaL_checkudata(L, 1, BATCH_MT);
    if (!b->kb && !b->failed && !b->orphaned)
        luaL_error(L, "the batch is finished or closed");
    return b;
}

static int batch_step(lua_State *L)
{
    lbatch *b = check_batch(L);
    if (b->failed || b->orphaned) {
        lua_pushboolean(L, 1);
        return 1;
    }
    double wake = 0;
    int done = rk_kube_send_step(b->kb, &wake);
    lua_pushboolean(L, done);
    if (done || !wake)
        return 1;
    double left = wake - rk_http_now();
    lua_pushnumber(L, left > 0 ? left : 0);
    return 2;
}

static int batch_results(lua_State *L)
{
    lbatch *b = check_batch(L);
    lclient *c = b->owner;
    if (b->failed || !c) {
        rk_kube_error e = b->err;
        if (!c) {
            memset(&e, 0, sizeof e);
            snprintf(e.reason, sizeof e.reason, "InternalError");
            snprintf(e.message, sizeof e.message, "the client was closed");
            e.exit_code = RK_EXIT_FAILED;
        }
        batch_release(b);
        b->failed = 0;
        b->orphaned = 0;
        lua_pushnil(L);
        rk_lk_push_kube_error(L, &e);
        return 2;
    }
    double wake;
    while (!rk_kube_send_step(b->kb, &wake)) {
        /* Asked early: finish it here, blocking, like call_many. */
        rk_error err;
        rk_http_wait(rk_kube_http(c->k), 100, &err);
    }
    rk_kube_error kerr;
    rk_kube_batch *kb = b->kb;
    b->kb = NULL;
    rk_status st = rk_kube_send_finish(kb, b->sts, &kerr);
    if (st != RK_OK) {
        batch_release(b);
        lua_pushnil(L);
        rk_lk_push_kube_error(L, &kerr);
        return 2;
    }
    lua_settop(L, 1);
    lua_getiuservalue(L, 1, 3); /* 2: results */
    lua_getiuservalue(L, 1, 2); /* 3: specs */
    for (size_t j = 0; j < b->np; j++) {
        lua_createtable(L, 0, 3);
        int ok = b->sts[j] == RK_OK;
        rk_kube_error e;
        lua_rawgeti(L, 3, (lua_Integer)b->slot[j] + 1);
        int as_text = lua_type(L, -1) == LUA_TTABLE && lua_getfield(L, -1, "text") != LUA_TNIL &&
                      lua_toboolean(L, -1);
        lua_settop(L, 4);
        if (!ok) {
            rk_kube_describe_failure(c->k, &b->ps[j], &b->resps[j], &e);
        } else if (as_text) {
            lua_pushlstring(L, b->resps[j].body.data ? b->resps[j].body.data : "",
                            b->resps[j].body.len);
            lua_setfield(L, -2, "text");
        } else if (rk_lk_set_lazy_object(L, c->k, &b->ps[j], &b->resps[j], &e) != 0) {
            ok = 0;
        }
        lua_pushboolean(L, ok);
        lua_setfield(L, -2, "ok");
        lua_pushinteger(L, b->resps[j].status);
        lua_setfield(L, -2, "status");
        if (!ok) {
            rk_lk_push_kube_error(L, &e);
            lua_setfield(L, -2, "error");
        }
        lua_rawseti(L, 2, (lua_Integer)b->slot[j] + 1);
    }
    batch_release(b);
    lua_settop(L, 2);
    return 1;
}

/* ---- news ----------------------------------------------------------------------------- */

static int client_news(lua_State *L)
{
    lclient *c = rk_lk_check_client(L, 1);
    lua_pushinteger(L, (lua_Integer)rk_http_news(rk_kube_http(c->k)));
    return 1;
}

static int set_news(lua_State *L)
{
    lwatchset *s = luaL_checkudata(L, 1, WATCHSET_MT);
    if (!s->ws || !s->owner || !s->owner->k)
        return luaL_error(L, "the watch set is closed");
    lua_pushinteger(L, (lua_Integer)rk_http_news(rk_kube_http(s->owner->k)));
    return 1;
}

void rk_lk_open_group(lua_State *L)
{
    static const luaL_Reg group_methods[] = {
        {"wait", group_wait}, {"close", group_close}, {NULL, NULL}};
    static const luaL_Reg batch_methods[] = {
        {"step", batch_step}, {"results", batch_results}, {"close", batch_gc}, {NULL, NULL}};
    if (luaL_newmetatable(L, GROUP_MT)) {
        luaL_newlib(L, group_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, group_close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, group_close);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, BATCH_MT)) {
        luaL_newlib(L, batch_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, batch_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, batch_gc);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, group_new);
    lua_setfield(L, -2, "group");
    lua_getfield(L, -1, "Client");
    lua_pushcfunction(L, client_start_many);
    lua_setfield(L, -2, "start_many");
    lua_pushcfunction(L, client_news);
    lua_setfield(L, -2, "news");
    lua_pop(L, 1);
    lua_getfield(L, -1, "WatchSet");
    lua_pushcfunction(L, set_news);
    lua_setfield(L, -2, "news");
    lua_pop(L, 1);
}
