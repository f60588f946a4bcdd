/* yaml_doc.h — YAML streams to rk_value trees and back. Plain scalars resolve exactly as
 * kubectl reads them (sigs.k8s.io/yaml on go-yaml v2, YAML 1.1 rules), with guards
 * against alias bombs and runaway nesting. Dumps are deterministic, kubectl-style.
 *
 * Loading (libyaml event API):
 *  - Untagged plain scalars: null (~ null Null NULL, empty), bool (y Y yes Yes YES on On
 *    ON true True TRUE and the n/no/off/false family), int (Go ParseInt base 0 after
 *    removing '_': decimal, 0x, 0o, leading-0 octal, 0b, optional sign), int64 overflow
 *    -> float, floats (decimal syntax, .inf/.nan families), everything else a string
 *    (timestamps too). Quoted and block (| >) scalars are strings.
 *  - Tags !!str !!int !!float !!bool !!null !!binary (base64, by the rule of base64.h)
 *    are honoured; a value that does not fit its tag is an error. Unknown tags leave
 *    the scalar a string.
 *  - Map keys are strings: a plain key that resolves to bool/int/float is turned into
 *    text the way kubectl does ("true", "16" for 0x10, "1.5"). Null, sequence and
 *    mapping keys are errors. A repeated key is an error (kubectl keeps the last one
 *    silently; a Rigelfile typo deserves a message).
 *  - Anchors, aliases and merge keys (`<<: *m`, `<<: [*a, *b]`): keys written in the
 *    mapping itself win over merged ones, earlier merge sources win over later ones,
 *    merged keys take the place of the `<<` entry in the key order. Aliases are
 *    expanded into copies; the copies count against max_alias_nodes.
 *  - Documents that are empty or null (`---` alone, `~`) are dropped, as kubectl does,
 *    unless keep_null_docs is set.
 *  - Errors read "FILE:LINE:COL: message" (1-based; "LINE:COL: message" without a
 *    file name).
 *
 * Dumping: block style, 2-space indentation, sequences at the same indentation as
 * their key (kubectl -o yaml), maps keep their key order, strings quoted exactly when
 * they would read back as something else, multi-line strings as `|` blocks, floats in
 * the shortest form that reads back to the same double (integral floats keep ".0"),
 * strings that are not valid UTF-8 as !!binary.
 *
 * (The module is yaml_doc, not yaml, so that this header never shadows libyaml's
 * <yaml.h> on an include path that contains core/.) */
#ifndef RK_YAML_DOC_H
#define RK_YAML_DOC_H

#include <regex.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "value.h"

#define RK_YAML_DEFAULT_MAX_ALIAS_NODES 1000000

/* PyYAML's YAML 1.1 scalar rules (yaml.SafeLoader's resolver), used only for Rigelfiles
 * because Rigel reads them with PyYAML. Differences from kubectl's: y/Y/n/N are strings;
 * `0o17` is a string and `017` octal; `1e3` is a string (a float needs a dot, and an
 * exponent a sign: 1.0e+3); `1:30` is 90 (sexagesimal); timestamps stay text. Keys
 * follow the same rules and are then turned into text as below. Compile the patterns
 * once with rk_pyyaml_resolver_init, free them with rk_pyyaml_resolver_free. */
#define RK_PYYAML_NPATTERNS 4
typedef struct {
    regex_t re[RK_PYYAML_NPATTERNS];
} rk_pyyaml_resolver;

rk_status rk_pyyaml_resolver_init(rk_pyyaml_resolver *res);
void rk_pyyaml_resolver_free(rk_pyyaml_resolver *res);

/* How an untagged plain scalar reads under PyYAML's rules. */
rk_type rk_yaml_pyyaml_type(const rk_pyyaml_resolver *res, const char *s, size_t len);

typedef struct {
    size_t max_alias_nodes; /* nodes aliases may create in one load; 0 = the default */
    int max_depth;          /* nesting limit; 0 = RK_MAX_DEPTH (values above it are capped) */
    int keep_null_docs;     /* keep empty/null documents instead of dropping them */
    const rk_pyyaml_resolver *pyyaml; /* NULL: kubectl's rules; else PyYAML's (Rigelfiles) */
} rk_yaml_opts;

/* Parses buf (len bytes, need not be NUL-terminated) into *docs_out, a new RK_SEQ of
 * documents owned by the caller. filename is only used in messages and may be NULL;
 * opts may be NULL. On failure *docs_out is NULL and err says what and where. */
rk_status rk_yaml_load(const char *buf, size_t len, const char *filename, const rk_yaml_opts *opts,
                       rk_value **docs_out, rk_error *err);

/* Appends one document to out (no "---" marker). Fails with RK_ERR_INVALID for
 * trees deeper than RK_MAX_DEPTH. */
rk_status rk_yaml_dump(const rk_value *doc, rk_buf *out, rk_error *err);

/* Appends every item of the RK_SEQ docs as a document, "---" lines between them.
 * An empty sequence appends nothing. */
rk_status rk_yaml_dump_all(const rk_value *docs, rk_buf *out, rk_error *err);

/* How an untagged plain scalar reads: the type kubectl would give it. For tests and
 * for callers that want to know whether a string needs quoting. */
rk_type rk_yaml_plain_type(const char *s, size_t len);

#endif
