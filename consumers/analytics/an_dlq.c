/* Dead letters of analytics: malformed events go to <group>.dlq with the headers the consumer
 * runtime's DLQ carries, and no offset passes them before the broker acknowledged the copy. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an_internal.h"
#include "hs_log.h"

static void header_set(rd_kafka_headers_t *h, const char *name, const char *value) {
    rd_kafka_header_remove(h, name);
    rd_kafka_header_add(h, name, -1, value, -1);
}

static void *dup_bytes(const void *p, size_t len) {
    if (!p) return NULL;
    void *d = malloc(len ? len : 1);
    if (!d) abort();
    memcpy(d, p, len);
    return d;
}

static void produce(analytics_t *a, an_dlq_rec_t *r) {
    rd_kafka_headers_t *h = rd_kafka_headers_copy(r->hdrs);
    rd_kafka_resp_err_t err =
        rd_kafka_producev(a->producer, RD_KAFKA_V_TOPIC(a->dlq_topic),
                          RD_KAFKA_V_KEY(r->key, r->klen), RD_KAFKA_V_VALUE(r->value, r->vlen),
                          RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(r), RD_KAFKA_V_END);
    r->state = err ? 1 : 0;
    if (!err) return;
    rd_kafka_headers_destroy(h); /* producev takes the headers only when it succeeds */
    hs_log(HS_LOG_WARN, "analytics dead letter not sent, re-sending", "{s:s, s:s}", "topic",
           a->dlq_topic, "error", rd_kafka_err2str(err));
}

void an_dlq_send(analytics_t *a, const rd_kafka_message_t *m, const char *error_class,
                 const char *reason) {
    an_dlq_rec_t *r = calloc(1, sizeof *r);
    if (!r) abort();
    rd_kafka_headers_t *orig = NULL;
    rd_kafka_message_headers(m, &orig);
    r->hdrs = orig ? rd_kafka_headers_copy(orig) : rd_kafka_headers_new(8);
    char num[32];
    header_set(r->hdrs, "hs_error_class", error_class);
    header_set(r->hdrs, "hs_error_message", reason);
    header_set(r->hdrs, "hs_origin_topic", rd_kafka_topic_name(m->rkt));
    snprintf(num, sizeof num, "%d", (int)m->partition);
    header_set(r->hdrs, "hs_origin_partition", num);
    snprintf(num, sizeof num, "%" PRId64, m->offset);
    header_set(r->hdrs, "hs_origin_offset", num);
    r->key = dup_bytes(m->key, m->key_len);
    r->klen = m->key_len;
    r->value = dup_bytes(m->payload, m->len);
    r->vlen = m->len;
    r->epoch = a->epoch;
    r->next = a->dlq;
    a->dlq = r;
    a->dlq_pending++;
    hs_log(HS_LOG_WARN, "analytics event dead-lettered", "{s:s, s:i, s:I, s:s, s:s}", "topic",
           rd_kafka_topic_name(m->rkt), "partition", (int)m->partition, "offset",
           (json_int_t)m->offset, "error_class", error_class, "error", reason);
    produce(a, r);
}

static void rec_free(an_dlq_rec_t *r) {
    rd_kafka_headers_destroy(r->hdrs);
    free(r->key);
    free(r->value);
    free(r);
}

static void unlink_rec(analytics_t *a, an_dlq_rec_t *r) {
    for (an_dlq_rec_t **pp = &a->dlq; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            return;
        }
}

void an_dlq_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    analytics_t *a = opaque;
    an_dlq_rec_t *r = m->_private;
    if (!r) return;
    if (m->err && r->epoch == a->epoch) {
        hs_log(HS_LOG_WARN, "analytics dead letter failed, re-sending", "{s:s, s:s}", "topic",
               a->dlq_topic, "error", rd_kafka_err2str(m->err));
        r->state = 1;
        return;
    }
    if (r->epoch == a->epoch) a->dlq_pending--;
    unlink_rec(a, r);
    rec_free(r);
}

int an_dlq_settled(analytics_t *a, int wait_ms) {
    int64_t end = hs_wall_ms() + wait_ms;
    for (;;) {
        rd_kafka_poll(a->producer, 0);
        for (an_dlq_rec_t **pp = &a->dlq; *pp;) {
            an_dlq_rec_t *r = *pp;
            if (r->state == 1 && r->epoch != a->epoch) { /* failed and no longer wanted */
                *pp = r->next;
                rec_free(r);
                continue;
            }
            if (r->state == 1) produce(a, r);
            pp = &r->next;
        }
        if (!a->dlq_pending) return 1;
        int64_t left = end - hs_wall_ms();
        if (left <= 0) return 0;
        rd_kafka_poll(a->producer, left < 50 ? (int)left : 50);
    }
}

void an_dlq_free(analytics_t *a) {
    while (a->dlq) {
        an_dlq_rec_t *r = a->dlq;
        a->dlq = r->next;
        rec_free(r);
    }
    a->dlq_pending = 0;
}
