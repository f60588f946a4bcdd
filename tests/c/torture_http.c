/* The transport against a scripted HTTP server on 127.0.0.1: retries with backoff for
 * repeatable requests only (never a bare POST), Retry-After, connection reuse, the
 * concurrent mode, timeouts, the User-Agent, a verbose log with the token redacted, and
 * the interrupt callback the host sets (Ctrl-C). Also the retry policy as pure functions. */
#define _GNU_SOURCE /* memmem, strcasestr in the test server */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http.h"

/* ---- a scripted server: answers[i] is sent to the i-th request, then "200 ok" ---- */

typedef struct {
    int status;
    const char *extra_headers;
    const char *body;
    int delay_ms;
} answer;

static struct {
    int fd, port;
    pthread_mutex_t lock;
    const answer *script;
    size_t nscript, served, connections;
    int in_flight, max_in_flight;
    char last_request[4096];
    pthread_t thread;
    int stop;
} srv = {.lock = PTHREAD_MUTEX_INITIALIZER};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *serve_connection(void *arg)
{
    int c = (int)(intptr_t)arg;
    char buf[8192];
    size_t have = 0;
    for (;;) {
        char *end;
        while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
            ssize_t n = recv(c, buf + have, sizeof buf - have - 1, 0);
            if (n <= 0)
                goto out;
            have += (size_t)n;
        }
        size_t head = (size_t)(end - buf) + 4, body = 0;
        buf[have] = '\0';
        char *cl = strcasestr(buf, "content-length:");
        if (cl && cl < end)
            body = (size_t)atol(cl + 15);
        while (have < head + body) {
            ssize_t n = recv(c, buf + have, sizeof buf - have - 1, 0);
            if (n <= 0)
                goto out;
            have += (size_t)n;
        }
        pthread_mutex_lock(&srv.lock);
        answer a = {200, NULL, "{\"ok\":true}", 0};
        if (srv.served < srv.nscript)
            a = srv.script[srv.served];
        srv.served++;
        memcpy(srv.last_request, buf, head < sizeof srv.last_request ? head : sizeof srv.last_request - 1);
        srv.last_request[head < sizeof srv.last_request ? head : sizeof srv.last_request - 1] = '\0';
        if (++srv.in_flight > srv.max_in_flight)
            srv.max_in_flight = srv.in_flight;
        pthread_mutex_unlock(&srv.lock);
        if (a.delay_ms)
            usleep((useconds_t)a.delay_ms * 1000);
        char out[2048];
        const char *b = a.body ? a.body : "";
        int n = snprintf(out, sizeof out,
                         "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                         "%s\r\n%s",
                         a.status, strlen(b), a.extra_headers ? a.extra_headers : "", b);
        pthread_mutex_lock(&srv.lock);
        srv.in_flight--;
        pthread_mutex_unlock(&srv.lock);
        if (send(c, out, (size_t)n, MSG_NOSIGNAL) < 0)
            goto out;
        memmove(buf, buf + head + body, have - head - body);
        have -= head + body;
    }
out:
    close(c);
    return NULL;
}

static void *accept_loop(void *arg)
{
    (void)arg;
    while (!srv.stop) {
        int c = accept(srv.fd, NULL, NULL);
        if (c < 0)
            continue;
        if (srv.stop) {
            close(c);
            break;
        }
        pthread_mutex_lock(&srv.lock);
        srv.connections++;
        pthread_mutex_unlock(&srv.lock);
        pthread_t t;
        pthread_create(&t, NULL, serve_connection, (void *)(intptr_t)c);
        pthread_detach(t);
    }
    return NULL;
}

static void script(const answer *a, size_t n)
{
    pthread_mutex_lock(&srv.lock);
    srv.script = a;
    srv.nscript = n;
    srv.served = 0;
    srv.connections = 0;
    srv.max_in_flight = 0;
    pthread_mutex_unlock(&srv.lock);
}

static int start_server(void **state)
{
    (void)state;
    srv.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(srv.fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(srv.fd, 64) != 0)
        return -1;
    socklen_t len = sizeof a;
    getsockname(srv.fd, (struct sockaddr *)&a, &len);
    srv.port = ntohs(a.sin_port);
    return pthread_create(&srv.thread, NULL, accept_loop, NULL);
}

static int stop_server(void **state)
{
    (void)state;
    srv.stop = 1;
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)srv.port);
    connect(c, (struct sockaddr *)&a, sizeof a);
    close(c);
    pthread_join(srv.thread, NULL);
    close(srv.fd);
    return 0;
}

static rk_http *client(FILE *log, const char *token)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", srv.port);
    rk_http_options o = {0};
    o.server = url;
    o.token = token;
    o.verbose = log != NULL;
    o.log = log;
    o.timeout_ms = 3000;
    rk_http *h;
    rk_error err;
    if (rk_http_new(&o, &h, &err) != RK_OK)
        fail_msg("%s", err.msg);
    return h;
}

