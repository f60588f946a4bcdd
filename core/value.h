/* value.h — the document tree shared by the YAML and JSON codecs and the Lua bridge:
 * null, bool, int64, double, byte strings, sequences, and maps with ordered string keys.
 *
 * Ownership (the only rules; every function below keeps them):
 *  - A tree is owned by whoever holds its root. rk_value_free(root) frees the root and
 *    everything beneath it. Every other node is owned by exactly one parent.
 *  - Functions that put a value into a container (rk_seq_push, rk_map_set,
 *    rk_map_append) take ownership of that value even when they fail: on failure it is
 *    freed, so callers never need an extra cleanup path.
 *  - Strings and keys are copied in; a tree never points into a caller's buffer.
 *    Stored strings are NUL-terminated (not counted in len) but may contain NUL.
 *  - Every pointer a getter returns is borrowed: it stays valid until the container
 *    holding it is modified or freed. rk_value_copy makes an independent tree.
 *  - Nodes carry the 1-based source line and column they were parsed from (0 when
 *    built in code). Map members carry the position of their key as well.
 *  - The struct fields are public for fast read access; modify trees only through
 *    the functions below so that lengths and capacities stay consistent. */
#ifndef RK_VALUE_H
#define RK_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef enum { RK_NULL, RK_BOOL, RK_INT, RK_FLOAT, RK_STRING, RK_SEQ, RK_MAP } rk_type;

typedef struct rk_value rk_value;

typedef struct {
    char *key;
    size_t key_len;
    uint32_t key_line, key_col;
    rk_value *value;
} rk_member;

struct rk_value {
    rk_type type;
    uint32_t line, col;
    union {
        int boolean;
        int64_t integer;
        double number;
        struct {
            char *ptr;
            size_t len;
        } str;
        struct {
            rk_value **items;
            size_t len, cap;
        } seq;
        struct {
            rk_member *items;
            size_t len, cap;
        } map;
    } as;
};

/* Constructors return a new root owned by the caller, or NULL when memory runs out. */
rk_value *rk_null_new(void);
rk_value *rk_bool_new(int b);
rk_value *rk_int_new(int64_t i);
rk_value *rk_float_new(double d);
rk_value *rk_string_new(const char *s, size_t len);
rk_value *rk_string_new_cstr(const char *s);
rk_value *rk_seq_new(void);
rk_value *rk_map_new(void);

void rk_value_free(rk_value *v);
/* Deep copy, positions included. NULL when memory runs out. */
rk_value *rk_value_copy(const rk_value *v);

/* Appends item (ownership taken, see above). RK_ERR_INVALID if seq is not a sequence. */
rk_status rk_seq_push(rk_value *seq, rk_value *item);
/* Sets key to value: replaces the value in place if the key exists (keeping the key's
 * position in the order), else appends. Ownership of value is taken. */
rk_status rk_map_set(rk_value *map, const char *key, size_t key_len, rk_value *value);
/* Appends without looking for an existing key: for codecs that already know the key
 * is new. Ownership of value is taken. */
rk_status rk_map_append(rk_value *map, const char *key, size_t key_len, rk_value *value);
/* Removes key and frees its value. Returns 1 if it was present, 0 if not. */
int rk_map_remove(rk_value *map, const char *key, size_t key_len);

/* Borrowed lookups; NULL when absent or when the container has another type.
 * Map lookup is a linear scan: fine for manifests, not meant for huge maps. */
rk_value *rk_map_get(const rk_value *map, const char *key, size_t key_len);
rk_value *rk_map_get_cstr(const rk_value *map, const char *key);
rk_value *rk_seq_get(const rk_value *seq, size_t index);
/* Number of items or members; 0 for scalars. */
size_t rk_value_len(const rk_value *v);

/* Structural equality: same types (1 and 1.0 differ), same strings, sequences equal
 * item by item, maps with the same key set and equal values in any order. Positions
 * are ignored. NaN equals NaN so that round-trip tests can compare trees. */
int rk_value_equal(const rk_value *a, const rk_value *b);

/* "null", "bool", "int", "float", "string", "seq", "map". */
const char *rk_type_name(rk_type t);

/* A string-keyed hash index (key -> size_t), for codecs that must find duplicate keys
 * in big maps without quadratic scans. Keys are borrowed: they must stay valid and
 * unchanged while in the set. A zeroed rk_keyset is an empty set. */
typedef struct rk_keyslot rk_keyslot;
typedef struct {
    rk_keyslot *slots;
    size_t cap, count;
} rk_keyset;

/* Pointer to the value stored for key, or NULL when absent. */
size_t *rk_keyset_find(const rk_keyset *ks, const char *key, size_t len);
/* Adds key (the caller knows it is absent). Returns 0, or -1 when memory runs out. */
int rk_keyset_add(rk_keyset *ks, const char *key, size_t len, size_t value);
void rk_keyset_free(rk_keyset *ks);

/* Deepest nesting the codecs and the Lua bridge accept. Recursive walks over trees
 * (free, copy, equal, dump) rely on trees never being deeper than this. */
#define RK_MAX_DEPTH 1000

#endif
