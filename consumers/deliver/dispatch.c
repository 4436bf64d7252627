/* The delivery path: a consumed event becomes one job per subscribed endpoint; each job waits
 * for its endpoint's bulkhead slot and token, is signed and sent, and its outcome decides: done,
 * retry tier (the endpoint's policy or Retry-After), DLQ after the last attempt, or the endpoint
 * disabled (410). The message is finished when every job is. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deliver_internal.h"
#include "hs_envelope.h"
#include "hs_evtype.h"
#include "hs_jsonlogic.h"
#include "hs_log.h"
#include "hs_whsig.h"

#define MAX_RETRY_AFTER_MS (24LL * 3600 * 1000)

static void pump(deliver_t *d, deliver_ep_t *ep);

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- events ------------------------------------------------------------------------------ */

/* The payload as compact JSON in one allocation of its size (json_dumps grows its buffer by
 * doubling, an allocation and a copy per step, and its last steps are large enough to make
 * glibc consolidate its free lists on every event). */
static char *dump_body(const json_t *payload, size_t *len) {
    static __thread char scratch[8192];
    size_t n = json_dumpb(payload, scratch, sizeof scratch, JSON_COMPACT);
    if (n == 0) return NULL;
    char *body = malloc(n + 1);
    if (!body) return NULL;
    if (n <= sizeof scratch)
        memcpy(body, scratch, n);
    else if (json_dumpb(payload, body, n, JSON_COMPACT) != n) {
        free(body);
        return NULL;
    }
    body[n] = 0;
    *len = n;
    return body;
}

deliver_event_t *deliver_event_new(struct deliver *d, const rd_kafka_headers_t *hdrs,
                                   const void *value, size_t len, int *invalid, char *errstr,
                                   size_t n) {
    hs_envelope_t env;
    *invalid = 1;
    if (!hdrs || hs_envelope_parse(hdrs, &env, errstr, n)) {
        if (!hdrs) snprintf(errstr, n, "no CloudEvents headers");
        return NULL;
    }
    json_t *data = NULL;
    hs_err_t e = hs_eventdec_decode(d->dec, value, len, &data, errstr, n);
    if (e) {
        *invalid = e == HS_ERR_INVALID;
        return NULL;
    }
    deliver_event_t *ev = calloc(1, sizeof *ev);
    if (!ev) {
        json_decref(data);
        *invalid = 0;
        snprintf(errstr, n, "out of memory");
        return NULL;
    }
    atomic_init(&ev->pending, 1);
    snprintf(ev->id, sizeof ev->id, "%s", env.id);
    snprintf(ev->type, sizeof ev->type, "%s", env.type);
    snprintf(ev->time, sizeof ev->time, "%s", env.time);
    ev->payload =
        json_pack("{s:s, s:s, s:o}", "type", env.type, "timestamp", env.time, "data", data);
    ev->body = ev->payload ? dump_body(ev->payload, &ev->body_len) : NULL;
    if (!ev->body) {
        deliver_event_release(ev);
        *invalid = 0;
        snprintf(errstr, n, "out of memory");
        return NULL;
    }
    return ev;
}

void deliver_event_release(deliver_event_t *ev) {
    if (atomic_fetch_sub(&ev->pending, 1) != 1) return;
    if (ev->msg && !ev->abandoned) hs_consumer_msg_done(ev->msg, HS_CONSUMER_OK, 0, NULL, NULL);
    json_decref(ev->payload);
    free(ev->body);
    free(ev);
}

void deliver_event_handled(deliver_event_t *ev) {
    json_decref(ev->payload);
    ev->payload = NULL;
    deliver_event_release(ev);
}

int deliver_ep_wants(const deliver_ep_t *ep, const deliver_event_t *ev) {
    int match = 0;
    for (size_t i = 0; i < ep->def.n_event_types && !match; i++)
        match = hs_evtype_match(ep->def.event_types[i], ev->type);
    if (!match || !ep->def.filter) return match;
    char err[256];
    json_t *r = hs_jsonlogic_apply(ep->def.filter, ev->payload, err, sizeof err);
    int yes = r && hs_jsonlogic_truthy(r);
    json_decref(r);
    return yes;
}

