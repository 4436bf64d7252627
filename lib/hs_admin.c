/* The admin APIs' frame (see hs_admin.h): tokens and the bearer check, problem+json answers,
 * bodies, query values and the hs.audit record. */
#include "hs_admin.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hs_envelope.h"
#include "hs_log.h"

#define MAX_TOKEN_LIST 8192
#define UNIX_MS_MIN 100000000000LL /* digit strings from here up are ms (1973+) */

/* ---- tokens ------------------------------------------------------------------------------ */

/* Adds the NAME:TOKEN entries of one config key. */
static hs_err_t load_list(hs_admin_tokens_t *t, const hs_config_t *cfg, const char *key,
                          int write, char *errstr, size_t n) {
    const char *list = hs_config_str(cfg, key);
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
            name_len >= sizeof t->tokens[0].name) {
            rc = hs_fail(HS_ERR_INVALID, errstr, n, "%s: entry %d is not NAME:TOKEN", key, i);
        } else if (t->n == HS_ADMIN_MAX_TOKENS) {
            rc = hs_fail(HS_ERR_INVALID, errstr, n, "%s: more than %d tokens", key,
                         HS_ADMIN_MAX_TOKENS);
        } else {
            hs_admin_token_t *tok = &t->tokens[t->n++];
            snprintf(tok->name, sizeof tok->name, "%.*s", (int)name_len, e);
            char *secret = colon + 1;
            secret[strcspn(secret, " ")] = 0;
            SHA256((const unsigned char *)secret, strlen(secret), tok->digest);
            tok->write = write;
        }
    }
    OPENSSL_cleanse(buf, sizeof buf);
    return rc;
}

hs_err_t hs_admin_tokens_load(hs_admin_tokens_t *t, const hs_config_t *cfg, const char *admin_key,
                              const char *read_key, char *errstr, size_t n) {
    hs_admin_tokens_clear(t);
    hs_err_t rc = load_list(t, cfg, admin_key, 1, errstr, n);
    if (!rc) rc = load_list(t, cfg, read_key, 0, errstr, n);
    if (rc) {
        hs_admin_tokens_clear(t);
        return rc;
    }
    if (!t->n)
        hs_log(HS_LOG_WARN, "no admin API tokens: every /v1 request is refused", "{s:s}", "set",
               admin_key);
    return HS_OK;
}

void hs_admin_tokens_clear(hs_admin_tokens_t *t) {
    OPENSSL_cleanse(t, sizeof *t);
}

const hs_admin_token_t *hs_admin_authenticate(const hs_admin_tokens_t *t, hs_http_req_t *req) {
    const char *h = hs_http_req_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7)) return NULL;
    const char *tok = h + 7 + strspn(h + 7, " ");
    if (!*tok) return NULL;
    unsigned char digest[32];
    SHA256((const unsigned char *)tok, strlen(tok), digest);
    const hs_admin_token_t *found = NULL;
    for (size_t i = 0; i < t->n; i++)
        if (!CRYPTO_memcmp(digest, t->tokens[i].digest, sizeof digest)) found = &t->tokens[i];
    return found;
}

int hs_admin_authorize(const hs_admin_tokens_t *t, hs_http_req_t *req, int write,
                       hs_admin_actor_t *who) {
    const hs_admin_token_t *tok = hs_admin_authenticate(t, req);
    if (!tok) {
        int sent = hs_http_req_header(req, "Authorization") != NULL;
        hs_http_add_header(req, "WWW-Authenticate",
                           sent ? "Bearer realm=\"hookstream\", error=\"invalid_token\""
                                : "Bearer realm=\"hookstream\"");
        hs_admin_problem(req, 401,
                         sent ? "the bearer token is not valid" : "a bearer token is required",
                         NULL);
        return -1;
    }
    if (write && !tok->write) {
        hs_admin_problem(req, 403, "this token is read-only", NULL);
        return -1;
    }
    *who = (hs_admin_actor_t){tok->name, tok->write ? "admin" : "read"};
    return 0;
}

/* ---- answers ----------------------------------------------------------------------------- */

void hs_admin_problem(hs_http_req_t *req, int status, const char *detail, const char *field) {
    const char *title = hs_http_status_title(status);
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

void hs_admin_fail(hs_http_req_t *req, hs_err_t err, const char *errstr) {
    int status = hs_err_http_status(err);
    if (status >= 500)
        hs_log(HS_LOG_ERROR, "admin request failed", "{s:s, s:s, s:s}", "path",
               hs_http_req_path(req), "error", errstr, "class", hs_err_str(err));
    hs_admin_problem(req, status, errstr, NULL);
}

void hs_admin_invalid(hs_http_req_t *req, const char *field, const char *reason) {
    char detail[768];
    snprintf(detail, sizeof detail, "%s: %s", field, reason);
    hs_admin_problem(req, 422, detail, field);
}

int hs_admin_body(hs_http_req_t *req, int optional, json_t **out) {
    size_t len;
    const char *body = hs_http_req_body(req, &len);
    *out = NULL;
    if (!len && optional) return 0;
    if (!len) return hs_admin_problem(req, 400, "a JSON object body is required", NULL), -1;
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
        hs_admin_problem(req, 400, detail, NULL);
        return -1;
    }
    *out = v;
    return 0;
}

/* ---- values ------------------------------------------------------------------------------ */

int hs_admin_time_text(const char *s, int64_t *ms) {
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

int hs_admin_time(const json_t *v, int64_t *ms) {
    if (json_is_integer(v)) {
        *ms = json_integer_value(v);
        return *ms >= 0 ? 0 : -1;
    }
    return json_is_string(v) ? hs_admin_time_text(json_string_value(v), ms) : -1;
}

int hs_admin_limit(const char *s) {
    if (!s) return 100;
    char *end;
    long v = strtol(s, &end, 10);
    return (end == s || *end || v < 1 || v > 1000) ? -1 : (int)v;
}

/* ---- audit ------------------------------------------------------------------------------- */

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void audit_produce(rd_kafka_t *producer, const char *service, const hs_admin_actor_t *who,
                          const char *action, const char *target, const json_t *detail) {
    json_t *rec =
        json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:O}", "at_ms", (json_int_t)wall_ms(), "service",
                  service, "actor", who->name, "role", who->role, "action", action, "target",
                  target, "detail", detail ? (json_t *)detail : json_null());
    char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    json_decref(rec);
    if (!text) return;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(HS_ADMIN_AUDIT_TOPIC),
        RD_KAFKA_V_KEY(who->name, strlen(who->name)), RD_KAFKA_V_VALUE(text, strlen(text)),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    free(text);
    if (err)
        hs_log(HS_LOG_ERROR, "audit record not produced", "{s:s, s:s, s:s}", "topic",
               HS_ADMIN_AUDIT_TOPIC, "action", action, "error", rd_kafka_err2str(err));
}

void hs_admin_audited(rd_kafka_t *producer, const char *service, const hs_admin_actor_t *who,
                      const char *action, const char *target, const json_t *detail, hs_err_t row,
                      const char *row_error) {
    if (row)
        hs_log(HS_LOG_ERROR, "audit row not written", "{s:s, s:s, s:s}", "action", action,
               "target", target, "error", row_error);
    if (producer) audit_produce(producer, service, who, action, target, detail);
    hs_log(HS_LOG_INFO, "admin change", "{s:s, s:s, s:s}", "actor", who->name, "action", action,
           "target", target);
}
