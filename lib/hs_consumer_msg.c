/* Messages of the consumer runtime: accessors, handoffs of copies to retry tiers and the DLQ
 * (re-sent until the broker acknowledges them), and the completion list through which any thread
 * tells the dispatch thread that a message is finished. A message is finished when it is done
 * and every handoff is acknowledged; it is freed when also out of its window and the handler is
 * through with it, by whichever of those events comes last. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "banned.h"
#include "hs_consumer_internal.h"
#include "hs_log.h"

#define RESEND_MIN_MS 100
#define RESEND_MAX_MS 5000

/* ---- lifetime ----------------------------------------------------------------------------- */

static void msg_free(hs_consumer_msg_t *m) {
    for (size_t i = 0; i < m->nhdr_copies; i++)
        free(m->hdr_copies[i]);
    free(m->hdr_copies);
    rd_kafka_message_destroy(m->rkm);
    free(m);
}

/* Under c->mtx: unlinks m from c->all when nothing refers to it; returns 1 if the caller must
 * free it (after unlocking). */
static int unlink_if_unused(hs_consumer_msg_t *m) {
    if (m->in_window || !m->handler_done || m->pending > 0) return 0;
    hs_consumer_t *c = m->c;
    if (m->prev_all)
        m->prev_all->next_all = m->next_all;
    else
        c->all = m->next_all;
    if (m->next_all) m->next_all->prev_all = m->prev_all;
    return 1;
}

/* Under c->mtx: queues m for the dispatch thread when it just became finished; returns 1 when
 * the dispatch thread must be woken: only for the first of a list (it takes the whole list once
 * woken, so later ones need no wake-up of their own). */
static int queue_if_finished(hs_consumer_msg_t *m) {
    if (!m->done || m->pending > 0 || !m->in_window || m->queued) return 0;
    int first = m->c->completed == NULL;
    m->queued = 1;
    m->next_done = m->c->completed;
    m->c->completed = m;
    pthread_cond_broadcast(&m->c->cond);
    return first;
}

static const char *header_copy(hs_consumer_msg_t *m, const char *name);

hs_consumer_msg_t *hs_consumer_msg_new(hs_consumer_t *c, cpart_t *part, rd_kafka_message_t *rkm) {
    hs_consumer_msg_t *m = calloc(1, sizeof *m);
    if (!m) abort();
    m->c = c;
    m->rkm = rkm;
    m->part = part;
    m->topic = rd_kafka_topic_name(rkm->rkt);
    m->partition = rkm->partition;
    m->offset = rkm->offset;
    m->attempt = 1;
    m->in_window = 1;
    const char *ot = header_copy(m, "hs_origin_topic");
    const char *op = header_copy(m, "hs_origin_partition");
    const char *oo = header_copy(m, "hs_origin_offset");
    const char *at = header_copy(m, "hs_attempt");
    if (ot && op && oo) {
        m->topic = ot;
        m->partition = (int32_t)strtol(op, NULL, 10);
        m->offset = strtoll(oo, NULL, 10);
    }
    if (at) {
        long a = strtol(at, NULL, 10);
        if (a >= 1 && a < 1000000) m->attempt = (int)a;
    }
    pthread_mutex_lock(&c->mtx);
    m->next_all = c->all;
    if (c->all) c->all->prev_all = m;
    c->all = m;
    pthread_mutex_unlock(&c->mtx);
    return m;
}

void hs_consumer_msg_release(hs_consumer_msg_t *m) {
    hs_consumer_t *c = m->c;
    pthread_mutex_lock(&c->mtx);
    m->in_window = 0;
    if (m->queued) {
        hs_consumer_msg_t **pp = &c->completed;
        while (*pp && *pp != m)
            pp = &(*pp)->next_done;
        if (*pp) *pp = m->next_done;
        m->queued = 0;
    }
    if (m->state == MSG_WAITING) m->handler_done = 1;
    int dead = unlink_if_unused(m);
    pthread_mutex_unlock(&c->mtx);
    if (dead) msg_free(m);
}

