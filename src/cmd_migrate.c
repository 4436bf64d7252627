#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "hs_pg.h"

static const char usage[] =
    "usage: hookstream migrate [options]\n\n"
    "Applies the Postgres migrations built into this binary (schemas/sql/NNN_name.sql) that the\n"
    "database at postgres.dsn has not applied yet, in order, each in its own transaction.\n"
    "Running it again applies nothing. A migration changed after it was applied is refused.\n\n"
    "options:\n"
    "      --dsn DSN         Postgres connection string (postgres.dsn)\n"
    "      --status          list the migrations and whether each is applied; change "
    "nothing\n" CLI_COMMON_HELP;

static int show_status(PGconn *conn) {
    hs_pg_migration_t ms[256];
    size_t n = 0;
    char err[512];
    if (hs_pg_migrations(conn, ms, 256, &n, err, sizeof err)) {
        fprintf(stderr, "hookstream migrate: %s\n", err);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        printf("%-8s %s\n", ms[i].applied ? "applied" : "pending", ms[i].name);
    return 0;
}

int cmd_migrate(int argc, char **argv) {
    static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                         {"dsn", required_argument, 0, 'd'},
                                         {"status", no_argument, 0, 's'},
                                         {0, 0, 0, 0}};
    cli_common_t common = {0};
    int opt, status = 0;
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
        if (cli_common_opt(&common, opt, optarg)) continue;
        switch (opt) {
        case 'h':
            return fputs(usage, stdout), 0;
        case 'd':
            cli_set(&common, "postgres.dsn", optarg);
            break;
        case 's':
            status = 1;
            break;
        default:
            return cli_usage_error("migrate");
        }
    }
    if (optind < argc) return cli_usage_error("migrate");
    hs_config_t *cfg = cli_config_load(&common, "migrate");
    char err[512];
    PGconn *conn =
        hs_pg_connect(hs_config_str(cfg, "postgres.dsn"),
                      (int)hs_config_int(cfg, "postgres.connect_timeout_s"), err, sizeof err);
    hs_config_destroy(cfg);
    if (!conn) {
        fprintf(stderr, "hookstream migrate: %s\n", err);
        return 1;
    }
    int rc = 0, applied = 0;
    if (status) {
        rc = show_status(conn);
    } else if (hs_pg_migrate(conn, &applied, err, sizeof err)) {
        fprintf(stderr, "hookstream migrate: %s\n", err);
        rc = 1;
    } else if (applied) {
        printf("applied %d migration%s\n", applied, applied == 1 ? "" : "s");
    } else {
        puts("database is up to date");
    }
    PQfinish(conn);
    return rc;
}
