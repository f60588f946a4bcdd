/* The credentials of a kubeconfig user at run time: exec plugins (the user's exec:
 * block, running the plugin, its ExecCredential answer, cached until it expires) and
 * the token file, re-read every minute. */
#include "kubeconfig_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base64.h"
#include "http.h"
#include "json.h"
#include "rfc3339.h"

extern char **environ;

#define TOKEN_FILE_REREAD_SECONDS 60
/* A plugin credential is renewed this long before it expires, so that a request in
 * flight does not race the expiry. */
#define EXPIRY_MARGIN_SECONDS 10

/* ---- the exec: block of a user ------------------------------------------------------ */

static rk_status parse_string_list(const rk_value *m, const char *key, const origin *o, char ***out,
                                   size_t *n, rk_error *err)
{
    const rk_value *v = rk_map_get_cstr(m, key);
    *out = NULL;
    *n = 0;
    if (!v || v->type == RK_NULL)
        return RK_OK;
    if (v->type != RK_SEQ)
        return rk_kc_field_error(err, RK_ERR_INVALID, o, key, "must be a list of strings");
    *out = calloc(v->as.seq.len + 1, sizeof **out);
    if (!*out)
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < v->as.seq.len; i++) {
        const rk_value *a = v->as.seq.items[i];
        if (a->type != RK_STRING) {
            char f[64];
            snprintf(f, sizeof f, "%s[%zu]", key, i);
            return rk_kc_field_error(err, RK_ERR_INVALID, o, f, "must be a string");
        }
        if (rk_kc_dup_into(&(*out)[i], a->as.str.ptr, err))
            return RK_ERR_NOMEM;
        (*n)++;
    }
    return RK_OK;
}

rk_status rk_kc_parse_exec(rk_kubeconfig *kc, const rk_value *m, const origin *uo, rk_error *err)
{
    origin o = *uo;
    rk_exec_config *e = kc->exec = calloc(1, sizeof *e);
    if (!e)
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory");
    rk_status st;
    if ((st = rk_kc_get_string(m, "apiVersion", &o, &e->api_version, err)) ||
        (st = rk_kc_get_path(m, "command", &o, &e->command, err)) ||
        (st = rk_kc_get_string(m, "installHint", &o, &e->install_hint, err)) ||
        (st = rk_kc_get_bool(m, "provideClusterInfo", &o, &e->provide_cluster_info, err)) ||
        (st = rk_kc_get_string(m, "interactiveMode", &o, &e->interactive_mode, err)) ||
        (st = parse_string_list(m, "args", &o, &e->args, &e->nargs, err)))
        return st;
    if (!e->command)
        return rk_kc_field_error(err, RK_ERR_INVALID, &o, "exec: command", "missing");
    /* Only a command naming a path ("./bin/login") is relative to the file; a bare
     * name is looked up in PATH. get_path resolved both: undo it for bare names. */
    const rk_value *raw = rk_map_get_cstr(m, "command");
    if (raw && raw->type == RK_STRING && !memchr(raw->as.str.ptr, '/', raw->as.str.len)) {
        free(e->command);
        if (rk_kc_dup_into(&e->command, raw->as.str.ptr, err))
            return RK_ERR_NOMEM;
    }
    if (!e->api_version)
        return rk_kc_field_error(err, RK_ERR_INVALID, &o, "exec: apiVersion",
                                 "missing (use client.authentication.k8s.io/v1)");
    if (strcmp(e->api_version, "client.authentication.k8s.io/v1") != 0 &&
        strcmp(e->api_version, "client.authentication.k8s.io/v1beta1") != 0)
        return rk_kc_field_error(err, RK_ERR_INVALID, &o, "exec: apiVersion",
                                 "must be client.authentication.k8s.io/v1 or v1beta1");
    if (e->interactive_mode && strcmp(e->interactive_mode, "Never") != 0 &&
        strcmp(e->interactive_mode, "IfAvailable") != 0 &&
        strcmp(e->interactive_mode, "Always") != 0)
        return rk_kc_field_error(err, RK_ERR_INVALID, &o, "exec: interactiveMode",
                                 "must be Never, IfAvailable or Always");
    const rk_value *env = rk_map_get_cstr(m, "env");
    if (env && env->type != RK_NULL) {
        if (env->type != RK_SEQ)
            return rk_kc_field_error(err, RK_ERR_INVALID, &o, "exec: env",
                                     "must be a list of {name, value}");
        e->env = calloc(env->as.seq.len + 1, sizeof *e->env);
        if (!e->env)
            return rk_error_set(err, RK_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < env->as.seq.len; i++) {
            const rk_value *item = env->as.seq.items[i];
            const rk_value *name = rk_map_get_cstr(item, "name");
            const rk_value *value = rk_map_get_cstr(item, "value");
            if (!name || name->type != RK_STRING || !name->as.str.len ||
                (value && value->type != RK_STRING)) {
                char f[64];
                snprintf(f, sizeof f, "exec: env[%zu]", i);
                return rk_kc_field_error(err, RK_ERR_INVALID, &o, f,
                                         "needs a name and a string value");
            }
            const char *val = value ? value->as.str.ptr : "";
            size_t n = name->as.str.len + strlen(val) + 2;
            if (!(e->env[i] = malloc(n)))
                return rk_error_set(err, RK_ERR_NOMEM, "out of memory");
            snprintf(e->env[i], n, "%s=%s", name->as.str.ptr, val);
            e->nenv++;
        }
    }
    return RK_OK;
}

