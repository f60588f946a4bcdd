/* kubeconfig: every cluster and user field, every credential kind (token, token file,
 * client certificate files and data, basic auth, exec plugins v1 and v1beta1), merging
 * of KUBECONFIG lists (first definition wins), --context / -n, the file search order,
 * the in-cluster service account, and error messages that name file, context and field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "kubeconfig.h"
#include "yaml_doc.h"

#define HOME_CONFIG "/home/u/.kube/config"

static char fixtures[2048];
static char tmpdir[64];

static const char *fixture(const char *name)
{
    static char path[8][4200];
    static int i;
    i = (i + 1) % 8;
    snprintf(path[i], sizeof path[i], "%s/%s", fixtures, name);
    return path[i];
}

static int setup_all(void **state)
{
    (void)state;
    const char *root = getenv("RK_SOURCE_DIR");
    char cwd[2048];
    if (!root || !*root)
        root = getcwd(cwd, sizeof cwd);
    snprintf(fixtures, sizeof fixtures, "%s/tests/fixtures/kubeconfig", root);
    strcpy(tmpdir, "/tmp/rk-kubeconfig-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    /* the tests choose the files; the machine's own config must not leak in */
    unsetenv("KUBECONFIG");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    setenv("HOME", tmpdir, 1);
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *write_tmp(const char *name, const char *text)
{
    static char path[8][256];
    static int i;
    i = (i + 1) % 8;
    snprintf(path[i], sizeof path[i], "%s/%s", tmpdir, name);
    char *slash = strrchr(path[i], '/');
    *slash = '\0';
    mkdir(path[i], 0700);
    *slash = '/';
    FILE *f = fopen(path[i], "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path[i];
}

/* Resolves one kubeconfig given as text, as if read from path. */
static rk_status resolve_as(const char *path, const char *yaml, const char *context,
                            const char *ns, rk_kubeconfig **kc, rk_error *err)
{
    rk_value *docs = NULL;
    rk_status st = rk_yaml_load(yaml, strlen(yaml), path, NULL, &docs, err);
    if (st != RK_OK)
        return st;
    const rk_value *doc = rk_seq_get(docs, 0);
    rk_kubeconfig_request req = {NULL, context, ns};
    st = rk_kubeconfig_resolve(&doc, &path, 1, &req, kc, err);
    rk_value_free(docs);
    return st;
}

static rk_kubeconfig *resolve_ok(const char *yaml)
{
    rk_kubeconfig *kc = NULL;
    rk_error err;
    if (resolve_as(HOME_CONFIG, yaml, NULL, NULL, &kc, &err) != RK_OK)
        fail_msg("%s", err.msg);
    return kc;
}

#define PROD_HEAD                                                                          \
    "apiVersion: v1\nkind: Config\ncurrent-context: prod\n"                                \
    "contexts:\n- name: prod\n  context: {cluster: main, user: admin, namespace: apps}\n"  \
    "clusters:\n- name: main\n  cluster:\n    server: https://k8s.example:6443\n"

/* ---- clusters ---- */

static void test_token_user(void **state)
{
    (void)state;
    rk_kubeconfig *kc = resolve_ok(
        PROD_HEAD "    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n"
                  "users:\n- name: admin\n  user:\n    token: abc.def\n");
    assert_string_equal(kc->path, HOME_CONFIG);
    assert_string_equal(kc->context, "prod");
    assert_string_equal(kc->cluster_name, "main");
    assert_string_equal(kc->user_name, "admin");
    assert_string_equal(kc->server, "https://k8s.example:6443");
    assert_string_equal(kc->namespace, "apps");
    assert_true(kc->namespace_explicit);
    assert_int_equal(kc->ca_len, 28);
    assert_memory_equal(kc->ca_data, "-----BEGIN CERTIFICATE-----\n", 28);
    assert_string_equal(kc->token, "abc.def");
    assert_false(kc->insecure);
    const rk_credential *cred;
    int changed;
    assert_int_equal(rk_kubeconfig_credential(kc, 0, &cred, &changed, NULL), RK_OK);
    assert_string_equal(cred->token, "abc.def");
    assert_true(changed);
    assert_false(rk_kubeconfig_can_refresh(kc));
    rk_kubeconfig_free(kc);
}

static void test_every_cluster_field(void **state)
{
    (void)state;
    const char *dir_file = fixture("kubeconfig-here");
    rk_kubeconfig *kc = NULL;
    rk_error err;
    const char *yaml = "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                       "contexts: [{name: c, context: {cluster: k}}]\n"
                       "clusters:\n- name: k\n  cluster:\n    server: https://10.0.0.1:6443\n"
                       "    certificate-authority: ca.crt\n"
                       "    tls-server-name: kubernetes.default.svc\n"
                       "    proxy-url: socks5://proxy.example:1080\n";
    assert_int_equal(resolve_as(dir_file, yaml, NULL, NULL, &kc, &err), RK_OK);
    assert_string_equal(kc->ca_file, fixture("ca.crt")); /* relative to the file */
    assert_null(kc->ca_data);
    assert_string_equal(kc->tls_server_name, "kubernetes.default.svc");
    assert_string_equal(kc->proxy_url, "socks5://proxy.example:1080");
    assert_string_equal(kc->namespace, "default");
    assert_false(kc->namespace_explicit);
    assert_null(kc->user_name);
    rk_kubeconfig_free(kc);
}

static void test_insecure(void **state)
{
    (void)state;
    rk_kubeconfig *kc = resolve_ok("apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                                   "contexts: [{name: c, context: {cluster: k}}]\n"
                                   "clusters: [{name: k, cluster: {server: 'https://x:1', "
                                   "insecure-skip-tls-verify: true}}]\n");
    assert_true(kc->insecure);
    rk_kubeconfig_free(kc);
}

/* ---- users ---- */

static void test_client_certificates(void **state)
{
    (void)state;
    rk_kubeconfig *kc = NULL;
    rk_error err;
    assert_int_equal(resolve_as(fixture("cfg"),
                                PROD_HEAD "users:\n- name: admin\n  user:\n"
                                          "    client-certificate: client.crt\n"
                                          "    client-key: /keys/client.key\n",
                                NULL, NULL, &kc, &err),
                     RK_OK);
    assert_string_equal(kc->cert_file, fixture("client.crt"));
    assert_string_equal(kc->key_file, "/keys/client.key");
    rk_kubeconfig_free(kc);

    kc = resolve_ok(PROD_HEAD "users:\n- name: admin\n  user:\n"
                              "    client-certificate-data: Q0VSVA==\n"
                              "    client-key-data: S0VZ\n");
    assert_int_equal(kc->cert_len, 4);
    assert_memory_equal(kc->cert_data, "CERT", 4);
    assert_int_equal(kc->key_len, 3);
    assert_memory_equal(kc->key_data, "KEY", 3);
    assert_null(kc->token);
    rk_kubeconfig_free(kc);
}

static void test_basic_auth(void **state)
{
    (void)state;
    rk_kubeconfig *kc = resolve_ok(PROD_HEAD "users:\n- name: admin\n  user:\n"
                                             "    username: alice\n    password: wonderland\n");
    assert_string_equal(kc->username, "alice");
    assert_string_equal(kc->password, "wonderland");
    rk_kubeconfig_free(kc);
}

static void test_exec_config(void **state)
{
    (void)state;
    rk_kubeconfig *kc = NULL;
    rk_error err;
    assert_int_equal(
        resolve_as(fixture("cfg"),
                   PROD_HEAD "users:\n- name: admin\n  user:\n    exec:\n"
                             "      apiVersion: client.authentication.k8s.io/v1beta1\n"
                             "      command: ./exec-plugin.sh\n"
                             "      args: [get-token, --cluster, main]\n"
                             "      env:\n      - {name: AWS_PROFILE, value: prod}\n"
                             "      - {name: EMPTY}\n"
                             "      installHint: install it with apt\n"
                             "      provideClusterInfo: true\n"
                             "      interactiveMode: Never\n",
                   NULL, NULL, &kc, &err),
        RK_OK);
    const rk_exec_config *e = kc->exec;
    assert_non_null(e);
    assert_string_equal(e->api_version, "client.authentication.k8s.io/v1beta1");
    assert_string_equal(e->command, fixture("./exec-plugin.sh"));
    assert_int_equal(e->nargs, 3);
    assert_string_equal(e->args[0], "get-token");
    assert_string_equal(e->args[2], "main");
    assert_int_equal(e->nenv, 2);
    assert_string_equal(e->env[0], "AWS_PROFILE=prod");
    assert_string_equal(e->env[1], "EMPTY=");
    assert_string_equal(e->install_hint, "install it with apt");
    assert_true(e->provide_cluster_info);
    assert_string_equal(e->interactive_mode, "Never");
    assert_true(rk_kubeconfig_can_refresh(kc));
    rk_kubeconfig_free(kc);

    /* a bare command name is looked up in PATH, not next to the file */
    kc = resolve_ok(PROD_HEAD "users:\n- name: admin\n  user:\n    exec:\n"
                              "      apiVersion: client.authentication.k8s.io/v1\n"
                              "      command: aws\n");
    assert_string_equal(kc->exec->command, "aws");
    rk_kubeconfig_free(kc);
}

/* ---- contexts, namespaces, merging ---- */

static const char two_contexts[] =
    "apiVersion: v1\nkind: Config\ncurrent-context: a\n"
    "contexts:\n- {name: a, context: {cluster: k, namespace: ns-a}}\n"
    "- {name: b, context: {cluster: k}}\n"
    "clusters: [{name: k, cluster: {server: 'https://k:6443'}}]\n";

static void test_context_and_namespace_flags(void **state)
{
    (void)state;
    rk_kubeconfig *kc = NULL;
    rk_error err;
    assert_int_equal(resolve_as(HOME_CONFIG, two_contexts, "b", NULL, &kc, &err), RK_OK);
    assert_string_equal(kc->context, "b");
    assert_string_equal(kc->namespace, "default");
    rk_kubeconfig_free(kc);
    assert_int_equal(resolve_as(HOME_CONFIG, two_contexts, NULL, "flag-ns", &kc, &err), RK_OK);
    assert_string_equal(kc->context, "a");
    assert_string_equal(kc->namespace, "flag-ns"); /* -n beats the context */
    rk_kubeconfig_free(kc);
    assert_int_equal(resolve_as(HOME_CONFIG, two_contexts, NULL, NULL, &kc, &err), RK_OK);
    assert_string_equal(kc->namespace, "ns-a");
    rk_kubeconfig_free(kc);
}

static void test_merge_first_definition_wins(void **state)
{
    (void)state;
    char list[8192];
    snprintf(list, sizeof list, "%s:%s:%s", fixture("merge-a.yaml"), fixture("missing.yaml"),
             fixture("merge-b.yaml"));
    setenv("KUBECONFIG", list, 1);
    rk_kubeconfig_request req = {0};
    rk_kubeconfig *kc = NULL;
    rk_error err;
    assert_int_equal(rk_kubeconfig_load(&req, &kc, &err), RK_OK);
    /* current-context "dev" comes from b (a has none); context "dev", cluster "shared"
     * and user "dev-user" all come from a, which defines them first */
    assert_string_equal(kc->context, "dev");
    assert_string_equal(kc->path, fixture("merge-a.yaml"));
    assert_string_equal(kc->server, "https://a.example:6443");
    assert_string_equal(kc->token, "token-from-a");
    assert_string_equal(kc->namespace, "from-a");
    rk_kubeconfig_free(kc);

    /* a context only b has, whose token file is relative to b */
    req.context = "ops";
    assert_int_equal(rk_kubeconfig_load(&req, &kc, &err), RK_OK);
    assert_string_equal(kc->server, "https://only-b.example:6443");
    assert_string_equal(kc->token_file, fixture("token"));
    const rk_credential *cred;
    assert_int_equal(rk_kubeconfig_credential(kc, 0, &cred, NULL, &err), RK_OK);
    assert_string_equal(cred->token, "file-token"); /* newline trimmed */
    rk_kubeconfig_free(kc);

    /* --kubeconfig reads that file only */
    req.context = NULL;
    req.kubeconfig = fixture("merge-b.yaml");
    assert_int_equal(rk_kubeconfig_load(&req, &kc, &err), RK_OK);
    assert_string_equal(kc->server, "https://only-b.example:6443");
    assert_string_equal(kc->token, "token-from-b");
    rk_kubeconfig_free(kc);
    unsetenv("KUBECONFIG");
}

static void test_home_config_and_missing_files(void **state)
{
    (void)state;
    rk_kubeconfig_request req = {0};
    rk_kubeconfig *kc = NULL;
    rk_error err;
    assert_int_equal(rk_kubeconfig_load(&req, &kc, &err), RK_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "no kubeconfig found (looked at "));
    assert_non_null(strstr(err.msg, "/.kube/config); pass --kubeconfig PATH, set KUBECONFIG"));
    write_tmp(".kube/config", two_contexts);
    assert_int_equal(rk_kubeconfig_load(&req, &kc, &err), RK_OK);
    assert_string_equal(kc->context, "a");
    rk_kubeconfig_free(kc);
    req.kubeconfig = "/nonexistent/kubeconfig";
    assert_int_equal(rk_kubeconfig_load(&req, &kc, &err), RK_ERR_NOT_FOUND);
    assert_string_equal(err.msg, "kubeconfig /nonexistent/kubeconfig: No such file or directory");
    req.kubeconfig = write_tmp("broken.yaml", "clusters: [\n");
    assert_int_equal(rk_kubeconfig_load(&req, &kc, &err), RK_ERR_PARSE);
    assert_true(strncmp(err.msg, req.kubeconfig, strlen(req.kubeconfig)) == 0);
    char home_config[300];
    snprintf(home_config, sizeof home_config, "%s/.kube/config", tmpdir);
    unlink(home_config);
}

