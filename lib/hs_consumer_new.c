/* Construction and teardown of a consumer: options and config resolved, the retry tier and DLQ
 * topics created when missing, the handoff producer (delivery reports on librdkafka's background
 * thread, so acknowledgements arrive whatever the dispatch thread is doing), the consumer, and
 * the metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"
#include "hs_consumer_internal.h"
#include "hs_kafka.h"
#include "hs_log.h"

static void metrics_register(hs_consumer_t *c) {
    c->m_msgs = hs_metrics_counter("hs_consumer_messages_total",
                                   "Messages finished by the consumer runtime, by outcome.",
                                   "service,topic,outcome");
    c->m_seconds = hs_metrics_histogram("hs_consumer_handler_seconds",
                                        "Time from handler call to the message being finished.",
                                        "service,topic,outcome", NULL, 0);
    c->m_inflight = hs_metrics_gauge("hs_consumer_in_flight",
                                     "Messages in a partition's window (running or waiting).",
                                     "service,topic,partition");
    c->m_rebalances =
        hs_metrics_counter("hs_consumer_rebalances_total",
                           "Rebalance events by kind (assign, revoke, lost).", "service,kind");
    c->m_handoff_fail = hs_metrics_counter(
        "hs_consumer_handoff_failures_total",
        "Produces of retry/DLQ copies that failed and were sent again.", "service,topic");
}

static hs_err_t ensure_topic(hs_consumer_t *c, const char *topic, char *errstr, size_t n) {
    int timeout = (int)hs_config_int(c->cfg, "kafka.timeout_ms");
    int parts = 0;
    hs_err_t rc = hs_kafka_topic_partitions(c->producer, topic, &parts, timeout, errstr, n);
    if (rc != HS_ERR_NOT_FOUND) return rc;
    rc = hs_kafka_topic_create(c->producer, topic, (int)hs_config_int(c->cfg, "kafka.partitions"),
                               (int)hs_config_int(c->cfg, "kafka.replication_factor"),
                               hs_config_str(c->cfg, "broker.control_url"), timeout, errstr, n);
    if (rc == HS_ERR_CONFLICT) return HS_OK; /* another member created it meanwhile */
    if (rc == HS_OK)
        hs_log(HS_LOG_INFO, "consumer created topic", "{s:s, s:s}", "service", c->service, "topic",
               topic);
    return rc;
}

static char *topic_name(const char *group, const char *suffix, char *errstr, size_t n) {
    char buf[300];
    snprintf(buf, sizeof buf, "%s.%s", group, suffix);
    if (!hs_kafka_topic_name_ok(buf)) {
        hs_fail(HS_ERR_INVALID, errstr, n, "group '%s' makes an invalid topic name '%s'", group,
                buf);
        return NULL;
    }
    char *s = strdup(buf);
    if (!s) abort();
    return s;
}

static hs_err_t opts_copy(hs_consumer_t *c, const hs_consumer_opts_t *o, char *errstr, size_t n) {
    if (!o->group || !*o->group || !o->topics || !o->topics[0] || !o->handler)
        return hs_fail(HS_ERR_INVALID, errstr, n, "consumer needs a group, topics and a handler");
    c->service = strdup(o->service ? o->service : o->group);
    c->group = strdup(o->group);
    while (o->topics[c->ntopics])
        c->ntopics++;
    c->topics = calloc(c->ntopics + 1, sizeof *c->topics);
    if (!c->service || !c->group || !c->topics) abort();
    for (size_t i = 0; i < c->ntopics; i++)
        if (!(c->topics[i] = strdup(o->topics[i]))) abort();
    c->handler = o->handler;
    c->opaque = o->opaque;
    c->window = o->window > 0 ? o->window : (int)hs_config_int(c->cfg, "consumer.window");
    c->read_ahead = (int)hs_config_int(c->cfg, "consumer.read_ahead");
    c->keep_order = o->keep_order;
    c->shutdown_deadline_ms = o->shutdown_deadline_ms > 0
                                  ? o->shutdown_deadline_ms
                                  : (int)hs_config_int(c->cfg, "consumer.shutdown_deadline_ms");
    c->revoke_wait_ms = (int)hs_config_int(c->cfg, "consumer.revoke_wait_ms");
    if (o->n_retry_tiers > HS_CONSUMER_MAX_TIERS)
        return hs_fail(HS_ERR_INVALID, errstr, n, "more than %d retry tiers",
                       HS_CONSUMER_MAX_TIERS);
    if (o->n_retry_tiers == 0) {
        hs_err_t rc =
            hs_consumer_tiers_parse(hs_config_str(c->cfg, "consumer.retry_tiers"), c->tiers_ms,
                                    HS_CONSUMER_MAX_TIERS, &c->ntiers, errstr, n);
        if (rc != HS_OK) return rc;
    }
    for (size_t i = 0; i < o->n_retry_tiers; i++) {
        if (o->retry_tiers_ms[i] <= 0 ||
            (i > 0 && o->retry_tiers_ms[i] <= o->retry_tiers_ms[i - 1]))
            return hs_fail(HS_ERR_INVALID, errstr, n,
                           "retry tiers must be positive and strictly ascending");
        c->tiers_ms[c->ntiers++] = o->retry_tiers_ms[i];
    }
    char label[40], suffix[64];
    for (size_t i = 0; i < c->ntiers; i++) {
        snprintf(suffix, sizeof suffix, "retry.%s",
                 hs_consumer_tier_label(c->tiers_ms[i], label, sizeof label));
        if (!(c->tier_topics[i] = topic_name(c->group, suffix, errstr, n))) return HS_ERR_INVALID;
    }
    if (!(c->dlq_topic = topic_name(c->group, "dlq", errstr, n))) return HS_ERR_INVALID;
    return HS_OK;
}

