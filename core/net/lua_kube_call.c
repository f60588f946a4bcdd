/* lua_kube_call.c — the request methods of rigelk8s.kube's Client (see lua_kube.c):
 * client:call, client:call_many (answers decoded lazily), client:list_all (every page)
 * and client:resolve, and the spec table -> rk_kube_call translation lua_kube_group.c
 * reuses.
 *
 * spec: verb (get|list|create|replace|patch|apply|delete|raw), apiVersion, kind, name,
 * namespace, subresource, all_namespaces, body (table or JSON string; for apply,
 * create and replace the object also supplies apiVersion/kind/name/namespace),
 * patch_type (merge|json|strategic|apply), label_selector, field_selector, limit,
 * continue, resource_version, field_manager, force, dry_run, propagation_policy,
 * grace_period_seconds, timeout_seconds, method and path (raw), content_type (raw: of
 * the body), text (true: return the answer's body as a string, for pods/log and service
 * proxy answers such as the ROS master's XML-RPC, instead of decoding JSON).
 *
 * Answers go from JSON to Lua tables in C (json.c, then lua_value.c), never through a
 * Lua-side decoder. */
#include <lauxlib.h>
#include <lua.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "kube.h"
#include "lua_kube_internal.h"
#include "lua_value.h"

static int fail_msg(lua_State *L, const char *reason, int exit_code, const char *msg)
{
    rk_kube_error e;
    memset(&e, 0, sizeof e);
    snprintf(e.reason, sizeof e.reason, "%s", reason);
    snprintf(e.message, sizeof e.message, "%s", msg);
    e.exit_code = exit_code;
    return rk_lk_fail_kube(L, &e);
}

static int verb_of(const char *verb, const char *patch_type, rk_kube_verb *out)
{
    static const struct {
        const char *name;
        rk_kube_verb verb;
    } verbs[] = {{"get", RK_VERB_GET},         {"list", RK_VERB_LIST},   {"create", RK_VERB_CREATE},
                 {"replace", RK_VERB_REPLACE}, {"apply", RK_VERB_APPLY}, {"delete", RK_VERB_DELETE},
                 {"raw", RK_VERB_RAW},         {"watch", RK_VERB_WATCH}};
    if (verb && strcmp(verb, "patch") == 0) {
        if (!patch_type || strcmp(patch_type, "merge") == 0)
            *out = RK_VERB_PATCH_MERGE;
        else if (strcmp(patch_type, "json") == 0)
            *out = RK_VERB_PATCH_JSON;
        else if (strcmp(patch_type, "strategic") == 0)
            *out = RK_VERB_PATCH_STRATEGIC;
        else if (strcmp(patch_type, "apply") == 0)
            *out = RK_VERB_APPLY;
        else
            return 0;
        return 1;
    }
    for (size_t i = 0; verb && i < sizeof verbs / sizeof *verbs; i++) {
        if (strcmp(verbs[i].name, verb) == 0) {
            *out = verbs[i].verb;
            return 1;
        }
    }
    return 0;
}

/* Fills b from the spec table at t. Strings point into the spec (which the caller
 * keeps on the stack). Returns 0, or -1 with kerr set. */
