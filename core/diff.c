/* diff.c — Myers' line diff in linear space and its unified output (see diff.h).
 *
 * Lines are first numbered (equal lines, newline included, get equal numbers through a
 * hash table), so the search compares integers. compareseq strips the common ends and
 * splits the rest at the middle snake found by diag(), as GNU diff's diffseq.h does, so
 * memory is O(N + M) and time O((N + M) D). Past a cost of about sqrt(N + M) (at least
 * 4096) edit steps in one split, diag() takes the furthest point reached instead of the
 * exact middle snake: the diff stays correct but may be slightly longer than minimal,
 * and a huge, wholly different pair of texts cannot take quadratic time. */
#include "diff.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *p;
    size_t len; /* with the '\n' when there is one */
} diff_line;

typedef struct {
    const int *a, *b; /* line numbers */
    long *fd, *bd;    /* furthest x per diagonal, forward and backward */
    char *a_changed, *b_changed;
    long too_expensive;
} diff_ctx;

static size_t count_lines(const char *s, size_t n)
{
    size_t lines = 0;
    for (const char *p = s, *end = s + n; p < end; lines++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    return lines;
}

static void split_lines(const char *s, size_t n, diff_line *out)
{
    size_t i = 0;
    for (const char *p = s, *end = s + n; p < end; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *next = nl ? nl + 1 : end;
        out[i].p = p;
        out[i].len = (size_t)(next - p);
        p = next;
    }
}

static uint64_t hash_line(const diff_line *l)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < l->len; i++) {
        h ^= (unsigned char)l->p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Gives every line of both texts a number, equal lines equal numbers. */
static int number_lines(const diff_line *lines, size_t n, int *ids)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    size_t *slots = malloc(cap * sizeof *slots); /* index of the first line + 1; 0: empty */
    uint64_t *hashes = malloc((n ? n : 1) * sizeof *hashes);
    if (!slots || !hashes) {
        free(slots);
        free(hashes);
        return -1;
    }
    memset(slots, 0, cap * sizeof *slots);
    for (size_t i = 0; i < n; i++) {
        uint64_t h = hashes[i] = hash_line(&lines[i]);
        size_t at = (size_t)h & (cap - 1);
        for (;;) {
            size_t s = slots[at];
            if (s == 0) {
                slots[at] = i + 1;
                ids[i] = (int)i;
                break;
            }
            const diff_line *o = &lines[s - 1];
            if (hashes[s - 1] == h && o->len == lines[i].len &&
                memcmp(o->p, lines[i].p, o->len) == 0) {
                ids[i] = ids[s - 1];
                break;
            }
            at = (at + 1) & (cap - 1);
        }
    }
    free(slots);
    free(hashes);
    return 0;
}

