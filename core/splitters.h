/* splitters.h — cutting the arbitrary chunks of a streamed HTTP body into complete
 * pieces: newline-delimited JSON frames (watch events) and log lines (pod logs).
 *
 * Ownership: a splitter owns its pending bytes; frames and lines passed to callbacks are
 * borrowed and valid only during the call. Pure byte handling: no network, no libcurl. */
#ifndef RK_SPLITTERS_H
#define RK_SPLITTERS_H

#include <stddef.h>

#include "buf.h"
#include "error.h"

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
    rk_buf pending; /* the start of a line whose newline has not arrived yet */
    size_t max_line;
    size_t dropped; /* bytes of the pending line beyond max_line, thrown away */
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
rk_status rk_lines_feed(rk_line_splitter *s, const char *data, size_t len, rk_line_fn fn, void *ud,
                        rk_error *err);
/* The stream ended: delivers a pending line that had no newline (partial = 1), if any. */
rk_status rk_lines_finish(rk_line_splitter *s, rk_line_fn fn, void *ud);
/* Bytes held for an incomplete line (at most max_line). */
size_t rk_lines_pending(const rk_line_splitter *s);

#endif
