#include "kubeconfig_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base64.h"
#include "buf.h"
#include "yaml_doc.h"

rk_status rk_kc_field_error(rk_error *err, rk_status code, const origin *o, const char *field,
                            const char *what)
{
    char where[512] = "";
    size_t n = 0;
    if (o->context)
        n += (size_t)snprintf(where + n, sizeof where - n, "context \"%s\": ", o->context);
    if (o->kind && n < sizeof where)
        n += (size_t)snprintf(where + n, sizeof where - n, "%s \"%s\": ", o->kind, o->name);
    return rk_error_set(err, code, "%s: %s%s%s%s", o->file, n < sizeof where ? where : "",
                        field ? field : "", field ? ": " : "", what);
}

/* ---- small helpers ---------------------------------------------------------------- */

rk_status rk_kc_read_file(const char *path, rk_buf *out, rk_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return rk_error_set(err, errno == ENOENT ? RK_ERR_NOT_FOUND : RK_ERR_IO, "%s: %s", path,
                            strerror(errno));
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        rk_buf_append(out, chunk, n);
        if (out->len > MAX_FILE_BYTES) {
            fclose(f);
            return rk_error_set(err, RK_ERR_LIMIT, "%s: larger than %u bytes", path,
                                MAX_FILE_BYTES);
        }
    }
    int failed = ferror(f), e = errno;
    fclose(f);
    if (failed)
        return rk_error_set(err, RK_ERR_IO, "%s: %s", path,
                            e == EISDIR ? "is a directory, not a file" : strerror(e));
    return rk_buf_status(out, err);
}

void rk_kc_wipe_free(void *p, size_t len)
{
    if (p && len)
        memset(p, 0, len);
    free(p);
}

void rk_kc_wipe_free_str(char *s)
{
    rk_kc_wipe_free(s, s ? strlen(s) : 0);
}

/* ---- typed field access ------------------------------------------------------------ */

rk_status rk_kc_get_string(const rk_value *map, const char *key, const origin *o, char **out,
                           rk_error *err)
{
    *out = NULL;
    const rk_value *v = rk_map_get_cstr(map, key);
    if (!v || v->type == RK_NULL)
        return RK_OK;
    if (v->type != RK_STRING)
        return rk_kc_field_error(err, RK_ERR_INVALID, o, key,
                                 v->type == RK_MAP || v->type == RK_SEQ
                                     ? "must be a string"
                                     : "must be a quoted string");
    if (v->as.str.len == 0)
        return RK_OK;
    if (!(*out = strndup(v->as.str.ptr, v->as.str.len)))
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory");
    return RK_OK;
}

rk_status rk_kc_get_bool(const rk_value *map, const char *key, const origin *o, int *out,
                         rk_error *err)
{
    const rk_value *v = rk_map_get_cstr(map, key);
    *out = 0;
    if (!v || v->type == RK_NULL)
        return RK_OK;
    if (v->type != RK_BOOL)
        return rk_kc_field_error(err, RK_ERR_INVALID, o, key, "must be true or false");
    *out = v->as.boolean;
    return RK_OK;
}

static rk_status get_base64(const rk_value *map, const char *key, const origin *o,
                            unsigned char **out, size_t *len, rk_error *err)
{
    char *text;
    rk_status st = rk_kc_get_string(map, key, o, &text, err);
    if (st != RK_OK || !text)
        return st;
    rk_error why;
    st = rk_base64_decode(text, strlen(text), out, len, &why);
    rk_kc_wipe_free_str(text);
    if (st == RK_ERR_PARSE) {
        char what[sizeof why.msg + 32];
        snprintf(what, sizeof what, "not valid base64: %s", why.msg);
        return rk_kc_field_error(err, RK_ERR_INVALID, o, key, what);
    }
    if (st != RK_OK)
        return rk_error_set(err, st, "%s", why.msg);
    return RK_OK;
}

/* Relative file names in a kubeconfig are relative to the directory of that file. */
rk_status rk_kc_get_path(const rk_value *map, const char *key, const origin *o, char **out,
                         rk_error *err)
{
    rk_status st = rk_kc_get_string(map, key, o, out, err);
    if (st != RK_OK || !*out || (*out)[0] == '/')
        return st;
    const char *slash = strrchr(o->file, '/');
    if (!slash)
        return RK_OK;
    size_t dl = (size_t)(slash - o->file);
    size_t n = dl + 1 + strlen(*out) + 1;
    char *p = malloc(n);
    if (!p)
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory");
    snprintf(p, n, "%.*s/%s", (int)dl, o->file, *out);
    free(*out);
    *out = p;
    return RK_OK;
}

