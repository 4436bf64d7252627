/* The consumer runtime's group side and dispatch loop: subscription to the main topics and the
 * group's retry tiers, incremental (cooperative) rebalances, one window of in-flight messages
 * per partition (dispatch in key order, offset store of the finished prefix) with a read-ahead
 * behind it (the partition is paused only when both are full), tier partitions paused until
 * their head is due, seeks requested by other threads, statistics to lag gauges, and the
 * graceful shutdown. Messages and handoffs: hs_consumer_msg.c. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "banned.h"
#include "hs_consumer_internal.h"
#include "hs_kafka.h"
#include "hs_log.h"

#define POLL_MAX_MS 100
#define FETCH_WAIT_MS "10"

/* @locality: dispatch thread; the list links and identity fields are also read by
 * hs_consumer_seek under c->mtx. */
struct cpart {
    char *topic;
    int32_t partition;
    int tier; /* index of the retry tier this partition belongs to, -1 for a main topic */
    hs_consumer_msg_t **win; /* ring of c->window slots in offset order */
    int head, count;
    int waiting; /* messages of the window not yet dispatched (behind their key) */
    /* Read-ahead: messages polled after the window filled, in offset order, up to
     * c->read_ahead (main topics only). librdkafka drops what it prefetched for a partition
     * when it is paused and fetches it again on resume, whole record batches at a time; held
     * here, a full window costs no pause, and one pause covers read_ahead messages. */
    rd_kafka_message_t **ahead;
    int ahead_head, ahead_count;
    int full, due, paused; /* paused = what librdkafka was told: full || due */
    int revoking;          /* no new dispatches: the partition is being given up */
    int64_t due_at_ms;
    int gauge; /* the count consumer_in_flight last showed, -1 none: set only on change */
    cpart_t *next;
};

struct seek_req {
    char *topic;
    int32_t partition;
    int64_t offset;
    struct seek_req *next;
};

#define WIN(p, i) ((p)->win[((p)->head + (i)) % c->window])

/* ---- partitions --------------------------------------------------------------------------- */

static cpart_t *part_find(hs_consumer_t *c, const char *topic, int32_t partition) {
    for (cpart_t *p = c->parts; p; p = p->next)
        if (p->partition == partition && strcmp(p->topic, topic) == 0) return p;
    return NULL;
}

static void part_gauge(hs_consumer_t *c, cpart_t *p) {
    /* Called per message and per partition on every completion: skip the label lookup unless
     * the value moved. */
    if (p->gauge == p->count) return;
    p->gauge = p->count;
    char pb[16];
    snprintf(pb, sizeof pb, "%d", (int)p->partition);
    const char *lv[] = {c->service, p->topic, pb};
    hs_metric_set(c->m_inflight, lv, p->count);
}

static void part_op(hs_consumer_t *c, cpart_t *p, int64_t seek_to) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = seek_to;
    int want = p->full || p->due;
    if (want && !p->paused) rd_kafka_pause_partitions(c->rk, l);
    if (!want && p->paused) rd_kafka_resume_partitions(c->rk, l);
    p->paused = want;
    if (seek_to >= 0) {
        rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, l, 0);
        if (e) rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static int part_tier(hs_consumer_t *c, const char *topic) {
    for (size_t i = 0; i < c->ntiers; i++)
        if (strcmp(c->tier_topics[i], topic) == 0) return (int)i;
    return -1;
}

static void part_add(hs_consumer_t *c, const char *topic, int32_t partition) {
    if (part_find(c, topic, partition)) return;
    cpart_t *p = calloc(1, sizeof *p);
    if (!p || !(p->topic = strdup(topic)) || !(p->win = calloc((size_t)c->window, sizeof(void *))))
        abort();
    p->partition = partition;
    p->tier = part_tier(c, topic);
    if (p->tier < 0 && c->read_ahead > 0 &&
        !(p->ahead = calloc((size_t)c->read_ahead, sizeof(void *))))
        abort();
    p->gauge = -1;
    pthread_mutex_lock(&c->mtx);
    p->next = c->parts;
    c->parts = p;
    pthread_mutex_unlock(&c->mtx);
    part_gauge(c, p);
}

