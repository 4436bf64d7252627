#include "broker_control.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_kafka.h"
#include "hs_log.h"
#include "hs_metrics.h"

#define METADATA_TIMEOUT_MS 5000
#define MAX_PARTITIONS 1000
#define MAX_ERRORS 1000
#define MAX_RTT_MS 60000
#define ERR_PREFIX "RD_KAFKA_RESP_ERR_"

/* Kafka protocol API keys the mock cluster serves, by the names the Kafka protocol uses. */
static const struct {
    const char *name;
    int16_t key;
} apis[] = {
    {"Produce", 0},          {"Fetch", 1},
    {"ListOffsets", 2},      {"Metadata", 3},
    {"OffsetCommit", 8},     {"OffsetFetch", 9},
    {"FindCoordinator", 10}, {"JoinGroup", 11},
    {"Heartbeat", 12},       {"LeaveGroup", 13},
    {"SyncGroup", 14},       {"ApiVersion", 18},
    {"InitProducerId", 22},  {"AddPartitionsToTxn", 24},
    {"AddOffsetsToTxn", 25}, {"EndTxn", 26},
    {"TxnOffsetCommit", 28},
};
#define NAPIS (sizeof apis / sizeof apis[0])

rd_kafka_resp_err_t broker_topic_create(broker_state_t *st, const char *name, int partitions) {
    return rd_kafka_mock_topic_create(st->mock, name, partitions, st->replication_factor);
}

static json_t *body_json(hs_http_req_t *req) {
    size_t len = 0;
    const char *body = hs_http_req_body(req, &len);
    json_t *doc = json_loadb(body, len, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        hs_http_respond_problem(req, 400, "Bad Request", "expected a JSON object");
        return NULL;
    }
    return doc;
}

static int topic_cmp(const void *a, const void *b) {
    return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
                  json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

static void topics_get(hs_http_req_t *req, void *opaque) {
    broker_state_t *st = opaque;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(st->client, 1, NULL, &md, METADATA_TIMEOUT_MS);
    if (err) {
        hs_http_respond_problem(req, 503, "Service Unavailable", rd_kafka_err2str(err));
        return;
    }
    json_t **items = calloc((size_t)md->topic_cnt + 1, sizeof *items);
    for (int i = 0; i < md->topic_cnt; i++)
        items[i] = json_pack("{s:s, s:i}", "name", md->topics[i].topic, "partitions",
                             md->topics[i].partition_cnt);
    qsort(items, (size_t)md->topic_cnt, sizeof *items, topic_cmp);
    json_t *list = json_array();
    for (int i = 0; i < md->topic_cnt; i++)
        json_array_append_new(list, items[i]);
    free(items);
    rd_kafka_metadata_destroy(md);
    hs_http_respond_json(req, 200, json_pack("{s:o}", "topics", list));
}

static void topics_post(hs_http_req_t *req, void *opaque) {
    broker_state_t *st = opaque;
    json_t *doc = body_json(req);
    if (!doc) return;
    const char *name = json_string_value(json_object_get(doc, "name"));
    json_t *jp = json_object_get(doc, "partitions");
    json_int_t partitions = jp ? json_integer_value(jp) : st->default_partitions;
    char why[320] = "";
    if (!name || !hs_kafka_topic_name_ok(name))
        snprintf(why, sizeof why,
                 "\"name\": expected a topic name of 1-249 characters "
                 "[A-Za-z0-9._-]");
    else if ((jp && !json_is_integer(jp)) || partitions < 1 || partitions > MAX_PARTITIONS)
        snprintf(why, sizeof why, "\"partitions\": expected an integer 1..%d", MAX_PARTITIONS);
    if (why[0]) {
        hs_http_respond_problem(req, 400, "Bad Request", why);
        json_decref(doc);
        return;
    }
    rd_kafka_resp_err_t err = broker_topic_create(st, name, (int)partitions);
    if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        snprintf(why, sizeof why, "topic '%s' already exists", name);
        hs_http_respond_problem(req, 409, "Conflict", why);
    } else if (err) {
        hs_http_respond_problem(req, 500, "Internal Server Error", rd_kafka_err2str(err));
    } else {
        hs_log(HS_LOG_INFO, "topic created", "{s:s, s:I}", "topic", name, "partitions",
               (json_int_t)partitions);
        hs_http_respond_json(
            req, 201, json_pack("{s:s, s:I}", "name", name, "partitions", (json_int_t)partitions));
    }
    json_decref(doc);
}

