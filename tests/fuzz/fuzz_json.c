/* The JSON decoder and encoder: any bytes either fail to decode with a message, or
 * decode to a tree that encodes (compact and indented) to text that decodes back to an
 * equal tree. Strings that are not valid UTF-8 are repaired by the encoder (U+FFFD), so
 * for them the property is that the second encoding equals the first. The tree must
 * also survive a YAML dump and load unchanged: every value JSON can hold, YAML can. */
#include <string.h>

#include "fuzz.h"
#include "json.h"
#include "value.h"
#include "yaml_doc.h"

/* Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF). */
static int fuzz_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* Whether the strings (keys_only: the map keys) of a tree are all valid UTF-8. */
static int fuzz_tree_utf8_valid(const rk_value *v, int keys_only)
{
    switch (v->type) {
    case RK_STRING:
        return keys_only || fuzz_utf8_valid((const unsigned char *)v->as.str.ptr, v->as.str.len);
    case RK_SEQ:
        for (size_t i = 0; i < v->as.seq.len; i++)
            if (!fuzz_tree_utf8_valid(v->as.seq.items[i], keys_only))
                return 0;
        return 1;
    case RK_MAP:
        for (size_t i = 0; i < v->as.map.len; i++)
            if (!fuzz_utf8_valid((const unsigned char *)v->as.map.items[i].key,
                                 v->as.map.items[i].key_len) ||
                !fuzz_tree_utf8_valid(v->as.map.items[i].value, keys_only))
                return 0;
        return 1;
    default:
        return 1;
    }
}

/* valid_utf8: the tree must come back equal. valid_keys: the encoding must be a fixed
 * point (two keys that differ only in invalid bytes are both repaired to the same text,
 * and the decoder then keeps one of them, as Go's encoder and decoder do). */
static void fuzz_json_round_trip(const uint8_t *data, size_t size, const rk_value *tree,
                                 int indent, int valid_utf8, int valid_keys)
{
    rk_error err;
    rk_buf first = RK_BUF_INIT;
    if (rk_json_encode(tree, indent, &first, &err) != RK_OK) {
        fuzz_dump("input", (const char *)data, size);
        fuzz_fail("a decoded tree does not encode (indent %d): %s", indent, err.msg);
    }
    rk_value *again = NULL;
    if (rk_json_decode(first.data, first.len, &again, &err) != RK_OK) {
        fuzz_dump("input", (const char *)data, size);
        fuzz_dump("encoded", first.data, first.len);
        fuzz_fail("the encoding does not decode (indent %d): %s", indent, err.msg);
    }
    if (valid_utf8 && !rk_value_equal(tree, again)) {
        fuzz_dump("input", (const char *)data, size);
        fuzz_dump("encoded", first.data, first.len);
        fuzz_fail("decode -> encode -> decode changed the tree (indent %d)", indent);
    }
    rk_buf second = RK_BUF_INIT;
    if (rk_json_encode(again, indent, &second, &err) != RK_OK)
        fuzz_fail("the re-decoded tree does not encode: %s", err.msg);
    if (valid_keys &&
        (first.len != second.len || memcmp(first.data, second.data, first.len) != 0)) {
        fuzz_dump("encoded", first.data, first.len);
        fuzz_dump("encoded again", second.data, second.len);
        fuzz_fail("encoding is not a fixed point (indent %d)", indent);
    }
    rk_buf_free(&second);
    rk_value_free(again);
    rk_buf_free(&first);
}

static void fuzz_json_through_yaml(const uint8_t *data, size_t size, const rk_value *tree)
{
    rk_error err;
    rk_buf y = RK_BUF_INIT;
    if (rk_yaml_dump(tree, &y, &err) != RK_OK) {
        fuzz_dump("input", (const char *)data, size);
        fuzz_fail("a decoded JSON tree does not dump as YAML: %s", err.msg);
    }
    rk_yaml_opts opts = {.keep_null_docs = 1};
    rk_value *docs = NULL;
    if (rk_yaml_load(y.data ? y.data : "", y.len, "dump.yaml", &opts, &docs, &err) != RK_OK) {
        fuzz_dump("input", (const char *)data, size);
        fuzz_dump("yaml", y.data, y.len);
        fuzz_fail("the YAML dump of a JSON tree does not load: %s", err.msg);
    }
    if (rk_value_len(docs) != 1 || !rk_value_equal(tree, rk_seq_get(docs, 0))) {
        fuzz_dump("input", (const char *)data, size);
        fuzz_dump("yaml", y.data, y.len);
        fuzz_fail("JSON -> YAML dump -> YAML load changed the tree");
    }
    rk_value_free(docs);
    rk_buf_free(&y);
}

int fuzz_json_one(const uint8_t *data, size_t size)
{
    rk_value *tree = NULL;
    rk_error err;
    if (rk_json_decode((const char *)data, size, &tree, &err) != RK_OK) {
        if (tree)
            fuzz_fail("rk_json_decode failed but returned a tree");
        if (!err.msg[0])
            fuzz_fail("rk_json_decode failed without a message");
        return 0;
    }
    int valid = fuzz_tree_utf8_valid(tree, 0);
    int valid_keys = valid || fuzz_tree_utf8_valid(tree, 1);
    fuzz_json_round_trip(data, size, tree, 0, valid, valid_keys);
    fuzz_json_round_trip(data, size, tree, 2, valid, valid_keys);
    fuzz_json_through_yaml(data, size, tree);
    rk_value_free(tree);
    return 0;
}

RK_FUZZ_ENTRY(fuzz_json_one)
