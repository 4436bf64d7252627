/* The in-process tier (L1) of cache-proxy: entries by key with a lifetime each, least recently
 * used ones evicted to stay under a byte bound, and an index tag -> entries so an invalidation
 * drops exactly the entries carrying the tag. A stamp taken before a lookup guards the insert
 * that follows it: when one of the entry's tags was invalidated (or everything flushed) in
 * between, the insert is refused, so a slow lookup cannot put back what an invalidation just
 * removed. Keeps hs_cache_l1_bytes, hs_cache_l1_entries and hs_cache_l1_evictions_total{reason}.
 * @locks: one mutex guards everything; thread-safe. Times are monotonic milliseconds. */
#ifndef CACHE_L1_H
#define CACHE_L1_H

#include <stddef.h>
#include <stdint.h>

#include "cache_entry.h"

typedef struct cache_l1 cache_l1_t;

/* Returns a new, empty L1 bounded to max_bytes (0: disabled, every put is refused), or NULL
 * when out of memory. Free with cache_l1_destroy (NULL: no-op). */
cache_l1_t *cache_l1_new(size_t max_bytes);
void cache_l1_destroy(cache_l1_t *l1);

/* Returns the stamp of (tenant, tags) now; it changes when one of the tags is invalidated or
 * the L1 is flushed, and never goes back. */
uint64_t cache_l1_stamp(cache_l1_t *l1, const char *tenant, const char *const *tags, size_t ntags);

/* Returns a new reference to the entry under key (caller: cache_entry_unref) and its expiry in
 * *expires_ms (may be NULL), or NULL when absent or expired at now_ms (then dropped). */
cache_entry_t *cache_l1_get(cache_l1_t *l1, const char *key, int64_t now_ms, int64_t *expires_ms);

typedef enum {
    CACHE_L1_STORED,  /* inserted (replacing an entry under the same key) */
    CACHE_L1_STALE,   /* refused: the stamp of its tags changed since stamp was taken */
    CACHE_L1_SKIPPED, /* refused: disabled, lifetime <= 0, bigger than the bound, no memory */
} cache_l1_put_t;

/* Inserts entry (takes a new reference; the caller keeps its own) under key with tags of
 * tenant until expires_ms, if cache_l1_stamp of the same tags still equals stamp; evicts the
 * least recently used entries to make room. */
cache_l1_put_t cache_l1_put(cache_l1_t *l1, const char *key, const char *tenant,
                            const char *const *tags, size_t ntags, cache_entry_t *entry,
                            int64_t expires_ms, uint64_t stamp, int64_t now_ms);

/* Drops every entry carrying (tenant, tag) and moves the stamp of the tag on; returns how many
 * entries were dropped (counted as evictions, reason "invalidated"). */
size_t cache_l1_invalidate(cache_l1_t *l1, const char *tenant, const char *tag);

/* Drops everything and moves every stamp on; returns how many entries were dropped (reason
 * "flush"). */
size_t cache_l1_flush(cache_l1_t *l1);

/* Writes the bytes and the entries held now (either may be NULL). */
void cache_l1_size(cache_l1_t *l1, size_t *bytes, size_t *entries);

#endif
