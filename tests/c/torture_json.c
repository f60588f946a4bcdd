/* JSON: integers vs floats (exact up to int64), key order and duplicate keys, escapes
 * and surrogates, errors with byte offsets, the depth limit, the exact text the encoder
 * writes (compact and indented), and seeded random round trips. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "json.h"
#include "value.h"

static rk_value *decode_ok(const char *text)
{
    rk_value *v = NULL;
    rk_error err = {0};
    if (rk_json_decode(text, strlen(text), &v, &err) != RK_OK)
        fail_msg("unexpected decode error: %s\n--- input:\n%s", err.msg, text);
    return v;
}

static void expect_error(const char *text, const char *msg)
{
    rk_value *v = (rk_value *)1;
    rk_error err = {0};
    rk_status st = rk_json_decode(text, strlen(text), &v, &err);
    if (st == RK_OK)
        fail_msg("expected an error for: %s", text);
    assert_int_equal(st, RK_ERR_PARSE);
    assert_null(v);
    if (strcmp(err.msg, msg) != 0)
        fail_msg("error message\n  got:  %s\n  want: %s", err.msg, msg);
}

static char *encode(const rk_value *v, int indent)
{
    rk_buf b = RK_BUF_INIT;
    rk_error err = {0};
    if (rk_json_encode(v, indent, &b, &err) != RK_OK)
        fail_msg("encode failed: %s", err.msg);
    return rk_buf_detach(&b, NULL);
}

/* decode text, encode compactly, compare with want */
static void expect_reencode(const char *text, const char *want)
{
    rk_value *v = decode_ok(text);
    char *out = encode(v, 0);
    if (strcmp(out, want) != 0)
        fail_msg("re-encoding %s\n  got:  %s\n  want: %s", text, out, want);
    free(out);
    rk_value_free(v);
}

static void test_numbers_keep_integer_ness(void **state)
{
    (void)state;
    rk_value *v = decode_ok("[0, -0, 1, -7, 9007199254740992, 9007199254740993, "
                            "9223372036854775807, -9223372036854775808, 9223372036854775808, "
                            "1.0, 1e3, 2.5E-3, -0.0, 12345678901234567890]");
    static const rk_type types[] = {RK_INT,   RK_INT,   RK_INT,   RK_INT,   RK_INT,
                                    RK_INT,   RK_INT,   RK_INT,   RK_FLOAT, RK_FLOAT,
                                    RK_FLOAT, RK_FLOAT, RK_FLOAT, RK_FLOAT};
    assert_int_equal(rk_value_len(v), sizeof types / sizeof types[0]);
    for (size_t i = 0; i < rk_value_len(v); i++)
        if (rk_seq_get(v, i)->type != types[i])
            fail_msg("item %zu: got %s", i, rk_type_name(rk_seq_get(v, i)->type));
    assert_int_equal(rk_seq_get(v, 5)->as.integer, 9007199254740993LL);
    assert_int_equal(rk_seq_get(v, 6)->as.integer, INT64_MAX);
    assert_int_equal(rk_seq_get(v, 7)->as.integer, INT64_MIN);
    assert_true(rk_seq_get(v, 8)->as.number == 9223372036854775808.0);
    assert_true(signbit(rk_seq_get(v, 12)->as.number));
    rk_value_free(v);
    expect_reencode("[1.0,1e3,0.1,-0.0,1e300,123456789012345678901234567890]",
                    "[1.0,1000.0,0.1,-0.0,1e+300,1.2345678901234568e+29]");
    expect_reencode("[9007199254740993,-9223372036854775808]",
                    "[9007199254740993,-9223372036854775808]");
}

