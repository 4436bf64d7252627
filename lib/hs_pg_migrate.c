/* Migrations: the embedded schemas/sql/NNN_name.sql files, applied in order (see hs_pg.h). */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_embedded.h"
#include "hs_log.h"
#include "hs_pg.h"

/* Any constant works; it only has to be the same for every hookstream process. */
#define MIGRATE_LOCK_KEY "7236412001"

static const char create_table[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

static void sha256_hex(const char *text, char out[65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int version_of(const char *name) {
    return (int)strtol(name, NULL, 10);
}

/* Returns the recorded checksum of version (new string, caller frees) or NULL when absent. */
static hs_err_t recorded(PGconn *conn, int version, char **checksum, char *errstr, size_t n) {
    char v[16];
    snprintf(v, sizeof v, "%d", version);
    const char *params[] = {v};
    PGresult *res = hs_pg_query(conn, "SELECT checksum FROM schema_migrations WHERE version = $1",
                                1, params, errstr, n);
    if (!res) return HS_ERR_UNAVAILABLE;
    *checksum = PQntuples(res) ? strdup(PQgetvalue(res, 0, 0)) : NULL;
    PQclear(res);
    return HS_OK;
}

static hs_err_t apply_one(PGconn *conn, const hs_embedded_file_t *f, const char *sum, char *errstr,
                          size_t n) {
    char v[16], msg[512];
    snprintf(v, sizeof v, "%d", version_of(f->path));
    const char *params[] = {v, f->path, sum};
    if (hs_pg_exec(conn, "BEGIN", errstr, n)) return HS_ERR_UNAVAILABLE;
    PGresult *res = PQexec(conn, f->text);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(res));
        msg[strcspn(msg, "\n")] = 0;
        PQclear(res);
        hs_pg_exec(conn, "ROLLBACK", NULL, 0);
        return hs_fail(HS_ERR_INVALID, errstr, n, "migration %s: %s", f->path, msg);
    }
    PQclear(res);
    res = hs_pg_query(conn,
                      "INSERT INTO schema_migrations (version, name, checksum) "
                      "VALUES ($1, $2, $3)",
                      3, params, errstr, n);
    if (!res) {
        hs_pg_exec(conn, "ROLLBACK", NULL, 0);
        return HS_ERR_UNAVAILABLE;
    }
    PQclear(res);
    return hs_pg_exec(conn, "COMMIT", errstr, n) ? HS_ERR_UNAVAILABLE : HS_OK;
}

static hs_err_t migrate_locked(PGconn *conn, int *applied, char *errstr, size_t n) {
    for (const hs_embedded_file_t *f = hs_embedded_sql; f->path; f++) {
        char sum[65], *have = NULL;
        sha256_hex(f->text, sum);
        hs_err_t err = recorded(conn, version_of(f->path), &have, errstr, n);
        if (err) return err;
        if (have) {
            int same = strcmp(have, sum) == 0;
            free(have);
            if (!same)
                return hs_fail(HS_ERR_CONFLICT, errstr, n,
                               "migration %s was changed after it was applied (checksum differs)",
                               f->path);
            continue;
        }
        if ((err = apply_one(conn, f, sum, errstr, n))) return err;
        hs_log(HS_LOG_INFO, "migration applied", "{s:s}", "name", f->path);
        (*applied)++;
    }
    return HS_OK;
}

hs_err_t hs_pg_migrate(PGconn *conn, int *applied, char *errstr, size_t n) {
    *applied = 0;
    if (hs_pg_exec(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", errstr, n))
        return HS_ERR_UNAVAILABLE;
    hs_err_t err = hs_pg_exec(conn, create_table, errstr, n) ? HS_ERR_UNAVAILABLE : HS_OK;
    if (!err) err = migrate_locked(conn, applied, errstr, n);
    hs_pg_exec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", NULL, 0);
    return err;
}

hs_err_t hs_pg_migrations(PGconn *conn, hs_pg_migration_t *out, size_t max, size_t *count,
                          char *errstr, size_t n) {
    *count = 0;
    PGresult *res = hs_pg_query(conn, "SELECT to_regclass('schema_migrations') IS NOT NULL", 0,
                                NULL, errstr, n);
    if (!res) return HS_ERR_UNAVAILABLE;
    int have_table = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    for (const hs_embedded_file_t *f = hs_embedded_sql; f->path && *count < max; f++) {
        char *sum = NULL;
        if (have_table && recorded(conn, version_of(f->path), &sum, errstr, n))
            return HS_ERR_UNAVAILABLE;
        out[*count] = (hs_pg_migration_t){version_of(f->path), f->path, sum != NULL};
        free(sum);
        (*count)++;
    }
    return HS_OK;
}
