/* `hookstream registry` and the registry client against the stack's Postgres. Each test gets a
 * private database and its own server process (HS_BIN registry on a free port), so tests can
 * change the global compatibility level without disturbing anything else. */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hs_config.h"
#include "hs_httpc.h"
#include "hs_pg.h"
#include "hs_registry.h"

static char err[2048];
static char dbname[64];
static char dsn[512];
static char url[128];
static pid_t server = -1;
static hs_httpc_t *http;

#define REC(name, fields) "{\"type\":\"record\",\"name\":\"" name "\",\"fields\":[" fields "]}"
#define F_ID "{\"name\":\"id\",\"type\":\"string\"}"
#define F_X_INT "{\"name\":\"x\",\"type\":\"int\"}"
#define F_X_STR "{\"name\":\"x\",\"type\":\"string\"}"
#define F_NOTE_DEFAULT "{\"name\":\"note\",\"type\":\"string\",\"default\":\"\"}"
#define F_NOTE "{\"name\":\"note\",\"type\":\"string\"}"

static PGconn *admin(void) {
    PGconn *c = hs_pg_connect(getenv("HS_POSTGRES_DSN"), 5, err, sizeof err);
    cr_assert(c, "%s", err);
    return c;
}

/* Starts HS_BIN registry on a free port and reads the URL it prints. The server gets SIGTERM
 * if this test process dies, so a crashed test leaves no server behind. */
