/* One step of a run (see wf_exec.h): delay and wait_for_event timers, log, emit, and the
 * outbound actions with their retry policy, idempotency key, and the integration's kill switch,
 * breaker and token bucket. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "hs_action.h"
#include "hs_backoff.h"
#include "hs_envelope.h"
#include "hs_log.h"
#include "wf_exec.h"
#include "wf_template.h"

/* ---- templates ----------------------------------------------------------------------------- */

static json_t *under(const json_t *root, const char *const *segs, size_t nsegs) {
    if (!root) return NULL;
    if (!nsegs) return json_incref((json_t *)root);
    return wf_template_resolve_json((void *)root, segs, nsegs);
}

/* Flags see the tenant as targeting key, the workflow and the trigger event. */
static json_t *flag_context(const wf_xrun_t *x) {
    const json_t *ev = x->run->event;
    const char *tenant = json_string_value(json_object_get(ev, "tenant"));
    return json_pack("{s:s, s:s, s:s, s:O}", "targetingKey", tenant ? tenant : "", "tenant",
                     tenant ? tenant : "", "workflow", x->run->workflow, "event", ev);
}

static json_t *flag_value(const wf_xrun_t *x, const char *key) {
    json_t *ctx = flag_context(x);
    hs_flagset_t *set = hs_flags_snapshot(x->s->flags);
    hs_flag_result_t res;
    json_t *v = NULL;
    if (hs_flagset_eval(set, key, ctx, &res) == HS_FLAG_OK && res.value)
        v = json_deep_copy(res.value);
    hs_flagset_release(set);
    json_decref(ctx);
    return v;
}

static json_t *env_value(const char *prefix, const char *name) {
    char var[256];
    size_t n = (size_t)snprintf(var, sizeof var, "%s%s", prefix, name);
    if (n >= sizeof var) return NULL;
    if (*prefix)
        for (char *p = var; *p; p++)
            *p = *p == '-' || *p == '.' ? '_' : (char)toupper(*p);
    const char *v = getenv(var);
    return v ? json_string(v) : NULL;
}

json_t *wf_exec_resolve(void *opaque, const char *const *segs, size_t nsegs) {
    wf_xrun_t *x = opaque;
    const char *root = segs[0];
    if (!strcmp(root, "event")) return under(x->run->event, segs + 1, nsegs - 1);
    if (!strcmp(root, "steps")) return under(x->outputs, segs + 1, nsegs - 1);
    if (!strcmp(root, "run")) return under(x->run_info, segs + 1, nsegs - 1);
    if (nsegs < 2) return NULL;
    json_t *v = NULL;
    if (!strcmp(root, "env"))
        v = env_value("", segs[1]);
    else if (!strcmp(root, "secrets"))
        v = env_value("HS_SECRET_", segs[1]);
    else if (!strcmp(root, "flags"))
        v = flag_value(x, segs[1]);
    if (!v || nsegs == 2) return v;
    json_t *r = under(v, segs + 2, nsegs - 2);
    json_decref(v);
    return r;
}

/* ---- shared -------------------------------------------------------------------------------- */

static wf_xres_t sleep_until(wf_xrun_t *x, int64_t wake_ms) {
    x->wake_ms = wake_ms;
    return WF_X_SLEEP;
}

static wf_xres_t failed(wf_xrun_t *x, const char *fmt, const char *a, const char *b) {
    snprintf(x->error, sizeof x->error, fmt, a, b);
    return WF_X_FAILED;
}

static wf_xres_t wait_step(wf_xrun_t *x, const wf_step_t *st, int64_t wake_ms, const char *why) {
    char err[512];
    hs_err_t e =
        wf_store_step_wait(x->store, x->run->id, x->owner, st->id, wake_ms, why, err, sizeof err);
    if (e) return wf_exec_store_failed(x, "step wait not recorded", e, err);
    return sleep_until(x, wake_ms);
}

/* Records step's output; a step without side effects (log, delay, ...) is completed without a
 * begin (the store creates its row). */
static wf_xres_t complete(wf_xrun_t *x, const wf_step_t *st, json_t *output) {
    char err[512];
    hs_err_t e =
        wf_store_step_complete(x->store, x->run->id, x->owner, st->id, output, err, sizeof err);
    if (!e) json_object_set(x->outputs, st->id, output);
    json_decref(output);
    if (e) return wf_exec_store_failed(x, "step completion not recorded", e, err);
    return WF_X_DONE;
}

static json_t *render(wf_xrun_t *x, const json_t *params) {
    char err[512];
    json_t *r = wf_template_render_json(params, wf_exec_resolve, x, err, sizeof err);
    if (!r) snprintf(x->error, sizeof x->error, "template: %s", err);
    return r;
}

