#include "yaml_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "utf8.h"

/* ------------------------------------------------------------------------------------
 * Dumper: writes block YAML directly into an rk_buf.
 * ---------------------------------------------------------------------------------- */

typedef struct {
    rk_buf *b;
    rk_error *err;
    rk_status st;
} dumper;

/* Length of the UTF-8 sequence at s (at most n bytes) and its code point, or 0 if the
 * bytes are not valid UTF-8 (overlongs, surrogates and > U+10FFFF rejected). */
/* Characters YAML lets us write literally (libyaml's IS_PRINTABLE, minus the special
 * line breaks and the BOM, which must be escaped). */
static int printable_cp(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= 0x20 && cp != 0x7F;
    if (cp < 0xA0)
        return 0;
    if (cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF)
        return 0;
    return 1;
}

typedef struct {
    int valid_utf8;
    int printable;    /* every char printable or tab (no newline) */
    int multiline_ok; /* every char printable, tab or newline, and at least one newline */
    int has_newline;
    int has_backslash_or_dquote;
} str_info;

static void analyze(const char *s, size_t n, str_info *si)
{
    memset(si, 0, sizeof *si);
    si->valid_utf8 = 1;
    int other = 0; /* a char that is neither printable, tab nor newline */
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F) {
            if (c == '\\' || c == '"')
                si->has_backslash_or_dquote = 1;
            i++;
            continue;
        }
        uint32_t cp;
        size_t k = rk_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (!k) {
            si->valid_utf8 = 0;
            return;
        }
        if (cp == '\n')
            si->has_newline = 1;
        else if (cp != '\t' && !printable_cp(cp))
            other = 1;
        i += k;
    }
    si->printable = !other && !si->has_newline;
    si->multiline_ok = !other && si->has_newline;
}

static int looks_like_timestamp(const char *s, size_t n)
{
    /* [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}...: what YAML 1.1 readers take for a date */
    if (n < 8)
        return 0;
    for (int i = 0; i < 4; i++)
        if (!is_digit((unsigned char)s[i]))
            return 0;
    return s[4] == '-' && is_digit((unsigned char)s[5]);
}

static int looks_like_sexagesimal(const char *s, size_t n)
{
    /* YAML 1.1 base 60 (1:30:00): no longer a number for go-yaml, but older readers
     * still take it as one, so go-yaml quotes it and so do we */
    size_t i = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    if (i >= n || !is_digit((unsigned char)s[i]))
        return 0;
    int colons = 0;
    for (; i < n; i++) {
        if (s[i] == ':')
            colons++;
        else if (!is_digit((unsigned char)s[i]) && s[i] != '_' && s[i] != '.')
            return 0;
    }
    return colons > 0;
}

static int plain_ok(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned char c0 = (unsigned char)s[0];
    if (strchr("?:,[]{}#&*!|>'\"%@`", c0))
        return 0;
    if (c0 == '-' &&
        (n == 1 || s[1] == ' ' || s[1] == '\t' || (n >= 3 && s[1] == '-' && s[2] == '-')))
        return 0;
    if (n >= 3 && memcmp(s, "...", 3) == 0)
        return 0;
    if (c0 == ' ' || c0 == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == ':')
        return 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] == ':' && (s[i + 1] == ' ' || s[i + 1] == '\t'))
            return 0;
        if ((s[i] == ' ' || s[i] == '\t') && s[i + 1] == '#')
            return 0;
    }
    if (n == 2 && s[0] == '<' && s[1] == '<')
        return 0;
    if (rk_yaml_plain_type(s, n) != RK_STRING)
        return 0;
    if (looks_like_timestamp(s, n) || looks_like_sexagesimal(s, n))
        return 0;
    return 1;
}

