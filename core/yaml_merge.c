/* The loader's placing of nodes: map keys made text as kubectl makes them, duplicate
 * keys refused, merge keys (`<<`) applied, and the copies aliases expand to, within the
 * limits (see yaml_doc.h). */
#include "yaml_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAP_INDEX_THRESHOLD 8

rk_value *rk_yaml_copy_limited(loader *ld, const rk_value *v, size_t depth, rk_status *st)
{
    if (++ld->alias_nodes > ld->max_alias_nodes) {
        *st = rk_yaml_fail_at(ld, RK_ERR_LIMIT, ld->copy_line, ld->copy_col,
                              "aliases expand to more than %zu nodes; refusing to load what looks "
                              "like an alias bomb (raise max_alias_nodes if this is intended)",
                              ld->max_alias_nodes);
        return NULL;
    }
    if ((v->type == RK_SEQ || v->type == RK_MAP) && depth > (size_t)ld->max_depth) {
        *st = rk_yaml_fail_at(ld, RK_ERR_LIMIT, ld->copy_line, ld->copy_col,
                              "alias expands to nesting deeper than %d levels", ld->max_depth);
        return NULL;
    }
    rk_value *c;
    if (v->type == RK_SEQ) {
        c = rk_seq_new();
        if (c && v->as.seq.len) {
            c->as.seq.items = malloc(v->as.seq.len * sizeof *c->as.seq.items);
            if (!c->as.seq.items) {
                free(c);
                c = NULL;
            } else {
                c->as.seq.cap = v->as.seq.len;
            }
        }
        if (!c) {
            *st = rk_yaml_nomem(ld);
            return NULL;
        }
        for (size_t i = 0; i < v->as.seq.len; i++) {
            rk_value *item = rk_yaml_copy_limited(ld, v->as.seq.items[i], depth + 1, st);
            if (!item) {
                rk_value_free(c);
                return NULL;
            }
            c->as.seq.items[c->as.seq.len++] = item;
        }
    } else if (v->type == RK_MAP) {
        c = rk_map_new();
        if (c && v->as.map.len) {
            c->as.map.items = malloc(v->as.map.len * sizeof *c->as.map.items);
            if (!c->as.map.items) {
                free(c);
                c = NULL;
            } else {
                c->as.map.cap = v->as.map.len;
            }
        }
        if (!c) {
            *st = rk_yaml_nomem(ld);
            return NULL;
        }
        for (size_t i = 0; i < v->as.map.len; i++) {
            const rk_member *m = &v->as.map.items[i];
            rk_value *val = rk_yaml_copy_limited(ld, m->value, depth + 1, st);
            if (!val) {
                rk_value_free(c);
                return NULL;
            }
            char *k = malloc(m->key_len + 1);
            if (!k) {
                rk_value_free(val);
                rk_value_free(c);
                *st = rk_yaml_nomem(ld);
                return NULL;
            }
            memcpy(k, m->key, m->key_len + 1);
            rk_member *d = &c->as.map.items[c->as.map.len++];
            *d = *m;
            d->key = k;
            d->value = val;
        }
    } else {
        c = rk_value_copy(v);
        if (!c) {
            *st = rk_yaml_nomem(ld);
            return NULL;
        }
    }
    c->line = v->line;
    c->col = v->col;
    return c;
}

/* Nodes taken apart while loading: freed, unless an anchor may still point into them. */
static rk_status discard(loader *ld, rk_value *v, int anchored)
{
    if (anchored)
        return rk_yaml_grave_add(ld, v);
    rk_value_free(v);
    return RK_OK;
}

/* Map keys are strings; a scalar key that resolved to something else becomes the text
 * kubectl would use (sigs.k8s.io/yaml convertToJSONableObject). */
static rk_status key_text(loader *ld, rk_value *k, int anchored, char **out, size_t *len)
{
    char tmp[64];
    size_t n;
    switch (k->type) {
    case RK_STRING:
        if (!anchored) {
            *out = k->as.str.ptr;
            *len = k->as.str.len;
            k->as.str.ptr = NULL;
            k->as.str.len = 0;
            return RK_OK;
        }
        n = k->as.str.len;
        *out = malloc(n + 1);
        if (!*out)
            return rk_yaml_nomem(ld);
        memcpy(*out, k->as.str.ptr, n + 1);
        *len = n;
        return RK_OK;
    case RK_BOOL:
        n = (size_t)snprintf(tmp, sizeof tmp, "%s", k->as.boolean ? "true" : "false");
        break;
    case RK_INT: n = (size_t)snprintf(tmp, sizeof tmp, "%" PRId64, k->as.integer); break;
    case RK_FLOAT: n = rk_yaml_go_float32_key(k->as.number, tmp, sizeof tmp); break;
    case RK_NULL:
        return rk_yaml_fail_at(ld, RK_ERR_PARSE, k->line, k->col,
                               "map key is null, which Kubernetes cannot represent; quote it if "
                               "you mean the text");
    default:
        return rk_yaml_fail_at(ld, RK_ERR_PARSE, k->line, k->col,
                               "a %s cannot be used as a map key",
                               k->type == RK_SEQ ? "sequence" : "mapping");
    }
    *out = malloc(n + 1);
    if (!*out)
        return rk_yaml_nomem(ld);
    memcpy(*out, tmp, n + 1);
    *len = n;
    return RK_OK;
}

