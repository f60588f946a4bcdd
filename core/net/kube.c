#include "kube.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "kube_internal.h"

/* ---- errors -------------------------------------------------------------------------- */

int rk_kube_cause_is_conflict(const rk_kube_cause *c)
{
    return strcmp(c->reason, "FieldManagerConflict") == 0 ||
           strncmp(c->message, "conflict with \"", 15) == 0;
}

/* A 403 that is not about permissions: a namespace being deleted (cause
 * NamespaceTerminating), or a claim that cannot grow. RBAC cannot help with these. */
static int forbidden_by_state(const rk_kube_error *kerr)
{
    for (size_t i = 0; i < kerr->ncauses; i++)
        if (strcmp(kerr->causes[i].reason, "NamespaceTerminating") == 0)
            return 1;
    return strstr(kerr->message, "because it is being terminated") != NULL ||
           strstr(kerr->message, "only dynamically provisioned pvc can be resized") != NULL;
}

int rk_kube_exit_code(long http_code)
{
    return http_code == 401 || http_code == 403 ? RK_EXIT_UNREACHABLE : RK_EXIT_FAILED;
}

static void kerr_clear(rk_kube_error *kerr)
{
    memset(kerr, 0, sizeof *kerr);
}

void rk_kube_set_error(rk_kube_error *kerr, long code, const char *reason, int exit_code,
                       const char *fmt, ...)
{
    kerr_clear(kerr);
    kerr->code = code;
    kerr->exit_code = exit_code;
    snprintf(kerr->reason, sizeof kerr->reason, "%s", reason);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(kerr->message, sizeof kerr->message, fmt, ap);
    va_end(ap);
}

void rk_kube_error_from(rk_kube_error *kerr, const rk_error *err, const char *reason, int exit_code)
{
    rk_kube_set_error(kerr, 0, reason, exit_code, "%s", err->msg);
}

const char *rk_kube_str_field(const rk_value *map, const char *key)
{
    const rk_value *v = rk_map_get_cstr(map, key);
    return v && v->type == RK_STRING ? v->as.str.ptr : NULL;
}

static const char *status_text(long code)
{
    switch (code) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Request Entity Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Error";
    }
}

/* The reason Kubernetes would give for a bare status code (StatusReasonForCode). */
static const char *reason_for_code(long code)
{
    switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 406: return "NotAcceptable";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return "Unknown";
    }
}

void rk_kube_status_decode(long http_code, const char *body, size_t len, const char *what,
                           rk_kube_error *kerr)
{
    kerr_clear(kerr);
    kerr->code = http_code;
    kerr->exit_code = rk_kube_exit_code(http_code);
    snprintf(kerr->reason, sizeof kerr->reason, "%s", reason_for_code(http_code));
    const char *prefix = what && *what ? what : "";
    const char *sep = what && *what ? ": " : "";
    rk_value *doc = NULL;
    rk_error perr;
    const char *kind = NULL;
    if (len && rk_json_decode(body, len, &doc, &perr) == RK_OK && doc->type == RK_MAP)
        kind = rk_kube_str_field(doc, "kind");
    if (!kind || strcmp(kind, "Status") != 0) {
        /* A proxy or a load balancer answered, or the body is not a Status. */
        size_t show = len;
        while (show && (body[show - 1] == '\n' || body[show - 1] == ' '))
            show--;
        if (show > 200)
            show = 200;
        for (size_t i = 0; i < show; i++)
            if ((unsigned char)body[i] < 0x20 && body[i] != '\n') {
                show = i;
                break;
            }
        snprintf(kerr->message, sizeof kerr->message, "%s%sthe server answered %ld %s%s%.*s",
                 prefix, sep, http_code, status_text(http_code), show ? ": " : "", (int)show,
                 body ? body : "");
        rk_value_free(doc);
        return;
    }
    const char *reason = rk_kube_str_field(doc, "reason");
    const char *message = rk_kube_str_field(doc, "message");
    const rk_value *code = rk_map_get_cstr(doc, "code");
    if (reason && *reason)
        snprintf(kerr->reason, sizeof kerr->reason, "%s", reason);
    if (code && code->type == RK_INT && code->as.integer > 0)
        kerr->code = (long)code->as.integer;
    kerr->exit_code = rk_kube_exit_code(kerr->code);
    const rk_value *details = rk_map_get_cstr(doc, "details");
    if (details && details->type == RK_MAP) {
        const char *s;
        if ((s = rk_kube_str_field(details, "name")))
            snprintf(kerr->name, sizeof kerr->name, "%s", s);
        if ((s = rk_kube_str_field(details, "kind")))
            snprintf(kerr->kind, sizeof kerr->kind, "%s", s);
        if ((s = rk_kube_str_field(details, "group")))
            snprintf(kerr->group, sizeof kerr->group, "%s", s);
        const rk_value *causes = rk_map_get_cstr(details, "causes");
        for (size_t i = 0; causes && causes->type == RK_SEQ && i < causes->as.seq.len &&
                           kerr->ncauses < RK_KUBE_MAX_CAUSES;
             i++) {
            const rk_value *c = causes->as.seq.items[i];
            rk_kube_cause *kc = &kerr->causes[kerr->ncauses++];
            snprintf(kc->field, sizeof kc->field, "%s",
                     (s = rk_kube_str_field(c, "field")) ? s : "");
            snprintf(kc->reason, sizeof kc->reason, "%s",
                     (s = rk_kube_str_field(c, "reason")) ? s : "");
            snprintf(kc->message, sizeof kc->message, "%s",
                     (s = rk_kube_str_field(c, "message")) ? s : "");
        }
    }
    snprintf(kerr->message, sizeof kerr->message, "%s%s%s", prefix, sep,
             message && *message ? message : reason_for_code(kerr->code));
    rk_value_free(doc);
}

