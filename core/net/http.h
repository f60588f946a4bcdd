/* http.h — the libcurl transport to one API server: connections kept and reused for the
 * run (one curl multi handle), HTTP/2 where offered, TLS from memory, timeouts, retries
 * with backoff for requests that are safe to repeat, concurrent batches, and streams.
 *
 * Ownership: rk_http_new copies every string and blob in the options. Requests are
 * borrowed for the duration of the call (for a stream: until it is closed). A response
 * owns its body; release it with rk_http_response_free. A stream is owned by the caller
 * and closed with rk_http_stream_close. Everything runs on the calling thread: the
 * transfers of open streams progress whenever any call drives the client. */
#ifndef RK_HTTP_H
#define RK_HTTP_H

#include <stddef.h>
#include <stdio.h>

#include "buf.h"
#include "error.h"
#include "interrupt.h"

typedef struct rk_http rk_http;
typedef struct rk_http_stream rk_http_stream;
typedef struct rk_http_group rk_http_group;
typedef struct rk_http_batch rk_http_batch;

typedef struct {
    const char *server;  /* "https://host:port[/prefix]", required */
    const char *ca_file; /* PEM bundle on disk */
    const void *ca_data; /* PEM bundle in memory (CURLOPT_CAINFO_BLOB) */
    size_t ca_data_len;
    const char *cert_file, *key_file; /* client certificate on disk */
    const void *cert_data, *key_data; /* client certificate in memory */
    size_t cert_data_len, key_data_len;
    int insecure;                    /* skip TLS verification */
    const char *tls_server_name;     /* SNI and the name the certificate must carry */
    const char *proxy;               /* proxy URL, or NULL for the environment's */
    const char *username, *password; /* basic auth */
    const char *token;               /* bearer token */
    long connect_timeout_ms;         /* 0: 10 s */
    long timeout_ms;                 /* whole request, 0: 30 s; streams have none */
    int max_retries;                 /* extra attempts for repeatable requests; 0: 5, <0: none */
    int verbose;                     /* log every request to log */
    FILE *log;                       /* NULL: stderr */
    rk_http_group *group;            /* NULL: a multi handle of its own; else the group's
                                    (borrowed; the group lives until its last client) */
} rk_http_options;

typedef struct {
    const char *method;       /* "GET", "POST", ... */
    const char *path;         /* path and query, beginning with '/' */
    const char *content_type; /* of body; NULL when there is none */
    const char *body;
    size_t body_len;
    const char *accept; /* NULL: application/json */
    int repeatable;     /* safe to send twice: enables retries */
    long timeout_ms;    /* 0: the client's; -1: none */
} rk_http_request;

/* Why a request got no HTTP response. */
typedef enum {
    RK_NET_OK = 0,
    RK_NET_CONNECT, /* refused, unreachable, DNS */
    RK_NET_TLS,     /* handshake, certificate or key problem */
    RK_NET_TIMEOUT,
    RK_NET_BROKEN,      /* connection dropped mid-transfer */
    RK_NET_INTERRUPTED, /* Ctrl-C */
    RK_NET_OTHER
} rk_net_failure;

typedef struct {
    long status; /* HTTP status; 0 when no response arrived */
    rk_buf body; /* the body of the last attempt */
    char content_type[128];
    double retry_after;     /* seconds from Retry-After, -1 when absent */
    rk_net_failure failure; /* RK_NET_OK when a response arrived (any status) */
    rk_error err;           /* failure description when failure != RK_NET_OK */
    int attempts;
    double seconds; /* from the first attempt to the end */
} rk_http_response;

rk_status rk_http_new(const rk_http_options *opts, rk_http **out, rk_error *err);
void rk_http_free(rk_http *h);

/* Replaces the bearer token or the client certificate (fresh exec credentials). */
rk_status rk_http_set_token(rk_http *h, const char *token, rk_error *err);
rk_status rk_http_set_client_cert(rk_http *h, const void *cert, size_t cert_len, const void *key,
                                  size_t key_len, rk_error *err);

/* The server URL requests go to (the real one, for messages). */
const char *rk_http_server(const rk_http *h);

void rk_http_response_init(rk_http_response *r);
void rk_http_response_free(rk_http_response *r);

/* Performs one request, retrying when it may. Returns RK_OK whenever an HTTP response
 * arrived, whatever its status; RK_ERR_NETWORK / RK_ERR_TIMEOUT otherwise (details in
 * resp->failure and resp->err, copied to err). */
rk_status rk_http_do(rk_http *h, const rk_http_request *req, rk_http_response *resp, rk_error *err);

/* Performs n requests with at most concurrency in flight (0: 16); resps[i] answers
 * reqs[i]. Every request runs to its own end: one failure never stops the others.
 * Returns RK_OK, or RK_ERR_NETWORK when interrupted (unfinished responses then say
 * RK_NET_INTERRUPTED). */
rk_status rk_http_do_many(rk_http *h, const rk_http_request *reqs, rk_http_response *resps,
                          size_t n, size_t concurrency, rk_error *err);

/* ---- streams (watches) ------------------------------------------------------------- */

/* Receives the body of a 2xx stream as it arrives. A non-OK return (with err set)
 * aborts the stream; rk_http_stream_sink_error then gives err. */
