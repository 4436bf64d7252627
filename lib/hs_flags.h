/* Feature flags in flagd's flag-definition format (flagd.dev/reference/flag-definitions):
 * {"flags": {KEY: {state, variants, defaultVariant, targeting, metadata}}, "$evaluators": {...}}.
 * A document is validated as a whole into an immutable, refcounted set and evaluated the way
 * flagd evaluates (reasons STATIC, DEFAULT, TARGETING_MATCH, DISABLED, ERROR), with flagd's
 * JsonLogic operators fractional, sem_ver, starts_with and ends_with. The live store
 * (hs_flags_t) that every service holds keeps the current set from a file (flags.file) and the
 * compacted topic hs.flags (flags.topic), reloaded while running. See docs/flags.md. */
#ifndef HS_FLAGS_H
#define HS_FLAGS_H

#include <jansson.h>
#include <stddef.h>

#include "hs_config.h"
#include "hs_err.h"

#define HS_FLAGS_MAX_DOC_BYTES (4 << 20) /* largest document or topic record accepted */
#define HS_FLAGS_MAX_FLAGS 10000         /* flags in one set */
#define HS_FLAGS_EVALUATORS "$evaluators"

typedef struct hs_flagset hs_flagset_t;
typedef struct hs_flags hs_flags_t;

typedef enum {
    HS_FLAG_REASON_STATIC,          /* no targeting: the default variant */
    HS_FLAG_REASON_DEFAULT,         /* targeting gave null: the default variant */
    HS_FLAG_REASON_TARGETING_MATCH, /* targeting named a variant */
    HS_FLAG_REASON_DISABLED,        /* state DISABLED: the caller's default */
    HS_FLAG_REASON_ERROR,           /* see error: the caller's default */
} hs_flag_reason_t;

typedef enum {
    HS_FLAG_OK = 0,
    HS_FLAG_ERR_NOT_FOUND,       /* FLAG_NOT_FOUND: no flag with that key */
    HS_FLAG_ERR_DISABLED,        /* FLAG_DISABLED: state DISABLED */
    HS_FLAG_ERR_PARSE,           /* PARSE_ERROR: the targeting failed (JsonLogic error) */
    HS_FLAG_ERR_TYPE_MISMATCH,   /* TYPE_MISMATCH: a typed helper met another type */
    HS_FLAG_ERR_INVALID_CONTEXT, /* INVALID_CONTEXT: the context is not a JSON object */
    HS_FLAG_ERR_GENERAL,         /* GENERAL: targeting named no variant of the flag */
} hs_flag_error_t;

/* What one evaluation gave. variant and value are borrowed from the set: valid while the caller
 * holds it. Both are NULL when the caller's default applies (DISABLED, ERROR, or DEFAULT on a
 * flag without defaultVariant). */
typedef struct {
    const char *variant;
    const json_t *value;
    hs_flag_reason_t reason;
    hs_flag_error_t error;
} hs_flag_result_t;

/* ---- sets: parse, validate, evaluate (no I/O, thread-safe) -------------------------------- */

/* Returns a new set (refcount 1) from a flags document, or NULL with errstr. The whole document
 * is validated; the first problem rejects it, named by flag key: "flag 'k': defaultVariant 'x'
 * is not one of its variants", unknown state, mixed variant types, bad JsonLogic, unknown $ref,
 * an invalid literal argument of a flagd operator. text need not be NUL-terminated. */
hs_flagset_t *hs_flagset_parse(const char *text, size_t len, char *errstr, size_t errstr_size);

/* Same from a parsed document (borrowed: the set keeps its own reference). */
hs_flagset_t *hs_flagset_new(const json_t *doc, char *errstr, size_t errstr_size);

/* Takes one more reference (returns set); release drops one and frees the set with the last.
 * Both are thread-safe; release(NULL) is a no-op. */
hs_flagset_t *hs_flagset_ref(hs_flagset_t *set);
void hs_flagset_release(hs_flagset_t *set);

/* The document the set was built from (borrowed, as long as the set). */
const json_t *hs_flagset_doc(const hs_flagset_t *set);

/* Number of flags in the set. */
size_t hs_flagset_count(const hs_flagset_t *set);

/* Evaluates flag key on ctx (a JSON object, borrowed; NULL = {}), which flagd-style gets
 * "$flagd": {"flagKey", "timestamp"} added for the targeting. Fills *res and returns res->error.
 * Lock-free; the fractional rollout over the targeting key (or a var) allocates nothing. */
hs_flag_error_t hs_flagset_eval(const hs_flagset_t *set, const char *key, const json_t *ctx,
                                hs_flag_result_t *res);