int rk_lk_build_call(lua_State *L, int t, built *b, rk_kube_error *kerr)
{
    memset(kerr, 0, sizeof *kerr);
    rk_buf_init(&b->body);
    const char *verb = rk_lk_opt_field(L, t, "verb");
    rk_kube_verb v;
    if (!verb_of(verb ? verb : "get", rk_lk_opt_field(L, t, "patch_type"), &v)) {
        snprintf(kerr->reason, sizeof kerr->reason, "BadRequest");
        snprintf(kerr->message, sizeof kerr->message,
                 "unknown verb \"%s\" or patch_type (use get, list, create, replace, patch "
                 "with merge|json|strategic, apply, delete)",
                 verb ? verb : "");
        kerr->exit_code = RK_EXIT_FAILED;
        return -1;
    }
    rk_kube_call *c = &b->call;
    rk_kube_call_init(c, v);
    c->api_version = rk_lk_opt_field(L, t, "apiVersion");
    c->kind = rk_lk_opt_field(L, t, "kind");
    c->name = rk_lk_opt_field(L, t, "name");
    c->namespace = rk_lk_opt_field(L, t, "namespace");
    c->subresource = rk_lk_opt_field(L, t, "subresource");
    c->all_namespaces = rk_lk_bool_field(L, t, "all_namespaces");
    c->method = rk_lk_opt_field(L, t, "method");
    c->path = rk_lk_opt_field(L, t, "path");
    c->content_type = rk_lk_opt_field(L, t, "content_type");
    rk_kube_query *q = &c->q;
    q->label_selector = rk_lk_opt_field(L, t, "label_selector");
    q->field_selector = rk_lk_opt_field(L, t, "field_selector");
    q->limit = (long)rk_lk_num_field(L, t, "limit", 0);
    q->continue_token = rk_lk_opt_field(L, t, "continue");
    q->resource_version = rk_lk_opt_field(L, t, "resource_version");
    q->field_manager = rk_lk_opt_field(L, t, "field_manager");
    q->force = rk_lk_bool_field(L, t, "force");
    q->dry_run = rk_lk_bool_field(L, t, "dry_run");
    q->propagation_policy = rk_lk_opt_field(L, t, "propagation_policy");
    q->grace_period_seconds = (long)rk_lk_num_field(L, t, "grace_period_seconds", -1);
    q->timeout_seconds = (long)rk_lk_num_field(L, t, "timeout_seconds", 0);
    int bt = lua_getfield(L, t, "body");
    if (bt == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        rk_buf_append(&b->body, s, len);
    } else if (bt == LUA_TTABLE) {
        /* The object names itself: apiVersion, kind, metadata.name/namespace. */
        int o = lua_gettop(L);
        if (v == RK_VERB_APPLY || v == RK_VERB_CREATE || v == RK_VERB_REPLACE) {
            if (!c->api_version)
                c->api_version = rk_lk_opt_field(L, o, "apiVersion");
            if (!c->kind)
                c->kind = rk_lk_opt_field(L, o, "kind");
            if (lua_getfield(L, o, "metadata") == LUA_TTABLE) {
                if (!c->name)
                    c->name = rk_lk_opt_field(L, -1, "name");
                if (!c->namespace)
                    c->namespace = rk_lk_opt_field(L, -1, "namespace");
            }
            lua_pop(L, 1);
        }
        rk_value *val = NULL;
        rk_error err;
        if (rk_lua_to_value(L, o, &val, &err) != RK_OK ||
            rk_json_encode(val, 0, &b->body, &err) != RK_OK) {
            rk_value_free(val);
            lua_pop(L, 1);
            rk_kube_error_from(kerr, &err, "BadRequest", RK_EXIT_FAILED);
            rk_buf_free(&b->body);
            return -1;
        }
        rk_value_free(val);
    }
    lua_pop(L, 1);
    if (b->body.len || bt == LUA_TSTRING || bt == LUA_TTABLE) {
        if (rk_buf_status(&b->body, NULL) != RK_OK || !b->body.data) {
            if (!b->body.data)
                rk_buf_grow(&b->body, 0);
        }
        c->body = b->body.data ? b->body.data : "";
        c->body_len = b->body.len;
    }
    return 0;
}

