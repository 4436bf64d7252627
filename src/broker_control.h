/* The embedded broker's control API (`hookstream broker`): topics, broker up/down, round-trip
 * time and injected request errors over HTTP, next to /metrics, /healthz and /readyz. It exists
 * because the librdkafka mock cluster has no CreateTopics and no fault-injection protocol; tests
 * and `hookstream topics create` (broker.control_url) drive the broker through it. */
#ifndef HS_BROKER_CONTROL_H
#define HS_BROKER_CONTROL_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "hs_config.h"
#include "hs_http.h"

/* What the control API acts on; owned by cmd_broker, outlives the server.
 * @locality: read-only after start; the mock cluster and client are thread-safe. */
typedef struct {
    rd_kafka_mock_cluster_t *mock;
    rd_kafka_t *client; /* a client of the mock cluster, for metadata */
    int brokers;        /* broker ids are 1..brokers */
    int replication_factor;
    int default_partitions;
} broker_state_t;

/* Creates topic on the mock cluster; returns librdkafka's answer (TOPIC_ALREADY_EXISTS, ...). */
rd_kafka_resp_err_t broker_topic_create(broker_state_t *st, const char *name, int partitions);

/* Returns a started control server on listen (NULL + errstr, e.g. the port is in use). The caller
 * destroys it with hs_http_server_destroy before freeing st. */
hs_http_server_t *broker_control_start(broker_state_t *st, const hs_config_t *cfg,
                                       const char *listen, char *errstr, size_t errstr_size);

#endif
