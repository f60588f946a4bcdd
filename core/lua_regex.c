/* rigelk8s.regex: Python-style regular expressions on PCRE2, for the templates'
 * regex_replace filter and for scripts.
 *
 *   regex.compile(pattern)            -> a Regex (compiled once per pattern, cached)
 *   regex.search(p, s [, init])       -> start, stop, groups  (first match at or after
 *                                        init; start/stop 1-based, inclusive, as in
 *                                        string.find) or nil
 *   regex.match(p, s [, init])        -> the same, anchored at init (Python's re.match)
 *   regex.sub(p, repl, s [, count])   -> text, n: Python's re.sub(p, repl, s, count)
 *
 * p is a pattern string or a Regex; a Regex has the same calls as methods
 * (re:search(s), re:sub(repl, s)) and the fields pattern and groups (its number of
 * capturing groups). groups[i] is group i's text or false when it took no part;
 * groups[name] is a named group's.
 *
 * Errors are raised as tables {message =, kind =, pattern =, offset =} whose metatable is
 * regex.Error: kind "pattern" (offset: 0-based byte offset in the pattern where PCRE2
 * stopped), "replacement" (offset in the replacement), "limit" (a match limit was hit),
 * "text" (the text is not UTF-8: it is checked once per call, as PCRE2's check after
 * every match would make a sub over a long text quadratic).
 *
 * Python compatibility: patterns are compiled in UTF-8 mode with Unicode properties
 * (PCRE2_UTF | PCRE2_UCP, as Python 3 str patterns), `\Z` means the very end (Python's,
 * PCRE2's `\z`), `{,n}` means `{0,n}` and a multi-line `^` matches after a final newline
 * (PCRE2_ALT_CIRCUMFLEX); the replacement template follows Python's
 * (`\1`, `\g<1>`, `\g<name>`, octal `\0`, `\n` ...; `$1` is plain text) and empty matches
 * follow Python 3.7+ (an empty match right after a non-empty one is replaced too). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <lauxlib.h>
#include <lua.h>
#include <pcre2.h>
#include <stdint.h>
#include <string.h>

#include "lua_modules.h"

#define REGEX_MT  "rigelk8s.Regex"
#define ERROR_MT  "rigelk8s.regex.Error"
#define CACHE_KEY "rigelk8s.regex.cache"
#define CACHE_MAX 512

/* Backtracking limits of one pcre2_match call: a nested repeat ('(a+)+b') on a text
 * that almost matches takes exponential time; these stop it with an error in about
 * 10 ms instead of hanging a deploy. Real templates take a few hundred steps. */
#define MATCH_LIMIT    1000000u
#define DEPTH_LIMIT    100000u
#define HEAP_LIMIT_KIB 32768u

typedef struct {
    pcre2_code *code;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    uint32_t groups;
} regex_ud;

/* Raises a regex.Error {message, kind, pattern, offset}. */
static int raise_error(lua_State *L, const char *kind, const char *pattern, long offset,
                       const char *message)
{
    lua_createtable(L, 0, 4);
    lua_pushstring(L, message);
    lua_setfield(L, -2, "message");
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    if (pattern) {
        lua_pushstring(L, pattern);
        lua_setfield(L, -2, "pattern");
    }
    if (offset >= 0) {
        lua_pushinteger(L, offset);
        lua_setfield(L, -2, "offset");
    }
    luaL_setmetatable(L, ERROR_MT);
    return lua_error(L);
}

/* Python's spellings PCRE2 reads differently: `\Z` (end of text; PCRE2's `\z`) and
 * `{,n}` (`{0,n}`; a literal in PCRE2 before 10.43). Classes and \Q...\E are copied as
 * they are. */
