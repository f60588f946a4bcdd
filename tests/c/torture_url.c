/* Request paths and query strings: core and group paths, namespaced and cluster-scoped
 * kinds, subresources, percent-encoding, every query parameter; the table of well-known
 * kinds; and what each verb turns into (method, content type, whether it may be retried). */
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

static const rk_kube_resource configmaps = {"", "v1", "ConfigMap", "configmaps", 1};
static const rk_kube_resource deployments = {"apps", "v1", "Deployment", "deployments", 1};
static const rk_kube_resource namespaces = {"", "v1", "Namespace", "namespaces", 0};
static const rk_kube_resource widgets = {"example.com", "v1alpha1", "Widget", "widgets", 1};

static char *path_of(const rk_kube_resource *r, const char *ns, const char *name,
                     const char *sub, const rk_kube_query *q)
{
    rk_buf b = RK_BUF_INIT;
    rk_error err;
    assert_int_equal(rk_kube_path(&b, r, ns, name, sub, q, &err), RK_OK);
    return rk_buf_detach(&b, NULL);
}

#define assert_path(expected, ...)                                                         \
    do {                                                                                   \
        char *p_ = path_of(__VA_ARGS__);                                                   \
        assert_string_equal(p_, expected);                                                 \
        free(p_);                                                                          \
    } while (0)

static void test_paths(void **state)
{
    (void)state;
    assert_path("/api/v1/namespaces/default/configmaps/x", &configmaps, "default", "x", NULL, NULL);
    assert_path("/api/v1/namespaces/team/configmaps", &configmaps, "team", NULL, NULL, NULL);
    assert_path("/api/v1/configmaps", &configmaps, NULL, NULL, NULL, NULL); /* all namespaces */
    assert_path("/apis/apps/v1/namespaces/ns1/deployments/web/scale", &deployments, "ns1", "web",
                "scale", NULL);
    assert_path("/apis/apps/v1/namespaces/ns1/deployments/web/status", &deployments, "ns1", "web",
                "status", NULL);
    /* cluster-scoped kinds never get a namespace segment */
    assert_path("/api/v1/namespaces/prod", &namespaces, "ignored", "prod", NULL, NULL);
    assert_path("/apis/example.com/v1alpha1/namespaces/a/widgets/w1", &widgets, "a", "w1", NULL,
                NULL);
}

static void test_subresource_needs_name(void **state)
{
    (void)state;
    rk_buf b = RK_BUF_INIT;
    rk_error err;
    assert_int_equal(rk_kube_path(&b, &deployments, "ns", NULL, "status", NULL, &err),
                     RK_ERR_INVALID);
    assert_non_null(strstr(err.msg, "subresource status needs a name"));
    rk_buf_free(&b);
}

static void test_names_are_escaped(void **state)
{
    (void)state;
    /* names are DNS labels in practice, but a bad one must not change the path */
    assert_path("/api/v1/namespaces/a%2Fb/configmaps/x%20y%3F", &configmaps, "a/b", "x y?", NULL,
                NULL);
    rk_buf b = RK_BUF_INIT;
    rk_url_escape(&b, "AZaz09-._~ %+=&,!()\xc3\xa9");
    assert_string_equal(b.data, "AZaz09-._~%20%25%2B%3D%26%2C%21%28%29%C3%A9");
    rk_buf_free(&b);
}

static void test_query_every_parameter(void **state)
{
    (void)state;
    rk_kube_query q;
    rk_kube_query_init(&q);
    assert_path("/api/v1/namespaces/d/configmaps", &configmaps, "d", NULL, NULL, &q);

    q.label_selector = "app=x,tier!=db,env in (a,b)";
    q.field_selector = "metadata.name=web";
    q.limit = 500;
    q.continue_token = "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzfQ==";
    assert_path("/api/v1/namespaces/d/configmaps?labelSelector=app%3Dx%2Ctier%21%3Ddb%2Cenv%20in"
                "%20%28a%2Cb%29&fieldSelector=metadata.name%3Dweb&limit=500&continue="
                "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzfQ%3D%3D",
                &configmaps, "d", NULL, NULL, &q);

    rk_kube_query_init(&q);
    q.watch = 1;
    q.allow_bookmarks = 1;
    q.resource_version = "4711";
    q.timeout_seconds = 290;
    assert_path("/api/v1/namespaces/d/configmaps?resourceVersion=4711&watch=true&"
                "allowWatchBookmarks=true&timeoutSeconds=290",
                &configmaps, "d", NULL, NULL, &q);

    rk_kube_query_init(&q);
    q.field_manager = "rigelk8s";
    q.force = 1;
    q.dry_run = 1;
    assert_path("/apis/apps/v1/namespaces/d/deployments/web?fieldManager=rigelk8s&force=true&"
                "dryRun=All",
                &deployments, "d", "web", NULL, &q);

    rk_kube_query_init(&q);
    q.propagation_policy = "Foreground";
    q.grace_period_seconds = 0;
    assert_path("/api/v1/namespaces/d/configmaps/x?propagationPolicy=Foreground&"
                "gracePeriodSeconds=0",
                &configmaps, "d", "x", NULL, &q);

    rk_kube_query_init(&q);
    q.resource_version = "0";
    q.resource_version_match = "NotOlderThan";
    assert_path("/api/v1/configmaps?resourceVersion=0&resourceVersionMatch=NotOlderThan",
                &configmaps, NULL, NULL, NULL, &q);
}

