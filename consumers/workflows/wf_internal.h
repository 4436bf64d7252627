/* What the parts of the workflows service share (workflows.c: wiring, definitions and reload;
 * wf_trigger.c: the trigger consumer; wf_exec.c / wf_exec_steps.c: run execution; wf_sched.c:
 * cron and housekeeping; wf_admin.c: the admin API). Not for other services. */
#ifndef WF_INTERNAL_H
#define WF_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "hs_breaker.h"
#include "hs_clock.h"
#include "hs_consumer.h"
#include "hs_eventdec.h"
#include "hs_flags.h"
#include "hs_http.h"
#include "hs_metrics.h"
#include "hs_ratelimit.h"
#include "hs_ssrf.h"
#include "wf_def.h"
#include "wf_store.h"
#include "workflows.h"

#define WF_HDR_DEPTH "hs_wf_depth"
#define WF_HDR_RUN "hs_wf_run"
#define WF_MAX_WORKERS 256
#define WF_MAX_INTEGRATIONS 64

/* The definitions in force: replaced whole on reload, freed by its last user.
 * @locks: refs is atomic; the service's snap_mtx guards which snapshot is current. */
typedef struct {
    wf_defs_t *defs;
    const char **wait_types; /* event types some wait_for_event step waits for */
    size_t nwait_types;
    atomic_int refs;
} wf_snap_t;

/* Breaker and token bucket of one integration (config tree `integrations`).
 * @locks: mtx guards breaker and bucket. */
typedef struct {
    char name[64];
    double rate, burst; /* rate <= 0: unlimited */
    pthread_mutex_t mtx;
    hs_breaker_t breaker;
    hs_bucket_t bucket;
} wf_integration_t;

typedef struct {
    hs_metric_t *runs_started, *runs_finished, *step_seconds, *step_retries, *steps_held;
    hs_metric_t *runs_active, *timers_due, *waits, *defs_loaded, *load_errors, *loop_stopped;
    hs_metric_t *triggers;
} wf_metrics_t;

struct wf_service {
    const hs_config_t *cfg;
    char owner[128]; /* lease owner: host:pid */
    wf_metrics_t m;
    hs_flags_t *flags;
    hs_ssrf_t *ssrf;
    hs_eventdec_t *dec;
    hs_consumer_t *consumer;
    wf_store_t *trigger_store; /* @locality: consumer dispatch thread */
    wf_store_t *batch_store;   /* @locality: batcher thread */
    pthread_mutex_t batch_mtx; /* @locks: batch_head, batch_tail */
    pthread_cond_t batch_cond;
    struct wf_batch_item *batch_head, *batch_tail; /* messages whose runs wait to be created */
    pthread_t batcher;
    atomic_int batch_stop;   /* set once the consumer has stopped */
    wf_store_t *sched_store; /* @locality: scheduler thread */
    rd_kafka_t *producer;    /* emit steps; delivery reports polled by the emitting worker */
    int32_t *schema_ids;     /* per catalog index, registered on first emit; @locks: emit_mtx */
    pthread_mutex_t emit_mtx;
    hs_http_server_t *http;
    struct wf_admin *admin;

    pthread_mutex_t snap_mtx;
    wf_snap_t *snap;
    uint64_t fingerprint;
    pthread_mutex_t old_mtx; /* guards old: definitions of earlier versions runs still use */
    wf_def_t **old;
    size_t nold;

    wf_integration_t integrations[WF_MAX_INTEGRATIONS];
    size_t nintegrations;

    int nworkers;
    atomic_int worker_seq;
    pthread_t workers[WF_MAX_WORKERS];
    pthread_t scheduler;
    int threads_started;
    atomic_int stopping;
    pthread_mutex_t wake_mtx;
    pthread_cond_t wake; /* new runs, stop */
    int64_t lease_ms, poll_ms, hold_ms, event_keep_ms, reload_ms;
    int max_depth;
};

/* ---- workflows.c ---- */
/* Current definitions with a reference taken; give it back with wf_snap_release. */
wf_snap_t *wf_snap_get(wf_service_t *s);
void wf_snap_release(wf_snap_t *snap);
/* Reloads the definitions when the directory changed (force: always). */
void wf_defs_reload(wf_service_t *s, int force);
/* The definition of name@version for a run: the current one when the version matches, else
 * the stored text of that version, parsed once and kept. Borrowed (valid for the service's
 * life) or NULL with errstr. store is the caller's connection. */
const wf_def_t *wf_def_for_run(wf_service_t *s, wf_snap_t *snap, wf_store_t *store,
                               const char *name, const char *version, char *errstr, size_t n);
/* Wakes idle workers (a run was created or woken). */
void wf_wake_workers(wf_service_t *s);
/* The integration named name, NULL when it has no limits configured. */
wf_integration_t *wf_integration(wf_service_t *s, const char *name);

/* ---- wf_trigger.c ---- */
typedef struct wf_batch_item wf_batch_item_t;
/* The consumer handler: an event's runs are created in a batch with other events' (or at once,
 * with the waits it ends, for a type some step waits for); the message finishes after. */
void wf_trigger_handle(hs_consumer_msg_t *m, void *opaque);
/* The batcher thread: creates the queued messages' runs, one statement per batch. */
void *wf_batcher_main(void *arg);
/* JsonLogic match of a wait (wf_match_fn). */
int wf_match(void *opaque, const json_t *match, const json_t *event);
/* The data conditions see: the event's fields at the top and under "event". New reference. */
json_t *wf_condition_data(const json_t *event, const json_t *steps);

/* ---- wf_exec.c ---- */
void *wf_worker_main(void *arg);

/* ---- wf_emit.c ---- */
/* Delivery report callback of the emit producer. */
void wf_emit_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);
/* Produces a typed event (type, data, key; headers carry depth and run) with ce_id as its id and
 * waits for the broker's ack. HS_ERR_INVALID when data does not fit the type's schema. */
hs_err_t wf_emit(wf_service_t *s, const char *type, const json_t *data, const char *key,
                 const char *ce_id, const char *tenant, int depth, const char *run_id, char *errstr,
                 size_t n);

/* ---- wf_sched.c ---- */
void *wf_scheduler_main(void *arg);

#endif
