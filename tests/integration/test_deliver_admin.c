/* The deliver admin API in-process over a real store (HS_POSTGRES_DSN): an hs_http server with
 * deliver_admin_routes, driven with libcurl. Every route's happy path, every bad input (401,
 * 403, 400, 422 naming the field, 404, 409, 413), audit rows for every change, and secrets
 * never in GET answers nor in the audit trail. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "../../consumers/deliver/admin.h"
#include "hs_config.h"
#include "hs_http.h"
#include "hs_log.h"

#define ADMIN_TOKEN "it-admin-token-0123456789"
#define READ_TOKEN "it-read-token-0123456789"
#define MASTER_KEY "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define GIVEN_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define HOOK "http://127.0.0.1:9/hook"

static hs_config_t *cfg;
static hs_secretbox_key_t key;
static deliver_store_t *store;
static deliver_admin_t *admin;
static hs_http_server_t *srv;
static char base[64];
static atomic_int changes;

static void on_changed(void *opaque) {
    (void)opaque;
    atomic_fetch_add(&changes, 1);
}

static void set(const char *k, const char *v) {
    char err[256];
    cr_assert_eq(hs_config_set(cfg, k, v, "test", err, sizeof err), HS_OK, "%s", err);
}

static void setup(void) {
    const char *dsn = getenv("HS_POSTGRES_DSN");
    if (!dsn) cr_skip_test("HS_POSTGRES_DSN not set (run under ops/test.sh)");
    char err[512];
    hs_log_init("deliver-admin-test", HS_LOG_WARN);
    cfg = hs_config_new();
    set("deliver.admin_tokens", "alice:" ADMIN_TOKEN);
    set("deliver.read_tokens", "bob:" READ_TOKEN);
    set("deliver.allow_private", "127.0.0.1");
    set("deliver.secret_grace_s", "60");
    cr_assert_eq(hs_secretbox_key_parse(MASTER_KEY, &key, err, sizeof err), HS_OK, "%s", err);
    store = deliver_store_new(dsn, &key, 2, err, sizeof err);
    cr_assert_not_null(store, "%s", err);
    deliver_admin_opts_t o = {.store = store, .cfg = cfg, .changed = on_changed};
    admin = deliver_admin_new(&o, err, sizeof err);
    cr_assert_not_null(admin, "%s", err);
    hs_http_opts_t ho = {.listen = "127.0.0.1:0", .service = "deliver-admin-test"};
    srv = hs_http_server_new(&ho, err, sizeof err);
    cr_assert_not_null(srv, "%s", err);
    deliver_admin_routes(admin, srv);
    cr_assert_eq(hs_http_server_start(srv, err, sizeof err), HS_OK, "%s", err);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", hs_http_server_port(srv));
}

static void teardown(void) {
    hs_http_server_destroy(srv);
    deliver_admin_destroy(admin);
    deliver_store_destroy(store);
    hs_config_destroy(cfg);
    srv = NULL, admin = NULL, store = NULL, cfg = NULL;
}

TestSuite(deliver_admin, .init = setup, .fini = teardown, .timeout = 60);

/* ---- HTTP ------------------------------------------------------------------------------- */

typedef struct {
    long status;
    char *body;
    size_t len;
    char www_auth[256];
    char location[256];
    char ctype[128];
    json_t *json;
} resp_t;

static size_t on_body(char *data, size_t size, size_t n, void *opaque) {
    resp_t *r = opaque;
    char *grown = realloc(r->body, r->len + size * n + 1);
    if (!grown) return 0;
    r->body = grown;
    memcpy(r->body + r->len, data, size * n);
    r->len += size * n;
    r->body[r->len] = 0;
    return size * n;
}

static void header_value(const char *line, const char *name, char *out, size_t n) {
    size_t len = strlen(name);
    if (strncasecmp(line, name, len) || line[len] != ':') return;
    snprintf(out, n, "%s", line + len + 1 + strspn(line + len + 1, " "));
    out[strcspn(out, "\r\n")] = 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *opaque) {
    resp_t *r = opaque;
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)(size * n), data);
    header_value(line, "WWW-Authenticate", r->www_auth, sizeof r->www_auth);
    header_value(line, "Location", r->location, sizeof r->location);
    header_value(line, "Content-Type", r->ctype, sizeof r->ctype);
    return size * n;
}

