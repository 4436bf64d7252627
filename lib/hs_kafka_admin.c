/* Topic creation and consumer group lag (the hs_kafka.h "cluster" functions that need more than a
 * metadata request). */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_kafka.h"

#define RESPONSE_MAX 4096

static int is_internal(const char *topic) {
    return strncmp(topic, "__", 2) == 0;
}

/* Returns 1 when the cluster names a controller that is one of its brokers. The embedded mock
 * broker reports controller id 0, which is none of its brokers (1..N), and admin requests then
 * wait for a controller until they time out. */
static int has_controller(rd_kafka_t *rk, const struct rd_kafka_metadata *md, int timeout_ms) {
    int32_t id = rd_kafka_controllerid(rk, timeout_ms);
    for (int i = 0; id >= 0 && i < md->broker_cnt; i++)
        if (md->brokers[i].id == id) return 1;
    return 0;
}

typedef struct {
    char buf[RESPONSE_MAX];
    size_t len;
} response_t;

static size_t collect(char *data, size_t size, size_t nmemb, void *opaque) {
    response_t *r = opaque;
    size_t len = size * nmemb, room = sizeof r->buf - 1 - r->len;
    memcpy(r->buf + r->len, data, len < room ? len : room);
    r->len += len < room ? len : room;
    r->buf[r->len] = 0;
    return len;
}

/* The problem+json "detail" (or "title") of a control API answer, else the raw body. */
static void answer_reason(const response_t *r, char *out, size_t size) {
    json_t *doc = json_loads(r->buf, 0, NULL);
    const char *why = json_string_value(json_object_get(doc, "detail"));
    if (!why) why = json_string_value(json_object_get(doc, "title"));
    if (!why) why = r->buf;
    size_t len = strlen(why) < size ? strlen(why) : size - 1;
    memcpy(out, why, len);
    out[len] = 0;
    json_decref(doc);
}

static hs_err_t control_create(const char *control_url, const char *topic, int partitions,
                               int timeout_ms, char *errstr, size_t n) {
    char url[1024];
    int ul = (int)strlen(control_url);
    if (control_url[ul - 1] == '/') ul--;
    snprintf(url, sizeof url, "%.*s/topics", ul, control_url);
    json_t *body = json_pack("{s:s, s:i}", "name", topic, "partitions", partitions);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    CURL *curl = curl_easy_init();
    if (!curl || !text) {
        free(text);
        if (curl) curl_easy_cleanup(curl);
        return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    }
    response_t resp = {.len = 0};
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp);
    CURLcode cc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(curl);
    free(text);
    if (cc != CURLE_OK)
        return hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "broker control API at %s: %s", control_url,
                       curl_easy_strerror(cc));
    if (status == 201) return HS_OK;
    char why[512];
    answer_reason(&resp, why, sizeof why);
    if (status == 409)
        return hs_fail(HS_ERR_CONFLICT, errstr, n, "topic '%s' already exists", topic);
    return hs_fail(status == 400 ? HS_ERR_INVALID : HS_ERR_UNAVAILABLE, errstr, n,
                   "broker control API at %s: HTTP %ld: %s", control_url, status, why);
}

/* Admin CreateTopics; HS_ERR_UNSUPPORTED when the broker does not implement it. */
static hs_err_t admin_create(rd_kafka_t *rk, const char *topic, int partitions, int rf,
                             int timeout_ms, char *errstr, size_t n) {
    char msg[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, rf, msg, sizeof msg);
    if (!nt) return hs_fail(HS_ERR_INVALID, errstr, n, "topic '%s': %s", topic, msg);
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(ao, timeout_ms, msg, sizeof msg);
    rd_kafka_AdminOptions_set_operation_timeout(ao, timeout_ms, msg, sizeof msg);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
    rd_kafka_resp_err_t err = ev ? rd_kafka_event_error(ev) : RD_KAFKA_RESP_ERR__TIMED_OUT;
    snprintf(msg, sizeof msg, "%s", ev ? rd_kafka_event_error_string(ev) : "timed out");
    if (ev && !err) {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        if (cnt == 1 && rd_kafka_topic_result_error(tr[0])) {
            err = rd_kafka_topic_result_error(tr[0]);
            const char *es = rd_kafka_topic_result_error_string(tr[0]);
            snprintf(msg, sizeof msg, "%s", es ? es : rd_kafka_err2str(err));
        }
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_NewTopic_destroy(nt);
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return HS_OK;
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
        return hs_fail(HS_ERR_CONFLICT, errstr, n, "topic '%s' already exists", topic);
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
        return hs_fail(HS_ERR_UNSUPPORTED, errstr, n, "%s", msg);
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
        return hs_fail(HS_ERR_INVALID, errstr, n, "topic '%s': %s", topic, msg);
    default:
        return hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "kafka at %s: create topic '%s': %s",
                       hs_kafka_brokers(rk), topic, msg);
    }
}

