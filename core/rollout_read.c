/* Reading fields of Kubernetes objects and building readiness verdicts: the helpers the
 * rollout rules share (rollout_internal.h). */
#include "rollout_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- reading objects ---------------------------------------------------------------- */

static const char *type_article(rk_type t)
{
    switch (t) {
    case RK_INT: return "an integer";
    case RK_MAP: return "a map";
    case RK_SEQ: return "a list";
    case RK_STRING: return "a string";
    case RK_BOOL: return "a boolean";
    default: return rk_type_name(t);
    }
}

void rk_ro_type_error(reader *r, const char *base, const char *path, size_t path_len, rk_type want,
                      const rk_value *got)
{
    if (r->status != RK_OK)
        return;
    r->status = rk_error_set(r->err, RK_ERR_INVALID, "%s \"%s\": %s%s%.*s: expected %s, got %s",
                             r->kind, r->name, base ? base : "", base ? "." : "", (int)path_len,
                             path, type_article(want), rk_type_name(got->type));
}

/* Walks a dotted path ("status.replicas") from node. NULL when absent or null; an
 * intermediate that is not a map is a type error. base names node in messages. */
const rk_value *rk_ro_lookup(reader *r, const rk_value *node, const char *base, const char *path)
{
    const char *p = path;
    while (node) {
        if (node->type != RK_MAP) {
            rk_ro_type_error(r, base, path, p > path ? (size_t)(p - path - 1) : 0, RK_MAP, node);
            return NULL;
        }
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        node = rk_map_get(node, p, n);
        if (!node || node->type == RK_NULL)
            return NULL;
        if (!dot)
            return node;
        p = dot + 1;
    }
    return NULL;
}

static const rk_value *get_typed(reader *r, const rk_value *node, const char *base,
                                 const char *path, rk_type want)
{
    const rk_value *v = rk_ro_lookup(r, node, base, path);
    if (v && v->type != want) {
        rk_ro_type_error(r, base, path, strlen(path), want, v);
        return NULL;
    }
    return v;
}

const rk_value *rk_ro_get_map(reader *r, const rk_value *node, const char *base, const char *path)
{
    return get_typed(r, node, base, path, RK_MAP);
}

const rk_value *rk_ro_get_seq(reader *r, const rk_value *node, const char *base, const char *path)
{
    return get_typed(r, node, base, path, RK_SEQ);
}

const char *rk_ro_get_str(reader *r, const rk_value *node, const char *base, const char *path)
{
    const rk_value *v = get_typed(r, node, base, path, RK_STRING);
    return v ? v->as.str.ptr : NULL;
}

/* Like get_str, but "" for absent, so it can go straight into a message. */
const char *rk_ro_get_text(reader *r, const rk_value *node, const char *base, const char *path)
{
    const char *s = rk_ro_get_str(r, node, base, path);
    return s ? s : "";
}

int rk_ro_get_bool(reader *r, const rk_value *node, const char *base, const char *path)
{
    const rk_value *v = get_typed(r, node, base, path, RK_BOOL);
    return v ? v->as.boolean : 0;
}

/* Integers written as 3.0 (Lua floats, some encoders) are integers too. */
int rk_ro_as_integer(const rk_value *v, int64_t *out)
{
    if (v->type == RK_INT) {
        *out = v->as.integer;
        return 1;
    }
    if (v->type == RK_FLOAT && v->as.number >= -9.2e18 && v->as.number <= 9.2e18 &&
        v->as.number == (double)(int64_t)v->as.number) {
        *out = (int64_t)v->as.number;
        return 1;
    }
    return 0;
}

int64_t rk_ro_get_int(reader *r, const rk_value *node, const char *base, const char *path,
                      int64_t dflt)
{
    const rk_value *v = rk_ro_lookup(r, node, base, path);
    int64_t i;
    if (!v)
        return dflt;
    if (!rk_ro_as_integer(v, &i)) {
        rk_ro_type_error(r, base, path, strlen(path), RK_INT, v);
        return dflt;
    }
    return i;
}

int rk_ro_has(reader *r, const rk_value *node, const char *path)
{
    return rk_ro_lookup(r, node, NULL, path) != NULL;
}

/* The items of a *List object or a plain sequence (*items NULL when there are none). */
rk_status rk_ro_list_items(const rk_value *list, const char *what, const rk_value **items,
                           rk_error *err)
{
    *items = NULL;
    if (list && list->type == RK_MAP)
        list = rk_map_get_cstr(list, "items");
    if (!list || list->type == RK_NULL)
        return RK_OK;
    if (list->type != RK_SEQ)
        return rk_error_set(err, RK_ERR_INVALID,
                            "%s: expected a list (or a List object with items), got %s", what,
                            rk_type_name(list->type));
    *items = list;
    return RK_OK;
}