static void test_key_order_and_duplicates(void **state)
{
    (void)state;
    expect_reencode("{\"z\":1,\"a\":2,\"m\":{\"y\":[],\"b\":{}}}",
                    "{\"z\":1,\"a\":2,\"m\":{\"y\":[],\"b\":{}}}");
    /* a repeated key keeps its first place and takes the last value */
    expect_reencode("{\"a\":1,\"b\":2,\"a\":3}", "{\"a\":3,\"b\":2}");
    rk_buf b = RK_BUF_INIT;
    rk_buf_putc(&b, '{');
    for (int i = 0; i < 100; i++)
        rk_buf_printf(&b, "\"k%d\":%d,", i, i);
    rk_buf_puts(&b, "\"k42\":\"last\"}");
    rk_value *v = decode_ok(b.data);
    assert_int_equal(rk_value_len(v), 100);
    assert_string_equal(rk_map_get_cstr(v, "k42")->as.str.ptr, "last");
    assert_string_equal(v->as.map.items[42].key, "k42");
    rk_value_free(v);
    rk_buf_free(&b);
}

static void test_strings_and_escapes(void **state)
{
    (void)state;
    rk_value *v = decode_ok("[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\", \"\\u00e9\\u2603\", "
                            "\"\\ud83d\\ude00\", \"\\u0000x\", \"h\xc3\xa9llo\", \"\"]");
    assert_string_equal(rk_seq_get(v, 0)->as.str.ptr, "a\"b\\c/d\b\f\n\r\t");
    assert_string_equal(rk_seq_get(v, 1)->as.str.ptr, "\xc3\xa9\xe2\x98\x83");
    assert_string_equal(rk_seq_get(v, 2)->as.str.ptr, "\xf0\x9f\x98\x80");
    assert_int_equal(rk_seq_get(v, 3)->as.str.len, 2);
    assert_memory_equal(rk_seq_get(v, 3)->as.str.ptr, "\0x", 2);
    assert_string_equal(rk_seq_get(v, 4)->as.str.ptr, "h\xc3\xa9llo");
    assert_int_equal(rk_seq_get(v, 5)->as.str.len, 0);
    char *out = encode(v, 0);
    assert_string_equal(out, "[\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\",\"\xc3\xa9\xe2\x98\x83\","
                             "\"\xf0\x9f\x98\x80\",\"\\u0000x\",\"h\xc3\xa9llo\",\"\"]");
    free(out);
    rk_value_free(v);

    /* control characters are escaped, invalid UTF-8 becomes U+FFFD */
    rk_value *s = rk_string_new("\x01\x1f\x7f ok \xff \xc3\x28", 11);
    out = encode(s, 0);
    assert_string_equal(out, "\"\\u0001\\u001f\x7f ok \xef\xbf\xbd \xef\xbf\xbd(\"");
    free(out);
    rk_value_free(s);
}

static void test_errors_carry_byte_offsets(void **state)
{
    (void)state;
    expect_error("", "JSON parse error at byte 0 (line 1, column 1): unexpected end of input; "
                     "expected a value");
    expect_error("[1,", "JSON parse error at byte 3 (line 1, column 4): unexpected end of "
                        "input; expected a value");
    expect_error("{\"a\" 1}", "JSON parse error at byte 5 (line 1, column 6): expected ':' "
                              "after an object key, found '1'");
    expect_error("{\"a\":1,}", "JSON parse error at byte 7 (line 1, column 8): expected a "
                               "string key, found '}'");
    expect_error("[1 2]", "JSON parse error at byte 3 (line 1, column 4): expected ',' or "
                          "']' in array, found '2'");
    expect_error("{\n  \"x\": [1,\n tru]}", "JSON parse error at byte 14 (line 3, column 2): "
                                            "invalid literal; expected true");
    expect_error("01", "JSON parse error at byte 0 (line 1, column 1): numbers cannot have "
                       "leading zeros");
    expect_error("1.", "JSON parse error at byte 2 (line 1, column 3): expected a digit after "
                       "the decimal point");
    expect_error("1e", "JSON parse error at byte 2 (line 1, column 3): expected a digit in "
                       "the exponent");
    expect_error("-", "JSON parse error at byte 1 (line 1, column 2): expected a digit, found "
                      "end of input");
    expect_error("1e999", "JSON parse error at byte 0 (line 1, column 1): number out of range "
                          "for a double");
    expect_error("NaN", "JSON parse error at byte 0 (line 1, column 1): unexpected 'N'; "
                        "expected a value");
    expect_error("\"abc", "JSON parse error at byte 0 (line 1, column 1): unterminated string");
    expect_error("\"a\tb\"", "JSON parse error at byte 2 (line 1, column 3): control character "
                             "(byte 0x09) inside a string; escape it");
    expect_error("\"\\x\"", "JSON parse error at byte 1 (line 1, column 2): invalid escape '\\x'");
    expect_error("\"\\u12\"", "JSON parse error at byte 1 (line 1, column 2): invalid \\u "
                              "escape: expected 4 hex digits");
    expect_error("\"\\ud800\"", "JSON parse error at byte 1 (line 1, column 2): invalid \\u "
                                "escape: high surrogate without a low one");
    expect_error("\"\\udc00\"", "JSON parse error at byte 1 (line 1, column 2): invalid \\u "
                                "escape: lone low surrogate");
    expect_error("{} x", "JSON parse error at byte 3 (line 1, column 4): unexpected 'x' after "
                         "the JSON value");
    expect_error("[\"\xc3\xa9\", x]", "JSON parse error at byte 7 (line 1, column 7): "
                                      "unexpected 'x'; expected a value");
}

