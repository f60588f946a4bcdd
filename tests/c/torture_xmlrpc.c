/* XML-RPC (the ROS 1 master's wire format): the exact calls we send, the answers a real
 * rosmaster gives (recorded from Debian's python3-rosmaster), every scalar type, faults,
 * and the refusals: malformed XML, DOCTYPE/entities, values in the wrong place, depth. */
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
#include "xmlrpc.h"

/* decode body, encode as compact JSON, compare */
static void expect_json(const char *body, const char *want)
{
    rk_value *v = NULL;
    rk_error err = {0};
    if (rk_xmlrpc_decode_response(body, strlen(body), &v, &err) != RK_OK)
        fail_msg("decode failed: %s\n--- input:\n%s", err.msg, body);
    rk_buf b = RK_BUF_INIT;
    assert_int_equal(rk_json_encode(v, 0, &b, &err), RK_OK);
    if (strcmp(b.data, want) != 0)
        fail_msg("decoding %s\n  got:  %s\n  want: %s", body, b.data, want);
    rk_buf_free(&b);
    rk_value_free(v);
}

static void expect_error(const char *body, rk_status code, const char *msg_part)
{
    rk_value *v = NULL;
    rk_error err = {0};
    rk_status st = rk_xmlrpc_decode_response(body, strlen(body), &v, &err);
    if (st != code)
        fail_msg("status %d, want %d (%s) for: %s", st, code, err.msg, body);
    if (!strstr(err.msg, msg_part))
        fail_msg("error message\n  got:  %s\n  want a part: %s", err.msg, msg_part);
    if (code != RK_ERR_HTTP)
        assert_null(v);
    rk_value_free(v);
}

#define RESP(x) "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n" x "\n</param>\n</params>\n</methodResponse>\n"

static void test_encode_call_exact_text(void **state)
{
    (void)state;
    rk_value *params = rk_seq_new();
    rk_seq_push(params, rk_string_new_cstr("/rigelk8s"));
    rk_seq_push(params, rk_string_new_cstr("a<b&c>\r"));
    rk_seq_push(params, rk_int_new(-7));
    rk_seq_push(params, rk_bool_new(1));
    rk_seq_push(params, rk_null_new());
    rk_value *m = rk_map_new();
    rk_map_set(m, "k", 1, rk_float_new(0.5));
    rk_seq_push(params, m);
    rk_buf b = RK_BUF_INIT;
    rk_error err = {0};
    assert_int_equal(rk_xmlrpc_encode_call(&b, "getSystemState", params, &err), RK_OK);
    assert_string_equal(b.data,
        "<?xml version=\"1.0\"?>\n<methodCall><methodName>getSystemState</methodName><params>"
        "<param><value><string>/rigelk8s</string></value></param>"
        "<param><value><string>a&lt;b&amp;c&gt;&#13;</string></value></param>"
        "<param><value><int>-7</int></value></param>"
        "<param><value><boolean>1</boolean></value></param>"
        "<param><value><nil/></value></param>"
        "<param><value><struct><member><name>k</name><value><double>0.5</double></value></member>"
        "</struct></value></param></params></methodCall>\n");
    rk_buf_free(&b);
    /* ints beyond 32 bits do not exist in XML-RPC: refused, not truncated */
    rk_value *big = rk_seq_new();
    rk_seq_push(big, rk_int_new(INT64_C(1) << 40));
    assert_int_equal(rk_xmlrpc_encode_call(&b, "x", big, &err), RK_ERR_INVALID);
    assert_non_null(strstr(err.msg, "32-bit"));
    rk_buf_free(&b);
    rk_value_free(big);
    rk_value_free(params);
}

