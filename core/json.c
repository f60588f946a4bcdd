#include "json.h"
#include "utf8.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------
 * Decoder: recursive descent over the bytes, bounded by RK_MAX_DEPTH.
 * ---------------------------------------------------------------------------------- */

#define MAP_INDEX_THRESHOLD 8

typedef struct {
    const char *start, *p, *end;
    const char *line_start;
    uint32_t line;
    rk_error *err;
    rk_status st;
    rk_buf scratch; /* unescaped strings */
} jparser;

static rk_status jfail(jparser *j, const char *at, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static rk_status jfail(jparser *j, const char *at, const char *fmt, ...)
{
    if (j->st != RK_OK)
        return j->st;
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (at > j->end)
        at = j->end;
    uint32_t line = 1, col = 1;
    for (const char *q = j->start; q < at; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)*q & 0xC0) != 0x80) {
            col++;
        }
    }
    j->st = rk_error_set(j->err, RK_ERR_PARSE,
                         "JSON parse error at byte %zu (line %" PRIu32 ", column %" PRIu32 "): %s",
                         (size_t)(at - j->start), line, col, msg);
    return j->st;
}

static rk_status jnomem(jparser *j)
{
    if (j->st == RK_OK)
        j->st = rk_error_set(j->err, RK_ERR_NOMEM, "out of memory while decoding JSON");
    return j->st;
}

static void skip_ws(jparser *j)
{
    const char *p = j->p, *end = j->end;
    while (p < end) {
        char c = *p;
        if (c == ' ' || c == '\t' || c == '\r') {
            p++;
        } else if (c == '\n') {
            p++;
            j->line++;
            j->line_start = p;
        } else {
            break;
        }
    }
    j->p = p;
}

static void describe_char(const char *p, const char *end, char *out, size_t size)
{
    if (p >= end)
        snprintf(out, size, "end of input");
    else if ((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7F)
        snprintf(out, size, "'%c'", *p);
    else
        snprintf(out, size, "byte 0x%02X", (unsigned char)*p);
}

static int hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

static void put_utf8(rk_buf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    rk_buf_append(b, u, n);
}

/* Parses the string at j->p (on the opening quote). On success s and n describe the
 * bytes: either straight from the input (no escapes) or from j->scratch. */
static int parse_string_raw(jparser *j, const char **s, size_t *n)
{
    const char *p = j->p + 1, *end = j->end;
    const char *run = p;
    int escaped = 0;
    for (;;) {
        while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
            p++;
        if (p >= end) {
            jfail(j, j->p, "unterminated string");
            return 0;
        }
        if (*p == '"')
            break;
        if ((unsigned char)*p < 0x20) {
            jfail(j, p, "control character (byte 0x%02X) inside a string; escape it",
                  (unsigned char)*p);
            return 0;
        }
        /* backslash */
        if (!escaped) {
            escaped = 1;
            j->scratch.len = 0;
        }
        rk_buf_append(&j->scratch, run, (size_t)(p - run));
        if (p + 1 >= end) {
            jfail(j, j->p, "unterminated string");
            return 0;
        }
        char e = p[1];
        const char *esc = p;
        p += 2;
        switch (e) {
        case '"': rk_buf_putc(&j->scratch, '"'); break;
        case '\\': rk_buf_putc(&j->scratch, '\\'); break;
        case '/': rk_buf_putc(&j->scratch, '/'); break;
        case 'b': rk_buf_putc(&j->scratch, '\b'); break;
        case 'f': rk_buf_putc(&j->scratch, '\f'); break;
        case 'n': rk_buf_putc(&j->scratch, '\n'); break;
        case 'r': rk_buf_putc(&j->scratch, '\r'); break;
        case 't': rk_buf_putc(&j->scratch, '\t'); break;
        case 'u': {
            uint32_t cp;
            if (end - p < 4 || !hex4(p, &cp)) {
                jfail(j, esc, "invalid \\u escape: expected 4 hex digits");
                return 0;
            }
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF) {
                    jfail(j, esc, "invalid \\u escape: high surrogate without a low one");
                    return 0;
                }
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                jfail(j, esc, "invalid \\u escape: lone low surrogate");
                return 0;
            }
            put_utf8(&j->scratch, cp);
            break;
        }
        default:
            jfail(j, esc, "invalid escape '\\%c'", (unsigned char)e >= 0x20 ? e : '?');
            return 0;
        }
        run = p;
    }
    if (escaped) {
        rk_buf_append(&j->scratch, run, (size_t)(p - run));
        if (j->scratch.failed) {
            jnomem(j);
            return 0;
        }
        *s = j->scratch.data ? j->scratch.data : "";
        *n = j->scratch.len;
    } else {
        *s = j->p + 1;
        *n = (size_t)(p - (j->p + 1));
    }
    j->p = p + 1;
    return 1;
}

