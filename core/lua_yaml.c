/* Module "rigelk8s.yaml": the Lua face of yaml_doc.c.
 *
 *   yaml.load(str [, opts])        -> first document, or nil when there is none
 *   yaml.load(str, {all = true})   -> array-marked list of documents (maybe empty)
 *   yaml.load_file(path [, opts])  -> same, reading path (opts.filename defaults to it)
 *   yaml.dump(value)               -> string
 *   yaml.dump_all(list)            -> string, "---" between documents
 *   yaml.path_join(prefix, key)    -> the position path of a child (see below)
 *   yaml.null, yaml.array          -> the shared null sentinel and array constructor
 *
 * opts: filename (for messages), all, positions, keep_null_docs, max_alias_nodes,
 * scalars = "kubectl" (the default: manifests) | "pyyaml" (PyYAML's YAML 1.1 rules, for
 * Rigelfiles, which Rigel reads with PyYAML: a bare y is the string "y").
 * With positions = true, load also returns a table that maps a path to
 * {line = L, column = C} for the document itself (""), every map value, every list item,
 * and every map key (path .. "#key"). Paths join keys with "." and list indexes as
 * "[0]" (0-based): "jobs.deploy.with.volumes[0].size". A key that is empty or contains
 * one of . [ ] # " \ is written as ["key"] with " and \ escaped. With all = true the
 * second result is a list of such tables, one per document.
 * Errors are raised as strings "FILE:LINE:COL: message". */
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "buf.h"
#include "lua_modules.h"
#include "lua_value.h"
#include "yaml_doc.h"

static int raise_error(lua_State *L, const rk_error *err)
{
    lua_pushstring(L, err->msg);
    return lua_error(L);
}

/* ---- positions ------------------------------------------------------------------- */

static int key_needs_brackets(const char *k, size_t n)
{
    if (n == 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (strchr(".[]#\"\\", k[i]) && k[i] != '\0')
            return 1;
    return 0;
}

static void path_append_key(rk_buf *b, const char *k, size_t n)
{
    if (key_needs_brackets(k, n)) {
        rk_buf_append(b, "[\"", 2);
        for (size_t i = 0; i < n; i++) {
            if (k[i] == '"' || k[i] == '\\')
                rk_buf_putc(b, '\\');
            rk_buf_putc(b, k[i]);
        }
        rk_buf_append(b, "\"]", 2);
        return;
    }
    if (b->len)
        rk_buf_putc(b, '.');
    rk_buf_append(b, k, n);
}

static void set_position(lua_State *L, int tbl, const rk_buf *path, uint32_t line, uint32_t col)
{
    if (!line)
        return;
    lua_pushlstring(L, path->len ? path->data : "", path->len);
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)line);
    lua_setfield(L, -2, "line");
    lua_pushinteger(L, (lua_Integer)col);
    lua_setfield(L, -2, "column");
    lua_rawset(L, tbl);
}

static void walk_positions(lua_State *L, int tbl, const rk_value *v, rk_buf *path)
{
    set_position(L, tbl, path, v->line, v->col);
    size_t mark = path->len;
    if (v->type == RK_MAP) {
        for (size_t i = 0; i < v->as.map.len; i++) {
            const rk_member *m = &v->as.map.items[i];
            path_append_key(path, m->key, m->key_len);
            size_t keyed = path->len;
            rk_buf_append(path, "#key", 4);
            set_position(L, tbl, path, m->key_line, m->key_col);
            path->len = keyed;
            walk_positions(L, tbl, m->value, path);
            path->len = mark;
        }
    } else if (v->type == RK_SEQ) {
        for (size_t i = 0; i < v->as.seq.len; i++) {
            rk_buf_printf(path, "[%zu]", i);
            walk_positions(L, tbl, v->as.seq.items[i], path);
            path->len = mark;
        }
    }
    if (path->data)
        path->data[path->len] = '\0';
}

static void push_positions(lua_State *L, const rk_value *doc)
{
    lua_newtable(L);
    int tbl = lua_gettop(L);
    rk_buf path = RK_BUF_INIT;
    walk_positions(L, tbl, doc, &path);
    int failed = path.failed;
    rk_buf_free(&path);
    if (failed)
        luaL_error(L, "out of memory while recording YAML positions");
}

/* ---- load ------------------------------------------------------------------------ */