static void emit_double_quoted(rk_buf *b, const char *s, size_t n)
{
    rk_buf_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
            i++;
            run++;
            continue;
        }
        uint32_t cp = c; /* an invalid byte stays itself, and is escaped below */
        size_t k = rk_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (k > 1 && printable_cp(cp)) {
            i += k;
            run += k;
            continue;
        }
        rk_buf_append(b, s + i - run, run);
        run = 0;
        char esc[16];
        const char *e = NULL;
        switch (cp) {
        case '"': e = "\\\""; break;
        case '\\': e = "\\\\"; break;
        case 0: e = "\\0"; break;
        case 7: e = "\\a"; break;
        case 8: e = "\\b"; break;
        case 9: e = "\\t"; break;
        case 10: e = "\\n"; break;
        case 11: e = "\\v"; break;
        case 12: e = "\\f"; break;
        case 13: e = "\\r"; break;
        case 27: e = "\\e"; break;
        case 0x85: e = "\\N"; break;
        case 0x2028: e = "\\L"; break;
        case 0x2029: e = "\\P"; break;
        default:
            if (cp <= 0xFF)
                snprintf(esc, sizeof esc, "\\x%02X", (unsigned)cp);
            else
                snprintf(esc, sizeof esc, "\\u%04X", (unsigned)cp);
            e = esc;
        }
        rk_buf_puts(b, e);
        i += k ? k : 1; /* invalid UTF-8 is written as !!binary before it gets here */
    }
    rk_buf_append(b, s + n - run, run);
    rk_buf_putc(b, '"');
}

static void emit_single_quoted(rk_buf *b, const char *s, size_t n)
{
    rk_buf_putc(b, '\'');
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\'') {
            rk_buf_append(b, s + start, i + 1 - start);
            rk_buf_putc(b, '\'');
            start = i + 1;
        }
    }
    rk_buf_append(b, s + start, n - start);
    rk_buf_putc(b, '\'');
}

static void emit_literal(rk_buf *b, const char *s, size_t n, size_t indent)
{
    size_t trailing = 0;
    while (trailing < n && s[n - 1 - trailing] == '\n')
        trailing++;
    size_t body = n - trailing; /* > 0: the caller checked */
    size_t first = 0;
    while (first < body && s[first] == '\n')
        first++;
    rk_buf_putc(b, '|');
    if (s[first] == ' ' || s[first] == '\t')
        rk_buf_putc(b, '2'); /* content starts with blanks: indentation can't be guessed */
    if (trailing == 0)
        rk_buf_putc(b, '-');
    else if (trailing > 1)
        rk_buf_putc(b, '+');
    rk_buf_putc(b, '\n');
    size_t start = 0;
    for (size_t i = 0; i <= body; i++) {
        if (i < body && s[i] != '\n')
            continue;
        if (i > start) {
            rk_buf_fill(b, ' ', indent);
            rk_buf_append(b, s + start, i - start);
        }
        rk_buf_putc(b, '\n');
        start = i + 1;
    }
    for (size_t i = 1; i < trailing; i++)
        rk_buf_putc(b, '\n');
}

static int has_text_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != '\n')
            return 1;
    return 0;
}

/* Writes a string scalar. block_indent > 0 allows a `|` block at that indentation.
 * Returns 1 when it wrote a block, which ends its own line. */
static int emit_string(rk_buf *b, const char *s, size_t n, size_t block_indent)
{
    str_info si;
    analyze(s, n, &si);
    if (!si.valid_utf8) {
        rk_buf_puts(b, "!!binary ");
        rk_base64_encode(b, s, n);
    } else if (si.multiline_ok && block_indent && has_text_line(s, n)) {
        emit_literal(b, s, n, block_indent);
        return 1;
    } else if (si.printable && plain_ok(s, n)) {
        rk_buf_append(b, s, n);
    } else if (si.printable && si.has_backslash_or_dquote) {
        emit_single_quoted(b, s, n);
    } else {
        emit_double_quoted(b, s, n);
    }
    return 0;
}

/* Shortest text that reads back to the same double; integral values keep ".0" so the
 * value stays a float. */
static size_t format_double(double d, char *out, size_t size)
{
    if (isnan(d))
        return (size_t)snprintf(out, size, ".nan");
    if (isinf(d))
        return (size_t)snprintf(out, size, d > 0 ? ".inf" : "-.inf");
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, size, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    int integral = 1;
    for (int i = 0; i < n; i++)
        if (!is_digit((unsigned char)out[i]) && out[i] != '-')
            integral = 0;
    if (integral && (size_t)n + 2 < size) {
        out[n++] = '.';
        out[n++] = '0';
        out[n] = '\0';
    }
    return (size_t)n;
}

