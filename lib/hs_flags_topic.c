/* The flags topic (flags.topic, default hs.flags): created compacted when missing, read from
 * the beginning by assigning every partition (no consumer group), and written one keyed record
 * at a time. Shared by the store's follower and `hookstream flags` (hs_flags.h). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hs_flags_internal.h"
#include "hs_kafka.h"
#include "hs_log.h"



struct hs_flags_reader {
    rd_kafka_t *rk;
    const hs_config_t *cfg;
    int partitions;
    unsigned char *ended; /* per partition: its end was reached once */
    int nended;
};

/* Sets cleanup.policy=compact (AlterConfigs) when the cluster has a controller to ask; the
 * embedded broker has none (and no compaction), which is logged, not an error. */
static void compact(rd_kafka_t *rk, const char *topic, int timeout_ms) {
    const struct rd_kafka_metadata *md = NULL;
    int32_t controller = rd_kafka_controllerid(rk, timeout_ms);
    int known = 0;
    if (!rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms)) {
        for (int i = 0; i < md->broker_cnt; i++)
            known |= md->brokers[i].id == controller;
        rd_kafka_metadata_destroy(md);
    }
    const char *why = known ? NULL : "no controller answers admin requests";
    char msg[256];
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ALTERCONFIGS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_event_t *ev = NULL;
    if (known) {
        rd_kafka_ConfigResource_set_config(res, "cleanup.policy", "compact");
        rd_kafka_AdminOptions_set_request_timeout(ao, timeout_ms, msg, sizeof msg);
        rd_kafka_AlterConfigs(rk, &res, 1, ao, q);
        ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
        why = !ev ? "timed out" : rd_kafka_event_error(ev) ? rd_kafka_event_error_string(ev) : NULL;
        size_t cnt = 0;
        const rd_kafka_ConfigResource_t **r =
            ev && !why ? rd_kafka_AlterConfigs_result_resources(
                             rd_kafka_event_AlterConfigs_result(ev), &cnt)
                       : NULL;
        if (cnt == 1 && rd_kafka_ConfigResource_error(r[0]))
            why = rd_kafka_ConfigResource_error_string(r[0]);
    }
    if (why)
        hs_log(HS_LOG_WARN, "flags topic created without cleanup.policy=compact", "{s:s, s:s}",
               "topic", topic, "why", why);
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_ConfigResource_destroy(res);
}

/* *partitions of flags.topic; when missing and create, creates it (one partition, compacted). */
static hs_err_t topic_ensure(rd_kafka_t *rk, const hs_config_t *cfg, int create, int *partitions,
                             char *errstr, size_t n) {
    const char *topic = hs_config_str(cfg, "flags.topic");
    int timeout_ms = (int)hs_config_int(cfg, "kafka.timeout_ms");
    hs_err_t err = hs_kafka_topic_partitions(rk, topic, partitions, timeout_ms, errstr, n);
    if (err != HS_ERR_NOT_FOUND || !create) return err;
    err = hs_kafka_topic_create(rk, topic, 1, (int)hs_config_int(cfg, "kafka.replication_factor"),
                                hs_config_str(cfg, "broker.control_url"), timeout_ms, errstr, n);
    if (err && err != HS_ERR_CONFLICT) return err;
    /* a real cluster shows a new topic's metadata a little later */
    for (int i = 0; i < 50; i++) {
        if (!(err = hs_kafka_topic_partitions(rk, topic, partitions, timeout_ms, errstr, n))) break;
        usleep(100000);
    }
    if (!err) compact(rk, topic, timeout_ms);
    return err;
}

hs_flags_reader_t *hs_flags_reader_new(const hs_config_t *cfg, const char *fetch_wait_ms,
                                       char *errstr, size_t n) {
    char msg[256];
    rd_kafka_conf_t *conf = hs_kafka_consumer_conf(cfg, NULL, errstr, n);
    if (!conf) return NULL;
    if (rd_kafka_conf_set(conf, "enable.partition.eof", "true", msg, sizeof msg) ||
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", msg, sizeof msg) ||
        rd_kafka_conf_set(conf, "fetch.wait.max.ms", fetch_wait_ms, msg, sizeof msg)) {
        rd_kafka_conf_destroy(conf);
        hs_fail(HS_ERR_INTERNAL, errstr, n, "kafka: %s", msg);
        return NULL;
    }
    hs_flags_reader_t *r = calloc(1, sizeof *r);
    if (!r) {
        rd_kafka_conf_destroy(conf);
        hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
        return NULL;
    }
    r->cfg = cfg;
    if (!(r->rk = hs_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, n))) {
        free(r);
        return NULL;
    }
    return r;
}

hs_err_t hs_flags_reader_assign(hs_flags_reader_t *r, int create, char *errstr, size_t n) {
    hs_err_t err = topic_ensure(r->rk, r->cfg, create, &r->partitions, errstr, n);
    if (err) return err;
    if (!(r->ended = calloc((size_t)r->partitions, 1)))
        return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    const char *topic = hs_config_str(r->cfg, "flags.topic");
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(r->partitions);
    /* Offset 0, not OFFSET_BEGINNING: librdkafka looks the beginning up with a ListOffsets that
     * it retries after 500 ms when the leader is not known yet; 0 needs no lookup, and where
     * retention removed it, auto.offset.reset (earliest) takes the first that is left. */
    for (int p = 0; p < r->partitions; p++)
        rd_kafka_topic_partition_list_add(tp, topic, p)->offset = 0;
    rd_kafka_resp_err_t e = rd_kafka_assign(r->rk, tp);
    rd_kafka_topic_partition_list_destroy(tp);
    if (e)
        return hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "%s: assign: %s", topic, rd_kafka_err2str(e));
    return HS_OK;
}

