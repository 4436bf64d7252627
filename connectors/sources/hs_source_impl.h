/* What the connector files share and nobody else needs: the connector vtables, helpers for the
 * verify step (secrets, decoded signatures, headers) and the table-driven mapping engine that
 * turns a provider's JSON into a typed event: one hs_map_rule_t per (provider event type,
 * hookstream type), fields described by hs_map_field_t tables next to each connector. */
#ifndef HS_SOURCE_IMPL_H
#define HS_SOURCE_IMPL_H

#include "hs_sigutil.h"
#include "hs_source.h"

extern const hs_source_t hs_source_shopify;
extern const hs_source_t hs_source_stripe;
extern const hs_source_t hs_source_github;
extern const hs_source_t hs_source_slack;
extern const hs_source_t hs_source_standard_webhooks;
extern const hs_source_t hs_source_svix;
extern const hs_source_t hs_source_zendesk;
extern const hs_source_t hs_source_twilio;
extern const hs_source_t hs_source_chatwoot;
extern const hs_source_t hs_source_generic_hmac;

#define HS_SOURCE_DEFAULT_TOLERANCE 300
#define HS_SOURCE_DEFAULT_LOW_THRESHOLD 10

/* ---- verify helpers ---- */

/* A signature as received, decoded to bytes. */
typedef struct {
    unsigned char b[HS_SIG_MAX_DIGEST];
    size_t n;
} hs_src_sig_t;

/* How a configured secret becomes the HMAC key. */
typedef enum {
    HS_SRC_KEY_TEXT,  /* the secret's bytes as written (Shopify, Stripe, GitHub, ...) */
    HS_SRC_KEY_WHSEC, /* base64 after an optional "whsec_" prefix (Standard Webhooks, Svix) */
} hs_src_key_t;

/* Returns the header value or NULL (req->header may be NULL). */
const char *hs_src_header(const hs_source_req_t *req, const char *name);

/* Returns cfg's tolerance with the default applied (< 0: off). */
int hs_src_tolerance(const hs_source_cfg_t *cfg);

/* Decodes a whsec_ secret into key (room for 256 bytes); returns its length or -1. */
long hs_src_whsec_key(const char *secret, unsigned char *key, size_t key_size);

/* Checks that every secret of cfg decodes as mode wants; HS_ERR_INVALID names the secret. */
hs_err_t hs_src_check_keys(const hs_source_cfg_t *cfg, hs_src_key_t mode, char *errstr,
                           size_t errstr_size);

/* HS_OK when HMAC-alg(secret, parts) equals one of sigs for one of cfg's secrets, else
 * HS_ERR_AUTH "signature mismatch". Every secret and signature is tried (no early exit on the
 * secret that matched) so the time taken does not say which one matched. */
hs_err_t hs_src_match(const hs_source_cfg_t *cfg, hs_src_key_t mode, hs_sig_alg_t alg,
                      const hs_sig_part_t *parts, size_t nparts, const hs_src_sig_t *sigs,
                      size_t nsigs, char *errstr, size_t errstr_size);

/* Copies header `name` into id; HS_ERR_NOT_FOUND when absent or empty, HS_ERR_TOO_LARGE when
 * it does not fit. */
hs_err_t hs_src_id_from_header(const hs_source_req_t *req, const char *name, char *id,
                               size_t id_size);

/* Copies the string (or integer, as decimal) at path of the body JSON into out; HS_ERR_NOT_FOUND
 * when absent, HS_ERR_TOO_LARGE when it does not fit. */
hs_err_t hs_src_json_text(const hs_source_body_t *body, const char *path, char *out,
                          size_t out_size);

/* Returns HS_ERR_INVALID "unparseable JSON body: ..." when body has no JSON, else HS_OK. */
hs_err_t hs_src_need_json(const hs_source_body_t *body, char *errstr, size_t errstr_size);

/* Returns 1 when the request's content type is application/x-www-form-urlencoded. */
int hs_src_is_form(const hs_source_req_t *req);

