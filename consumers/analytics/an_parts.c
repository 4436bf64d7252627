/* Partitions of analytics: assignment with the offsets stored in Postgres, revokes that flush
 * first, rewinds to the stored offsets, pausing (see an_internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an_internal.h"
#include "hs_log.h"

/* How long a seek may take to purge what was fetched before it (librdkafka then guarantees no
 * record from the old position reaches us). */
#define SEEK_TIMEOUT_MS 5000
/* How soon partitions without a position are tried again after Postgres failed to answer. */
#define RESOLVE_RETRY_MS 500

static an_part_t *part_find(analytics_t *a, const char *topic, int32_t partition) {
    for (size_t i = 0; i < a->nparts; i++)
        if (a->parts[i].partition == partition && !strcmp(a->parts[i].topic, topic))
            return &a->parts[i];
    return NULL;
}

an_part_t *an_part_of(analytics_t *a, const rd_kafka_message_t *m) {
    an_part_t *p = a->last_part;
    if (!p || p->rkt != m->rkt || p->partition != m->partition) {
        p = part_find(a, rd_kafka_topic_name(m->rkt), m->partition);
        if (!p) return NULL;
        p->rkt = m->rkt;
        a->last_part = p;
    }
    return p->positioned ? p : NULL;
}

static void part_add(analytics_t *a, const char *topic, int32_t partition) {
    if (part_find(a, topic, partition)) return;
    if (a->nparts == a->capparts) {
        a->capparts = a->capparts ? a->capparts * 2 : 16;
        if (!(a->parts = realloc(a->parts, a->capparts * sizeof *a->parts))) abort();
    }
    an_part_t *p = &a->parts[a->nparts++];
    *p = (an_part_t){.topic = strdup(topic), .partition = partition, .committed = -1, .next = -1};
    if (!p->topic) abort();
    a->last_part = NULL;
}

static void part_remove(analytics_t *a, const char *topic, int32_t partition) {
    an_part_t *p = part_find(a, topic, partition);
    if (!p) return;
    free(p->topic);
    *p = a->parts[--a->nparts];
    a->last_part = NULL;
}

/* A list of the partitions matching filter (positioned == want; want < 0: all). */
static rd_kafka_topic_partition_list_t *part_list(analytics_t *a, int want) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)a->nparts + 1);
    for (size_t i = 0; i < a->nparts; i++)
        if (want < 0 || a->parts[i].positioned == want)
            rd_kafka_topic_partition_list_add(l, a->parts[i].topic, a->parts[i].partition);
    return l;
}

