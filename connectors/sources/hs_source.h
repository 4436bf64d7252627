/* Provider source connectors: how a webhook from Shopify, Stripe, GitHub, Slack, Standard
 * Webhooks, Svix, Zendesk, Twilio, Chatwoot or any HMAC-signing provider (generic-hmac) is
 * verified, identified, classified and mapped to typed hookstream events. One small vtable per
 * provider (connectors/sources/source_<provider>.c; Svix shares Standard Webhooks' file), found
 * by name in one table. ingest, replay, `hookstream verify` and the tests all go through this
 * header.
 * @locality: every function is reentrant; tables and vtables are immutable. */
#ifndef HS_SOURCE_H
#define HS_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hs_err.h"

#define HS_SOURCE_MAX_SECRETS 8 /* secrets tried per source (rotation) */
#define HS_SOURCE_MAX_EVENTS 4  /* typed events one webhook can map to */
#define HS_SOURCE_ID_MAX 256    /* longest provider event id kept, NUL included */
#define HS_SOURCE_TYPE_MAX 128  /* longest provider event type kept, NUL included */

/* One incoming webhook. Everything is borrowed from the caller for the duration of a call. */
typedef struct {
    const char *method; /* "POST"; NULL is read as "POST" */
    const char *url;    /* public URL as the provider called it, query included (Twilio and
                         * generic-hmac {url} sign it); NULL when unknown */
    /* Case-insensitive header lookup: returns the first value of `name` or NULL. */
    const char *(*header)(void *ctx, const char *name);
    void *header_ctx;
    const char *body; /* raw bytes exactly as received */
    size_t body_len;
    const char *content_type; /* Content-Type header value, NULL when absent */
} hs_source_req_t;

/* generic-hmac settings; every string is borrowed and may be NULL for its default. */
typedef struct {
    const char *header;           /* signature header, required: "X-Signature" */
    const char *algorithm;        /* "sha1" | "sha256" (default) | "sha512" */
    const char *encoding;         /* "hex" (default) | "base64" */
    const char *prefix;           /* stripped from the header value first: "sha256=" */
    const char *tmpl;             /* signed content, default "{body}"; placeholders {body}
                                   * {timestamp} {id} {method} {url} */
    const char *timestamp_header; /* where {timestamp} comes from; checked against tolerance */
    const char *timestamp_format; /* "unix" (default) | "unix_ms" | "iso8601" | "http_date" */
    const char *id_header;        /* where {id} and the event id come from */
} hs_source_generic_t;

/* A configured source. Strings and the secrets array are borrowed. */
typedef struct {
    const char *name;           /* "shop1": the route /webhooks/{name} and topic hs.inbox.{name} */
    const char *type;           /* provider type: "shopify" (see hs_source_find) */
    const char *tenant;         /* owner of the source, NULL when none */
    const char *const *secrets; /* 1..HS_SOURCE_MAX_SECRETS; any may match (rotation) */
    size_t nsecrets;
    int tolerance_s; /* timestamp window in seconds: 0 means the default 300, < 0 turns the
                      * age check off (signatures are still checked) */
    int inventory_low_threshold; /* inventory.low when available < threshold: 0 means the
                                  * default 10, < 0 never */
    hs_source_generic_t generic; /* generic-hmac only */
} hs_source_cfg_t;

/* What a webhook is, from the provider's point of view. */
typedef struct {
    char type[HS_SOURCE_TYPE_MAX]; /* "orders/create", "payment_intent.succeeded"; "" when the
                                    * provider named none */
    char challenge[256];           /* non-empty for a handshake (Slack url_verification): answer 200
                                    * text/plain with exactly this and produce nothing */
} hs_source_class_t;

/* One typed hookstream event. */
typedef struct {
    const char *type; /* "order.placed": static string */
    char *key;        /* entity id (the schema's hs.key field): owned, freed by _events_clear */
    json_t *data;     /* object that encodes with the catalog schema of `type`: owned reference */
} hs_source_event_t;

typedef struct {
    hs_source_event_t ev[HS_SOURCE_MAX_EVENTS];
    size_t n;
} hs_source_events_t;

/* The request body parsed once and shared by event_id, classify and map. */
typedef struct {
    json_t *json;         /* the body as JSON, NULL when it is not (form posts, garbage) */
    char json_error[200]; /* why json is NULL: "line 1 column 2: ..." */
} hs_source_body_t;