static void resp_free(resp_t *r) {
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* token NULL: no Authorization header. The answer's body is parsed into r->json when JSON. */
static resp_t call(const char *method, const char *path, const char *token, const char *body) {
    resp_t r = {0};
    char url[512], auth[256];
    snprintf(url, sizeof url, "%s%s", base, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token ? token : "");
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (token) h = curl_slist_append(h, auth);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (r.body) r.json = json_loads(r.body, JSON_DECODE_ANY, NULL);
    return r;
}

static resp_t admin_call(const char *method, const char *path, const char *body) {
    return call(method, path, ADMIN_TOKEN, body);
}

/* Expects status and (for problems) field; frees the answer. */
static void expect_status(const char *method, const char *path, const char *body, long status,
                          const char *field) {
    resp_t r = admin_call(method, path, body);
    cr_expect_eq(r.status, status, "%s %s %s: HTTP %ld %s", method, path, body ? body : "",
                 r.status, r.body ? r.body : "");
    if (status >= 400) {
        cr_expect_str_eq(r.ctype, "application/problem+json", "%s %s", method, path);
        cr_expect_eq(json_integer_value(json_object_get(r.json, "status")), status);
    }
    if (field) {
        const char *got = json_string_value(json_object_get(r.json, "field"));
        cr_expect(got && !strcmp(got, field), "%s %s %s: field %s, want %s (%s)", method, path,
                  body ? body : "", got ? got : "(none)", field, r.body);
    }
    resp_free(&r);
}

/* Creates an endpoint; copies its id and secret. */
static void create(const char *body, char *id, char *secret) {
    resp_t r = admin_call("POST", "/v1/endpoints", body);
    cr_assert_eq(r.status, 201, "create: HTTP %ld %s", r.status, r.body);
    snprintf(id, 64, "%s", json_string_value(json_object_get(r.json, "id")));
    if (secret) snprintf(secret, 128, "%s", json_string_value(json_object_get(r.json, "secret")));
    resp_free(&r);
}

static void create_default(char *id, char *secret) {
    create("{\"url\":\"" HOOK "\",\"event_types\":[\"order.*\",\"customer.created\"]}", id, secret);
}

/* ---- auth ------------------------------------------------------------------------------- */

Test(deliver_admin, missing_or_wrong_token_is_401_with_www_authenticate) {
    resp_t r = call("GET", "/v1/endpoints", NULL, NULL);
    cr_expect_eq(r.status, 401);
    cr_expect(!strncmp(r.www_auth, "Bearer", 6), "WWW-Authenticate: %s", r.www_auth);
    cr_expect_str_eq(r.ctype, "application/problem+json");
    resp_free(&r);
    r = call("GET", "/v1/endpoints", "not-a-token", NULL);
    cr_expect_eq(r.status, 401);
    cr_expect(strstr(r.www_auth, "invalid_token"), "WWW-Authenticate: %s", r.www_auth);
    resp_free(&r);
    r = call("GET", "/v1/endpoints", ADMIN_TOKEN "x", NULL);
    cr_expect_eq(r.status, 401);
    resp_free(&r);
}

Test(deliver_admin, read_token_reads_but_cannot_write) {
    resp_t r = call("GET", "/v1/endpoints", READ_TOKEN, NULL);
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect(json_is_array(r.json));
    resp_free(&r);
    r = call("POST", "/v1/endpoints", READ_TOKEN,
             "{\"url\":\"" HOOK "\",\"event_types\":[\"order.placed\"]}");
    cr_expect_eq(r.status, 403, "%s", r.body);
    resp_free(&r);
    r = call("POST", "/v1/replays", READ_TOKEN, "{}");
    cr_expect_eq(r.status, 403);
    resp_free(&r);
    r = call("GET", "/v1/audit", READ_TOKEN, NULL);
    cr_expect_eq(r.status, 200);
    resp_free(&r);
}

/* ---- endpoints -------------------------------------------------------------------------- */

Test(deliver_admin, create_shows_the_secret_once) {
    char id[64], secret[128];
    int before = atomic_load(&changes);
    create("{\"url\":\"" HOOK "\",\"event_types\":[\"order.*\"],\"description\":\"shop\","
           "\"rate_limit\":50,\"max_in_flight\":4,\"ordered\":true,"
           "\"filter\":{\">\":[{\"var\":\"data.total\"},100]},\"policy\":\"1s,2s\"}",
           id, secret);
    cr_expect(!strncmp(id, "ep_", 3), "%s", id);
    cr_expect(!strncmp(secret, "whsec_", 6), "%s", secret);
    cr_expect_gt(atomic_load(&changes), before);
    char path[128];
    snprintf(path, sizeof path, "/v1/endpoints/%s", id);
    resp_t r = admin_call("GET", path, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect_null(strstr(r.body, secret), "GET shows the secret");
    cr_expect_null(json_object_get(r.json, "secret"));
    cr_expect_str_eq(json_string_value(json_object_get(r.json, "url")), HOOK);
    cr_expect_str_eq(json_string_value(json_object_get(r.json, "description")), "shop");
    cr_expect(json_is_true(json_object_get(r.json, "ordered")));
    cr_expect_eq(json_integer_value(json_object_get(r.json, "max_in_flight")), 4);
    cr_expect_str_eq(json_string_value(json_object_get(r.json, "policy")), "1s,2s");
    resp_free(&r);
    r = admin_call("GET", "/v1/endpoints", NULL);
    cr_expect_eq(r.status, 200);
    cr_expect(strstr(r.body, id), "list lacks %s", id);
    cr_expect_null(strstr(r.body, secret), "list shows the secret");
    resp_free(&r);
}

Test(deliver_admin, create_keeps_a_given_secret) {
    char id[64], secret[128];
    create("{\"url\":\"" HOOK "\",\"event_types\":[\"*\"],\"secret\":\"" GIVEN_SECRET "\"}", id,
           secret);
    cr_expect_str_eq(secret, GIVEN_SECRET);
}

Test(deliver_admin, bad_endpoint_bodies) {
    const char *P = "/v1/endpoints";
    expect_status("POST", P, "{\"url\":", 400, NULL);
    expect_status("POST", P, "[1,2]", 400, NULL);
    expect_status("POST", P, "{\"a\":1,\"a\":2}", 400, NULL);
    expect_status("POST", P, "", 400, NULL);
    expect_status("POST", P, "{\"event_types\":[\"order.placed\"]}", 422, "url");
    expect_status("POST", P, "{\"url\":\"" HOOK "\"}", 422, "event_types");
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"{\"url\":\"not a url\",\"event_types\":[\"order.placed\"]}", "url"},
        {"{\"url\":\"ftp://127.0.0.1/x\",\"event_types\":[\"order.placed\"]}", "url"},
        {"{\"url\":\"http://10.1.2.3/x\",\"event_types\":[\"order.placed\"]}", "url"},
        {"{\"url\":\"http://169.254.169.254/latest\",\"event_types\":[\"order.placed\"]}", "url"},
        {"{\"url\":42,\"event_types\":[\"order.placed\"]}", "url"},
        {"{\"url\":\"" HOOK "\",\"event_types\":[\"order.shipped\"]}", "event_types"},
        {"{\"url\":\"" HOOK "\",\"event_types\":[\"nothing.*\"]}", "event_types"},
        {"{\"url\":\"" HOOK "\",\"event_types\":[\"Order..x\"]}", "event_types"},
        {"{\"url\":\"" HOOK "\",\"event_types\":[]}", "event_types"},
        {"{\"url\":\"" HOOK "\",\"event_types\":[7]}", "event_types"},
        {"{\"url\":\"" HOOK "\",\"event_types\":[\"*\"],\"filter\":{\"nope\":[1]}}", "filter"},
        {"{\"url\":\"" HOOK "\",\"event_types\":[\"*\"],\"policy\":\"sometimes\"}", "policy"},
        {"{\"url\":\"" HOOK "\",\"event_types\":[\"*\"],\"secret\":\"hunter2\"}", "secret"},
        {"{\"url\":\"" HOOK "\",\"event_types\":[\"*\"],\"rate_limit\":-1}", "rate_limit"},
        {"{\"url\":\"" HOOK "\",\"event_types\":[\"*\"],\"max_in_flight\":\"4\"}", "max_in_flight"},
        {"{\"url\":\"" HOOK "\",\"event_types\":[\"*\"],\"ordered\":1}", "ordered"},
        {"{\"url\":\"" HOOK "\",\"event_types\":[\"*\"],\"description\":5}", "description"},
        {"{\"url\":\"" HOOK "\",\"event_types\":[\"*\"],\"colour\":\"red\"}", "colour"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_status("POST", P, cases[i].body, 422, cases[i].field);
}

Test(deliver_admin, body_over_the_limit_is_413) {
    size_t n = 2u << 20;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    big[n] = 0;
    expect_status("POST", "/v1/endpoints", big, 413, NULL);
    free(big);
}

Test(deliver_admin, patch_changes_fields_and_checks_them) {
    char id[64], path[128];
    create_default(id, NULL);
    snprintf(path, sizeof path, "/v1/endpoints/%s", id);
    resp_t r =
        admin_call("PATCH", path, "{\"description\":\"new\",\"event_types\":[\"payment.*\"]}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(json_string_value(json_object_get(r.json, "description")), "new");
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(r.json, "event_types"), 0)),
                     "payment.*");
    cr_expect_str_eq(json_string_value(json_object_get(r.json, "url")), HOOK);
    resp_free(&r);
    expect_status("PATCH", path, "{\"url\":\"http://192.168.1.1/\"}", 422, "url");
    expect_status("PATCH", path, "{\"secret\":\"" GIVEN_SECRET "\"}", 422, "secret");
    expect_status("PATCH", path, "{\"event_types\":[\"unknown.type\"]}", 422, "event_types");
    expect_status("PATCH", path, "nope", 400, NULL);
    expect_status("PATCH", "/v1/endpoints/ep_doesnotexist", "{\"description\":\"x\"}", 404, NULL);
}