static void translate_pattern(luaL_Buffer *b, const char *p, size_t n)
{
    int in_class = 0, quoted = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (quoted) {
            if (c == '\\' && i + 1 < n && p[i + 1] == 'E') {
                luaL_addlstring(b, p + i, 2);
                i++;
                quoted = 0;
            } else {
                luaL_addchar(b, c);
            }
            continue;
        }
        if (c == '\\' && i + 1 < n) {
            char e = p[i + 1];
            if (in_class)
                in_class = 2; /* "[\]" : the escape is the class's first item */
            if (e == 'Z' && !in_class) {
                luaL_addlstring(b, "\\z", 2);
            } else {
                luaL_addlstring(b, p + i, 2);
                if (e == 'Q')
                    quoted = 1;
            }
            i++;
            continue;
        }
        if (in_class) {
            if (c == ']' && in_class > 1)
                in_class = 0;
            else
                in_class = (c == '^' && in_class == 1 && p[i - 1] == '[') ? 1 : 2;
            luaL_addchar(b, c);
            continue;
        }
        if (c == '[') {
            in_class = 1; /* a ']' right after '[' or '[^' is a literal */
            luaL_addchar(b, c);
            continue;
        }
        if (c == '{' && i + 2 < n && p[i + 1] == ',' && p[i + 2] >= '0' && p[i + 2] <= '9') {
            size_t j = i + 2;
            while (j < n && p[j] >= '0' && p[j] <= '9')
                j++;
            if (j < n && p[j] == '}') {
                luaL_addlstring(b, "{0", 2);
                continue; /* the ",n}" is copied next */
            }
        }
        luaL_addchar(b, c);
    }
}

static int regex_gc(lua_State *L)
{
    regex_ud *re = luaL_checkudata(L, 1, REGEX_MT);
    pcre2_match_data_free(re->md);
    pcre2_match_context_free(re->mctx);
    pcre2_code_free(re->code);
    re->md = NULL;
    re->mctx = NULL;
    re->code = NULL;
    return 0;
}

/* Compiles the pattern at stack index idx into a new Regex on top of the stack. */
static regex_ud *compile_new(lua_State *L, int idx)
{
    size_t n;
    const char *pattern = luaL_checklstring(L, idx, &n);
    regex_ud *re = lua_newuserdatauv(L, sizeof *re, 1);
    memset(re, 0, sizeof *re);
    luaL_setmetatable(L, REGEX_MT);
    lua_pushvalue(L, idx);
    lua_setiuservalue(L, -2, 1);

    luaL_Buffer b;
    luaL_buffinit(L, &b);
    translate_pattern(&b, pattern, n);
    luaL_pushresult(&b);
    size_t tn;
    const char *translated = lua_tolstring(L, -1, &tn);

    pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
    if (!cctx)
        luaL_error(L, "regex: out of memory");
    pcre2_set_newline(cctx, PCRE2_NEWLINE_LF);
    int code;
    PCRE2_SIZE offset;
    re->code = pcre2_compile((PCRE2_SPTR)translated, tn,
                             PCRE2_UTF | PCRE2_UCP | PCRE2_ALT_CIRCUMFLEX | PCRE2_NEVER_BACKSLASH_C,
                             &code, &offset, cctx);
    pcre2_compile_context_free(cctx);
    lua_pop(L, 1); /* translated */
    if (!re->code) {
        PCRE2_UCHAR text[256];
        pcre2_get_error_message(code, text, sizeof text);
        /* The translation only lengthens "{," to "{0,": map the offset back. */
        long off = (long)offset;
        long shift = 0;
        for (size_t i = 0; i + 1 < n && (long)(i + shift) < off; i++)
            if (pattern[i] == '{' && pattern[i + 1] == ',' && i + 2 < n && pattern[i + 2] >= '0' &&
                pattern[i + 2] <= '9')
                shift++;
        off -= shift;
        if (off > (long)n)
            off = (long)n;
        lua_pushfstring(L, "regex '%s' at position %d: %s", pattern, (int)off, (const char *)text);
        raise_error(L, "pattern", pattern, off, lua_tostring(L, -1));
    }
    re->md = pcre2_match_data_create_from_pattern(re->code, NULL);
    re->mctx = pcre2_match_context_create(NULL);
    if (!re->md || !re->mctx)
        luaL_error(L, "regex: out of memory");
    pcre2_set_match_limit(re->mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(re->mctx, DEPTH_LIMIT);
    pcre2_set_heap_limit(re->mctx, HEAP_LIMIT_KIB);
    pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &re->groups);
    return re;
}

/* The Regex for argument idx (a Regex or a pattern, compiled through the cache); leaves
 * it at idx. */
