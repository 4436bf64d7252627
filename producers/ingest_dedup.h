/* Duplicate detection for ingest: a provider event id is "seen" once both its records were
 * acknowledged by the broker. A bounded in-process LRU with a TTL (the dedup window) answers
 * first; with Redis configured, SET NX EX on hs:dedup:<source>:<id> lets several ingest
 * instances agree. Redis trouble never fails a request (fail open, counted, reconnect with
 * backoff). Ids being produced right now are "in flight", so a concurrent copy can be told to
 * retry instead of producing twice.
 * @locks: one mutex for the cache, one for the Redis connection; thread-safe. */
#ifndef HS_INGEST_DEDUP_H
#define HS_INGEST_DEDUP_H

#include <stddef.h>

#include "hs_err.h"

typedef struct hs_dedup hs_dedup_t;

typedef struct {
    size_t capacity;       /* ids kept in memory (seen and in flight), >= 1 */
    int window_s;          /* how long a seen id stays a duplicate, >= 1 */
    const char *redis_url; /* "redis://host:port" or NULL/"" for no Redis; copied */
    int redis_timeout_ms;  /* connect and command timeout */
} hs_dedup_opts_t;

typedef enum {
    HS_DEDUP_NEW,       /* not seen: now in flight, call _commit or _abort exactly once */
    HS_DEDUP_DUPLICATE, /* seen within the window */
    HS_DEDUP_IN_FLIGHT, /* another request is producing this id right now */
} hs_dedup_state_t;

/* Returns a new detector (Redis is connected lazily), NULL with errstr on a malformed
 * redis_url or no memory. Free with hs_dedup_destroy (NULL: no-op). */
hs_dedup_t *hs_dedup_new(const hs_dedup_opts_t *opts, char *errstr, size_t errstr_size);
void hs_dedup_destroy(hs_dedup_t *d);

/* Checks source/id at now_s (seconds, monotonic or wall: only differences matter). NEW marks
 * it in flight. A Redis error is counted in hs_ingest_dedup_redis_errors_total and the answer
 * comes from memory alone. */
hs_dedup_state_t hs_dedup_begin(hs_dedup_t *d, const char *source, const char *id, double now_s);

/* The id was delivered: seen until now_s + window (memory and Redis). */
void hs_dedup_commit(hs_dedup_t *d, const char *source, const char *id, double now_s);

/* The id was not delivered: forgets the in-flight mark so a retry is produced. */
void hs_dedup_abort(hs_dedup_t *d, const char *source, const char *id);

/* Returns how many ids the cache holds now (tests). */
size_t hs_dedup_size(hs_dedup_t *d);

#endif
