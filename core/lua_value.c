#include "lua_value.h"

#include <inttypes.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "lua_modules.h"
#include "version.h"

#ifndef RK_VERSION
#define RK_VERSION "0.0.0-dev"
#endif

/* ------------------------------------------------------------------------------------
 * Shared conventions
 * ---------------------------------------------------------------------------------- */

static int null_tostring(lua_State *L)
{
    lua_pushliteral(L, "null");
    return 1;
}

void rk_lua_push_null(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, RK_LUA_NULL) != LUA_TNIL)
        return;
    lua_pop(L, 1);
    lua_newuserdatauv(L, 0, 0);
    lua_createtable(L, 0, 3);
    lua_pushliteral(L, RK_LUA_NULL);
    lua_setfield(L, -2, "__name");
    lua_pushcfunction(L, null_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, RK_LUA_NULL);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, RK_LUA_NULL);
}

int rk_lua_isnull(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TUSERDATA)
        return 0;
    idx = lua_absindex(L, idx);
    rk_lua_push_null(L);
    int eq = lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    return eq;
}

void rk_lua_push_array_mt(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, RK_LUA_ARRAY) != LUA_TNIL)
        return;
    lua_pop(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, RK_LUA_ARRAY);
    lua_setfield(L, -2, "__name");
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, RK_LUA_ARRAY);
}

void rk_lua_mark_array(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    rk_lua_push_array_mt(L);
    lua_setmetatable(L, idx);
}

static int has_array_mark(lua_State *L, int idx, int array_mt)
{
    if (!lua_getmetatable(L, idx))
        return 0;
    int marked = lua_rawequal(L, -1, array_mt);
    lua_pop(L, 1);
    return marked;
}

/* Pushes the weak-keyed key-order table (created on first use). */
static void push_keyorder(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, RK_LUA_KEYORDER) != LUA_TNIL)
        return;
    lua_pop(L, 1);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, RK_LUA_KEYORDER);
}

/* 1 if the unmarked table at idx has exactly the keys 1..n, n >= 1. */
static int is_sequence_table(lua_State *L, int idx)
{
    lua_Integer count = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1)) {
            lua_pop(L, 1);
            return 0;
        }
        lua_Integer k = lua_tointeger(L, -1);
        if (k < 1) {
            lua_pop(L, 1);
            return 0;
        }
        if (k > max)
            max = k;
        count++;
    }
    return count > 0 && max == count;
}

int rk_lua_is_array(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TTABLE)
        return 0;
    idx = lua_absindex(L, idx);
    rk_lua_push_array_mt(L);
    int marked = has_array_mark(L, idx, lua_gettop(L));
    lua_pop(L, 1);
    return marked || is_sequence_table(L, idx);
}

/* ------------------------------------------------------------------------------------
 * rk_value -> Lua
 * ---------------------------------------------------------------------------------- */

typedef struct {
    lua_State *L;
    int null_idx, array_idx, order_idx;
} pusher;

