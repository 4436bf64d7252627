/* hookstream-bench-cache (bench/cache.sh): what its two files share. cachebench.c drives GETs
 * through cache-proxy and reports; cachebench_feed.c is the upstream stub, the producer of
 * product.updated events and the subscriber that learns when each invalidation is published. */
#ifndef CACHEBENCH_H
#define CACHEBENCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_config.h"

/* One product.updated the bench produced: product, the version the stub answers since, and
 * when it was produced and its invalidation seen published (0: not yet). */
typedef struct {
    int product;
    int version;
    double produced_at, published_at; /* monotonic seconds */
} cb_event_t;

/* @locks: the atomics are shared by the client, the feeder, the subscriber and the stub's
 * threads; events (under mtx in cachebench_feed.c) by the feeder and the subscriber. */
typedef struct {
    int products;        /* M: ids 1..M */
    int stub_port;       /* the upstream stub listens here */
    int stub_delay_us;   /* upstream latency of each answer */
    int body_bytes;      /* size of each answer */
    double inv_rate;     /* product.updated events per second */
    double zipf_s;       /* skew of reads and updates */
    const char *tenant;  /* X-Tenant of the reads and hs_tenant of the events */
    const char *channel; /* the invalidation channel */
    const hs_config_t *cfg;
    double *cdf;             /* Zipf cumulative weights of ranks 1..M */
    atomic_int *version;     /* [M+1] the version the stub answers */
    atomic_int *vmin;        /* [M+1] the lowest version a read starting now may return */
    _Atomic double *vmin_at; /* [M+1] when vmin was last raised (monotonic seconds) */
    atomic_ullong upstream;  /* requests the stub answered */
    atomic_int stop;
    cb_event_t *events;
    size_t nevents, cap;
    atomic_ullong published; /* invalidations of our tenant seen */
    atomic_ullong unmatched; /* ... that matched no produced event */
} cb_t;

double cb_now(void);
/* xorshift64* step; *s nonzero. */
uint64_t cb_rand(uint64_t *s);
/* A product id 1..M drawn from the Zipf distribution. */
int cb_zipf(const cb_t *b, uint64_t *rng);

/* Starts the stub on b->stub_port; 0 on success, else -1 with a message on stderr. */
int cb_stub_start(cb_t *b);
void cb_stub_stop(void);
/* Starts the feeder (events at inv_rate) and the subscriber threads; -1 on failure. */
int cb_feed_start(cb_t *b);
/* Stops both, waits for produced events' acks; returns the events produced. */
size_t cb_feed_stop(cb_t *b);
/* Percentiles of produce → published (ms) of the events seen published; *n = how many. */
void cb_feed_latency(cb_t *b, double *p50, double *p99, size_t *n);

#endif
