/* YAML: every scalar resolution rule kubectl applies (cases checked against kubectl
 * 1.32 with `kubectl label --local -o json`), tags, keys, anchors and merge keys, the
 * alias-bomb and depth guards, error positions, and dump -> load round trips, including
 * a seeded random-tree round trip and the golden manifest in tests/golden/yaml/. */
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
#include "value.h"
#include "yaml_doc.h"

/* ---- helpers ------------------------------------------------------------------------- */

static rk_value *load_ok(const char *text)
{
    rk_value *docs = NULL;
    rk_error err = {0};
    if (rk_yaml_load(text, strlen(text), "t.yaml", NULL, &docs, &err) != RK_OK)
        fail_msg("unexpected load error: %s\n--- input:\n%s", err.msg, text);
    return docs;
}

/* The first document of text. The caller frees the returned *docs. */
static rk_value *first_doc(const char *text, rk_value **docs)
{
    *docs = load_ok(text);
    assert_true(rk_value_len(*docs) >= 1);
    return rk_seq_get(*docs, 0);
}

static void expect_error(const char *text, rk_status code, const char *msg)
{
    rk_value *docs = (rk_value *)1;
    rk_error err = {0};
    rk_status st = rk_yaml_load(text, strlen(text), "t.yaml", NULL, &docs, &err);
    if (st == RK_OK)
        fail_msg("expected an error for:\n%s", text);
    assert_int_equal(st, code);
    assert_null(docs);
    if (strcmp(err.msg, msg) != 0)
        fail_msg("error message\n  got:  %s\n  want: %s", err.msg, msg);
}

static char *dump_str(const rk_value *v)
{
    rk_buf b = RK_BUF_INIT;
    rk_error err = {0};
    if (rk_yaml_dump(v, &b, &err) != RK_OK)
        fail_msg("dump failed: %s", err.msg);
    return rk_buf_detach(&b, NULL);
}

/* dump v, load it back, require equality; returns nothing, frees everything */
static void assert_roundtrip(const rk_value *v)
{
    char *text = dump_str(v);
    rk_value *docs = NULL;
    rk_error err = {0};
    if (rk_yaml_load(text, strlen(text), "dump", NULL, &docs, &err) != RK_OK)
        fail_msg("dump does not load: %s\n--- dump:\n%s", err.msg, text);
    const rk_value *back = rk_seq_get(docs, 0);
    if (v->type == RK_NULL) {
        assert_int_equal(rk_value_len(docs), 0); /* a null document is dropped */
    } else if (!back || !rk_value_equal(v, back)) {
        fail_msg("round trip changed the value\n--- dump:\n%s", text);
    }
    rk_value_free(docs);
    free(text);
}

/* ---- scalar resolution ------------------------------------------------------------- */

typedef struct {
    const char *text;
    rk_type type;
    int64_t i;
    double f;
    int b;
} scalar_case;