/* ---- errors ---- */

typedef struct {
    const char *yaml, *context, *message;
    rk_status code;
} bad_case;

static void test_errors_name_file_context_and_field(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {PROD_HEAD "users:\n- name: admin\n  user:\n    client-certificate-data: Q0VSVA==\n"
                   "    client-key-data: '%%%not base64'\n",
         NULL, HOME_CONFIG ": context \"prod\": user \"admin\": client-key-data: not valid base64: "
                       "byte 1 is not a base64 character (A-Z a-z 0-9 + /, then = padding)",
         RK_ERR_INVALID},
        {PROD_HEAD "    certificate-authority-data: 'not-base64!'\nusers: [{name: admin, user: {}}]\n", NULL,
         HOME_CONFIG ": context \"prod\": cluster \"main\": certificate-authority-data: not valid "
                     "base64: byte 4 is not a base64 character (A-Z a-z 0-9 + /, then = padding)",
         RK_ERR_INVALID},
        {PROD_HEAD "users: []\n", "nope",
         HOME_CONFIG ": no context \"nope\" (contexts: prod)", RK_ERR_NOT_FOUND},
        {"apiVersion: v1\nkind: Config\ncontexts: [{name: x, context: {cluster: k}}]\n", NULL,
         HOME_CONFIG ": no current-context; pass --context NAME (contexts: x)", RK_ERR_NOT_FOUND},
        {"apiVersion: v1\nkind: Config\ncurrent-context: x\n"
         "contexts: [{name: x, context: {cluster: gone}}]\nclusters: [{name: k, cluster: {}}]\n",
         NULL,
         HOME_CONFIG ": context \"x\": cluster: \"gone\" is not defined in " HOME_CONFIG
                     " (clusters: k)",
         RK_ERR_NOT_FOUND},
        {PROD_HEAD "users: []\n", NULL,
         HOME_CONFIG ": context \"prod\": user: \"admin\" is not defined in " HOME_CONFIG
                     " (users: none)",
         RK_ERR_NOT_FOUND},
        {"apiVersion: v1\nkind: Config\ncurrent-context: x\n"
         "contexts: [{name: x, context: {cluster: k}}]\nclusters: [{name: k, cluster: {}}]\n",
         NULL, HOME_CONFIG ": context \"x\": cluster \"k\": server: missing (the API server URL)",
         RK_ERR_INVALID},
        {"apiVersion: v1\nkind: Config\ncurrent-context: x\n"
         "contexts: [{name: x, context: {cluster: k}}]\n"
         "clusters: [{name: k, cluster: {server: [a]}}]\n",
         NULL, HOME_CONFIG ": context \"x\": cluster \"k\": server: must be a string",
         RK_ERR_INVALID},
        {"apiVersion: v1\nkind: Config\ncurrent-context: x\n"
         "contexts: [{name: x, context: {cluster: k}}]\n"
         "clusters: [{name: k, cluster: {server: 'k8s:6443'}}]\n",
         NULL, HOME_CONFIG ": context \"x\": cluster \"k\": server: must start with https:// (or "
               "http://)",
         RK_ERR_INVALID},
        {"apiVersion: v1\nkind: Config\ncurrent-context: x\n"
         "contexts: [{name: x, context: {cluster: k}}]\n"
         "clusters: [{name: k, cluster: {server: 'https://k', insecure-skip-tls-verify: "
         "'yes please'}}]\n",
         NULL, HOME_CONFIG ": context \"x\": cluster \"k\": insecure-skip-tls-verify: must be true "
               "or false",
         RK_ERR_INVALID},
        {PROD_HEAD "    insecure-skip-tls-verify: true\n    certificate-authority: /ca\n"
                   "users: [{name: admin, user: {}}]\n",
         NULL, HOME_CONFIG ": context \"prod\": cluster \"main\": insecure-skip-tls-verify: cannot "
               "be combined with a certificate authority; remove one",
         RK_ERR_INVALID},
        {PROD_HEAD "users:\n- name: admin\n  user: {client-certificate-data: Q0VSVA==}\n", NULL,
         HOME_CONFIG ": context \"prod\": user \"admin\": client-key-data: missing: a client "
                     "certificate needs its key",
         RK_ERR_INVALID},
        {PROD_HEAD "users:\n- name: admin\n  user: {token: t, username: u, password: p}\n", NULL,
         HOME_CONFIG ": context \"prod\": user \"admin\": username: token and basic auth are both "
                     "set; keep one",
         RK_ERR_INVALID},
        {PROD_HEAD "users:\n- name: admin\n  user: {auth-provider: {name: gcp}}\n", NULL,
         HOME_CONFIG ": context \"prod\": user \"admin\": auth-provider: legacy auth providers are "
                     "not supported; use an exec plugin (e.g. gke-gcloud-auth-plugin, kubelogin)",
         RK_ERR_UNSUPPORTED},
        {PROD_HEAD "users:\n- name: admin\n  user: {exec: {apiVersion: "
                   "client.authentication.k8s.io/v1}}\n",
         NULL, HOME_CONFIG ": context \"prod\": user \"admin\": exec: command: missing",
         RK_ERR_INVALID},
        {PROD_HEAD "users:\n- name: admin\n  user: {exec: {command: x, apiVersion: "
                   "client.authentication.k8s.io/v1alpha1}}\n",
         NULL, HOME_CONFIG ": context \"prod\": user \"admin\": exec: apiVersion: must be "
               "client.authentication.k8s.io/v1 or v1beta1",
         RK_ERR_INVALID},
        {PROD_HEAD "users:\n- name: admin\n  user: {exec: {command: x, apiVersion: "
                   "client.authentication.k8s.io/v1, env: [{value: 1}]}}\n",
         NULL, HOME_CONFIG ": context \"prod\": user \"admin\": exec: env[0]: needs a name and a "
               "string value",
         RK_ERR_INVALID},
        {"apiVersion: v1\nkind: Pod\n", NULL,
         HOME_CONFIG ": kind is \"Pod\", expected \"Config\"", RK_ERR_INVALID},
        {"apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters: {a: b}\n"
         "contexts: [{name: x, context: {cluster: a}}]\n",
         NULL, HOME_CONFIG ": clusters: must be a list", RK_ERR_INVALID},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rk_kubeconfig *kc = NULL;
        rk_error err;
        rk_status st = resolve_as(HOME_CONFIG, cases[i].yaml, cases[i].context, NULL, &kc, &err);
        if (st != cases[i].code || strcmp(err.msg, cases[i].message) != 0)
            fail_msg("case %zu: got %d \"%s\"\n  want %d \"%s\"", i, st, st ? err.msg : "",
                     cases[i].code, cases[i].message);
        assert_null(kc);
    }
}

