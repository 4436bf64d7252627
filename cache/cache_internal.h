/* What the files of cache-proxy share (see cache_proxy.h): the service struct, the job a
 * request becomes when it needs Redis or the upstream, the worker queue, singleflight, the
 * metrics and the Redis outage state. */
#ifndef CACHE_INTERNAL_H
#define CACHE_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "cache_entry.h"
#include "cache_l1.h"
#include "cache_proxy.h"
#include "cache_route.h"
#include "cache_upstream.h"
#include "hs_cachetag.h"
#include "hs_clock.h"
#include "hs_config.h"
#include "hs_http.h"
#include "hs_metrics.h"
#include "hs_redis.h"

#define CACHE_QUEUE_MAX 10000 /* jobs waiting for a worker; beyond: 503 */
#define CACHE_FLIGHT_SLOTS 1024
#define CACHE_KEY_MAX 512

/* What a request knew of its tags' invalidations when it began: the tag generations in Redis
 * (read with its L2 lookup, or before a refresh) and this proxy's L1 stamp of the tags (what
 * the invalidation messages told it). Both only grow, so "a >= b" means "a was taken after b,
 * or nothing was invalidated in between". */
typedef struct {
    uint64_t stamp;
    int has_gens; /* 0: Redis did not answer, only the stamp is known */
    long long gens[HS_CACHETAG_MAX_TAGS];
} cache_snap_t;

struct flight;

typedef enum {
    JOB_LOOKUP,  /* GET of a route: L2, then the upstream; joins or leads a flight */
    JOB_REFRESH, /* GET of a route with Cache-Control no-cache: upstream, then store */
    JOB_PASS,    /* anything else: upstream, nothing stored (X-Cache BYPASS) */
    JOB_PRIVATE, /* a waiter whose leader got a private answer: upstream, nothing stored */
    JOB_WRITE,   /* a write to a write_through route: upstream, then invalidate its tags */
} job_kind_t;

/* One request on its way through a worker. Created on an HTTP thread, then owned by the
 * worker that takes it from the queue (or by the flight it waits on). */
typedef struct job {
    struct job *next;
    hs_http_req_t *req;
    job_kind_t kind;
    const cache_route_t *route; /* NULL for pass-through of unmatched paths */
    const char *route_label;    /* route->path or "unmatched" */
    double start;               /* monotonic seconds the request arrived */
    char tenant[HS_CACHETAG_TENANT_MAX + 1];
    char key[CACHE_KEY_MAX]; /* the entry's Redis key (routes) */
    size_t ntags;
    char tags[HS_CACHETAG_MAX_TAGS][HS_CACHETAG_TAG_MAX + 1];
    const char *tagp[HS_CACHETAG_MAX_TAGS];
    cache_snap_t snap;     /* taken before its L2 read (lookups) or upstream call (refreshes) */
    struct flight *flight; /* the flight it leads, or NULL */
} job_t;

typedef struct {
    hs_metric_t *requests, *request_seconds, *lookups, *upstream_seconds, *upstream_errors;
    hs_metric_t *redis_errors, *redis_up, *stale_rejections, *invalidations, *waits, *flushes;
} cache_metrics_t;

/* A miss being fetched: the leader's snapshot and the jobs waiting for its answer. Linked in
 * p->flights while requests may join it; a newer flight of the same key unlinks it.
 * @locks: fmtx guards next, linked and waiters; key and snap are set before it is linked. */
typedef struct flight {
    struct flight *next;
    char key[CACHE_KEY_MAX];
    cache_snap_t snap;
    int linked;
    job_t *waiters;
} flight_t;

/* @locality: created and destroyed on the main thread; the fields above qmtx are read-only
 * while serving. @locks: qmtx guards the queue and stopping; fmtx the flights; redis_up is
 * atomic. */
struct cache_proxy {
    const hs_config_t *cfg;
    cache_routes_t *routes;
    cache_l1_t *l1;
    hs_http_server_t *http, *admin;
    const char *upstream, *tenant_header, *prefix, *channel, *redis_url;
    long timeout_ms;
    int redis_timeout_ms, nworkers;
    size_t max_object, max_response;
    cache_metrics_t m;
    pthread_t *workers;
    pthread_t subscriber;
    int subscriber_started;

    pthread_mutex_t qmtx;
    pthread_cond_t qcond;
    job_t *qhead, *qtail;
    size_t qlen;
    int stopping, workers_stop, run_stop;
    pthread_cond_t run_cond;

    pthread_mutex_t fmtx;
    flight_t *flights[CACHE_FLIGHT_SLOTS];

    int redis_up; /* atomic: 1 up, 0 down, -1 not known yet (an outage is logged once) */
};

/* Per worker thread. */
typedef struct {
    cache_proxy_t *p;
    cache_upstream_t *up;
    hs_redis_t *redis;
} worker_t;

/* cache_proxy.c */
/* Records the outcome of a Redis operation: counts errors per op, keeps hs_cache_redis_up,
 * and logs when an outage starts (with errstr) and when it ends. */
void cache_redis_result(cache_proxy_t *p, int ok, const char *op, const char *errstr);
/* Queues job for a worker after suspending its request; 503 when the queue is full. */
void cache_enqueue(cache_proxy_t *p, job_t *job);

/* cache_serve.c */
void cache_on_request(hs_http_req_t *req, void *opaque);
/* Sends e to the job's client with X-Cache xcache (and Age on hits), counts it under result,
 * and frees the job. */
void cache_answer(cache_proxy_t *p, job_t *job, const cache_entry_t *e, const char *xcache,
                  const char *result);

/* cache_fetch.c */
void cache_job_run(worker_t *w, job_t *job);

/* cache_flight.c */
/* For a job that missed in L2, with its snap filled after it arrived: returns 0 when it now
 * waits on the flight of its key (the flight owns it until cache_flight_finish), which happens
 * only when that flight's snapshot is at least as new as the job's; else 1: the job leads a
 * new flight (job->flight; NULL when out of memory) and must call the upstream. */
int cache_flight_join(cache_proxy_t *p, job_t *job);
/* Ends the flight the job leads (none: no-op): every waiter gets e (X-Cache xcache, result)
 * or, when e is NULL (a private answer), goes back to the queue as JOB_PRIVATE. */
void cache_flight_finish(cache_proxy_t *p, job_t *leader, const cache_entry_t *e,
                         const char *xcache, const char *result);

/* cache_sub.c */
void *cache_subscriber_main(void *arg);

#endif
