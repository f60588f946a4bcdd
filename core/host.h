/* The Lua host: one lua_State with the standard libraries, the rigelk8s C modules and the
 * Lua library (embedded, or from RIGELK8S_LUA_DIR), tracebacks, exit codes and Ctrl-C.
 *
 * Exit codes: a script that returns normally exits 0 (or the integer it returns); an
 * uncaught error exits 1, or the error's `exit_code` field when it is a table; Ctrl-C
 * exits 130. os.exit(n) is honoured as in the stand-alone lua interpreter. */
#ifndef RK_HOST_H
#define RK_HOST_H

#include <lua.h>

typedef struct rk_host rk_host;

/* Sets up a fresh lua_State as rigelk8s runs Lua: the standard libraries, the C modules
 * and the Lua library (embedded, or from RIGELK8S_LUA_DIR) in package.preload, and a
 * text-only searcher for modules on package.path. A lua_CFunction: call it with
 * lua_pcall. The fuzz targets (tests/fuzz/fuzz_lua.h) use it too. */
int rk_host_open(lua_State *L);

/* Returns NULL only when memory is exhausted. */
rk_host *rk_host_new(void);
void rk_host_free(rk_host *host);

/* Runs the Lua file at path ("-" reads standard input) with `arg` set as lua.c sets it:
 * arg[0] = path, arg[1..argc] = argv[0..argc-1]. Returns the process exit code. */
int rk_host_run_file(rk_host *host, const char *path, int argc, char **argv);

/* Runs the stock workflow scripts/NAME.lua (embedded, or from the script directory when
 * RIGELK8S_LUA_DIR is set). Returns the exit code, or -1 when there is no such script. */
int rk_host_run_script(rk_host *host, const char *name, int argc, char **argv);

/* Whether a stock workflow scripts/NAME.lua exists. */
int rk_host_has_script(const char *name);

/* Non-zero once SIGINT was received; long C waits poll this to stop early. */
int rk_interrupted(void);

#endif
