/* Workers: claim due runs from the store and execute them (see wf_exec.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hs_jsonlogic.h"
#include "hs_log.h"
#include "wf_exec.h"
#include "wf_template.h"

#define CLAIM_MAX 4

const wf_step_run_t *wf_exec_step_run(const wf_xrun_t *x, const char *id) {
    for (size_t i = 0; i < x->nsrs; i++)
        if (!strcmp(x->srs[i].step_id, id)) return &x->srs[i];
    return NULL;
}

wf_xres_t wf_exec_store_failed(wf_xrun_t *x, const char *what, hs_err_t e, const char *err) {
    hs_log(e == HS_ERR_CONFLICT ? HS_LOG_INFO : HS_LOG_ERROR,
           e == HS_ERR_CONFLICT ? "run no longer held (cancelled or taken over)" : what,
           "{s:s, s:s, s:s}", "workflow", x->run->workflow, "run", x->run->id, "error", err);
    return WF_X_LOST;
}

static wf_xres_t exec_steps(wf_xrun_t *x, const wf_steps_t *steps);

/* Applies a branch condition: its strings are templates first (so a condition can read flags,
 * env, ...: {"==": ["{{ flags[\"integration.stripe.v2.enabled\"] }}", true]}), then JsonLogic
 * on the event and the step outputs. NULL with err on failure. */
static json_t *branch_condition(wf_xrun_t *x, const json_t *condition, char *err, size_t n) {
    json_t *logic = wf_template_render_json(condition, wf_exec_resolve, x, err, n);
    json_t *data = logic ? wf_condition_data(x->run->event, x->outputs) : NULL;
    json_t *r = data ? hs_jsonlogic_apply(logic, data, err, n) : NULL;
    json_decref(data);
    json_decref(logic);
    return r;
}

/* A branch: the side is decided once and recorded, so a replay takes the same one. */
static wf_xres_t exec_branch(wf_xrun_t *x, const wf_step_t *st, const wf_step_run_t *sr) {
    const char *side = NULL;
    if (sr && !strcmp(sr->status, "completed"))
        side = json_string_value(json_object_get(sr->output, "branch"));
    if (!side) {
        char err[512];
        json_t *r = branch_condition(x, st->condition, err, sizeof err);
        if (!r)
            hs_log(HS_LOG_WARN, "branch condition failed: treated as false", "{s:s, s:s, s:s}",
                   "run", x->run->id, "step", st->id, "error", err);
        side = r && hs_jsonlogic_truthy(r) ? "then" : "else";
        json_decref(r);
        json_t *out = json_pack("{s:s}", "branch", side);
        hs_err_t e =
            wf_store_step_complete(x->store, x->run->id, x->owner, st->id, out, err, sizeof err);
        if (!e) json_object_set(x->outputs, st->id, out);
        json_decref(out);
        if (e) return wf_exec_store_failed(x, "branch not recorded", e, err);
        side = !strcmp(json_string_value(
                           json_object_get(json_object_get(x->outputs, st->id), "branch")),
                       "then")
                   ? "then"
                   : "else";
    }
    return exec_steps(x, !strcmp(side, "then") ? &st->then_steps : &st->else_steps);
}

/* The step failed for good: record it, run its on_error steps, and fail. */
static wf_xres_t step_failed(wf_xrun_t *x, const wf_step_t *st, const wf_step_run_t *sr) {
    char err[512];
    if (!sr || strcmp(sr->status, "failed")) {
        hs_err_t e =
            wf_store_step_fail(x->store, x->run->id, x->owner, st->id, x->error, err, sizeof err);
        if (e) return wf_exec_store_failed(x, "step failure not recorded", e, err);
        hs_log(HS_LOG_WARN, "step failed", "{s:s, s:s, s:s, s:s}", "workflow", x->run->workflow,
               "run", x->run->id, "step", st->id, "error", x->error);
    } else {
        snprintf(x->error, sizeof x->error, "%s", sr->error ? sr->error : "failed");
    }
    char saved[sizeof x->error + 160];
    snprintf(saved, sizeof saved, "step %s: %s", st->id, x->error);
    wf_xres_t r = exec_steps(x, &st->on_error);
    if (r != WF_X_DONE) return r;
    snprintf(x->error, sizeof x->error, "%.1000s", saved);
    return WF_X_FAILED;
}

static wf_xres_t exec_steps(wf_xrun_t *x, const wf_steps_t *steps) {
    for (size_t i = 0; i < steps->n; i++) {
        const wf_step_t *st = &steps->items[i];
        const wf_step_run_t *sr = wf_exec_step_run(x, st->id);
        wf_xres_t r;
        if (sr && !strcmp(sr->status, "failed")) {
            r = step_failed(x, st, sr);
        } else if (st->kind == WF_STEP_BRANCH) {
            r = exec_branch(x, st, sr);
        } else if (sr && !strcmp(sr->status, "completed")) {
            r = WF_X_DONE;
        } else {
            r = wf_exec_step(x, st, sr);
            if (r == WF_X_FAILED) r = step_failed(x, st, NULL);
        }
        if (r != WF_X_DONE) return r;
    }
    return WF_X_DONE;
}