static void test_encode_then_decode_round_trip(void **state)
{
    (void)state;
    /* a call's params re-read as a response value: same tree */
    rk_value *params = rk_seq_new();
    rk_value *arr = rk_seq_new();
    rk_seq_push(arr, rk_string_new_cstr("x & y"));
    rk_seq_push(arr, rk_int_new(3));
    rk_seq_push(params, arr);
    rk_buf b = RK_BUF_INIT;
    rk_error err = {0};
    assert_int_equal(rk_xmlrpc_encode_call(&b, "m", params, &err), RK_OK);
    const char *open = strstr(b.data, "<param>") + strlen("<param>");
    const char *close = strstr(b.data, "</param>");
    char doc[512];
    snprintf(doc, sizeof doc, RESP("%.*s"), (int)(close - open), open);
    rk_value *v = NULL;
    assert_int_equal(rk_xmlrpc_decode_response(doc, strlen(doc), &v, &err), RK_OK);
    assert_true(rk_value_equal(v, arr));
    rk_value_free(v);
    rk_buf_free(&b);
    rk_value_free(params);
}

/* What Debian's rosmaster (1.15.15) answered to getSystemState with a talker, a listener
 * and a service node (Python's xmlrpc.server: untyped strings, <int> codes). */
static const char ROSMASTER_STATE[] =
    "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><array><data>\n"
    "<value><int>1</int></value>\n<value><string>current system state</string></value>\n"
    "<value><array><data>\n"
    "<value><array><data>\n<value><array><data>\n<value><string>/rosout</string></value>\n"
    "<value><array><data>\n<value><string>/server</string></value>\n<value><string>/talker</string></value>\n"
    "</data></array></value>\n</data></array></value>\n"
    "<value><array><data>\n<value><string>/chatter</string></value>\n<value><array><data>\n"
    "<value><string>/talker</string></value>\n</data></array></value>\n</data></array></value>\n"
    "</data></array></value>\n"
    "<value><array><data>\n<value><array><data>\n<value><string>/chatter</string></value>\n"
    "<value><array><data>\n<value><string>/listener</string></value>\n</data></array></value>\n"
    "</data></array></value>\n</data></array></value>\n"
    "<value><array><data>\n<value><array><data>\n<value><string>/add_two_ints</string></value>\n"
    "<value><array><data>\n<value><string>/server</string></value>\n</data></array></value>\n"
    "</data></array></value>\n</data></array></value>\n"
    "</data></array></value>\n</data></array></value>\n</param>\n</params>\n</methodResponse>\n";

static void test_decode_rosmaster_answers(void **state)
{
    (void)state;
    expect_json(ROSMASTER_STATE,
                "[1,\"current system state\",[[[\"/rosout\",[\"/server\",\"/talker\"]],"
                "[\"/chatter\",[\"/talker\"]]],[[\"/chatter\",[\"/listener\"]]],"
                "[[\"/add_two_ints\",[\"/server\"]]]]]");
    /* lookupNode of an unknown node: code -1, empty string value */
    expect_json(RESP("<value><array><data>\n<value><int>-1</int></value>\n"
                     "<value><string>unknown node [/nope]</string></value>\n"
                     "<value><string></string></value>\n</data></array></value>"),
                "[-1,\"unknown node [/nope]\",\"\"]");
}

static void test_decode_scalars(void **state)
{
    (void)state;
    expect_json(RESP("<value>untyped &amp; text</value>"), "\"untyped & text\"");
    expect_json(RESP("<value></value>"), "\"\"");
    expect_json(RESP("<value><string/></value>"), "\"\"");
    expect_json(RESP("<value><i4>42</i4></value>"), "42");
    expect_json(RESP("<value><i8>-9000000000</i8></value>"), "-9000000000");
    expect_json(RESP("<value><boolean>0</boolean></value>"), "false");
    expect_json(RESP("<value><double>2.5</double></value>"), "2.5");
    expect_json(RESP("<value><nil/></value>"), "null");
    expect_json(RESP("<value><base64>aGk=</base64></value>"), "\"aGk=\"");
    expect_json(RESP("<value><struct><member><name>a</name><value><int>1</int></value></member>"
                     "<member><name>b</name><value><array><data/></array></value></member>"
                     "</struct></value>"),
                "{\"a\":1,\"b\":[]}");
}