/* Messages are cut at the buffer's end (vsnprintf), which is fine for a diagnosis. */
static void set_message(rk_kube_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_message(rk_kube_error *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

/* Decodes a non-empty JSON answer, or NULL with kerr set: an answer that is not JSON (a
 * proxy's login page, a cut body) is explained with what was asked, who answered, and the
 * content type. */
static rk_value *decode_answer(rk_kube *k, const rk_kube_prepared *p, const rk_http_response *resp,
                               rk_kube_error *kerr)
{
    rk_value *v = NULL;
    rk_error err;
    if (rk_json_decode(resp->body.data, resp->body.len, &v, &err) != RK_OK) {
        rk_kube_error_from(kerr, &err, "InvalidResponse", RK_EXIT_FAILED);
        set_message(kerr, "%s: the answer of %s (HTTP %ld, Content-Type %s) is not JSON: %s",
                    p->what, rk_http_server(rk_kube_http(k)), resp->status,
                    resp->content_type[0] ? resp->content_type : "none", err.msg);
        return NULL;
    }
    return v;
}

/* Decodes a JSON answer straight onto the Lua stack (an empty body pushes true). */
static int push_json(lua_State *L, rk_kube *k, const rk_kube_prepared *p,
                     const rk_http_response *resp, rk_kube_error *kerr)
{
    if (!resp->body.len) {
        lua_pushboolean(L, 1);
        return 0;
    }
    rk_value *v = decode_answer(k, p, resp, kerr);
    if (!v)
        return -1;
    luaL_checkstack(L, 8, "decoding a response");
    rk_lua_push_value(L, v);
    rk_value_free(v);
    return 0;
}

static int client_call(lua_State *L)
{
    lclient *c = rk_lk_check_client(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    built b;
    rk_kube_error kerr;
    if (rk_lk_build_call(L, 2, &b, &kerr) != 0)
        return rk_lk_fail_kube(L, &kerr);
    rk_kube_prepared p;
    if (rk_kube_prepare(c->k, &b.call, &p, &kerr) != RK_OK) {
        rk_buf_free(&b.body);
        return rk_lk_fail_kube(L, &kerr);
    }
    rk_http_response resp;
    rk_status st = rk_kube_send(c->k, &p, &resp, &kerr);
    rk_kube_prepared_free(&p);
    rk_buf_free(&b.body);
    /* spec.text: the answer as a string, not JSON (pods/log, proxied XML-RPC). */
    int as_text = lua_getfield(L, 2, "text") != LUA_TNIL && lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (st == RK_OK && as_text) {
        lua_pushlstring(L, resp.body.data ? resp.body.data : "", resp.body.len);
        lua_pushinteger(L, resp.status);
        rk_http_response_free(&resp);
        return 2;
    }
    if (st == RK_OK && push_json(L, c->k, &p, &resp, &kerr) == 0) {
        lua_pushinteger(L, resp.status);
        rk_http_response_free(&resp);
        return 2;
    }
    rk_http_response_free(&resp);
    return rk_lk_fail_kube(L, &kerr);
}

/* ---- lazily decoded answers (call_many) ------------------------------------------------
 *
 * A bulk apply of N objects used to turn all N answers into Lua tables at once (about
 * 2.8 kB of Lua heap per ConfigMap, against about 1.2 kB of JSON), although most callers
 * only look at ok/status. A successful result instead keeps its answer as a Lua string
 * in a weak-keyed side table, and the result's metatable decodes it into `object` the
 * first time that field is read (or the result is iterated with pairs). The answer is
 * still checked to be JSON when it arrives, so ok/error are as before. */

#define LAZY_MT "rigelk8s.LazyResult"

/* Upvalue 1 of both metamethods: {[result] = json string}, weak keys. */
static int lazy_materialize(lua_State *L, int r)
{
    lua_pushvalue(L, r);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TSTRING) {
        lua_pop(L, 1);
        return 0;
    }
    size_t len;
    const char *body = lua_tolstring(L, -1, &len);
    rk_value *v = NULL;
    rk_error err;
    if (rk_json_decode(body, len, &v, &err) != RK_OK)
        return luaL_error(L, "decoding an answer again: %s", err.msg);
    lua_pop(L, 1);
    luaL_checkstack(L, 8, "decoding a response");
    rk_lua_push_value(L, v);
    rk_value_free(v);
    lua_pushvalue(L, -1);
    lua_setfield(L, r, "object"); /* r has no __newindex: a raw set */
    lua_pushvalue(L, r);
    lua_pushnil(L);
    lua_rawset(L, lua_upvalueindex(1));
    return 1;
}

static int lazy_index(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "object") == 0 &&
        lazy_materialize(L, 1))
        return 1;
    lua_pushnil(L);
    return 1;
}

static int lazy_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_next(L, 1))
        return 2;
    lua_pushnil(L);
    return 1;
}

