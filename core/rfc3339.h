/* rfc3339.h — RFC 3339 timestamps (Kubernetes' metav1.Time and MicroTime, an exec
 * plugin's expirationTimestamp) to seconds and nanoseconds since the epoch.
 *
 * Read: YYYY-MM-DD, then 'T' (or 't' or one space, as RFC 3339 5.6 allows), hh:mm:ss,
 * an optional fraction of one or more digits (digits past the nanosecond are dropped),
 * then 'Z' ('z') or an offset +hh:mm / -hh:mm. Nothing may follow. The date must exist
 * (February 29 only in a leap year); hours 00-23, minutes 00-59, seconds 00-60 (60 is
 * a leap second, counted as the first second of the next minute, as POSIX time counts
 * it); offsets up to 23:59. */
#ifndef RK_RFC3339_H
#define RK_RFC3339_H

#include <stdint.h>

#include "error.h"

/* Parses text (NUL-terminated; NULL is not a time). Sets *secs (UTC seconds since
 * 1970-01-01) and, when nanos is not NULL, *nanos (0..999999999). RK_ERR_PARSE when
 * text is not such a time; the outputs are then untouched. */
rk_status rk_rfc3339_parse(const char *text, int64_t *secs, long *nanos);

#endif
