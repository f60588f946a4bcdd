/* splitters.c — streamed bodies cut into JSON frames and log lines (see splitters.h). */
#include "splitters.h"

#include <string.h>

/* ---- frame splitter ---------------------------------------------------------------- */

void rk_frames_init(rk_frame_splitter *s, size_t max_frame)
{
    rk_buf_init(&s->pending);
    s->max_frame = max_frame ? max_frame : RK_WATCH_MAX_FRAME;
}

void rk_frames_free(rk_frame_splitter *s)
{
    rk_buf_free(&s->pending);
}

void rk_frames_reset(rk_frame_splitter *s)
{
    s->pending.len = 0;
    if (s->pending.data)
        s->pending.data[0] = '\0';
}

size_t rk_frames_pending(const rk_frame_splitter *s)
{
    return s->pending.len;
}

static int is_blank(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

static rk_status emit(const char *frame, size_t len, rk_frame_fn fn, void *ud)
{
    if (len && frame[len - 1] == '\r')
        len--;
    if (is_blank(frame, len))
        return RK_OK;
    return fn(ud, frame, len);
}

static rk_status too_long(const rk_frame_splitter *s, rk_error *err)
{
    return rk_error_set(err, RK_ERR_LIMIT, "watch event longer than %zu bytes without a newline",
                        s->max_frame);
}

rk_status rk_frames_feed(rk_frame_splitter *s, const char *data, size_t len, rk_frame_fn fn,
                         void *ud, rk_error *err)
{
    /* Frames wholly inside the chunk are handed out in place; only a frame that spans
     * chunks is copied, so a stream of small events costs no copies at all. */
    while (len) {
        const char *nl = memchr(data, '\n', len);
        if (!nl) {
            if (s->pending.len + len > s->max_frame)
                return too_long(s, err);
            rk_buf_append(&s->pending, data, len);
            return rk_buf_status(&s->pending, err);
        }
        size_t part = (size_t)(nl - data);
        rk_status st;
        if (s->pending.len) {
            if (s->pending.len + part > s->max_frame)
                return too_long(s, err);
            rk_buf_append(&s->pending, data, part);
            if ((st = rk_buf_status(&s->pending, err)) != RK_OK)
                return st;
            st = emit(s->pending.data, s->pending.len, fn, ud);
            rk_frames_reset(s);
        } else {
            if (part > s->max_frame)
                return too_long(s, err);
            st = emit(data, part, fn, ud);
        }
        if (st != RK_OK)
            return st;
        data = nl + 1;
        len -= part + 1;
    }
    return RK_OK;
}

/* ---- log line splitter ------------------------------------------------------------- */

void rk_lines_init(rk_line_splitter *s, size_t max_line)
{
    rk_buf_init(&s->pending);
    s->max_line = max_line ? max_line : RK_LOG_MAX_LINE;
    s->dropped = 0;
}

void rk_lines_free(rk_line_splitter *s)
{
    rk_buf_free(&s->pending);
}

static void lines_reset(rk_line_splitter *s)
{
    s->pending.len = 0;
    if (s->pending.data)
        s->pending.data[0] = '\0';
    s->dropped = 0;
}

size_t rk_lines_pending(const rk_line_splitter *s)
{
    return s->pending.len;
}

static rk_status emit_line(const char *line, size_t len, size_t dropped, int partial, rk_line_fn fn,
                           void *ud)
{
    if (!dropped && len && line[len - 1] == '\r')
        len--;
    return fn(ud, line, len, dropped, partial);
}

rk_status rk_lines_feed(rk_line_splitter *s, const char *data, size_t len, rk_line_fn fn, void *ud,
                        rk_error *err)
{
    /* Lines wholly inside the chunk are handed out in place; a line spanning chunks is
     * kept up to max_line bytes, and whatever follows until its newline is only counted. */
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t part = nl ? (size_t)(nl - data) : len;
        size_t room = s->max_line - s->pending.len;
        size_t take = part < room ? part : room;
        if (!nl) {
            rk_buf_append(&s->pending, data, take);
            s->dropped += part - take;
            return rk_buf_status(&s->pending, err);
        }
        rk_status st;
        if (!s->pending.len && !s->dropped && take == part) {
            st = emit_line(data, part, 0, 0, fn, ud);
        } else {
            rk_buf_append(&s->pending, data, take);
            if ((st = rk_buf_status(&s->pending, err)) != RK_OK)
                return st;
            st = emit_line(s->pending.data, s->pending.len, s->dropped + (part - take), 0, fn, ud);
            lines_reset(s);
        }
        if (st != RK_OK)
            return st;
        data = nl + 1;
        len -= part + 1;
    }
    return RK_OK;
}

rk_status rk_lines_finish(rk_line_splitter *s, rk_line_fn fn, void *ud)
{
    if (!s->pending.len && !s->dropped)
        return RK_OK;
    rk_status st =
        emit_line(s->pending.data ? s->pending.data : "", s->pending.len, s->dropped, 1, fn, ud);
    lines_reset(s);
    return st;
}
