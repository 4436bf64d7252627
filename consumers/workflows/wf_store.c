/* Workflow store: the connection (reconnected after it broke), the statement helpers the other
 * store files share, definition versions and the last scheduled fire. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "wf_store_internal.h"

/* ---- connection and statements ---- */

static hs_err_t connect_now(wf_store_t *s, char *errstr, size_t n) {
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK) return HS_OK;
    PQfinish(s->conn);
    memset(&s->stmts, 0, sizeof s->stmts);
    s->conn = hs_pg_connect(s->dsn, s->timeout_s, errstr, n);
    return s->conn ? HS_OK : HS_ERR_UNAVAILABLE;
}

/* hs_pg_query says "postgres: <reason>"; ours say which server, as hs_pg_connect does. */
static void name_server(const wf_store_t *s, char *errstr, size_t n) {
    static const char prefix[] = "postgres: ";
    if (!errstr || !n || strncmp(errstr, prefix, sizeof prefix - 1)) return;
    char reason[512];
    snprintf(reason, sizeof reason, "%s", errstr + sizeof prefix - 1);
    snprintf(errstr, n, "postgres at %s: %s", s->where, reason);
}

hs_err_t wfs_query(wf_store_t *s, const char *sql, int nparams, const char *const *params,
                   PGresult **out, char *errstr, size_t n) {
    *out = NULL;
    if (!s->in_tx) {
        hs_err_t err = connect_now(s, errstr, n);
        if (err) return err;
    } else if (!s->conn) {
        return hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "postgres at %s: connection lost", s->where);
    }
    *out = hs_pg_query_cached(s->conn, &s->stmts, sql, nparams, params, errstr, n);
    if (*out) return HS_OK;
    name_server(s, errstr, n);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        /* The server went away (restart, terminated backend): reconnect at the next call. */
        PQfinish(s->conn);
        s->conn = NULL;
        return HS_ERR_UNAVAILABLE;
    }
    return hs_pg_sqlstate_err(hs_pg_last_sqlstate());
}

hs_err_t wfs_exec(wf_store_t *s, const char *sql, int nparams, const char *const *params,
                  int64_t *rows, char *errstr, size_t n) {
    PGresult *res;
    hs_err_t err = wfs_query(s, sql, nparams, params, &res, errstr, n);
    if (err) return err;
    if (rows) *rows = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return HS_OK;
}

hs_err_t wfs_begin(wf_store_t *s, char *errstr, size_t n) {
    hs_err_t err = wfs_exec(s, "BEGIN", 0, NULL, NULL, errstr, n);
    if (!err) s->in_tx = 1;
    return err;
}

void wfs_rollback(wf_store_t *s) {
    if (s->in_tx && s->conn) {
        PGresult *res = hs_pg_query(s->conn, "ROLLBACK", 0, NULL, NULL, 0);
        PQclear(res);
    }
    s->in_tx = 0;
}

hs_err_t wfs_commit(wf_store_t *s, char *errstr, size_t n) {
    hs_err_t err = wfs_exec(s, "COMMIT", 0, NULL, NULL, errstr, n);
    if (err) wfs_rollback(s);
    s->in_tx = 0;
    return err;
}

hs_err_t wfs_end(wf_store_t *s, hs_err_t err, char *errstr, size_t n) {
    if (!err) return wfs_commit(s, errstr, n);
    wfs_rollback(s);
    return err;
}

hs_err_t wfs_lock(wf_store_t *s, const char *key, char *errstr, size_t n) {
    const char *params[] = {key};
    return wfs_exec(s, "SELECT pg_advisory_xact_lock(hashtext($1))", 1, params, NULL, errstr, n);
}

static const char run_state_sql[] =
    "SELECT status, coalesce(lease_owner, '') FROM workflow_runs WHERE id = $1::uuid";

hs_err_t wfs_lost(wf_store_t *s, const char *id, const char *owner, const char *otherwise,
                  char *errstr, size_t n) {
    const char *params[] = {id};
    PGresult *res;
    hs_err_t err = wfs_query(s, run_state_sql, 1, params, &res, errstr, n);
    if (err) return err;
    if (!PQntuples(res)) {
        PQclear(res);
        return wfs_no_run(id, errstr, n);
    }
    const char *status = PQgetvalue(res, 0, 0), *holder = PQgetvalue(res, 0, 1);
    if (strcmp(status, "running"))
        err = hs_fail(HS_ERR_CONFLICT, errstr, n, "run %s is %s", id, status);
    else if (strcmp(holder, owner))
        err = hs_fail(HS_ERR_CONFLICT, errstr, n, "run %s: lease lost to %s", id, holder);
    else
        err = hs_fail(HS_ERR_CONFLICT, errstr, n, "run %s: %s", id,
                      otherwise ? otherwise : "run changed");
    PQclear(res);
    return err;
}

