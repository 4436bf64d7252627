/* Delivery store: lifecycle, connection pool, endpoints, secrets and the change version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

#include "hs_log.h"
#include "hs_pg.h"
#include "hs_envelope.h"
#include "store_internal.h"

#define MAX_POOL 32

/* ---- pool and helpers ---- */

PGconn *store_conn_get(deliver_store_t *s) {
    pthread_mutex_lock(&s->pool_mtx);
    int i;
    for (;;) {
        for (i = 0; i < s->npool && s->busy[i]; i++) {
        }
        if (i < s->npool) break;
        pthread_cond_wait(&s->pool_cv, &s->pool_mtx);
    }
    s->busy[i] = 1;
    pthread_mutex_unlock(&s->pool_mtx);
    PGconn *c = s->conns[i];
    /* A restarted server leaves every pooled connection broken: heal on the next use rather
     * than failing each statement until the process restarts. */
    if (PQstatus(c) == CONNECTION_BAD) PQreset(c);
    return c;
}

void store_conn_put(deliver_store_t *s, PGconn *c) {
    pthread_mutex_lock(&s->pool_mtx);
    for (int i = 0; i < s->npool; i++)
        if (s->conns[i] == c) s->busy[i] = 0;
    pthread_cond_signal(&s->pool_cv);
    pthread_mutex_unlock(&s->pool_mtx);
}

hs_err_t store_query_on(PGconn *c, const char *sql, int nparams, const char *const *params,
                        PGresult **out, char *errstr, size_t n) {
    *out = hs_pg_query(c, sql, nparams, params, errstr, n);
    /* A foreign key violation means the endpoint is gone: HS_ERR_NOT_FOUND. */
    return *out ? HS_OK : hs_pg_sqlstate_err(hs_pg_last_sqlstate());
}

hs_err_t store_query(deliver_store_t *s, const char *sql, int nparams, const char *const *params,
                     PGresult **out, char *errstr, size_t n) {
    PGconn *c = store_conn_get(s);
    hs_err_t err = store_query_on(c, sql, nparams, params, out, errstr, n);
    store_conn_put(s, c);
    return err;
}

void store_new_id(const char *prefix, char out[DELIVER_ID_LEN]) {
    static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz"; /* Crockford base32 */
    uuid_t u;
    uuid_generate_random(u);
    /* UUIDv7 layout: 48-bit milliseconds first, so ids sort by creation time. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    for (int i = 0; i < 6; i++)
        u[i] = (unsigned char)(ms >> (40 - 8 * i));
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x70);
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
    /* 128 bits as 26 base32 digits (the first digit carries the top 3 bits), as TypeID does. */
    char digits[27];
    unsigned __int128 v = 0;
    for (int i = 0; i < 16; i++)
        v = (v << 8) | u[i];
    for (int i = 25; i >= 0; i--) {
        digits[i] = alphabet[(unsigned)(v & 31u)];
        v >>= 5;
    }
    digits[26] = 0;
    snprintf(out, DELIVER_ID_LEN, "%s%s", prefix, digits);
}

void store_copy(const PGresult *res, int row, int col, char *out, size_t size) {
    snprintf(out, size, "%s", PQgetvalue(res, row, col));
}

/* ---- lifecycle ---- */

void deliver_store_destroy(deliver_store_t *s) {
    if (!s) return;
    attempt_writer_destroy(s->writer);
    for (int i = 0; i < s->npool; i++)
        PQfinish(s->conns[i]);
    free(s->conns);
    free(s->busy);
    pthread_mutex_destroy(&s->pool_mtx);
    pthread_cond_destroy(&s->pool_cv);
    free(s->dsn);
    free(s);
}

deliver_store_t *deliver_store_new(const char *dsn, const hs_secretbox_key_t *key, int pool,
                                   char *errstr, size_t n) {
    if (pool < 1 || pool > MAX_POOL) {
        hs_fail(HS_ERR_INVALID, errstr, n, "delivery store: pool of %d connections (1..%d)", pool,
                MAX_POOL);
        return NULL;
    }
    deliver_store_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    pthread_mutex_init(&s->pool_mtx, NULL);
    pthread_cond_init(&s->pool_cv, NULL);
    s->key = key;
    s->dsn = strdup(dsn);
    s->conns = calloc((size_t)pool, sizeof *s->conns);
    s->busy = calloc((size_t)pool, sizeof *s->busy);
    if (!s->dsn || !s->conns || !s->busy) goto fail;
    for (; s->npool < pool; s->npool++) {
        s->conns[s->npool] = hs_pg_connect(dsn, 10, errstr, n);
        if (!s->conns[s->npool]) goto fail;
    }
    int applied = 0;
    if (hs_pg_migrate(s->conns[0], &applied, errstr, n) != HS_OK) goto fail;
    if (applied) hs_log(HS_LOG_INFO, "postgres migrations applied", "{s:i}", "count", applied);
    s->writer = attempt_writer_new(dsn, errstr, n);
    if (!s->writer) goto fail;
    return s;
fail:
    deliver_store_destroy(s);
    return NULL;
}

