#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_internal.h"

static rk_interrupt_fn interrupt_fn;

void rk_http_set_interrupt(rk_interrupt_fn fn)
{
    interrupt_fn = fn;
}

int rk_http_interrupted(void)
{
    return interrupt_fn && interrupt_fn();
}

double rk_http_x_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int dup_blob(struct curl_blob *b, const void *data, size_t len)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->flags = CURL_BLOB_COPY;
    if (!data || !len)
        return 0;
    b->data = malloc(len);
    if (!b->data)
        return -1;
    memcpy(b->data, data, len);
    b->len = len;
    return 0;
}

/* ---- policy ----------------------------------------------------------------------- */

int rk_http_retryable(int repeatable, rk_net_failure failure, long status)
{
    if (!repeatable)
        return 0;
    switch (failure) {
    case RK_NET_CONNECT:
    case RK_NET_BROKEN: return 1;
    case RK_NET_OK:
        return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
    default: return 0;
    }
}

double rk_http_backoff(int attempt, double retry_after, double unit)
{
    if (unit < 0)
        unit = 0;
    if (unit > 1)
        unit = 1;
    if (retry_after >= 0) {
        double d = retry_after > 60 ? 60 : retry_after;
        return d + 0.1 * unit; /* a little spread so a crowd does not return at once */
    }
    if (attempt < 1)
        attempt = 1;
    double d = 0.2 * pow(2, attempt - 1);
    if (d > 10)
        d = 10;
    return d * (0.5 + 0.5 * unit);
}

double rk_http_parse_retry_after(const char *value)
{
    if (!value)
        return -1;
    while (*value == ' ')
        value++;
    if (*value < '0' || *value > '9')
        return -1;
    char *end;
    double d = strtod(value, &end);
    while (*end == ' ')
        end++;
    return *end ? -1 : d;
}

/* ---- client ----------------------------------------------------------------------- */

const char *rk_http_server(const rk_http *h)
{
    return h->server;
}

/* With tls-server-name, URLs carry that name (so curl sends it as SNI and checks the
 * certificate against it) and CURLOPT_CONNECT_TO sends the bytes to the real server. */
static rk_status set_url_base(rk_http *h, const char *tls_server_name, rk_error *err)
{
    size_t n = strlen(h->server);
    while (n && h->server[n - 1] == '/')
        n--;
    h->url_base = strndup(h->server, n);
    if (!h->url_base)
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory");
    CURLU *u = curl_url();
    if (!u)
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory");
    rk_status st = RK_OK;
    char *host = NULL, *port = NULL, *url = NULL;
    if (curl_url_set(u, CURLUPART_URL, h->url_base, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        st = rk_error_set(err, RK_ERR_INVALID, "server \"%s\" is not a URL", h->server);
        goto out;
    }
    if (!tls_server_name || !*tls_server_name)
        goto out;
    if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_HOST, tls_server_name, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
        st = rk_error_set(err, RK_ERR_INVALID, "tls-server-name \"%s\" is not a host name",
                          tls_server_name);
        goto out;
    }
    size_t ul = strlen(url);
    while (ul && url[ul - 1] == '/')
        url[--ul] = '\0';
    free(h->url_base);
    h->url_base = strdup(url);
    char rule[1024];
    snprintf(rule, sizeof rule, "%s:%s:%s:%s", tls_server_name, port, host, port);
    h->connect_to = curl_slist_append(NULL, rule);
    if (!h->url_base || !h->connect_to)
        st = rk_error_set(err, RK_ERR_NOMEM, "out of memory");
out:
    curl_free(host);
    curl_free(port);
    curl_free(url);
    curl_url_cleanup(u);
    return st;
}

rk_status rk_http_set_token(rk_http *h, const char *token, rk_error *err)
{
    free(h->auth_header);
    h->auth_header = NULL;
    if (!token || !*token)
        return RK_OK;
    /* Defence in depth (kubeconfig.c checks with a better message): a newline in the
     * token would add header lines of its own. */
    for (const unsigned char *p = (const unsigned char *)token; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return rk_error_set(err, RK_ERR_INVALID,
                                "the bearer token contains a control "
                                "character; refusing to send it");
    size_t n = strlen(token) + 32;
    h->auth_header = malloc(n);
    if (!h->auth_header)
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory");
    snprintf(h->auth_header, n, "Authorization: Bearer %s", token);
    return RK_OK;
}

rk_status rk_http_set_client_cert(rk_http *h, const void *cert, size_t cert_len, const void *key,
                                  size_t key_len, rk_error *err)
{
    if (dup_blob(&h->cert_blob, cert, cert_len) || dup_blob(&h->key_blob, key, key_len))
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory");
    return RK_OK;
}

rk_status rk_http_x_global_init(rk_error *err)
{
    static int global_done;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return rk_error_set(err, RK_ERR_INTERNAL, "libcurl failed to initialise");
        global_done = 1;
    }
    return RK_OK;
}

