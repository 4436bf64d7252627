/* Kafka clients for every hookstream tool and service, built from the configuration:
 * kafka.brokers plus the librdkafka properties passed through under `kafka:`, with librdkafka's
 * own logs routed to hs_log. Producers are idempotent with acks=all; consumers store offsets only
 * when told to. Also: a reachability check that never waits past its deadline, topic creation
 * that falls back to the embedded broker's control API, group lag, and the offset of a point in
 * time that also works on the embedded (mock) broker, which cannot look offsets up by time. */
#ifndef HS_KAFKA_H
#define HS_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "hs_config.h"
#include "hs_err.h"

/* ---- clients ------------------------------------------------------------------------------ */

/* Returns a new conf: bootstrap.servers = kafka.brokers, logs to hs_log, then every pass-through
 * property of cfg in order. A property librdkafka rejects → NULL and errstr
 * "ORIGIN: kafka.<prop>: <librdkafka's message>" (ORIGIN is "FILE:LINE", "env HS_X" or "--set").
 * Caller owns the conf: pass it to hs_kafka_new / rd_kafka_new or rd_kafka_conf_destroy it. */
rd_kafka_conf_t *hs_kafka_conf_new(const hs_config_t *cfg, char *errstr, size_t errstr_size);

/* Like hs_kafka_conf_new with producer defaults applied before the pass-through properties (so
 * those win): enable.idempotence=true, acks=all, compression.type=lz4, linger.ms=5,
 * message.timeout.ms = kafka.timeout_ms. The caller adds its dr_msg_cb before creating. */
rd_kafka_conf_t *hs_kafka_producer_conf(const hs_config_t *cfg, char *errstr, size_t errstr_size);

/* Like hs_kafka_conf_new with consumer defaults: enable.auto.offset.store=false,
 * enable.auto.commit=true (commits what was stored), auto.offset.reset=earliest; with a group
 * also partition.assignment.strategy=cooperative-sticky. group NULL: a private group id is set
 * (librdkafka needs one to assign partitions) and auto commit is off, so nothing is committed. */
rd_kafka_conf_t *hs_kafka_consumer_conf(const hs_config_t *cfg, const char *group, char *errstr,
                                        size_t errstr_size);

/* Creates a client from conf (takes ownership of conf, also on failure). A consumer gets its main
 * queue redirected to the consumer queue (rd_kafka_poll_set_consumer), so rd_kafka_consumer_poll
 * serves every callback.
 * Returns NULL with errstr on failure. Free with rd_kafka_destroy (after
 * rd_kafka_consumer_close for consumers). */
rd_kafka_t *hs_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errstr,
                         size_t errstr_size);

/* hs_kafka_producer_conf + dr_msg_cb (may be NULL) + hs_kafka_new. */
rd_kafka_t *hs_kafka_producer_new(const hs_config_t *cfg,
                                  void (*dr_msg_cb)(rd_kafka_t *rk, const rd_kafka_message_t *msg,
                                                    void *opaque),
                                  char *errstr, size_t errstr_size);

/* hs_kafka_consumer_conf + hs_kafka_new (group may be NULL, see hs_kafka_consumer_conf). */
rd_kafka_t *hs_kafka_consumer_new(const hs_config_t *cfg, const char *group, char *errstr,
                                  size_t errstr_size);

/* The log callback the confs above carry: librdkafka's log lines as hs_log JSON lines. For confs
 * built by hand (rd_kafka_conf_set_log_cb(conf, hs_kafka_log_cb)). */
void hs_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* Returns the bootstrap list rk was built with, for messages; borrowed from a static buffer of
 * the calling thread, valid until the next call on that thread. */
const char *hs_kafka_brokers(rd_kafka_t *rk);

/* ---- cluster ------------------------------------------------------------------------------ */

/* One metadata round trip. HS_OK when the cluster answered within timeout_ms (never waits
 * longer); else HS_ERR_UNAVAILABLE and "kafka at BROKERS: unreachable (<reason>)". */
hs_err_t hs_kafka_check(rd_kafka_t *rk, int timeout_ms, char *errstr, size_t errstr_size);

/* Returns 1 when name is a legal Kafka topic name: 1-249 of [A-Za-z0-9._-], not "." or "..". */
int hs_kafka_topic_name_ok(const char *name);

/* Topic partitions as the cluster reports them: *partitions = count. Unknown topic →
 * HS_ERR_NOT_FOUND "topic 'x' does not exist". Never asks the broker to auto-create it. */
hs_err_t hs_kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int *partitions,
                                   int timeout_ms, char *errstr, size_t errstr_size);

/* Creates topic with Admin CreateTopics. Exists → HS_ERR_CONFLICT. When the cluster cannot
 * create topics (no controller, unsupported API: the embedded broker) and control_url is not
 * NULL/empty, POSTs {"name","partitions"} to control_url/topics instead; without control_url
 * that case is HS_ERR_UNSUPPORTED with a message saying to set broker.control_url. */
hs_err_t hs_kafka_topic_create(rd_kafka_t *rk, const char *topic, int partitions,
                               int replication_factor, const char *control_url, int timeout_ms,
                               char *errstr, size_t errstr_size);

/* The committed position and lag of one partition of a consumer group. */
typedef struct {
    char topic[256];
    int32_t partition;
    int64_t committed; /* next offset the group will read */
    int64_t low, high; /* watermarks */
    int64_t lag;       /* high - committed, 0 when negative */
} hs_kafka_lag_t;

/* Finds the partitions group has committed offsets for (OffsetFetch over every non-internal
 * topic in metadata, or only topic when not NULL) and their lag. *lags is a new array of *n
 * entries sorted by topic and partition (NULL when 0); caller free()s it. rk must be a consumer
 * whose group.id is group (hs_kafka_consumer_new(cfg, group, ...)); it is not joined. Unknown
 * topic → HS_ERR_NOT_FOUND. */
hs_err_t hs_kafka_group_lag(rd_kafka_t *rk, const char *topic, hs_kafka_lag_t **lags, size_t *n,
                            int timeout_ms, char *errstr, size_t errstr_size);

/* ---- time --------------------------------------------------------------------------------- */

/* *offset = the first offset of topic/partition whose message timestamp is >= ts_ms, or the end
 * offset (high watermark) when there is none. Uses rd_kafka_offsets_for_times; when that answers
 * -1 for a non-empty partition whose last message has timestamp >= ts_ms (the embedded broker
 * does not look offsets up by time), binary-searches the partition by fetching single messages
 * (about log2(messages) fetches, through a short-lived consumer with rk's bootstrap and security
 * settings). rk may be a producer or a consumer. Whole call bounded by timeout_ms. */
hs_err_t hs_kafka_offset_for_time(rd_kafka_t *rk, const char *topic, int32_t partition,
                                  int64_t ts_ms, int64_t *offset, int timeout_ms, char *errstr,
                                  size_t errstr_size);

#endif
