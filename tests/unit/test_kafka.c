#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hs_kafka.h"
#include "hs_log.h"

static char err[512];

static hs_config_t *config_with(const char *brokers) {
    hs_config_t *cfg = hs_config_new();
    cr_assert_not_null(cfg);
    if (brokers) cr_assert_eq(hs_config_set(cfg, "kafka.brokers", brokers, "--set", err, 512), 0);
    return cfg;
}

static const char *conf_value(rd_kafka_conf_t *conf, const char *name) {
    static char buf[256];
    size_t size = sizeof buf;
    cr_assert_eq(rd_kafka_conf_get(conf, name, buf, &size), RD_KAFKA_CONF_OK, "%s", name);
    return buf;
}

static void quiet(void) {
    hs_log_init("test", HS_LOG_ERROR);
}

/* ---- configuration ------------------------------------------------------------------------ */

Test(kafka, conf_has_brokers_and_pass_through_properties, .init = quiet) {
    hs_config_t *cfg = config_with("10.0.0.1:9092");
    cr_assert_eq(hs_config_set(cfg, "kafka.linger.ms", "1", "hookstream.yaml:4", err, 512), 0);
    cr_assert_eq(hs_config_set(cfg, "kafka.client.id", "svc", "env HS_KAFKA_CLIENT_ID", err, 512),
                 0);
    rd_kafka_conf_t *conf = hs_kafka_producer_conf(cfg, err, sizeof err);
    cr_assert_not_null(conf, "%s", err);
    cr_assert_str_eq(conf_value(conf, "bootstrap.servers"), "10.0.0.1:9092");
    cr_assert_str_eq(conf_value(conf, "linger.ms"), "1"); /* the user's value wins */
    cr_assert_str_eq(conf_value(conf, "client.id"), "svc");
    cr_assert_str_eq(conf_value(conf, "enable.idempotence"), "true");
    cr_assert_str_eq(conf_value(conf, "compression.type"), "lz4");
    cr_assert_str_eq(conf_value(conf, "message.timeout.ms"), "10000");
    rd_kafka_conf_destroy(conf);
    hs_config_destroy(cfg);
}

Test(kafka, consumer_conf_stores_offsets_by_hand, .init = quiet) {
    hs_config_t *cfg = config_with(NULL);
    rd_kafka_conf_t *conf = hs_kafka_consumer_conf(cfg, "billing", err, sizeof err);
    cr_assert_not_null(conf, "%s", err);
    cr_assert_str_eq(conf_value(conf, "group.id"), "billing");
    cr_assert_str_eq(conf_value(conf, "enable.auto.offset.store"), "false");
    cr_assert_str_eq(conf_value(conf, "partition.assignment.strategy"), "cooperative-sticky");
    rd_kafka_conf_destroy(conf);
    conf = hs_kafka_consumer_conf(cfg, NULL, err, sizeof err);
    cr_assert_not_null(conf, "%s", err);
    cr_assert_str_eq(conf_value(conf, "enable.auto.commit"), "false");
    rd_kafka_conf_destroy(conf);
    hs_config_destroy(cfg);
}

Test(kafka, rejected_property_names_its_origin, .init = quiet) {
    hs_config_t *cfg = config_with(NULL);
    cr_assert_eq(hs_config_set(cfg, "kafka.lingr.ms", "1", "hookstream.yaml:7", err, 512), 0);
    cr_assert_null(hs_kafka_conf_new(cfg, err, sizeof err));
    cr_assert(strstr(err, "hookstream.yaml:7: kafka.lingr.ms: No such configuration property"),
              "%s", err);
    hs_config_destroy(cfg);

    cfg = config_with(NULL);
    cr_assert_eq(hs_config_set(cfg, "kafka.linger.ms", "soon", "env HS_KAFKA_LINGER_MS", err, 512),
                 0);
    cr_assert_null(hs_kafka_producer_conf(cfg, err, sizeof err));
    cr_assert(strstr(err, "env HS_KAFKA_LINGER_MS: kafka.linger.ms: "), "%s", err);
    hs_config_destroy(cfg);
}

/* ---- reachability ------------------------------------------------------------------------- */

