/* fuzz.h — what every fuzz target shares. A target is `int fuzz_NAME_one(const uint8_t *,
 * size_t)` in tests/fuzz/fuzz_NAME.c; the file is compiled into its libFuzzer binary (with
 * RK_LIBFUZZER defined, which adds LLVMFuzzerTestOneInput) and into the gcc regression
 * test tests/c/torture_fuzz_regressions.c, so an input that once crashed replays through
 * exactly the same code in `make test`.
 *
 * A target returns 0. Rejecting an input is never a failure; breaking a property (a round
 * trip that changes the tree, an error on something just produced, a hang) is: the
 * target prints what went wrong and aborts, which libFuzzer records as a crash (the
 * regression test defines RK_FUZZ_FAIL to fail just the current cmocka test instead). */
#ifndef RK_FUZZ_H
#define RK_FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2), noreturn))
#endif
static inline void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz property violated: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
#ifdef RK_FUZZ_FAIL
    RK_FUZZ_FAIL(); /* the regression test fails the current test and goes on */
#endif
    abort();
}

/* Prints up to 2000 bytes of a buffer, escaped, for failure reports. */
static inline void fuzz_dump(const char *what, const char *p, size_t n)
{
    fprintf(stderr, "--- %s (%zu bytes)\n", what, n);
    for (size_t i = 0; i < n && i < 2000; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\n' || (c >= 32 && c < 127))
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fputs("\n---\n", stderr);
}

/* Defines LLVMFuzzerTestOneInput for the libFuzzer build only. */
#ifdef RK_LIBFUZZER
#define RK_FUZZ_ENTRY(fn)                                                                 \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                         \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fn(data, size); }
#else
#define RK_FUZZ_ENTRY(fn)
#endif

int fuzz_yaml_one(const uint8_t *data, size_t size);
int fuzz_json_one(const uint8_t *data, size_t size);
int fuzz_kubeconfig_one(const uint8_t *data, size_t size);
int fuzz_template_one(const uint8_t *data, size_t size);
int fuzz_watch_one(const uint8_t *data, size_t size);
int fuzz_lua_codec_one(const uint8_t *data, size_t size);
int fuzz_rigelfile_one(const uint8_t *data, size_t size);

#endif
