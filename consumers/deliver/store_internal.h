/* Shared between the files of the delivery store (store.c, store_attempts.c, store_replays.c):
 * the store struct, its connection pool and small row helpers. Not part of the store's API. */
#ifndef DELIVER_STORE_INTERNAL_H
#define DELIVER_STORE_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>

#include "hs_pg.h"
#include "store.h"

typedef struct attempt_writer attempt_writer_t;

/* @locks: pool_mtx guards busy[]; conns[i] belongs to whoever took it with store_conn_get. */
struct deliver_store {
    char *dsn;
    const hs_secretbox_key_t *key; /* borrowed */
    pthread_mutex_t pool_mtx;
    pthread_cond_t pool_cv;
    PGconn **conns;
    int *busy;
    int npool;
    attempt_writer_t *writer;
};

/* Takes a free pool connection (waits for one), reset first when it was broken. */
PGconn *store_conn_get(deliver_store_t *s);
void store_conn_put(deliver_store_t *s, PGconn *c);

/* Runs sql on a pool connection. On HS_OK *out is a new result (caller PQclear); the error is
 * mapped from the SQLSTATE (unique violation: conflict, bad data: invalid, else unavailable). */
hs_err_t store_query(deliver_store_t *s, const char *sql, int nparams, const char *const *params,
                     PGresult **out, char *errstr, size_t n);
/* The same on a connection the caller holds (inside a transaction). */
hs_err_t store_query_on(PGconn *c, const char *sql, int nparams, const char *const *params,
                        PGresult **out, char *errstr, size_t n);

/* Writes prefix + 26 lower-case base32 characters of a time-ordered random UUID into out. */
void store_new_id(const char *prefix, char out[DELIVER_ID_LEN]);
/* Formats epoch milliseconds as RFC 3339 UTC with milliseconds ("2024-05-01T12:00:00.000Z"). */
/* Value of a bigint column (0 when NULL): hs_pg_i64 under deliver's name. */
#define store_i64 hs_pg_i64
/* Copies a column into a fixed buffer, NUL-terminated (cut at size - 1 bytes). */
void store_copy(const PGresult *res, int row, int col, char *out, size_t size);

/* Attempt writer (store_attempts.c): started by deliver_store_new, stopped by destroy. */
attempt_writer_t *attempt_writer_new(const char *dsn, char *errstr, size_t n);
void attempt_writer_destroy(attempt_writer_t *w);

/* SQL fragment: epoch milliseconds of a timestamptz column expression (HS_PG_MS). */
#define STORE_MS(col) HS_PG_MS(col)

#endif
