/* The frame the services' admin APIs (/v1/... of deliver and workflows) are built on: bearer
 * tokens from NAME:TOKEN lists with an admin (write) and a read-only role, the check each route
 * makes before it runs, RFC 9457 problem+json answers (422 naming the field), JSON bodies, query
 * values (limit, times) and the hs.audit record of every change. Each service keeps its routes,
 * its store and its audit row. docs/deliver-api.md ("Authentication", "Errors", "Audit"). */
#ifndef HS_ADMIN_H
#define HS_ADMIN_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_config.h"
#include "hs_err.h"
#include "hs_http.h"

#define HS_ADMIN_MAX_TOKENS 64
#define HS_ADMIN_AUDIT_TOPIC "hs.audit"

/* Who is calling: the NAME of the NAME:TOKEN entry that matched, and its role. */
typedef struct {
    const char *name; /* borrowed from the token table */
    const char *role; /* "admin" | "read" (static) */
} hs_admin_actor_t;

typedef struct {
    char name[64];
    unsigned char digest[32]; /* SHA-256 of the token: compared in constant time */
    int write;
} hs_admin_token_t;

/* @locality: filled before the HTTP server starts, read-only afterwards (any server thread). */
typedef struct {
    hs_admin_token_t tokens[HS_ADMIN_MAX_TOKENS];
    size_t n;
} hs_admin_tokens_t;

/* Fills t (cleared first) with the entries of config keys admin_key (admin role) and read_key
 * (read role): comma-separated NAME:TOKEN. Errors name the key and the entry number, never the
 * token. Logs a warning when both are empty (every request is refused then). */
hs_err_t hs_admin_tokens_load(hs_admin_tokens_t *t, const hs_config_t *cfg, const char *admin_key,
                              const char *read_key, char *errstr, size_t n);
/* Wipes the digests and names. */
void hs_admin_tokens_clear(hs_admin_tokens_t *t);
/* The entry matching "Authorization: Bearer T", or NULL. Every entry is compared in constant
 * time over fixed-size digests. Borrowed from t. */
const hs_admin_token_t *hs_admin_authenticate(const hs_admin_tokens_t *t, hs_http_req_t *req);
/* The check before a route: returns 0 and *who, or answers 401 (no or unknown token, with
 * WWW-Authenticate) or 403 (write route, read-only token) and returns -1. */
int hs_admin_authorize(const hs_admin_tokens_t *t, hs_http_req_t *req, int write,
                       hs_admin_actor_t *who);

/* problem+json {"type","title","status","detail"[,"field"]}; detail and field may be NULL. */
void hs_admin_problem(hs_http_req_t *req, int status, const char *detail, const char *field);
/* Answers a store error: status from hs_err_http_status, detail errstr; 5xx are logged. */
void hs_admin_fail(hs_http_req_t *req, hs_err_t err, const char *errstr);
/* 422 "<field>: <reason>" with "field". */
void hs_admin_invalid(hs_http_req_t *req, const char *field, const char *reason);
/* Parses the body as a JSON object into *out (new reference). Empty body: *out = NULL and 0
 * when optional, else 400. On failure answers 400 and returns -1. */
int hs_admin_body(hs_http_req_t *req, int optional, json_t **out);

/* TIME as JSON: integer unix ms, a string of digits (unix ms) or an RFC 3339 string. Returns 0
 * and *ms, or -1. */
int hs_admin_time(const json_t *v, int64_t *ms);
/* The same for a query-string value. */
int hs_admin_time_text(const char *s, int64_t *ms);
/* limit query parameter: 1..1000, default 100 (s NULL); -1 when malformed. */
int hs_admin_limit(const char *s);

/* Ends the audit of a change whose row the service wrote (row: its result, row_error: why it
 * failed): logs a failed row, produces the record {"at_ms","service","actor","role","action",
 * "target","detail"} to hs.audit (key = actor) when producer is not NULL, and logs the change.
 * detail borrowed, may be NULL; it never holds a secret. Failures are logged, the change
 * stands. */
void hs_admin_audited(rd_kafka_t *producer, const char *service, const hs_admin_actor_t *who,
                      const char *action, const char *target, const json_t *detail, hs_err_t row,
                      const char *row_error);

#endif
