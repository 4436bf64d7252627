/* `hookstream ingest` against the stack (HS_KAFKA_BROKERS, HS_REGISTRY_URL, HS_REDIS_URL,
 * HS_BROKER_CONTROL_URL): each test spawns HS_BIN ingest on a free port with a source of its
 * own (so its inbox topic is fresh), posts webhooks signed like Shopify does, and checks the
 * answers and what reached the topics (watermarks before and after, records decoded). */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hs_avro.h"
#include "hs_catalog.h"
#include "hs_wire.h"

#define SECRET "shpss_integration"
#define CASE_DIR HS_TEST_DATA "/mapping/shopify/"
#define MAX_PARTS 64

static pid_t server = -1;
static char url[128];
static char source[64];
static rd_kafka_t *rk;

/* ---- the server ------------------------------------------------------------------------- */

static void need_stack(void) {
    if (!getenv("HS_KAFKA_BROKERS") || !getenv("HS_REGISTRY_URL"))
        cr_skip_test("HS_KAFKA_BROKERS / HS_REGISTRY_URL not set (run under ops/test.sh)");
}

/* Starts HS_BIN ingest with a source (shopify, SECRET) plus extra arguments: a fresh source
 * name, unless keep_source is set (a second instance serving the same source). */
static int keep_source;
static void start(const char *const *extra) {
    if (!keep_source)
        snprintf(source, sizeof source, "it%ld%ld", (long)getpid(), (long)time(NULL) % 100000);
    char spec[128];
    snprintf(spec, sizeof spec, "%s=shopify:" SECRET, source);
    const char *argv[32] = {HS_BIN, "ingest", "--listen", "127.0.0.1:0", "--source", spec};
    int n = 6;
    for (; extra && *extra && n < 30; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    int out[2];
    cr_assert_eq(pipe(out), 0);
    server = fork();
    cr_assert(server >= 0);
    if (server == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(out[1], 1);
        close(out[0]);
        setenv("HS_LOG_LEVEL", "error", 1);
        execv(HS_BIN, (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    struct pollfd p = {out[0], POLLIN, 0};
    cr_assert_eq(poll(&p, 1, 30000), 1, "ingest printed no URL within 30 s");
    ssize_t len = read(out[0], url, sizeof url - 1);
    close(out[0]);
    cr_assert(len > 0, "ingest exited before listening");
    url[len] = 0;
    url[strcspn(url, "\n")] = 0;
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", getenv("HS_KAFKA_BROKERS"), errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", "test-ingest", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    cr_assert_not_null(rk, "%s", errstr);
}

/* SIGTERM: ingest must finish what is in flight and exit 0. */
static void stop(void) {
    if (server > 0) {
        kill(server, SIGTERM);
        int status = 0;
        waitpid(server, &status, 0);
        server = -1;
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "ingest exit status %d", status);
    }
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        rk = NULL;
    }
}

TestSuite(ingest, .init = need_stack, .fini = stop, .timeout = 120);

/* ---- HTTP ------------------------------------------------------------------------------- */

typedef struct {
    long status;
    char body[8192];
    size_t len;
    char retry_after[32];
    char content_type[128];
} resp_t;

static size_t on_body(char *data, size_t size, size_t n, void *opaque) {
    resp_t *r = opaque;
    size_t len = size * n, room = sizeof r->body - 1 - r->len;
    memcpy(r->body + r->len, data, len < room ? len : room);
    r->len += len < room ? len : room;
    r->body[r->len] = 0;
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *opaque) {
    resp_t *r = opaque;
    size_t len = size * n;
    if (len > 13 && !strncasecmp(data, "Retry-After: ", 13))
        snprintf(r->retry_after, sizeof r->retry_after, "%.*s", (int)(len - 15), data + 13);
    if (len > 14 && !strncasecmp(data, "Content-Type: ", 14))
        snprintf(r->content_type, sizeof r->content_type, "%.*s", (int)(len - 16), data + 14);
    return len;
}

static resp_t post(const char *method, const char *path, const char *ctype, const char *topic,
                   const char *id, const char *sig, const char *body, size_t blen) {
    resp_t r = {0};
    CURL *c = curl_easy_init();
    char full[512], h[5][512];
    snprintf(full, sizeof full, "%s%s", url, path);
    struct curl_slist *hl = NULL;
    snprintf(h[0], sizeof h[0], "Content-Type: %s", ctype ? ctype : "");
    snprintf(h[1], sizeof h[1], "X-Shopify-Topic: %s", topic);
    snprintf(h[2], sizeof h[2], "X-Shopify-Webhook-Id: %s", id);
    snprintf(h[3], sizeof h[3], "X-Shopify-Hmac-Sha256: %s", sig);
    snprintf(h[4], sizeof h[4], "X-Shopify-Shop-Domain: example.myshopify.com");
    for (int i = 0; i < 5; i++)
        hl = curl_slist_append(hl, h[i]);
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)blen);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "%s: %s", full, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return r;
}

