/* Registry client: a cache in front of one of two backends with the same
 * operations, HTTP to a Confluent-compatible registry (hs_httpc) or the
 * Postgres store in process (hs_regstore). Registrations are cached by
 * (subject, schema text) and schemas by id, so after the first call per subject
 * the producer path is a hash lookup under the mutex. */
#include "hs_registry.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_catalog.h"
#include "hs_httpc.h"
#include "hs_regstore.h"

#define CACHE_BUCKETS 512
#define SR_MEDIA_TYPE "application/vnd.schemaregistry.v1+json"

/* One cache entry: a registration (subject set) or a schema by id (subject
 * NULL). */
typedef struct entry {
    struct entry *next;
    uint64_t hash;
    char *subject;
    char *schema;
    int32_t id;
} entry_t;

typedef struct backend backend_t;

struct hs_registry {
    pthread_mutex_t mtx; /* @locks: http, store, regs, ids */
    const backend_t *be;
    hs_httpc_t *http;     /* registry.url set */
    hs_regstore_t *store; /* otherwise */
    char where[512];
    entry_t *regs[CACHE_BUCKETS]; /* (subject, schema) → id */
    entry_t *ids[CACHE_BUCKETS];  /* id → schema */
};

/* The operations both backends provide; called with the mutex held. Errors are
 * complete messages; JSON results are new references in Confluent's shapes. */
struct backend {
    hs_err_t (*reg)(hs_registry_t *r, const char *subject, const char *schema, int32_t *id, char *e,
                    size_t n);
    hs_err_t (*by_id)(hs_registry_t *r, int32_t id, char **schema, char *e, size_t n);
    hs_err_t (*subjects)(hs_registry_t *r, json_t **out, char *e, size_t n);
    hs_err_t (*versions)(hs_registry_t *r, const char *subject, json_t **out, char *e, size_t n);
    hs_err_t (*version)(hs_registry_t *r, const char *subject, int32_t v, json_t **out, char *e,
                        size_t n);
    hs_err_t (*check)(hs_registry_t *r, const char *subject, const char *schema, int *compatible,
                      json_t **messages, char *e, size_t n);
};

/* ---- local backend: the Postgres store ---- */

static hs_err_t local_reg(hs_registry_t *r, const char *subject, const char *schema, int32_t *id,
                          char *e, size_t n) {
    return hs_regstore_register(r->store, subject, schema, id, NULL, e, n);
}

static hs_err_t local_by_id(hs_registry_t *r, int32_t id, char **schema, char *e, size_t n) {
    return hs_regstore_schema_by_id(r->store, id, schema, NULL, e, n);
}

static hs_err_t local_subjects(hs_registry_t *r, json_t **out, char *e, size_t n) {
    return hs_regstore_subjects(r->store, 0, out, NULL, e, n);
}

static hs_err_t local_versions(hs_registry_t *r, const char *subject, json_t **out, char *e,
                               size_t n) {
    return hs_regstore_versions(r->store, subject, 0, out, NULL, e, n);
}

static hs_err_t local_version(hs_registry_t *r, const char *subject, int32_t v, json_t **out,
                              char *e, size_t n) {
    return hs_regstore_get_version(r->store, subject, v, 0, out, NULL, e, n);
}

static hs_err_t local_check(hs_registry_t *r, const char *subject, const char *schema,
                            int *compatible, json_t **messages, char *e, size_t n) {
    return hs_regstore_check(r->store, subject, HS_REG_LATEST, schema, compatible, messages, NULL,
                             e, n);
}

static const backend_t local_backend = {local_reg,      local_by_id,   local_subjects,
                                        local_versions, local_version, local_check};

/* ---- HTTP backend: a Confluent-compatible registry ---- */

/* Maps a Confluent error_code (or, without one, the HTTP status) to our error.
 */