/* Drops every message of p's window (they will be redelivered or were seeked over). */
static void part_clear(hs_consumer_t *c, cpart_t *p) {
    for (int i = 0; i < p->count; i++)
        hs_consumer_msg_release(WIN(p, i));
    p->head = p->count = p->waiting = 0;
    for (int i = 0; i < p->ahead_count; i++)
        rd_kafka_message_destroy(p->ahead[(p->ahead_head + i) % c->read_ahead]);
    p->ahead_head = p->ahead_count = 0;
    part_gauge(c, p);
}

static void part_remove(hs_consumer_t *c, cpart_t *p) {
    part_clear(c, p);
    pthread_mutex_lock(&c->mtx);
    cpart_t **pp = &c->parts;
    while (*pp != p)
        pp = &(*pp)->next;
    *pp = p->next;
    pthread_mutex_unlock(&c->mtx);
    free(p->win);
    free(p->ahead);
    free(p->topic);
    free(p);
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static int same_key(const hs_consumer_msg_t *a, const hs_consumer_msg_t *b) {
    /* Messages without a key have no order to keep. */
    if (!a->rkm->key || !b->rkm->key || a->rkm->key_len != b->rkm->key_len) return 0;
    return memcmp(a->rkm->key, b->rkm->key, a->rkm->key_len) == 0;
}

/* 1 when no earlier unfinished message of p's window (before index i) has i's key. */
static int key_free(hs_consumer_t *c, cpart_t *p, int i) {
    for (int j = 0; j < i; j++)
        if (WIN(p, j)->state != MSG_FINISHED && same_key(WIN(p, j), WIN(p, i))) return 0;
    return 1;
}

static void dispatch(hs_consumer_t *c, cpart_t *p, hs_consumer_msg_t *m) {
    p->waiting--;
    m->state = MSG_RUNNING;
    m->started = hs_mono_s();
    c->handler(m, c->opaque);
}

static void store(hs_consumer_t *c, cpart_t *p, int64_t next) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = next;
    rd_kafka_offsets_store(c->rk, l); /* fails only for a partition no longer assigned */
    rd_kafka_topic_partition_list_destroy(l);
}

/* Appends rkm to p's window as a waiting message; returns its index. */
static int window_add(hs_consumer_t *c, cpart_t *p, rd_kafka_message_t *rkm) {
    int i = p->count++;
    p->win[(p->head + i) % c->window] = hs_consumer_msg_new(c, p, rkm);
    p->waiting++;
    return i;
}

/* 1 when p, paused for being full, has drained enough to fetch again: half its read-ahead, or
 * without one, half its window. */
static int drained(const hs_consumer_t *c, const cpart_t *p) {
    return p->ahead ? p->ahead_count <= c->read_ahead / 2 : p->count <= c->window / 2;
}

/* Pops p's finished prefix (storing the offset after it), refills the window from the
 * read-ahead, starts waiting messages whose key is free, and resumes p once drained. */
static void advance(hs_consumer_t *c, cpart_t *p) {
    int64_t next = -1;
    while (p->count > 0 && WIN(p, 0)->state == MSG_FINISHED) {
        hs_consumer_msg_t *m = WIN(p, 0);
        next = m->rkm->offset + 1;
        p->head = (p->head + 1) % c->window;
        p->count--;
        hs_consumer_msg_release(m);
    }
    if (next >= 0) store(c, p, next);
    /* Nothing new starts while stopping: the read-ahead is fetched again by the next run. */
    while (p->ahead_count > 0 && p->count < c->window && !p->revoking &&
           !atomic_load(&c->stopping)) {
        window_add(c, p, p->ahead[p->ahead_head]);
        p->ahead_head = (p->ahead_head + 1) % c->read_ahead;
        p->ahead_count--;
    }
    for (int i = 0; i < p->count && p->waiting > 0 && !p->revoking; i++)
        if (WIN(p, i)->state == MSG_WAITING && key_free(c, p, i)) dispatch(c, p, WIN(p, i));
    if (p->full && drained(c, p)) {
        p->full = 0;
        part_op(c, p, -1);
    }
    part_gauge(c, p);
}