/* ---- merging ------------------------------------------------------------------------ */

typedef struct {
    const rk_value *body; /* the "cluster" / "user" / "context" map */
    const char *file;
} named;

/* Finds the entry `name` in the list `section` (clusters, users, contexts) of the first
 * document that defines it. Checks the shape of every list on the way. */
static rk_status find_named(const rk_value *const *docs, const char *const *paths, size_t n,
                            const char *section, const char *inner, const char *name, named *out,
                            rk_error *err)
{
    out->body = NULL;
    out->file = NULL;
    for (size_t i = 0; i < n; i++) {
        const rk_value *list = rk_map_get_cstr(docs[i], section);
        if (!list || list->type == RK_NULL)
            continue;
        if (list->type != RK_SEQ)
            return rk_error_set(err, RK_ERR_INVALID, "%s: %s: must be a list", paths[i], section);
        for (size_t j = 0; j < list->as.seq.len; j++) {
            const rk_value *item = list->as.seq.items[j];
            const rk_value *nm = rk_map_get_cstr(item, "name");
            if (!nm || nm->type != RK_STRING)
                return rk_error_set(err, RK_ERR_INVALID, "%s:%u:%u: %s[%zu]: needs a name",
                                    paths[i], item->line, item->col, section, j);
            if (strcmp(nm->as.str.ptr, name) != 0)
                continue;
            const rk_value *body = rk_map_get_cstr(item, inner);
            if (body && body->type != RK_MAP && body->type != RK_NULL)
                return rk_error_set(err, RK_ERR_INVALID, "%s: %s \"%s\": %s: must be a map",
                                    paths[i], inner, name, inner);
            out->body = body && body->type == RK_MAP ? body : NULL;
            out->file = paths[i];
            if (!out->body) {
                static rk_value empty = {.type = RK_MAP};
                out->body = &empty;
            }
            return RK_OK;
        }
    }
    return RK_OK;
}

static void list_names(const rk_value *const *docs, size_t n, const char *section, char *out,
                       size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const rk_value *list = rk_map_get_cstr(docs[i], section);
        if (!list || list->type != RK_SEQ)
            continue;
        for (size_t j = 0; j < list->as.seq.len && used + 1 < size; j++) {
            const rk_value *nm = rk_map_get_cstr(list->as.seq.items[j], "name");
            if (nm && nm->type == RK_STRING)
                used += (size_t)snprintf(out + used, size - used, "%s%s", used ? ", " : "",
                                         nm->as.str.ptr);
        }
    }
    if (used >= size && size > 4)
        memcpy(out + size - 4, "...", 4);
}

static rk_status parse_cluster(rk_kubeconfig *kc, const named *c, rk_error *err)
{
    origin o = {c->file, kc->context, "cluster", kc->cluster_name};
    const rk_value *m = c->body;
    rk_status st;
    if ((st = rk_kc_get_string(m, "server", &o, &kc->server, err)) ||
        (st = rk_kc_get_path(m, "certificate-authority", &o, &kc->ca_file, err)) ||
        (st = get_base64(m, "certificate-authority-data", &o, &kc->ca_data, &kc->ca_len, err)) ||
        (st = rk_kc_get_bool(m, "insecure-skip-tls-verify", &o, &kc->insecure, err)) ||
        (st = rk_kc_get_string(m, "tls-server-name", &o, &kc->tls_server_name, err)) ||
        (st = rk_kc_get_string(m, "proxy-url", &o, &kc->proxy_url, err)))
        return st;
    if (!kc->server)
        return rk_kc_field_error(err, RK_ERR_INVALID, &o, "server", "missing (the API server URL)");
    if (strncmp(kc->server, "https://", 8) != 0 && strncmp(kc->server, "http://", 7) != 0)
        return rk_kc_field_error(err, RK_ERR_INVALID, &o, "server",
                                 "must start with https:// (or http://)");
    if (kc->ca_file && kc->ca_data)
        return rk_kc_field_error(err, RK_ERR_INVALID, &o, "certificate-authority",
                                 "given together with certificate-authority-data; keep one");
    if (kc->insecure && (kc->ca_file || kc->ca_data))
        return rk_kc_field_error(err, RK_ERR_INVALID, &o, "insecure-skip-tls-verify",
                                 "cannot be combined with a certificate authority; remove one");
    if (kc->proxy_url && strncmp(kc->proxy_url, "http://", 7) != 0 &&
        strncmp(kc->proxy_url, "https://", 8) != 0 && strncmp(kc->proxy_url, "socks5://", 9) != 0)
        return rk_kc_field_error(err, RK_ERR_INVALID, &o, "proxy-url",
                                 "must be an http://, https:// or socks5:// URL");
    return RK_OK;
}