static hs_err_t err_of(long status, long error_code) {
    long c = error_code ? error_code : status;
    if (c == 409) return HS_ERR_CONFLICT;
    if (c / 100 == 404 || c == 404) return HS_ERR_NOT_FOUND;
    if (c / 100 == 422 || c == 422 || c == 400) return HS_ERR_INVALID;
    if (c == 401) return HS_ERR_AUTH;
    if (c == 403) return HS_ERR_FORBIDDEN;
    if (c == 413) return HS_ERR_TOO_LARGE;
    return HS_ERR_UNAVAILABLE;
}

/* Sends the request; on a non-2xx answer fails with the registry's message.
 * *out (may be NULL on success with an empty body) is a new reference. */
static hs_err_t call(hs_registry_t *r, const char *method, const char *path, const json_t *body,
                     json_t **out, char *e, size_t n) {
    long status = 0;
    json_t *resp = NULL;
    char why[1024];
    hs_err_t err = hs_httpc_json(r->http, method, path, body, &status, &resp, why, sizeof why);
    if (err) return hs_fail(err, e, n, "registry: %s", why);
    if (status >= 200 && status < 300) {
        *out = resp;
        return HS_OK;
    }
    const char *msg = json_string_value(json_object_get(resp, "message"));
    long code = (long)json_integer_value(json_object_get(resp, "error_code"));
    err = hs_fail(err_of(status, code), e, n, "registry at %s: %s (HTTP %ld, error_code %ld)",
                  r->where, msg ? msg : "no message", status, code);
    json_decref(resp);
    return err;
}

/* Formats a path with the escaped subject in it: fmt has one %s for the
 * subject. */
static hs_err_t subject_path(char *path, size_t size, const char *fmt, const char *subject, char *e,
                             size_t n) {
    char *esc = hs_httpc_escape(subject);
    if (!esc) return hs_fail(HS_ERR_INTERNAL, e, n, "out of memory");
    int len = snprintf(path, size, fmt, esc);
    free(esc);
    if (len < 0 || (size_t)len >= size)
        return hs_fail(HS_ERR_INVALID, e, n, "subject name too long (%zu bytes)", strlen(subject));
    return HS_OK;
}

static hs_err_t http_reg(hs_registry_t *r, const char *subject, const char *schema, int32_t *id,
                         char *e, size_t n) {
    char path[1024];
    json_t *resp = NULL, *body = json_pack("{s:s}", "schema", schema);
    hs_err_t err = subject_path(path, sizeof path, "/subjects/%s/versions", subject, e, n);
    if (!err) err = call(r, "POST", path, body, &resp, e, n);
    json_decref(body);
    if (!err && !json_is_integer(json_object_get(resp, "id")))
        err = hs_fail(HS_ERR_UNAVAILABLE, e, n, "registry at %s: register answered without an id",
                      r->where);
    if (!err) *id = (int32_t)json_integer_value(json_object_get(resp, "id"));
    json_decref(resp);
    return err;
}

static hs_err_t http_by_id(hs_registry_t *r, int32_t id, char **schema, char *e, size_t n) {
    char path[64];
    json_t *resp = NULL;
    snprintf(path, sizeof path, "/schemas/ids/%d", (int)id);
    hs_err_t err = call(r, "GET", path, NULL, &resp, e, n);
    const char *text = json_string_value(json_object_get(resp, "schema"));
    if (!err && !text)
        err = hs_fail(HS_ERR_UNAVAILABLE, e, n, "registry at %s: schema %d answered without text",
                      r->where, (int)id);
    if (!err && !(*schema = strdup(text))) err = hs_fail(HS_ERR_INTERNAL, e, n, "out of memory");
    json_decref(resp);
    return err;
}

static hs_err_t http_subjects(hs_registry_t *r, json_t **out, char *e, size_t n) {
    hs_err_t err = call(r, "GET", "/subjects", NULL, out, e, n);
    if (!err && !json_is_array(*out)) {
        json_decref(*out);
        return hs_fail(HS_ERR_UNAVAILABLE, e, n, "registry at %s: /subjects is not a list",
                       r->where);
    }
    return err;
}