static const scalar_case SCALARS[] = {
    /* null */
    {"~", RK_NULL, 0, 0, 0},
    {"null", RK_NULL, 0, 0, 0},
    {"Null", RK_NULL, 0, 0, 0},
    {"NULL", RK_NULL, 0, 0, 0},
    {"nULL", RK_STRING, 0, 0, 0},
    /* bool, YAML 1.1 spellings */
    {"y", RK_BOOL, 0, 0, 1},
    {"Y", RK_BOOL, 0, 0, 1},
    {"yes", RK_BOOL, 0, 0, 1},
    {"Yes", RK_BOOL, 0, 0, 1},
    {"YES", RK_BOOL, 0, 0, 1},
    {"on", RK_BOOL, 0, 0, 1},
    {"On", RK_BOOL, 0, 0, 1},
    {"ON", RK_BOOL, 0, 0, 1},
    {"true", RK_BOOL, 0, 0, 1},
    {"True", RK_BOOL, 0, 0, 1},
    {"TRUE", RK_BOOL, 0, 0, 1},
    {"n", RK_BOOL, 0, 0, 0},
    {"N", RK_BOOL, 0, 0, 0},
    {"no", RK_BOOL, 0, 0, 0},
    {"No", RK_BOOL, 0, 0, 0},
    {"NO", RK_BOOL, 0, 0, 0},
    {"off", RK_BOOL, 0, 0, 0},
    {"Off", RK_BOOL, 0, 0, 0},
    {"OFF", RK_BOOL, 0, 0, 0},
    {"false", RK_BOOL, 0, 0, 0},
    {"False", RK_BOOL, 0, 0, 0},
    {"FALSE", RK_BOOL, 0, 0, 0},
    {"tRUE", RK_STRING, 0, 0, 0},
    {"yEs", RK_STRING, 0, 0, 0},
    /* integers: strconv.ParseInt(s without '_', 0, 64) */
    {"0", RK_INT, 0, 0, 0},
    {"00", RK_INT, 0, 0, 0},
    {"-0", RK_INT, 0, 0, 0},
    {"12", RK_INT, 12, 0, 0},
    {"+12", RK_INT, 12, 0, 0},
    {"-7", RK_INT, -7, 0, 0},
    {"0x1F", RK_INT, 31, 0, 0},
    {"0X1f", RK_INT, 31, 0, 0},
    {"+0x1f", RK_INT, 31, 0, 0},
    {"-0x1f", RK_INT, -31, 0, 0},
    {"0x_1F", RK_INT, 31, 0, 0},
    {"017", RK_INT, 15, 0, 0},
    {"0o17", RK_INT, 15, 0, 0},
    {"0o_7", RK_INT, 7, 0, 0},
    {"0_7", RK_INT, 7, 0, 0},
    {"0b101", RK_INT, 5, 0, 0},
    {"0B11", RK_INT, 3, 0, 0},
    {"0O17", RK_INT, 15, 0, 0},
    {"+0", RK_INT, 0, 0, 0},
    {"-0b11", RK_INT, -3, 0, 0},
    {"0b-101", RK_INT, -5, 0, 0},
    {"1_000", RK_INT, 1000, 0, 0},
    {"1__0", RK_INT, 10, 0, 0},
    {"9007199254740993", RK_INT, 9007199254740993LL, 0, 0},
    {"9223372036854775807", RK_INT, INT64_MAX, 0, 0},
    {"-9223372036854775808", RK_INT, INT64_MIN, 0, 0},
    /* out of int64 range: a float, as kubectl's JSON shows */
    {"9223372036854775808", RK_FLOAT, 0, 9223372036854775808.0, 0},
    {"-9223372036854775809", RK_FLOAT, 0, -9223372036854775809.0, 0},
    {"18446744073709551615", RK_FLOAT, 0, 18446744073709551615.0, 0},
    /* invalid octal 08 falls through to the float rule */
    {"08", RK_FLOAT, 0, 8.0, 0},
    /* floats */
    {"1.5", RK_FLOAT, 0, 1.5, 0},
    {"-0.25", RK_FLOAT, 0, -0.25, 0},
    {"1.", RK_FLOAT, 0, 1.0, 0},
    {".5", RK_FLOAT, 0, 0.5, 0},
    {"+.5", RK_FLOAT, 0, 0.5, 0},
    {"-.5", RK_FLOAT, 0, -0.5, 0},
    {"1e3", RK_FLOAT, 0, 1000.0, 0},
    {"1E+3", RK_FLOAT, 0, 1000.0, 0},
    {"6.02e-23", RK_FLOAT, 0, 6.02e-23, 0},
    {".5e3", RK_FLOAT, 0, 500.0, 0},
    {"1_0.5", RK_FLOAT, 0, 10.5, 0},
    {"1.5_0", RK_FLOAT, 0, 1.5, 0},
    {".5_5", RK_FLOAT, 0, 0.55, 0},
    {"0.0", RK_FLOAT, 0, 0.0, 0},
    {"08.5", RK_FLOAT, 0, 8.5, 0},
    {"1e-400", RK_FLOAT, 0, 0.0, 0}, /* underflow is not an error in Go */
    {".inf", RK_FLOAT, 0, INFINITY, 0},
    {".Inf", RK_FLOAT, 0, INFINITY, 0},
    {".INF", RK_FLOAT, 0, INFINITY, 0},
    {"+.inf", RK_FLOAT, 0, INFINITY, 0},
    {"-.inf", RK_FLOAT, 0, -INFINITY, 0},
    {"-.INF", RK_FLOAT, 0, -INFINITY, 0},
    {".nan", RK_FLOAT, 0, NAN, 0},
    {".NaN", RK_FLOAT, 0, NAN, 0},
    {".NAN", RK_FLOAT, 0, NAN, 0},
    /* strings that look numeric but are not */
    {"._5", RK_STRING, 0, 0, 0},
    {"_1", RK_STRING, 0, 0, 0},
    {"0x", RK_STRING, 0, 0, 0},
    {"0o", RK_STRING, 0, 0, 0},
    {"0b", RK_STRING, 0, 0, 0},
    {"00x1", RK_STRING, 0, 0, 0},
    {"1e", RK_STRING, 0, 0, 0},
    {"1e400", RK_STRING, 0, 0, 0},  /* overflows: ParseFloat fails, stays text */
    {"0x1p3", RK_STRING, 0, 0, 0},
    {".", RK_STRING, 0, 0, 0},
    {"+", RK_STRING, 0, 0, 0},
    {"-", RK_STRING, 0, 0, 0},
    {"1.2.3", RK_STRING, 0, 0, 0},
    {"0xFFFFFFFFFFFFFFFFF", RK_STRING, 0, 0, 0},
    {"infinity", RK_STRING, 0, 0, 0},
    {".infinity", RK_STRING, 0, 0, 0},
    {"nan", RK_STRING, 0, 0, 0},
    /* timestamps and base 60 stay text */
    {"2001-12-14", RK_STRING, 0, 0, 0},
    {"2001-12-14T21:59:43.10-05:00", RK_STRING, 0, 0, 0},
    {"1:20", RK_STRING, 0, 0, 0},
    {"<<", RK_STRING, 0, 0, 0},
    {"abc", RK_STRING, 0, 0, 0},
    {"12abc", RK_STRING, 0, 0, 0},
};

static void check_scalar(const scalar_case *c, const rk_value *v)
{
    if (v->type != c->type)
        fail_msg("%s: got %s, want %s", c->text, rk_type_name(v->type), rk_type_name(c->type));
    switch (c->type) {
    case RK_INT:
        if (v->as.integer != c->i)
            fail_msg("%s: got %lld", c->text, (long long)v->as.integer);
        break;
    case RK_BOOL:
        assert_int_equal(v->as.boolean, c->b);
        break;
    case RK_FLOAT:
        if (isnan(c->f) ? !isnan(v->as.number) : v->as.number != c->f)
            fail_msg("%s: got %.17g, want %.17g", c->text, v->as.number, c->f);
        break;
    case RK_STRING:
        assert_string_equal(v->as.str.ptr, c->text);
        break;
    default:
        break;
    }
}

static void test_plain_scalars_resolve_like_kubectl(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof SCALARS / sizeof SCALARS[0]; i++) {
        const scalar_case *c = &SCALARS[i];
        assert_int_equal(rk_yaml_plain_type(c->text, strlen(c->text)), c->type);
        if (strcmp(c->text, "-") == 0)
            continue; /* "v: -" would be a block sequence entry */
        char text[128];
        snprintf(text, sizeof text, "v: %s\n", c->text);
        rk_value *docs;
        rk_value *doc = first_doc(text, &docs);
        check_scalar(c, rk_map_get_cstr(doc, "v"));
        rk_value_free(docs);
    }
}

