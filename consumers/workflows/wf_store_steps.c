/* Workflow store: step runs (each change under the run's lease; a completed step never changes
 * again) and event waits, which wf_store_wait_begin and wf_store_event_arrived match under one
 * lock per event type so that no event falls between a wait being set up and recorded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf_store_internal.h"

/* Rows per page when a wait or an event looks through the other side. */
#define PAGE 500
#define STR_(x) #x
#define STR(x) STR_(x)

/* ---- step runs ---- */

/* clang-format off */
static const char steps_sql[] =
    "SELECT step_id, status, error, attempt, output::text, " HS_PG_MS("wake_at") ","
    " " HS_PG_MS("started_at") ", " HS_PG_MS("finished_at")
    " FROM workflow_steps WHERE run_id = $1::uuid ORDER BY seq";
/* clang-format on */

void wf_store_steps_free(wf_step_run_t *steps, size_t count) {
    for (size_t i = 0; steps && i < count; i++) {
        free(steps[i].step_id);
        free(steps[i].status);
        free(steps[i].error);
        json_decref(steps[i].output);
    }
    free(steps);
}

static int step_from_row(const PGresult *res, int row, wf_step_run_t *st) {
    st->step_id = strdup(PQgetvalue(res, row, 0));
    st->status = strdup(PQgetvalue(res, row, 1));
    if (!PQgetisnull(res, row, 2)) st->error = strdup(PQgetvalue(res, row, 2));
    st->attempt = (int)hs_pg_i64(res, row, 3);
    if (!strcmp(PQgetvalue(res, row, 1), "completed") && !PQgetisnull(res, row, 4))
        st->output = json_loads(PQgetvalue(res, row, 4), JSON_DECODE_ANY, NULL);
    st->wake_ms = hs_pg_i64(res, row, 5);
    st->started_ms = hs_pg_i64(res, row, 6);
    st->finished_ms = hs_pg_i64(res, row, 7);
    int complete = st->step_id && st->status && (st->error || PQgetisnull(res, row, 2));
    return complete && (st->output || PQgetisnull(res, row, 4) || strcmp(st->status, "completed"))
               ? 0
               : -1;
}

hs_err_t wf_store_steps(wf_store_t *s, const char *run_id, wf_step_run_t **out, size_t *count,
                        char *errstr, size_t n) {
    *out = NULL;
    *count = 0;
    if (!wfs_is_uuid(run_id)) return wfs_no_run(run_id, errstr, n);
    const char *params[] = {run_id};
    PGresult *res;
    hs_err_t err = wfs_query(s, steps_sql, 1, params, &res, errstr, n);
    if (err) return err;
    size_t rows = (size_t)PQntuples(res);
    wf_step_run_t *steps = calloc(rows ? rows : 1, sizeof *steps);
    if (!steps) err = HS_ERR_INTERNAL;
    for (size_t i = 0; !err && i < rows; i++)
        if (step_from_row(res, (int)i, &steps[i])) err = HS_ERR_INTERNAL;
    PQclear(res);
    if (err) {
        wf_store_steps_free(steps, rows);
        return hs_fail(err, errstr, n, "run %s: steps: out of memory or a bad output", run_id);
    }
    *out = steps;
    *count = rows;
    return HS_OK;
}

/* clang-format off */
/* Each step change ends with: the leased run found (0/1), the step changed (0/1), its attempt. */
#define STEP_CHANGED \
    " SELECT (SELECT count(*) FROM run), (SELECT count(*) FROM step)," \
    " (SELECT max(attempt) FROM step)"
#define UNLESS_COMPLETED " WHERE workflow_steps.status <> 'completed' RETURNING attempt"
#define COMPLETE_STEP \
    " ON CONFLICT (run_id, step_id) DO UPDATE SET status = 'completed', output = excluded.output," \
    " error = NULL, wake_at = NULL, finished_at = now(),"                                        \
    " attempt = greatest(workflow_steps.attempt, 1)" UNLESS_COMPLETED

