/* Replays: one event, a time range of a topic, or every failed/skipped event of an endpoint
 * since a time, re-delivered to one endpoint with the original webhook-id, throttled
 * (deliver.replay_rate), with progress in the store and cancellation from the admin API. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deliver_internal.h"
#include "hs_kafka.h"
#include "hs_log.h"

#define IDLE_MS 250
#define PROGRESS_MS 500
#define MAX_IN_FLIGHT 32
#define FETCH_TIMEOUT_MS 5000

typedef struct deliver_replay_run {
    deliver_t *d;
    deliver_replay_t r;
    deliver_ep_t *ep;
    rd_kafka_t *rk;
    atomic_int in_flight;
    atomic_llong done;
    int cancelled, stopped;
    int64_t last_progress_ms, started_ms;
    int64_t sent;
} run_t;

typedef struct {
    char topic[256];
    int32_t partition;
    int64_t offset;
} loc_t;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

const char *deliver_replay_id(const run_t *run) {
    return run->r.id;
}

void deliver_replay_job_done(run_t *run) {
    atomic_fetch_add(&run->done, 1);
    atomic_fetch_sub(&run->in_flight, 1);
}

/* Writes progress now and then; returns 1 when the replay was cancelled meanwhile. */
static int progress(run_t *run, int force) {
    int64_t now = now_ms();
    if (atomic_load(&run->d->stopping)) run->stopped = 1;
    if (!force && now - run->last_progress_ms < PROGRESS_MS) return run->cancelled || run->stopped;
    run->last_progress_ms = now;
    run->r.done = atomic_load(&run->done);
    char err[256];
    if (deliver_store_replay_progress(run->d->store, &run->r, err, sizeof err) == HS_ERR_CONFLICT)
        run->cancelled = 1;
    return run->cancelled || run->stopped;
}

/* Delivers one consumed message to the replay's endpoint when it wants the event; throttled. */
static void replay_message(run_t *run, const rd_kafka_message_t *m) {
    deliver_t *d = run->d;
    rd_kafka_headers_t *hdrs = NULL;
    rd_kafka_message_headers(m, &hdrs);
    char err[512];
    int invalid;
    deliver_event_t *ev = deliver_event_new(d, hdrs, m->payload, m->len, &invalid, err, sizeof err);
    if (!ev) {
        atomic_fetch_add(&run->done, 1);
        return;
    }
    snprintf(ev->topic, sizeof ev->topic, "%s", rd_kafka_topic_name(m->rkt));
    ev->partition = m->partition;
    ev->offset = m->offset;
    ev->replay = run;
    pthread_mutex_lock(&run->ep->mtx);
    int wants = deliver_ep_wants(run->ep, ev);
    pthread_mutex_unlock(&run->ep->mtx);
    if (!wants && strcmp(run->r.kind, "range") == 0) {
        atomic_fetch_add(&run->done, 1);
        deliver_event_release(ev);
        return;
    }
    int64_t rate = hs_config_int(d->cfg, "deliver.replay_rate");
    int64_t due = run->started_ms + run->sent * 1000 / (rate > 0 ? rate : 1);
    while (now_ms() < due || atomic_load(&run->in_flight) >= MAX_IN_FLIGHT)
        sleep_ms(2);
    run->sent++;
    deliver_job_t *job = calloc(1, sizeof *job);
    if (!job) {
        deliver_event_release(ev);
        return;
    }
    *job = (deliver_job_t){.d = d, .ev = ev, .ep = run->ep, .attempt = 1};
    atomic_fetch_add(&ev->pending, 1);
    atomic_fetch_add(&run->in_flight, 1);
    hs_metric_add(d->m_replayed, (const char *[]){"sent"}, 1);
    deliver_job_send(job);
    deliver_event_release(ev);
}

/* Reads partition from offset `from` up to `to` (exclusive; -1 = just the one message). */
static hs_err_t read_range(run_t *run, const char *topic, int32_t partition, int64_t from,
                           int64_t to, char *errstr, size_t n) {
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tp, topic, partition)->offset = from;
    rd_kafka_resp_err_t e = rd_kafka_assign(run->rk, tp);
    rd_kafka_topic_partition_list_destroy(tp);
    if (e)
        return hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "assign %s: %s", topic, rd_kafka_err2str(e));
    int64_t end = to < 0 ? from + 1 : to;
    hs_err_t r = HS_OK;
    for (int64_t next = from; next < end && !progress(run, 0);) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(run->rk, FETCH_TIMEOUT_MS);
        if (!m) {
            r = hs_fail(HS_ERR_TIMEOUT, errstr, n, "%s [%d] offset %" PRId64 " not readable", topic,
                        (int)partition, next);
            break;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            break;
        }
        if (m->err) {
            r = hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "%s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            break;
        }
        next = m->offset + 1;
        if (m->offset < end) replay_message(run, m);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(run->rk, NULL);
    return r;
}

static hs_err_t run_event(run_t *run, char *errstr, size_t n) {
    loc_t l;
    hs_err_t e = deliver_store_event_locate(run->d->store, run->r.event_id, l.topic, sizeof l.topic,
                                            &l.partition, &l.offset, errstr, n);
    if (e) return e;
    run->r.total = 1;
    return read_range(run, l.topic, l.partition, l.offset, -1, errstr, n);
}

