/* Workflow store: runs. Creating them idempotently, claiming them within their concurrency
 * limits, and the changes their worker makes under its lease (extend, sleep, finish), plus
 * cancel and retry from the admin side. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf_store_internal.h"

/* ---- create ---- */

/* clang-format off */
static const char insert_run_sql[] =
    "INSERT INTO workflow_runs (workflow, version, trigger_id, trigger_type, fire_ms,"
    " concurrency_key, event, depth, max_runs, max_per_key, deadline_at)"
    " VALUES ($1, $2, $3, $4, $5::bigint, $6, $7::jsonb, $8::int, $9::int, $10::int,"
    " " WFS_TS("$11") ")"
    " ON CONFLICT (workflow, trigger_id) DO NOTHING RETURNING id";
/* clang-format on */

/* The same for a batch: the runs as one JSON array, one statement. */
static const char insert_runs_sql[] =
    "INSERT INTO workflow_runs (workflow, version, trigger_id, trigger_type, concurrency_key,"
    " event, depth, max_runs, max_per_key, deadline_at)"
    " SELECT r.workflow, r.version, r.trigger_id, r.trigger_type, coalesce(r.key, ''), r.event,"
    " r.depth, r.max_runs, r.max_per_key, " WFS_TS("r.deadline_ms")
    " FROM json_to_recordset($1::json) AS r(workflow text, version text, trigger_id text,"
    "  trigger_type text, key text, event jsonb, depth int, max_runs int, max_per_key int,"
    "  deadline_ms bigint)"
    " ON CONFLICT (workflow, trigger_id) DO NOTHING"
    " RETURNING json_build_object('id', id, 'workflow', workflow, 'trigger_id', trigger_id)::text";

static const char find_run_sql[] =
    "SELECT id FROM workflow_runs WHERE workflow = $1 AND trigger_id = $2";

/* The fire time of a scheduled run ("schedule:<unix ms>") into fire (decimal text); "" for an
 * event-triggered run. */
static hs_err_t fire_time(const wf_run_new_t *r, char fire[24], char *errstr, size_t n) {
    fire[0] = 0;
    if (strcmp(r->trigger_type, "schedule")) return HS_OK;
    const char *digits = strncmp(r->trigger_id, "schedule:", 9) ? NULL : r->trigger_id + 9;
    char *end = NULL;
    errno = 0;
    long long ms = digits && *digits >= '0' && *digits <= '9' ? strtoll(digits, &end, 10) : -1;
    if (ms < 0 || errno || !end || *end)
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "workflow run: trigger id %.64s of a schedule is not schedule:<unix ms>",
                       r->trigger_id);
    wfs_i64(ms, fire);
    return HS_OK;
}

static hs_err_t run_new_check(const wf_run_new_t *r, char *errstr, size_t n) {
    if (!r->workflow || !*r->workflow || !r->version || !*r->version)
        return hs_fail(HS_ERR_INVALID, errstr, n, "workflow run: workflow and version needed");
    if (!r->trigger_id || !*r->trigger_id || !r->trigger_type || !*r->trigger_type)
        return hs_fail(HS_ERR_INVALID, errstr, n, "workflow run: trigger id and type needed");
    if (!json_is_object(r->event))
        return hs_fail(HS_ERR_INVALID, errstr, n, "workflow run: the event is not an object");
    if (r->depth < 0 || r->max_runs < 0 || r->max_per_key < 0)
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "workflow run: depth %d, max_runs %d, max_per_key %d (none may be < 0)",
                       r->depth, r->max_runs, r->max_per_key);
    return HS_OK;
}