static int lazy_pairs(lua_State *L)
{
    if (lazy_materialize(L, 1))
        lua_pop(L, 1);
    lua_pushcfunction(L, lazy_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* Pushes LAZY_MT, creating it (and its side table) on first use. */
static void push_lazy_mt(lua_State *L)
{
    if (luaL_newmetatable(L, LAZY_MT)) {
        lua_newtable(L); /* the side table */
        lua_newtable(L);
        lua_pushliteral(L, "k");
        lua_setfield(L, -2, "__mode");
        lua_setmetatable(L, -2);
        lua_pushvalue(L, -1);
        lua_pushcclosure(L, lazy_index, 1);
        lua_setfield(L, -3, "__index");
        lua_pushcclosure(L, lazy_pairs, 1);
        lua_setfield(L, -2, "__pairs");
    }
}

/* For the result table on top of the stack: checks that the answer is JSON and keeps it
 * for lazy decoding (an empty answer is object = true at once, as push_json does). Also
 * sets namespace from the answer's metadata, which apply_all reports without decoding. */
int rk_lk_set_lazy_object(lua_State *L, rk_kube *k, const rk_kube_prepared *p,
                          const rk_http_response *resp, rk_kube_error *kerr)
{
    if (!resp->body.len) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "object");
        return 0;
    }
    rk_value *v = decode_answer(k, p, resp, kerr);
    if (!v)
        return -1;
    if (v->type != RK_MAP) {
        /* Not an object (a bare string or number): nothing to gain, decode now. */
        rk_lua_push_value(L, v);
        rk_value_free(v);
        lua_setfield(L, -2, "object");
        return 0;
    }
    const rk_value *ns = rk_map_get_cstr(rk_map_get_cstr(v, "metadata"), "namespace");
    if (ns && ns->type == RK_STRING) {
        lua_pushlstring(L, ns->as.str.ptr, ns->as.str.len);
        lua_setfield(L, -2, "namespace");
    }
    rk_value_free(v);
    push_lazy_mt(L);
    lua_getfield(L, -1, "__index");
    lua_getupvalue(L, -1, 1); /* the side table */
    lua_pushvalue(L, -4);     /* the result */
    lua_pushlstring(L, resp->body.data, resp->body.len);
    lua_rawset(L, -3);
    lua_pop(L, 2);
    lua_setmetatable(L, -2);
    return 0;
}

/* call_many(specs, concurrency) -> {{ok = true, object = ..., status = 201} |
 *                                   {ok = false, error = err, status = 409}}, in order.
 * `object` is decoded on first access (see above); successful results of namespaced
 * objects also carry the answer's namespace. Errors are turned into Lua values as they
 * are found, and each answer is freed once converted. */
/* Specs are prepared, sent and converted WINDOW_PER_CONN * concurrency at a time (at
 * least WINDOW_MIN), so that request bodies, paths, transfer state and raw answers (about
 * 4 kB of C heap per object) are held for one window rather than for the whole list. The
 * windows are large enough that their tails (the few ms in which fewer than
 * `concurrency` requests are in flight) do not show in the total time. */
#define WINDOW_PER_CONN 8
#define WINDOW_MIN      64