void rk_kc_free_exec(rk_exec_config *e)
{
    if (!e)
        return;
    free(e->api_version);
    free(e->command);
    for (size_t i = 0; i < e->nargs; i++)
        free(e->args[i]);
    free(e->args);
    for (size_t i = 0; i < e->nenv; i++)
        rk_kc_wipe_free_str(e->env[i]);
    free(e->env);
    free(e->install_hint);
    free(e->interactive_mode);
    free(e);
}

void rk_kc_clear_cred(rk_credential *c)
{
    rk_kc_wipe_free_str(c->token);
    rk_kc_wipe_free(c->cert_data, c->cert_len);
    rk_kc_wipe_free(c->key_data, c->key_len);
    memset(c, 0, sizeof *c);
}

/* ---- credentials ---------------------------------------------------------------------- */

int rk_kubeconfig_can_refresh(const rk_kubeconfig *kc)
{
    return kc->exec != NULL || (kc->token_file != NULL && kc->token == NULL);
}

static rk_status read_token_file(rk_kubeconfig *kc, rk_error *err)
{
    origin o = {kc->path, kc->in_cluster ? NULL : kc->context, "user", kc->user_name};
    if (kc->in_cluster)
        o.kind = NULL;
    rk_buf b = RK_BUF_INIT;
    rk_error e;
    if (rk_kc_read_file(kc->token_file, &b, &e) != RK_OK) {
        rk_buf_free(&b);
        return rk_kc_field_error(err, RK_ERR_IO, &o, "tokenFile", e.msg);
    }
    while (b.len &&
           (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' || b.data[b.len - 1] == ' '))
        b.data[--b.len] = '\0';
    if (!b.len) {
        rk_buf_free(&b);
        char what[600];
        snprintf(what, sizeof what, "%s is empty", kc->token_file);
        return rk_kc_field_error(err, RK_ERR_INVALID, &o, "tokenFile", what);
    }
    char what[600];
    snprintf(what, sizeof what, "the token in %s", kc->token_file);
    rk_status st = rk_kc_check_token(b.data, &o, "tokenFile", what, err);
    if (st != RK_OK) {
        rk_kc_wipe_free(b.data, b.len);
        return st;
    }
    rk_kc_clear_cred(&kc->cred);
    kc->cred.token = rk_buf_detach(&b, NULL);
    kc->cred_read_at = time(NULL);
    return kc->cred.token ? RK_OK : rk_error_set(err, RK_ERR_NOMEM, "out of memory");
}

static rk_status put_str(rk_value *map, const char *key, const char *s)
{
    return rk_map_append(map, key, strlen(key), rk_string_new_cstr(s));
}

/* KUBERNETES_EXEC_INFO: what the plugin may know about the request (an ExecCredential
 * with only the spec filled in). */
static rk_status exec_info(const rk_kubeconfig *kc, int interactive, rk_buf *out, rk_error *err)
{
    const rk_exec_config *e = kc->exec;
    rk_value *root = rk_map_new(), *spec = rk_map_new();
    rk_status st = root && spec ? RK_OK : RK_ERR_NOMEM;
    if (st == RK_OK && e->provide_cluster_info) {
        rk_value *cluster = rk_map_new();
        rk_buf ca = RK_BUF_INIT;
        if (kc->ca_data)
            rk_base64_encode(&ca, kc->ca_data, kc->ca_len);
        if (!cluster || ca.failed)
            st = RK_ERR_NOMEM;
        if (st == RK_OK)
            st = put_str(cluster, "server", kc->server);
        if (st == RK_OK && kc->tls_server_name)
            st = put_str(cluster, "tls-server-name", kc->tls_server_name);
        if (st == RK_OK && kc->insecure)
            st = rk_map_append(cluster, "insecure-skip-tls-verify", 24, rk_bool_new(1));
        if (st == RK_OK && kc->ca_data)
            st = put_str(cluster, "certificate-authority-data", ca.data ? ca.data : "");
        if (st == RK_OK && kc->proxy_url)
            st = put_str(cluster, "proxy-url", kc->proxy_url);
        rk_buf_free(&ca);
        if (st == RK_OK)
            st = rk_map_append(spec, "cluster", 7, cluster);
        else
            rk_value_free(cluster);
    }
    if (st == RK_OK)
        st = rk_map_append(spec, "interactive", 11, rk_bool_new(interactive));
    if (st == RK_OK && (st = put_str(root, "apiVersion", e->api_version)) == RK_OK &&
        (st = put_str(root, "kind", "ExecCredential")) == RK_OK) {
        st = rk_map_append(root, "spec", 4, spec);
        spec = NULL;
    }
    if (st == RK_OK)
        st = rk_json_encode(root, 0, out, err);
    else
        rk_error_set(err, st, "out of memory");
    rk_value_free(spec);
    rk_value_free(root);
    return st;
}

/* The user's environment, then the kubeconfig's env entries (which win), then
 * KUBERNETES_EXEC_INFO. */
static char **plugin_environment(const rk_exec_config *e, const char *info)
{
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **env = calloc(n + e->nenv + 2, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t nl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        int overridden = strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21) == 0;
        for (size_t j = 0; j < e->nenv && !overridden; j++)
            overridden = strncmp(e->env[j], environ[i], nl) == 0 && e->env[j][nl] == '=';
        if (!overridden)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < e->nenv; j++)
        env[k++] = e->env[j];
    env[k++] = (char *)info;
    env[k] = NULL;
    return env;
}

static int command_exists(const char *cmd)
{
    if (strchr(cmd, '/'))
        return access(cmd, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    char buf[4096];
    for (const char *p = path; *p;) {
        const char *c = strchr(p, ':');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, n ? p : ".", cmd);
        if (access(buf, X_OK) == 0)
            return 1;
        p += n + (c != NULL);
    }
    return 0;
}

static rk_status run_plugin(rk_kubeconfig *kc, rk_buf *out, rk_error *err)
{
    const rk_exec_config *e = kc->exec;
    origin o = {kc->path, kc->context, "user", kc->user_name};
    if (!command_exists(e->command)) {
        char what[1200];
        snprintf(what, sizeof what, "plugin \"%s\" not found%s%s", e->command,
                 e->install_hint ? "; " : " (is it installed and on PATH?)",
                 e->install_hint ? e->install_hint : "");
        size_t l = strlen(what);
        while (l && what[l - 1] == '\n')
            what[--l] = '\0';
        return rk_kc_field_error(err, RK_ERR_NOT_FOUND, &o, "exec", what);
    }
    int interactive = e->interactive_mode && strcmp(e->interactive_mode, "Never") != 0 && isatty(0);
    rk_buf info = RK_BUF_INIT;
    rk_buf_puts(&info, "KUBERNETES_EXEC_INFO=");
    rk_status st = exec_info(kc, interactive, &info, err);
    char **argv = calloc(e->nargs + 2, sizeof *argv);
    char **env = plugin_environment(e, info.data);
    int pipefd[2] = {-1, -1};
    pid_t pid = -1;
    posix_spawn_file_actions_t fa;
    int fa_ok = 0;
    if (st != RK_OK)
        goto out;
    if (!argv || !env || rk_buf_status(&info, err) != RK_OK) {
        st = rk_error_set(err, RK_ERR_NOMEM, "out of memory");
        goto out;
    }
    argv[0] = e->command;
    for (size_t i = 0; i < e->nargs; i++)
        argv[i + 1] = e->args[i];
    if (pipe(pipefd) != 0 || posix_spawn_file_actions_init(&fa) != 0) {
        st = rk_kc_field_error(err, RK_ERR_IO, &o, "exec", strerror(errno));
        goto out;
    }
    fa_ok = 1;
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    posix_spawn_file_actions_addclose(&fa, pipefd[1]);
    if (!interactive)
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    int rc = posix_spawnp(&pid, e->command, &fa, NULL, argv, env);
    close(pipefd[1]);
    pipefd[1] = -1;
    if (rc != 0) {
        char what[600];
        snprintf(what, sizeof what, "cannot run \"%s\": %s", e->command, strerror(rc));
        st = rk_kc_field_error(err, RK_ERR_IO, &o, "exec", what);
        pid = -1;
        goto out;
    }
    for (;;) {
        if (rk_http_interrupted()) {
            kill(pid, SIGTERM);
            st = rk_error_set(err, RK_ERR_IO, "interrupted");
            break;
        }
        struct pollfd pfd = {pipefd[0], POLLIN, 0};
        int pr = poll(&pfd, 1, 100);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        char chunk[4096];
        ssize_t got = read(pipefd[0], chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        rk_buf_append(out, chunk, (size_t)got);
        if (out->len > MAX_FILE_BYTES) {
            kill(pid, SIGTERM);
            st = rk_kc_field_error(err, RK_ERR_LIMIT, &o, "exec", "plugin wrote too much output");
            break;
        }
    }
out:
    if (pid > 0) {
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (st == RK_OK && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            char what[600];
            if (WIFEXITED(status))
                snprintf(what, sizeof what, "plugin \"%s\" exited with status %d", e->command,
                         WEXITSTATUS(status));
            else
                snprintf(what, sizeof what, "plugin \"%s\" was killed by signal %d", e->command,
                         WTERMSIG(status));
            st = rk_kc_field_error(err, RK_ERR_IO, &o, "exec", what);
        }
    }
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    free(argv);
    free(env);
    rk_buf_free(&info);
    return st;
}

static rk_status parse_exec_output(rk_kubeconfig *kc, const char *text, size_t len, rk_error *err)
{
    origin o = {kc->path, kc->context, "user", kc->user_name};
    rk_value *doc = NULL;
    rk_error perr;
    if (rk_json_decode(text, len, &doc, &perr) != RK_OK) {
        char what[700];
        snprintf(what, sizeof what,
                 "plugin \"%s\" printed something that is not an "
                 "ExecCredential: %s",
                 kc->exec->command, perr.msg);
        return rk_kc_field_error(err, RK_ERR_INVALID, &o, "exec", what);
    }
    rk_status st = RK_OK;
    char what[700];
    const rk_value *av = rk_map_get_cstr(doc, "apiVersion");
    const rk_value *kind = rk_map_get_cstr(doc, "kind");
    const rk_value *status = rk_map_get_cstr(doc, "status");
    if (!kind || kind->type != RK_STRING || strcmp(kind->as.str.ptr, "ExecCredential") != 0 ||
        !status || status->type != RK_MAP) {
        snprintf(what, sizeof what,
                 "plugin \"%s\" did not print an ExecCredential with a "
                 "status",
                 kc->exec->command);
        st = rk_kc_field_error(err, RK_ERR_INVALID, &o, "exec", what);
        goto out;
    }
    if (!av || av->type != RK_STRING || strcmp(av->as.str.ptr, kc->exec->api_version) != 0) {
        snprintf(what, sizeof what, "plugin \"%s\" answered with apiVersion %s, expected %s",
                 kc->exec->command, av && av->type == RK_STRING ? av->as.str.ptr : "(none)",
                 kc->exec->api_version);
        st = rk_kc_field_error(err, RK_ERR_INVALID, &o, "exec", what);
        goto out;
    }
    origin so = o;
    char *token = NULL, *cert = NULL, *key = NULL, *expiry = NULL;
    if ((st = rk_kc_get_string(status, "token", &so, &token, err)) ||
        (st = rk_kc_get_string(status, "clientCertificateData", &so, &cert, err)) ||
        (st = rk_kc_get_string(status, "clientKeyData", &so, &key, err)) ||
        (st = rk_kc_get_string(status, "expirationTimestamp", &so, &expiry, err))) {
        free(token);
        free(cert);
        rk_kc_wipe_free_str(key);
        free(expiry);
        goto out;
    }
    int64_t exp = 0;
    if (expiry && rk_rfc3339_parse(expiry, &exp, NULL) != RK_OK) {
        snprintf(what, sizeof what,
                 "plugin \"%s\": expirationTimestamp \"%s\" is not an "
                 "RFC 3339 time",
                 kc->exec->command, expiry);
        st = rk_kc_field_error(err, RK_ERR_INVALID, &o, "exec", what);
    } else if (token) {
        snprintf(what, sizeof what, "the token of plugin \"%s\"", kc->exec->command);
        st = rk_kc_check_token(token, &o, "exec", what, err);
    } else if (!(cert && key)) {
        snprintf(what, sizeof what,
                 "plugin \"%s\" gave neither a token nor a client "
                 "certificate and key",
                 kc->exec->command);
        st = rk_kc_field_error(err, RK_ERR_INVALID, &o, "exec", what);
    }
    free(expiry);
    if (st != RK_OK) {
        rk_kc_wipe_free_str(token);
        free(cert);
        rk_kc_wipe_free_str(key);
        goto out;
    }
    rk_kc_clear_cred(&kc->cred);
    kc->cred.token = token;
    kc->cred.cert_data = (unsigned char *)cert;
    kc->cred.cert_len = cert ? strlen(cert) : 0;
    kc->cred.key_data = (unsigned char *)key;
    kc->cred.key_len = key ? strlen(key) : 0;
    kc->cred_expiry = (time_t)exp;
out:
    rk_value_free(doc);
    return st;
}

rk_status rk_kubeconfig_credential(rk_kubeconfig *kc, int refresh, const rk_credential **out,
                                   int *changed, rk_error *err)
{
    *out = &kc->cred;
    if (changed)
        *changed = 0;
    time_t now = time(NULL);
    if (kc->exec) {
        if (kc->cred_valid && !refresh &&
            (kc->cred_expiry == 0 || now < kc->cred_expiry - EXPIRY_MARGIN_SECONDS))
            return RK_OK;
        rk_buf b = RK_BUF_INIT;
        rk_status st = run_plugin(kc, &b, err);
        if (st == RK_OK)
            st = parse_exec_output(kc, b.data ? b.data : "", b.len, err);
        rk_kc_wipe_free(b.data, b.len);
        if (st != RK_OK)
            return st;
        kc->cred_valid = 1;
        if (changed)
            *changed = 1;
        return RK_OK;
    }
    if (kc->token) {
        if (!kc->cred_valid) {
            if (!(kc->cred.token = strdup(kc->token)))
                return rk_error_set(err, RK_ERR_NOMEM, "out of memory");
            kc->cred_valid = 1;
            if (changed)
                *changed = 1;
        }
        return RK_OK;
    }
    if (kc->token_file) {
        if (kc->cred_valid && !refresh && now - kc->cred_read_at < TOKEN_FILE_REREAD_SECONDS)
            return RK_OK;
        char *old = kc->cred.token ? strdup(kc->cred.token) : NULL;
        rk_status st = read_token_file(kc, err);
        if (st == RK_OK) {
            kc->cred_valid = 1;
            if (changed)
                *changed = !old || strcmp(old, kc->cred.token) != 0;
        }
        rk_kc_wipe_free_str(old);
        return st;
    }
    kc->cred_valid = 1;
    return RK_OK;
}