hs_err_t wf_store_run_create(wf_store_t *s, const wf_run_new_t *r, char id[37], int *created,
                             char *errstr, size_t n) {
    *created = 0;
    char fire[24], depth[24], max_runs[24], max_per_key[24], deadline[24];
    hs_err_t err = run_new_check(r, errstr, n);
    if (!err) err = fire_time(r, fire, errstr, n);
    if (err) return err;
    char *event = wfs_json_text(r->event);
    if (!event) return hs_fail(HS_ERR_INTERNAL, errstr, n, "workflow run: out of memory");
    wfs_i64(r->depth, depth);
    wfs_i64(r->max_runs, max_runs);
    wfs_i64(r->max_per_key, max_per_key);
    wfs_i64(r->deadline_ms, deadline);
    const char *params[] = {r->workflow,
                            r->version,
                            r->trigger_id,
                            r->trigger_type,
                            fire[0] ? fire : NULL,
                            r->key ? r->key : "",
                            event,
                            depth,
                            max_runs,
                            max_per_key,
                            r->deadline_ms > 0 ? deadline : NULL};
    PGresult *res;
    err = wfs_query(s, insert_run_sql, 11, params, &res, errstr, n);
    free(event);
    if (err) return err;
    *created = PQntuples(res) > 0;
    if (!*created) {
        /* It exists: this statement's snapshot may predate its commit, a new one sees it. */
        PQclear(res);
        const char *find[] = {r->workflow, r->trigger_id};
        err = wfs_query(s, find_run_sql, 2, find, &res, errstr, n);
        if (err) return err;
        if (!PQntuples(res))
            err = hs_fail(HS_ERR_CONFLICT, errstr, n,
                          "workflow run %s/%.64s: created and gone at once", r->workflow,
                          r->trigger_id);
    }
    if (!err) snprintf(id, 37, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return err;
}

hs_err_t wf_store_runs_create(wf_store_t *s, const json_t *runs, json_t **created, char *errstr,
                              size_t n) {
    *created = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r) {
        wf_run_new_t check = {.workflow = json_string_value(json_object_get(r, "workflow")),
                              .version = json_string_value(json_object_get(r, "version")),
                              .trigger_id = json_string_value(json_object_get(r, "trigger_id")),
                              .trigger_type = json_string_value(json_object_get(r, "trigger_type")),
                              .event = json_object_get(r, "event"),
                              .depth = (int)json_integer_value(json_object_get(r, "depth"))};
        hs_err_t err = run_new_check(&check, errstr, n);
        if (err || !strcmp(check.trigger_type, "schedule"))
            return err ? err : hs_fail(HS_ERR_INVALID, errstr, n, "workflow runs: a schedule "
                                       "run is created alone (wf_store_run_create)");
    }
    char *text = wfs_json_text(runs);
    if (!text) return hs_fail(HS_ERR_INTERNAL, errstr, n, "workflow runs: out of memory");
    const char *params[] = {text};
    PGresult *res;
    hs_err_t err = wfs_query(s, insert_runs_sql, 1, params, &res, errstr, n);
    free(text);
    if (err) return err;
    *created = json_array();
    for (int row = 0; row < PQntuples(res); row++)
        json_array_append_new(*created, json_loads(PQgetvalue(res, row, 0), 0, NULL));
    PQclear(res);
    return HS_OK;
}

/* ---- history ---- */

static const char prune_runs_sql[] =
    "DELETE FROM workflow_runs WHERE id IN (SELECT id FROM workflow_runs"
    " WHERE status IN ('completed', 'failed', 'cancelled')"
    " AND finished_at < to_timestamp($1::bigint / 1000.0) LIMIT $2::int)";

hs_err_t wf_store_runs_prune(wf_store_t *s, int64_t before_ms, int limit, int *deleted,
                             char *errstr, size_t n) {
    char before[24], lim[24];
    wfs_i64(before_ms, before);
    wfs_i64(limit, lim);
    const char *params[] = {before, lim};
    int64_t rows = 0;
    hs_err_t err = wfs_exec(s, prune_runs_sql, 2, params, &rows, errstr, n);
    *deleted = err ? 0 : (int)rows;
    return err;
}

/* ---- claim ---- */