static long find_key(frame *fr, const char *key, size_t len)
{
    rk_value *map = fr->node;
    if (fr->index.cap) {
        size_t *idx = rk_keyset_find(&fr->index, key, len);
        return idx ? (long)*idx : -1;
    }
    for (size_t i = 0; i < map->as.map.len; i++) {
        const rk_member *m = &map->as.map.items[i];
        if (m->key_len == len && memcmp(m->key, key, len) == 0)
            return (long)i;
    }
    return -1;
}

static rk_status index_member(loader *ld, frame *fr, size_t idx)
{
    rk_value *map = fr->node;
    if (!fr->index.cap && map->as.map.len < MAP_INDEX_THRESHOLD)
        return RK_OK;
    if (!fr->index.cap) {
        for (size_t i = 0; i < map->as.map.len; i++)
            if (rk_keyset_add(&fr->index, map->as.map.items[i].key, map->as.map.items[i].key_len,
                              i) != 0)
                return rk_yaml_nomem(ld);
        return RK_OK;
    }
    const rk_member *m = &map->as.map.items[idx];
    if (rk_keyset_add(&fr->index, m->key, m->key_len, idx) != 0)
        return rk_yaml_nomem(ld);
    return RK_OK;
}

static int valid_merge_source(const rk_value *v)
{
    if (v->type == RK_MAP)
        return 1;
    if (v->type != RK_SEQ)
        return 0;
    for (size_t i = 0; i < v->as.seq.len; i++)
        if (v->as.seq.items[i]->type != RK_MAP)
            return 0;
    return 1;
}

/* Puts a finished node where it belongs: document root, sequence item, map key, map
 * value or merge source. Takes ownership of v in every case. */
rk_status rk_yaml_attach(loader *ld, rk_value *v, int anchored, int from_alias, int merge_key)
{
    if (ld->nframes == 0) {
        ld->root = v;
        return RK_OK;
    }
    frame *fr = &ld->frames[ld->nframes - 1];
    rk_value *parent = fr->node;
    if (parent->type == RK_SEQ) {
        if (rk_seq_push(parent, v) != RK_OK)
            return rk_yaml_nomem(ld);
        return RK_OK;
    }
    if (!fr->have_key) {
        uint32_t line = v->line, col = v->col;
        rk_status st = RK_OK;
        if (merge_key) {
            fr->key_is_merge = 1;
        } else {
            st = key_text(ld, v, anchored, &fr->key, &fr->key_len);
            if (st == RK_OK) {
                long prev = find_key(fr, fr->key, fr->key_len);
                if (prev >= 0) {
                    char text[64];
                    rk_yaml_describe_text(fr->key, fr->key_len, text, sizeof text);
                    st = rk_yaml_fail_at(ld, RK_ERR_PARSE, line, col,
                                         "mapping key \"%s\" already defined at line %" PRIu32,
                                         text, parent->as.map.items[prev].key_line);
                    free(fr->key);
                    fr->key = NULL;
                }
            }
        }
        rk_status st2 = discard(ld, v, anchored);
        if (st != RK_OK)
            return st;
        if (st2 != RK_OK)
            return st2;
        fr->have_key = 1;
        fr->key_line = line;
        fr->key_col = col;
        return RK_OK;
    }
    fr->have_key = 0;
    if (fr->key_is_merge) {
        fr->key_is_merge = 0;
        if (!valid_merge_source(v)) {
            rk_status st =
                rk_yaml_fail_at(ld, RK_ERR_PARSE, v->line, v->col,
                                "map merge requires map or sequence of maps as the value");
            rk_value_free(v);
            return st;
        }
        if (fr->nmerges == fr->merges_cap) {
            size_t cap = fr->merges_cap ? fr->merges_cap * 2 : 2;
            merge_src *p = realloc(fr->merges, cap * sizeof *p);
            if (!p) {
                rk_value_free(v);
                return rk_yaml_nomem(ld);
            }
            fr->merges = p;
            fr->merges_cap = cap;
        }
        fr->merges[fr->nmerges].line = fr->key_line;
        fr->merges[fr->nmerges].col = fr->key_col;
        fr->merges[fr->nmerges].src = v;
        fr->merges[fr->nmerges].at = parent->as.map.len;
        fr->merges[fr->nmerges].from_alias = from_alias && !anchored;
        fr->nmerges++;
        return RK_OK;
    }
    if (parent->as.map.len == parent->as.map.cap) {
        size_t cap = parent->as.map.cap ? parent->as.map.cap * 2 : 4;
        rk_member *p = realloc(parent->as.map.items, cap * sizeof *p);
        if (!p) {
            rk_value_free(v);
            return rk_yaml_nomem(ld);
        }
        parent->as.map.items = p;
        parent->as.map.cap = cap;
    }
    rk_member *m = &parent->as.map.items[parent->as.map.len++];
    m->key = fr->key;
    m->key_len = fr->key_len;
    m->key_line = fr->key_line;
    m->key_col = fr->key_col;
    m->value = v;
    fr->key = NULL;
    return index_member(ld, fr, parent->as.map.len - 1);
}