typedef rk_status (*rk_http_sink)(void *ud, const char *data, size_t len, rk_error *err);

/* Starts a streamed GET that runs alongside everything else. Not retried: the caller
 * decides how to resume. The sink gets only the body of a 2xx answer; any other body is
 * kept in the stream's response. */
rk_status rk_http_stream_open(rk_http *h, const rk_http_request *req, rk_http_sink sink, void *ud,
                              rk_http_stream **out, rk_error *err);
/* Non-zero once the stream ended (server closed, dropped, failed or aborted). */
int rk_http_stream_done(const rk_http_stream *s);
/* The result of an ended stream (status, failure, error body). Borrowed. */
const rk_http_response *rk_http_stream_response(const rk_http_stream *s);
/* The error a sink returned, when it aborted the stream. */
const rk_error *rk_http_stream_sink_error(const rk_http_stream *s);
void rk_http_stream_close(rk_http_stream *s);

/* Drives every open transfer for at most timeout_ms, returning early once a stream has
 * delivered data or ended. Returns RK_ERR_NETWORK when interrupted. */
rk_status rk_http_wait(rk_http *h, long timeout_ms, rk_error *err);

/* ---- groups and non-blocking batches (many clients in one process) ---------------
 *
 * A fleet updates many clusters from one process. Each cluster has its own client (its
 * own credentials, TLS settings and discovery cache), and the clients of a group share
 * one curl multi handle: every transfer of every client, requests and watch streams,
 * progresses whenever any of them is driven, and one poll waits on all of them. Nothing
 * here uses threads.
 *
 * A batch is rk_http_do_many cut in steps: rk_http_batch_start queues the requests,
 * rk_http_batch_step starts what may start (queued requests, retries whose backoff has
 * passed) and finishes what ended, without waiting; the group's wait (or
 * rk_http_batch_run, which is rk_http_do_many's loop) moves the bytes. A Lua coroutine
 * per cluster can then start a batch, yield, and be resumed when its client has news
 * (rk_http_news). */

rk_status rk_http_group_new(rk_http_group **out, rk_error *err);
/* Releases the caller's reference; the group goes with its last client. */
void rk_http_group_free(rk_http_group *g);
/* Drives every transfer of every client of the group for at most timeout_ms (capped at
 * 100 ms, to look at Ctrl-C), returning early once a transfer ended or a stream
 * delivered data. Returns RK_ERR_NETWORK when interrupted. */
rk_status rk_http_group_wait(rk_http_group *g, long timeout_ms, rk_error *err);
/* A counter that grows whenever one of h's transfers ends or one of its streams gets
 * data: a waiter compares it with the value it saw before it went to sleep. */
unsigned long rk_http_news(const rk_http *h);

/* Queues n requests (at most concurrency in flight, 0: 16); resps[i] answers reqs[i].
 * reqs and resps are borrowed until the batch is freed. Nothing is sent until a step. */
rk_status rk_http_batch_start(rk_http *h, const rk_http_request *reqs, rk_http_response *resps,
                              size_t n, size_t concurrency, rk_http_batch **out, rk_error *err);
/* Moves the batch along without waiting. Returns 1 once every request has ended, else
 * 0 with *wake set to the monotonic time (seconds, as rk_http_now) at which a retry is
 * due, or 0 when none is. Ctrl-C ends the unfinished requests as RK_NET_INTERRUPTED. */
int rk_http_batch_step(rk_http_batch *b, double *wake);
/* Steps and drives the batch's client until every request has ended (rk_http_do_many's
 * loop). RK_ERR_NETWORK when interrupted. */
rk_status rk_http_batch_run(rk_http_batch *b, rk_error *err);
/* Whether Ctrl-C ended the batch. */
int rk_http_batch_interrupted(const rk_http_batch *b);
/* Stops unfinished requests (their responses say RK_NET_INTERRUPTED) and frees. */
void rk_http_batch_free(rk_http_batch *b);
/* The clock of batch wake times. */
double rk_http_now(void);

/* ---- interruption (Ctrl-C) --------------------------------------------------------- */

/* Sets what the waits of this transport, and of exec credential plugins, ask before
 * going on (every 100 ms at the most); a yes ends them with "interrupted". Process-wide;
 * NULL, the default, means never. The host sets it when it loads the plugin, so that
 * the plugin needs nothing of the host. */
void rk_http_set_interrupt(rk_interrupt_fn fn);
/* Non-zero when the function set above says so. */
int rk_http_interrupted(void);

/* ---- policy, exposed for tests ----------------------------------------------------- */

/* Whether an attempt that ended with this failure / status should be tried again. */
int rk_http_retryable(int repeatable, rk_net_failure failure, long status);
/* Seconds to wait before attempt number `attempt` (1 = first retry): exponential from
 * 0.2 s, capped at 10 s, with jitter in [50%, 100%] from `unit` (0..1); a server's
 * Retry-After (>= 0) wins, capped at 60 s. */
double rk_http_backoff(int attempt, double retry_after, double unit);
/* Parses a Retry-After value (delta seconds); -1 when absent or an HTTP date. */
double rk_http_parse_retry_after(const char *value);

#endif
