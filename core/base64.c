#include "base64.h"

#include <stdlib.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int value_of(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

rk_status rk_base64_decode(const char *text, size_t len, unsigned char **out, size_t *out_len,
                           rk_error *err)
{
    *out = NULL;
    *out_len = 0;
    unsigned char *dst = malloc(len / 4 * 3 + 3);
    if (!dst)
        return rk_error_set(err, RK_ERR_NOMEM, "out of memory");
    size_t n = 0, quad = 0, pad = 0;
    unsigned long acc = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            if (quad < 2 || quad + ++pad > 4) {
                free(dst);
                return rk_error_set(err, RK_ERR_PARSE, "'=' padding where none belongs (byte %zu)",
                                    i + 1);
            }
            continue;
        }
        int v = value_of(c);
        if (v < 0 || pad) {
            free(dst);
            if (v < 0)
                return rk_error_set(err, RK_ERR_PARSE,
                                    "byte %zu is not a base64 character (A-Z a-z 0-9 + /, "
                                    "then = padding)",
                                    i + 1);
            return rk_error_set(err, RK_ERR_PARSE, "data after the '=' padding (byte %zu)", i + 1);
        }
        acc = acc << 6 | (unsigned long)v;
        if (++quad == 4) {
            dst[n++] = (unsigned char)(acc >> 16);
            dst[n++] = (unsigned char)(acc >> 8);
            dst[n++] = (unsigned char)acc;
            quad = 0;
            acc = 0;
        }
    }
    if (quad && quad + pad != 4) {
        free(dst);
        if (quad == 1)
            return rk_error_set(err, RK_ERR_PARSE,
                                "ends with a lone character (the last "
                                "group of 4 needs at least 2 before its padding)");
        return rk_error_set(err, RK_ERR_PARSE,
                            "missing '=' padding at the end (the last group has %zu "
                            "characters; base64 comes in groups of 4)",
                            quad + pad);
    }
    if (quad == 2) {
        dst[n++] = (unsigned char)(acc >> 4);
    } else if (quad == 3) {
        dst[n++] = (unsigned char)(acc >> 10);
        dst[n++] = (unsigned char)(acc >> 2);
    }
    dst[n] = '\0';
    *out = dst;
    *out_len = n;
    return RK_OK;
}

void rk_base64_encode(rk_buf *out, const void *data, size_t len)
{
    const unsigned char *d = data;
    for (size_t i = 0; i < len; i += 3) {
        unsigned long v = (unsigned long)d[i] << 16;
        if (i + 1 < len)
            v |= (unsigned long)d[i + 1] << 8;
        if (i + 2 < len)
            v |= d[i + 2];
        char q[4] = {alphabet[v >> 18 & 63], alphabet[v >> 12 & 63],
                     i + 1 < len ? alphabet[v >> 6 & 63] : '=',
                     i + 2 < len ? alphabet[v & 63] : '='};
        rk_buf_append(out, q, 4);
    }
}