static void push_rec(pusher *P, const rk_value *v)
{
    lua_State *L = P->L;
    switch (v->type) {
    case RK_NULL: lua_pushvalue(L, P->null_idx); return;
    case RK_BOOL: lua_pushboolean(L, v->as.boolean); return;
    case RK_INT: lua_pushinteger(L, (lua_Integer)v->as.integer); return;
    case RK_FLOAT: lua_pushnumber(L, (lua_Number)v->as.number); return;
    case RK_STRING: lua_pushlstring(L, v->as.str.ptr, v->as.str.len); return;
    case RK_SEQ: {
        if (!lua_checkstack(L, 4))
            luaL_error(L, "Lua stack overflow while converting a value");
        size_t n = v->as.seq.len;
        lua_createtable(L, n > INT32_MAX ? INT32_MAX : (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            push_rec(P, v->as.seq.items[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_pushvalue(L, P->array_idx);
        lua_setmetatable(L, -2);
        return;
    }
    case RK_MAP: {
        if (!lua_checkstack(L, 6))
            luaL_error(L, "Lua stack overflow while converting a value");
        size_t n = v->as.map.len;
        int sz = n > INT32_MAX ? INT32_MAX : (int)n;
        lua_createtable(L, 0, sz);
        int t = lua_gettop(L);
        if (n == 0)
            return;
        lua_createtable(L, sz, 0);
        int order = t + 1;
        for (size_t i = 0; i < n; i++) {
            const rk_member *m = &v->as.map.items[i];
            lua_pushlstring(L, m->key, m->key_len);
            lua_pushvalue(L, -1);
            lua_rawseti(L, order, (lua_Integer)i + 1);
            push_rec(P, m->value);
            lua_rawset(L, t);
        }
        lua_pushvalue(L, t);
        lua_insert(L, order); /* t, t, order */
        lua_rawset(L, P->order_idx);
        return;
    }
    }
    lua_pushnil(L);
}

int rk_lua_push_value(lua_State *L, const rk_value *v)
{
    if (!lua_checkstack(L, 8))
        luaL_error(L, "Lua stack overflow while converting a value");
    rk_lua_push_null(L);
    rk_lua_push_array_mt(L);
    push_keyorder(L);
    pusher P = {L, lua_gettop(L) - 2, lua_gettop(L) - 1, lua_gettop(L)};
    if (v)
        push_rec(&P, v);
    else
        lua_pushnil(L);
    lua_replace(L, P.null_idx);
    lua_pop(L, 2);
    return 1;
}

/* ------------------------------------------------------------------------------------
 * Lua -> rk_value
 * ---------------------------------------------------------------------------------- */

typedef struct {
    const char *key; /* NULL for a list index */
    size_t key_len;
    lua_Integer index; /* 0-based */
} path_seg;

typedef struct {
    lua_State *L;
    rk_error *err;
    int null_idx, array_idx, order_idx;
    path_seg path[RK_MAX_DEPTH + 2];
    const void *tables[RK_MAX_DEPTH + 2];
    int depth;
} converter;

static void format_path(const converter *c, char *out, size_t size)
{
    rk_buf b = RK_BUF_INIT;
    for (int i = 0; i < c->depth; i++) {
        const path_seg *s = &c->path[i];
        if (s->key) {
            if (b.len)
                rk_buf_putc(&b, '.');
            rk_buf_append(&b, s->key, s->key_len > 80 ? 80 : s->key_len);
        } else {
            rk_buf_printf(&b, "[%lld]", (long long)s->index);
        }
    }
    if (b.failed || !b.len)
        snprintf(out, size, "%s", "");
    else if (b.len >= size)
        snprintf(out, size, "...%s", b.data + b.len - (size - 4));
    else
        snprintf(out, size, "%s", b.data);
    rk_buf_free(&b);
}

static rk_status conv_fail(converter *c, rk_status code, const char *what)
{
    char path[300];
    format_path(c, path, sizeof path);
    if (path[0])
        return rk_error_set(c->err, code, "%s at %s", what, path);
    return rk_error_set(c->err, code, "%s", what);
}

static rk_value *conv_rec(converter *c, int idx, rk_status *st);

static rk_value *conv_child(converter *c, int idx, const char *key, size_t key_len,
                            lua_Integer index, rk_status *st)
{
    path_seg *s = &c->path[c->depth];
    s->key = key;
    s->key_len = key_len;
    s->index = index;
    c->depth++;
    rk_value *v = conv_rec(c, idx, st);
    c->depth--;
    return v;
}

typedef struct {
    rk_member m;
    int is_int;
    lua_Integer ikey;
} pending_key;

static int pending_cmp(const void *a, const void *b)
{
    const pending_key *x = a, *y = b;
    if (x->is_int != y->is_int)
        return x->is_int ? -1 : 1;
    if (x->is_int)
        return x->ikey < y->ikey ? -1 : x->ikey > y->ikey;
    size_t n = x->m.key_len < y->m.key_len ? x->m.key_len : y->m.key_len;
    int r = memcmp(x->m.key, y->m.key, n);
    if (r)
        return r;
    return x->m.key_len < y->m.key_len ? -1 : x->m.key_len > y->m.key_len;
}

static rk_status map_push(rk_value *map, char *key, size_t key_len, rk_value *val)
{
    if (map->as.map.len == map->as.map.cap) {
        size_t cap = map->as.map.cap ? map->as.map.cap * 2 : 4;
        rk_member *p = realloc(map->as.map.items, cap * sizeof *p);
        if (!p) {
            free(key);
            rk_value_free(val);
            return RK_ERR_NOMEM;
        }
        map->as.map.items = p;
        map->as.map.cap = cap;
    }
    rk_member *m = &map->as.map.items[map->as.map.len++];
    m->key = key;
    m->key_len = key_len;
    m->key_line = m->key_col = 0;
    m->value = val;
    return RK_OK;
}

static char *copy_key(const char *s, size_t n)
{
    char *k = malloc(n + 1);
    if (k) {
        memcpy(k, s, n);
        k[n] = '\0';
    }
    return k;
}

static rk_value *conv_map(converter *c, int t, lua_Integer total, rk_status *st)
{
    lua_State *L = c->L;
    int base = lua_gettop(L);
    rk_value *map = rk_map_new();
    pending_key *pend = NULL;
    size_t npend = 0, cap_pend = 0;
    rk_keyset seen = {0};
    if (!map)
        goto nomem;

    /* 1. the remembered order */
    lua_pushvalue(L, t);
    if (lua_rawget(L, c->order_idx) == LUA_TTABLE) {
        int order = lua_gettop(L);
        lua_Integer n = (lua_Integer)lua_rawlen(L, order);
        for (lua_Integer i = 1; i <= n; i++) {
            if (lua_rawgeti(L, order, i) != LUA_TSTRING) {
                lua_pop(L, 1);
                continue;
            }
            size_t kn;
            const char *ks = lua_tolstring(L, -1, &kn);
            lua_pushvalue(L, -1);
            if (lua_rawget(L, t) == LUA_TNIL) {
                lua_pop(L, 2);
                continue;
            }
            rk_value *val = conv_child(c, lua_gettop(L), ks, kn, 0, st);
            if (!val)
                goto fail;
            char *k = copy_key(ks, kn);
            lua_pop(L, 2);
            if (!k) {
                rk_value_free(val);
                goto nomem;
            }
            if (map_push(map, k, kn, val) != RK_OK)
                goto nomem;
        }
    }
    lua_settop(L, base);
    if ((lua_Integer)map->as.map.len == total)
        return map;

    /* 2. every other key, sorted */
    for (size_t i = 0; i < map->as.map.len; i++)
        if (rk_keyset_add(&seen, map->as.map.items[i].key, map->as.map.items[i].key_len, 0))
            goto nomem;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        int kt = lua_type(L, -2);
        char ibuf[32];
        const char *ks;
        size_t kn;
        int is_int = 0;
        lua_Integer ikey = 0;
        if (kt == LUA_TSTRING) {
            ks = lua_tolstring(L, -2, &kn);
            if (rk_keyset_find(&seen, ks, kn)) {
                lua_pop(L, 1);
                continue;
            }
        } else if (kt == LUA_TNUMBER && lua_isinteger(L, -2)) {
            is_int = 1;
            ikey = lua_tointeger(L, -2);
            kn = (size_t)snprintf(ibuf, sizeof ibuf, "%lld", (long long)ikey);
            ks = ibuf;
        } else {
            char what[120];
            snprintf(what, sizeof what, "cannot use a %s as a map key (only strings and integers)",
                     kt == LUA_TNUMBER ? "non-integer number" : lua_typename(L, kt));
            *st = conv_fail(c, RK_ERR_INVALID, what);
            goto fail;
        }
        rk_value *val = conv_child(c, lua_gettop(L), ks, kn, 0, st);
        if (!val)
            goto fail;
        lua_pop(L, 1);
        char *k = copy_key(ks, kn);
        if (!k || npend == cap_pend) {
            size_t cap = cap_pend ? cap_pend * 2 : 8;
            pending_key *p = k ? realloc(pend, cap * sizeof *p) : NULL;
            if (!p) {
                free(k);
                rk_value_free(val);
                goto nomem;
            }
            pend = p;
            cap_pend = cap;
        }
        pending_key *pk = &pend[npend++];
        memset(pk, 0, sizeof *pk);
        pk->m.key = k;
        pk->m.key_len = kn;
        pk->m.value = val;
        pk->is_int = is_int;
        pk->ikey = ikey;
    }
    qsort(pend, npend, sizeof *pend, pending_cmp);
    for (size_t i = 0; i < npend; i++) {
        pending_key *pk = &pend[i];
        if (rk_keyset_find(&seen, pk->m.key, pk->m.key_len)) {
            char what[160];
            snprintf(what, sizeof what,
                     "table has both the integer key %s and the string key \"%s\"", pk->m.key,
                     pk->m.key);
            *st = conv_fail(c, RK_ERR_INVALID, what);
            goto fail;
        }
        if (rk_keyset_add(&seen, pk->m.key, pk->m.key_len, 0))
            goto nomem;
    }
    for (size_t i = 0; i < npend; i++) {
        pending_key *pk = &pend[i];
        rk_status s2 = map_push(map, pk->m.key, pk->m.key_len, pk->m.value);
        pk->m.key = NULL;
        pk->m.value = NULL;
        if (s2 != RK_OK)
            goto nomem;
    }
    free(pend);
    rk_keyset_free(&seen);
    lua_settop(L, base);
    return map;

nomem:
    *st = rk_error_set(c->err, RK_ERR_NOMEM, "out of memory while converting a Lua value");
fail:
    for (size_t i = 0; i < npend; i++) {
        free(pend[i].m.key);
        rk_value_free(pend[i].m.value);
    }
    free(pend);
    rk_keyset_free(&seen);
    rk_value_free(map);
    lua_settop(L, base);
    return NULL;
}

static rk_value *conv_table(converter *c, int t, rk_status *st)
{
    lua_State *L = c->L;
    if (c->depth >= RK_MAX_DEPTH) {
        char what[80];
        snprintf(what, sizeof what, "value nested deeper than %d levels", RK_MAX_DEPTH);
        *st = conv_fail(c, RK_ERR_INVALID, what);
        return NULL;
    }
    const void *self = lua_topointer(L, t);
    for (int i = 0; i < c->depth; i++) {
        if (c->tables[i] == self) {
            *st = conv_fail(c, RK_ERR_INVALID, "table contains itself (a cycle)");
            return NULL;
        }
    }
    c->tables[c->depth] = self;
    if (!lua_checkstack(L, 8)) {
        *st = conv_fail(c, RK_ERR_NOMEM, "Lua stack overflow while converting a value");
        return NULL;
    }

    int marked = has_array_mark(L, t, c->array_idx);
    lua_Integer count = 0, max = 0;
    int all_int = 1;
    if (!marked) {
        lua_pushnil(L);
        while (lua_next(L, t)) {
            lua_pop(L, 1);
            count++;
            if (all_int && lua_isinteger(L, -1)) {
                lua_Integer k = lua_tointeger(L, -1);
                if (k < 1)
                    all_int = 0;
                else if (k > max)
                    max = k;
            } else {
                all_int = 0;
            }
        }
    }
    if (!marked && !(count > 0 && all_int && max == count))
        return conv_map(c, t, count, st);

    lua_Integer n = marked ? (lua_Integer)lua_rawlen(L, t) : count;
    rk_value *seq = rk_seq_new();
    if (seq && n > 0) {
        seq->as.seq.items = malloc((size_t)n * sizeof *seq->as.seq.items);
        if (!seq->as.seq.items) {
            free(seq);
            seq = NULL;
        } else {
            seq->as.seq.cap = (size_t)n;
        }
    }
    if (!seq) {
        *st = rk_error_set(c->err, RK_ERR_NOMEM, "out of memory while converting a Lua value");
        return NULL;
    }
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, t, i);
        rk_value *item = conv_child(c, lua_gettop(L), NULL, 0, i - 1, st);
        if (!item) {
            rk_value_free(seq);
            return NULL; /* rk_lua_to_value resets the stack */
        }
        lua_pop(L, 1);
        seq->as.seq.items[seq->as.seq.len++] = item;
    }
    return seq;
}

static rk_value *conv_rec(converter *c, int idx, rk_status *st)
{
    lua_State *L = c->L;
    rk_value *v = NULL;
    switch (lua_type(L, idx)) {
    case LUA_TNIL: v = rk_null_new(); break;
    case LUA_TBOOLEAN: v = rk_bool_new(lua_toboolean(L, idx)); break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            v = rk_int_new((int64_t)lua_tointeger(L, idx));
        else
            v = rk_float_new((double)lua_tonumber(L, idx));
        break;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        v = rk_string_new(s, n);
        break;
    }
    case LUA_TTABLE: return conv_table(c, idx, st);
    case LUA_TUSERDATA:
        if (lua_rawequal(L, idx, c->null_idx)) {
            v = rk_null_new();
            break;
        }
        /* fall through */
    default: {
        char what[120];
        const char *name = NULL;
        if (luaL_getmetafield(L, idx, "__name") == LUA_TSTRING)
            name = lua_tostring(L, -1);
        snprintf(what, sizeof what, "cannot convert a %s%s%s%s", luaL_typename(L, idx),
                 name ? " (" : "", name ? name : "", name ? ")" : "");
        if (name)
            lua_pop(L, 1);
        *st = conv_fail(c, RK_ERR_INVALID, what);
        return NULL;
    }
    }
    if (!v)
        *st = rk_error_set(c->err, RK_ERR_NOMEM, "out of memory while converting a Lua value");
    return v;
}

