/* The deliver service: wires the store, the endpoint list, the sender, the consumer runtime,
 * the admin API and the replay runner together (see deliver.h). */
#include "deliver.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "deliver_internal.h"
#include "hs_control.h"
#include "hs_http.h"
#include "hs_log.h"

#define TICK_MS 20
#define RELOAD_MS 1000
#define MAX_TOPICS 32

static int allow_addr(void *opaque, const struct sockaddr *sa) {
    return hs_ssrf_addr_allowed(opaque, sa);
}

static void admin_changed(void *opaque) {
    deliver_t *d = opaque;
    atomic_store(&d->reload_wanted, 1);
    pthread_cond_signal(&d->wake);
}

/* `replay --group G --force`: the running members seek themselves. */
static void control_seek(void *opaque, const char *topic, int32_t partition, int64_t offset) {
    deliver_t *d = opaque;
    char err[256];
    if (hs_consumer_seek(d->consumer, topic, partition, offset, err, sizeof err))
        hs_log(HS_LOG_WARN, "control seek not applied", "{s:s, s:i, s:s}", "topic", topic,
               "partition", (int)partition, "error", err);
}

static int ready(void *opaque, char *why, size_t n) {
    deliver_t *d = opaque;
    int64_t v;
    return hs_consumer_ready(d->consumer, why, n) &&
           deliver_store_version(d->store, &v, why, n) == HS_OK;
}

/* Pumps endpoint queues (tokens refill, breakers turn half-open) and reloads the endpoint list
 * when the store changed. */
static void *ticker_main(void *arg) {
    deliver_t *d = arg;
    int64_t since_reload = 0;
    char err[512];
    pthread_mutex_lock(&d->wake_mtx);
    while (!atomic_load(&d->stopping)) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += TICK_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&d->wake, &d->wake_mtx, &until);
        pthread_mutex_unlock(&d->wake_mtx);
        since_reload += TICK_MS;
        if (atomic_exchange(&d->reload_wanted, 0) || since_reload >= RELOAD_MS) {
            since_reload = 0;
            if (deliver_eps_reload(d, err, sizeof err))
                hs_log(HS_LOG_WARN, "cannot reload endpoints", "{s:s}", "error", err);
            else
                deliver_ordered_sync(d);
        }
        deliver_delayed_pump(d);
        deliver_pump_all(d);
        pthread_mutex_lock(&d->wake_mtx);
    }
    pthread_mutex_unlock(&d->wake_mtx);
    return NULL;
}

static void metrics_init(deliver_t *d) {
    static const double e2e[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                 0.25,  0.5,    1,     2.5,  5,     10,   60};
    d->m_deliveries = hs_metrics_counter(
        "hs_deliver_attempts_total",
        "Delivery attempts by outcome (succeeded, retrying, failed, skipped, held)", "outcome");
    d->m_e2e = hs_metrics_histogram("hs_deliver_end_to_end_seconds",
                                    "Time from an event's production to its successful delivery",
                                    NULL, e2e, sizeof e2e / sizeof e2e[0]);
    d->m_breaker =
        hs_metrics_gauge("hs_deliver_breaker_state",
                         "Circuit breaker per endpoint: 0 closed, 1 open, 2 half-open", "endpoint");
    d->m_queued = hs_metrics_gauge(
        "hs_deliver_queued", "Deliveries waiting for an endpoint's slot or token", "endpoint");
    d->m_replayed = hs_metrics_counter("hs_deliver_replayed_total",
                                       "Deliveries sent by replays, by outcome", "outcome");
}

static hs_err_t open_parts(deliver_t *d, char *errstr, size_t n) {
    const hs_config_t *cfg = d->cfg;
    const char *master = hs_config_str(cfg, "deliver.master_key");
    if (!master[0])
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "deliver.master_key is not set (HS_DELIVER_MASTER_KEY: 64 hex characters "
                       "or base64 of 32 bytes, e.g. from `openssl rand -hex 32`)");
    char err[512];
    if (hs_secretbox_key_parse(master, &d->key, err, sizeof err))
        return hs_fail(HS_ERR_INVALID, errstr, n, "deliver.master_key: %s", err);
    if (hs_backoff_parse(hs_config_str(cfg, "deliver.retry_policy"), &d->default_policy, err,
                         sizeof err))
        return hs_fail(HS_ERR_INVALID, errstr, n, "deliver.retry_policy: %s", err);
    if (!(d->ssrf = hs_ssrf_new(hs_config_str(cfg, "deliver.allow_private"), err, sizeof err)))
        return hs_fail(HS_ERR_INVALID, errstr, n, "deliver.allow_private: %s", err);
    d->breaker_opts = (hs_breaker_opts_t){
        .failure_rate = (double)hs_config_int(cfg, "deliver.breaker_failure_pct") / 100.0,
        .min_requests = (int)hs_config_int(cfg, "deliver.breaker_min_requests"),
        .window_ms = hs_config_int(cfg, "deliver.breaker_window_ms"),
        .open_ms = hs_config_int(cfg, "deliver.breaker_open_ms"),
        .half_open_probes = 1};
    d->default_max_in_flight = (int)hs_config_int(cfg, "deliver.max_in_flight");
    /* Every message of every partition's window may wait for the same endpoint: only past that
     * does an endpoint's surplus go to a retry tier. */
    d->queue_bound = (size_t)hs_config_int(cfg, "consumer.window") * 64;
    d->queue_wait_ms = hs_config_int(cfg, "deliver.queue_wait_ms");
    d->disabled_hold_ms = hs_config_int(cfg, "deliver.disabled_hold_ms");
    if (!(d->flags = hs_flags_new(cfg, errstr, n)) || hs_flags_start(d->flags, errstr, n))
        return HS_ERR_INVALID;
    if (!(d->store = deliver_store_new(hs_config_str(cfg, "postgres.dsn"), &d->key, 4, errstr, n)))
        return HS_ERR_UNAVAILABLE;
    deliver_store_attempt_queue_set(d->store, (size_t)hs_config_int(cfg, "deliver.attempt_queue"));
    deliver_sender_opts_t so = {
        .max_connections = (int)hs_config_int(cfg, "deliver.max_connections"),
        .timeout_ms = (long)hs_config_int(cfg, "deliver.timeout_ms"),
        .connect_timeout_ms = (long)hs_config_int(cfg, "deliver.connect_timeout_ms"),
        .max_response_bytes = (size_t)hs_config_int(cfg, "deliver.max_response_bytes"),
        .allow_addr = allow_addr,
        .allow_opaque = d->ssrf};
    if (!(d->sender = deliver_sender_new(&so, errstr, n))) return HS_ERR_INTERNAL;
    if (!(d->dec = hs_eventdec_new(cfg)))
        return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    return deliver_eps_reload(d, errstr, n);
}