static const char *ca_source(const rk_kubeconfig *kc, char *buf, size_t size)
{
    if (kc->ca_data)
        snprintf(buf, size, "certificate-authority-data of cluster \"%s\" in %s",
                 kc->cluster_name ? kc->cluster_name : "?", kc->path);
    else if (kc->ca_file)
        snprintf(buf, size, "certificate-authority %s", kc->ca_file);
    else
        snprintf(buf, size,
                 "the system CA bundle (cluster \"%s\" in %s sets no "
                 "certificate-authority)",
                 kc->cluster_name ? kc->cluster_name : "?", kc->path);
    return buf;
}

void rk_kube_transport_error(const rk_kube *k, const rk_http_response *resp, rk_kube_error *kerr)
{
    const rk_kubeconfig *kc = k->kc;
    const char *server = kc->server;
    switch (resp->failure) {
    case RK_NET_CONNECT:
    case RK_NET_BROKEN:
        rk_kube_set_error(kerr, 0, "Unreachable", RK_EXIT_UNREACHABLE,
                          "cannot reach %s (context \"%s\"): %s", server, kc->context,
                          resp->err.msg);
        break;
    case RK_NET_TLS: {
        char ca[700];
        const char *m = resp->err.msg;
        int verify = strstr(m, "certificate") && !strstr(m, "client");
        if (verify)
            rk_kube_set_error(
                kerr, 0, "TLSError", RK_EXIT_UNREACHABLE,
                "TLS with %s failed (context \"%s\"): the server's certificate is not "
                "trusted by %s: %s",
                server, kc->context, ca_source(kc, ca, sizeof ca), m);
        else
            rk_kube_set_error(kerr, 0, "TLSError", RK_EXIT_UNREACHABLE,
                              "TLS with %s failed (context \"%s\"): %s", server, kc->context, m);
        break;
    }
    case RK_NET_TIMEOUT:
        /* A server that does not answer in time cannot be worked with, like one that
         * cannot be reached: exit 3, so that a pipeline can tell it from a rollout that
         * did not get Ready within --timeout (exit 4). */
        rk_kube_set_error(kerr, 0, "Timeout", RK_EXIT_UNREACHABLE,
                          "%s (context \"%s\") did not answer within the request timeout of %gs; "
                          "raise it with --request-timeout or RIGELK8S_REQUEST_TIMEOUT "
                          "(k8s.connect{timeout = ...} in scripts)",
                          server, kc->context, k->timeout_s);
        break;
    case RK_NET_INTERRUPTED:
        rk_kube_set_error(kerr, 0, "Interrupted", RK_EXIT_INTERRUPTED, "interrupted");
        break;
    default:
        rk_kube_set_error(kerr, 0, "Unreachable", RK_EXIT_UNREACHABLE,
                          "request to %s failed (context \"%s\"): %s", server, kc->context,
                          resp->err.msg);
        break;
    }
}

