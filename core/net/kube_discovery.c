/* kube_discovery.c — which path serves a kind (kube.h, rk_kube_resolve, rk_kube_builtin):
 * the well-known kinds every conformant server has, then the server's own resource lists
 * (/api/v1, /apis/GROUP/VERSION), read once per group/version and cached on the client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "kube.h"
#include "kube_internal.h"

/* ---- well-known kinds -------------------------------------------------------------------- */

#define B(g, v, k, p, n)                                                                           \
    {                                                                                              \
        (char *)g, (char *)v, (char *)k, (char *)p, n                                              \
    }
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

static int resource_matches(const rk_kube_resource *r, const char *api_version, const char *kind)
{
    const char *g, *v;
    size_t gl;
    split_api_version(api_version, &g, &gl, &v);
    return strcmp(r->kind, kind) == 0 && strcmp(r->version, v) == 0 && strlen(r->group) == gl &&
           strncmp(r->group, g, gl) == 0;
}

const rk_kube_resource *rk_kube_builtin(const char *api_version, const char *kind)
{
    for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
        if (resource_matches(&builtins[i], api_version, kind))
            return &builtins[i];
    return NULL;
}

/* ---- discovery ------------------------------------------------------------------------- */

static int gv_fetched(const rk_kube *k, const char *api_version)
{
    for (size_t i = 0; i < k->nfetched; i++)
        if (strcmp(k->fetched[i], api_version) == 0)
            return 1;
    return 0;
}

static const rk_kube_resource *cached(const rk_kube *k, const char *api_version, const char *kind)
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
        rk_kube_set_error(kerr, resp.status, "InvalidResponse", RK_EXIT_FAILED,
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
        const char *name = rk_kube_str_field(r, "name"), *kind = rk_kube_str_field(r, "kind");
        const rk_value *ns = rk_map_get_cstr(r, "namespaced");
        if (!name || !kind || strchr(name, '/'))
            continue; /* subresources (pods/log) share their parent's kind */
        if (cache_add(k, g, gl, v, kind, name, ns && ns->type == RK_BOOL && ns->as.boolean)) {
            rk_value_free(doc);
            rk_kube_set_error(kerr, 0, "InternalError", RK_EXIT_FAILED, "out of memory");
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
        rk_kube_set_error(kerr, 0, "BadRequest", RK_EXIT_FAILED,
                          "an object needs apiVersion and kind");
        return RK_ERR_INVALID;
    }
    if (!api_version || !*api_version) {
        rk_kube_set_error(kerr, 0, "BadRequest", RK_EXIT_FAILED,
                          "an object needs apiVersion and kind (missing apiVersion for kind %s)",
                          kind);
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
    rk_kube_set_error(kerr, 404, "NoKindMatch", RK_EXIT_FAILED,
                      "the server has no kind \"%s\" in apiVersion \"%s\"%s", kind, api_version,
                      strchr(api_version, '/') && !strstr(api_version, "k8s.io/")
                          ? " (is its CustomResourceDefinition installed and established?)"
                          : " (check the spelling of apiVersion and kind)");
    return RK_ERR_NOT_FOUND;
}

void rk_kube_discovery_free(rk_kube *k)
{
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
}