static void sign(const char *body, size_t len, const char *secret, char out[64]) {
    unsigned char md[32];
    unsigned int mdlen = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, md, &mdlen);
    EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    static char buf[1 << 16];
    *len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[*len] = 0;
    return strdup(buf);
}

/* POSTs case's body to our source, signed with SECRET (or sig when not NULL). */
static resp_t webhook(const char *kase, const char *topic, const char *id, const char *sig) {
    char path[512], good[64], route[128];
    size_t len;
    snprintf(path, sizeof path, CASE_DIR "%s/body", kase);
    char *body = slurp(path, &len);
    sign(body, len, SECRET, good);
    snprintf(route, sizeof route, "/webhooks/%s", source);
    resp_t r = post("POST", route, "application/json", topic, id, sig ? sig : good, body, len);
    free(body);
    return r;
}

static void unique_id(char *out, size_t n, const char *tag) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, n, "%s-%ld-%ld-%ld", tag, (long)getpid(), (long)ts.tv_sec, ts.tv_nsec);
}

static int atoi_ok(const char *text) {
    char *end;
    long v = strtol(text, &end, 10);
    return end != text && !*end && v > 0;
}

static char *get(const char *path) {
    resp_t *r = calloc(1, sizeof *r);
    CURL *c = curl_easy_init();
    char full[512];
    snprintf(full, sizeof full, "%s%s", url, path);
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    char *text = strdup(r->body);
    free(r);
    return text;
}

static void expect_problem(const resp_t *r, long status, const char *detail_part) {
    cr_assert_eq(r->status, status, "status %ld: %s", r->status, r->body);
    cr_assert_str_eq(r->content_type, "application/problem+json", "%s", r->content_type);
    json_t *doc = json_loads(r->body, 0, NULL);
    cr_assert_not_null(doc, "%s", r->body);
    cr_assert_eq(json_integer_value(json_object_get(doc, "status")), status);
    const char *detail = json_string_value(json_object_get(doc, "detail"));
    cr_assert(detail && strstr(detail, detail_part), "detail '%s' lacks '%s'", detail, detail_part);
    json_decref(doc);
}

/* ---- topics ----------------------------------------------------------------------------- */

typedef struct {
    int n;
    int64_t high[MAX_PARTS];
} marks_t;