static void test_whitespace_bom_and_length(void **state)
{
    (void)state;
    rk_value *v = decode_ok("\xef\xbb\xbf \r\n\t{ \"a\" : [ ] }\n ");
    assert_int_equal(rk_map_get_cstr(v, "a")->type, RK_SEQ);
    rk_value_free(v);
    /* only len bytes are read */
    rk_error err = {0};
    assert_int_equal(rk_json_decode("[1]]]", 3, &v, &err), RK_OK);
    rk_value_free(v);
    assert_int_equal(rk_json_decode("truex", 4, &v, &err), RK_OK);
    assert_int_equal(v->type, RK_BOOL);
    rk_value_free(v);
}

static void test_positions(void **state)
{
    (void)state;
    rk_value *v = decode_ok("{\n  \"a\": [1,\n    {\"b\": true}]\n}");
    assert_int_equal(v->line, 1);
    rk_value *a = rk_map_get_cstr(v, "a");
    assert_int_equal(a->line, 2);
    assert_int_equal(a->col, 8);
    assert_int_equal(v->as.map.items[0].key_line, 2);
    assert_int_equal(v->as.map.items[0].key_col, 3);
    assert_int_equal(rk_seq_get(a, 1)->line, 3);
    assert_int_equal(rk_seq_get(a, 1)->col, 5);
    rk_value_free(v);
}

static void test_depth_limit(void **state)
{
    (void)state;
    rk_buf b = RK_BUF_INIT;
    for (int i = 0; i < RK_MAX_DEPTH; i++)
        rk_buf_putc(&b, '[');
    for (int i = 0; i < RK_MAX_DEPTH; i++)
        rk_buf_putc(&b, ']');
    rk_value *v = decode_ok(b.data);
    char *out = encode(v, 0);
    assert_string_equal(out, b.data);
    free(out);
    rk_value_free(v);
    rk_buf_free(&b);
    for (int i = 0; i <= RK_MAX_DEPTH; i++)
        rk_buf_puts(&b, "{\"a\":");
    rk_buf_putc(&b, '1');
    for (int i = 0; i <= RK_MAX_DEPTH; i++)
        rk_buf_putc(&b, '}');
    expect_error(b.data, "JSON parse error at byte 5000 (line 1, column 5001): nesting deeper "
                         "than 1000 levels");
    rk_buf_free(&b);
}

static void test_encode_text(void **state)
{
    (void)state;
    rk_value *v = decode_ok("{\"a\":[1,2.5,{}],\"b\":{\"c\":null,\"d\":[]},\"e\":true,\"f\":\"x\"}");
    char *out = encode(v, 2);
    assert_string_equal(out, "{\n"
                             "  \"a\": [\n"
                             "    1,\n"
                             "    2.5,\n"
                             "    {}\n"
                             "  ],\n"
                             "  \"b\": {\n"
                             "    \"c\": null,\n"
                             "    \"d\": []\n"
                             "  },\n"
                             "  \"e\": true,\n"
                             "  \"f\": \"x\"\n"
                             "}");
    free(out);
    out = encode(v, 0);
    assert_string_equal(out, "{\"a\":[1,2.5,{}],\"b\":{\"c\":null,\"d\":[]},\"e\":true,\"f\":\"x\"}");
    free(out);
    rk_value_free(v);
}

