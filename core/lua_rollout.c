/* rigelk8s.rollout_core: the Lua face of rollout.h.
 *
 *   evaluate(obj)                 -> {state = "ready"|"progressing"|"failed",
 *                                     message = "...", reasons = {"CamelCase", ...}}
 *   deployment(obj), statefulset(obj), daemonset(obj), pod(obj), pvc(obj), job(obj),
 *   service(obj)                  -> the same verdict, by that kind's rule
 *   event_for(obj, events)        -> "Reason: message", event  (or nil: nothing explains it)
 *   pull_error(message)           -> "permanent"|"transient"|"unknown", the phrase that
 *                                    decided ("" for unknown): rk_rollout_pull_error
 *   history(deploy, replicasets)  -> {{revision, name, images = {...}, change_cause,
 *                                      current}, ...} ascending by revision
 *   rollback_plan(deploy, replicasets[, to_revision])
 *                                 -> {revision, replicaset, template, annotations, unchanged}
 *   rollback_template(deploy, replicasets[, to_revision])
 *                                 -> template, nil, revision: the pod template to restore
 *
 * Lists are arrays of objects or *List objects with `items`. A non-table argument is
 * raised as an error; everything else that goes wrong (a field of the wrong type, no
 * such revision) returns nil, message, code ("invalid", "not_found", ...).
 *
 * evaluate runs on every watch event, so it converts only what the rules read: kind,
 * apiVersion, a few metadata fields, status, and spec without its big subtrees (pod
 * templates, volumes, affinity). History and undo need the templates and convert all. */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "lua_modules.h"
#include "lua_value.h"
#include "rollout.h"

#define SCRATCH_MT "rigelk8s.rollout.scratch"

static int push_failure(lua_State *L, rk_status st, const rk_error *err)
{
    lua_pushnil(L);
    lua_pushstring(L, err->msg);
    lua_pushstring(L, rk_status_name(st));
    return 3;
}

/* Copies t[key] (raw) from the table at src into the table on top of the stack. */
static void copy_field(lua_State *L, int src, const char *key)
{
    lua_pushstring(L, key);
    lua_rawget(L, src);
    lua_setfield(L, -2, key);
}

static const char *const kept_metadata[] = {
    "name", "namespace", "uid", "generation", "deletionTimestamp", NULL,
};

static const char *const skipped_spec[] = {
    "template",    "volumeClaimTemplates",      "jobTemplate", "volumes", "affinity",
    "tolerations", "topologySpreadConstraints", NULL,
};

static int is_skipped_spec_key(lua_State *L, int key)
{
    if (lua_type(L, key) != LUA_TSTRING)
        return 0;
    const char *k = lua_tostring(L, key);
    for (const char *const *s = skipped_spec; *s; s++)
        if (strcmp(k, *s) == 0)
            return 1;
    return 0;
}

/* Pushes a table with the parts of the object at idx that the verdict rules read.
 * Values that are not tables are passed through so the rules report their types. */
static void push_view(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 8, "rollout view");
    lua_createtable(L, 0, 5);
    copy_field(L, idx, "apiVersion");
    copy_field(L, idx, "kind");
    copy_field(L, idx, "status");

    lua_pushliteral(L, "metadata");
    lua_rawget(L, idx);
    if (lua_type(L, -1) == LUA_TTABLE) {
        int meta = lua_gettop(L);
        lua_createtable(L, 0, 5);
        for (const char *const *k = kept_metadata; *k; k++)
            copy_field(L, meta, *k);
        lua_remove(L, meta);
    }
    lua_setfield(L, -2, "metadata");

    lua_pushliteral(L, "spec");
    lua_rawget(L, idx);
    if (lua_type(L, -1) == LUA_TTABLE) {
        int spec = lua_gettop(L);
        lua_createtable(L, 0, 8);
        lua_pushnil(L);
        while (lua_next(L, spec)) {
            if (is_skipped_spec_key(L, -2)) {
                lua_pop(L, 1);
                continue;
            }
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        }
        lua_remove(L, spec);
    }
    lua_setfield(L, -2, "spec");
}

/* Converts the view of the object at idx; on failure pushes nil, message, code and
 * returns that count, else returns 0 with *out set. */
static int view_to_value(lua_State *L, int idx, rk_value **out)
{
    rk_error err = {0};
    push_view(L, idx);
    rk_status st = rk_lua_to_value(L, -1, out, &err);
    lua_pop(L, 1);
    return st == RK_OK ? 0 : push_failure(L, st, &err);
}