static hs_err_t run_range(run_t *run, char *errstr, size_t n) {
    int parts;
    int timeout = (int)hs_config_int(run->d->cfg, "kafka.timeout_ms");
    hs_err_t e = hs_kafka_topic_partitions(run->rk, run->r.topic, &parts, timeout, errstr, n);
    if (e) return e;
    int64_t *from = calloc((size_t)parts * 2, sizeof *from);
    if (!from) return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    int64_t *to = from + parts;
    run->r.total = 0;
    for (int p = 0; p < parts && !e; p++) {
        if ((e = hs_kafka_offset_for_time(run->rk, run->r.topic, p, run->r.from_ms, &from[p],
                                          timeout, errstr, n)) ||
            (e = hs_kafka_offset_for_time(run->rk, run->r.topic, p, run->r.to_ms, &to[p], timeout,
                                          errstr, n)))
            break;
        run->r.total += to[p] > from[p] ? to[p] - from[p] : 0;
    }
    if (!e) progress(run, 1);
    for (int p = 0; p < parts && !e && !run->cancelled && !run->stopped; p++)
        if (to[p] > from[p]) e = read_range(run, run->r.topic, p, from[p], to[p], errstr, n);
    free(from);
    return e;
}

typedef struct {
    loc_t *v;
    size_t n, cap;
} locs_t;

static int collect(const char *event_id, const char *topic, int32_t partition, int64_t offset,
                   void *opaque) {
    (void)event_id;
    locs_t *ls = opaque;
    if (ls->n == ls->cap) {
        size_t cap = ls->cap ? ls->cap * 2 : 64;
        loc_t *v = realloc(ls->v, cap * sizeof *v);
        if (!v) return 1;
        ls->v = v;
        ls->cap = cap;
    }
    loc_t *l = &ls->v[ls->n++];
    snprintf(l->topic, sizeof l->topic, "%s", topic);
    l->partition = partition;
    l->offset = offset;
    return 0;
}

static hs_err_t run_recover(run_t *run, char *errstr, size_t n) {
    locs_t ls = {0};
    hs_err_t e = deliver_store_recover_each(run->d->store, run->r.endpoint_id, run->r.since_ms,
                                            collect, &ls, errstr, n);
    run->r.total = (int64_t)ls.n;
    progress(run, 1);
    for (size_t i = 0; !e && i < ls.n && !run->cancelled && !run->stopped; i++)
        e = read_range(run, ls.v[i].topic, ls.v[i].partition, ls.v[i].offset, -1, errstr, n);
    free(ls.v);
    return e;
}

static void run_one(deliver_t *d, deliver_replay_t *r) {
    run_t run = {.d = d, .r = *r, .started_ms = now_ms()};
    char err[512] = "";
    hs_err_t e = HS_OK;
    if (!(run.ep = deliver_ep_find(d, r->endpoint_id)) &&
        !(deliver_eps_reload(d, err, sizeof err) == HS_OK &&
          (run.ep = deliver_ep_find(d, r->endpoint_id))))
        e = hs_fail(HS_ERR_NOT_FOUND, err, sizeof err, "endpoint %s not found", r->endpoint_id);
    if (!e && !(run.rk = hs_kafka_consumer_new(d->cfg, NULL, err, sizeof err)))
        e = HS_ERR_UNAVAILABLE;
    if (!e && !strcmp(r->kind, "event"))
        e = run_event(&run, err, sizeof err);
    else if (!e && !strcmp(r->kind, "range"))
        e = run_range(&run, err, sizeof err);
    else if (!e && !strcmp(r->kind, "recover"))
        e = run_recover(&run, err, sizeof err);
    else if (!e)
        e = hs_fail(HS_ERR_INVALID, err, sizeof err, "unknown replay kind %s", r->kind);
    while (atomic_load(&run.in_flight) > 0)
        sleep_ms(5);
    if (run.rk) {
        rd_kafka_consumer_close(run.rk);
        rd_kafka_destroy(run.rk);
    }
    if (run.stopped && !e) e = hs_fail(HS_ERR_UNAVAILABLE, err, sizeof err, "deliver stopped");
    if (!run.cancelled) {
        snprintf(run.r.state, sizeof run.r.state, "%s", e ? "failed" : "done");
        snprintf(run.r.error, sizeof run.r.error, "%.255s", e ? err : "");
        run.r.finished_ms = now_ms();
    }
    progress(&run, 1);
    hs_log(e ? HS_LOG_WARN : HS_LOG_INFO, e ? "replay failed" : "replay finished",
           "{s:s, s:s, s:s, s:I, s:I, s:s}", "replay", r->id, "kind", r->kind, "endpoint",
           r->endpoint_id, "total", (json_int_t)run.r.total, "done", (json_int_t)run.r.done,
           "error", err);
}

void *deliver_replay_main(void *arg) {
    deliver_t *d = arg;
    char err[512];
    while (!atomic_load(&d->stopping)) {
        deliver_replay_t r;
        int found = 0;
        if (deliver_store_replay_claim(d->store, &r, &found, err, sizeof err))
            hs_log(HS_LOG_WARN, "cannot claim replays", "{s:s}", "error", err);
        if (found)
            run_one(d, &r);
        else
            sleep_ms(IDLE_MS);
    }
    return NULL;
}
