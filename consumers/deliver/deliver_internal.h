/* What the parts of the deliver service share: the endpoint runtime state (breaker, bucket,
 * bulkhead queue), one delivery job, and the service struct. Not for other services. */
#ifndef DELIVER_INTERNAL_H
#define DELIVER_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "deliver.h"
#include "hs_backoff.h"
#include "hs_breaker.h"
#include "hs_consumer.h"
#include "hs_eventdec.h"
#include "hs_flags.h"
#include "hs_metrics.h"
#include "hs_ratelimit.h"
#include "hs_secretbox.h"
#include "hs_ssrf.h"
#include "sender.h"
#include "store.h"

/* Headers a retry-tier copy carries so that it comes back for one endpoint only. */
#define DELIVER_HDR_ENDPOINT "hs_endpoint"
#define DELIVER_HDR_ATTEMPT "hs_endpoint_attempt"

typedef struct deliver_job deliver_job_t;

/* One endpoint's definition and runtime state. Created on first sight of its id and kept for the
 * service's life (a deleted endpoint is marked gone), so the breaker and bucket survive edits.
 * @locks: mtx guards every field but id. */
typedef struct deliver_ep {
    char id[DELIVER_ID_LEN];
    pthread_mutex_t mtx;
    deliver_endpoint_t def; /* current definition (store) */
    hs_backoff_t policy;
    int gone; /* deleted from the store */
    hs_breaker_t breaker;
    hs_bucket_t bucket;
    int in_flight;
    deliver_job_t *head, *tail; /* waiting for a free slot or a token */
    size_t queued;
    /* What the breaker-state and queued gauges show: they are set on change only (a label
     * lookup per delivery otherwise). */
    int breaker_shown;
    size_t queued_shown;
    struct deliver_ep *next; /* in the service's list */
} deliver_ep_t;

/* The event a message carries, shared by the jobs of its endpoints.
 * @locality: built on the dispatch thread, then read-only; freed by the last job. */
typedef struct {
    hs_consumer_msg_t *msg; /* NULL for replays */
    atomic_int pending;     /* jobs not finished + 1 while the handler runs */
    char id[128], type[128], time[64], topic[256];
    int32_t partition;
    int64_t offset;
    int64_t event_ms; /* ce_time, for the end-to-end latency */
    int abandoned;    /* deliver is stopping: the message is left unfinished */
    json_t *payload;  /* {"type","timestamp","data"}: what filters see; NULL once handled */
    char *body;       /* payload serialised: what is sent */
    size_t body_len;
    struct deliver_replay_run *replay; /* set for replays */
} deliver_event_t;

/* One delivery of an event to an endpoint. */
struct deliver_job {
    struct deliver *d;
    deliver_event_t *ev;
    deliver_ep_t *ep;
    int attempt; /* 1-based number of this attempt for this endpoint */
    int ordered; /* retried in place (the message stays in flight, holding its key) */
    int64_t queued_ms, due_ms;
    deliver_job_t *next;
};

struct deliver {
    const hs_config_t *cfg;
    hs_secretbox_key_t key;
    deliver_store_t *store;
    hs_ssrf_t *ssrf;
    deliver_sender_t *sender;
    hs_eventdec_t *dec;
    hs_consumer_t *consumer;
    hs_flags_t *flags;         /* endpoints' kill switches: integration.<name>.enabled */
    int64_t disabled_hold_ms;  /* how long an event of a switched-off endpoint waits */
    struct hs_control *control;
    struct hs_http_server *http;
    struct deliver_admin *admin;
    hs_backoff_t default_policy;
    hs_breaker_opts_t breaker_opts;
    int default_max_in_flight;
    size_t queue_bound;    /* jobs an endpoint may hold waiting before they go to a retry tier */
    int64_t queue_wait_ms; /* ... and how long one may wait there */

    pthread_mutex_t eps_mtx; /* @locks: eps, version */
    deliver_ep_t *eps;
    int64_t version;
    atomic_int reload_wanted;