/* Merged keys go where the `<<` entry was; keys written in the map itself always win,
 * and among merge sources the earlier one wins (YAML merge key spec). */
rk_status rk_yaml_apply_merges(loader *ld, frame *fr)
{
    rk_value *map = fr->node;
    size_t total = map->as.map.len;
    for (size_t i = 0; i < fr->nmerges; i++) {
        const rk_value *src = fr->merges[i].src;
        if (src->type == RK_MAP)
            total += src->as.map.len;
        else
            for (size_t j = 0; j < src->as.seq.len; j++)
                total += src->as.seq.items[j]->as.map.len;
    }
    rk_member *out = malloc((total ? total : 1) * sizeof *out);
    if (!out)
        return rk_yaml_nomem(ld);
    rk_keyset seen = {0};
    rk_status st = RK_OK;
    for (size_t i = 0; i < map->as.map.len; i++)
        if (rk_keyset_add(&seen, map->as.map.items[i].key, map->as.map.items[i].key_len, 0))
            st = rk_yaml_nomem(ld);
    size_t olen = 0, mi = 0;
    for (size_t i = 0; st == RK_OK && i <= map->as.map.len; i++) {
        for (; st == RK_OK && mi < fr->nmerges && fr->merges[mi].at == i; mi++) {
            merge_src *ms = &fr->merges[mi];
            ld->copy_line = ms->line;
            ld->copy_col = ms->col;
            size_t nsrc = ms->src->type == RK_MAP ? 1 : ms->src->as.seq.len;
            for (size_t s = 0; st == RK_OK && s < nsrc; s++) {
                rk_value *sm = ms->src->type == RK_MAP ? ms->src : ms->src->as.seq.items[s];
                for (size_t k = 0; st == RK_OK && k < sm->as.map.len; k++) {
                    rk_member *m = &sm->as.map.items[k];
                    if (rk_keyset_find(&seen, m->key, m->key_len))
                        continue;
                    rk_member nm = *m;
                    if (ms->from_alias) {
                        m->key = NULL;
                        m->value = NULL;
                    } else {
                        nm.key = malloc(m->key_len + 1);
                        nm.value = nm.key ? rk_yaml_copy_limited(ld, m->value, ld->nframes + 1, &st)
                                          : NULL;
                        if (!nm.key && st == RK_OK)
                            st = rk_yaml_nomem(ld);
                        if (!nm.value) {
                            free(nm.key);
                            break;
                        }
                        memcpy(nm.key, m->key, m->key_len + 1);
                    }
                    out[olen++] = nm;
                    if (rk_keyset_add(&seen, nm.key, nm.key_len, 0) != 0)
                        st = rk_yaml_nomem(ld);
                }
            }
        }
        if (i < map->as.map.len)
            out[olen++] = map->as.map.items[i];
    }
    rk_keyset_free(&seen);
    if (st != RK_OK) {
        /* out shares members with map: free only what was merged in */
        for (size_t i = 0; i < olen; i++) {
            int own = 1;
            for (size_t j = 0; j < map->as.map.len; j++)
                if (map->as.map.items[j].key == out[i].key)
                    own = 0;
            if (own) {
                free(out[i].key);
                rk_value_free(out[i].value);
            }
        }
        free(out);
        return st;
    }
    free(map->as.map.items);
    map->as.map.items = out;
    map->as.map.len = olen;
    map->as.map.cap = total ? total : 1;
    for (size_t i = 0; i < fr->nmerges; i++) {
        merge_src *ms = &fr->merges[i];
        if (ms->from_alias) {
            /* moved-out members left NULL keys/values behind; free(NULL) is fine */
            rk_value_free(ms->src);
        } else if (rk_yaml_grave_add(ld, ms->src) != RK_OK) {
            st = rk_yaml_nomem(ld);
        }
        ms->src = NULL;
    }
    fr->nmerges = 0;
    return st;
}
