/* yaml_internal.h — what the parts of the YAML module share, and nothing else should
 * use (the API is yaml_doc.h): yaml_resolve.c reads plain scalars, yaml_doc.c turns
 * libyaml events into trees, yaml_merge.c places keys and values, expands aliases and
 * merge keys, yaml_dump.c writes trees back. */
#ifndef RK_YAML_INTERNAL_H
#define RK_YAML_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "yaml_doc.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

static inline int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* ---- scalar resolution (yaml_resolve.c) ------------------------------------------- */

typedef struct {
    rk_type type;
    int via_int; /* matched the integer rules (a uint64 beyond int64 is kept as a float) */
    int boolean;
    int64_t integer;
    double number;
} scalar_res;

/* How an untagged plain scalar reads under kubectl's rules, and under PyYAML's. */
void rk_yaml_resolve_plain(const char *s, size_t n, scalar_res *r);
void rk_yaml_resolve_pyyaml(const rk_pyyaml_resolver *res, const char *s, size_t n, scalar_res *r);
/* The text kubectl makes of a float map key (strconv.FormatFloat(f, 'g', -1, 32)). */
size_t rk_yaml_go_float32_key(double d, char *out, size_t size);

/* ---- the loader (yaml_doc.c, yaml_merge.c) ---------------------------------------- */

typedef struct {
    rk_value *src;
    size_t at;          /* member index where the merged keys go */
    int from_alias;     /* src is a fresh alias copy: its members can be moved, not copied */
    uint32_t line, col; /* of the << key */
} merge_src;

typedef struct {
    rk_value *node;
    char *anchor;
    /* mappings only */
    int have_key, key_is_merge;
    char *key;
    size_t key_len;
    uint32_t key_line, key_col;
    merge_src *merges;
    size_t nmerges, merges_cap;
    rk_keyset index; /* built once the map has MAP_INDEX_THRESHOLD members */
} frame;

typedef struct {
    const char *buf;
    size_t len;
    const char *filename;
    size_t max_alias_nodes, alias_nodes;
    uint32_t copy_line, copy_col; /* the alias or merge being expanded, for messages */
    int max_depth;
    int keep_null_docs;
    const rk_pyyaml_resolver *pyyaml; /* set: Rigelfile scalars (PyYAML's rules) */
    rk_error *err;

    frame *frames;
    size_t nframes, frames_cap;
    rk_keyset anchors; /* name (owned) -> (size_t)(uintptr_t) node */
    char **anchor_names;
    size_t nanchor_names, anchor_names_cap;
    rk_value **grave; /* consumed nodes an anchor may still point into */
    size_t ngrave, grave_cap;
    rk_value *root;
    rk_value *docs;
} loader;

/* "FILE:LINE:COL: message" into ld->err; returns code. */
rk_status rk_yaml_fail_at(loader *ld, rk_status code, uint32_t line, uint32_t col, const char *fmt,
                          ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
rk_status rk_yaml_nomem(loader *ld);
/* A key or value for messages: at most 60 bytes, control bytes shown as '?'. */
void rk_yaml_describe_text(const char *s, size_t n, char *out, size_t size);
/* Keeps v until the document ends: an anchor may still point into it. */
rk_status rk_yaml_grave_add(loader *ld, rk_value *v);

/* A copy of v for an alias or a merge, counted against max_alias_nodes and the depth
 * limit; NULL with *st set when a limit is hit or memory runs out. */
rk_value *rk_yaml_copy_limited(loader *ld, const rk_value *v, size_t depth, rk_status *st);
/* Puts a finished node where it belongs (see yaml_merge.c); takes ownership of v. */
rk_status rk_yaml_attach(loader *ld, rk_value *v, int anchored, int from_alias, int merge_key);
/* Puts the keys of the frame's `<<` sources into its map, once the map is complete. */
rk_status rk_yaml_apply_merges(loader *ld, frame *fr);

#endif