static regex_ud *check_regex(lua_State *L, int idx)
{
    regex_ud *re = luaL_testudata(L, idx, REGEX_MT);
    if (re)
        return re;
    luaL_checkstring(L, idx);
    lua_getfield(L, LUA_REGISTRYINDEX, CACHE_KEY);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    re = luaL_testudata(L, -1, REGEX_MT);
    if (re) {
        lua_replace(L, idx);
        lua_pop(L, 1);
        return re;
    }
    lua_pop(L, 1);
    /* A bounded cache: a script that builds patterns in a loop must not grow it forever.
     * Its size is at key 0 (patterns are strings). */
    lua_rawgeti(L, -1, 0);
    lua_Integer count = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (count >= CACHE_MAX) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, CACHE_KEY);
        count = 0;
    }
    re = compile_new(L, idx);
    lua_pushvalue(L, idx);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
    lua_pushinteger(L, count + 1);
    lua_rawseti(L, -3, 0);
    lua_replace(L, idx);
    lua_pop(L, 1);
    return re;
}

static const char *pattern_of(lua_State *L, int idx)
{
    lua_getiuservalue(L, idx, 1);
    const char *p = lua_tostring(L, -1);
    lua_pop(L, 1); /* still referenced by the userdata */
    return p;
}

/* Runs one pcre2_match; returns 1 on a match, 0 on none, raises on a limit. */
static int run_match(lua_State *L, int re_idx, regex_ud *re, const char *s, size_t n, size_t start,
                     uint32_t options)
{
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, start, options, re->md, re->mctx);
    if (rc >= 0)
        return 1; /* rc 0: the ovector was too small, which from_pattern rules out */
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    const char *pattern = pattern_of(L, re_idx);
    switch (rc) {
    case PCRE2_ERROR_MATCHLIMIT:
        lua_pushfstring(L,
                        "regex '%s' on a %d-byte text: gave up after %d backtracking steps "
                        "(the match limit); a repeat inside a repeat ('(a+)+', '(a|b*)*') "
                        "backtracks exponentially: rewrite it with a single repeat",
                        pattern, (int)n, (int)MATCH_LIMIT);
        break;
    case PCRE2_ERROR_DEPTHLIMIT:
    case PCRE2_ERROR_HEAPLIMIT:
        lua_pushfstring(L,
                        "regex '%s' on a %d-byte text: backtracking went deeper than the "
                        "limit (%d levels, %d MB); a repeated group over a long text keeps "
                        "a backtracking point per repeat: use a character class ('[ab]*' "
                        "rather than '(a|b)*') or match a shorter text",
                        pattern, (int)n, (int)DEPTH_LIMIT, (int)(HEAP_LIMIT_KIB / 1024));
        break;
    default: {
        PCRE2_UCHAR text[256];
        pcre2_get_error_message(rc, text, sizeof text);
        if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21) {
            /* Checked once per call (later matches of one sub pass PCRE2_NO_UTF_CHECK). */
            lua_pushfstring(L, "regex '%s': the text is not UTF-8: byte %d: %s", pattern,
                            (int)pcre2_get_startchar(re->md) + 1, (const char *)text);
            return raise_error(L, "text", pattern, -1, lua_tostring(L, -1));
        }
        lua_pushfstring(L, "regex '%s': matching failed: %s", pattern, (const char *)text);
    }
    }
    return raise_error(L, "limit", pattern, -1, lua_tostring(L, -1));
}

/* Pushes the groups table of the last match of re. */
static void push_groups(lua_State *L, regex_ud *re, const char *s)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
    lua_createtable(L, (int)re->groups, 0);
    for (uint32_t g = 1; g <= re->groups; g++) {
        if (ov[2 * g] == PCRE2_UNSET)
            lua_pushboolean(L, 0);
        else
            lua_pushlstring(L, s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
        lua_rawseti(L, -2, (lua_Integer)g);
    }
    uint32_t count, size;
    PCRE2_SPTR table;
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMEENTRYSIZE, &size);
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMETABLE, &table);
    for (uint32_t i = 0; i < count; i++) {
        PCRE2_SPTR e = table + (size_t)i * size;
        uint32_t g = ((uint32_t)e[0] << 8) | e[1];
        lua_rawgeti(L, -1, (lua_Integer)g);
        lua_setfield(L, -2, (const char *)e + 2);
    }
}

