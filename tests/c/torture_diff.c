/* Line diffs (core/diff.c): the unified format `rigelk8s diff` prints, its edge cases
 * (empty texts, everything changed, a last line without a newline, hunks joined or
 * split by the context), and edit scripts of the minimal length on large inputs,
 * including the cost-limited split of wholly different texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "diff.h"

static char *diff_ctx(const char *a, const char *b, int context)
{
    rk_buf out = RK_BUF_INIT;
    rk_error err;
    rk_diff_opts opts = {"live", "merged", context};
    assert_int_equal(rk_diff_unified(a, strlen(a), b, strlen(b), &opts, &out, &err), RK_OK);
    char *s = rk_buf_detach(&out, NULL);
    return s ? s : strdup("");
}

#define assert_diff(a, b, context, expected)                                               \
    do {                                                                                   \
        char *d_ = diff_ctx(a, b, context);                                                \
        assert_string_equal(d_, expected);                                                 \
        free(d_);                                                                          \
    } while (0)

static void test_equal_texts_give_nothing(void **state)
{
    (void)state;
    assert_diff("", "", 3, "");
    assert_diff("a\nb\n", "a\nb\n", 3, "");
    assert_diff("a\nb", "a\nb", 3, "");
}

static void test_empty_side(void **state)
{
    (void)state;
    /* An empty text has no lines: a new object is all '+', nothing else. */
    assert_diff("", "a\nb\n", 3, "--- live\n+++ merged\n@@ -0,0 +1,2 @@\n+a\n+b\n");
    assert_diff("a\nb\n", "", 3, "--- live\n+++ merged\n@@ -1,2 +0,0 @@\n-a\n-b\n");
}

static void test_all_changed(void **state)
{
    (void)state;
    assert_diff("a\nb\n", "c\nd\n", 3, "--- live\n+++ merged\n@@ -1,2 +1,2 @@\n-a\n-b\n+c\n+d\n");
}

static void test_one_change_with_context(void **state)
{
    (void)state;
    assert_diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n", 3,
                "--- live\n+++ merged\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
    assert_diff("1\n2\n3\n", "1\nX\n3\n", 0, "--- live\n+++ merged\n@@ -2,1 +2,1 @@\n-2\n+X\n");
    /* Insertions and deletions alone. */
    assert_diff("1\n2\n3\n", "1\n2\nnew\n3\n", 1,
                "--- live\n+++ merged\n@@ -2,2 +2,3 @@\n 2\n+new\n 3\n");
    assert_diff("1\n2\n3\n", "1\n3\n", 1, "--- live\n+++ merged\n@@ -1,3 +1,2 @@\n 1\n-2\n 3\n");
    /* Without context an empty range names the line before it, as GNU diff -U0 does. */
    assert_diff("1\n2\n3\n", "1\n2\nnew\n3\n", 0, "--- live\n+++ merged\n@@ -2,0 +3,1 @@\n+new\n");
    assert_diff("1\n2\n3\n", "1\n3\n", 0, "--- live\n+++ merged\n@@ -2,1 +1,0 @@\n-2\n");
    assert_diff("1\n", "new\n1\n", 0, "--- live\n+++ merged\n@@ -0,0 +1,1 @@\n+new\n");
}

