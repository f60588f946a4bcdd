/* The YAML loader and dumper: any bytes either fail to load with a message, or load to
 * documents that dump without error, and the dump loads back to an equal tree and dumps
 * to the same text (load -> dump -> load -> dump is a fixed point). */
#include <string.h>

#include "fuzz.h"
#include "value.h"
#include "yaml_doc.h"

/* Alias bombs are refused by a count; a lower limit than the default finds the same
 * bugs without spending seconds per input on legitimate expansion. */
#define FUZZ_YAML_MAX_ALIAS_NODES 20000

int fuzz_yaml_one(const uint8_t *data, size_t size)
{
    rk_yaml_opts opts = {.max_alias_nodes = FUZZ_YAML_MAX_ALIAS_NODES,
                         .keep_null_docs = (int)(size & 1)};
    rk_value *docs = NULL;
    rk_error err;
    if (rk_yaml_load((const char *)data, size, "fuzz.yaml", &opts, &docs, &err) != RK_OK) {
        if (docs)
            fuzz_fail("rk_yaml_load failed but returned documents");
        if (!err.msg[0])
            fuzz_fail("rk_yaml_load failed without a message");
        return 0;
    }
    if (!docs || docs->type != RK_SEQ)
        fuzz_fail("rk_yaml_load did not return a sequence of documents");

    rk_buf first = RK_BUF_INIT;
    if (rk_yaml_dump_all(docs, &first, &err) != RK_OK) {
        fuzz_dump("input", (const char *)data, size);
        fuzz_fail("a loaded tree does not dump: %s", err.msg);
    }
    rk_value *again = NULL;
    if (rk_yaml_load(first.data ? first.data : "", first.len, "dump.yaml", &opts, &again,
                     &err) != RK_OK) {
        fuzz_dump("input", (const char *)data, size);
        fuzz_dump("dump", first.data, first.len);
        fuzz_fail("the dump does not load back: %s", err.msg);
    }
    if (!rk_value_equal(docs, again)) {
        fuzz_dump("input", (const char *)data, size);
        fuzz_dump("dump", first.data, first.len);
        fuzz_fail("load -> dump -> load changed the tree");
    }
    rk_buf second = RK_BUF_INIT;
    if (rk_yaml_dump_all(again, &second, &err) != RK_OK)
        fuzz_fail("the reloaded tree does not dump: %s", err.msg);
    if (first.len != second.len || (first.len && memcmp(first.data, second.data, first.len))) {
        fuzz_dump("dump", first.data, first.len);
        fuzz_dump("dump of the reloaded dump", second.data, second.len);
        fuzz_fail("dump is not a fixed point");
    }
    /* A copy is equal to its original, and each document dumps on its own. */
    rk_value *copy = rk_value_copy(docs);
    if (copy && !rk_value_equal(copy, docs))
        fuzz_fail("rk_value_copy made an unequal tree");
    for (size_t i = 0; i < docs->as.seq.len; i++) {
        rk_buf one = RK_BUF_INIT;
        if (rk_yaml_dump(docs->as.seq.items[i], &one, &err) != RK_OK)
            fuzz_fail("document %zu does not dump alone: %s", i, err.msg);
        rk_buf_free(&one);
    }
    rk_value_free(copy);
    rk_buf_free(&second);
    rk_value_free(again);
    rk_buf_free(&first);
    rk_value_free(docs);
    return 0;
}

RK_FUZZ_ENTRY(fuzz_yaml_one)
