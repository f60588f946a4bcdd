/* The watch stream's frame splitter: events split across chunks at every byte, many
 * events in one chunk, a 1 MB event, CRLF and blank lines, the size limit; and the
 * parsing of one watch event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "watch.h"

/* Collects frames, each copied, for comparison. */
typedef struct {
    char **frames;
    size_t n, cap;
    size_t stop_after; /* fail after this many frames (0: never) */
} collector;

static rk_status collect(void *ud, const char *frame, size_t len)
{
    collector *c = ud;
    if (c->stop_after && c->n == c->stop_after)
        return RK_ERR_INVALID;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->frames = realloc(c->frames, c->cap * sizeof *c->frames);
        assert_non_null(c->frames);
    }
    char *f = malloc(len + 1);
    assert_non_null(f);
    memcpy(f, frame, len);
    f[len] = '\0';
    c->frames[c->n++] = f;
    return RK_OK;
}

static void collector_free(collector *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->frames[i]);
    free(c->frames);
    memset(c, 0, sizeof *c);
}

static const char stream3[] =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"2\"}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"3\"}}}\n";

static void test_whole_chunk_gives_each_event(void **state)
{
    (void)state;
    rk_frame_splitter s;
    collector c = {0};
    rk_frames_init(&s, 0);
    assert_int_equal(rk_frames_feed(&s, stream3, strlen(stream3), collect, &c, NULL), RK_OK);
    assert_int_equal(c.n, 3);
    assert_true(strncmp(c.frames[0], "{\"type\":\"ADDED\"", 15) == 0);
    assert_true(strncmp(c.frames[2], "{\"type\":\"DELETED\"", 17) == 0);
    assert_int_equal(rk_frames_pending(&s), 0);
    collector_free(&c);
    rk_frames_free(&s);
}

/* Every way of cutting the stream in two, then in three, gives the same frames. */
static void test_events_split_at_every_byte(void **state)
{
    (void)state;
    size_t len = strlen(stream3);
    collector want = {0};
    rk_frame_splitter s;
    rk_frames_init(&s, 0);
    rk_frames_feed(&s, stream3, len, collect, &want, NULL);
    rk_frames_free(&s);
    for (size_t cut = 0; cut <= len; cut++) {
        for (size_t cut2 = cut; cut2 <= len; cut2 += 7) {
            collector got = {0};
            rk_frames_init(&s, 0);
            assert_int_equal(rk_frames_feed(&s, stream3, cut, collect, &got, NULL), RK_OK);
            assert_int_equal(rk_frames_feed(&s, stream3 + cut, cut2 - cut, collect, &got, NULL),
                             RK_OK);
            assert_int_equal(rk_frames_feed(&s, stream3 + cut2, len - cut2, collect, &got, NULL),
                             RK_OK);
            assert_int_equal(got.n, want.n);
            for (size_t i = 0; i < got.n; i++)
                assert_string_equal(got.frames[i], want.frames[i]);
            collector_free(&got);
            rk_frames_free(&s);
        }
    }
    collector_free(&want);
}

static void test_one_byte_at_a_time(void **state)
{
    (void)state;
    rk_frame_splitter s;
    collector c = {0};
    rk_frames_init(&s, 0);
    for (size_t i = 0; stream3[i]; i++)
        assert_int_equal(rk_frames_feed(&s, stream3 + i, 1, collect, &c, NULL), RK_OK);
    assert_int_equal(c.n, 3);
    assert_true(strstr(c.frames[1], "\"resourceVersion\":\"2\"") != NULL);
    collector_free(&c);
    rk_frames_free(&s);
}

static void test_many_events_in_one_chunk(void **state)
{
    (void)state;
    rk_buf b = RK_BUF_INIT;
    for (int i = 0; i < 5000; i++)
        rk_buf_printf(&b, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"cm-%d\"}}}\n", i);
    rk_frame_splitter s;
    collector c = {0};
    rk_frames_init(&s, 0);
    assert_int_equal(rk_frames_feed(&s, b.data, b.len, collect, &c, NULL), RK_OK);
    assert_int_equal(c.n, 5000);
    assert_true(strstr(c.frames[4999], "cm-4999") != NULL);
    assert_true(strstr(c.frames[0], "cm-0\"") != NULL);
    collector_free(&c);
    rk_frames_free(&s);
    rk_buf_free(&b);
}

/* A 1 MB event arrives in 16 kB chunks with the next event's start glued to its end. */
static void test_one_megabyte_event(void **state)
{
    (void)state;
    rk_buf b = RK_BUF_INIT;
    rk_buf_puts(&b, "{\"type\":\"ADDED\",\"object\":{\"data\":{\"big\":\"");
    rk_buf_fill(&b, 'x', 1024 * 1024);
    rk_buf_puts(&b, "\"}}}\n{\"type\":\"DELETED\",\"object\":{}}\n");
    rk_frame_splitter s;
    collector c = {0};
    rk_frames_init(&s, 0);
    for (size_t off = 0; off < b.len; off += 16384) {
        size_t n = b.len - off < 16384 ? b.len - off : 16384;
        assert_int_equal(rk_frames_feed(&s, b.data + off, n, collect, &c, NULL), RK_OK);
    }
    assert_int_equal(c.n, 2);
    assert_true(strlen(c.frames[0]) > 1024 * 1024);
    assert_string_equal(c.frames[0] + strlen(c.frames[0]) - 4, "\"}}}");
    assert_string_equal(c.frames[1], "{\"type\":\"DELETED\",\"object\":{}}");
    /* and it parses as an event */
    char type[16];
    rk_value *root = NULL;
    rk_error err;
    assert_int_equal(rk_watch_parse_event(c.frames[0], strlen(c.frames[0]), type, sizeof type,
                                          &root, &err),
                     RK_OK);
    assert_string_equal(type, "ADDED");
    const rk_value *big = rk_map_get_cstr(rk_map_get_cstr(rk_map_get_cstr(root, "object"), "data"),
                                          "big");
    assert_non_null(big);
    assert_int_equal(big->as.str.len, 1024 * 1024);
    rk_value_free(root);
    collector_free(&c);
    rk_frames_free(&s);
    rk_buf_free(&b);
}

