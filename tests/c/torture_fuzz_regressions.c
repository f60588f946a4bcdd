/* Replays every input the fuzzers once failed on (tests/fuzz/regressions/<target>/) and
 * the seed corpora (tests/fuzz/corpus/<target>/) through the fuzz targets themselves, in
 * the ordinary gcc build: a crash found by `make fuzz` stays fixed in `make test`.
 * The file being replayed is printed before it runs, so a failure names its input. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The targets, compiled here exactly as they are into the libFuzzer binaries (which
 * only add LLVMFuzzerTestOneInput). A broken property fails the test being run. */
#define RK_FUZZ_FAIL() fail()
#include "../fuzz/fuzz_json.c"
#include "../fuzz/fuzz_kubeconfig.c"
#include "../fuzz/fuzz_lua_codec.c"
#include "../fuzz/fuzz_rigelfile.c"
#include "../fuzz/fuzz_template.c"
#include "../fuzz/fuzz_watch.c"
#include "../fuzz/fuzz_yaml.c"

typedef int (*fuzz_fn)(const uint8_t *, size_t);

static const char *source_dir(void)
{
    const char *d = getenv("RK_SOURCE_DIR");
    return d && *d ? d : ".";
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs fn on every regular file of DIR/KIND/TARGET in name order; returns the count. */
static size_t replay_dir(const char *kind, const char *target, fuzz_fn fn)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/%s/%s", source_dir(), kind, target);
    DIR *d = opendir(dir);
    if (!d)
        return 0; /* no regressions for this target (yet) */
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof *names);
            assert_non_null(names);
        }
        names[n] = strdup(e->d_name);
        assert_non_null(names[n++]);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        assert_true(len >= 0);
        rewind(f);
        /* A private copy of exactly len bytes, so that reading past the input is caught
         * by the sanitizers in `make test-asan`. */
        uint8_t *buf = malloc(len ? (size_t)len : 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
        fclose(f);
        fprintf(stderr, "replaying %s/%s/%s\n", kind, target, names[i]);
        assert_int_equal(fn(buf, (size_t)len), 0);
        free(buf);
        free(names[i]);
    }
    free(names);
    return n;
}

static void replay(const char *target, fuzz_fn fn)
{
    size_t seeds = replay_dir("corpus", target, fn);
    size_t regressions = replay_dir("regressions", target, fn);
    print_message("%s: %zu seeds, %zu regression inputs\n", target, seeds, regressions);
    assert_true(seeds > 0); /* the corpus is checked in: finding none means a wrong path */
}

#define REPLAY_TEST(name)                                                                 \
    static void test_##name(void **state)                                                 \
    {                                                                                     \
        (void)state;                                                                      \
        replay(#name, fuzz_##name##_one);                                                 \
    }
REPLAY_TEST(yaml)
REPLAY_TEST(json)
REPLAY_TEST(kubeconfig)
REPLAY_TEST(template)
REPLAY_TEST(watch)
REPLAY_TEST(lua_codec)
REPLAY_TEST(rigelfile)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml),     cmocka_unit_test(test_json),
        cmocka_unit_test(test_kubeconfig), cmocka_unit_test(test_template),
        cmocka_unit_test(test_watch),    cmocka_unit_test(test_lua_codec),
        cmocka_unit_test(test_rigelfile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
