/* watch_internal.h — what watch.c, watch_events.c and watch_logs.c share: the watch set's
 * structures and the functions each part gives the others. Not an API: include watch.h.
 *
 * Ownership: a watch belongs to its set (rk_watch_free_one frees it and everything in
 * it); queued events belong to the set until rk_watch_set_next hands them out. */
#ifndef RK_WATCH_INTERNAL_H
#define RK_WATCH_INTERNAL_H

#include "http.h"
#include "kube.h"
#include "watch.h"

/* Consecutive failures (reconnects, relists) after which a watch fails for good. */
#define MAX_CONSECUTIVE_FAILURES 8

/* ---- what a watch has seen: "namespace/name" -> resourceVersion ---------------------- */

typedef struct known {
    char *key;
    char *rv;
    struct known *next;
} known;

typedef struct {
    known **buckets;
    size_t nbuckets, n;
} known_map;

/* ---- watch sets -------------------------------------------------------------------- */

typedef struct watch {
    int id;
    rk_watch_set *set;
    char *api_version, *kind, *ns, *label_selector, *field_selector;
    int all_namespaces, bookmarks;
    long server_timeout;
    char *rv;
    rk_http_stream *stream;
    rk_frame_splitter split;
    known_map seen;
    int need_relist, failures, auth_refreshed;
    double retry_at, opened_at;
    /* logs: the request path, and the line splitter of the body */
    int is_log;
    char *log_path, *log_what;
    rk_line_splitter lines;
    struct watch *next;
} watch;

struct rk_watch_set {
    rk_kube *k;
    watch *watches;
    int next_id;
    rk_watch_event *head, *tail;
    unsigned int seed;
};

/* watch.c: the set and its loop */
double rk_watch_now(void);
void rk_watch_enqueue(rk_watch_set *ws, rk_watch_event *ev);
/* Queues an ERROR event and marks w dead (the loop removes it). */
void rk_watch_fail(watch *w, const rk_kube_error *why);
/* The body callback of every stream: frames for watches, lines for logs. */
rk_status rk_watch_on_data(void *ud, const char *data, size_t len, rk_error *err);
/* Opens w's stream for c (a watch or a log request), with an Accept header when accept is
 * not NULL; records when it was opened. */
rk_status rk_watch_open_call(watch *w, const rk_kube_call *c, const char *accept,
                             rk_kube_error *kerr);
rk_status rk_watch_open_stream(watch *w, rk_kube_error *kerr);
void rk_watch_close_stream(watch *w);
void rk_watch_init_call(const watch *w, rk_kube_call *c, rk_kube_verb verb);
void rk_watch_free_one(watch *w);

/* watch_events.c: watch event streams, what a watch has seen, relists after 410 Gone */
rk_status rk_watch_on_frame(void *ud, const char *frame, size_t len);
/* An answer that is not a watch stream: says which watch, and who sent it. */
void rk_watch_bad_stream(watch *w, const rk_error *err, rk_kube_error *kerr);
rk_status rk_watch_relist(watch *w, rk_kube_error *kerr);
void rk_watch_known_free(known_map *m);

/* watch_logs.c: pod log streams */
rk_status rk_watch_open_log(watch *w, rk_kube_error *kerr);
rk_status rk_watch_on_line(void *ud, const char *line, size_t len, size_t dropped, int partial);
/* A log's stream has ended: its last partial line, then END; marks w done. */
void rk_watch_log_end(watch *w);

#endif
