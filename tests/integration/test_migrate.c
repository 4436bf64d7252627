/* Migrations against the stack's Postgres, in a private database so the stack's own is untouched.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hs_embedded.h"
#include "hs_pg.h"
#include "test_db.h"

static char err[512];
static char dsn[512];

static void setup(void) {
    test_db_create("hs_migrate_test", dsn, sizeof dsn);
}

static void teardown(void) {
    test_db_drop();
}

static size_t embedded_count(void) {
    size_t n = 0;
    while (hs_embedded_sql[n].path)
        n++;
    return n;
}

Test(migrate, applies_everything_once_then_nothing, .init = setup, .fini = teardown) {
    PGconn *c = hs_pg_connect(dsn, 5, err, sizeof err);
    cr_assert(c, "%s", err);
    int applied = -1;
    cr_assert_eq(hs_pg_migrate(c, &applied, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq((size_t)applied, embedded_count());
    cr_assert_eq(hs_pg_migrate(c, &applied, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(applied, 0);
    hs_pg_migration_t ms[64];
    size_t n = 0;
    cr_assert_eq(hs_pg_migrations(c, ms, 64, &n, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(n, embedded_count());
    for (size_t i = 0; i < n; i++)
        cr_assert(ms[i].applied, "%s not applied", ms[i].name);
    PQfinish(c);
}

Test(migrate, a_changed_migration_is_refused, .init = setup, .fini = teardown) {
    cr_assert(embedded_count() > 0, "no migrations embedded");
    PGconn *c = hs_pg_connect(dsn, 5, err, sizeof err);
    cr_assert(c);
    int applied;
    cr_assert_eq(hs_pg_migrate(c, &applied, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(hs_pg_exec(c, "UPDATE schema_migrations SET checksum = 'x' WHERE version = 1", err,
                            sizeof err),
                 HS_OK, "%s", err);
    cr_assert_eq(hs_pg_migrate(c, &applied, err, sizeof err), HS_ERR_CONFLICT);
    cr_assert(strstr(err, "was changed after it was applied"), "%s", err);
    PQfinish(c);
}

Test(migrate, status_before_any_migration_lists_all_pending, .init = setup, .fini = teardown) {
    PGconn *c = hs_pg_connect(dsn, 5, err, sizeof err);
    cr_assert(c);
    hs_pg_migration_t ms[64];
    size_t n = 0;
    cr_assert_eq(hs_pg_migrations(c, ms, 64, &n, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(n, embedded_count());
    for (size_t i = 0; i < n; i++)
        cr_assert_not(ms[i].applied);
    PQfinish(c);
}

Test(migrate, unreachable_server_names_host_and_port) {
    PGconn *c = hs_pg_connect("postgresql://127.0.0.1:1/none", 2, err, sizeof err);
    cr_assert_null(c);
    cr_assert(strstr(err, "postgres at 127.0.0.1:1/none:"), "%s", err);
}