/* ---- outcomes ---------------------------------------------------------------------------- */

static void log_attempt(deliver_job_t *job, const char *status, const deliver_result_t *r) {
    deliver_attempt_t a = {0};
    deliver_event_t *ev = job->ev;
    snprintf(a.endpoint_id, sizeof a.endpoint_id, "%s", job->ep->id);
    snprintf(a.event_id, sizeof a.event_id, "%s", ev->id);
    snprintf(a.event_type, sizeof a.event_type, "%.63s", ev->type);
    snprintf(a.topic, sizeof a.topic, "%s", ev->topic);
    a.partition = ev->partition;
    a.offset = ev->offset;
    a.attempt = job->attempt;
    snprintf(a.status, sizeof a.status, "%s", status);
    if (r) {
        a.http_status = r->status;
        a.latency_ms = r->latency_ms;
        snprintf(a.error, sizeof a.error, "%s", r->error);
        snprintf(a.excerpt, sizeof a.excerpt, "%s", r->excerpt);
    }
    if (ev->replay) snprintf(a.replay_id, sizeof a.replay_id, "%s", deliver_replay_id(ev->replay));
    a.at_ms = now_ms();
    deliver_store_attempt_add(job->d->store, &a);
    hs_metric_add(job->d->m_deliveries, (const char *[]){status}, 1);
}

/* Hands the job's event to a retry tier (RETRY) or the DLQ (FAIL) for its endpoint only;
 * attempts_done is what the copy carries (the breaker path does not count one). */
static void handoff(deliver_job_t *job, hs_consumer_verdict_t v, int64_t after_ms,
                    int attempts_done, const char *cls, const char *reason) {
    if (!job->ev->msg) return; /* replays make one attempt */
    char n[16];
    snprintf(n, sizeof n, "%d", attempts_done);
    const hs_consumer_kv_t hdrs[] = {{DELIVER_HDR_ENDPOINT, job->ep->id}, {DELIVER_HDR_ATTEMPT, n}};
    hs_consumer_msg_handoff(job->ev->msg, v, after_ms, cls, reason, hdrs, 2);
}

static void job_finish(deliver_job_t *job) {
    deliver_event_t *ev = job->ev;
    if (ev->replay) deliver_replay_job_done(ev->replay);
    deliver_event_release(ev);
    free(job);
}

/* Keeps an ordered job for another try after delay_ms (its message stays in flight). Returns 0
 * when deliver is stopping: then the message is left unfinished for the next run. */
