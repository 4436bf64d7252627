/* The schema registry's store in Postgres (tables of schemas/sql/001_registry.sql): the
 * operations of the Confluent Schema Registry API, answering in its JSON shapes, shared by the
 * `hookstream registry` server and by the registry client's local backend. Schema ids are global:
 * the same schema (by canonical form) gets the same id under every subject.
 * @locks: one mutex serializes use of the connection, so a store may be shared by threads;
 * registration is also safe across processes (transaction + per-subject advisory lock). */
#ifndef HS_REGSTORE_H
#define HS_REGSTORE_H

#include <jansson.h>
#include <stdint.h>

#include "hs_compat.h"
#include "hs_err.h"

/* Confluent error codes (the "error_code" of API errors) that store operations report. */
enum {
    HS_REG_SUBJECT_NOT_FOUND = 40401,
    HS_REG_VERSION_NOT_FOUND = 40402,
    HS_REG_SCHEMA_NOT_FOUND = 40403,
    HS_REG_SUBJECT_SOFT_DELETED = 40404,
    HS_REG_SUBJECT_NOT_SOFT_DELETED = 40405,
    HS_REG_VERSION_SOFT_DELETED = 40406,
    HS_REG_VERSION_NOT_SOFT_DELETED = 40407,
    HS_REG_SUBJECT_CONFIG_NOT_FOUND = 40408,
    HS_REG_INCOMPATIBLE = 409,
    HS_REG_INVALID_SCHEMA = 42201,
    HS_REG_INVALID_VERSION = 42202,
    HS_REG_INVALID_COMPAT = 42203,
    HS_REG_STORE_ERROR = 50001,
};

/* Version selector meaning "the latest live version". */
#define HS_REG_LATEST (-1)

typedef struct hs_regstore hs_regstore_t;

/* Every fallible operation below returns hs_err_t, fills errstr with one line, and stores the
 * matching Confluent error code in *code (code may be NULL): NOT_FOUND → 404xx (40404-40407:
 * a delete in the wrong order), CONFLICT → 409, INVALID → 422xx, UNAVAILABLE/INTERNAL → 50001.
 * JSON results are new references (caller json_decref). */

/* Connects to dsn (waiting at most timeout_s), applies pending migrations and returns the
 * store, or NULL with errstr "postgres at HOST:PORT/DB: reason". default_mode is the global
 * compatibility level while none was set with hs_regstore_set_config. Free with
 * hs_regstore_destroy. */
hs_regstore_t *hs_regstore_new(const char *dsn, int timeout_s, hs_compat_mode_t default_mode,
                               char *errstr, size_t errstr_size);

/* Closes the connection and frees s; NULL is a no-op. */
void hs_regstore_destroy(hs_regstore_t *s);

/* Returns "postgres at HOST:PORT/DB" (borrowed, valid until hs_regstore_destroy). */
const char *hs_regstore_describe(const hs_regstore_t *s);

/* HS_OK when Postgres answers (reconnecting if the connection was lost). */
hs_err_t hs_regstore_ping(hs_regstore_t *s, char *errstr, size_t errstr_size);

/* Validates schema (Avro JSON), checks it against the subject's live versions under the
 * subject's compatibility level and registers it as the next version; an identical (canonical)
 * schema already live under subject returns its id without a new version. *id receives the
 * global id. Malformed → HS_ERR_INVALID (42201); incompatible → HS_ERR_CONFLICT (409). */
hs_err_t hs_regstore_register(hs_regstore_t *s, const char *subject, const char *schema,
                              int32_t *id, int *code, char *errstr, size_t errstr_size);

/* Finds schema among subject's versions: *out = {"subject","id","version","schema"}.
 * deleted != 0 also searches soft-deleted versions. */
hs_err_t hs_regstore_lookup(hs_regstore_t *s, const char *subject, const char *schema, int deleted,
                            json_t **out, int *code, char *errstr, size_t errstr_size);

/* *out = sorted array of subjects with a live version (or any version when deleted != 0). */
hs_err_t hs_regstore_subjects(hs_regstore_t *s, int deleted, json_t **out, int *code, char *errstr,
                              size_t errstr_size);

/* *out = ascending array of subject's version numbers. */
hs_err_t hs_regstore_versions(hs_regstore_t *s, const char *subject, int deleted, json_t **out,
                              int *code, char *errstr, size_t errstr_size);

/* *out = {"subject","id","version","schema"} of version (a number or HS_REG_LATEST). */
hs_err_t hs_regstore_get_version(hs_regstore_t *s, const char *subject, int32_t version,
                                 int deleted, json_t **out, int *code, char *errstr,
                                 size_t errstr_size);

/* *schema = new string (caller free) holding the schema text of id. */
hs_err_t hs_regstore_schema_by_id(hs_regstore_t *s, int32_t id, char **schema, int *code,
                                  char *errstr, size_t errstr_size);

/* *out = [{"subject","version"}, ...]: where id is registered (live versions). */
hs_err_t hs_regstore_id_versions(hs_regstore_t *s, int32_t id, json_t **out, int *code,
                                 char *errstr, size_t errstr_size);

/* Soft-deletes every live version of subject (permanent: removes versions that were
 * soft-deleted first, like Confluent). *out = array of the version numbers deleted. */
hs_err_t hs_regstore_delete_subject(hs_regstore_t *s, const char *subject, int permanent,
                                    json_t **out, int *code, char *errstr, size_t errstr_size);

/* Soft- (or permanently) deletes one version; *deleted receives its number. */
hs_err_t hs_regstore_delete_version(hs_regstore_t *s, const char *subject, int32_t version,
                                    int permanent, int32_t *deleted, int *code, char *errstr,
                                    size_t errstr_size);

/* Checks schema against version (a number or HS_REG_LATEST: then against the live versions
 * as the subject's level requires). HS_OK with *compatible 1, or 0 and the reason in
 * *messages (new array of strings). An unknown subject with HS_REG_LATEST is compatible. */
hs_err_t hs_regstore_check(hs_regstore_t *s, const char *subject, int32_t version,
                           const char *schema, int *compatible, json_t **messages, int *code,
                           char *errstr, size_t errstr_size);

/* Effective level of subject (NULL or "" = global). With fallback == 0 a subject without its own
 * level fails with HS_ERR_NOT_FOUND (40408); with fallback the global level is returned. */
hs_err_t hs_regstore_get_config(hs_regstore_t *s, const char *subject, int fallback,
                                hs_compat_mode_t *mode, int *code, char *errstr,
                                size_t errstr_size);

/* Sets the level of subject (NULL or "" = global). */
hs_err_t hs_regstore_set_config(hs_regstore_t *s, const char *subject, hs_compat_mode_t mode,
                                int *code, char *errstr, size_t errstr_size);

/* Removes the subject's own level (NULL or "" = reset the global level to the default);
 * *previous receives the level it had. */
hs_err_t hs_regstore_delete_config(hs_regstore_t *s, const char *subject,
                                   hs_compat_mode_t *previous, int *code, char *errstr,
                                   size_t errstr_size);

/* *count receives how many distinct schemas (ids) the store holds. */
hs_err_t hs_regstore_count(hs_regstore_t *s, long *count, char *errstr, size_t errstr_size);

/* Parses a version path segment: "latest" or "-1" → HS_REG_LATEST, 1..2^31-1 → itself;
 * anything else → HS_ERR_INVALID (42202) with Confluent's message. */
hs_err_t hs_regstore_parse_version(const char *text, int32_t *version, int *code, char *errstr,
                                   size_t errstr_size);

#endif