static rk_http_request get_req(const char *path)
{
    rk_http_request r = {0};
    r.method = "GET";
    r.path = path;
    r.repeatable = 1;
    return r;
}

/* ---- tests ---- */

static void test_retries_5xx_for_get(void **state)
{
    (void)state;
    static const answer a[] = {{503, NULL, "{}", 0}, {502, NULL, "{}", 0}, {200, NULL, "{\"n\":3}", 0}};
    script(a, 3);
    rk_http *h = client(NULL, NULL);
    rk_http_request r = get_req("/api/v1/namespaces");
    rk_http_response resp;
    assert_int_equal(rk_http_do(h, &r, &resp, NULL), RK_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.attempts, 3);
    assert_string_equal(resp.body.data, "{\"n\":3}");
    assert_int_equal(srv.served, 3);
    rk_http_response_free(&resp);
    rk_http_free(h);
}

static void test_never_retries_a_post(void **state)
{
    (void)state;
    static const answer a[] = {{503, NULL, "{\"kind\":\"Status\"}", 0}};
    script(a, 1);
    rk_http *h = client(NULL, NULL);
    rk_http_request r = {0};
    r.method = "POST";
    r.path = "/api/v1/namespaces/d/configmaps";
    r.body = "{}";
    r.body_len = 2;
    r.content_type = "application/json";
    rk_http_response resp;
    assert_int_equal(rk_http_do(h, &r, &resp, NULL), RK_OK);
    assert_int_equal(resp.status, 503);
    assert_int_equal(resp.attempts, 1);
    assert_int_equal(srv.served, 1);
    assert_non_null(strstr(srv.last_request, "POST /api/v1/namespaces/d/configmaps HTTP/1.1"));
    rk_http_response_free(&resp);
    rk_http_free(h);
}

static void test_honours_retry_after(void **state)
{
    (void)state;
    static const answer a[] = {{429, "Retry-After: 1\r\n", "{}", 0}, {200, NULL, "{}", 0}};
    script(a, 2);
    rk_http *h = client(NULL, NULL);
    rk_http_request r = get_req("/x");
    rk_http_response resp;
    double t0 = now_s();
    assert_int_equal(rk_http_do(h, &r, &resp, NULL), RK_OK);
    double took = now_s() - t0;
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.attempts, 2);
    assert_true(took >= 1.0);
    assert_true(took < 2.5);
    rk_http_response_free(&resp);
    rk_http_free(h);
}

static void test_gives_up_after_max_retries(void **state)
{
    (void)state;
    static const answer a[] = {{500, NULL, "{}", 0}, {500, NULL, "{}", 0}, {500, NULL, "{}", 0},
                               {500, NULL, "{}", 0}, {500, NULL, "{}", 0}, {500, NULL, "{}", 0},
                               {500, NULL, "{}", 0}, {500, NULL, "{}", 0}};
    script(a, 8);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", srv.port);
    rk_http_options o = {0};
    o.server = url;
    o.max_retries = 2;
    rk_http *h;
    assert_int_equal(rk_http_new(&o, &h, NULL), RK_OK);
    rk_http_request r = get_req("/x");
    rk_http_response resp;
    assert_int_equal(rk_http_do(h, &r, &resp, NULL), RK_OK);
    assert_int_equal(resp.status, 500);
    assert_int_equal(resp.attempts, 3);
    rk_http_response_free(&resp);
    rk_http_free(h);
}

static void test_reuses_one_connection(void **state)
{
    (void)state;
    script(NULL, 0);
    rk_http *h = client(NULL, NULL);
    for (int i = 0; i < 10; i++) {
        rk_http_request r = get_req("/api/v1/pods");
        rk_http_response resp;
        assert_int_equal(rk_http_do(h, &r, &resp, NULL), RK_OK);
        assert_int_equal(resp.status, 200);
        rk_http_response_free(&resp);
    }
    assert_int_equal(srv.served, 10);
    assert_int_equal(srv.connections, 1);
    rk_http_free(h);
}