static const char step_begin_sql[] =
    "WITH run AS (" WFS_LEASED_RUN "),"
    " step AS (INSERT INTO workflow_steps (run_id, step_id, status, attempt)"
    "  SELECT id, $3, 'running', 1 FROM run"
    "  ON CONFLICT (run_id, step_id) DO UPDATE SET status = 'running',"
    "  attempt = workflow_steps.attempt + 1, wake_at = NULL, finished_at = NULL" UNLESS_COMPLETED
    ")" STEP_CHANGED;

static const char step_complete_sql[] =
    "WITH run AS (" WFS_LEASED_RUN "),"
    " step AS (INSERT INTO workflow_steps (run_id, step_id, status, output, finished_at, attempt)"
    "  SELECT id, $3, 'completed', $4::jsonb, now(), 1 FROM run" COMPLETE_STEP "),"
    " waits AS (DELETE FROM workflow_waits w USING run WHERE w.run_id = run.id AND w.step_id = $3)"
    STEP_CHANGED;

static const char step_wait_sql[] =
    "WITH run AS (" WFS_LEASED_RUN "),"
    " step AS (INSERT INTO workflow_steps (run_id, step_id, status, wake_at, error)"
    "  SELECT id, $3, 'waiting', " WFS_TS("$4") ", $5 FROM run"
    "  ON CONFLICT (run_id, step_id) DO UPDATE SET status = 'waiting', wake_at = excluded.wake_at,"
    "  error = excluded.error, finished_at = NULL" UNLESS_COMPLETED ")"
    STEP_CHANGED;

static const char step_fail_sql[] =
    "WITH run AS (" WFS_LEASED_RUN "),"
    " step AS (INSERT INTO workflow_steps (run_id, step_id, status, error, finished_at)"
    "  SELECT id, $3, 'failed', $4, now() FROM run"
    "  ON CONFLICT (run_id, step_id) DO UPDATE SET status = 'failed', error = excluded.error,"
    "  wake_at = NULL, finished_at = now()" UNLESS_COMPLETED "),"
    " waits AS (DELETE FROM workflow_waits w USING run WHERE w.run_id = run.id AND w.step_id = $3)"
    STEP_CHANGED;
/* clang-format on */

/* Runs a step change (params: run id, owner, step id, ...); *attempt (may be NULL) receives the
 * step's attempt. HS_ERR_CONFLICT when the lease is lost or the step had completed. */
static hs_err_t step_change(wf_store_t *s, const char *sql, int nparams, const char *const *params,
                            int *attempt, char *errstr, size_t n) {
    if (!wfs_is_uuid(params[0])) return wfs_no_run(params[0], errstr, n);
    if (!params[1] || !params[2] || !*params[2])
        return hs_fail(HS_ERR_INVALID, errstr, n, "run %s: step change without owner or step",
                       params[0]);
    PGresult *res;
    hs_err_t err = wfs_query(s, sql, nparams, params, &res, errstr, n);
    if (err) return err;
    int64_t run = hs_pg_i64(res, 0, 0), step = hs_pg_i64(res, 0, 1);
    if (attempt) *attempt = (int)hs_pg_i64(res, 0, 2);
    PQclear(res);
    if (!run) return wfs_lost(s, params[0], params[1], NULL, errstr, n);
    if (!step)
        return hs_fail(HS_ERR_CONFLICT, errstr, n, "run %s: step %.64s already completed",
                       params[0], params[2]);
    return HS_OK;
}

hs_err_t wf_store_step_begin(wf_store_t *s, const char *run_id, const char *owner,
                             const char *step_id, int *attempt, char *errstr, size_t n) {
    const char *params[] = {run_id, owner, step_id};
    return step_change(s, step_begin_sql, 3, params, attempt, errstr, n);
}

hs_err_t wf_store_step_complete(wf_store_t *s, const char *run_id, const char *owner,
                                const char *step_id, const json_t *output, char *errstr, size_t n) {
    char *text = wfs_json_text(output);
    if (output && !text) return hs_fail(HS_ERR_INTERNAL, errstr, n, "step output: out of memory");
    const char *params[] = {run_id, owner, step_id, text ? text : "{}"};
    hs_err_t err = step_change(s, step_complete_sql, 4, params, NULL, errstr, n);
    free(text);
    return err;
}

