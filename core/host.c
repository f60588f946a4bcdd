#include "host.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <lualib.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "embedded.h"
#include "interrupt.h"
#include "lua_modules.h"

#define RK_EXIT_INTERRUPTED 130

struct rk_host {
    lua_State *L;
};

static volatile sig_atomic_t interrupted_flag = 0;
static lua_State *signal_state = NULL;

int rk_interrupted(void)
{
    return interrupted_flag != 0;
}

static void interrupt_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    lua_newtable(L);
    lua_pushliteral(L, "interrupted");
    lua_setfield(L, -2, "message");
    lua_pushinteger(L, RK_EXIT_INTERRUPTED);
    lua_setfield(L, -2, "exit_code");
    lua_pushliteral(L, "interrupted");
    lua_setfield(L, -2, "reason");
    lua_error(L);
}

/* Like lua.c: the handler only sets a flag and a hook; the hook raises in Lua context.
 * A second Ctrl-C falls back to the default action, so a stuck run can always be killed. */
static void on_sigint(int sig)
{
    interrupted_flag = 1;
    signal(sig, SIG_DFL);
    if (signal_state)
        lua_sethook(signal_state, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* RIGELK8S_LUA_DIR, made absolute so that scripts which change directory still find
 * the library. */
static const char *lua_dir(void)
{
    static char resolved[PATH_MAX];
    const char *d = getenv("RIGELK8S_LUA_DIR");
    if (!d || !*d)
        return NULL;
    return realpath(d, resolved) ? resolved : d;
}

static const rk_embedded *find_embedded(const char *name)
{
    for (const rk_embedded *e = rk_embedded_files; e->name; e++)
        if (strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

/* The only place binary chunks are accepted: the embedded library, compiled at build
 * time by the same liblua5.4 (cmake/rk_embed.c). Everything from disk or stdin is
 * loaded in mode "t". */
static int load_embedded(lua_State *L, const rk_embedded *e, const char *chunkname)
{
    return luaL_loadbufferx(L, e->chunk, e->chunk_len, chunkname, e->binary ? "b" : "t");
}

/* package.preload entry for an embedded Lua module: upvalue 1 is the rk_embedded. */
static int load_embedded_module(lua_State *L)
{
    const rk_embedded *e = lua_touserdata(L, lua_upvalueindex(1));
    char chunkname[256];
    snprintf(chunkname, sizeof chunkname, "@lua/%s", e->path);
    if (load_embedded(L, e, chunkname) != LUA_OK)
        return lua_error(L);
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    return 1;
}

static void prepend_package_path(lua_State *L, const char *dir)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);
}

/* package.preload["rigelk8s.kube"]: dlopens rigelk8s-kube.so (libcurl and the
 * Kubernetes client) on first use, so that commands which never reach a cluster start
 * without loading libcurl. Looked for in $RIGELK8S_LIBDIR, beside the executable (the
 * build tree), in ../lib/rigelk8s relative to it (an installed tree, wherever it was
 * moved or unpacked), then in the directory it was installed to (a lone copied binary). */
#ifndef RK_PLUGIN_DIR
#define RK_PLUGIN_DIR "/usr/local/lib/rigelk8s"
#endif
static int load_kube_plugin(lua_State *L)
{
    char exe[PATH_MAX], candidates[4][PATH_MAX + 64];
    int n = 0;
    const char *libdir = getenv("RIGELK8S_LIBDIR");
    if (libdir && *libdir)
        snprintf(candidates[n++], sizeof candidates[0], "%s/rigelk8s-kube.so", libdir);
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        snprintf(candidates[n++], sizeof candidates[0], "%s/rigelk8s-kube.so", exe);
        snprintf(candidates[n++], sizeof candidates[0], "%s/../lib/rigelk8s/rigelk8s-kube.so", exe);
    }
    snprintf(candidates[n++], sizeof candidates[0], "%s/rigelk8s-kube.so", RK_PLUGIN_DIR);
    const char *why = "not found";
    /* Debian's libcurl pulls in GnuTLS through librtmp, and GnuTLS initialises itself (and
   * p11-kit) in a constructor: ~0.8 MB of resident memory for a library we never call.
   * curl itself uses OpenSSL. An explicit setting by the user is kept, and ours is
   * removed again after loading so that exec plugins and helm do not inherit it. */
    int set_gnutls = getenv("GNUTLS_NO_IMPLICIT_INIT") == NULL;
    if (set_gnutls)
        setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0);
    for (int i = 0; i < n; i++) {
        if (access(candidates[i], R_OK) != 0)
            continue;
        void *handle = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
        if (set_gnutls)
            unsetenv("GNUTLS_NO_IMPLICIT_INIT");
        if (!handle) {
            why = dlerror();
            continue;
        }
        lua_CFunction open = (lua_CFunction)(uintptr_t)dlsym(handle, "luaopen_rigelk8s_kube");
        if (!open)
            return luaL_error(L, "%s: no luaopen_rigelk8s_kube", candidates[i]);
        /* The plugin's waits stop on Ctrl-C by asking us: it never links against the host. */
        void (*set_interrupt)(rk_interrupt_fn) =
            (void (*)(rk_interrupt_fn))(uintptr_t)dlsym(handle, "rk_http_set_interrupt");
        if (!set_interrupt)
            return luaL_error(L,
                              "%s: no rk_http_set_interrupt: a plugin of another rigelk8s "
                              "version; reinstall (make install)",
                              candidates[i]);
        set_interrupt(rk_interrupted);
        lua_pushcfunction(L, open);
        lua_call(L, 0, 1);
        return 1;
    }
    return luaL_error(L,
                      "cannot load the Kubernetes client plugin rigelk8s-kube.so (%s); it is "
                      "installed beside the rigelk8s executable, in ../lib/rigelk8s relative "
                      "to it or in " RK_PLUGIN_DIR "; reinstall (make install), or set "
                      "RIGELK8S_LIBDIR",
                      why);
}

