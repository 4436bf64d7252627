/* Flushing of analytics: a flusher thread writes one aggregate (the "job": its windows, stock
 * levels and the offsets they account for) while the consumer thread fills the other, so
 * consuming never waits for Postgres. One job at a time: the next is handed over only after the
 * previous committed, which chains each job's expected offsets to the last committed ones. A job
 * that failed is retried as it is (same windows, same offsets) after a backoff; a fenced one
 * (another member moved the offsets) drops everything held (an_rewind). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "an_internal.h"
#include "hs_log.h"

#define BACKOFF_MIN_MS 100

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *flusher_main(void *arg) {
    analytics_t *a = arg;
    an_job_t *j = &a->job;
    pthread_mutex_lock(&a->job_mtx);
    for (;;) {
        while (j->state != AN_JOB_RUNNING && !a->flusher_quit)
            pthread_cond_wait(&a->job_cond, &a->job_mtx);
        if (j->state != AN_JOB_RUNNING) break;
        pthread_mutex_unlock(&a->job_mtx);
        char err[sizeof j->err];
        double t0 = mono_s();
        hs_err_t e = an_store_flush(a->store, a->group, j->agg, j->offs, j->n, err, sizeof err);
        pthread_mutex_lock(&a->job_mtx);
        j->result = e;
        j->seconds = mono_s() - t0;
        memcpy(j->err, err, sizeof err);
        j->state = AN_JOB_DONE;
        pthread_cond_broadcast(&a->job_cond);
    }
    pthread_mutex_unlock(&a->job_mtx);
    return NULL;
}

hs_err_t an_flusher_start(analytics_t *a, char *errstr, size_t n) {
    a->job.agg = an_agg_new(a->late_after_ms);
    if (pthread_create(&a->flusher, NULL, flusher_main, a))
        return hs_fail(HS_ERR_INTERNAL, errstr, n, "cannot start the flusher thread");
    a->flusher_started = 1;
    return HS_OK;
}

void an_flusher_stop(analytics_t *a) {
    if (a->flusher_started) {
        pthread_mutex_lock(&a->job_mtx);
        a->flusher_quit = 1;
        pthread_cond_broadcast(&a->job_cond);
        pthread_mutex_unlock(&a->job_mtx);
        pthread_join(a->flusher, NULL);
    }
    for (size_t i = 0; i < a->job.n; i++)
        free((char *)a->job.offs[i].topic);
    free(a->job.offs);
    an_agg_destroy(a->job.agg);
}

static an_job_state_t job_state(analytics_t *a) {
    pthread_mutex_lock(&a->job_mtx);
    an_job_state_t s = a->job.state;
    pthread_mutex_unlock(&a->job_mtx);
    return s;
}

static void job_set(analytics_t *a, an_job_state_t s) {
    pthread_mutex_lock(&a->job_mtx);
    a->job.state = s;
    pthread_cond_broadcast(&a->job_cond);
    pthread_mutex_unlock(&a->job_mtx);
}

/* Waits up to ms (< 0: as long as it takes) for a running job to end; returns its state. */
static an_job_state_t job_wait(analytics_t *a, int64_t ms) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long ns = until.tv_nsec + (long)(ms % 1000) * 1000000L;
    until.tv_sec += (time_t)(ms / 1000) + ns / 1000000000L;
    until.tv_nsec = ns % 1000000000L;
    pthread_mutex_lock(&a->job_mtx);
    while (a->job.state == AN_JOB_RUNNING)
        if (ms < 0)
            pthread_cond_wait(&a->job_cond, &a->job_mtx);
        else if (pthread_cond_timedwait(&a->job_cond, &a->job_mtx, &until))
            break;
    an_job_state_t s = a->job.state;
    pthread_mutex_unlock(&a->job_mtx);
    return s;
}

static void job_clear(analytics_t *a) {
    for (size_t i = 0; i < a->job.n; i++)
        free((char *)a->job.offs[i].topic);
    a->job.n = 0;
    an_agg_reset(a->job.agg);
}

void an_flush_drop(analytics_t *a) {
    job_wait(a, -1);
    job_clear(a);
    job_set(a, AN_JOB_IDLE);
}

/* ---- the consumer thread's side ----------------------------------------------------------- */

static void count_metric(const char *type, an_outcome_t outcome, int64_t count, void *opaque) {
    analytics_t *a = opaque;
    const char *lv[] = {type, an_outcome_names[outcome]};
    hs_metric_add(a->m_events, lv, (double)count);
}

/* Tells Kafka the offsets Postgres now holds, for `groups describe` and lag tools only. */
static void commit_to_kafka(analytics_t *a) {
    if (!a->job.n) return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)a->job.n);
    for (size_t i = 0; i < a->job.n; i++)
        rd_kafka_topic_partition_list_add(l, a->job.offs[i].topic, a->job.offs[i].partition)
            ->offset = a->job.offs[i].next;
    rd_kafka_commit(a->rk, l, 1);
    rd_kafka_topic_partition_list_destroy(l);
}

