/* Internals shared by the consumer runtime's files (hs_consumer.c: group, partitions, dispatch;
 * hs_consumer_msg.c: messages, handoffs, completions). Not for services: use hs_consumer.h. */
#ifndef HS_CONSUMER_INTERNAL_H
#define HS_CONSUMER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "hs_clock.h"
#include "hs_consumer.h"
#include "hs_heartbeat.h"
#include "hs_metrics.h"

typedef struct cpart cpart_t;
typedef struct handoff handoff_t;

typedef enum { MSG_WAITING, MSG_RUNNING, MSG_FINISHED } msg_state_t;
typedef enum { OUT_OK, OUT_RETRIED, OUT_DEAD } msg_outcome_t;

struct hs_consumer_msg {
    hs_consumer_t *c;
    rd_kafka_message_t *rkm;
    /* @locality: dispatch thread (set before the handler runs, read-only afterwards) */
    cpart_t *part;
    const char *topic; /* origin topic: rkm's or hs_origin_topic */
    int32_t partition;
    int64_t offset;
    int attempt;
    double started; /* monotonic seconds when the handler was called */
    msg_state_t state;
    /* @locks c->mtx */
    int done;         /* the handler called done, or the runtime finished it (forced) */
    int handler_done; /* the handler will not touch m again (done, or never dispatched) */
    int forced;       /* handed off by shutdown: the handler's later calls are ignored */
    int pending;      /* handoffs not yet acknowledged */
    int in_window;    /* still owned by its partition's window */
    int queued;       /* on c->completed */
    msg_outcome_t outcome;
    char **hdr_copies; /* values returned by hs_consumer_msg_header */
    size_t nhdr_copies;
    hs_consumer_msg_t *next_done;
    hs_consumer_msg_t *prev_all, *next_all;
};

/* One produce of a message copy to a tier or the DLQ; re-sent until acknowledged. */
struct handoff {
    hs_consumer_msg_t *m;
    char *topic;
    rd_kafka_headers_t *hdrs; /* master copy; each produce sends a copy */
    int failures;
    int64_t resend_at_ms;
    handoff_t *next; /* on c->resend */
};

struct hs_consumer {
    const hs_config_t *cfg;
    char *service, *group;
    char **topics; /* main topics, NULL-terminated */
    size_t ntopics;
    hs_consumer_handler_fn handler;
    void *opaque;
    int window, read_ahead, shutdown_deadline_ms, revoke_wait_ms, keep_order;
    int assigned_once; /* the group gave this member an assignment (see hs_consumer_destroy) */
    int64_t tiers_ms[HS_CONSUMER_MAX_TIERS];
    char *tier_topics[HS_CONSUMER_MAX_TIERS];
    size_t ntiers;
    char *dlq_topic;
    rd_kafka_t *rk;       /* consumer; @locality: dispatch thread */
    rd_kafka_t *producer; /* handoffs; delivery reports on librdkafka's background thread */
    rd_kafka_queue_t *cq; /* the consumer queue, to wake the dispatch thread */
    atomic_int stopping;
    int running;    /* run() was entered */
    cpart_t *parts; /* assigned partitions; written by the dispatch thread under mtx */
    pthread_mutex_t mtx;
    pthread_cond_t cond;          /* signalled on each completion */
    hs_consumer_msg_t *completed; /* finished messages the dispatch thread has not seen yet */
    hs_consumer_msg_t *all;       /* every live message, for teardown */
    handoff_t *resend;            /* failed handoffs waiting to be produced again */
    int handoffs_pending;
    struct seek_req *seeks;
    hs_heartbeat_t *hb; /* last poll and lag gauges, /readyz (hs_consumer_ready) */
    hs_metric_t *m_msgs, *m_seconds, *m_inflight, *m_rebalances, *m_handoff_fail;
};

/* Messages (hs_consumer_msg.c). msg_new takes ownership of rkm; returns NULL on a bad origin
 * header (the caller hands that message to the DLQ itself). */
hs_consumer_msg_t *hs_consumer_msg_new(hs_consumer_t *c, cpart_t *part, rd_kafka_message_t *rkm);
/* The dispatch thread removes m from its window (finished, revoked or seeked over); frees it
 * when nothing else refers to it. */
void hs_consumer_msg_release(hs_consumer_msg_t *m);
/* Shutdown: hands unfinished m to the first tier, due now, and counts it as done. */
void hs_consumer_msg_force(hs_consumer_msg_t *m);
/* Takes the list of messages finished since the last call (linked by next_done). */
hs_consumer_msg_t *hs_consumer_completed_take(hs_consumer_t *c);
/* Re-produces failed handoffs whose backoff has passed; returns ms until the next one or -1. */
int hs_consumer_resend(hs_consumer_t *c);
/* Background event callback of the handoff producer (delivery reports). */
void hs_consumer_producer_event(rd_kafka_t *rk, rd_kafka_event_t *ev, void *opaque);
/* Frees every message still alive (destroy). */
void hs_consumer_msgs_free_all(hs_consumer_t *c);
/* Count of handoffs not acknowledged yet. */
int hs_consumer_handoffs_pending(hs_consumer_t *c);
/* Group side (hs_consumer.c): the consumer conf with the runtime's callbacks, and the teardown
 * of partition state. */
rd_kafka_conf_t *hs_consumer_conf(hs_consumer_t *c, char *errstr, size_t n);
void hs_consumer_parts_free(hs_consumer_t *c);

#endif