static void test_builtin_kinds(void **state)
{
    (void)state;
    const rk_kube_resource *r = rk_kube_builtin("v1", "ConfigMap");
    assert_non_null(r);
    assert_string_equal(r->plural, "configmaps");
    assert_true(r->namespaced);
    r = rk_kube_builtin("apps/v1", "Deployment");
    assert_non_null(r);
    assert_string_equal(r->group, "apps");
    assert_string_equal(r->plural, "deployments");
    r = rk_kube_builtin("v1", "Namespace");
    assert_non_null(r);
    assert_false(r->namespaced);
    r = rk_kube_builtin("networking.k8s.io/v1", "Ingress");
    assert_string_equal(r->plural, "ingresses");
    r = rk_kube_builtin("policy/v1", "PodDisruptionBudget");
    assert_string_equal(r->plural, "poddisruptionbudgets");
    /* other versions, other groups and custom resources go to discovery */
    assert_null(rk_kube_builtin("apps/v1beta1", "Deployment"));
    assert_null(rk_kube_builtin("v1", "Deployment"));
    assert_null(rk_kube_builtin("example.com/v1", "Widget"));
    assert_null(rk_kube_builtin("v1", "configmap"));
}

/* ---- prepared calls: needs a client, which needs only a kubeconfig (no network) ---- */

static char kubeconfig_path[64];

static int setup_client(void **state)
{
    strcpy(kubeconfig_path, "/tmp/rk-url-XXXXXX");
    int fd = mkstemp(kubeconfig_path);
    if (fd < 0)
        return -1;
    const char *yaml = "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                       "clusters: [{name: k, cluster: {server: 'http://127.0.0.1:9'}}]\n"
                       "contexts: [{name: c, context: {cluster: k, namespace: team}}]\n";
    if (write(fd, yaml, strlen(yaml)) < 0)
        return -1;
    close(fd);
    rk_kube_options o = {0};
    o.kubeconfig = kubeconfig_path;
    rk_kube *k;
    rk_kube_error kerr;
    if (rk_kube_connect(&o, &k, &kerr) != RK_OK) {
        fprintf(stderr, "%s\n", kerr.message);
        return -1;
    }
    *state = k;
    return 0;
}

static int teardown_client(void **state)
{
    rk_kube_free(*state);
    unlink(kubeconfig_path);
    return 0;
}

static void prepare(rk_kube *k, rk_kube_call *c, rk_kube_prepared *p)
{
    rk_kube_error kerr;
    rk_status st = rk_kube_prepare(k, c, p, &kerr);
    if (st != RK_OK)
        fail_msg("prepare: %s", kerr.message);
}

