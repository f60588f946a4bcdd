/* RFC 3339: the one parser for Kubernetes timestamps (event times in rollout reports)
 * and exec plugin expiries: offsets, fractions to the nanosecond, leap years and leap
 * seconds, and every way a text can fail to be a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rfc3339.h"

static void expect_time(const char *text, int64_t secs, long nanos)
{
    int64_t s = -1;
    long ns = -1;
    if (rk_rfc3339_parse(text, &s, &ns) != RK_OK)
        fail_msg("\"%s\" was refused", text);
    if (s != secs || ns != nanos)
        fail_msg("\"%s\": got %lld.%09ld, want %lld.%09ld", text, (long long)s, ns,
                 (long long)secs, nanos);
}

static void expect_refused(const char *text)
{
    int64_t s = 42;
    long ns = 43;
    if (rk_rfc3339_parse(text, &s, &ns) == RK_OK)
        fail_msg("\"%s\" was read as %lld.%09ld", text, (long long)s, ns);
    assert_int_equal(s, 42); /* untouched */
    assert_int_equal(ns, 43);
}

static void test_utc_and_offsets(void **state)
{
    (void)state;
    expect_time("1970-01-01T00:00:00Z", 0, 0);
    expect_time("2024-02-29T12:00:00Z", 1709208000, 0);
    expect_time("2024-02-29t12:00:00z", 1709208000, 0);
    expect_time("2024-02-29 12:00:00Z", 1709208000, 0);
    expect_time("2024-02-29T14:00:00+02:00", 1709208000, 0);
    expect_time("2024-02-29T10:30:00-01:30", 1709208000, 0);
    expect_time("2024-02-29T12:00:00+00:00", 1709208000, 0);
    expect_time("2024-02-29T12:00:00-00:00", 1709208000, 0);
    expect_time("2024-03-01T11:59:00+23:59", 1709208000, 0);
    expect_time("1969-12-31T23:59:59Z", -1, 0);
    expect_time("0001-01-01T00:00:00Z", -62135596800, 0); /* Go's zero time */
    expect_time("9999-12-31T23:59:59Z", 253402300799, 0);
    int64_t s;
    assert_int_equal(rk_rfc3339_parse("2024-05-01T10:00:00Z", &s, NULL), RK_OK);
    assert_int_equal(s, 1714557600);
}

static void test_fractional_seconds(void **state)
{
    (void)state;
    expect_time("2024-02-29T12:00:00.5Z", 1709208000, 500000000);
    expect_time("2024-02-29T12:00:00.123456Z", 1709208000, 123456000); /* MicroTime */
    expect_time("2024-02-29T12:00:00.000000001Z", 1709208000, 1);
    expect_time("2024-02-29T12:00:00.9999999999999Z", 1709208000, 999999999); /* cut */
    expect_time("2024-02-29T14:00:00.25+02:00", 1709208000, 250000000);
    expect_refused("2024-02-29T12:00:00.Z");
    expect_refused("2024-02-29T12:00:00,5Z");
    expect_refused("2024-02-29T12:00:00.5");
}

static void test_leap_years_and_leap_seconds(void **state)
{
    (void)state;
    expect_time("2000-02-29T00:00:00Z", 951782400, 0); /* divisible by 400 */
    expect_refused("1900-02-29T00:00:00Z");            /* by 100, not 400 */
    expect_refused("2023-02-29T00:00:00Z");
    expect_refused("2024-02-30T00:00:00Z");
    expect_refused("2024-04-31T00:00:00Z");
    expect_time("2024-12-31T00:00:00Z", 1735603200, 0);
    expect_refused("2024-12-32T00:00:00Z");
    /* 23:59:60: counted as the first second of the next day, as POSIX time does */
    expect_time("2016-12-31T23:59:60Z", 1483228800, 0);
    expect_refused("2016-12-31T23:59:61Z");
}

static void test_not_times(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "yesterday", "2024-02-29", "2024-02-29T12:00:00", "2024-02-29T12:00Z",
        "2024-13-01T00:00:00Z", "2024-00-01T00:00:00Z", "2024-01-00T00:00:00Z",
        "2024-01-01T24:00:00Z", "2024-01-01T00:60:00Z", "2024-01-01T00:00:00+24:00",
        "2024-01-01T00:00:00+01:60", "2024-01-01T00:00:00+0100", "2024-01-01T00:00:00+1:00",
        "2024-01-01T00:00:00Zjunk", "2024-01-01T00:00:00+01:00 ", " 2024-01-01T00:00:00Z",
        "2024-1-01T00:00:00Z", "2024-01-01X00:00:00Z", "2024-01-01T00:00:-1Z",
        "+024-01-01T00:00:00Z", "2024/01/01T00:00:00Z", "2024-01-01T00:00:00UTC",
        "2024-01-01T 0:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_refused(bad[i]);
    int64_t s;
    assert_int_equal(rk_rfc3339_parse(NULL, &s, NULL), RK_ERR_PARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utc_and_offsets),
        cmocka_unit_test(test_fractional_seconds),
        cmocka_unit_test(test_leap_years_and_leap_seconds),
        cmocka_unit_test(test_not_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
