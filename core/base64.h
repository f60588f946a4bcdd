/* base64.h — RFC 4648 base64 with the standard alphabet: the one codec for kubeconfig
 * *-data fields, the cluster info handed to exec plugins, and YAML !!binary.
 *
 * One rule for reading, whoever the caller:
 *  - the alphabet is A-Z a-z 0-9 + / (the URL-safe - and _ are errors);
 *  - ASCII white space (space, tab, CR, LF) is skipped wherever it stands: YAML
 *    !!binary is wrapped over lines (and a folded scalar turns the breaks into spaces),
 *    and Go's base64.StdEncoding, with which Kubernetes reads kubeconfig *-data fields,
 *    skips CR and LF;
 *  - padding is required, as in Go's StdEncoding and PyYAML: the characters come in
 *    groups of four, the last one completed with "=" or "==", and nothing but white
 *    space may follow the padding;
 *  - the unused low bits of a padded group are ignored (StdEncoding does the same).
 * Writing pads and never wraps. */
#ifndef RK_BASE64_H
#define RK_BASE64_H

#include <stddef.h>

#include "buf.h"
#include "error.h"

/* Decodes len bytes of text into *out, a malloc'd buffer owned by the caller
 * (NUL-terminated, the NUL not counted in *out_len). RK_ERR_PARSE when the text breaks
 * the rule above: err says how and at which byte (1-based), never quoting the text,
 * which may be a private key. RK_ERR_NOMEM when memory ran out. *out is NULL on
 * failure. */
rk_status rk_base64_decode(const char *text, size_t len, unsigned char **out, size_t *out_len,
                           rk_error *err);

/* Appends the padded base64 of len bytes at data to out, on one line. */
void rk_base64_encode(rk_buf *out, const void *data, size_t len);

#endif
