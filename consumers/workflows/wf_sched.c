/* The scheduler thread: hot reload of the definitions, cron triggers (each fire time becomes
 * one run, idempotently, so two instances or a restart never fire twice; after downtime only
 * the latest missed fire time runs), pruning of kept events, and the gauges read from the
 * store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hs_envelope.h"
#include "hs_log.h"
#include "wf_internal.h"

#define TICK_MS 250
#define PRUNE_MS 60000
#define PRUNE_BATCH 1000
#define STATS_MS 5000
#define MAX_SCHEDULES 256

typedef struct {
    char name[128];
    int64_t last_ms; /* latest fire time recorded, -1: never */
} sched_state_t;

static hs_err_t fire(wf_service_t *s, const wf_def_t *def, int64_t at, char *err, size_t n) {
    char id[64], time_s[40];
    snprintf(id, sizeof id, "schedule:%lld", (long long)at);
    hs_envelope_time_format(at, time_s, sizeof time_s);
    json_t *event =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "id", id, "type", "schedule",
                  "source", "/hookstream/workflows", "subject", def->name, "time", time_s, "tenant",
                  "", "data", "scheduled_at", time_s, "schedule", def->schedule);
    wf_run_new_t r = {.workflow = def->name,
                      .version = def->version,
                      .trigger_id = id,
                      .trigger_type = "schedule",
                      .key = "",
                      .event = event,
                      .max_runs = def->max_runs,
                      .max_per_key = def->max_per_key,
                      .deadline_ms = at + def->timeout_ms};
    char run_id[37];
    int created = 0;
    hs_err_t e = wf_store_run_create(s->sched_store, &r, run_id, &created, err, n);
    json_decref(event);
    if (!e && created) {
        const char *lv[] = {def->name};
        hs_metric_add(s->m.runs_started, lv, 1);
        hs_log(HS_LOG_INFO, "scheduled run created", "{s:s, s:s, s:s}", "workflow", def->name,
               "run", run_id, "scheduled_at", time_s);
        wf_wake_workers(s);
    }
    return e;
}

static sched_state_t *state_of(sched_state_t *st, size_t *n, const char *name) {
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(st[i].name, name)) return &st[i];
    if (*n == MAX_SCHEDULES) return NULL;
    sched_state_t *x = &st[(*n)++];
    snprintf(x->name, sizeof x->name, "%s", name);
    x->last_ms = -2; /* not read from the store yet */
    return x;
}

static void cron_tick(wf_service_t *s, sched_state_t *st, size_t *nst, int64_t now) {
    char err[512];
    wf_snap_t *snap = wf_snap_get(s);
    for (size_t i = 0; i < snap->defs->n; i++) {
        const wf_def_t *def = snap->defs->defs[i];
        sched_state_t *x = def->schedule ? state_of(st, nst, def->name) : NULL;
        if (!x) continue;
        if (x->last_ms == -2) {
            if (wf_store_last_fire(s->sched_store, def->name, &x->last_ms, err, sizeof err)) {
                x->last_ms = -2;
                continue;
            }
            if (x->last_ms < 0) x->last_ms = now; /* a new schedule starts from now */
        }
        int64_t due = -1;
        for (int64_t t = wf_cron_next(&def->cron, x->last_ms); t > 0 && t <= now;
             t = wf_cron_next(&def->cron, t))
            due = t; /* after downtime, only the latest missed time fires */
        if (due < 0) continue;
        if (fire(s, def, due, err, sizeof err))
            hs_log(HS_LOG_ERROR, "scheduled run not created", "{s:s, s:s}", "workflow", def->name,
                   "error", err);
        else
            x->last_ms = due;
    }
    wf_snap_release(snap);
}

static void stats_tick(wf_service_t *s) {
    json_t *stats = NULL;
    char err[512];
    if (wf_store_stats(s->sched_store, &stats, err, sizeof err)) {
        hs_log(HS_LOG_WARN, "workflow stats not read", "{s:s}", "error", err);
        return;
    }
    /* Every workflow in force gets all three, so a status that emptied reads 0. */
    static const char *const active[] = {"pending", "running", "waiting"};
    const json_t *runs = json_object_get(stats, "runs");
    wf_snap_t *snap = wf_snap_get(s);
    for (size_t i = 0; i < snap->defs->n; i++)
        for (size_t k = 0; k < 3; k++) {
            const char *wf = snap->defs->defs[i]->name;
            const char *lv[] = {wf, active[k]};
            json_t *count = json_object_get(json_object_get(runs, wf), active[k]);
            hs_metric_set(s->m.runs_active, lv, (double)json_integer_value(count));
        }
    wf_snap_release(snap);
    hs_metric_set(s->m.timers_due, NULL,
                  (double)json_integer_value(json_object_get(stats, "timers_due")));
    hs_metric_set(s->m.waits, NULL, (double)json_integer_value(json_object_get(stats, "waits")));
    json_decref(stats);
}

/* Drops kept events past their time and, in batches, runs that ended before the history
 * window (workflows.history_days). */
static void prune(wf_service_t *s, int64_t now) {
    char err[512];
    int deleted = 0;
    if (wf_store_events_prune(s->sched_store, &deleted, err, sizeof err))
        hs_log(HS_LOG_WARN, "kept events not pruned", "{s:s}", "error", err);
    int64_t days = hs_config_int(s->cfg, "workflows.history_days");
    if (!days) return;
    int total = 0;
    do {
        if (wf_store_runs_prune(s->sched_store, now - days * 86400000, PRUNE_BATCH, &deleted, err,
                                sizeof err)) {
            hs_log(HS_LOG_WARN, "run history not pruned", "{s:s}", "error", err);
            return;
        }
        total += deleted;
    } while (deleted == PRUNE_BATCH && !atomic_load(&s->stopping));
    if (total)
        hs_log(HS_LOG_INFO, "run history pruned", "{s:i, s:I}", "runs", total, "days",
               (json_int_t)days);
}

void *wf_scheduler_main(void *arg) {
    wf_service_t *s = arg;
    sched_state_t *st = calloc(MAX_SCHEDULES, sizeof *st);
    size_t nst = 0;
    int64_t last_reload = 0, last_prune = 0, last_stats = 0;
    while (st && !atomic_load(&s->stopping)) {
        int64_t now = hs_wall_ms();
        if (now - last_reload >= s->reload_ms) {
            wf_defs_reload(s, 0);
            last_reload = now;
        }
        cron_tick(s, st, &nst, now);
        if (now - last_prune >= PRUNE_MS) {
            prune(s, now);
            last_prune = now;
        }
        if (now - last_stats >= STATS_MS) {
            stats_tick(s);
            last_stats = now;
        }
        struct timespec ts = {0, TICK_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    free(st);
    return NULL;
}