static marks_t marks(const char *topic) {
    marks_t m = {0};
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    cr_assert_eq(rd_kafka_metadata(rk, 0, t, &md, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    m.n = md->topics[0].partition_cnt < MAX_PARTS ? md->topics[0].partition_cnt : MAX_PARTS;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    for (int p = 0; p < m.n; p++) {
        int64_t lo = 0;
        cr_assert_eq(rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &m.high[p], 10000),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    return m;
}

static int64_t sum(const marks_t *m) {
    int64_t n = 0;
    for (int p = 0; p < m->n; p++)
        n += m->high[p];
    return n;
}

static int64_t count_of(const char *topic) {
    marks_t m = marks(topic);
    return sum(&m);
}

static char inbox[128];
static const char *inbox_topic(void) {
    snprintf(inbox, sizeof inbox, "hs.inbox.%s", source);
    return inbox;
}

/* Reads the first message written after `from` (caller rd_kafka_message_destroy). */
static rd_kafka_message_t *read_after(const char *topic, const marks_t *from) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(from->n);
    for (int p = 0; p < from->n; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = from->high[p];
    cr_assert_eq(rd_kafka_assign(rk, l), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(l);
    for (int i = 0; i < 100; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m && !m->err) {
            rd_kafka_assign(rk, NULL);
            return m;
        }
        if (m) rd_kafka_message_destroy(m);
    }
    cr_assert_fail("no new message on %s within 10 s", topic);
    return NULL;
}

static const char *header(const rd_kafka_message_t *m, const char *name, char *buf, size_t n) {
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t len;
    buf[0] = 0;
    if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, name, &v, &len)) return NULL;
    snprintf(buf, n, "%.*s", (int)len, (const char *)v);
    return buf;
}

/* ---- tests ------------------------------------------------------------------------------ */

Test(ingest, signed_order_reaches_inbox_and_typed_topic) {
    start(NULL);
    char id[128], hv[256];
    unique_id(id, sizeof id, "order");
    marks_t in0 = marks(inbox_topic()), ord0 = marks("hs.events.orders");
    resp_t r = webhook("orders_create", "orders/create", id, NULL);
    cr_assert_eq(r.status, 202, "%ld %s", r.status, r.body);
    json_t *doc = json_loads(r.body, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "id")), id);
    cr_assert(json_is_false(json_object_get(doc, "duplicate")));
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(doc, "events"), 0)),
                     "order.placed");
    json_decref(doc);
    /* Answered after both acks: the records are there already. */
    cr_assert_eq(count_of(inbox_topic()), sum(&in0) + 1);
    cr_assert_eq(count_of("hs.events.orders"), sum(&ord0) + 1);

    rd_kafka_message_t *m = read_after(inbox_topic(), &in0);
    size_t blen;
    char *body = slurp(CASE_DIR "orders_create/body", &blen);
    cr_assert_eq(m->len, blen);
    cr_assert_eq(memcmp(m->payload, body, blen), 0, "inbox value is the raw body");
    cr_assert_eq(m->key_len, strlen(id));
    cr_assert_eq(memcmp(m->key, id, m->key_len), 0);
    cr_assert_str_eq(header(m, "hs_hdr_x-shopify-topic", hv, sizeof hv), "orders/create");
    cr_assert_str_eq(header(m, "ce_id", hv, sizeof hv), id);
    free(body);
    rd_kafka_message_destroy(m);

    m = read_after("hs.events.orders", &ord0);
    cr_assert_str_eq(header(m, "ce_type", hv, sizeof hv), "order.placed");
    char want_source[128];
    snprintf(want_source, sizeof want_source, "/shopify/%s", source);
    cr_assert_str_eq(header(m, "ce_source", hv, sizeof hv), want_source);
    int32_t sid;
    const void *avro;
    size_t alen;
    char errstr[512];
    cr_assert_eq(hs_wire_parse(m->payload, m->len, &sid, &avro, &alen, errstr, sizeof errstr),
                 HS_OK, "%s", errstr);
    /* The record decodes to the mapping case's expected data (both through the codec, so the
     * logical types read the same; maps compare regardless of order). */
    const hs_avro_schema_t *schema = hs_catalog_schema(hs_catalog_find("order.placed"));
    json_t *expected = json_load_file(CASE_DIR "orders_create/expected.json", 0, NULL);
    json_t *want = json_object_get(json_array_get(json_object_get(expected, "events"), 0), "data");
    char *enc = NULL;
    size_t elen = 0;
    json_t *got = NULL, *want_dec = NULL;
    cr_assert_eq(hs_avro_encode_json(schema, want, &enc, &elen, errstr, sizeof errstr), HS_OK, "%s",
                 errstr);
    cr_assert_eq(hs_avro_decode_json(schema, enc, elen, &want_dec, errstr, sizeof errstr), HS_OK);
    cr_assert_eq(hs_avro_decode_json(schema, avro, alen, &got, errstr, sizeof errstr), HS_OK, "%s",
                 errstr);
    int same = json_equal(got, want_dec);
    char dump[4096];
    snprintf(dump, sizeof dump, "%s", "");
    if (!same) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        char *w = json_dumps(want_dec, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(dump, sizeof dump, "\n got %s\nwant %s", g, w);
        free(g);
        free(w);
    }
    free(enc);
    json_decref(got);
    json_decref(want_dec);
    json_decref(expected);
    rd_kafka_message_destroy(m);
    cr_assert(same, "the order.placed record is not the expected mapping: %s", dump);
}

Test(ingest, wrong_signature_is_401_and_produces_nothing) {
    start(NULL);
    char id[128];
    unique_id(id, sizeof id, "bad");
    marks_t in0 = marks(inbox_topic()), ord0 = marks("hs.events.orders");
    resp_t r = webhook("orders_create", "orders/create", id,
                       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    expect_problem(&r, 401, "signature");
    r = webhook("orders_create", "orders/create", id, "");
    expect_problem(&r, 401, "signature");
    cr_assert_eq(count_of(inbox_topic()), sum(&in0));
    cr_assert_eq(count_of("hs.events.orders"), sum(&ord0));
}

Test(ingest, duplicate_is_200_and_produces_nothing) {
    start(NULL);
    char id[128];
    unique_id(id, sizeof id, "dup");
    cr_assert_eq(webhook("orders_create", "orders/create", id, NULL).status, 202);
    marks_t in0 = marks(inbox_topic()), ord0 = marks("hs.events.orders");
    resp_t r = webhook("orders_create", "orders/create", id, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.body, "\"duplicate\": true") || strstr(r.body, "\"duplicate\":true"), "%s",
              r.body);
    cr_assert_eq(count_of(inbox_topic()), sum(&in0));
    cr_assert_eq(count_of("hs.events.orders"), sum(&ord0));
}