/* PyYAML's YAML 1.1 rules (Rigelfiles): cases checked against PyYAML 6.0 yaml.safe_load. */
static const scalar_case PYYAML_SCALARS[] = {
    {"y", RK_STRING, 0, 0, 0},       {"N", RK_STRING, 0, 0, 0},
    {"yes", RK_BOOL, 0, 0, 1},       {"No", RK_BOOL, 0, 0, 0},
    {"on", RK_BOOL, 0, 0, 1},        {"OFF", RK_BOOL, 0, 0, 0},
    {"TRUE", RK_BOOL, 0, 0, 1},      {"tRue", RK_STRING, 0, 0, 0},
    {"~", RK_NULL, 0, 0, 0},         {"Null", RK_NULL, 0, 0, 0},
    {"0o17", RK_STRING, 0, 0, 0},    {"017", RK_INT, 15, 0, 0},
    {"08", RK_STRING, 0, 0, 0},      {"0x1F", RK_INT, 31, 0, 0},
    {"-0b11", RK_INT, -3, 0, 0},     {"1_000", RK_INT, 1000, 0, 0},
    {"1:30", RK_INT, 90, 0, 0},      {"-190:20:30", RK_INT, -685230, 0, 0},
    {"12:60", RK_STRING, 0, 0, 0},   {"0_", RK_INT, 0, 0, 0},
    {"0b", RK_STRING, 0, 0, 0},      {"1e3", RK_STRING, 0, 0, 0},
    {"1.0e3", RK_STRING, 0, 0, 0},   {"1.0e+3", RK_FLOAT, 0, 1000.0, 0},
    {"1.", RK_FLOAT, 0, 1.0, 0},     {"-.5", RK_STRING, 0, 0, 0},
    {".5", RK_FLOAT, 0, 0.5, 0},     {"3.14_15", RK_FLOAT, 0, 3.1415, 0},
    {"1:30.5", RK_FLOAT, 0, 90.5, 0}, {"-.Inf", RK_FLOAT, 0, -INFINITY, 0},
    {".NaN", RK_FLOAT, 0, NAN, 0},   {"2001-12-14", RK_STRING, 0, 0, 0},
    {"9223372036854775807", RK_INT, INT64_MAX, 0, 0},
    {"9223372036854775808", RK_STRING, 0, 0, 0}, /* beyond int64: kept as text */
};

static rk_value *load_pyyaml(const char *text, const rk_pyyaml_resolver *res, rk_error *err,
                             rk_status *st)
{
    rk_yaml_opts opts = {0};
    opts.pyyaml = res;
    rk_value *docs = NULL;
    *st = rk_yaml_load(text, strlen(text), "Rigelfile", &opts, &docs, err);
    return docs;
}

static void test_pyyaml_scalars(void **state)
{
    (void)state;
    rk_pyyaml_resolver res;
    assert_int_equal(rk_pyyaml_resolver_init(&res), RK_OK);
    for (size_t i = 0; i < sizeof PYYAML_SCALARS / sizeof PYYAML_SCALARS[0]; i++) {
        const scalar_case *c = &PYYAML_SCALARS[i];
        assert_int_equal(rk_yaml_pyyaml_type(&res, c->text, strlen(c->text)), c->type);
        char text[128];
        snprintf(text, sizeof text, "v: %s\n", c->text);
        rk_error err = {0};
        rk_status st;
        rk_value *docs = load_pyyaml(text, &res, &err, &st);
        if (st != RK_OK)
            fail_msg("%s: %s", c->text, err.msg);
        check_scalar(c, rk_map_get_cstr(rk_seq_get(docs, 0), "v"));
        rk_value_free(docs);
    }
    rk_pyyaml_resolver_free(&res);
}

static void test_pyyaml_keys(void **state)
{
    (void)state;
    rk_pyyaml_resolver res;
    assert_int_equal(rk_pyyaml_resolver_init(&res), RK_OK);
    rk_error err = {0};
    rk_status st;
    /* y is the key "y"; on is true, written "true" (as JSON writes PyYAML's True) */
    rk_value *docs = load_pyyaml("y: a\non: b\nn: c\n017: d\n", &res, &err, &st);
    assert_int_equal(st, RK_OK);
    rk_value *doc = rk_seq_get(docs, 0);
    assert_string_equal(rk_map_get_cstr(doc, "y")->as.str.ptr, "a");
    assert_string_equal(rk_map_get_cstr(doc, "true")->as.str.ptr, "b");
    assert_string_equal(rk_map_get_cstr(doc, "n")->as.str.ptr, "c");
    assert_string_equal(rk_map_get_cstr(doc, "15")->as.str.ptr, "d");
    rk_value_free(docs);
    /* on and true are the same key */
    docs = load_pyyaml("on: a\ntrue: b\n", &res, &err, &st);
    assert_int_equal(st, RK_ERR_PARSE);
    assert_non_null(strstr(err.msg, "Rigelfile:2:1: mapping key \"true\" already defined at line 1"));
    /* tags follow PyYAML's rules too: y is no bool there */
    docs = load_pyyaml("v: !!bool y\n", &res, &err, &st);
    assert_int_equal(st, RK_ERR_PARSE);
    assert_non_null(strstr(err.msg, "cannot decode !!str `y` as a !!bool"));
    rk_pyyaml_resolver_free(&res);
    /* the same text under kubectl's rules: y is true */
    docs = load_ok("y: a\n");
    assert_non_null(rk_map_get_cstr(rk_seq_get(docs, 0), "true"));
    rk_value_free(docs);
}

static void test_empty_plain_is_null(void **state)
{
    (void)state;
    rk_value *docs;
    rk_value *doc = first_doc("a:\nb: [~, ]\n", &docs);
    assert_int_equal(rk_map_get_cstr(doc, "a")->type, RK_NULL);
    rk_value_free(docs);
    assert_int_equal(rk_yaml_plain_type("", 0), RK_NULL);
}

static void test_quoted_and_block_scalars_are_strings(void **state)
{
    (void)state;
    rk_value *docs;
    rk_value *doc = first_doc("a: \"123\"\nb: 'yes'\nc: |\n  true\nd: >-\n  12\ne: \"\"\n"
                              "f: '~'\n",
                              &docs);
    assert_string_equal(rk_map_get_cstr(doc, "a")->as.str.ptr, "123");
    assert_string_equal(rk_map_get_cstr(doc, "b")->as.str.ptr, "yes");
    assert_string_equal(rk_map_get_cstr(doc, "c")->as.str.ptr, "true\n");
    assert_string_equal(rk_map_get_cstr(doc, "d")->as.str.ptr, "12");
    assert_int_equal(rk_map_get_cstr(doc, "e")->type, RK_STRING);
    assert_int_equal(rk_map_get_cstr(doc, "e")->as.str.len, 0);
    assert_string_equal(rk_map_get_cstr(doc, "f")->as.str.ptr, "~");
    rk_value_free(docs);
}

static void test_strings_keep_nul_bytes(void **state)
{
    (void)state;
    rk_value *docs;
    rk_value *doc = first_doc("a: \"x\\0y\"\n", &docs);
    rk_value *a = rk_map_get_cstr(doc, "a");
    assert_int_equal(a->as.str.len, 3);
    assert_memory_equal(a->as.str.ptr, "x\0y", 3);
    assert_roundtrip(doc);
    rk_value_free(docs);
}

