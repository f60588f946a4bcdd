/* The watch stream's frame splitter, fed in arbitrary chunks: whatever the chunking, it
 * hands out exactly the frames (and stops with exactly the error) that a plain
 * line-by-line reading of the whole stream gives. Every frame is then parsed as a watch
 * event, and read as the body of an error answer (rk_kube_status_decode), which is what
 * an ERROR event's Status and every failed call's body go through.
 *
 * Input layout: byte 0 picks the frame limit (high bit set: 1..128 bytes, else the
 * default), byte 1 makes the callback fail after that many frames (0: never), bytes 2-5
 * seed the chunk sizes, the rest is the stream. */
#include <string.h>

#include "fuzz.h"
#include "kube.h"
#include "watch.h"

#define FUZZ_WATCH_HEADER 6

typedef struct {
    const char **frames;
    size_t *lens;
    size_t n, cap;
    size_t stop_after;
    int copy; /* store copies (the splitter's frames are only borrowed) */
} fuzz_frames;

static rk_status fuzz_watch_collect(void *ud, const char *frame, size_t len)
{
    fuzz_frames *c = ud;
    if (c->stop_after && c->n == c->stop_after)
        return RK_ERR_INVALID;
    if (len == 0)
        fuzz_fail("the splitter handed out an empty frame");
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->frames = realloc(c->frames, c->cap * sizeof *c->frames);
        c->lens = realloc(c->lens, c->cap * sizeof *c->lens);
        if (!c->frames || !c->lens)
            abort();
    }
    const char *f = frame;
    if (c->copy) {
        char *m = malloc(len);
        if (!m)
            abort();
        memcpy(m, frame, len);
        f = m;
    }
    c->frames[c->n] = f;
    c->lens[c->n++] = len;
    return RK_OK;
}

static void fuzz_frames_free(fuzz_frames *c)
{
    for (size_t i = 0; c->copy && i < c->n; i++)
        free((void *)c->frames[i]);
    free(c->frames);
    free(c->lens);
}

/* The reference: read the stream line by line. Returns the status the splitter must
 * end with; *partial gets the bytes of an unfinished last line. */
static rk_status fuzz_watch_model(const char *s, size_t n, size_t max_frame, fuzz_frames *out,
                                  size_t *partial)
{
    size_t pos = 0;
    *partial = 0;
    while (pos < n) {
        const char *nl = memchr(s + pos, '\n', n - pos);
        if (!nl) {
            *partial = n - pos;
            return *partial > max_frame ? RK_ERR_LIMIT : RK_OK;
        }
        size_t len = (size_t)(nl - (s + pos));
        if (len > max_frame)
            return RK_ERR_LIMIT;
        const char *f = s + pos;
        size_t fl = len;
        if (fl && f[fl - 1] == '\r')
            fl--;
        int blank = 1;
        for (size_t i = 0; i < fl; i++)
            if (f[i] != ' ' && f[i] != '\t' && f[i] != '\r')
                blank = 0;
        if (!blank) {
            rk_status st = fuzz_watch_collect(out, f, fl);
            if (st != RK_OK)
                return st;
        }
        pos += len + 1;
    }
    return RK_OK;
}

static uint32_t fuzz_watch_rand(uint32_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

int fuzz_watch_one(const uint8_t *data, size_t size)
{
    if (size < FUZZ_WATCH_HEADER)
        return 0;
    size_t max_frame = data[0] & 0x80 ? (size_t)(data[0] & 0x7F) + 1 : RK_WATCH_MAX_FRAME;
    size_t stop_after = data[1];
    uint32_t seed = (uint32_t)data[2] | (uint32_t)data[3] << 8 | (uint32_t)data[4] << 16 |
                    (uint32_t)data[5] << 24;
    seed = seed ? seed : 0x9E3779B9u;
    const char *stream = (const char *)data + FUZZ_WATCH_HEADER;
    size_t n = size - FUZZ_WATCH_HEADER;

    fuzz_frames want = {.stop_after = stop_after};
    size_t partial;
    rk_status want_st = fuzz_watch_model(stream, n, max_frame, &want, &partial);

    rk_frame_splitter s;
    rk_frames_init(&s, data[0] & 0x80 ? max_frame : 0);
    fuzz_frames got = {.stop_after = stop_after, .copy = 1};
    rk_status st = RK_OK;
    rk_error err;
    size_t pos = 0;
    while (st == RK_OK && pos < n) {
        uint32_t r = fuzz_watch_rand(&seed);
        /* Mostly small chunks (splits inside frames, CRLF and UTF-8 sequences), some
         * empty ones, and now and then the whole rest. */
        size_t chunk = r % 8 == 0 ? n - pos : (size_t)(r >> 8) % 24;
        if (chunk > n - pos)
            chunk = n - pos;
        st = rk_frames_feed(&s, stream + pos, chunk, fuzz_watch_collect, &got, &err);
        pos += chunk;
    }
    if (st != want_st) {
        fuzz_dump("stream", stream, n);
        fuzz_fail("the splitter ended with status %d, reading line by line gives %d", st,
                  want_st);
    }
    if (got.n != want.n)
        fuzz_fail("the splitter gave %zu frames, reading line by line gives %zu", got.n,
                  want.n);
    for (size_t i = 0; i < got.n; i++) {
        if (got.lens[i] != want.lens[i] || memcmp(got.frames[i], want.frames[i], got.lens[i])) {
            fuzz_dump("frame", got.frames[i], got.lens[i]);
            fuzz_dump("expected", want.frames[i], want.lens[i]);
            fuzz_fail("frame %zu differs", i);
        }
    }
    if (st == RK_OK && rk_frames_pending(&s) != partial)
        fuzz_fail("%zu bytes pending, %zu expected", rk_frames_pending(&s), partial);
    rk_frames_reset(&s);
    if (rk_frames_pending(&s) != 0)
        fuzz_fail("bytes pending after a reset");

    for (size_t i = 0; i < got.n; i++) {
        char type[16];
        rk_value *root = NULL;
        if (rk_watch_parse_event(got.frames[i], got.lens[i], type, sizeof type, &root,
                                 &err) == RK_OK) {
            const rk_value *obj = rk_map_get_cstr(root, "object");
            if (!obj || obj->type != RK_MAP || strnlen(type, sizeof type) == sizeof type)
                fuzz_fail("a parsed watch event has no object or an unterminated type");
        } else if (root) {
            fuzz_fail("rk_watch_parse_event failed but returned a tree");
        }
        rk_value_free(root);
        rk_kube_error kerr;
        rk_kube_status_decode(i % 2 ? 410 : 503, got.frames[i], got.lens[i],
                              i % 3 ? "watch" : NULL, &kerr);
        if (strnlen(kerr.message, sizeof kerr.message) == sizeof kerr.message ||
            strnlen(kerr.reason, sizeof kerr.reason) == sizeof kerr.reason ||
            kerr.ncauses > RK_KUBE_MAX_CAUSES || (kerr.exit_code != 1 && kerr.exit_code != 3))
            fuzz_fail("rk_kube_status_decode filled an inconsistent error");
    }
    rk_frames_free(&s);
    fuzz_frames_free(&got);
    fuzz_frames_free(&want);
    return 0;
}

RK_FUZZ_ENTRY(fuzz_watch_one)
