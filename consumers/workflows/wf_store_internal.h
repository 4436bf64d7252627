/* Shared between the files of the workflow store (wf_store.c: connection and definition
 * versions, wf_store_runs.c: runs and claiming, wf_store_steps.c: step runs and event waits,
 * wf_store_query.c: admin queries): the store struct and the statement helpers. Not part of the
 * store's API. */
#ifndef WF_STORE_INTERNAL_H
#define WF_STORE_INTERNAL_H

#include <libpq-fe.h>

#include "hs_pg.h"
#include "wf_store.h"

/* @locality: one thread at a time (wf_store.h). */
struct wf_store {
    PGconn *conn; /* NULL after the connection broke: the next call reconnects */
    char *dsn;
    int timeout_s;
    int in_tx;       /* between wfs_begin and wfs_commit / wfs_rollback */
    int claimed;     /* a claim was made on this store: its owner's earlier runs are taken */
    hs_pg_stmts_t stmts; /* prepared on conn; zeroed with every new connection */
    char where[256]; /* "HOST:PORT/DB", named by every error */
};

/* Runs sql (reconnecting first when the connection broke outside a transaction). On HS_OK *out
 * is a new result (caller PQclear); else the error is mapped from the SQLSTATE
 * (hs_pg_sqlstate_err) and errstr names the server. */
hs_err_t wfs_query(wf_store_t *s, const char *sql, int nparams, const char *const *params,
                   PGresult **out, char *errstr, size_t n);
/* The same for a statement whose rows are not needed; *rows (may be NULL) receives how many
 * rows it touched. */
hs_err_t wfs_exec(wf_store_t *s, const char *sql, int nparams, const char *const *params,
                  int64_t *rows, char *errstr, size_t n);

/* Transactions: begin, commit (HS_OK or the error, rolled back), roll back (best effort). */
hs_err_t wfs_begin(wf_store_t *s, char *errstr, size_t n);
hs_err_t wfs_commit(wf_store_t *s, char *errstr, size_t n);
void wfs_rollback(wf_store_t *s);
/* Inside a transaction: takes the advisory lock named key until the transaction ends. */
hs_err_t wfs_lock(wf_store_t *s, const char *key, char *errstr, size_t n);
/* Ends a transaction: commits when err is HS_OK, else rolls back; returns the first error. */
hs_err_t wfs_end(wf_store_t *s, hs_err_t err, char *errstr, size_t n);

/* After a change of run id by owner touched nothing: why. HS_ERR_NOT_FOUND (no such run), else
 * HS_ERR_CONFLICT naming the run's state or the lease's owner, or otherwise when owner still
 * holds the run (NULL: "run changed"). */
hs_err_t wfs_lost(wf_store_t *s, const char *id, const char *owner, const char *otherwise,
                  char *errstr, size_t n);
/* 1 when id is a UUID in text form. */
int wfs_is_uuid(const char *id);
/* HS_ERR_NOT_FOUND "run <id> not found" (ids that are not UUIDs are not found either). */
hs_err_t wfs_no_run(const char *id, char *errstr, size_t n);
/* Writes v in decimal into out (a statement parameter). */
void wfs_i64(int64_t v, char out[24]);
/* json as compact text (any value; NULL → NULL): a new string the caller frees. */
char *wfs_json_text(const json_t *v);

/* SQL fragment: a timestamptz from a parameter holding unix milliseconds (NULL → NULL). */
#define WFS_TS(param) "to_timestamp(" param "::bigint / 1000.0)"
/* SQL fragment: a timestamptz as RFC 3339 UTC text with milliseconds (NULL → NULL). */
#define WFS_RFC3339(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
/* SQL fragment: the run $1 while owner $2 holds its lease, locked for the change. */
#define WFS_LEASED_RUN                                                                             \
    "SELECT id FROM workflow_runs WHERE id = $1::uuid AND status = 'running'"                      \
    " AND lease_owner = $2 FOR NO KEY UPDATE"

#endif
