/* error.h — the one status type every rigelk8s module returns, and the error record
 * that carries a human-readable message beside it (curl/SQLite style). */
#ifndef RK_ERROR_H
#define RK_ERROR_H

#include <stddef.h>

typedef enum {
    RK_OK = 0,
    RK_ERR_PARSE,       /* malformed input: YAML, JSON, kubeconfig, flags */
    RK_ERR_NOMEM,       /* allocation failed */
    RK_ERR_IO,          /* file or stream read/write failed */
    RK_ERR_INVALID,     /* well-formed input that breaks a rule (bad type, bad value) */
    RK_ERR_LIMIT,       /* a safety limit was hit: nesting depth, alias expansion, size */
    RK_ERR_NOT_FOUND,   /* the named thing does not exist */
    RK_ERR_CONFLICT,    /* the thing exists or changed under us */
    RK_ERR_NETWORK,     /* connection, DNS or TLS failure */
    RK_ERR_TIMEOUT,     /* a deadline passed */
    RK_ERR_HTTP,        /* the server answered with an error status */
    RK_ERR_UNSUPPORTED, /* valid request that this build or server cannot do */
    RK_ERR_INTERNAL     /* a bug: an invariant did not hold */
} rk_status;

typedef struct {
    rk_status code;
    char msg[512];
} rk_error;

/* Records code and a printf-formatted message in err (which may be NULL) and returns
 * code, so callers can write `return rk_error_set(err, RK_ERR_IO, "...", ...);`.
 * Messages longer than the buffer are cut with "..." at the end. */
rk_status rk_error_set(rk_error *err, rk_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Puts a formatted context in front of the message already in err ("reading x: "
 * + old message). Keeps err->code. Does nothing when err is NULL. */
void rk_error_prefix(rk_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Resets err to RK_OK with an empty message. */
void rk_error_clear(rk_error *err);

/* A stable lower-case name for a status ("parse", "nomem", ...), for structured
 * errors in Lua and JSON output. */
const char *rk_status_name(rk_status code);

#endif