typedef struct {
    int all, positions;
    rk_yaml_opts yo;
    const char *filename;
} load_opts;

static int opt_bool(lua_State *L, int opts, const char *name)
{
    lua_getfield(L, opts, name);
    int b = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return b;
}

static int pyyaml_resolver_gc(lua_State *L)
{
    rk_pyyaml_resolver *res = luaL_checkudata(L, 1, "rigelk8s.yaml.pyyaml");
    rk_pyyaml_resolver_free(res);
    return 0;
}

/* The compiled PyYAML patterns, made once per Lua state and kept in its registry. */
static const rk_pyyaml_resolver *pyyaml_resolver(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, "rigelk8s.yaml.pyyaml.resolver") == LUA_TUSERDATA) {
        const rk_pyyaml_resolver *res = lua_touserdata(L, -1);
        lua_pop(L, 1);
        return res;
    }
    lua_pop(L, 1);
    rk_pyyaml_resolver *res = lua_newuserdatauv(L, sizeof *res, 0);
    if (rk_pyyaml_resolver_init(res) != RK_OK)
        luaL_error(L, "out of memory compiling the PyYAML scalar patterns");
    if (luaL_newmetatable(L, "rigelk8s.yaml.pyyaml")) {
        lua_pushcfunction(L, pyyaml_resolver_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, "rigelk8s.yaml.pyyaml.resolver");
    return res;
}

static void read_opts(lua_State *L, int idx, load_opts *o)
{
    memset(o, 0, sizeof *o);
    if (lua_isnoneornil(L, idx))
        return;
    luaL_checktype(L, idx, LUA_TTABLE);
    o->all = opt_bool(L, idx, "all");
    o->positions = opt_bool(L, idx, "positions");
    o->yo.keep_null_docs = opt_bool(L, idx, "keep_null_docs");
    lua_getfield(L, idx, "max_alias_nodes");
    if (!lua_isnil(L, -1)) {
        lua_Integer n = luaL_checkinteger(L, -1);
        if (n < 1)
            luaL_error(L, "max_alias_nodes must be positive");
        o->yo.max_alias_nodes = (size_t)n;
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "filename");
    if (!lua_isnil(L, -1))
        o->filename = luaL_checkstring(L, -1); /* stays referenced by the opts table */
    lua_pop(L, 1);
    lua_getfield(L, idx, "scalars");
    if (!lua_isnil(L, -1)) {
        const char *mode = luaL_checkstring(L, -1);
        if (strcmp(mode, "pyyaml") == 0)
            o->yo.pyyaml = pyyaml_resolver(L);
        else if (strcmp(mode, "kubectl") != 0)
            luaL_error(L, "scalars must be \"kubectl\" or \"pyyaml\", not \"%s\"", mode);
    }
    lua_pop(L, 1);
}

/* Loads buf and pushes the results. A C-owned tree must not leak if Lua raises while
 * pushing, so it is parked in a userdata whose __gc frees it. */
typedef struct {
    rk_value *docs;
} tree_box;

static int tree_box_gc(lua_State *L)
{
    tree_box *box = lua_touserdata(L, 1);
    rk_value_free(box->docs);
    box->docs = NULL;
    return 0;
}

