/* buf.h — a growable byte buffer for building output (YAML, JSON, HTTP bodies).
 * Allocation failure is sticky: appends after a failure are ignored and rk_buf_status
 * reports RK_ERR_NOMEM once, at the end, so builders need not check every append. */
#ifndef RK_BUF_H
#define RK_BUF_H

#include <stddef.h>
#include <string.h>

#include "error.h"

/* Ownership: the buffer owns data. rk_buf_free releases it; rk_buf_detach hands it to
 * the caller (who frees it with free()). data is always NUL-terminated when non-NULL,
 * the terminator not counted in len. A zeroed rk_buf (RK_BUF_INIT) is a valid empty
 * buffer. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
    int failed;
} rk_buf;

#define RK_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

void rk_buf_init(rk_buf *b);
void rk_buf_free(rk_buf *b);
/* Makes room for n more bytes (plus the terminator). Returns 0, or -1 (and marks the
 * buffer failed) when memory runs out. */
int rk_buf_grow(rk_buf *b, size_t n);
void rk_buf_printf(rk_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Returns the bytes (caller frees) and leaves b empty; NULL if the buffer failed. */
char *rk_buf_detach(rk_buf *b, size_t *len_out);
/* RK_OK, or RK_ERR_NOMEM if any append failed (err gets a message). */
rk_status rk_buf_status(const rk_buf *b, rk_error *err);

static inline void rk_buf_append(rk_buf *b, const void *p, size_t n)
{
    if (b->cap - b->len <= n && rk_buf_grow(b, n) != 0)
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static inline void rk_buf_putc(rk_buf *b, char c)
{
    if (b->cap - b->len <= 1 && rk_buf_grow(b, 1) != 0)
        return;
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

static inline void rk_buf_puts(rk_buf *b, const char *s)
{
    rk_buf_append(b, s, strlen(s));
}

/* Appends n copies of c (indentation). */
static inline void rk_buf_fill(rk_buf *b, char c, size_t n)
{
    if (b->cap - b->len <= n && rk_buf_grow(b, n) != 0)
        return;
    memset(b->data + b->len, c, n);
    b->len += n;
    b->data[b->len] = '\0';
}

#endif