static rk_value *parse_number(jparser *j)
{
    const char *p = j->p, *end = j->end, *start = p;
    int neg = 0, is_float = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || *p < '0' || *p > '9') {
        char what[32];
        describe_char(p, end, what, sizeof what);
        jfail(j, p, "expected a digit, found %s", what);
        return NULL;
    }
    uint64_t u = 0;
    int overflow = 0;
    if (*p == '0') {
        p++;
        if (p < end && *p >= '0' && *p <= '9') {
            jfail(j, start, "numbers cannot have leading zeros");
            return NULL;
        }
    } else {
        while (p < end && *p >= '0' && *p <= '9') {
            unsigned d = (unsigned)(*p - '0');
            if (u > (UINT64_MAX - d) / 10)
                overflow = 1;
            else
                u = u * 10 + d;
            p++;
        }
    }
    if (p < end && *p == '.') {
        is_float = 1;
        p++;
        if (p >= end || *p < '0' || *p > '9') {
            jfail(j, p, "expected a digit after the decimal point");
            return NULL;
        }
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        is_float = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9') {
            jfail(j, p, "expected a digit in the exponent");
            return NULL;
        }
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    j->p = p;
    if (!is_float && !overflow) {
        if (!neg && u <= (uint64_t)INT64_MAX)
            return rk_int_new((int64_t)u);
        if (neg && u <= (uint64_t)INT64_MAX)
            return rk_int_new(-(int64_t)u);
        if (neg && u == (uint64_t)INT64_MAX + 1)
            return rk_int_new(INT64_MIN);
    }
    size_t n = (size_t)(p - start);
    char small[64];
    char *tmp = n < sizeof small ? small : malloc(n + 1);
    if (!tmp) {
        jnomem(j);
        return NULL;
    }
    memcpy(tmp, start, n);
    tmp[n] = '\0';
    double d = strtod(tmp, NULL);
    if (tmp != small)
        free(tmp);
    if (isinf(d)) {
        jfail(j, start, "number out of range for a double");
        return NULL;
    }
    return rk_float_new(d);
}

static rk_value *parse_value(jparser *j, int depth);

static int expect_word(jparser *j, const char *word, size_t n)
{
    if ((size_t)(j->end - j->p) >= n && memcmp(j->p, word, n) == 0) {
        j->p += n;
        return 1;
    }
    jfail(j, j->p, "invalid literal; expected %s", word);
    return 0;
}

static rk_value *parse_array(jparser *j, int depth)
{
    rk_value *arr = rk_seq_new();
    if (!arr) {
        jnomem(j);
        return NULL;
    }
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return arr;
    }
    for (;;) {
        rk_value *item = parse_value(j, depth + 1);
        if (!item)
            goto fail;
        if (rk_seq_push(arr, item) != RK_OK) {
            jnomem(j);
            goto fail;
        }
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            return arr;
        }
        char what[32];
        describe_char(j->p, j->end, what, sizeof what);
        jfail(j, j->p, "expected ',' or ']' in array, found %s", what);
        goto fail;
    }
fail:
    rk_value_free(arr);
    return NULL;
}

