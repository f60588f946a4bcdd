/* rollout_internal.h — what rollout.c (workload rules, dispatch), rollout_pod.c (pod rules,
 * pull errors), rollout_events.c and rollout_history.c (history and undo) share: the field
 * reader and the verdict builder of rollout_read.c. Not an API: include rollout.h. */
#ifndef RK_ROLLOUT_INTERNAL_H
#define RK_ROLLOUT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rollout.h"

#if defined(__GNUC__)
#define RK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define RK_PRINTF(a, b)
#endif

/* Getters never fail outright: a field of the wrong type records the first error here
 * and reads as absent, so each rule reads its fields in one go and checks once. */
typedef struct {
    rk_error *err;
    rk_status status;
    const char *kind; /* lower-case, for messages: "deployment" */
    const char *name;
} reader;

static inline int streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static inline int is_empty(const char *s)
{
    return !s || !*s;
}

/* ---- reading objects (rollout_read.c) ---------------------------------------------- */

/* Records "<kind> "<name>": <base>.<path>: expected <want>, got <type>" unless an error is
 * already recorded. */
void rk_ro_type_error(reader *r, const char *base, const char *path, size_t path_len, rk_type want,
                      const rk_value *got);
/* Walks a dotted path ("status.replicas") from node. NULL when absent or null; an
 * intermediate that is not a map is a type error. base names node in messages. */
const rk_value *rk_ro_lookup(reader *r, const rk_value *node, const char *base, const char *path);
const rk_value *rk_ro_get_map(reader *r, const rk_value *node, const char *base, const char *path);
const rk_value *rk_ro_get_seq(reader *r, const rk_value *node, const char *base, const char *path);
const char *rk_ro_get_str(reader *r, const rk_value *node, const char *base, const char *path);
/* Like rk_ro_get_str, but "" for absent, so it can go straight into a message. */
const char *rk_ro_get_text(reader *r, const rk_value *node, const char *base, const char *path);
int rk_ro_get_bool(reader *r, const rk_value *node, const char *base, const char *path);
/* Integers written as 3.0 (Lua floats, some encoders) are integers too. */
int rk_ro_as_integer(const rk_value *v, int64_t *out);
int64_t rk_ro_get_int(reader *r, const rk_value *node, const char *base, const char *path,
                      int64_t dflt);
int rk_ro_has(reader *r, const rk_value *node, const char *path);
/* The items of a *List object or a plain sequence (*items NULL when there are none). */
rk_status rk_ro_list_items(const rk_value *list, const char *what, const rk_value **items,
                           rk_error *err);
/* Finds status.conditions[type == want]. */
const rk_value *rk_ro_find_condition(reader *r, const rk_value *obj, const char *want);
int rk_ro_condition_true(reader *r, const rk_value *cond);

/* ---- building verdicts (rollout_read.c) -------------------------------------------- */

void rk_ro_verdict_init(rk_verdict *v);
/* Free text from the cluster (a container's message): trailing blanks dropped. */
void rk_ro_verdict_text(rk_verdict *v, const char *s);
void rk_ro_verdict_append(rk_verdict *v, const char *fmt, ...) RK_PRINTF(2, 3);
void rk_ro_verdict_reason(rk_verdict *v, const char *reason);
void rk_ro_verdict_set(rk_verdict *v, rk_rollout_state state, const char *reason, const char *fmt,
                       ...) RK_PRINTF(4, 5);
/* Common start of every rule: obj must be a map; reads metadata.name for messages. */
int rk_ro_reader_start(reader *r, const rk_value *obj, const char *kind, rk_verdict *out,
                       rk_error *err);
/* A rule that hit a type error leaves no half-made verdict behind. */
rk_status rk_ro_reader_finish(reader *r, rk_verdict *out);

#endif
