/* The in-memory side of analytics: the 1-minute windows per (event type, source, tenant,
 * currency) touched since the last flush, each with its count, amount sum/min/max, ingest→consume
 * latency histogram and HyperLogLog sketches of its entities and customers; the latest stock
 * level per (tenant, SKU); and per-type counts of the outcomes for the metrics. A flush writes all
 * of it in one transaction and resets it: windows in Postgres are updated additively, so each
 * flush only carries what happened since the previous one. A window is found by one hash of the
 * event's own strings and its minute; its strings are interned when it is new. Window, sketch
 * and stock storage is reused across flushes, so adding an event allocates nothing in steady
 * state.
 * @locality: the consumer thread. */
#ifndef AN_AGG_H
#define AN_AGG_H

#include <stddef.h>
#include <stdint.h>

#include "an_event.h"

/* Upper bounds (ms) of the latency buckets; one more bucket counts everything above the last. */
#define AN_LAT_BUCKETS 12
extern const int64_t an_lat_bounds_ms[AN_LAT_BUCKETS - 1];

typedef enum { AN_OUT_AGGREGATED, AN_OUT_LATE, AN_OUT_DLQ, AN_OUTCOMES } an_outcome_t;
extern const char *const an_outcome_names[AN_OUTCOMES];

typedef struct {
    int64_t minute_ms; /* start of the window (event time), a multiple of 60000 */
    const char *type, *source, *tenant, *currency; /* interned, NUL-terminated, "" when none */
    int64_t events;
    int64_t amount_sum, amount_min, amount_max; /* an_money units; only with a currency */
    int64_t latency_events;                     /* events whose Kafka timestamp was known */
    int64_t latency_sum_ms, latency_max_ms;
    int64_t latency[AN_LAT_BUCKETS];
    uint8_t *entities, *customers; /* AN_HLL_M registers, NULL when nothing was seen */
} an_window_t;

typedef struct {
    const char *tenant, *sku, *location, *product; /* interned */
    int64_t available, threshold, time_ms;         /* threshold only for a low-stock event */
} an_stock_t;

typedef struct an_agg an_agg_t;

/* Returns a new empty aggregate. An event is late when its window ended more than late_after_ms
 * before it was consumed. */
an_agg_t *an_agg_new(int64_t late_after_ms);
void an_agg_destroy(an_agg_t *a);

/* Adds ev, consumed at now_ms, to its window; returns 1 when it was late, else 0. */
int an_agg_add(an_agg_t *a, const an_event_t *ev, int64_t now_ms);
/* Counts a dead-lettered event of type (the type label "unknown" when type is not usable). */
void an_agg_count_dlq(an_agg_t *a, const an_str_t *type);

/* Events added (and dead-lettered) since the last reset. */
int64_t an_agg_events(const an_agg_t *a);
/* The windows (*n of them), borrowed until the next add or reset. */
const an_window_t *an_agg_windows(const an_agg_t *a, size_t *n);
/* The latest inventory.low per (tenant, SKU) and the latest inventory.updated level per
 * (tenant, SKU), borrowed until the next add or reset. */
const an_stock_t *an_agg_stock_low(const an_agg_t *a, size_t *n);
const an_stock_t *an_agg_stock_levels(const an_agg_t *a, size_t *n);
/* Calls fn for every type with a nonzero count of outcome since the last reset. */
void an_agg_each_count(const an_agg_t *a,
                       void (*fn)(const char *type, an_outcome_t outcome, int64_t count,
                                  void *opaque),
                       void *opaque);
/* Forgets every window, stock level and count (keeps the storage for reuse). */
void an_agg_reset(an_agg_t *a);

#endif