hs_err_t wf_store_step_wait(wf_store_t *s, const char *run_id, const char *owner,
                            const char *step_id, int64_t wake_ms, const char *error, char *errstr,
                            size_t n) {
    char wake[24];
    wfs_i64(wake_ms, wake);
    const char *params[] = {run_id, owner, step_id, wake, error};
    return step_change(s, step_wait_sql, 5, params, NULL, errstr, n);
}

hs_err_t wf_store_step_fail(wf_store_t *s, const char *run_id, const char *owner,
                            const char *step_id, const char *error, char *errstr, size_t n) {
    const char *params[] = {run_id, owner, step_id, error ? error : "failed"};
    return step_change(s, step_fail_sql, 4, params, NULL, errstr, n);
}

/* ---- paging ---- */

/* Called for each row; sets *stop to end the walk. */
typedef hs_err_t (*row_fn)(void *ctx, const PGresult *res, int row, int *stop, char *errstr,
                           size_t n);

/* Walks the rows of a keyset-paged query (PAGE rows a page): its last two parameters start at
 * what params holds and then take columns key_a and key_b of each page's last row. */
static hs_err_t each_row(wf_store_t *s, const char *sql, int nparams, const char **params,
                         int key_a, int key_b, row_fn fn, void *ctx, char *errstr, size_t n) {
    char *last_a = NULL, *last_b = NULL;
    hs_err_t err = HS_OK;
    for (int more = 1, stop = 0; !err && more && !stop;) {
        PGresult *res;
        err = wfs_query(s, sql, nparams, params, &res, errstr, n);
        if (err) break;
        int rows = PQntuples(res);
        for (int r = 0; !err && !stop && r < rows; r++)
            err = fn(ctx, res, r, &stop, errstr, n);
        more = rows == PAGE;
        if (!err && more && !stop) {
            free(last_a);
            free(last_b);
            last_a = strdup(PQgetvalue(res, rows - 1, key_a));
            last_b = strdup(PQgetvalue(res, rows - 1, key_b));
            params[nparams - 2] = last_a;
            params[nparams - 1] = last_b;
            if (!last_a || !last_b) err = hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
        }
        PQclear(res);
    }
    free(last_a);
    free(last_b);
    return err;
}

static int matches(wf_match_fn fn, void *opaque, const json_t *match, const json_t *event) {
    return !match || fn(opaque, match, event) > 0;
}

/* ---- waits ---- */

/* clang-format off */
static const char wait_lock_run_sql[] = WFS_LEASED_RUN;

static const char kept_events_sql[] =
    "SELECT ce_id, event::text, received_at::text FROM workflow_events"
    " WHERE event_type = $1 AND received_at >= " WFS_TS("$2")
    " AND (received_at, ce_id) > ($3::timestamptz, $4)"
    " ORDER BY received_at, ce_id LIMIT " STR(PAGE);

static const char wait_step_sql[] =
    "INSERT INTO workflow_steps (run_id, step_id, status, wake_at)"
    " VALUES ($1::uuid, $2, 'waiting', " WFS_TS("$3") ")"
    " ON CONFLICT (run_id, step_id) DO UPDATE SET status = 'waiting', wake_at = excluded.wake_at,"
    " finished_at = NULL" UNLESS_COMPLETED;

static const char record_wait_sql[] =
    "INSERT INTO workflow_waits (run_id, step_id, event_type, match, timeout_at)"
    " VALUES ($1::uuid, $2, $3, $4::jsonb, " WFS_TS("$5") ")"
    " ON CONFLICT (run_id, step_id) DO UPDATE SET event_type = excluded.event_type,"
    " match = excluded.match, timeout_at = excluded.timeout_at, created_at = now()";
/* clang-format on */

typedef struct {
    const char *run_id, *owner, *step_id;
    const json_t *match;
    wf_match_fn fn;
    void *opaque;
    wf_store_t *s;
    int matched;
} wait_ctx_t;