/* Takes the runs of the CTE `claimed` (id, started): running under the owner's lease. */
/* clang-format off */
#define CLAIM_TAKE                                                                            \
    " UPDATE workflow_runs r SET status = 'running', lease_owner = $1,"                         \
    "  lease_until = now() + $2::bigint * interval '1 millisecond',"                            \
    "  started_at = coalesce(r.started_at, now()), wake_at = NULL"                              \
    " FROM claimed c WHERE r.id = c.id"                                                         \
    " RETURNING r.id, r.workflow, r.version, r.concurrency_key, r.event::text, r.depth,"        \
    " " HS_PG_MS("r.created_at") ", " HS_PG_MS("r.deadline_at") ", c.started, r.seq"
/* clang-format on */

/* Runs any worker may take without counting slots: waiting runs whose timer passed, running
 * runs whose lease expired, on the first claim of a store also the running runs held under the
 * claiming owner's own name (left over from a crashed earlier life of that worker: it holds
 * nothing when it starts), and pending runs of workflows without limits. Not serialized: SKIP
 * LOCKED keeps claimers apart. */
/* clang-format off */
static const char claim_free_sql[] =
    "WITH due AS ("
    "  SELECT id, seq, started_at IS NOT NULL AS started, 0 AS later FROM workflow_runs"
    "  WHERE status = 'waiting' AND wake_at <= now() ORDER BY wake_at LIMIT $3::int"
    "  FOR NO KEY UPDATE SKIP LOCKED),"
    " orphaned AS ("
    "  SELECT id, seq, true AS started, 0 AS later FROM workflow_runs"
    "  WHERE status = 'running' AND (lease_until < now() OR (lease_owner = $1 AND $4::bool))"
    "  LIMIT $3::int"
    "  FOR NO KEY UPDATE SKIP LOCKED),"
    " free AS ("
    "  SELECT id, seq, started_at IS NOT NULL AS started, 1 AS later FROM workflow_runs"
    "  WHERE status = 'pending' AND max_runs = 0 AND max_per_key = 0 ORDER BY seq LIMIT $3::int"
    "  FOR NO KEY UPDATE SKIP LOCKED),"
    " claimed AS ("
    "  SELECT id, started FROM (SELECT * FROM due UNION ALL SELECT * FROM orphaned"
    "   UNION ALL SELECT * FROM free) c ORDER BY later, seq LIMIT $3::int)"
    CLAIM_TAKE;

/* Pending runs of workflows with limits: active runs (running or waiting) hold the slots;
 * pending runs fit when their key (max_per_key, oldest first) and their workflow (max_runs,
 * oldest first) have slots left. Serialized (advisory lock), so each claim counts the slots
 * after the previous one committed; a run locked by a call in progress is passed over. */
static const char claim_limited_sql[] =
    "WITH active AS ("
    "  SELECT workflow, concurrency_key, count(*) AS n FROM workflow_runs"
    "  WHERE status IN ('running', 'waiting') GROUP BY workflow, concurrency_key),"
    " pending AS ("
    "  SELECT p.id, p.seq, p.workflow, p.max_runs, p.max_per_key, coalesce(a.n, 0) AS key_active,"
    "    row_number() OVER (PARTITION BY p.workflow, p.concurrency_key ORDER BY p.seq) AS key_rank"
    "  FROM workflow_runs p LEFT JOIN active a USING (workflow, concurrency_key)"
    "  WHERE p.status = 'pending' AND (p.max_runs > 0 OR p.max_per_key > 0)),"
    " key_fits AS ("
    "  SELECT id, seq, workflow, max_runs,"
    "    row_number() OVER (PARTITION BY workflow ORDER BY seq) AS run_rank"
    "  FROM pending WHERE max_per_key = 0 OR key_active + key_rank <= max_per_key),"
    " fits AS ("
    "  SELECT k.id, k.seq FROM key_fits k"
    "  LEFT JOIN (SELECT workflow, sum(n) AS n FROM active GROUP BY workflow) w USING (workflow)"
    "  WHERE k.max_runs = 0 OR coalesce(w.n, 0) + k.run_rank <= k.max_runs"
    "  ORDER BY k.seq LIMIT $3::int),"
    " claimed AS ("
    "  SELECT r.id, r.started_at IS NOT NULL AS started FROM workflow_runs r"
    "  WHERE r.id IN (SELECT id FROM fits) AND r.status = 'pending'"
    "  FOR NO KEY UPDATE SKIP LOCKED)"
    CLAIM_TAKE;

