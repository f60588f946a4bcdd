#include "kube.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

struct rk_kube {
    rk_kubeconfig *kc;
    rk_http *http;
    FILE *log;
    double timeout_s; /* of one request, for messages */
    int authenticated;
    /* discovery cache: built-ins are not copied here, only what the server told us */
    rk_kube_resource *res;
    size_t nres, capres;
    char **fetched; /* group/versions whose resource list was read */
    size_t nfetched, capfetched;
};

/* ---- well-known kinds -------------------------------------------------------------------- */

#define B(g, v, k, p, n) {(char *)g, (char *)v, (char *)k, (char *)p, n}
/* Kinds every conformant server has, with their stable paths: resolving them costs no
 * round trip. Custom resources always come from discovery. */
static const rk_kube_resource builtins[] = {
    B("", "v1", "ConfigMap", "configmaps", 1),
    B("", "v1", "Secret", "secrets", 1),
    B("", "v1", "Service", "services", 1),
    B("", "v1", "Pod", "pods", 1),
    B("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", 1),
    B("", "v1", "ServiceAccount", "serviceaccounts", 1),
    B("", "v1", "Endpoints", "endpoints", 1),
    B("", "v1", "Event", "events", 1),
    B("", "v1", "LimitRange", "limitranges", 1),
    B("", "v1", "ResourceQuota", "resourcequotas", 1),
    B("", "v1", "ReplicationController", "replicationcontrollers", 1),
    B("", "v1", "PodTemplate", "podtemplates", 1),
    B("", "v1", "Namespace", "namespaces", 0),
    B("", "v1", "Node", "nodes", 0),
    B("", "v1", "PersistentVolume", "persistentvolumes", 0),
    B("apps", "v1", "Deployment", "deployments", 1),
    B("apps", "v1", "StatefulSet", "statefulsets", 1),
    B("apps", "v1", "DaemonSet", "daemonsets", 1),
    B("apps", "v1", "ReplicaSet", "replicasets", 1),
    B("apps", "v1", "ControllerRevision", "controllerrevisions", 1),
    B("batch", "v1", "Job", "jobs", 1),
    B("batch", "v1", "CronJob", "cronjobs", 1),
    B("networking.k8s.io", "v1", "Ingress", "ingresses", 1),
    B("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", 1),
    B("networking.k8s.io", "v1", "IngressClass", "ingressclasses", 0),
    B("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", 1),
    B("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", 1),
    B("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", 1),
    B("rbac.authorization.k8s.io", "v1", "Role", "roles", 1),
    B("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", 1),
    B("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", 0),
    B("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", 0),
    B("storage.k8s.io", "v1", "StorageClass", "storageclasses", 0),
    B("coordination.k8s.io", "v1", "Lease", "leases", 1),
    B("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", 1),
    B("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", 0),
    B("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", 0),
    B("events.k8s.io", "v1", "Event", "events", 1),
};
#undef B

/* Splits "group/version" (or "version" for the core group) without copying. */
static void split_api_version(const char *av, const char **group, size_t *glen,
                              const char **version)
{
    const char *slash = strchr(av, '/');
    if (!slash) {
        *group = "";
        *glen = 0;
        *version = av;
    } else {
        *group = av;
        *glen = (size_t)(slash - av);
        *version = slash + 1;
    }
}

static int resource_matches(const rk_kube_resource *r, const char *api_version,
                            const char *kind)
{
    const char *g, *v;
    size_t gl;
    split_api_version(api_version, &g, &gl, &v);
    return strcmp(r->kind, kind) == 0 && strcmp(r->version, v) == 0 &&
           strlen(r->group) == gl && strncmp(r->group, g, gl) == 0;
}

const rk_kube_resource *rk_kube_builtin(const char *api_version, const char *kind)
{
    for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
        if (resource_matches(&builtins[i], api_version, kind))
            return &builtins[i];
    return NULL;
}

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