static void test_many_at_once_with_a_limit(void **state)
{
    (void)state;
    static answer a[40];
    for (int i = 0; i < 40; i++)
        a[i] = (answer){i == 7 ? 404 : 200, NULL, "{}", 20};
    script(a, 40);
    rk_http *h = client(NULL, NULL);
    rk_http_request reqs[40];
    rk_http_response resps[40];
    for (int i = 0; i < 40; i++)
        reqs[i] = get_req("/api/v1/configmaps");
    double t0 = now_s();
    assert_int_equal(rk_http_do_many(h, reqs, resps, 40, 8, NULL), RK_OK);
    double took = now_s() - t0;
    int ok = 0, not_found = 0;
    for (int i = 0; i < 40; i++) {
        ok += resps[i].status == 200;
        not_found += resps[i].status == 404;
        rk_http_response_free(&resps[i]);
    }
    assert_int_equal(ok, 39);
    assert_int_equal(not_found, 1); /* one failure stops nothing */
    assert_true(srv.max_in_flight <= 8);
    assert_true(srv.max_in_flight >= 2);
    assert_true(took < 40 * 0.020); /* faster than one at a time */
    rk_http_free(h);
}

static void test_timeout(void **state)
{
    (void)state;
    static const answer a[] = {{200, NULL, "{}", 1500}};
    script(a, 1);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", srv.port);
    rk_http_options o = {0};
    o.server = url;
    o.timeout_ms = 300;
    rk_http *h;
    assert_int_equal(rk_http_new(&o, &h, NULL), RK_OK);
    rk_http_request r = get_req("/slow");
    rk_http_response resp;
    rk_error err;
    double t0 = now_s();
    assert_int_equal(rk_http_do(h, &r, &resp, &err), RK_ERR_TIMEOUT);
    assert_true(now_s() - t0 < 1.2); /* not retried: a timeout is not a dropped connection */
    assert_int_equal(resp.failure, RK_NET_TIMEOUT);
    assert_int_equal(resp.attempts, 1);
    rk_http_response_free(&resp);
    rk_http_free(h);
    usleep(1300 * 1000); /* let the slow answer drain before the next test */
}

/* The host's Ctrl-C, as the plugin sees it: a callback that says yes from its Nth call. */
static int interrupt_calls, interrupt_from;

static int interrupt_after(void)
{
    return ++interrupt_calls >= interrupt_from;
}

static void test_interrupt_callback_stops_waits(void **state)
{
    (void)state;
    static const answer a[] = {{200, NULL, "{}", 1500}};
    script(a, 1);
    rk_http *h = client(NULL, NULL);
    rk_http_request r = get_req("/slow");
    rk_http_response resp;
    rk_error err;
    assert_false(rk_http_interrupted()); /* nobody set one: never */
    interrupt_calls = 0;
    interrupt_from = 3;
    rk_http_set_interrupt(interrupt_after);
    assert_int_equal(rk_http_do(h, &r, &resp, &err), RK_ERR_NETWORK);
    assert_string_equal(err.msg, "interrupted");
    assert_int_equal(resp.failure, RK_NET_INTERRUPTED);
    assert_int_equal(resp.status, 0);
    assert_int_equal(interrupt_calls, 3); /* asked on every turn, stopped at the first yes */
    rk_http_response_free(&resp);
    /* a wait for streams stops too, and at once */
    interrupt_calls = 0;
    interrupt_from = 1;
    assert_int_equal(rk_http_wait(h, 5000, &err), RK_ERR_NETWORK);
    assert_string_equal(err.msg, "interrupted");
    /* unset: the same client works again */
    rk_http_set_interrupt(NULL);
    assert_false(rk_http_interrupted());
    assert_int_equal(rk_http_wait(h, 10, &err), RK_OK);
    usleep(1600 * 1000); /* let the slow answer drain before the next test */
    script(NULL, 0);
    r = get_req("/again");
    assert_int_equal(rk_http_do(h, &r, &resp, &err), RK_OK);
    assert_int_equal(resp.status, 200);
    rk_http_response_free(&resp);
    rk_http_free(h);
}

static void test_headers_and_redacted_log(void **state)
{
    (void)state;
    script(NULL, 0);
    char *logbuf = NULL;
    size_t loglen = 0;
    FILE *log = open_memstream(&logbuf, &loglen);
    rk_http *h = client(log, "s3cr3t-t0ken");
    rk_http_request r = get_req("/api/v1/namespaces/d/pods?limit=5");
    rk_http_response resp;
    assert_int_equal(rk_http_do(h, &r, &resp, NULL), RK_OK);
    rk_http_response_free(&resp);
    rk_http_free(h);
    fclose(log);
    char ua[64];
    snprintf(ua, sizeof ua, "User-Agent: rigelk8s/%s\r\n", RK_VERSION);
    assert_non_null(strstr(srv.last_request, ua));
    assert_non_null(strstr(srv.last_request, "Authorization: Bearer s3cr3t-t0ken\r\n"));
    assert_non_null(strstr(srv.last_request, "Accept: application/json\r\n"));
    assert_non_null(strstr(logbuf, "GET http://127.0.0.1:"));
    assert_non_null(strstr(logbuf, "/api/v1/namespaces/d/pods?limit=5 -> 200 ("));
    assert_non_null(strstr(logbuf, "Authorization: Bearer <redacted>"));
    assert_null(strstr(logbuf, "s3cr3t"));
    free(logbuf);
}

