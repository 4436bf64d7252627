/* The admin API's frame (see admin.h): the route table, dispatched through the bearer check of
 * the shared frame (hs_admin.h), and the audit trail. The routes themselves live in
 * admin_endpoints.c and admin_replays.c. */
#include <stdlib.h>

#include "admin_internal.h"

static const admin_route_t routes[ADMIN_NROUTES] = {
    {"POST", "/v1/endpoints", admin_ep_create, 1},
    {"GET", "/v1/endpoints", admin_ep_list, 0},
    {"GET", "/v1/endpoints/{id}", admin_ep_get, 0},
    {"PATCH", "/v1/endpoints/{id}", admin_ep_patch, 1},
    {"DELETE", "/v1/endpoints/{id}", admin_ep_delete, 1},
    {"POST", "/v1/endpoints/{id}/enable", admin_ep_enable, 1},
    {"POST", "/v1/endpoints/{id}/disable", admin_ep_disable, 1},
    {"POST", "/v1/endpoints/{id}/rotate-secret", admin_ep_rotate, 1},
    {"GET", "/v1/endpoints/{id}/attempts", admin_ep_attempts, 0},
    {"POST", "/v1/replays", admin_replay_create, 1},
    {"GET", "/v1/replays/{id}", admin_replay_get, 0},
    {"POST", "/v1/replays/{id}/cancel", admin_replay_cancel, 1},
    {"GET", "/v1/audit", admin_audit_list, 0},
};

static void dispatch(hs_http_req_t *req, void *opaque) {
    const admin_route_ctx_t *ctx = opaque;
    admin_actor_t who;
    if (hs_admin_authorize(&ctx->a->tokens, req, ctx->route->write, &who)) return;
    ctx->route->fn(ctx->a, req, &who);
}

void admin_audit(deliver_admin_t *a, const admin_actor_t *who, const char *action,
                 const char *target, const json_t *detail) {
    char err[512] = "";
    hs_err_t rc = deliver_store_audit(a->store, who->name, who->role, action, target, detail, err,
                                      sizeof err);
    hs_admin_audited(a->producer, "deliver", who, action, target, detail, rc, err);
}

void admin_changed(deliver_admin_t *a) {
    if (a->changed) a->changed(a->opaque);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

deliver_admin_t *deliver_admin_new(const deliver_admin_opts_t *o, char *errstr, size_t n) {
    deliver_admin_t *a = calloc(1, sizeof *a);
    if (!a) {
        hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
        return NULL;
    }
    a->store = o->store;
    a->cfg = o->cfg;
    a->producer = o->producer;
    a->changed = o->changed;
    a->opaque = o->opaque;
    a->grace_s = hs_config_int(o->cfg, "deliver.secret_grace_s");
    char err[512];
    if (!(a->ssrf = hs_ssrf_new(hs_config_str(o->cfg, "deliver.allow_private"), err, sizeof err))) {
        hs_fail(HS_ERR_INVALID, errstr, n, "deliver.allow_private: %s", err);
        deliver_admin_destroy(a);
        return NULL;
    }
    if (hs_admin_tokens_load(&a->tokens, o->cfg, "deliver.admin_tokens", "deliver.read_tokens",
                             errstr, n)) {
        deliver_admin_destroy(a);
        return NULL;
    }
    for (size_t i = 0; i < ADMIN_NROUTES; i++)
        a->ctx[i] = (admin_route_ctx_t){a, &routes[i]};
    return a;
}

void deliver_admin_routes(deliver_admin_t *a, hs_http_server_t *srv) {
    for (size_t i = 0; i < ADMIN_NROUTES; i++)
        hs_http_route(srv, routes[i].method, routes[i].pattern, dispatch, &a->ctx[i]);
}

void deliver_admin_destroy(deliver_admin_t *a) {
    if (!a) return;
    hs_ssrf_destroy(a->ssrf);
    hs_admin_tokens_clear(&a->tokens);
    free(a);
}