static rk_value *parse_object(jparser *j, int depth)
{
    rk_value *obj = rk_map_new();
    rk_keyset index = {0};
    if (!obj) {
        jnomem(j);
        return NULL;
    }
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return obj;
    }
    for (;;) {
        skip_ws(j);
        if (j->p >= j->end || *j->p != '"') {
            char what[32];
            describe_char(j->p, j->end, what, sizeof what);
            jfail(j, j->p, "expected a string key, found %s", what);
            goto fail;
        }
        uint32_t key_line = j->line, key_col = (uint32_t)(j->p - j->line_start) + 1;
        const char *ks;
        size_t kn;
        if (!parse_string_raw(j, &ks, &kn))
            goto fail;
        char *key = malloc(kn + 1);
        if (!key) {
            jnomem(j);
            goto fail;
        }
        memcpy(key, ks, kn);
        key[kn] = '\0';
        skip_ws(j);
        if (j->p >= j->end || *j->p != ':') {
            free(key);
            char what[32];
            describe_char(j->p, j->end, what, sizeof what);
            jfail(j, j->p, "expected ':' after an object key, found %s", what);
            goto fail;
        }
        j->p++;
        rk_value *val = parse_value(j, depth + 1);
        if (!val) {
            free(key);
            goto fail;
        }
        long dup = -1;
        if (index.cap) {
            size_t *at = rk_keyset_find(&index, key, kn);
            dup = at ? (long)*at : -1;
        } else {
            for (size_t i = 0; i < obj->as.map.len; i++)
                if (obj->as.map.items[i].key_len == kn &&
                    memcmp(obj->as.map.items[i].key, key, kn) == 0)
                    dup = (long)i;
        }
        if (dup >= 0) {
            rk_value_free(obj->as.map.items[dup].value);
            obj->as.map.items[dup].value = val;
            free(key);
        } else {
            if (obj->as.map.len == obj->as.map.cap) {
                size_t cap = obj->as.map.cap ? obj->as.map.cap * 2 : 4;
                rk_member *p = realloc(obj->as.map.items, cap * sizeof *p);
                if (!p) {
                    free(key);
                    rk_value_free(val);
                    jnomem(j);
                    goto fail;
                }
                obj->as.map.items = p;
                obj->as.map.cap = cap;
            }
            size_t at = obj->as.map.len++;
            rk_member *m = &obj->as.map.items[at];
            m->key = key;
            m->key_len = kn;
            m->key_line = key_line;
            m->key_col = key_col;
            m->value = val;
            if (index.cap) {
                if (rk_keyset_add(&index, key, kn, at) != 0) {
                    jnomem(j);
                    goto fail;
                }
            } else if (obj->as.map.len >= MAP_INDEX_THRESHOLD) {
                for (size_t i = 0; i < obj->as.map.len; i++)
                    if (rk_keyset_add(&index, obj->as.map.items[i].key,
                                      obj->as.map.items[i].key_len, i) != 0) {
                        jnomem(j);
                        goto fail;
                    }
            }
        }
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            rk_keyset_free(&index);
            return obj;
        }
        char what[32];
        describe_char(j->p, j->end, what, sizeof what);
        jfail(j, j->p, "expected ',' or '}' in object, found %s", what);
        goto fail;
    }
fail:
    rk_keyset_free(&index);
    rk_value_free(obj);
    return NULL;
}

static rk_value *parse_value(jparser *j, int depth)
{
    skip_ws(j);
    if (j->p >= j->end) {
        jfail(j, j->p, "unexpected end of input; expected a value");
        return NULL;
    }
    uint32_t line = j->line, col = (uint32_t)(j->p - j->line_start) + 1;
    rk_value *v = NULL;
    char c = *j->p;
    if ((c == '[' || c == '{') && depth > RK_MAX_DEPTH) {
        jfail(j, j->p, "nesting deeper than %d levels", RK_MAX_DEPTH);
        return NULL;
    }
    switch (c) {
    case '{': v = parse_object(j, depth); break;
    case '[': v = parse_array(j, depth); break;
    case '"': {
        const char *s;
        size_t n;
        if (!parse_string_raw(j, &s, &n))
            return NULL;
        v = rk_string_new(s, n);
        break;
    }
    case 't':
        if (!expect_word(j, "true", 4))
            return NULL;
        v = rk_bool_new(1);
        break;
    case 'f':
        if (!expect_word(j, "false", 5))
            return NULL;
        v = rk_bool_new(0);
        break;
    case 'n':
        if (!expect_word(j, "null", 4))
            return NULL;
        v = rk_null_new();
        break;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            v = parse_number(j);
            break;
        }
        {
            char what[32];
            describe_char(j->p, j->end, what, sizeof what);
            jfail(j, j->p, "unexpected %s; expected a value", what);
        }
        return NULL;
    }
    if (!v) {
        jnomem(j);
        return NULL;
    }
    v->line = line;
    v->col = col;
    return v;
}

