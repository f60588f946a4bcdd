#include "yaml_internal.h"

#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------
 * Scalar resolution: a transcription of go-yaml v2's resolve() (resolve.go), which is
 * what kubectl runs on every manifest through sigs.k8s.io/yaml.
 * ---------------------------------------------------------------------------------- */

typedef struct {
    const char *text;
    unsigned char len;
    rk_type type;
    signed char value; /* bool value, or sign of an infinity; 0 for NaN */
} special_scalar;

static const special_scalar SPECIALS[] = {
    {"y", 1, RK_BOOL, 1},       {"Y", 1, RK_BOOL, 1},       {"n", 1, RK_BOOL, 0},
    {"N", 1, RK_BOOL, 0},       {"~", 1, RK_NULL, 0},       {"on", 2, RK_BOOL, 1},
    {"On", 2, RK_BOOL, 1},      {"ON", 2, RK_BOOL, 1},      {"no", 2, RK_BOOL, 0},
    {"No", 2, RK_BOOL, 0},      {"NO", 2, RK_BOOL, 0},      {"yes", 3, RK_BOOL, 1},
    {"Yes", 3, RK_BOOL, 1},     {"YES", 3, RK_BOOL, 1},     {"off", 3, RK_BOOL, 0},
    {"Off", 3, RK_BOOL, 0},     {"OFF", 3, RK_BOOL, 0},     {"true", 4, RK_BOOL, 1},
    {"True", 4, RK_BOOL, 1},    {"TRUE", 4, RK_BOOL, 1},    {"null", 4, RK_NULL, 0},
    {"Null", 4, RK_NULL, 0},    {"NULL", 4, RK_NULL, 0},    {".nan", 4, RK_FLOAT, 0},
    {".NaN", 4, RK_FLOAT, 0},   {".NAN", 4, RK_FLOAT, 0},   {".inf", 4, RK_FLOAT, 1},
    {".Inf", 4, RK_FLOAT, 1},   {".INF", 4, RK_FLOAT, 1},   {"false", 5, RK_BOOL, 0},
    {"False", 5, RK_BOOL, 0},   {"FALSE", 5, RK_BOOL, 0},   {"+.inf", 5, RK_FLOAT, 1},
    {"+.Inf", 5, RK_FLOAT, 1},  {"+.INF", 5, RK_FLOAT, 1},  {"-.inf", 5, RK_FLOAT, -1},
    {"-.Inf", 5, RK_FLOAT, -1}, {"-.INF", 5, RK_FLOAT, -1},
};

static int to_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

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

void rk_yaml_resolve_plain(const char *s, size_t n, scalar_res *r)
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
    rk_yaml_resolve_plain(s, len, &r);
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

void rk_yaml_resolve_pyyaml(const rk_pyyaml_resolver *res, const char *s, size_t n, scalar_res *r)
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
            for (char *part = strtok_r(t, ":", &save); part && ok;
                 part = strtok_r(NULL, ":", &save)) {
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
    rk_yaml_resolve_pyyaml(res, s, len, &r);
    return r.type;
}

/* strconv.FormatFloat(f, 'g', -1, 32), then sigs.k8s.io/yaml's renaming of Inf/NaN:
 * how kubectl turns a float map key into a string. */
size_t rk_yaml_go_float32_key(double d, char *out, size_t size)
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
