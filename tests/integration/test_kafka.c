/* lib/hs_kafka against the stack's broker (HS_KAFKA_BROKERS) and registry (HS_REGISTRY_URL or
 * Postgres at HS_POSTGRES_DSN): a typed event produced and consumed back decoded, a group's lag
 * after committing known offsets, and offsets found by time. Each test uses a topic of its own
 * (created through the embedded broker's control API when the cluster cannot create topics), so
 * tests running at the same time cannot move its watermarks. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hs_avro.h"
#include "hs_catalog.h"
#include "hs_config.h"
#include "hs_envelope.h"
#include "hs_kafka.h"
#include "hs_log.h"
#include "hs_registry.h"
#include "hs_wire.h"

extern char **environ;

#define PARTITIONS 3
#define TIMEOUT_MS 10000

static char err[1024];
static hs_config_t *cfg;
static rd_kafka_t *producer;
static char topic[128];

static void setup(void) {
    if (!getenv("HS_KAFKA_BROKERS")) cr_skip_test("HS_KAFKA_BROKERS is not set");
    hs_log_init("test", HS_LOG_ERROR);
    cfg = hs_config_new();
    cr_assert_eq(hs_config_load_env(cfg, environ, err, sizeof err), HS_OK, "%s", err);
    producer = hs_kafka_producer_new(cfg, NULL, err, sizeof err);
    cr_assert_not_null(producer, "%s", err);
    cr_assert_eq(hs_kafka_check(producer, TIMEOUT_MS, err, sizeof err), HS_OK, "%s", err);
    snprintf(topic, sizeof topic, "it.kafka.%ld.%ld", (long)getpid(), (long)time(NULL));
    hs_err_t rc = hs_kafka_topic_create(producer, topic, PARTITIONS, 1,
                                        hs_config_str(cfg, "broker.control_url"), TIMEOUT_MS, err,
                                        sizeof err);
    cr_assert_eq(rc, HS_OK, "%s", err);
    int parts = 0;
    for (int i = 0; i < 50 && hs_kafka_topic_partitions(producer, topic, &parts, TIMEOUT_MS, err,
                                                        sizeof err) != HS_OK;
         i++)
        usleep(100000); /* a real cluster propagates a new topic's metadata asynchronously */
    cr_assert_eq(parts, PARTITIONS, "%s", err);
}

static void teardown(void) {
    if (producer) rd_kafka_destroy(producer);
    hs_config_destroy(cfg);
    producer = NULL;
    cfg = NULL;
}

static void produce(int32_t partition, const void *value, size_t len, int64_t ts,
                    rd_kafka_headers_t *hdrs) {
    cr_assert_eq(
        rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_KEY("k", 1),
                          RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END),
        0);
}

static void flush(void) {
    cr_assert_eq(rd_kafka_flush(producer, TIMEOUT_MS), 0);
}

/* The first message of topic/partition at or after offset, read by *consumer; the caller frees
 * both with release (librdkafka's destroy waits for every message of the handle). */