/* Converts a Lua init (1-based, negative from the end) to a byte offset, or -1 when it
 * lies past the end. */
static long start_offset(lua_State *L, int idx, size_t n)
{
    lua_Integer init = luaL_optinteger(L, idx, 1);
    if (init < 0)
        init = (lua_Integer)n + init + 1;
    if (init < 1)
        init = 1;
    if ((size_t)init > n + 1)
        return -1;
    return (long)(init - 1);
}

static int search_or_match(lua_State *L, uint32_t options)
{
    regex_ud *re = check_regex(L, 1);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    long start = start_offset(L, 3, n);
    if (start < 0 || !run_match(L, 1, re, s, n, (size_t)start, options)) {
        lua_pushnil(L);
        return 1;
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
    lua_pushinteger(L, (lua_Integer)ov[0] + 1);
    lua_pushinteger(L, (lua_Integer)ov[1]);
    push_groups(L, re, s);
    return 3;
}

static int l_search(lua_State *L)
{
    return search_or_match(L, 0);
}
static int l_match(lua_State *L)
{
    return search_or_match(L, PCRE2_ANCHORED);
}

/* A parsed replacement template: literal text pieces and group references. */
typedef struct {
    size_t lit_start, lit_len; /* a piece of the literal buffer */
    int group;                 /* -1: literal only */
} repl_part;

static int repl_fail(lua_State *L, const char *pattern, const char *repl, size_t at,
                     const char *fmt, const char *detail)
{
    lua_pushfstring(L, fmt, detail);
    lua_pushfstring(L, "regex '%s': %s in the replacement '%s' at position %d", pattern,
                    lua_tostring(L, -1), repl, (int)at);
    return raise_error(L, "replacement", pattern, (long)at, lua_tostring(L, -1));
}

static void add_utf8(luaL_Buffer *b, unsigned cp)
{
    if (cp < 0x80) {
        luaL_addchar(b, (char)cp);
    } else {
        luaL_addchar(b, (char)(0xC0 | (cp >> 6)));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3F)));
    }
}

static int is_oct(char c)
{
    return c >= '0' && c <= '7';
}
static int is_dig(char c)
{
    return c >= '0' && c <= '9';
}

/* Parses repl as Python's re does (sre_parse.parse_template). Literal text goes to lit
 * (a string pushed on the stack), parts to a userdata array pushed below it. Returns the
 * number of parts. */
