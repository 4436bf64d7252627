/* The invalidator service (see invalidator.h): wiring, the queue from the consumer's dispatch
 * thread to the worker threads, readiness, outages and the lifecycle. The work on one event is
 * in inv_worker.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hs_log.h"
#include "inv_internal.h"

#define MAX_TOPICS 32

/* Longest hs_invalidator_seconds: a replay after an outage can be minutes behind. */
static const double seconds_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                         0.5,   1,      2.5,   5,    10,    30,   60,  300};

static void metrics_init(inv_metrics_t *m) {
    m->events = hs_metrics_counter("hs_invalidator_events_total",
                                   "Events the invalidator consumed, by type and outcome "
                                   "(invalidated, no_rule, missing_field, undecodable).",
                                   "type,outcome");
    m->tags = hs_metrics_counter(
        "hs_invalidator_tags_total",
        "Tag invalidations done (generation bumped, entries deleted, proxies told).", NULL);
    m->keys_deleted = hs_metrics_counter("hs_invalidator_keys_deleted_total",
                                         "Cache entries the invalidations deleted.", NULL);
    m->redis_errors = hs_metrics_counter("hs_invalidator_redis_errors_total",
                                         "Invalidations Redis did not confirm (retried).", NULL);
    m->seconds = hs_metrics_histogram(
        "hs_invalidator_seconds",
        "From the event's ce_time to the publish of its last tag's invalidation.", NULL,
        seconds_buckets, sizeof seconds_buckets / sizeof seconds_buckets[0]);
}

/* ---- outages ------------------------------------------------------------------------------- */

static void outage_init(inv_outage_t *o, const char *what) {
    o->what = what;
    pthread_mutex_init(&o->mtx, NULL);
}

void inv_outage_fail(inv_outage_t *o, const char *addr, const char *error) {
    pthread_mutex_lock(&o->mtx);
    int first = !o->down;
    if (first) {
        o->down = 1;
        o->since_ms = hs_wall_ms();
        o->failures = 0;
    }
    o->failures++;
    pthread_mutex_unlock(&o->mtx);
    if (first)
        hs_log(HS_LOG_ERROR, "invalidations wait: dependency unavailable, offsets held",
               "{s:s, s:s, s:s}", "dependency", o->what, "address", addr, "error", error);
}

void inv_outage_ok(inv_outage_t *o) {
    pthread_mutex_lock(&o->mtx);
    int was = o->down;
    int64_t since = o->since_ms, failures = o->failures;
    o->down = 0;
    pthread_mutex_unlock(&o->mtx);
    if (was)
        hs_log(HS_LOG_INFO, "dependency available again, invalidations resume", "{s:s, s:f, s:I}",
               "dependency", o->what, "outage_seconds", (double)(hs_wall_ms() - since) / 1000.0,
               "failed_attempts", (json_int_t)failures);
}

static int outage_ready(inv_outage_t *o, char *why, size_t n) {
    pthread_mutex_lock(&o->mtx);
    int down = o->down;
    int64_t since = o->since_ms;
    pthread_mutex_unlock(&o->mtx);
    if (down)
        snprintf(why, n, "%s unavailable for %lld ms: invalidations wait", o->what,
                 (long long)(hs_wall_ms() - since));
    return !down;
}

static int ready(void *opaque, char *why, size_t n) {
    invalidator_t *v = opaque;
    return hs_consumer_ready(v->consumer, why, n) && outage_ready(&v->redis_out, why, n) &&
           outage_ready(&v->registry_out, why, n);
}

/* ---- the queue and the workers ------------------------------------------------------------- */

/* The consumer's handler (dispatch thread): queue m for a worker. */
static void handle(hs_consumer_msg_t *m, void *opaque) {
    invalidator_t *v = opaque;
    inv_item_t *it = malloc(sizeof *it);
    if (!it) { /* no memory to wait in: consumed again after a restart */
        hs_log(HS_LOG_ERROR, "out of memory: event left unfinished", NULL);
        return;
    }
    *it = (inv_item_t){.m = m};
    pthread_mutex_lock(&v->mtx);
    if (v->tail)
        v->tail->next = it;
    else
        v->head = it;
    v->tail = it;
    pthread_cond_signal(&v->work);
    pthread_mutex_unlock(&v->mtx);
}

int inv_sleep(invalidator_t *v, int64_t ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (ms % 1000) * 1000000;
    ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&v->mtx);
    int rc = 0;
    while (!v->stop && rc == 0)
        rc = pthread_cond_timedwait(&v->stop_cond, &v->mtx, &ts);
    int go_on = !v->stop;
    pthread_mutex_unlock(&v->mtx);
    return go_on;
}

static void *worker_main(void *arg) {
    inv_worker_t *w = arg;
    invalidator_t *v = w->v;
    for (;;) {
        pthread_mutex_lock(&v->mtx);
        while (!v->head && !v->stop)
            pthread_cond_wait(&v->work, &v->mtx);
        inv_item_t *it = v->stop ? NULL : v->head;
        if (it && !(v->head = it->next)) v->tail = NULL;
        pthread_mutex_unlock(&v->mtx);
        if (!it) return NULL; /* stopping: queued messages stay unfinished (not committed) */
        hs_consumer_msg_t *m = it->m;
        free(it);
        inv_process(w, m);
    }
}