static void start_server(void) {
    int out[2];
    cr_assert_eq(pipe(out), 0);
    server = fork();
    cr_assert(server >= 0);
    if (server == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(out[1], 1);
        close(out[0]);
        execl(HS_BIN, HS_BIN, "registry", "--listen", "127.0.0.1:0", "--dsn", dsn, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    struct pollfd p = {out[0], POLLIN, 0};
    cr_assert_eq(poll(&p, 1, 10000), 1, "registry printed no URL within 10 s");
    ssize_t len = read(out[0], url, sizeof url - 1);
    close(out[0]);
    cr_assert(len > 0, "registry exited before listening");
    url[len] = 0;
    url[strcspn(url, "\n")] = 0;
    http = hs_httpc_new(url, 5000, "application/vnd.schemaregistry.v1+json", err, sizeof err);
    cr_assert(http, "%s", err);
}

static void setup(void) {
    const char *base = getenv("HS_POSTGRES_DSN");
    if (!base) return;
    PGconn *c = admin();
    snprintf(dbname, sizeof dbname, "hs_registry_test_%d", (int)getpid());
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
    cr_assert_eq(hs_pg_exec(c, sql, err, sizeof err), HS_OK, "%s", err);
    PQfinish(c);
    const char *slash = strrchr(base, '/');
    snprintf(dsn, sizeof dsn, "%.*s/%s", (int)(slash - base), base, dbname);
    start_server();
}

static void teardown(void) {
    hs_httpc_destroy(http);
    if (server > 0) {
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
    }
    if (!dbname[0]) return;
    PGconn *c = admin();
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
    hs_pg_exec(c, sql, err, sizeof err);
    PQfinish(c);
}

static void need_stack(void) {
    if (!getenv("HS_POSTGRES_DSN")) cr_skip_test("HS_POSTGRES_DSN is not set (run ops/test.sh)");
}

TestSuite(registry, .init = setup, .fini = teardown);

/* Sends a request; returns the status, *out the parsed body (caller json_decref). */
static long api(const char *method, const char *path, json_t *body, json_t **out) {
    long status = 0;
    json_t *resp = NULL;
    cr_assert_eq(hs_httpc_json(http, method, path, body, &status, &resp, err, sizeof err), HS_OK,
                 "%s", err);
    json_decref(body);
    if (out)
        *out = resp;
    else
        json_decref(resp);
    return status;
}

static json_t *schema_body(const char *schema) {
    return json_pack("{s:s}", "schema", schema);
}

/* Registers schema under subject and returns its id (asserting 200). */
static int register_ok(const char *subject, const char *schema) {
    char path[256];
    json_t *out;
    snprintf(path, sizeof path, "/subjects/%s/versions", subject);
    long status = api("POST", path, schema_body(schema), &out);
    cr_assert_eq(status, 200, "register %s: HTTP %ld", subject, status);
    int id = (int)json_integer_value(json_object_get(out, "id"));
    json_decref(out);
    cr_assert(id > 0);
    return id;
}

/* Sends a request and asserts an error answer with status, Confluent error_code and text. */
static void expect_error(const char *method, const char *path, json_t *body, long want_status,
                         long want_code, const char *want_text) {
    json_t *out = NULL;
    long status = api(method, path, body, &out);
    cr_expect_eq(status, want_status, "%s %s: HTTP %ld, want %ld", method, path, status,
                 want_status);
    cr_expect_eq(json_integer_value(json_object_get(out, "error_code")), want_code);
    const char *msg = json_string_value(json_object_get(out, "message"));
    cr_expect(msg && strstr(msg, want_text), "message '%s' lacks '%s'", msg ? msg : "", want_text);
    json_decref(out);
}

Test(registry, register_is_idempotent_and_lookup_finds_it) {
    need_stack();
    int id = register_ok("orders-value", REC("Order", F_ID));
    cr_expect_eq(register_ok("orders-value", REC("Order", F_ID)), id);
    /* whitespace and key order do not change the identity of a schema */
    cr_expect_eq(register_ok("orders-value", "{ \"fields\": [ {\"type\": \"string\", \"name\": "
                                             "\"id\"} ], \"name\": \"Order\", \"type\": "
                                             "\"record\" }"),
                 id);
    json_t *out;
    cr_assert_eq(api("GET", "/subjects/orders-value/versions", NULL, &out), 200);
    cr_expect_eq(json_array_size(out), 1);
    json_decref(out);
    cr_assert_eq(api("POST", "/subjects/orders-value", schema_body(REC("Order", F_ID)), &out), 200);
    cr_expect_str_eq(json_string_value(json_object_get(out, "subject")), "orders-value");
    cr_expect_eq(json_integer_value(json_object_get(out, "id")), id);
    cr_expect_eq(json_integer_value(json_object_get(out, "version")), 1);
    cr_expect(json_is_string(json_object_get(out, "schema")));
    json_decref(out);
}

Test(registry, same_schema_under_two_subjects_has_one_id) {
    need_stack();
    int a = register_ok("a-value", REC("Shared", F_ID));
    int b = register_ok("b-value", REC("Shared", F_ID));
    cr_expect_eq(a, b);
    json_t *out;
    char path[64];
    snprintf(path, sizeof path, "/schemas/ids/%d/versions", a);
    cr_assert_eq(api("GET", path, NULL, &out), 200);
    cr_expect_eq(json_array_size(out), 2);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(out, 1), "subject")),
                     "b-value");
    json_decref(out);
}

Test(registry, incompatible_schema_is_refused_with_the_reason) {
    need_stack();
    register_ok("inc-value", REC("R", F_X_INT));
    json_t *out;
    expect_error("POST", "/subjects/inc-value/versions", schema_body(REC("R", F_X_STR)), 409, 409,
                 "type mismatch at 'x': writer int, reader string");
    expect_error("POST", "/subjects/inc-value/versions", schema_body(REC("R", F_X_INT "," F_NOTE)),
                 409, 409, "reader field 'note' has no default");
    cr_expect_eq(api("GET", "/subjects/inc-value/versions/2", NULL, &out), 404);
    json_decref(out);
}

