/* The workflows service (see workflows.h): wiring, the definitions in force and their reload,
 * integrations' limits, and the threads' lifecycle. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hs_catalog.h"
#include "hs_kafka.h"
#include "hs_log.h"
#include "wf_admin.h"
#include "wf_internal.h"

#define MAX_TOPICS 32
#define MAX_WAIT_TYPES 256

static void metrics_init(wf_metrics_t *m) {
    m->runs_started = hs_metrics_counter("hs_workflow_runs_started_total",
                                         "Workflow runs created by a trigger.", "workflow");
    m->runs_finished =
        hs_metrics_counter("hs_workflow_runs_finished_total",
                           "Workflow runs that ended, by status.", "workflow,status");
    m->step_seconds = hs_metrics_histogram(
        "hs_workflow_step_seconds", "Duration of one step attempt.", "workflow,type", NULL, 0);
    m->step_retries =
        hs_metrics_counter("hs_workflow_step_retries_total",
                           "Step attempts that failed and will be retried.", "workflow,step");
    m->steps_held = hs_metrics_counter(
        "hs_workflow_steps_held_total",
        "Times a step waited for a disabled, rate-limited or circuit-open integration.",
        "integration,reason");
    m->runs_active = hs_metrics_gauge("hs_workflow_runs", "Workflow runs by status (not ended).",
                                      "workflow,status");
    m->timers_due = hs_metrics_gauge(
        "hs_workflow_timers_due", "Runs whose timer has passed and that no worker took yet.", NULL);
    m->waits = hs_metrics_gauge("hs_workflow_waits", "Runs waiting for an event.", NULL);
    m->defs_loaded = hs_metrics_gauge("hs_workflow_definitions", "Definitions in force.", NULL);
    m->load_errors = hs_metrics_counter("hs_workflow_load_errors_total",
                                        "Definition files that failed to load.", NULL);
    m->loop_stopped = hs_metrics_counter(
        "hs_workflow_loop_stopped_total",
        "Events that started no run because their emit depth reached workflows.max_depth.", NULL);
    m->triggers = hs_metrics_counter("hs_workflow_trigger_events_total",
                                     "Events the trigger consumer read, by outcome.", "outcome");
}

/* ---- definitions --------------------------------------------------------------------------- */

wf_snap_t *wf_snap_get(wf_service_t *s) {
    pthread_mutex_lock(&s->snap_mtx);
    wf_snap_t *snap = s->snap;
    atomic_fetch_add(&snap->refs, 1);
    pthread_mutex_unlock(&s->snap_mtx);
    return snap;
}

void wf_snap_release(wf_snap_t *snap) {
    if (!snap || atomic_fetch_sub(&snap->refs, 1) != 1) return;
    wf_defs_free(snap->defs);
    free(snap->wait_types);
    free(snap);
}

static wf_snap_t *snap_new(wf_defs_t *defs) {
    wf_snap_t *snap = calloc(1, sizeof *snap);
    const char **types = calloc(MAX_WAIT_TYPES, sizeof *types);
    if (!snap || !types) {
        free(snap);
        free(types);
        return NULL;
    }
    snap->defs = defs;
    snap->wait_types = types;
    for (size_t i = 0; i < defs->n; i++)
        snap->nwait_types =
            wf_def_wait_types(defs->defs[i], types, snap->nwait_types, MAX_WAIT_TYPES);
    atomic_init(&snap->refs, 1);
    return snap;
}

/* Records every loaded version in the store, so runs can resume with it after a change. */
static void versions_record(wf_service_t *s, const wf_defs_t *defs) {
    char err[512];
    for (size_t i = 0; i < defs->n; i++) {
        const wf_def_t *d = defs->defs[i];
        if (wf_store_put_version(s->sched_store, d->name, d->version, d->text, err, sizeof err))
            hs_log(HS_LOG_ERROR, "workflow version not recorded", "{s:s, s:s, s:s}", "workflow",
                   d->name, "version", d->version, "error", err);
    }
}