/* ---- connecting ------------------------------------------------------------------------ */

rk_status rk_kube_connect(const rk_kube_options *o, rk_kube **out, rk_kube_error *kerr)
{
    *out = NULL;
    kerr_clear(kerr);
    rk_kube *k = calloc(1, sizeof *k);
    if (!k) {
        rk_kube_set_error(kerr, 0, "InternalError", RK_EXIT_FAILED, "out of memory");
        return RK_ERR_NOMEM;
    }
    k->log = o->log ? o->log : stderr;
    rk_kubeconfig_request req = {o->kubeconfig, o->context, o->namespace};
    rk_error err;
    rk_status st = rk_kubeconfig_load(&req, &k->kc, &err);
    if (st != RK_OK) {
        rk_kube_error_from(kerr, &err, "InvalidConfig", RK_EXIT_USAGE);
        rk_kube_free(k);
        return st;
    }
    const rk_kubeconfig *kc = k->kc;
    rk_http_options ho = {0};
    ho.server = kc->server;
    ho.ca_file = kc->ca_file;
    ho.ca_data = kc->ca_data;
    ho.ca_data_len = kc->ca_len;
    ho.cert_file = kc->cert_file;
    ho.key_file = kc->key_file;
    ho.cert_data = kc->cert_data;
    ho.cert_data_len = kc->cert_len;
    ho.key_data = kc->key_data;
    ho.key_data_len = kc->key_len;
    ho.insecure = kc->insecure;
    ho.tls_server_name = kc->tls_server_name;
    ho.proxy = kc->proxy_url;
    ho.username = kc->username;
    ho.password = kc->password;
    ho.timeout_ms = o->timeout > 0 ? (long)(o->timeout * 1000) : 0;
    k->timeout_s = o->timeout > 0 ? o->timeout : 30;
    ho.max_retries = o->max_retries;
    ho.verbose = o->verbose;
    ho.log = k->log;
    ho.group = o->group;
    if ((st = rk_http_new(&ho, &k->http, &err)) != RK_OK) {
        rk_error_prefix(&err, "%s: context \"%s\": cluster \"%s\": ", kc->path, kc->context,
                        kc->cluster_name ? kc->cluster_name : "");
        rk_kube_error_from(kerr, &err, "InvalidConfig", RK_EXIT_USAGE);
        rk_kube_free(k);
        return st;
    }
    if (kc->insecure) {
        static int warned;
        if (!warned) {
            fprintf(k->log,
                    "rigelk8s: warning: TLS verification is off for cluster \"%s\" "
                    "(insecure-skip-tls-verify in %s); the connection can be intercepted\n",
                    kc->cluster_name ? kc->cluster_name : "", kc->path);
            warned = 1;
        }
    }
    *out = k;
    return RK_OK;
}

void rk_kube_free(rk_kube *k)
{
    if (!k)
        return;
    rk_http_free(k->http);
    rk_kubeconfig_free(k->kc);
    rk_kube_discovery_free(k);
    free(k);
}

const rk_kubeconfig *rk_kube_config(const rk_kube *k)
{
    return k->kc;
}

rk_http *rk_kube_http(rk_kube *k)
{
    return k->http;
}

rk_status rk_kube_authenticate(rk_kube *k, int refresh, rk_kube_error *kerr)
{
    if (k->authenticated && !refresh && !rk_kubeconfig_can_refresh(k->kc))
        return RK_OK;
    const rk_credential *cred;
    int changed = 0;
    rk_error err;
    rk_status st = rk_kubeconfig_credential(k->kc, refresh, &cred, &changed, &err);
    if (st != RK_OK) {
        rk_kube_error_from(kerr, &err, "Unauthorized", RK_EXIT_UNREACHABLE);
        return st;
    }
    if (changed || !k->authenticated) {
        if ((st = rk_http_set_token(k->http, cred->token, &err)) != RK_OK ||
            (cred->cert_data &&
             (st = rk_http_set_client_cert(k->http, cred->cert_data, cred->cert_len, cred->key_data,
                                           cred->key_len, &err)) != RK_OK)) {
            rk_kube_error_from(kerr, &err, "InternalError", RK_EXIT_FAILED);
            return st;
        }
    }
    k->authenticated = 1;
    return RK_OK;
}

