/* base64: the one rule every caller reads by (kubeconfig *-data fields, YAML !!binary):
 * standard alphabet, white space skipped anywhere, padding required, nothing after it;
 * messages that say how and where without quoting the text; encode/decode round trips
 * over every length and byte value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base64.h"

static void expect_bytes(const char *text, const char *want, size_t want_len)
{
    unsigned char *out = (unsigned char *)1;
    size_t n = 99;
    rk_error err = {0};
    rk_status st = rk_base64_decode(text, strlen(text), &out, &n, &err);
    if (st != RK_OK)
        fail_msg("decoding \"%s\" failed: %s", text, err.msg);
    assert_int_equal(n, want_len);
    assert_memory_equal(out, want, want_len);
    assert_int_equal(out[n], '\0');
    free(out);
}

static void expect_error(const char *text, const char *msg)
{
    unsigned char *out = (unsigned char *)1;
    size_t n = 99;
    rk_error err = {0};
    rk_status st = rk_base64_decode(text, strlen(text), &out, &n, &err);
    if (st == RK_OK)
        fail_msg("expected \"%s\" to be refused", text);
    assert_int_equal(st, RK_ERR_PARSE);
    assert_null(out);
    assert_int_equal(n, 0);
    if (strcmp(err.msg, msg) != 0)
        fail_msg("for \"%s\"\n  got:  %s\n  want: %s", text, err.msg, msg);
}

static void test_padding_is_required(void **state)
{
    (void)state;
    expect_bytes("", "", 0);
    expect_bytes("aGk=", "hi", 2);
    expect_bytes("aGVsbG8=", "hello", 5);
    expect_bytes("aA==", "h", 1);
    expect_bytes("aGVs", "hel", 3);
    /* Go's StdEncoding and PyYAML refuse these too */
    expect_error("aGk", "missing '=' padding at the end (the last group has 3 characters; "
                        "base64 comes in groups of 4)");
    expect_error("aA=", "missing '=' padding at the end (the last group has 3 characters; "
                        "base64 comes in groups of 4)");
    expect_error("aGVsbG8", "missing '=' padding at the end (the last group has 3 "
                            "characters; base64 comes in groups of 4)");
    expect_error("a", "ends with a lone character (the last group of 4 needs at least 2 "
                      "before its padding)");
    expect_error("aGVsb", "ends with a lone character (the last group of 4 needs at least 2 "
                          "before its padding)");
    expect_error("aGk==", "'=' padding where none belongs (byte 5)");
    expect_error("aA===", "'=' padding where none belongs (byte 5)");
    expect_error("=", "'=' padding where none belongs (byte 1)");
    expect_error("aGVs=", "'=' padding where none belongs (byte 5)");
    expect_error("a===", "'=' padding where none belongs (byte 2)");
    expect_error("aGk=aGk=", "data after the '=' padding (byte 5)");
    expect_error("aA==aA==", "data after the '=' padding (byte 5)");
}

static void test_white_space_is_skipped_anywhere(void **state)
{
    (void)state;
    /* YAML !!binary: wrapped lines (literal) or folded into spaces (plain) */
    expect_bytes("aGVs\nbG8=\n", "hello", 5);
    expect_bytes("aGVs\r\nbG8=\r\n", "hello", 5);
    expect_bytes("  aGVs bG8=  ", "hello", 5);
    expect_bytes("\taG\tVs\nbG\n8\n=", "hello", 5);
    expect_bytes("aA=\n=", "h", 1);
    expect_bytes(" \n\t\r", "", 0);
    expect_bytes("aGk= \n", "hi", 2);
    expect_error("aGk= \nx", "data after the '=' padding (byte 7)");
}

static void test_characters_outside_the_alphabet(void **state)
{
    (void)state;
    const char *bad = "byte %d is not a base64 character (A-Z a-z 0-9 + /, then = padding)";
    char msg[200];
    /* the URL-safe alphabet, other white space, control and non-ASCII bytes, NUL */
    static const struct {
        const char *text;
        int at;
    } cases[] = {{"aGk-", 4}, {"aG_=", 3}, {"aGk\v", 4}, {"aGk\f", 4}, {"$aGk=", 1},
                 {"aGk=\x01", 5}, {"aG\xc3\xa9", 3}, {"aGVs!bG8=", 5}, {".", 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(msg, sizeof msg, bad, cases[i].at);
        expect_error(cases[i].text, msg);
    }
    unsigned char *out;
    size_t n;
    rk_error err;
    assert_int_equal(rk_base64_decode("aG\0k", 4, &out, &n, &err), RK_ERR_PARSE);
    assert_string_equal(err.msg, "byte 3 is not a base64 character (A-Z a-z 0-9 + /, then "
                                 "= padding)");
    /* the text (a key, say) never appears in the message */
    assert_int_equal(rk_base64_decode("S3CR3T!", 7, &out, &n, &err), RK_ERR_PARSE);
    assert_null(strstr(err.msg, "S3CR3T"));
}

static void test_unused_bits_are_ignored(void **state)
{
    (void)state;
    /* "aB==" and "aGl=" carry bits past the last byte: Go's StdEncoding ignores them */
    expect_bytes("aB==", "h", 1);
    expect_bytes("aGl=", "hi", 2);
}

static void test_encode_round_trips(void **state)
{
    (void)state;
    rk_buf b = RK_BUF_INIT;
    rk_base64_encode(&b, "", 0);
    assert_null(b.data);
    static const struct {
        const char *in, *out;
    } known[] = {{"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
                 {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}}; /* RFC 4648 section 10 */
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        b.len = 0;
        rk_base64_encode(&b, known[i].in, strlen(known[i].in));
        assert_string_equal(b.data, known[i].out);
        expect_bytes(known[i].out, known[i].in, strlen(known[i].in));
    }
    unsigned char data[300];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof data; len++) {
        b.len = 0;
        rk_base64_encode(&b, data, len);
        assert_int_equal(b.len, (len + 2) / 3 * 4);
        unsigned char *out;
        size_t n;
        rk_error err;
        assert_int_equal(rk_base64_decode(b.data ? b.data : "", b.len, &out, &n, &err), RK_OK);
        assert_int_equal(n, len);
        assert_memory_equal(out, data, len);
        free(out);
    }
    rk_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_padding_is_required),
        cmocka_unit_test(test_white_space_is_skipped_anywhere),
        cmocka_unit_test(test_characters_outside_the_alphabet),
        cmocka_unit_test(test_unused_bits_are_ignored),
        cmocka_unit_test(test_encode_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
