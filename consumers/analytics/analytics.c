/* The analytics service: wires the reader, the aggregate, the store, the consumer and DLQ
 * producer, the heartbeat and the HTTP server together (see analytics.h). */
#include "analytics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an_internal.h"
#include "hs_kafka.h"
#include "hs_log.h"

static void metrics_init(analytics_t *a) {
    static const double flush_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                           0.25,  0.5,    1,     2.5,  5,     10};
    a->m_events = hs_metrics_counter(
        "hs_analytics_events_total",
        "Events written to Postgres by outcome: aggregated, late (older than the open window, "
        "added to its own), dlq (malformed, dead-lettered)",
        "type,outcome");
    a->m_flushes = hs_metrics_counter("hs_analytics_flushes_total",
                                      "Flush transactions by outcome (ok, error)", "outcome");
    a->m_flush_seconds = hs_metrics_histogram(
        "hs_analytics_flush_seconds", "Duration of a successful flush transaction", NULL,
        flush_buckets, sizeof flush_buckets / sizeof flush_buckets[0]);
    a->m_flush_rows =
        hs_metrics_gauge("hs_analytics_flush_rows",
                         "Rows (minute windows and stock levels) of the last flush", NULL);
    a->m_windows = hs_metrics_gauge("hs_analytics_windows_open",
                                    "Minute windows held in memory until the next flush", NULL);
    a->m_rewinds = hs_metrics_counter(
        "hs_analytics_rewinds_total",
        "Times the held windows were dropped and the partitions sent back to their stored "
        "offsets, by reason (fenced, lost, revoke, shutdown, registry)",
        "reason");
}

static int ready(void *opaque, char *why, size_t n) {
    analytics_t *a = opaque;
    if (!hs_heartbeat_ready(a->hb, hs_config_int(a->cfg, "consumer.max_poll_silence_ms"), why, n))
        return 0;
    pthread_mutex_lock(&a->why_mtx);
    int ok = a->why[0] == '\0';
    if (!ok) snprintf(why, n, "%s", a->why);
    pthread_mutex_unlock(&a->why_mtx);
    return ok;
}

static hs_err_t ensure_dlq(analytics_t *a, char *errstr, size_t n) {
    int timeout = (int)hs_config_int(a->cfg, "kafka.timeout_ms");
    int parts = 0;
    hs_err_t e = hs_kafka_topic_partitions(a->producer, a->dlq_topic, &parts, timeout, errstr, n);
    if (e != HS_ERR_NOT_FOUND) return e;
    e = hs_kafka_topic_create(a->producer, a->dlq_topic,
                              (int)hs_config_int(a->cfg, "kafka.partitions"),
                              (int)hs_config_int(a->cfg, "kafka.replication_factor"),
                              hs_config_str(a->cfg, "broker.control_url"), timeout, errstr, n);
    return e == HS_ERR_CONFLICT ? HS_OK : e;
}

static hs_err_t open_kafka(analytics_t *a, char *errstr, size_t n) {
    snprintf(a->dlq_topic, sizeof a->dlq_topic, "%s.dlq", a->group);
    rd_kafka_conf_t *pc = hs_kafka_producer_conf(a->cfg, errstr, n);
    if (!pc) return HS_ERR_INVALID;
    rd_kafka_conf_set_dr_msg_cb(pc, an_dlq_dr);
    rd_kafka_conf_set_opaque(pc, a);
    if (!(a->producer = hs_kafka_new(RD_KAFKA_PRODUCER, pc, errstr, n))) return HS_ERR_INVALID;
    hs_err_t e = ensure_dlq(a, errstr, n);
    if (e) return e;
    rd_kafka_conf_t *cc = hs_kafka_consumer_conf(a->cfg, a->group, errstr, n);
    if (!cc) return HS_ERR_INVALID;
    /* Positions come from Postgres; Kafka only hears of them afterwards (informational). */
    if (rd_kafka_conf_set(cc, "enable.auto.commit", "false", errstr, n) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(cc);
        return HS_ERR_INVALID;
    }
    rd_kafka_conf_set_opaque(cc, a);
    rd_kafka_conf_set_rebalance_cb(cc, an_rebalance_cb);
    if (!(a->rk = hs_kafka_new(RD_KAFKA_CONSUMER, cc, errstr, n))) return HS_ERR_INVALID;
    a->queue = rd_kafka_queue_get_consumer(a->rk);
    return HS_OK;
}

