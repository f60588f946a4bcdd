/* fuzz_lua.h — a Lua state for the fuzz targets that run Lua: set up by the host's own
 * rk_host_open (core/host.c: the C modules and the embedded Lua library in
 * package.preload, so the code under test is the code compiled into the binary), and a call that bounds
 * the run by Lua VM instructions. In the libFuzzer build a line hook also feeds Lua
 * line coverage to libFuzzer, which cannot see into the Lua VM otherwise. */
#ifndef RK_FUZZ_LUA_H
#define RK_FUZZ_LUA_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <string.h>

#include "fuzz.h"
#include "host.h"

#define FUZZ_LUA_HOOK_EVERY 10000

static long fuzz_lua_instructions, fuzz_lua_max_instructions;

#ifdef RK_LIBFUZZER
/* Each (chunk, function, previous line, line) edge bumps a counter in the section
 * libFuzzer reads as extra counters. Chunk names are hashed by content, so the counters
 * mean the same thing in every state. */
#define FUZZ_LUA_COUNTERS 65536
__attribute__((section("__libfuzzer_extra_counters"), used))
static uint8_t fuzz_lua_counters[FUZZ_LUA_COUNTERS];
static uintptr_t fuzz_lua_prev_line;

static void fuzz_lua_line(lua_State *L, lua_Debug *ar)
{
    if (!lua_getinfo(L, "S", ar))
        return;
    uintptr_t here = 14695981039346656037u; /* FNV-1a */
    for (const char *c = ar->source; *c; c++)
        here = (here ^ (unsigned char)*c) * 1099511628211u;
    here = (here + (uintptr_t)ar->linedefined) * 131u + (uintptr_t)ar->currentline;
    uintptr_t edge = (here ^ (fuzz_lua_prev_line >> 1)) * 0x9E3779B97F4A7C15u;
    fuzz_lua_prev_line = here;
    uint8_t *c = &fuzz_lua_counters[(edge >> 40) % FUZZ_LUA_COUNTERS];
    if (*c < 255)
        (*c)++;
}
#define FUZZ_LUA_HOOK_MASK (LUA_MASKCOUNT | LUA_MASKLINE)
#else
#define FUZZ_LUA_HOOK_MASK LUA_MASKCOUNT
#endif

static void fuzz_lua_hook(lua_State *L, lua_Debug *ar)
{
#ifdef RK_LIBFUZZER
    if (ar->event == LUA_HOOKLINE) {
        fuzz_lua_line(L, ar);
        return;
    }
#endif
    (void)L;
    (void)ar;
    fuzz_lua_instructions += FUZZ_LUA_HOOK_EVERY;
    if (fuzz_lua_instructions > fuzz_lua_max_instructions)
        fuzz_fail("the Lua code ran for more than %ld instructions (a hang)",
                  fuzz_lua_max_instructions);
}

/* A fresh state per input: every run frees what it allocates (so LeakSanitizer sees
 * real leaks, and libFuzzer does not scan the heap after every input), and a replayed
 * input behaves exactly as it did when it was found. */
static lua_State *fuzz_lua_new(void)
{
    lua_State *L = luaL_newstate();
    if (!L)
        abort();
    lua_pushcfunction(L, rk_host_open);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK)
        fuzz_fail("cannot set up the Lua state: %s", lua_tostring(L, -1));
    return L;
}

static int fuzz_lua_traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    return 1;
}

/* Runs the chunk `code` with the nargs values on top of the stack as `...`, for at most
 * max_instructions VM instructions (more is reported as a hang). Returns NULL when it
 * ran to the end, else the error message with a traceback (left on the stack). */
static const char *fuzz_lua_call(lua_State *L, const char *code, size_t len, const char *name,
                                 int nargs, long max_instructions)
{
    if (luaL_loadbuffer(L, code, len, name) != LUA_OK)
        fuzz_fail("the harness %s does not compile: %s", name, lua_tostring(L, -1));
    lua_insert(L, -nargs - 1);
    lua_pushcfunction(L, fuzz_lua_traceback);
    lua_insert(L, -nargs - 2);
    int handler = lua_gettop(L) - nargs - 1;
    fuzz_lua_instructions = 0;
    fuzz_lua_max_instructions = max_instructions;
    lua_sethook(L, fuzz_lua_hook, FUZZ_LUA_HOOK_MASK, FUZZ_LUA_HOOK_EVERY);
    int status = lua_pcall(L, nargs, 0, handler);
    lua_sethook(L, NULL, 0, 0);
    if (status == LUA_OK)
        return NULL;
    const char *msg = lua_tostring(L, -1);
    return msg ? msg : "(error object is not a string)";
}

#endif