/* ---- paths ----------------------------------------------------------------------------- */

void rk_url_escape(rk_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            rk_buf_putc(out, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rk_buf_append(out, e, 3);
        }
    }
}

void rk_kube_query_init(rk_kube_query *q)
{
    memset(q, 0, sizeof *q);
    q->grace_period_seconds = -1;
}

void rk_kube_call_init(rk_kube_call *c, rk_kube_verb verb)
{
    memset(c, 0, sizeof *c);
    c->verb = verb;
    rk_kube_query_init(&c->q);
}

static void add_param(rk_buf *out, int *first, const char *key, const char *value)
{
    rk_buf_putc(out, *first ? '?' : '&');
    *first = 0;
    rk_buf_puts(out, key);
    rk_buf_putc(out, '=');
    rk_url_escape(out, value);
}

void rk_kube_query_string(rk_buf *out, const rk_kube_query *q)
{
    int first = 1;
    char num[32];
    if (!q)
        return;
    if (q->label_selector && *q->label_selector)
        add_param(out, &first, "labelSelector", q->label_selector);
    if (q->field_selector && *q->field_selector)
        add_param(out, &first, "fieldSelector", q->field_selector);
    if (q->limit > 0) {
        snprintf(num, sizeof num, "%ld", q->limit);
        add_param(out, &first, "limit", num);
    }
    if (q->continue_token && *q->continue_token)
        add_param(out, &first, "continue", q->continue_token);
    if (q->resource_version && *q->resource_version)
        add_param(out, &first, "resourceVersion", q->resource_version);
    if (q->resource_version_match && *q->resource_version_match)
        add_param(out, &first, "resourceVersionMatch", q->resource_version_match);
    if (q->watch)
        add_param(out, &first, "watch", "true");
    if (q->allow_bookmarks)
        add_param(out, &first, "allowWatchBookmarks", "true");
    if (q->timeout_seconds > 0) {
        snprintf(num, sizeof num, "%ld", q->timeout_seconds);
        add_param(out, &first, "timeoutSeconds", num);
    }
    if (q->field_manager && *q->field_manager)
        add_param(out, &first, "fieldManager", q->field_manager);
    if (q->force)
        add_param(out, &first, "force", "true");
    if (q->dry_run)
        add_param(out, &first, "dryRun", "All");
    if (q->propagation_policy && *q->propagation_policy)
        add_param(out, &first, "propagationPolicy", q->propagation_policy);
    if (q->grace_period_seconds >= 0) {
        snprintf(num, sizeof num, "%ld", q->grace_period_seconds);
        add_param(out, &first, "gracePeriodSeconds", num);
    }
}

rk_status rk_kube_path(rk_buf *out, const rk_kube_resource *res, const char *namespace,
                       const char *name, const char *subresource, const rk_kube_query *q,
                       rk_error *err)
{
    if (!*res->group) {
        rk_buf_puts(out, "/api/");
    } else {
        rk_buf_puts(out, "/apis/");
        rk_buf_puts(out, res->group);
        rk_buf_putc(out, '/');
    }
    rk_buf_puts(out, res->version);
    if (res->namespaced && namespace && *namespace) {
        rk_buf_puts(out, "/namespaces/");
        rk_url_escape(out, namespace);
    }
    rk_buf_putc(out, '/');
    rk_buf_puts(out, res->plural);
    if (name && *name) {
        rk_buf_putc(out, '/');
        rk_url_escape(out, name);
    }
    if (subresource && *subresource) {
        if (!name || !*name)
            return rk_error_set(err, RK_ERR_INVALID, "subresource %s needs a name", subresource);
        rk_buf_putc(out, '/');
        rk_url_escape(out, subresource);
    }
    rk_kube_query_string(out, q);
    return rk_buf_status(out, err);
}

