/* json.h — JSON text to rk_value trees and back: a strict, fast decoder that keeps key
 * order and tells integers from floats, and a compact or indented encoder.
 *
 * Decoding: RFC 8259. A number without '.', 'e' or 'E' that fits int64 is an RK_INT
 * (so every integer up to 2^53 and beyond stays exact); any other number is an
 * RK_FLOAT. \u escapes, surrogate pairs included, become UTF-8; a lone surrogate, a raw
 * control character in a string, trailing text, or nesting deeper than RK_MAX_DEPTH is
 * an error. A repeated object key keeps its first position and takes the last value
 * (what Go's encoding/json and most decoders do). Bytes that are not valid UTF-8 are
 * kept as they are (the encoder repairs them). Nodes get their 1-based line/column.
 * Errors read "JSON parse error at byte N (line L, column C): message", N counted
 * from 0.
 *
 * Encoding: keys in map order, strings as UTF-8 with only '"', '\\' and control
 * characters escaped (invalid UTF-8 bytes become U+FFFD, as Go does), integers as
 * integers, floats in the shortest form that reads back to the same double (integral
 * floats keep ".0" so they decode as floats again). NaN and infinities are errors. */
#ifndef RK_JSON_H
#define RK_JSON_H

#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "value.h"

/* Parses len bytes of buf into a new tree *out owned by the caller. */
rk_status rk_json_decode(const char *buf, size_t len, rk_value **out, rk_error *err);

/* Appends v to out. indent 0 writes compact JSON; indent > 0 writes one member per line
 * indented by that many spaces per level, with empty containers as [] and {}. */
rk_status rk_json_encode(const rk_value *v, int indent, rk_buf *out, rk_error *err);

#endif