static void test_explicit_tags(void **state)
{
    (void)state;
    rk_value *docs;
    rk_value *doc = first_doc("a: !!str 12\nb: !!int \"12\"\nc: !!float 1\nd: !!bool \"yes\"\n"
                              "e: !!null \"\"\nf: !!binary aGVsbG8=\ng: !local 12\n"
                              "h: !!float \"1e3\"\ni: !!str ~\nj: !!binary |\n  aGVs\n  bG8=\n",
                              &docs);
    assert_string_equal(rk_map_get_cstr(doc, "a")->as.str.ptr, "12");
    assert_int_equal(rk_map_get_cstr(doc, "b")->as.integer, 12);
    assert_int_equal(rk_map_get_cstr(doc, "c")->type, RK_FLOAT);
    assert_true(rk_map_get_cstr(doc, "c")->as.number == 1.0);
    assert_int_equal(rk_map_get_cstr(doc, "d")->as.boolean, 1);
    assert_int_equal(rk_map_get_cstr(doc, "e")->type, RK_NULL);
    assert_string_equal(rk_map_get_cstr(doc, "f")->as.str.ptr, "hello");
    assert_string_equal(rk_map_get_cstr(doc, "g")->as.str.ptr, "12");
    assert_true(rk_map_get_cstr(doc, "h")->as.number == 1000.0);
    assert_string_equal(rk_map_get_cstr(doc, "i")->as.str.ptr, "~");
    assert_string_equal(rk_map_get_cstr(doc, "j")->as.str.ptr, "hello");
    rk_value_free(docs);

    expect_error("a: !!int 1.5\n", RK_ERR_PARSE, "t.yaml:1:4: cannot decode !!float `1.5` as a !!int");
    expect_error("a: !!null x\n", RK_ERR_PARSE, "t.yaml:1:4: cannot decode !!str `x` as a !!null");
    expect_error("a: !!bool 1\n", RK_ERR_PARSE, "t.yaml:1:4: cannot decode !!int `1` as a !!bool");
    expect_error("a: !!binary '@@'\n", RK_ERR_PARSE,
                 "t.yaml:1:4: !!binary value is not valid base64: byte 1 is not a base64 "
                 "character (A-Z a-z 0-9 + /, then = padding)");
}

static void test_keys_become_text_like_kubectl(void **state)
{
    (void)state;
    rk_value *docs;
    rk_value *doc = first_doc("{1.5: a, 1e3: b, 0x10: c, true: d, 1e40: e, 12345678.9: f, "
                              "\"1\": h, 0.0001: i, -2: j, 1e6: k}\n",
                              &docs);
    assert_string_equal(rk_map_get_cstr(doc, "1.5")->as.str.ptr, "a");
    assert_string_equal(rk_map_get_cstr(doc, "1000")->as.str.ptr, "b");
    assert_string_equal(rk_map_get_cstr(doc, "16")->as.str.ptr, "c");
    assert_string_equal(rk_map_get_cstr(doc, ".inf")->as.str.ptr, "e");
    assert_string_equal(rk_map_get_cstr(doc, "1.2345679e+07")->as.str.ptr, "f");
    assert_string_equal(rk_map_get_cstr(doc, "1")->as.str.ptr, "h");
    assert_string_equal(rk_map_get_cstr(doc, "0.0001")->as.str.ptr, "i");
    assert_string_equal(rk_map_get_cstr(doc, "-2")->as.str.ptr, "j");
    assert_string_equal(rk_map_get_cstr(doc, "1e+06")->as.str.ptr, "k");
    rk_value_free(docs);
    /* true and y are the same key once turned into text */
    expect_error("true: a\ny: b\n", RK_ERR_PARSE,
                 "t.yaml:2:1: mapping key \"true\" already defined at line 1");
}

static void test_bad_keys(void **state)
{
    (void)state;
    expect_error("~: a\n", RK_ERR_PARSE,
                 "t.yaml:1:1: map key is null, which Kubernetes cannot represent; quote it "
                 "if you mean the text");
    expect_error("? [a]\n: b\n", RK_ERR_PARSE, "t.yaml:1:3: a sequence cannot be used as a map key");
    expect_error("? {a: 1}\n: b\n", RK_ERR_PARSE,
                 "t.yaml:1:3: a mapping cannot be used as a map key");
    expect_error("x: &s [1]\n*s : b\n", RK_ERR_PARSE,
                 "t.yaml:2:1: a sequence cannot be used as a map key");
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    expect_error("a: 1\nb: 2\na: 3\n", RK_ERR_PARSE,
                 "t.yaml:3:1: mapping key \"a\" already defined at line 1");
    expect_error("x:\n  k: 1\n  \"k\": 2\n", RK_ERR_PARSE,
                 "t.yaml:3:3: mapping key \"k\" already defined at line 2");
    /* big maps use a hash index: the same message */
    rk_buf b = RK_BUF_INIT;
    for (int i = 0; i < 200; i++)
        rk_buf_printf(&b, "k%d: %d\n", i, i);
    rk_buf_puts(&b, "k150: dup\n");
    expect_error(b.data, RK_ERR_PARSE, "t.yaml:201:1: mapping key \"k150\" already defined at line 151");
    rk_buf_free(&b);
    /* the same key in different maps is fine */
    rk_value_free(load_ok("a: {k: 1}\nb: {k: 2}\n"));
}

/* ---- anchors, aliases, merge keys ---------------------------------------------------- */

static void test_aliases_copy_the_anchored_node(void **state)
{
    (void)state;
    rk_value *docs;
    rk_value *doc = first_doc("base: &b {x: 1, l: [1, 2]}\ncopy: *b\nscalar: &s hi\nagain: *s\n",
                              &docs);
    rk_value *base = rk_map_get_cstr(doc, "base"), *copy = rk_map_get_cstr(doc, "copy");
    assert_true(base != copy);
    assert_true(rk_value_equal(base, copy));
    assert_string_equal(rk_map_get_cstr(doc, "again")->as.str.ptr, "hi");
    /* the copy is positioned at the alias */
    assert_int_equal(copy->line, 2);
    assert_int_equal(copy->col, 7);
    rk_value_free(docs);
}