hs_consumer_msg_t *hs_consumer_completed_take(hs_consumer_t *c) {
    pthread_mutex_lock(&c->mtx);
    hs_consumer_msg_t *l = c->completed;
    c->completed = NULL;
    for (hs_consumer_msg_t *m = l; m; m = m->next_done)
        m->queued = 0;
    pthread_mutex_unlock(&c->mtx);
    return l;
}

void hs_consumer_msgs_free_all(hs_consumer_t *c) {
    hs_consumer_msg_t *m = c->all;
    while (m) {
        hs_consumer_msg_t *next = m->next_all;
        msg_free(m);
        m = next;
    }
    c->all = NULL;
    while (c->resend) {
        handoff_t *h = c->resend;
        c->resend = h->next;
        rd_kafka_headers_destroy(h->hdrs);
        free(h->topic);
        free(h);
    }
}

int hs_consumer_handoffs_pending(hs_consumer_t *c) {
    pthread_mutex_lock(&c->mtx);
    int n = c->handoffs_pending;
    pthread_mutex_unlock(&c->mtx);
    return n;
}

/* ---- accessors ---------------------------------------------------------------------------- */

const char *hs_consumer_msg_topic(const hs_consumer_msg_t *m) {
    return m->topic;
}
int32_t hs_consumer_msg_partition(const hs_consumer_msg_t *m) {
    return m->partition;
}
int64_t hs_consumer_msg_offset(const hs_consumer_msg_t *m) {
    return m->offset;
}
int hs_consumer_msg_attempt(const hs_consumer_msg_t *m) {
    return m->attempt;
}

const void *hs_consumer_msg_key(const hs_consumer_msg_t *m, size_t *len) {
    if (len) *len = m->rkm->key_len;
    return m->rkm->key;
}

const void *hs_consumer_msg_value(const hs_consumer_msg_t *m, size_t *len) {
    if (len) *len = m->rkm->len;
    return m->rkm->payload;
}

int64_t hs_consumer_msg_timestamp_ms(const hs_consumer_msg_t *m) {
    return rd_kafka_message_timestamp(m->rkm, NULL);
}

rd_kafka_headers_t *hs_consumer_msg_headers(const hs_consumer_msg_t *m) {
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m->rkm, &h) != RD_KAFKA_RESP_ERR_NO_ERROR) return NULL;
    return h;
}

