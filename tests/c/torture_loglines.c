/* The log line splitter (splitters.h, rk_lines_*): lines split across chunks at every byte,
 * blank lines and CRLF, a partial last line, lines longer than the limit cut with the
 * dropped byte count and bounded memory (a 64 MB line fed in pieces holds at most the
 * limit), and a callback that stops the feed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "watch.h"

typedef struct {
    char *text[64];
    size_t len[64], dropped[64];
    int partial[64];
    size_t n, total;   /* lines kept, lines seen */
    size_t max_pending; /* the most bytes the splitter held between feeds */
    int fail_at;        /* 1-based line whose callback fails (0: never) */
} got;

static rk_status on_line(void *ud, const char *line, size_t len, size_t dropped, int partial)
{
    got *g = ud;
    g->total++;
    if (g->fail_at && (int)g->total == g->fail_at)
        return RK_ERR_INVALID;
    if (g->n < 64) {
        g->text[g->n] = malloc(len + 1);
        assert_non_null(g->text[g->n]);
        memcpy(g->text[g->n], line, len);
        g->text[g->n][len] = '\0';
        g->len[g->n] = len;
        g->dropped[g->n] = dropped;
        g->partial[g->n] = partial;
        g->n++;
    }
    return RK_OK;
}

static void got_free(got *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->text[i]);
    memset(g, 0, sizeof *g);
}

static const char text3[] = "first line\n\nthird line\r\nno newline at the end";

static void check3(const got *g)
{
    assert_int_equal(g->n, 4);
    assert_string_equal(g->text[0], "first line");
    assert_string_equal(g->text[1], "");
    assert_string_equal(g->text[2], "third line");
    assert_string_equal(g->text[3], "no newline at the end");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(g->partial[i], 0);
        assert_int_equal(g->dropped[i], 0);
    }
    assert_int_equal(g->partial[3], 1);
}

static void test_whole_chunk_and_partial_end(void **state)
{
    (void)state;
    rk_line_splitter s;
    got g = {0};
    rk_lines_init(&s, 0);
    assert_int_equal(rk_lines_feed(&s, text3, strlen(text3), on_line, &g, NULL), RK_OK);
    assert_int_equal(g.n, 3);
    assert_int_equal(rk_lines_pending(&s), strlen("no newline at the end"));
    assert_int_equal(rk_lines_finish(&s, on_line, &g), RK_OK);
    check3(&g);
    /* finishing again delivers nothing more */
    assert_int_equal(rk_lines_finish(&s, on_line, &g), RK_OK);
    assert_int_equal(g.n, 4);
    got_free(&g);
    rk_lines_free(&s);
}

static void test_every_split_point(void **state)
{
    (void)state;
    size_t n = strlen(text3);
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b++) {
            rk_line_splitter s;
            got g = {0};
            rk_lines_init(&s, 0);
            assert_int_equal(rk_lines_feed(&s, text3, a, on_line, &g, NULL), RK_OK);
            assert_int_equal(rk_lines_feed(&s, text3 + a, b - a, on_line, &g, NULL), RK_OK);
            assert_int_equal(rk_lines_feed(&s, text3 + b, n - b, on_line, &g, NULL), RK_OK);
            assert_int_equal(rk_lines_finish(&s, on_line, &g), RK_OK);
            check3(&g);
            got_free(&g);
            rk_lines_free(&s);
        }
    }
}

static void test_byte_by_byte(void **state)
{
    (void)state;
    rk_line_splitter s;
    got g = {0};
    rk_lines_init(&s, 0);
    for (size_t i = 0; i < strlen(text3); i++)
        assert_int_equal(rk_lines_feed(&s, text3 + i, 1, on_line, &g, NULL), RK_OK);
    assert_int_equal(rk_lines_finish(&s, on_line, &g), RK_OK);
    check3(&g);
    got_free(&g);
    rk_lines_free(&s);
}

/* A line over the limit keeps its first max_line bytes and counts the rest, whether it
 * arrives in one chunk or across many; the next line is whole again. */
