/* What the connector files share and nobody else needs: the connector vtables, helpers for the
 * verify step (secrets, decoded signatures, headers), providers described as data (hs_src_spec_t:
 * header names and JSON paths read by shared verify, event id, classify and map functions) and
 * the table-driven mapping engine that turns a provider's JSON into a typed event: one
 * hs_map_rule_t per (provider event type, hookstream type), fields in hs_map_field_t tables. */
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

/* Reads signature header `name` into sig: HS_ERR_AUTH "no signature header ..." when absent,
 * "malformed signature header ...: no <prefix> prefix" / ": not hex" / ": not base64". prefix
 * may be NULL; base64 selects base64, else hex. */
hs_err_t hs_src_sig_read(const hs_source_req_t *req, const char *name, const char *prefix,
                         int base64, hs_src_sig_t *sig, char *errstr, size_t errstr_size);

/* hs_src_match, then (when it matched) timestamp t checked against now_s with cfg's tolerance
 * and window: the tail every timestamped scheme ends with. */
hs_err_t hs_src_match_window(const hs_source_cfg_t *cfg, hs_src_key_t mode, hs_sig_alg_t alg,
                             const hs_sig_part_t *parts, size_t nparts, const hs_src_sig_t *sigs,
                             size_t nsigs, int64_t t, int64_t now_s, hs_sig_window_t window,
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

/* ---- providers as data ----
 * What most providers do differently is a header name or a JSON path, so a provider is an
 * hs_src_spec_t row and the shared functions below read it; a connector writes code only for
 * what is really its own (Stripe's header, Twilio's form signing, Slack's handshake). */

/* How a signed timestamp header is written. */
typedef enum {
    HS_SRC_TS_UNIX,    /* decimal unix seconds, signed as sent */
    HS_SRC_TS_ISO8601, /* "2021-03-25T05:09:27Z" */
} hs_src_ts_t;

/* A scheme of one header holding one HMAC-SHA256 of [lead][timestamp][sep]body, keyed as the
 * spec's key says; when it signs a timestamp, the timestamp must be within cfg's tolerance either
 * way, checked after the signature matched. */
typedef struct {
    const char *sig_header; /* "X-Hub-Signature-256" */
    const char *sig_prefix; /* stripped from the value first: "sha256="; NULL for none */
    int base64;             /* the signature is base64, else hex */
    const char *ts_header;  /* NULL: no timestamp is signed (lead and sep unused) */
    hs_src_ts_t ts_format;
    const char *lead; /* signed before the timestamp: "v0:"; NULL for nothing */
    const char *sep;  /* signed between the timestamp and the body: "."; NULL for nothing */
} hs_src_hmac_t;

#define HS_SRC_JSON_OPTIONAL 1u /* classify accepts a body that is not JSON (type "") */
#define HS_SRC_FORM_OK 2u       /* map accepts form-encoded bodies (nothing to map in them) */
#define HS_SRC_ANY_BODY 4u      /* map accepts any body and maps nothing */

/* One provider as data. Name lists "a|b" are tried in order, the first present wins. */
typedef struct {
    hs_src_key_t key;         /* how secrets become HMAC keys; check refuses others */
    hs_src_hmac_t hmac;       /* verify, when hmac.sig_header is set */
    const char *stdwh_prefix; /* else verify is Standard Webhooks under <prefix>-* headers */
    const char *id_json;      /* event id: body path(s), tried first */
    const char *id_header;    /* event id: header name(s), when the body named none */
    const char *id_form;      /* event id: form parameter, for a form body (Slack trigger_id) */
    const char *type_header;  /* event type: header name(s); the body is not read */
    const char *type_json;    /* else event type: body path(s); the body must be JSON unless
                               * flags has HS_SRC_JSON_OPTIONAL */
    unsigned flags;
    const hs_map_rule_t *rules; /* typed mappings (the body must be JSON); NULL: none */
} hs_src_spec_t;

/* The vtable functions of a provider described by spec; same contracts as in hs_source_t. */
hs_err_t hs_src_spec_check(const hs_src_spec_t *spec, const hs_source_cfg_t *cfg, char *errstr,
                           size_t errstr_size);
hs_err_t hs_src_spec_verify(const hs_src_spec_t *spec, const hs_source_cfg_t *cfg,
                            const hs_source_req_t *req, int64_t now_s, char *errstr,
                            size_t errstr_size);
hs_err_t hs_src_spec_event_id(const hs_src_spec_t *spec, const hs_source_req_t *req,
                              const hs_source_body_t *body, char *id, size_t id_size);
hs_err_t hs_src_spec_classify(const hs_src_spec_t *spec, const hs_source_req_t *req,
                              const hs_source_body_t *body, hs_source_class_t *out, char *errstr,
                              size_t errstr_size);
hs_err_t hs_src_spec_map(const hs_src_spec_t *spec, const hs_source_cfg_t *cfg,
                         const hs_source_req_t *req, const hs_source_body_t *body,
                         const hs_source_class_t *cls, hs_source_events_t *out, char *errstr,
                         size_t errstr_size);

/* The vtable has no self pointer, so each spec gets static functions <name>_check, _verify,
 * _event_id, _classify and _map bound to it; a connector lists those it does not write itself. */
#define HS_SRC_UNUSED __attribute__((unused))
#define HS_SRC_SPEC_FUNCTIONS(name, spec)                                                          \
    HS_SRC_UNUSED static hs_err_t name##_check(const hs_source_cfg_t *cfg, char *errstr,           \
                                               size_t errstr_size) {                               \
        return hs_src_spec_check(&(spec), cfg, errstr, errstr_size);                               \
    }                                                                                              \
    HS_SRC_UNUSED static hs_err_t name##_verify(const hs_source_cfg_t *cfg,                        \
                                                const hs_source_req_t *req, int64_t now_s,         \
                                                char *errstr, size_t errstr_size) {                \
        return hs_src_spec_verify(&(spec), cfg, req, now_s, errstr, errstr_size);                  \
    }                                                                                              \
    HS_SRC_UNUSED static hs_err_t name##_event_id(                                                 \
        const hs_source_cfg_t *cfg, const hs_source_req_t *req, const hs_source_body_t *body,      \
        char *id, size_t id_size, char *errstr, size_t errstr_size) {                              \
        (void)cfg, (void)errstr, (void)errstr_size;                                                \
        return hs_src_spec_event_id(&(spec), req, body, id, id_size);                              \
    }                                                                                              \
    HS_SRC_UNUSED static hs_err_t name##_classify(                                                 \
        const hs_source_cfg_t *cfg, const hs_source_req_t *req, const hs_source_body_t *body,      \
        hs_source_class_t *out, char *errstr, size_t errstr_size) {                                \
        (void)cfg;                                                                                 \
        return hs_src_spec_classify(&(spec), req, body, out, errstr, errstr_size);                 \
    }                                                                                              \
    HS_SRC_UNUSED static hs_err_t name##_map(                                                      \
        const hs_source_cfg_t *cfg, const hs_source_req_t *req, const hs_source_body_t *body,      \
        const hs_source_class_t *cls, hs_source_events_t *out, char *errstr, size_t errstr_size) { \
        return hs_src_spec_map(&(spec), cfg, req, body, cls, out, errstr, errstr_size);            \
    }

#endif