static void count_finished(hs_consumer_t *c, hs_consumer_msg_t *m) {
    static const char *const outcome[] = {"ok", "retried", "dead_lettered"};
    const char *topic = rd_kafka_topic_name(m->rkm->rkt);
    const char *lv[] = {c->service, topic, outcome[m->outcome]};
    hs_metric_add(c->m_msgs, lv, 1);
    if (m->started > 0) hs_metric_observe(c->m_seconds, lv, hs_mono_s() - m->started);
}

/* Applies every completion reported since the last call, until none is left. */
static void drain(hs_consumer_t *c) {
    hs_consumer_msg_t *l;
    while ((l = hs_consumer_completed_take(c))) {
        for (hs_consumer_msg_t *m = l; m; m = m->next_done) {
            if (m->state == MSG_FINISHED) continue;
            if (m->state == MSG_WAITING && m->in_window) m->part->waiting--; /* forced, never run */
            m->state = MSG_FINISHED;
            count_finished(c, m);
        }
        /* advance() may release messages of the list: walk partitions, not the list. */
        for (cpart_t *p = c->parts; p; p = p->next)
            advance(c, p);
    }
}

static void on_message(hs_consumer_t *c, rd_kafka_message_t *rkm) {
    cpart_t *p = part_find(c, rd_kafka_topic_name(rkm->rkt), rkm->partition);
    if (!p || p->due || p->revoking || atomic_load(&c->stopping)) {
        rd_kafka_message_destroy(rkm); /* not ours to handle now: it will be fetched again */
        return;
    }
    if (p->tier >= 0) {
        rd_kafka_headers_t *h = NULL;
        const void *v = NULL;
        size_t len = 0;
        char due[32] = "";
        if (rd_kafka_message_headers(rkm, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_get_last(h, "hs_due_at", &v, &len) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            len < sizeof due)
            memcpy(due, v, len);
        int64_t at = strtoll(due, NULL, 10);
        if (at > hs_wall_ms()) {
            p->due = 1;
            p->due_at_ms = at;
            part_op(c, p, rkm->offset);
            rd_kafka_message_destroy(rkm);
            return;
        }
    }
    if (p->count == c->window || p->ahead_count > 0) {
        if (p->ahead && p->ahead_count < c->read_ahead) {
            p->ahead[(p->ahead_head + p->ahead_count++) % c->read_ahead] = rkm;
            if (p->ahead_count == c->read_ahead && !p->full) {
                p->full = 1;
                part_op(c, p, -1);
            }
            return;
        }
        /* fetched before the pause took effect: read it again later */
        p->full = 1;
        part_op(c, p, rkm->offset);
        rd_kafka_message_destroy(rkm);
        return;
    }
    int i = window_add(c, p, rkm);
    if (p->count == c->window && !p->ahead && !p->full) {
        p->full = 1;
        part_op(c, p, -1);
    }
    part_gauge(c, p);
    if (key_free(c, p, i)) dispatch(c, p, WIN(p, i));
}

/* Resumes tier partitions whose head is due; returns ms until the next one is due, or -1. */
static int due_timers(hs_consumer_t *c) {
    int64_t now = hs_wall_ms(), next = -1;
    for (cpart_t *p = c->parts; p; p = p->next) {
        if (!p->due) continue;
        if (p->due_at_ms <= now) {
            p->due = 0;
            part_op(c, p, -1);
        } else if (next < 0 || p->due_at_ms - now < next) {
            next = p->due_at_ms - now;
        }
    }
    return (int)next;
}

static void apply_seeks(hs_consumer_t *c) {
    pthread_mutex_lock(&c->mtx);
    struct seek_req *l = c->seeks;
    c->seeks = NULL;
    pthread_mutex_unlock(&c->mtx);
    while (l) {
        struct seek_req *r = l;
        l = r->next;
        cpart_t *p = part_find(c, r->topic, r->partition);
        if (p) {
            part_clear(c, p);
            p->full = p->due = 0;
            part_op(c, p, r->offset);
            store(c, p, r->offset);
            hs_log(HS_LOG_INFO, "consumer seek", "{s:s, s:s, s:i, s:I}", "service", c->service,
                   "topic", r->topic, "partition", (int)r->partition, "offset",
                   (json_int_t)r->offset);
        }
        free(r->topic);
        free(r);
    }
}

hs_err_t hs_consumer_seek(hs_consumer_t *c, const char *topic, int32_t partition, int64_t offset,
                          char *errstr, size_t errstr_size) {
    if (offset < 0)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "seek offset %" PRId64 " < 0", offset);
    pthread_mutex_lock(&c->mtx);
    int assigned = part_find(c, topic, partition) != NULL;
    struct seek_req *r = assigned ? calloc(1, sizeof *r) : NULL;
    if (r) {
        r->topic = strdup(topic);
        r->partition = partition;
        r->offset = offset;
        r->next = c->seeks;
        c->seeks = r;
    }
    pthread_mutex_unlock(&c->mtx);
    if (!assigned)
        return hs_fail(HS_ERR_NOT_FOUND, errstr, errstr_size,
                       "partition %s [%d] is not assigned to this consumer", topic, (int)partition);
    if (!r || !r->topic) abort();
    rd_kafka_queue_yield(c->cq);
    return HS_OK;
}