Test(deliver_admin, disable_enable_and_delete) {
    char id[64], path[160];
    create_default(id, NULL);
    snprintf(path, sizeof path, "/v1/endpoints/%s/disable", id);
    resp_t r = admin_call("POST", path, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect(json_is_false(json_object_get(r.json, "enabled")));
    cr_expect_str_eq(json_string_value(json_object_get(r.json, "disabled_reason")),
                     "disabled by alice");
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/endpoints/%s/enable", id);
    r = admin_call("POST", path, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect(json_is_true(json_object_get(r.json, "enabled")));
    resp_free(&r);
    expect_status("POST", "/v1/endpoints/ep_doesnotexist/enable", NULL, 404, NULL);
    expect_status("POST", "/v1/endpoints/ep_doesnotexist/disable", NULL, 404, NULL);
    snprintf(path, sizeof path, "/v1/endpoints/%s", id);
    expect_status("DELETE", path, NULL, 204, NULL);
    expect_status("GET", path, NULL, 404, NULL);
    expect_status("DELETE", path, NULL, 404, NULL);
}

Test(deliver_admin, rotate_secret) {
    char id[64], secret[128], path[160];
    create_default(id, secret);
    snprintf(path, sizeof path, "/v1/endpoints/%s/rotate-secret", id);
    resp_t r = admin_call("POST", path, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    const char *fresh = json_string_value(json_object_get(r.json, "secret"));
    cr_assert(fresh && !strncmp(fresh, "whsec_", 6));
    cr_expect_str_neq(fresh, secret);
    resp_free(&r);
    r = admin_call("POST", path, "{\"secret\":\"" GIVEN_SECRET "\"}");
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(json_string_value(json_object_get(r.json, "secret")), GIVEN_SECRET);
    resp_free(&r);
    expect_status("POST", path, "{\"secret\":\"whsec_short\"}", 422, "secret");
    expect_status("POST", path, "{\"other\":1}", 422, "other");
    expect_status("POST", "/v1/endpoints/ep_doesnotexist/rotate-secret", NULL, 404, NULL);
}

/* ---- attempts and replays --------------------------------------------------------------- */

/* Logs one failed attempt of a fresh event at endpoint id; copies the event id. */
static void log_attempt(const char *id, char *event_id) {
    deliver_attempt_t a = {
        .partition = 0, .offset = 42, .attempt = 1, .http_status = 500, .latency_ms = 12};
    snprintf(event_id, 128, "evt-%ld-%ld", (long)getpid(), (long)time(NULL));
    snprintf(a.endpoint_id, sizeof a.endpoint_id, "%s", id);
    snprintf(a.event_id, sizeof a.event_id, "%s", event_id);
    snprintf(a.event_type, sizeof a.event_type, "order.placed");
    snprintf(a.topic, sizeof a.topic, "hs.events.orders");
    snprintf(a.status, sizeof a.status, "failed");
    snprintf(a.error, sizeof a.error, "HTTP 500");
    deliver_store_attempt_add(store, &a);
    char err[256];
    cr_assert_eq(deliver_store_attempt_flush(store, err, sizeof err), HS_OK, "%s", err);
}

Test(deliver_admin, attempts_of_an_endpoint) {
    char id[64], ev[128], path[256];
    create_default(id, NULL);
    log_attempt(id, ev);
    snprintf(path, sizeof path, "/v1/endpoints/%s/attempts?status=failed&since=1000000000000", id);
    resp_t r = admin_call("GET", path, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect_eq(json_array_size(r.json), 1, "%s", r.body);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(r.json, 0), "event_id")), ev);
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/endpoints/%s/attempts?status=succeeded", id);
    r = admin_call("GET", path, NULL);
    cr_expect_eq(json_array_size(r.json), 0, "%s", r.body);
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/endpoints/%s/attempts?since=2000-01-01T00:00:00Z&limit=5", id);
    expect_status("GET", path, NULL, 200, NULL);
    snprintf(path, sizeof path, "/v1/endpoints/%s/attempts?status=maybe", id);
    expect_status("GET", path, NULL, 400, "status");
    snprintf(path, sizeof path, "/v1/endpoints/%s/attempts?since=yesterday", id);
    expect_status("GET", path, NULL, 400, "since");
    snprintf(path, sizeof path, "/v1/endpoints/%s/attempts?limit=0", id);
    expect_status("GET", path, NULL, 400, "limit");
    expect_status("GET", "/v1/endpoints/ep_doesnotexist/attempts", NULL, 404, NULL);
}

Test(deliver_admin, replay_one_event_then_cancel) {
    char id[64], ev[128], body[512], path[128];
    create_default(id, NULL);
    log_attempt(id, ev);
    snprintf(body, sizeof body, "{\"endpoint_id\":\"%s\",\"event_id\":\"%s\"}", id, ev);
    resp_t r = admin_call("POST", "/v1/replays", body);
    cr_assert_eq(r.status, 202, "%s", r.body);
    const char *rp = json_string_value(json_object_get(r.json, "id"));
    cr_assert(rp && !strncmp(rp, "rp_", 3), "%s", r.body);
    cr_expect_str_eq(json_string_value(json_object_get(r.json, "kind")), "event");
    snprintf(path, sizeof path, "/v1/replays/%s", rp);
    cr_expect_str_eq(r.location, path);
    resp_free(&r);
    r = admin_call("GET", path, NULL);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(json_string_value(json_object_get(r.json, "state")), "pending");
    resp_free(&r);
    snprintf(path + strlen(path), sizeof path - strlen(path), "/cancel");
    r = admin_call("POST", path, NULL);
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(json_string_value(json_object_get(r.json, "state")), "cancelled");
    resp_free(&r);
    expect_status("POST", path, NULL, 409, NULL);
    expect_status("GET", "/v1/replays/rp_doesnotexist", NULL, 404, NULL);
    expect_status("POST", "/v1/replays/rp_doesnotexist/cancel", NULL, 404, NULL);
}

Test(deliver_admin, replay_range_and_recover) {
    char id[64], body[512];
    create_default(id, NULL);
    snprintf(body, sizeof body,
             "{\"endpoint_id\":\"%s\",\"topic\":\"hs.events.orders\",\"from\":"
             "\"2024-05-01T00:00:00Z\",\"to\":1714608000000}",
             id);
    resp_t r = admin_call("POST", "/v1/replays", body);
    cr_expect_eq(r.status, 202, "%s", r.body);
    cr_expect_str_eq(json_string_value(json_object_get(r.json, "kind")), "range");
    cr_expect_eq(json_integer_value(json_object_get(r.json, "from_ms")), 1714521600000);
    resp_free(&r);
    snprintf(body, sizeof body, "{\"endpoint_id\":\"%s\",\"since\":\"2024-05-01T00:00:00Z\"}", id);
    r = admin_call("POST", "/v1/replays", body);
    cr_expect_eq(r.status, 202, "%s", r.body);
    cr_expect_str_eq(json_string_value(json_object_get(r.json, "kind")), "recover");
    resp_free(&r);
}

Test(deliver_admin, bad_replays) {
    char id[64], body[512];
    create_default(id, NULL);
    const char *P = "/v1/replays";
    expect_status("POST", P, "{nope", 400, NULL);
    expect_status("POST", P, "{\"event_id\":\"x\"}", 422, "endpoint_id");
    snprintf(body, sizeof body, "{\"endpoint_id\":\"%s\"}", id);
    expect_status("POST", P, body, 422, "kind");
    snprintf(body, sizeof body, "{\"endpoint_id\":\"%s\",\"kind\":\"all\"}", id);
    expect_status("POST", P, body, 422, "kind");
    snprintf(body, sizeof body,
             "{\"endpoint_id\":\"%s\",\"topic\":\"t\",\"from\":\"soon\","
             "\"to\":1714608000000}",
             id);
    expect_status("POST", P, body, 422, "from");
    snprintf(body, sizeof body,
             "{\"endpoint_id\":\"%s\",\"topic\":\"t\",\"from\":1714608000000,"
             "\"to\":1714521600000}",
             id);
    expect_status("POST", P, body, 422, "to");
    snprintf(body, sizeof body, "{\"endpoint_id\":\"%s\",\"since\":true}", id);
    expect_status("POST", P, body, 422, "since");
    snprintf(body, sizeof body, "{\"endpoint_id\":\"%s\",\"event_id\":\"x\",\"extra\":1}", id);
    expect_status("POST", P, body, 422, "extra");
    snprintf(body, sizeof body, "{\"endpoint_id\":\"%s\",\"event_id\":\"never-seen-%ld\"}", id,
             (long)time(NULL));
    expect_status("POST", P, body, 404, NULL);
    expect_status("POST", P, "{\"endpoint_id\":\"ep_doesnotexist\",\"since\":1714521600000}", 404,
                  NULL);
}

/* ---- audit ------------------------------------------------------------------------------ */

Test(deliver_admin, every_change_is_audited_without_secrets) {
    char id[64], secret[128], path[160];
    create("{\"url\":\"" HOOK "\",\"event_types\":[\"*\"],\"secret\":\"" GIVEN_SECRET "\"}", id,
           secret);
    snprintf(path, sizeof path, "/v1/endpoints/%s/rotate-secret", id);
    resp_t r = admin_call("POST", path, NULL);
    char rotated[128];
    snprintf(rotated, sizeof rotated, "%s", json_string_value(json_object_get(r.json, "secret")));
    resp_free(&r);
    snprintf(path, sizeof path, "/v1/endpoints/%s/disable", id);
    expect_status("POST", path, NULL, 200, NULL);
    snprintf(path, sizeof path, "/v1/endpoints/%s", id);
    expect_status("PATCH", path, "{\"description\":\"d\"}", 200, NULL);
    expect_status("DELETE", path, NULL, 204, NULL);
    r = call("GET", "/v1/audit?limit=50", READ_TOKEN, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect_null(strstr(r.body, GIVEN_SECRET), "audit holds the given secret");
    cr_expect_null(strstr(r.body, rotated), "audit holds the rotated secret");
    static const char *const actions[] = {"endpoint.create", "endpoint.rotate_secret",
                                          "endpoint.disable", "endpoint.update", "endpoint.delete"};
    for (size_t a = 0; a < sizeof actions / sizeof actions[0]; a++) {
        int found = 0;
        size_t i;
        json_t *row;
        json_array_foreach(r.json, i, row) {
            const char *act = json_string_value(json_object_get(row, "action"));
            const char *target = json_string_value(json_object_get(row, "target"));
            if (act && target && !strcmp(act, actions[a]) && !strcmp(target, id)) {
                found = 1;
                cr_expect_str_eq(json_string_value(json_object_get(row, "actor")), "alice");
            }
        }
        cr_expect(found, "no audit row %s for %s", actions[a], id);
    }
    resp_free(&r);
    expect_status("GET", "/v1/audit?limit=abc", NULL, 400, "limit");
}