/* The flag's boolean value, or def when it is missing, disabled, failed or not a boolean. */
int hs_flagset_bool(const hs_flagset_t *set, const char *key, const json_t *ctx, int def);

/* Static names: "STATIC", ... and "" (OK), "FLAG_NOT_FOUND", ... as flagd and OpenFeature say. */
const char *hs_flag_reason_str(hs_flag_reason_t reason);
const char *hs_flag_error_str(hs_flag_error_t error);

/* ---- documents: merging sources, topic records --------------------------------------------- */

/* Returns a new document: base's flags and evaluators with over's put over them key by key
 * (either may be NULL). Caller json_decrefs it. */
json_t *hs_flags_doc_merge(const json_t *base, const json_t *over);

/* Validates the document over (the topic's) put over base (the file's) makes, and base's flags
 * with the evaluators of both (they come back when over drops its own); either may be NULL.
 * HS_OK or HS_ERR_INVALID with the first problem in errstr. */
hs_err_t hs_flags_doc_check(const json_t *base, const json_t *over, char *errstr,
                            size_t errstr_size);

/* Applies one hs.flags record to state (a document of the topic's flags, changed in place):
 * key = flag key or "$evaluators", value = its JSON, NULL/empty = delete. The record is
 * validated together with base (the file's document, may be NULL) before anything changes;
 * invalid → HS_ERR_INVALID with errstr and state untouched. */
hs_err_t hs_flags_doc_apply(json_t *state, const json_t *base, const char *key, const void *value,
                            size_t len, char *errstr, size_t errstr_size);

/* ---- the live store ------------------------------------------------------------------------ */

/* Returns a new store from cfg (flags.file, flags.topic, flags.poll_ms, kafka.*): reads
 * flags.file when set (a missing or invalid file fails here, naming it), else starts empty.
 * Registers the metrics hs_flag_evaluations_total, hs_flag_reloads_total, hs_flags_loaded.
 * cfg is borrowed for the store's life. Free with hs_flags_destroy. */
hs_flags_t *hs_flags_new(const hs_config_t *cfg, char *errstr, size_t errstr_size);

/* Starts the store's thread: the file polled every flags.poll_ms and reloaded on change; the
 * topic (unless flags.topic is empty) created compacted when missing, read from the beginning
 * and followed. A broker that cannot be reached yet is retried by the thread; only a bad kafka
 * configuration fails here. */
hs_err_t hs_flags_start(hs_flags_t *flags, char *errstr, size_t errstr_size);

/* Waits until the topic was read up to the end it had at start (HS_OK at once without topic);
 * HS_ERR_TIMEOUT after timeout_ms. For services that should not serve before their flags. */
hs_err_t hs_flags_wait_ready(hs_flags_t *flags, int timeout_ms, char *errstr, size_t errstr_size);

/* Returns the current set with a reference the caller drops with hs_flagset_release (never
 * NULL). A reload swaps the set under a lock held for a pointer swap only. */
hs_flagset_t *hs_flags_snapshot(hs_flags_t *flags);

/* hs_flagset_bool on the current set. */
int hs_flags_bool(hs_flags_t *flags, const char *key, const json_t *ctx, int def);

/* The kill switch of integration name: flag "integration.<name>.enabled" evaluated on ctx.
 * 1 when the flag does not exist; 0 when it is DISABLED or evaluates to false; 1 when it
 * evaluates to true; 1 (fail open, counted as ERROR) when its evaluation fails. */
int hs_flags_integration_enabled(hs_flags_t *flags, const char *name, const json_t *ctx);

/* Stops the thread and frees the store (sets still referenced stay valid); NULL is a no-op. */
void hs_flags_destroy(hs_flags_t *flags);

/* ---- the topic (for `hookstream flags`) ---------------------------------------------------- */

/* Reads flags.topic from the beginning to its current end and returns in *state a new document
 * of its flags (records applied with hs_flags_doc_apply over base, invalid ones skipped and
 * logged). Unreachable broker or unknown topic → error, *state NULL. */
hs_err_t hs_flags_topic_read(const hs_config_t *cfg, const json_t *base, json_t **state,
                             char *errstr, size_t errstr_size);

/* Produces one record to flags.topic (created compacted when missing): key, value's compact
 * JSON (value NULL: a tombstone), and waits for the broker's acknowledgement. */
hs_err_t hs_flags_topic_put(const hs_config_t *cfg, const char *key, const json_t *value,
                            char *errstr, size_t errstr_size);

#endif