/* ---- rebalances --------------------------------------------------------------------------- */

static int unfinished(hs_consumer_t *c, int only_revoking) {
    int n = 0;
    for (cpart_t *p = c->parts; p; p = p->next)
        if (!only_revoking || p->revoking)
            for (int i = 0; i < p->count; i++)
                n += WIN(p, i)->state != MSG_FINISHED;
    return n;
}

/* Lets in-flight work of the marked partitions finish for up to ms (completions come from other
 * threads, so this waits on the completion signal rather than polling the consumer). */
static void wait_unfinished(hs_consumer_t *c, int only_revoking, int ms) {
    double end = hs_mono_s() + ms / 1000.0;
    for (;;) {
        drain(c);
        int next = hs_consumer_resend(c);
        if (!unfinished(c, only_revoking) || hs_mono_s() >= end) return;
        double left = end - hs_mono_s();
        if (next >= 0 && next / 1000.0 < left) left = next / 1000.0;
        if (left > 0.1) left = 0.1;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long ns = ts.tv_nsec + (long)(left * 1e9);
        ts.tv_sec += ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        pthread_mutex_lock(&c->mtx);
        if (!c->completed) pthread_cond_timedwait(&c->cond, &c->mtx, &ts);
        pthread_mutex_unlock(&c->mtx);
    }
}

static void rebalance_count(hs_consumer_t *c, const char *kind, int n) {
    const char *lv[] = {c->service, kind};
    hs_metric_add(c->m_rebalances, lv, 1);
    hs_log(HS_LOG_INFO, "consumer rebalance", "{s:s, s:s, s:i}", "service", c->service, "kind",
           kind, "partitions", n);
}

