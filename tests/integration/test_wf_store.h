/* What the workflow store suites share: a private database per test (setup/teardown), the
 * store on it, and helpers that create and claim runs. Included by test_wf_store*.c only. */
#ifndef TEST_WF_STORE_H
#define TEST_WF_STORE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hs_pg.h"
#include "test_db.h"
#include "wf_store.h"

static char err[512];
static char dsn[512];
static wf_store_t *store;

static inline void setup(void) {
    test_db_create("hs_wf_store", dsn, sizeof dsn);
    PGconn *c = hs_pg_connect(dsn, 5, err, sizeof err);
    cr_assert(c, "%s", err);
    int applied = 0;
    cr_assert_eq(hs_pg_migrate(c, &applied, err, sizeof err), HS_OK, "%s", err);
    PQfinish(c);
    store = wf_store_new(dsn, 5, err, sizeof err);
    cr_assert(store, "%s", err);
}

static inline void teardown(void) {
    wf_store_destroy(store);
    store = NULL;
    test_db_drop();
}

static inline int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first column of the first row of sql, as text (static buffer; "" when NULL). */
static inline const char *sql1(const char *sql) {
    static char out[512];
    PGconn *c = hs_pg_connect(dsn, 5, err, sizeof err);
    cr_assert(c, "%s", err);
    PGresult *res = hs_pg_query(c, sql, 0, NULL, err, sizeof err);
    cr_assert(res, "%s", err);
    cr_assert(PQntuples(res) > 0, "no row: %s", sql);
    snprintf(out, sizeof out, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(c);
    return out;
}

static inline const char *run_status(const char *id) {
    char q[160];
    snprintf(q, sizeof q, "SELECT status FROM workflow_runs WHERE id = '%s'", id);
    return sql1(q);
}

/* Creates a run of workflow with trigger tid and key; returns its id in id. */
static inline void run_new(const char *workflow, const char *tid, const char *key, int max_runs,
                    int max_per_key, char id[37]) {
    json_t *ev =
        json_pack("{s:s, s:s, s:{s:s}}", "id", tid, "type", "order.created", "data", "order", tid);
    wf_run_new_t r = {.workflow = workflow,
                      .version = "v1",
                      .trigger_id = tid,
                      .trigger_type = "order.created",
                      .key = key,
                      .event = ev,
                      .max_runs = max_runs,
                      .max_per_key = max_per_key,
                      .deadline_ms = now_ms() + 3600 * 1000};
    int created = 0;
    cr_assert_eq(wf_store_run_create(store, &r, id, &created, err, sizeof err), HS_OK, "%s", err);
    cr_assert(created);
    json_decref(ev);
}

/* Claims for owner; returns how many runs, their ids in ids (up to 8). */
static inline size_t claim(const char *owner, int64_t lease_ms, char ids[8][37], int *started) {
    wf_run_t *runs = NULL;
    size_t count = 0;
    cr_assert_eq(wf_store_claim(store, owner, lease_ms, 8, &runs, &count, err, sizeof err), HS_OK,
                 "%s", err);
    for (size_t i = 0; i < count && ids; i++)
        memcpy(ids[i], runs[i].id, 37);
    if (count && started) *started = runs[0].started;
    wf_store_runs_free(runs, count);
    return count;
}

/* A run of workflow "w" (trigger tid) claimed by owner: its id in id. */
static inline void claimed_run(const char *owner, const char *tid, char id[37]) {
    char ids[8][37];
    run_new("w", tid, "", 0, 0, id);
    cr_assert_eq(claim(owner, 60000, ids, NULL), 1);
    cr_assert_str_eq(ids[0], id);
}

#endif
