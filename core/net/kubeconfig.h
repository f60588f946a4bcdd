/* kubeconfig.h — which cluster to talk to and as whom: kubeconfig files (--kubeconfig,
 * else KUBECONFIG merged, else ~/.kube/config), contexts, credentials (token, token file,
 * client certificates, basic auth, exec plugins) and the in-cluster service account.
 *
 * Ownership: an rk_kubeconfig owns every string and blob in it; rk_kubeconfig_free
 * releases them (and wipes secrets). Parsing works on rk_value trees that stay the
 * caller's. Credentials returned by rk_kubeconfig_credential are borrowed from the
 * rk_kubeconfig and stay valid until the next call for it.
 *
 * Messages name the file, the context and the field, e.g.
 *   /home/u/.kube/config: context "prod": user "admin": client-key-data: not valid base64 */
#ifndef RK_KUBECONFIG_H
#define RK_KUBECONFIG_H

#include <stddef.h>
#include <time.h>

#include "error.h"
#include "value.h"

/* Where the in-cluster service account lives; RIGELK8S_SERVICEACCOUNT_DIR overrides it. */
#define RK_SERVICEACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

typedef struct {
    char *api_version; /* client.authentication.k8s.io/v1 or .../v1beta1 */
    char *command;     /* relative paths with a '/' are resolved against the file */
    char **args;
    size_t nargs;
    char **env; /* "NAME=value" entries added to the user's environment */
    size_t nenv;
    char *install_hint;
    int provide_cluster_info;
    char *interactive_mode; /* Never | IfAvailable | Always */
} rk_exec_config;

typedef struct {
    char *token;                         /* bearer token, or NULL */
    unsigned char *cert_data, *key_data; /* PEM client certificate from a plugin */
    size_t cert_len, key_len;
} rk_credential;

typedef struct rk_kubeconfig {
    char *path;    /* file the context was read from; the SA dir in-cluster */
    char *context; /* context name ("in-cluster" in a pod) */
    char *cluster_name, *user_name;
    char *namespace;        /* -n, else the context's, else "default" */
    int namespace_explicit; /* came from -n or the context, not the default */
    int in_cluster;
    /* cluster */
    char *server;
    char *ca_file;
    unsigned char *ca_data;
    size_t ca_len;
    int insecure;
    char *tls_server_name;
    char *proxy_url;
    /* user */
    char *token;
    char *token_file;
    char *cert_file, *key_file;
    unsigned char *cert_data, *key_data;
    size_t cert_len, key_len;
    char *username, *password;
    rk_exec_config *exec;
    /* run-time credential state */
    rk_credential cred;  /* what is sent now (token file or plugin output) */
    time_t cred_expiry;  /* plugin credential expiry; 0: none */
    time_t cred_read_at; /* when the token file was last read */
    int cred_valid;
} rk_kubeconfig;

typedef struct {
    const char *kubeconfig; /* --kubeconfig: this file only */
    const char *context;    /* --context */
    const char *namespace;  /* -n */
} rk_kubeconfig_request;

/* Finds, reads and merges the kubeconfig files (or the in-cluster account when there is
 * none) and resolves the context. Environment: KUBECONFIG, HOME,
 * KUBERNETES_SERVICE_HOST/PORT, RIGELK8S_SERVICEACCOUNT_DIR. Errors are RK_ERR_INVALID
 * (bad content), RK_ERR_NOT_FOUND (no file, context, cluster or user) or RK_ERR_IO. */
rk_status rk_kubeconfig_load(const rk_kubeconfig_request *req, rk_kubeconfig **out, rk_error *err);

/* The merge and resolution step alone, on documents already parsed: docs[i] was read
 * from paths[i], in KUBECONFIG order (the first file to define a name wins, and the
 * first current-context wins). */
rk_status rk_kubeconfig_resolve(const rk_value *const *docs, const char *const *paths, size_t n,
                                const rk_kubeconfig_request *req, rk_kubeconfig **out,
                                rk_error *err);

/* The service account of the pod we run in: root is the directory holding token,
 * ca.crt and namespace (NULL: RIGELK8S_SERVICEACCOUNT_DIR or RK_SERVICEACCOUNT_DIR).
 * RK_ERR_NOT_FOUND when KUBERNETES_SERVICE_HOST is unset or the token is missing. */
rk_status rk_kubeconfig_in_cluster(const char *root, const char *namespace, rk_kubeconfig **out,
                                   rk_error *err);

void rk_kubeconfig_free(rk_kubeconfig *kc);

/* The credential to send now: the static token, the token file (re-read every minute),
 * or the exec plugin's answer (cached until its expirationTimestamp). refresh forces a
 * re-read / re-run, as after a 401. Sets *changed when it differs from the last one. */
rk_status rk_kubeconfig_credential(rk_kubeconfig *kc, int refresh, const rk_credential **out,
                                   int *changed, rk_error *err);

/* Whether a refresh could produce a different credential (token file or exec plugin). */
int rk_kubeconfig_can_refresh(const rk_kubeconfig *kc);

#endif
