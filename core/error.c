#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void mark_truncated(char *buf, size_t size)
{
    memcpy(buf + size - 4, "...", 4);
}

rk_status rk_error_set(rk_error *err, rk_status code, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        err->msg[0] = '\0';
    else if ((size_t)n >= sizeof err->msg)
        mark_truncated(err->msg, sizeof err->msg);
    return code;
}

void rk_error_prefix(rk_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n < 0) {
        memcpy(err->msg, old, sizeof old);
        return;
    }
    if ((size_t)n >= sizeof err->msg) {
        mark_truncated(err->msg, sizeof err->msg);
        return;
    }
    size_t room = sizeof err->msg - (size_t)n;
    size_t oldlen = strlen(old);
    if (oldlen < room) {
        memcpy(err->msg + n, old, oldlen + 1);
    } else {
        memcpy(err->msg + n, old, room - 1);
        err->msg[sizeof err->msg - 1] = '\0';
        mark_truncated(err->msg, sizeof err->msg);
    }
}

void rk_error_clear(rk_error *err)
{
    if (!err)
        return;
    err->code = RK_OK;
    err->msg[0] = '\0';
}

const char *rk_status_name(rk_status code)
{
    switch (code) {
    case RK_OK: return "ok";
    case RK_ERR_PARSE: return "parse";
    case RK_ERR_NOMEM: return "nomem";
    case RK_ERR_IO: return "io";
    case RK_ERR_INVALID: return "invalid";
    case RK_ERR_LIMIT: return "limit";
    case RK_ERR_NOT_FOUND: return "not_found";
    case RK_ERR_CONFLICT: return "conflict";
    case RK_ERR_NETWORK: return "network";
    case RK_ERR_TIMEOUT: return "timeout";
    case RK_ERR_HTTP: return "http";
    case RK_ERR_UNSUPPORTED: return "unsupported";
    case RK_ERR_INTERNAL: return "internal";
    }
    return "unknown";
}
