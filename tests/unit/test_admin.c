/* The shared admin frame (lib/hs_admin.c): token lists and their bad entries, the bearer check
 * (401 with WWW-Authenticate, 403 for a read-only token on a write route), problem+json answers,
 * JSON bodies, limit and time values, and the hs.audit record. Routes run on an in-process
 * hs_http server driven with libcurl. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_admin.h"
#include "hs_config.h"

#define ADMIN_TOKEN "s3cret-admin"
#define READ_TOKEN "s3cret-read"

static hs_config_t *cfg;
static hs_admin_tokens_t tokens;
static hs_http_server_t *srv;
static char err[512];

static void set(const char *key, const char *value) {
    cr_assert_eq(hs_config_set(cfg, key, value, "test", err, sizeof err), HS_OK, "%s", err);
}

/* ---- tokens ------------------------------------------------------------------------------ */

static void cfg_up(void) {
    cfg = hs_config_new();
    cr_assert_not_null(cfg);
}

static void cfg_down(void) {
    hs_config_destroy(cfg);
}

static hs_err_t load(const char *admin, const char *read) {
    set("deliver.admin_tokens", admin);
    set("deliver.read_tokens", read);
    return hs_admin_tokens_load(&tokens, cfg, "deliver.admin_tokens", "deliver.read_tokens", err,
                                sizeof err);
}

TestSuite(admin_tokens, .init = cfg_up, .fini = cfg_down);

Test(admin_tokens, loads_both_roles) {
    cr_assert_eq(load("alice:" ADMIN_TOKEN ", carol:other", "bob:" READ_TOKEN), HS_OK, "%s", err);
    cr_assert_eq(tokens.n, 3);
    cr_assert_str_eq(tokens.tokens[0].name, "alice");
    cr_assert_eq(tokens.tokens[0].write, 1);
    cr_assert_str_eq(tokens.tokens[1].name, "carol");
    cr_assert_str_eq(tokens.tokens[2].name, "bob");
    cr_assert_eq(tokens.tokens[2].write, 0);
    hs_admin_tokens_clear(&tokens);
    cr_assert_eq(tokens.n, 0);
    cr_assert_eq(tokens.tokens[0].name[0], 0);
}

Test(admin_tokens, none_is_allowed_and_refuses_everything) {
    cr_assert_eq(load("", ""), HS_OK, "%s", err);
    cr_assert_eq(tokens.n, 0);
}

Test(admin_tokens, a_bad_entry_names_key_and_entry_never_the_token) {
    static const char *const bad[] = {"nocolon-secret", ":secret", "name:", "name: secret",
                                      "a:ok,broken-secret"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(load(bad[i], ""), HS_ERR_INVALID, "%s", bad[i]);
        cr_assert(strstr(err, "deliver.admin_tokens: entry "), "%s", err);
        cr_assert(strstr(err, "is not NAME:TOKEN"), "%s", err);
        cr_assert_null(strstr(err, "secret"), "%s", err);
        cr_assert_eq(tokens.n, 0, "a failed load keeps nothing");
    }
    cr_assert_eq(load("a:x", "reader"), HS_ERR_INVALID);
    cr_assert_str_eq(err, "deliver.read_tokens: entry 1 is not NAME:TOKEN");
}

Test(admin_tokens, a_name_of_64_bytes_is_too_long) {
    char entry[80];
    snprintf(entry, sizeof entry, "%.*s:tok", 64,
             "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn");
    cr_assert_eq(load(entry, ""), HS_ERR_INVALID);
    entry[63] = ':'; /* 63-byte name */
    snprintf(entry + 64, sizeof entry - 64, "tok");
    cr_assert_eq(load(entry, ""), HS_OK, "%s", err);
}

