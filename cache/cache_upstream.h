/* cache-proxy's calls to the upstream API over libcurl: one easy handle per worker thread, so
 * its connections are kept alive between calls. Forwards the client's request (method, target,
 * body, end-to-end headers, X-Forwarded-For/-Host/-Proto added) and collects the answer with
 * its end-to-end headers, bounded in body bytes and header count.
 * @locality: a handle belongs to one worker thread. */
#ifndef CACHE_UPSTREAM_H
#define CACHE_UPSTREAM_H

#include <stddef.h>

#include "cache_entry.h"
#include "hs_err.h"
#include "hs_http.h"

typedef struct cache_upstream cache_upstream_t;

typedef struct {
    long status;
    size_t nheaders;
    cache_header_t headers[CACHE_ENTRY_MAX_HEADERS]; /* owned: cache_upstream_resp_clear */
    char *body;                                      /* owned; NUL after len bytes */
    size_t len;
    double seconds; /* how long the call took */
} cache_upstream_resp_t;

/* base_url "http[s]://host[:port][/base]" (a trailing '/' is dropped); max_body bounds an
 * answer's body. Returns a new handle (cache_upstream_destroy) or NULL with errstr. */
cache_upstream_t *cache_upstream_new(const char *base_url, long timeout_ms, size_t max_body,
                                     char *errstr, size_t errstr_size);
void cache_upstream_destroy(cache_upstream_t *u);

/* Returns 0 when base_url is one cache_upstream_new accepts, else -1. */
int cache_upstream_url_ok(const char *base_url);

typedef struct {
    const char *method;       /* sent as is; "HEAD" asks for no body */
    int drop_accept_encoding; /* 1: ask for the identity encoding (a cached GET) */
} cache_upstream_opts_t;

/* Forwards req to the upstream. HS_OK with *resp filled (any status; caller clears it);
 * HS_ERR_TIMEOUT past the timeout; HS_ERR_UNAVAILABLE when it cannot be reached;
 * HS_ERR_TOO_LARGE over max_body or CACHE_ENTRY_MAX_HEADERS headers; HS_ERR_IO otherwise.
 * errstr names the method and URL. */
hs_err_t cache_upstream_call(cache_upstream_t *u, hs_http_req_t *req,
                             const cache_upstream_opts_t *opts, cache_upstream_resp_t *resp,
                             char *errstr, size_t errstr_size);

/* Frees what resp owns and zeroes it; NULL: no-op. */
void cache_upstream_resp_clear(cache_upstream_resp_t *resp);

/* Returns 1 for the hop-by-hop headers a proxy never forwards (Connection, Keep-Alive,
 * Transfer-Encoding, ...), and for the ones it sets itself (Host, Content-Length). */
int cache_upstream_hop_header(const char *name);

#endif