Test(ingest, broker_down_is_503_then_retry_succeeds_and_is_not_duplicate) {
    const char *control = getenv("HS_BROKER_CONTROL_URL");
    if (!control) cr_skip_test("HS_BROKER_CONTROL_URL not set");
    const char *extra[] = {"--set", "ingest.ack_timeout_ms=1500", NULL};
    start(extra);
    char id[128], down[256], up[256];
    unique_id(id, sizeof id, "fault");
    snprintf(down, sizeof down, "curl -s -o /dev/null -XPOST %s/brokers/1/down", control);
    snprintf(up, sizeof up, "curl -s -o /dev/null -XPOST %s/brokers/1/up", control);
    cr_assert_eq(system(down), 0);
    resp_t r = webhook("orders_create", "orders/create", id, NULL);
    cr_assert_eq(system(up), 0);
    expect_problem(&r, 503, "broker");
    cr_assert(atoi_ok(r.retry_after), "Retry-After '%s'", r.retry_after);
    resp_t again = {0};
    for (int i = 0; i < 20; i++) { /* the producer reconnects within a few seconds */
        again = webhook("orders_create", "orders/create", id, NULL);
        if (again.status != 503) break;
        sleep(1);
    }
    cr_assert_eq(again.status, 202, "%ld %s", again.status, again.body);
    cr_assert(strstr(again.body, "\"duplicate\": false") ||
                  strstr(again.body, "\"duplicate\":false"),
              "%s", again.body);
}

Test(ingest, redis_down_still_accepts_and_counts) {
    const char *extra[] = {"--redis", "redis://127.0.0.1:1", NULL};
    start(extra);
    char id[128];
    unique_id(id, sizeof id, "redis");
    resp_t r = webhook("orders_create", "orders/create", id, NULL);
    cr_assert_eq(r.status, 202, "%ld %s", r.status, r.body);
    char *metrics = get("/metrics");
    const char *line = strstr(metrics, "\nhs_ingest_dedup_redis_errors_total ");
    cr_assert_not_null(line, "%s", metrics);
    cr_assert_gt(strtod(line + 36, NULL), 0, "%.60s", line);
    free(metrics);
}

Test(ingest, redis_shares_the_window_between_instances) {
    const char *redis = getenv("HS_REDIS_URL");
    if (!redis) cr_skip_test("HS_REDIS_URL not set");
    const char *extra[] = {"--redis", redis, NULL};
    start(extra);
    char id[128];
    unique_id(id, sizeof id, "shared");
    cr_assert_eq(webhook("orders_create", "orders/create", id, NULL).status, 202);
    stop();
    /* A second instance serving the same source knows the id only through Redis. */
    keep_source = 1;
    start(extra);
    keep_source = 0;
    resp_t r = webhook("orders_create", "orders/create", id, NULL);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_assert(strstr(r.body, "true"), "%s", r.body);
}

Test(ingest, refusals_are_problem_json_and_produce_nothing) {
    const char *extra[] = {"--set", "ingest.max_body_bytes=1024", NULL};
    start(extra);
    marks_t in0 = marks(inbox_topic()), ord0 = marks("hs.events.orders");
    char route[128], big[4096];
    snprintf(route, sizeof route, "/webhooks/%s", source);
    memset(big, 'x', sizeof big);
    resp_t r =
        post("POST", route, "application/json", "orders/create", "big", "x", big, sizeof big);
    expect_problem(&r, 413, "");
    r = post("POST", "/webhooks/no-such-source", "application/json", "orders/create", "a", "x",
             "{}", 2);
    expect_problem(&r, 404, "no-such-source");
    r = post("PUT", route, "application/json", "orders/create", "a", "x", "{}", 2);
    expect_problem(&r, 405, "POST");
    r = post("POST", route, "text/plain", "orders/create", "a", "x", "{}", 2);
    expect_problem(&r, 415, "text/plain");
    r = post("POST", route, NULL, "orders/create", "a", "x", "{}", 2);
    expect_problem(&r, 415, "content type");
    cr_assert_eq(count_of(inbox_topic()), sum(&in0));
    cr_assert_eq(count_of("hs.events.orders"), sum(&ord0));
}

