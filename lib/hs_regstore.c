/* Registry store over libpq. Every public function takes the mutex, makes sure
 * the connection is up (one reconnect attempt), and answers in the Confluent
 * JSON shapes so the server can pass results through and the client's local
 * backend sees exactly what the HTTP backend sees. */
#include "hs_regstore.h"

#include <avro.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_log.h"
#include "hs_pg.h"

/* Key space of the per-subject advisory lock (pg_advisory_xact_lock(int, int));
 * any constant works as long as every hookstream process uses the same one. */
#define SUBJECT_LOCK_CLASS "72364"

struct hs_regstore {
    pthread_mutex_t mtx; /* @locks: conn */
    PGconn *conn;
    hs_compat_mode_t default_mode;
    char where[320]; /* "postgres at HOST:PORT/DB" */
};

/* Sets *code and errstr; returns err. */
__attribute__((format(printf, 6, 7))) static hs_err_t
fail(int *code, int c, hs_err_t err, char *errstr, size_t n, const char *fmt, ...) {
    va_list ap;
    if (code) *code = c;
    va_start(ap, fmt);
    if (errstr && n) vsnprintf(errstr, n, fmt, ap);
    va_end(ap);
    return err;
}

/* A store (Postgres) failure: errstr was filled by hs_pg; sets the code. */
static hs_err_t store_fail(int *code) {
    if (code) *code = HS_REG_STORE_ERROR;
    return HS_ERR_UNAVAILABLE;
}

static int32_t pg_int(const PGresult *res, int row, int col) {
    return (int32_t)strtol(PQgetvalue(res, row, col), NULL, 10);
}

static const char *pg_bool(int v) {
    return v ? "true" : "false";
}

/* Server notices ("relation already exists, skipping") are not errors: keep them off stderr,
 * where our JSON log lines go. */
static void quiet_notice(void *opaque, const char *message) {
    (void)opaque;
    (void)message;
}