/* ---- endpoints ---- */

void deliver_endpoint_clear(deliver_endpoint_t *e) {
    if (!e) return;
    free(e->url);
    free(e->description);
    for (size_t i = 0; i < e->n_event_types; i++)
        free(e->event_types[i]);
    free(e->event_types);
    json_decref(e->filter);
    for (size_t i = 0; i < e->nsecrets; i++)
        free(e->secrets[i]);
    memset(e, 0, sizeof *e);
}

json_t *deliver_endpoint_json(const deliver_endpoint_t *e) {
    json_t *types = json_array();
    for (size_t i = 0; i < e->n_event_types; i++)
        json_array_append_new(types, json_string(e->event_types[i]));
    char created[40], updated[40];
    hs_envelope_time_format(e->created_ms, created, sizeof created);
    hs_envelope_time_format(e->updated_ms, updated, sizeof updated);
    json_t *v =
        json_pack("{s:s, s:s, s:s, s:o, s:O, s:b, s:s, s:f, s:i, s:b, s:s, s:s, s:s, s:s}", "id", e->id,
                  "url", e->url ? e->url : "", "description", e->description ? e->description : "",
                  "event_types", types, "filter", e->filter ? e->filter : json_null(), "enabled",
                  e->enabled, "disabled_reason", e->disabled_reason, "rate_limit", e->rate_limit,
                  "max_in_flight", e->max_in_flight, "ordered", e->ordered, "policy", e->policy,
                  "integration", e->integration, "created_at", created, "updated_at", updated);
    if (v && e->secret_error[0])
        json_object_set_new(v, "secret_error", json_string(e->secret_error));
    return v;
}

static const char endpoint_select[] =
    "SELECT id, url, description, array_to_json(event_types)::text, filter::text, enabled,"
    " disabled_reason, rate_limit, max_in_flight, ordered, policy, " STORE_MS(
        "created_at") ", " STORE_MS("updated_at") ","
                                                  " array_to_json(ARRAY(SELECT secret_enc FROM "
                                                  "endpoint_secrets s WHERE s.endpoint_id = e.id"
                                                  "   AND (s.expires_at IS NULL OR s.expires_at > "
                                                  "now()) ORDER BY s.id DESC LIMIT 8))::text,"
                                                  " integration FROM endpoints e";

/* Array of strings (JSON text) into a new C array; returns 0 on success. */
static int strings_from_json(const char *text, char ***out, size_t *count) {
    json_t *arr = json_loads(text, 0, NULL);
    size_t len = json_is_array(arr) ? json_array_size(arr) : 0;
    *out = calloc(len ? len : 1, sizeof **out);
    *count = 0;
    if (!*out || !json_is_array(arr)) {
        json_decref(arr);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        const char *v = json_string_value(json_array_get(arr, i));
        (*out)[i] = strdup(v ? v : "");
        if (!(*out)[i]) break;
        (*count)++;
    }
    json_decref(arr);
    return *count == len ? 0 : -1;
}

static hs_err_t open_secrets(deliver_store_t *s, deliver_endpoint_t *e, const char *sealed_json,
                             char *errstr, size_t n) {
    char **sealed = NULL;
    size_t count = 0;
    hs_err_t err = HS_OK;
    if (strings_from_json(sealed_json, &sealed, &count))
        err = hs_fail(HS_ERR_INTERNAL, errstr, n, "endpoint %s: unreadable secrets", e->id);
    for (size_t i = 0; !err && i < count && i < DELIVER_MAX_SECRETS; i++) {
        char why[256];
        e->secrets[i] = hs_secretbox_open(s->key, sealed[i], e->id, why, sizeof why);
        if (!e->secrets[i]) {
            err = hs_fail(HS_ERR_INTERNAL, errstr, n,
                          "endpoint %s: its secret does not decrypt (is deliver.master_key the "
                          "key it was stored with?): %s",
                          e->id, why);
            break;
        }
        e->nsecrets++;
    }
    for (size_t i = 0; i < count; i++)
        free(sealed[i]);
    free(sealed);
    return err;
}

