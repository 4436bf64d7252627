/* What cache-proxy may keep of an upstream answer, and for how long: the shared-cache rules of
 * RFC 9111 narrowed to what an API cache needs. Pure functions. */
#ifndef CACHE_POLICY_H
#define CACHE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "cache_entry.h"

typedef enum {
    CACHE_POLICY_STORE,   /* cache it for *ttl_ms */
    CACHE_POLICY_NOSTORE, /* not cached, but the same answer may go to concurrent requests */
    CACHE_POLICY_PRIVATE, /* for this client only: Set-Cookie, Cache-Control private/no-store */
} cache_policy_t;

/* Decides for an answer of status with headers and a body of body_len bytes: cached are
 * 200, 203, 204, 300, 301, 308, 404 and 410 up to max_object bytes, unless Cache-Control says
 * no-cache, max-age=0 or s-maxage=0, or Vary is "*". *ttl_ms = route_ttl_ms, lowered to
 * s-maxage (else max-age) when the upstream asks for less. *why (may be NULL) gets a static
 * reason for anything but STORE. */
cache_policy_t cache_policy_answer(int status, const cache_header_t *headers, size_t nheaders,
                                   size_t body_len, size_t max_object, int64_t route_ttl_ms,
                                   int64_t *ttl_ms, const char **why);

/* Returns 1 when the client asks for a fresh answer: Cache-Control no-cache or max-age=0, or
 * Pragma no-cache (either may be NULL). */
int cache_policy_wants_fresh(const char *cache_control, const char *pragma);

/* Returns 1 when the comma-separated directive list holds directive (case-insensitive, with
 * or without "=value"); *value (may be NULL) gets its number, -1 when it has none. */
int cache_policy_directive(const char *list, const char *directive, long long *value);

#endif
