/* Control messages on hs.control (see hs_control.h). */
#include "hs_control.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hs_kafka.h"
#include "hs_log.h"

#define POLL_MS 200

struct hs_control {
    rd_kafka_t *rk;
    char group[256];
    hs_control_seek_fn fn;
    void *opaque;
    pthread_t thread;
    atomic_int stop;
};

static void apply(hs_control_t *c, const rd_kafka_message_t *m) {
    json_error_t jerr;
    json_t *v = json_loadb(m->payload, m->len, 0, &jerr);
    const char *op = NULL, *group = NULL, *topic = NULL;
    json_t *offsets = NULL;
    if (!v ||
        json_unpack(v, "{s:s, s:s, s:s, s:o}", "op", &op, "group", &group, "topic", &topic,
                    "offsets", &offsets) ||
        strcmp(op, "seek") != 0 || !json_is_array(offsets)) {
        hs_log(HS_LOG_WARN, "control message ignored: not a seek", "{s:I}", "offset",
               (json_int_t)m->offset);
        json_decref(v);
        return;
    }
    if (strcmp(group, c->group) != 0) {
        json_decref(v);
        return;
    }
    size_t i;
    json_t *o;
    json_array_foreach(offsets, i, o) {
        json_int_t p, off;
        if (json_unpack(o, "{s:I, s:I}", "partition", &p, "offset", &off) || p < 0 || off < 0)
            continue;
        hs_log(HS_LOG_INFO, "control: seek", "{s:s, s:s, s:I, s:I}", "group", group, "topic", topic,
               "partition", p, "offset", off);
        c->fn(c->opaque, topic, (int32_t)p, (int64_t)off);
    }
    json_decref(v);
}

static void *follow_main(void *arg) {
    hs_control_t *c = arg;
    while (!atomic_load(&c->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, POLL_MS);
        if (!m) continue;
        if (!m->err && m->payload) apply(c, m);
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

hs_control_t *hs_control_follow(const hs_config_t *cfg, const char *group, hs_control_seek_fn fn,
                                void *opaque, char *errstr, size_t errstr_size) {
    rd_kafka_t *rk = hs_kafka_consumer_new(cfg, NULL, errstr, errstr_size);
    if (!rk) return NULL;
    int parts = 0;
    hs_err_t e =
        hs_kafka_topic_partitions(rk, HS_CONTROL_TOPIC, &parts,
                                  (int)hs_config_int(cfg, "kafka.timeout_ms"), errstr, errstr_size);
    if (e == HS_ERR_NOT_FOUND) {
        e = hs_kafka_topic_create(rk, HS_CONTROL_TOPIC, 1,
                                  (int)hs_config_int(cfg, "kafka.replication_factor"),
                                  hs_config_str(cfg, "broker.control_url"),
                                  (int)hs_config_int(cfg, "kafka.timeout_ms"), errstr, errstr_size);
        if (e == HS_ERR_CONFLICT) e = HS_OK;
        parts = 1;
    }
    hs_control_t *c = e ? NULL : calloc(1, sizeof *c);
    if (!c) {
        if (!e) hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory");
        rd_kafka_destroy(rk);
        return NULL;
    }
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(tp, HS_CONTROL_TOPIC, p)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_assign(rk, tp);
    rd_kafka_topic_partition_list_destroy(tp);
    c->rk = rk;
    snprintf(c->group, sizeof c->group, "%s", group);
    c->fn = fn;
    c->opaque = opaque;
    pthread_create(&c->thread, NULL, follow_main, c);
    return c;
}

void hs_control_destroy(hs_control_t *c) {
    if (!c) return;
    atomic_store(&c->stop, 1);
    pthread_join(c->thread, NULL);
    rd_kafka_consumer_close(c->rk);
    rd_kafka_destroy(c->rk);
    free(c);
}

hs_err_t hs_control_send_seek(rd_kafka_t *producer, const char *group, const char *topic,
                              const int64_t *offsets, int n, char *errstr, size_t errstr_size) {
    json_t *list = json_array();
    for (int p = 0; p < n; p++)
        if (offsets[p] >= 0)
            json_array_append_new(
                list, json_pack("{s:i, s:I}", "partition", p, "offset", (json_int_t)offsets[p]));
    json_t *v = json_pack("{s:s, s:s, s:s, s:o}", "op", "seek", "group", group, "topic", topic,
                          "offsets", list);
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!text) return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory");
    rd_kafka_resp_err_t e = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(HS_CONTROL_TOPIC), RD_KAFKA_V_KEY(group, strlen(group)),
        RD_KAFKA_V_VALUE(text, strlen(text)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_END);
    free(text);
    if (e) return hs_fail(HS_ERR_UNAVAILABLE, errstr, errstr_size, "%s", rd_kafka_err2str(e));
    if ((e = rd_kafka_flush(producer, 10000)))
        return hs_fail(HS_ERR_TIMEOUT, errstr, errstr_size, "hs.control: %s", rd_kafka_err2str(e));
    return HS_OK;
}