static const char limited_waiting_sql[] =
    "SELECT EXISTS (SELECT 1 FROM workflow_runs WHERE status = 'pending'"
    " AND (max_runs > 0 OR max_per_key > 0))";
/* clang-format on */

void wf_store_runs_free(wf_run_t *runs, size_t count) {
    for (size_t i = 0; runs && i < count; i++) {
        free(runs[i].workflow);
        free(runs[i].version);
        free(runs[i].key);
        json_decref(runs[i].event);
    }
    free(runs);
}

static int run_from_row(const PGresult *res, int row, wf_run_t *r) {
    snprintf(r->id, sizeof r->id, "%s", PQgetvalue(res, row, 0));
    r->workflow = strdup(PQgetvalue(res, row, 1));
    r->version = strdup(PQgetvalue(res, row, 2));
    r->key = strdup(PQgetvalue(res, row, 3));
    r->event = json_loads(PQgetvalue(res, row, 4), 0, NULL);
    r->depth = (int)hs_pg_i64(res, row, 5);
    r->created_ms = hs_pg_i64(res, row, 6);
    r->deadline_ms = hs_pg_i64(res, row, 7);
    r->started = PQgetvalue(res, row, 8)[0] == 't';
    return r->workflow && r->version && r->key && r->event ? 0 : -1;
}