/* Finds status.conditions[type == want]; base names the conditions list in messages. */
const rk_value *rk_ro_find_condition(reader *r, const rk_value *obj, const char *want)
{
    const rk_value *conds = rk_ro_get_seq(r, obj, NULL, "status.conditions");
    for (size_t i = 0; i < rk_value_len(conds); i++) {
        const rk_value *c = rk_seq_get(conds, i);
        char base[64];
        snprintf(base, sizeof base, "status.conditions[%zu]", i);
        if (c->type != RK_MAP) {
            if (c->type != RK_NULL)
                rk_ro_type_error(r, NULL, base, strlen(base), RK_MAP, c);
            continue;
        }
        if (streq(rk_ro_get_str(r, c, base, "type"), want))
            return c;
    }
    return NULL;
}

int rk_ro_condition_true(reader *r, const rk_value *cond)
{
    return cond && streq(rk_ro_get_str(r, cond, "condition", "status"), "True");
}

/* ---- building verdicts ---------------------------------------------------------------- */

void rk_ro_verdict_init(rk_verdict *v)
{
    v->state = RK_ROLLOUT_PROGRESSING;
    v->message[0] = '\0';
    v->nreasons = 0;
}

/* Appends n bytes; newlines and tabs become spaces so the message stays one line.
 * When the buffer is full the end becomes "..." and later appends are dropped. */
static void verdict_put(rk_verdict *v, const char *s, size_t n)
{
    size_t len = strlen(v->message);
    size_t room = sizeof v->message - 1 - len;
    size_t take = n < room ? n : room;
    for (size_t i = 0; i < take; i++) {
        char c = s[i];
        v->message[len + i] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
    }
    v->message[len + take] = '\0';
    if (take < n)
        memcpy(v->message + sizeof v->message - 4, "...", 3);
}

/* Free text from the cluster (a container's message): trailing blanks dropped. */
void rk_ro_verdict_text(rk_verdict *v, const char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    verdict_put(v, s, n);
}

static void verdict_vappend(rk_verdict *v, const char *fmt, va_list ap)
{
    char tmp[RK_VERDICT_MESSAGE_MAX + 1];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    if (n < 0)
        return;
    /* One byte past the message buffer's room is enough to trigger the "..." mark. */
    verdict_put(v, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

void rk_ro_verdict_append(rk_verdict *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verdict_vappend(v, fmt, ap);
    va_end(ap);
}

void rk_ro_verdict_reason(rk_verdict *v, const char *reason)
{
    if (is_empty(reason) || v->nreasons == RK_VERDICT_REASONS_MAX)
        return;
    for (size_t i = 0; i < v->nreasons; i++)
        if (strcmp(v->reasons[i], reason) == 0)
            return;
    snprintf(v->reasons[v->nreasons++], RK_VERDICT_REASON_MAX, "%s", reason);
}

void rk_ro_verdict_set(rk_verdict *v, rk_rollout_state state, const char *reason, const char *fmt,
                       ...)
{
    v->state = state;
    v->message[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    verdict_vappend(v, fmt, ap);
    va_end(ap);
    rk_ro_verdict_reason(v, reason);
}

const char *rk_rollout_state_name(rk_rollout_state state)
{
    switch (state) {
    case RK_ROLLOUT_READY: return "ready";
    case RK_ROLLOUT_FAILED: return "failed";
    case RK_ROLLOUT_PROGRESSING: return "progressing";
    }
    return "progressing";
}

/* Common start of every rule: obj must be a map; reads metadata.name for messages. */
int rk_ro_reader_start(reader *r, const rk_value *obj, const char *kind, rk_verdict *out,
                       rk_error *err)
{
    r->err = err;
    r->status = RK_OK;
    r->kind = kind;
    r->name = "";
    rk_ro_verdict_init(out);
    if (!obj || obj->type != RK_MAP) {
        r->status = rk_error_set(err, RK_ERR_INVALID, "%s: expected an object (a map), got %s",
                                 kind, obj ? rk_type_name(obj->type) : "nothing");
        return 0;
    }
    r->name = rk_ro_get_text(r, obj, NULL, "metadata.name");
    return r->status == RK_OK;
}

/* A rule that hit a type error leaves no half-made verdict behind. */
rk_status rk_ro_reader_finish(reader *r, rk_verdict *out)
{
    if (r->status != RK_OK)
        rk_ro_verdict_init(out);
    return r->status;
}