static void test_fault_is_returned_with_code_and_text(void **state)
{
    (void)state;
    const char *body = "<methodResponse><fault><value><struct>"
                       "<member><name>faultCode</name><value><int>1</int></value></member>"
                       "<member><name>faultString</name><value><string>&lt;class 'Exception'&gt;:"
                       " boom</string></value></member></struct></value></fault></methodResponse>";
    rk_value *v = NULL;
    rk_error err = {0};
    assert_int_equal(rk_xmlrpc_decode_response(body, strlen(body), &v, &err), RK_ERR_HTTP);
    assert_string_equal(err.msg, "XML-RPC fault 1: <class 'Exception'>: boom");
    assert_non_null(v);
    assert_int_equal(rk_map_get_cstr(v, "faultCode")->as.integer, 1);
    rk_value_free(v);
}

static void test_refusals(void **state)
{
    (void)state;
    expect_error("", RK_ERR_PARSE, "not well-formed XML");
    expect_error("<methodResponse><params>", RK_ERR_PARSE, "not well-formed XML");
    expect_error("<html><body>503</body></html>", RK_ERR_PARSE, "unexpected element <html>");
    expect_error("<methodResponse><params></params></methodResponse>", RK_ERR_PARSE, "no <params>");
    expect_error(RESP("<value><int>12x</int></value>"), RK_ERR_PARSE, "not a whole number");
    expect_error(RESP("<value><int>99999999999999999999999</int></value>"), RK_ERR_PARSE, "whole number");
    expect_error(RESP("<value><boolean>yes</boolean></value>"), RK_ERR_PARSE, "0 or 1");
    expect_error(RESP("<value><double>x</double></value>"), RK_ERR_PARSE, "not a number");
    expect_error(RESP("<value><int>1</int><int>2</int></value>"), RK_ERR_PARSE, "two values");
    expect_error(RESP("<value><struct><member><value>1</value></member></struct></value>"),
                 RK_ERR_PARSE, "no <name>");
    expect_error("<methodResponse><params><param><value>1</value></param><param><value>2</value>"
                 "</param></params></methodResponse>", RK_ERR_PARSE, "more than one value");
    /* No entity expansion from the network: the DOCTYPE itself is refused. */
    expect_error("<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]>"
                 "<methodResponse><params><param><value>&b;</value></param></params></methodResponse>",
                 RK_ERR_PARSE, "DOCTYPE is not allowed");
    expect_error("<methodResponse><fault><value>oops</value></fault></methodResponse>", RK_ERR_PARSE,
                 "must hold a struct");
}

static void test_depth_limit(void **state)
{
    (void)state;
    rk_buf b = RK_BUF_INIT;
    rk_buf_puts(&b, "<methodResponse><params><param>");
    for (int i = 0; i < RK_MAX_DEPTH + 5; i++)
        rk_buf_puts(&b, "<value><array><data>");
    for (int i = 0; i < RK_MAX_DEPTH + 5; i++)
        rk_buf_puts(&b, "</data></array></value>");
    rk_buf_puts(&b, "</param></params></methodResponse>");
    rk_value *v = NULL;
    rk_error err = {0};
    assert_int_equal(rk_xmlrpc_decode_response(b.data, b.len, &v, &err), RK_ERR_LIMIT);
    assert_null(v);
    assert_non_null(strstr(err.msg, "nest too deep"));
    rk_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_call_exact_text),
        cmocka_unit_test(test_encode_then_decode_round_trip),
        cmocka_unit_test(test_decode_rosmaster_answers),
        cmocka_unit_test(test_decode_scalars),
        cmocka_unit_test(test_fault_is_returned_with_code_and_text),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_depth_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