static void revoke(hs_consumer_t *c, rd_kafka_topic_partition_list_t *l, int lost) {
    for (int i = 0; i < l->cnt; i++) {
        cpart_t *p = part_find(c, l->elems[i].topic, l->elems[i].partition);
        if (p) p->revoking = 1;
    }
    if (!lost) {
        wait_unfinished(c, 1, c->revoke_wait_ms);
        rd_kafka_resp_err_t err = rd_kafka_commit(c->rk, NULL, 0);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
            hs_log(HS_LOG_WARN, "consumer commit on revoke failed", "{s:s, s:s}", "service",
                   c->service, "error", rd_kafka_err2str(err));
    }
    for (int i = 0; i < l->cnt; i++) {
        cpart_t *p = part_find(c, l->elems[i].topic, l->elems[i].partition);
        if (p) part_remove(c, p);
    }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *l, void *opaque) {
    hs_consumer_t *c = opaque;
    int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *e = NULL;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        c->assigned_once = 1;
        for (int i = 0; i < l->cnt; i++)
            part_add(c, l->elems[i].topic, l->elems[i].partition);
        rebalance_count(c, "assign", l->cnt);
        if (coop)
            e = rd_kafka_incremental_assign(rk, l);
        else
            rd_kafka_assign(rk, l);
        /* librdkafka keeps a partition's pause across revoke and reassign: one given up while
         * paused (window full, tier head not due) would never be fetched again. */
        rd_kafka_resume_partitions(rk, l);
    } else {
        int lost = rd_kafka_assignment_lost(rk);
        rebalance_count(c, lost ? "lost" : "revoke", l->cnt);
        revoke(c, l, lost);
        if (coop)
            e = rd_kafka_incremental_unassign(rk, l);
        else
            rd_kafka_assign(rk, NULL);
    }
    if (e) {
        hs_log(HS_LOG_ERROR, "consumer assignment failed", "{s:s, s:s}", "service", c->service,
               "error", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

/* librdkafka statistics → hs_consumer_lag of the partitions this member owns. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
    (void)rk;
    hs_consumer_t *c = opaque;
    json_t *root = json_loadb(json, len, 0, NULL);
    json_t *topics = json_object_get(root, "topics");
    const char *tname, *pname;
    json_t *t, *pv;
    json_object_foreach(topics, tname, t) {
        json_object_foreach(json_object_get(t, "partitions"), pname, pv) {
            json_t *lag = json_object_get(pv, "consumer_lag");
            int32_t part = (int32_t)strtol(pname, NULL, 10);
            if (part < 0 || !json_is_integer(lag) || json_integer_value(lag) < 0) continue;
            if (!part_find(c, tname, part)) continue;
            hs_heartbeat_lag(c->hb, tname, part, (int64_t)json_integer_value(lag));
        }
    }
    json_decref(root);
    return 0;
}

/* ---- run and shutdown --------------------------------------------------------------------- */

static hs_err_t subscribe(hs_consumer_t *c, char *errstr, size_t n) {
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)(c->ntopics + c->ntiers));
    for (size_t i = 0; i < c->ntopics; i++)
        rd_kafka_topic_partition_list_add(l, c->topics[i], RD_KAFKA_PARTITION_UA);
    for (size_t i = 0; i < c->ntiers; i++)
        rd_kafka_topic_partition_list_add(l, c->tier_topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err)
        return hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "subscribe of group %s: %s", c->group,
                       rd_kafka_err2str(err));
    return HS_OK;
}

static int min_wait(int a, int b) {
    if (a < 0) return b;
    if (b < 0) return a;
    return a < b ? a : b;
}

static void poll_once(hs_consumer_t *c, int max_ms) {
    int wait = min_wait(min_wait(due_timers(c), hs_consumer_resend(c)), max_ms);
    rd_kafka_message_t *rkm = rd_kafka_consumer_poll(c->rk, wait);
    hs_heartbeat_beat(c->hb);
    if (rkm && rkm->err) {
        if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            hs_log(HS_LOG_WARN, "consumer error", "{s:s, s:s}", "service", c->service, "error",
                   rd_kafka_message_errstr(rkm));
        rd_kafka_message_destroy(rkm);
    } else if (rkm) {
        on_message(c, rkm);
    }
    drain(c);
}

/* Stop fetching, let in-flight work finish until the deadline, hand off the rest, wait for every
 * handoff's acknowledgement, commit, leave the group. */