/* Stops the workers (they leave unfinished messages alone) and frees what is still queued. */
static void workers_stop(invalidator_t *v) {
    pthread_mutex_lock(&v->mtx);
    v->stop = 1;
    pthread_cond_broadcast(&v->work);
    pthread_cond_broadcast(&v->stop_cond);
    pthread_mutex_unlock(&v->mtx);
    for (int i = 0; i < v->started; i++)
        pthread_join(v->workers[i].thread, NULL);
    v->started = 0;
    while (v->head) {
        inv_item_t *next = v->head->next;
        free(v->head);
        v->head = next;
    }
    v->tail = NULL;
}

/* ---- wiring -------------------------------------------------------------------------------- */

static hs_err_t open_parts(invalidator_t *v, char *errstr, size_t n) {
    const hs_config_t *cfg = v->cfg;
    if (!(v->rules = inv_rules_new(hs_config_tree(cfg, "invalidations"), cfg, errstr, n)))
        return HS_ERR_INVALID;
    if (!(v->dec = hs_eventdec_new(cfg))) return hs_fail(HS_ERR_INTERNAL, errstr, n, "no memory");
    v->nworkers = (int)hs_config_int(cfg, "invalidator.workers");
    if (!(v->workers = calloc((size_t)v->nworkers, sizeof *v->workers)))
        return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    const char *url = hs_config_str(cfg, "redis.url");
    int timeout = (int)hs_config_int(cfg, "redis.timeout_ms");
    for (int i = 0; i < v->nworkers; i++) {
        v->workers[i].v = v;
        if (!(v->workers[i].redis = hs_redis_new(url, timeout, errstr, n))) return HS_ERR_INVALID;
    }
    return HS_OK;
}

static hs_err_t open_consumer(invalidator_t *v, char *errstr, size_t n) {
    char topics_buf[1024];
    const char *topics[HS_CONSUMER_MAX_TOPICS + 1];
    hs_consumer_topics_split(hs_config_str(v->cfg, "invalidator.topics"), topics_buf,
                             sizeof topics_buf, topics);
    /* Events are never handed to a retry tier (they wait in place, offsets held), but the
     * runtime wants one: the smallest set of topics. */
    static const int64_t tier[] = {5000};
    hs_consumer_opts_t co = {.service = "invalidator",
                             .group = hs_config_str(v->cfg, "invalidator.group"),
                             .topics = topics,
                             .handler = handle,
                             .opaque = v,
                             .retry_tiers_ms = tier,
                             .n_retry_tiers = 1,
                             .keep_order = 1};
    v->consumer = hs_consumer_new(v->cfg, &co, errstr, n);
    return v->consumer ? HS_OK : HS_ERR_UNAVAILABLE;
}

static hs_err_t open_http(invalidator_t *v, char *errstr, size_t n) {
    hs_http_opts_t ho = {.listen = hs_config_str(v->cfg, "invalidator.listen"),
                         .service = "invalidator"};
    if (!(v->http = hs_http_server_new(&ho, errstr, n))) return HS_ERR_INVALID;
    hs_http_set_ready(v->http, ready, v);
    return hs_http_server_start(v->http, errstr, n);
}

invalidator_t *invalidator_new(const hs_config_t *cfg, char *errstr, size_t errstr_size) {
    invalidator_t *v = calloc(1, sizeof *v);
    if (!v) {
        hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory");
        return NULL;
    }
    v->cfg = cfg;
    v->prefix = hs_config_str(cfg, "cache.redis_prefix");
    v->channel = hs_config_str(cfg, "cache.invalidation_channel");
    v->retry_max_ms = hs_config_int(cfg, "invalidator.retry_max_ms");
    pthread_mutex_init(&v->mtx, NULL);
    pthread_cond_init(&v->work, NULL);
    pthread_cond_init(&v->stop_cond, NULL);
    outage_init(&v->redis_out, "redis");
    outage_init(&v->registry_out, "registry");
    metrics_init(&v->m);
    if (open_parts(v, errstr, errstr_size) || open_consumer(v, errstr, errstr_size) ||
        open_http(v, errstr, errstr_size)) {
        invalidator_destroy(v);
        return NULL;
    }
    hs_log(HS_LOG_INFO, "invalidation rules", "{s:i, s:s}", "rules", (int)inv_rules_count(v->rules),
           "source", hs_config_tree(cfg, "invalidations") ? "invalidations" : "defaults");
    return v;
}

int invalidator_port(const invalidator_t *v) {
    return hs_http_server_port(v->http);
}

hs_err_t invalidator_run(invalidator_t *v, char *errstr, size_t errstr_size) {
    for (; v->started < v->nworkers; v->started++)
        pthread_create(&v->workers[v->started].thread, NULL, worker_main, &v->workers[v->started]);
    hs_err_t e = hs_consumer_run(v->consumer, errstr, errstr_size);
    workers_stop(v);
    return e;
}

void invalidator_stop(invalidator_t *v) {
    hs_consumer_stop(v->consumer);
}

void invalidator_destroy(invalidator_t *v) {
    if (!v) return;
    workers_stop(v);
    hs_http_server_destroy(v->http);
    hs_consumer_destroy(v->consumer);
    for (int i = 0; v->workers && i < v->nworkers; i++)
        hs_redis_destroy(v->workers[i].redis);
    free(v->workers);
    hs_eventdec_destroy(v->dec);
    inv_rules_destroy(v->rules);
    pthread_mutex_destroy(&v->redis_out.mtx);
    pthread_mutex_destroy(&v->registry_out.mtx);
    pthread_cond_destroy(&v->stop_cond);
    pthread_cond_destroy(&v->work);
    pthread_mutex_destroy(&v->mtx);
    free(v);
}