void rk_http_x_group_release(rk_http_group *g)
{
    if (g && --g->refs == 0) {
        curl_multi_cleanup(g->multi);
        free(g);
    }
}

rk_status rk_http_new(const rk_http_options *o, rk_http **out, rk_error *err)
{
    if (rk_http_x_global_init(err) != RK_OK)
        return err ? err->code : RK_ERR_INTERNAL;
    *out = NULL;
    if (!o->server || !*o->server)
        return rk_error_set(err, RK_ERR_INVALID, "no server URL");
    rk_http *h = calloc(1, sizeof *h);
    if (!h)
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory");
    h->server = strdup(o->server);
    h->ca_file = dup_or_null(o->ca_file);
    h->cert_file = dup_or_null(o->cert_file);
    h->key_file = dup_or_null(o->key_file);
    h->proxy = dup_or_null(o->proxy);
    h->username = dup_or_null(o->username);
    h->password = dup_or_null(o->password);
    h->insecure = o->insecure;
    h->verbose = o->verbose;
    h->log = o->log ? o->log : stderr;
    h->connect_timeout_ms =
        o->connect_timeout_ms > 0 ? o->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    h->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    h->max_retries = o->max_retries > 0   ? o->max_retries
                     : o->max_retries < 0 ? 0
                                          : DEFAULT_MAX_RETRIES;
    h->seed = (unsigned int)time(NULL) ^ (unsigned int)(size_t)h;
    snprintf(h->user_agent, sizeof h->user_agent, "rigelk8s/%s", RK_VERSION);
    if (o->group) {
        h->group = o->group;
        h->group->refs++;
        h->multi = o->group->multi;
    } else {
        h->multi = curl_multi_init();
    }
    h->share = curl_share_init();
    rk_status st = RK_OK;
    if (!h->server || !h->multi || !h->share || (o->ca_file && !h->ca_file) ||
        (o->proxy && !h->proxy) || dup_blob(&h->ca_blob, o->ca_data, o->ca_data_len) ||
        dup_blob(&h->cert_blob, o->cert_data, o->cert_data_len) ||
        dup_blob(&h->key_blob, o->key_data, o->key_data_len)) {
        st = rk_error_set(err, RK_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((st = set_url_base(h, o->tls_server_name, err)) != RK_OK ||
        (st = rk_http_set_token(h, o->token, err)) != RK_OK)
        goto fail;
    /* TLS sessions and DNS answers are shared; connections live in the multi handle's
     * cache, which every transfer of the run goes through. */
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    if (!h->group) {
        curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
        curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, 64L);
    }
    *out = h;
    return RK_OK;
fail:
    rk_http_free(h);
    return st;
}

void rk_http_free(rk_http *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->npool; i++)
        curl_easy_cleanup(h->pool[i]);
    if (h->group)
        rk_http_x_group_release(h->group);
    else if (h->multi)
        curl_multi_cleanup(h->multi);
    if (h->share)
        curl_share_cleanup(h->share);
    curl_slist_free_all(h->connect_to);
    free(h->server);
    free(h->url_base);
    free(h->ca_file);
    free(h->cert_file);
    free(h->key_file);
    free(h->proxy);
    free(h->username);
    if (h->password)
        memset(h->password, 0, strlen(h->password));
    free(h->password);
    if (h->auth_header)
        memset(h->auth_header, 0, strlen(h->auth_header));
    free(h->auth_header);
    free(h->ca_blob.data);
    free(h->cert_blob.data);
    if (h->key_blob.data)
        memset(h->key_blob.data, 0, h->key_blob.len);
    free(h->key_blob.data);
    free(h);
}

void rk_http_response_init(rk_http_response *r)
{
    memset(r, 0, sizeof *r);
    rk_buf_init(&r->body);
    r->retry_after = -1;
}

void rk_http_response_free(rk_http_response *r)
{
    rk_buf_free(&r->body);
}

/* ---- one attempt ------------------------------------------------------------------ */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    xfer *x = userp;
    size_t n = size * nmemb;
    if (x->is_stream) {
        long code = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200 && code < 300) {
            x->h->activity = 1;
            x->h->news++;
            if (x->h->group)
                x->h->group->news++;
            rk_status st = x->sink(x->ud, data, n, &x->sink_err);
            if (st != RK_OK) {
                x->sink_failed = 1;
                return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
            }
            return n;
        }
    }
    rk_buf_append(&x->resp->body, data, n);
    return x->resp->body.failed ? 0 : n;
}