static void test_anchor_redefinition_and_key_anchors(void **state)
{
    (void)state;
    rk_value *docs;
    rk_value *doc = first_doc("a: &x 1\nb: *x\nc: &x 2\nd: *x\n&k key: v\ne: *k\n", &docs);
    assert_int_equal(rk_map_get_cstr(doc, "b")->as.integer, 1);
    assert_int_equal(rk_map_get_cstr(doc, "d")->as.integer, 2);
    assert_string_equal(rk_map_get_cstr(doc, "e")->as.str.ptr, "key");
    rk_value_free(docs);
}

static void test_alias_errors(void **state)
{
    (void)state;
    expect_error("a: *nope\n", RK_ERR_PARSE, "t.yaml:1:4: unknown anchor 'nope' referenced");
    expect_error("a: &a [1, *a]\n", RK_ERR_PARSE, "t.yaml:1:11: anchor 'a' value contains itself");
    /* anchors do not cross documents (kubectl: per document) */
    expect_error("a: &x 1\n---\nb: *x\n", RK_ERR_PARSE, "t.yaml:3:4: unknown anchor 'x' referenced");
}

static void test_merge_keys(void **state)
{
    (void)state;
    rk_value *docs;
    rk_value *doc = first_doc("base: &b {image: nginx, pull: Always, port: 80}\n"
                              "one:\n  name: web\n  <<: *b\n  port: 8080\n"
                              "list:\n  <<: [{a: 1, b: 1}, {b: 2, c: 2}]\n  c: 3\n"
                              "before:\n  image: mine\n  <<: *b\n"
                              "inline:\n  <<: {q: 1}\n",
                              &docs);
    char *text = dump_str(doc);
    assert_string_equal(text, "base:\n  image: nginx\n  pull: Always\n  port: 80\n"
                              "one:\n  name: web\n  image: nginx\n  pull: Always\n  port: 8080\n"
                              "list:\n  a: 1\n  b: 1\n  c: 3\n"
                              "before:\n  image: mine\n  pull: Always\n  port: 80\n"
                              "inline:\n  q: 1\n");
    free(text);
    rk_value_free(docs);

    /* a merge into a map that is itself anchored and aliased later */
    doc = first_doc("a: &a {x: 1}\nb: &b {<<: *a, w: 2}\nc: {<<: *b, z: 3}\nd: *b\n", &docs);
    text = dump_str(rk_map_get_cstr(doc, "c"));
    assert_string_equal(text, "x: 1\nw: 2\nz: 3\n");
    free(text);
    assert_true(rk_value_equal(rk_map_get_cstr(doc, "b"), rk_map_get_cstr(doc, "d")));
    rk_value_free(docs);

    /* "<<" quoted is an ordinary key */
    doc = first_doc("\"<<\": {a: 1}\n", &docs);
    assert_non_null(rk_map_get_cstr(doc, "<<"));
    rk_value_free(docs);

    expect_error("a:\n  <<: 1\n", RK_ERR_PARSE,
                 "t.yaml:2:7: map merge requires map or sequence of maps as the value");
    expect_error("a:\n  <<: [{a: 1}, 2]\n", RK_ERR_PARSE,
                 "t.yaml:2:7: map merge requires map or sequence of maps as the value");
}

static void test_alias_bomb_is_refused(void **state)
{
    (void)state;
    const char *bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
                       "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                       "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                       "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                       "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                       "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                       "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
                       "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
                       "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    rk_value *docs = NULL;
    rk_error err = {0};
    assert_int_equal(rk_yaml_load(bomb, strlen(bomb), "bomb.yaml", NULL, &docs, &err),
                     RK_ERR_LIMIT);
    assert_null(docs);
    assert_non_null(strstr(err.msg, "alias bomb"));
    assert_true(strncmp(err.msg, "bomb.yaml:", 10) == 0);

    /* the cap is an option; a small cap refuses a small expansion, at its line */
    const char *small = "a: &a [1, 2, 3]\nb: [*a, *a]\n";
    rk_yaml_opts opts = {.max_alias_nodes = 6};
    assert_int_equal(rk_yaml_load(small, strlen(small), NULL, &opts, &docs, &err), RK_ERR_LIMIT);
    assert_string_equal(err.msg, "2:9: aliases expand to more than 6 nodes; refusing to load "
                                 "what looks like an alias bomb (raise max_alias_nodes if this "
                                 "is intended)");
    opts.max_alias_nodes = 8;
    assert_int_equal(rk_yaml_load(small, strlen(small), NULL, &opts, &docs, &err), RK_OK);
    rk_value_free(docs);
}

/* ---- limits and errors ---------------------------------------------------------------- */

static char *nested(int depth, const char *open, const char *close, const char *inner)
{
    rk_buf b = RK_BUF_INIT;
    for (int i = 0; i < depth; i++)
        rk_buf_puts(&b, open);
    rk_buf_puts(&b, inner);
    for (int i = 0; i < depth; i++)
        rk_buf_puts(&b, close);
    rk_buf_putc(&b, '\n');
    return rk_buf_detach(&b, NULL);
}

static void test_depth_limit(void **state)
{
    (void)state;
    char *ok = nested(RK_MAX_DEPTH, "[", "]", "1");
    rk_value *docs = load_ok(ok);
    char *text = dump_str(rk_seq_get(docs, 0));
    rk_value *again = load_ok(text);
    assert_true(rk_value_equal(docs, again));
    rk_value_free(again);
    free(text);
    rk_value_free(docs);
    free(ok);

    char *deep = nested(RK_MAX_DEPTH + 1, "[", "]", "1");
    expect_error(deep, RK_ERR_LIMIT, "t.yaml:1:1001: nesting deeper than 1000 levels");
    free(deep);
    deep = nested(5000, "{a: ", "}", "1");
    rk_error err = {0};
    assert_int_equal(rk_yaml_load(deep, strlen(deep), NULL, NULL, &docs, &err), RK_ERR_LIMIT);
    free(deep);

    /* an alias can't smuggle in extra depth */
    rk_yaml_opts opts = {.max_depth = 3};
    const char *a = "a: &a [[1]]\nb: [*a]\n";
    assert_int_equal(rk_yaml_load(a, strlen(a), NULL, &opts, &docs, &err), RK_ERR_LIMIT);
    assert_string_equal(err.msg, "2:5: alias expands to nesting deeper than 3 levels");
}