hs_regstore_t *hs_regstore_new(const char *dsn, int timeout_s, hs_compat_mode_t default_mode,
                               char *errstr, size_t n) {
    hs_regstore_t *s = calloc(1, sizeof *s);
    if (!s) {
        hs_fail(HS_ERR_INTERNAL, errstr, n, "registry store: out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mtx, NULL);
    s->default_mode = default_mode;
    char where[256], why[512];
    hs_pg_describe(dsn, where, sizeof where);
    snprintf(s->where, sizeof s->where, "postgres at %s", where);
    int applied = 0;
    s->conn = hs_pg_connect(dsn, timeout_s, errstr, n);
    if (!s->conn) {
        hs_regstore_destroy(s);
        return NULL;
    }
    PQsetNoticeProcessor(s->conn, quiet_notice, NULL);
    if (hs_pg_migrate(s->conn, &applied, why, sizeof why)) {
        hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "%s: %s", s->where, why);
        hs_regstore_destroy(s);
        return NULL;
    }
    if (applied) hs_log(HS_LOG_INFO, "migrations applied", "{s:i}", "count", applied);
    return s;
}

void hs_regstore_destroy(hs_regstore_t *s) {
    if (!s) return;
    if (s->conn) PQfinish(s->conn);
    pthread_mutex_destroy(&s->mtx);
    free(s);
}

const char *hs_regstore_describe(const hs_regstore_t *s) {
    return s->where;
}

/* Locks s and makes sure the connection is up; on failure s is left unlocked.
 */
static hs_err_t enter(hs_regstore_t *s, int *code, char *errstr, size_t n) {
    pthread_mutex_lock(&s->mtx);
    if (PQstatus(s->conn) == CONNECTION_OK) return HS_OK;
    PQreset(s->conn);
    if (PQstatus(s->conn) == CONNECTION_OK) return HS_OK;
    char reason[256];
    snprintf(reason, sizeof reason, "%s", PQerrorMessage(s->conn));
    reason[strcspn(reason, "\n")] = 0;
    pthread_mutex_unlock(&s->mtx);
    return fail(code, HS_REG_STORE_ERROR, HS_ERR_UNAVAILABLE, errstr, n, "%s: %s", s->where,
                reason);
}

static void leave(hs_regstore_t *s) {
    pthread_mutex_unlock(&s->mtx);
}

#define ENTER(s, code, errstr, n)                                                                  \
    do {                                                                                           \
        hs_err_t enter_err_ = enter(s, code, errstr, n);                                           \
        if (enter_err_) return enter_err_;                                                         \
    } while (0)

static PGresult *query(hs_regstore_t *s, const char *sql, int np, const char *const *params,
                       int *code, char *errstr, size_t n) {
    PGresult *res = hs_pg_query(s->conn, sql, np, params, errstr, n);
    if (!res) store_fail(code);
    return res;
}

/* Runs sql and returns the first column of every row as a JSON array (ints or
 * strings). */
static hs_err_t column(hs_regstore_t *s, const char *sql, int np, const char *const *params,
                       int ints, json_t **out, int *code, char *errstr, size_t n) {
    PGresult *res = query(s, sql, np, params, code, errstr, n);
    if (!res) return HS_ERR_UNAVAILABLE;
    *out = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(*out, ints ? json_integer(pg_int(res, i, 0))
                                         : json_string(PQgetvalue(res, i, 0)));
    PQclear(res);
    return HS_OK;
}

/* Whether subject has a version (live only unless deleted != 0); -1 on a store
 * error. */
static int subject_exists(hs_regstore_t *s, const char *subject, int deleted, int *code,
                          char *errstr, size_t n) {
    const char *p[] = {subject, pg_bool(deleted)};
    PGresult *res = query(s,
                          "SELECT 1 FROM registry_subject_versions WHERE subject = $1 AND "
                          "($2::bool OR NOT deleted) LIMIT 1",
                          2, p, code, errstr, n);
    if (!res) return -1;
    int found = PQntuples(res) > 0;
    PQclear(res);
    return found;
}

static hs_err_t subject_not_found(const char *subject, int *code, char *errstr, size_t n) {
    return fail(code, HS_REG_SUBJECT_NOT_FOUND, HS_ERR_NOT_FOUND, errstr, n,
                "Subject '%s' not found.", subject);
}

hs_err_t hs_regstore_ping(hs_regstore_t *s, char *errstr, size_t n) {
    ENTER(s, NULL, errstr, n);
    PGresult *res = query(s, "SELECT 1", 0, NULL, NULL, errstr, n);
    leave(s);
    PQclear(res);
    return res ? HS_OK : HS_ERR_UNAVAILABLE;
}

hs_err_t hs_regstore_parse_version(const char *text, int32_t *version, int *code, char *errstr,
                                   size_t n) {
    if (text && (!strcmp(text, "latest") || !strcmp(text, "-1"))) {
        *version = HS_REG_LATEST;
        return HS_OK;
    }
    char *end = NULL;
    errno = 0;
    long v = text ? strtol(text, &end, 10) : 0;
    if (!text || !*text || *end || errno || v < 1 || v > INT32_MAX)
        return fail(code, HS_REG_INVALID_VERSION, HS_ERR_INVALID, errstr, n,
                    "The specified version '%s' is not a valid version id. Allowed values are "
                    "between [1, 2^31-1] and the string \"latest\"",
                    text ? text : "");
    *version = (int32_t)v;
    return HS_OK;
}

/* The text stored for a schema (compact, key order kept) and its canonical form
 * (keys sorted) with the SHA-256 of the canonical form, which makes ids
 * whitespace- and key-order-insensitive. */
typedef struct {
    char *text, *canonical;
    char fingerprint[65];
} canon_t;

static void canon_free(canon_t *c) {
    free(c->text);
    free(c->canonical);
}

/* Validates schema with our resolver's parser and with avro-c (what producers
 * encode with). */
static hs_err_t canonicalize(const char *schema, canon_t *c, int *code, char *errstr, size_t n) {
    char why[768];
    *c = (canon_t){0};
    if (hs_compat_check(HS_COMPAT_NONE, schema, NULL, 0, why, sizeof why))
        return fail(code, HS_REG_INVALID_SCHEMA, HS_ERR_INVALID, errstr, n, "Invalid schema: %s",
                    why);
    avro_schema_t raw = NULL;
    if (avro_schema_from_json_length(schema, strlen(schema), &raw))
        return fail(code, HS_REG_INVALID_SCHEMA, HS_ERR_INVALID, errstr, n,
                    "Invalid schema: avro: %s", avro_strerror());
    avro_schema_decref(raw);
    json_t *j = json_loads(schema, JSON_DECODE_ANY, NULL);
    c->text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    c->canonical = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    json_decref(j);
    if (!c->text || !c->canonical) {
        canon_free(c);
        return fail(code, HS_REG_STORE_ERROR, HS_ERR_INTERNAL, errstr, n, "out of memory");
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(c->canonical, strlen(c->canonical), md, &len, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < len && i < 32; i++)
        snprintf(c->fingerprint + 2 * i, 3, "%02x", md[i]);
    return HS_OK;
}

/* {"subject","version","id","schema"} from a row (version, id, schema). */
static json_t *version_json(const char *subject, const PGresult *res, int row) {
    return json_pack("{s:s, s:i, s:i, s:s}", "subject", subject, "version", pg_int(res, row, 0),
                     "id", pg_int(res, row, 1), "schema", PQgetvalue(res, row, 2));
}

static hs_err_t mode_locked(hs_regstore_t *s, const char *subject, int fallback,
                            hs_compat_mode_t *mode, int *code, char *errstr, size_t n) {
    const char *p[] = {subject ? subject : ""};
    PGresult *res = query(s,
                          "SELECT subject, compatibility FROM registry_config WHERE subject = $1 "
                          "OR subject = '' ORDER BY subject DESC",
                          1, p, code, errstr, n);
    if (!res) return HS_ERR_UNAVAILABLE;
    int own = PQntuples(res) > 0 && !strcmp(PQgetvalue(res, 0, 0), p[0]);
    int global = PQntuples(res) > 0 && !*PQgetvalue(res, PQntuples(res) - 1, 0);
    int m = own      ? hs_compat_mode_parse(PQgetvalue(res, 0, 1))
            : global ? hs_compat_mode_parse(PQgetvalue(res, PQntuples(res) - 1, 1))
                     : (int)s->default_mode;
    PQclear(res);
    if (*p[0] && !own && !fallback)
        return fail(code, HS_REG_SUBJECT_CONFIG_NOT_FOUND, HS_ERR_NOT_FOUND, errstr, n,
                    "Subject '%s' does not have subject-level compatibility configured", p[0]);
    *mode = m < 0 ? s->default_mode : (hs_compat_mode_t)m;
    return HS_OK;
}

static void free_texts(char **texts, size_t count) {
    for (size_t i = 0; texts && i < count; i++)
        free(texts[i]);
    free(texts);
}

/* Schema texts of subject's live versions, oldest first, or only of `version`
 * when it is not HS_REG_LATEST (a new array: caller frees with free_texts). */
static hs_err_t texts_of(hs_regstore_t *s, const char *subject, int32_t version, char ***texts,
                         size_t *count, int *code, char *errstr, size_t n) {
    char v[16];
    snprintf(v, sizeof v, "%d", (int)version);
    const char *p[] = {subject, v};
    PGresult *res = query(s,
                          "SELECT s.schema FROM registry_subject_versions v JOIN registry_schemas "
                          "s ON s.id = v.schema_id WHERE v.subject = $1 AND NOT v.deleted AND "
                          "($2::int < 0 OR v.version = $2::int) ORDER BY v.version",
                          2, p, code, errstr, n);
    if (!res) return HS_ERR_UNAVAILABLE;
    *count = (size_t)PQntuples(res);
    char **t = calloc(*count + 1, sizeof *t);
    int oom = !t;
    for (size_t i = 0; !oom && i < *count; i++)
        oom = !(t[i] = strdup(PQgetvalue(res, (int)i, 0)));
    PQclear(res);
    if (oom) {
        free_texts(t, *count);
        return fail(code, HS_REG_STORE_ERROR, HS_ERR_INTERNAL, errstr, n, "out of memory");
    }
    *texts = t;
    return HS_OK;
}

/* The id of c, inserting the schema if it is new. The id sequence is only drawn when no row
 * exists; a concurrent insert of the same schema makes ours do nothing, and then the row is
 * read by a second statement, whose snapshot includes the other transaction's commit. */
static hs_err_t schema_id(hs_regstore_t *s, const canon_t *c, int32_t *id, int *code, char *errstr,
                          size_t n) {
    const char *p[] = {c->text, c->canonical, c->fingerprint};
    for (int attempt = 0; attempt < 2; attempt++) {
        PGresult *res = query(s,
                              "WITH ins AS (INSERT INTO registry_schemas (schema, canonical,"
                              " fingerprint) SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM"
                              " registry_schemas WHERE fingerprint = $3) ON CONFLICT (fingerprint)"
                              " DO NOTHING RETURNING id) SELECT id FROM ins UNION ALL"
                              " SELECT id FROM registry_schemas WHERE fingerprint = $3 LIMIT 1",
                              3, p, code, errstr, n);
        if (!res) return HS_ERR_UNAVAILABLE;
        int found = PQntuples(res) > 0;
        if (found) *id = pg_int(res, 0, 0);
        PQclear(res);
        if (found) return HS_OK;
    }
    return fail(code, HS_REG_STORE_ERROR, HS_ERR_INTERNAL, errstr, n,
                "schema %.16s... was neither inserted nor found", c->fingerprint);
}

/* The registration transaction (the caller begins it, commits on HS_OK, else
 * rolls back). */
static hs_err_t register_tx(hs_regstore_t *s, const char *subject, const canon_t *c, int32_t *id,
                            int *code, char *errstr, size_t n) {
    const char *p2[] = {subject, c->fingerprint};
    PGresult *res = query(s, "SELECT pg_advisory_xact_lock(" SUBJECT_LOCK_CLASS ", hashtext($1))",
                          1, p2, code, errstr, n);
    if (!res) return HS_ERR_UNAVAILABLE;
    PQclear(res);
    res =
        query(s,
              "SELECT v.schema_id FROM registry_subject_versions v JOIN registry_schemas s ON s.id "
              "= v.schema_id WHERE v.subject = $1 AND s.fingerprint = $2 AND NOT v.deleted LIMIT 1",
              2, p2, code, errstr, n);
    if (!res) return HS_ERR_UNAVAILABLE;
    int found = PQntuples(res) > 0;
    if (found) *id = pg_int(res, 0, 0);
    PQclear(res);
    if (found) return HS_OK;
    hs_compat_mode_t mode;
    char **texts, why[1024];
    size_t count;
    hs_err_t err = mode_locked(s, subject, 1, &mode, code, errstr, n);
    if (!err) err = texts_of(s, subject, HS_REG_LATEST, &texts, &count, code, errstr, n);
    if (err) return err;
    err = hs_compat_check(mode, c->text, (const char *const *)texts, count, why, sizeof why);
    free_texts(texts, count);
    if (err)
        return fail(code, err == HS_ERR_CONFLICT ? HS_REG_INCOMPATIBLE : HS_REG_INVALID_SCHEMA, err,
                    errstr, n,
                    "Schema being registered is incompatible with an earlier schema for subject "
                    "\"%s\", details: [%s] %s",
                    subject, hs_compat_mode_name(mode), why);
    if ((err = schema_id(s, c, id, code, errstr, n))) return err;
    char idtext[16];
    snprintf(idtext, sizeof idtext, "%d", (int)*id);
    const char *p4[] = {subject, idtext};
    res = query(
        s,
        "INSERT INTO registry_subject_versions (subject, version, schema_id) SELECT $1, "
        "COALESCE(MAX(version), 0) + 1, $2::int FROM registry_subject_versions WHERE subject = $1",
        2, p4, code, errstr, n);
    PQclear(res);
    return res ? HS_OK : HS_ERR_UNAVAILABLE;
}

hs_err_t hs_regstore_register(hs_regstore_t *s, const char *subject, const char *schema,
                              int32_t *id, int *code, char *errstr, size_t n) {
    canon_t c;
    hs_err_t err = canonicalize(schema, &c, code, errstr, n);
    if (!err) err = enter(s, code, errstr, n);
    if (err) {
        canon_free(&c);
        return err;
    }
    if (hs_pg_exec(s->conn, "BEGIN", errstr, n))
        err = store_fail(code);
    else if (!(err = register_tx(s, subject, &c, id, code, errstr, n)) &&
             hs_pg_exec(s->conn, "COMMIT", errstr, n))
        err = store_fail(code);
    if (err) hs_pg_exec(s->conn, "ROLLBACK", NULL, 0);
    leave(s);
    canon_free(&c);
    return err;
}

hs_err_t hs_regstore_lookup(hs_regstore_t *s, const char *subject, const char *schema, int deleted,
                            json_t **out, int *code, char *errstr, size_t n) {
    canon_t c;
    hs_err_t err = canonicalize(schema, &c, code, errstr, n);
    if (!err) err = enter(s, code, errstr, n);
    if (err) {
        canon_free(&c);
        return err;
    }
    const char *p[] = {subject, c.fingerprint, pg_bool(deleted)};
    PGresult *res =
        query(s,
              "SELECT v.version, v.schema_id, s.schema FROM registry_subject_versions v JOIN "
              "registry_schemas s ON s.id = v.schema_id WHERE v.subject = $1 AND s.fingerprint = "
              "$2 AND ($3::bool OR NOT v.deleted) ORDER BY v.version DESC LIMIT 1",
              3, p, code, errstr, n);
    int exists = res && !PQntuples(res) ? subject_exists(s, subject, deleted, code, errstr, n) : 1;
    if (!res || exists < 0)
        err = HS_ERR_UNAVAILABLE;
    else if (PQntuples(res))
        *out = version_json(subject, res, 0);
    else if (!exists)
        err = subject_not_found(subject, code, errstr, n);
    else
        err = fail(code, HS_REG_SCHEMA_NOT_FOUND, HS_ERR_NOT_FOUND, errstr, n, "Schema not found");
    PQclear(res);
    leave(s);
    canon_free(&c);
    return err;
}

hs_err_t hs_regstore_subjects(hs_regstore_t *s, int deleted, json_t **out, int *code, char *errstr,
                              size_t n) {
    ENTER(s, code, errstr, n);
    const char *p[] = {pg_bool(deleted)};
    hs_err_t err = column(s,
                          "SELECT DISTINCT subject FROM registry_subject_versions WHERE $1::bool "
                          "OR NOT deleted ORDER BY subject",
                          1, p, 0, out, code, errstr, n);
    leave(s);
    return err;
}

hs_err_t hs_regstore_versions(hs_regstore_t *s, const char *subject, int deleted, json_t **out,
                              int *code, char *errstr, size_t n) {
    ENTER(s, code, errstr, n);
    const char *p[] = {subject, pg_bool(deleted)};
    hs_err_t err = column(s,
                          "SELECT version FROM registry_subject_versions WHERE subject = $1 AND "
                          "($2::bool OR NOT deleted) ORDER BY version",
                          2, p, 1, out, code, errstr, n);
    leave(s);
    if (!err && !json_array_size(*out)) {
        json_decref(*out);
        *out = NULL;
        err = subject_not_found(subject, code, errstr, n);
    }
    return err;
}

hs_err_t hs_regstore_get_version(hs_regstore_t *s, const char *subject, int32_t version,
                                 int deleted, json_t **out, int *code, char *errstr, size_t n) {
    ENTER(s, code, errstr, n);
    char v[16];
    snprintf(v, sizeof v, "%d", (int)version);
    const char *p[] = {subject, pg_bool(deleted), v};
    PGresult *res =
        query(s,
              "SELECT v.version, v.schema_id, s.schema FROM registry_subject_versions v JOIN "
              "registry_schemas s ON s.id = v.schema_id WHERE v.subject = $1 AND ($2::bool OR NOT "
              "v.deleted) AND ($3::int < 0 OR v.version = $3::int) ORDER BY v.version DESC LIMIT 1",
              3, p, code, errstr, n);
    int exists = res && !PQntuples(res) ? subject_exists(s, subject, deleted, code, errstr, n) : 1;
    hs_err_t err = HS_OK;
    if (!res || exists < 0)
        err = HS_ERR_UNAVAILABLE;
    else if (PQntuples(res))
        *out = version_json(subject, res, 0);
    else if (!exists)
        err = subject_not_found(subject, code, errstr, n);
    else
        err = fail(code, HS_REG_VERSION_NOT_FOUND, HS_ERR_NOT_FOUND, errstr, n,
                   "Version %d not found.", (int)version);
    PQclear(res);
    leave(s);
    return err;
}

hs_err_t hs_regstore_schema_by_id(hs_regstore_t *s, int32_t id, char **schema, int *code,
                                  char *errstr, size_t n) {
    ENTER(s, code, errstr, n);
    char v[16];
    snprintf(v, sizeof v, "%d", (int)id);
    const char *p[] = {v};
    PGresult *res =
        query(s, "SELECT schema FROM registry_schemas WHERE id = $1", 1, p, code, errstr, n);
    hs_err_t err = HS_OK;
    if (!res)
        err = HS_ERR_UNAVAILABLE;
    else if (!PQntuples(res))
        err = fail(code, HS_REG_SCHEMA_NOT_FOUND, HS_ERR_NOT_FOUND, errstr, n,
                   "Schema %d not found", (int)id);
    else if (!(*schema = strdup(PQgetvalue(res, 0, 0))))
        err = fail(code, HS_REG_STORE_ERROR, HS_ERR_INTERNAL, errstr, n, "out of memory");
    PQclear(res);
    leave(s);
    return err;
}

hs_err_t hs_regstore_id_versions(hs_regstore_t *s, int32_t id, json_t **out, int *code,
                                 char *errstr, size_t n) {
    ENTER(s, code, errstr, n);
    char v[16];
    snprintf(v, sizeof v, "%d", (int)id);
    const char *p[] = {v};
    PGresult *res = query(s,
                          "SELECT v.subject, v.version, s.id FROM registry_schemas s LEFT JOIN "
                          "registry_subject_versions v ON v.schema_id = s.id AND NOT v.deleted "
                          "WHERE s.id = $1 ORDER BY v.subject, v.version",
                          1, p, code, errstr, n);
    hs_err_t err = HS_OK;
    if (!res)
        err = HS_ERR_UNAVAILABLE;
    else if (!PQntuples(res))
        err = fail(code, HS_REG_SCHEMA_NOT_FOUND, HS_ERR_NOT_FOUND, errstr, n,
                   "Schema %d not found", (int)id);
    else
        *out = json_array();
    for (int i = 0; !err && i < PQntuples(res); i++)
        if (!PQgetisnull(res, i, 0))
            json_array_append_new(*out, json_pack("{s:s, s:i}", "subject", PQgetvalue(res, i, 0),
                                                  "version", pg_int(res, i, 1)));
    PQclear(res);
    leave(s);
    return err;
}

static hs_err_t delete_subject_locked(hs_regstore_t *s, const char *subject, int permanent,
                                      json_t **out, int *code, char *errstr, size_t n) {
    const char *p[] = {subject};
    int live = subject_exists(s, subject, 0, code, errstr, n);
    int any = live > 0 ? 1 : subject_exists(s, subject, 1, code, errstr, n);
    if (live < 0 || any < 0) return HS_ERR_UNAVAILABLE;
    if (!any) return subject_not_found(subject, code, errstr, n);
    if (!permanent && !live)
        return fail(code, HS_REG_SUBJECT_SOFT_DELETED, HS_ERR_NOT_FOUND, errstr, n,
                    "Subject '%s' was soft deleted. Set permanent=true to delete permanently",
                    subject);
    if (permanent && live)
        return fail(code, HS_REG_SUBJECT_NOT_SOFT_DELETED, HS_ERR_NOT_FOUND, errstr, n,
                    "Subject '%s' was not deleted first before being permanently deleted", subject);
    hs_err_t err = column(
        s,
        permanent
            ? "WITH d AS (DELETE FROM registry_subject_versions WHERE subject = $1 RETURNING "
              "version) SELECT version FROM d ORDER BY version"
            : "WITH d AS (UPDATE registry_subject_versions SET deleted = true WHERE subject = $1 "
              "AND NOT deleted RETURNING version) SELECT version FROM d ORDER BY version",
        1, p, 1, out, code, errstr, n);
    if (!err && permanent) {
        PGresult *res =
            query(s, "DELETE FROM registry_config WHERE subject = $1", 1, p, code, errstr, n);
        if (!res) {
            json_decref(*out);
            err = HS_ERR_UNAVAILABLE;
        }
        PQclear(res);
    }
    return err;
}

hs_err_t hs_regstore_delete_subject(hs_regstore_t *s, const char *subject, int permanent,
                                    json_t **out, int *code, char *errstr, size_t n) {
    ENTER(s, code, errstr, n);
    hs_err_t err = delete_subject_locked(s, subject, permanent, out, code, errstr, n);
    leave(s);
    return err;
}

/* Says why deleting version of subject matched no row. */
static hs_err_t explain_version(hs_regstore_t *s, const char *subject, const char *const *p,
                                int permanent, int *code, char *errstr, size_t n) {
    PGresult *res = query(s,
                          "SELECT version, deleted FROM registry_subject_versions WHERE subject = "
                          "$1 AND ($2::int < 0 OR version = $2::int) ORDER BY version DESC LIMIT 1",
                          2, p, code, errstr, n);
    int exists = res && !PQntuples(res) ? subject_exists(s, subject, 1, code, errstr, n) : 1;
    hs_err_t err = HS_ERR_UNAVAILABLE;
    if (!res || exists < 0)
        err = HS_ERR_UNAVAILABLE;
    else if (!exists)
        err = subject_not_found(subject, code, errstr, n);
    else if (!PQntuples(res))
        err = fail(code, HS_REG_VERSION_NOT_FOUND, HS_ERR_NOT_FOUND, errstr, n,
                   "Version %s not found.", p[1]);
    else if (!permanent)
        err = fail(
            code, HS_REG_VERSION_SOFT_DELETED, HS_ERR_NOT_FOUND, errstr, n,
            "Subject '%s' Version %s was soft deleted. Set permanent=true to delete permanently",
            subject, PQgetvalue(res, 0, 0));
    else
        err = fail(code, HS_REG_VERSION_NOT_SOFT_DELETED, HS_ERR_NOT_FOUND, errstr, n,
                   "Subject '%s' Version %s was not deleted first before being permanently deleted",
                   subject, PQgetvalue(res, 0, 0));
    PQclear(res);
    return err;
}

hs_err_t hs_regstore_delete_version(hs_regstore_t *s, const char *subject, int32_t version,
                                    int permanent, int32_t *deleted, int *code, char *errstr,
                                    size_t n) {
    ENTER(s, code, errstr, n);
    char v[16];
    snprintf(v, sizeof v, "%d", (int)version);
    const char *p[] = {subject, v};
    PGresult *res = query(
        s,
        permanent
            ? "DELETE FROM registry_subject_versions WHERE subject = $1 AND deleted AND version = "
              "COALESCE(NULLIF($2::int, -1), (SELECT max(version) FROM registry_subject_versions "
              "WHERE subject = $1)) RETURNING version"
            : "UPDATE registry_subject_versions SET deleted = true WHERE subject = $1 AND NOT "
              "deleted AND version = COALESCE(NULLIF($2::int, -1), (SELECT max(version) FROM "
              "registry_subject_versions WHERE subject = $1 AND NOT deleted)) RETURNING version",
        2, p, code, errstr, n);
    hs_err_t err = HS_OK;
    if (!res)
        err = HS_ERR_UNAVAILABLE;
    else if (PQntuples(res))
        *deleted = pg_int(res, 0, 0);
    else
        err = explain_version(s, subject, p, permanent, code, errstr, n);
    PQclear(res);
    leave(s);
    return err;
}

static hs_err_t check_locked(hs_regstore_t *s, const char *subject, int32_t version,
                             const canon_t *c, int *compatible, json_t *messages, int *code,
                             char *errstr, size_t n) {
    hs_compat_mode_t mode;
    char **texts = NULL, why[1024];
    size_t count = 0;
    hs_err_t err = mode_locked(s, subject, 1, &mode, code, errstr, n);
    if (!err) err = texts_of(s, subject, version, &texts, &count, code, errstr, n);
    if (!err && !count && version != HS_REG_LATEST) {
        int exists = subject_exists(s, subject, 0, code, errstr, n);
        err = exists < 0 ? HS_ERR_UNAVAILABLE
              : !exists  ? subject_not_found(subject, code, errstr, n)
                         : fail(code, HS_REG_VERSION_NOT_FOUND, HS_ERR_NOT_FOUND, errstr, n,
                                "Version %d not found.", (int)version);
    }
    if (!err) {
        hs_err_t cerr =
            hs_compat_check(mode, c->text, (const char *const *)texts, count, why, sizeof why);
        *compatible = cerr == HS_OK;
        if (cerr) json_array_append_new(messages, json_string(why));
    }
    free_texts(texts, count);
    return err;
}

hs_err_t hs_regstore_check(hs_regstore_t *s, const char *subject, int32_t version,
                           const char *schema, int *compatible, json_t **messages, int *code,
                           char *errstr, size_t n) {
    canon_t c;
    hs_err_t err = canonicalize(schema, &c, code, errstr, n);
    if (!err) err = enter(s, code, errstr, n);
    if (err) {
        canon_free(&c);
        return err;
    }
    *messages = json_array();
    err = check_locked(s, subject, version, &c, compatible, *messages, code, errstr, n);
    leave(s);
    canon_free(&c);
    if (err) {
        json_decref(*messages);
        *messages = NULL;
    }
    return err;
}

hs_err_t hs_regstore_get_config(hs_regstore_t *s, const char *subject, int fallback,
                                hs_compat_mode_t *mode, int *code, char *errstr, size_t n) {
    ENTER(s, code, errstr, n);
    hs_err_t err = mode_locked(s, subject, fallback, mode, code, errstr, n);
    leave(s);
    return err;
}

hs_err_t hs_regstore_set_config(hs_regstore_t *s, const char *subject, hs_compat_mode_t mode,
                                int *code, char *errstr, size_t n) {
    ENTER(s, code, errstr, n);
    const char *p[] = {subject ? subject : "", hs_compat_mode_name(mode)};
    PGresult *res = query(s,
                          "INSERT INTO registry_config (subject, compatibility) VALUES ($1, $2) ON "
                          "CONFLICT (subject) DO UPDATE SET compatibility = $2",
                          2, p, code, errstr, n);
    leave(s);
    PQclear(res);
    return res ? HS_OK : HS_ERR_UNAVAILABLE;
}

hs_err_t hs_regstore_delete_config(hs_regstore_t *s, const char *subject,
                                   hs_compat_mode_t *previous, int *code, char *errstr, size_t n) {
    ENTER(s, code, errstr, n);
    const char *p[] = {subject ? subject : ""};
    hs_err_t err = mode_locked(s, p[0], 0, previous, code, errstr, n);
    PGresult *res =
        err ? NULL
            : query(s, "DELETE FROM registry_config WHERE subject = $1", 1, p, code, errstr, n);
    if (!err && !res) err = HS_ERR_UNAVAILABLE;
    PQclear(res);
    leave(s);
    return err;
}

hs_err_t hs_regstore_count(hs_regstore_t *s, long *count, char *errstr, size_t n) {
    ENTER(s, NULL, errstr, n);
    PGresult *res = query(s, "SELECT count(*) FROM registry_schemas", 0, NULL, NULL, errstr, n);
    if (res) *count = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    leave(s);
    return res ? HS_OK : HS_ERR_UNAVAILABLE;
}