static CURL *take_easy(rk_http *h)
{
    if (h->npool) {
        CURL *e = h->pool[--h->npool];
        curl_easy_reset(e);
        return e;
    }
    return curl_easy_init();
}

static void give_easy(rk_http *h, CURL *e)
{
    if (!e)
        return;
    if (h->npool < POOL_MAX)
        h->pool[h->npool++] = e;
    else
        curl_easy_cleanup(e);
}

static struct curl_slist *request_headers(const rk_http *h, const rk_http_request *req)
{
    char line[256];
    struct curl_slist *l = NULL, *t;
    snprintf(line, sizeof line, "Accept: %s", req->accept ? req->accept : "application/json");
    if (!(t = curl_slist_append(l, line)))
        goto fail;
    l = t;
    if (req->content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", req->content_type);
        if (!(t = curl_slist_append(l, line)))
            goto fail;
        l = t;
    }
    /* HTTP/1.1 bodies over 1 kB would otherwise wait a round trip for "100 Continue". */
    if (!(t = curl_slist_append(l, "Expect:")))
        goto fail;
    l = t;
    if (h->auth_header) {
        if (!(t = curl_slist_append(l, h->auth_header)))
            goto fail;
        l = t;
    }
    return l;
fail:
    curl_slist_free_all(l);
    return NULL;
}

static int setup_easy(xfer *x)
{
    rk_http *h = x->h;
    const rk_http_request *req = x->req;
    CURL *e = x->easy;
    size_t ulen = strlen(h->url_base) + strlen(req->path) + 1;
    char *url = malloc(ulen);
    if (!url)
        return -1;
    snprintf(url, ulen, "%s%s", h->url_base, req->path);
    CURLcode rc = curl_easy_setopt(e, CURLOPT_URL, url);
    free(url); /* libcurl copies string options */
    if (rc != CURLE_OK)
        return -1;
    curl_slist_free_all(x->headers);
    x->headers = request_headers(h, req);
    if (!x->headers)
        return -1;
    x->errbuf[0] = '\0';
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_SHARE, h->share);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, h->user_agent);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    /* Bodies are small JSON documents: the 64 kB default upload buffer of every handle
     * would be most of the memory a batch of concurrent applies uses. */
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
    long timeout = req->timeout_ms ? req->timeout_ms : h->timeout_ms;
    if (x->is_stream || timeout < 0)
        timeout = 0;
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    if (x->is_stream) {
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 0L);
    }
    if (h->connect_to)
        curl_easy_setopt(e, CURLOPT_CONNECT_TO, h->connect_to);
    if (h->proxy)
        curl_easy_setopt(e, CURLOPT_PROXY, h->proxy);
    if (h->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (h->ca_blob.data)
        curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &h->ca_blob);
    else if (h->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
    if (h->cert_blob.data) {
        curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &h->cert_blob);
        curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
    } else if (h->cert_file) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, h->cert_file);
    }
    if (h->key_blob.data) {
        curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &h->key_blob);
        curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
    } else if (h->key_file) {
        curl_easy_setopt(e, CURLOPT_SSLKEY, h->key_file);
    }
    if (h->username) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, h->username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, h->password ? h->password : "");
    }
    const char *m = req->method;
    if (strcmp(m, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(m, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(m, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
        if (req->body || strcmp(m, "DELETE") != 0) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        }
    }
    return 0;
}

rk_status rk_http_x_start(xfer *x)
{
    rk_http *h = x->h;
    if (!x->easy && !(x->easy = take_easy(h)))
        goto nomem;
    if (setup_easy(x) != 0)
        goto nomem;
    rk_buf_free(&x->resp->body);
    x->resp->status = 0;
    x->resp->content_type[0] = '\0';
    x->resp->retry_after = -1;
    x->resp->attempts++;
    x->attempt_start = rk_http_x_now();
    if (!x->first_start)
        x->first_start = x->attempt_start;
    if (curl_multi_add_handle(h->multi, x->easy) != CURLM_OK)
        goto nomem;
    x->state = XF_RUNNING;
    return RK_OK;
nomem:
    x->state = XF_DONE;
    x->resp->failure = RK_NET_OTHER;
    return rk_error_set(&x->resp->err, RK_ERR_NOMEM, "out of memory");
}

static void lower_first(char *s)
{
    if (s[0] >= 'A' && s[0] <= 'Z' && !(s[1] >= 'A' && s[1] <= 'Z'))
        s[0] = (char)(s[0] - 'A' + 'a');
}

static rk_net_failure classify(xfer *x, CURLcode rc, char *msg, size_t size)
{
    const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
    long os_errno = 0;
    curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        if (os_errno)
            snprintf(msg, size, "%s", strerror((int)os_errno));
        else
            snprintf(msg, size, "%s", detail);
        lower_first(msg);
        return RK_NET_CONNECT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        snprintf(msg, size, "%s", detail);
        lower_first(msg);
        return RK_NET_CONNECT;
    case CURLE_OPERATION_TIMEDOUT: {
        curl_off_t connected = 0;
        curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &connected);
        if (!connected) {
            snprintf(msg, size, "timed out connecting after %ld ms", x->h->connect_timeout_ms);
            return RK_NET_CONNECT;
        }
        snprintf(msg, size, "no complete answer within the timeout (%s)", detail);
        return RK_NET_TIMEOUT;
    }
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED: snprintf(msg, size, "%s", detail); return RK_NET_TLS;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        snprintf(msg, size, "connection dropped: %s", detail);
        return RK_NET_BROKEN;
    default: snprintf(msg, size, "%s", detail); return RK_NET_OTHER;
    }
}

