/* lua_value.h — rk_value trees to Lua values and back, and the conventions every
 * rigelk8s Lua module shares: one null sentinel, one array marker, remembered key order.
 *
 * Conventions (per lua_State, kept in the registry, never in C globals):
 *  - null: one full userdata, registry["rigelk8s.null"], __name "rigelk8s.null",
 *    tostring "null". It is the only Lua value that converts to RK_NULL (besides nil
 *    at the top level and in the holes of a marked array).
 *  - array marker: the metatable registry["rigelk8s.array"]. Decoded sequences carry
 *    it, decoded maps never do, so [] and {} survive a round trip.
 *  - key order: registry["rigelk8s.keyorder"] is a weak-keyed table mapping every
 *    decoded non-empty map to the list of its keys in document order.
 *
 * Lua -> rk_value rules:
 *  - A table with the array marker is a sequence of t[1..rawlen(t)] (nil holes become
 *    null). An unmarked non-empty table whose keys are exactly 1..n is a sequence. An
 *    unmarked empty table is an empty map. Anything else is a map.
 *  - Map keys: the remembered order first (keys still present), then the other keys
 *    sorted: integer keys in numeric order, then string keys bytewise. Integer keys
 *    become decimal strings ({[200] = "ok"} -> "200": ok); an integer key that collides
 *    with a string key ("1" and 1), or a key of any other type, is an error.
 *  - Tables are read raw (metamethods ignored). Cycles, nesting deeper than
 *    RK_MAX_DEPTH, functions, threads and userdata other than null are errors whose
 *    message names the path, e.g. "spec.containers[0].env" (list indexes 0-based). */
#ifndef RK_LUA_VALUE_H
#define RK_LUA_VALUE_H

#include <lua.h>

#include "buf.h"
#include "error.h"
#include "value.h"

#define RK_LUA_NULL     "rigelk8s.null"
#define RK_LUA_ARRAY    "rigelk8s.array"
#define RK_LUA_KEYORDER "rigelk8s.keyorder"

/* Pushes the null sentinel (created on first use). */
void rk_lua_push_null(lua_State *L);
/* 1 if the value at idx is the null sentinel. */
int rk_lua_isnull(lua_State *L, int idx);
/* Pushes the array marker metatable (created on first use). */
void rk_lua_push_array_mt(lua_State *L);
/* Sets the array marker on the table at idx. */
void rk_lua_mark_array(lua_State *L, int idx);
/* 1 if the value at idx is a table that converts to a sequence (marked, or keys 1..n). */
int rk_lua_is_array(lua_State *L, int idx);

/* Pushes v as a fresh Lua value (exactly one value pushed; returns 1). May raise a Lua
 * error when Lua runs out of memory. */
int rk_lua_push_value(lua_State *L, const rk_value *v);

/* Converts the Lua value at idx into a new tree *out owned by the caller. Never raises
 * except on Lua memory errors; on failure *out is NULL and err names the path. */
rk_status rk_lua_to_value(lua_State *L, int idx, rk_value **out, rk_error *err);

/* C memory that must not leak when Lua code raises (conversions can run out of Lua
 * memory, __tostring can error...): a userdata that frees its tree and buffer when
 * collected. Push it, fill it, and leave it on the stack until done. */
typedef struct {
    rk_value *tree;
    rk_buf out;
} rk_lua_box;

rk_lua_box *rk_lua_push_box(lua_State *L);

#endif
