/* hs_kafka_offset_for_time: the broker's ListOffsets-by-time answer when it has one, else a
 * binary search over message timestamps (the embedded mock broker answers -1 for every time).
 * The search assumes timestamps grow with offsets, which holds for hookstream's producers
 * (CreateTime stamped at produce) and for LogAppendTime topics. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hs_kafka.h"

/* Properties a probe consumer copies from the caller's client: where the cluster is and how to
 * authenticate. Role settings (producer defaults, group settings, callbacks) are not copied. */
static const char *const copied[] = {
    "metadata.broker.list", "client.id", "security.protocol", "ssl.", "sasl.", "socket.",
    "broker.address.",      NULL,
};

static const struct {
    const char *name;
    const char *value;
} probe_props[] = {
    {"group.id", "hookstream-time-probe"}, /* assign() needs one; nothing is committed */
    {"enable.auto.commit", "false"},       {"enable.auto.offset.store", "false"},
    {"enable.partition.eof", "true"},      {"auto.offset.reset", "earliest"},
    {"fetch.wait.max.ms", "10"},           {"max.partition.fetch.bytes", "65536"},
};

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int is_copied(const char *name) {
    for (size_t i = 0; copied[i]; i++) {
        size_t len = strlen(copied[i]);
        int prefix = copied[i][len - 1] == '.';
        if (prefix ? strncmp(name, copied[i], len) == 0 : strcmp(name, copied[i]) == 0) return 1;
    }
    return 0;
}

/* The value name has in a dump (name, value, name, value, ...), NULL if absent. */
static const char *dump_value(const char **dump, size_t cnt, const char *name) {
    for (size_t i = 0; i + 1 < cnt; i += 2)
        if (!strcmp(dump[i], name)) return dump[i + 1];
    return NULL;
}

static rd_kafka_t *probe_new(rd_kafka_t *rk, char *errstr, size_t n) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, hs_kafka_log_cb);
    size_t cnt = 0, dcnt = 0;
    const char **dump = rd_kafka_conf_dump((rd_kafka_conf_t *)rd_kafka_conf(rk), &cnt);
    const char **defaults = rd_kafka_conf_dump(conf, &dcnt);
    char msg[256];
    /* Only what the caller changed: setting a default again would trip librdkafka's warnings
     * about deprecated or inconsistent properties. */
    for (size_t i = 0; i + 1 < cnt; i += 2) {
        const char *def = dump_value(defaults, dcnt, dump[i]);
        if (is_copied(dump[i]) && (!def || strcmp(def, dump[i + 1])))
            rd_kafka_conf_set(conf, dump[i], dump[i + 1], msg, sizeof msg);
    }
    rd_kafka_conf_dump_free(defaults, dcnt);
    rd_kafka_conf_dump_free(dump, cnt);
    for (size_t i = 0; i < sizeof probe_props / sizeof probe_props[0]; i++)
        rd_kafka_conf_set(conf, probe_props[i].name, probe_props[i].value, msg, sizeof msg);
    return hs_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, n);
}

static void probe_destroy(rd_kafka_t *c) {
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
}

