/* Status decoding: the server's error answers become {code, reason, message, causes,
 * exit_code}, as real API servers send them (bodies captured from kube-apiserver), and
 * answers that are not a Status (a proxy's HTML, nothing at all) still say what happened.
 * Also the messages for requests that got no answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kube.h"

static void decode(long code, const char *body, const char *what, rk_kube_error *e)
{
    rk_kube_status_decode(code, body, strlen(body), what, e);
}

static void test_not_found(void **state)
{
    (void)state;
    rk_kube_error e;
    decode(404,
           "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
           "\"message\":\"configmaps \\\"y\\\" not found\",\"reason\":\"NotFound\","
           "\"details\":{\"name\":\"y\",\"kind\":\"configmaps\"},\"code\":404}\n",
           "get ConfigMap default/y", &e);
    assert_int_equal(e.code, 404);
    assert_string_equal(e.reason, "NotFound");
    assert_string_equal(e.message, "get ConfigMap default/y: configmaps \"y\" not found");
    assert_string_equal(e.name, "y");
    assert_string_equal(e.kind, "configmaps");
    assert_int_equal(e.ncauses, 0);
    assert_int_equal(e.exit_code, 1);
}

static void test_apply_conflict_lists_fields_and_owners(void **state)
{
    (void)state;
    rk_kube_error e;
    decode(409,
           "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
           "\"message\":\"Apply failed with 2 conflicts: conflict with \\\"kubectl-edit\\\" "
           "using v1: .data.a\\nconflict with \\\"helm\\\" using v1: .data.b\","
           "\"reason\":\"Conflict\",\"details\":{\"causes\":["
           "{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with \\\"kubectl-edit\\\" "
           "using v1\",\"field\":\".data.a\"},"
           "{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with \\\"helm\\\" using "
           "v1\",\"field\":\".data.b\"}]},\"code\":409}",
           "apply ConfigMap default/x", &e);
    assert_int_equal(e.code, 409);
    assert_string_equal(e.reason, "Conflict");
    assert_int_equal(e.ncauses, 2);
    assert_string_equal(e.causes[0].reason, "FieldManagerConflict");
    assert_string_equal(e.causes[0].field, ".data.a");
    assert_string_equal(e.causes[0].message, "conflict with \"kubectl-edit\" using v1");
    assert_string_equal(e.causes[1].field, ".data.b");
    assert_non_null(strstr(e.message, "apply ConfigMap default/x: Apply failed with 2 conflicts"));
    assert_non_null(strstr(e.message, "\"helm\" using v1: .data.b"));
    assert_true(rk_kube_cause_is_conflict(&e.causes[0]));
    /* some servers leave the cause's reason out; the message still says it */
    decode(409,
           "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"Apply failed with 1 "
           "conflict: conflict with \\\"other\\\": .data.a\",\"reason\":\"Conflict\",\"details\":"
           "{\"causes\":[{\"message\":\"conflict with \\\"other\\\": .data.a\",\"field\":"
           "\".data.a\"}]},\"code\":409}",
           NULL, &e);
    assert_int_equal(e.ncauses, 1);
    assert_true(rk_kube_cause_is_conflict(&e.causes[0]));
    /* an AlreadyExists conflict is not a field conflict */
    decode(409, "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"configmaps \\\"x\\\" "
                "already exists\",\"reason\":\"AlreadyExists\",\"details\":{\"name\":\"x\","
                "\"causes\":[{\"reason\":\"FieldValueDuplicate\",\"message\":\"dup\"}]},\"code\":409}",
           NULL, &e);
    assert_false(rk_kube_cause_is_conflict(&e.causes[0]));
}

