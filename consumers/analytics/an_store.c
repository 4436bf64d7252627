/* Analytics in Postgres (see an_store.h). */
#include "an_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_pg.h"

struct an_store {
    char *dsn;
    int timeout_s;
    PGconn *conn;       /* NULL while disconnected */
    an_buf_t sql, rows; /* reused by every flush */
};

/* Session settings every statement relies on: literals with plain quotes, UTC, the temp table. */
static hs_err_t session_setup(an_store_t *s, char *errstr, size_t n) {
    static const char *const setup[] = {
        "SET standard_conforming_strings = on",
        "SET TIME ZONE 'UTC'",
        /* a statement running longer fails the flush (retried): a hung server never stalls
         * the flusher for good */
        "SET statement_timeout = 30000",
    };
    for (size_t i = 0; i < sizeof setup / sizeof setup[0]; i++)
        if (hs_pg_exec(s->conn, setup[i], errstr, n)) return HS_ERR_UNAVAILABLE;
    if (hs_pg_exec(s->conn, an_sql_delta_create(), errstr, n)) return HS_ERR_UNAVAILABLE;
    return hs_pg_exec(s->conn, an_sql_stock_create(), errstr, n);
}

static void disconnect(an_store_t *s) {
    if (s->conn) PQfinish(s->conn);
    s->conn = NULL;
}

static hs_err_t connected(an_store_t *s, char *errstr, size_t n) {
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK) return HS_OK;
    disconnect(s);
    if (!(s->conn = hs_pg_connect(s->dsn, s->timeout_s, errstr, n))) return HS_ERR_UNAVAILABLE;
    if (session_setup(s, errstr, n) == HS_OK) return HS_OK;
    disconnect(s);
    return HS_ERR_UNAVAILABLE;
}

an_store_t *an_store_new(const char *dsn, int connect_timeout_s, char *errstr, size_t errstr_size) {
    an_store_t *s = calloc(1, sizeof *s);
    if (!s || !(s->dsn = strdup(dsn))) abort();
    s->timeout_s = connect_timeout_s;
    int applied = 0;
    if (!(s->conn = hs_pg_connect(dsn, connect_timeout_s, errstr, errstr_size)) ||
        hs_pg_migrate(s->conn, &applied, errstr, errstr_size) ||
        session_setup(s, errstr, errstr_size)) {
        an_store_destroy(s);
        return NULL;
    }
    return s;
}

void an_store_destroy(an_store_t *s) {
    if (!s) return;
    disconnect(s);
    an_buf_free(&s->sql);
    an_buf_free(&s->rows);
    free(s->dsn);
    free(s);
}

hs_err_t an_store_offsets(an_store_t *s, const char *group, an_offset_t *offs, size_t n,
                          char *errstr, size_t errstr_size) {
    if (connected(s, errstr, errstr_size)) return HS_ERR_UNAVAILABLE;
    const char *params[] = {group};
    PGresult *res = hs_pg_query(s->conn, an_sql_offsets_read, 1, params, errstr, errstr_size);
    if (!res) {
        disconnect(s);
        return HS_ERR_UNAVAILABLE;
    }
    for (size_t i = 0; i < n; i++) {
        offs[i].expected = -1;
        for (int r = 0; r < PQntuples(res); r++)
            if (!strcmp(PQgetvalue(res, r, 0), offs[i].topic) &&
                strtol(PQgetvalue(res, r, 1), NULL, 10) == offs[i].partition)
                offs[i].expected = hs_pg_i64(res, r, 2);
    }
    PQclear(res);
    return HS_OK;
}

/* COPY FROM STDIN of text rows. */
static hs_err_t copy_in(an_store_t *s, const char *stmt, const an_buf_t *rows, const char *what,
                        char *errstr, size_t n) {
    PGresult *res = PQexec(s->conn, stmt);
    int ok = PQresultStatus(res) == PGRES_COPY_IN;
    PQclear(res);
    if (ok)
        ok = PQputCopyData(s->conn, rows->s, (int)rows->len) == 1 &&
             PQputCopyEnd(s->conn, NULL) == 1;
    res = PQgetResult(s->conn);
    ok = ok && PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "postgres: copy of the %s: %s", what,
                PQerrorMessage(s->conn));
    PQclear(res);
    while ((res = PQgetResult(s->conn)))
        PQclear(res);
    return ok ? HS_OK : HS_ERR_UNAVAILABLE;
}