/* ---- in-cluster ---- */

static void test_in_cluster(void **state)
{
    (void)state;
    write_tmp("sa/token", "sa-token\n");
    write_tmp("sa/ca.crt", "-----BEGIN CERTIFICATE-----\n");
    write_tmp("sa/namespace", "robots\n");
    char sa[300];
    snprintf(sa, sizeof sa, "%s/sa", tmpdir);
    setenv("RIGELK8S_SERVICEACCOUNT_DIR", sa, 1);
    rk_kubeconfig_request req = {0};
    rk_kubeconfig *kc = NULL;
    rk_error err;
    /* no kubeconfig and not in a pod: says where it looked */
    assert_int_equal(rk_kubeconfig_load(&req, &kc, &err), RK_ERR_NOT_FOUND);
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    assert_int_equal(rk_kubeconfig_load(&req, &kc, &err), RK_OK);
    assert_true(kc->in_cluster);
    assert_string_equal(kc->context, "in-cluster");
    assert_string_equal(kc->server, "https://10.96.0.1:443");
    assert_string_equal(kc->namespace, "robots");
    char want[400];
    snprintf(want, sizeof want, "%s/ca.crt", sa);
    assert_string_equal(kc->ca_file, want);
    const rk_credential *cred;
    assert_int_equal(rk_kubeconfig_credential(kc, 0, &cred, NULL, &err), RK_OK);
    assert_string_equal(cred->token, "sa-token");
    assert_true(rk_kubeconfig_can_refresh(kc)); /* projected tokens rotate */
    rk_kubeconfig_free(kc);

    req.namespace = "flag";
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    assert_int_equal(rk_kubeconfig_load(&req, &kc, &err), RK_OK);
    assert_string_equal(kc->server, "https://[fd00::1]:443");
    assert_string_equal(kc->namespace, "flag");
    rk_kubeconfig_free(kc);

    /* a kubeconfig, when there is one, wins over the service account */
    write_tmp(".kube/config", two_contexts);
    req.namespace = NULL;
    assert_int_equal(rk_kubeconfig_load(&req, &kc, &err), RK_OK);
    assert_false(kc->in_cluster);
    rk_kubeconfig_free(kc);
    char home_config[300];
    snprintf(home_config, sizeof home_config, "%s/.kube/config", tmpdir);
    unlink(home_config);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    unsetenv("RIGELK8S_SERVICEACCOUNT_DIR");
}

