/* Schema registry client used by every hookstream tool (produce, consume, schemas, dev).
 * Two backends behind one handle: registry.url set → HTTP to a Confluent-compatible registry
 * (ours or another); empty → the local catalog in Postgres at postgres.dsn through hs_regstore
 * (the same code the `hookstream registry` server runs). Schema ids and subject registrations
 * are cached, so the producer hot path does no I/O after the first call per subject.
 * @locks: one mutex guards the cache and the connection; every function is thread-safe. */
#ifndef HS_REGISTRY_H
#define HS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "hs_config.h"
#include "hs_err.h"

typedef struct hs_registry hs_registry_t;

/* registry.url set → talks HTTP to that Confluent-compatible registry (ours or another);
 * empty → uses the local catalog in Postgres at postgres.dsn directly (same hs_regstore code
 * as the server; runs migrations if needed). Returns NULL + errstr naming what is unreachable.
 * Caller frees with hs_registry_destroy. */
hs_registry_t *hs_registry_new(const hs_config_t *cfg, char *errstr, size_t errstr_size);

/* Frees r and its cache; NULL is a no-op. */
void hs_registry_destroy(hs_registry_t *r);

/* Registers schema under subject (idempotent: an identical schema returns its existing id).
 * Incompatible → HS_ERR_CONFLICT with the reason; malformed → HS_ERR_INVALID. Cached. */
hs_err_t hs_registry_register(hs_registry_t *r, const char *subject, const char *schema_json,
                              int32_t *id, char *errstr, size_t errstr_size);

/* Returns the schema text for id: *schema_json is borrowed from the client's cache, valid until
 * hs_registry_destroy. Unknown id → HS_ERR_NOT_FOUND. Cached after the first fetch. */
hs_err_t hs_registry_schema(hs_registry_t *r, int32_t id, const char **schema_json, char *errstr,
                            size_t errstr_size);

/* Registers every catalog event type under its subject (what `dev up` and `schemas register`
 * do); *count receives how many. */
hs_err_t hs_registry_register_catalog(hs_registry_t *r, size_t *count, char *errstr, size_t n);

/* One registered version of a subject. */
typedef struct {
    char *subject; /* owned by the struct: free with hs_registry_version_clear */
    int32_t version;
    int32_t id;
    char *schema; /* schema text as registered; owned by the struct */
} hs_registry_version_t;

/* Frees the strings of v and zeroes it; NULL is a no-op. */
void hs_registry_version_clear(hs_registry_version_t *v);

/* Returns the live subjects, sorted: *subjects is a new array of *n new strings; caller frees
 * with hs_registry_strings_free(*subjects, *n). */
hs_err_t hs_registry_subjects(hs_registry_t *r, char ***subjects, size_t *n, char *errstr,
                              size_t errstr_size);

/* Frees an array of n strings returned by this module; NULL is a no-op. */
void hs_registry_strings_free(char **strings, size_t n);

/* Returns the live version numbers of subject in ascending order: *versions is a new array
 * (caller free()). Unknown subject → HS_ERR_NOT_FOUND. */
hs_err_t hs_registry_versions(hs_registry_t *r, const char *subject, int32_t **versions, size_t *n,
                              char *errstr, size_t errstr_size);

/* Fills *out with version `version` of subject; version -1 means the latest. Caller clears *out
 * with hs_registry_version_clear. Unknown subject or version → HS_ERR_NOT_FOUND. */
hs_err_t hs_registry_subject_version(hs_registry_t *r, const char *subject, int32_t version,
                                     hs_registry_version_t *out, char *errstr, size_t errstr_size);

/* Checks whether schema_json could be registered under subject under the subject's
 * compatibility mode (an unknown subject is compatible). HS_OK = compatible;
 * HS_ERR_CONFLICT = incompatible with the reason in errstr; HS_ERR_INVALID = malformed. */
hs_err_t hs_registry_check(hs_registry_t *r, const char *subject, const char *schema_json,
                           char *errstr, size_t errstr_size);

/* Returns the backend description for messages: the registry URL or "postgres at HOST:PORT/DB";
 * borrowed, valid until hs_registry_destroy. */
const char *hs_registry_describe(const hs_registry_t *r);

#endif