static int script_path_on_disk(const char *name, char *path, size_t size);

/* scripts.load(name) -> the stock script's chunk (from disk with RIGELK8S_LUA_DIR or
 * RIGELK8S_SCRIPT_DIR, else the embedded copy), or nil and a message. */
static int scripts_load(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    char key[256], path[4096];
    snprintf(key, sizeof key, "scripts/%s.lua", name);
    if (!rk_host_has_script(name)) {
        luaL_pushfail(L);
        lua_pushfstring(L, "no stock script '%s'", name);
        return 2;
    }
    int status;
    if (script_path_on_disk(name, path, sizeof path)) {
        status = luaL_loadfilex(L, path, "t");
    } else {
        const rk_embedded *e = find_embedded(key);
        snprintf(path, sizeof path, "@%s", e->path);
        status = load_embedded(L, e, path);
    }
    if (status != LUA_OK) {
        luaL_pushfail(L);
        lua_insert(L, -2);
        return 2;
    }
    return 1;
}

/* scripts.source(name) -> the text of a stock script, or nil and a message. */
static int scripts_source(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    char key[256], path[4096];
    snprintf(key, sizeof key, "scripts/%s.lua", name);
    if (script_path_on_disk(name, path, sizeof path)) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            luaL_pushfail(L);
            lua_pushfstring(L, "%s: %s", path, strerror(errno));
            return 2;
        }
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        size_t got;
        do {
            char *p = luaL_prepbuffer(&b);
            got = fread(p, 1, LUAL_BUFFERSIZE, f);
            luaL_addsize(&b, got);
        } while (got == LUAL_BUFFERSIZE);
        fclose(f);
        luaL_pushresult(&b);
        return 1;
    }
    const rk_embedded *e = find_embedded(key);
    if (!e) {
        luaL_pushfail(L);
        lua_pushfstring(L, "no stock script '%s'", name);
        return 2;
    }
    lua_pushlstring(L, e->source, e->len);
    return 1;
}

/* Appends NAME of NAME.lua to the list on top of the stack. */
static void add_script_name(lua_State *L, const char *file, lua_Integer *n)
{
    size_t len = strlen(file);
    if (len < 5 || strcmp(file + len - 4, ".lua") != 0)
        return;
    lua_pushlstring(L, file, len - 4);
    lua_rawseti(L, -2, ++*n);
}

/* scripts.names() -> the names of the stock scripts, sorted: those on disk with
 * RIGELK8S_SCRIPT_DIR or RIGELK8S_LUA_DIR, else those compiled into the binary. */
static int scripts_names(lua_State *L)
{
    lua_newtable(L);
    lua_Integer n = 0;
    char dir[4096];
    if (script_path_on_disk("", dir, sizeof dir)) {
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        DIR *d = opendir(dir);
        if (!d)
            return luaL_error(L, "%s: %s", dir, strerror(errno));
        for (struct dirent *ent; (ent = readdir(d)) != NULL;)
            add_script_name(L, ent->d_name, &n);
        closedir(d);
    } else {
        for (const rk_embedded *e = rk_embedded_files; e->name; e++)
            if (strncmp(e->name, "scripts/", 8) == 0)
                add_script_name(L, e->name + 8, &n);
    }
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "sort");
    lua_pushvalue(L, -3);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
    return 1;
}

/* package.preload["rigelk8s.scripts"]: the stock scripts, for help, man page and
 * completion generation. */
static int open_scripts(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"load", scripts_load}, {"names", scripts_names}, {"source", scripts_source}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}

/* package.searchers[2] in text mode: a module found on package.path (the script's own
 * directory, RIGELK8S_LUA_DIR) is loaded as Lua's own searcher does, but a precompiled one
 * is refused as a script would be. */