rk_status rk_kc_dup_into(char **dst, const char *src, rk_error *err)
{
    if (!(*dst = strdup(src)))
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory");
    return RK_OK;
}

/* A bearer token goes into an HTTP header line: a control character (a newline above
 * all) would end the header and let the token's text add headers of its own. The
 * message never shows the token. */
rk_status rk_kc_check_token(const char *token, const origin *o, const char *field,
                            const char *source, rk_error *err)
{
    for (const unsigned char *p = (const unsigned char *)token; p && *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            char what[400];
            snprintf(what, sizeof what,
                     "%s contains a control character (byte 0x%02X at "
                     "offset %zu); a bearer token is one line of printable characters",
                     source, *p, (size_t)(p - (const unsigned char *)token));
            return rk_kc_field_error(err, RK_ERR_INVALID, o, field, what);
        }
    }
    return RK_OK;
}

static rk_status parse_user(rk_kubeconfig *kc, const named *u, rk_error *err)
{
    origin o = {u->file, kc->context, "user", kc->user_name};
    const rk_value *m = u->body;
    rk_status st;
    if ((st = rk_kc_get_string(m, "token", &o, &kc->token, err)) ||
        (st = rk_kc_get_path(m, "tokenFile", &o, &kc->token_file, err)) ||
        (st = rk_kc_get_path(m, "client-certificate", &o, &kc->cert_file, err)) ||
        (st = rk_kc_get_path(m, "client-key", &o, &kc->key_file, err)) ||
        (st = get_base64(m, "client-certificate-data", &o, &kc->cert_data, &kc->cert_len, err)) ||
        (st = get_base64(m, "client-key-data", &o, &kc->key_data, &kc->key_len, err)) ||
        (st = rk_kc_get_string(m, "username", &o, &kc->username, err)) ||
        (st = rk_kc_get_string(m, "password", &o, &kc->password, err)) ||
        (st = rk_kc_check_token(kc->token, &o, "token", "the token", err)))
        return st;
    if (kc->cert_file && kc->cert_data)
        return rk_kc_field_error(err, RK_ERR_INVALID, &o, "client-certificate",
                                 "given together with client-certificate-data; keep one");
    if (kc->key_file && kc->key_data)
        return rk_kc_field_error(err, RK_ERR_INVALID, &o, "client-key",
                                 "given together with client-key-data; keep one");
    if ((kc->cert_file || kc->cert_data) && !(kc->key_file || kc->key_data))
        return rk_kc_field_error(err, RK_ERR_INVALID, &o, "client-key-data",
                                 "missing: a client certificate needs its key");
    if ((kc->key_file || kc->key_data) && !(kc->cert_file || kc->cert_data))
        return rk_kc_field_error(err, RK_ERR_INVALID, &o, "client-certificate-data",
                                 "missing: a client key needs its certificate");
    if (kc->password && !kc->username)
        return rk_kc_field_error(err, RK_ERR_INVALID, &o, "username", "missing beside password");
    if ((kc->token || kc->token_file) && kc->username)
        return rk_kc_field_error(err, RK_ERR_INVALID, &o, "username",
                                 "token and basic auth are both set; keep one");
    const rk_value *ap = rk_map_get_cstr(m, "auth-provider");
    if (ap && ap->type != RK_NULL)
        return rk_kc_field_error(err, RK_ERR_UNSUPPORTED, &o, "auth-provider",
                                 "legacy auth providers are not supported; use an exec plugin "
                                 "(e.g. gke-gcloud-auth-plugin, kubelogin)");
    const rk_value *ex = rk_map_get_cstr(m, "exec");
    if (ex && ex->type != RK_NULL) {
        if (ex->type != RK_MAP)
            return rk_kc_field_error(err, RK_ERR_INVALID, &o, "exec", "must be a map");
        if ((st = rk_kc_parse_exec(kc, ex, &o, err)) != RK_OK)
            return st;
    }
    return RK_OK;
}