/* The {id} of a /brokers route, or 0 after answering 404. */
static int broker_id(hs_http_req_t *req, const broker_state_t *st) {
    const char *text = hs_http_req_param(req, "id");
    char *end;
    errno = 0;
    long id = text ? strtol(text, &end, 10) : 0;
    if (!text || errno || *end || id < 1 || id > st->brokers) {
        char why[128];
        snprintf(why, sizeof why, "no broker '%s' (broker ids are 1..%d)", text ? text : "",
                 st->brokers);
        hs_http_respond_problem(req, 404, "Not Found", why);
        return 0;
    }
    return (int)id;
}

static void broker_set(hs_http_req_t *req, broker_state_t *st, int up) {
    int id = broker_id(req, st);
    if (!id) return;
    rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(st->mock, id)
                                 : rd_kafka_mock_broker_set_down(st->mock, id);
    if (err) {
        hs_http_respond_problem(req, 500, "Internal Server Error", rd_kafka_err2str(err));
        return;
    }
    hs_log(HS_LOG_INFO, up ? "broker up" : "broker down", "{s:i}", "broker", id);
    hs_http_respond_json(req, 200,
                         json_pack("{s:i, s:s}", "broker", id, "state", up ? "up" : "down"));
}

static void broker_down(hs_http_req_t *req, void *opaque) {
    broker_set(req, opaque, 0);
}
static void broker_up(hs_http_req_t *req, void *opaque) {
    broker_set(req, opaque, 1);
}

static void broker_rtt(hs_http_req_t *req, void *opaque) {
    broker_state_t *st = opaque;
    int id = broker_id(req, st);
    if (!id) return;
    json_t *doc = body_json(req);
    if (!doc) return;
    json_t *ms = json_object_get(doc, "ms");
    if (!json_is_integer(ms) || json_integer_value(ms) < 0 || json_integer_value(ms) > MAX_RTT_MS) {
        char why[64];
        snprintf(why, sizeof why, "\"ms\": expected an integer 0..%d", MAX_RTT_MS);
        hs_http_respond_problem(req, 400, "Bad Request", why);
    } else {
        int v = (int)json_integer_value(ms);
        rd_kafka_mock_broker_set_rtt(st->mock, id, v);
        hs_log(HS_LOG_INFO, "broker rtt set", "{s:i, s:i}", "broker", id, "ms", v);
        hs_http_respond_json(req, 200, json_pack("{s:i, s:i}", "broker", id, "rtt_ms", v));
    }
    json_decref(doc);
}

static int api_key(const char *name) {
    for (size_t i = 0; name && i < NAPIS; i++)
        if (!strcmp(apis[i].name, name)) return apis[i].key;
    return -1;
}

/* Finds a librdkafka error code by name ("NOT_LEADER_FOR_PARTITION", "_TRANSPORT", with or
 * without the RD_KAFKA_RESP_ERR_ prefix); returns 0 when unknown. */
static int err_code(const char *name, rd_kafka_resp_err_t *code) {
    const struct rd_kafka_err_desc *descs;
    size_t cnt;
    if (!name) return 0;
    if (!strncmp(name, ERR_PREFIX, strlen(ERR_PREFIX))) name += strlen(ERR_PREFIX);
    rd_kafka_get_err_descs(&descs, &cnt);
    for (size_t i = 0; i < cnt; i++)
        if (descs[i].name && !strcmp(descs[i].name, name)) {
            *code = descs[i].code;
            return 1;
        }
    return 0;
}