static int search_lua_source(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchpath");
    lua_pushvalue(L, 1);
    lua_getfield(L, -3, "path");
    lua_call(L, 2, 2);
    if (lua_isnil(L, -2))
        return 1; /* the list of places tried */
    const char *filename = lua_tostring(L, -2);
    if (luaL_loadfilex(L, filename, "t") != LUA_OK)
        return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, filename,
                          lua_tostring(L, -1));
    lua_pushvalue(L, -3);
    return 2;
}

int rk_host_open(lua_State *L)
{
    luaL_openlibs(L);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchers");
    lua_pushcfunction(L, search_lua_source);
    lua_rawseti(L, -2, 2);
    lua_pop(L, 2);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    static const luaL_Reg c_modules[] = {
        {"rigelk8s", luaopen_rigelk8s},
        {"rigelk8s.yaml", luaopen_rigelk8s_yaml},
        {"rigelk8s.json", luaopen_rigelk8s_json},
        {"rigelk8s.sys", luaopen_rigelk8s_sys},
        {"rigelk8s.kube", load_kube_plugin},
        {"rigelk8s.rollout_core", luaopen_rigelk8s_rollout_core},
        {"rigelk8s.xmlrpc", luaopen_rigelk8s_xmlrpc},
        {"rigelk8s.regex", luaopen_rigelk8s_regex},
        {"rigelk8s.diff_core", luaopen_rigelk8s_diff_core},
        {"rigelk8s.scripts", open_scripts},
        {NULL, NULL},
    };
    for (const luaL_Reg *m = c_modules; m->name; m++) {
        lua_pushcfunction(L, m->func);
        lua_setfield(L, -2, m->name);
    }
    const char *dir = lua_dir();
    if (dir) {
        prepend_package_path(L, dir);
    } else {
        for (const rk_embedded *e = rk_embedded_files; e->name; e++) {
            if (strncmp(e->name, "scripts/", 8) == 0)
                continue;
            lua_pushlightuserdata(L, (void *)e);
            lua_pushcclosure(L, load_embedded_module, 1);
            lua_setfield(L, -2, e->name);
        }
    }
    lua_pop(L, 1);
    return 0;
}

rk_host *rk_host_new(void)
{
    rk_host *host = calloc(1, sizeof *host);
    if (!host)
        return NULL;
    host->L = luaL_newstate();
    if (!host->L) {
        free(host);
        return NULL;
    }
    lua_pushcfunction(host->L, rk_host_open);
    if (lua_pcall(host->L, 0, 0, 0) != LUA_OK) {
        fprintf(stderr, "rigelk8s: cannot start Lua: %s\n", lua_tostring(host->L, -1));
        lua_close(host->L);
        free(host);
        return NULL;
    }
    return host;
}

void rk_host_free(rk_host *host)
{
    if (!host)
        return;
    if (signal_state == host->L)
        signal_state = NULL;
    lua_close(host->L);
    free(host);
}

/* Message handler: keeps structured (table) errors as they are, so the exit code and
 * diagnosis survive, and records a traceback beside them in the registry. */
static int message_handler(lua_State *L)
{
    luaL_traceback(L, L, NULL, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "rigelk8s.traceback");
    if (lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TTABLE)
        return 1;
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
        return 1;
    lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    return 1;
}

/* Prints the error at the top of the stack and returns its exit code. */
static int report_error(lua_State *L)
{
    int code = 1;
    int structured = 0;
    if (lua_type(L, -1) == LUA_TTABLE) {
        lua_getfield(L, -1, "exit_code");
        if (lua_isinteger(L, -1)) {
            code = (int)lua_tointeger(L, -1);
            structured = 1;
        }
        lua_pop(L, 1);
    }
    if (interrupted_flag)
        code = RK_EXIT_INTERRUPTED;
    const char *msg = luaL_tolstring(L, -1, NULL);
    if (lua_type(L, -2) == LUA_TTABLE && !luaL_getmetafield(L, -2, "__tostring")) {
        lua_getfield(L, -2, "message");
        /* error({}) says nothing; "table: 0x55d8..." would say even less. */
        msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                             : "(error object is a table without a message)";
    }
    fprintf(stderr, "rigelk8s: %s\n", msg);
    /* Structured errors are diagnoses meant for users; a traceback would be noise. */
    if (!structured) {
        lua_getfield(L, LUA_REGISTRYINDEX, "rigelk8s.traceback");
        if (lua_type(L, -1) == LUA_TSTRING)
            fprintf(stderr, "%s\n", lua_tostring(L, -1));
    }
    fflush(stderr);
    return code;
}