static const char *header_copy(hs_consumer_msg_t *m, const char *name) {
    rd_kafka_headers_t *h = hs_consumer_msg_headers(m);
    const void *v = NULL;
    size_t len = 0;
    if (!h || rd_kafka_header_get_last(h, name, &v, &len) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    char *s = malloc(len + 1);
    char **grown = realloc(m->hdr_copies, (m->nhdr_copies + 1) * sizeof *grown);
    if (!s || !grown) abort();
    if (len) memcpy(s, v, len);
    s[len] = '\0';
    m->hdr_copies = grown;
    m->hdr_copies[m->nhdr_copies++] = s;
    return s;
}

const char *hs_consumer_msg_header(const hs_consumer_msg_t *m, const char *name) {
    hs_consumer_msg_t *mm = (hs_consumer_msg_t *)m; /* the copy is kept with m */
    pthread_mutex_lock(&mm->c->mtx);
    const char *s = header_copy(mm, name);
    pthread_mutex_unlock(&mm->c->mtx);
    return s;
}

/* ---- handoffs ----------------------------------------------------------------------------- */

static void hdr_set(rd_kafka_headers_t *h, const char *name, const char *value) {
    rd_kafka_header_remove(h, name);
    rd_kafka_header_add(h, name, -1, value, -1);
}

static void hdr_set_int(rd_kafka_headers_t *h, const char *name, int64_t v) {
    char b[32];
    snprintf(b, sizeof b, "%" PRId64, v);
    hdr_set(h, name, b);
}

/* The headers of a copy of m: the original ones with the runtime's replaced. */
static rd_kafka_headers_t *handoff_headers(hs_consumer_msg_t *m, int attempt, int64_t due_ms) {
    rd_kafka_headers_t *orig = hs_consumer_msg_headers(m);
    rd_kafka_headers_t *h = orig ? rd_kafka_headers_copy(orig) : rd_kafka_headers_new(8);
    hdr_set(h, "hs_origin_topic", m->topic);
    hdr_set_int(h, "hs_origin_partition", m->partition);
    hdr_set_int(h, "hs_origin_offset", m->offset);
    hdr_set_int(h, "hs_attempt", attempt);
    hdr_set_int(h, "hs_due_at", due_ms);
    return h;
}

static void resend_later(handoff_t *h) {
    hs_consumer_t *c = h->m->c;
    int64_t backoff = RESEND_MIN_MS << (h->failures < 6 ? h->failures : 6);
    if (backoff > RESEND_MAX_MS) backoff = RESEND_MAX_MS;
    pthread_mutex_lock(&c->mtx);
    h->resend_at_ms = hs_wall_ms() + backoff;
    h->next = c->resend;
    c->resend = h;
    pthread_mutex_unlock(&c->mtx);
}

static void handoff_failed(handoff_t *h, const char *why) {
    hs_consumer_t *c = h->m->c;
    h->failures++;
    const char *lv[] = {c->service, h->topic};
    hs_metric_add(c->m_handoff_fail, lv, 1);
    hs_log(HS_LOG_WARN, "consumer handoff failed, re-sending", "{s:s, s:s, s:s, s:i, s:I, s:i}",
           "service", c->service, "topic", h->topic, "error", why, "origin_partition",
           (int)h->m->partition, "origin_offset", (json_int_t)h->m->offset, "failures",
           h->failures);
    resend_later(h);
}

static void handoff_produce(handoff_t *h) {
    hs_consumer_msg_t *m = h->m;
    rd_kafka_headers_t *copy = rd_kafka_headers_copy(h->hdrs);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        m->c->producer, RD_KAFKA_V_TOPIC(h->topic), RD_KAFKA_V_KEY(m->rkm->key, m->rkm->key_len),
        RD_KAFKA_V_VALUE(m->rkm->payload, m->rkm->len), RD_KAFKA_V_HEADERS(copy),
        RD_KAFKA_V_OPAQUE(h), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    rd_kafka_headers_destroy(copy);
    handoff_failed(h, rd_kafka_err2str(err));
}

/* Sends a copy of m with headers hdrs (taken) to topic; m stays unfinished until it is acked. */
static void handoff_start(hs_consumer_msg_t *m, const char *topic, rd_kafka_headers_t *hdrs) {
    handoff_t *h = calloc(1, sizeof *h);
    if (!h) abort();
    h->m = m;
    h->topic = strdup(topic);
    h->hdrs = hdrs;
    if (!h->topic) abort();
    handoff_produce(h);
}

static void handoff_acked(handoff_t *h) {
    hs_consumer_msg_t *m = h->m;
    hs_consumer_t *c = m->c;
    rd_kafka_headers_destroy(h->hdrs);
    free(h->topic);
    free(h);
    pthread_mutex_lock(&c->mtx);
    m->pending--;
    c->handoffs_pending--;
    int wake = queue_if_finished(m);
    int dead = unlink_if_unused(m);
    pthread_mutex_unlock(&c->mtx);
    if (dead) msg_free(m);
    if (wake) rd_kafka_queue_yield(c->cq);
}

void hs_consumer_producer_event(rd_kafka_t *rk, rd_kafka_event_t *ev, void *opaque) {
    (void)rk;
    (void)opaque;
    if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_DR) {
        const rd_kafka_message_t *rkm;
        while ((rkm = rd_kafka_event_message_next(ev))) {
            handoff_t *h = rkm->_private;
            if (!h) continue; /* a service's own record */
            if (rkm->err)
                handoff_failed(h, rd_kafka_err2str(rkm->err));
            else
                handoff_acked(h);
        }
    }
    rd_kafka_event_destroy(ev);
}