static hs_err_t shutdown_run(hs_consumer_t *c, char *errstr, size_t n) {
    double t0 = hs_mono_s();
    for (cpart_t *p = c->parts; p; p = p->next) {
        p->full = 1;
        part_op(c, p, -1);
    }
    wait_unfinished(c, 0, c->shutdown_deadline_ms);
    int forced = 0;
    for (cpart_t *p = c->parts; p && !c->keep_order; p = p->next)
        for (int i = 0; i < p->count; i++)
            if (WIN(p, i)->state != MSG_FINISHED) {
                hs_consumer_msg_force(WIN(p, i));
                forced++;
            }
    int ack_ms = (int)hs_config_int(c->cfg, "kafka.timeout_ms") * 2;
    double end = hs_mono_s() + ack_ms / 1000.0;
    while (hs_consumer_handoffs_pending(c) > 0 && hs_mono_s() < end)
        wait_unfinished(c, 0, 100);
    drain(c);
    int left = hs_consumer_handoffs_pending(c);
    rd_kafka_resp_err_t err = rd_kafka_commit(c->rk, NULL, 0);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        hs_log(HS_LOG_WARN, "consumer commit on shutdown failed", "{s:s, s:s}", "service",
               c->service, "error", rd_kafka_err2str(err));
    rd_kafka_consumer_close(c->rk);
    hs_log(HS_LOG_INFO, "consumer stopped", "{s:s, s:i, s:i, s:f}", "service", c->service,
           "handed_off", forced, "unacknowledged", left, "seconds", hs_mono_s() - t0);
    if (left > 0)
        return hs_fail(HS_ERR_TIMEOUT, errstr, n,
                       "%d handoffs were not acknowledged by the broker; their messages were not "
                       "committed and will be consumed again",
                       left);
    return HS_OK;
}

hs_err_t hs_consumer_run(hs_consumer_t *c, char *errstr, size_t errstr_size) {
    if (c->running)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "consumer %s runs already", c->group);
    c->running = 1;
    hs_err_t rc = subscribe(c, errstr, errstr_size);
    if (rc != HS_OK) return rc;
    while (!atomic_load(&c->stopping)) {
        apply_seeks(c);
        poll_once(c, POLL_MAX_MS);
    }
    return shutdown_run(c, errstr, errstr_size);
}

void hs_consumer_stop(hs_consumer_t *c) {
    atomic_store(&c->stopping, 1);
}

rd_kafka_t *hs_consumer_producer(hs_consumer_t *c) {
    return c->producer;
}

/* ---- construction ------------------------------------------------------------------------- */

void hs_consumer_parts_free(hs_consumer_t *c) {
    while (c->parts)
        part_remove(c, c->parts);
    while (c->seeks) {
        struct seek_req *r = c->seeks;
        c->seeks = r->next;
        free(r->topic);
        free(r);
    }
}

static hs_err_t sets_fetch_wait(const char *name, const char *value, const char *origin,
                                void *opaque) {
    (void)value;
    (void)origin;
    if (strcmp(name, "fetch.wait.max.ms") == 0) *(int *)opaque = 1;
    return HS_OK;
}

rd_kafka_conf_t *hs_consumer_conf(hs_consumer_t *c, char *errstr, size_t n) {
    rd_kafka_conf_t *conf = hs_kafka_consumer_conf(c->cfg, c->group, errstr, n);
    if (!conf) return NULL;
    /* A broker answers one fetch per connection at a time and holds it up to fetch.wait.max.ms
     * when its partitions have nothing new (librdkafka's default is 500 ms). A partition resumed
     * after its window drained can only be fetched once that fetch returns, so a long wait
     * stalls it: at 500 ms a backlog drained at a quarter of the speed. Unless the kafka
     * pass-through sets it, the runtime waits at most FETCH_WAIT_MS. */
    int user_set = 0;
    hs_config_kafka_each(c->cfg, sets_fetch_wait, &user_set);
    if (!user_set && rd_kafka_conf_set(conf, "fetch.wait.max.ms", FETCH_WAIT_MS, errstr, n) !=
                         RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    char iv[32];
    snprintf(iv, sizeof iv, "%d", (int)hs_config_int(c->cfg, "consumer.stats_interval_ms"));
    if (rd_kafka_conf_set(conf, "statistics.interval.ms", iv, errstr, n) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
    return conf;
}
