/* A cached answer of cache-proxy: status, the upstream headers worth keeping, body, when it was
 * stored and until when it is fresh. One immutable, reference-counted object serves as the L1
 * entry, as the answer being sent, and (its encoded bytes) as the Redis (L2) value, so a hit
 * never copies it. Also the fingerprint of a request, the name of its entry.
 * @locality: immutable after creation; references are taken and dropped from any thread. */
#ifndef CACHE_ENTRY_H
#define CACHE_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#define CACHE_ENTRY_MAX_HEADERS 100

typedef struct {
    const char *name, *value; /* NUL-terminated */
} cache_header_t;

typedef struct {
    int refs; /* atomic */
    int status;
    int64_t stored_ms;      /* unix ms the upstream answered */
    int64_t fresh_until_ms; /* unix ms after which it is stale (stale_if_error only) */
    size_t nheaders;
    const cache_header_t *headers; /* borrowed from the entry */
    const char *body;              /* body_len bytes (a NUL follows them) */
    size_t body_len;
    const char *encoded; /* the L2 value: encoded_len bytes */
    size_t encoded_len;
    size_t size; /* bytes the entry occupies in memory (for the L1 bound) */
} cache_entry_t;

/* Returns a new entry (one reference: cache_entry_unref) encoding the given answer; headers
 * and body are copied. NULL when out of memory or over CACHE_ENTRY_MAX_HEADERS headers. */
cache_entry_t *cache_entry_new(int status, int64_t stored_ms, int64_t fresh_until_ms,
                               const cache_header_t *headers, size_t nheaders, const char *body,
                               size_t body_len);

/* Returns a new entry decoded from an L2 value (copied), or NULL when it is malformed
 * (truncated, bad magic, lengths out of bounds, a NUL inside a header) or out of memory. */
cache_entry_t *cache_entry_decode(const char *data, size_t len);

/* Takes one more reference; returns e. */
cache_entry_t *cache_entry_ref(cache_entry_t *e);
/* Drops one reference; the last one frees. NULL: no-op. */
void cache_entry_unref(cache_entry_t *e);

/* Returns the value of header name (case-insensitive) or NULL; borrowed from e. */
const char *cache_entry_header(const cache_entry_t *e, const char *name);

/* Writes into hex (33 bytes) the fingerprint of a request: XXH3 128 of the method, the route
 * pattern, the target (path and query as sent) and, per vary header, its name and value (NULL
 * when absent, which differs from ""). */
void cache_fingerprint(const char *method, const char *route, const char *target,
                       const char *const *vary_names, const char *const *vary_values, size_t nvary,
                       char hex[33]);

#endif
