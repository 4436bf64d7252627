/* The workflows admin API (see wf_admin.h) on the shared admin frame (hs_admin.h): definitions in
 * force from the current snapshot, runs from the admin's own store connection, cancel and retry
 * audited like the deliver admin's changes. */
#include "wf_admin.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_admin.h"
#include "wf_internal.h"

#define NROUTES 6
#define MAX_FILTER_LEN 256 /* workflow and key query values */

typedef void (*route_fn)(wf_admin_t *a, hs_http_req_t *req, const hs_admin_actor_t *who);

typedef struct {
    const char *method, *pattern;
    route_fn fn;
    int write; /* needs the admin role */
} route_t;

typedef struct {
    wf_admin_t *a;
    const route_t *route;
} route_ctx_t;

/* @locality: tokens and ctx are immutable after wf_admin_new; handlers run on any HTTP server
 * thread. @locks: mtx guards store (one connection, one thread at a time). */
struct wf_admin {
    wf_service_t *s;
    hs_admin_tokens_t tokens;
    pthread_mutex_t mtx;
    wf_store_t *store;
    route_ctx_t ctx[NROUTES];
};

static const char *const run_statuses[] = {"pending",   "running", "waiting",
                                           "completed", "failed",  "cancelled"};

/* ---- definitions --------------------------------------------------------------------------- */

static size_t steps_count(const wf_steps_t *steps) {
    size_t n = steps->n;
    for (size_t i = 0; i < steps->n; i++) {
        const wf_step_t *st = &steps->items[i];
        n += steps_count(&st->then_steps) + steps_count(&st->else_steps) +
             steps_count(&st->on_error);
    }
    return n;
}

/* {"events": [...], "condition": ...} or {"schedule": "..."}. Copies: the definition is shared
 * with the engine's threads. */
static json_t *trigger_json(const wf_def_t *d) {
    if (d->schedule) return json_pack("{s:s}", "schedule", d->schedule);
    json_t *events = json_array();
    for (size_t i = 0; i < d->nevents; i++)
        json_array_append_new(events, json_string(d->events[i]));
    json_t *t = json_pack("{s:o}", "events", events);
    if (t && d->condition) json_object_set_new(t, "condition", json_deep_copy(d->condition));
    return t;
}

/* The steps as a tree of {id, type, integration, line} (branch: then, else; on_error). Params
 * are left out: they may hold secrets. */
