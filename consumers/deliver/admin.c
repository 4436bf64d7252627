/* The admin API's frame (see admin.h): token table and bearer auth, the route table, problem+json
 * answers, request bodies, times, and the audit trail. The routes themselves live in
 * admin_endpoints.c and admin_replays.c. */
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admin_internal.h"
#include "hs_envelope.h"
#include "hs_log.h"

#define AUDIT_TOPIC "hs.audit"
#define MAX_TOKEN_LIST 8192
#define UNIX_MS_MIN 100000000000LL /* digit strings from here up are ms (1973+) */

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

static const struct {
    int status;
    const char *title;
} titles[] = {
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {409, "Conflict"},
    {413, "Content Too Large"},
    {422, "Unprocessable Content"},
    {501, "Not Implemented"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
};

/* ---- tokens ------------------------------------------------------------------------------ */

/* Adds the NAME:TOKEN entries of one config key. Errors name the key and entry number, never
 * the token. */
static hs_err_t load_tokens(deliver_admin_t *a, const char *key, int write, char *errstr,
                            size_t n) {
    const char *list = hs_config_str(a->cfg, key);
    if (strlen(list) >= MAX_TOKEN_LIST)
        return hs_fail(HS_ERR_INVALID, errstr, n, "%s: longer than %d bytes", key, MAX_TOKEN_LIST);
    char buf[MAX_TOKEN_LIST];
    snprintf(buf, sizeof buf, "%s", list);
    hs_err_t rc = HS_OK;
    int i = 0;
    for (char *save = NULL, *e = strtok_r(buf, ",", &save); e && !rc;
         e = strtok_r(NULL, ",", &save)) {
        i++;
        e += strspn(e, " ");
        char *colon = strchr(e, ':');
        size_t name_len = colon ? (size_t)(colon - e) : 0;
        if (!colon || !name_len || !colon[1] || colon[1] == ' ' ||
            name_len >= sizeof a->tokens[0].name) {
            rc = hs_fail(HS_ERR_INVALID, errstr, n, "%s: entry %d is not NAME:TOKEN", key, i);
        } else if (a->ntokens == ADMIN_MAX_TOKENS) {
            rc = hs_fail(HS_ERR_INVALID, errstr, n, "%s: more than %d tokens", key,
                         ADMIN_MAX_TOKENS);
        } else {
            admin_token_t *t = &a->tokens[a->ntokens++];
            snprintf(t->name, sizeof t->name, "%.*s", (int)name_len, e);
            char *tok = colon + 1;
            tok[strcspn(tok, " ")] = 0;
            SHA256((const unsigned char *)tok, strlen(tok), t->digest);
            t->write = write;
        }
    }
    OPENSSL_cleanse(buf, sizeof buf);
    return rc;
}

/* The token entry matching "Authorization: Bearer T", or NULL. Every entry is compared, each
 * in constant time over fixed-size digests, so timing tells nothing about the tokens. */
static const admin_token_t *authenticate(const deliver_admin_t *a, hs_http_req_t *req) {
    const char *h = hs_http_req_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7)) return NULL;
    const char *tok = h + 7 + strspn(h + 7, " ");
    if (!*tok) return NULL;
    unsigned char digest[32];
    SHA256((const unsigned char *)tok, strlen(tok), digest);
    const admin_token_t *found = NULL;
    for (size_t i = 0; i < a->ntokens; i++)
        if (!CRYPTO_memcmp(digest, a->tokens[i].digest, sizeof digest)) found = &a->tokens[i];
    return found;
}

static void dispatch(hs_http_req_t *req, void *opaque) {
    const admin_route_ctx_t *ctx = opaque;
    const admin_token_t *t = authenticate(ctx->a, req);
    if (!t) {
        int sent = hs_http_req_header(req, "Authorization") != NULL;
        hs_http_add_header(req, "WWW-Authenticate",
                           sent ? "Bearer realm=\"hookstream\", error=\"invalid_token\""
                                : "Bearer realm=\"hookstream\"");
        admin_problem(req, 401,
                      sent ? "the bearer token is not valid" : "a bearer token is required", NULL);
        return;
    }
    if (ctx->route->write && !t->write) {
        admin_problem(req, 403, "this token is read-only", NULL);
        return;
    }
    admin_actor_t who = {t->name, t->write ? "admin" : "read"};
    ctx->route->fn(ctx->a, req, &who);
}

/* ---- answers ----------------------------------------------------------------------------- */

void admin_problem(hs_http_req_t *req, int status, const char *detail, const char *field) {
    const char *title = "Internal Server Error";
    for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++)
        if (titles[i].status == status) title = titles[i].title;
    json_t *p =
        json_pack("{s:s, s:s, s:i}", "type", "about:blank", "title", title, "status", status);
    if (p && detail) json_object_set_new(p, "detail", json_string(detail));
    if (p && field) json_object_set_new(p, "field", json_string(field));
    char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (!text) {
        hs_http_respond_problem(req, 500, "Internal Server Error", "out of memory");
        return;
    }
    hs_http_respond(req, status, "application/problem+json", text, strlen(text));
    free(text);
}