static rk_status check_doc(const rk_value *doc, const char *path, rk_error *err)
{
    if (doc->type != RK_MAP)
        return rk_error_set(err, RK_ERR_INVALID,
                            "%s: not a kubeconfig (expected a map with "
                            "clusters, users and contexts)",
                            path);
    const rk_value *kind = rk_map_get_cstr(doc, "kind");
    if (kind && kind->type == RK_STRING && strcmp(kind->as.str.ptr, "Config") != 0)
        return rk_error_set(err, RK_ERR_INVALID, "%s: kind is \"%s\", expected \"Config\"", path,
                            kind->as.str.ptr);
    return RK_OK;
}

rk_status rk_kubeconfig_resolve(const rk_value *const *docs, const char *const *paths, size_t n,
                                const rk_kubeconfig_request *req, rk_kubeconfig **out,
                                rk_error *err)
{
    *out = NULL;
    rk_status st;
    for (size_t i = 0; i < n; i++)
        if ((st = check_doc(docs[i], paths[i], err)) != RK_OK)
            return st;
    char files[1024] = "";
    for (size_t i = 0, used = 0; i < n && used < sizeof files; i++)
        used +=
            (size_t)snprintf(files + used, sizeof files - used, "%s%s", i ? ", " : "", paths[i]);
    const char *context = req->context && *req->context ? req->context : NULL;
    const char *context_file = NULL;
    if (!context) {
        for (size_t i = 0; i < n && !context; i++) {
            const rk_value *cc = rk_map_get_cstr(docs[i], "current-context");
            if (cc && cc->type == RK_STRING && cc->as.str.len) {
                context = cc->as.str.ptr;
                context_file = paths[i];
            }
        }
    }
    char names[512];
    list_names(docs, n, "contexts", names, sizeof names);
    if (!context)
        return rk_error_set(err, RK_ERR_NOT_FOUND,
                            "%s: no current-context; pass --context NAME (contexts: %s)", files,
                            *names ? names : "none");
    named ctx;
    if ((st = find_named(docs, paths, n, "contexts", "context", context, &ctx, err)) != RK_OK)
        return st;
    if (!ctx.body)
        return rk_error_set(err, RK_ERR_NOT_FOUND, "%s: no context \"%s\"%s (contexts: %s)",
                            context_file ? context_file : files, context,
                            context_file ? " (the current-context)" : "", *names ? names : "none");
    rk_kubeconfig *kc = calloc(1, sizeof *kc);
    if (!kc)
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory");
    origin co = {ctx.file, context, NULL, NULL};
    char *ns = NULL;
    if (rk_kc_dup_into(&kc->path, ctx.file, err) || rk_kc_dup_into(&kc->context, context, err)) {
        st = RK_ERR_NOMEM;
        goto fail;
    }
    if ((st = rk_kc_get_string(ctx.body, "cluster", &co, &kc->cluster_name, err)) ||
        (st = rk_kc_get_string(ctx.body, "user", &co, &kc->user_name, err)) ||
        (st = rk_kc_get_string(ctx.body, "namespace", &co, &ns, err)))
        goto fail;
    if (!kc->cluster_name) {
        st = rk_kc_field_error(err, RK_ERR_INVALID, &co, "cluster", "missing");
        goto fail;
    }
    named cl;
    if ((st = find_named(docs, paths, n, "clusters", "cluster", kc->cluster_name, &cl, err)))
        goto fail;
    if (!cl.body) {
        list_names(docs, n, "clusters", names, sizeof names);
        char what[2048];
        snprintf(what, sizeof what, "\"%s\" is not defined in %s (clusters: %s)", kc->cluster_name,
                 files, *names ? names : "none");
        st = rk_kc_field_error(err, RK_ERR_NOT_FOUND, &co, "cluster", what);
        goto fail;
    }
    if ((st = parse_cluster(kc, &cl, err)) != RK_OK)
        goto fail;
    if (kc->user_name) {
        named us;
        if ((st = find_named(docs, paths, n, "users", "user", kc->user_name, &us, err)))
            goto fail;
        if (!us.body) {
            list_names(docs, n, "users", names, sizeof names);
            char what[2048];
            snprintf(what, sizeof what, "\"%s\" is not defined in %s (users: %s)", kc->user_name,
                     files, *names ? names : "none");
            st = rk_kc_field_error(err, RK_ERR_NOT_FOUND, &co, "user", what);
            goto fail;
        }
        if ((st = parse_user(kc, &us, err)) != RK_OK)
            goto fail;
    }
    const char *chosen = req->namespace && *req->namespace ? req->namespace : ns;
    kc->namespace_explicit = chosen != NULL;
    if (rk_kc_dup_into(&kc->namespace, chosen ? chosen : "default", err)) {
        st = RK_ERR_NOMEM;
        goto fail;
    }
    free(ns);
    *out = kc;
    return RK_OK;
fail:
    free(ns);
    rk_kubeconfig_free(kc);
    return st;
}