static int delay(deliver_job_t *job, int64_t delay_ms) {
    deliver_t *d = job->d;
    if (atomic_load(&d->stopping)) {
        job->ev->abandoned = 1;
        return 0;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    job->due_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + delay_ms;
    pthread_mutex_lock(&d->delayed_mtx);
    job->next = d->delayed;
    d->delayed = job;
    pthread_mutex_unlock(&d->delayed_mtx);
    return 1;
}

void deliver_delayed_pump(deliver_t *d) {
    int64_t now = now_ms();
    deliver_job_t *due = NULL;
    pthread_mutex_lock(&d->delayed_mtx);
    for (deliver_job_t **pp = &d->delayed; *pp;) {
        deliver_job_t *j = *pp;
        if (j->due_ms <= now || atomic_load(&d->stopping)) {
            *pp = j->next;
            j->next = due;
            due = j;
        } else {
            pp = &j->next;
        }
    }
    pthread_mutex_unlock(&d->delayed_mtx);
    while (due) {
        deliver_job_t *j = due;
        due = j->next;
        if (atomic_load(&d->stopping)) {
            j->ev->abandoned = 1;
            job_finish(j);
        } else {
            deliver_job_start(j);
        }
    }
}

/* What a failed attempt leads to: the next attempt after the policy's delay (or the receiver's
 * Retry-After) — through a retry tier, or in place for an ordered endpoint — or the DLQ when the
 * policy is exhausted. Returns 1 when the job was kept for an in-place retry. */
static int failed(deliver_job_t *job, const deliver_result_t *r, int64_t retry_after_ms) {
    deliver_ep_t *ep = job->ep;
    pthread_mutex_lock(&ep->mtx);
    uint64_t rng = ((uint64_t)now_ms() * 2654435761u) ^ (uint64_t)(uintptr_t)job;
    int64_t next = hs_backoff_next_ms(&ep->policy, job->attempt, 0, &rng);
    pthread_mutex_unlock(&ep->mtx);
    if (next >= 0 && retry_after_ms > next) next = retry_after_ms;
    if (next > MAX_RETRY_AFTER_MS) next = MAX_RETRY_AFTER_MS;
    if (job->ev->replay || next < 0) {
        log_attempt(job, "failed", r);
        handoff(job, HS_CONSUMER_FAIL, 0, job->attempt, "delivery",
                r ? r->error : "attempts exhausted");
        return 0;
    }
    log_attempt(job, "retrying", r);
    if (job->ordered) {
        job->attempt++;
        return delay(job, next);
    }
    handoff(job, HS_CONSUMER_RETRY, next, job->attempt, "delivery", r ? r->error : "");
    return 0;
}

/* 410 Gone: the receiver asks us to stop; the endpoint is disabled until an operator enables
 * it again, and its later events are recorded as skipped so they can be recovered. */
static void gone(deliver_job_t *job, const deliver_result_t *r) {
    char err[256];
    log_attempt(job, "failed", r);
    if (deliver_store_endpoint_set_enabled(job->d->store, job->ep->id, 0, "410 Gone", err,
                                           sizeof err))
        hs_log(HS_LOG_ERROR, "cannot disable endpoint", "{s:s, s:s}", "endpoint", job->ep->id,
               "error", err);
    else
        hs_log(HS_LOG_WARN, "endpoint disabled: receiver answered 410 Gone", "{s:s}", "endpoint",
               job->ep->id);
    pthread_mutex_lock(&job->ep->mtx);
    job->ep->def.enabled = 0;
    snprintf(job->ep->def.disabled_reason, sizeof job->ep->def.disabled_reason, "410 Gone");
    pthread_mutex_unlock(&job->ep->mtx);
    atomic_store(&job->d->reload_wanted, 1);
}

static void sent(const deliver_result_t *r, void *opaque) {
    deliver_job_t *job = opaque;
    deliver_t *d = job->d;
    deliver_ep_t *ep = job->ep;
    int ok = r->net == DELIVER_NET_OK && r->status >= 200 && r->status < 300;
    /* 429 means "slower", not "broken": it does not count against the breaker. */
    int counts = !(r->net == DELIVER_NET_OK && r->status == 429);
    pthread_mutex_lock(&ep->mtx);
    ep->in_flight--;
    if (counts) hs_breaker_record(&ep->breaker, ok, now_ms());
    int state = (int)hs_breaker_state(&ep->breaker, now_ms());
    if (state != ep->breaker_shown) {
        ep->breaker_shown = state;
        hs_metric_set(d->m_breaker, (const char *[]){ep->id}, state);
    }
    pthread_mutex_unlock(&ep->mtx);
    if (ok) {
        log_attempt(job, "succeeded", r);
        if (job->ev->msg)
            hs_metric_observe(d->m_e2e, NULL, (double)(now_ms() - job->ev->event_ms) / 1000.0);
    } else if (r->net == DELIVER_NET_OK && r->status == 410) {
        gone(job, r);
    } else {
        int honour = r->net == DELIVER_NET_OK && (r->status == 429 || r->status == 503);
        /* Kept for an in-place retry: the ticker may already have started (and finished) it,
         * so job is not touched again. */
        if (failed(job, r, honour ? r->retry_after_ms : -1)) {
            pump(d, ep);
            return;
        }
    }
    job_finish(job);
    pump(d, ep);
}

/* Signs and submits job (its slot and token are taken). */
static void send_job(deliver_job_t *job) {
    deliver_ep_t *ep = job->ep;
    char sig[DELIVER_MAX_SECRETS * 64], err[200], url[2048];
    char h_id[200], h_ts[64], h_sig[sizeof sig + 32];
    int64_t ts = now_ms() / 1000;
    pthread_mutex_lock(&ep->mtx);
    snprintf(url, sizeof url, "%s", ep->def.url);
    hs_err_t e =
        ep->def.nsecrets == 0
            ? hs_fail(HS_ERR_INVALID, err, sizeof err, "%s",
                      ep->def.secret_error[0] ? ep->def.secret_error : "no secret")
            : hs_whsig_sign((const char *const *)ep->def.secrets, ep->def.nsecrets, job->ev->id, ts,
                            job->ev->body, job->ev->body_len, sig, sizeof sig, err, sizeof err);
    pthread_mutex_unlock(&ep->mtx);
    if (e) {
        deliver_result_t r = {.net = DELIVER_NET_OTHER, .retry_after_ms = -1};
        snprintf(r.error, sizeof r.error, "cannot sign: %s", err);
        sent(&r, job);
        return;
    }
    snprintf(h_id, sizeof h_id, "webhook-id: %s", job->ev->id);
    snprintf(h_ts, sizeof h_ts, "webhook-timestamp: %" PRId64, ts);
    snprintf(h_sig, sizeof h_sig, "webhook-signature: %s", sig);
    const char *const headers[] = {
        "Content-Type: application/json", "User-Agent: hookstream", h_id, h_ts, h_sig, NULL};
    deliver_request_t req = {
        .url = url, .headers = headers, .body = job->ev->body, .len = job->ev->body_len};
    deliver_sender_submit(job->d->sender, &req, sent, job);
}

void deliver_job_send(deliver_job_t *job) {
    pthread_mutex_lock(&job->ep->mtx);
    job->ep->in_flight++;
    pthread_mutex_unlock(&job->ep->mtx);
    send_job(job);
}

/* ---- admission: bulkhead, breaker, rate limit --------------------------------------------- */

typedef enum { ADMIT_SEND, ADMIT_WAIT, ADMIT_HOLD, ADMIT_DISABLED } admit_t;

/* 1 when the flag integration.<name>.enabled of ep's integration is off for this event. */
static int switched_off(deliver_t *d, const deliver_ep_t *ep, const deliver_job_t *job) {
    if (!ep->def.integration[0]) return 0;
    json_t *ctx = json_pack("{s:s, s:s, s:s}", "targetingKey", ep->id, "endpoint", ep->id, "type",
                            job->ev->type);
    int off = !hs_flags_integration_enabled(d->flags, ep->def.integration, ctx);
    json_decref(ctx);
    return off;
}

/* Decides about the head of ep's queue. Caller holds ep->mtx. ADMIT_HOLD: the breaker is open,
 * *wait_ms until a probe may go. ADMIT_DISABLED: the endpoint's integration is switched off. */
static admit_t admit(deliver_t *d, deliver_ep_t *ep, int64_t *wait_ms) {
    int max = ep->def.max_in_flight > 0 ? ep->def.max_in_flight : d->default_max_in_flight;
    if (ep->in_flight >= max) return ADMIT_WAIT;
    int64_t now = now_ms();
    if (switched_off(d, ep, ep->head)) {
        *wait_ms = d->disabled_hold_ms;
        return ADMIT_DISABLED;
    }
    if (hs_breaker_state(&ep->breaker, now) == HS_BREAKER_OPEN) {
        hs_breaker_allow(&ep->breaker, now, wait_ms);
        return ADMIT_HOLD;
    }
    if (ep->def.rate_limit > 0) {
        double retry_s;
        double burst = ep->def.rate_limit < 1 ? 1 : ep->def.rate_limit;
        if (!hs_bucket_take(&ep->bucket, ep->def.rate_limit, burst, (double)now / 1000.0, &retry_s))
            return ADMIT_WAIT;
    }
    if (!hs_breaker_allow(&ep->breaker, now, wait_ms)) return ADMIT_WAIT; /* probe slots busy */
    return ADMIT_SEND;
}

/* Sends or holds what ep's queue can give now. */
static void pump(deliver_t *d, deliver_ep_t *ep) {
    for (;;) {
        deliver_job_t *go = NULL;
        int64_t wait_ms = 0;
        pthread_mutex_lock(&ep->mtx);
        admit_t a = ep->head ? admit(d, ep, &wait_ms) : ADMIT_WAIT;
        if (ep->head && a != ADMIT_WAIT) {
            go = ep->head;
            ep->head = go->next;
            if (!ep->head) ep->tail = NULL;
            ep->queued--;
            if (a == ADMIT_SEND) ep->in_flight++;
        }
        if (ep->queued != ep->queued_shown) {
            ep->queued_shown = ep->queued;
            hs_metric_set(d->m_queued, (const char *[]){ep->id}, (double)ep->queued);
        }
        pthread_mutex_unlock(&ep->mtx);
        if (!go) return;
        if (a == ADMIT_SEND) {
            send_job(go);
        } else if (go->ordered) {
            /* An ordered event waits where it is: later events of its key wait behind it. */
            log_attempt(go, "held", NULL);
            if (!delay(go, wait_ms)) job_finish(go);
        } else {
            /* An open breaker or a switched-off integration costs no HTTP call: the event
             * waits in a retry tier, and this attempt is not counted. */
            log_attempt(go, "held", NULL);
            if (a == ADMIT_DISABLED)
                handoff(go, HS_CONSUMER_RETRY, wait_ms, go->attempt - 1, "integration_disabled",
                        "the endpoint's integration is switched off");
            else
                handoff(go, HS_CONSUMER_RETRY, wait_ms, go->attempt - 1, "breaker_open",
                        "circuit breaker open");
            job_finish(go);
        }
    }
}

/* Hands the jobs that waited too long for ep to a retry tier: a message waiting in an endpoint's
 * queue holds its partition's window, and a slow endpoint must not hold it for the others.
 * Ordered jobs stay (waiting is their point). */
static void expire(deliver_t *d, deliver_ep_t *ep) {
    int64_t oldest = now_ms() - d->queue_wait_ms;
    for (;;) {
        pthread_mutex_lock(&ep->mtx);
        deliver_job_t *j = ep->head;
        if (j && (j->ordered || !j->ev->msg || j->queued_ms > oldest)) j = NULL;
        if (j) {
            ep->head = j->next;
            if (!ep->head) ep->tail = NULL;
            ep->queued--;
        }
        pthread_mutex_unlock(&ep->mtx);
        if (!j) return;
        handoff(j, HS_CONSUMER_RETRY, d->queue_wait_ms, j->attempt - 1, "endpoint_busy",
                "waited too long for the endpoint's in-flight limit or rate limit");
        job_finish(j);
    }
}

void deliver_pump_all(deliver_t *d) {
    pthread_mutex_lock(&d->eps_mtx);
    deliver_ep_t *first = d->eps;
    pthread_mutex_unlock(&d->eps_mtx);
    /* The list only grows at its head, so walking from a snapshot of the head is safe. */
    for (deliver_ep_t *ep = first; ep; ep = ep->next) {
        if (!ep->head) continue;
        expire(d, ep);
        pump(d, ep);
    }
}

void deliver_job_start(deliver_job_t *job) {
    /* Once job is on the queue and the lock dropped, another thread's pump may send it and the
     * sender's callback free it before this thread goes on: job is not read after that. */
    deliver_t *d = job->d;
    deliver_ep_t *ep = job->ep;
    job->queued_ms = now_ms();
    pthread_mutex_lock(&ep->mtx);
    int full = ep->queued >= d->queue_bound && job->ev->msg && !job->ordered;
    if (!full) {
        job->next = NULL;
        if (ep->tail)
            ep->tail->next = job;
        else
            ep->head = job;
        ep->tail = job;
        ep->queued++;
    }
    pthread_mutex_unlock(&ep->mtx);
    if (full) {
        /* A slow endpoint must not hold the partition: its surplus waits in a retry tier. */
        handoff(job, HS_CONSUMER_RETRY, 1000, job->attempt - 1, "endpoint_busy",
                "endpoint at its in-flight limit");
        job_finish(job);
        return;
    }
    pump(d, ep);
}

/* ---- the consumer handler ----------------------------------------------------------------- */

void deliver_start_for(deliver_t *d, deliver_event_t *ev, deliver_ep_t *ep, int attempt,
                       int ordered) {
    pthread_mutex_lock(&ep->mtx);
    /* The main group leaves ordered endpoints to their own consumer (ordered.c). */
    int wants = !ep->gone && ep->def.ordered == ordered && deliver_ep_wants(ep, ev);
    int enabled = ep->def.enabled;
    pthread_mutex_unlock(&ep->mtx);
    if (!wants) return;
    deliver_job_t *job = calloc(1, sizeof *job);
    if (!job) return;
    *job = (deliver_job_t){.d = d, .ev = ev, .ep = ep, .attempt = attempt, .ordered = ordered};
    atomic_fetch_add(&ev->pending, 1);
    if (!enabled) {
        /* Recorded, not dropped: `replay --since` recovers it after the endpoint is enabled. */
        log_attempt(job, "skipped", NULL);
        job_finish(job);
        return;
    }
    deliver_job_start(job);
}

deliver_event_t *deliver_event_of_msg(deliver_t *d, hs_consumer_msg_t *m) {
    size_t len;
    const void *value = hs_consumer_msg_value(m, &len);
    char err[512];
    int invalid;
    deliver_event_t *ev =
        deliver_event_new(d, hs_consumer_msg_headers(m), value, len, &invalid, err, sizeof err);
    if (!ev) {
        hs_log(HS_LOG_WARN,
               invalid ? "event cannot be decoded: dead-lettered"
                       : "event cannot be decoded now: retried",
               "{s:s, s:i, s:I, s:s}", "topic", hs_consumer_msg_topic(m), "partition",
               (int)hs_consumer_msg_partition(m), "offset", (json_int_t)hs_consumer_msg_offset(m),
               "error", err);
        hs_consumer_msg_done(m, invalid ? HS_CONSUMER_FAIL : HS_CONSUMER_RETRY, 5000,
                             invalid ? "undecodable" : "registry_unavailable", err);
        return NULL;
    }
    ev->msg = m;
    snprintf(ev->topic, sizeof ev->topic, "%s", hs_consumer_msg_topic(m));
    ev->partition = hs_consumer_msg_partition(m);
    ev->offset = hs_consumer_msg_offset(m);
    ev->event_ms = hs_consumer_msg_timestamp_ms(m);
    return ev;
}

void deliver_handle(hs_consumer_msg_t *m, void *opaque) {
    deliver_t *d = opaque;
    deliver_event_t *ev = deliver_event_of_msg(d, m);
    if (!ev) return;
    const char *only = hs_consumer_msg_header(m, DELIVER_HDR_ENDPOINT);
    if (only) {
        const char *done = hs_consumer_msg_header(m, DELIVER_HDR_ATTEMPT);
        deliver_ep_t *ep = deliver_ep_find(d, only);
        if (ep) deliver_start_for(d, ev, ep, (done ? (int)strtol(done, NULL, 10) : 0) + 1, 0);
    } else {
        pthread_mutex_lock(&d->eps_mtx);
        deliver_ep_t *first = d->eps;
        pthread_mutex_unlock(&d->eps_mtx);
        for (deliver_ep_t *ep = first; ep; ep = ep->next)
            deliver_start_for(d, ev, ep, 1, 0);
    }
    deliver_event_handled(ev);
}