/* ---- calls ------------------------------------------------------------------------------- */

static const char *plural_suffix(const char *kind)
{
    size_t n = strlen(kind);
    return n && (kind[n - 1] == 's' || kind[n - 1] == 'x') ? "es" : "s";
}

rk_status rk_kube_prepare(rk_kube *k, const rk_kube_call *c, rk_kube_prepared *p,
                          rk_kube_error *kerr)
{
    memset(p, 0, sizeof *p);
    rk_buf_init(&p->path);
    rk_http_request *h = &p->http;
    h->body = c->body;
    h->body_len = c->body_len;
    if (c->verb == RK_VERB_RAW) {
        h->method = c->method ? c->method : "GET";
        rk_buf_puts(&p->path, c->path ? c->path : "/");
        rk_kube_query_string(&p->path, &c->q);
        h->repeatable = strcmp(h->method, "POST") != 0 && strcmp(h->method, "PATCH") != 0;
        if (c->body)
            h->content_type = c->content_type ? c->content_type : "application/json";
        snprintf(p->what, sizeof p->what, "%s %s", h->method, c->path ? c->path : "/");
        h->path = p->path.data;
        return rk_buf_status(&p->path, NULL) == RK_OK ? RK_OK : RK_ERR_NOMEM;
    }
    rk_status st = rk_kube_resolve(k, c->api_version, c->kind, &p->res, kerr);
    if (st != RK_OK)
        return st;
    const rk_kube_resource *res = p->res;
    const char *ns = NULL;
    if (res->namespaced && !c->all_namespaces)
        ns = c->namespace && *c->namespace ? c->namespace : k->kc->namespace;
    int needs_name =
        c->verb != RK_VERB_LIST && c->verb != RK_VERB_WATCH && c->verb != RK_VERB_CREATE;
    const char *verb_name = "get";
    switch (c->verb) {
    case RK_VERB_GET:
        h->method = "GET";
        h->repeatable = 1;
        break;
    case RK_VERB_LIST:
        verb_name = "list";
        h->method = "GET";
        h->repeatable = 1;
        break;
    case RK_VERB_WATCH:
        verb_name = "watch";
        h->method = "GET";
        h->repeatable = 1;
        break;
    case RK_VERB_CREATE:
        verb_name = "create";
        h->method = "POST";
        h->content_type = "application/json";
        break;
    case RK_VERB_REPLACE:
        verb_name = "replace";
        h->method = "PUT";
        h->content_type = "application/json";
        h->repeatable = 1;
        break;
    case RK_VERB_PATCH_MERGE:
        verb_name = "patch";
        h->method = "PATCH";
        h->content_type = "application/merge-patch+json";
        break;
    case RK_VERB_PATCH_JSON:
        verb_name = "patch";
        h->method = "PATCH";
        h->content_type = "application/json-patch+json";
        break;
    case RK_VERB_PATCH_STRATEGIC:
        verb_name = "patch";
        h->method = "PATCH";
        h->content_type = "application/strategic-merge-patch+json";
        break;
    case RK_VERB_APPLY:
        verb_name = "apply";
        h->method = "PATCH";
        h->content_type = "application/apply-patch+yaml";
        h->repeatable = 1;
        break;
    case RK_VERB_DELETE:
        verb_name = "delete";
        h->method = "DELETE";
        h->repeatable = 1;
        if (c->body)
            h->content_type = "application/json";
        break;
    case RK_VERB_RAW: break;
    }
    if (needs_name && (!c->name || !*c->name)) {
        rk_kube_set_error(kerr, 0, "BadRequest", RK_EXIT_FAILED, "%s %s: metadata.name is missing",
                          verb_name, c->kind);
        return RK_ERR_INVALID;
    }
    if (c->verb == RK_VERB_LIST || c->verb == RK_VERB_WATCH)
        snprintf(p->what, sizeof p->what, "%s %s%s%s%s", verb_name, c->kind, plural_suffix(c->kind),
                 ns ? " in namespace " : "", ns ? ns : "");
    else if (ns)
        snprintf(p->what, sizeof p->what, "%s %s %s/%s", verb_name, c->kind, ns,
                 c->name ? c->name : "");
    else
        snprintf(p->what, sizeof p->what, "%s %s %s", verb_name, c->kind, c->name ? c->name : "");
    rk_kube_query q = c->q;
    if (c->verb == RK_VERB_APPLY && (!q.field_manager || !*q.field_manager))
        q.field_manager = "rigelk8s";
    if (c->verb == RK_VERB_WATCH)
        q.watch = 1;
    rk_error err;
    st = rk_kube_path(&p->path, res, ns, c->verb == RK_VERB_CREATE ? NULL : c->name, c->subresource,
                      &q, &err);
    if (st != RK_OK) {
        rk_kube_error_from(kerr, &err, "BadRequest", RK_EXIT_FAILED);
        rk_buf_free(&p->path);
        return st;
    }
    h->path = p->path.data;
    return RK_OK;
}