void an_pause_all(analytics_t *a, int pause) {
    rd_kafka_topic_partition_list_t *l = part_list(a, 1);
    if (pause)
        rd_kafka_pause_partitions(a->rk, l);
    else
        rd_kafka_resume_partitions(a->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    a->paused = pause;
}

void an_rewind(analytics_t *a, const char *reason, const char *detail) {
    const char *lv[] = {reason};
    hs_metric_add(a->m_rewinds, lv, 1);
    hs_log(HS_LOG_WARN, "analytics rewinds to the stored offsets", "{s:s, s:s, s:I}", "reason",
           reason, "detail", detail ? detail : "", "dropped_events",
           (json_int_t)an_agg_events(a->agg));
    an_flush_drop(a);
    an_agg_reset(a->agg);
    a->epoch++;
    a->dlq_pending = 0;
    a->failing = 0;
    a->backoff_ms = 0;
    rd_kafka_topic_partition_list_t *l = part_list(a, -1);
    rd_kafka_pause_partitions(a->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    for (size_t i = 0; i < a->nparts; i++)
        a->parts[i].positioned = 0;
    a->paused = 0;
    a->resolve_at_ms = 0;
}

/* Seeks p to its stored offset (the beginning when none) and resumes it. */
static int position(analytics_t *a, an_part_t *p, int64_t stored) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset =
        stored >= 0 ? stored : RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(a->rk, l, SEEK_TIMEOUT_MS);
    int ok = !e && !l->elems[0].err;
    if (ok)
        rd_kafka_resume_partitions(a->rk, l);
    else
        hs_log(HS_LOG_WARN, "analytics seek failed, trying again", "{s:s, s:i, s:s}", "topic",
               p->topic, "partition", (int)p->partition, "error",
               e ? rd_kafka_error_string(e) : rd_kafka_err2str(l->elems[0].err));
    if (e) rd_kafka_error_destroy(e);
    rd_kafka_topic_partition_list_destroy(l);
    if (!ok) return 0;
    p->committed = p->next = stored;
    p->positioned = 1;
    return 1;
}

/* Reads the stored offsets of the partitions in offs from Postgres; 0 when it cannot. */
static int read_stored(analytics_t *a, an_offset_t *offs, size_t n) {
    char err[512];
    if (an_store_offsets(a->reads, a->group, offs, n, err, sizeof err) == HS_OK) {
        if (!a->failing) an_set_why(a, "");
        return 1;
    }
    hs_log(HS_LOG_WARN, "analytics cannot read its stored offsets", "{s:s, s:s}", "group", a->group,
           "error", err);
    an_set_why(a, err);
    return 0;
}

void an_resolve(analytics_t *a, int64_t now) {
    if (a->resolve_at_ms < 0 || now < a->resolve_at_ms) return;
    an_offset_t *offs = calloc(a->nparts + 1, sizeof *offs);
    an_part_t **which = calloc(a->nparts + 1, sizeof *which);
    if (!offs || !which) abort();
    size_t n = 0;
    for (size_t i = 0; i < a->nparts; i++)
        if (!a->parts[i].positioned) {
            which[n] = &a->parts[i];
            offs[n++] =
                (an_offset_t){.topic = a->parts[i].topic, .partition = a->parts[i].partition};
        }
    int pending = 0;
    if (n && read_stored(a, offs, n)) {
        for (size_t i = 0; i < n; i++)
            pending += !position(a, which[i], offs[i].expected);
    } else {
        pending = (int)n;
    }
    a->resolve_at_ms = pending ? now + RESOLVE_RETRY_MS : -1;
    free(offs);
    free(which);
}

/* Adds (assign) or removes l from the assignment: incrementally under the cooperative protocol
 * (the default, cooperative-sticky), wholesale under an eager one a kafka.* property chose. */
static void apply(analytics_t *a, rd_kafka_topic_partition_list_t *l, int assign) {
    rd_kafka_error_t *e = NULL;
    if (!strcmp(rd_kafka_rebalance_protocol(a->rk), "COOPERATIVE"))
        e = assign ? rd_kafka_incremental_assign(a->rk, l)
                   : rd_kafka_incremental_unassign(a->rk, l);
    else
        rd_kafka_assign(a->rk, assign ? l : NULL);
    if (!e) return;
    hs_log(HS_LOG_ERROR, "analytics assignment failed", "{s:s, s:s}", "change",
           assign ? "assign" : "unassign", "error", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
}

/* Assigned partitions start at their stored offsets, or (Postgres unreachable) paused without a
 * position until an_resolve reads them. */
static void assign(analytics_t *a, rd_kafka_topic_partition_list_t *l) {
    an_offset_t *offs = calloc((size_t)l->cnt + 1, sizeof *offs);
    if (!offs) abort();
    for (int i = 0; i < l->cnt; i++) {
        part_add(a, l->elems[i].topic, l->elems[i].partition);
        offs[i] = (an_offset_t){.topic = l->elems[i].topic, .partition = l->elems[i].partition};
    }
    int known = read_stored(a, offs, (size_t)l->cnt);
    for (int i = 0; i < l->cnt; i++) {
        an_part_t *p = part_find(a, l->elems[i].topic, l->elems[i].partition);
        int64_t stored = known ? offs[i].expected : -1;
        l->elems[i].offset = stored >= 0 ? stored : RD_KAFKA_OFFSET_BEGINNING;
        p->committed = p->next = stored;
        p->positioned = known;
    }
    free(offs);
    /* librdkafka keeps a pause across revoke and reassign. The resume comes first: after the
     * assignment it would outdate the offset lookup the assignment started for a partition
     * without a stored offset, which librdkafka retries only 500 ms later. */
    int run = known && !a->paused;
    if (run) rd_kafka_resume_partitions(a->rk, l);
    apply(a, l, 1);
    if (!run) rd_kafka_pause_partitions(a->rk, l);
    if (!known) a->resolve_at_ms = hs_wall_ms() + RESOLVE_RETRY_MS;
}

static void revoke(analytics_t *a, rd_kafka_topic_partition_list_t *l, int lost) {
    if (lost)
        an_rewind(a, "lost", "the group took the partitions away");
    else
        an_flush_until(a, hs_wall_ms() + hs_config_int(a->cfg, "consumer.revoke_wait_ms"),
                       "revoke");
    for (int i = 0; i < l->cnt; i++)
        part_remove(a, l->elems[i].topic, l->elems[i].partition);
    apply(a, l, 0);
}

void an_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *l,
                     void *opaque) {
    (void)rk;
    analytics_t *a = opaque;
    int lost = err != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS && rd_kafka_assignment_lost(a->rk);
    hs_log(HS_LOG_INFO, "analytics rebalance", "{s:s, s:i}", "kind",
           err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assign"
           : lost                                      ? "lost"
                                                       : "revoke",
           "partitions", l->cnt);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        assign(a, l);
    else
        revoke(a, l, lost);
}

void an_lag(analytics_t *a) {
    for (size_t i = 0; i < a->nparts; i++) {
        an_part_t *p = &a->parts[i];
        int64_t lo, hi;
        if (!p->positioned ||
            rd_kafka_get_watermark_offsets(a->rk, p->topic, p->partition, &lo, &hi) || hi < 0)
            continue;
        int64_t pos = p->next >= 0 ? p->next : lo;
        hs_heartbeat_lag(a->hb, p->topic, p->partition, hi > pos ? hi - pos : 0);
    }
}