static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd); /* nothing listens there now */
    return ntohs(sa.sin_port);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(kafka, check_fails_within_its_timeout_naming_the_broker, .init = quiet) {
    char brokers[64];
    snprintf(brokers, sizeof brokers, "127.0.0.1:%d", closed_port());
    hs_config_t *cfg = config_with(brokers);
    rd_kafka_t *rk = hs_kafka_producer_new(cfg, NULL, err, sizeof err);
    cr_assert_not_null(rk, "%s", err);
    double t0 = now_s();
    cr_assert_eq(hs_kafka_check(rk, 800, err, sizeof err), HS_ERR_UNAVAILABLE);
    cr_assert_lt(now_s() - t0, 10.0, "the check must end near its timeout, not hang");
    char want[128];
    snprintf(want, sizeof want, "kafka at %s: unreachable (", brokers);
    cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);
    rd_kafka_destroy(rk);
    hs_config_destroy(cfg);
}

/* ---- against an in-process mock cluster --------------------------------------------------- */

static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mock;
static hs_config_t *mcfg;

static void mock_up(void) {
    quiet();
    char e[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", e, sizeof e);
    mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    cr_assert_not_null(mock_rk, "%s", e);
    mock = rd_kafka_mock_cluster_new(mock_rk, 1);
    cr_assert_not_null(mock);
    cr_assert_eq(rd_kafka_mock_topic_create(mock, "ts", 3, 1), 0);
    mcfg = config_with(rd_kafka_mock_cluster_bootstraps(mock));
}

static void mock_down(void) {
    hs_config_destroy(mcfg);
    rd_kafka_mock_cluster_destroy(mock);
    rd_kafka_destroy(mock_rk);
}

/* Produces one message per timestamp to ts/partition and waits for all of them. */
static void produce_at(rd_kafka_t *p, int32_t partition, const int64_t *ts, size_t n) {
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("ts"), RD_KAFKA_V_PARTITION(partition),
                                       RD_KAFKA_V_VALUE("v", 1), RD_KAFKA_V_TIMESTAMP(ts[i]),
                                       RD_KAFKA_V_END),
                     0);
    cr_assert_eq(rd_kafka_flush(p, 10000), 0);
}

static int64_t offset_for(rd_kafka_t *rk, int32_t partition, int64_t ts) {
    int64_t off = -7;
    hs_err_t rc = hs_kafka_offset_for_time(rk, "ts", partition, ts, &off, 10000, err, sizeof err);
    cr_assert_eq(rc, HS_OK, "%s", err);
    return off;
}

