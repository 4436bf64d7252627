/* PostgreSQL access over libpq: connecting with a deadline and an error that names the server,
 * running statements with parameters, and applying the embedded migrations
 * (schemas/sql/NNN_name.sql) in order, each in its own transaction, recorded with a checksum.
 * A PGconn is used by one thread at a time. */
#ifndef HS_PG_H
#define HS_PG_H

#include <libpq-fe.h>
#include <stdint.h>

#include "hs_err.h"

/* Returns a new connection (caller PQfinish) or NULL with errstr
 * "postgres at HOST:PORT/DB: <reason>" after at most timeout_s seconds. */
PGconn *hs_pg_connect(const char *dsn, int timeout_s, char *errstr, size_t errstr_size);

/* Writes "HOST:PORT/DB" of dsn (what error messages name) into out. */
void hs_pg_describe(const char *dsn, char *out, size_t out_size);

/* Runs sql with text parameters (nparams may be 0, params NULL). Returns a new result (caller
 * PQclear) when it completed (rows or command), else NULL with errstr naming the SQLSTATE
 * (see hs_pg_last_sqlstate). hs_pg_exec is the same for statements whose rows are not needed. */
PGresult *hs_pg_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
                      char *errstr, size_t errstr_size);
hs_err_t hs_pg_exec(PGconn *conn, const char *sql, char *errstr, size_t errstr_size);

/* The statements prepared on one connection, keyed by the address of their (static) SQL text.
 * Zero it for a new connection. */
#define HS_PG_MAX_STMTS 64
typedef struct {
    const char *sql[HS_PG_MAX_STMTS];
    size_t n;
} hs_pg_stmts_t;

/* hs_pg_query for a statement run often: prepared on conn at its first use (then Postgres
 * parses and plans it once), executed by name after. sql must outlive stmts (a static string);
 * past HS_PG_MAX_STMTS statements it is hs_pg_query. */
PGresult *hs_pg_query_cached(PGconn *conn, hs_pg_stmts_t *stmts, const char *sql, int nparams,
                             const char *const *params, char *errstr, size_t errstr_size);

/* SQLSTATE of the last failed hs_pg_query/hs_pg_exec on this thread ("" when none). */
const char *hs_pg_last_sqlstate(void);

/* The error a failed statement's SQLSTATE stands for: unique violation HS_ERR_CONFLICT, foreign
 * key violation HS_ERR_NOT_FOUND (the referenced row is gone), other integrity constraints and
 * data exceptions (bad number, bad JSON) HS_ERR_INVALID, anything else HS_ERR_UNAVAILABLE. */
hs_err_t hs_pg_sqlstate_err(const char *sqlstate);

/* Value of a bigint column (0 when NULL). */
int64_t hs_pg_i64(const PGresult *res, int row, int col);

/* SQL fragment: epoch milliseconds of a timestamptz column expression. */
#define HS_PG_MS(col) "(extract(epoch FROM " col ") * 1000)::bigint"

/* Migration state of one embedded migration. */
typedef struct {
    int version;
    const char *name; /* "001_registry.sql" (borrowed, static) */
    int applied;      /* 1 when recorded in schema_migrations */
} hs_pg_migration_t;

/* Applies every embedded migration not yet recorded, in version order, each in one transaction
 * with its schema_migrations row, under an advisory lock so concurrent runs serialize. A recorded
 * migration whose checksum differs from the embedded file fails with HS_ERR_CONFLICT.
 * *applied receives how many were applied now. */
hs_err_t hs_pg_migrate(PGconn *conn, int *applied, char *errstr, size_t errstr_size);

/* Fills up to max entries with each embedded migration and whether it is applied; returns the
 * count in *n. */
hs_err_t hs_pg_migrations(PGconn *conn, hs_pg_migration_t *out, size_t max, size_t *n, char *errstr,
                          size_t errstr_size);

#endif