static hs_err_t http_versions(hs_registry_t *r, const char *subject, json_t **out, char *e,
                              size_t n) {
    char path[1024];
    hs_err_t err = subject_path(path, sizeof path, "/subjects/%s/versions", subject, e, n);
    if (!err) err = call(r, "GET", path, NULL, out, e, n);
    if (!err && !json_is_array(*out)) {
        json_decref(*out);
        return hs_fail(HS_ERR_UNAVAILABLE, e, n, "registry at %s: versions is not a list",
                       r->where);
    }
    return err;
}

static hs_err_t http_version(hs_registry_t *r, const char *subject, int32_t v, json_t **out,
                             char *e, size_t n) {
    char path[1100], fmt[64];
    if (v == HS_REG_LATEST)
        snprintf(fmt, sizeof fmt, "/subjects/%%s/versions/latest");
    else
        snprintf(fmt, sizeof fmt, "/subjects/%%s/versions/%d", (int)v);
    hs_err_t err = subject_path(path, sizeof path, fmt, subject, e, n);
    if (!err) err = call(r, "GET", path, NULL, out, e, n);
    if (!err && !json_is_string(json_object_get(*out, "schema"))) {
        json_decref(*out);
        return hs_fail(HS_ERR_UNAVAILABLE, e, n, "registry at %s: version without a schema",
                       r->where);
    }
    return err;
}

static hs_err_t http_check(hs_registry_t *r, const char *subject, const char *schema,
                           int *compatible, json_t **messages, char *e, size_t n) {
    char path[1100];
    json_t *resp = NULL, *body = json_pack("{s:s}", "schema", schema);
    hs_err_t err =
        subject_path(path, sizeof path, "/compatibility/subjects/%s/versions/latest?verbose=true",
                     subject, e, n);
    if (!err) err = call(r, "POST", path, body, &resp, e, n);
    json_decref(body);
    if (err == HS_ERR_NOT_FOUND) { /* no such subject: anything is compatible with
                                      nothing */
        *compatible = 1;
        *messages = json_array();
        return HS_OK;
    }
    if (!err && !json_is_boolean(json_object_get(resp, "is_compatible")))
        err = hs_fail(HS_ERR_UNAVAILABLE, e, n, "registry at %s: no is_compatible in the answer",
                      r->where);
    if (!err) {
        *compatible = json_is_true(json_object_get(resp, "is_compatible"));
        json_t *m = json_object_get(resp, "messages");
        *messages = json_is_array(m) ? json_incref(m) : json_array();
    }
    json_decref(resp);
    return err;
}

static const backend_t http_backend = {http_reg,      http_by_id,   http_subjects,
                                       http_versions, http_version, http_check};

/* ---- cache ---- */

static uint64_t fnv1a(uint64_t h, const char *s) {
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static uint64_t reg_hash(const char *subject, const char *schema) {
    return fnv1a(fnv1a(14695981039346656037ULL, subject) * 31, schema);
}

static entry_t *reg_find(hs_registry_t *r, uint64_t h, const char *subject, const char *schema) {
    for (entry_t *e = r->regs[h % CACHE_BUCKETS]; e; e = e->next)
        if (e->hash == h && !strcmp(e->subject, subject) && !strcmp(e->schema, schema)) return e;
    return NULL;
}

static entry_t *id_find(hs_registry_t *r, int32_t id) {
    for (entry_t *e = r->ids[(uint32_t)id % CACHE_BUCKETS]; e; e = e->next)
        if (e->id == id) return e;
    return NULL;
}

/* Adds an entry holding copies of subject (may be NULL) and schema; NULL when out of memory. */
static entry_t *cache_put(entry_t **table, uint64_t h, const char *subject, const char *schema,
                          int32_t id) {
    entry_t *e = calloc(1, sizeof *e);
    char *subj = subject ? strdup(subject) : NULL, *text = strdup(schema);
    if (!e || !text || (subject && !subj)) {
        free(e);
        free(subj);
        free(text);
        return NULL;
    }
    *e = (entry_t){table[h % CACHE_BUCKETS], h, subj, text, id};
    table[h % CACHE_BUCKETS] = e;
    return e;
}

static void cache_free(entry_t **table) {
    for (size_t i = 0; i < CACHE_BUCKETS; i++)
        for (entry_t *e = table[i], *next; e; e = next) {
            next = e->next;
            free(e->subject);
            free(e->schema);
            free(e);
        }
}

/* ---- public API ---- */

static hs_registry_t *registry_http(hs_registry_t *r, const hs_config_t *cfg, const char *url,
                                    char *errstr, size_t n) {
    char why[1024];
    json_t *probe = NULL;
    snprintf(r->where, sizeof r->where, "%s", url);
    r->be = &http_backend;
    r->http = hs_httpc_new(url, (long)hs_config_int(cfg, "registry.timeout_ms"), SR_MEDIA_TYPE, why,
                           sizeof why);
    /* GET /config is cheap and answered by every Confluent-compatible registry
     * version. */
    if (r->http && call(r, "GET", "/config", NULL, &probe, why, sizeof why) == HS_OK) {
        json_decref(probe);
        return r;
    }
    hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "registry.url %s: %s", url, why);
    hs_registry_destroy(r);
    return NULL;
}