Test(ingest, rate_limit_is_429_with_retry_after) {
    const char *extra[] = {"--set", "ingest.default_tier=free", "--set", "ingest.rate_free=1",
                           NULL};
    start(extra);
    char id[128], id2[128];
    unique_id(id, sizeof id, "rate");
    unique_id(id2, sizeof id2, "rate2");
    marks_t in0 = marks(inbox_topic());
    cr_assert_eq(webhook("orders_create", "orders/create", id, NULL).status, 202);
    resp_t r = webhook("orders_create", "orders/create", id2, NULL);
    expect_problem(&r, 429, "rate limit");
    cr_assert_str_eq(r.retry_after, "1");
    cr_assert_eq(count_of(inbox_topic()), sum(&in0) + 1);
}

Test(ingest, unmapped_and_unparseable_go_to_the_inbox_only) {
    start(NULL);
    char id[128];
    marks_t ord0 = marks("hs.events.orders"), in0 = marks(inbox_topic());
    unique_id(id, sizeof id, "unmapped");
    resp_t r = webhook("unmapped_topic", "app/uninstalled", id, NULL);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_assert(strstr(r.body, "\"unmapped\""), "%s", r.body);
    unique_id(id, sizeof id, "garbage");
    r = webhook("unparseable_body", "orders/create", id, NULL);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_assert(strstr(r.body, "\"unparseable\""), "%s", r.body);
    cr_assert_eq(count_of(inbox_topic()), sum(&in0) + 2);
    cr_assert_eq(count_of("hs.events.orders"), sum(&ord0));
    char *metrics = get("/metrics");
    cr_assert(strstr(metrics, "hs_ingest_unmapped_total{source=\""), "%s", metrics);
    cr_assert(strstr(metrics, "hs_ingest_unparseable_total{source=\""), "%s", metrics);
    free(metrics);
}

/* POSTs body to /webhooks/<name> signed the way Slack does, with timestamp ts. */
static resp_t slack_post(const char *name, const char *secret, long ts, const char *body) {
    char base[256], ts_text[32], hexsig[80], route[128];
    snprintf(ts_text, sizeof ts_text, "%ld", ts);
    snprintf(base, sizeof base, "v0:%s:%s", ts_text, body);
    unsigned char md[32];
    unsigned int mdlen = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)base, strlen(base), md,
         &mdlen);
    int at = snprintf(hexsig, sizeof hexsig, "v0=");
    for (unsigned i = 0; i < mdlen; i++)
        at += snprintf(hexsig + at, sizeof hexsig - (size_t)at, "%02x", md[i]);
    CURL *c = curl_easy_init();
    resp_t r = {0};
    char full[512], h1[128], h2[128];
    snprintf(route, sizeof route, "/webhooks/%s", name);
    snprintf(full, sizeof full, "%s%s", url, route);
    snprintf(h1, sizeof h1, "X-Slack-Request-Timestamp: %s", ts_text);
    snprintf(h2, sizeof h2, "X-Slack-Signature: %s", hexsig);
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    hl = curl_slist_append(hl, h1);
    hl = curl_slist_append(hl, h2);
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return r;
}

Test(ingest, slack_handshake_and_stale_timestamp_produce_nothing) {
    char name[64], spec[128], topic[128];
    snprintf(name, sizeof name, "sl%ld%ld", (long)getpid(), (long)time(NULL) % 100000);
    snprintf(spec, sizeof spec, "%s=slack:slack_signing_secret", name);
    snprintf(topic, sizeof topic, "hs.inbox.%s", name);
    const char *extra[] = {"--source", spec, NULL};
    start(extra);
    marks_t in0 = marks(topic);
    const char *hello = "{\"type\":\"url_verification\",\"challenge\":"
                        "\"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P\",\"token\":\"x\"}";
    resp_t r = slack_post(name, "slack_signing_secret", (long)time(NULL), hello);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_assert_str_eq(r.body, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");
    cr_assert_str_eq(r.content_type, "text/plain");
    r = slack_post(name, "slack_signing_secret", (long)time(NULL) - 3600, hello);
    expect_problem(&r, 401, "timestamp");
    r = slack_post(name, "slack_signing_secret", (long)time(NULL) + 3600, hello);
    expect_problem(&r, 401, "timestamp");
    cr_assert_eq(count_of(topic), sum(&in0), "a handshake and refusals produce nothing");
}
