/* cache-proxy lifecycle (see cache_proxy.h): configuration, metrics, the worker queue, the
 * Redis outage state, and starting and stopping the threads and listeners. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache_internal.h"
#include "hs_backoff.h"
#include "hs_log.h"

static const double seconds_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                         0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

static void metrics_init(cache_metrics_t *m) {
    size_t nb = sizeof seconds_buckets / sizeof *seconds_buckets;
    m->requests = hs_metrics_counter(
        "hs_cache_requests_total",
        "Requests answered by cache-proxy by route and result (hit_l1, hit_l2, miss, bypass, "
        "uncacheable, stale_if_error, error).",
        "route,result");
    m->request_seconds =
        hs_metrics_histogram("hs_cache_request_seconds",
                             "Time from request to answer inside cache-proxy, by route and result.",
                             "route,result", seconds_buckets, nb);
    m->lookups = hs_metrics_counter("hs_cache_lookups_total",
                                    "Cache lookups by tier (l1, l2), route and result (hit, miss).",
                                    "tier,route,result");
    m->upstream_seconds =
        hs_metrics_histogram("hs_cache_upstream_seconds", "Duration of upstream calls by route.",
                             "route", seconds_buckets, nb);
    m->upstream_errors = hs_metrics_counter(
        "hs_cache_upstream_errors_total",
        "Upstream calls that failed by route and reason (timeout, connect, status_5xx, "
        "too_large, io).",
        "route,reason");
    m->redis_errors = hs_metrics_counter(
        "hs_cache_redis_errors_total",
        "Redis operations of cache-proxy that failed (the request was served without Redis).",
        "op");
    m->redis_up = hs_metrics_gauge("hs_cache_redis_up", "1 while cache-proxy reaches Redis.", NULL);
    m->stale_rejections = hs_metrics_counter(
        "hs_cache_stale_rejections_total",
        "Stores refused because a tag of the answer was invalidated while it was fetched, by "
        "tier.",
        "tier");
    m->invalidations = hs_metrics_counter("hs_cache_invalidations_received_total",
                                          "Invalidation messages received on the channel.", NULL);
    m->waits = hs_metrics_counter(
        "hs_cache_singleflight_waits_total",
        "Requests that waited for a concurrent miss of the same key instead of calling upstream.",
        "route");
    m->flushes = hs_metrics_counter(
        "hs_cache_l1_flushes_total",
        "Times the whole L1 was dropped because the invalidation subscription was (re)made.", NULL);
    hs_metric_set(m->redis_up, NULL, 0);
}

void cache_redis_result(cache_proxy_t *p, int ok, const char *op, const char *errstr) {
    if (!ok) hs_metric_add(p->m.redis_errors, &op, 1);
    int was = __atomic_exchange_n(&p->redis_up, ok, __ATOMIC_ACQ_REL);
    if (was == ok) return;
    hs_metric_set(p->m.redis_up, NULL, ok);
    if (ok)
        hs_log(HS_LOG_INFO, was < 0 ? "redis reachable" : "redis reachable again: caching in L2",
               "{s:s}", "redis", p->redis_url);
    else
        hs_log(HS_LOG_WARN, "redis unavailable: serving from L1 and the upstream",
               "{s:s, s:s, s:s}", "redis", p->redis_url, "op", op, "error", errstr ? errstr : "");
}

/* ---- queue and workers ------------------------------------------------------------------- */

void cache_enqueue(cache_proxy_t *p, job_t *job) {
    pthread_mutex_lock(&p->qmtx);
    int full = p->qlen >= CACHE_QUEUE_MAX || p->workers_stop;
    if (!full) {
        job->next = NULL;
        if (p->qtail)
            p->qtail->next = job;
        else
            p->qhead = job;
        p->qtail = job;
        p->qlen++;
        pthread_cond_signal(&p->qcond);
    }
    pthread_mutex_unlock(&p->qmtx);
    if (!full) return;
    hs_http_add_header(job->req, "Retry-After", "1");
    hs_http_respond_problem(job->req, 503, "Service Unavailable",
                            "cache-proxy has too many requests waiting for the upstream");
    free(job);
}

