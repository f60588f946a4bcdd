#include "value.h"

#include <stdlib.h>
#include <string.h>

static rk_value *node_new(rk_type type)
{
    rk_value *v = calloc(1, sizeof *v);
    if (v)
        v->type = type;
    return v;
}

rk_value *rk_null_new(void)
{
    return node_new(RK_NULL);
}

rk_value *rk_bool_new(int b)
{
    rk_value *v = node_new(RK_BOOL);
    if (v)
        v->as.boolean = b != 0;
    return v;
}

rk_value *rk_int_new(int64_t i)
{
    rk_value *v = node_new(RK_INT);
    if (v)
        v->as.integer = i;
    return v;
}

rk_value *rk_float_new(double d)
{
    rk_value *v = node_new(RK_FLOAT);
    if (v)
        v->as.number = d;
    return v;
}

rk_value *rk_string_new(const char *s, size_t len)
{
    if (len == (size_t)-1)
        return NULL;
    rk_value *v = node_new(RK_STRING);
    if (!v)
        return NULL;
    v->as.str.ptr = malloc(len + 1);
    if (!v->as.str.ptr) {
        free(v);
        return NULL;
    }
    if (len)
        memcpy(v->as.str.ptr, s, len);
    v->as.str.ptr[len] = '\0';
    v->as.str.len = len;
    return v;
}

rk_value *rk_string_new_cstr(const char *s)
{
    return rk_string_new(s, strlen(s));
}

rk_value *rk_seq_new(void)
{
    return node_new(RK_SEQ);
}

rk_value *rk_map_new(void)
{
    return node_new(RK_MAP);
}

void rk_value_free(rk_value *v)
{
    if (!v)
        return;
    switch (v->type) {
    case RK_STRING: free(v->as.str.ptr); break;
    case RK_SEQ:
        for (size_t i = 0; i < v->as.seq.len; i++)
            rk_value_free(v->as.seq.items[i]);
        free(v->as.seq.items);
        break;
    case RK_MAP:
        for (size_t i = 0; i < v->as.map.len; i++) {
            free(v->as.map.items[i].key);
            rk_value_free(v->as.map.items[i].value);
        }
        free(v->as.map.items);
        break;
    default: break;
    }
    free(v);
}

