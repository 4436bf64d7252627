/* Shared between the files of the admin API (admin.c: routing, audit; admin_endpoints.c:
 * endpoint routes and validation; admin_replays.c: attempts, replays, audit list). Tokens,
 * answers, bodies and query values come from the shared frame (hs_admin.h). Not part of the
 * admin's API. */
#ifndef DELIVER_ADMIN_INTERNAL_H
#define DELIVER_ADMIN_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "admin.h"
#include "hs_admin.h"
#include "hs_ssrf.h"

#define ADMIN_NROUTES 13

/* Who is calling (the shared frame's actor). */
typedef hs_admin_actor_t admin_actor_t;

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

/* @locality: immutable after deliver_admin_new; handlers run on any server thread. */
struct deliver_admin {
    deliver_store_t *store;
    const hs_config_t *cfg;
    rd_kafka_t *producer;
    void (*changed)(void *opaque);
    void *opaque;
    hs_ssrf_t *ssrf;
    int64_t grace_s;
    hs_admin_tokens_t tokens;
    admin_route_ctx_t ctx[ADMIN_NROUTES];
};

/* ---- admin.c ---- */
/* Writes the audit row and the hs.audit record (detail borrowed, may be NULL; never holds a
 * secret); failures are logged, the change stands. */
void admin_audit(deliver_admin_t *a, const admin_actor_t *who, const char *action,
                 const char *target, const json_t *detail);
/* Tells the service its endpoints changed. */
void admin_changed(deliver_admin_t *a);

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
