#include "yaml_doc.h"
#include "base64.h"
#include "utf8.h"

#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define TAG_PREFIX "tag:yaml.org,2002:"

/* ------------------------------------------------------------------------------------
 * Scalar resolution: a transcription of go-yaml v2's resolve() (resolve.go), which is
 * what kubectl runs on every manifest through sigs.k8s.io/yaml.
 * ---------------------------------------------------------------------------------- */

typedef struct {
    rk_type type;
    int via_int; /* matched the integer rules (a uint64 beyond int64 is kept as a float) */
    int boolean;
    int64_t integer;
    double number;
} scalar_res;

typedef struct {
    const char *text;
    unsigned char len;
    rk_type type;
    signed char value; /* bool value, or sign of an infinity; 0 for NaN */
} special_scalar;

static const special_scalar SPECIALS[] = {
    {"y", 1, RK_BOOL, 1},      {"Y", 1, RK_BOOL, 1},      {"n", 1, RK_BOOL, 0},
    {"N", 1, RK_BOOL, 0},      {"~", 1, RK_NULL, 0},      {"on", 2, RK_BOOL, 1},
    {"On", 2, RK_BOOL, 1},     {"ON", 2, RK_BOOL, 1},     {"no", 2, RK_BOOL, 0},
    {"No", 2, RK_BOOL, 0},     {"NO", 2, RK_BOOL, 0},     {"yes", 3, RK_BOOL, 1},
    {"Yes", 3, RK_BOOL, 1},    {"YES", 3, RK_BOOL, 1},    {"off", 3, RK_BOOL, 0},
    {"Off", 3, RK_BOOL, 0},    {"OFF", 3, RK_BOOL, 0},    {"true", 4, RK_BOOL, 1},
    {"True", 4, RK_BOOL, 1},   {"TRUE", 4, RK_BOOL, 1},   {"null", 4, RK_NULL, 0},
    {"Null", 4, RK_NULL, 0},   {"NULL", 4, RK_NULL, 0},   {".nan", 4, RK_FLOAT, 0},
    {".NaN", 4, RK_FLOAT, 0},  {".NAN", 4, RK_FLOAT, 0},  {".inf", 4, RK_FLOAT, 1},
    {".Inf", 4, RK_FLOAT, 1},  {".INF", 4, RK_FLOAT, 1},  {"false", 5, RK_BOOL, 0},
    {"False", 5, RK_BOOL, 0},  {"FALSE", 5, RK_BOOL, 0},  {"+.inf", 5, RK_FLOAT, 1},
    {"+.Inf", 5, RK_FLOAT, 1}, {"+.INF", 5, RK_FLOAT, 1}, {"-.inf", 5, RK_FLOAT, -1},
    {"-.Inf", 5, RK_FLOAT, -1}, {"-.INF", 5, RK_FLOAT, -1},
};

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int to_lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

static int lookup_special(const char *s, size_t n, scalar_res *r)
{
    if (n > 5)
        return 0;
    for (size_t i = 0; i < sizeof SPECIALS / sizeof SPECIALS[0]; i++) {
        const special_scalar *sp = &SPECIALS[i];
        if (sp->len != n || memcmp(sp->text, s, n) != 0)
            continue;
        r->type = sp->type;
        if (sp->type == RK_BOOL)
            r->boolean = sp->value;
        else if (sp->type == RK_FLOAT)
            r->number = sp->value == 0 ? NAN : sp->value * (double)INFINITY;
        return 1;
    }
    return 0;
}

/* strconv.ParseUint(s, base, 64); base 0 detects 0b/0o/0x and leading-0 octal. */
static int go_parse_uint(const char *s, size_t n, int base, uint64_t *out)
{
    if (n == 0)
        return 0;
    if (base == 0) {
        base = 10;
        if (s[0] == '0') {
            int c1 = n >= 3 ? to_lower((unsigned char)s[1]) : 0;
            if (c1 == 'b' || c1 == 'o' || c1 == 'x') {
                base = c1 == 'b' ? 2 : c1 == 'o' ? 8 : 16;
                s += 2;
                n -= 2;
            } else {
                base = 8;
                s += 1;
                n -= 1;
            }
        }
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        int c = to_lower((unsigned char)s[i]);
        int d;
        if (is_digit(c))
            d = c - '0';
        else if (c >= 'a' && c <= 'z')
            d = c - 'a' + 10;
        else
            return 0;
        if (d >= base)
            return 0;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return 0;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = v;
    return 1;
}

/* strconv.ParseInt(s, base, 64). */
static int go_parse_int(const char *s, size_t n, int base, int64_t *out)
{
    int neg = 0;
    if (n && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        s++;
        n--;
    }
    uint64_t u;
    if (!go_parse_uint(s, n, base, &u))
        return 0;
    if (!neg && u > (uint64_t)INT64_MAX)
        return 0;
    if (neg && u > (uint64_t)INT64_MAX + 1)
        return 0;
    if (!neg)
        *out = (int64_t)u;
    else if (u == (uint64_t)INT64_MAX + 1)
        *out = INT64_MIN;
    else
        *out = -(int64_t)u;
    return 1;
}

/* ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static int yaml_style_float(const char *s, size_t n)
{
    size_t i = 0, start;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    if (i < n && s[i] == '.') {
        start = ++i;
        while (i < n && is_digit((unsigned char)s[i]))
            i++;
        if (i == start)
            return 0;
    } else {
        start = i;
        while (i < n && is_digit((unsigned char)s[i]))
            i++;
        if (i == start)
            return 0;
        if (i < n && s[i] == '.') {
            i++;
            while (i < n && is_digit((unsigned char)s[i]))
                i++;
        }
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        start = i;
        while (i < n && is_digit((unsigned char)s[i]))
            i++;
        if (i == start)
            return 0;
    }
    return i == n;
}

/* What strconv.ParseFloat accepts for a string that starts with '.': digits with
 * single underscores between digits, then an optional exponent. */
static int go_dot_float_syntax(const char *s, size_t n)
{
    size_t i = 1;
    int digits = 0;
    char prev = '.';
    for (; i < n; i++) {
        if (is_digit((unsigned char)s[i])) {
            digits = 1;
            prev = '0';
        } else if (s[i] == '_') {
            if (prev != '0')
                return 0;
            prev = '_';
        } else {
            break;
        }
    }
    if (!digits || prev == '_')
        return 0;
    if (i == n)
        return 1;
    if (s[i] != 'e' && s[i] != 'E')
        return 0;
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    if (i >= n || !is_digit((unsigned char)s[i]))
        return 0;
    for (; i < n; i++) {
        if (is_digit((unsigned char)s[i]))
            prev = '0';
        else if (s[i] == '_' && prev == '0')
            prev = '_';
        else
            return 0;
    }
    return prev != '_';
}

/* strtod on a syntax-checked copy without underscores; 0 when the value overflows
 * (Go's ParseFloat reports ErrRange there and the scalar stays a string). */
static int parse_float_text(const char *s, size_t n, double *out)
{
    char small[128];
    char *tmp = n < sizeof small ? small : malloc(n + 1);
    if (!tmp)
        return 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '_')
            tmp[m++] = s[i];
    tmp[m] = '\0';
    double d = strtod(tmp, NULL);
    if (tmp != small)
        free(tmp);
    if (isinf(d))
        return 0;
    *out = d;
    return 1;
}