Test(registry, malformed_input_gets_422_or_400) {
    need_stack();
    expect_error("POST", "/subjects/m-value/versions", schema_body("{not json"), 422, 42201,
                 "Invalid schema");
    expect_error("POST", "/subjects/m-value/versions",
                 schema_body("{\"type\":\"record\",\"name\":\"R\"}"), 422, 42201,
                 "without a 'fields' array");
    expect_error("POST", "/subjects/m-value/versions", json_pack("{s:i}", "schema", 1), 422, 42201,
                 "no \"schema\"");
    expect_error("POST", "/subjects/m-value/versions",
                 json_pack("{s:s, s:s}", "schema", "{}", "schemaType", "PROTOBUF"), 422, 42201,
                 "AVRO");
    hs_httpc_resp_t resp;
    cr_assert_eq(hs_httpc_request(http, "POST", "/subjects/m-value/versions", "application/json",
                                  "nope", 4, &resp, err, sizeof err),
                 HS_OK);
    cr_expect_eq(resp.status, 400);
    hs_httpc_resp_clear(&resp);
    cr_assert_eq(hs_httpc_request(http, "POST", "/subjects/m-value/versions", "text/plain", "{}", 2,
                                  &resp, err, sizeof err),
                 HS_OK);
    cr_expect_eq(resp.status, 415);
    hs_httpc_resp_clear(&resp);
}

Test(registry, not_found_codes) {
    need_stack();
    expect_error("GET", "/subjects/nope/versions", NULL, 404, 40401, "Subject 'nope' not found.");
    register_ok("nf-value", REC("N", F_ID));
    expect_error("GET", "/subjects/nf-value/versions/9", NULL, 404, 40402, "Version 9 not found.");
    expect_error("GET", "/subjects/nf-value/versions/abc", NULL, 422, 42202,
                 "not a valid version id");
    expect_error("GET", "/subjects/nf-value/versions/0", NULL, 422, 42202, "'0'");
    expect_error("GET", "/schemas/ids/999999", NULL, 404, 40403, "Schema 999999 not found");
    expect_error("POST", "/subjects/nf-value", schema_body(REC("Other", F_ID)), 404, 40403,
                 "Schema not found");
    expect_error("POST", "/subjects/unknown", schema_body(REC("N", F_ID)), 404, 40401,
                 "Subject 'unknown' not found.");
    expect_error("GET", "/config/nf-value", NULL, 404, 40408,
                 "does not have subject-level compatibility configured");
}

Test(registry, ids_versions_subjects_types) {
    need_stack();
    int id = register_ok("ids-value", REC("I", F_ID));
    json_t *out;
    char path[64];
    snprintf(path, sizeof path, "/schemas/ids/%d", id);
    cr_assert_eq(api("GET", path, NULL, &out), 200);
    cr_expect_str_eq(json_string_value(json_object_get(out, "schema")), REC("I", F_ID));
    json_decref(out);
    cr_assert_eq(api("GET", "/subjects", NULL, &out), 200);
    cr_expect_str_eq(json_string_value(json_array_get(out, 0)), "ids-value");
    json_decref(out);
    cr_assert_eq(api("GET", "/schemas/types", NULL, &out), 200);
    cr_expect_str_eq(json_string_value(json_array_get(out, 0)), "AVRO");
    json_decref(out);
    cr_assert_eq(api("GET", "/subjects/ids-value/versions/latest", NULL, &out), 200);
    cr_expect_eq(json_integer_value(json_object_get(out, "id")), id);
    json_decref(out);
    cr_assert_eq(api("GET", "/subjects/ids-value/versions/1/schema", NULL, &out), 200);
    cr_expect_str_eq(json_string_value(json_object_get(out, "name")), "I");
    json_decref(out);
    hs_httpc_resp_t resp;
    cr_assert_eq(hs_httpc_request(http, "GET", "/metrics", NULL, NULL, 0, &resp, err, sizeof err),
                 HS_OK);
    cr_expect(strstr(resp.body, "hs_registry_schemas_total 1"), "%s", resp.body);
    hs_httpc_resp_clear(&resp);
    cr_assert_eq(api("GET", "/readyz", NULL, &out), 200);
    json_decref(out);
}