rk_status rk_lua_to_value(lua_State *L, int idx, rk_value **out, rk_error *err)
{
    *out = NULL;
    idx = lua_absindex(L, idx);
    if (!lua_checkstack(L, 8))
        return rk_error_set(err, RK_ERR_NOMEM, "Lua stack overflow while converting a value");
    converter *c = malloc(sizeof *c);
    if (!c)
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory while converting a Lua value");
    c->L = L;
    c->err = err;
    c->depth = 0;
    int top = lua_gettop(L);
    rk_lua_push_null(L);
    rk_lua_push_array_mt(L);
    push_keyorder(L);
    c->null_idx = top + 1;
    c->array_idx = top + 2;
    c->order_idx = top + 3;
    rk_status st = RK_OK;
    *out = conv_rec(c, idx, &st);
    lua_settop(L, top);
    free(c);
    if (!*out && st == RK_OK)
        st = rk_error_set(err, RK_ERR_INTERNAL, "conversion failed without a reason");
    return *out ? RK_OK : st;
}

/* ------------------------------------------------------------------------------------
 * Module "rigelk8s": the shared values
 * ---------------------------------------------------------------------------------- */

static int l_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    if (lua_getmetatable(L, 1)) {
        rk_lua_push_array_mt(L);
        if (!lua_rawequal(L, -1, -2))
            return luaL_argerror(L, 1, "table already has a metatable");
        lua_pop(L, 2);
    }
    rk_lua_mark_array(L, 1);
    return 1;
}

static int l_is_array(lua_State *L)
{
    lua_pushboolean(L, rk_lua_is_array(L, 1));
    return 1;
}

int luaopen_rigelk8s(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"array", l_array},
        {"is_array", l_is_array},
        {NULL, NULL},
    };
    luaL_newlib(L, fns);
    luaL_setfuncs(L, rk_lua_base64_fns, 0);
    rk_lua_push_null(L);
    lua_setfield(L, -2, "null");
    lua_pushliteral(L, RK_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, rk_git_commit);
    lua_setfield(L, -2, "commit");
    lua_pushliteral(L, LUA_RELEASE); /* Debian's liblua5.4 headers match the linked library */
    lua_setfield(L, -2, "lua_release");
    return 1;
}

static int box_gc(lua_State *L)
{
    rk_lua_box *box = lua_touserdata(L, 1);
    rk_value_free(box->tree);
    rk_buf_free(&box->out);
    box->tree = NULL;
    return 0;
}

rk_lua_box *rk_lua_push_box(lua_State *L)
{
    rk_lua_box *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->tree = NULL;
    rk_buf_init(&box->out);
    if (luaL_newmetatable(L, "rigelk8s.box")) {
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return box;
}
