/* The Lua library (lua/) and stock workflows (scripts/) compiled into the binary.
 * The table is generated at build time by cmake/embed.cmake and ends with a NULL name. */
#ifndef RK_EMBEDDED_H
#define RK_EMBEDDED_H
#include <stddef.h>

typedef struct {
  const char *name;   /* module name ("rigelk8s.k8s") or script path ("scripts/deploy.lua") */
  const char *path;   /* path relative to lua/ or the repository, for chunk names */
  const char *source; /* NUL-terminated Lua source */
  size_t len;
} rk_embedded;

extern const rk_embedded rk_embedded_files[];

#endif