static void push_verdict(lua_State *L, const rk_verdict *v)
{
    lua_createtable(L, 0, 3);
    lua_pushstring(L, rk_rollout_state_name(v->state));
    lua_setfield(L, -2, "state");
    lua_pushstring(L, v->message);
    lua_setfield(L, -2, "message");
    lua_createtable(L, (int)v->nreasons, 0);
    for (size_t i = 0; i < v->nreasons; i++) {
        lua_pushstring(L, v->reasons[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    rk_lua_mark_array(L, -1);
    lua_setfield(L, -2, "reasons");
}

typedef rk_status (*rule_fn)(const rk_value *, rk_verdict *, rk_error *);

static int judge(lua_State *L, rule_fn rule)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    rk_value *obj;
    int n = view_to_value(L, 1, &obj);
    if (n)
        return n;
    rk_verdict v;
    rk_error err = {0};
    rk_status st = rule(obj, &v, &err);
    rk_value_free(obj);
    if (st != RK_OK)
        return push_failure(L, st, &err);
    push_verdict(L, &v);
    return 1;
}

static int l_pull_error(lua_State *L)
{
    const char *message = luaL_optstring(L, 1, "");
    const char *why = "";
    rk_pull_class c = rk_rollout_pull_error(message, &why);
    lua_pushstring(L, c == RK_PULL_PERMANENT   ? "permanent"
                      : c == RK_PULL_TRANSIENT ? "transient"
                                               : "unknown");
    lua_pushstring(L, why);
    return 2;
}

static int l_evaluate(lua_State *L)
{
    return judge(L, rk_rollout_evaluate);
}
static int l_deployment(lua_State *L)
{
    return judge(L, rk_rollout_deployment);
}
static int l_statefulset(lua_State *L)
{
    return judge(L, rk_rollout_statefulset);
}
static int l_daemonset(lua_State *L)
{
    return judge(L, rk_rollout_daemonset);
}
static int l_pod(lua_State *L)
{
    return judge(L, rk_rollout_pod);
}
static int l_pvc(lua_State *L)
{
    return judge(L, rk_rollout_pvc);
}
static int l_job(lua_State *L)
{
    return judge(L, rk_rollout_job);
}
static int l_service(lua_State *L)
{
    return judge(L, rk_rollout_service);
}

/* C data that must be freed even if pushing the result raises (out of memory): it
 * lives in a userdata whose __gc (and __close) frees it; freeing twice is harmless. */
typedef struct {
    rk_value *deploy, *replicasets, *events, *obj;
    rk_history history;
    rk_rollback rollback;
} scratch;

static int scratch_free(lua_State *L)
{
    scratch *s = luaL_checkudata(L, 1, SCRATCH_MT);
    rk_history_free(&s->history);
    rk_rollback_free(&s->rollback);
    rk_value_free(s->deploy);
    rk_value_free(s->replicasets);
    rk_value_free(s->events);
    rk_value_free(s->obj);
    memset(s, 0, sizeof *s);
    return 0;
}

static scratch *push_scratch(lua_State *L)
{
    scratch *s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    luaL_setmetatable(L, SCRATCH_MT);
    return s;
}

/* Frees the scratch at idx now rather than at the next collection. */
static void scratch_done(lua_State *L, int idx)
{
    lua_pushcfunction(L, scratch_free);
    lua_pushvalue(L, idx);
    lua_call(L, 1, 0);
}

static rk_status convert(lua_State *L, int idx, rk_value **out, rk_error *err)
{
    if (lua_isnoneornil(L, idx)) {
        *out = NULL;
        return RK_OK;
    }
    return rk_lua_to_value(L, idx, out, err);
}

static int l_event_for(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    scratch *s = push_scratch(L);
    rk_error err = {0};
    int n = view_to_value(L, 1, &s->obj);
    if (n)
        return n;
    rk_status st = convert(L, 2, &s->events, &err);
    const rk_value *event = NULL;
    if (st == RK_OK)
        st = rk_rollout_event_for(s->obj, s->events, &event, &err);
    if (st != RK_OK)
        return push_failure(L, st, &err);
    if (!event) {
        scratch_done(L, 3);
        lua_pushnil(L);
        return 1;
    }
    char text[RK_VERDICT_MESSAGE_MAX];
    rk_rollout_event_text(event, text, sizeof text);
    /* Hand back the caller's own event table, found by its position in the list. */
    const rk_value *items = s->events;
    if (items->type == RK_MAP) {
        items = rk_map_get_cstr(items, "items");
        lua_pushliteral(L, "items");
        lua_rawget(L, 2);
    } else {
        lua_pushvalue(L, 2);
    }
    size_t index = 0;
    while (index < rk_value_len(items) && rk_seq_get(items, index) != event)
        index++;
    scratch_done(L, 3);
    lua_pushstring(L, text);
    lua_rawgeti(L, -2, (lua_Integer)index + 1);
    return 2;
}

/* Converts argument 1 (the Deployment) and 2 (its ReplicaSets, may be nil) into s. */
static int convert_deploy_and_replicasets(lua_State *L, scratch *s)
{
    rk_error err = {0};
    rk_status st = rk_lua_to_value(L, 1, &s->deploy, &err);
    if (st == RK_OK)
        st = convert(L, 2, &s->replicasets, &err);
    return st == RK_OK ? 0 : push_failure(L, st, &err);
}

static int l_history(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    scratch *s = push_scratch(L);
    int n = convert_deploy_and_replicasets(L, s);
    if (n)
        return n;
    rk_error err = {0};
    rk_status st = rk_rollout_history(s->deploy, s->replicasets, &s->history, &err);
    if (st != RK_OK)
        return push_failure(L, st, &err);
    const rk_history *h = &s->history;
    lua_createtable(L, (int)h->len, 0);
    for (size_t i = 0; i < h->len; i++) {
        const rk_revision *r = &h->items[i];
        lua_createtable(L, 0, 5);
        lua_pushinteger(L, r->revision);
        lua_setfield(L, -2, "revision");
        lua_pushstring(L, r->name);
        lua_setfield(L, -2, "name");
        lua_createtable(L, (int)r->nimages, 0);
        for (size_t k = 0; k < r->nimages; k++) {
            lua_pushstring(L, r->images[k]);
            lua_rawseti(L, -2, (lua_Integer)k + 1);
        }
        rk_lua_mark_array(L, -1);
        lua_setfield(L, -2, "images");
        if (r->change_cause) {
            lua_pushstring(L, r->change_cause);
            lua_setfield(L, -2, "change_cause");
        }
        lua_pushboolean(L, r->current);
        lua_setfield(L, -2, "current");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    rk_lua_mark_array(L, -1);
    scratch_done(L, 3);
    return 1;
}

/* Runs the undo selection; returns the number of failure values pushed, or 0 with the
 * scratch (at index 4) holding the rollback. */
static int plan_rollback(lua_State *L, scratch **out)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer to_revision = luaL_optinteger(L, 3, 0);
    lua_settop(L, 3);
    scratch *s = push_scratch(L);
    int n = convert_deploy_and_replicasets(L, s);
    if (n)
        return n;
    rk_error err = {0};
    rk_status st =
        rk_rollout_rollback(s->deploy, s->replicasets, (int64_t)to_revision, &s->rollback, &err);
    if (st != RK_OK)
        return push_failure(L, st, &err);
    *out = s;
    return 0;
}

static int l_rollback_plan(lua_State *L)
{
    scratch *s;
    int n = plan_rollback(L, &s);
    if (n)
        return n;
    const rk_rollback *rb = &s->rollback;
    const rk_value *meta = rk_map_get_cstr(rb->replicaset, "metadata");
    const rk_value *name = meta && meta->type == RK_MAP ? rk_map_get_cstr(meta, "name") : NULL;
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, rb->revision);
    lua_setfield(L, -2, "revision");
    lua_pushstring(L, name && name->type == RK_STRING ? name->as.str.ptr : "");
    lua_setfield(L, -2, "replicaset");
    rk_lua_push_value(L, rb->pod_template);
    lua_setfield(L, -2, "template");
    rk_lua_push_value(L, rb->annotations);
    lua_setfield(L, -2, "annotations");
    lua_pushboolean(L, rb->unchanged);
    lua_setfield(L, -2, "unchanged");
    scratch_done(L, 4);
    return 1;
}

static int l_rollback_template(lua_State *L)
{
    scratch *s;
    int n = plan_rollback(L, &s);
    if (n)
        return n;
    rk_lua_push_value(L, s->rollback.pod_template);
    lua_pushnil(L);
    lua_pushinteger(L, s->rollback.revision);
    scratch_done(L, 4);
    return 3;
}

int luaopen_rigelk8s_rollout_core(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"evaluate", l_evaluate},
        {"deployment", l_deployment},
        {"statefulset", l_statefulset},
        {"daemonset", l_daemonset},
        {"pod", l_pod},
        {"pvc", l_pvc},
        {"job", l_job},
        {"service", l_service},
        {"event_for", l_event_for},
        {"pull_error", l_pull_error},
        {"history", l_history},
        {"rollback_plan", l_rollback_plan},
        {"rollback_template", l_rollback_template},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, SCRATCH_MT)) {
        lua_pushcfunction(L, scratch_free);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, scratch_free);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    luaL_newlib(L, funcs);
    return 1;
}