static void test_long_line_is_cut(void **state)
{
    (void)state;
    const size_t max = 16;
    char line[100];
    memset(line, 'x', sizeof line);
    for (size_t chunk = 1; chunk <= sizeof line + 10; chunk += 7) {
        rk_line_splitter s;
        got g = {0};
        rk_lines_init(&s, max);
        char buf[200];
        memcpy(buf, "short\n", 6);
        memcpy(buf + 6, line, sizeof line);
        memcpy(buf + 6 + sizeof line, "\nafter\n", 7);
        size_t total = 6 + sizeof line + 7;
        for (size_t off = 0; off < total; off += chunk) {
            size_t k = total - off < chunk ? total - off : chunk;
            assert_int_equal(rk_lines_feed(&s, buf + off, k, on_line, &g, NULL), RK_OK);
            assert_true(rk_lines_pending(&s) <= max);
        }
        assert_int_equal(g.n, 3);
        assert_string_equal(g.text[0], "short");
        assert_int_equal(g.len[1], max);
        assert_int_equal(g.dropped[1], sizeof line - max);
        assert_int_equal(g.partial[1], 0);
        assert_string_equal(g.text[2], "after");
        assert_int_equal(g.dropped[2], 0);
        got_free(&g);
        rk_lines_free(&s);
    }
}

/* A line of exactly the limit is whole; one byte more is cut by one. */
static void test_limit_edges(void **state)
{
    (void)state;
    rk_line_splitter s;
    got g = {0};
    rk_lines_init(&s, 4);
    assert_int_equal(rk_lines_feed(&s, "abcd\nabcde\n", 11, on_line, &g, NULL), RK_OK);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.text[0], "abcd");
    assert_int_equal(g.dropped[0], 0);
    assert_string_equal(g.text[1], "abcd");
    assert_int_equal(g.dropped[1], 1);
    got_free(&g);
    rk_lines_free(&s);
}

/* 64 MB without a newline, in 64 kB pieces, then the stream ends: one partial line of
 * the default 1 MiB limit, the rest counted, and never more than 1 MiB held. */
static void test_64mb_line_bounded(void **state)
{
    (void)state;
    const size_t piece = 64 * 1024, total = 64u * 1024u * 1024u;
    char *buf = malloc(piece);
    assert_non_null(buf);
    memset(buf, 'y', piece);
    rk_line_splitter s;
    got g = {0};
    rk_lines_init(&s, 0);
    for (size_t off = 0; off < total; off += piece) {
        assert_int_equal(rk_lines_feed(&s, buf, piece, on_line, &g, NULL), RK_OK);
        assert_true(rk_lines_pending(&s) <= RK_LOG_MAX_LINE);
        assert_true(s.pending.cap <= 2 * RK_LOG_MAX_LINE + 64);
    }
    assert_int_equal(g.n, 0);
    assert_int_equal(rk_lines_finish(&s, on_line, &g), RK_OK);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.len[0], RK_LOG_MAX_LINE);
    assert_int_equal(g.dropped[0], total - RK_LOG_MAX_LINE);
    assert_int_equal(g.partial[0], 1);
    got_free(&g);
    rk_lines_free(&s);
    free(buf);
}

/* A cut CR (the limit falls between the text and its CR) is not taken for CRLF. */
static void test_crlf_only_when_whole(void **state)
{
    (void)state;
    rk_line_splitter s;
    got g = {0};
    rk_lines_init(&s, 3);
    assert_int_equal(rk_lines_feed(&s, "ab\r\nabc\r\n", 9, on_line, &g, NULL), RK_OK);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.text[0], "ab");
    assert_string_equal(g.text[1], "abc");
    assert_int_equal(g.dropped[1], 1);
    got_free(&g);
    rk_lines_free(&s);
}

static void test_callback_failure_stops(void **state)
{
    (void)state;
    rk_line_splitter s;
    got g = {.fail_at = 2};
    rk_lines_init(&s, 0);
    assert_int_equal(rk_lines_feed(&s, "a\nb\nc\n", 6, on_line, &g, NULL), RK_ERR_INVALID);
    assert_int_equal(g.n, 1);
    got_free(&g);
    rk_lines_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_chunk_and_partial_end),
        cmocka_unit_test(test_every_split_point),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_long_line_is_cut),
        cmocka_unit_test(test_limit_edges),
        cmocka_unit_test(test_64mb_line_bounded),
        cmocka_unit_test(test_crlf_only_when_whole),
        cmocka_unit_test(test_callback_failure_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