/* ---- run-time credentials ---- */

static void test_token_file_is_reread_on_refresh(void **state)
{
    (void)state;
    const char *tok = write_tmp("tok", "one\n");
    char yaml[1024];
    snprintf(yaml, sizeof yaml, PROD_HEAD "users:\n- name: admin\n  user: {tokenFile: %s}\n", tok);
    rk_kubeconfig *kc = resolve_ok(yaml);
    const rk_credential *cred;
    int changed = 0;
    rk_error err;
    assert_int_equal(rk_kubeconfig_credential(kc, 0, &cred, &changed, &err), RK_OK);
    assert_string_equal(cred->token, "one");
    assert_true(changed);
    write_tmp("tok", "two\n");
    assert_int_equal(rk_kubeconfig_credential(kc, 0, &cred, &changed, &err), RK_OK);
    assert_string_equal(cred->token, "one"); /* cached for a minute */
    assert_int_equal(rk_kubeconfig_credential(kc, 1, &cred, &changed, &err), RK_OK);
    assert_string_equal(cred->token, "two"); /* after a 401 */
    assert_true(changed);
    assert_int_equal(rk_kubeconfig_credential(kc, 1, &cred, &changed, &err), RK_OK);
    assert_false(changed);
    unlink(tok);
    assert_int_equal(rk_kubeconfig_credential(kc, 1, &cred, &changed, &err), RK_ERR_IO);
    assert_non_null(strstr(err.msg, HOME_CONFIG ": context \"prod\": user \"admin\": tokenFile: "));
    rk_kubeconfig_free(kc);
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static char *slurp(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static rk_kubeconfig *exec_config(const char *version, const char *extra)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             PROD_HEAD "users:\n- name: admin\n  user:\n    exec:\n"
                       "      apiVersion: client.authentication.k8s.io/%s\n"
                       "      command: %s\n      args: [--flag, value]\n%s",
             version, fixture("exec-plugin.sh"), extra);
    return resolve_ok(yaml);
}