/* The claimed runs in creation order (RETURNING follows no order). */
static int by_seq(const void *a, const void *b) {
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static hs_err_t runs_from_result(const PGresult *res, wf_run_t **out, size_t *count, char *errstr,
                                 size_t n) {
    size_t rows = (size_t)PQntuples(res);
    struct {
        int64_t seq;
        int row;
    } *order = calloc(rows ? rows : 1, sizeof *order);
    wf_run_t *runs = calloc(rows ? rows : 1, sizeof *runs);
    hs_err_t err = order && runs ? HS_OK : HS_ERR_INTERNAL;
    for (size_t i = 0; !err && i < rows; i++) {
        order[i].seq = hs_pg_i64(res, (int)i, 9);
        order[i].row = (int)i;
    }
    if (!err) qsort(order, rows, sizeof *order, by_seq);
    for (size_t i = 0; !err && i < rows; i++)
        if (run_from_row(res, order[i].row, &runs[i])) err = HS_ERR_INTERNAL;
    free(order);
    if (err) {
        wf_store_runs_free(runs, rows);
        return hs_fail(err, errstr, n, "workflow claim: out of memory or a bad event");
    }
    *out = runs;
    *count = rows;
    return HS_OK;
}

/* Appends the runs of res to *out (*count of them so far). */
static hs_err_t runs_append(const PGresult *res, wf_run_t **out, size_t *count, char *errstr,
                            size_t n) {
    wf_run_t *more = NULL;
    size_t nmore = 0;
    hs_err_t err = runs_from_result(res, &more, &nmore, errstr, n);
    if (err || !nmore) {
        free(more);
        return err;
    }
    wf_run_t *all = realloc(*out, (*count + nmore) * sizeof *all);
    if (!all) {
        wf_store_runs_free(more, nmore);
        return hs_fail(HS_ERR_INTERNAL, errstr, n, "workflow claim: out of memory");
    }
    memcpy(all + *count, more, nmore * sizeof *more);
    free(more);
    *out = all;
    *count += nmore;
    return HS_OK;
}

hs_err_t wf_store_claim(wf_store_t *s, const char *owner, int64_t lease_ms, size_t max,
                        wf_run_t **out, size_t *count, char *errstr, size_t n) {
    *out = NULL;
    *count = 0;
    if (!owner || !*owner || lease_ms <= 0)
        return hs_fail(HS_ERR_INVALID, errstr, n, "workflow claim: owner and a lease > 0 needed");
    if (!max) return HS_OK;
    char lease[24], limit[24];
    wfs_i64(lease_ms, lease);
    wfs_i64(max > 10000 ? 10000 : (int64_t)max, limit);
    const char *params[] = {owner, lease, limit, s->claimed ? "f" : "t"};
    PGresult *res = NULL;
    hs_err_t err = wfs_query(s, claim_free_sql, 4, params, &res, errstr, n);
    if (!err) err = runs_append(res, out, count, errstr, n);
    if (!err) s->claimed = 1;
    PQclear(res);
    res = NULL;
    if (err || *count >= max) return err;
    /* The serialized path only when runs with limits are waiting for a slot. */
    if ((err = wfs_query(s, limited_waiting_sql, 0, NULL, &res, errstr, n))) return err;
    int limited = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    res = NULL;
    if (!limited) return HS_OK;
    wfs_i64((int64_t)(max - *count), limit);
    if ((err = wfs_begin(s, errstr, n))) return err;
    err = wfs_lock(s, "wf_claim", errstr, n);
    if (!err) err = wfs_query(s, claim_limited_sql, 3, params, &res, errstr, n);
    err = wfs_end(s, err, errstr, n);
    if (!err) err = runs_append(res, out, count, errstr, n);
    PQclear(res);
    return err;
}

/* ---- the worker's changes, under its lease ---- */

static const char lease_extend_sql[] =
    "UPDATE workflow_runs SET lease_until = now() + $3::bigint * interval '1 millisecond'"
    " WHERE id = $1::uuid AND status = 'running' AND lease_owner = $2";

/* An event that arrived while the run was running set wake_at to now: keep the earlier time. */
/* clang-format off */
static const char run_sleep_sql[] =
    "UPDATE workflow_runs SET status = 'waiting', wake_at = least(wake_at, " WFS_TS("$3") "),"
    " lease_owner = NULL, lease_until = NULL"
    " WHERE id = $1::uuid AND status = 'running' AND lease_owner = $2";
/* clang-format on */

static const char run_finish_sql[] =
    "WITH run AS (" WFS_LEASED_RUN "),"
    " done AS (UPDATE workflow_runs r SET status = $3, error = $4, finished_at = now(),"
    "  wake_at = NULL, lease_owner = NULL, lease_until = NULL FROM run WHERE r.id = run.id),"
    " waits AS (DELETE FROM workflow_waits w USING run WHERE w.run_id = run.id)"
    " SELECT count(*) FROM run";

/* Runs a change of run id by owner; HS_ERR_CONFLICT (wfs_lost) when it touched nothing. */
static hs_err_t leased_change(wf_store_t *s, const char *sql, int nparams,
                              const char *const *params, char *errstr, size_t n) {
    if (!wfs_is_uuid(params[0])) return wfs_no_run(params[0], errstr, n);
    if (!params[1]) return hs_fail(HS_ERR_INVALID, errstr, n, "workflow run: no lease owner");
    PGresult *res;
    hs_err_t err = wfs_query(s, sql, nparams, params, &res, errstr, n);
    if (err) return err;
    /* UPDATE reports the rows it touched, SELECT count(*) its count. */
    int64_t touched = PQntuples(res) ? hs_pg_i64(res, 0, 0) : strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return touched ? HS_OK : wfs_lost(s, params[0], params[1], NULL, errstr, n);
}

hs_err_t wf_store_lease_extend(wf_store_t *s, const char *id, const char *owner, int64_t lease_ms,
                               char *errstr, size_t n) {
    if (lease_ms <= 0) return hs_fail(HS_ERR_INVALID, errstr, n, "workflow run: lease <= 0");
    char lease[24];
    wfs_i64(lease_ms, lease);
    const char *params[] = {id, owner, lease};
    return leased_change(s, lease_extend_sql, 3, params, errstr, n);
}

hs_err_t wf_store_run_sleep(wf_store_t *s, const char *id, const char *owner, int64_t wake_ms,
                            char *errstr, size_t n) {
    char wake[24];
    wfs_i64(wake_ms, wake);
    const char *params[] = {id, owner, wake};
    return leased_change(s, run_sleep_sql, 3, params, errstr, n);
}

hs_err_t wf_store_run_finish(wf_store_t *s, const char *id, const char *owner, const char *status,
                             const char *error, char *errstr, size_t n) {
    if (!status || (strcmp(status, "completed") && strcmp(status, "failed")))
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "run %.64s: finish as %.32s (completed or failed)", id,
                       status ? status : "(null)");
    const char *params[] = {id, owner, status, error};
    return leased_change(s, run_finish_sql, 4, params, errstr, n);
}