static void log_attempt(xfer *x, double secs, const char *outcome, double retry_in)
{
    rk_http *h = x->h;
    long version = 0;
    curl_easy_getinfo(x->easy, CURLINFO_HTTP_VERSION, &version);
    char retry[64] = "";
    if (retry_in >= 0)
        snprintf(retry, sizeof retry, "; retrying in %.2f s", retry_in);
    fprintf(h->log, "rigelk8s: %s %s%s -> %s (%.1f ms, %s%s%s)%s\n", x->req->method, h->url_base,
            x->req->path, outcome, secs * 1000,
            version == CURL_HTTP_VERSION_2_0 ? "HTTP/2" : "HTTP/1.1",
            h->auth_header ? ", Authorization: Bearer <redacted>" : "",
            h->username ? ", basic auth <redacted>" : "", retry);
    fflush(h->log);
}

static unsigned int next_random(rk_http *h)
{
    h->seed = h->seed * 1103515245u + 12345u;
    return (h->seed >> 8) & 0xffffu;
}

/* Ends an attempt: records the outcome, then either finishes the transfer or schedules
 * the next attempt. */
static void finish_attempt(xfer *x, CURLcode rc)
{
    rk_http *h = x->h;
    rk_http_response *r = x->resp;
    double t = rk_http_x_now();
    h->news++;
    if (h->group)
        h->group->news++;
    curl_multi_remove_handle(h->multi, x->easy);
    r->failure = RK_NET_OK;
    rk_error_clear(&r->err);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r->status);
        char *ct = NULL;
        curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(r->content_type, sizeof r->content_type, "%s", ct ? ct : "");
        struct curl_header *hd = NULL;
        if (curl_easy_header(x->easy, "Retry-After", 0, CURLH_HEADER, -1, &hd) == CURLHE_OK)
            r->retry_after = rk_http_parse_retry_after(hd->value);
    } else if (x->sink_failed) {
        r->failure = RK_NET_OTHER;
        r->err = x->sink_err;
    } else if (rc == CURLE_WRITE_ERROR && r->body.failed) {
        r->failure = RK_NET_OTHER;
        rk_error_set(&r->err, RK_ERR_NOMEM, "out of memory reading the response");
    } else {
        char msg[400];
        r->failure = classify(x, rc, msg, sizeof msg);
        rk_error_set(&r->err, r->failure == RK_NET_TIMEOUT ? RK_ERR_TIMEOUT : RK_ERR_NETWORK, "%s",
                     msg);
        long code = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        r->status = code;
    }
    r->seconds = t - x->first_start;
    int max = r->failure == RK_NET_CONNECT && h->max_retries > CONNECT_MAX_RETRIES
                  ? CONNECT_MAX_RETRIES
                  : h->max_retries;
    int retry = !x->is_stream && r->attempts <= max &&
                rk_http_retryable(x->req->repeatable, r->failure, r->status);
    char outcome[600];
    if (r->failure == RK_NET_OK)
        snprintf(outcome, sizeof outcome, "%ld", r->status);
    else
        snprintf(outcome, sizeof outcome, "failed: %s", r->err.msg);
    double delay = -1;
    if (retry) {
        delay =
            rk_http_backoff(r->attempts, r->status == 429 || r->status == 503 ? r->retry_after : -1,
                            next_random(h) / 65535.0);
        x->not_before = t + delay;
        x->state = XF_WAITING;
    } else {
        x->state = XF_DONE;
        if (x->is_stream)
            h->activity = 1;
    }
    if (h->verbose)
        log_attempt(x, t - x->attempt_start, outcome, delay);
}