static void set_kerr(rk_kube_error *kerr, long code, const char *reason, int exit_code,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void set_kerr(rk_kube_error *kerr, long code, const char *reason, int exit_code,
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

void rk_kube_error_from(rk_kube_error *kerr, const rk_error *err, const char *reason,
                        int exit_code)
{
    set_kerr(kerr, 0, reason, exit_code, "%s", err->msg);
}

static const char *str_field(const rk_value *map, const char *key)
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
        kind = str_field(doc, "kind");
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
    const char *reason = str_field(doc, "reason");
    const char *message = str_field(doc, "message");
    const rk_value *code = rk_map_get_cstr(doc, "code");
    if (reason && *reason)
        snprintf(kerr->reason, sizeof kerr->reason, "%s", reason);
    if (code && code->type == RK_INT && code->as.integer > 0)
        kerr->code = (long)code->as.integer;
    kerr->exit_code = rk_kube_exit_code(kerr->code);
    const rk_value *details = rk_map_get_cstr(doc, "details");
    if (details && details->type == RK_MAP) {
        const char *s;
        if ((s = str_field(details, "name")))
            snprintf(kerr->name, sizeof kerr->name, "%s", s);
        if ((s = str_field(details, "kind")))
            snprintf(kerr->kind, sizeof kerr->kind, "%s", s);
        if ((s = str_field(details, "group")))
            snprintf(kerr->group, sizeof kerr->group, "%s", s);
        const rk_value *causes = rk_map_get_cstr(details, "causes");
        for (size_t i = 0; causes && causes->type == RK_SEQ && i < causes->as.seq.len &&
                           kerr->ncauses < RK_KUBE_MAX_CAUSES;
             i++) {
            const rk_value *c = causes->as.seq.items[i];
            rk_kube_cause *kc = &kerr->causes[kerr->ncauses++];
            snprintf(kc->field, sizeof kc->field, "%s", (s = str_field(c, "field")) ? s : "");
            snprintf(kc->reason, sizeof kc->reason, "%s", (s = str_field(c, "reason")) ? s : "");
            snprintf(kc->message, sizeof kc->message, "%s",
                     (s = str_field(c, "message")) ? s : "");
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
        snprintf(buf, size, "the system CA bundle (cluster \"%s\" in %s sets no "
                 "certificate-authority)", kc->cluster_name ? kc->cluster_name : "?", kc->path);
    return buf;
}

void rk_kube_transport_error(const rk_kube *k, const rk_http_response *resp,
                             rk_kube_error *kerr)
{
    const rk_kubeconfig *kc = k->kc;
    const char *server = kc->server;
    switch (resp->failure) {
    case RK_NET_CONNECT:
    case RK_NET_BROKEN:
        set_kerr(kerr, 0, "Unreachable", RK_EXIT_UNREACHABLE, "cannot reach %s (context \"%s\"): %s",
                 server, kc->context, resp->err.msg);
        break;
    case RK_NET_TLS: {
        char ca[700];
        const char *m = resp->err.msg;
        int verify = strstr(m, "certificate") && !strstr(m, "client");
        if (verify)
            set_kerr(kerr, 0, "TLSError", RK_EXIT_UNREACHABLE,
                     "TLS with %s failed (context \"%s\"): the server's certificate is not "
                     "trusted by %s: %s", server, kc->context,
                     ca_source(kc, ca, sizeof ca), m);
        else
            set_kerr(kerr, 0, "TLSError", RK_EXIT_UNREACHABLE,
                     "TLS with %s failed (context \"%s\"): %s", server, kc->context, m);
        break;
    }
    case RK_NET_TIMEOUT:
        /* A server that does not answer in time cannot be worked with, like one that
         * cannot be reached: exit 3, so that a pipeline can tell it from a rollout that
         * did not get Ready within --timeout (exit 4). */
        set_kerr(kerr, 0, "Timeout", RK_EXIT_UNREACHABLE,
                 "%s (context \"%s\") did not answer within the request timeout of %gs; "
                 "raise it with --request-timeout or RIGELK8S_REQUEST_TIMEOUT "
                 "(k8s.connect{timeout = ...} in scripts)", server, kc->context, k->timeout_s);
        break;
    case RK_NET_INTERRUPTED:
        set_kerr(kerr, 0, "Interrupted", RK_EXIT_INTERRUPTED, "interrupted");
        break;
    default:
        set_kerr(kerr, 0, "Unreachable", RK_EXIT_UNREACHABLE, "request to %s failed (context "
                 "\"%s\"): %s", server, kc->context, resp->err.msg);
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
        set_kerr(kerr, 0, "InternalError", RK_EXIT_FAILED, "out of memory");
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
            fprintf(k->log, "rigelk8s: warning: TLS verification is off for cluster \"%s\" "
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
    for (size_t i = 0; i < k->nres; i++) {
        free(k->res[i].group);
        free(k->res[i].version);
        free(k->res[i].kind);
        free(k->res[i].plural);
    }
    free(k->res);
    for (size_t i = 0; i < k->nfetched; i++)
        free(k->fetched[i]);
    free(k->fetched);
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
             (st = rk_http_set_client_cert(k->http, cred->cert_data, cred->cert_len,
                                           cred->key_data, cred->key_len, &err)) != RK_OK)) {
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
            return rk_error_set(err, RK_ERR_INVALID, "subresource %s needs a name",
                                subresource);
        rk_buf_putc(out, '/');
        rk_url_escape(out, subresource);
    }
    rk_kube_query_string(out, q);
    return rk_buf_status(out, err);
}

/* ---- discovery ------------------------------------------------------------------------- */

static int gv_fetched(const rk_kube *k, const char *api_version)
{
    for (size_t i = 0; i < k->nfetched; i++)
        if (strcmp(k->fetched[i], api_version) == 0)
            return 1;
    return 0;
}

static const rk_kube_resource *cached(const rk_kube *k, const char *api_version,
                                      const char *kind)
{
    for (size_t i = 0; i < k->nres; i++)
        if (resource_matches(&k->res[i], api_version, kind))
            return &k->res[i];
    return NULL;
}

static rk_status cache_add(rk_kube *k, const char *group, size_t glen, const char *version,
                           const char *kind, const char *plural, int namespaced)
{
    for (size_t i = 0; i < k->nres; i++) {
        rk_kube_resource *r = &k->res[i];
        if (strcmp(r->kind, kind) == 0 && strcmp(r->version, version) == 0 &&
            strlen(r->group) == glen && strncmp(r->group, group, glen) == 0) {
            char *p = strdup(plural);
            if (!p)
                return RK_ERR_NOMEM;
            free(r->plural);
            r->plural = p;
            r->namespaced = namespaced;
            return RK_OK;
        }
    }
    if (k->nres == k->capres) {
        size_t cap = k->capres ? k->capres * 2 : 64;
        rk_kube_resource *n = realloc(k->res, cap * sizeof *n);
        if (!n)
            return RK_ERR_NOMEM;
        k->res = n;
        k->capres = cap;
    }
    rk_kube_resource *r = &k->res[k->nres];
    r->group = strndup(group, glen);
    r->version = strdup(version);
    r->kind = strdup(kind);
    r->plural = strdup(plural);
    r->namespaced = namespaced;
    if (!r->group || !r->version || !r->kind || !r->plural) {
        free(r->group);
        free(r->version);
        free(r->kind);
        free(r->plural);
        return RK_ERR_NOMEM;
    }
    k->nres++;
    return RK_OK;
}

/* Reads /api/v1 or /apis/GROUP/VERSION into the cache. Pointers into the cache may move. */
static rk_status fetch_group_version(rk_kube *k, const char *api_version, rk_kube_error *kerr)
{
    const char *g, *v;
    size_t gl;
    split_api_version(api_version, &g, &gl, &v);
    rk_kube_call call;
    rk_kube_call_init(&call, RK_VERB_RAW);
    rk_buf path = RK_BUF_INIT;
    if (gl)
        rk_buf_puts(&path, "/apis/");
    else
        rk_buf_puts(&path, "/api/");
    rk_buf_puts(&path, api_version);
    call.method = "GET";
    call.path = path.data;
    rk_kube_prepared p;
    rk_http_response resp;
    rk_http_response_init(&resp);
    rk_status st = rk_buf_status(&path, NULL);
    if (st == RK_OK)
        st = rk_kube_prepare(k, &call, &p, kerr);
    if (st == RK_OK) {
        snprintf(p.what, sizeof p.what, "discover apiVersion %s", api_version);
        st = rk_kube_send(k, &p, &resp, kerr);
        rk_kube_prepared_free(&p);
    }
    rk_buf_free(&path);
    if (st != RK_OK) {
        rk_http_response_free(&resp);
        return st;
    }
    rk_value *doc = NULL;
    rk_error perr;
    if (rk_json_decode(resp.body.data, resp.body.len, &doc, &perr) != RK_OK ||
        doc->type != RK_MAP) {
        set_kerr(kerr, resp.status, "InvalidResponse", RK_EXIT_FAILED,
                 "discover apiVersion %s: the server's resource list is not JSON: %s",
                 api_version, perr.msg);
        rk_value_free(doc);
        rk_http_response_free(&resp);
        return RK_ERR_PARSE;
    }
    rk_http_response_free(&resp);
    const rk_value *list = rk_map_get_cstr(doc, "resources");
    for (size_t i = 0; list && list->type == RK_SEQ && i < list->as.seq.len; i++) {
        const rk_value *r = list->as.seq.items[i];
        const char *name = str_field(r, "name"), *kind = str_field(r, "kind");
        const rk_value *ns = rk_map_get_cstr(r, "namespaced");
        if (!name || !kind || strchr(name, '/'))
            continue; /* subresources (pods/log) share their parent's kind */
        if (cache_add(k, g, gl, v, kind, name, ns && ns->type == RK_BOOL && ns->as.boolean)) {
            rk_value_free(doc);
            set_kerr(kerr, 0, "InternalError", RK_EXIT_FAILED, "out of memory");
            return RK_ERR_NOMEM;
        }
    }
    rk_value_free(doc);
    if (!gv_fetched(k, api_version)) {
        if (k->nfetched == k->capfetched) {
            size_t cap = k->capfetched ? k->capfetched * 2 : 16;
            char **n = realloc(k->fetched, cap * sizeof *n);
            if (!n)
                return RK_ERR_NOMEM;
            k->fetched = n;
            k->capfetched = cap;
        }
        if (!(k->fetched[k->nfetched] = strdup(api_version)))
            return RK_ERR_NOMEM;
        k->nfetched++;
    }
    return RK_OK;
}

rk_status rk_kube_resolve(rk_kube *k, const char *api_version, const char *kind,
                          const rk_kube_resource **out, rk_kube_error *kerr)
{
    *out = NULL;
    if (!kind || !*kind) {
        set_kerr(kerr, 0, "BadRequest", RK_EXIT_FAILED, "an object needs apiVersion and kind");
        return RK_ERR_INVALID;
    }
    if (!api_version || !*api_version) {
        set_kerr(kerr, 0, "BadRequest", RK_EXIT_FAILED,
                 "an object needs apiVersion and kind (missing apiVersion for kind %s)", kind);
        return RK_ERR_INVALID;
    }
    if ((*out = rk_kube_builtin(api_version, kind)) || (*out = cached(k, api_version, kind)))
        return RK_OK;
    /* Not known: read the group/version, and read it again if we had read it before
     * (a CRD may have been created since). */
    rk_status st = fetch_group_version(k, api_version, kerr);
    if (st == RK_OK && (*out = cached(k, api_version, kind)))
        return RK_OK;
    if (st != RK_OK && kerr->code != 404)
        return st;
    set_kerr(kerr, 404, "NoKindMatch", RK_EXIT_FAILED,
             "the server has no kind \"%s\" in apiVersion \"%s\"%s", kind, api_version,
             strchr(api_version, '/') && !strstr(api_version, "k8s.io/")
                 ? " (is its CustomResourceDefinition installed and established?)"
                 : " (check the spelling of apiVersion and kind)");
    return RK_ERR_NOT_FOUND;
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
    int needs_name = c->verb != RK_VERB_LIST && c->verb != RK_VERB_WATCH &&
                     c->verb != RK_VERB_CREATE;
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
    case RK_VERB_RAW:
        break;
    }
    if (needs_name && (!c->name || !*c->name)) {
        set_kerr(kerr, 0, "BadRequest", RK_EXIT_FAILED, "%s %s: metadata.name is missing",
                 verb_name, c->kind);
        return RK_ERR_INVALID;
    }
    if (c->verb == RK_VERB_LIST || c->verb == RK_VERB_WATCH)
        snprintf(p->what, sizeof p->what, "%s %s%s%s%s", verb_name, c->kind,
                 plural_suffix(c->kind), ns ? " in namespace " : "", ns ? ns : "");
    else if (ns)
        snprintf(p->what, sizeof p->what, "%s %s %s/%s", verb_name, c->kind, ns,
                 c->name ? c->name : "");
    else
        snprintf(p->what, sizeof p->what, "%s %s %s", verb_name, c->kind,
                 c->name ? c->name : "");
    rk_kube_query q = c->q;
    if (c->verb == RK_VERB_APPLY && (!q.field_manager || !*q.field_manager))
        q.field_manager = "rigelk8s";
    if (c->verb == RK_VERB_WATCH)
        q.watch = 1;
    rk_error err;
    st = rk_kube_path(&p->path, res, ns, c->verb == RK_VERB_CREATE ? NULL : c->name,
                      c->subresource, &q, &err);
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
        snprintf(m, room, " (the server refused the credential that the exec plugin \"%s\" of "
                 "user \"%s\" in context \"%s\" gave, also after running the plugin again; "
                 "log in again with that plugin, or check the user in %s)",
                 kc->exec->command, kc->user_name ? kc->user_name : "", kc->context, kc->path);
    else if (kerr->code == 401 && kc->token_file)
        snprintf(m, room, " (the server refused the token in %s, the tokenFile of user \"%s\" "
                 "in context \"%s\" in %s, also after reading it again)", kc->token_file,
                 kc->user_name ? kc->user_name : "", kc->context, kc->path);
    else if (kerr->code == 401)
        snprintf(m, room, " (the server refused the credentials of user \"%s\" in context "
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

rk_status rk_kube_send(rk_kube *k, rk_kube_prepared *p, rk_http_response *resp,
                       rk_kube_error *kerr)
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