static void test_encode_refuses_nan_and_infinity(void **state)
{
    (void)state;
    rk_value *m = rk_map_new();
    rk_value *l = rk_seq_new();
    rk_seq_push(l, rk_int_new(1));
    rk_seq_push(l, rk_float_new(NAN));
    rk_map_append(m, "spec", 4, l);
    rk_buf b = RK_BUF_INIT;
    rk_error err = {0};
    assert_int_equal(rk_json_encode(m, 0, &b, &err), RK_ERR_INVALID);
    assert_string_equal(err.msg, "cannot encode NaN as JSON at spec[1]");
    rk_buf_free(&b);
    rk_value_free(m);
    rk_value *inf = rk_float_new(-INFINITY);
    assert_int_equal(rk_json_encode(inf, 0, &b, &err), RK_ERR_INVALID);
    assert_string_equal(err.msg, "cannot encode an infinite number as JSON");
    rk_buf_free(&b);
    rk_value_free(inf);
}

/* ---- seeded random trees ----------------------------------------------------------- */

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static rk_value *random_string(void)
{
    char buf[24];
    size_t n = rng() % sizeof buf;
    static const char alphabet[] = "ab\"\\/\n\t\x01\x1f \xc3\xa9z{}[]:,";
    for (size_t i = 0; i < n; i++)
        buf[i] = alphabet[rng() % (sizeof alphabet - 1)];
    /* keep it valid UTF-8: a lone lead byte is dropped */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)buf[i] == 0xc3) {
            if (i + 1 < n && (unsigned char)buf[i + 1] == 0xa9) {
                buf[k++] = buf[i++];
                buf[k++] = buf[i];
            }
            continue;
        }
        if ((unsigned char)buf[i] == 0xa9)
            continue;
        buf[k++] = buf[i];
    }
    return rk_string_new(buf, k);
}

static rk_value *random_tree(int depth)
{
    switch (rng() % (depth > 5 ? 5 : 7)) {
    case 0: return rk_null_new();
    case 1: return rk_bool_new((int)(rng() & 1));
    case 2: return rk_int_new((int64_t)((uint64_t)rng() << 32 | rng()) >> (rng() % 64));
    case 3: {
        double d;
        uint64_t bits = (uint64_t)rng() << 32 | rng();
        memcpy(&d, &bits, sizeof d);
        if (isnan(d) || isinf(d))
            d = -1.25;
        return rk_float_new(d);
    }
    case 4: return random_string();
    case 5: {
        rk_value *s = rk_seq_new();
        for (uint32_t i = 0, n = rng() % 5; i < n; i++)
            rk_seq_push(s, random_tree(depth + 1));
        return s;
    }
    default: {
        rk_value *m = rk_map_new();
        for (uint32_t i = 0, n = rng() % 5; i < n; i++) {
            rk_value *k = random_string();
            if (!rk_map_get(m, k->as.str.ptr, k->as.str.len))
                rk_map_append(m, k->as.str.ptr, k->as.str.len, random_tree(depth + 1));
            rk_value_free(k);
        }
        return m;
    }
    }
}

static void test_random_trees_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < 3000; i++) {
        rk_value *v = random_tree(0);
        for (int indent = 0; indent <= 2; indent += 2) {
            char *text = encode(v, indent);
            rk_value *back = decode_ok(text);
            if (!rk_value_equal(v, back))
                fail_msg("round trip changed the value:\n%s", text);
            rk_value_free(back);
            free(text);
        }
        rk_value_free(v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_keep_integer_ness),
        cmocka_unit_test(test_key_order_and_duplicates),
        cmocka_unit_test(test_strings_and_escapes),
        cmocka_unit_test(test_errors_carry_byte_offsets),
        cmocka_unit_test(test_whitespace_bom_and_length),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_encode_text),
        cmocka_unit_test(test_encode_refuses_nan_and_infinity),
        cmocka_unit_test(test_random_trees_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