static void set_arg_table(lua_State *L, const char *script, int argc, char **argv)
{
    lua_createtable(L, argc, 2);
    lua_pushliteral(L, "rigelk8s");
    lua_rawseti(L, -2, -1);
    lua_pushstring(L, script);
    lua_rawseti(L, -2, 0);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setglobal(L, "arg");
}

/* Calls the chunk on top of the stack with argv as `...`; returns the exit code. */
static int call_chunk(lua_State *L, int argc, char **argv)
{
    int base = lua_gettop(L);
    lua_pushcfunction(L, message_handler);
    lua_insert(L, base);
    luaL_checkstack(L, argc, "too many arguments");
    for (int i = 0; i < argc; i++)
        lua_pushstring(L, argv[i]);
    signal_state = L;
    interrupted_flag = 0;
    signal(SIGINT, on_sigint);
    int status = lua_pcall(L, argc, 1, base);
    signal(SIGINT, SIG_DFL);
    signal_state = NULL;
    int code = 0;
    if (status != LUA_OK) {
        code = report_error(L);
    } else if (lua_isinteger(L, -1)) {
        code = (int)lua_tointeger(L, -1);
    } else if (lua_isboolean(L, -1)) {
        code = lua_toboolean(L, -1) ? 0 : 1;
    }
    fflush(stdout);
    lua_settop(L, base - 1);
    return code;
}

/* A script that cannot be loaded: syntax errors already name FILE:LINE; other load
 * errors (bytecode refused, unreadable file) get the file name in front. */
static int load_failed(lua_State *L, const char *path)
{
    const char *msg = lua_tostring(L, -1);
    const char *hint = strstr(msg, "binary chunk")
                           ? "; rigelk8s runs Lua source only (bytecode is not verified and can "
                             "crash it): give it the .lua file the bytecode was compiled from"
                           : "";
    if (strncmp(msg, path, strlen(path)) == 0 || strstr(msg, path))
        fprintf(stderr, "rigelk8s: %s%s\n", msg, hint);
    else
        fprintf(stderr, "rigelk8s: %s: %s%s\n", path, msg, hint);
    lua_pop(L, 1);
    return 1;
}

static void add_script_dir_to_path(lua_State *L, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        prepend_package_path(L, ".");
        return;
    }
    lua_pushlstring(L, path, (size_t)(slash - path) + (slash == path));
    prepend_package_path(L, lua_tostring(L, -1));
    lua_pop(L, 1);
}

int rk_host_run_file(rk_host *host, const char *path, int argc, char **argv)
{
    lua_State *L = host->L;
    int stdin_script = strcmp(path, "-") == 0;
    set_arg_table(L, path, argc, argv);
    if (!stdin_script)
        add_script_dir_to_path(L, path);
    /* Text only: precompiled bytecode is not verified by Lua and can crash the VM. */
    if (luaL_loadfilex(L, stdin_script ? NULL : path, "t") != LUA_OK)
        return load_failed(L, stdin_script ? "stdin" : path);
    return call_chunk(L, argc, argv);
}

static const char *script_dir(void)
{
    const char *d = getenv("RIGELK8S_SCRIPT_DIR");
    return (d && *d) ? d : NULL;
}

/* With RIGELK8S_LUA_DIR or RIGELK8S_SCRIPT_DIR set, stock scripts come from disk:
 * writes the path and returns 1; returns 0 when the embedded copy is to be used. */
static int script_path_on_disk(const char *name, char *path, size_t size)
{
    int n;
    if (script_dir())
        n = snprintf(path, size, "%s/%s.lua", script_dir(), name);
    else if (lua_dir())
        n = snprintf(path, size, "%s/../scripts/%s.lua", lua_dir(), name);
    else
        return 0;
    return n > 0 && (size_t)n < size;
}

int rk_host_has_script(const char *name)
{
    char path[4096];
    if (script_path_on_disk(name, path, sizeof path)) {
        FILE *f = fopen(path, "r");
        if (f)
            fclose(f);
        return f != NULL;
    }
    snprintf(path, sizeof path, "scripts/%s.lua", name);
    return find_embedded(path) != NULL;
}

int rk_host_run_script(rk_host *host, const char *name, int argc, char **argv)
{
    lua_State *L = host->L;
    char key[256], path[4096];
    snprintf(key, sizeof key, "scripts/%s.lua", name);
    if (!rk_host_has_script(name))
        return -1;
    set_arg_table(L, key, argc, argv);
    if (script_path_on_disk(name, path, sizeof path)) {
        if (luaL_loadfilex(L, path, "t") != LUA_OK)
            return load_failed(L, path);
    } else {
        const rk_embedded *e = find_embedded(key);
        snprintf(path, sizeof path, "@%s", e->path);
        if (load_embedded(L, e, path) != LUA_OK)
            return load_failed(L, e->path);
    }
    return call_chunk(L, argc, argv);
}