static void finish(wf_xrun_t *x, const char *status, const char *error) {
    char err[512];
    hs_err_t e =
        wf_store_run_finish(x->store, x->run->id, x->owner, status, error, err, sizeof err);
    if (e) {
        wf_exec_store_failed(x, "run end not recorded", e, err);
        return;
    }
    const char *lv[] = {x->run->workflow, status};
    hs_metric_add(x->s->m.runs_finished, lv, 1);
    hs_log(!strcmp(status, "completed") ? HS_LOG_INFO : HS_LOG_WARN, "run ended",
           "{s:s, s:s, s:s, s:s}", "workflow", x->run->workflow, "run", x->run->id, "status",
           status, "error", error ? error : "");
}

/* Loads the run's step runs and outputs. */
static hs_err_t load(wf_xrun_t *x, char *err, size_t n) {
    hs_err_t e = wf_store_steps(x->store, x->run->id, &x->srs, &x->nsrs, err, n);
    if (e) return e;
    x->outputs = json_object();
    for (size_t i = 0; i < x->nsrs; i++)
        if (!strcmp(x->srs[i].status, "completed") && x->srs[i].output)
            json_object_set(x->outputs, x->srs[i].step_id, x->srs[i].output);
    x->run_info = json_pack("{s:s, s:s, s:s, s:s}", "id", x->run->id, "workflow", x->run->workflow,
                            "version", x->run->version, "key", x->run->key ? x->run->key : "");
    return HS_OK;
}

static void exec_run(wf_service_t *s, wf_store_t *store, const char *owner, const wf_run_t *run,
                     int64_t claimed_ms) {
    wf_xrun_t x = {.s = s,
                   .store = store,
                   .run = run,
                   .owner = owner,
                   .lease_until_ms = claimed_ms + s->lease_ms};
    char err[512];
    wf_snap_t *snap = wf_snap_get(s);
    x.def = wf_def_for_run(s, snap, store, run->workflow, run->version, err, sizeof err);
    hs_err_t e = HS_OK;
    if (!x.def) {
        snprintf(x.error, sizeof x.error, "definition %s@%s: %s", run->workflow, run->version, err);
        finish(&x, "failed", x.error);
    } else if (run->deadline_ms && hs_wall_ms() > run->deadline_ms) {
        finish(&x, "failed", "timed out");
    } else if ((e = load(&x, err, sizeof err))) {
        wf_exec_store_failed(&x, "step runs not loaded", e, err);
    } else {
        switch (exec_steps(&x, &x.def->steps)) {
        case WF_X_DONE:
            finish(&x, "completed", NULL);
            break;
        case WF_X_FAILED:
            finish(&x, "failed", x.error);
            break;
        case WF_X_SLEEP:
            if (run->deadline_ms && x.wake_ms > run->deadline_ms) x.wake_ms = run->deadline_ms;
            e = wf_store_run_sleep(store, run->id, owner, x.wake_ms, err, sizeof err);
            if (e) wf_exec_store_failed(&x, "run sleep not recorded", e, err);
            break;
        case WF_X_LOST:
            break;
        }
    }
    wf_store_steps_free(x.srs, x.nsrs);
    json_decref(x.outputs);
    json_decref(x.run_info);
    wf_snap_release(snap);
}

static void idle(wf_service_t *s) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    int64_t ns = until.tv_nsec + s->poll_ms * 1000000L;
    until.tv_sec += ns / 1000000000L;
    until.tv_nsec = ns % 1000000000L;
    pthread_mutex_lock(&s->wake_mtx);
    if (!atomic_load(&s->stopping)) pthread_cond_timedwait(&s->wake, &s->wake_mtx, &until);
    pthread_mutex_unlock(&s->wake_mtx);
}

/* Each worker has its own lease owner name, so a worker that claims finds any run still held
 * under its name left over from a crashed earlier life of this instance (it holds none itself
 * while claiming). */
void *wf_worker_main(void *arg) {
    wf_service_t *s = arg;
    char err[512], owner[192];
    snprintf(owner, sizeof owner, "%s/w%d", s->owner, atomic_fetch_add(&s->worker_seq, 1));
    wf_store_t *store = NULL;
    while (!atomic_load(&s->stopping)) {
        if (!store &&
            !(store = wf_store_new(hs_config_str(s->cfg, "postgres.dsn"),
                                   (int)hs_config_int(s->cfg, "postgres.connect_timeout_s"), err,
                                   sizeof err))) {
            hs_log(HS_LOG_ERROR, "worker has no database", "{s:s}", "error", err);
            idle(s);
            continue;
        }
        wf_run_t *runs = NULL;
        size_t n = 0;
        int64_t claimed_ms = hs_wall_ms();
        hs_err_t e =
            wf_store_claim(store, owner, s->lease_ms, CLAIM_MAX, &runs, &n, err, sizeof err);
        if (e) hs_log(HS_LOG_ERROR, "runs not claimed", "{s:s}", "error", err);
        for (size_t i = 0; i < n; i++) {
            if (!atomic_load(&s->stopping))
                exec_run(s, store, owner, &runs[i], claimed_ms);
            else if (wf_store_run_sleep(store, runs[i].id, owner, hs_wall_ms(), err, sizeof err))
                hs_log(HS_LOG_WARN, "claimed run not released", "{s:s, s:s}", "run", runs[i].id,
                       "error", err);
        }
        wf_store_runs_free(runs, n);
        if (!n) idle(s);
    }
    wf_store_destroy(store);
    return NULL;
}