static void job_succeeded(analytics_t *a) {
    an_job_t *j = &a->job;
    for (size_t i = 0; i < j->n; i++)
        for (size_t k = 0; k < a->nparts; k++)
            if (a->parts[k].partition == j->offs[i].partition &&
                !strcmp(a->parts[k].topic, j->offs[i].topic))
                a->parts[k].committed = j->offs[i].next;
    commit_to_kafka(a);
    size_t nw, nl, nv;
    an_agg_windows(j->agg, &nw);
    an_agg_stock_low(j->agg, &nl);
    an_agg_stock_levels(j->agg, &nv);
    const char *ok[] = {"ok"};
    hs_metric_add(a->m_flushes, ok, 1);
    hs_metric_observe(a->m_flush_seconds, NULL, j->seconds);
    hs_metric_set(a->m_flush_rows, NULL, (double)(nw + nl + nv));
    an_agg_each_count(j->agg, count_metric, a);
    if (a->failing) hs_log(HS_LOG_INFO, "analytics flushes again", "{s:s}", "group", a->group);
    a->failing = 0;
    a->backoff_ms = 0;
    an_set_why(a, "");
    job_clear(a);
    job_set(a, AN_JOB_IDLE);
    if (a->paused) an_pause_all(a, 0);
}

/* The next try is due after a doubling backoff; consuming pauses once the aggregate being
 * filled is full too (memory stays bounded while Postgres is away). */
static void job_failed(analytics_t *a) {
    if (!a->failing)
        hs_log(HS_LOG_ERROR, "analytics flush failed, holding the windows and retrying",
               "{s:s, s:s, s:I}", "group", a->group, "error", a->job.err, "events",
               (json_int_t)an_agg_events(a->job.agg));
    const char *lv[] = {"error"};
    hs_metric_add(a->m_flushes, lv, 1);
    a->failing = 1;
    a->backoff_ms = a->backoff_ms ? a->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (a->backoff_ms > a->retry_max_ms) a->backoff_ms = a->retry_max_ms;
    a->retry_at_ms = hs_wall_ms() + a->backoff_ms;
    char why[sizeof a->why];
    snprintf(why, sizeof why, "flush failing: %.*s", (int)(sizeof why - 16), a->job.err);
    an_set_why(a, why);
    job_set(a, AN_JOB_FAILED);
}

/* Handles the result of a job that ended. */
static void collect(analytics_t *a) {
    if (job_state(a) != AN_JOB_DONE) return;
    if (a->job.result == HS_OK)
        job_succeeded(a);
    else if (a->job.result == HS_ERR_CONFLICT)
        an_rewind(a, "fenced", a->job.err);
    else
        job_failed(a);
}

/* Hands the aggregate being filled to the flusher (the job is idle). 0 when there is nothing
 * to write, or dead letters of it are not acknowledged yet. */
static int submit(analytics_t *a, int64_t now) {
    if (!an_dlq_settled(a, 0)) return 0;
    an_job_t *j = &a->job;
    if (j->cap < a->nparts) {
        j->cap = a->nparts;
        if (!(j->offs = realloc(j->offs, j->cap * sizeof *j->offs))) abort();
    }
    j->n = 0;
    for (size_t i = 0; i < a->nparts; i++) {
        an_part_t *p = &a->parts[i];
        if (!p->positioned || p->next < 0 || p->next == p->committed) continue;
        j->offs[j->n] = (an_offset_t){strdup(p->topic), p->partition, p->committed, p->next};
        if (!j->offs[j->n++].topic) abort();
    }
    if (!j->n && !an_agg_events(a->agg)) return 0;
    size_t nw;
    an_agg_windows(a->agg, &nw);
    hs_log(HS_LOG_DEBUG, "analytics flush", "{s:I, s:i, s:i}", "events",
           (json_int_t)an_agg_events(a->agg), "windows", (int)nw, "offsets", (int)j->n);
    an_agg_t *filled = a->agg;
    a->agg = j->agg;
    j->agg = filled;
    a->last_flush_ms = now;
    job_set(a, AN_JOB_RUNNING);
    return 1;
}

void an_flush_poll(analytics_t *a, int64_t now, int due) {
    collect(a);
    an_job_state_t s = job_state(a);
    if (s == AN_JOB_FAILED && now >= a->retry_at_ms) job_set(a, AN_JOB_RUNNING);
    if (s == AN_JOB_IDLE && due) submit(a, now);
}

int an_flush_until(analytics_t *a, int64_t deadline_ms, const char *why) {
    for (;;) {
        int64_t now = hs_wall_ms();
        collect(a);
        an_job_state_t s = job_state(a);
        if (s == AN_JOB_IDLE) {
            if (submit(a, now)) continue;
            if (!an_agg_events(a->agg)) return 1;
        }
        if (s == AN_JOB_FAILED && now >= a->retry_at_ms) {
            job_set(a, AN_JOB_RUNNING);
            continue;
        }
        if (now >= deadline_ms) break;
        int64_t wait = deadline_ms - now;
        if (s == AN_JOB_RUNNING) {
            job_wait(a, wait);
        } else if (s == AN_JOB_IDLE) { /* dead letters not acknowledged yet */
            an_dlq_settled(a, (int)(wait < 100 ? wait : 100));
        } else {
            if (a->retry_at_ms - now < wait) wait = a->retry_at_ms - now;
            struct timespec ts = {(time_t)(wait / 1000), (long)(wait % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    an_rewind(a, why, a->job.err[0] ? a->job.err : "the flush did not finish in time");
    return 0;
}