static void test_exec_plugin_token_cached_until_expiry(void **state)
{
    (void)state;
    char count[300], info[300];
    snprintf(count, sizeof count, "%s/count", tmpdir);
    snprintf(info, sizeof info, "%s/info", tmpdir);
    unlink(count);
    setenv("RK_PLUGIN_COUNT_FILE", count, 1);     /* the user's environment reaches it */
    setenv("RK_PLUGIN_INFO_FILE", info, 1);
    setenv("RK_PLUGIN_TOKEN", "from-user-env", 1); /* ... but the kubeconfig's env wins */
    for (int v = 0; v < 2; v++) {
        const char *version = v ? "v1beta1" : "v1";
        unlink(count);
        rk_kubeconfig *kc = exec_config(version, "      env: [{name: RK_PLUGIN_TOKEN, value: "
                                                 "from-kubeconfig}]\n"
                                                 "      provideClusterInfo: true\n");
        const rk_credential *cred;
        int changed;
        rk_error err;
        assert_int_equal(rk_kubeconfig_credential(kc, 0, &cred, &changed, &err), RK_OK);
        assert_string_equal(cred->token, "from-kubeconfig");
        assert_true(changed);
        assert_int_equal(count_lines(count), 1);
        char *seen = slurp(info);
        char want[200];
        snprintf(want, sizeof want, "{\"apiVersion\":\"client.authentication.k8s.io/%s\","
                 "\"kind\":\"ExecCredential\",\"spec\":{\"cluster\":{\"server\":"
                 "\"https://k8s.example:6443\"},\"interactive\":false}}", version);
        assert_non_null(strstr(seen, want));
        assert_non_null(strstr(seen, "args:--flag value"));
        /* no expiry: the credential is kept */
        assert_int_equal(rk_kubeconfig_credential(kc, 0, &cred, &changed, &err), RK_OK);
        assert_false(changed);
        assert_int_equal(count_lines(count), 1);
        /* a 401 forces the plugin again */
        assert_int_equal(rk_kubeconfig_credential(kc, 1, &cred, &changed, &err), RK_OK);
        assert_int_equal(count_lines(count), 2);
        rk_kubeconfig_free(kc);
    }
    /* an expired credential is renewed on every use; a future one is not */
    unlink(count);
    setenv("RK_PLUGIN_EXPIRY", "2001-01-01T00:00:00Z", 1);
    rk_kubeconfig *kc = exec_config("v1", "");
    const rk_credential *cred;
    assert_int_equal(rk_kubeconfig_credential(kc, 0, &cred, NULL, NULL), RK_OK);
    assert_string_equal(cred->token, "from-user-env");
    assert_int_equal(rk_kubeconfig_credential(kc, 0, &cred, NULL, NULL), RK_OK);
    assert_int_equal(count_lines(count), 2);
    rk_kubeconfig_free(kc);
    unlink(count);
    setenv("RK_PLUGIN_EXPIRY", "2999-01-01T00:00:00+02:00", 1);
    kc = exec_config("v1", "");
    assert_int_equal(rk_kubeconfig_credential(kc, 0, &cred, NULL, NULL), RK_OK);
    assert_int_equal(rk_kubeconfig_credential(kc, 0, &cred, NULL, NULL), RK_OK);
    assert_int_equal(count_lines(count), 1);
    assert_true(kc->cred_expiry > time(NULL));
    rk_kubeconfig_free(kc);
    unsetenv("RK_PLUGIN_EXPIRY");
    unsetenv("RK_PLUGIN_TOKEN");
    unsetenv("RK_PLUGIN_COUNT_FILE");
    unsetenv("RK_PLUGIN_INFO_FILE");
}

