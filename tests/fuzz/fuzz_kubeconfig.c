/* The kubeconfig parser, on bytes as they would be read from kubeconfig files: the same
 * steps as rk_kubeconfig_load (YAML load, first document of each non-empty file, merge
 * and context resolution) without the file system. Nothing here may run a command or
 * read a file: exec plugins are parsed and checked but never started (the credential
 * is only asked for when there is neither a plugin nor a token file), so the fuzzer
 * cannot execute what it generates.
 *
 * Input layout: up to FUZZ_KC_MAX_FILES files separated by lines "#file"; optional
 * leading comment lines "#context:NAME" and "#namespace:NAME" set --context and -n.
 * (Every line starting with '#' is a YAML comment, so seeds stay valid kubeconfigs.)
 * The whole input is also fed to rk_base64_decode and rk_rfc3339_parse, which read
 * kubeconfig fields and exec plugin output. */
#include <string.h>

#include "base64.h"
#include "fuzz.h"
#include "kubeconfig.h"
#include "rfc3339.h"
#include "value.h"
#include "yaml_doc.h"

#define FUZZ_KC_MAX_FILES 4

#ifdef RK_LIBFUZZER
#include <spawn.h>
/* Belt and braces: the libFuzzer binary replaces the calls that start exec plugins, so
 * a change that made parsing run a plugin would crash here instead of executing a
 * command the fuzzer wrote. */
int posix_spawn(pid_t *restrict pid, const char *restrict path,
                const posix_spawn_file_actions_t *restrict fa,
                const posix_spawnattr_t *restrict attr, char *const argv[restrict],
                char *const envp[restrict])
{
    (void)pid, (void)fa, (void)attr, (void)argv, (void)envp;
    fuzz_fail("the kubeconfig parser tried to run %s", path);
}

int posix_spawnp(pid_t *restrict pid, const char *restrict file,
                 const posix_spawn_file_actions_t *restrict fa,
                 const posix_spawnattr_t *restrict attr, char *const argv[restrict],
                 char *const envp[restrict])
{
    (void)pid, (void)fa, (void)attr, (void)argv, (void)envp;
    fuzz_fail("the kubeconfig parser tried to run %s", file);
}
#endif

static const char fuzz_kc_separator[] = "\n#file\n";

static const char *fuzz_kc_find(const char *p, size_t n, const char *needle, size_t nl)
{
    for (size_t i = 0; n >= nl && i <= n - nl; i++)
        if (p[i] == needle[0] && memcmp(p + i, needle, nl) == 0)
            return p + i;
    return NULL;
}

/* Copies the value of a leading "#KEY:VALUE" line into out (NUL-terminated, may be
 * empty). Returns the bytes consumed, 0 when the input does not start with it. */
static size_t fuzz_kc_header(const char *p, size_t n, const char *key, char *out, size_t size)
{
    size_t kl = strlen(key);
    if (n < kl || memcmp(p, key, kl) != 0)
        return 0;
    const char *nl = memchr(p, '\n', n);
    size_t end = nl ? (size_t)(nl - p) : n;
    size_t vl = end - kl < size - 1 ? end - kl : size - 1;
    memcpy(out, p + kl, vl);
    out[vl] = '\0';
    return nl ? end + 1 : end;
}

/* RFC 3339 as rk_rfc3339_parse documents it: YYYY-MM-DD[Tt ]hh:mm:ss[.frac](Z|z|±hh:mm).
 * An accepted string must have this shape (digits where digits belong). */
static int fuzz_rfc3339_shape(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t i = 0;
    for (; shape[i]; i++) {
        char c = s[i];
        if (shape[i] == 'd' ? !(c >= '0' && c <= '9')
                            : shape[i] == 'T' ? !(c == 'T' || c == 't' || c == ' ')
                                              : c != shape[i])
            return 0;
    }
    if (s[i] == '.') {
        for (i++; s[i] >= '0' && s[i] <= '9'; i++) {
        }
    }
    if (s[i] == 'Z' || s[i] == 'z')
        return s[i + 1] == '\0';
    if (s[i] != '+' && s[i] != '-')
        return 0;
    const char *o = s + i + 1;
    return o[0] >= '0' && o[0] <= '9' && o[1] >= '0' && o[1] <= '9' && o[2] == ':' &&
           o[3] >= '0' && o[3] <= '9' && o[4] >= '0' && o[4] <= '9' && o[5] == '\0';
}

