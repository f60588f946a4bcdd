/* kube.h — the Kubernetes REST layer: a connected client (kubeconfig + transport), the
 * discovery cache that maps apiVersion+kind to a resource path, request paths and query
 * strings, verbs prepared as HTTP requests, 401 handling, and Status errors.
 *
 * Bodies travel as JSON bytes: callers encode objects, and decode answers, themselves
 * (the Lua binding goes from JSON straight to Lua tables).
 *
 * Ownership: rk_kube_connect returns a client the caller frees with rk_kube_free.
 * Resources returned by rk_kube_resolve are borrowed from the client's cache and live as
 * long as the client. A prepared call owns its path and borrows the body it was given.
 * rk_kube_error is a plain value. */
#ifndef RK_KUBE_H
#define RK_KUBE_H

#include <stddef.h>
#include <stdio.h>

#include "buf.h"
#include "error.h"
#include "http.h"
#include "kubeconfig.h"

typedef struct rk_kube rk_kube;

#define RK_KUBE_MAX_CAUSES 16

typedef struct {
    char field[160];
    char reason[64];
    char message[256];
} rk_kube_cause;

/* A failed call, in the shape of a Kubernetes Status. code is the HTTP status (0 when no
 * response arrived); reason is the Status reason (NotFound, Conflict, Forbidden, ...) or
 * one of Unreachable, TLSError, Timeout, Interrupted, InvalidConfig, NoKindMatch,
 * InvalidResponse for failures on our side. exit_code follows rigelk8s.errors. */
typedef struct {
    long code;
    char reason[64];
    char message[1024];
    char kind[64], name[254], group[128]; /* Status details, when given */
    rk_kube_cause causes[RK_KUBE_MAX_CAUSES];
    size_t ncauses;
    int exit_code;
} rk_kube_error;

#define RK_EXIT_FAILED      1
#define RK_EXIT_USAGE       2
#define RK_EXIT_UNREACHABLE 3
#define RK_EXIT_INTERRUPTED 130

typedef struct {
    const char *kubeconfig, *context, *namespace; /* as the flags of the same names */
    int verbose;
    double timeout;       /* seconds for one request; 0: 30 */
    int max_retries;      /* 0: the transport's default (5); <0: no retries */
    FILE *log;            /* verbose log and warnings; NULL: stderr */
    rk_http_group *group; /* share this group's transfers (see http.h); NULL: none */
} rk_kube_options;

rk_status rk_kube_connect(const rk_kube_options *o, rk_kube **out, rk_kube_error *kerr);
void rk_kube_free(rk_kube *k);

const rk_kubeconfig *rk_kube_config(const rk_kube *k);
rk_http *rk_kube_http(rk_kube *k);

/* ---- discovery ---------------------------------------------------------------------- */

typedef struct {
    char *group; /* "" for the core group */
    char *version;
    char *kind;
    char *plural; /* the resource name in paths */
    int namespaced;
} rk_kube_resource;

/* Maps apiVersion ("v1", "apps/v1") and kind to a resource. Well-known built-in kinds
 * come from a table; anything else from the server's discovery documents, fetched once
 * per group/version and fetched again once when a kind is missing (a CRD created a
 * moment ago). NoKindMatch when the server does not serve it. */
rk_status rk_kube_resolve(rk_kube *k, const char *api_version, const char *kind,
                          const rk_kube_resource **out, rk_kube_error *kerr);

/* The table of well-known kinds, for tests: NULL when kind is not in it. */
const rk_kube_resource *rk_kube_builtin(const char *api_version, const char *kind);

/* ---- paths -------------------------------------------------------------------------- */

typedef struct {
    const char *label_selector, *field_selector;
    long limit; /* 0: none */
    const char *continue_token;
    const char *resource_version;
    const char *resource_version_match;
    int watch, allow_bookmarks;
    long timeout_seconds; /* 0: none */
    const char *field_manager;
    int force, dry_run;
    const char *propagation_policy; /* Foreground | Background | Orphan */
    long grace_period_seconds;      /* <0: none */
} rk_kube_query;

/* Appends the path of a resource: /api/v1/namespaces/NS/PLURAL/NAME/SUB, or
 * /apis/GROUP/VERSION/...; namespace is ignored for cluster-scoped kinds and may be NULL
 * (all namespaces) for namespaced ones; name and subresource may be NULL. Then the
 * query, if any, percent-encoded. */
rk_status rk_kube_path(rk_buf *out, const rk_kube_resource *res, const char *namespace,
                       const char *name, const char *subresource, const rk_kube_query *q,
                       rk_error *err);
/* Appends "?k=v&..." for the query's set fields (nothing when none is set). */
void rk_kube_query_string(rk_buf *out, const rk_kube_query *q);
/* Appends s percent-encoded for a path segment or query value (RFC 3986 unreserved
 * characters stay). */
void rk_url_escape(rk_buf *out, const char *s);

/* ---- calls -------------------------------------------------------------------------- */