static void resolve_plain(const char *s, size_t n, scalar_res *r)
{
    memset(r, 0, sizeof *r);
    r->type = RK_STRING;
    if (n == 0) {
        r->type = RK_NULL;
        return;
    }
    int c0 = (unsigned char)s[0];
    char hint;
    if (c0 == '+' || c0 == '-')
        hint = 'S';
    else if (is_digit(c0))
        hint = 'D';
    else if (c0 == '.')
        hint = '.';
    else if (strchr("yYnNtTfFoO~", c0))
        hint = 'M';
    else
        return;
    if (lookup_special(s, n, r))
        return;
    if (hint == 'M')
        return;
    if (hint == '.') {
        if (go_dot_float_syntax(s, n) && parse_float_text(s, n, &r->number))
            r->type = RK_FLOAT;
        return;
    }

    char small[128];
    char *plain = n < sizeof small ? small : malloc(n + 1);
    if (!plain)
        return;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '_')
            plain[m++] = s[i];
    plain[m] = '\0';

    uint64_t u;
    if (go_parse_int(plain, m, 0, &r->integer)) {
        r->type = RK_INT;
        r->via_int = 1;
    } else if (go_parse_uint(plain, m, 0, &u)) {
        r->type = RK_FLOAT;
        r->number = (double)u;
        r->via_int = 1;
    } else if (yaml_style_float(plain, m) && parse_float_text(plain, m, &r->number)) {
        r->type = RK_FLOAT;
    } else if (m > 2 && plain[0] == '0' && plain[1] == 'b') {
        /* go-yaml retries "0b" + signed binary digits, e.g. 0b-101 == -5 */
        if (go_parse_int(plain + 2, m - 2, 2, &r->integer)) {
            r->type = RK_INT;
            r->via_int = 1;
        }
    }
    if (plain != small)
        free(plain);
}

rk_type rk_yaml_plain_type(const char *s, size_t len)
{
    scalar_res r;
    resolve_plain(s, len, &r);
    return r.type;
}

/* ------------------------------------------------------------------------------------
 * PyYAML's YAML 1.1 resolver (yaml/resolver.py) and constructors (yaml/constructor.py,
 * SafeConstructor), used for Rigelfiles because Rigel reads them with PyYAML. The
 * patterns are PyYAML's, in POSIX ERE (they use no Python-only syntax). Timestamps stay
 * text, as they do for manifests.
 * ---------------------------------------------------------------------------------- */

static const char *const PYYAML_PATTERNS[RK_PYYAML_NPATTERNS] = {
    /* bool */
    "^(yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
    /* float: note the signed exponent and the required dot (1e3 is a string) */
    "^([-+]?[0-9][0-9_]*\\.[0-9_]*([eE][-+][0-9]+)?|\\.[0-9][0-9_]*([eE][-+][0-9]+)?"
    "|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN))$",
    /* int: 0b, leading-0 octal (0o is a string), decimal, 0x, sexagesimal (1:30 = 90) */
    "^([-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
    "|[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+)$",
    /* null */
    "^(~|null|Null|NULL)$",
};

rk_status rk_pyyaml_resolver_init(rk_pyyaml_resolver *res)
{
    for (int i = 0; i < RK_PYYAML_NPATTERNS; i++) {
        if (regcomp(&res->re[i], PYYAML_PATTERNS[i], REG_EXTENDED | REG_NOSUB) != 0) {
            for (int j = 0; j < i; j++)
                regfree(&res->re[j]);
            return RK_ERR_NOMEM;
        }
    }
    return RK_OK;
}

void rk_pyyaml_resolver_free(rk_pyyaml_resolver *res)
{
    for (int i = 0; i < RK_PYYAML_NPATTERNS; i++)
        regfree(&res->re[i]);
}

/* The text without '_' and without its sign; *neg says which sign it had. */
static size_t pyyaml_digits(const char *s, size_t n, char *out, size_t size, int *neg)
{
    size_t m = 0, i = 0;
    *neg = 0;
    if (n && (s[0] == '-' || s[0] == '+')) {
        *neg = s[0] == '-';
        i = 1;
    }
    for (; i < n && m + 1 < size; i++)
        if (s[i] != '_')
            out[m++] = s[i];
    out[m] = '\0';
    return m;
}

/* Python's int(text, base) on digits already checked by the pattern; 0 when empty
 * (PyYAML itself raises there, e.g. for `0b_`) or beyond int64. */