/* The first message at or after offset: *m_off and *m_ts, or *m_off = -1 at the partition end. */
static hs_err_t probe_at(rd_kafka_t *c, const char *topic, int32_t partition, int64_t offset,
                         int64_t deadline, int64_t *m_off, int64_t *m_ts, char *errstr, size_t n) {
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic, partition)->offset = offset;
    rd_kafka_resp_err_t err = rd_kafka_assign(c, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) return hs_fail(HS_ERR_INTERNAL, errstr, n, "assign: %s", rd_kafka_err2str(err));
    for (int64_t left; (left = deadline - now_ms()) > 0;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, (int)(left < 100 ? left : 100));
        if (!m) continue;
        int mine =
            m->rkt && m->partition == partition && !strcmp(rd_kafka_topic_name(m->rkt), topic);
        hs_err_t rc = HS_ERR_TIMEOUT; /* not an answer yet: keep polling */
        if (mine && m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            *m_off = -1;
            rc = HS_OK;
        } else if (mine && m->err) {
            rc = hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "fetch %s [%d] at %lld: %s", topic,
                         (int)partition, (long long)offset, rd_kafka_message_errstr(m));
        } else if (mine && m->offset >= offset) {
            *m_off = m->offset;
            *m_ts = rd_kafka_message_timestamp(m, NULL);
            rc = HS_OK;
        }
        rd_kafka_message_destroy(m);
        if (rc != HS_ERR_TIMEOUT) return rc;
    }
    return hs_fail(HS_ERR_TIMEOUT, errstr, n, "fetch %s [%d] at %lld: timed out", topic,
                   (int)partition, (long long)offset);
}

/* First offset in [lo, hi] whose message timestamp is >= ts, knowing the one at hi is. */
static hs_err_t search(rd_kafka_t *c, const char *topic, int32_t partition, int64_t ts, int64_t lo,
                       int64_t hi, int64_t deadline, int64_t *offset, char *errstr, size_t n) {
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2, m_off = -1, m_ts = 0;
        hs_err_t rc = probe_at(c, topic, partition, mid, deadline, &m_off, &m_ts, errstr, n);
        if (rc) return rc;
        if (m_off < 0 || m_ts >= ts) {
            hi = mid;
        } else {
            /* Offsets between mid and m_off hold no message (compaction, transaction markers). */
            lo = m_off + 1 < hi ? m_off + 1 : hi;
        }
    }
    *offset = lo;
    return HS_OK;
}

static hs_err_t by_api(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t ts,
                       int64_t *offset, int timeout_ms, char *errstr, size_t n) {
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic, partition)->offset = ts;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, list, timeout_ms);
    if (!err) err = list->elems[0].err;
    *offset = list->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(list);
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        return hs_fail(HS_ERR_NOT_FOUND, errstr, n, "%s [%d]: no such topic or partition", topic,
                       (int)partition);
    if (err)
        return hs_fail(HS_ERR_UNAVAILABLE, errstr, n,
                       "kafka at %s: offsets for time of %s [%d]: %s", hs_kafka_brokers(rk), topic,
                       (int)partition, rd_kafka_err2str(err));
    return HS_OK;
}

hs_err_t hs_kafka_offset_for_time(rd_kafka_t *rk, const char *topic, int32_t partition,
                                  int64_t ts_ms, int64_t *offset, int timeout_ms, char *errstr,
                                  size_t n) {
    int64_t deadline = now_ms() + timeout_ms;
    hs_err_t rc = by_api(rk, topic, partition, ts_ms, offset, timeout_ms, errstr, n);
    if (rc || *offset >= 0) return rc;
    int64_t low = 0, high = 0;
    int left = (int)(deadline - now_ms());
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, topic, partition, &low, &high, left > 0 ? left : 1);
    if (err)
        return hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "kafka at %s: watermarks of %s [%d]: %s",
                       hs_kafka_brokers(rk), topic, (int)partition, rd_kafka_err2str(err));
    *offset = high;
    if (low >= high) return HS_OK; /* empty: the end is the only position */
    rd_kafka_t *c = probe_new(rk, errstr, n);
    if (!c) return HS_ERR_INTERNAL;
    int64_t last_off = -1, last_ts = 0;
    rc = probe_at(c, topic, partition, high - 1, deadline, &last_off, &last_ts, errstr, n);
    /* A broker that supports the lookup answered -1 because no message is that recent: the
     * last message is older than ts and the end offset is the answer. */
    if (!rc && last_off >= 0 && last_ts >= ts_ms)
        rc = search(c, topic, partition, ts_ms, low, last_off, deadline, offset, errstr, n);
    probe_destroy(c);
    return rc;
}