static size_t parse_replacement(lua_State *L, regex_ud *re, const char *pattern, const char *repl,
                                size_t rn, repl_part **parts_out)
{
    /* At most one part per backslash plus one. */
    size_t max_parts = 1;
    for (size_t i = 0; i < rn; i++)
        max_parts += repl[i] == '\\';
    repl_part *parts = lua_newuserdatauv(L, max_parts * sizeof *parts, 0);
    size_t np = 0;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t lit_start = 0, lit_len = 0; /* the pending literal piece, in b */
    size_t i = 0;
    while (i < rn) {
        char c = repl[i];
        if (c != '\\') {
            luaL_addchar(&b, c);
            lit_len++;
            i++;
            continue;
        }
        size_t at = i;
        if (i + 1 >= rn)
            repl_fail(L, pattern, repl, at, "a lone '\\' at the end%s", "");
        char e = repl[i + 1];
        int group = -1;
        size_t before = luaL_bufflen(&b);
        if (e == 'g') {
            size_t j = i + 2;
            if (j >= rn || repl[j] != '<')
                repl_fail(L, pattern, repl, at,
                          "'\\g' needs a group in angle brackets, e.g. "
                          "'\\g<1>' or '\\g<name>'%s",
                          "");
            size_t name = j + 1, k = name;
            while (k < rn && repl[k] != '>')
                k++;
            if (k >= rn)
                repl_fail(L, pattern, repl, at, "missing '>' after '\\g<'%s", "");
            if (k == name)
                repl_fail(L, pattern, repl, at, "missing group name in '\\g<>'%s", "");
            lua_pushlstring(L, repl + name, k - name);
            const char *nm = lua_tostring(L, -1);
            int all_digits = 1;
            for (size_t q = name; q < k; q++)
                all_digits &= is_dig(repl[q]);
            if (all_digits) {
                lua_Integer g = 0;
                for (size_t q = name; q < k && g <= (lua_Integer)re->groups; q++)
                    g = g * 10 + (repl[q] - '0');
                if (g > (lua_Integer)re->groups)
                    repl_fail(L, pattern, repl, at, "group %s does not exist in the pattern", nm);
                group = (int)g;
            } else {
                int g = pcre2_substring_number_from_name(re->code, (PCRE2_SPTR)nm);
                if (g < 0)
                    repl_fail(L, pattern, repl, at, "unknown group name '%s'", nm);
                group = g;
            }
            lua_pop(L, 1);
            i = k + 1;
        } else if (e == '0') {
            unsigned v = 0;
            size_t k = i + 1, end = i + 4;
            while (k < rn && k < end && is_oct(repl[k]))
                v = v * 8 + (unsigned)(repl[k++] - '0');
            add_utf8(&b, v);
            i = k;
        } else if (is_dig(e)) {
            size_t k = i + 1;
            if (k + 1 < rn && is_dig(repl[k + 1])) {
                if (is_oct(e) && is_oct(repl[k + 1]) && k + 2 < rn && is_oct(repl[k + 2])) {
                    unsigned v =
                        (unsigned)((e - '0') * 64 + (repl[k + 1] - '0') * 8 + (repl[k + 2] - '0'));
                    if (v > 0377) {
                        lua_pushlstring(L, repl + at, 4);
                        repl_fail(L, pattern, repl, at, "octal escape '%s' is above \\377",
                                  lua_tostring(L, -1));
                    }
                    add_utf8(&b, v);
                    i = k + 3;
                    goto next;
                }
                group = (e - '0') * 10 + (repl[k + 1] - '0');
                i = k + 2;
            } else {
                group = e - '0';
                i = k + 1;
            }
            if ((uint32_t)group > re->groups) {
                lua_pushfstring(L, "%d", group);
                repl_fail(L, pattern, repl, at, "group %s does not exist in the pattern",
                          lua_tostring(L, -1));
            }
        } else {
            static const char from[] = "abfnrtv\\", to[] = "\a\b\f\n\r\t\v\\";
            const char *hit = strchr(from, e);
            if (hit && e) {
                luaL_addchar(&b, to[hit - from]);
            } else if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) {
                char esc[3] = {'\\', e, 0};
                repl_fail(L, pattern, repl, at, "bad escape '%s' (write '\\\\' for a backslash)",
                          esc);
            } else {
                luaL_addchar(&b, '\\');
                luaL_addchar(&b, e);
            }
            i += 2;
        }
    next:
        lit_len += luaL_bufflen(&b) - before;
        if (group >= 0) {
            parts[np].lit_start = lit_start;
            parts[np].lit_len = lit_len;
            parts[np].group = group;
            np++;
            lit_start += lit_len;
            lit_len = 0;
        }
    }
    parts[np].lit_start = lit_start;
    parts[np].lit_len = lit_len;
    parts[np].group = -1;
    np++;
    luaL_pushresult(&b);
    *parts_out = parts;
    return np;
}