/* A kept event: when it matches, the step completes with it and the walk stops. */
static hs_err_t try_kept(void *ctx, const PGresult *res, int row, int *stop, char *errstr,
                         size_t n) {
    wait_ctx_t *w = ctx;
    json_t *event = json_loads(PQgetvalue(res, row, 1), JSON_DECODE_ANY, NULL);
    int hit = event && matches(w->fn, w->opaque, w->match, event);
    json_decref(event);
    if (!hit) return HS_OK;
    const char *params[] = {w->run_id, w->owner, w->step_id, PQgetvalue(res, row, 1)};
    *stop = w->matched = 1;
    return step_change(w->s, step_complete_sql, 4, params, NULL, errstr, n);
}

/* Inside the transaction holding the type lock and the run: match or record. */
static hs_err_t wait_in_tx(wait_ctx_t *w, const char *type, int64_t since_ms, int64_t timeout_ms,
                           char *errstr, size_t n) {
    wf_store_t *s = w->s;
    const char *run[] = {w->run_id, w->owner};
    int64_t locked = 0;
    hs_err_t err = wfs_exec(s, wait_lock_run_sql, 2, run, &locked, errstr, n);
    if (!err && !locked) err = wfs_lost(s, w->run_id, w->owner, NULL, errstr, n);
    char since[24], timeout[24];
    wfs_i64(since_ms, since);
    wfs_i64(timeout_ms, timeout);
    const char *events[] = {type, since, "-infinity", ""};
    if (!err) err = each_row(s, kept_events_sql, 4, events, 2, 0, try_kept, w, errstr, n);
    if (err || w->matched) return err;
    const char *step[] = {w->run_id, w->step_id, timeout};
    int64_t changed = 0;
    err = wfs_exec(s, wait_step_sql, 3, step, &changed, errstr, n);
    if (!err && !changed)
        return hs_fail(HS_ERR_CONFLICT, errstr, n, "run %s: step %.64s already completed",
                       w->run_id, w->step_id);
    char *match = wfs_json_text(w->match);
    if (w->match && !match) return hs_fail(HS_ERR_INTERNAL, errstr, n, "wait: out of memory");
    const char *wait[] = {w->run_id, w->step_id, type, match, timeout};
    if (!err) err = wfs_exec(s, record_wait_sql, 5, wait, NULL, errstr, n);
    free(match);
    return err;
}

static hs_err_t type_lock(wf_store_t *s, const char *type, char *errstr, size_t n) {
    char key[320];
    snprintf(key, sizeof key, "wf_wait:%s", type);
    return wfs_lock(s, key, errstr, n);
}

hs_err_t wf_store_wait_begin(wf_store_t *s, const char *run_id, const char *owner,
                             const char *step_id, const char *type, const json_t *match,
                             int64_t since_ms, int64_t timeout_ms, wf_match_fn fn, void *opaque,
                             int *matched, char *errstr, size_t n) {
    *matched = 0;
    if (json_is_null(match)) match = NULL; /* no match expression: any event of the type */
    if (!wfs_is_uuid(run_id)) return wfs_no_run(run_id, errstr, n);
    if (!owner || !step_id || !*step_id || !type || !*type || strlen(type) > 255 || (match && !fn))
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "run %s: wait needs an owner, a step, a type (<= 255 bytes) and a match "
                       "function",
                       run_id);
    wait_ctx_t w = {run_id, owner, step_id, match, fn, opaque, s, 0};
    hs_err_t err = wfs_begin(s, errstr, n);
    if (err) return err;
    err = type_lock(s, type, errstr, n);
    if (!err) err = wait_in_tx(&w, type, since_ms, timeout_ms, errstr, n);
    err = wfs_end(s, err, errstr, n);
    if (!err) *matched = w.matched;
    return err;
}

/* ---- events ---- */

static const char keep_event_sql[] =
    "INSERT INTO workflow_events (ce_id, event_type, event, received_at, keep_until)"
    " VALUES ($1, $2, $3::jsonb, clock_timestamp(),"
    " clock_timestamp() + $4::bigint * interval '1 millisecond')"
    " ON CONFLICT (ce_id) DO NOTHING";

/* Waits past their timeout are left to the run's timer (the step times out). */
static const char open_waits_sql[] =
    "SELECT run_id::text, step_id, match::text FROM workflow_waits"
    " WHERE event_type = $1 AND (timeout_at IS NULL OR timeout_at > now())"
    " AND (run_id, step_id) > ($2::uuid, $3)"
    " ORDER BY run_id, step_id LIMIT " STR(PAGE);