static hs_err_t clients_new(hs_consumer_t *c, char *errstr, size_t n) {
    rd_kafka_conf_t *pc = hs_kafka_producer_conf(c->cfg, errstr, n);
    if (!pc) return HS_ERR_INVALID;
    rd_kafka_conf_set_opaque(pc, c);
    rd_kafka_conf_set_events(pc, RD_KAFKA_EVENT_DR);
    rd_kafka_conf_set_background_event_cb(pc, hs_consumer_producer_event);
    if (!(c->producer = hs_kafka_new(RD_KAFKA_PRODUCER, pc, errstr, n))) return HS_ERR_INVALID;
    /* Delivery reports are queued on the main queue: serve it on the background thread. */
    rd_kafka_queue_t *mq = rd_kafka_queue_get_main(c->producer);
    rd_kafka_queue_t *bq = rd_kafka_queue_get_background(c->producer);
    rd_kafka_queue_forward(mq, bq);
    rd_kafka_queue_destroy(mq);
    rd_kafka_queue_destroy(bq);
    for (size_t i = 0; i <= c->ntiers; i++) {
        hs_err_t rc = ensure_topic(c, i < c->ntiers ? c->tier_topics[i] : c->dlq_topic, errstr, n);
        if (rc != HS_OK) return rc;
    }
    rd_kafka_conf_t *cc = hs_consumer_conf(c, errstr, n);
    if (!cc) return HS_ERR_INVALID;
    if (!(c->rk = hs_kafka_new(RD_KAFKA_CONSUMER, cc, errstr, n))) return HS_ERR_INVALID;
    c->cq = rd_kafka_queue_get_consumer(c->rk);
    return HS_OK;
}

hs_consumer_t *hs_consumer_new(const hs_config_t *cfg, const hs_consumer_opts_t *opts, char *errstr,
                               size_t errstr_size) {
    hs_consumer_t *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->cfg = cfg;
    pthread_mutex_init(&c->mtx, NULL);
    pthread_cond_init(&c->cond, NULL);
    atomic_init(&c->stopping, 0);
    metrics_register(c);
    if (opts_copy(c, opts, errstr, errstr_size) != HS_OK) {
        hs_consumer_destroy(c);
        return NULL;
    }
    c->hb = hs_heartbeat_new(c->service, c->group);
    if (clients_new(c, errstr, errstr_size) != HS_OK) {
        hs_consumer_destroy(c);
        return NULL;
    }
    return c;
}

void hs_consumer_destroy(hs_consumer_t *c) {
    if (!c) return;
    if (c->rk && !c->running) rd_kafka_consumer_close(c->rk);
    hs_consumer_parts_free(c);
    if (c->producer) { /* first: pending handoffs point into messages */
        rd_kafka_flush(c->producer, (int)hs_config_int(c->cfg, "kafka.timeout_ms"));
        rd_kafka_purge(c->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_destroy(c->producer);
    }
    /* Before the consumer: rd_kafka_destroy waits for every message of the handle. */
    hs_consumer_msgs_free_all(c);
    if (c->cq) rd_kafka_queue_destroy(c->cq);
    /* librdkafka before 2.3.0 asserts in rd_kafka_destroy when a cooperative-sticky member that
     * joined but never got its first assignment goes (librdkafka#4312): such a handle, already
     * closed, is left for the process exit to reclaim. */
    if (c->rk && c->running && !c->assigned_once)
        hs_log(HS_LOG_WARN, "consumer left without its first assignment: handle not destroyed",
               "{s:s, s:s}", "service", c->service, "group", c->group);
    else if (c->rk)
        rd_kafka_destroy(c->rk);
    for (size_t i = 0; i < c->ntopics; i++)
        free(c->topics[i]);
    free(c->topics);
    for (size_t i = 0; i < c->ntiers; i++)
        free(c->tier_topics[i]);
    free(c->dlq_topic);
    hs_heartbeat_destroy(c->hb);
    free(c->service);
    free(c->group);
    pthread_mutex_destroy(&c->mtx);
    pthread_cond_destroy(&c->cond);
    free(c);
}

int hs_consumer_ready(const hs_consumer_t *c, char *why, size_t n) {
    return hs_heartbeat_ready(c->hb, hs_config_int(c->cfg, "consumer.max_poll_silence_ms"), why, n);
}
