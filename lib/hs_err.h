/* Error codes shared by every module, their names, and the one mapping from an error to an HTTP
 * status. Functions that can fail return hs_err_t and take (char *errstr, size_t errstr_size):
 * on failure errstr holds one human-readable line naming what failed and where. */
#ifndef HS_ERR_H
#define HS_ERR_H

#include <stddef.h>

typedef enum {
    HS_OK = 0,
    HS_ERR_INVALID,     /* bad input from the caller: config, JSON, schema, arguments */
    HS_ERR_AUTH,        /* missing or wrong credentials or signature */
    HS_ERR_FORBIDDEN,   /* authenticated but not allowed */
    HS_ERR_NOT_FOUND,   /* the named thing does not exist */
    HS_ERR_CONFLICT,    /* exists already, or incompatible with what exists */
    HS_ERR_TOO_LARGE,   /* an input exceeded its bound */
    HS_ERR_UNSUPPORTED, /* the peer or platform does not implement the operation */
    HS_ERR_TIMEOUT,     /* a deadline passed */
    HS_ERR_UNAVAILABLE, /* a dependency (broker, Postgres, Redis, HTTP peer) is unreachable */
    HS_ERR_IO,          /* local file or socket error */
    HS_ERR_INTERNAL,    /* a bug or an unexpected library failure */
} hs_err_t;

/* Returns a static lower-case name for err ("invalid", "not_found", ...). */
const char *hs_err_str(hs_err_t err);

/* Returns the HTTP status that answers err (400, 401, 403, 404, 409, 413, 501, 504, 503, 500). */
int hs_err_http_status(hs_err_t err);

/* Formats into errstr like snprintf and returns err, so failures read `return hs_fail(...)`. */
hs_err_t hs_fail(hs_err_t err, char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