/* Standard Webhooks verification, shared with Svix: headers <prefix>-id, <prefix>-timestamp and
 * <prefix>-signature, each falling back to webhook-* (Svix's libraries accept both). */
hs_err_t hs_src_stdwh_verify(const hs_source_cfg_t *cfg, const hs_source_req_t *req, int64_t now_s,
                             const char *prefix, char *errstr, size_t errstr_size);

/* The JSON body's top-level "type" (Standard Webhooks payloads); HS_ERR_INVALID when the body
 * is not JSON. */
hs_err_t hs_src_classify_json_type(const hs_source_body_t *body, hs_source_class_t *out,
                                   char *errstr, size_t errstr_size);

/* ---- the mapping engine ---- */

typedef enum {
    HS_MAP_STRING,     /* string; integers become decimal text; arg: default text when absent */
    HS_MAP_INT,        /* Avro int from a JSON integer or decimal string (range-checked) */
    HS_MAP_LONG,       /* Avro long, likewise */
    HS_MAP_BOOL,       /* true when JSON true, or a string equal to arg; absent: false */
    HS_MAP_TIME_MS,    /* ISO 8601 string or unix seconds → milliseconds */
    HS_MAP_RECORD,     /* nested record: arg is its field table, path the object */
    HS_MAP_RECORDS,    /* array of records: arg is the item field table; absent: [] */
    HS_MAP_STRINGS,    /* array of strings, or one comma-separated string; absent: [] */
    HS_MAP_ATTRS,      /* map<string>: arg is a table of attribute sources; absent: {} */
    HS_MAP_EACH,       /* attribute source: each scalar member of an object, key name+member */
    HS_MAP_FIRST_WORD, /* "Jenny Rosen" → "Jenny" */
    HS_MAP_REST_WORDS, /* "Jenny Rosen" → "Rosen"; absent when there is one word */
    HS_MAP_SNAKE,      /* "Channel::WebWidget" → "web_widget" */
} hs_map_kind_t;

#define HS_MAP_OPT 1u   /* absent → null (the schema field is ["null", ...]) */
#define HS_MAP_LOWER 2u /* strings are lower-cased */

/* One output field. path is relative to the current object: "customer.email", "items.0.id",
 * alternatives "a|b" (first present wins), "^x" from the rule's root object, "$x" from the body
 * root, "@Name" a request header. Absent (missing or null) with no default, not OPT and not a
 * kind with an empty value → the mapping fails naming the path. Tables end with {NULL}. */
typedef struct hs_map_field {
    const char *name;
    const char *path;
    hs_map_kind_t kind;
    unsigned flags;
    const void *arg;
} hs_map_field_t;

typedef struct {
    const char *provider_type; /* cls->type this rule answers: "orders/create" */
    const char *type;          /* hookstream type: "order.placed" */
    const char *root;          /* path of the mapped object in the body: "" or "data.object" */
    const hs_map_field_t *fields;
    /* Optional: returns 0 to skip this rule for this body (inventory.low above threshold). */
    int (*when)(const hs_source_cfg_t *cfg, const json_t *root);
    /* Optional: sets fields that come from cfg, not from the body. */
    hs_err_t (*finish)(const hs_source_cfg_t *cfg, json_t *data);
} hs_map_rule_t;

/* Resolves a path (syntax above, without alternatives) from obj; borrowed or NULL. */
const json_t *hs_map_get(const json_t *obj, const char *path);

/* Appends one event per rule (of the NULL-terminated rules, ended by provider_type NULL)
 * whose provider_type is cls->type. The body must be JSON. On error nothing is appended. */
hs_err_t hs_map_apply(const hs_map_rule_t *rules, const hs_source_cfg_t *cfg,
                      const hs_source_req_t *req, const hs_source_body_t *body,
                      const hs_source_class_t *cls, hs_source_events_t *out, char *errstr,
                      size_t errstr_size);

#endif