static void test_verbs(void **state)
{
    rk_kube *k = *state;
    rk_kube_call c;
    rk_kube_prepared p;

    rk_kube_call_init(&c, RK_VERB_APPLY);
    c.api_version = "v1";
    c.kind = "ConfigMap";
    c.name = "cfg";
    c.body = "{}";
    c.body_len = 2;
    prepare(k, &c, &p);
    assert_string_equal(p.http.method, "PATCH");
    assert_string_equal(p.http.content_type, "application/apply-patch+yaml");
    assert_string_equal(p.http.path, "/api/v1/namespaces/team/configmaps/cfg?fieldManager=rigelk8s");
    assert_true(p.http.repeatable);
    assert_string_equal(p.what, "apply ConfigMap team/cfg");
    rk_kube_prepared_free(&p);

    c.q.force = 1;
    c.q.dry_run = 1;
    c.q.field_manager = "ci";
    c.namespace = "other";
    prepare(k, &c, &p);
    assert_string_equal(p.http.path,
                        "/api/v1/namespaces/other/configmaps/cfg?fieldManager=ci&force=true&dryRun=All");
    rk_kube_prepared_free(&p);

    rk_kube_call_init(&c, RK_VERB_CREATE);
    c.api_version = "apps/v1";
    c.kind = "Deployment";
    c.name = "web";
    prepare(k, &c, &p);
    assert_string_equal(p.http.method, "POST");
    assert_string_equal(p.http.path, "/apis/apps/v1/namespaces/team/deployments");
    assert_false(p.http.repeatable); /* a bare POST is never sent twice */
    rk_kube_prepared_free(&p);

    rk_kube_call_init(&c, RK_VERB_REPLACE);
    c.api_version = "apps/v1";
    c.kind = "Deployment";
    c.name = "web";
    prepare(k, &c, &p);
    assert_string_equal(p.http.method, "PUT");
    assert_true(p.http.repeatable);
    rk_kube_prepared_free(&p);

    const struct {
        rk_kube_verb verb;
        const char *type;
    } patches[] = {{RK_VERB_PATCH_MERGE, "application/merge-patch+json"},
                   {RK_VERB_PATCH_JSON, "application/json-patch+json"},
                   {RK_VERB_PATCH_STRATEGIC, "application/strategic-merge-patch+json"}};
    for (size_t i = 0; i < 3; i++) {
        rk_kube_call_init(&c, patches[i].verb);
        c.api_version = "v1";
        c.kind = "ConfigMap";
        c.name = "cfg";
        prepare(k, &c, &p);
        assert_string_equal(p.http.method, "PATCH");
        assert_string_equal(p.http.content_type, patches[i].type);
        assert_false(p.http.repeatable);
        rk_kube_prepared_free(&p);
    }

    rk_kube_call_init(&c, RK_VERB_DELETE);
    c.api_version = "v1";
    c.kind = "Namespace";
    c.name = "gone";
    c.q.propagation_policy = "Background";
    prepare(k, &c, &p);
    assert_string_equal(p.http.method, "DELETE");
    assert_string_equal(p.http.path, "/api/v1/namespaces/gone?propagationPolicy=Background");
    assert_true(p.http.repeatable);
    rk_kube_prepared_free(&p);

    rk_kube_call_init(&c, RK_VERB_LIST);
    c.api_version = "v1";
    c.kind = "Pod";
    c.all_namespaces = 1;
    c.q.label_selector = "app=x";
    prepare(k, &c, &p);
    assert_string_equal(p.http.path, "/api/v1/pods?labelSelector=app%3Dx");
    assert_string_equal(p.what, "list Pods");
    rk_kube_prepared_free(&p);

    rk_kube_call_init(&c, RK_VERB_WATCH);
    c.api_version = "apps/v1";
    c.kind = "Deployment";
    c.q.resource_version = "10";
    prepare(k, &c, &p);
    assert_string_equal(p.http.path,
                        "/apis/apps/v1/namespaces/team/deployments?resourceVersion=10&watch=true");
    rk_kube_prepared_free(&p);
}

static void test_missing_name_and_kind(void **state)
{
    rk_kube *k = *state;
    rk_kube_call c;
    rk_kube_prepared p;
    rk_kube_error kerr;
    rk_kube_call_init(&c, RK_VERB_GET);
    c.api_version = "v1";
    c.kind = "ConfigMap";
    assert_int_equal(rk_kube_prepare(k, &c, &p, &kerr), RK_ERR_INVALID);
    assert_string_equal(kerr.message, "get ConfigMap: metadata.name is missing");
    rk_kube_call_init(&c, RK_VERB_GET);
    c.kind = "ConfigMap";
    c.name = "x";
    assert_int_equal(rk_kube_prepare(k, &c, &p, &kerr), RK_ERR_INVALID);
    assert_non_null(strstr(kerr.message, "missing apiVersion for kind ConfigMap"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_subresource_needs_name),
        cmocka_unit_test(test_names_are_escaped),
        cmocka_unit_test(test_query_every_parameter),
        cmocka_unit_test(test_builtin_kinds),
        cmocka_unit_test_setup_teardown(test_verbs, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_missing_name_and_kind, setup_client,
                                        teardown_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