hs_err_t hs_kafka_topic_create(rd_kafka_t *rk, const char *topic, int partitions,
                               int replication_factor, const char *control_url, int timeout_ms,
                               char *errstr, size_t n) {
    if (!hs_kafka_topic_name_ok(topic))
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "'%s' is not a topic name (1-249 characters of [A-Za-z0-9._-])", topic);
    if (partitions < 1)
        return hs_fail(HS_ERR_INVALID, errstr, n, "topic '%s': partitions must be at least 1",
                       topic);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t merr = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (merr)
        return hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "kafka at %s: unreachable (%s)",
                       hs_kafka_brokers(rk), rd_kafka_err2str(merr));
    int exists = 0;
    for (int i = 0; i < md->topic_cnt; i++)
        if (!strcmp(md->topics[i].topic, topic) && !md->topics[i].err) exists = 1;
    int controller = exists ? 1 : has_controller(rk, md, timeout_ms);
    rd_kafka_metadata_destroy(md);
    if (exists) return hs_fail(HS_ERR_CONFLICT, errstr, n, "topic '%s' already exists", topic);
    hs_err_t err = HS_ERR_UNSUPPORTED;
    if (controller)
        err = admin_create(rk, topic, partitions, replication_factor, timeout_ms, errstr, n);
    if (err != HS_ERR_UNSUPPORTED) return err;
    if (control_url && control_url[0])
        return control_create(control_url, topic, partitions, timeout_ms, errstr, n);
    return hs_fail(HS_ERR_UNSUPPORTED, errstr, n,
                   "kafka at %s cannot create topics (no controller answers CreateTopics, as on "
                   "the embedded broker); set broker.control_url to the control URL that "
                   "`hookstream broker` prints",
                   hs_kafka_brokers(rk));
}

/* ---- group lag ---------------------------------------------------------------------------- */

static int lag_cmp(const void *a, const void *b) {
    const hs_kafka_lag_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* Every partition of topic (or of every non-internal topic when topic is NULL). */
static hs_err_t group_partitions(rd_kafka_t *rk, const char *topic,
                                 rd_kafka_topic_partition_list_t **out, int timeout_ms,
                                 char *errstr, size_t n) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (err)
        return hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "kafka at %s: unreachable (%s)",
                       hs_kafka_brokers(rk), rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(64);
    int found = 0;
    for (int i = 0; i < md->topic_cnt; i++) {
        const rd_kafka_metadata_topic_t *t = &md->topics[i];
        if (topic ? strcmp(t->topic, topic) != 0 : is_internal(t->topic)) continue;
        found = 1;
        for (int p = 0; p < t->partition_cnt; p++)
            rd_kafka_topic_partition_list_add(parts, t->topic, t->partitions[p].id);
    }
    rd_kafka_metadata_destroy(md);
    if (topic && !found) {
        rd_kafka_topic_partition_list_destroy(parts);
        return hs_fail(HS_ERR_NOT_FOUND, errstr, n, "topic '%s' does not exist", topic);
    }
    *out = parts;
    return HS_OK;
}

static hs_err_t fill_lag(rd_kafka_t *rk, const rd_kafka_topic_partition_t *tp, hs_kafka_lag_t *l,
                         int timeout_ms, char *errstr, size_t n) {
    snprintf(l->topic, sizeof l->topic, "%s", tp->topic);
    l->partition = tp->partition;
    l->committed = tp->offset;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, tp->topic, tp->partition,
                                                               &l->low, &l->high, timeout_ms);
    if (err)
        return hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "kafka at %s: watermarks of %s [%d]: %s",
                       hs_kafka_brokers(rk), tp->topic, (int)tp->partition, rd_kafka_err2str(err));
    l->lag = l->high > l->committed ? l->high - l->committed : 0;
    return HS_OK;
}

hs_err_t hs_kafka_group_lag(rd_kafka_t *rk, const char *topic, hs_kafka_lag_t **lags, size_t *nl,
                            int timeout_ms, char *errstr, size_t n) {
    *lags = NULL;
    *nl = 0;
    rd_kafka_topic_partition_list_t *parts = NULL;
    hs_err_t rc = group_partitions(rk, topic, &parts, timeout_ms, errstr, n);
    if (rc) return rc;
    rd_kafka_resp_err_t err = parts->cnt ? rd_kafka_committed(rk, parts, timeout_ms) : 0;
    if (err) {
        rd_kafka_topic_partition_list_destroy(parts);
        return hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "kafka at %s: committed offsets: %s",
                       hs_kafka_brokers(rk), rd_kafka_err2str(err));
    }
    hs_kafka_lag_t *out = calloc((size_t)parts->cnt + 1, sizeof *out);
    size_t cnt = 0;
    for (int i = 0; !rc && i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        if (tp->err || tp->offset < 0) continue;
        rc = fill_lag(rk, tp, &out[cnt], timeout_ms, errstr, n);
        if (!rc) cnt++;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    if (rc || cnt == 0) {
        free(out);
        return rc;
    }
    qsort(out, cnt, sizeof *out, lag_cmp);
    *lags = out;
    *nl = cnt;
    return HS_OK;
}
