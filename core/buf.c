#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void rk_buf_init(rk_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = 0;
}

void rk_buf_free(rk_buf *b)
{
    free(b->data);
    rk_buf_init(b);
}

int rk_buf_grow(rk_buf *b, size_t n)
{
    if (b->failed)
        return -1;
    if (n >= (size_t)-1 / 2 - b->len) {
        b->failed = 1;
        return -1;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void rk_buf_printf(rk_buf *b, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        rk_buf_append(b, small, (size_t)n);
        return;
    }
    if (rk_buf_grow(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *rk_buf_detach(rk_buf *b, size_t *len_out)
{
    if (b->failed) {
        rk_buf_free(b);
        if (len_out)
            *len_out = 0;
        return NULL;
    }
    if (!b->data && rk_buf_grow(b, 0) != 0)
        return NULL;
    char *p = b->data;
    if (len_out)
        *len_out = b->len;
    p[b->len] = '\0';
    rk_buf_init(b);
    return p;
}

rk_status rk_buf_status(const rk_buf *b, rk_error *err)
{
    if (b->failed)
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory while building output");
    return RK_OK;
}