Test(registry, config_levels) {
    need_stack();
    json_t *out;
    cr_assert_eq(api("GET", "/config", NULL, &out), 200);
    cr_expect_str_eq(json_string_value(json_object_get(out, "compatibilityLevel")), "BACKWARD");
    json_decref(out);
    register_ok("cfg-value", REC("C", F_X_INT));
    cr_assert_eq(api("PUT", "/config/cfg-value", json_pack("{s:s}", "compatibility", "NONE"), &out),
                 200);
    cr_expect_str_eq(json_string_value(json_object_get(out, "compatibility")), "NONE");
    json_decref(out);
    register_ok("cfg-value", REC("C", F_X_STR)); /* allowed under NONE */
    cr_assert_eq(api("GET", "/config/cfg-value", NULL, &out), 200);
    cr_expect_str_eq(json_string_value(json_object_get(out, "compatibilityLevel")), "NONE");
    json_decref(out);
    cr_assert_eq(api("DELETE", "/config/cfg-value", NULL, &out), 200);
    cr_expect_str_eq(json_string_value(json_object_get(out, "compatibilityLevel")), "NONE");
    json_decref(out);
    cr_assert_eq(api("GET", "/config/cfg-value?defaultToGlobal=true", NULL, &out), 200);
    cr_expect_str_eq(json_string_value(json_object_get(out, "compatibilityLevel")), "BACKWARD");
    json_decref(out);
    expect_error("PUT", "/config", json_pack("{s:s}", "compatibility", "SIDEWAYS"), 422, 42203,
                 "Invalid compatibility level");
    cr_assert_eq(api("PUT", "/config", json_pack("{s:s}", "compatibility", "FULL"), &out), 200);
    json_decref(out);
    cr_assert_eq(api("GET", "/config", NULL, &out), 200);
    cr_expect_str_eq(json_string_value(json_object_get(out, "compatibilityLevel")), "FULL");
    json_decref(out);
}

Test(registry, compatibility_endpoint) {
    need_stack();
    register_ok("cmp-value", REC("P", F_X_INT));
    json_t *out;
    const char *path = "/compatibility/subjects/cmp-value/versions/latest?verbose=true";
    cr_assert_eq(api("POST", path, schema_body(REC("P", F_X_INT "," F_NOTE_DEFAULT)), &out), 200);
    cr_expect(json_is_true(json_object_get(out, "is_compatible")));
    json_decref(out);
    cr_assert_eq(api("POST", path, schema_body(REC("P", F_X_STR)), &out), 200);
    cr_expect(json_is_false(json_object_get(out, "is_compatible")));
    const char *why = json_string_value(json_array_get(json_object_get(out, "messages"), 0));
    cr_expect(why && strstr(why, "type mismatch at 'x'"), "%s", why ? why : "(none)");
    json_decref(out);
    cr_assert_eq(api("POST", "/compatibility/subjects/cmp-value/versions/1",
                     schema_body(REC("P", F_X_STR)), &out),
                 200);
    cr_expect(json_is_false(json_object_get(out, "is_compatible")));
    cr_expect_null(json_object_get(out, "messages"));
    json_decref(out);
    cr_assert_eq(api("POST", "/compatibility/subjects/fresh/versions/latest",
                     schema_body(REC("P", F_X_STR)), &out),
                 200);
    cr_expect(json_is_true(json_object_get(out, "is_compatible")));
    json_decref(out);
    expect_error("POST", "/compatibility/subjects/cmp-value/versions/7",
                 schema_body(REC("P", F_X_STR)), 404, 40402, "Version 7");
}

Test(registry, transitive_checks_every_version) {
    need_stack();
    json_t *out;
    register_ok("tr-value", REC("T", F_ID));
    register_ok("tr-value", REC("T", F_ID "," F_NOTE_DEFAULT));
    cr_assert_eq(api("PUT", "/config/tr-value",
                     json_pack("{s:s}", "compatibility", "BACKWARD_TRANSITIVE"), &out),
                 200);
    json_decref(out);
    expect_error("POST", "/subjects/tr-value/versions", schema_body(REC("T", F_ID "," F_NOTE)), 409,
                 409, "schema 1 of 2");
    cr_assert_eq(
        api("PUT", "/config/tr-value", json_pack("{s:s}", "compatibility", "BACKWARD"), &out), 200);
    json_decref(out);
    register_ok("tr-value", REC("T", F_ID "," F_NOTE));
}