static void test_parse_errors_name_file_line_column(void **state)
{
    (void)state;
    expect_error("a: b: c\n", RK_ERR_PARSE,
                 "t.yaml:1:5: mapping values are not allowed in this context");
    expect_error("a:\n  - 1\n  b: 2\n", RK_ERR_PARSE,
                 "t.yaml:3:3: did not find expected '-' indicator (while parsing a block "
                 "collection at line 2, column 3)");
    expect_error("a:\n\tb: 1\n", RK_ERR_PARSE,
                 "t.yaml:2:1: found character that cannot start any token (while scanning "
                 "for the next token at line 2, column 1); YAML does not allow tabs for "
                 "indentation, use spaces");
    expect_error("a: \"unterminated\n", RK_ERR_PARSE,
                 "t.yaml:2:1: found unexpected end of stream (while scanning a quoted scalar "
                 "at line 1, column 4)");
    expect_error("a: 1\nb: \xff\n", RK_ERR_PARSE,
                 "t.yaml:2:4: invalid leading UTF-8 octet (byte 0xFF)");
    /* no file name: LINE:COL only */
    rk_value *docs;
    rk_error err = {0};
    assert_int_equal(rk_yaml_load("[1", 2, NULL, NULL, &docs, &err), RK_ERR_PARSE);
    /* libyaml puts the end of the stream after an implied final line break */
    assert_string_equal(err.msg, "2:1: did not find expected ',' or ']' (while parsing a flow "
                                 "sequence at line 1, column 1)");
}

static void test_documents(void **state)
{
    (void)state;
    rk_value *docs = load_ok("---\n---\n# only a comment\n---\n~\n---\na: 1\n---\n- x\n...\n");
    assert_int_equal(rk_value_len(docs), 2);
    assert_int_equal(rk_seq_get(docs, 0)->type, RK_MAP);
    assert_int_equal(rk_seq_get(docs, 1)->type, RK_SEQ);
    rk_value_free(docs);

    docs = load_ok("");
    assert_int_equal(docs->type, RK_SEQ);
    assert_int_equal(rk_value_len(docs), 0);
    rk_value_free(docs);

    rk_yaml_opts keep = {.keep_null_docs = 1};
    rk_error err = {0};
    const char *text = "---\n---\n~\n---\na: 1\n";
    assert_int_equal(rk_yaml_load(text, strlen(text), NULL, &keep, &docs, &err), RK_OK);
    assert_int_equal(rk_value_len(docs), 3);
    assert_int_equal(rk_seq_get(docs, 1)->type, RK_NULL);
    rk_value_free(docs);

    /* not NUL-terminated input: only len bytes are read */
    char buf[8] = {'a', ':', ' ', '1', 'X', 'X', 'X', 'X'};
    assert_int_equal(rk_yaml_load(buf, 4, NULL, NULL, &docs, &err), RK_OK);
    assert_int_equal(rk_map_get_cstr(rk_seq_get(docs, 0), "a")->as.integer, 1);
    rk_value_free(docs);
}

static void test_positions(void **state)
{
    (void)state;
    rk_value *docs;
    rk_value *doc = first_doc("# comment\njobs:\n  deploy:\n    with:\n      volumes:\n"
                              "      - name: maps\n        size: 10Gi\n",
                              &docs);
    rk_value *jobs = rk_map_get_cstr(doc, "jobs");
    assert_int_equal(doc->as.map.items[0].key_line, 2);
    assert_int_equal(doc->as.map.items[0].key_col, 1);
    rk_value *vols = rk_map_get_cstr(rk_map_get_cstr(rk_map_get_cstr(jobs, "deploy"), "with"),
                                     "volumes");
    rk_value *item = rk_seq_get(vols, 0);
    assert_int_equal(item->line, 6);
    assert_int_equal(item->col, 9);
    rk_value *size = rk_map_get_cstr(item, "size");
    assert_int_equal(size->line, 7);
    assert_int_equal(size->col, 15);
    assert_int_equal(item->as.map.items[1].key_line, 7);
    assert_int_equal(item->as.map.items[1].key_col, 9);
    rk_value_free(docs);
}

static void test_integers_up_to_2_53_and_beyond(void **state)
{
    (void)state;
    rk_value *docs;
    rk_value *doc = first_doc("a: 9007199254740992\nb: 9007199254740993\nc: -9007199254740993\n",
                              &docs);
    assert_int_equal(rk_map_get_cstr(doc, "a")->as.integer, 9007199254740992LL);
    assert_int_equal(rk_map_get_cstr(doc, "b")->as.integer, 9007199254740993LL);
    assert_int_equal(rk_map_get_cstr(doc, "c")->as.integer, -9007199254740993LL);
    char *text = dump_str(doc);
    assert_string_equal(text, "a: 9007199254740992\nb: 9007199254740993\nc: -9007199254740993\n");
    free(text);
    rk_value_free(docs);
}

/* ---- dump ---------------------------------------------------------------------------- */

static void test_dump_layout_is_kubectl_style(void **state)
{
    (void)state;
    rk_value *docs;
    rk_value *doc = first_doc("apiVersion: v1\nkind: Pod\nmetadata: {name: x, labels: {}}\n"
                              "spec:\n  containers:\n  - name: a\n    args: [-c, \"echo hi\"]\n"
                              "    env: []\n  - name: b\n    ports: [{containerPort: 80}]\n"
                              "  matrix: [[1, 2], [], [[3]]]\n",
                              &docs);
    char *text = dump_str(doc);
    assert_string_equal(text, "apiVersion: v1\n"
                              "kind: Pod\n"
                              "metadata:\n"
                              "  name: x\n"
                              "  labels: {}\n"
                              "spec:\n"
                              "  containers:\n"
                              "  - name: a\n"
                              "    args:\n"
                              "    - -c\n"
                              "    - echo hi\n"
                              "    env: []\n"
                              "  - name: b\n"
                              "    ports:\n"
                              "    - containerPort: 80\n"
                              "  matrix:\n"
                              "  - - 1\n"
                              "    - 2\n"
                              "  - []\n"
                              "  - - - 3\n");
    free(text);
    rk_value_free(docs);
}