static hs_err_t open_parts(analytics_t *a, char *errstr, size_t n) {
    const hs_config_t *cfg = a->cfg;
    a->group = hs_config_str(cfg, "analytics.group");
    a->flush_ms = hs_config_int(cfg, "analytics.flush_ms");
    a->flush_events = hs_config_int(cfg, "analytics.flush_events");
    a->max_pending = hs_config_int(cfg, "analytics.max_pending_events");
    a->late_after_ms = hs_config_int(cfg, "analytics.late_after_ms");
    a->retry_max_ms = hs_config_int(cfg, "analytics.retry_max_ms");
    a->resolve_at_ms = -1;
    a->agg = an_agg_new(a->late_after_ms);
    a->reader = an_reader_new(cfg);
    a->hb = hs_heartbeat_new("analytics", a->group);
    const char *dsn = hs_config_str(cfg, "postgres.dsn");
    int timeout_s = (int)hs_config_int(cfg, "postgres.connect_timeout_s");
    if (!(a->store = an_store_new(dsn, timeout_s, errstr, n)) ||
        !(a->reads = an_store_new(dsn, timeout_s, errstr, n)))
        return HS_ERR_UNAVAILABLE;
    hs_err_t e = open_kafka(a, errstr, n);
    if (!e) e = an_flusher_start(a, errstr, n);
    if (e) return e;
    hs_http_opts_t ho = {.listen = hs_config_str(cfg, "analytics.listen"),
                         .service = "analytics",
                         .threads = (int)hs_config_int(cfg, "http.threads")};
    if (!(a->http = hs_http_server_new(&ho, errstr, n))) return HS_ERR_INVALID;
    hs_http_set_ready(a->http, ready, a);
    return hs_http_server_start(a->http, errstr, n);
}

analytics_t *analytics_new(const hs_config_t *cfg, char *errstr, size_t errstr_size) {
    analytics_t *a = calloc(1, sizeof *a);
    if (!a) {
        hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory");
        return NULL;
    }
    a->cfg = cfg;
    pthread_mutex_init(&a->why_mtx, NULL);
    pthread_mutex_init(&a->job_mtx, NULL);
    pthread_cond_init(&a->job_cond, NULL);
    metrics_init(a);
    if (open_parts(a, errstr, errstr_size)) {
        analytics_destroy(a);
        return NULL;
    }
    return a;
}

int analytics_port(const analytics_t *a) {
    return hs_http_server_port(a->http);
}

void analytics_stop(analytics_t *a) {
    atomic_store(&a->stopping, 1);
}

void analytics_destroy(analytics_t *a) {
    if (!a) return;
    hs_http_server_destroy(a->http);
    if (a->queue) rd_kafka_queue_destroy(a->queue);
    for (size_t i = 0; i < a->nrkts; i++)
        if (a->rkts[i]) rd_kafka_topic_destroy(a->rkts[i]);
    if (a->rk) rd_kafka_destroy(a->rk);
    if (a->producer) {
        rd_kafka_flush(a->producer, (int)hs_config_int(a->cfg, "kafka.timeout_ms"));
        rd_kafka_destroy(a->producer);
    }
    an_dlq_free(a);
    an_flusher_stop(a);
    for (size_t i = 0; i < a->nparts; i++)
        free(a->parts[i].topic);
    free(a->parts);
    an_store_destroy(a->store);
    an_store_destroy(a->reads);
    an_reader_destroy(a->reader);
    an_agg_destroy(a->agg);
    hs_heartbeat_destroy(a->hb);
    pthread_mutex_destroy(&a->why_mtx);
    pthread_mutex_destroy(&a->job_mtx);
    pthread_cond_destroy(&a->job_cond);
    free(a);
}
