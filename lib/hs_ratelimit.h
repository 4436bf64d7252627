/* Token buckets: a bucket holds up to `burst` tokens and refills at `rate` tokens per second;
 * each request takes one. hs_bucket_* is the arithmetic on one bucket (no locking, no clock);
 * hs_ratelimit_t keeps one bucket per key (a tenant, an endpoint) behind a mutex, with a bound
 * on the number of keys. Used by ingest (per tenant tier) and delivery (per endpoint).
 * @locks: hs_ratelimit_t has one mutex; every hs_ratelimit_* function is thread-safe. */
#ifndef HS_RATELIMIT_H
#define HS_RATELIMIT_H

#include <stddef.h>

typedef struct {
    double tokens; /* tokens available at time `at` */
    double at;     /* seconds (any monotonic clock) of the last update; < 0: never used */
} hs_bucket_t;

/* A full bucket, as if never used. */
void hs_bucket_init(hs_bucket_t *b);

/* Refills b to now_s, then takes one token. Returns 1 when taken; else 0 and *retry_after_s
 * (may be NULL) gets the seconds until a token is available (> 0). rate <= 0 means unlimited:
 * always 1. burst < 1 is read as 1. A clock that goes backwards refills nothing. */
int hs_bucket_take(hs_bucket_t *b, double rate, double burst, double now_s, double *retry_after_s);

/* Returns 1 when b has refilled to burst by now_s (indistinguishable from a new bucket). */
int hs_bucket_idle(const hs_bucket_t *b, double rate, double burst, double now_s);

/* Retry-After header value for a wait: whole seconds rounded up, at least 1. */
int hs_ratelimit_retry_after(double wait_s);

typedef struct hs_ratelimit hs_ratelimit_t;

/* Returns a new keyed limiter holding at most max_keys buckets (0 = 100000), NULL when out of
 * memory. Free with hs_ratelimit_destroy (NULL: no-op). */
hs_ratelimit_t *hs_ratelimit_new(size_t max_keys);
void hs_ratelimit_destroy(hs_ratelimit_t *rl);

/* hs_bucket_take on the bucket of key (copied on first use). When max_keys buckets exist, idle
 * buckets are dropped to make room (losing nothing, they equal new ones); when none is idle
 * the request is allowed without a bucket (fail open: the bound protects memory, not the
 * limit). */
int hs_ratelimit_take(hs_ratelimit_t *rl, const char *key, double rate, double burst, double now_s,
                      double *retry_after_s);

/* Returns how many keys have a bucket now. */
size_t hs_ratelimit_size(hs_ratelimit_t *rl);

#endif