typedef enum {
    RK_VERB_GET,
    RK_VERB_LIST,
    RK_VERB_WATCH,
    RK_VERB_CREATE,
    RK_VERB_REPLACE,
    RK_VERB_PATCH_MERGE,
    RK_VERB_PATCH_JSON,
    RK_VERB_PATCH_STRATEGIC,
    RK_VERB_APPLY,
    RK_VERB_DELETE,
    RK_VERB_RAW /* method and path given by the caller */
} rk_kube_verb;

typedef struct {
    rk_kube_verb verb;
    const char *api_version, *kind;
    const char *namespace; /* NULL: the client's namespace for namespaced kinds */
    const char *name;
    const char *subresource;
    int all_namespaces; /* list/watch across namespaces */
    rk_kube_query q;
    const char *body; /* JSON */
    size_t body_len;
    const char *method, *path; /* RK_VERB_RAW only */
    const char *content_type;  /* RK_VERB_RAW only: of the body (default application/json) */
} rk_kube_call;

typedef struct {
    rk_http_request http; /* ready to send */
    rk_buf path;
    char what[400]; /* "apply ConfigMap default/x", for messages */
    const rk_kube_resource *res;
} rk_kube_prepared;

void rk_kube_query_init(rk_kube_query *q);
void rk_kube_call_init(rk_kube_call *c, rk_kube_verb verb);

/* Resolves the kind and builds the request. The call's strings and body must outlive
 * the prepared request. */
rk_status rk_kube_prepare(rk_kube *k, const rk_kube_call *call, rk_kube_prepared *out,
                          rk_kube_error *kerr);
void rk_kube_prepared_free(rk_kube_prepared *p);

/* Sends a prepared request. RK_OK only for a 2xx answer (resp holds it); otherwise kerr
 * says why (transport failure or the server's Status) and resp holds what arrived.
 * A 401 refreshes exec-plugin / token-file credentials and tries once more. */
rk_status rk_kube_send(rk_kube *k, rk_kube_prepared *p, rk_http_response *resp,
                       rk_kube_error *kerr);

/* Sends n prepared requests, at most concurrency at once. Every call runs to its own
 * end: statuses[i] is RK_OK for a 2xx answer, else the failure, which
 * rk_kube_describe_failure explains. Returns RK_OK when every request ran; otherwise
 * (no credentials could be had, or Ctrl-C) kerr says why and statuses say nothing. */
rk_status rk_kube_send_many(rk_kube *k, rk_kube_prepared *ps, rk_http_response *resps,
                            rk_status *statuses, size_t n, size_t concurrency, rk_kube_error *kerr);

/* The same, in steps, for many clients driven from one loop (a fleet in one process):
 * rk_kube_send_start authenticates (an exec plugin may run here) and queues the
 * requests; rk_kube_send_step moves them along without waiting (see
 * rk_http_batch_step; 1 once all ended); rk_kube_send_finish fills statuses like
 * rk_kube_send_many, sending the requests refused with 401 once more after a credential
 * refresh (that retry blocks: it is rare), and frees the batch. rk_kube_send_abandon
 * frees a batch that will not be finished. ps and resps are borrowed until then. */
typedef struct rk_kube_batch rk_kube_batch;
rk_status rk_kube_send_start(rk_kube *k, rk_kube_prepared *ps, rk_http_response *resps, size_t n,
                             size_t concurrency, rk_kube_batch **out, rk_kube_error *kerr);
int rk_kube_send_step(rk_kube_batch *b, double *wake);
rk_status rk_kube_send_finish(rk_kube_batch *b, rk_status *statuses, rk_kube_error *kerr);
void rk_kube_send_abandon(rk_kube_batch *b);

/* Explains a call that did not get a 2xx answer: transport failure or the server's
 * Status, prefixed with what was being done, with hints for 401, 403 and conflicts. */
void rk_kube_describe_failure(const rk_kube *k, const rk_kube_prepared *p,
                              const rk_http_response *resp, rk_kube_error *kerr);

/* Makes sure the current credential is installed in the transport (exec plugins run
 * here the first time). refresh forces a new one. */
rk_status rk_kube_authenticate(rk_kube *k, int refresh, rk_kube_error *kerr);

/* ---- errors ------------------------------------------------------------------------- */

/* Fills kerr from an error answer: a Status body when there is one, else the status
 * line and the start of the body. what (may be NULL) prefixes the message. */
void rk_kube_status_decode(long http_code, const char *body, size_t len, const char *what,
                           rk_kube_error *kerr);
/* Fills kerr for a request that got no answer, naming the server and the context. */
void rk_kube_transport_error(const rk_kube *k, const rk_http_response *resp, rk_kube_error *kerr);
/* Fills kerr from a plain rk_error (configuration, memory, ...). */
void rk_kube_error_from(rk_kube_error *kerr, const rk_error *err, const char *reason,
                        int exit_code);
/* Whether a cause is a server-side apply conflict (FieldManagerConflict, or a message
 * "conflict with \"MANAGER\" ..." from servers that leave the reason out). */
int rk_kube_cause_is_conflict(const rk_kube_cause *c);
/* Exit code for an HTTP status: 3 for 401/403, else 1. */
int rk_kube_exit_code(long http_code);

#endif