static hs_err_t endpoint_from_row(deliver_store_t *s, const PGresult *res, int row,
                                  deliver_endpoint_t *e, char *errstr, size_t n) {
    memset(e, 0, sizeof *e);
    store_copy(res, row, 0, e->id, sizeof e->id);
    e->url = strdup(PQgetvalue(res, row, 1));
    e->description = strdup(PQgetvalue(res, row, 2));
    if (!e->url || !e->description ||
        strings_from_json(PQgetvalue(res, row, 3), &e->event_types, &e->n_event_types)) {
        deliver_endpoint_clear(e);
        return hs_fail(HS_ERR_INTERNAL, errstr, n, "endpoint %s: out of memory", e->id);
    }
    if (!PQgetisnull(res, row, 4))
        e->filter = json_loads(PQgetvalue(res, row, 4), JSON_DECODE_ANY, NULL);
    e->enabled = PQgetvalue(res, row, 5)[0] == 't';
    store_copy(res, row, 6, e->disabled_reason, sizeof e->disabled_reason);
    e->rate_limit = strtod(PQgetvalue(res, row, 7), NULL);
    e->max_in_flight = (int)store_i64(res, row, 8);
    e->ordered = PQgetvalue(res, row, 9)[0] == 't';
    store_copy(res, row, 10, e->policy, sizeof e->policy);
    e->created_ms = store_i64(res, row, 11);
    e->updated_ms = store_i64(res, row, 12);
    store_copy(res, row, 14, e->integration, sizeof e->integration);
    /* A secret that does not open (another master key, a tampered row) costs that endpoint its
     * signatures, not the whole list: its deliveries fail naming why, the others go on. */
    if (open_secrets(s, e, PQgetvalue(res, row, 13), e->secret_error, sizeof e->secret_error)) {
        for (size_t i = 0; i < e->nsecrets; i++)
            free(e->secrets[i]);
        memset(e->secrets, 0, sizeof e->secrets);
        e->nsecrets = 0;
        hs_log(HS_LOG_ERROR, "endpoint secret unusable", "{s:s, s:s}", "endpoint", e->id, "error",
               e->secret_error);
    }
    (void)errstr;
    (void)n;
    return HS_OK;
}

/* The mutable fields as text parameters; free the strings with free_params. */
typedef struct {
    char *types, *filter;
    char rate[32], inflight[16];
} endpoint_params_t;

static hs_err_t endpoint_params(const deliver_endpoint_t *e, endpoint_params_t *p, char *errstr,
                                size_t n) {
    memset(p, 0, sizeof *p);
    if (!e->url || !*e->url) return hs_fail(HS_ERR_INVALID, errstr, n, "endpoint: url missing");
    if (e->n_event_types && !e->event_types)
        return hs_fail(HS_ERR_INVALID, errstr, n, "endpoint: event_types missing");
    json_t *types = json_array();
    for (size_t i = 0; i < e->n_event_types; i++)
        json_array_append_new(types, json_string(e->event_types[i] ? e->event_types[i] : ""));
    p->types = json_dumps(types, JSON_COMPACT);
    json_decref(types);
    if (e->filter) p->filter = json_dumps(e->filter, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(p->rate, sizeof p->rate, "%.17g", e->rate_limit);
    snprintf(p->inflight, sizeof p->inflight, "%d", e->max_in_flight);
    if (!p->types || (e->filter && !p->filter)) {
        free(p->types);
        free(p->filter);
        return hs_fail(HS_ERR_INTERNAL, errstr, n, "endpoint: out of memory");
    }
    return HS_OK;
}

static void free_params(endpoint_params_t *p) {
    free(p->types);
    free(p->filter);
}

hs_err_t deliver_store_endpoint_create(deliver_store_t *s, deliver_endpoint_t *e,
                                       const char *secret, char *errstr, size_t n) {
    if (!secret || !*secret) return hs_fail(HS_ERR_INVALID, errstr, n, "endpoint: no secret");
    endpoint_params_t p;
    hs_err_t err = endpoint_params(e, &p, errstr, n);
    if (err) return err;
    char id[DELIVER_ID_LEN];
    store_new_id("ep_", id);
    char *sealed = hs_secretbox_seal(s->key, secret, id, errstr, n);
    if (!sealed) {
        free_params(&p);
        return HS_ERR_INTERNAL;
    }
    const char *params[] = {id,
                            e->url,
                            e->description ? e->description : "",
                            p.types,
                            p.filter,
                            e->enabled ? "t" : "f",
                            e->disabled_reason,
                            p.rate,
                            p.inflight,
                            e->ordered ? "t" : "f",
                            e->policy,
                            sealed,
                            e->integration};
    PGresult *res;
    err = store_query(s,
                      "WITH e AS (INSERT INTO endpoints (id, url, description, event_types, filter,"
                      " enabled, disabled_reason, rate_limit, max_in_flight, ordered, policy,"
                      " integration)"
                      " VALUES ($1, $2, $3, ARRAY(SELECT jsonb_array_elements_text($4::jsonb)),"
                      " $5::jsonb, $6, $7, $8, $9, $10, $11, $13)"
                      " RETURNING id, created_at, updated_at),"
                      " s AS (INSERT INTO endpoint_secrets (endpoint_id, secret_enc)"
                      " SELECT id, $12 FROM e)"
                      " SELECT " STORE_MS("created_at") ", " STORE_MS("updated_at") " FROM e",
                      13, params, &res, errstr, n);
    free(sealed);
    free_params(&p);
    if (err) return err;
    memcpy(e->id, id, sizeof e->id);
    e->created_ms = store_i64(res, 0, 0);
    e->updated_ms = store_i64(res, 0, 1);
    PQclear(res);
    return HS_OK;
}

hs_err_t deliver_store_endpoint_get(deliver_store_t *s, const char *id, deliver_endpoint_t *out,
                                    char *errstr, size_t n) {
    char q[sizeof endpoint_select + 32];
    snprintf(q, sizeof q, "%s WHERE e.id = $1", endpoint_select);
    const char *params[] = {id};
    PGresult *res;
    hs_err_t err = store_query(s, q, 1, params, &res, errstr, n);
    if (err) return err;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return hs_fail(HS_ERR_NOT_FOUND, errstr, n, "endpoint %s not found", id);
    }
    err = endpoint_from_row(s, res, 0, out, errstr, n);
    PQclear(res);
    return err;
}