static void test_dump_scalars(void **state)
{
    (void)state;
    rk_value *m = rk_map_new();
    rk_map_append(m, "n", 1, rk_null_new());
    rk_map_append(m, "t", 1, rk_bool_new(1));
    rk_map_append(m, "i", 1, rk_int_new(INT64_MIN));
    rk_map_append(m, "f1", 2, rk_float_new(1.0));
    rk_map_append(m, "f2", 2, rk_float_new(0.1));
    rk_map_append(m, "f3", 2, rk_float_new(1e300));
    rk_map_append(m, "f4", 2, rk_float_new(-0.0));
    rk_map_append(m, "f5", 2, rk_float_new(1.0 / 3.0));
    rk_map_append(m, "f6", 2, rk_float_new(INFINITY));
    rk_map_append(m, "f7", 2, rk_float_new(NAN));
    rk_map_append(m, "f8", 2, rk_float_new(5e-324));
    rk_map_append(m, "f9", 2, rk_float_new(1e15));
    rk_map_append(m, "f10", 3, rk_float_new(123456789012.0));
    char *text = dump_str(m);
    assert_string_equal(text, "\"n\": null\nt: true\ni: -9223372036854775808\nf1: 1.0\nf2: 0.1\n"
                              "f3: 1e+300\nf4: -0.0\nf5: 0.3333333333333333\nf6: .inf\n"
                              "f7: .nan\nf8: 4.94065645841247e-324\nf9: 1e+15\n"
                              "f10: 123456789012.0\n");
    free(text);
    assert_roundtrip(m);
    rk_value_free(m);
}

/* strings that must come back exactly, whatever they look like */
static const char *TRICKY[] = {
    "", " ", "  lead", "trail ", "yes", "No", "on", "y", "~", "null", "Null", "true", "123",
    "-7", "0x1F", "017", "0o17", "0b1", "1_000", "1e3", "1.", ".5", ".inf", "-.inf", ".nan",
    "2024-05-01", "2024-05-01T12:00:00Z", "1:20", "12:30:45", "<<", "-", "--", "---", "--- x",
    "...", "- x", "-x", "--flag=1", "? x", "?x", ":x", "x:", "a: b", "a:b", "a #b", "a#b", "#x",
    "&anchor", "*alias", "!tag", "%x", "@x", "`x", "|", ">", "'", "\"", "'quoted'",
    "\"dq\"", "C:\\path\\x", "back\\slash \"and quote\"", "{{ vars.image }}", "[a, b]",
    "{a: 1}", "a, b", "a]b", "tab\tin", "\ttab", "line\nbreak", "two\n\nbreaks\n",
    "\nleading newline", " \nspace first", "trailing newlines\n\n\n", "\n", "\n\n", "cr\r\nlf",
    "nul\0byte", "bell\a", "esc\x1b", "del\x7f", "héllo", "☃ snow", "emoji 😀", "nbsp\xc2\xa0x",
    "nel\xc2\x85x", "ls\xe2\x80\xa8x", "bom\xef\xbb\xbfx", "c1\xc2\x80x", "\xff\xfe binary",
    "bad \xc3\x28 utf8", "=", "0.0.0.0", "1.2.3", "v1.2", "08", "+.5", "._5", "infinity",
    "key: value\nnext: x", "# comment\nline", "   \n  \n", "a\n  indented\n    more",
};

static rk_value *tricky_string(size_t i)
{
    const char *s = TRICKY[i];
    /* entries with an embedded NUL are written with a known length */
    size_t n = strcmp(s, "nul") == 0 ? 8 : strlen(s);
    return rk_string_new(s, n);
}

static void test_dump_quotes_exactly_when_needed(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof TRICKY / sizeof TRICKY[0]; i++) {
        const char *s = TRICKY[i];
        size_t n = strlen(s);
        if (strcmp(s, "nul") == 0)
            n = 8; /* "nul\0byte" */
        /* as a map value, a map key, a list item, the whole document */
        rk_value *m = rk_map_new();
        rk_map_append(m, "k", 1, rk_string_new(s, n));
        rk_map_append(m, s, n, rk_int_new(1));
        rk_value *l = rk_seq_new();
        rk_seq_push(l, rk_string_new(s, n));
        rk_seq_push(l, rk_int_new(2));
        rk_map_append(m, "list", 4, l);
        assert_roundtrip(m);
        rk_value *root = tricky_string(i);
        assert_roundtrip(root);
        rk_value_free(root);
        rk_value_free(m);
    }
    /* and the choices people see */
    static const char *want[][2] = {
        {"yes", "\"yes\"\n"},      {"123", "\"123\"\n"},       {"", "\"\"\n"},
        {"plain text", "plain text\n"}, {"-x", "-x\n"},        {"- x", "\"- x\"\n"},
        {"a: b", "\"a: b\"\n"},    {"C:\\x", "C:\\x\n"},       {"\"q\" \\", "'\"q\" \\'\n"},
        {"'q'", "\"'q'\"\n"},      {"a\nb", "|-\n  a\n  b\n"}, {"a\n", "|\n  a\n"},
        {"a\n\n", "|+\n  a\n\n"},  {" a\nb", "|2-\n   a\n  b\n"}, {"x\ry", "\"x\\ry\"\n"},
        {"\xff", "!!binary /w==\n"}, {"2024-05-01", "\"2024-05-01\"\n"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        rk_value *v = rk_string_new_cstr(want[i][0]);
        char *text = dump_str(v);
        if (strcmp(text, want[i][1]) != 0)
            fail_msg("dump of \"%s\"\n  got:  %s\n  want: %s", want[i][0], text, want[i][1]);
        free(text);
        rk_value_free(v);
    }
}

static void test_dump_long_keys_use_explicit_syntax(void **state)
{
    (void)state;
    char key[3000];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    rk_value *m = rk_map_new();
    rk_map_append(m, key, strlen(key), rk_string_new_cstr("v"));
    rk_value *inner = rk_map_new();
    rk_map_append(inner, "a", 1, rk_int_new(1));
    rk_map_append(m, "x", 1, rk_null_new());
    rk_map_append(m, key, 2000, inner);
    rk_value *l = rk_seq_new();
    rk_seq_push(l, rk_int_new(1));
    rk_map_append(m, key, 1500, l);
    char *text = dump_str(m);
    assert_true(strncmp(text, "? kkk", 5) == 0);
    free(text);
    assert_roundtrip(m);
    rk_value_free(m);
}