Test(registry, soft_and_permanent_delete) {
    need_stack();
    json_t *out;
    int id = register_ok("del-value", REC("D", F_ID));
    register_ok("del-value", REC("D", F_ID "," F_NOTE_DEFAULT));
    expect_error("DELETE", "/subjects/del-value/versions/1?permanent=true", NULL, 404, 40407,
                 "was not deleted first");
    cr_assert_eq(api("DELETE", "/subjects/del-value/versions/1", NULL, &out), 200);
    cr_expect_eq(json_integer_value(out), 1);
    json_decref(out);
    cr_assert_eq(api("GET", "/subjects/del-value/versions", NULL, &out), 200);
    cr_expect_eq(json_array_size(out), 1);
    json_decref(out);
    cr_assert_eq(api("GET", "/subjects/del-value/versions?deleted=true", NULL, &out), 200);
    cr_expect_eq(json_array_size(out), 2);
    json_decref(out);
    cr_assert_eq(api("DELETE", "/subjects/del-value/versions/1?permanent=true", NULL, &out), 200);
    json_decref(out);
    expect_error("DELETE", "/subjects/del-value?permanent=true", NULL, 404, 40405,
                 "was not deleted first");
    cr_assert_eq(api("DELETE", "/subjects/del-value", NULL, &out), 200);
    cr_expect_eq(json_integer_value(json_array_get(out, 0)), 2);
    json_decref(out);
    expect_error("GET", "/subjects/del-value/versions", NULL, 404, 40401, "not found");
    cr_assert_eq(api("DELETE", "/subjects/del-value?permanent=true", NULL, &out), 200);
    json_decref(out);
    expect_error("DELETE", "/subjects/del-value", NULL, 404, 40401, "not found");
    char path[64];
    snprintf(path, sizeof path, "/schemas/ids/%d", id); /* ids stay resolvable for old data */
    cr_expect_eq(api("GET", path, NULL, NULL), 200);
}

typedef struct {
    const char *how; /* "http" or "local" */
    int32_t id;
    hs_err_t err;
    char errstr[512];
} racer_t;

static hs_config_t *client_config(const char *how) {
    hs_config_t *cfg = hs_config_new();
    cr_assert(cfg);
    cr_assert_eq(hs_config_set(cfg, "postgres.dsn", dsn, "test", err, sizeof err), HS_OK);
    if (!strcmp(how, "http"))
        cr_assert_eq(hs_config_set(cfg, "registry.url", url, "test", err, sizeof err), HS_OK);
    return cfg;
}

/* Each racer has its own client, so the local ones race on separate Postgres connections. */
static void *race(void *arg) {
    racer_t *r = arg;
    hs_config_t *cfg = client_config(r->how);
    hs_registry_t *reg = hs_registry_new(cfg, r->errstr, sizeof r->errstr);
    r->err = reg ? hs_registry_register(reg, "race-value", REC("Race", F_ID "," F_X_INT), &r->id,
                                        r->errstr, sizeof r->errstr)
                 : HS_ERR_UNAVAILABLE;
    hs_registry_destroy(reg);
    hs_config_destroy(cfg);
    return NULL;
}