/* ---- finding the files -------------------------------------------------------------- */

static rk_status load_files(const char *const *paths, size_t n, int missing_ok,
                            const rk_kubeconfig_request *req, rk_kubeconfig **out, rk_error *err)
{
    rk_value **docs = calloc(n ? n : 1, sizeof *docs);
    rk_value **sets = calloc(n ? n : 1, sizeof *sets);
    const char **used = calloc(n ? n : 1, sizeof *used);
    rk_status st = RK_OK;
    size_t m = 0;
    if (!docs || !sets || !used) {
        st = rk_error_set(err, RK_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        rk_buf b = RK_BUF_INIT;
        st = rk_kc_read_file(paths[i], &b, err);
        if (st == RK_ERR_NOT_FOUND && missing_ok) {
            rk_buf_free(&b);
            st = RK_OK;
            continue;
        }
        if (st == RK_OK)
            st = rk_yaml_load(b.data ? b.data : "", b.len, paths[i], NULL, &sets[i], err);
        rk_buf_free(&b);
        if (st != RK_OK)
            goto out;
        if (rk_value_len(sets[i]) == 0)
            continue; /* an empty file defines nothing, as with kubectl */
        docs[m] = rk_seq_get(sets[i], 0);
        used[m++] = paths[i];
    }
    if (m == 0) {
        st = rk_error_set(err, RK_ERR_NOT_FOUND, "no kubeconfig found");
        goto out;
    }
    st = rk_kubeconfig_resolve((const rk_value *const *)docs, used, m, req, out, err);
out:
    for (size_t i = 0; sets && i < n; i++)
        rk_value_free(sets[i]);
    free(docs);
    free(sets);
    free(used);
    return st;
}

static const char *sa_dir(const char *root)
{
    if (root && *root)
        return root;
    const char *env = getenv("RIGELK8S_SERVICEACCOUNT_DIR");
    return env && *env ? env : RK_SERVICEACCOUNT_DIR;
}

rk_status rk_kubeconfig_in_cluster(const char *root, const char *namespace, rk_kubeconfig **out,
                                   rk_error *err)
{
    *out = NULL;
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host)
        return rk_error_set(err, RK_ERR_NOT_FOUND,
                            "not running in a cluster "
                            "(KUBERNETES_SERVICE_HOST is not set)");
    const char *dir = sa_dir(root);
    char path[4096];
    snprintf(path, sizeof path, "%s/token", dir);
    if (access(path, R_OK) != 0)
        return rk_error_set(err, RK_ERR_NOT_FOUND, "in-cluster: %s: %s", path, strerror(errno));
    rk_kubeconfig *kc = calloc(1, sizeof *kc);
    if (!kc)
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory");
    kc->in_cluster = 1;
    char server[512];
    snprintf(server, sizeof server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
             port && *port ? port : "443");
    char ca[4096];
    snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    rk_status st = RK_OK;
    if (rk_kc_dup_into(&kc->path, dir, err) || rk_kc_dup_into(&kc->context, "in-cluster", err) ||
        rk_kc_dup_into(&kc->server, server, err) || rk_kc_dup_into(&kc->token_file, path, err) ||
        (access(ca, R_OK) == 0 && rk_kc_dup_into(&kc->ca_file, ca, err))) {
        st = RK_ERR_NOMEM;
        goto fail;
    }
    if (namespace && *namespace) {
        kc->namespace_explicit = 1;
        st = rk_kc_dup_into(&kc->namespace, namespace, err);
    } else {
        char nsf[4096];
        snprintf(nsf, sizeof nsf, "%s/namespace", dir);
        rk_buf b = RK_BUF_INIT;
        if (rk_kc_read_file(nsf, &b, NULL) == RK_OK && b.len) {
            while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == ' '))
                b.data[--b.len] = '\0';
            kc->namespace_explicit = 1;
            kc->namespace = rk_buf_detach(&b, NULL);
        }
        rk_buf_free(&b);
        if (!kc->namespace)
            st = rk_kc_dup_into(&kc->namespace, "default", err);
    }
    if (st != RK_OK)
        goto fail;
    *out = kc;
    return RK_OK;