hs_err_t deliver_store_endpoint_list(deliver_store_t *s, deliver_endpoint_t **out, size_t *n,
                                     char *errstr, size_t n2) {
    char q[sizeof endpoint_select + 48];
    snprintf(q, sizeof q, "%s ORDER BY e.created_at, e.id", endpoint_select);
    PGresult *res;
    *out = NULL;
    *n = 0;
    hs_err_t err = store_query(s, q, 0, NULL, &res, errstr, n2);
    if (err) return err;
    int rows = PQntuples(res);
    deliver_endpoint_t *list = calloc(rows ? (size_t)rows : 1, sizeof *list);
    if (!list) err = hs_fail(HS_ERR_INTERNAL, errstr, n2, "endpoint list: out of memory");
    int done = 0;
    for (; !err && done < rows; done++)
        err = endpoint_from_row(s, res, done, &list[done], errstr, n2);
    PQclear(res);
    if (err) {
        for (int i = 0; list && i < done; i++)
            deliver_endpoint_clear(&list[i]);
        free(list);
        return err;
    }
    *out = list;
    *n = (size_t)rows;
    return HS_OK;
}

/* Fails with HS_ERR_NOT_FOUND when a statement on one endpoint touched no row. */
static hs_err_t expect_row(PGresult *res, const char *id, char *errstr, size_t n) {
    int touched = (int)strtol(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    if (!touched) return hs_fail(HS_ERR_NOT_FOUND, errstr, n, "endpoint %s not found", id);
    return HS_OK;
}

hs_err_t deliver_store_endpoint_update(deliver_store_t *s, const deliver_endpoint_t *e,
                                       char *errstr, size_t n) {
    endpoint_params_t p;
    hs_err_t err = endpoint_params(e, &p, errstr, n);
    if (err) return err;
    const char *params[] = {e->id,
                            e->url,
                            e->description ? e->description : "",
                            p.types,
                            p.filter,
                            p.rate,
                            p.inflight,
                            e->ordered ? "t" : "f",
                            e->policy,
                            e->integration};
    PGresult *res;
    err = store_query(s,
                      "UPDATE endpoints SET url = $2, description = $3,"
                      " event_types = ARRAY(SELECT jsonb_array_elements_text($4::jsonb)),"
                      " filter = $5::jsonb, rate_limit = $6, max_in_flight = $7, ordered = $8,"
                      " policy = $9, integration = $10, updated_at = now() WHERE id = $1",
                      10, params, &res, errstr, n);
    free_params(&p);
    return err ? err : expect_row(res, e->id, errstr, n);
}

hs_err_t deliver_store_endpoint_delete(deliver_store_t *s, const char *id, char *errstr, size_t n) {
    const char *params[] = {id};
    PGresult *res;
    hs_err_t err =
        store_query(s, "DELETE FROM endpoints WHERE id = $1", 1, params, &res, errstr, n);
    return err ? err : expect_row(res, id, errstr, n);
}

hs_err_t deliver_store_endpoint_set_enabled(deliver_store_t *s, const char *id, int enabled,
                                            const char *reason, char *errstr, size_t n) {
    const char *params[] = {id, enabled ? "t" : "f", enabled || !reason ? "" : reason};
    PGresult *res;
    hs_err_t err = store_query(s,
                               "UPDATE endpoints SET enabled = $2, disabled_reason = $3,"
                               " updated_at = now() WHERE id = $1",
                               3, params, &res, errstr, n);
    return err ? err : expect_row(res, id, errstr, n);
}

/* The statements of a rotation, run in one transaction after the endpoint row is locked:
 * forget expired secrets, bound the life of the current ones, add the new one, keep at most
 * DELIVER_MAX_SECRETS. args picks the parameters: 0 = {id}, 1 = {id, grace_s}, 2 = {id, sealed}. */
static const struct {
    const char *sql;
    int args;
} rotate_steps[] = {
    {"DELETE FROM endpoint_secrets WHERE endpoint_id = $1 AND expires_at <= now()", 0},
    {"UPDATE endpoint_secrets SET expires_at = now() + make_interval(secs => $2::bigint)"
     " WHERE endpoint_id = $1 AND (expires_at IS NULL"
     "   OR expires_at > now() + make_interval(secs => $2::bigint))",
     1},
    {"INSERT INTO endpoint_secrets (endpoint_id, secret_enc) VALUES ($1, $2)", 2},
    {"DELETE FROM endpoint_secrets WHERE endpoint_id = $1 AND id NOT IN"
     " (SELECT id FROM endpoint_secrets WHERE endpoint_id = $1 ORDER BY id DESC LIMIT 8)",
     0},
};

static hs_err_t rotate_in_tx(PGconn *c, const char *id, const char *grace, const char *sealed,
                             char *errstr, size_t n) {
    const char *const args[][2] = {{id, NULL}, {id, grace}, {id, sealed}};
    PGresult *res;
    hs_err_t err = store_query_on(c, "SELECT 1 FROM endpoints WHERE id = $1 FOR UPDATE", 1, args[0],
                                  &res, errstr, n);
    if (err) return err;
    err = expect_row(res, id, errstr, n);
    for (size_t i = 0; !err && i < sizeof rotate_steps / sizeof rotate_steps[0]; i++) {
        int a = rotate_steps[i].args;
        err = store_query_on(c, rotate_steps[i].sql, a ? 2 : 1, args[a], &res, errstr, n);
        if (!err) PQclear(res);
    }
    return err;
}

hs_err_t deliver_store_secret_rotate(deliver_store_t *s, const char *id, const char *new_secret,
                                     int64_t grace_s, char *errstr, size_t n) {
    if (!new_secret || !*new_secret)
        return hs_fail(HS_ERR_INVALID, errstr, n, "endpoint %s: empty secret", id);
    if (grace_s < 0) grace_s = 0;
    char *sealed = hs_secretbox_seal(s->key, new_secret, id, errstr, n);
    if (!sealed) return HS_ERR_INTERNAL;
    char grace[24];
    snprintf(grace, sizeof grace, "%lld", (long long)grace_s);
    PGconn *c = store_conn_get(s);
    hs_err_t err = hs_pg_exec(c, "BEGIN", errstr, n);
    if (!err) err = rotate_in_tx(c, id, grace, sealed, errstr, n);
    if (!err)
        err = hs_pg_exec(c, "COMMIT", errstr, n);
    else
        hs_pg_exec(c, "ROLLBACK", NULL, 0);
    store_conn_put(s, c);
    free(sealed);
    return err;
}

hs_err_t deliver_store_version(deliver_store_t *s, int64_t *version, char *errstr, size_t n) {
    PGresult *res;
    hs_err_t err = store_query(s, "DELETE FROM endpoint_secrets WHERE expires_at <= now()", 0, NULL,
                               &res, errstr, n);
    if (err) return err;
    PQclear(res);
    err = store_query(s, "SELECT version FROM delivery_version WHERE id = 1", 0, NULL, &res, errstr,
                      n);
    if (err) return err;
    *version = PQntuples(res) ? store_i64(res, 0, 0) : 0;
    PQclear(res);
    return HS_OK;
}