void admin_fail(hs_http_req_t *req, hs_err_t err, const char *errstr) {
    int status = hs_err_http_status(err);
    if (status >= 500)
        hs_log(HS_LOG_ERROR, "admin request failed", "{s:s, s:s, s:s}", "path",
               hs_http_req_path(req), "error", errstr, "class", hs_err_str(err));
    admin_problem(req, status, errstr, NULL);
}

void admin_invalid(hs_http_req_t *req, const char *field, const char *reason) {
    char detail[768];
    snprintf(detail, sizeof detail, "%s: %s", field, reason);
    admin_problem(req, 422, detail, field);
}

int admin_body(hs_http_req_t *req, int optional, json_t **out) {
    size_t len;
    const char *body = hs_http_req_body(req, &len);
    *out = NULL;
    if (!len && optional) return 0;
    if (!len) return admin_problem(req, 400, "a JSON object body is required", NULL), -1;
    json_error_t jerr;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v || !json_is_object(v)) {
        char detail[256];
        if (v)
            snprintf(detail, sizeof detail, "the body must be a JSON object");
        else
            snprintf(detail, sizeof detail, "malformed JSON at line %d column %d: %s", jerr.line,
                     jerr.column, jerr.text);
        json_decref(v);
        admin_problem(req, 400, detail, NULL);
        return -1;
    }
    *out = v;
    return 0;
}

/* ---- audit ------------------------------------------------------------------------------- */

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void audit_produce(deliver_admin_t *a, const admin_actor_t *who, const char *action,
                          const char *target, const json_t *detail) {
    json_t *rec =
        json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:O}", "at_ms", (json_int_t)wall_ms(), "service",
                  "deliver", "actor", who->name, "role", who->role, "action", action, "target",
                  target, "detail", detail ? (json_t *)detail : json_null());
    char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    json_decref(rec);
    if (!text) return;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        a->producer, RD_KAFKA_V_TOPIC(AUDIT_TOPIC), RD_KAFKA_V_KEY(who->name, strlen(who->name)),
        RD_KAFKA_V_VALUE(text, strlen(text)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_END);
    free(text);
    if (err)
        hs_log(HS_LOG_ERROR, "audit record not produced", "{s:s, s:s, s:s}", "topic", AUDIT_TOPIC,
               "action", action, "error", rd_kafka_err2str(err));
}

void admin_audit(deliver_admin_t *a, const admin_actor_t *who, const char *action,
                 const char *target, const json_t *detail) {
    char err[512];
    if (deliver_store_audit(a->store, who->name, who->role, action, target, detail, err,
                            sizeof err))
        hs_log(HS_LOG_ERROR, "audit row not written", "{s:s, s:s, s:s}", "action", action, "target",
               target, "error", err);
    if (a->producer) audit_produce(a, who, action, target, detail);
    hs_log(HS_LOG_INFO, "admin change", "{s:s, s:s, s:s}", "actor", who->name, "action", action,
           "target", target);
}

void admin_changed(deliver_admin_t *a) {
    if (a->changed) a->changed(a->opaque);
}

/* ---- values ------------------------------------------------------------------------------ */

int admin_time_text(const char *s, int64_t *ms) {
    if (!s || !*s) return -1;
    if (strspn(s, "0123456789") == strlen(s)) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (strlen(s) > 15 || v < UNIX_MS_MIN) return -1;
        *ms = v;
        return 0;
    }
    *ms = hs_envelope_time_ms(s);
    return *ms >= 0 ? 0 : -1;
}

int admin_time(const json_t *v, int64_t *ms) {
    if (json_is_integer(v)) {
        *ms = json_integer_value(v);
        return *ms >= 0 ? 0 : -1;
    }
    return json_is_string(v) ? admin_time_text(json_string_value(v), ms) : -1;
}

int admin_limit(const char *s) {
    if (!s) return 100;
    char *end;
    long v = strtol(s, &end, 10);
    return (end == s || *end || v < 1 || v > 1000) ? -1 : (int)v;
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
    if (load_tokens(a, "deliver.admin_tokens", 1, errstr, n) ||
        load_tokens(a, "deliver.read_tokens", 0, errstr, n)) {
        deliver_admin_destroy(a);
        return NULL;
    }
    if (!a->ntokens)
        hs_log(HS_LOG_WARN, "no admin API tokens: every /v1 request is refused", "{s:s}", "set",
               "deliver.admin_tokens");
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
    OPENSSL_cleanse(a->tokens, sizeof a->tokens);
    free(a);
}