static void test_exec_plugin_client_certificate(void **state)
{
    (void)state;
    setenv("RK_PLUGIN_MODE", "cert", 1);
    rk_kubeconfig *kc = exec_config("v1", "");
    const rk_credential *cred;
    rk_error err;
    assert_int_equal(rk_kubeconfig_credential(kc, 0, &cred, NULL, &err), RK_OK);
    assert_null(cred->token);
    assert_int_equal(cred->cert_len, 8);
    assert_memory_equal(cred->cert_data, "CERT\nPEM", 8);
    assert_memory_equal(cred->key_data, "KEY\nPEM", 7);
    rk_kubeconfig_free(kc);
    unsetenv("RK_PLUGIN_MODE");
}

static void test_exec_plugin_failures(void **state)
{
    (void)state;
    static const struct {
        const char *mode, *message;
    } cases[] = {
        {"fail", "exec: plugin \"%s\" exited with status 3"},
        {"garbage", "exec: plugin \"%s\" printed something that is not an ExecCredential: "},
        {"wrong-version", "exec: plugin \"%s\" answered with apiVersion "
                          "client.authentication.k8s.io/v1alpha1, expected "
                          "client.authentication.k8s.io/v1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        setenv("RK_PLUGIN_MODE", cases[i].mode, 1);
        rk_kubeconfig *kc = exec_config("v1", "");
        const rk_credential *cred;
        rk_error err;
        assert_int_not_equal(rk_kubeconfig_credential(kc, 0, &cred, NULL, &err), RK_OK);
        char want[600];
        snprintf(want, sizeof want, cases[i].message, fixture("exec-plugin.sh"));
        if (!strstr(err.msg, want) ||
            !strstr(err.msg, HOME_CONFIG ": context \"prod\": user \"admin\": exec: "))
            fail_msg("%s: got \"%s\"", cases[i].mode, err.msg);
        rk_kubeconfig_free(kc);
    }
    unsetenv("RK_PLUGIN_MODE");
}

/* Ctrl-C reaches the plugin's wait through the callback the host gives the transport
 * (rk_http_set_interrupt): the plugin is stopped and the run told so. */
static int interrupt_calls;

static int interrupt_on_third_call(void)
{
    return ++interrupt_calls >= 3;
}

static void test_exec_plugin_stopped_when_interrupted(void **state)
{
    (void)state;
    setenv("RK_PLUGIN_MODE", "hang", 1);
    rk_kubeconfig *kc = exec_config("v1", "");
    const rk_credential *cred;
    rk_error err;
    interrupt_calls = 0;
    rk_http_set_interrupt(interrupt_on_third_call);
    assert_int_equal(rk_kubeconfig_credential(kc, 0, &cred, NULL, &err), RK_ERR_IO);
    rk_http_set_interrupt(NULL);
    assert_string_equal(err.msg, "interrupted");
    assert_int_equal(interrupt_calls, 3);
    assert_null(cred->token);
    rk_kubeconfig_free(kc);
    unsetenv("RK_PLUGIN_MODE");
}

static void test_exec_plugin_missing_shows_install_hint(void **state)
{
    (void)state;
    rk_kubeconfig *kc = resolve_ok(PROD_HEAD "users:\n- name: admin\n  user:\n    exec:\n"
                                             "      apiVersion: client.authentication.k8s.io/v1\n"
                                             "      command: rk-no-such-plugin\n"
                                             "      installHint: |\n"
                                             "        rk-no-such-plugin is needed; see "
                                             "https://example.com/install\n");
    const rk_credential *cred;
    rk_error err;
    assert_int_equal(rk_kubeconfig_credential(kc, 0, &cred, NULL, &err), RK_ERR_NOT_FOUND);
    assert_string_equal(err.msg, HOME_CONFIG ": context \"prod\": user \"admin\": exec: plugin "
                                 "\"rk-no-such-plugin\" not found; rk-no-such-plugin is needed; "
                                 "see https://example.com/install");
    rk_kubeconfig_free(kc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_user),
        cmocka_unit_test(test_every_cluster_field),
        cmocka_unit_test(test_insecure),
        cmocka_unit_test(test_client_certificates),
        cmocka_unit_test(test_basic_auth),
        cmocka_unit_test(test_exec_config),
        cmocka_unit_test(test_context_and_namespace_flags),
        cmocka_unit_test(test_merge_first_definition_wins),
        cmocka_unit_test(test_home_config_and_missing_files),
        cmocka_unit_test(test_errors_name_file_context_and_field),
        cmocka_unit_test(test_in_cluster),
        cmocka_unit_test(test_token_file_is_reread_on_refresh),
        cmocka_unit_test(test_exec_plugin_token_cached_until_expiry),
        cmocka_unit_test(test_exec_plugin_client_certificate),
        cmocka_unit_test(test_exec_plugin_failures),
        cmocka_unit_test(test_exec_plugin_stopped_when_interrupted),
        cmocka_unit_test(test_exec_plugin_missing_shows_install_hint),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
