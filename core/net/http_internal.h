/* http_internal.h — what http.c shares with http_group.c (groups and non-blocking
 * batches, see http.h): the transfer and client structures and the steps of a
 * transfer. Not a public API. */
#ifndef RK_HTTP_INTERNAL_H
#define RK_HTTP_INTERNAL_H

#include <curl/curl.h>

#include "http.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_TIMEOUT_MS         30000L
#define DEFAULT_MAX_RETRIES        5
#define DEFAULT_CONCURRENCY        16
/* Connection failures are retried less: an unreachable cluster should be reported
 * within a second, not after the full backoff ladder. */
#define CONNECT_MAX_RETRIES 2
/* How often a wait wakes up to look at Ctrl-C. */
#define POLL_SLICE_MS 100
#define POOL_MAX      64

enum xfer_state { XF_IDLE, XF_WAITING, XF_RUNNING, XF_DONE };

typedef struct xfer {
    rk_http *h;
    CURL *easy;
    struct curl_slist *headers;
    const rk_http_request *req;
    rk_http_response *resp;
    enum xfer_state state;
    int counted; /* a batch has counted it as ended */
    double first_start, attempt_start, not_before;
    char errbuf[CURL_ERROR_SIZE];
    /* streams only */
    int is_stream;
    rk_http_sink sink;
    void *ud;
    int sink_failed;
    rk_error sink_err;
} xfer;

struct rk_http_stream {
    xfer x;
    rk_http_request req; /* the stream keeps its own copy: callers' requests are temporary */
    char *path;
    rk_http_response resp;
};

struct rk_http_group {
    CURLM *multi;
    unsigned long news; /* the sum of its clients' news */
    size_t refs;        /* the creator's reference and one per client */
};

struct rk_http {
    CURLM *multi; /* its own, or its group's */
    rk_http_group *group;
    unsigned long news; /* see rk_http_news */
    CURLSH *share;
    char *server;   /* as configured, for messages */
    char *url_base; /* what URLs are built on (differs with tls-server-name) */
    struct curl_slist *connect_to;
    char *ca_file, *cert_file, *key_file, *proxy, *username, *password;
    struct curl_blob ca_blob, cert_blob, key_blob;
    char *auth_header;
    long connect_timeout_ms, timeout_ms;
    int max_retries, insecure, verbose;
    FILE *log;
    char user_agent[64];
    CURL *pool[POOL_MAX];
    size_t npool;
    int activity; /* a stream delivered data or ended since the last wait began */
    unsigned int seed;
};

/* Monotonic seconds. */
double rk_http_x_now(void);
/* curl_global_init once. */
rk_status rk_http_x_global_init(rk_error *err);
/* Drops a reference to a group (the last one frees it). */
void rk_http_x_group_release(rk_http_group *g);
/* Starts (or restarts, for a retry) the attempt of a transfer on its client's multi. */
rk_status rk_http_x_start(xfer *x);
/* Ends an unfinished transfer as RK_NET_INTERRUPTED. */
void rk_http_x_interrupt(xfer *x);
/* Returns a transfer's easy handle to its client's pool. */
void rk_http_x_release(xfer *x);
/* Runs libcurl for at most wait_ms and finishes the attempts that ended. */
void rk_http_x_pump(rk_http *h, long wait_ms, int for_streams);
/* Finishes the attempts of a multi handle that ended (of any client of a group). */
void rk_http_x_collect(CURLM *multi);

#endif