static const char *param(const json_t *params, const char *key) {
    return json_string_value(json_object_get(params, key));
}

/* ---- integration guards -------------------------------------------------------------------- */

/* Why the step's integration cannot be called now (NULL: it can), and for how long. */
static const char *hold_reason(wf_xrun_t *x, const wf_step_t *st, int64_t now, int64_t *wait_ms) {
    *wait_ms = x->s->hold_ms;
    json_t *ctx = flag_context(x);
    int enabled = hs_flags_integration_enabled(x->s->flags, st->integration, ctx);
    json_decref(ctx);
    if (!enabled) return "disabled";
    wf_integration_t *in = wf_integration(x->s, st->integration);
    if (!in) return NULL;
    const char *why = NULL;
    double retry_s = 0;
    pthread_mutex_lock(&in->mtx);
    if (!hs_bucket_take(&in->bucket, in->rate, in->burst, (double)now / 1000.0, &retry_s)) {
        why = "rate_limited";
        *wait_ms = (int64_t)ceil(retry_s * 1000.0);
    } else if (!hs_breaker_allow(&in->breaker, now, wait_ms)) {
        why = "circuit_open";
    }
    pthread_mutex_unlock(&in->mtx);
    if (*wait_ms < 10) *wait_ms = 10;
    return why;
}

/* 1 when the step must wait for its integration; *res is then what to return. */
static int held(wf_xrun_t *x, const wf_step_t *st, const wf_step_run_t *sr, int64_t now,
                wf_xres_t *res) {
    if (!st->integration) return 0;
    int64_t wait_ms;
    const char *why = hold_reason(x, st, now, &wait_ms);
    if (!why) return 0;
    const char *lv[] = {st->integration, why};
    hs_metric_add(x->s->m.steps_held, lv, 1);
    int64_t since = sr && sr->started_ms ? sr->started_ms : now;
    if (now - since >= st->deadline_ms) {
        char what[128];
        snprintf(what, sizeof what, "integration %s held (%s)", st->integration, why);
        *res = failed(x, "%s past the step's deadline%s", what, "");
        return 1;
    }
    char note[160];
    snprintf(note, sizeof note, "waiting: integration %s %s", st->integration, why);
    int64_t wake = now + wait_ms; /* looks again at the deadline at the latest */
    *res = wait_step(x, st, wake < since + st->deadline_ms ? wake : since + st->deadline_ms, note);
    return 1;
}

static void breaker_record(wf_xrun_t *x, const wf_step_t *st, int ok) {
    wf_integration_t *in = st->integration ? wf_integration(x->s, st->integration) : NULL;
    if (!in) return;
    pthread_mutex_lock(&in->mtx);
    hs_breaker_record(&in->breaker, ok, hs_wall_ms());
    pthread_mutex_unlock(&in->mtx);
}

/* ---- retries ------------------------------------------------------------------------------- */

static int64_t backoff_ms(const wf_retry_t *r, int attempt) {
    double d = (double)r->initial_ms * pow(r->coefficient, attempt - 1);
    return d > (double)r->max_interval_ms ? r->max_interval_ms : (int64_t)d;
}

static int non_retryable(const wf_retry_t *r, int status) {
    for (size_t i = 0; i < r->n_non_retryable; i++)
        if (r->non_retryable[i] == status) return 1;
    return 0;
}

/* After a failed attempt: wait and try again, or fail for good. */
static wf_xres_t attempt_failed(wf_xrun_t *x, const wf_step_t *st, int attempt, int retryable,
                                int status, int64_t retry_after_ms, const char *error) {
    if (st->retry.retry_4xx && status >= 400 && status < 500) retryable = 1;
    if (status && non_retryable(&st->retry, status)) retryable = 0;
    if (retryable && attempt < st->retry.max_attempts) {
        int64_t delay = backoff_ms(&st->retry, attempt);
        if (retry_after_ms > delay) delay = retry_after_ms;
        const char *lv[] = {x->run->workflow, st->id};
        hs_metric_add(x->s->m.step_retries, lv, 1);
        hs_log(HS_LOG_INFO, "step attempt failed: retried", "{s:s, s:s, s:s, s:i, s:I, s:s}",
               "workflow", x->run->workflow, "run", x->run->id, "step", st->id, "attempt", attempt,
               "delay_ms", (json_int_t)delay, "error", error);
        return wait_step(x, st, hs_wall_ms() + delay, error);
    }
    snprintf(x->error, sizeof x->error, "%s (attempt %d of %d%s)", error, attempt,
             st->retry.max_attempts, retryable ? "" : ", not retryable");
    return WF_X_FAILED;
}

