/* watch.h — Kubernetes watches: a frame splitter that turns the arbitrary chunks of a
 * streamed HTTP body into complete newline-delimited JSON events, and a watch set that
 * keeps several watches open at once over one curl multi handle and hands out the next
 * event from any of them, resuming after drops and listing again after 410 Gone.
 *
 * Ownership: a splitter owns its pending bytes; frames passed to callbacks are borrowed
 * and valid only during the call. A watch set borrows its rk_kube client, which must
 * outlive it; events returned by rk_watch_set_next are owned by the caller
 * (rk_watch_event_free). */
#ifndef RK_WATCH_H
#define RK_WATCH_H

#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "kube.h"
#include "value.h"

/* ---- frame splitter ---------------------------------------------------------------- */

/* Frames longer than this are refused: a stream that never sends a newline must not eat
 * all memory. Real objects are limited to ~1.5 MB by etcd. */
#define RK_WATCH_MAX_FRAME (64u * 1024u * 1024u)

typedef struct {
    rk_buf pending; /* the start of a frame whose newline has not arrived yet */
    size_t max_frame;
} rk_frame_splitter;

/* Called once per complete frame (the newline and a trailing CR removed; blank lines are
 * skipped). A status other than RK_OK stops the feed and is returned by it. */
typedef rk_status (*rk_frame_fn)(void *ud, const char *frame, size_t len);

/* max_frame 0 means RK_WATCH_MAX_FRAME. */
void rk_frames_init(rk_frame_splitter *s, size_t max_frame);
void rk_frames_free(rk_frame_splitter *s);
/* Drops any partial frame (after a reconnect, the new stream starts clean). */
void rk_frames_reset(rk_frame_splitter *s);
/* Feeds len bytes. Returns RK_OK, RK_ERR_LIMIT when a frame exceeds max_frame,
 * RK_ERR_NOMEM, or the callback's failure. */
rk_status rk_frames_feed(rk_frame_splitter *s, const char *data, size_t len, rk_frame_fn fn,
                         void *ud, rk_error *err);
/* Bytes held for an incomplete frame. */
size_t rk_frames_pending(const rk_frame_splitter *s);

/* ---- log line splitter ------------------------------------------------------------- */

/* Log lines longer than this are cut: the first RK_LOG_MAX_LINE bytes are delivered and
 * the rest of the line is counted and dropped, so one endless line costs bounded
 * memory. */
#define RK_LOG_MAX_LINE (1024u * 1024u)

typedef struct {
    rk_buf pending;  /* the start of a line whose newline has not arrived yet */
    size_t max_line;
    size_t dropped;  /* bytes of the pending line beyond max_line, thrown away */
} rk_line_splitter;

/* Called once per line, without its newline (and a CR before it). Blank lines are
 * delivered too. dropped: bytes cut off the end of an overlong line (0: the line is
 * whole); partial: the line had no newline (the stream ended first). */
typedef rk_status (*rk_line_fn)(void *ud, const char *line, size_t len, size_t dropped,
                                int partial);

/* max_line 0 means RK_LOG_MAX_LINE. */
void rk_lines_init(rk_line_splitter *s, size_t max_line);
void rk_lines_free(rk_line_splitter *s);
/* Feeds len bytes; returns RK_OK, RK_ERR_NOMEM or the callback's failure. */
rk_status rk_lines_feed(rk_line_splitter *s, const char *data, size_t len, rk_line_fn fn,
                        void *ud, rk_error *err);
/* The stream ended: delivers a pending line that had no newline (partial = 1), if any. */
rk_status rk_lines_finish(rk_line_splitter *s, rk_line_fn fn, void *ud);
/* Bytes held for an incomplete line (at most max_line). */
size_t rk_lines_pending(const rk_line_splitter *s);

/* ---- watch sets --------------------------------------------------------------------- */

typedef struct rk_watch_set rk_watch_set;

typedef struct {
    const char *api_version, *kind;
    const char *namespace;      /* NULL: the client's, for namespaced kinds */
    int all_namespaces;
    const char *name;           /* one object (a metadata.name field selector) */
    const char *label_selector, *field_selector;
    const char *resource_version; /* start after this; NULL: current state first */
    int bookmarks;              /* hand BOOKMARK events out too (they are always used) */
    long server_timeout;        /* timeoutSeconds of each watch request; 0: ~5 min */
} rk_watch_spec;

/* A pod's log as a stream of lines (GET .../pods/NAME/log), in a watch set beside its
 * watches: one connection per log, driven by the same curl multi handle. */
typedef struct {
    const char *namespace;      /* NULL: the client's */
    const char *pod, *container; /* container NULL: the pod's only one */
    int follow, previous, timestamps;
    long since_seconds;         /* <= 0: from the start */
    long tail_lines;            /* < 0: all */
    size_t max_line;            /* 0: RK_LOG_MAX_LINE */
} rk_log_spec;

/* One event. type is ADDED, MODIFIED, DELETED, BOOKMARK or ERROR for watches, LINE or
 * END for logs. After a 410 Gone the
 * set lists again and reports the difference as ADDED / MODIFIED / DELETED events
 * (a DELETED object found that way carries only apiVersion, kind and metadata).
 * ERROR means the watch has failed for good (error says why) and was removed. */
typedef struct rk_watch_event {
    int watch_id;
    char type[16];
    rk_value *object;        /* borrowed from root */
    rk_value *root;          /* owned: the whole decoded frame */
    rk_kube_error *error;    /* owned; ERROR events, and END events of a failed log */
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