rd_kafka_message_t *hs_flags_reader_next(hs_flags_reader_t *r, int timeout_ms) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, timeout_ms);
    if (!m || !m->err) return m;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && m->partition >= 0 &&
        m->partition < r->partitions && !r->ended[m->partition]) {
        r->ended[m->partition] = 1;
        r->nended++;
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        hs_log(HS_LOG_WARN, "flags topic: consume error", "{s:s}", "error",
               rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
    return NULL;
}

int hs_flags_reader_at_end(const hs_flags_reader_t *r) {
    return r->ended && r->nended == r->partitions;
}

void hs_flags_reader_destroy(hs_flags_reader_t *r) {
    if (!r) return;
    rd_kafka_consumer_close(r->rk);
    rd_kafka_destroy(r->rk);
    free(r->ended);
    free(r);
}

/* Applies record m to state over base; logs why when it is rejected. */
hs_err_t hs_flags_record_apply(json_t *state, const json_t *base, const rd_kafka_message_t *m) {
    char key[512], why[512];
    size_t kl = m->key_len < sizeof key - 1 ? m->key_len : sizeof key - 1;
    memcpy(key, m->key ? m->key : "", m->key ? kl : 0);
    key[m->key ? kl : 0] = 0;
    hs_err_t err = m->key && kl == m->key_len && strlen(key) == kl
                       ? hs_flags_doc_apply(state, base, key, m->payload, m->len, why, sizeof why)
                       : hs_fail(HS_ERR_INVALID, why, sizeof why,
                                 "the record's key is no flag "
                                 "key (missing, too long or not text)");
    if (err)
        hs_log(HS_LOG_ERROR, "flags topic: record rejected, the previous definition stays",
               "{s:s, s:s, s:i, s:I, s:s}", "topic", rd_kafka_topic_name(m->rkt), "key", key,
               "partition", (int)m->partition, "offset", (json_int_t)m->offset, "error", why);
    return err;
}

hs_err_t hs_flags_topic_read(const hs_config_t *cfg, const json_t *base, json_t **state,
                             char *errstr, size_t n) {
    *state = NULL;
    hs_flags_reader_t *r = hs_flags_reader_new(cfg, HS_FLAGS_READ_FETCH_WAIT_MS, errstr, n);
    if (!r) return HS_ERR_INVALID;
    json_t *doc = json_pack("{s:{}}", "flags");
    hs_err_t err = hs_flags_reader_assign(r, 0, errstr, n);
    if (err == HS_ERR_NOT_FOUND)
        err = HS_OK; /* no topic yet: no flags */
    else if (!err) {
        int waited = 0, timeout_ms = (int)hs_config_int(cfg, "kafka.timeout_ms");
        while (!hs_flags_reader_at_end(r) && waited < timeout_ms) {
            rd_kafka_message_t *m = hs_flags_reader_next(r, 100);
            if (!m) {
                waited += 100;
                continue;
            }
            hs_flags_record_apply(doc, base, m);
            rd_kafka_message_destroy(m);
        }
        if (!hs_flags_reader_at_end(r))
            err = hs_fail(HS_ERR_TIMEOUT, errstr, n, "%s: not read to its end within %d ms",
                          hs_config_str(cfg, "flags.topic"), timeout_ms);
    }
    hs_flags_reader_destroy(r);
    if (err || !doc) {
        json_decref(doc);
        return err ? err : hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    }
    *state = doc;
    return HS_OK;
}

static void delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk, (void)opaque;
    *(rd_kafka_resp_err_t *)m->_private = m->err;
}

hs_err_t hs_flags_topic_put(const hs_config_t *cfg, const char *key, const json_t *value,
                            char *errstr, size_t n) {
    const char *topic = hs_config_str(cfg, "flags.topic");
    rd_kafka_t *rk = hs_kafka_producer_new(cfg, delivered, errstr, n);
    if (!rk) return HS_ERR_INVALID;
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    rd_kafka_resp_err_t dr = RD_KAFKA_RESP_ERR__IN_PROGRESS;
    int partitions = 0;
    hs_err_t err = value && !text ? hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory")
                                  : topic_ensure(rk, cfg, 1, &partitions, errstr, n);
    rd_kafka_resp_err_t e =
        err ? RD_KAFKA_RESP_ERR_NO_ERROR
            : rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                                RD_KAFKA_V_VALUE(text, text ? strlen(text) : 0),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&dr),
                                RD_KAFKA_V_END);
    if (!err && !e) rd_kafka_flush(rk, (int)hs_config_int(cfg, "kafka.timeout_ms") + 1000);
    if (!err && (e || dr))
        err = hs_fail(dr == RD_KAFKA_RESP_ERR__IN_PROGRESS ? HS_ERR_TIMEOUT : HS_ERR_UNAVAILABLE,
                      errstr, n, "kafka at %s: %s: %s", hs_kafka_brokers(rk), topic,
                      rd_kafka_err2str(e ? e
                                       : dr == RD_KAFKA_RESP_ERR__IN_PROGRESS
                                           ? RD_KAFKA_RESP_ERR__TIMED_OUT
                                           : dr));
    free(text);
    rd_kafka_destroy(rk);
    return err;
}
