/* Shared between the files of the admin API (admin.c: auth, routing, answers, audit;
 * admin_endpoints.c: endpoint routes and validation; admin_replays.c: attempts, replays,
 * audit list). Not part of the admin's API. */
#ifndef DELIVER_ADMIN_INTERNAL_H
#define DELIVER_ADMIN_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "admin.h"
#include "hs_ssrf.h"

#define ADMIN_MAX_TOKENS 64
#define ADMIN_NROUTES 13

/* Who is calling: the NAME of the NAME:TOKEN entry that matched, and its role. */
typedef struct {
    const char *name;
    const char *role; /* "admin" | "read" */
} admin_actor_t;

typedef void (*admin_fn)(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who);

typedef struct {
    const char *method, *pattern;
    admin_fn fn;
    int write; /* needs the admin role */
} admin_route_t;

typedef struct {
    deliver_admin_t *a;
    const admin_route_t *route;
} admin_route_ctx_t;

typedef struct {
    char name[64];
    unsigned char digest[32]; /* SHA-256 of the token: compared in constant time */
    int write;
} admin_token_t;

/* @locality: immutable after deliver_admin_new; handlers run on any server thread. */
struct deliver_admin {
    deliver_store_t *store;
    const hs_config_t *cfg;
    rd_kafka_t *producer;
    void (*changed)(void *opaque);
    void *opaque;
    hs_ssrf_t *ssrf;
    int64_t grace_s;
    admin_token_t tokens[ADMIN_MAX_TOKENS];
    size_t ntokens;
    admin_route_ctx_t ctx[ADMIN_NROUTES];
};

/* ---- admin.c ---- */
/* problem+json {"type","title","status","detail"[,"field"]}; field may be NULL. */
void admin_problem(hs_http_req_t *req, int status, const char *detail, const char *field);
/* Answers a store error: status from hs_err_http_status, detail errstr; 5xx are logged. */
void admin_fail(hs_http_req_t *req, hs_err_t err, const char *errstr);
/* 422 "<field>: <reason>". */
void admin_invalid(hs_http_req_t *req, const char *field, const char *reason);
/* Parses the body as a JSON object into *out (new reference). Empty body: *out = NULL and 0
 * when optional, else 400. On failure answers 400 and returns -1. */
int admin_body(hs_http_req_t *req, int optional, json_t **out);
/* Writes the audit row and the hs.audit record (detail borrowed, may be NULL; never holds a
 * secret); failures are logged, the change stands. */
void admin_audit(deliver_admin_t *a, const admin_actor_t *who, const char *action,
                 const char *target, const json_t *detail);
/* Tells the service its endpoints changed. */
void admin_changed(deliver_admin_t *a);
/* TIME as JSON: integer unix ms, a string of digits (unix ms) or an RFC 3339 string. Returns 0
 * and *ms, or -1. */
int admin_time(const json_t *v, int64_t *ms);
/* The same for a query-string value. */
int admin_time_text(const char *s, int64_t *ms);
/* limit query parameter: 1..1000, default 100; -1 when malformed. */
int admin_limit(const char *s);

/* ---- admin_endpoints.c ---- */
void admin_ep_create(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who);
void admin_ep_list(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who);
void admin_ep_get(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who);
void admin_ep_patch(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who);
void admin_ep_delete(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who);
void admin_ep_enable(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who);
void admin_ep_disable(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who);
void admin_ep_rotate(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who);

/* ---- admin_replays.c ---- */
void admin_ep_attempts(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who);
void admin_replay_create(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who);
void admin_replay_get(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who);
void admin_replay_cancel(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who);
void admin_audit_list(deliver_admin_t *a, hs_http_req_t *req, const admin_actor_t *who);

#endif