rk_status rk_json_decode(const char *buf, size_t len, rk_value **out, rk_error *err)
{
    jparser j;
    memset(&j, 0, sizeof j);
    j.start = j.p = j.line_start = buf ? buf : "";
    j.end = j.start + (buf ? len : 0);
    j.line = 1;
    j.err = err;
    *out = NULL;
    /* a UTF-8 byte order mark is tolerated, as most decoders do */
    if (j.end - j.p >= 3 && memcmp(j.p, "\xEF\xBB\xBF", 3) == 0)
        j.p += 3;
    rk_value *v = parse_value(&j, 1);
    if (v) {
        skip_ws(&j);
        if (j.p < j.end) {
            char what[32];
            describe_char(j.p, j.end, what, sizeof what);
            jfail(&j, j.p, "unexpected %s after the JSON value", what);
            rk_value_free(v);
            v = NULL;
        }
    }
    rk_buf_free(&j.scratch);
    if (!v)
        return j.st != RK_OK ? j.st : jnomem(&j);
    *out = v;
    return RK_OK;
}

/* ------------------------------------------------------------------------------------
 * Encoder
 * ---------------------------------------------------------------------------------- */

typedef struct {
    const char *key; /* NULL: a list index */
    size_t key_len, index;
} jpath_seg;

typedef struct {
    rk_buf *b;
    int indent;
    rk_error *err;
    rk_status st;
    jpath_seg *path; /* path[i] leads from level i to level i + 1 */
} jencoder;

/* "spec.containers[0].env" for messages; "" at the top. */
static void format_path(const jencoder *e, int level, char *out, size_t size)
{
    size_t k = 0;
    out[0] = '\0';
    for (int i = 0; i < level && k + 1 < size; i++) {
        const jpath_seg *s = &e->path[i];
        int n;
        if (s->key)
            n = snprintf(out + k, size - k, "%s%.*s", k ? "." : "",
                         (int)(s->key_len > 80 ? 80 : s->key_len), s->key);
        else
            n = snprintf(out + k, size - k, "[%zu]", s->index);
        if (n < 0)
            break;
        k += (size_t)n;
    }
    if (k >= size)
        out[size - 1] = '\0';
}

static void encode_string(rk_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    rk_buf_putc(b, '"');
    size_t run = 0, i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            run++;
            continue;
        }
        if (c >= 0x80) {
            uint32_t cp;
            size_t k = rk_utf8_decode((const unsigned char *)s + i, n - i, &cp);
            if (k) {
                i += k;
                run += k;
                continue;
            }
        }
        rk_buf_append(b, s + i - run, run);
        run = 0;
        switch (c) {
        case '"': rk_buf_append(b, "\\\"", 2); break;
        case '\\': rk_buf_append(b, "\\\\", 2); break;
        case '\n': rk_buf_append(b, "\\n", 2); break;
        case '\r': rk_buf_append(b, "\\r", 2); break;
        case '\t': rk_buf_append(b, "\\t", 2); break;
        case '\b': rk_buf_append(b, "\\b", 2); break;
        case '\f': rk_buf_append(b, "\\f", 2); break;
        default:
            if (c < 0x20) {
                char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                rk_buf_append(b, u, 6);
            } else {
                rk_buf_append(b, "\xEF\xBF\xBD", 3); /* invalid UTF-8 byte */
            }
        }
        i++;
    }
    rk_buf_append(b, s + n - run, run);
    rk_buf_putc(b, '"');
}