/* Records the start of an attempt, extending the run's lease first when half of it is gone. */
static wf_xres_t begin(wf_xrun_t *x, const wf_step_t *st, int *attempt) {
    char err[512];
    hs_err_t e = HS_OK;
    int64_t now = hs_wall_ms();
    if (now > x->lease_until_ms - x->s->lease_ms / 2) {
        e = wf_store_lease_extend(x->store, x->run->id, x->owner, x->s->lease_ms, err, sizeof err);
        if (!e) x->lease_until_ms = now + x->s->lease_ms;
    }
    if (!e)
        e = wf_store_step_begin(x->store, x->run->id, x->owner, st->id, attempt, err, sizeof err);
    return e ? wf_exec_store_failed(x, "step start not recorded", e, err) : WF_X_DONE;
}

static void observe(wf_xrun_t *x, const wf_step_t *st, int64_t t0) {
    const char *lv[] = {x->run->workflow, wf_step_kind_str(st->kind)};
    hs_metric_observe(x->s->m.step_seconds, lv, (double)(hs_wall_ms() - t0) / 1000.0);
}

/* ---- kinds --------------------------------------------------------------------------------- */

/* What a step with a side effect does before its attempt: wait while its integration is held,
 * render its params (*params: new reference), record the attempt (*attempt). WF_X_DONE: go. */
static wf_xres_t prepare(wf_xrun_t *x, const wf_step_t *st, const wf_step_run_t *sr, int64_t now,
                         json_t **params, int *attempt) {
    wf_xres_t res;
    *params = NULL;
    if (held(x, st, sr, now, &res)) return res;
    if (!(*params = render(x, st->params))) return WF_X_FAILED;
    if ((res = begin(x, st, attempt)) != WF_X_DONE) {
        json_decref(*params);
        *params = NULL;
    }
    return res;
}

static wf_xres_t exec_action(wf_xrun_t *x, const wf_step_t *st, const wf_step_run_t *sr,
                             int64_t now) {
    json_t *params;
    int attempt = 0;
    wf_xres_t res = prepare(x, st, sr, now, &params, &attempt);
    if (res != WF_X_DONE) return res;
    char key[128];
    snprintf(key, sizeof key, "%s:%s", x->run->id, st->id);
    hs_action_ctx_t ctx = {.idempotency_key = key,
                           .timeout_ms = st->timeout_ms,
                           .ssrf = x->s->ssrf,
                           .smtp_url = hs_config_str(x->s->cfg, "workflows.smtp_url"),
                           .smtp_from = hs_config_str(x->s->cfg, "workflows.smtp_from")};
    hs_action_result_t ar = {0};
    const hs_action_t *action = hs_action_find(wf_step_kind_str(st->kind));
    int64_t t0 = hs_wall_ms();
    hs_err_t e = action ? action->run(params, &ctx, &ar) : HS_ERR_UNSUPPORTED;
    observe(x, st, t0);
    json_decref(params);
    if (!e) {
        breaker_record(x, st, 1);
        json_t *out = ar.output ? json_incref(ar.output) : json_object();
        hs_action_result_clear(&ar);
        return complete(x, st, out);
    }
    if (!action) snprintf(ar.error, sizeof ar.error, "no action %s", wf_step_kind_str(st->kind));
    if (ar.retryable) breaker_record(x, st, 0);
    res = attempt_failed(x, st, attempt, ar.retryable, ar.status, ar.retry_after_ms, ar.error);
    hs_action_result_clear(&ar);
    return res;
}

/* A UUID derived from the run and step: the same event id on every attempt, so consumers of
 * the emitted event can drop a repeat. */
static void step_uuid(const char *run_id, const char *step_id, char out[37]) {
    char in[256];
    int n = snprintf(in, sizeof in, "%s:%s", run_id, step_id);
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)in, (size_t)n, d);
    d[6] = (unsigned char)((d[6] & 0x0f) | 0x50); /* version 5 layout, name-based */
    d[8] = (unsigned char)((d[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", d[0],
             d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13],
             d[14], d[15]);
}

static wf_xres_t exec_emit(wf_xrun_t *x, const wf_step_t *st, const wf_step_run_t *sr,
                           int64_t now) {
    json_t *params;
    int attempt = 0;
    wf_xres_t res = prepare(x, st, sr, now, &params, &attempt);
    if (res != WF_X_DONE) return res;
    char id[37], err[512];
    step_uuid(x->run->id, st->id, id);
    const char *type = param(params, "event");
    const char *key = param(params, "key");
    const char *tenant = json_string_value(json_object_get(x->run->event, "tenant"));
    int64_t t0 = hs_wall_ms();
    hs_err_t e = wf_emit(x->s, type, json_object_get(params, "data"), key, id, tenant,
                         x->run->depth + 1, x->run->id, err, sizeof err);
    observe(x, st, t0);
    if (!e) {
        json_t *out = json_pack("{s:s, s:s}", "id", id, "type", type);
        json_decref(params);
        return complete(x, st, out);
    }
    json_decref(params);
    return attempt_failed(x, st, attempt, e != HS_ERR_INVALID, 0, 0, err);
}