static tree_box *push_tree_box(lua_State *L)
{
    tree_box *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->docs = NULL;
    if (luaL_newmetatable(L, "rigelk8s.yaml.tree")) {
        lua_pushcfunction(L, tree_box_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return box;
}

static int load_and_push(lua_State *L, const char *buf, size_t len, const load_opts *o)
{
    tree_box *box = push_tree_box(L);
    int box_idx = lua_gettop(L);
    rk_error err;
    if (rk_yaml_load(buf, len, o->filename, &o->yo, &box->docs, &err) != RK_OK)
        return raise_error(L, &err);
    const rk_value *docs = box->docs;
    size_t n = docs->as.seq.len;
    if (o->all) {
        rk_lua_push_value(L, docs);
    } else if (n > 0) {
        rk_lua_push_value(L, docs->as.seq.items[0]);
    } else {
        lua_pushnil(L);
    }
    if (!o->positions) {
        rk_value_free(box->docs);
        box->docs = NULL;
        return 1;
    }
    if (o->all) {
        lua_createtable(L, n > 0x7fffffff ? 0x7fffffff : (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            push_positions(L, docs->as.seq.items[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        rk_lua_mark_array(L, -1);
    } else if (n > 0) {
        push_positions(L, docs->as.seq.items[0]);
    } else {
        lua_newtable(L);
    }
    rk_value_free(box->docs);
    box->docs = NULL;
    (void)box_idx;
    return 2;
}

static int l_load(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    load_opts o;
    read_opts(L, 2, &o);
    return load_and_push(L, s, len, &o);
}

static int l_load_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    load_opts o;
    read_opts(L, 2, &o);
    if (!o.filename)
        o.filename = path;
    FILE *f = fopen(path, "rb");
    if (!f)
        return luaL_error(L, "%s: %s", path, strerror(errno));
    luaL_Buffer lb;
    luaL_buffinit(L, &lb);
    for (;;) {
        char *p = luaL_prepbuffsize(&lb, 65536);
        size_t got = fread(p, 1, 65536, f);
        luaL_addsize(&lb, got);
        if (got < 65536)
            break;
    }
    int bad = ferror(f);
    int e = errno;
    fclose(f);
    if (bad)
        return luaL_error(L, "%s: %s", path, strerror(e));
    luaL_pushresult(&lb);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    return load_and_push(L, s, len, &o);
}

/* ---- dump ------------------------------------------------------------------------ */

static int dump_common(lua_State *L, int all)
{
    luaL_checkany(L, 1);
    if (all)
        luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    rk_lua_box *box = rk_lua_push_box(L);
    rk_error err;
    if (rk_lua_to_value(L, 1, &box->tree, &err) != RK_OK)
        return luaL_error(L, "yaml.%s: %s", all ? "dump_all" : "dump", err.msg);
    if (all && box->tree->type == RK_MAP && box->tree->as.map.len == 0) {
        rk_value *empty = rk_seq_new(); /* {} from Lua: an empty list of documents */
        if (!empty)
            return luaL_error(L, "out of memory");
        rk_value_free(box->tree);
        box->tree = empty;
    }
    if (all && box->tree->type != RK_SEQ)
        return luaL_error(L, "yaml.dump_all: dump_all needs a list of documents");
    rk_status st = all ? rk_yaml_dump_all(box->tree, &box->out, &err)
                       : rk_yaml_dump(box->tree, &box->out, &err);
    if (st != RK_OK)
        return luaL_error(L, "yaml.%s: %s", all ? "dump_all" : "dump", err.msg);
    lua_pushlstring(L, box->out.data ? box->out.data : "", box->out.len);
    rk_value_free(box->tree);
    box->tree = NULL;
    rk_buf_free(&box->out);
    return 1;
}

static int l_dump(lua_State *L)
{
    return dump_common(L, 0);
}
static int l_dump_all(lua_State *L)
{
    return dump_common(L, 1);
}

static int l_path_join(lua_State *L)
{
    size_t plen;
    const char *prefix = luaL_optlstring(L, 1, "", &plen);
    rk_buf b = RK_BUF_INIT;
    rk_buf_append(&b, prefix, plen);
    if (lua_type(L, 2) == LUA_TNUMBER) {
        rk_buf_printf(&b, "[%lld]", (long long)luaL_checkinteger(L, 2));
    } else {
        size_t klen;
        const char *key = luaL_checklstring(L, 2, &klen);
        path_append_key(&b, key, klen);
    }
    if (b.failed) {
        rk_buf_free(&b);
        return luaL_error(L, "out of memory");
    }
    lua_pushlstring(L, b.data ? b.data : "", b.len);
    rk_buf_free(&b);
    return 1;
}

int luaopen_rigelk8s_yaml(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"load", l_load},         {"load_file", l_load_file}, {"dump", l_dump},
        {"dump_all", l_dump_all}, {"path_join", l_path_join}, {NULL, NULL},
    };
    luaL_newlib(L, fns);
    luaopen_rigelk8s(L);
    lua_getfield(L, -1, "null");
    lua_setfield(L, -3, "null");
    lua_getfield(L, -1, "array");
    lua_setfield(L, -3, "array");
    lua_pop(L, 1);
    lua_pushstring(L, yaml_get_version_string()); /* the linked libyaml */
    lua_setfield(L, -2, "libyaml_version");
    return 1;
}