static void test_invalid_with_causes(void **state)
{
    (void)state;
    rk_kube_error e;
    decode(422,
           "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":"
           "\"ConfigMap \\\"Bad_Name\\\" is invalid: metadata.name: Invalid value: \\\"Bad_Name\\\": "
           "a lowercase RFC 1123 subdomain must consist of ...\",\"reason\":\"Invalid\","
           "\"details\":{\"name\":\"Bad_Name\",\"kind\":\"ConfigMap\",\"causes\":[{\"reason\":"
           "\"FieldValueInvalid\",\"message\":\"Invalid value: \\\"Bad_Name\\\"\",\"field\":"
           "\"metadata.name\"}]},\"code\":422}",
           NULL, &e);
    assert_int_equal(e.code, 422);
    assert_string_equal(e.reason, "Invalid");
    assert_int_equal(e.ncauses, 1);
    assert_string_equal(e.causes[0].field, "metadata.name");
    assert_string_equal(e.causes[0].reason, "FieldValueInvalid");
    assert_true(strncmp(e.message, "ConfigMap \"Bad_Name\" is invalid", 31) == 0);
}

static void test_auth_errors_exit_3(void **state)
{
    (void)state;
    rk_kube_error e;
    decode(403,
           "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":"
           "\"configmaps is forbidden: User \\\"viewer\\\" cannot create resource \\\"configmaps\\\" "
           "in API group \\\"\\\" in the namespace \\\"default\\\"\",\"reason\":\"Forbidden\","
           "\"details\":{\"kind\":\"configmaps\"},\"code\":403}",
           "create ConfigMap default/x", &e);
    assert_int_equal(e.code, 403);
    assert_string_equal(e.reason, "Forbidden");
    assert_int_equal(e.exit_code, 3);
    decode(401, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":"
                "\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}", NULL, &e);
    assert_int_equal(e.exit_code, 3);
    assert_string_equal(e.message, "Unauthorized");
    decode(500, "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"etcdserver: "
                "request timed out\",\"reason\":\"InternalError\",\"code\":500}", NULL, &e);
    assert_int_equal(e.exit_code, 1);
    assert_string_equal(e.reason, "InternalError");
}

static void test_status_code_wins_over_transport_code(void **state)
{
    (void)state;
    /* a watch ERROR event carries its own code (here 410) inside a 200 stream */
    rk_kube_error e;
    decode(500, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":"
                "\"too old resource version: 1 (2000)\",\"reason\":\"Expired\",\"code\":410}",
           "watch", &e);
    assert_int_equal(e.code, 410);
    assert_string_equal(e.reason, "Expired");
    assert_string_equal(e.message, "watch: too old resource version: 1 (2000)");
}

