#include "hs_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_log.h"

static _Thread_local char last_sqlstate[6];

const char *hs_pg_last_sqlstate(void) {
    return last_sqlstate;
}

static const struct {
    const char *prefix; /* SQLSTATE class or full code */
    hs_err_t err;
} sqlstate_errs[] = {
    {"23505", HS_ERR_CONFLICT},  /* unique_violation */
    {"23503", HS_ERR_NOT_FOUND}, /* foreign_key_violation */
    {"23", HS_ERR_INVALID},      /* other integrity constraints (CHECK, NOT NULL) */
    {"22", HS_ERR_INVALID},      /* data exception: bad number, bad JSON */
};

hs_err_t hs_pg_sqlstate_err(const char *state) {
    for (size_t i = 0; i < sizeof sqlstate_errs / sizeof sqlstate_errs[0]; i++)
        if (!strncmp(state, sqlstate_errs[i].prefix, strlen(sqlstate_errs[i].prefix)))
            return sqlstate_errs[i].err;
    return HS_ERR_UNAVAILABLE;
}

int64_t hs_pg_i64(const PGresult *res, int row, int col) {
    if (PQgetisnull(res, row, col)) return 0;
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

void hs_pg_describe(const char *dsn, char *out, size_t size) {
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(dsn, &perr);
    const char *host = "localhost", *port = "5432", *db = "";
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (!o->val || !*o->val) continue;
        if (!strcmp(o->keyword, "host"))
            host = o->val;
        else if (!strcmp(o->keyword, "port"))
            port = o->val;
        else if (!strcmp(o->keyword, "dbname"))
            db = o->val;
    }
    snprintf(out, size, "%s:%s/%s", host, port, db);
    PQconninfoFree(opts);
    PQfreemem(perr);
}

/* libpq messages end with a newline and sometimes span lines; keep the first line. */
static void first_line(const char *msg, char *out, size_t size) {
    size_t len = strcspn(msg, "\n");
    snprintf(out, size, "%.*s", (int)len, msg);
}

/* Server notices ("relation already exists, skipping") are not errors: log them at debug. */
static void log_notice(void *arg, const char *message) {
    (void)arg;
    char line[512];
    first_line(message, line, sizeof line);
    hs_log(HS_LOG_DEBUG, "postgres notice", "{s:s}", "notice", line);
}

PGconn *hs_pg_connect(const char *dsn, int timeout_s, char *errstr, size_t n) {
    char where[256], timeout[16], reason[256];
    hs_pg_describe(dsn, where, sizeof where);
    snprintf(timeout, sizeof timeout, "%d", timeout_s);
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {dsn, timeout, "hookstream", NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (!conn) {
        hs_fail(HS_ERR_INTERNAL, errstr, n, "postgres at %s: out of memory", where);
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        first_line(PQerrorMessage(conn), reason, sizeof reason);
        hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "postgres at %s: %s", where, reason);
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, log_notice, NULL);
    return conn;
}

/* What hs_pg_query and hs_pg_query_cached answer for res (consumed on failure). */
static PGresult *result(PGconn *conn, PGresult *res, char *errstr, size_t n) {
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        last_sqlstate[0] = 0;
        return res;
    }
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(last_sqlstate, sizeof last_sqlstate, "%s", state ? state : "");
    char reason[512];
    first_line(res ? PQresultErrorMessage(res) : PQerrorMessage(conn), reason, sizeof reason);
    hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "postgres: %s%s%s", reason, state ? " SQLSTATE " : "",
            state ? state : "");
    PQclear(res);
    return NULL;
}

PGresult *hs_pg_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
                      char *errstr, size_t n) {
    return result(conn, PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0), errstr, n);
}

PGresult *hs_pg_query_cached(PGconn *conn, hs_pg_stmts_t *stmts, const char *sql, int nparams,
                             const char *const *params, char *errstr, size_t n) {
    size_t i = 0;
    while (i < stmts->n && stmts->sql[i] != sql) i++;
    if (i == HS_PG_MAX_STMTS) return hs_pg_query(conn, sql, nparams, params, errstr, n);
    char name[16];
    snprintf(name, sizeof name, "hs%zu", i);
    if (i == stmts->n) {
        PGresult *prep = result(conn, PQprepare(conn, name, sql, nparams, NULL), errstr, n);
        if (!prep) return NULL;
        PQclear(prep);
        stmts->sql[stmts->n++] = sql;
    }
    return result(conn, PQexecPrepared(conn, name, nparams, params, NULL, NULL, 0), errstr, n);
}

hs_err_t hs_pg_exec(PGconn *conn, const char *sql, char *errstr, size_t n) {
    PGresult *res = hs_pg_query(conn, sql, 0, NULL, errstr, n);
    if (!res) return HS_ERR_UNAVAILABLE;
    PQclear(res);
    return HS_OK;
}
