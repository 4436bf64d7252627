#include "hs_kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_log.h"

/* A private group id for consumers that only assign partitions: librdkafka refuses assign()
 * without one. Nothing is committed under it (auto commit off, never committed by hand). */
#define PRIVATE_GROUP "hookstream-assign-only"

typedef struct {
    const char *name;
    const char *value;
} prop_t;

static const prop_t producer_defaults[] = {
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"compression.type", "lz4"},
    {"linger.ms", "5"},
};

static const prop_t consumer_defaults[] = {
    {"enable.auto.offset.store", "false"},
    {"auto.offset.reset", "earliest"},
    {"enable.partition.eof", "false"},
};

/* librdkafka's syslog levels (0 emerg .. 7 debug) to ours. Its errors at level 3 are mostly
 * per-connection failures it retries by itself, so they are warnings here. */
static hs_log_level_t level_of(int syslog_level) {
    static const hs_log_level_t map[] = {HS_LOG_ERROR, HS_LOG_ERROR, HS_LOG_ERROR, HS_LOG_WARN,
                                         HS_LOG_WARN,  HS_LOG_INFO,  HS_LOG_INFO,  HS_LOG_DEBUG};
    if (syslog_level < 0) return HS_LOG_ERROR;
    if (syslog_level > 7) return HS_LOG_DEBUG;
    return map[syslog_level];
}

void hs_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    /* librdkafka starts each line with "[thrd:NAME]: "; that goes into its own field. */
    const char *thread = "", *msg = buf, *end;
    if (!strncmp(buf, "[thrd:", 6) && (end = strstr(buf, "]: "))) {
        thread = buf;
        msg = end + 3;
    }
    int tlen = *thread ? (int)(msg - buf - 9) : 0;
    hs_log(level_of(level), msg, "{s:s, s:s, s:s%}", "rdkafka", rk ? rd_kafka_name(rk) : "?",
           "facility", fac, "thread", *thread ? thread + 6 : "", (size_t)(tlen > 0 ? tlen : 0));
}

static hs_err_t set_one(rd_kafka_conf_t *conf, const char *name, const char *value,
                        const char *origin, char *errstr, size_t n) {
    char msg[512];
    if (rd_kafka_conf_set(conf, name, value, msg, sizeof msg) == RD_KAFKA_CONF_OK) return HS_OK;
    if (origin) return hs_fail(HS_ERR_INVALID, errstr, n, "%s: kafka.%s: %s", origin, name, msg);
    return hs_fail(HS_ERR_INTERNAL, errstr, n, "kafka.%s: %s", name, msg);
}

typedef struct {
    rd_kafka_conf_t *conf;
    char *errstr;
    size_t n;
} pass_ctx_t;

static hs_err_t pass_through(const char *name, const char *value, const char *origin,
                             void *opaque) {
    pass_ctx_t *ctx = opaque;
    return set_one(ctx->conf, name, value, origin, ctx->errstr, ctx->n);
}

/* Builds the conf: base settings, then role defaults, then the user's properties (which win). */
static rd_kafka_conf_t *conf_build(const hs_config_t *cfg, const prop_t *defs, size_t ndefs,
                                   char *errstr, size_t n) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, hs_kafka_log_cb);
    hs_err_t err = set_one(conf, "bootstrap.servers", hs_config_str(cfg, "kafka.brokers"),
                           hs_config_origin(cfg, "kafka.brokers"), errstr, n);
    for (size_t i = 0; !err && i < ndefs; i++)
        err = set_one(conf, defs[i].name, defs[i].value, NULL, errstr, n);
    if (!err) {
        pass_ctx_t ctx = {conf, errstr, n};
        err = hs_config_kafka_each(cfg, pass_through, &ctx);
    }
    if (err) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

rd_kafka_conf_t *hs_kafka_conf_new(const hs_config_t *cfg, char *errstr, size_t n) {
    return conf_build(cfg, NULL, 0, errstr, n);
}

rd_kafka_conf_t *hs_kafka_producer_conf(const hs_config_t *cfg, char *errstr, size_t n) {
    char timeout[32];
    snprintf(timeout, sizeof timeout, "%lld", (long long)hs_config_int(cfg, "kafka.timeout_ms"));
    prop_t defs[sizeof producer_defaults / sizeof producer_defaults[0] + 1];
    size_t nd = sizeof producer_defaults / sizeof producer_defaults[0];
    memcpy(defs, producer_defaults, sizeof producer_defaults);
    defs[nd++] = (prop_t){"message.timeout.ms", timeout};
    return conf_build(cfg, defs, nd, errstr, n);
}

