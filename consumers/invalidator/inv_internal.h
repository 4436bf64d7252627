/* What the files of the invalidator share (see invalidator.h): the service struct, its
 * workers, metrics and outage bookkeeping. */
#ifndef INV_INTERNAL_H
#define INV_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "hs_clock.h"
#include "hs_consumer.h"
#include "hs_eventdec.h"
#include "hs_http.h"
#include "hs_metrics.h"
#include "hs_redis.h"
#include "inv_rules.h"
#include "invalidator.h"

typedef struct {
    hs_metric_t *events;       /* hs_invalidator_events_total{type,outcome} */
    hs_metric_t *tags;         /* hs_invalidator_tags_total */
    hs_metric_t *keys_deleted; /* hs_invalidator_keys_deleted_total */
    hs_metric_t *redis_errors; /* hs_invalidator_redis_errors_total */
    hs_metric_t *seconds;      /* hs_invalidator_seconds: ce_time to the publish */
} inv_metrics_t;

/* A dependency's outage, logged once when it starts and once when it ends.
 * @locks: mtx (workers report into it; /readyz reads it). */
typedef struct {
    const char *what; /* "redis", "registry" */
    pthread_mutex_t mtx;
    int down;
    int64_t since_ms; /* unix ms of the first failure */
    int64_t failures; /* failed attempts during this outage */
} inv_outage_t;

/* A consumed message waiting for a worker. */
typedef struct inv_item {
    hs_consumer_msg_t *m;
    struct inv_item *next;
} inv_item_t;

/* @locality: one worker thread; its Redis connection and tag buffer are its own. */
typedef struct {
    invalidator_t *v;
    pthread_t thread;
    hs_redis_t *redis;
    inv_tags_t tags;
} inv_worker_t;

struct invalidator {
    const hs_config_t *cfg;
    inv_rules_t *rules;
    hs_eventdec_t *dec;
    hs_consumer_t *consumer;
    hs_http_server_t *http;
    const char *prefix;  /* cache.redis_prefix */
    const char *channel; /* cache.invalidation_channel */
    int64_t retry_max_ms;
    inv_metrics_t m;
    inv_outage_t redis_out, registry_out;
    /* The queue from the dispatch thread to the workers. @locks: mtx (head, tail, stop) */
    pthread_mutex_t mtx;
    pthread_cond_t work;      /* an item arrived, or stop */
    pthread_cond_t stop_cond; /* stop: wakes workers sleeping in a backoff */
    inv_item_t *head, *tail;
    int stop; /* set once the consumer has stopped: workers leave their messages unfinished */
    inv_worker_t *workers;
    int nworkers, started;
};

/* Handles one consumed message on worker w: finishes it (done OK) when its tags are
 * invalidated or it has nothing to invalidate; leaves it unfinished only when the service
 * stops while Redis or the registry is still unreachable. */
void inv_process(inv_worker_t *w, hs_consumer_msg_t *m);

/* Sleeps ms unless the service stops first; returns 0 when it stops. */
int inv_sleep(invalidator_t *v, int64_t ms);

/* Records a failure (logs the start of an outage) or a success (logs its end) of o. */
void inv_outage_fail(inv_outage_t *o, const char *addr, const char *error);
void inv_outage_ok(inv_outage_t *o);

#endif