static hs_err_t open_consumer(deliver_t *d, char *errstr, size_t n) {
    char topics_buf[1024];
    const char *topics[HS_CONSUMER_MAX_TOPICS + 1];
    hs_consumer_topics_split(hs_config_str(d->cfg, "deliver.topics"), topics_buf, sizeof topics_buf,
                             topics);
    hs_consumer_opts_t co = {.service = "deliver",
                             .group = hs_config_str(d->cfg, "deliver.group"),
                             .topics = topics,
                             .handler = deliver_handle,
                             .opaque = d};
    if (!(d->consumer = hs_consumer_new(d->cfg, &co, errstr, n))) return HS_ERR_UNAVAILABLE;
    d->control = hs_control_follow(d->cfg, co.group, control_seek, d, errstr, n);
    return d->control ? HS_OK : HS_ERR_UNAVAILABLE;
}

static hs_err_t open_http(deliver_t *d, char *errstr, size_t n) {
    hs_http_opts_t ho = {.listen = hs_config_str(d->cfg, "deliver.listen"), .service = "deliver"};
    if (!(d->http = hs_http_server_new(&ho, errstr, n))) return HS_ERR_INVALID;
    deliver_admin_opts_t ao = {.store = d->store,
                               .cfg = d->cfg,
                               .producer = hs_consumer_producer(d->consumer),
                               .changed = admin_changed,
                               .opaque = d};
    if (!(d->admin = deliver_admin_new(&ao, errstr, n))) return HS_ERR_INVALID;
    deliver_admin_routes(d->admin, d->http);
    hs_http_set_ready(d->http, ready, d);
    return hs_http_server_start(d->http, errstr, n);
}

deliver_t *deliver_new(const hs_config_t *cfg, char *errstr, size_t errstr_size) {
    deliver_t *d = calloc(1, sizeof *d);
    if (!d) {
        hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory");
        return NULL;
    }
    d->cfg = cfg;
    pthread_mutex_init(&d->eps_mtx, NULL);
    pthread_mutex_init(&d->delayed_mtx, NULL);
    pthread_mutex_init(&d->wake_mtx, NULL);
    pthread_cond_init(&d->wake, NULL);
    metrics_init(d);
    if (open_parts(d, errstr, errstr_size) || open_consumer(d, errstr, errstr_size) ||
        open_http(d, errstr, errstr_size)) {
        deliver_destroy(d);
        return NULL;
    }
    pthread_create(&d->ticker, NULL, ticker_main, d);
    pthread_create(&d->replayer, NULL, deliver_replay_main, d);
    return d;
}

int deliver_port(const deliver_t *d) {
    return hs_http_server_port(d->http);
}

hs_err_t deliver_run(deliver_t *d, char *errstr, size_t errstr_size) {
    return hs_consumer_run(d->consumer, errstr, errstr_size);
}

void deliver_stop(deliver_t *d) {
    atomic_store(&d->stopping, 1);
    hs_consumer_stop(d->consumer);
}

void deliver_destroy(deliver_t *d) {
    if (!d) return;
    if (d->ticker) {
        atomic_store(&d->stopping, 1);
        pthread_mutex_lock(&d->wake_mtx);
        pthread_cond_broadcast(&d->wake);
        pthread_mutex_unlock(&d->wake_mtx);
        pthread_join(d->ticker, NULL);
        pthread_join(d->replayer, NULL);
    }
    deliver_delayed_pump(d); /* stopping: what waits for another try is left unfinished */
    deliver_ordered_stop_all(d);
    hs_http_server_destroy(d->http);
    deliver_admin_destroy(d->admin);
    hs_control_destroy(d->control);
    /* The sender answers what is still in flight (as failures) while the consumer still takes
     * their handoffs; only then does the consumer go. */
    deliver_sender_destroy(d->sender);
    deliver_delayed_pump(d);
    deliver_ordered_free(d);
    hs_consumer_destroy(d->consumer);
    char err[256];
    if (d->store && deliver_store_attempt_flush(d->store, err, sizeof err))
        hs_log(HS_LOG_WARN, "attempt log not flushed", "{s:s}", "error", err);
    deliver_store_destroy(d->store);
    deliver_eps_free(d);
    hs_eventdec_destroy(d->dec);
    hs_flags_destroy(d->flags);
    hs_ssrf_destroy(d->ssrf);
    pthread_cond_destroy(&d->wake);
    pthread_mutex_destroy(&d->wake_mtx);
    pthread_mutex_destroy(&d->eps_mtx);
    pthread_mutex_destroy(&d->delayed_mtx);
    OPENSSL_cleanse(&d->key, sizeof d->key);
    free(d);
}
