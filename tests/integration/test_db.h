/* A private database per test on the stack's Postgres (HS_POSTGRES_DSN), so a suite never
 * touches the stack's own: test_db_create in a Criterion .init, test_db_drop in its .fini. */
#ifndef HS_TEST_DB_H
#define HS_TEST_DB_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hs_pg.h"

static char test_db_name[64];

static PGconn *test_db_admin(void) {
    char e[512];
    const char *base = getenv("HS_POSTGRES_DSN");
    if (!base) cr_skip_test("HS_POSTGRES_DSN is not set (run through ops/test.sh)");
    PGconn *c = hs_pg_connect(base, 5, e, sizeof e);
    cr_assert(c, "%s", e);
    return c;
}

/* Creates <prefix>_<pid>_<n> and writes its DSN (same server, other path) into dsn. */
static inline void test_db_create(const char *prefix, char *dsn, size_t dsn_size) {
    static int seq;
    char sql[160], e[512];
    PGconn *c = test_db_admin();
    snprintf(test_db_name, sizeof test_db_name, "%s_%d_%d", prefix, (int)getpid(), ++seq);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", test_db_name);
    cr_assert_eq(hs_pg_exec(c, sql, e, sizeof e), HS_OK, "%s", e);
    PQfinish(c);
    const char *base = getenv("HS_POSTGRES_DSN");
    const char *slash = strrchr(base, '/');
    snprintf(dsn, dsn_size, "%.*s/%s", (int)(slash - base), base, test_db_name);
}

static inline void test_db_drop(void) {
    if (!test_db_name[0]) return;
    char sql[160], e[512];
    PGconn *c = test_db_admin();
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", test_db_name);
    hs_pg_exec(c, sql, e, sizeof e);
    PQfinish(c);
    test_db_name[0] = '\0';
}

#endif