hs_registry_t *hs_registry_new(const hs_config_t *cfg, char *errstr, size_t n) {
    hs_registry_t *r = calloc(1, sizeof *r);
    if (!r) {
        hs_fail(HS_ERR_INTERNAL, errstr, n, "registry client: out of memory");
        return NULL;
    }
    pthread_mutex_init(&r->mtx, NULL);
    const char *url = hs_config_str(cfg, "registry.url");
    if (url && *url) return registry_http(r, cfg, url, errstr, n);
    int mode = hs_compat_mode_parse(hs_config_str(cfg, "registry.compatibility"));
    r->be = &local_backend;
    r->store = hs_regstore_new(hs_config_str(cfg, "postgres.dsn"),
                               (int)hs_config_int(cfg, "postgres.connect_timeout_s"),
                               mode < 0 ? HS_COMPAT_BACKWARD : (hs_compat_mode_t)mode, errstr, n);
    if (!r->store) {
        hs_registry_destroy(r);
        return NULL;
    }
    snprintf(r->where, sizeof r->where, "%s", hs_regstore_describe(r->store));
    return r;
}

void hs_registry_destroy(hs_registry_t *r) {
    if (!r) return;
    hs_httpc_destroy(r->http);
    hs_regstore_destroy(r->store);
    cache_free(r->regs);
    cache_free(r->ids);
    pthread_mutex_destroy(&r->mtx);
    free(r);
}

const char *hs_registry_describe(const hs_registry_t *r) {
    return r->where;
}

hs_err_t hs_registry_register(hs_registry_t *r, const char *subject, const char *schema_json,
                              int32_t *id, char *errstr, size_t n) {
    uint64_t h = reg_hash(subject, schema_json);
    pthread_mutex_lock(&r->mtx);
    entry_t *hit = reg_find(r, h, subject, schema_json);
    hs_err_t err = HS_OK;
    if (hit)
        *id = hit->id;
    else
        err = r->be->reg(r, subject, schema_json, id, errstr, n);
    if (!hit && !err) {
        /* Out of memory only costs a cache miss next time. */
        cache_put(r->regs, h, subject, schema_json, *id);
        if (!id_find(r, *id)) cache_put(r->ids, (uint32_t)*id, NULL, schema_json, *id);
    }
    pthread_mutex_unlock(&r->mtx);
    return err;
}

hs_err_t hs_registry_schema(hs_registry_t *r, int32_t id, const char **schema_json, char *errstr,
                            size_t n) {
    pthread_mutex_lock(&r->mtx);
    entry_t *e = id_find(r, id);
    char *text = NULL;
    hs_err_t err = e ? HS_OK : r->be->by_id(r, id, &text, errstr, n);
    if (!e && !err && !(e = cache_put(r->ids, (uint32_t)id, NULL, text, id)))
        err = hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    free(text);
    if (!err) *schema_json = e->schema;
    pthread_mutex_unlock(&r->mtx);
    return err;
}