Test(admin_tokens, more_than_64_tokens_or_8_KiB_is_refused) {
    char list[9000] = "";
    size_t used = 0;
    for (int i = 0; i < 65; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%sn%d:t%d", i ? "," : "", i, i);
    cr_assert_eq(load(list, ""), HS_ERR_INVALID);
    cr_assert(strstr(err, "more than 64 tokens"), "%s", err);
    memset(list, 'x', 8200);
    list[0] = 'a';
    list[1] = ':';
    list[8200] = 0;
    cr_assert_eq(load(list, ""), HS_ERR_INVALID);
    cr_assert(strstr(err, "longer than 8192 bytes"), "%s", err);
}

/* ---- over HTTP ----------------------------------------------------------------------------- */

typedef struct {
    long status;
    char *body, *headers;
    json_t *doc;
} res_t;

/* One request; hdr: an extra header line or NULL. Body and headers land in memory streams. */
static res_t call(const char *method, const char *target, const char *hdr, const char *body) {
    res_t r = {0};
    size_t blen = 0, hlen = 0;
    FILE *b = open_memstream(&r.body, &blen), *h = open_memstream(&r.headers, &hlen);
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", hs_http_server_port(srv), target);
    CURL *c = curl_easy_init();
    struct curl_slist *list = hdr ? curl_slist_append(NULL, hdr) : NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK, "%s %s", method, target);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    fclose(b);
    fclose(h);
    r.doc = json_loads(r.body, 0, NULL);
    return r;
}

static void res_free(res_t *r) {
    free(r->body);
    free(r->headers);
    json_decref(r->doc);
}

static const char *str(const res_t *r, const char *key) {
    return json_string_value(json_object_get(r->doc, key));
}

static void assert_problem(const res_t *r, long status, const char *title, const char *detail) {
    cr_assert_eq(r->status, status, "status %ld: %s", r->status, r->body);
    cr_assert(strcasestr(r->headers, "content-type: application/problem+json"), "%s", r->headers);
    cr_assert_str_eq(str(r, "type"), "about:blank");
    cr_assert_str_eq(str(r, "title"), title);
    cr_assert_eq(json_integer_value(json_object_get(r->doc, "status")), status);
    if (detail) cr_assert_str_eq(str(r, "detail"), detail);
}

/* Route handlers under test: opaque is "1" for a write route. */
static void h_who(hs_http_req_t *req, void *opaque) {
    hs_admin_actor_t who;
    if (hs_admin_authorize(&tokens, req, opaque != NULL, &who)) return;
    hs_http_respond_json(req, 200, json_pack("{s:s, s:s}", "name", who.name, "role", who.role));
}

static void h_body(hs_http_req_t *req, void *opaque) {
    json_t *b;
    if (hs_admin_body(req, opaque != NULL, &b)) return;
    hs_http_respond_json(req, 200, json_pack("{s:o?}", "body", b));
}

static void h_invalid(hs_http_req_t *req, void *opaque) {
    (void)opaque;
    hs_admin_invalid(req, "limit", "expected an integer from 1 to 1000");
}

static void h_fail(hs_http_req_t *req, void *opaque) {
    (void)opaque;
    const char *e = hs_http_req_query(req, "e");
    hs_admin_fail(req, !strcmp(e, "404") ? HS_ERR_NOT_FOUND : HS_ERR_CONFLICT,
                  "run x is completed");
}

static void srv_up(void) {
    cfg_up();
    cr_assert_eq(load("alice:" ADMIN_TOKEN, "bob:" READ_TOKEN), HS_OK, "%s", err);
    hs_http_opts_t o = {.listen = "127.0.0.1:0", .service = "test_admin"};
    srv = hs_http_server_new(&o, err, sizeof err);
    cr_assert_not_null(srv, "%s", err);
    hs_http_route(srv, "GET", "/read", h_who, NULL);
    hs_http_route(srv, "POST", "/write", h_who, "1");
    hs_http_route(srv, "POST", "/body", h_body, NULL);
    hs_http_route(srv, "POST", "/body-optional", h_body, "1");
    hs_http_route(srv, "GET", "/invalid", h_invalid, NULL);
    hs_http_route(srv, "GET", "/fail", h_fail, NULL);
    cr_assert_eq(hs_http_server_start(srv, err, sizeof err), HS_OK, "%s", err);
}

static void srv_down(void) {
    hs_http_server_destroy(srv);
    hs_admin_tokens_clear(&tokens);
    cfg_down();
}