/* The provider vtable. errstr gets one line naming what failed. */
typedef struct hs_source {
    const char *type;    /* "shopify" */
    const char *summary; /* one line for listings */
    /* Validates cfg (secrets present and in the provider's form, generic-hmac options);
     * HS_ERR_INVALID + reason. May be NULL. */
    hs_err_t (*check)(const hs_source_cfg_t *cfg, char *errstr, size_t errstr_size);
    /* HS_OK when the request carries a valid signature from one of cfg's secrets and (where the
     * provider signs one) a timestamp within tolerance of now_s; HS_ERR_AUTH + reason ("no
     * signature header X-Shopify-Hmac-Sha256", "signature mismatch", "timestamp 1700000000 is
     * 412 s old (tolerance 300 s)"). Constant time in the signature bytes. */
    hs_err_t (*verify)(const hs_source_cfg_t *cfg, const hs_source_req_t *req, int64_t now_s,
                       char *errstr, size_t errstr_size);
    /* Writes the provider's event id (for dedup and the inbox key) to id; HS_ERR_NOT_FOUND when
     * the provider sent none. */
    hs_err_t (*event_id)(const hs_source_cfg_t *cfg, const hs_source_req_t *req,
                         const hs_source_body_t *body, char *id, size_t id_size, char *errstr,
                         size_t errstr_size);
    /* Fills out (type, handshake); HS_ERR_INVALID when the body cannot be read at all. */
    hs_err_t (*classify)(const hs_source_cfg_t *cfg, const hs_source_req_t *req,
                         const hs_source_body_t *body, hs_source_class_t *out, char *errstr,
                         size_t errstr_size);
    /* Appends 0..n typed events for cls->type (0: unmapped, not an error); HS_ERR_INVALID when
     * the body is unparseable or lacks a field the mapping requires ("unparseable JSON body:
     * ...", "data.object.id: missing"); nothing is left in out on error. */
    hs_err_t (*map)(const hs_source_cfg_t *cfg, const hs_source_req_t *req,
                    const hs_source_body_t *body, const hs_source_class_t *cls,
                    hs_source_events_t *out, char *errstr, size_t errstr_size);
} hs_source_t;

/* Returns the connector for a provider type ("shopify", "standard-webhooks"), NULL if unknown.
 * Borrowed, static lifetime. */
const hs_source_t *hs_source_find(const char *type);

/* Returns the i-th connector in table order, NULL when i is past the end. */
const hs_source_t *hs_source_at(size_t i);

/* Writes the known provider types, comma-separated ("shopify, stripe, ..."), to out. */
void hs_source_list(char *out, size_t out_size);

/* Validates cfg for src: 1..HS_SOURCE_MAX_SECRETS non-empty secrets, then src->check.
 * HS_ERR_INVALID + reason. */
hs_err_t hs_source_check(const hs_source_t *src, const hs_source_cfg_t *cfg, char *errstr,
                         size_t errstr_size);

/* Parses req's body as JSON into body (never fails: body->json is NULL with json_error set when
 * the body is not JSON). Nesting is bounded by jansson's limit. Free with hs_source_body_clear. */
void hs_source_body_parse(const hs_source_req_t *req, hs_source_body_t *body);
void hs_source_body_clear(hs_source_body_t *body);

/* Frees every event in ev and sets n to 0. */
void hs_source_events_clear(hs_source_events_t *ev);

/* What ingest does with a verified webhook. */
typedef enum {
    HS_SOURCE_MAPPED,      /* events.n >= 1 typed events */
    HS_SOURCE_UNMAPPED,    /* known body, no mapping for this provider event type */
    HS_SOURCE_UNPARSEABLE, /* the body is not what the provider sends (bad JSON, missing ids);
                            * keep it on the inbox only */
    HS_SOURCE_HANDSHAKE,   /* answer cls.challenge, produce nothing */
} hs_source_outcome_t;

typedef struct {
    hs_source_outcome_t outcome;
    char event_id[HS_SOURCE_ID_MAX]; /* provider id, else "sha256:<hex of the body>" */
    hs_source_class_t cls;
    hs_source_events_t events;
    char detail[256]; /* why unparseable */
} hs_source_result_t;

/* Returns "mapped" | "unmapped" | "unparseable" | "handshake". */
const char *hs_source_outcome_str(hs_source_outcome_t o);

/* After verify succeeded: event id, classification and mapping in one call. Returns HS_OK with
 * the outcome in out (a body that cannot be mapped is an outcome, not an error); other errors
 * only for out of memory. Free with hs_source_result_clear. */
hs_err_t hs_source_process(const hs_source_t *src, const hs_source_cfg_t *cfg,
                           const hs_source_req_t *req, hs_source_result_t *out, char *errstr,
                           size_t errstr_size);
void hs_source_result_clear(hs_source_result_t *r);

/* A header list for hs_source_req_t.header: ctx is an array of {name, value} ended by
 * {NULL, NULL}; lookup is case-insensitive and returns the first match. */
typedef struct {
    const char *name;
    const char *value;
} hs_source_header_t;
const char *hs_source_header_array(void *ctx, const char *name);

#endif