/* Fills codes from the "errors" array; returns its length, or -1 after answering 400. */
static int parse_errors(hs_http_req_t *req, json_t *list, rd_kafka_resp_err_t *codes) {
    char why[320];
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > MAX_ERRORS) {
        snprintf(why, sizeof why, "\"errors\": expected an array of 1..%d error names", MAX_ERRORS);
        hs_http_respond_problem(req, 400, "Bad Request", why);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *name = json_string_value(json_array_get(list, i));
        if (!err_code(name, &codes[i])) {
            snprintf(why, sizeof why, "\"errors\"[%zu]: '%.200s' is not a Kafka error name", i,
                     name ? name : "(not a string)");
            hs_http_respond_problem(req, 400, "Bad Request", why);
            return -1;
        }
    }
    return (int)json_array_size(list);
}

static hs_metric_t *injected; /* set once in broker_control_start, before serving */

static void errors_post(hs_http_req_t *req, void *opaque) {
    broker_state_t *st = opaque;
    json_t *doc = body_json(req);
    if (!doc) return;
    const char *api = json_string_value(json_object_get(doc, "api"));
    int key = api_key(api);
    rd_kafka_resp_err_t codes[MAX_ERRORS];
    int n = key < 0 ? -1 : parse_errors(req, json_object_get(doc, "errors"), codes);
    if (key < 0) {
        char why[1024];
        int len = snprintf(why, sizeof why, "\"api\": expected one of");
        for (size_t i = 0; i < NAPIS; i++)
            len += snprintf(why + len, sizeof why - (size_t)len, " %s", apis[i].name);
        hs_http_respond_problem(req, 400, "Bad Request", why);
    } else if (n > 0) {
        rd_kafka_mock_push_request_errors_array(st->mock, (int16_t)key, (size_t)n, codes);
        const char *labels[] = {api};
        hs_metric_add(injected, labels, n);
        hs_log(HS_LOG_INFO, "request errors queued", "{s:s, s:i}", "api", api, "count", n);
        hs_http_respond_json(req, 200, json_pack("{s:s, s:i}", "api", api, "queued", n));
    }
    json_decref(doc);
}

static void errors_delete(hs_http_req_t *req, void *opaque) {
    broker_state_t *st = opaque;
    for (size_t i = 0; i < NAPIS; i++)
        rd_kafka_mock_clear_request_errors(st->mock, apis[i].key);
    hs_log(HS_LOG_INFO, "request errors cleared", NULL);
    hs_http_respond_json(req, 200, json_pack("{s:b}", "cleared", 1));
}

static int ready(void *opaque, char *why, size_t size) {
    broker_state_t *st = opaque;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(st->client, 0, NULL, &md, 1000);
    if (md) rd_kafka_metadata_destroy(md);
    if (err) snprintf(why, size, "metadata: %s", rd_kafka_err2str(err));
    return err == RD_KAFKA_RESP_ERR_NO_ERROR;
}

hs_http_server_t *broker_control_start(broker_state_t *st, const hs_config_t *cfg,
                                       const char *listen, char *errstr, size_t n) {
    hs_http_opts_t opts = {
        .listen = listen,
        .service = "broker",
        .max_body_bytes = (size_t)hs_config_int(cfg, "http.max_body_bytes"),
        .threads = 1, /* a test harness's control calls; one thread keeps them in order */
    };
    injected = hs_metrics_counter("hs_broker_errors_injected_total",
                                  "Request errors queued through POST /errors.", "api");
    hs_http_server_t *srv = hs_http_server_new(&opts, errstr, n);
    if (!srv) return NULL;
    hs_http_route(srv, "GET", "/topics", topics_get, st);
    hs_http_route(srv, "POST", "/topics", topics_post, st);
    hs_http_route(srv, "POST", "/brokers/{id}/down", broker_down, st);
    hs_http_route(srv, "POST", "/brokers/{id}/up", broker_up, st);
    hs_http_route(srv, "POST", "/brokers/{id}/rtt", broker_rtt, st);
    hs_http_route(srv, "POST", "/errors", errors_post, st);
    hs_http_route(srv, "DELETE", "/errors", errors_delete, st);
    hs_http_set_ready(srv, ready, st);
    if (hs_http_server_start(srv, errstr, n)) {
        hs_http_server_destroy(srv);
        return NULL;
    }
    return srv;
}
