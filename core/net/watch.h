/* watch.h — Kubernetes watches: a watch set that keeps several watches (and pod log
 * streams) open at once over one curl multi handle and hands out the next event from any
 * of them, resuming after drops and listing again after 410 Gone. The frame and line
 * splitters the streams are cut with are in splitters.h (included here).
 *
 * Ownership: a watch set borrows its rk_kube client, which must outlive it; events
 * returned by rk_watch_set_next are owned by the caller (rk_watch_event_free).
 * Implemented in watch.c (the set and its loop), watch_events.c (watch event streams,
 * relists) and watch_logs.c (log streams). */
#ifndef RK_WATCH_H
#define RK_WATCH_H

#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "kube.h"
#include "splitters.h"
#include "value.h"

/* ---- watch sets --------------------------------------------------------------------- */

typedef struct rk_watch_set rk_watch_set;

typedef struct {
    const char *api_version, *kind;
    const char *namespace; /* NULL: the client's, for namespaced kinds */
    int all_namespaces;
    const char *name; /* one object (a metadata.name field selector) */
    const char *label_selector, *field_selector;
    const char *resource_version; /* start after this; NULL: current state first */
    int bookmarks;                /* hand BOOKMARK events out too (they are always used) */
    long server_timeout;          /* timeoutSeconds of each watch request; 0: ~5 min */
} rk_watch_spec;

/* A pod's log as a stream of lines (GET .../pods/NAME/log), in a watch set beside its
 * watches: one connection per log, driven by the same curl multi handle. */
typedef struct {
    const char *namespace;       /* NULL: the client's */
    const char *pod, *container; /* container NULL: the pod's only one */
    int follow, previous, timestamps;
    long since_seconds; /* <= 0: from the start */
    long tail_lines;    /* < 0: all */
    size_t max_line;    /* 0: RK_LOG_MAX_LINE */
} rk_log_spec;

/* One event. type is ADDED, MODIFIED, DELETED, BOOKMARK or ERROR for watches, LINE or
 * END for logs. After a 410 Gone the
 * set lists again and reports the difference as ADDED / MODIFIED / DELETED events
 * (a DELETED object found that way carries only apiVersion, kind and metadata).
 * ERROR means the watch has failed for good (error says why) and was removed. */
typedef struct rk_watch_event {
    int watch_id;
    char type[16];
    rk_value *object;     /* borrowed from root */
    rk_value *root;       /* owned: the whole decoded frame */
    rk_kube_error *error; /* owned; ERROR events, and END events of a failed log */
    /* logs: a LINE's text (owned, NUL-terminated), the bytes cut off its end, whether it
     * had no newline; an END says whether the stream was cut (the connection broke, or
     * the last line had no newline). A log is removed from the set after its END. */
    char *text;
    size_t text_len, dropped;
    int partial, cut;
    struct rk_watch_event *next;
} rk_watch_event;

rk_status rk_watch_set_new(rk_kube *k, rk_watch_set **out);
void rk_watch_set_free(rk_watch_set *ws);

/* Opens a watch; *id names it in events. The spec's strings are copied. */
rk_status rk_watch_set_add(rk_watch_set *ws, const rk_watch_spec *spec, int *id,
                           rk_kube_error *kerr);
/* Opens a log stream; *id names it in its LINE and END events. Strings are copied. Not
 * resumed by itself: after END the caller decides (a followed pod may still run). */
rk_status rk_watch_set_add_log(rk_watch_set *ws, const rk_log_spec *spec, int *id,
                               rk_kube_error *kerr);
/* Closes a watch or log and drops its queued events. Unknown ids are ignored. */
void rk_watch_set_remove(rk_watch_set *ws, int id);
/* Number of open watches and logs. */
size_t rk_watch_set_count(const rk_watch_set *ws);

/* Waits at most timeout seconds (<0: forever) for the next event from any watch.
 * *out is NULL on timeout (or at once when the set is empty and timeout < 0).
 * Returns RK_ERR_NETWORK when interrupted (kerr says so). */
rk_status rk_watch_set_next(rk_watch_set *ws, double timeout, rk_watch_event **out,
                            rk_kube_error *kerr);
void rk_watch_event_free(rk_watch_event *ev);

/* Parses one watch frame ({"type": ..., "object": ...}). For tests and the set. */
rk_status rk_watch_parse_event(const char *frame, size_t len, char *type, size_t type_size,
                               rk_value **object, rk_error *err);

#endif