static int pyyaml_int_base(const char *t, int base, int64_t *out)
{
    if (!*t)
        return 0;
    uint64_t v = 0;
    for (; *t; t++) {
        int d = is_digit((unsigned char)*t) ? *t - '0' : to_lower((unsigned char)*t) - 'a' + 10;
        if (v > ((uint64_t)INT64_MAX - (uint64_t)d) / (uint64_t)base)
            return 0;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = (int64_t)v;
    return 1;
}

static void resolve_pyyaml(const rk_pyyaml_resolver *res, const char *s, size_t n,
                           scalar_res *r)
{
    memset(r, 0, sizeof *r);
    r->type = RK_STRING;
    if (n == 0) {
        r->type = RK_NULL;
        return;
    }
    if (strlen(s) != n || n > 256)
        return; /* libyaml's text is NUL-terminated; longer text is no number */
    if (regexec(&res->re[3], s, 0, NULL, 0) == 0) {
        r->type = RK_NULL;
    } else if (regexec(&res->re[0], s, 0, NULL, 0) == 0) {
        r->type = RK_BOOL;
        r->boolean = strchr("yYtToO", s[0]) && !(to_lower((unsigned char)s[1]) == 'f');
    } else if (regexec(&res->re[2], s, 0, NULL, 0) == 0) {
        char t[260], *save = NULL;
        int neg;
        pyyaml_digits(s, n, t, sizeof t, &neg);
        int64_t v = 0;
        int ok;
        if (strcmp(t, "0") == 0) {
            ok = 1;
        } else if (t[0] == '0' && t[1] == 'b') {
            ok = pyyaml_int_base(t + 2, 2, &v);
        } else if (t[0] == '0' && t[1] == 'x') {
            ok = pyyaml_int_base(t + 2, 16, &v);
        } else if (t[0] == '0') {
            ok = pyyaml_int_base(t + 1, 8, &v);
        } else if (strchr(t, ':')) {
            ok = 1;
            for (char *part = strtok_r(t, ":", &save); part && ok; part = strtok_r(NULL, ":", &save)) {
                int64_t d;
                ok = pyyaml_int_base(part, 10, &d) && v <= (INT64_MAX - d) / 60;
                if (ok)
                    v = v * 60 + d;
            }
        } else {
            ok = pyyaml_int_base(t, 10, &v);
        }
        if (ok) {
            r->type = RK_INT;
            r->via_int = 1;
            r->integer = neg ? -v : v;
        }
    } else if (regexec(&res->re[1], s, 0, NULL, 0) == 0) {
        char t[260], *save = NULL;
        int neg;
        pyyaml_digits(s, n, t, sizeof t, &neg);
        double d = 0;
        if (to_lower((unsigned char)t[1]) == 'i') {
            d = INFINITY;
        } else if (to_lower((unsigned char)t[1]) == 'n') {
            d = NAN;
            neg = 0;
        } else if (strchr(t, ':')) {
            for (char *part = strtok_r(t, ":", &save); part; part = strtok_r(NULL, ":", &save))
                d = d * 60 + strtod(part, NULL);
        } else {
            d = strtod(t, NULL);
        }
        r->type = RK_FLOAT;
        r->number = neg ? -d : d;
    }
}

rk_type rk_yaml_pyyaml_type(const rk_pyyaml_resolver *res, const char *s, size_t len)
{
    scalar_res r;
    resolve_pyyaml(res, s, len, &r);
    return r.type;
}

/* strconv.FormatFloat(f, 'g', -1, 32), then sigs.k8s.io/yaml's renaming of Inf/NaN:
 * how kubectl turns a float map key into a string. */
static size_t go_format_float32_key(double d, char *out, size_t size)
{
    float f = (float)d;
    if (isnan(f))
        return (size_t)snprintf(out, size, ".nan");
    if (isinf(f))
        return (size_t)snprintf(out, size, f > 0 ? ".inf" : "-.inf");
    if (f == 0)
        return (size_t)snprintf(out, size, signbit(f) ? "-0" : "0");
    char e[32];
    int prec;
    for (prec = 1; prec <= 9; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, (double)f);
        if (strtof(e, NULL) == f)
            break;
    }
    /* e = [-]d[.ddd]e[+-]XX */
    const char *p = e;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    char digits[16];
    int nd = 0;
    for (; *p && *p != 'e'; p++)
        if (is_digit((unsigned char)*p))
            digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    int exp = atoi(p + 1);
    char buf[64];
    size_t k = 0;
    if (neg)
        buf[k++] = '-';
    if (exp < -4 || exp >= 6) {
        buf[k++] = digits[0];
        if (nd > 1) {
            buf[k++] = '.';
            for (int i = 1; i < nd; i++)
                buf[k++] = digits[i];
        }
        k += (size_t)snprintf(buf + k, sizeof buf - k, "e%c%02d", exp < 0 ? '-' : '+',
                              exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        buf[k++] = '0';
        buf[k++] = '.';
        for (int i = -1; i > exp; i--)
            buf[k++] = '0';
        for (int i = 0; i < nd; i++)
            buf[k++] = digits[i];
    } else {
        for (int i = 0; i <= exp || i < nd; i++) {
            if (i == exp + 1)
                buf[k++] = '.';
            buf[k++] = i < nd ? digits[i] : '0';
        }
    }
    buf[k] = '\0';
    return (size_t)snprintf(out, size, "%s", buf);
}

/* ------------------------------------------------------------------------------------
 * Loader: libyaml events -> rk_value, with an explicit stack (no recursion on input).
 * ---------------------------------------------------------------------------------- */

#define MAP_INDEX_THRESHOLD 8

typedef struct {
    rk_value *src;
    size_t at;     /* member index where the merged keys go */
    int from_alias; /* src is a fresh alias copy: its members can be moved, not copied */
    uint32_t line, col; /* of the << key */
} merge_src;

typedef struct {
    rk_value *node;
    char *anchor;
    /* mappings only */
    int have_key, key_is_merge;
    char *key;
    size_t key_len;
    uint32_t key_line, key_col;
    merge_src *merges;
    size_t nmerges, merges_cap;
    rk_keyset index; /* built once the map has MAP_INDEX_THRESHOLD members */
} frame;

typedef struct {
    const char *buf;
    size_t len;
    const char *filename;
    size_t max_alias_nodes, alias_nodes;
    uint32_t copy_line, copy_col; /* the alias or merge being expanded, for messages */
    int max_depth;
    int keep_null_docs;
    const rk_pyyaml_resolver *pyyaml; /* set: Rigelfile scalars (PyYAML's rules) */
    rk_error *err;

    frame *frames;
    size_t nframes, frames_cap;
    rk_keyset anchors; /* name (owned) -> (size_t)(uintptr_t) node */
    char **anchor_names;
    size_t nanchor_names, anchor_names_cap;
    rk_value **grave; /* consumed nodes an anchor may still point into */
    size_t ngrave, grave_cap;
    rk_value *root;
    rk_value *docs;
} loader;

static rk_status fail_at(loader *ld, rk_status code, uint32_t line, uint32_t col,
                         const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

static rk_status fail_at(loader *ld, rk_status code, uint32_t line, uint32_t col,
                         const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ld->filename)
        return rk_error_set(ld->err, code, "%s:%" PRIu32 ":%" PRIu32 ": %s", ld->filename,
                            line, col, msg);
    return rk_error_set(ld->err, code, "%" PRIu32 ":%" PRIu32 ": %s", line, col, msg);
}

static rk_status nomem(loader *ld)
{
    return rk_error_set(ld->err, RK_ERR_NOMEM, "%s%sout of memory while loading YAML",
                        ld->filename ? ld->filename : "", ld->filename ? ": " : "");
}

/* A key or value for messages: at most 60 bytes, control bytes shown as '?'. */
static void describe_text(const char *s, size_t n, char *out, size_t size)
{
    size_t k = 0, max = size - 4;
    for (size_t i = 0; i < n && k < max; i++)
        out[k++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    if (k < n && k >= max) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

static char *dup_cstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static rk_status grave_add(loader *ld, rk_value *v)
{
    if (ld->ngrave == ld->grave_cap) {
        size_t cap = ld->grave_cap ? ld->grave_cap * 2 : 16;
        rk_value **p = realloc(ld->grave, cap * sizeof *p);
        if (!p) {
            rk_value_free(v);
            return nomem(ld);
        }
        ld->grave = p;
        ld->grave_cap = cap;
    }
    ld->grave[ld->ngrave++] = v;
    return RK_OK;
}

/* Nodes taken apart while loading: freed, unless an anchor may still point into them. */
static rk_status discard(loader *ld, rk_value *v, int anchored)
{
    if (anchored)
        return grave_add(ld, v);
    rk_value_free(v);
    return RK_OK;
}

static void reset_document(loader *ld)
{
    for (size_t i = 0; i < ld->nanchor_names; i++)
        free(ld->anchor_names[i]);
    ld->nanchor_names = 0;
    rk_keyset_free(&ld->anchors);
    for (size_t i = 0; i < ld->ngrave; i++)
        rk_value_free(ld->grave[i]);
    ld->ngrave = 0;
}

static rk_status register_anchor(loader *ld, char *name, rk_value *node)
{
    size_t *slot = rk_keyset_find(&ld->anchors, name, strlen(name));
    if (slot) {
        *slot = (size_t)(uintptr_t)node;
        free(name);
        return RK_OK;
    }
    if (ld->nanchor_names == ld->anchor_names_cap) {
        size_t cap = ld->anchor_names_cap ? ld->anchor_names_cap * 2 : 8;
        char **p = realloc(ld->anchor_names, cap * sizeof *p);
        if (!p) {
            free(name);
            return nomem(ld);
        }
        ld->anchor_names = p;
        ld->anchor_names_cap = cap;
    }
    ld->anchor_names[ld->nanchor_names++] = name;
    if (rk_keyset_add(&ld->anchors, name, strlen(name), (size_t)(uintptr_t)node) != 0)
        return nomem(ld);
    return RK_OK;
}

static rk_value *copy_limited(loader *ld, const rk_value *v, size_t depth, rk_status *st)
{
    if (++ld->alias_nodes > ld->max_alias_nodes) {
        *st = fail_at(ld, RK_ERR_LIMIT, ld->copy_line, ld->copy_col,
                      "aliases expand to more than %zu nodes; refusing to load what looks "
                      "like an alias bomb (raise max_alias_nodes if this is intended)",
                      ld->max_alias_nodes);
        return NULL;
    }
    if ((v->type == RK_SEQ || v->type == RK_MAP) && depth > (size_t)ld->max_depth) {
        *st = fail_at(ld, RK_ERR_LIMIT, ld->copy_line, ld->copy_col,
                      "alias expands to nesting deeper than %d levels", ld->max_depth);
        return NULL;
    }
    rk_value *c;
    if (v->type == RK_SEQ) {
        c = rk_seq_new();
        if (c && v->as.seq.len) {
            c->as.seq.items = malloc(v->as.seq.len * sizeof *c->as.seq.items);
            if (!c->as.seq.items) {
                free(c);
                c = NULL;
            } else {
                c->as.seq.cap = v->as.seq.len;
            }
        }
        if (!c) {
            *st = nomem(ld);
            return NULL;
        }
        for (size_t i = 0; i < v->as.seq.len; i++) {
            rk_value *item = copy_limited(ld, v->as.seq.items[i], depth + 1, st);
            if (!item) {
                rk_value_free(c);
                return NULL;
            }
            c->as.seq.items[c->as.seq.len++] = item;
        }
    } else if (v->type == RK_MAP) {
        c = rk_map_new();
        if (c && v->as.map.len) {
            c->as.map.items = malloc(v->as.map.len * sizeof *c->as.map.items);
            if (!c->as.map.items) {
                free(c);
                c = NULL;
            } else {
                c->as.map.cap = v->as.map.len;
            }
        }
        if (!c) {
            *st = nomem(ld);
            return NULL;
        }
        for (size_t i = 0; i < v->as.map.len; i++) {
            const rk_member *m = &v->as.map.items[i];
            rk_value *val = copy_limited(ld, m->value, depth + 1, st);
            if (!val) {
                rk_value_free(c);
                return NULL;
            }
            char *k = malloc(m->key_len + 1);
            if (!k) {
                rk_value_free(val);
                rk_value_free(c);
                *st = nomem(ld);
                return NULL;
            }
            memcpy(k, m->key, m->key_len + 1);
            rk_member *d = &c->as.map.items[c->as.map.len++];
            *d = *m;
            d->key = k;
            d->value = val;
        }
    } else {
        c = rk_value_copy(v);
        if (!c) {
            *st = nomem(ld);
            return NULL;
        }
    }
    c->line = v->line;
    c->col = v->col;
    return c;
}

static rk_status binary_value(loader *ld, const char *s, size_t n, uint32_t line,
                             uint32_t col, rk_value **out)
{
    unsigned char *bytes;
    size_t len;
    rk_error why;
    rk_status st = rk_base64_decode(s, n, &bytes, &len, &why);
    if (st == RK_ERR_PARSE)
        return fail_at(ld, RK_ERR_PARSE, line, col, "!!binary value is not valid base64: %s",
                       why.msg);
    if (st != RK_OK)
        return nomem(ld);
    *out = rk_string_new((const char *)bytes, len);
    free(bytes);
    return *out ? RK_OK : nomem(ld);
}

static const char *short_tag(const char *tag, char *buf, size_t size)
{
    if (strncmp(tag, TAG_PREFIX, sizeof TAG_PREFIX - 1) == 0)
        snprintf(buf, size, "!!%s", tag + sizeof TAG_PREFIX - 1);
    else
        snprintf(buf, size, "%s", tag);
    return buf;
}

static rk_value *value_from_res(const scalar_res *r, const char *s, size_t n)
{
    switch (r->type) {
    case RK_NULL: return rk_null_new();
    case RK_BOOL: return rk_bool_new(r->boolean);
    case RK_INT: return rk_int_new(r->integer);
    case RK_FLOAT: return rk_float_new(r->number);
    default: return rk_string_new(s, n);
    }
}

static void resolve_scalar(const loader *ld, const char *s, size_t n, scalar_res *r)
{
    if (ld->pyyaml)
        resolve_pyyaml(ld->pyyaml, s, n, r);
    else
        resolve_plain(s, n, r);
}

static rk_status make_scalar(loader *ld, const yaml_event_t *ev, rk_value **out)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    uint32_t line = (uint32_t)ev->start_mark.line + 1, col = (uint32_t)ev->start_mark.column + 1;
    scalar_res r;
    rk_status st = RK_OK;

    if (!tag) {
        if (ev->data.scalar.plain_implicit)
            resolve_scalar(ld, s, n, &r);
        else
            r.type = RK_STRING;
        *out = value_from_res(&r, s, n);
    } else if (strncmp(tag, TAG_PREFIX, sizeof TAG_PREFIX - 1) != 0) {
        *out = rk_string_new(s, n); /* local and unknown tags: kept as text */
    } else {
        const char *name = tag + sizeof TAG_PREFIX - 1;
        char tagbuf[64], text[64];
        if (strcmp(name, "str") == 0 || strcmp(name, "merge") == 0) {
            *out = rk_string_new(s, n);
        } else if (strcmp(name, "binary") == 0) {
            return binary_value(ld, s, n, line, col, out);
        } else if (strcmp(name, "timestamp") == 0) {
            *out = rk_string_new(s, n);
        } else if (strcmp(name, "int") == 0 || strcmp(name, "float") == 0 ||
                   strcmp(name, "bool") == 0 || strcmp(name, "null") == 0) {
            resolve_scalar(ld, s, n, &r);
            int ok;
            if (name[0] == 'i')
                ok = r.via_int;
            else if (name[0] == 'f')
                ok = r.type == RK_FLOAT || r.type == RK_INT;
            else if (name[0] == 'b')
                ok = r.type == RK_BOOL;
            else
                ok = r.type == RK_NULL;
            if (!ok) {
                describe_text(s, n, text, sizeof text);
                const char *rtag = r.type == RK_INT ? "!!int"
                                   : r.type == RK_FLOAT ? "!!float"
                                   : r.type == RK_BOOL ? "!!bool"
                                   : r.type == RK_NULL ? "!!null"
                                                       : "!!str";
                return fail_at(ld, RK_ERR_PARSE, line, col, "cannot decode %s `%s` as a %s",
                               rtag, text, short_tag(tag, tagbuf, sizeof tagbuf));
            }
            if (name[0] == 'f' && r.type == RK_INT) {
                r.type = RK_FLOAT;
                r.number = (double)r.integer;
            }
            *out = value_from_res(&r, s, n);
        } else {
            *out = rk_string_new(s, n); /* !!map/!!seq on a scalar, !!omap, ...: text */
        }
    }
    if (!*out)
        return nomem(ld);
    (*out)->line = line;
    (*out)->col = col;
    return st;
}

/* Map keys are strings; a scalar key that resolved to something else becomes the text
 * kubectl would use (sigs.k8s.io/yaml convertToJSONableObject). */
static rk_status key_text(loader *ld, rk_value *k, int anchored, char **out, size_t *len)
{
    char tmp[64];
    size_t n;
    switch (k->type) {
    case RK_STRING:
        if (!anchored) {
            *out = k->as.str.ptr;
            *len = k->as.str.len;
            k->as.str.ptr = NULL;
            k->as.str.len = 0;
            return RK_OK;
        }
        n = k->as.str.len;
        *out = malloc(n + 1);
        if (!*out)
            return nomem(ld);
        memcpy(*out, k->as.str.ptr, n + 1);
        *len = n;
        return RK_OK;
    case RK_BOOL:
        n = (size_t)snprintf(tmp, sizeof tmp, "%s", k->as.boolean ? "true" : "false");
        break;
    case RK_INT:
        n = (size_t)snprintf(tmp, sizeof tmp, "%" PRId64, k->as.integer);
        break;
    case RK_FLOAT:
        n = go_format_float32_key(k->as.number, tmp, sizeof tmp);
        break;
    case RK_NULL:
        return fail_at(ld, RK_ERR_PARSE, k->line, k->col,
                       "map key is null, which Kubernetes cannot represent; quote it if "
                       "you mean the text");
    default:
        return fail_at(ld, RK_ERR_PARSE, k->line, k->col,
                       "a %s cannot be used as a map key",
                       k->type == RK_SEQ ? "sequence" : "mapping");
    }
    *out = malloc(n + 1);
    if (!*out)
        return nomem(ld);
    memcpy(*out, tmp, n + 1);
    *len = n;
    return RK_OK;
}

static long find_key(frame *fr, const char *key, size_t len)
{
    rk_value *map = fr->node;
    if (fr->index.cap) {
        size_t *idx = rk_keyset_find(&fr->index, key, len);
        return idx ? (long)*idx : -1;
    }
    for (size_t i = 0; i < map->as.map.len; i++) {
        const rk_member *m = &map->as.map.items[i];
        if (m->key_len == len && memcmp(m->key, key, len) == 0)
            return (long)i;
    }
    return -1;
}

static rk_status index_member(loader *ld, frame *fr, size_t idx)
{
    rk_value *map = fr->node;
    if (!fr->index.cap && map->as.map.len < MAP_INDEX_THRESHOLD)
        return RK_OK;
    if (!fr->index.cap) {
        for (size_t i = 0; i < map->as.map.len; i++)
            if (rk_keyset_add(&fr->index, map->as.map.items[i].key,
                              map->as.map.items[i].key_len, i) != 0)
                return nomem(ld);
        return RK_OK;
    }
    const rk_member *m = &map->as.map.items[idx];
    if (rk_keyset_add(&fr->index, m->key, m->key_len, idx) != 0)
        return nomem(ld);
    return RK_OK;
}

static int valid_merge_source(const rk_value *v)
{
    if (v->type == RK_MAP)
        return 1;
    if (v->type != RK_SEQ)
        return 0;
    for (size_t i = 0; i < v->as.seq.len; i++)
        if (v->as.seq.items[i]->type != RK_MAP)
            return 0;
    return 1;
}

/* Puts a finished node where it belongs: document root, sequence item, map key, map
 * value or merge source. Takes ownership of v in every case. */
static rk_status attach(loader *ld, rk_value *v, int anchored, int from_alias, int merge_key)
{
    if (ld->nframes == 0) {
        ld->root = v;
        return RK_OK;
    }
    frame *fr = &ld->frames[ld->nframes - 1];
    rk_value *parent = fr->node;
    if (parent->type == RK_SEQ) {
        if (rk_seq_push(parent, v) != RK_OK)
            return nomem(ld);
        return RK_OK;
    }
    if (!fr->have_key) {
        uint32_t line = v->line, col = v->col;
        rk_status st = RK_OK;
        if (merge_key) {
            fr->key_is_merge = 1;
        } else {
            st = key_text(ld, v, anchored, &fr->key, &fr->key_len);
            if (st == RK_OK) {
                long prev = find_key(fr, fr->key, fr->key_len);
                if (prev >= 0) {
                    char text[64];
                    describe_text(fr->key, fr->key_len, text, sizeof text);
                    st = fail_at(ld, RK_ERR_PARSE, line, col,
                                 "mapping key \"%s\" already defined at line %" PRIu32, text,
                                 parent->as.map.items[prev].key_line);
                    free(fr->key);
                    fr->key = NULL;
                }
            }
        }
        rk_status st2 = discard(ld, v, anchored);
        if (st != RK_OK)
            return st;
        if (st2 != RK_OK)
            return st2;
        fr->have_key = 1;
        fr->key_line = line;
        fr->key_col = col;
        return RK_OK;
    }
    fr->have_key = 0;
    if (fr->key_is_merge) {
        fr->key_is_merge = 0;
        if (!valid_merge_source(v)) {
            rk_status st = fail_at(ld, RK_ERR_PARSE, v->line, v->col,
                                   "map merge requires map or sequence of maps as the value");
            rk_value_free(v);
            return st;
        }
        if (fr->nmerges == fr->merges_cap) {
            size_t cap = fr->merges_cap ? fr->merges_cap * 2 : 2;
            merge_src *p = realloc(fr->merges, cap * sizeof *p);
            if (!p) {
                rk_value_free(v);
                return nomem(ld);
            }
            fr->merges = p;
            fr->merges_cap = cap;
        }
        fr->merges[fr->nmerges].line = fr->key_line;
        fr->merges[fr->nmerges].col = fr->key_col;
        fr->merges[fr->nmerges].src = v;
        fr->merges[fr->nmerges].at = parent->as.map.len;
        fr->merges[fr->nmerges].from_alias = from_alias && !anchored;
        fr->nmerges++;
        return RK_OK;
    }
    if (parent->as.map.len == parent->as.map.cap) {
        size_t cap = parent->as.map.cap ? parent->as.map.cap * 2 : 4;
        rk_member *p = realloc(parent->as.map.items, cap * sizeof *p);
        if (!p) {
            rk_value_free(v);
            return nomem(ld);
        }
        parent->as.map.items = p;
        parent->as.map.cap = cap;
    }
    rk_member *m = &parent->as.map.items[parent->as.map.len++];
    m->key = fr->key;
    m->key_len = fr->key_len;
    m->key_line = fr->key_line;
    m->key_col = fr->key_col;
    m->value = v;
    fr->key = NULL;
    return index_member(ld, fr, parent->as.map.len - 1);
}

/* Merged keys go where the `<<` entry was; keys written in the map itself always win,
 * and among merge sources the earlier one wins (YAML merge key spec). */
static rk_status apply_merges(loader *ld, frame *fr)
{
    rk_value *map = fr->node;
    size_t total = map->as.map.len;
    for (size_t i = 0; i < fr->nmerges; i++) {
        const rk_value *src = fr->merges[i].src;
        if (src->type == RK_MAP)
            total += src->as.map.len;
        else
            for (size_t j = 0; j < src->as.seq.len; j++)
                total += src->as.seq.items[j]->as.map.len;
    }
    rk_member *out = malloc((total ? total : 1) * sizeof *out);
    if (!out)
        return nomem(ld);
    rk_keyset seen = {0};
    rk_status st = RK_OK;
    for (size_t i = 0; i < map->as.map.len; i++)
        if (rk_keyset_add(&seen, map->as.map.items[i].key, map->as.map.items[i].key_len, 0))
            st = nomem(ld);
    size_t olen = 0, mi = 0;
    for (size_t i = 0; st == RK_OK && i <= map->as.map.len; i++) {
        for (; st == RK_OK && mi < fr->nmerges && fr->merges[mi].at == i; mi++) {
            merge_src *ms = &fr->merges[mi];
            ld->copy_line = ms->line;
            ld->copy_col = ms->col;
            size_t nsrc = ms->src->type == RK_MAP ? 1 : ms->src->as.seq.len;
            for (size_t s = 0; st == RK_OK && s < nsrc; s++) {
                rk_value *sm = ms->src->type == RK_MAP ? ms->src : ms->src->as.seq.items[s];
                for (size_t k = 0; st == RK_OK && k < sm->as.map.len; k++) {
                    rk_member *m = &sm->as.map.items[k];
                    if (rk_keyset_find(&seen, m->key, m->key_len))
                        continue;
                    rk_member nm = *m;
                    if (ms->from_alias) {
                        m->key = NULL;
                        m->value = NULL;
                    } else {
                        nm.key = malloc(m->key_len + 1);
                        nm.value = nm.key ? copy_limited(ld, m->value, ld->nframes + 1, &st)
                                          : NULL;
                        if (!nm.key && st == RK_OK)
                            st = nomem(ld);
                        if (!nm.value) {
                            free(nm.key);
                            break;
                        }
                        memcpy(nm.key, m->key, m->key_len + 1);
                    }
                    out[olen++] = nm;
                    if (rk_keyset_add(&seen, nm.key, nm.key_len, 0) != 0)
                        st = nomem(ld);
                }
            }
        }
        if (i < map->as.map.len)
            out[olen++] = map->as.map.items[i];
    }
    rk_keyset_free(&seen);
    if (st != RK_OK) {
        /* out shares members with map: free only what was merged in */
        for (size_t i = 0; i < olen; i++) {
            int own = 1;
            for (size_t j = 0; j < map->as.map.len; j++)
                if (map->as.map.items[j].key == out[i].key)
                    own = 0;
            if (own) {
                free(out[i].key);
                rk_value_free(out[i].value);
            }
        }
        free(out);
        return st;
    }
    free(map->as.map.items);
    map->as.map.items = out;
    map->as.map.len = olen;
    map->as.map.cap = total ? total : 1;
    for (size_t i = 0; i < fr->nmerges; i++) {
        merge_src *ms = &fr->merges[i];
        if (ms->from_alias) {
            /* moved-out members left NULL keys/values behind; free(NULL) is fine */
            rk_value_free(ms->src);
        } else if (grave_add(ld, ms->src) != RK_OK) {
            st = nomem(ld);
        }
        ms->src = NULL;
    }
    fr->nmerges = 0;
    return st;
}

static void frame_clear(frame *fr)
{
    rk_value_free(fr->node);
    free(fr->anchor);
    free(fr->key);
    for (size_t i = 0; i < fr->nmerges; i++)
        rk_value_free(fr->merges[i].src);
    free(fr->merges);
    rk_keyset_free(&fr->index);
    memset(fr, 0, sizeof *fr);
}

static rk_status push_frame(loader *ld, rk_value *node, const yaml_char_t *anchor)
{
    if (ld->nframes >= (size_t)ld->max_depth) {
        rk_status st = fail_at(ld, RK_ERR_LIMIT, node->line, node->col,
                               "nesting deeper than %d levels", ld->max_depth);
        rk_value_free(node);
        return st;
    }
    if (ld->nframes == ld->frames_cap) {
        size_t cap = ld->frames_cap ? ld->frames_cap * 2 : 16;
        frame *p = realloc(ld->frames, cap * sizeof *p);
        if (!p) {
            rk_value_free(node);
            return nomem(ld);
        }
        ld->frames = p;
        ld->frames_cap = cap;
    }
    frame *fr = &ld->frames[ld->nframes];
    memset(fr, 0, sizeof *fr);
    fr->node = node;
    if (anchor) {
        fr->anchor = dup_cstr((const char *)anchor);
        if (!fr->anchor) {
            rk_value_free(node);
            fr->node = NULL;
            return nomem(ld);
        }
    }
    ld->nframes++;
    return RK_OK;
}

static rk_status pop_frame(loader *ld)
{
    frame *fr = &ld->frames[ld->nframes - 1];
    rk_status st = RK_OK;
    if (fr->nmerges)
        st = apply_merges(ld, fr);
    if (st != RK_OK)
        return st; /* the frame stays on the stack and is freed by cleanup */
    rk_value *node = fr->node;
    char *anchor = fr->anchor;
    fr->node = NULL;
    fr->anchor = NULL;
    frame_clear(fr);
    ld->nframes--;
    if (anchor && (st = register_anchor(ld, anchor, node)) != RK_OK) {
        rk_value_free(node);
        return st;
    }
    return attach(ld, node, anchor != NULL, 0, 0);
}

static int expecting_key(const loader *ld)
{
    if (ld->nframes == 0)
        return 0;
    const frame *fr = &ld->frames[ld->nframes - 1];
    return fr->node->type == RK_MAP && !fr->have_key;
}

static rk_status on_alias(loader *ld, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    uint32_t line = (uint32_t)ev->start_mark.line + 1, col = (uint32_t)ev->start_mark.column + 1;
    size_t *slot = rk_keyset_find(&ld->anchors, name, strlen(name));
    if (!slot) {
        for (size_t i = 0; i < ld->nframes; i++)
            if (ld->frames[i].anchor && strcmp(ld->frames[i].anchor, name) == 0)
                return fail_at(ld, RK_ERR_PARSE, line, col,
                               "anchor '%s' value contains itself", name);
        return fail_at(ld, RK_ERR_PARSE, line, col, "unknown anchor '%s' referenced", name);
    }
    rk_status st = RK_OK;
    ld->copy_line = line;
    ld->copy_col = col;
    rk_value *copy = copy_limited(ld, (rk_value *)(uintptr_t)*slot, ld->nframes + 1, &st);
    if (!copy)
        return st;
    copy->line = line;
    copy->col = col;
    return attach(ld, copy, 0, 1, 0);
}

static rk_status on_scalar(loader *ld, const yaml_event_t *ev)
{
    int merge_key = 0;
    if (expecting_key(ld) && ev->data.scalar.length == 2 &&
        memcmp(ev->data.scalar.value, "<<", 2) == 0) {
        const char *tag = (const char *)ev->data.scalar.tag;
        merge_key = tag ? strcmp(tag, TAG_PREFIX "merge") == 0
                        : ev->data.scalar.plain_implicit;
    }
    rk_value *v;
    rk_status st = make_scalar(ld, ev, &v);
    if (st != RK_OK)
        return st;
    int anchored = ev->data.scalar.anchor != NULL;
    if (anchored) {
        char *name = dup_cstr((const char *)ev->data.scalar.anchor);
        if (!name) {
            rk_value_free(v);
            return nomem(ld);
        }
        if ((st = register_anchor(ld, name, v)) != RK_OK) {
            rk_value_free(v);
            return st;
        }
    }
    return attach(ld, v, anchored, 0, merge_key);
}

static rk_status end_document(loader *ld)
{
    rk_value *doc = ld->root;
    ld->root = NULL;
    rk_status st = RK_OK;
    if (doc && (doc->type != RK_NULL || ld->keep_null_docs)) {
        if (rk_seq_push(ld->docs, doc) != RK_OK)
            st = nomem(ld);
    } else {
        rk_value_free(doc);
    }
    reset_document(ld);
    return st;
}

static uint32_t count_line_col(const char *buf, size_t len, size_t offset, uint32_t *col)
{
    uint32_t line = 1, c = 1;
    if (offset > len)
        offset = len;
    for (size_t i = 0; i < offset; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (ch == '\n') {
            line++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c++;
        }
    }
    *col = c;
    return line;
}

static rk_status parser_error(loader *ld, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->error == YAML_MEMORY_ERROR)
        return nomem(ld);
    if (p->error == YAML_READER_ERROR) {
        uint32_t col, line = count_line_col(ld->buf, ld->len, p->problem_offset, &col);
        if (p->problem_value != -1)
            return fail_at(ld, RK_ERR_PARSE, line, col, "%s (byte 0x%02X)", problem,
                           (unsigned)p->problem_value);
        return fail_at(ld, RK_ERR_PARSE, line, col, "%s", problem);
    }
    uint32_t line = (uint32_t)p->problem_mark.line + 1;
    uint32_t col = (uint32_t)p->problem_mark.column + 1;
    const char *hint = "";
    if (p->problem_mark.index < ld->len && ld->buf[p->problem_mark.index] == '\t')
        hint = "; YAML does not allow tabs for indentation, use spaces";
    if (p->context)
        return fail_at(ld, RK_ERR_PARSE, line, col, "%s (%s at line %zu, column %zu)%s",
                       problem, p->context, p->context_mark.line + 1,
                       p->context_mark.column + 1, hint);
    return fail_at(ld, RK_ERR_PARSE, line, col, "%s%s", problem, hint);
}

rk_status rk_yaml_load(const char *buf, size_t len, const char *filename,
                       const rk_yaml_opts *opts, rk_value **docs_out, rk_error *err)
{
    loader ld;
    memset(&ld, 0, sizeof ld);
    ld.buf = buf;
    ld.len = len;
    ld.filename = filename;
    ld.err = err;
    ld.max_alias_nodes = RK_YAML_DEFAULT_MAX_ALIAS_NODES;
    ld.max_depth = RK_MAX_DEPTH;
    if (opts) {
        if (opts->max_alias_nodes)
            ld.max_alias_nodes = opts->max_alias_nodes;
        if (opts->max_depth > 0 && opts->max_depth < RK_MAX_DEPTH)
            ld.max_depth = opts->max_depth;
        ld.keep_null_docs = opts->keep_null_docs;
        ld.pyyaml = opts->pyyaml;
    }
    *docs_out = NULL;
    ld.docs = rk_seq_new();
    if (!ld.docs)
        return nomem(&ld);

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        rk_value_free(ld.docs);
        return nomem(&ld);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)(len ? buf : ""), len);

    rk_status st = RK_OK;
    int done = 0;
    while (st == RK_OK && !done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            st = parser_error(&ld, &parser);
            break;
        }
        uint32_t line = (uint32_t)ev.start_mark.line + 1;
        uint32_t col = (uint32_t)ev.start_mark.column + 1;
        rk_value *node;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            ld.root = NULL;
            break;
        case YAML_DOCUMENT_END_EVENT:
            st = end_document(&ld);
            break;
        case YAML_SCALAR_EVENT:
            st = on_scalar(&ld, &ev);
            break;
        case YAML_ALIAS_EVENT:
            st = on_alias(&ld, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            node = ev.type == YAML_SEQUENCE_START_EVENT ? rk_seq_new() : rk_map_new();
            if (!node) {
                st = nomem(&ld);
                break;
            }
            node->line = line;
            node->col = col;
            if (expecting_key(&ld)) {
                rk_value_free(node);
                st = fail_at(&ld, RK_ERR_PARSE, line, col, "a %s cannot be used as a map key",
                             ev.type == YAML_SEQUENCE_START_EVENT ? "sequence" : "mapping");
                break;
            }
            st = push_frame(&ld, node,
                            ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.anchor
                                                                 : ev.data.mapping_start.anchor);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            st = pop_frame(&ld);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);

    while (ld.nframes)
        frame_clear(&ld.frames[--ld.nframes]);
    free(ld.frames);
    rk_value_free(ld.root);
    reset_document(&ld);
    free(ld.grave);
    free(ld.anchor_names);
    if (st != RK_OK) {
        rk_value_free(ld.docs);
        return st;
    }
    *docs_out = ld.docs;
    return RK_OK;
}

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
    int printable;   /* every char printable or tab (no newline) */
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
    if (c0 == '-' && (n == 1 || s[1] == ' ' || s[1] == '\t' || (n >= 3 && s[1] == '-' && s[2] == '-')))
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
    case RK_NULL:
        rk_buf_append(d->b, "null", 4);
        break;
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
    case RK_SEQ:
        rk_buf_append(d->b, "[]", 2);
        break;
    case RK_MAP:
        rk_buf_append(d->b, "{}", 2);
        break;
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
