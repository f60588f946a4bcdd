/* Events about an object: the newest Warning event that names it, and its one-line text. */
#include "rollout.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "rfc3339.h"
#include "rollout_internal.h"

/* ---- events --------------------------------------------------------------------------- */

/* An RFC 3339 time to nanoseconds since the epoch; 0 when s is not such a time, which
 * sorts it as the oldest. */
static int64_t parse_time(const char *s)
{
    int64_t secs;
    long nanos;
    return rk_rfc3339_parse(s, &secs, &nanos) == RK_OK ? secs * 1000000000 + nanos : 0;
}

static int64_t event_time(reader *r, const rk_value *ev)
{
    static const char *const fields[] = {
        "series.lastObservedTime",
        "eventTime",
        "lastTimestamp",
        "deprecatedLastTimestamp",
        "firstTimestamp",
        "deprecatedFirstTimestamp",
        "metadata.creationTimestamp",
        NULL,
    };
    int64_t best = 0;
    for (const char *const *f = fields; *f; f++) {
        int64_t t = parse_time(rk_ro_get_str(r, ev, NULL, *f));
        if (t > best)
            best = t;
    }
    return best;
}

static int event_about(reader *r, const rk_value *ev, const char *kind, const char *name,
                       const char *ns, const char *uid)
{
    const rk_value *ref = rk_ro_get_map(r, ev, NULL, "involvedObject");
    if (!ref)
        ref = rk_ro_get_map(r, ev, NULL, "regarding");
    if (!ref)
        return 0;
    const char *ref_uid = rk_ro_get_str(r, ref, "involvedObject", "uid");
    if (!is_empty(uid) && !is_empty(ref_uid))
        return strcmp(uid, ref_uid) == 0;
    const char *ref_ns = rk_ro_get_str(r, ref, "involvedObject", "namespace");
    if (!is_empty(ns) && !is_empty(ref_ns) && strcmp(ns, ref_ns) != 0)
        return 0;
    const char *ref_kind = rk_ro_get_str(r, ref, "involvedObject", "kind");
    if (!is_empty(kind) && !is_empty(ref_kind) && strcmp(kind, ref_kind) != 0)
        return 0;
    return !is_empty(name) && streq(name, rk_ro_get_str(r, ref, "involvedObject", "name"));
}

rk_status rk_rollout_event_for(const rk_value *obj, const rk_value *events,
                               const rk_value **event_out, rk_error *err)
{
    rk_verdict scratch;
    reader r;
    *event_out = NULL;
    if (!rk_ro_reader_start(&r, obj, "object", &scratch, err))
        return r.status;
    const char *kind = rk_ro_get_str(&r, obj, NULL, "kind");
    const char *ns = rk_ro_get_str(&r, obj, NULL, "metadata.namespace");
    const char *uid = rk_ro_get_str(&r, obj, NULL, "metadata.uid");
    const char *name = r.name;
    if (r.status != RK_OK)
        return r.status;
    const rk_value *list;
    if (rk_ro_list_items(events, "events", &list, err) != RK_OK)
        return RK_ERR_INVALID;

    int64_t best_time = -1;
    for (size_t i = 0; i < rk_value_len(list); i++) {
        const rk_value *ev = rk_seq_get(list, i);
        if (ev->type != RK_MAP)
            continue;
        reader er = {err, RK_OK, "event", ""};
        er.name = rk_ro_get_text(&er, ev, NULL, "metadata.name");
        int warning = streq(rk_ro_get_str(&er, ev, NULL, "type"), "Warning");
        int about = warning && event_about(&er, ev, kind, name, ns, uid);
        int64_t t = about ? event_time(&er, ev) : 0;
        if (er.status != RK_OK)
            return er.status;
        if (about && t >= best_time) {
            best_time = t;
            *event_out = ev;
        }
    }
    return RK_OK;
}

size_t rk_rollout_event_text(const rk_value *event, char *buf, size_t size)
{
    const rk_value *reason = event ? rk_map_get_cstr(event, "reason") : NULL;
    const rk_value *message = event ? rk_map_get_cstr(event, "message") : NULL;
    if (!message || message->type != RK_STRING)
        message = event ? rk_map_get_cstr(event, "note") : NULL;
    const char *rs = reason && reason->type == RK_STRING ? reason->as.str.ptr : "";
    const char *ms = message && message->type == RK_STRING ? message->as.str.ptr : "";
    size_t mlen = strlen(ms);
    while (mlen && isspace((unsigned char)ms[mlen - 1]))
        mlen--;
    int n = snprintf(buf, size, "%s%s%.*s", rs, *rs && mlen ? ": " : "", (int)mlen, ms);
    for (size_t i = 0; buf && i < size && buf[i]; i++)
        if (buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')
            buf[i] = ' ';
    return n < 0 ? 0 : (size_t)n;
}