void rk_kube_prepared_free(rk_kube_prepared *p)
{
    rk_buf_free(&p->path);
}

void rk_kube_describe_failure(const rk_kube *k, const rk_kube_prepared *p,
                              const rk_http_response *resp, rk_kube_error *kerr)
{
    if (resp->failure != RK_NET_OK) {
        rk_kube_transport_error(k, resp, kerr);
        if (resp->failure == RK_NET_TIMEOUT) {
            char m[sizeof kerr->message + sizeof p->what + 2];
            snprintf(m, sizeof m, "%s: %s", p->what, kerr->message);
            size_t n = strlen(m);
            if (n >= sizeof kerr->message)
                n = sizeof kerr->message - 1;
            memcpy(kerr->message, m, n);
            kerr->message[n] = '\0';
        }
        return;
    }
    rk_kube_status_decode(resp->status, resp->body.data, resp->body.len, p->what, kerr);
    const rk_kubeconfig *kc = k->kc;
    size_t n = strlen(kerr->message);
    char *m = kerr->message + n;
    size_t room = sizeof kerr->message - n;
    if (kerr->code == 401 && kc->exec)
        snprintf(m, room,
                 " (the server refused the credential that the exec plugin \"%s\" of "
                 "user \"%s\" in context \"%s\" gave, also after running the plugin again; "
                 "log in again with that plugin, or check the user in %s)",
                 kc->exec->command, kc->user_name ? kc->user_name : "", kc->context, kc->path);
    else if (kerr->code == 401 && kc->token_file)
        snprintf(m, room,
                 " (the server refused the token in %s, the tokenFile of user \"%s\" "
                 "in context \"%s\" in %s, also after reading it again)",
                 kc->token_file, kc->user_name ? kc->user_name : "", kc->context, kc->path);
    else if (kerr->code == 401)
        snprintf(m, room,
                 " (the server refused the credentials of user \"%s\" in context "
                 "\"%s\"; check the token or certificate in %s)",
                 kc->user_name ? kc->user_name : "", kc->context, kc->path);
    else if (kerr->code == 403 && !forbidden_by_state(kerr))
        snprintf(m, room, " (context \"%s\"; ask for RBAC permission)", kc->context);
    else if (kerr->code == 403)
        /* Not a credential problem (exit 3): the workflow failed on the cluster's state. */
        kerr->exit_code = RK_EXIT_FAILED;
    else if (kerr->code == 409 && kerr->ncauses && rk_kube_cause_is_conflict(&kerr->causes[0]))
        snprintf(m, room, "; apply with force = true to take these fields over");
    else if (resp->attempts > 1 && rk_http_retryable(1, RK_NET_OK, resp->status))
        /* Retries did not help: say so, and where the answers came from. */
        snprintf(m, room, " (%s answered %ld to all %d attempts over %.1fs)", kc->server,
                 resp->status, resp->attempts, resp->seconds);
}

rk_status rk_kube_send(rk_kube *k, rk_kube_prepared *p, rk_http_response *resp, rk_kube_error *kerr)
{
    rk_status status;
    kerr_clear(kerr);
    rk_status st = rk_kube_send_many(k, p, resp, &status, 1, 1, kerr);
    if (st != RK_OK)
        return st;
    if (status != RK_OK)
        rk_kube_describe_failure(k, p, resp, kerr);
    return status;
}