static void test_dump_all_separates_documents(void **state)
{
    (void)state;
    rk_value *docs = load_ok("a: 1\n---\n- x\n---\nplain\n");
    rk_buf b = RK_BUF_INIT;
    rk_error err = {0};
    assert_int_equal(rk_yaml_dump_all(docs, &b, &err), RK_OK);
    assert_string_equal(b.data, "a: 1\n---\n- x\n---\nplain\n");
    rk_buf_free(&b);
    rk_value_free(docs);

    rk_value *empty = rk_seq_new();
    assert_int_equal(rk_yaml_dump_all(empty, &b, &err), RK_OK);
    assert_int_equal(b.len, 0);
    rk_value_free(empty);
    rk_buf_free(&b);

    rk_value *notseq = rk_map_new();
    assert_int_equal(rk_yaml_dump_all(notseq, &b, &err), RK_ERR_INVALID);
    rk_value_free(notseq);
}

static void test_dump_refuses_too_deep_trees(void **state)
{
    (void)state;
    rk_value *root = rk_seq_new(), *cur = root;
    for (int i = 0; i < RK_MAX_DEPTH + 5; i++) {
        rk_value *next = rk_seq_new();
        rk_seq_push(cur, next);
        cur = next;
    }
    rk_buf b = RK_BUF_INIT;
    rk_error err = {0};
    assert_int_equal(rk_yaml_dump(root, &b, &err), RK_ERR_INVALID);
    assert_string_equal(err.msg, "cannot dump YAML nested deeper than 1000 levels");
    rk_buf_free(&b);
    rk_value_free(root);
}

/* ---- seeded random trees ----------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static rk_value *random_string(void)
{
    static const char *atoms[] = {"a", "b", "yes", "1", "0x", " ", ":", "#", "-", "\n", "\t",
                                  "\"", "'", "\\", "é", "☃", "{", "}", "[", "]", ",", "&",
                                  "*", "!", "|", ">", "%", "@", "null", "~", ".5", "e3",
                                  "\r", "\x01", "---", "...", "<<", "\xc2\x85", "?"};
    char buf[64];
    size_t n = 0, parts = rng() % 6;
    for (size_t i = 0; i < parts; i++) {
        const char *a = atoms[rng() % (sizeof atoms / sizeof atoms[0])];
        size_t len = strlen(a);
        if (n + len >= sizeof buf)
            break;
        memcpy(buf + n, a, len);
        n += len;
    }
    return rk_string_new(buf, n);
}

static rk_value *random_tree(int depth)
{
    uint32_t kind = rng() % (depth > 5 ? 6 : 9);
    switch (kind) {
    case 0: return rk_null_new();
    case 1: return rk_bool_new((int)(rng() & 1));
    case 2: return rk_int_new((int64_t)((uint64_t)rng() << 32 | rng()) >> (rng() % 64));
    case 3: {
        double d;
        uint64_t bits = (uint64_t)rng() << 32 | rng();
        memcpy(&d, &bits, sizeof d);
        if (isnan(d))
            d = 0.5;
        return rk_float_new(rng() % 2 ? d : (double)(int)(rng() % 1000) / 8.0);
    }
    case 4:
    case 5: return random_string();
    case 6: {
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
        assert_roundtrip(v);
        rk_value_free(v);
    }
}

/* ---- golden manifest ------------------------------------------------------------------ */

static char *read_file(const char *rel, size_t *len)
{
    const char *root = getenv("RK_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root && *root ? root : ".", rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    rk_buf b = RK_BUF_INIT;
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        rk_buf_append(&b, chunk, got);
    fclose(f);
    return rk_buf_detach(&b, len);
}

static void test_golden_manifest(void **state)
{
    (void)state;
    size_t len, want_len;
    char *in = read_file("tests/golden/yaml/manifest.yaml", &len);
    char *want = read_file("tests/golden/yaml/manifest.expected.yaml", &want_len);
    rk_value *docs = NULL;
    rk_error err = {0};
    if (rk_yaml_load(in, len, "manifest.yaml", NULL, &docs, &err) != RK_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(rk_value_len(docs), 4);
    rk_buf out = RK_BUF_INIT;
    assert_int_equal(rk_yaml_dump_all(docs, &out, &err), RK_OK);
    assert_string_equal(out.data, want);
    rk_value *again = NULL;
    assert_int_equal(rk_yaml_load(out.data, out.len, "dump", NULL, &again, &err), RK_OK);
    assert_true(rk_value_equal(docs, again));
    rk_value_free(again);
    rk_buf_free(&out);
    rk_value_free(docs);
    free(in);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_scalars_resolve_like_kubectl),
        cmocka_unit_test(test_pyyaml_scalars),
        cmocka_unit_test(test_pyyaml_keys),
        cmocka_unit_test(test_empty_plain_is_null),
        cmocka_unit_test(test_quoted_and_block_scalars_are_strings),
        cmocka_unit_test(test_strings_keep_nul_bytes),
        cmocka_unit_test(test_explicit_tags),
        cmocka_unit_test(test_keys_become_text_like_kubectl),
        cmocka_unit_test(test_bad_keys),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_aliases_copy_the_anchored_node),
        cmocka_unit_test(test_anchor_redefinition_and_key_anchors),
        cmocka_unit_test(test_alias_errors),
        cmocka_unit_test(test_merge_keys),
        cmocka_unit_test(test_alias_bomb_is_refused),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_parse_errors_name_file_line_column),
        cmocka_unit_test(test_documents),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_integers_up_to_2_53_and_beyond),
        cmocka_unit_test(test_dump_layout_is_kubectl_style),
        cmocka_unit_test(test_dump_scalars),
        cmocka_unit_test(test_dump_quotes_exactly_when_needed),
        cmocka_unit_test(test_dump_long_keys_use_explicit_syntax),
        cmocka_unit_test(test_dump_all_separates_documents),
        cmocka_unit_test(test_dump_refuses_too_deep_trees),
        cmocka_unit_test(test_random_trees_round_trip),
        cmocka_unit_test(test_golden_manifest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