static void emit_scalar(dumper *d, const rk_value *v, size_t block_indent)
{
    char tmp[64];
    size_t n;
    switch (v->type) {
    case RK_NULL: rk_buf_append(d->b, "null", 4); break;
    case RK_BOOL:
        if (v->as.boolean)
            rk_buf_append(d->b, "true", 4);
        else
            rk_buf_append(d->b, "false", 5);
        break;
    case RK_INT:
        n = (size_t)snprintf(tmp, sizeof tmp, "%" PRId64, v->as.integer);
        rk_buf_append(d->b, tmp, n);
        break;
    case RK_FLOAT:
        n = format_double(v->as.number, tmp, sizeof tmp);
        rk_buf_append(d->b, tmp, n);
        break;
    case RK_STRING:
        if (emit_string(d->b, v->as.str.ptr, v->as.str.len, block_indent))
            return;
        break;
    case RK_SEQ: rk_buf_append(d->b, "[]", 2); break;
    case RK_MAP: rk_buf_append(d->b, "{}", 2); break;
    }
    rk_buf_putc(d->b, '\n');
}

static int is_block(const rk_value *v)
{
    return (v->type == RK_SEQ && v->as.seq.len) || (v->type == RK_MAP && v->as.map.len);
}

static void emit_node(dumper *d, const rk_value *v, size_t indent, int inline_first, int depth);

/* libyaml refuses implicit keys longer than 1024 characters */
#define MAX_IMPLICIT_KEY 1000

static void emit_map(dumper *d, const rk_value *v, size_t indent, int inline_first, int depth)
{
    for (size_t i = 0; i < v->as.map.len && d->st == RK_OK; i++) {
        const rk_member *m = &v->as.map.items[i];
        if (i > 0 || !inline_first)
            rk_buf_fill(d->b, ' ', indent);
        size_t key_at = d->b->len;
        emit_string(d->b, m->key, m->key_len, 0);
        int explicit_key = d->b->len - key_at > MAX_IMPLICIT_KEY;
        if (explicit_key) {
            if (!d->b->failed) {
                d->b->len = key_at;
                d->b->data[key_at] = '\0';
            }
            rk_buf_append(d->b, "? ", 2);
            emit_string(d->b, m->key, m->key_len, 0);
            rk_buf_putc(d->b, '\n');
            rk_buf_fill(d->b, ' ', indent);
        }
        if (is_block(m->value)) {
            rk_buf_append(d->b, ":\n", 2);
            size_t child = (m->value->type == RK_MAP || explicit_key) ? indent + 2 : indent;
            emit_node(d, m->value, child, 0, depth + 1);
        } else {
            rk_buf_append(d->b, ": ", 2);
            emit_scalar(d, m->value, indent + 2);
        }
    }
}

static void emit_seq(dumper *d, const rk_value *v, size_t indent, int inline_first, int depth)
{
    for (size_t i = 0; i < v->as.seq.len && d->st == RK_OK; i++) {
        const rk_value *item = v->as.seq.items[i];
        if (i > 0 || !inline_first)
            rk_buf_fill(d->b, ' ', indent);
        rk_buf_append(d->b, "- ", 2);
        if (is_block(item))
            emit_node(d, item, indent + 2, 1, depth + 1);
        else
            emit_scalar(d, item, indent + 2);
    }
}

static void emit_node(dumper *d, const rk_value *v, size_t indent, int inline_first, int depth)
{
    if (depth > RK_MAX_DEPTH) {
        d->st = rk_error_set(d->err, RK_ERR_INVALID,
                             "cannot dump YAML nested deeper than %d levels", RK_MAX_DEPTH);
        return;
    }
    if (v->type == RK_MAP && v->as.map.len)
        emit_map(d, v, indent, inline_first, depth);
    else if (v->type == RK_SEQ && v->as.seq.len)
        emit_seq(d, v, indent, inline_first, depth);
    else
        emit_scalar(d, v, indent + 2);
}

rk_status rk_yaml_dump(const rk_value *doc, rk_buf *out, rk_error *err)
{
    dumper d = {out, err, RK_OK};
    if (!doc)
        return rk_error_set(err, RK_ERR_INVALID, "cannot dump a missing value");
    emit_node(&d, doc, 0, 0, 1);
    if (d.st != RK_OK)
        return d.st;
    return rk_buf_status(out, err);
}

rk_status rk_yaml_dump_all(const rk_value *docs, rk_buf *out, rk_error *err)
{
    if (!docs || docs->type != RK_SEQ)
        return rk_error_set(err, RK_ERR_INVALID, "dump_all needs a sequence of documents");
    for (size_t i = 0; i < docs->as.seq.len; i++) {
        if (i > 0)
            rk_buf_append(out, "---\n", 4);
        rk_status st = rk_yaml_dump(docs->as.seq.items[i], out, err);
        if (st != RK_OK)
            return st;
    }
    return rk_buf_status(out, err);
}