static void test_crlf_and_blank_lines(void **state)
{
    (void)state;
    const char in[] = "\n{\"a\":1}\r\n\r\n  \n{\"b\":2}\n";
    rk_frame_splitter s;
    collector c = {0};
    rk_frames_init(&s, 0);
    assert_int_equal(rk_frames_feed(&s, in, strlen(in), collect, &c, NULL), RK_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.frames[0], "{\"a\":1}");
    assert_string_equal(c.frames[1], "{\"b\":2}");
    collector_free(&c);
    rk_frames_free(&s);
}

static void test_partial_frame_waits_for_newline(void **state)
{
    (void)state;
    rk_frame_splitter s;
    collector c = {0};
    rk_frames_init(&s, 0);
    assert_int_equal(rk_frames_feed(&s, "{\"a\":", 5, collect, &c, NULL), RK_OK);
    assert_int_equal(c.n, 0);
    assert_int_equal(rk_frames_pending(&s), 5);
    assert_int_equal(rk_frames_feed(&s, "1}", 2, collect, &c, NULL), RK_OK);
    assert_int_equal(c.n, 0);
    assert_int_equal(rk_frames_feed(&s, "\n", 1, collect, &c, NULL), RK_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.frames[0], "{\"a\":1}");
    /* a reconnect throws a half-received frame away */
    rk_frames_feed(&s, "{\"half", 6, collect, &c, NULL);
    rk_frames_reset(&s);
    rk_frames_feed(&s, "{\"b\":2}\n", 8, collect, &c, NULL);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.frames[1], "{\"b\":2}");
    collector_free(&c);
    rk_frames_free(&s);
}

static void test_frame_limit(void **state)
{
    (void)state;
    rk_frame_splitter s;
    collector c = {0};
    rk_error err;
    rk_frames_init(&s, 10);
    assert_int_equal(rk_frames_feed(&s, "0123456789\n", 11, collect, &c, &err), RK_OK);
    assert_int_equal(rk_frames_feed(&s, "0123456789A\n", 12, collect, &c, &err), RK_ERR_LIMIT);
    assert_non_null(strstr(err.msg, "longer than 10 bytes"));
    rk_frames_reset(&s);
    /* the limit also holds across chunks */
    assert_int_equal(rk_frames_feed(&s, "012345", 6, collect, &c, &err), RK_OK);
    assert_int_equal(rk_frames_feed(&s, "6789AB", 6, collect, &c, &err), RK_ERR_LIMIT);
    assert_int_equal(c.n, 1);
    collector_free(&c);
    rk_frames_free(&s);
}

static void test_callback_failure_stops_feed(void **state)
{
    (void)state;
    rk_frame_splitter s;
    collector c = {.stop_after = 1};
    rk_frames_init(&s, 0);
    assert_int_equal(rk_frames_feed(&s, stream3, strlen(stream3), collect, &c, NULL),
                     RK_ERR_INVALID);
    assert_int_equal(c.n, 1);
    collector_free(&c);
    rk_frames_free(&s);
}

static void test_parse_event(void **state)
{
    (void)state;
    char type[16];
    rk_value *root = NULL;
    rk_error err;
    const char *bm = "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":"
                     "{\"resourceVersion\":\"12345\"}}}";
    assert_int_equal(rk_watch_parse_event(bm, strlen(bm), type, sizeof type, &root, &err), RK_OK);
    assert_string_equal(type, "BOOKMARK");
    const rk_value *rv = rk_map_get_cstr(rk_map_get_cstr(rk_map_get_cstr(root, "object"),
                                                         "metadata"),
                                         "resourceVersion");
    assert_string_equal(rv->as.str.ptr, "12345");
    rk_value_free(root);

    const char *no_type = "{\"object\":{}}";
    assert_int_equal(rk_watch_parse_event(no_type, strlen(no_type), type, sizeof type, &root,
                                          &err),
                     RK_ERR_PARSE);
    assert_null(root);
    assert_non_null(strstr(err.msg, "without a type"));
    const char *bad = "{\"type\":\"ADDED\",\"object\":{";
    assert_int_not_equal(rk_watch_parse_event(bad, strlen(bad), type, sizeof type, &root, &err),
                         RK_OK);
    assert_non_null(strstr(err.msg, "watch event: "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_chunk_gives_each_event),
        cmocka_unit_test(test_events_split_at_every_byte),
        cmocka_unit_test(test_one_byte_at_a_time),
        cmocka_unit_test(test_many_events_in_one_chunk),
        cmocka_unit_test(test_one_megabyte_event),
        cmocka_unit_test(test_crlf_and_blank_lines),
        cmocka_unit_test(test_partial_frame_waits_for_newline),
        cmocka_unit_test(test_frame_limit),
        cmocka_unit_test(test_callback_failure_stops_feed),
        cmocka_unit_test(test_parse_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