static void fuzz_kc_helpers(const uint8_t *data, size_t size)
{
    size_t out_len = 0;
    unsigned char *bin = NULL;
    rk_error err;
    if (rk_base64_decode((const char *)data, size, &bin, &out_len, &err) == RK_OK) {
        if (out_len > size / 4 * 3)
            fuzz_fail("rk_base64_decode produced more bytes than it read");
        rk_buf again = RK_BUF_INIT;
        rk_base64_encode(&again, bin, out_len);
        unsigned char *back = NULL;
        size_t back_len = 0;
        if (rk_base64_decode(again.data ? again.data : "", again.len, &back, &back_len,
                             &err) != RK_OK ||
            back_len != out_len || memcmp(back, bin, out_len) != 0)
            fuzz_fail("rk_base64_encode wrote what rk_base64_decode does not read back");
        free(back);
        rk_buf_free(&again);
    } else if (bin) {
        fuzz_fail("rk_base64_decode failed but left a buffer");
    }
    free(bin);
    char text[128];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    int64_t secs;
    long nanos = -1;
    if (rk_rfc3339_parse(text, &secs, &nanos) == RK_OK &&
        (!fuzz_rfc3339_shape(text) || nanos < 0 || nanos > 999999999)) {
        fuzz_dump("time", text, strlen(text));
        fuzz_fail("rk_rfc3339_parse accepted a string that is not an RFC 3339 time");
    }
}

static void fuzz_kc_check(const rk_kubeconfig *kc)
{
    if (!kc->path || !kc->context || !kc->cluster_name || !kc->namespace || !kc->server)
        fuzz_fail("a resolved kubeconfig lacks path, context, cluster, namespace or server");
    if (strncmp(kc->server, "https://", 8) != 0 && strncmp(kc->server, "http://", 7) != 0)
        fuzz_fail("server \"%s\" was accepted", kc->server);
    if (kc->ca_file && kc->ca_data)
        fuzz_fail("both certificate-authority and certificate-authority-data were accepted");
    if (kc->exec && (!kc->exec->command || !kc->exec->api_version))
        fuzz_fail("an exec plugin without a command or apiVersion was accepted");
}

int fuzz_kubeconfig_one(const uint8_t *data, size_t size)
{
    fuzz_kc_helpers(data, size);

    const char *p = (const char *)data;
    size_t n = size, used;
    char context[256] = "", namespace[256] = "";
    rk_kubeconfig_request req = {0};
    if ((used = fuzz_kc_header(p, n, "#context:", context, sizeof context))) {
        req.context = context;
        p += used, n -= used;
    }
    if ((used = fuzz_kc_header(p, n, "#namespace:", namespace, sizeof namespace))) {
        req.namespace = namespace;
        p += used, n -= used;
    }

    static const char *const names[FUZZ_KC_MAX_FILES] = {
        "/home/u/.kube/config", "/home/u/.kube/b.yaml", "relative.yaml", "c"};
    rk_value *sets[FUZZ_KC_MAX_FILES] = {0};
    const rk_value *docs[FUZZ_KC_MAX_FILES];
    const char *paths[FUZZ_KC_MAX_FILES];
    size_t nfiles = 0, ndocs = 0;
    rk_error err;
    while (nfiles < FUZZ_KC_MAX_FILES) {
        const char *sep = NULL;
        size_t sl = sizeof fuzz_kc_separator - 1;
        if (nfiles + 1 < FUZZ_KC_MAX_FILES)
            sep = fuzz_kc_find(p, n, fuzz_kc_separator, sl);
        size_t flen = sep ? (size_t)(sep - p) : n;
        if (rk_yaml_load(flen ? p : "", flen, names[nfiles], NULL, &sets[nfiles], &err) !=
            RK_OK)
            goto out; /* rk_kubeconfig_load stops at the first file that does not load */
        if (rk_value_len(sets[nfiles]) > 0) {
            docs[ndocs] = rk_seq_get(sets[nfiles], 0);
            paths[ndocs++] = names[nfiles];
        }
        nfiles++;
        if (!sep)
            break;
        p = sep + sl, n -= flen + sl;
    }
    if (ndocs == 0)
        goto out;

    rk_kubeconfig *kc = NULL;
    rk_status st = rk_kubeconfig_resolve(docs, paths, ndocs, &req, &kc, &err);
    if (st != RK_OK) {
        if (kc)
            fuzz_fail("rk_kubeconfig_resolve failed but returned a config");
        if (!err.msg[0])
            fuzz_fail("rk_kubeconfig_resolve failed without a message");
        goto out;
    }
    fuzz_kc_check(kc);
    if (!kc->exec && !kc->token_file) {
        const rk_credential *cred = NULL;
        int changed = 0;
        if (rk_kubeconfig_credential(kc, 0, &cred, &changed, &err) != RK_OK)
            fuzz_fail("a static credential failed: %s", err.msg);
        if (kc->token && (!cred->token || strcmp(cred->token, kc->token) != 0))
            fuzz_fail("the credential is not the kubeconfig's token");
        if (rk_kubeconfig_credential(kc, 1, &cred, &changed, &err) != RK_OK || changed)
            fuzz_fail("refreshing a static credential failed or changed it");
        if (rk_kubeconfig_can_refresh(kc))
            fuzz_fail("a static credential claims it can refresh");
    }
    rk_kubeconfig_free(kc);
out:
    for (size_t i = 0; i < nfiles + 1 && i < FUZZ_KC_MAX_FILES; i++)
        rk_value_free(sets[i]);
    return 0;
}

RK_FUZZ_ENTRY(fuzz_kubeconfig_one)