static job_t *dequeue(cache_proxy_t *p) {
    pthread_mutex_lock(&p->qmtx);
    while (!p->qhead && !p->workers_stop)
        pthread_cond_wait(&p->qcond, &p->qmtx);
    job_t *job = p->qhead;
    if (job) {
        p->qhead = job->next;
        if (!p->qhead) p->qtail = NULL;
        p->qlen--;
    }
    pthread_mutex_unlock(&p->qmtx);
    return job;
}

static void *worker_main(void *arg) {
    worker_t *w = arg;
    job_t *job;
    while ((job = dequeue(w->p)))
        cache_job_run(w, job);
    cache_upstream_destroy(w->up);
    hs_redis_destroy(w->redis);
    free(w);
    return NULL;
}

static hs_err_t start_workers(cache_proxy_t *p, char *errstr, size_t errstr_size) {
    p->workers = calloc((size_t)p->nworkers, sizeof *p->workers);
    if (!p->workers) return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory");
    for (int i = 0; i < p->nworkers; i++) {
        worker_t *w = calloc(1, sizeof *w);
        if (!w) return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory");
        w->p = p;
        w->up =
            cache_upstream_new(p->upstream, p->timeout_ms, p->max_response, errstr, errstr_size);
        w->redis = hs_redis_new(p->redis_url, p->redis_timeout_ms, errstr, errstr_size);
        if (!w->up || !w->redis || pthread_create(&p->workers[i], NULL, worker_main, w)) {
            cache_upstream_destroy(w->up);
            hs_redis_destroy(w->redis);
            free(w);
            p->nworkers = i; /* the ones started are joined by destroy */
            return HS_ERR_INTERNAL;
        }
    }
    return HS_OK;
}

/* ---- configuration ----------------------------------------------------------------------- */

static hs_err_t duration_key(const hs_config_t *cfg, const char *key, int64_t *ms, char *errstr,
                             size_t errstr_size) {
    const char *v = hs_config_str(cfg, key);
    if (hs_duration_parse(v, ms))
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                       "%s: '%s' is not a duration like 90s, 10m or 1h (%s)", key, v,
                       hs_config_origin(cfg, key));
    return HS_OK;
}

static hs_err_t configure(cache_proxy_t *p, const hs_config_t *cfg, char *errstr,
                          size_t errstr_size) {
    p->cfg = cfg;
    p->upstream = hs_config_str(cfg, "cache.upstream");
    if (!p->upstream[0])
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                       "cache.upstream is not set (the API to cache, e.g. --upstream "
                       "http://127.0.0.1:8080)");
    if (cache_upstream_url_ok(p->upstream))
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                       "cache.upstream: '%s' is not http[s]://host[:port][/base]", p->upstream);
    p->timeout_ms = (long)hs_config_int(cfg, "cache.upstream_timeout_ms");
    p->nworkers = (int)hs_config_int(cfg, "cache.workers");
    p->max_object = (size_t)hs_config_int(cfg, "cache.max_object_bytes");
    p->max_response = (size_t)hs_config_int(cfg, "cache.max_response_bytes");
    p->tenant_header = hs_config_str(cfg, "cache.tenant_header");
    p->prefix = hs_config_str(cfg, "cache.redis_prefix");
    p->channel = hs_config_str(cfg, "cache.invalidation_channel");
    p->redis_url = hs_config_str(cfg, "redis.url");
    p->redis_timeout_ms = (int)hs_config_int(cfg, "redis.timeout_ms");
    if (p->max_object > p->max_response) p->max_object = p->max_response;
    int64_t ttl, l1_ttl;
    hs_err_t err = duration_key(cfg, "cache.ttl", &ttl, errstr, errstr_size);
    if (!err) err = duration_key(cfg, "cache.l1_ttl", &l1_ttl, errstr, errstr_size);
    if (err) return err;
    if (ttl <= 0) return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "cache.ttl must be > 0");
    char e[300];
    hs_redis_t *probe = hs_redis_new(p->redis_url, 1, e, sizeof e);
    if (!probe) return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "redis.url: %s", e);
    hs_redis_destroy(probe);
    p->routes = cache_routes_new(hs_config_tree(cfg, "cache_routes"), ttl, l1_ttl, cfg, errstr,
                                 errstr_size);
    if (!p->routes) return HS_ERR_INVALID;
    if (!cache_routes_count(p->routes))
        hs_log(HS_LOG_WARN, "cache-proxy has no cache_routes: every request passes through", NULL);
    p->l1 = cache_l1_new((size_t)hs_config_int(cfg, "cache.l1_max_bytes"));
    if (!p->l1) return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory");
    return HS_OK;
}