static rd_kafka_message_t *fetch(int32_t partition, int64_t offset, rd_kafka_t **consumer) {
    rd_kafka_t *c = hs_kafka_consumer_new(cfg, NULL, err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset;
    cr_assert_eq(rd_kafka_assign(c, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_message_t *m = NULL;
    for (int i = 0; i < 100 && !m; i++) {
        m = rd_kafka_consumer_poll(c, 100);
        if (m && m->err) {
            rd_kafka_message_destroy(m);
            m = NULL;
        }
    }
    cr_assert_not_null(m, "no message at %s [%d] offset %lld", topic, (int)partition,
                       (long long)offset);
    *consumer = c;
    return m;
}

static void release(rd_kafka_message_t *m, rd_kafka_t *c) {
    rd_kafka_message_destroy(m);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
}

static const char order_json[] =
    "{\"order_id\":\"it-1\",\"order_number\":\"1001\",\"customer\":{\"id\":\"c-9\","
    "\"email\":\"ada@example.com\",\"first_name\":\"Ada\",\"last_name\":null},"
    "\"currency\":\"EUR\",\"total_price\":\"12.50\",\"subtotal_price\":\"10.00\","
    "\"total_tax\":\"2.50\",\"financial_status\":\"paid\",\"fulfillment_status\":null,"
    "\"line_items\":[{\"product_id\":\"p-1\",\"variant_id\":null,\"sku\":\"HAT-1\","
    "\"title\":\"Hat\",\"quantity\":2,\"price\":\"5.00\"}],\"created_at\":1700000000000,"
    "\"updated_at\":1700000000001,\"attributes\":{\"shopify.tags\":\"vip\"}}";

Test(kafka_it, typed_event_round_trip, .init = setup, .fini = teardown) {
    if (!getenv("HS_REGISTRY_URL") && !getenv("HS_POSTGRES_DSN"))
        cr_skip_test("neither HS_REGISTRY_URL nor HS_POSTGRES_DSN is set");
    const hs_event_type_t *t = hs_catalog_find("order.placed");
    cr_assert_not_null(t);
    hs_registry_t *reg = hs_registry_new(cfg, err, sizeof err);
    cr_assert_not_null(reg, "%s", err);
    int32_t id = 0;
    cr_assert_eq(hs_registry_register(reg, t->subject, t->schema_json, &id, err, sizeof err), HS_OK,
                 "%s", err);
    json_t *in = json_loads(order_json, 0, NULL);
    char *buf = calloc(1, HS_WIRE_HEADER_SIZE);
    size_t len = HS_WIRE_HEADER_SIZE;
    cr_assert_eq(hs_avro_encode_json(hs_catalog_schema(t), in, &buf, &len, err, sizeof err), HS_OK,
                 "%s", err);
    hs_wire_header(id, (unsigned char *)buf);
    hs_envelope_t ev = {0};
    snprintf(ev.type, sizeof ev.type, "%s", t->type);
    snprintf(ev.source, sizeof ev.source, "/it/shop");
    snprintf(ev.subject, sizeof ev.subject, "it-1");
    hs_envelope_defaults(&ev);
    produce(1, buf, len, 0, hs_envelope_headers(&ev));
    flush();
    free(buf);

    rd_kafka_t *c = NULL;
    rd_kafka_message_t *m = fetch(1, 0, &c);
    int32_t got_id;
    const void *body;
    size_t blen;
    cr_assert_eq(hs_wire_parse(m->payload, m->len, &got_id, &body, &blen, err, sizeof err), HS_OK);
    cr_assert_eq(got_id, id);
    const char *schema_text;
    cr_assert_eq(hs_registry_schema(reg, got_id, &schema_text, err, sizeof err), HS_OK, "%s", err);
    hs_avro_schema_t *schema = hs_avro_schema_parse(schema_text, err, sizeof err);
    cr_assert_not_null(schema, "%s", err);
    json_t *out = NULL;
    cr_assert_eq(hs_avro_decode_json(schema, body, blen, &out, err, sizeof err), HS_OK, "%s", err);
    cr_assert(json_equal(in, out), "decoded value differs");
    rd_kafka_headers_t *hdrs = NULL;
    cr_assert_eq(rd_kafka_message_headers(m, &hdrs), 0);
    hs_envelope_t back;
    cr_assert_eq(hs_envelope_parse(hdrs, &back, err, sizeof err), HS_OK, "%s", err);
    cr_assert_str_eq(back.id, ev.id);
    cr_assert_str_eq(back.type, "order.placed");
    json_decref(in);
    json_decref(out);
    hs_avro_schema_destroy(schema);
    release(m, c);
    hs_registry_destroy(reg);
}

Test(kafka_it, group_lag_is_exact, .init = setup, .fini = teardown) {
    for (int i = 0; i < 10; i++)
        produce(0, "a", 1, 0, NULL);
    for (int i = 0; i < 4; i++)
        produce(2, "b", 1, 0, NULL);
    flush();
    char group[160];
    snprintf(group, sizeof group, "%s.group", topic);
    rd_kafka_t *c = hs_kafka_consumer_new(cfg, group, err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(l, topic, 0)->offset = 6;
    rd_kafka_topic_partition_list_add(l, topic, 2)->offset = 4;
    cr_assert_eq(rd_kafka_commit(c, l, 0), 0);
    rd_kafka_topic_partition_list_destroy(l);
    hs_kafka_lag_t *lags = NULL;
    size_t n = 0;
    cr_assert_eq(hs_kafka_group_lag(c, topic, &lags, &n, TIMEOUT_MS, err, sizeof err), HS_OK, "%s",
                 err);
    cr_assert_eq(n, 2);
    cr_assert_eq(lags[0].partition, 0);
    cr_assert_eq(lags[0].committed, 6);
    cr_assert_eq(lags[0].high, 10);
    cr_assert_eq(lags[0].lag, 4);
    cr_assert_eq(lags[1].partition, 2);
    cr_assert_eq(lags[1].lag, 0);
    free(lags);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
}

Test(kafka_it, offset_for_time, .init = setup, .fini = teardown) {
    const int64_t base = 1700000000000;
    for (int i = 0; i < 200; i++)
        produce(1, "t", 1, base + (i / 2) * 1000, NULL); /* pairs */
    flush();
    struct {
        int64_t ts, want;
    } cases[] = {
        {base - 1, 0},       /* before the first */
        {base, 0},           /* exact hit on the first */
        {base + 50000, 100}, /* duplicates: the first of the pair */
        {base + 50001, 102}, /* between */
        {base + 99000, 198}, /* the last pair */
        {base + 99001, 200}, /* after the last: the end */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t off = -9;
        cr_assert_eq(hs_kafka_offset_for_time(producer, topic, 1, cases[i].ts, &off, TIMEOUT_MS,
                                              err, sizeof err),
                     HS_OK, "%s", err);
        cr_assert_eq(off, cases[i].want, "ts %lld: offset %lld, want %lld", (long long)cases[i].ts,
                     (long long)off, (long long)cases[i].want);
    }
    int64_t off = -9;
    cr_assert_eq(
        hs_kafka_offset_for_time(producer, topic, 0, base, &off, TIMEOUT_MS, err, sizeof err),
        HS_OK, "%s", err);
    cr_assert_eq(off, 0, "an empty partition answers its end");
}