fail:
    rk_kubeconfig_free(kc);
    return st;
}

/* Splits KUBECONFIG (':'-separated; empty entries and repeats are skipped). */
static size_t split_paths(const char *list, char ***out)
{
    size_t n = 0, cap = 4;
    char **v = calloc(cap, sizeof *v);
    char *copy = strdup(list);
    if (!v || !copy) {
        free(v);
        free(copy);
        *out = NULL;
        return 0;
    }
    char *save = NULL;
    for (char *p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
        int seen = 0;
        for (size_t i = 0; i < n; i++)
            seen |= strcmp(v[i], p) == 0;
        if (seen)
            continue;
        if (n + 1 >= cap) {
            char **nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv)
                break;
            v = nv;
        }
        if (!(v[n] = strdup(p)))
            break;
        n++;
    }
    free(copy);
    *out = v;
    return n;
}

rk_status rk_kubeconfig_load(const rk_kubeconfig_request *req, rk_kubeconfig **out, rk_error *err)
{
    *out = NULL;
    if (req->kubeconfig && *req->kubeconfig) {
        const char *p = req->kubeconfig;
        rk_status st = load_files(&p, 1, 0, req, out, err);
        if (st == RK_ERR_NOT_FOUND && !*out && err && strstr(err->msg, "No such file"))
            rk_error_prefix(err, "kubeconfig ");
        return st;
    }
    const char *env = getenv("KUBECONFIG");
    char **list = NULL;
    size_t n = 0;
    char home_config[4096];
    if (env && *env) {
        n = split_paths(env, &list);
    } else {
        const char *home = getenv("HOME");
        snprintf(home_config, sizeof home_config, "%s/.kube/config", home ? home : "");
        list = calloc(2, sizeof *list);
        if (list && (list[0] = strdup(home_config)))
            n = 1;
    }
    rk_status st = load_files((const char *const *)list, n, 1, req, out, err);
    if (st == RK_ERR_NOT_FOUND && !*out &&
        strcmp(err ? err->msg : "", "no kubeconfig found") == 0) {
        st = rk_kubeconfig_in_cluster(NULL, req->namespace, out, NULL);
        if (st != RK_OK) {
            char looked[1024] = "";
            for (size_t i = 0, u = 0; i < n && u < sizeof looked; i++)
                u +=
                    (size_t)snprintf(looked + u, sizeof looked - u, "%s%s", i ? ", " : "", list[i]);
            st = rk_error_set(err, RK_ERR_NOT_FOUND,
                              "no kubeconfig found (looked at %s%s); pass --kubeconfig PATH, "
                              "set KUBECONFIG, or run inside a cluster",
                              env && *env ? "KUBECONFIG=" : "", *looked ? looked : env);
        }
    }
    for (size_t i = 0; list && i < n; i++)
        free(list[i]);
    free(list);
    return st;
}

void rk_kubeconfig_free(rk_kubeconfig *kc)
{
    if (!kc)
        return;
    free(kc->path);
    free(kc->context);
    free(kc->cluster_name);
    free(kc->user_name);
    free(kc->namespace);
    free(kc->server);
    free(kc->ca_file);
    free(kc->ca_data);
    free(kc->tls_server_name);
    free(kc->proxy_url);
    rk_kc_wipe_free_str(kc->token);
    free(kc->token_file);
    free(kc->cert_file);
    free(kc->key_file);
    free(kc->cert_data);
    rk_kc_wipe_free(kc->key_data, kc->key_len);
    free(kc->username);
    rk_kc_wipe_free_str(kc->password);
    rk_kc_free_exec(kc->exec);
    rk_kc_clear_cred(&kc->cred);
    free(kc);
}