void wf_defs_reload(wf_service_t *s, int force) {
    const char *dir = hs_config_str(s->cfg, "workflows.dir");
    uint64_t fp = wf_defs_fingerprint(dir);
    if (!force && fp == s->fingerprint) return;
    s->fingerprint = fp;
    char err[512];
    wf_defs_t *defs = wf_defs_load(dir, err, sizeof err);
    if (!defs) {
        hs_log(HS_LOG_ERROR, "workflow definitions not loaded", "{s:s, s:s}", "dir", dir, "error",
               err);
        hs_metric_add(s->m.load_errors, NULL, 1);
        return;
    }
    for (size_t i = 0; i < defs->nerrors; i++) {
        hs_log(HS_LOG_ERROR, "workflow definition not loaded", "{s:s}", "error", defs->errors[i]);
        hs_metric_add(s->m.load_errors, NULL, 1);
    }
    versions_record(s, defs);
    wf_snap_t *snap = snap_new(defs);
    if (!snap) {
        wf_defs_free(defs);
        return;
    }
    pthread_mutex_lock(&s->snap_mtx);
    wf_snap_t *old = s->snap;
    s->snap = snap;
    pthread_mutex_unlock(&s->snap_mtx);
    wf_snap_release(old);
    hs_metric_set(s->m.defs_loaded, NULL, (double)defs->n);
    for (size_t i = 0; i < defs->n; i++)
        hs_log(HS_LOG_INFO, "workflow loaded", "{s:s, s:s, s:s}", "workflow", defs->defs[i]->name,
               "version", defs->defs[i]->version, "file", defs->defs[i]->file);
}

const wf_def_t *wf_def_for_run(wf_service_t *s, wf_snap_t *snap, wf_store_t *store,
                               const char *name, const char *version, char *errstr, size_t n) {
    const wf_def_t *cur = wf_defs_find(snap->defs, name);
    if (cur && !strcmp(cur->version, version)) return cur;
    const wf_def_t *found = NULL;
    pthread_mutex_lock(&s->old_mtx);
    for (size_t i = 0; i < s->nold && !found; i++)
        if (!strcmp(s->old[i]->name, name) && !strcmp(s->old[i]->version, version))
            found = s->old[i];
    pthread_mutex_unlock(&s->old_mtx);
    if (found) return found;
    hs_err_t e;
    char *text = wf_store_get_version(store, name, version, &e, errstr, n);
    if (!text) return NULL;
    char file[300];
    snprintf(file, sizeof file, "%s@%s", name, version);
    wf_def_t *d = wf_def_parse(text, strlen(text), file, errstr, n);
    free(text);
    if (!d) return NULL;
    pthread_mutex_lock(&s->old_mtx);
    wf_def_t **grown = realloc(s->old, (s->nold + 1) * sizeof *grown);
    if (grown) {
        s->old = grown;
        s->old[s->nold++] = d;
    }
    pthread_mutex_unlock(&s->old_mtx);
    if (!grown) {
        wf_def_free(d);
        snprintf(errstr, n, "out of memory");
        return NULL;
    }
    return d;
}

void wf_wake_workers(wf_service_t *s) {
    pthread_mutex_lock(&s->wake_mtx);
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->wake_mtx);
}

/* ---- integrations -------------------------------------------------------------------------- */

wf_integration_t *wf_integration(wf_service_t *s, const char *name) {
    for (size_t i = 0; i < s->nintegrations; i++)
        if (!strcmp(s->integrations[i].name, name)) return &s->integrations[i];
    return NULL;
}

static double num(const json_t *o, const char *key, double dflt) {
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

/* integrations: {klaviyo: {rate: 10, burst: 10, breaker_failure_pct: 50, ...}} */
static hs_err_t integrations_init(wf_service_t *s, char *errstr, size_t n) {
    const json_t *tree = hs_config_tree(s->cfg, "integrations");
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)tree, name, v) {
        if (!json_is_object(v))
            return hs_fail(HS_ERR_INVALID, errstr, n, "integrations.%s: not a mapping", name);
        if (s->nintegrations == WF_MAX_INTEGRATIONS || strlen(name) >= 64)
            return hs_fail(HS_ERR_INVALID, errstr, n, "integrations.%s: too many or too long",
                           name);
        wf_integration_t *in = &s->integrations[s->nintegrations++];
        snprintf(in->name, sizeof in->name, "%s", name);
        in->rate = num(v, "rate", 0);
        in->burst = num(v, "burst", in->rate > 1 ? in->rate : 1);
        hs_breaker_opts_t bo = {.failure_rate = num(v, "breaker_failure_pct", 50) / 100.0,
                                .min_requests = (int)num(v, "breaker_min_requests", 10),
                                .window_ms = (int64_t)num(v, "breaker_window_ms", 30000),
                                .open_ms = (int64_t)num(v, "breaker_open_ms", 30000),
                                .half_open_probes = 1};
        pthread_mutex_init(&in->mtx, NULL);
        hs_breaker_init(&in->breaker, &bo);
        hs_bucket_init(&in->bucket);
    }
    return HS_OK;
}