rd_kafka_conf_t *hs_kafka_consumer_conf(const hs_config_t *cfg, const char *group, char *errstr,
                                        size_t n) {
    prop_t defs[sizeof consumer_defaults / sizeof consumer_defaults[0] + 3];
    size_t nd = sizeof consumer_defaults / sizeof consumer_defaults[0];
    memcpy(defs, consumer_defaults, sizeof consumer_defaults);
    if (group) {
        defs[nd++] = (prop_t){"group.id", group};
        defs[nd++] = (prop_t){"enable.auto.commit", "true"};
        defs[nd++] = (prop_t){"partition.assignment.strategy", "cooperative-sticky"};
    } else {
        defs[nd++] = (prop_t){"group.id", PRIVATE_GROUP};
        defs[nd++] = (prop_t){"enable.auto.commit", "false"};
    }
    return conf_build(cfg, defs, nd, errstr, n);
}

rd_kafka_t *hs_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errstr, size_t n) {
    char msg[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, msg, sizeof msg);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        hs_fail(HS_ERR_INVALID, errstr, n, "kafka client: %s", msg);
        return NULL;
    }
    if (type == RD_KAFKA_CONSUMER) rd_kafka_poll_set_consumer(rk);
    return rk;
}

rd_kafka_t *hs_kafka_producer_new(const hs_config_t *cfg,
                                  void (*dr_msg_cb)(rd_kafka_t *, const rd_kafka_message_t *,
                                                    void *),
                                  char *errstr, size_t n) {
    rd_kafka_conf_t *conf = hs_kafka_producer_conf(cfg, errstr, n);
    if (!conf) return NULL;
    if (dr_msg_cb) rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    return hs_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, n);
}

rd_kafka_t *hs_kafka_consumer_new(const hs_config_t *cfg, const char *group, char *errstr,
                                  size_t n) {
    rd_kafka_conf_t *conf = hs_kafka_consumer_conf(cfg, group, errstr, n);
    if (!conf) return NULL;
    return hs_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, n);
}

const char *hs_kafka_brokers(rd_kafka_t *rk) {
    static __thread char buf[512];
    size_t size = sizeof buf;
    if (rd_kafka_conf_get(rd_kafka_conf(rk), "bootstrap.servers", buf, &size) != RD_KAFKA_CONF_OK)
        snprintf(buf, sizeof buf, "?");
    return buf;
}

hs_err_t hs_kafka_check(rd_kafka_t *rk, int timeout_ms, char *errstr, size_t n) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->broker_cnt == 0)
        err = RD_KAFKA_RESP_ERR__TRANSPORT;
    if (md) rd_kafka_metadata_destroy(md);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return HS_OK;
    return hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "kafka at %s: unreachable (%s after %d ms)",
                   hs_kafka_brokers(rk), rd_kafka_err2str(err), timeout_ms);
}

int hs_kafka_topic_name_ok(const char *name) {
    size_t len = strlen(name);
    if (len == 0 || len > 249 || !strcmp(name, ".") || !strcmp(name, "..")) return 0;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len;
}

hs_err_t hs_kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int *partitions,
                                   int timeout_ms, char *errstr, size_t n) {
    const struct rd_kafka_metadata *md = NULL;
    /* All topics rather than this one: asking for one topic by name lets a producer handle
     * (allow.auto.create.topics) create it on brokers that auto-create, like the mock. */
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (err)
        return hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "kafka at %s: metadata: %s",
                       hs_kafka_brokers(rk), rd_kafka_err2str(err));
    hs_err_t rc = hs_fail(HS_ERR_NOT_FOUND, errstr, n, "topic '%s' does not exist", topic);
    for (int i = 0; i < md->topic_cnt; i++) {
        const rd_kafka_metadata_topic_t *t = &md->topics[i];
        if (strcmp(t->topic, topic) != 0) continue;
        if (t->err == RD_KAFKA_RESP_ERR_NO_ERROR || t->partition_cnt > 0) {
            *partitions = t->partition_cnt;
            rc = HS_OK;
        }
        break;
    }
    rd_kafka_metadata_destroy(md);
    return rc;
}