/* Finishes the attempts that ended; in a group they may belong to any of its clients
 * (each transfer knows its own through CURLINFO_PRIVATE). */
void rk_http_x_collect(CURLM *multi)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        xfer *x = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x)
            finish_attempt(x, msg->data.result);
    }
}

/* Runs libcurl for at most wait_ms and finishes the attempts that ended. A wait for
 * streams returns as soon as one of them has news. */
void rk_http_x_pump(rk_http *h, long wait_ms, int for_streams)
{
    int running = 0;
    curl_multi_perform(h->multi, &running);
    rk_http_x_collect(h->multi);
    if (wait_ms > 0 && !(for_streams && h->activity)) {
        curl_multi_poll(h->multi, NULL, 0, (int)wait_ms, NULL);
        curl_multi_perform(h->multi, &running);
        rk_http_x_collect(h->multi);
    }
}

void rk_http_x_interrupt(xfer *x)
{
    if (x->state == XF_RUNNING)
        curl_multi_remove_handle(x->h->multi, x->easy);
    x->state = XF_DONE;
    x->resp->failure = RK_NET_INTERRUPTED;
    rk_error_set(&x->resp->err, RK_ERR_NETWORK, "interrupted");
}

void rk_http_x_release(xfer *x)
{
    if (x->state == XF_RUNNING)
        curl_multi_remove_handle(x->h->multi, x->easy);
    give_easy(x->h, x->easy);
    x->easy = NULL;
    curl_slist_free_all(x->headers);
    x->headers = NULL;
}

rk_status rk_http_do(rk_http *h, const rk_http_request *req, rk_http_response *resp, rk_error *err)
{
    rk_status st = rk_http_do_many(h, req, resp, 1, 1, err);
    if (st != RK_OK)
        return st;
    if (resp->failure != RK_NET_OK) {
        if (err)
            *err = resp->err;
        return resp->err.code;
    }
    return RK_OK;
}

/* ---- streams ---------------------------------------------------------------------- */

rk_status rk_http_stream_open(rk_http *h, const rk_http_request *req, rk_http_sink sink, void *ud,
                              rk_http_stream **out, rk_error *err)
{
    *out = NULL;
    rk_http_stream *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(req->path))) {
        free(s);
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory");
    }
    s->req = *req;
    s->req.path = s->path;
    s->req.body = NULL;
    s->req.body_len = 0;
    rk_http_response_init(&s->resp);
    s->x.h = h;
    s->x.req = &s->req;
    s->x.resp = &s->resp;
    s->x.is_stream = 1;
    s->x.sink = sink;
    s->x.ud = ud;
    rk_status st = rk_http_x_start(&s->x);
    if (st != RK_OK) {
        if (err)
            *err = s->resp.err;
        rk_http_stream_close(s);
        return st;
    }
    if (h->verbose) {
        fprintf(h->log, "rigelk8s: %s %s%s (stream opened)\n", req->method, h->url_base, req->path);
        fflush(h->log);
    }
    *out = s;
    return RK_OK;
}

int rk_http_stream_done(const rk_http_stream *s)
{
    return s->x.state == XF_DONE;
}

const rk_http_response *rk_http_stream_response(const rk_http_stream *s)
{
    return &s->resp;
}

const rk_error *rk_http_stream_sink_error(const rk_http_stream *s)
{
    return s->x.sink_failed ? &s->x.sink_err : NULL;
}

void rk_http_stream_close(rk_http_stream *s)
{
    if (!s)
        return;
    rk_http_x_release(&s->x);
    rk_http_response_free(&s->resp);
    free(s->path);
    free(s);
}

rk_status rk_http_wait(rk_http *h, long timeout_ms, rk_error *err)
{
    double deadline = rk_http_x_now() + (timeout_ms > 0 ? timeout_ms : 0) / 1000.0;
    h->activity = 0;
    for (;;) {
        if (rk_http_interrupted())
            return rk_error_set(err, RK_ERR_NETWORK, "interrupted");
        double left = deadline - rk_http_x_now();
        long slice = left > 0 ? (long)(left * 1000) + 1 : 0;
        if (slice > POLL_SLICE_MS)
            slice = POLL_SLICE_MS;
        rk_http_x_pump(h, slice, 1);
        if (h->activity || rk_http_x_now() >= deadline)
            return RK_OK;
    }
}