static wf_xres_t exec_log(wf_xrun_t *x, const wf_step_t *st) {
    json_t *params = render(x, st->params);
    if (!params) return WF_X_FAILED;
    const char *level = param(params, "level");
    hs_log_level_t lv = !level || !strcmp(level, "info") ? HS_LOG_INFO
                        : !strcmp(level, "warn")         ? HS_LOG_WARN
                        : !strcmp(level, "error")        ? HS_LOG_ERROR
                                                         : HS_LOG_DEBUG;
    json_t *fields = json_object_get(params, "fields");
    hs_log(lv, param(params, "message"), "{s:s, s:s, s:s, s:O}", "workflow", x->run->workflow,
           "run", x->run->id, "step", st->id, "fields", fields ? fields : json_null());
    json_t *out = json_pack("{s:s}", "message", param(params, "message"));
    json_decref(params);
    return complete(x, st, out);
}

static wf_xres_t exec_delay(wf_xrun_t *x, const wf_step_t *st, const wf_step_run_t *sr,
                            int64_t now) {
    if (sr) { /* the timer set on the first visit has passed */
        return complete(x, st, json_pack("{s:I}", "fired_at_ms", (json_int_t)now));
    }
    json_t *params = render(x, st->params);
    if (!params) return WF_X_FAILED;
    int64_t due = 0, ms;
    const char *duration = param(params, "duration"), *until = param(params, "until");
    if (duration && !hs_duration_parse(duration, &ms))
        due = now + ms;
    else if (until && hs_envelope_valid_time(until))
        due = hs_envelope_time_ms(until);
    json_decref(params);
    if (!due)
        return failed(x, "delay: not a duration or RFC 3339 time: %s%s",
                      duration ? duration
                      : until  ? until
                               : "",
                      "");
    if (due <= now) return complete(x, st, json_pack("{s:I}", "fired_at_ms", (json_int_t)now));
    return wait_step(x, st, due, NULL);
}

static wf_xres_t exec_wait(wf_xrun_t *x, const wf_step_t *st, const wf_step_run_t *sr,
                           int64_t now) {
    const char *type = param(st->params, "event");
    if (sr) /* the wait's timer passed without a matching event */
        return failed(x, "wait_for_event: no %s event matched before the timeout%s", type, "");
    const json_t *match = json_object_get(st->params, "match");
    json_t *rendered = match ? render(x, match) : json_null();
    if (!rendered) return WF_X_FAILED;
    int64_t timeout_ms = 0;
    hs_duration_parse(param(st->params, "timeout"), &timeout_ms);
    int matched = 0;
    char err[512];
    hs_err_t e = wf_store_wait_begin(x->store, x->run->id, x->owner, st->id, type, rendered,
                                     x->run->created_ms, now + timeout_ms, wf_match, x->s, &matched,
                                     err, sizeof err);
    json_decref(rendered);
    if (e) return wf_exec_store_failed(x, "wait not recorded", e, err);
    if (!matched) return sleep_until(x, now + timeout_ms);
    wf_step_run_t *srs = NULL;
    size_t n = 0;
    if ((e = wf_store_steps(x->store, x->run->id, &srs, &n, err, sizeof err)))
        return wf_exec_store_failed(x, "step runs not loaded", e, err);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(srs[i].step_id, st->id) && srs[i].output)
            json_object_set(x->outputs, st->id, srs[i].output);
    wf_store_steps_free(srs, n);
    return WF_X_DONE;
}

wf_xres_t wf_exec_step(wf_xrun_t *x, const wf_step_t *st, const wf_step_run_t *sr) {
    int64_t now = hs_wall_ms();
    if (sr && !strcmp(sr->status, "waiting") && sr->wake_ms > now)
        return sleep_until(x, sr->wake_ms);
    switch (st->kind) {
    case WF_STEP_DELAY:
        return exec_delay(x, st, sr, now);
    case WF_STEP_WAIT_FOR_EVENT:
        return exec_wait(x, st, sr, now);
    case WF_STEP_LOG:
        return exec_log(x, st);
    case WF_STEP_EMIT:
        return exec_emit(x, st, sr, now);
    case WF_STEP_HTTP:
    case WF_STEP_SLACK:
    case WF_STEP_EMAIL:
        return exec_action(x, st, sr, now);
    case WF_STEP_BRANCH:
        break;
    }
    return failed(x, "step kind %s cannot run here%s", wf_step_kind_str(st->kind), "");
}