int hs_consumer_resend(hs_consumer_t *c) {
    int64_t now = hs_wall_ms(), next = -1;
    handoff_t *due = NULL;
    pthread_mutex_lock(&c->mtx);
    for (handoff_t **pp = &c->resend; *pp;) {
        handoff_t *h = *pp;
        if (h->resend_at_ms <= now) {
            *pp = h->next;
            h->next = due;
            due = h;
            continue;
        }
        if (next < 0 || h->resend_at_ms - now < next) next = h->resend_at_ms - now;
        pp = &h->next;
    }
    pthread_mutex_unlock(&c->mtx);
    while (due) {
        handoff_t *h = due;
        due = h->next;
        handoff_produce(h);
    }
    return (int)next;
}

/* Under no lock: counts m's new handoff, unless shutdown already handed m off. */
static int handoff_begin(hs_consumer_msg_t *m, msg_outcome_t outcome, int force) {
    hs_consumer_t *c = m->c;
    pthread_mutex_lock(&c->mtx);
    int ok = force || !m->forced;
    if (ok) {
        m->pending++;
        c->handoffs_pending++;
        if (outcome > m->outcome) m->outcome = outcome;
    }
    pthread_mutex_unlock(&c->mtx);
    return ok;
}

void hs_consumer_msg_handoff(hs_consumer_msg_t *m, hs_consumer_verdict_t v, int64_t after_ms,
                             const char *error_class, const char *reason,
                             const hs_consumer_kv_t *headers, size_t nheaders) {
    hs_consumer_t *c = m->c;
    if (v == HS_CONSUMER_OK) return;
    if (!handoff_begin(m, v == HS_CONSUMER_FAIL ? OUT_DEAD : OUT_RETRIED, 0)) return;
    if (after_ms < 0) after_ms = 0;
    rd_kafka_headers_t *h = handoff_headers(m, v == HS_CONSUMER_RETRY ? m->attempt + 1 : m->attempt,
                                            hs_wall_ms() + after_ms);
    const char *topic = c->dlq_topic;
    if (v == HS_CONSUMER_RETRY) {
        topic = c->tier_topics[hs_consumer_tier_pick(c->tiers_ms, c->ntiers, after_ms)];
    } else {
        rd_kafka_header_remove(h, "hs_due_at");
        hdr_set(h, "hs_error_class", error_class ? error_class : "error");
        hdr_set(h, "hs_error_message", reason ? reason : "");
    }
    for (size_t i = 0; i < nheaders; i++)
        hdr_set(h, headers[i].name, headers[i].value ? headers[i].value : "");
    handoff_start(m, topic, h);
}

void hs_consumer_msg_done(hs_consumer_msg_t *m, hs_consumer_verdict_t v, int64_t after_ms,
                          const char *error_class, const char *reason) {
    hs_consumer_t *c = m->c;
    hs_consumer_msg_handoff(m, v, after_ms, error_class, reason, NULL, 0);
    pthread_mutex_lock(&c->mtx);
    m->handler_done = 1;
    m->done = 1;
    int wake = queue_if_finished(m);
    int dead = unlink_if_unused(m);
    pthread_mutex_unlock(&c->mtx);
    if (dead) msg_free(m);
    if (wake) rd_kafka_queue_yield(c->cq);
}

void hs_consumer_msg_force(hs_consumer_msg_t *m) {
    hs_consumer_t *c = m->c;
    pthread_mutex_lock(&c->mtx);
    int skip = m->done || m->forced;
    if (!skip) {
        m->forced = 1;
        m->done = 1;
        if (m->state == MSG_WAITING) m->handler_done = 1;
    }
    pthread_mutex_unlock(&c->mtx);
    if (skip) return;
    handoff_begin(m, OUT_RETRIED, 1);
    /* Unfinished, not failed: same attempt, due at once, so a restart picks it up directly. */
    handoff_start(m, c->tier_topics[0], handoff_headers(m, m->attempt, hs_wall_ms()));
}