TestSuite(admin_http, .init = srv_up, .fini = srv_down);

Test(admin_http, tokens_give_name_and_role) {
    res_t r = call("POST", "/write", "Authorization: Bearer " ADMIN_TOKEN, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(str(&r, "name"), "alice");
    cr_assert_str_eq(str(&r, "role"), "admin");
    res_free(&r);
    r = call("GET", "/read", "Authorization: bearer   " READ_TOKEN, NULL);
    cr_assert_eq(r.status, 200, "scheme case-insensitive, spaces skipped: %s", r.body);
    cr_assert_str_eq(str(&r, "role"), "read");
    res_free(&r);
}

Test(admin_http, no_or_unknown_token_is_401) {
    res_t r = call("GET", "/read", NULL, NULL);
    assert_problem(&r, 401, "Unauthorized", "a bearer token is required");
    cr_assert(strstr(r.headers, "WWW-Authenticate: Bearer realm=\"hookstream\"\r\n"), "%s",
              r.headers);
    res_free(&r);
    static const char *const wrong[] = {
        "Authorization: Bearer nope", "Authorization: Bearer ",
        "Authorization: Basic YWxpY2U6eA==", "Authorization: " ADMIN_TOKEN,
        "Authorization: Bearer " ADMIN_TOKEN "x"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        r = call("GET", "/read", wrong[i], NULL);
        assert_problem(&r, 401, "Unauthorized", "the bearer token is not valid");
        cr_assert(strstr(r.headers, "error=\"invalid_token\""), "%s: %s", wrong[i], r.headers);
        res_free(&r);
    }
}

Test(admin_http, read_token_on_a_write_route_is_403) {
    res_t r = call("POST", "/write", "Authorization: Bearer " READ_TOKEN, NULL);
    assert_problem(&r, 403, "Forbidden", "this token is read-only");
    res_free(&r);
}

Test(admin_http, bodies) {
    res_t r = call("POST", "/body", NULL, "{\"a\": 1}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r.doc, "body"), "a")), 1);
    res_free(&r);
    r = call("POST", "/body-optional", NULL, "");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(json_is_null(json_object_get(r.doc, "body")) || !json_object_get(r.doc, "body"));
    res_free(&r);
    r = call("POST", "/body", NULL, "");
    assert_problem(&r, 400, "Bad Request", "a JSON object body is required");
    res_free(&r);
    r = call("POST", "/body", NULL, "[1, 2]");
    assert_problem(&r, 400, "Bad Request", "the body must be a JSON object");
    res_free(&r);
    r = call("POST", "/body", NULL, "{\"a\": }");
    assert_problem(&r, 400, "Bad Request", NULL);
    cr_assert(strstr(str(&r, "detail"), "malformed JSON at line 1 column"), "%s", r.body);
    res_free(&r);
    r = call("POST", "/body", NULL, "{\"a\": 1, \"a\": 2}");
    assert_problem(&r, 400, "Bad Request", NULL);
    cr_assert(strstr(str(&r, "detail"), "duplicate"), "%s", r.body);
    res_free(&r);
}

Test(admin_http, invalid_names_the_field) {
    res_t r = call("GET", "/invalid", NULL, NULL);
    assert_problem(&r, 422, "Unprocessable Content", "limit: expected an integer from 1 to 1000");
    cr_assert_str_eq(str(&r, "field"), "limit");
    res_free(&r);
}

Test(admin_http, fail_maps_the_error) {
    res_t r = call("GET", "/fail?e=404", NULL, NULL);
    assert_problem(&r, 404, "Not Found", "run x is completed");
    cr_assert_null(json_object_get(r.doc, "field"));
    res_free(&r);
    r = call("GET", "/fail?e=409", NULL, NULL);
    assert_problem(&r, 409, "Conflict", "run x is completed");
    res_free(&r);
}

/* ---- values ------------------------------------------------------------------------------ */

Test(admin_values, limit) {
    cr_assert_eq(hs_admin_limit(NULL), 100);
    cr_assert_eq(hs_admin_limit("1"), 1);
    cr_assert_eq(hs_admin_limit("1000"), 1000);
    static const char *const bad[] = {"", "0", "1001", "-5", "ten", "5x", "99999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(hs_admin_limit(bad[i]), -1, "'%s'", bad[i]);
}

Test(admin_values, time_text) {
    int64_t ms = 0;
    cr_assert_eq(hs_admin_time_text("1700000000000", &ms), 0);
    cr_assert_eq(ms, 1700000000000);
    cr_assert_eq(hs_admin_time_text("2023-11-14T22:13:20Z", &ms), 0);
    cr_assert_eq(ms, 1700000000000);
    cr_assert_eq(hs_admin_time_text("2023-11-14T23:13:20.5+01:00", &ms), 0);
    cr_assert_eq(ms, 1700000000500);
    static const char *const bad[] = {"",          "1700000000",           "1234567890123456",
                                      "yesterday", "2023-13-14T22:13:20Z", "-1700000000000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(hs_admin_time_text(bad[i], &ms), -1, "'%s'", bad[i]);
    cr_assert_eq(hs_admin_time_text(NULL, &ms), -1);
}

Test(admin_values, time_json) {
    int64_t ms = 0;
    json_t *v = json_integer(1700000000000);
    cr_assert_eq(hs_admin_time(v, &ms), 0);
    cr_assert_eq(ms, 1700000000000);
    json_decref(v);
    v = json_string("2023-11-14T22:13:20Z");
    cr_assert_eq(hs_admin_time(v, &ms), 0);
    json_decref(v);
    json_t *bad[] = {json_integer(-1), json_real(1.5), json_true(), json_null(), json_array()};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(hs_admin_time(bad[i], &ms), -1, "case %zu", i);
        json_decref(bad[i]);
    }
    cr_assert_eq(hs_admin_time(NULL, &ms), -1);
}

/* ---- audit --------------------------------------------------------------------------------- */

static char *delivered;

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    cr_assert_eq(m->err, 0, "%s", rd_kafka_err2str(m->err));
    cr_assert_str_eq(rd_kafka_topic_name(m->rkt), HS_ADMIN_AUDIT_TOPIC);
    cr_assert_eq(m->key_len, 5);
    cr_assert_eq(memcmp(m->key, "alice", 5), 0);
    delivered = strndup(m->payload, m->len);
}

Test(admin_audit, the_record_goes_to_hs_audit_keyed_by_actor) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char e[256];
    cr_assert_eq(rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", e, sizeof e), 0, "%s", e);
    rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    cr_assert_not_null(rk, "%s", e);
    hs_admin_actor_t who = {"alice", "admin"};
    json_t *detail = json_pack("{s:s}", "workflow", "order-welcome");
    hs_admin_audited(rk, "workflows", &who, "run.cancel", "run-1", detail, HS_ERR_UNAVAILABLE,
                     "postgres down");
    cr_assert_eq(rd_kafka_flush(rk, 10000), 0);
    cr_assert_not_null(delivered);
    json_t *rec = json_loads(delivered, 0, NULL);
    cr_assert_not_null(rec, "%s", delivered);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "service")), "workflows");
    cr_assert_str_eq(json_string_value(json_object_get(rec, "actor")), "alice");
    cr_assert_str_eq(json_string_value(json_object_get(rec, "role")), "admin");
    cr_assert_str_eq(json_string_value(json_object_get(rec, "action")), "run.cancel");
    cr_assert_str_eq(json_string_value(json_object_get(rec, "target")), "run-1");
    cr_assert(json_equal(json_object_get(rec, "detail"), detail));
    cr_assert_gt(json_integer_value(json_object_get(rec, "at_ms")), 1700000000000);
    json_decref(rec);
    json_decref(detail);
    free(delivered);
    rd_kafka_destroy(rk);
}

Test(admin_audit, without_a_producer_it_only_logs) {
    hs_admin_actor_t who = {"bob", "admin"};
    hs_admin_audited(NULL, "deliver", &who, "endpoint.delete", "ep_1", NULL, HS_OK, "");
}