    pthread_mutex_t delayed_mtx;     /* @locks: delayed */
    deliver_job_t *delayed;          /* ordered jobs waiting for their next attempt */
    struct deliver_ordered *ordered; /* @locality: ticker thread (and destroy after it) */

    pthread_t ticker, replayer;
    atomic_int stopping;
    pthread_mutex_t wake_mtx;
    pthread_cond_t wake;

    hs_metric_t *m_deliveries, *m_e2e, *m_breaker, *m_queued, *m_replayed;
};

/* dispatch.c: the consumer handler and everything a job goes through. */
void deliver_handle(hs_consumer_msg_t *m, void *opaque);
/* The event of a consumed message, or NULL when it cannot be decoded (then the message is
 * already finished: DLQ when bad, retry tier when the registry is unreachable). */
deliver_event_t *deliver_event_of_msg(struct deliver *d, hs_consumer_msg_t *m);
/* Makes the job of ev for ep (attempt, ordered) and starts it; skipped when ep does not want ev,
 * recorded as skipped when ep is disabled. */
void deliver_start_for(struct deliver *d, deliver_event_t *ev, deliver_ep_t *ep, int attempt,
                       int ordered);
/* Starts the ordered jobs whose next attempt is due (the ticker calls this). */
void deliver_delayed_pump(struct deliver *d);
/* Starts job for its endpoint now or queues it (bulkhead, rate limit, breaker). */
void deliver_job_start(deliver_job_t *job);
/* Sends job now, past the endpoint's queue (replays: one attempt, throttled by the runner). */
void deliver_job_send(deliver_job_t *job);
/* Sends what queued jobs can go now, for every endpoint (the ticker calls this). */
void deliver_pump_all(struct deliver *d);
/* Builds the event view of a message value + headers; NULL with errstr (class in *invalid: 1
 * when the message itself is bad, 0 when the registry could not be reached). */
deliver_event_t *deliver_event_new(struct deliver *d, const rd_kafka_headers_t *hdrs,
                                   const void *value, size_t len, int *invalid, char *errstr,
                                   size_t n);
/* Drops one reference (pending); the last one completes the message and frees the event. */
void deliver_event_release(deliver_event_t *ev);
/* The handler's end: every job of ev is made, so the filters' view (payload) goes now, on the
 * thread that built it (freed by the last job's thread, its many small allocations would cross
 * threads), then the handler's reference. */
void deliver_event_handled(deliver_event_t *ev);
/* 1 when ev goes to ep (type pattern and filter). Caller holds ep->mtx. */
int deliver_ep_wants(const deliver_ep_t *ep, const deliver_event_t *ev);

/* endpoints.c: the endpoint list, reloaded from the store when its version changes. */
hs_err_t deliver_eps_reload(struct deliver *d, char *errstr, size_t n);
/* Returns the endpoint with id, or NULL (list only grows, entries are never freed before
 * deliver_destroy, so the pointer stays valid). */
deliver_ep_t *deliver_ep_find(struct deliver *d, const char *id);
void deliver_eps_free(struct deliver *d);

/* ordered.c: one consumer group per ordered endpoint, so that a failing event holds back the
 * later events of its key for that endpoint only. */
/* Starts a consumer for every enabled ordered endpoint, stops the ones no longer wanted. */
void deliver_ordered_sync(struct deliver *d);
/* Stops every ordered consumer (their runs return; late deliveries are left unfinished). */
void deliver_ordered_stop_all(struct deliver *d);
/* Frees them (after the sender is gone). */
void deliver_ordered_free(struct deliver *d);

/* replay.c: the replay runner thread. */
struct deliver_replay_run;
void *deliver_replay_main(void *arg);
/* The replay's id (borrowed). */
const char *deliver_replay_id(const struct deliver_replay_run *run);
/* Counts one finished delivery of a replay. */
void deliver_replay_job_done(struct deliver_replay_run *run);

#endif