int wfs_is_uuid(const char *id) {
    uuid_t u;
    return id && strlen(id) == 36 && uuid_parse(id, u) == 0;
}

hs_err_t wfs_no_run(const char *id, char *errstr, size_t n) {
    return hs_fail(HS_ERR_NOT_FOUND, errstr, n, "run %.64s not found", id ? id : "(null)");
}

void wfs_i64(int64_t v, char out[24]) {
    snprintf(out, 24, "%lld", (long long)v);
}

char *wfs_json_text(const json_t *v) {
    return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

/* ---- lifecycle ---- */

wf_store_t *wf_store_new(const char *dsn, int timeout_s, char *errstr, size_t n) {
    if (!dsn) {
        hs_fail(HS_ERR_INVALID, errstr, n, "workflow store: no postgres DSN");
        return NULL;
    }
    wf_store_t *s = calloc(1, sizeof *s);
    if (!s || !(s->dsn = strdup(dsn))) {
        free(s);
        hs_fail(HS_ERR_INTERNAL, errstr, n, "workflow store: out of memory");
        return NULL;
    }
    s->timeout_s = timeout_s > 0 ? timeout_s : 1;
    hs_pg_describe(dsn, s->where, sizeof s->where);
    if (connect_now(s, errstr, n)) {
        wf_store_destroy(s);
        return NULL;
    }
    return s;
}

void wf_store_destroy(wf_store_t *s) {
    if (!s) return;
    PQfinish(s->conn);
    free(s->dsn);
    free(s);
}

hs_err_t wf_store_ping(wf_store_t *s, char *errstr, size_t n) {
    hs_err_t err = wfs_exec(s, "SELECT 1", 0, NULL, NULL, errstr, n);
    /* A connection the server closed while idle shows only when used: try a new one at once, so
     * readiness does not flap after a Postgres restart. */
    if (err == HS_ERR_UNAVAILABLE && !s->conn)
        err = wfs_exec(s, "SELECT 1", 0, NULL, NULL, errstr, n);
    return err;
}

/* ---- definition versions ---- */

static const char put_version_sql[] =
    "INSERT INTO workflow_versions (workflow, version, definition) VALUES ($1, $2, $3)"
    " ON CONFLICT (workflow, version) DO NOTHING";

static const char get_version_sql[] =
    "SELECT definition FROM workflow_versions WHERE workflow = $1 AND version = $2";

hs_err_t wf_store_put_version(wf_store_t *s, const char *name, const char *version,
                              const char *text, char *errstr, size_t n) {
    if (!name || !*name || !version || !*version || !text)
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "workflow version: name, version and text needed");
    const char *params[] = {name, version, text};
    return wfs_exec(s, put_version_sql, 3, params, NULL, errstr, n);
}

char *wf_store_get_version(wf_store_t *s, const char *name, const char *version, hs_err_t *err,
                           char *errstr, size_t n) {
    if (!name || !version) {
        *err = hs_fail(HS_ERR_INVALID, errstr, n, "workflow version: name and version needed");
        return NULL;
    }
    const char *params[] = {name, version};
    PGresult *res;
    *err = wfs_query(s, get_version_sql, 2, params, &res, errstr, n);
    if (*err) return NULL;
    char *text = NULL;
    if (!PQntuples(res))
        *err = hs_fail(HS_ERR_NOT_FOUND, errstr, n, "workflow %s version %s not recorded", name,
                       version);
    else if (!(text = strdup(PQgetvalue(res, 0, 0))))
        *err = hs_fail(HS_ERR_INTERNAL, errstr, n, "workflow version: out of memory");
    PQclear(res);
    return text;
}

/* ---- schedules ---- */

static const char last_fire_sql[] = "SELECT max(fire_ms) FROM workflow_runs WHERE workflow = $1";

hs_err_t wf_store_last_fire(wf_store_t *s, const char *workflow, int64_t *ms, char *errstr,
                            size_t n) {
    *ms = -1;
    if (!workflow) return hs_fail(HS_ERR_INVALID, errstr, n, "last fire: no workflow");
    const char *params[] = {workflow};
    PGresult *res;
    hs_err_t err = wfs_query(s, last_fire_sql, 1, params, &res, errstr, n);
    if (err) return err;
    if (!PQgetisnull(res, 0, 0)) *ms = hs_pg_i64(res, 0, 0);
    PQclear(res);
    return HS_OK;
}