Test(kafka, offset_for_time_searches_the_mock, .init = mock_up, .fini = mock_down) {
    rd_kafka_t *p = hs_kafka_producer_new(mcfg, NULL, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    /* offsets 0..5 -> timestamps; 2000 is written twice (offsets 2 and 3) */
    static const int64_t ts[] = {1000, 1500, 2000, 2000, 2500, 3000};
    produce_at(p, 0, ts, 6);
    cr_assert_eq(hs_kafka_check(p, 5000, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(offset_for(p, 0, 10), 0);   /* before the first */
    cr_assert_eq(offset_for(p, 0, 1000), 0); /* exact hit on the first */
    cr_assert_eq(offset_for(p, 0, 1200), 1); /* between two */
    cr_assert_eq(offset_for(p, 0, 2000), 2); /* duplicates: the first of them */
    cr_assert_eq(offset_for(p, 0, 2001), 4); /* just after the duplicates */
    cr_assert_eq(offset_for(p, 0, 3000), 5); /* exact hit on the last */
    cr_assert_eq(offset_for(p, 0, 3001), 6); /* after the last: the end */
    cr_assert_eq(offset_for(p, 1, 1000), 0); /* empty partition: its end */
    rd_kafka_destroy(p);
}

Test(kafka, offset_for_time_on_a_long_partition, .init = mock_up, .fini = mock_down) {
    rd_kafka_t *p = hs_kafka_producer_new(mcfg, NULL, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    static int64_t ts[3000];
    for (size_t i = 0; i < 3000; i++)
        ts[i] = 1700000000000 + (int64_t)i * 10;
    produce_at(p, 2, ts, 3000);
    cr_assert_eq(offset_for(p, 2, 1700000000000 + 12345), 1235);
    cr_assert_eq(offset_for(p, 2, 1700000000000 + 29990), 2999);
    cr_assert_eq(offset_for(p, 2, 1700000000000 + 29991), 3000);
    /* a consumer handle works as well as a producer handle */
    rd_kafka_t *c = hs_kafka_consumer_new(mcfg, "g", err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(offset_for(c, 2, 1700000000000 + 5), 1);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    rd_kafka_destroy(p);
}

Test(kafka, offset_for_time_unknown_partition, .init = mock_up, .fini = mock_down) {
    rd_kafka_t *p = hs_kafka_producer_new(mcfg, NULL, err, sizeof err);
    int64_t off;
    cr_assert_neq(hs_kafka_offset_for_time(p, "ts", 9, 0, &off, 3000, err, sizeof err), HS_OK);
    rd_kafka_destroy(p);
}

Test(kafka, topic_partitions_never_creates, .init = mock_up, .fini = mock_down) {
    rd_kafka_t *p = hs_kafka_producer_new(mcfg, NULL, err, sizeof err);
    int parts = 0;
    cr_assert_eq(hs_kafka_topic_partitions(p, "ts", &parts, 5000, err, sizeof err), HS_OK, "%s",
                 err);
    cr_assert_eq(parts, 3);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(hs_kafka_topic_partitions(p, "nope", &parts, 5000, err, sizeof err),
                     HS_ERR_NOT_FOUND);
        cr_assert_str_eq(err, "topic 'nope' does not exist");
    }
    rd_kafka_destroy(p);
}

Test(kafka, topic_create_on_the_mock_needs_the_control_api, .init = mock_up, .fini = mock_down) {
    rd_kafka_t *p = hs_kafka_producer_new(mcfg, NULL, err, sizeof err);
    double t0 = now_s();
    cr_assert_eq(hs_kafka_topic_create(p, "fresh", 2, 1, NULL, 5000, err, sizeof err),
                 HS_ERR_UNSUPPORTED);
    cr_assert(strstr(err, "broker.control_url"), "%s", err);
    cr_assert_lt(now_s() - t0, 3.0); /* known at once, not after the admin timeout */
    cr_assert_eq(hs_kafka_topic_create(p, "ts", 2, 1, NULL, 5000, err, sizeof err),
                 HS_ERR_CONFLICT);
    cr_assert_str_eq(err, "topic 'ts' already exists");
    /* the control API is used when given; nothing listens on this one */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
    cr_assert_eq(hs_kafka_topic_create(p, "fresh", 2, 1, url, 2000, err, sizeof err),
                 HS_ERR_UNAVAILABLE);
    cr_assert(strstr(err, "broker control API at http://127.0.0.1:"), "%s", err);
    rd_kafka_destroy(p);
}

Test(kafka, group_lag_is_exact, .init = mock_up, .fini = mock_down) {
    rd_kafka_t *p = hs_kafka_producer_new(mcfg, NULL, err, sizeof err);
    static const int64_t ts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    produce_at(p, 0, ts, 10);
    produce_at(p, 1, ts, 4);
    rd_kafka_t *c = hs_kafka_consumer_new(mcfg, "lagging", err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    hs_kafka_lag_t *lags = NULL;
    size_t n = 9;
    cr_assert_eq(hs_kafka_group_lag(c, NULL, &lags, &n, 5000, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(n, 0); /* nothing committed yet */
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(l, "ts", 1)->offset = 1;
    rd_kafka_topic_partition_list_add(l, "ts", 0)->offset = 7;
    cr_assert_eq(rd_kafka_commit(c, l, 0), 0);
    rd_kafka_topic_partition_list_destroy(l);
    cr_assert_eq(hs_kafka_group_lag(c, NULL, &lags, &n, 5000, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(lags[0].topic, "ts");
    cr_assert_eq(lags[0].partition, 0);
    cr_assert_eq(lags[0].committed, 7);
    cr_assert_eq(lags[0].high, 10);
    cr_assert_eq(lags[0].lag, 3);
    cr_assert_eq(lags[1].partition, 1);
    cr_assert_eq(lags[1].lag, 3);
    free(lags);
    cr_assert_eq(hs_kafka_group_lag(c, "missing", &lags, &n, 5000, err, sizeof err),
                 HS_ERR_NOT_FOUND);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    rd_kafka_destroy(p);
}