/* Finds where the edit path from (xoff, yoff) to (xlim, ylim) crosses its middle. */
static void diag(diff_ctx *c, long xoff, long xlim, long yoff, long ylim, long *xmid, long *ymid)
{
    const int *xv = c->a, *yv = c->b;
    long *fd = c->fd, *bd = c->bd;
    const long dmin = xoff - ylim, dmax = xlim - yoff;
    const long fmid = xoff - yoff, bmid = xlim - ylim;
    long fmin = fmid, fmax = fmid, bmin = bmid, bmax = bmid;
    const int odd = (fmid - bmid) & 1;
    fd[fmid] = xoff;
    bd[bmid] = xlim;
    for (long cost = 1;; cost++) {
        if (fmin > dmin)
            fd[--fmin - 1] = -1;
        else
            ++fmin;
        if (fmax < dmax)
            fd[++fmax + 1] = -1;
        else
            --fmax;
        for (long d = fmax; d >= fmin; d -= 2) {
            long tlo = fd[d - 1], thi = fd[d + 1];
            long x = tlo >= thi ? tlo + 1 : thi;
            long y = x - d;
            while (x < xlim && y < ylim && xv[x] == yv[y])
                x++, y++;
            fd[d] = x;
            if (odd && bmin <= d && d <= bmax && bd[d] <= x) {
                *xmid = x;
                *ymid = y;
                return;
            }
        }
        if (bmin > dmin)
            bd[--bmin - 1] = LONG_MAX;
        else
            ++bmin;
        if (bmax < dmax)
            bd[++bmax + 1] = LONG_MAX;
        else
            --bmax;
        for (long d = bmax; d >= bmin; d -= 2) {
            long tlo = bd[d - 1], thi = bd[d + 1];
            long x = tlo < thi ? tlo : thi - 1;
            long y = x - d;
            while (xoff < x && yoff < y && xv[x - 1] == yv[y - 1])
                x--, y--;
            bd[d] = x;
            if (!odd && fmin <= d && d <= fmax && x <= fd[d]) {
                *xmid = x;
                *ymid = y;
                return;
            }
        }
        if (cost >= c->too_expensive) {
            /* Too costly to find the exact middle: split at the point, forward or
             * backward, that got furthest. */
            long fxybest = -1, fxbest = xoff;
            for (long d = fmax; d >= fmin; d -= 2) {
                long x = fd[d] < xlim ? fd[d] : xlim, y = x - d;
                if (ylim < y)
                    x = ylim + d, y = ylim;
                if (fxybest < x + y)
                    fxybest = x + y, fxbest = x;
            }
            long bxybest = LONG_MAX, bxbest = xlim;
            for (long d = bmax; d >= bmin; d -= 2) {
                long x = bd[d] > xoff ? bd[d] : xoff, y = x - d;
                if (y < yoff)
                    x = yoff + d, y = yoff;
                if (x + y < bxybest)
                    bxybest = x + y, bxbest = x;
            }
            if ((xlim + ylim) - bxybest < fxybest - (xoff + yoff)) {
                *xmid = fxbest;
                *ymid = fxybest - fxbest;
            } else {
                *xmid = bxbest;
                *ymid = bxybest - bxbest;
            }
            return;
        }
    }
}

static void compareseq(diff_ctx *c, long xoff, long xlim, long yoff, long ylim)
{
    while (xoff < xlim && yoff < ylim && c->a[xoff] == c->b[yoff])
        xoff++, yoff++;
    while (xoff < xlim && yoff < ylim && c->a[xlim - 1] == c->b[ylim - 1])
        xlim--, ylim--;
    if (xoff == xlim) {
        while (yoff < ylim)
            c->b_changed[yoff++] = 1;
    } else if (yoff == ylim) {
        while (xoff < xlim)
            c->a_changed[xoff++] = 1;
    } else {
        long xmid, ymid;
        diag(c, xoff, xlim, yoff, ylim, &xmid, &ymid);
        compareseq(c, xoff, xmid, yoff, ymid);
        compareseq(c, xmid, xlim, ymid, ylim);
    }
}

/* One line of output: kind, and the line's index in its text (a for ' ' and '-'). */
typedef struct {
    char kind;
    size_t a, b; /* indexes into a and b at this point (0-based) */
} diff_op;

static void put_line(rk_buf *out, char kind, const diff_line *l)
{
    rk_buf_putc(out, kind);
    int has_nl = l->len > 0 && l->p[l->len - 1] == '\n';
    rk_buf_append(out, l->p, has_nl ? l->len - 1 : l->len);
    rk_buf_putc(out, '\n');
    if (!has_nl)
        rk_buf_puts(out, "\\ No newline at end of file\n");
}