static int client_call_many(lua_State *L)
{
    lclient *c = rk_lk_check_client(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer conc = luaL_optinteger(L, 3, 16);
    size_t concurrency = (size_t)(conc > 0 ? conc : 16);
    size_t n = (size_t)lua_rawlen(L, 2);
    size_t window = concurrency * WINDOW_PER_CONN;
    if (window < WINDOW_MIN)
        window = WINDOW_MIN;
    if (window > n)
        window = n ? n : 1;
    lua_settop(L, 2);
    lua_createtable(L, (int)n, 0); /* 3: results */
    built *bs = calloc(window, sizeof *bs);
    rk_kube_prepared *ps = calloc(window, sizeof *ps);
    rk_http_response *resps = calloc(window, sizeof *resps);
    rk_status *sts = calloc(window, sizeof *sts);
    size_t *slot = calloc(window, sizeof *slot); /* prepared index -> spec index */
    if (!bs || !ps || !resps || !sts || !slot) {
        free(bs), free(ps), free(resps), free(sts), free(slot);
        return luaL_error(L, "out of memory");
    }
    rk_kube_error kerr;
    rk_status st = RK_OK;
    for (size_t lo = 0; lo < n && st == RK_OK; lo += window) {
        size_t hi = lo + window < n ? lo + window : n;
        lua_createtable(L, (int)(hi - lo),
                        0); /* 4: the specs being sent, kept so their strings live */
        size_t np = 0;
        for (size_t i = lo; i < hi; i++) {
            int failed = 0;
            if (lua_rawgeti(L, 2, (lua_Integer)i + 1) != LUA_TTABLE) {
                memset(&kerr, 0, sizeof kerr);
                snprintf(kerr.reason, sizeof kerr.reason, "BadRequest");
                snprintf(kerr.message, sizeof kerr.message, "item %zu is not a table", i + 1);
                kerr.exit_code = RK_EXIT_FAILED;
                failed = 1;
            } else if (rk_lk_build_call(L, 5, &bs[np], &kerr) != 0) {
                failed = 1;
            } else if (rk_kube_prepare(c->k, &bs[np].call, &ps[np], &kerr) != RK_OK) {
                rk_buf_free(&bs[np].body);
                failed = 1;
            }
            if (failed) {
                lua_pop(L, 1);
                lua_createtable(L, 0, 3);
                lua_pushboolean(L, 0);
                lua_setfield(L, -2, "ok");
                rk_lk_push_kube_error(L, &kerr);
                lua_setfield(L, -2, "error");
                lua_rawseti(L, 3, (lua_Integer)i + 1);
                continue;
            }
            lua_rawseti(L, 4, (lua_Integer)np + 1);
            slot[np++] = i;
        }
        st = rk_kube_send_many(c->k, ps, resps, sts, np, concurrency, &kerr);
        for (size_t j = 0; j < np; j++) {
            if (st == RK_OK) {
                lua_createtable(L, 0, 3);
                int ok = sts[j] == RK_OK;
                rk_kube_error e;
                if (!ok)
                    rk_kube_describe_failure(c->k, &ps[j], &resps[j], &e);
                else if (rk_lk_set_lazy_object(L, c->k, &ps[j], &resps[j], &e) != 0)
                    ok = 0;
                lua_pushboolean(L, ok);
                lua_setfield(L, -2, "ok");
                lua_pushinteger(L, resps[j].status);
                lua_setfield(L, -2, "status");
                if (!ok) {
                    rk_lk_push_kube_error(L, &e);
                    lua_setfield(L, -2, "error");
                }
                lua_rawseti(L, 3, (lua_Integer)slot[j] + 1);
            }
            rk_http_response_free(&resps[j]);
            rk_kube_prepared_free(&ps[j]);
            rk_buf_free(&bs[j].body);
        }
        lua_settop(L, 3);
    }
    free(bs), free(ps), free(resps), free(sts), free(slot);
    if (st != RK_OK)
        return rk_lk_fail_kube(L, &kerr);
    lua_settop(L, 3);
    return 1;
}

/* list_all(spec): every page of a list, merged into the first page's List object. */
static int client_list_all(lua_State *L)
{
    lclient *c = rk_lk_check_client(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    built b;
    rk_kube_error kerr;
    if (rk_lk_build_call(L, 2, &b, &kerr) != 0)
        return rk_lk_fail_kube(L, &kerr);
    b.call.verb = RK_VERB_LIST;
    if (b.call.q.limit <= 0)
        b.call.q.limit = 500;
    char *cont = NULL;
    int have = 0; /* 3: the list; 4: its items */
    lua_Integer count = 0;
    for (;;) {
        b.call.q.continue_token = cont;
        rk_kube_prepared p;
        rk_http_response resp;
        rk_status st = rk_kube_prepare(c->k, &b.call, &p, &kerr);
        if (st == RK_OK) {
            st = rk_kube_send(c->k, &p, &resp, &kerr);
            rk_kube_prepared_free(&p);
            if (st == RK_OK && push_json(L, c->k, &p, &resp, &kerr) != 0)
                st = RK_ERR_PARSE;
            rk_http_response_free(&resp);
        }
        char *prev = cont; /* the token this page was asked with */
        cont = NULL;
        b.call.q.continue_token = NULL;
        if (st != RK_OK) {
            free(prev);
            rk_buf_free(&b.body);
            return rk_lk_fail_kube(L, &kerr);
        }
        int page = lua_gettop(L);
        if (lua_type(L, page) != LUA_TTABLE) {
            free(prev);
            rk_buf_free(&b.body);
            return fail_msg(L, "InvalidResponse", RK_EXIT_FAILED,
                            "a list answer that is "
                            "not an object");
        }
        if (lua_getfield(L, page, "metadata") == LUA_TTABLE) {
            const char *ct = rk_lk_opt_field(L, -1, "continue");
            if (ct && *ct) {
                /* A server that hands out the token it was given would page forever. */
                if (prev && strcmp(ct, prev) == 0) {
                    free(prev);
                    rk_buf_free(&b.body);
                    return fail_msg(L, "InvalidResponse", RK_EXIT_FAILED,
                                    "list: the server answered a page with the same continue "
                                    "token it was asked for; stopping instead of paging forever");
                }
                cont = strdup(ct);
            }
            if (!have) {
                lua_pushnil(L);
                lua_setfield(L, -2, "continue");
            }
        }
        lua_pop(L, 1);
        free(prev);
        int items_type = lua_getfield(L, page, "items");
        lua_pop(L, 1);
        if (items_type != LUA_TTABLE && items_type != LUA_TNIL &&
            !(items_type == LUA_TLIGHTUSERDATA || items_type == LUA_TUSERDATA)) {
            free(cont);
            rk_buf_free(&b.body);
            return fail_msg(L, "InvalidResponse", RK_EXIT_FAILED,
                            "list: the server's answer has \"items\" that are not a list");
        }
        if (!have) {
            have = 1;
            if (lua_getfield(L, 3, "items") != LUA_TTABLE) {
                lua_pop(L, 1);
                lua_newtable(L);
                rk_lua_mark_array(L, -1);
                lua_pushvalue(L, -1);
                lua_setfield(L, 3, "items");
            }
            count = (lua_Integer)lua_rawlen(L, 4);
        } else {
            if (lua_getfield(L, page, "items") == LUA_TTABLE) {
                lua_Integer m = (lua_Integer)lua_rawlen(L, -1);
                for (lua_Integer i = 1; i <= m; i++) {
                    lua_rawgeti(L, -1, i);
                    lua_rawseti(L, 4, ++count);
                }
            }
            lua_pop(L, 2); /* the page's items and the page */
        }
        if (!cont)
            break;
    }
    rk_buf_free(&b.body);
    /* List items carry no apiVersion/kind; callers that re-apply them need both. */
    const char *av = rk_lk_opt_field(L, 3, "apiVersion");
    const char *lk = rk_lk_opt_field(L, 3, "kind");
    if (av && lk) {
        size_t kl = strlen(lk);
        lua_pushstring(L, av);
        if (kl > 4 && strcmp(lk + kl - 4, "List") == 0)
            lua_pushlstring(L, lk, kl - 4);
        else
            lua_pushstring(L, b.call.kind ? b.call.kind : lk);
        for (lua_Integer i = 1; i <= count; i++) {
            if (lua_rawgeti(L, 4, i) == LUA_TTABLE) {
                lua_pushliteral(L, "kind");
                if (lua_rawget(L, -2) == LUA_TNIL) {
                    lua_pushvalue(L, -4);
                    lua_setfield(L, -3, "apiVersion");
                    lua_pushvalue(L, -3);
                    lua_setfield(L, -3, "kind");
                }
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 2);
    }
    lua_settop(L, 3);
    return 1;
}

static int client_resolve(lua_State *L)
{
    lclient *c = rk_lk_check_client(L, 1);
    const char *av = luaL_checkstring(L, 2), *kind = luaL_checkstring(L, 3);
    const rk_kube_resource *r;
    rk_kube_error kerr;
    if (rk_kube_resolve(c->k, av, kind, &r, &kerr) != RK_OK)
        return rk_lk_fail_kube(L, &kerr);
    lua_createtable(L, 0, 5);
    rk_lk_set_str(L, "group", r->group);
    rk_lk_set_str(L, "version", r->version);
    rk_lk_set_str(L, "kind", r->kind);
    rk_lk_set_str(L, "plural", r->plural);
    lua_pushboolean(L, r->namespaced);
    lua_setfield(L, -2, "namespaced");
    return 1;
}

/* ---- watch sets ------------------------------------------------------------------------ */

const luaL_Reg rk_lk_call_methods[] = {{"call", client_call},
                                       {"call_many", client_call_many},
                                       {"list_all", client_list_all},
                                       {"resolve", client_resolve},
                                       {NULL, NULL}};