/* ---- cancel and retry ---- */

static const char run_cancel_sql[] =
    "WITH run AS (UPDATE workflow_runs SET status = 'cancelled', finished_at = now(),"
    "  wake_at = NULL, lease_owner = NULL, lease_until = NULL"
    "  WHERE id = $1::uuid AND status IN ('pending', 'running', 'waiting') RETURNING id),"
    " waits AS (DELETE FROM workflow_waits w USING run WHERE w.run_id = run.id)"
    " SELECT count(*) FROM run";

/* A timed-out run gets its whole timeout again. Completed steps stay: they never run twice. */
static const char run_retry_sql[] =
    "WITH run AS (UPDATE workflow_runs SET status = 'pending', error = NULL, finished_at = NULL,"
    "  wake_at = NULL, lease_owner = NULL, lease_until = NULL,"
    "  deadline_at = now() + (deadline_at - created_at)"
    "  WHERE id = $1::uuid AND status IN ('failed', 'cancelled') RETURNING id),"
    " steps AS (DELETE FROM workflow_steps s USING run"
    "  WHERE s.run_id = run.id AND s.status <> 'completed'),"
    " waits AS (DELETE FROM workflow_waits w USING run WHERE w.run_id = run.id)"
    " SELECT count(*) FROM run";

static const char run_status_sql[] = "SELECT status FROM workflow_runs WHERE id = $1::uuid";

/* An admin change of run id; HS_ERR_NOT_FOUND or HS_ERR_CONFLICT (naming its state) when it
 * touched nothing. */
static hs_err_t admin_change(wf_store_t *s, const char *sql, const char *id, const char *verb,
                             char *errstr, size_t n) {
    if (!wfs_is_uuid(id)) return wfs_no_run(id, errstr, n);
    const char *params[] = {id};
    PGresult *res;
    hs_err_t err = wfs_query(s, sql, 1, params, &res, errstr, n);
    if (err) return err;
    int64_t touched = hs_pg_i64(res, 0, 0);
    PQclear(res);
    if (touched) return HS_OK;
    err = wfs_query(s, run_status_sql, 1, params, &res, errstr, n);
    if (err) return err;
    if (!PQntuples(res))
        err = wfs_no_run(id, errstr, n);
    else
        err = hs_fail(HS_ERR_CONFLICT, errstr, n, "run %s is %s: cannot %s it", id,
                      PQgetvalue(res, 0, 0), verb);
    PQclear(res);
    return err;
}

hs_err_t wf_store_run_cancel(wf_store_t *s, const char *id, char *errstr, size_t n) {
    return admin_change(s, run_cancel_sql, id, "cancel", errstr, n);
}

hs_err_t wf_store_run_retry(wf_store_t *s, const char *id, char *errstr, size_t n) {
    return admin_change(s, run_retry_sql, id, "retry", errstr, n);
}
