/* The C modules the Lua host registers in package.preload.
 * Each luaopen_* follows the Lua convention: push the module table, return 1. */
#ifndef RK_LUA_MODULES_H
#define RK_LUA_MODULES_H
#include <lua.h>

int luaopen_rigelk8s(lua_State *L);      /* null, array, is_array, version */
int luaopen_rigelk8s_yaml(lua_State *L); /* load, load_file, dump, dump_all */
int luaopen_rigelk8s_json(lua_State *L); /* encode, decode */

#endif