/* ---- wiring -------------------------------------------------------------------------------- */

static int ready(void *opaque, char *why, size_t n) {
    wf_service_t *s = opaque;
    return hs_consumer_ready(s->consumer, why, n) && wf_admin_ping(s->admin, why, n) == HS_OK;
}

static hs_err_t open_parts(wf_service_t *s, char *errstr, size_t n) {
    const hs_config_t *cfg = s->cfg;
    char err[512];
    if (!(s->ssrf = hs_ssrf_new(hs_config_str(cfg, "workflows.allow_private"), err, sizeof err)))
        return hs_fail(HS_ERR_INVALID, errstr, n, "workflows.allow_private: %s", err);
    if (integrations_init(s, errstr, n)) return HS_ERR_INVALID;
    const char *dsn = hs_config_str(cfg, "postgres.dsn");
    int to = (int)hs_config_int(cfg, "postgres.connect_timeout_s");
    if (!(s->trigger_store = wf_store_new(dsn, to, errstr, n)) ||
        !(s->batch_store = wf_store_new(dsn, to, errstr, n)) ||
        !(s->sched_store = wf_store_new(dsn, to, errstr, n)))
        return HS_ERR_UNAVAILABLE;
    if (!(s->dec = hs_eventdec_new(cfg))) return hs_fail(HS_ERR_INTERNAL, errstr, n, "no memory");
    if (!(s->flags = hs_flags_new(cfg, errstr, n))) return HS_ERR_INVALID;
    if (!(s->producer = hs_kafka_producer_new(cfg, wf_emit_dr, errstr, n)))
        return HS_ERR_UNAVAILABLE;
    if (!(s->schema_ids = calloc(hs_catalog_count() + 1, sizeof *s->schema_ids)))
        return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    wf_defs_reload(s, 1);
    if (!s->snap) return hs_fail(HS_ERR_INVALID, errstr, n, "workflows.dir: not readable");
    return HS_OK;
}

static hs_err_t open_consumer(wf_service_t *s, char *errstr, size_t n) {
    char topics_buf[1024];
    const char *topics[HS_CONSUMER_MAX_TOPICS + 1];
    hs_consumer_topics_split(hs_config_str(s->cfg, "workflows.topics"), topics_buf,
                             sizeof topics_buf, topics);
    hs_consumer_opts_t co = {.service = "workflows",
                             .group = hs_config_str(s->cfg, "workflows.group"),
                             .topics = topics,
                             .handler = wf_trigger_handle,
                             .opaque = s};
    s->consumer = hs_consumer_new(s->cfg, &co, errstr, n);
    return s->consumer ? HS_OK : HS_ERR_UNAVAILABLE;
}

static hs_err_t open_http(wf_service_t *s, char *errstr, size_t n) {
    hs_http_opts_t ho = {.listen = hs_config_str(s->cfg, "workflows.listen"),
                         .service = "workflows"};
    if (!(s->http = hs_http_server_new(&ho, errstr, n))) return HS_ERR_INVALID;
    if (!(s->admin = wf_admin_new(s, errstr, n))) return HS_ERR_INVALID;
    wf_admin_routes(s->admin, s->http);
    hs_http_set_ready(s->http, ready, s);
    return hs_http_server_start(s->http, errstr, n);
}