Test(registry, concurrent_registration_yields_one_id_and_version) {
    need_stack();
    racer_t racers[8];
    pthread_t threads[8];
    for (int i = 0; i < 8; i++) {
        racers[i] = (racer_t){.how = i % 2 ? "local" : "http"};
        pthread_create(&threads[i], NULL, race, &racers[i]);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(threads[i], NULL);
    for (int i = 0; i < 8; i++) {
        cr_expect_eq(racers[i].err, HS_OK, "%s: %s", racers[i].how, racers[i].errstr);
        cr_expect_eq(racers[i].id, racers[0].id);
    }
    json_t *out;
    cr_assert_eq(api("GET", "/subjects/race-value/versions", NULL, &out), 200);
    cr_expect_eq(json_array_size(out), 1);
    json_decref(out);
}

static void client_round_trip(const char *how) {
    hs_config_t *cfg = client_config(how);
    hs_registry_t *r = hs_registry_new(cfg, err, sizeof err);
    cr_assert(r, "%s: %s", how, err);
    int32_t id = 0, again = 0;
    const char *text = NULL;
    cr_assert_eq(hs_registry_register(r, "cl-value", REC("Cl", F_X_INT), &id, err, sizeof err),
                 HS_OK, "%s", err);
    cr_expect_eq(hs_registry_register(r, "cl-value", REC("Cl", F_X_INT), &again, err, sizeof err),
                 HS_OK);
    cr_expect_eq(again, id);
    cr_assert_eq(hs_registry_schema(r, id, &text, err, sizeof err), HS_OK, "%s", err);
    cr_expect(strstr(text, "\"Cl\""));
    cr_expect_eq(hs_registry_schema(r, 987654, &text, err, sizeof err), HS_ERR_NOT_FOUND);
    cr_expect_eq(hs_registry_register(r, "cl-value", REC("Cl", F_X_STR), &id, err, sizeof err),
                 HS_ERR_CONFLICT);
    cr_expect(strstr(err, "type mismatch at 'x'"), "%s", err);
    cr_expect_eq(hs_registry_register(r, "cl-value", "{\"type\":", &id, err, sizeof err),
                 HS_ERR_INVALID, "%s", err);
    cr_expect_eq(hs_registry_check(r, "cl-value", REC("Cl", F_X_STR), err, sizeof err),
                 HS_ERR_CONFLICT);
    cr_expect_eq(
        hs_registry_check(r, "cl-value", REC("Cl", F_X_INT "," F_NOTE_DEFAULT), err, sizeof err),
        HS_OK, "%s", err);
    cr_expect_eq(hs_registry_check(r, "unknown-value", REC("Cl", F_X_STR), err, sizeof err), HS_OK,
                 "%s", err);
    char **subjects = NULL;
    size_t n = 0;
    cr_assert_eq(hs_registry_subjects(r, &subjects, &n, err, sizeof err), HS_OK, "%s", err);
    cr_expect(n >= 1);
    hs_registry_strings_free(subjects, n);
    int32_t *versions = NULL;
    cr_assert_eq(hs_registry_versions(r, "cl-value", &versions, &n, err, sizeof err), HS_OK);
    cr_expect_eq(n, 1);
    cr_expect_eq(versions[0], 1);
    free(versions);
    cr_expect_eq(hs_registry_versions(r, "none-value", &versions, &n, err, sizeof err),
                 HS_ERR_NOT_FOUND);
    hs_registry_version_t v;
    cr_assert_eq(hs_registry_subject_version(r, "cl-value", -1, &v, err, sizeof err), HS_OK);
    cr_expect_eq(v.id, id);
    cr_expect_str_eq(v.subject, "cl-value");
    hs_registry_version_clear(&v);
    cr_expect_eq(hs_registry_subject_version(r, "cl-value", 5, &v, err, sizeof err),
                 HS_ERR_NOT_FOUND);
    size_t count = 0;
    cr_expect_eq(hs_registry_register_catalog(r, &count, err, sizeof err), HS_OK, "%s", err);
    hs_registry_destroy(r);
    hs_config_destroy(cfg);
}

Test(registry, client_over_http) {
    need_stack();
    client_round_trip("http");
}

Test(registry, client_over_local_postgres) {
    need_stack();
    client_round_trip("local");
}

Test(registry, client_names_what_is_unreachable) {
    need_stack();
    hs_config_t *cfg = hs_config_new();
    cr_assert_eq(hs_config_set(cfg, "registry.url", "http://127.0.0.1:1", "t", err, sizeof err),
                 HS_OK);
    cr_expect_null(hs_registry_new(cfg, err, sizeof err));
    cr_expect(strstr(err, "127.0.0.1:1"), "%s", err);
    cr_assert_eq(hs_config_set(cfg, "registry.url", "", "t", err, sizeof err), HS_OK);
    cr_assert_eq(
        hs_config_set(cfg, "postgres.dsn", "postgresql://127.0.0.1:1/x", "t", err, sizeof err),
        HS_OK);
    cr_assert_eq(hs_config_set(cfg, "postgres.connect_timeout_s", "2", "t", err, sizeof err),
                 HS_OK);
    cr_expect_null(hs_registry_new(cfg, err, sizeof err));
    cr_expect(strstr(err, "postgres at 127.0.0.1:1/x"), "%s", err);
    hs_config_destroy(cfg);
}