static void print_hunks(const diff_op *ops, size_t nops, const diff_line *la, const diff_line *lb,
                        const rk_diff_opts *opts, rk_buf *out)
{
    size_t ctxn = (size_t)(opts && opts->context >= 0 ? opts->context : 3);
    size_t k = 0;
    int header = 0;
    while (k < nops) {
        if (ops[k].kind == ' ') {
            k++;
            continue;
        }
        /* A hunk: from this change to the last one within 2*context+1 ops of the one
         * before it. */
        size_t first = k, last = k;
        for (size_t j = k + 1; j < nops && j - last <= 2 * ctxn + 1; j++)
            if (ops[j].kind != ' ')
                last = j;
        if (!header) {
            rk_buf_printf(out, "--- %s\n+++ %s\n", opts && opts->from ? opts->from : "a",
                          opts && opts->to ? opts->to : "b");
            header = 1;
        }
        size_t s = first > ctxn ? first - ctxn : 0;
        size_t e = last + ctxn < nops - 1 ? last + ctxn : nops - 1;
        size_t a_start = 0, b_start = 0, a_len = 0, b_len = 0;
        for (size_t x = s; x <= e; x++) {
            if (ops[x].kind != '+' && a_len++ == 0)
                a_start = ops[x].a + 1;
            if (ops[x].kind != '-' && b_len++ == 0)
                b_start = ops[x].b + 1;
        }
        /* An empty range names the line before it (GNU diff's convention; 0 at the top). */
        if (a_len == 0)
            a_start = ops[s].a;
        if (b_len == 0)
            b_start = ops[s].b;
        rk_buf_printf(out, "@@ -%zu,%zu +%zu,%zu @@\n", a_start, a_len, b_start, b_len);
        for (size_t x = s; x <= e; x++)
            put_line(out, ops[x].kind, ops[x].kind == '+' ? &lb[ops[x].b] : &la[ops[x].a]);
        k = last + 1;
    }
}

rk_status rk_diff_unified(const char *a, size_t a_len, const char *b, size_t b_len,
                          const rk_diff_opts *opts, rk_buf *out, rk_error *err)
{
    size_t n = count_lines(a, a_len), m = count_lines(b, b_len);
    if (n + m > (size_t)INT_MAX / 2)
        return rk_error_set(err, RK_ERR_LIMIT, "diff: more than %d lines", INT_MAX / 2);
    size_t total = n + m;
    diff_line *lines = malloc((total ? total : 1) * sizeof *lines);
    int *ids = malloc((total ? total : 1) * sizeof *ids);
    char *changed = calloc(total ? total : 1, 1);
    long *vec = malloc(2 * (total + 3) * sizeof *vec);
    diff_op *ops = malloc((total ? total : 1) * sizeof *ops);
    rk_status st = RK_OK;
    if (!lines || !ids || !changed || !vec || !ops) {
        st = rk_error_set(err, RK_ERR_NOMEM, "diff: out of memory for %zu lines", total);
        goto done;
    }
    split_lines(a, a_len, lines);
    split_lines(b, b_len, lines + n);
    if (number_lines(lines, total, ids) != 0) {
        st = rk_error_set(err, RK_ERR_NOMEM, "diff: out of memory for %zu lines", total);
        goto done;
    }
    diff_ctx c = {ids, ids + n, vec + m + 1, vec + (total + 3) + m + 1, changed, changed + n, 0};
    c.too_expensive = 1;
    for (size_t diags = total + 3; diags; diags >>= 2)
        c.too_expensive <<= 1;
    if (c.too_expensive < 4096)
        c.too_expensive = 4096;
    compareseq(&c, 0, (long)n, 0, (long)m);

    size_t nops = 0, i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && c.a_changed[i]) {
            ops[nops++] = (diff_op){'-', i, j};
            i++;
        } else if (j < m && c.b_changed[j]) {
            ops[nops++] = (diff_op){'+', i, j};
            j++;
        } else if (i < n && j < m) {
            ops[nops++] = (diff_op){' ', i, j};
            i++, j++;
        } else {
            break; /* cannot happen: compareseq marks every line left over */
        }
    }
    print_hunks(ops, nops, lines, lines + n, opts, out);
    st = rk_buf_status(out, err);
done:
    free(lines);
    free(ids);
    free(changed);
    free(vec);
    free(ops);
    return st;
}
