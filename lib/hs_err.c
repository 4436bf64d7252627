#include "hs_err.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
    const char *name;
    int http;
} errs[] = {
    [HS_OK] = {"ok", 200},
    [HS_ERR_INVALID] = {"invalid", 400},
    [HS_ERR_AUTH] = {"auth", 401},
    [HS_ERR_FORBIDDEN] = {"forbidden", 403},
    [HS_ERR_NOT_FOUND] = {"not_found", 404},
    [HS_ERR_CONFLICT] = {"conflict", 409},
    [HS_ERR_TOO_LARGE] = {"too_large", 413},
    [HS_ERR_UNSUPPORTED] = {"unsupported", 501},
    [HS_ERR_TIMEOUT] = {"timeout", 504},
    [HS_ERR_UNAVAILABLE] = {"unavailable", 503},
    [HS_ERR_IO] = {"io", 500},
    [HS_ERR_INTERNAL] = {"internal", 500},
};

const char *hs_err_str(hs_err_t err) {
    if ((unsigned)err >= sizeof errs / sizeof errs[0]) return "unknown";
    return errs[err].name;
}

int hs_err_http_status(hs_err_t err) {
    if ((unsigned)err >= sizeof errs / sizeof errs[0]) return 500;
    return errs[err].http;
}

hs_err_t hs_fail(hs_err_t err, char *errstr, size_t errstr_size, const char *fmt, ...) {
    if (errstr && errstr_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return err;
}