static void test_no_trailing_newline(void **state)
{
    (void)state;
    /* Only the final newline differs: that is a change, and the line without one says so. */
    assert_diff("a\nb", "a\nb\n", 3,
                "--- live\n+++ merged\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
    assert_diff("a\nb\n", "a\nb", 3,
                "--- live\n+++ merged\n@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n");
    assert_diff("a\nb", "a\nc", 3,
                "--- live\n+++ merged\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n"
                "+c\n\\ No newline at end of file\n");
    /* An unchanged last line without a newline, shown as context. */
    assert_diff("x\nz", "y\nz", 3,
                "--- live\n+++ merged\n@@ -1,2 +1,2 @@\n-x\n+y\n z\n\\ No newline at end of file\n");
    assert_diff("", "a", 3, "--- live\n+++ merged\n@@ -0,0 +1,1 @@\n+a\n\\ No newline at end of file\n");
}

static void test_hunks_joined_or_split_by_context(void **state)
{
    (void)state;
    char a[256] = "", b6[256] = "", b7[256] = "";
    for (int i = 1; i <= 20; i++) {
        char line[16];
        snprintf(line, sizeof line, "%d\n", i);
        strcat(a, line);
        strcat(b6, i == 5 || i == 12 ? "X\n" : line); /* 6 unchanged lines between */
        strcat(b7, i == 5 || i == 13 ? "X\n" : line); /* 7 */
    }
    assert_diff(a, b6, 3,
                "--- live\n+++ merged\n@@ -2,14 +2,14 @@\n 2\n 3\n 4\n-5\n+X\n 6\n 7\n 8\n 9\n 10\n"
                " 11\n-12\n+X\n 13\n 14\n 15\n");
    assert_diff(a, b7, 3,
                "--- live\n+++ merged\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+X\n 6\n 7\n 8\n"
                "@@ -10,7 +10,7 @@\n 10\n 11\n 12\n-13\n+X\n 14\n 15\n 16\n");
}

static void test_carriage_returns_are_kept(void **state)
{
    (void)state;
    assert_diff("a\r\nb\r\n", "a\r\nc\r\n", 3, "--- live\n+++ merged\n@@ -1,2 +1,2 @@\n a\r\n-b\r\n+c\r\n");
}

static void count_changes(const char *d, size_t *minus, size_t *plus)
{
    *minus = *plus = 0;
    for (const char *p = d; *p;) {
        const char *nl = strchr(p, '\n');
        if (p[0] == '-' && strncmp(p, "--- ", 4) != 0)
            (*minus)++;
        if (p[0] == '+' && strncmp(p, "+++ ", 4) != 0)
            (*plus)++;
        p = nl ? nl + 1 : p + strlen(p);
    }
}

/* Unique lines, so the minimal edit script is known: every deleted or replaced line is a
 * '-', every inserted or replacing line a '+'. */
static void test_minimal_on_large_unique_input(void **state)
{
    (void)state;
    rk_buf a = RK_BUF_INIT, b = RK_BUF_INIT;
    size_t deleted = 0, inserted = 0;
    for (int i = 0; i < 8000; i++) {
        rk_buf_printf(&a, "line %d\n", i);
        if (i % 131 == 0) {
            rk_buf_printf(&b, "replaced %d\n", i);
            deleted++, inserted++;
        } else if (i % 100 == 0) {
            deleted++;
        } else {
            rk_buf_printf(&b, "line %d\n", i);
        }
        if (i % 77 == 0) {
            rk_buf_printf(&b, "inserted %d\n", i);
            inserted++;
        }
    }
    char *d = diff_ctx(a.data, b.data, 3);
    size_t minus, plus;
    count_changes(d, &minus, &plus);
    assert_int_equal(minus, deleted);
    assert_int_equal(plus, inserted);
    free(d);
    rk_buf_free(&a);
    rk_buf_free(&b);
}

/* Nothing in common: past the cost limit the split is heuristic, and the script must
 * still delete every line and insert every line, once. */
static void test_wholly_different_texts(void **state)
{
    (void)state;
    rk_buf a = RK_BUF_INIT, b = RK_BUF_INIT;
    for (int i = 0; i < 12000; i++) {
        rk_buf_printf(&a, "a%d\n", i);
        rk_buf_printf(&b, "b%d\n", i);
    }
    char *d = diff_ctx(a.data, b.data, 3);
    size_t minus, plus;
    count_changes(d, &minus, &plus);
    assert_int_equal(minus, 12000);
    assert_int_equal(plus, 12000);
    assert_non_null(strstr(d, "@@ -1,12000 +1,12000 @@\n"));
    free(d);
    rk_buf_free(&a);
    rk_buf_free(&b);
}

/* Repeated lines (the same keys in every object) with a far change: the context of the
 * hunk is the lines around the change, not a distant equal line. */
static void test_repeated_lines(void **state)
{
    (void)state;
    assert_diff("x\ny\nx\ny\nx\ny\n", "x\ny\nx\nz\nx\ny\n", 1,
                "--- live\n+++ merged\n@@ -3,3 +3,3 @@\n x\n-y\n+z\n x\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_texts_give_nothing),
        cmocka_unit_test(test_empty_side),
        cmocka_unit_test(test_all_changed),
        cmocka_unit_test(test_one_change_with_context),
        cmocka_unit_test(test_no_trailing_newline),
        cmocka_unit_test(test_hunks_joined_or_split_by_context),
        cmocka_unit_test(test_carriage_returns_are_kept),
        cmocka_unit_test(test_minimal_on_large_unique_input),
        cmocka_unit_test(test_wholly_different_texts),
        cmocka_unit_test(test_repeated_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