static int ready(void *opaque, char *why, size_t why_size) {
    cache_proxy_t *p = opaque;
    if (p->upstream[0]) return 1; /* Redis down is not unready: the proxy fails open */
    snprintf(why, why_size, "no upstream configured");
    return 0;
}

static hs_err_t listen_both(cache_proxy_t *p, char *errstr, size_t errstr_size) {
    hs_http_opts_t proxy = {.listen = hs_config_str(p->cfg, "cache.listen"),
                            .service = "cache-proxy",
                            .max_body_bytes = (size_t)hs_config_int(p->cfg, "http.max_body_bytes"),
                            .threads = (int)hs_config_int(p->cfg, "http.threads"),
                            .no_builtins = 1};
    hs_http_opts_t admin = {.listen = hs_config_str(p->cfg, "cache.admin_listen"),
                            .service = "cache-proxy-admin"};
    if (!(p->http = hs_http_server_new(&proxy, errstr, errstr_size))) return HS_ERR_INVALID;
    if (!(p->admin = hs_http_server_new(&admin, errstr, errstr_size))) return HS_ERR_INVALID;
    hs_http_set_fallback(p->http, cache_on_request, p);
    hs_http_set_ready(p->admin, ready, p);
    hs_err_t err = hs_http_server_start(p->admin, errstr, errstr_size);
    return err ? err : hs_http_server_start(p->http, errstr, errstr_size);
}

cache_proxy_t *cache_proxy_new(const hs_config_t *cfg, char *errstr, size_t errstr_size) {
    cache_proxy_t *p = calloc(1, sizeof *p);
    if (!p) return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory"), NULL;
    pthread_mutex_init(&p->qmtx, NULL);
    pthread_mutex_init(&p->fmtx, NULL);
    pthread_cond_init(&p->qcond, NULL);
    pthread_cond_init(&p->run_cond, NULL);
    p->redis_up = -1; /* unknown: the first result is logged and sets the gauge */
    metrics_init(&p->m);
    hs_err_t err = configure(p, cfg, errstr, errstr_size);
    if (!err) err = start_workers(p, errstr, errstr_size);
    if (!err && pthread_create(&p->subscriber, NULL, cache_subscriber_main, p) == 0)
        p->subscriber_started = 1;
    else if (!err)
        err = hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "cannot start a thread");
    if (!err) err = listen_both(p, errstr, errstr_size);
    if (err) {
        cache_proxy_destroy(p);
        return NULL;
    }
    return p;
}

int cache_proxy_port(const cache_proxy_t *p) {
    return hs_http_server_port(p->http);
}

int cache_proxy_admin_port(const cache_proxy_t *p) {
    return hs_http_server_port(p->admin);
}

void cache_proxy_run(cache_proxy_t *p) {
    pthread_mutex_lock(&p->qmtx);
    while (!p->run_stop)
        pthread_cond_wait(&p->run_cond, &p->qmtx);
    pthread_mutex_unlock(&p->qmtx);
}

void cache_proxy_stop(cache_proxy_t *p) {
    pthread_mutex_lock(&p->qmtx);
    p->run_stop = 1;
    pthread_cond_broadcast(&p->run_cond);
    pthread_mutex_unlock(&p->qmtx);
}

void cache_proxy_destroy(cache_proxy_t *p) {
    if (!p) return;
    /* the listener drains first: its suspended requests are answered by the workers */
    hs_http_server_destroy(p->http);
    pthread_mutex_lock(&p->qmtx);
    p->workers_stop = 1;
    p->stopping = 1;
    pthread_cond_broadcast(&p->qcond);
    pthread_mutex_unlock(&p->qmtx);
    for (int i = 0; i < p->nworkers && p->workers; i++)
        pthread_join(p->workers[i], NULL);
    if (p->subscriber_started) pthread_join(p->subscriber, NULL);
    hs_http_server_destroy(p->admin);
    free(p->workers);
    cache_l1_destroy(p->l1);
    cache_routes_destroy(p->routes);
    pthread_mutex_destroy(&p->qmtx);
    pthread_mutex_destroy(&p->fmtx);
    pthread_cond_destroy(&p->qcond);
    pthread_cond_destroy(&p->run_cond);
    free(p);
}
