/* Workflow store: what the admin API and the CLI read (runs, one run with its steps, gauges)
 * and their audit trail. The JSON is built by Postgres, so each answer is one consistent
 * snapshot and times are formatted in one place (WFS_RFC3339). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf_store_internal.h"

/* clang-format off */
/* The fields of a run in the list and in run_get (wf_store.h). */
#define RUN_FIELDS \
    "'id', r.id, 'workflow', r.workflow, 'version', r.version, 'status', r.status," \
    " 'key', r.concurrency_key, 'trigger_id', r.trigger_id, 'trigger_type', r.trigger_type," \
    " 'depth', r.depth," \
    " 'created_at', " WFS_RFC3339("r.created_at") "," \
    " 'started_at', " WFS_RFC3339("r.started_at") "," \
    " 'finished_at', " WFS_RFC3339("r.finished_at") "," \
    " 'wake_at', " WFS_RFC3339("r.wake_at") "," \
    " 'error', r.error"

#define STEP_FIELDS \
    "'step_id', s.step_id, 'status', s.status, 'attempt', s.attempt, 'output', s.output," \
    " 'error', s.error," \
    " 'started_at', " WFS_RFC3339("s.started_at") "," \
    " 'finished_at', " WFS_RFC3339("s.finished_at") "," \
    " 'wake_at', " WFS_RFC3339("s.wake_at")

static const char runs_list_sql[] =
    "SELECT coalesce(json_agg(json_build_object(" RUN_FIELDS ")"
    "  ORDER BY r.created_at DESC, r.seq DESC), '[]')::text"
    " FROM (SELECT id, seq, workflow, version, status, concurrency_key, trigger_id, trigger_type,"
    "  depth, created_at, started_at, finished_at, wake_at, error FROM workflow_runs"
    "  WHERE ($1::text IS NULL OR workflow = $1) AND ($2::text IS NULL OR status = $2)"
    "  AND ($3::text IS NULL OR concurrency_key = $3)"
    "  AND ($4::bigint IS NULL OR created_at < " WFS_TS("$4") ")"
    "  ORDER BY created_at DESC, seq DESC LIMIT $5::int) r";

static const char run_get_sql[] =
    "SELECT json_build_object(" RUN_FIELDS ", 'event', r.event,"
    " 'steps', coalesce((SELECT json_agg(json_build_object(" STEP_FIELDS ") ORDER BY s.seq)"
    "  FROM workflow_steps s WHERE s.run_id = r.id), '[]'))::text"
    " FROM workflow_runs r WHERE r.id = $1::uuid";
/* clang-format on */

static const char stats_sql[] =
    "SELECT json_build_object("
    " 'runs', coalesce((SELECT json_object_agg(workflow, counts) FROM"
    "  (SELECT workflow, json_object_agg(status, n) AS counts FROM"
    "   (SELECT workflow, status, count(*) AS n FROM workflow_runs"
    "    WHERE status IN ('pending', 'running', 'waiting') GROUP BY workflow, status) c"
    "   GROUP BY workflow) w), '{}'),"
    " 'timers_due', (SELECT count(*) FROM workflow_runs"
    "  WHERE status = 'waiting' AND wake_at <= now()),"
    " 'waits', (SELECT count(*) FROM workflow_waits))::text";

static const char audit_sql[] = "INSERT INTO audit (actor, role, action, target, detail)"
                                " VALUES ($1, $2, $3, $4, $5::jsonb)";

static const char *const run_statuses[] = {"pending",   "running", "waiting",
                                           "completed", "failed",  "cancelled"};

/* Runs sql and parses the one JSON text it returns into *out (NULL when no row). */
static hs_err_t query_json(wf_store_t *s, const char *sql, int nparams, const char *const *params,
                           json_t **out, char *errstr, size_t n) {
    PGresult *res;
    *out = NULL;
    hs_err_t err = wfs_query(s, sql, nparams, params, &res, errstr, n);
    if (err) return err;
    if (PQntuples(res)) {
        json_error_t jerr;
        *out = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
        if (!*out)
            err = hs_fail(HS_ERR_INTERNAL, errstr, n, "postgres at %s: unreadable JSON: %s",
                          s->where, jerr.text);
    }
    PQclear(res);
    return err;
}

static int known_status(const char *status) {
    for (size_t i = 0; i < sizeof run_statuses / sizeof run_statuses[0]; i++)
        if (!strcmp(status, run_statuses[i])) return 1;
    return 0;
}

hs_err_t wf_store_runs_list(wf_store_t *s, const wf_run_filter_t *f, json_t **out, char *errstr,
                            size_t n) {
    *out = NULL;
    if (f->limit < 1 || f->limit > 1000)
        return hs_fail(HS_ERR_INVALID, errstr, n, "runs: limit %d is not in 1..1000", f->limit);
    if (f->status && !known_status(f->status))
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "runs: status %.32s is not pending, running, waiting, completed, failed "
                       "or cancelled",
                       f->status);
    if (f->before_ms < 0)
        return hs_fail(HS_ERR_INVALID, errstr, n, "runs: before %lld is negative",
                       (long long)f->before_ms);
    char before[24], limit[24];
    wfs_i64(f->before_ms, before);
    wfs_i64(f->limit, limit);
    const char *params[] = {f->workflow, f->status, f->key, f->before_ms ? before : NULL, limit};
    hs_err_t err = query_json(s, runs_list_sql, 5, params, out, errstr, n);
    if (!err && !json_is_array(*out)) {
        json_decref(*out);
        *out = NULL;
        err = hs_fail(HS_ERR_INTERNAL, errstr, n, "runs: postgres returned no list");
    }
    return err;
}

hs_err_t wf_store_run_get(wf_store_t *s, const char *id, json_t **out, char *errstr, size_t n) {
    *out = NULL;
    if (!wfs_is_uuid(id)) return wfs_no_run(id, errstr, n);
    const char *params[] = {id};
    hs_err_t err = query_json(s, run_get_sql, 1, params, out, errstr, n);
    if (!err && !*out) err = wfs_no_run(id, errstr, n);
    return err;
}

hs_err_t wf_store_stats(wf_store_t *s, json_t **out, char *errstr, size_t n) {
    return query_json(s, stats_sql, 0, NULL, out, errstr, n);
}

hs_err_t wf_store_audit(wf_store_t *s, const char *actor, const char *role, const char *action,
                        const char *target, const json_t *detail, char *errstr, size_t n) {
    if (!actor || !role || !action || !*action)
        return hs_fail(HS_ERR_INVALID, errstr, n, "audit: actor, role and action needed");
    char *d = wfs_json_text(detail);
    if (detail && !d) return hs_fail(HS_ERR_INTERNAL, errstr, n, "audit: out of memory");
    const char *params[] = {actor, role, action, target ? target : "", d};
    hs_err_t err = wfs_exec(s, audit_sql, 5, params, NULL, errstr, n);
    free(d);
    return err;
}