static size_t format_double(double d, char *out, size_t size)
{
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, size, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    int integral = 1;
    for (int i = 0; i < n; i++)
        if ((out[i] < '0' || out[i] > '9') && out[i] != '-')
            integral = 0;
    if (integral && (size_t)n + 2 < size) {
        out[n++] = '.';
        out[n++] = '0';
        out[n] = '\0';
    }
    return (size_t)n;
}

static void newline_indent(jencoder *e, int level)
{
    rk_buf_putc(e->b, '\n');
    rk_buf_fill(e->b, ' ', (size_t)e->indent * (size_t)level);
}

static void encode_value(jencoder *e, const rk_value *v, int level)
{
    if (e->st != RK_OK)
        return;
    if (level > RK_MAX_DEPTH) {
        e->st = rk_error_set(e->err, RK_ERR_INVALID,
                             "cannot encode JSON nested deeper than %d levels", RK_MAX_DEPTH);
        return;
    }
    char tmp[64];
    size_t n;
    switch (v->type) {
    case RK_NULL: rk_buf_append(e->b, "null", 4); break;
    case RK_BOOL:
        if (v->as.boolean)
            rk_buf_append(e->b, "true", 4);
        else
            rk_buf_append(e->b, "false", 5);
        break;
    case RK_INT:
        n = (size_t)snprintf(tmp, sizeof tmp, "%" PRId64, v->as.integer);
        rk_buf_append(e->b, tmp, n);
        break;
    case RK_FLOAT:
        if (isnan(v->as.number) || isinf(v->as.number)) {
            char path[300], line[48] = "";
            format_path(e, level, path, sizeof path);
            if (v->line)
                snprintf(line, sizeof line, " (line %" PRIu32 ")", v->line);
            e->st = rk_error_set(e->err, RK_ERR_INVALID, "cannot encode %s as JSON%s%s%s",
                                 isnan(v->as.number) ? "NaN" : "an infinite number",
                                 path[0] ? " at " : "", path, line);
            return;
        }
        n = format_double(v->as.number, tmp, sizeof tmp);
        rk_buf_append(e->b, tmp, n);
        break;
    case RK_STRING: encode_string(e->b, v->as.str.ptr, v->as.str.len); break;
    case RK_SEQ:
        rk_buf_putc(e->b, '[');
        for (size_t i = 0; i < v->as.seq.len && e->st == RK_OK; i++) {
            if (i)
                rk_buf_putc(e->b, ',');
            if (e->indent)
                newline_indent(e, level + 1);
            e->path[level].key = NULL;
            e->path[level].index = i;
            encode_value(e, v->as.seq.items[i], level + 1);
        }
        if (e->indent && v->as.seq.len)
            newline_indent(e, level);
        rk_buf_putc(e->b, ']');
        break;
    case RK_MAP:
        rk_buf_putc(e->b, '{');
        for (size_t i = 0; i < v->as.map.len && e->st == RK_OK; i++) {
            const rk_member *m = &v->as.map.items[i];
            if (i)
                rk_buf_putc(e->b, ',');
            if (e->indent)
                newline_indent(e, level + 1);
            encode_string(e->b, m->key, m->key_len);
            if (e->indent)
                rk_buf_append(e->b, ": ", 2);
            else
                rk_buf_putc(e->b, ':');
            e->path[level].key = m->key;
            e->path[level].key_len = m->key_len;
            encode_value(e, m->value, level + 1);
        }
        if (e->indent && v->as.map.len)
            newline_indent(e, level);
        rk_buf_putc(e->b, '}');
        break;
    }
}

rk_status rk_json_encode(const rk_value *v, int indent, rk_buf *out, rk_error *err)
{
    if (!v)
        return rk_error_set(err, RK_ERR_INVALID, "cannot encode a missing value");
    jencoder e = {out, indent > 0 ? indent : 0, err, RK_OK, NULL};
    e.path = malloc((RK_MAX_DEPTH + 2) * sizeof *e.path);
    if (!e.path)
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory while encoding JSON");
    encode_value(&e, v, 0);
    free(e.path);
    if (e.st != RK_OK)
        return e.st;
    return rk_buf_status(out, err);
}
