/* The C modules the Lua host registers in package.preload.
 * Each luaopen_* follows the Lua convention: push the module table, return 1. */
#ifndef RK_LUA_MODULES_H
#define RK_LUA_MODULES_H
#include <lua.h>

int luaopen_rigelk8s(lua_State *L); /* null, array, is_array, version, base64_* */
#include <lauxlib.h>
/* base64_encode, base64_decode (lua_base64.c), set into the rigelk8s table. */
extern const luaL_Reg rk_lua_base64_fns[];
int luaopen_rigelk8s_yaml(lua_State *L); /* load, load_file, dump, dump_all */
int luaopen_rigelk8s_json(lua_State *L); /* encode, decode */
int luaopen_rigelk8s_sys(lua_State *L);  /* clocks, terminals, files, PATH, Ctrl-C */

/* Kubernetes client: connect, calls, watch sets. Lives in the rigelk8s-kube.so plugin,
 * which host.c loads on first use. */
int luaopen_rigelk8s_kube(lua_State *L);

/* Digests (sha256) with OpenSSL's libcrypto; lives in the plugin, as kube.hash. */
int luaopen_rigelk8s_hash(lua_State *L);

int luaopen_rigelk8s_rollout_core(lua_State *L); /* verdicts, event_for, history, undo */
int luaopen_rigelk8s_xmlrpc(lua_State *L);       /* encode_call, decode_response (ROS 1 master) */
int luaopen_rigelk8s_regex(lua_State *L);        /* compile, search, match, sub (PCRE2) */
int luaopen_rigelk8s_diff_core(lua_State *L);    /* unified: line diffs (Myers, diff.c) */

#endif