static json_t *steps_json(const wf_steps_t *steps) {
    json_t *arr = json_array();
    for (size_t i = 0; i < steps->n; i++) {
        const wf_step_t *st = &steps->items[i];
        json_t *o =
            json_pack("{s:s, s:s, s:s?, s:i}", "id", st->id, "type", wf_step_kind_str(st->kind),
                      "integration", st->integration, "line", st->line);
        if (!o) continue;
        if (st->kind == WF_STEP_BRANCH) {
            json_object_set_new(o, "condition", json_deep_copy(st->condition));
            json_object_set_new(o, "then", steps_json(&st->then_steps));
            json_object_set_new(o, "else", steps_json(&st->else_steps));
        }
        if (st->on_error.n) json_object_set_new(o, "on_error", steps_json(&st->on_error));
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *def_summary(const wf_def_t *d) {
    return json_pack("{s:s, s:s, s:s, s:o, s:I}", "name", d->name, "version", d->version, "file",
                     d->file, "trigger", trigger_json(d), "steps",
                     (json_int_t)steps_count(&d->steps));
}

static json_t *def_json(const wf_def_t *d) {
    return json_pack("{s:s, s:s, s:s, s:o, s:{s:s?, s:i, s:i}, s:I, s:o}", "name", d->name,
                     "version", d->version, "file", d->file, "trigger", trigger_json(d),
                     "concurrency", "key", d->key, "max_runs", d->max_runs, "max_per_key",
                     d->max_per_key, "timeout_ms", (json_int_t)d->timeout_ms, "steps",
                     steps_json(&d->steps));
}

static void respond_json(hs_http_req_t *req, json_t *v) {
    if (v)
        hs_http_respond_json(req, 200, v);
    else
        hs_admin_problem(req, 500, "out of memory", NULL);
}

static void workflows_list(wf_admin_t *a, hs_http_req_t *req, const hs_admin_actor_t *who) {
    (void)who;
    wf_snap_t *snap = wf_snap_get(a->s);
    const wf_defs_t *defs = snap->defs;
    json_t *list = json_array(), *errors = json_array();
    for (size_t i = 0; i < defs->n; i++)
        json_array_append_new(list, def_summary(defs->defs[i]));
    for (size_t i = 0; i < defs->nerrors; i++)
        json_array_append_new(errors, json_string(defs->errors[i]));
    wf_snap_release(snap);
    respond_json(req, json_pack("{s:o, s:o}", "workflows", list, "errors", errors));
}

static void workflow_get(wf_admin_t *a, hs_http_req_t *req, const hs_admin_actor_t *who) {
    (void)who;
    const char *name = hs_http_req_param(req, "name");
    wf_snap_t *snap = wf_snap_get(a->s);
    const wf_def_t *d = wf_defs_find(snap->defs, name);
    json_t *v = d ? def_json(d) : NULL;
    wf_snap_release(snap);
    if (!d) {
        char detail[512];
        snprintf(detail, sizeof detail, "no workflow named %.256s is in force", name);
        hs_admin_problem(req, 404, detail, NULL);
        return;
    }
    respond_json(req, v);
}

/* ---- runs ---------------------------------------------------------------------------------- */

/* Reads the query of GET /v1/runs into *f; answers 422 naming the field and returns -1 when a
 * value is malformed. Strings in *f are borrowed from req. */
static int runs_filter(hs_http_req_t *req, wf_run_filter_t *f) {
    const char *workflow = hs_http_req_query(req, "workflow");
    const char *status = hs_http_req_query(req, "status");
    const char *key = hs_http_req_query(req, "key");
    const char *before = hs_http_req_query(req, "before");
    *f = (wf_run_filter_t){.workflow = workflow && *workflow ? workflow : NULL,
                           .key = key && *key ? key : NULL,
                           .limit = hs_admin_limit(hs_http_req_query(req, "limit"))};
    if (f->limit < 0)
        return hs_admin_invalid(req, "limit", "expected an integer from 1 to 1000"), -1;
    if (status && *status) {
        for (size_t i = 0; i < sizeof run_statuses / sizeof run_statuses[0]; i++)
            if (!strcmp(status, run_statuses[i])) f->status = run_statuses[i];
        if (!f->status)
            return hs_admin_invalid(req, "status",
                                    "expected pending, running, waiting, completed, failed or "
                                    "cancelled"),
                   -1;
    }
    if (before && *before && hs_admin_time_text(before, &f->before_ms))
        return hs_admin_invalid(req, "before", "expected RFC 3339 or unix milliseconds"), -1;
    if (f->workflow && strlen(f->workflow) > MAX_FILTER_LEN)
        return hs_admin_invalid(req, "workflow", "longer than 256 characters"), -1;
    if (f->key && strlen(f->key) > MAX_FILTER_LEN)
        return hs_admin_invalid(req, "key", "longer than 256 characters"), -1;
    return 0;
}

static void runs_list(wf_admin_t *a, hs_http_req_t *req, const hs_admin_actor_t *who) {
    (void)who;
    wf_run_filter_t f;
    if (runs_filter(req, &f)) return;
    json_t *out = NULL;
    char err[512];
    pthread_mutex_lock(&a->mtx);
    hs_err_t rc = wf_store_runs_list(a->store, &f, &out, err, sizeof err);
    pthread_mutex_unlock(&a->mtx);
    if (rc)
        hs_admin_fail(req, rc, err);
    else
        hs_http_respond_json(req, 200, out);
}

static void run_get(wf_admin_t *a, hs_http_req_t *req, const hs_admin_actor_t *who) {
    (void)who;
    json_t *out = NULL;
    char err[512];
    pthread_mutex_lock(&a->mtx);
    hs_err_t rc = wf_store_run_get(a->store, hs_http_req_param(req, "id"), &out, err, sizeof err);
    pthread_mutex_unlock(&a->mtx);
    if (rc)
        hs_admin_fail(req, rc, err);
    else
        hs_http_respond_json(req, 200, out);
}

typedef hs_err_t (*run_change_fn)(wf_store_t *s, const char *id, char *errstr, size_t n);

/* POST /v1/runs/{id}/<action>: the change, the audit row and the run as it is now, under the
 * store's lock; then the hs.audit record and the answer (200 with the run). Returns the change's
 * result. */
static hs_err_t run_change(wf_admin_t *a, hs_http_req_t *req, const hs_admin_actor_t *who,
                           run_change_fn change, const char *action) {
    const char *id = hs_http_req_param(req, "id");
    json_t *run = NULL, *detail = NULL;
    char err[512], row_err[512] = "";
    hs_err_t row = HS_OK, got = HS_OK;
    pthread_mutex_lock(&a->mtx);
    hs_err_t rc = change(a->store, id, err, sizeof err);
    if (!rc) {
        got = wf_store_run_get(a->store, id, &run, err, sizeof err);
        detail =
            json_pack("{s:s?}", "workflow", json_string_value(json_object_get(run, "workflow")));
        row = wf_store_audit(a->store, who->name, who->role, action, id, detail, row_err,
                             sizeof row_err);
    }
    pthread_mutex_unlock(&a->mtx);
    if (!rc) hs_admin_audited(a->s->producer, "workflows", who, action, id, detail, row, row_err);
    json_decref(detail);
    if (rc || got)
        hs_admin_fail(req, rc ? rc : got, err);
    else
        hs_http_respond_json(req, 200, run);
    return rc;
}

static void run_cancel(wf_admin_t *a, hs_http_req_t *req, const hs_admin_actor_t *who) {
    run_change(a, req, who, wf_store_run_cancel, "run.cancel");
}

/* A run made pending again is started by the next free worker: wake them. */
static void run_retry(wf_admin_t *a, hs_http_req_t *req, const hs_admin_actor_t *who) {
    if (!run_change(a, req, who, wf_store_run_retry, "run.retry")) wf_wake_workers(a->s);
}

/* ---- frame --------------------------------------------------------------------------------- */

static const route_t routes[NROUTES] = {
    {"GET", "/v1/workflows", workflows_list, 0},
    {"GET", "/v1/workflows/{name}", workflow_get, 0},
    {"GET", "/v1/runs", runs_list, 0},
    {"GET", "/v1/runs/{id}", run_get, 0},
    {"POST", "/v1/runs/{id}/cancel", run_cancel, 1},
    {"POST", "/v1/runs/{id}/retry", run_retry, 1},
};

static void dispatch(hs_http_req_t *req, void *opaque) {
    const route_ctx_t *ctx = opaque;
    hs_admin_actor_t who;
    if (hs_admin_authorize(&ctx->a->tokens, req, ctx->route->write, &who)) return;
    ctx->route->fn(ctx->a, req, &who);
}

/* workflows.<kind>_tokens, else deliver.<kind>_tokens when it is empty. */
static const char *tokens_key(const hs_config_t *cfg, const char *own, const char *fallback) {
    return *hs_config_str(cfg, own) ? own : fallback;
}

wf_admin_t *wf_admin_new(struct wf_service *s, char *errstr, size_t n) {
    wf_admin_t *a = calloc(1, sizeof *a);
    if (!a) {
        hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
        return NULL;
    }
    a->s = s;
    pthread_mutex_init(&a->mtx, NULL);
    const hs_config_t *cfg = s->cfg;
    if (hs_admin_tokens_load(
            &a->tokens, cfg, tokens_key(cfg, "workflows.admin_tokens", "deliver.admin_tokens"),
            tokens_key(cfg, "workflows.read_tokens", "deliver.read_tokens"), errstr, n) ||
        !(a->store =
              wf_store_new(hs_config_str(cfg, "postgres.dsn"),
                           (int)hs_config_int(cfg, "postgres.connect_timeout_s"), errstr, n))) {
        wf_admin_destroy(a);
        return NULL;
    }
    for (size_t i = 0; i < NROUTES; i++)
        a->ctx[i] = (route_ctx_t){a, &routes[i]};
    return a;
}

void wf_admin_routes(wf_admin_t *a, hs_http_server_t *srv) {
    for (size_t i = 0; i < NROUTES; i++)
        hs_http_route(srv, routes[i].method, routes[i].pattern, dispatch, &a->ctx[i]);
}

hs_err_t wf_admin_ping(wf_admin_t *a, char *errstr, size_t n) {
    pthread_mutex_lock(&a->mtx);
    hs_err_t rc = wf_store_ping(a->store, errstr, n);
    pthread_mutex_unlock(&a->mtx);
    return rc;
}

void wf_admin_destroy(wf_admin_t *a) {
    if (!a) return;
    wf_store_destroy(a->store);
    hs_admin_tokens_clear(&a->tokens);
    pthread_mutex_destroy(&a->mtx);
    free(a);
}
