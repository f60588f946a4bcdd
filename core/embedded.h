/* The Lua library (lua/) and stock workflows (scripts/) compiled into the binary.
 * The table is generated at build time by cmake/rk_embed.c and ends with a NULL
 * name. With RK_EMBED_BYTECODE (the default) the chunks are Lua bytecode made by the same
 * liblua5.4 at build time, debug information kept; the host loads them in mode "b" and
 * nothing else in binary form (user scripts and modules are text only). */
#ifndef RK_EMBEDDED_H
#define RK_EMBEDDED_H
#include <stddef.h>

typedef struct {
    const char *name;   /* module name ("rigelk8s.k8s") or script path ("scripts/deploy.lua") */
    const char *path;   /* path relative to lua/ or the repository, for chunk names */
    const char *source; /* NUL-terminated Lua source; NULL for a bytecode-only module */
    size_t len;
    const char *chunk; /* what the host loads: the source, or its bytecode */
    size_t chunk_len;
    int binary; /* chunk is bytecode */
} rk_embedded;

extern const rk_embedded rk_embedded_files[];

#endif
