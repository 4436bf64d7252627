/* The consumer loop of analytics: records into the aggregate, dead letters, and between batches
 * the positions, the flushes (an_flush.c), backpressure and lag. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "an_internal.h"
#include "hs_consumer.h"
#include "hs_log.h"

#define BATCH 4096
/* Most windows held before a flush is due regardless of flush_events and flush_ms (events
 * spread over many minutes, e.g. a replay of old data, make many small windows). */
#define MAX_WINDOWS 20000
#define IDLE_FLUSH_MS 100

void an_set_why(analytics_t *a, const char *why) {
    size_t n = strnlen(why, sizeof a->why - 1);
    pthread_mutex_lock(&a->why_mtx);
    memcpy(a->why, why, n);
    a->why[n] = '\0';
    pthread_mutex_unlock(&a->why_mtx);
}

/* ---- the loop ----------------------------------------------------------------------------- */

/* Returns 1 when m, below p's position, is there because the partition now ends before that
 * position (the topic was recreated, e.g. an embedded broker restarted): librdkafka reset it to
 * the beginning, and the stored offset no longer names these records. */
static int reset(analytics_t *a, an_part_t *p, const rd_kafka_message_t *m) {
    int64_t lo, hi;
    if (rd_kafka_get_watermark_offsets(a->rk, p->topic, p->partition, &lo, &hi) || hi < 0 ||
        hi >= p->next)
        return 0;
    hs_log(HS_LOG_WARN, "analytics partition ends before its stored offset, reading it again",
           "{s:s, s:i, s:I, s:I}", "topic", p->topic, "partition", (int)p->partition, "stored",
           (json_int_t)p->next, "end", (json_int_t)hi);
    p->next = m->offset;
    return 1;
}

static void take(analytics_t *a, const rd_kafka_message_t *m, int64_t now) {
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            hs_log(HS_LOG_WARN, "analytics consumer error", "{s:s}", "error",
                   rd_kafka_message_errstr(m));
        return;
    }
    an_part_t *p = an_part_of(a, m);
    /* not positioned (rewound, or assigned while Postgres was away), or read already */
    if (!p || (p->next >= 0 && m->offset < p->next && !reset(a, p, m))) return;
    an_event_t ev;
    const char *cls;
    char err[512];
    hs_err_t e = an_reader_read(a->reader, m, &ev, &cls, err, sizeof err);
    if (e == HS_ERR_UNAVAILABLE) {
        an_rewind(a, "registry", err);
        a->resolve_at_ms = now + a->retry_max_ms;
        an_set_why(a, err);
        return;
    }
    if (e) {
        an_dlq_send(a, m, cls, err);
        an_agg_count_dlq(a->agg, &ev.type);
    } else {
        an_agg_add(a->agg, &ev, now);
    }
    p->next = m->offset + 1;
}

/* A flush is due every flush_ms, at flush_events, at MAX_WINDOWS, and as soon as the consumer
 * has caught up (idle: the last poll found nothing more), at most every IDLE_FLUSH_MS: what was
 * read is then visible without waiting out flush_ms. */
static int flush_due(analytics_t *a, int64_t now, int idle) {
    size_t nw;
    an_agg_windows(a->agg, &nw);
    int64_t events = an_agg_events(a->agg), since = now - a->last_flush_ms;
    if (!events) return 0;
    return since >= a->flush_ms || (idle && since >= IDLE_FLUSH_MS) || events >= a->flush_events ||
           nw >= MAX_WINDOWS;
}

/* What runs between batches: positions, flushes, backpressure, lag. */
static void tick(analytics_t *a, int64_t now, int idle) {
    an_resolve(a, now);
    an_flush_poll(a, now, flush_due(a, now, idle));
    size_t nw;
    an_agg_windows(a->agg, &nw);
    if (a->failing && !a->paused && (an_agg_events(a->agg) >= a->max_pending || nw >= MAX_WINDOWS))
        an_pause_all(a, 1);
    if (now >= a->lag_at_ms) {
        an_lag(a);
        hs_metric_set(a->m_windows, NULL, (double)nw);
        a->lag_at_ms = now + 1000;
    }
}

static hs_err_t subscribe(analytics_t *a, char *errstr, size_t n) {
    char buf[1024];
    const char *topics[HS_CONSUMER_MAX_TOPICS + 1];
    size_t nt = hs_consumer_topics_split(hs_config_str(a->cfg, "analytics.topics"), buf, sizeof buf,
                                         topics);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)nt + 1);
    for (size_t i = 0; i < nt; i++) {
        rd_kafka_topic_partition_list_add(l, topics[i], RD_KAFKA_PARTITION_UA);
        /* A handle taken now learns the partitions' leaders from the subscription's metadata.
         * Created at the assignment instead, its partitions start without a leader, and a
         * group's first start (no stored offsets: an offset lookup) waits librdkafka's 500 ms
         * retry of that lookup. A pattern's topics are not known yet. */
        if (topics[i][0] != '^' && a->nrkts < HS_CONSUMER_MAX_TOPICS)
            a->rkts[a->nrkts++] = rd_kafka_topic_new(a->rk, topics[i], NULL);
    }
    rd_kafka_resp_err_t err = rd_kafka_subscribe(a->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err)
        return hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "subscribe of group %s: %s", a->group,
                       rd_kafka_err2str(err));
    return HS_OK;
}

hs_err_t analytics_run(analytics_t *a, char *errstr, size_t errstr_size) {
    hs_err_t e = subscribe(a, errstr, errstr_size);
    if (e) return e;
    a->last_flush_ms = hs_wall_ms();
    while (!atomic_load(&a->stopping)) {
        /* rd_kafka_consumer_poll rather than rd_kafka_consume_batch_queue: the batch API of
         * librdkafka 2.0 may hand out records made outdated by a seek or a rebalance (its
         * release notes' known issues), and a rewind relies on seeks. A poll that finds a
         * record ready is cheap. */
        rd_kafka_message_t *m = rd_kafka_consumer_poll(a->rk, 100);
        hs_heartbeat_beat(a->hb);
        int64_t now = hs_wall_ms();
        int taken = 0;
        for (; m; m = ++taken < BATCH ? rd_kafka_consumer_poll(a->rk, 0) : NULL) {
            take(a, m, now);
            rd_kafka_message_destroy(m);
        }
        rd_kafka_poll(a->producer, 0);
        tick(a, now, taken < BATCH);
    }
    int64_t deadline = hs_wall_ms() + hs_config_int(a->cfg, "consumer.shutdown_deadline_ms");
    an_flush_until(a, deadline, "shutdown");
    rd_kafka_consumer_close(a->rk);
    return HS_OK;
}