static void test_not_a_status(void **state)
{
    (void)state;
    rk_kube_error e;
    decode(502, "<html><head><title>502 Bad Gateway</title></head></html>\n",
           "get Pod default/p", &e);
    assert_int_equal(e.code, 502);
    assert_string_equal(e.reason, "Unknown");
    assert_string_equal(e.message, "get Pod default/p: the server answered 502 Bad Gateway: "
                                   "<html><head><title>502 Bad Gateway</title></head></html>");
    decode(503, "", NULL, &e);
    assert_string_equal(e.message, "the server answered 503 Service Unavailable");
    assert_string_equal(e.reason, "ServiceUnavailable");
    /* JSON that is not a Status, and long bodies, are cut */
    char big[1000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    decode(400, big, NULL, &e);
    assert_int_equal(strlen(e.message), strlen("the server answered 400 Bad Request: ") + 200);
    decode(409, "{\"kind\":\"ConfigMap\"}", NULL, &e);
    assert_string_equal(e.reason, "Conflict");
    assert_non_null(strstr(e.message, "409 Conflict"));
}

static void test_status_without_message(void **state)
{
    (void)state;
    rk_kube_error e;
    decode(404, "{\"kind\":\"Status\",\"status\":\"Failure\",\"code\":404}", "get X a", &e);
    assert_string_equal(e.reason, "NotFound");
    assert_string_equal(e.message, "get X a: NotFound");
}

/* ---- no answer at all ---- */

static rk_kube *client_for(const char *yaml, char *path)
{
    strcpy(path, "/tmp/rk-status-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_true(write(fd, yaml, strlen(yaml)) == (ssize_t)strlen(yaml));
    close(fd);
    rk_kube_options o = {0};
    o.kubeconfig = path;
    rk_kube *k;
    rk_kube_error kerr;
    if (rk_kube_connect(&o, &k, &kerr) != RK_OK)
        fail_msg("%s", kerr.message);
    return k;
}

static void test_transport_errors_name_server_and_context(void **state)
{
    (void)state;
    char path[64];
    rk_kube *k = client_for("apiVersion: v1\nkind: Config\ncurrent-context: emulator\n"
                            "clusters: [{name: e, cluster: {server: 'https://127.0.0.1:6443', "
                            "certificate-authority: /etc/ca.pem}}]\n"
                            "contexts: [{name: emulator, context: {cluster: e}}]\n",
                            path);
    rk_http_response r;
    rk_http_response_init(&r);
    rk_kube_error e;
    r.failure = RK_NET_CONNECT;
    rk_error_set(&r.err, RK_ERR_NETWORK, "connection refused");
    rk_kube_transport_error(k, &r, &e);
    assert_string_equal(e.message,
                        "cannot reach https://127.0.0.1:6443 (context \"emulator\"): connection refused");
    assert_string_equal(e.reason, "Unreachable");
    assert_int_equal(e.exit_code, 3);

    r.failure = RK_NET_TLS;
    rk_error_set(&r.err, RK_ERR_NETWORK,
                 "SSL certificate problem: unable to get local issuer certificate");
    rk_kube_transport_error(k, &r, &e);
    assert_string_equal(e.reason, "TLSError");
    assert_int_equal(e.exit_code, 3);
    assert_non_null(strstr(e.message, "not trusted by certificate-authority /etc/ca.pem"));
    assert_non_null(strstr(e.message, "unable to get local issuer certificate"));

    r.failure = RK_NET_INTERRUPTED;
    rk_kube_transport_error(k, &r, &e);
    assert_int_equal(e.exit_code, 130);
    rk_kube_free(k);
    unlink(path);
}

/* The real thing: nothing listens on the port. */
static void test_connection_refused_end_to_end(void **state)
{
    (void)state;
    char path[64];
    rk_kube *k = client_for("apiVersion: v1\nkind: Config\ncurrent-context: emulator\n"
                            "clusters: [{name: e, cluster: {server: 'http://127.0.0.1:9'}}]\n"
                            "contexts: [{name: emulator, context: {cluster: e}}]\n",
                            path);
    rk_kube_call c;
    rk_kube_call_init(&c, RK_VERB_GET);
    c.api_version = "v1";
    c.kind = "ConfigMap";
    c.name = "x";
    rk_kube_prepared p;
    rk_kube_error e;
    assert_int_equal(rk_kube_prepare(k, &c, &p, &e), RK_OK);
    rk_http_response r;
    assert_int_equal(rk_kube_send(k, &p, &r, &e), RK_ERR_NETWORK);
    assert_string_equal(e.message,
                        "cannot reach http://127.0.0.1:9 (context \"emulator\"): connection refused");
    assert_int_equal(r.attempts, 3); /* a refused GET is tried again twice, then reported */
    rk_http_response_free(&r);
    rk_kube_prepared_free(&p);
    rk_kube_free(k);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_apply_conflict_lists_fields_and_owners),
        cmocka_unit_test(test_invalid_with_causes),
        cmocka_unit_test(test_auth_errors_exit_3),
        cmocka_unit_test(test_status_code_wins_over_transport_code),
        cmocka_unit_test(test_not_a_status),
        cmocka_unit_test(test_status_without_message),
        cmocka_unit_test(test_transport_errors_name_server_and_context),
        cmocka_unit_test(test_connection_refused_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
