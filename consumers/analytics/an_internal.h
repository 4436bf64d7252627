/* Internal to the analytics service (analytics.c, an_loop.c, an_flush.c, an_parts.c, an_dlq.c):
 * its state and the calls between its parts.
 *
 * Positions: a partition's stored offset (consumer_offsets) is read when it is assigned and
 * moved only by a flush, in the transaction that writes the windows. Whenever the in-memory
 * state cannot be trusted to reach Postgres (a flush lost the race to another member, the
 * assignment was lost, a revoke could not flush in time, the registry is down), the state is
 * dropped and every partition goes back to its stored offset ("rewind"): it is paused and its
 * records are dropped until the offset is read again and the partition sought there. */
#ifndef AN_INTERNAL_H
#define AN_INTERNAL_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "an_agg.h"
#include "an_event.h"
#include "an_store.h"
#include "analytics.h"
#include "hs_clock.h"
#include "hs_consumer.h"
#include "hs_heartbeat.h"
#include "hs_http.h"
#include "hs_metrics.h"

/* @locality: consumer thread. */
typedef struct {
    char *topic;
    int32_t partition;
    rd_kafka_topic_t *rkt; /* the handle its records carry, learnt from the first one */
    int64_t committed;     /* the stored next offset as last read or written; -1: none stored */
    int64_t next;          /* the offset after the last record taken in; -1: none yet */
    int positioned;        /* 0: stored offset not read yet, paused, records dropped */
} an_part_t;

/* A dead-letter copy until the broker acknowledged it (kept to re-send after a failure). */
typedef struct an_dlq_rec {
    struct an_dlq_rec *next;
    rd_kafka_headers_t *hdrs;
    void *key, *value;
    size_t klen, vlen;
    uint64_t epoch; /* the aggregate it belongs to; an older one is not waited for */
    int state;      /* 0 in flight, 1 failed (to re-send) */
} an_dlq_rec_t;

typedef enum { AN_JOB_IDLE, AN_JOB_RUNNING, AN_JOB_DONE, AN_JOB_FAILED } an_job_state_t;

/* The aggregate the flusher thread writes and the offsets it moves. @locks: state, result, err
 * and seconds under job_mtx; agg and offs belong to the flusher while RUNNING, else to the
 * consumer thread. */
typedef struct {
    an_job_state_t state;
    an_agg_t *agg;
    an_offset_t *offs; /* topics are copies: a revoke may drop the partition meanwhile */
    size_t n, cap;
    hs_err_t result; /* DONE */
    char err[512];
    double seconds;
} an_job_t;

struct analytics {
    const hs_config_t *cfg;
    const char *group;
    rd_kafka_t *rk, *producer;
    rd_kafka_queue_t *queue;
    rd_kafka_topic_t *rkts[HS_CONSUMER_MAX_TOPICS]; /* the named topics, held from subscribe on */
    size_t nrkts;
    char dlq_topic[300];
    an_reader_t *reader;
    an_agg_t *agg;     /* the aggregate being filled (consumer thread) */
    an_store_t *store; /* the flusher thread's connection */
    an_store_t *reads; /* the consumer thread's (stored offsets) */
    an_job_t job;
    pthread_t flusher;
    int flusher_started, flusher_quit; /* @locks: job_mtx (quit) */
    pthread_mutex_t job_mtx;
    pthread_cond_t job_cond;
    hs_heartbeat_t *hb;
    hs_http_server_t *http;
    atomic_int stopping;

    /* @locality: consumer thread */
    an_part_t *parts;
    size_t nparts, capparts;
    an_part_t *last_part; /* of the last record: consecutive records share it */
    an_dlq_rec_t *dlq;    /* every copy not yet acknowledged */
    uint64_t epoch;       /* bumped by every rewind */
    int64_t dlq_pending;  /* copies of this epoch not yet acknowledged */
    int64_t flush_ms, flush_events, max_pending, late_after_ms, retry_max_ms;
    int64_t last_flush_ms, retry_at_ms, backoff_ms, resolve_at_ms, lag_at_ms;
    int paused;  /* consuming paused: flushes fail and the aggregate is full */
    int failing; /* the last flush failed */

    pthread_mutex_t why_mtx; /* @locks: why */
    char why[256];           /* why /readyz fails ("" when ready) */

    hs_metric_t *m_events, *m_flushes, *m_flush_seconds, *m_flush_rows, *m_windows, *m_rewinds;
};

/* an_parts.c: the rebalance callback, positions and pausing. */
void an_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *l,
                     void *opaque);
/* The partition a record belongs to when it may be taken in (positioned), else NULL. */
an_part_t *an_part_of(analytics_t *a, const rd_kafka_message_t *m);
/* Drops the aggregate and sends every partition back to its stored offset (reason is the
 * metric label and log field). */
void an_rewind(analytics_t *a, const char *reason, const char *detail);
/* Reads the stored offsets of partitions that lost their position and seeks them there. */
void an_resolve(analytics_t *a, int64_t now);
/* Pauses (1) or resumes (0) every positioned partition. */
void an_pause_all(analytics_t *a, int pause);
/* Sets the lag gauges of the positioned partitions. */
void an_lag(analytics_t *a);

/* an_flush.c: the flusher thread and the jobs it writes. */
hs_err_t an_flusher_start(analytics_t *a, char *errstr, size_t errstr_size);
/* Stops the thread (no job may be running) and frees the job. */
void an_flusher_stop(analytics_t *a);
/* Between batches: handles a job that ended, retries a failed one when due, and hands the
 * aggregate being filled over when due is set and the flusher is idle. */
void an_flush_poll(analytics_t *a, int64_t now, int due);
/* Flushes everything held until done, or until deadline_ms (then rewinds, reason why); for
 * revokes and shutdown. Returns 1 when everything held reached Postgres. */
int an_flush_until(analytics_t *a, int64_t deadline_ms, const char *why);
/* Drops the job (after waiting for a running one to end); for rewinds. */
void an_flush_drop(analytics_t *a);

/* an_dlq.c: dead letters. */
/* Produces a copy of m with the DLQ headers to <group>.dlq; the offset may pass m only once
 * every copy of the epoch is acknowledged (an_dlq_settled). */
void an_dlq_send(analytics_t *a, const rd_kafka_message_t *m, const char *error_class,
                 const char *reason);
/* Serves delivery reports and re-sends failed copies; returns 1 when every copy of the current
 * epoch is acknowledged. Waits up to wait_ms for that. */
int an_dlq_settled(analytics_t *a, int wait_ms);
/* The delivery report callback of the DLQ producer. */
void an_dlq_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
/* Frees every copy (at destroy, after the producer was flushed). */
void an_dlq_free(analytics_t *a);

/* /readyz reason: "" clears it. */
void an_set_why(analytics_t *a, const char *why);

#endif