wf_service_t *wf_service_new(const hs_config_t *cfg, char *errstr, size_t errstr_size) {
    wf_service_t *s = calloc(1, sizeof *s);
    if (!s) {
        hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    pthread_mutex_init(&s->snap_mtx, NULL);
    pthread_mutex_init(&s->old_mtx, NULL);
    pthread_mutex_init(&s->emit_mtx, NULL);
    pthread_mutex_init(&s->wake_mtx, NULL);
    pthread_cond_init(&s->wake, NULL);
    pthread_mutex_init(&s->batch_mtx, NULL);
    pthread_cond_init(&s->batch_cond, NULL);
    s->nworkers = (int)hs_config_int(cfg, "workflows.workers");
    s->lease_ms = hs_config_int(cfg, "workflows.lease_ms");
    s->poll_ms = hs_config_int(cfg, "workflows.poll_ms");
    s->hold_ms = hs_config_int(cfg, "workflows.hold_ms");
    s->reload_ms = hs_config_int(cfg, "workflows.reload_ms");
    s->event_keep_ms = hs_config_int(cfg, "workflows.event_keep_ms");
    s->max_depth = (int)hs_config_int(cfg, "workflows.max_depth");
    metrics_init(&s->m);
    if (open_parts(s, errstr, errstr_size) || open_consumer(s, errstr, errstr_size) ||
        open_http(s, errstr, errstr_size)) {
        wf_service_destroy(s);
        return NULL;
    }
    /* Lease owners name the host and the bound port: unique among running instances, and the
     * same after a restart on the same address, so a restarted instance takes back its runs. */
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(s->owner, sizeof s->owner, "%s:%d", host, hs_http_server_port(s->http));
    return s;
}

int wf_service_port(const wf_service_t *s) {
    return hs_http_server_port(s->http);
}

hs_err_t wf_service_run(wf_service_t *s, char *errstr, size_t errstr_size) {
    hs_err_t e = hs_flags_start(s->flags, errstr, errstr_size);
    if (e) return e;
    for (int i = 0; i < s->nworkers; i++)
        pthread_create(&s->workers[i], NULL, wf_worker_main, s);
    pthread_create(&s->scheduler, NULL, wf_scheduler_main, s);
    pthread_create(&s->batcher, NULL, wf_batcher_main, s);
    s->threads_started = 1;
    return hs_consumer_run(s->consumer, errstr, errstr_size);
}

void wf_service_stop(wf_service_t *s) {
    atomic_store(&s->stopping, 1);
    hs_consumer_stop(s->consumer);
}

static void threads_join(wf_service_t *s) {
    if (!s->threads_started) return;
    atomic_store(&s->stopping, 1);
    wf_wake_workers(s);
    for (int i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    pthread_join(s->scheduler, NULL);
    pthread_mutex_lock(&s->batch_mtx);
    atomic_store(&s->batch_stop, 1);
    pthread_cond_signal(&s->batch_cond);
    pthread_mutex_unlock(&s->batch_mtx);
    pthread_join(s->batcher, NULL);
    s->threads_started = 0;
}

void wf_service_destroy(wf_service_t *s) {
    if (!s) return;
    threads_join(s);
    hs_http_server_destroy(s->http);
    wf_admin_destroy(s->admin);
    hs_consumer_destroy(s->consumer);
    if (s->producer) {
        rd_kafka_flush(s->producer, 5000);
        rd_kafka_destroy(s->producer);
    }
    hs_flags_destroy(s->flags);
    hs_eventdec_destroy(s->dec);
    wf_store_destroy(s->trigger_store);
    wf_store_destroy(s->batch_store);
    wf_store_destroy(s->sched_store);
    hs_ssrf_destroy(s->ssrf);
    wf_snap_release(s->snap);
    for (size_t i = 0; i < s->nold; i++)
        wf_def_free(s->old[i]);
    free(s->old);
    for (size_t i = 0; i < s->nintegrations; i++)
        pthread_mutex_destroy(&s->integrations[i].mtx);
    free(s->schema_ids);
    pthread_cond_destroy(&s->batch_cond);
    pthread_mutex_destroy(&s->batch_mtx);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->wake_mtx);
    pthread_mutex_destroy(&s->emit_mtx);
    pthread_mutex_destroy(&s->old_mtx);
    pthread_mutex_destroy(&s->snap_mtx);
    free(s);
}