static hs_err_t write_windows(an_store_t *s, const an_agg_t *agg, char *errstr, size_t n) {
    size_t nw;
    const an_window_t *w = an_agg_windows(agg, &nw);
    if (!nw) return HS_OK;
    s->rows.len = 0;
    an_sql_copy_rows(&s->rows, w, nw);
    if (copy_in(s, an_sql_delta_copy(), &s->rows, "windows", errstr, n) ||
        hs_pg_exec(s->conn, an_sql_upsert_minute(), errstr, n) ||
        hs_pg_exec(s->conn, an_sql_upsert_hourly(), errstr, n))
        return HS_ERR_UNAVAILABLE;
    return HS_OK;
}

static hs_err_t write_stock(an_store_t *s, const an_agg_t *agg, char *errstr, size_t n) {
    size_t nl, nv;
    const an_stock_t *low = an_agg_stock_low(agg, &nl);
    const an_stock_t *lv = an_agg_stock_levels(agg, &nv);
    if (!nl && !nv) return HS_OK;
    s->rows.len = 0;
    an_sql_stock_rows(&s->rows, 1, low, nl);
    an_sql_stock_rows(&s->rows, 0, lv, nv);
    if (copy_in(s, an_sql_stock_copy(), &s->rows, "stock levels", errstr, n) ||
        (nl && hs_pg_exec(s->conn, an_sql_stock_low, errstr, n)) ||
        (nv && hs_pg_exec(s->conn, an_sql_stock_levels, errstr, n)))
        return HS_ERR_UNAVAILABLE;
    return HS_OK;
}

/* Moves the offsets; HS_ERR_CONFLICT when another member moved one first. */
static hs_err_t move_offsets(an_store_t *s, const char *group, const an_offset_t *offs, size_t n,
                             char *errstr, size_t errstr_size) {
    if (!n) return HS_OK;
    s->sql.len = 0;
    an_sql_offsets(&s->sql, group, offs, n);
    PGresult *res = hs_pg_query(s->conn, s->sql.s, 0, NULL, errstr, errstr_size);
    if (!res) return HS_ERR_UNAVAILABLE;
    int64_t moved = hs_pg_i64(res, 0, 0);
    PQclear(res);
    if (moved == (int64_t)n) return HS_OK;
    return hs_fail(HS_ERR_CONFLICT, errstr, errstr_size,
                   "group %s: %lld of %zu stored offsets were moved by another member", group,
                   (long long)((int64_t)n - moved), n);
}

hs_err_t an_store_flush(an_store_t *s, const char *group, const an_agg_t *agg,
                        const an_offset_t *offs, size_t n, char *errstr, size_t errstr_size) {
    if (connected(s, errstr, errstr_size)) return HS_ERR_UNAVAILABLE;
    hs_err_t e = hs_pg_exec(s->conn, "BEGIN", errstr, errstr_size);
    /* the offsets first: they lock the group's rows, and a lost race writes nothing else */
    if (!e) e = move_offsets(s, group, offs, n, errstr, errstr_size);
    if (!e) e = write_windows(s, agg, errstr, errstr_size);
    if (!e) e = write_stock(s, agg, errstr, errstr_size);
    if (!e) e = hs_pg_exec(s->conn, "COMMIT", errstr, errstr_size);
    if (!e) return HS_OK;
    char ignore[256];
    if (PQstatus(s->conn) != CONNECTION_OK ||
        hs_pg_exec(s->conn, "ROLLBACK", ignore, sizeof ignore) != HS_OK)
        disconnect(s);
    return e == HS_ERR_CONFLICT ? HS_ERR_CONFLICT : HS_ERR_UNAVAILABLE;
}
