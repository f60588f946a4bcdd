/* kubeconfig_internal.h — what kubeconfig.c (files, merging, contexts, fields) and
 * kubeconfig_cred.c (exec plugins and the token file) share, and nothing else should
 * use: the API is kubeconfig.h. */
#ifndef RK_KUBECONFIG_INTERNAL_H
#define RK_KUBECONFIG_INTERNAL_H

#include <stddef.h>

#include "buf.h"
#include "kubeconfig.h"

#define MAX_FILE_BYTES (16u * 1024u * 1024u)

/* Where a field lives, for messages: "FILE: context "c": user "u": FIELD". */
typedef struct {
    const char *file;
    const char *context;
    const char *kind; /* "cluster" | "user" | NULL */
    const char *name;
} origin;

/* "FILE: context "c": user "u": FIELD: what" into err; returns code. */
rk_status rk_kc_field_error(rk_error *err, rk_status code, const origin *o, const char *field,
                            const char *what);
/* Appends the file (at most MAX_FILE_BYTES) to out. */
rk_status rk_kc_read_file(const char *path, rk_buf *out, rk_error *err);
/* free() after overwriting, for secrets. */
void rk_kc_wipe_free(void *p, size_t len);
void rk_kc_wipe_free_str(char *s);
rk_status rk_kc_dup_into(char **dst, const char *src, rk_error *err);

/* Typed fields of a kubeconfig map: absent, null and "" leave *out NULL (0 for a bool);
 * a path is made relative to the directory of o->file. */
rk_status rk_kc_get_string(const rk_value *map, const char *key, const origin *o, char **out,
                           rk_error *err);
rk_status rk_kc_get_bool(const rk_value *map, const char *key, const origin *o, int *out,
                         rk_error *err);
rk_status rk_kc_get_path(const rk_value *map, const char *key, const origin *o, char **out,
                         rk_error *err);
/* Refuses a bearer token with a control character, naming source, never the token. */
rk_status rk_kc_check_token(const char *token, const origin *o, const char *field,
                            const char *source, rk_error *err);

/* kubeconfig_cred.c: the user's exec: block into kc->exec, and what frees it. */
rk_status rk_kc_parse_exec(rk_kubeconfig *kc, const rk_value *m, const origin *uo, rk_error *err);
void rk_kc_free_exec(rk_exec_config *e);
void rk_kc_clear_cred(rk_credential *c);

#endif