static void test_connection_refused_is_classified(void **state)
{
    (void)state;
    rk_http_options o = {0};
    o.server = "http://127.0.0.1:9";
    o.max_retries = -1;
    rk_http *h;
    assert_int_equal(rk_http_new(&o, &h, NULL), RK_OK);
    rk_http_request r = get_req("/");
    rk_http_response resp;
    rk_error err;
    assert_int_equal(rk_http_do(h, &r, &resp, &err), RK_ERR_NETWORK);
    assert_int_equal(resp.failure, RK_NET_CONNECT);
    assert_string_equal(err.msg, "connection refused");
    assert_int_equal(resp.attempts, 1);
    rk_http_response_free(&resp);
    rk_http_free(h);
}

/* ---- policy ---- */

static void test_retry_policy(void **state)
{
    (void)state;
    assert_true(rk_http_retryable(1, RK_NET_OK, 429));
    assert_true(rk_http_retryable(1, RK_NET_OK, 503));
    assert_true(rk_http_retryable(1, RK_NET_OK, 500));
    assert_true(rk_http_retryable(1, RK_NET_CONNECT, 0));
    assert_true(rk_http_retryable(1, RK_NET_BROKEN, 0));
    assert_false(rk_http_retryable(1, RK_NET_OK, 404));
    assert_false(rk_http_retryable(1, RK_NET_OK, 409));
    assert_false(rk_http_retryable(1, RK_NET_OK, 501));
    assert_false(rk_http_retryable(1, RK_NET_TLS, 0));
    assert_false(rk_http_retryable(1, RK_NET_TIMEOUT, 0));
    assert_false(rk_http_retryable(1, RK_NET_INTERRUPTED, 0));
    assert_false(rk_http_retryable(0, RK_NET_OK, 503));
    assert_false(rk_http_retryable(0, RK_NET_CONNECT, 0));
}

static void test_backoff(void **state)
{
    (void)state;
    /* exponential from 0.2 s, jitter between half and all of it, capped at 10 s */
    assert_true(rk_http_backoff(1, -1, 1.0) == 0.2);
    assert_true(rk_http_backoff(1, -1, 0.0) == 0.1);
    assert_true(rk_http_backoff(2, -1, 1.0) == 0.4);
    assert_true(rk_http_backoff(4, -1, 1.0) == 1.6);
    assert_true(rk_http_backoff(20, -1, 1.0) == 10.0);
    for (int i = 0; i <= 10; i++) {
        double d = rk_http_backoff(3, -1, i / 10.0);
        assert_true(d >= 0.4 && d <= 0.8);
    }
    /* the server's Retry-After wins, capped at a minute */
    assert_true(rk_http_backoff(1, 3, 0.0) == 3.0);
    assert_true(rk_http_backoff(5, 0, 0.0) == 0.0);
    assert_true(rk_http_backoff(1, 3600, 0.0) == 60.0);
    assert_true(rk_http_parse_retry_after("5") == 5.0);
    assert_true(rk_http_parse_retry_after(" 2 ") == 2.0);
    assert_true(rk_http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == -1);
    assert_true(rk_http_parse_retry_after(NULL) == -1);
    assert_true(rk_http_parse_retry_after("1x") == -1);
}

static void test_tls_server_name_and_bad_server(void **state)
{
    (void)state;
    rk_http_options o = {0};
    rk_http *h;
    rk_error err;
    o.server = "https://10.0.0.1:6443/";
    o.tls_server_name = "kubernetes.default";
    assert_int_equal(rk_http_new(&o, &h, &err), RK_OK);
    assert_string_equal(rk_http_server(h), "https://10.0.0.1:6443/");
    rk_http_free(h);
    o.server = "";
    assert_int_equal(rk_http_new(&o, &h, &err), RK_ERR_INVALID);
    o.server = "::not a url";
    o.tls_server_name = NULL;
    assert_int_equal(rk_http_new(&o, &h, &err), RK_ERR_INVALID);
    assert_non_null(strstr(err.msg, "is not a URL"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retries_5xx_for_get),
        cmocka_unit_test(test_never_retries_a_post),
        cmocka_unit_test(test_honours_retry_after),
        cmocka_unit_test(test_gives_up_after_max_retries),
        cmocka_unit_test(test_reuses_one_connection),
        cmocka_unit_test(test_many_at_once_with_a_limit),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_interrupt_callback_stops_waits),
        cmocka_unit_test(test_headers_and_redacted_log),
        cmocka_unit_test(test_connection_refused_is_classified),
        cmocka_unit_test(test_retry_policy),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_tls_server_name_and_bad_server),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