/* The run is locked first, as every change of a run does, then its wait is taken. */
static const char wake_wait_sql[] =
    "WITH run AS (SELECT id FROM workflow_runs WHERE id = $1::uuid"
    "  AND status IN ('running', 'waiting') FOR NO KEY UPDATE),"
    " wait AS (DELETE FROM workflow_waits w USING run"
    "  WHERE w.run_id = run.id AND w.step_id = $2 RETURNING w.run_id),"
    " step AS (INSERT INTO workflow_steps (run_id, step_id, status, output, finished_at)"
    "  SELECT run_id, $2, 'completed', $3::jsonb, now() FROM wait" COMPLETE_STEP "),"
    " woken AS (UPDATE workflow_runs r SET wake_at = now() FROM wait WHERE r.id = wait.run_id)"
    " SELECT count(*) FROM wait";

typedef struct {
    wf_store_t *s;
    const json_t *event;
    const char *text; /* event as JSON text */
    wf_match_fn fn;
    void *opaque;
    int woken;
} arrival_t;

static hs_err_t try_wait(void *ctx, const PGresult *res, int row, int *stop, char *errstr,
                         size_t n) {
    arrival_t *a = ctx;
    (void)stop;
    json_t *match = PQgetisnull(res, row, 2)
                        ? NULL
                        : json_loads(PQgetvalue(res, row, 2), JSON_DECODE_ANY, NULL);
    int hit = (match || PQgetisnull(res, row, 2)) && matches(a->fn, a->opaque, match, a->event);
    json_decref(match);
    if (!hit) return HS_OK;
    const char *params[] = {PQgetvalue(res, row, 0), PQgetvalue(res, row, 1), a->text};
    PGresult *woke;
    hs_err_t err = wfs_query(a->s, wake_wait_sql, 3, params, &woke, errstr, n);
    if (err) return err;
    a->woken += (int)hs_pg_i64(woke, 0, 0);
    PQclear(woke);
    return HS_OK;
}

hs_err_t wf_store_event_arrived(wf_store_t *s, const char *type, const char *ce_id,
                                const json_t *event, int64_t keep_ms, wf_match_fn fn, void *opaque,
                                int *woken, char *errstr, size_t n) {
    *woken = 0;
    if (!type || !*type || strlen(type) > 255 || !ce_id || !*ce_id || !event || !fn || keep_ms < 0)
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "event arrived: needs a type (<= 255 bytes), a ce_id, the event, a match "
                       "function and a keep time >= 0");
    char keep[24];
    wfs_i64(keep_ms, keep);
    char *text = wfs_json_text(event);
    if (!text) return hs_fail(HS_ERR_INTERNAL, errstr, n, "event arrived: out of memory");
    arrival_t a = {s, event, text, fn, opaque, 0};
    const char *kept[] = {ce_id, type, text, keep};
    const char *waits[] = {type, "00000000-0000-0000-0000-000000000000", ""};
    int64_t inserted = 0;
    hs_err_t err = wfs_begin(s, errstr, n);
    if (!err) {
        err = type_lock(s, type, errstr, n);
        if (!err) err = wfs_exec(s, keep_event_sql, 4, kept, &inserted, errstr, n);
        /* A redelivered event (its ce_id kept already) wakes nothing again. */
        if (!err && inserted)
            err = each_row(s, open_waits_sql, 3, waits, 0, 1, try_wait, &a, errstr, n);
        err = wfs_end(s, err, errstr, n);
    }
    free(text);
    if (!err) *woken = a.woken;
    return err;
}

static const char prune_events_sql[] = "DELETE FROM workflow_events WHERE keep_until < now()";

hs_err_t wf_store_events_prune(wf_store_t *s, int *deleted, char *errstr, size_t n) {
    int64_t rows = 0;
    hs_err_t err = wfs_exec(s, prune_events_sql, 0, NULL, &rows, errstr, n);
    *deleted = err ? 0 : (int)rows;
    return err;
}