static char *dup_bytes(const char *s, size_t len)
{
    if (len == (size_t)-1)
        return NULL;
    char *p = malloc(len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

rk_value *rk_value_copy(const rk_value *v)
{
    if (!v)
        return NULL;
    rk_value *c;
    switch (v->type) {
    case RK_STRING: c = rk_string_new(v->as.str.ptr, v->as.str.len); break;
    case RK_SEQ:
        c = rk_seq_new();
        if (!c)
            return NULL;
        if (v->as.seq.len) {
            c->as.seq.items = malloc(v->as.seq.len * sizeof *c->as.seq.items);
            if (!c->as.seq.items) {
                free(c);
                return NULL;
            }
            c->as.seq.cap = v->as.seq.len;
            for (size_t i = 0; i < v->as.seq.len; i++) {
                rk_value *item = rk_value_copy(v->as.seq.items[i]);
                if (!item) {
                    rk_value_free(c);
                    return NULL;
                }
                c->as.seq.items[c->as.seq.len++] = item;
            }
        }
        break;
    case RK_MAP:
        c = rk_map_new();
        if (!c)
            return NULL;
        if (v->as.map.len) {
            c->as.map.items = malloc(v->as.map.len * sizeof *c->as.map.items);
            if (!c->as.map.items) {
                free(c);
                return NULL;
            }
            c->as.map.cap = v->as.map.len;
            for (size_t i = 0; i < v->as.map.len; i++) {
                const rk_member *m = &v->as.map.items[i];
                rk_member *d = &c->as.map.items[c->as.map.len];
                d->key = dup_bytes(m->key, m->key_len);
                d->value = d->key ? rk_value_copy(m->value) : NULL;
                if (!d->value) {
                    free(d->key);
                    rk_value_free(c);
                    return NULL;
                }
                d->key_len = m->key_len;
                d->key_line = m->key_line;
                d->key_col = m->key_col;
                c->as.map.len++;
            }
        }
        break;
    default:
        c = node_new(v->type);
        if (c)
            c->as = v->as;
        break;
    }
    if (c) {
        c->line = v->line;
        c->col = v->col;
    }
    return c;
}

rk_status rk_seq_push(rk_value *seq, rk_value *item)
{
    if (!item)
        return RK_ERR_NOMEM;
    if (!seq || seq->type != RK_SEQ) {
        rk_value_free(item);
        return RK_ERR_INVALID;
    }
    if (seq->as.seq.len == seq->as.seq.cap) {
        size_t cap = seq->as.seq.cap ? seq->as.seq.cap * 2 : 4;
        rk_value **p = realloc(seq->as.seq.items, cap * sizeof *p);
        if (!p) {
            rk_value_free(item);
            return RK_ERR_NOMEM;
        }
        seq->as.seq.items = p;
        seq->as.seq.cap = cap;
    }
    seq->as.seq.items[seq->as.seq.len++] = item;
    return RK_OK;
}

rk_status rk_map_append(rk_value *map, const char *key, size_t key_len, rk_value *value)
{
    if (!value)
        return RK_ERR_NOMEM;
    if (!map || map->type != RK_MAP) {
        rk_value_free(value);
        return RK_ERR_INVALID;
    }
    if (map->as.map.len == map->as.map.cap) {
        size_t cap = map->as.map.cap ? map->as.map.cap * 2 : 4;
        rk_member *p = realloc(map->as.map.items, cap * sizeof *p);
        if (!p) {
            rk_value_free(value);
            return RK_ERR_NOMEM;
        }
        map->as.map.items = p;
        map->as.map.cap = cap;
    }
    char *k = dup_bytes(key, key_len);
    if (!k) {
        rk_value_free(value);
        return RK_ERR_NOMEM;
    }
    rk_member *m = &map->as.map.items[map->as.map.len++];
    m->key = k;
    m->key_len = key_len;
    m->key_line = 0;
    m->key_col = 0;
    m->value = value;
    return RK_OK;
}

static rk_member *find_member(const rk_value *map, const char *key, size_t key_len)
{
    if (!map || map->type != RK_MAP)
        return NULL;
    for (size_t i = 0; i < map->as.map.len; i++) {
        rk_member *m = &map->as.map.items[i];
        if (m->key_len == key_len && memcmp(m->key, key, key_len) == 0)
            return m;
    }
    return NULL;
}

rk_status rk_map_set(rk_value *map, const char *key, size_t key_len, rk_value *value)
{
    if (!value)
        return RK_ERR_NOMEM;
    rk_member *m = find_member(map, key, key_len);
    if (m) {
        rk_value_free(m->value);
        m->value = value;
        return RK_OK;
    }
    return rk_map_append(map, key, key_len, value);
}

int rk_map_remove(rk_value *map, const char *key, size_t key_len)
{
    rk_member *m = find_member(map, key, key_len);
    if (!m)
        return 0;
    free(m->key);
    rk_value_free(m->value);
    size_t i = (size_t)(m - map->as.map.items);
    memmove(m, m + 1, (map->as.map.len - i - 1) * sizeof *m);
    map->as.map.len--;
    return 1;
}

rk_value *rk_map_get(const rk_value *map, const char *key, size_t key_len)
{
    rk_member *m = find_member(map, key, key_len);
    return m ? m->value : NULL;
}

rk_value *rk_map_get_cstr(const rk_value *map, const char *key)
{
    return rk_map_get(map, key, strlen(key));
}

rk_value *rk_seq_get(const rk_value *seq, size_t index)
{
    if (!seq || seq->type != RK_SEQ || index >= seq->as.seq.len)
        return NULL;
    return seq->as.seq.items[index];
}

size_t rk_value_len(const rk_value *v)
{
    if (!v)
        return 0;
    if (v->type == RK_SEQ)
        return v->as.seq.len;
    if (v->type == RK_MAP)
        return v->as.map.len;
    return 0;
}

int rk_value_equal(const rk_value *a, const rk_value *b)
{
    if (a == b)
        return 1;
    if (!a || !b || a->type != b->type)
        return 0;
    switch (a->type) {
    case RK_NULL: return 1;
    case RK_BOOL: return a->as.boolean == b->as.boolean;
    case RK_INT: return a->as.integer == b->as.integer;
    case RK_FLOAT:
        if (a->as.number != a->as.number)
            return b->as.number != b->as.number;
        return a->as.number == b->as.number;
    case RK_STRING:
        return a->as.str.len == b->as.str.len &&
               memcmp(a->as.str.ptr, b->as.str.ptr, a->as.str.len) == 0;
    case RK_SEQ:
        if (a->as.seq.len != b->as.seq.len)
            return 0;
        for (size_t i = 0; i < a->as.seq.len; i++)
            if (!rk_value_equal(a->as.seq.items[i], b->as.seq.items[i]))
                return 0;
        return 1;
    case RK_MAP:
        if (a->as.map.len != b->as.map.len)
            return 0;
        for (size_t i = 0; i < a->as.map.len; i++) {
            const rk_member *m = &a->as.map.items[i];
            const rk_member *o = (i < b->as.map.len && b->as.map.items[i].key_len == m->key_len &&
                                  memcmp(b->as.map.items[i].key, m->key, m->key_len) == 0)
                                     ? &b->as.map.items[i]
                                     : find_member(b, m->key, m->key_len);
            if (!o || !rk_value_equal(m->value, o->value))
                return 0;
        }
        return 1;
    }
    return 0;
}

const char *rk_type_name(rk_type t)
{
    switch (t) {
    case RK_NULL: return "null";
    case RK_BOOL: return "bool";
    case RK_INT: return "int";
    case RK_FLOAT: return "float";
    case RK_STRING: return "string";
    case RK_SEQ: return "seq";
    case RK_MAP: return "map";
    }
    return "unknown";
}

struct rk_keyslot {
    const char *key; /* NULL = empty slot */
    size_t len;
    size_t value;
};

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

size_t *rk_keyset_find(const rk_keyset *ks, const char *key, size_t len)
{
    if (!ks->cap)
        return NULL;
    size_t mask = ks->cap - 1;
    for (size_t i = (size_t)hash_bytes(key, len) & mask;; i = (i + 1) & mask) {
        rk_keyslot *sl = &ks->slots[i];
        if (!sl->key)
            return NULL;
        if (sl->len == len && memcmp(sl->key, key, len) == 0)
            return &sl->value;
    }
}

int rk_keyset_add(rk_keyset *ks, const char *key, size_t len, size_t value)
{
    if ((ks->count + 1) * 2 > ks->cap) {
        size_t cap = ks->cap ? ks->cap * 2 : 16;
        rk_keyslot *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return -1;
        for (size_t i = 0; i < ks->cap; i++) {
            rk_keyslot *old = &ks->slots[i];
            if (!old->key)
                continue;
            size_t j = (size_t)hash_bytes(old->key, old->len) & (cap - 1);
            while (slots[j].key)
                j = (j + 1) & (cap - 1);
            slots[j] = *old;
        }
        free(ks->slots);
        ks->slots = slots;
        ks->cap = cap;
    }
    size_t mask = ks->cap - 1;
    size_t i = (size_t)hash_bytes(key, len) & mask;
    while (ks->slots[i].key)
        i = (i + 1) & mask;
    ks->slots[i].key = key;
    ks->slots[i].len = len;
    ks->slots[i].value = value;
    ks->count++;
    return 0;
}

void rk_keyset_free(rk_keyset *ks)
{
    free(ks->slots);
    ks->slots = NULL;
    ks->cap = ks->count = 0;
}