/* Length of the UTF-8 character at s (1 for a byte that does not start a valid one). */
static size_t char_len(const unsigned char *s, size_t left)
{
    size_t want = s[0] < 0x80             ? 1
                  : (s[0] & 0xE0) == 0xC0 ? 2
                  : (s[0] & 0xF0) == 0xE0 ? 3
                  : (s[0] & 0xF8) == 0xF0 ? 4
                                          : 1;
    if (want > left)
        return 1;
    for (size_t k = 1; k < want; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 1;
    return want;
}

static int l_sub(lua_State *L)
{
    regex_ud *re = check_regex(L, 1);
    size_t rn, n;
    const char *repl = luaL_checklstring(L, 2, &rn);
    const char *s = luaL_checklstring(L, 3, &n);
    lua_Integer count = luaL_optinteger(L, 4, 0);
    const char *pattern = pattern_of(L, 1);

    repl_part *parts;
    size_t np = parse_replacement(L, re, pattern, repl, rn, &parts);
    const char *lit = lua_tostring(L, -1);

    luaL_Buffer out;
    luaL_buffinit(L, &out);
    size_t pos = 0, last = 0;
    lua_Integer done = 0;
    int prev_empty = 0;
    while (pos <= n && (count <= 0 || done < count)) {
        uint32_t options = (prev_empty ? PCRE2_NOTEMPTY_ATSTART : 0) |
                           (done ? PCRE2_NO_UTF_CHECK : 0); /* checked by the first match */
        if (!run_match(L, 1, re, s, n, pos, options))
            break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
        size_t b = ov[0], e = ov[1];
        if (b > e) /* \K in a lookahead; PCRE2 refuses it at compile time, so never */
            break;
        if (prev_empty && b == e && e == pos) {
            /* No progress (\K tricks): step over one character. */
            if (pos >= n)
                break;
            pos += char_len((const unsigned char *)s + pos, n - pos);
            prev_empty = 0;
            continue;
        }
        luaL_addlstring(&out, s + last, b - last);
        for (size_t k = 0; k < np; k++) {
            luaL_addlstring(&out, lit + parts[k].lit_start, parts[k].lit_len);
            int g = parts[k].group;
            if (g >= 0 && ov[2 * g] != PCRE2_UNSET)
                luaL_addlstring(&out, s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
        }
        last = e;
        pos = e;
        prev_empty = b == e;
        done++;
    }
    luaL_addlstring(&out, s + last, n - last);
    luaL_pushresult(&out);
    lua_pushinteger(L, done);
    return 2;
}

static int l_compile(lua_State *L)
{
    check_regex(L, 1);
    lua_settop(L, 1);
    return 1;
}

static int regex_index(lua_State *L)
{
    regex_ud *re = luaL_checkudata(L, 1, REGEX_MT);
    const char *key = luaL_checkstring(L, 2);
    if (strcmp(key, "pattern") == 0) {
        lua_getiuservalue(L, 1, 1);
        return 1;
    }
    if (strcmp(key, "groups") == 0) {
        lua_pushinteger(L, (lua_Integer)re->groups);
        return 1;
    }
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "methods");
    lua_getfield(L, -1, key);
    return 1;
}

static int regex_tostring(lua_State *L)
{
    luaL_checkudata(L, 1, REGEX_MT);
    lua_getiuservalue(L, 1, 1);
    lua_pushfstring(L, "rigelk8s.Regex(%s)", lua_tostring(L, -1));
    return 1;
}

static int error_tostring(lua_State *L)
{
    lua_getfield(L, 1, "message");
    return 1;
}

int luaopen_rigelk8s_regex(lua_State *L)
{
    static const luaL_Reg fns[] = {{"compile", l_compile},
                                   {"search", l_search},
                                   {"match", l_match},
                                   {"sub", l_sub},
                                   {NULL, NULL}};
    if (luaL_newmetatable(L, ERROR_MT)) {
        lua_pushcfunction(L, error_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    int error_mt = lua_gettop(L);
    if (luaL_newmetatable(L, REGEX_MT)) {
        lua_pushcfunction(L, regex_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, regex_index);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, regex_tostring);
        lua_setfield(L, -2, "__tostring");
        luaL_newlib(L, fns);
        lua_setfield(L, -2, "methods");
    }
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, CACHE_KEY);
    if (!lua_istable(L, -1)) {
        lua_newtable(L);
        lua_setfield(L, LUA_REGISTRYINDEX, CACHE_KEY);
    }
    lua_pop(L, 1);

    luaL_newlib(L, fns);
    lua_pushvalue(L, error_mt);
    lua_setfield(L, -2, "Error");
    lua_pushinteger(L, MATCH_LIMIT);
    lua_setfield(L, -2, "MATCH_LIMIT");
    lua_pushinteger(L, DEPTH_LIMIT);
    lua_setfield(L, -2, "DEPTH_LIMIT");
    lua_pushinteger(L, HEAP_LIMIT_KIB);
    lua_setfield(L, -2, "HEAP_LIMIT_KIB");
    char version[64];
    pcre2_config(PCRE2_CONFIG_VERSION, version);
    lua_pushstring(L, version);
    lua_setfield(L, -2, "pcre2_version");
    return 1;
}