hs_err_t hs_registry_register_catalog(hs_registry_t *r, size_t *count, char *errstr, size_t n) {
    *count = 0;
    for (size_t i = 0; i < hs_catalog_count(); i++) {
        const hs_event_type_t *t = hs_catalog_at(i);
        int32_t id;
        char why[1024];
        hs_err_t err = hs_registry_register(r, t->subject, t->schema_json, &id, why, sizeof why);
        if (err) return hs_fail(err, errstr, n, "%s (%s): %s", t->type, t->subject, why);
        (*count)++;
    }
    return HS_OK;
}

void hs_registry_version_clear(hs_registry_version_t *v) {
    if (!v) return;
    free(v->subject);
    free(v->schema);
    *v = (hs_registry_version_t){0};
}

void hs_registry_strings_free(char **strings, size_t n) {
    for (size_t i = 0; strings && i < n; i++)
        free(strings[i]);
    free(strings);
}

hs_err_t hs_registry_subjects(hs_registry_t *r, char ***subjects, size_t *count, char *errstr,
                              size_t n) {
    json_t *list = NULL;
    pthread_mutex_lock(&r->mtx);
    hs_err_t err = r->be->subjects(r, &list, errstr, n);
    pthread_mutex_unlock(&r->mtx);
    if (err) return err;
    size_t len = json_array_size(list);
    char **out = calloc(len + 1, sizeof *out);
    int oom = !out;
    for (size_t i = 0; !oom && i < len; i++) {
        const char *s = json_string_value(json_array_get(list, i));
        oom = !(out[i] = strdup(s ? s : ""));
    }
    json_decref(list);
    if (oom) {
        hs_registry_strings_free(out, len);
        return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    }
    *subjects = out;
    *count = len;
    return HS_OK;
}

hs_err_t hs_registry_versions(hs_registry_t *r, const char *subject, int32_t **versions,
                              size_t *count, char *errstr, size_t n) {
    json_t *list = NULL;
    pthread_mutex_lock(&r->mtx);
    hs_err_t err = r->be->versions(r, subject, &list, errstr, n);
    pthread_mutex_unlock(&r->mtx);
    if (err) return err;
    size_t len = json_array_size(list);
    int32_t *out = calloc(len + 1, sizeof *out);
    for (size_t i = 0; out && i < len; i++)
        out[i] = (int32_t)json_integer_value(json_array_get(list, i));
    json_decref(list);
    if (!out) return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    *versions = out;
    *count = len;
    return HS_OK;
}

hs_err_t hs_registry_subject_version(hs_registry_t *r, const char *subject, int32_t version,
                                     hs_registry_version_t *out, char *errstr, size_t n) {
    json_t *v = NULL;
    pthread_mutex_lock(&r->mtx);
    hs_err_t err = r->be->version(r, subject, version < 0 ? HS_REG_LATEST : version, &v, errstr, n);
    pthread_mutex_unlock(&r->mtx);
    if (err) return err;
    const char *s = json_string_value(json_object_get(v, "subject"));
    *out = (hs_registry_version_t){
        .subject = strdup(s ? s : subject),
        .version = (int32_t)json_integer_value(json_object_get(v, "version")),
        .id = (int32_t)json_integer_value(json_object_get(v, "id")),
        .schema = strdup(json_string_value(json_object_get(v, "schema"))),
    };
    json_decref(v);
    if (!out->subject || !out->schema) {
        hs_registry_version_clear(out);
        return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    }
    return HS_OK;
}

hs_err_t hs_registry_check(hs_registry_t *r, const char *subject, const char *schema_json,
                           char *errstr, size_t n) {
    json_t *messages = NULL;
    int compatible = 0;
    pthread_mutex_lock(&r->mtx);
    hs_err_t err = r->be->check(r, subject, schema_json, &compatible, &messages, errstr, n);
    pthread_mutex_unlock(&r->mtx);
    if (!err && !compatible) {
        const char *why = json_string_value(json_array_get(messages, 0));
        err = hs_fail(HS_ERR_CONFLICT, errstr, n, "%s",
                      why ? why : "incompatible with the subject's registered versions");
    }
    json_decref(messages);
    return err;
}
