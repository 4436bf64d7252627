/* lib/hs_consumer against an in-process librdkafka mock cluster (so produce errors and broker
 * outages can be injected): key order with parallelism across keys inside the window, retry tier
 * round trips, DLQ headers, at-least-once across a restart, graceful stop, handoffs while the
 * broker rejects produce, seek, a paused partition that is lost and reassigned, and readiness
 * (heartbeat) while a handler blocks the dispatch thread. Every wait is on a condition with a
 * generous deadline. */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hs_config.h"
#include "hs_consumer.h"
#include "hs_kafka.h"
#include "hs_log.h"
#include "hs_metrics.h"

#define N 40
#define KEYS 4
#define DEADLINE_S 30

static char err[512];
static rd_kafka_t *mock_rk, *producer;
static rd_kafka_mock_cluster_t *mock;
static hs_config_t *cfg;
static char topic[64], group[64];

typedef struct {
    pthread_mutex_t mtx;
    int mode; /* test-specific behaviour of handler */
    int seen[N], ok[N], attempts[N];
    int order[KEYS][N], norder[KEYS];
    int inflight, max_inflight;
    hs_consumer_msg_t *held[N];
    int nheld;
    int64_t late_ms; /* how early a retried message was handled (must stay <= 0) */
    int origin_bad;
    int blocked, release; /* M_BLOCK: message 0 waits on unblock until release */
    pthread_cond_t unblock;
} state_t;

static state_t st;

static void mock_topic(const char *t, int parts) {
    cr_assert_eq(rd_kafka_mock_topic_create(mock, t, parts, 1), 0);
}

static void setup(void) {
    hs_log_init("test", getenv("HS_TEST_LOG") ? HS_LOG_DEBUG : HS_LOG_ERROR);
    rd_kafka_conf_t *mc = rd_kafka_conf_new();
    mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, mc, err, sizeof err);
    cr_assert_not_null(mock_rk, "%s", err);
    mock = rd_kafka_mock_cluster_new(mock_rk, 1);
    cr_assert_not_null(mock);
    cfg = hs_config_new();
    cr_assert_eq(hs_config_set(cfg, "kafka.brokers", rd_kafka_mock_cluster_bootstraps(mock),
                               "--set", err, sizeof err),
                 HS_OK, "%s", err);
    hs_config_set(cfg, "consumer.stats_interval_ms", "100", "--set", err, sizeof err);
    hs_config_set(cfg, "kafka.topic.metadata.refresh.interval.ms", "500", "--set", err, sizeof err);
    /* A restarted member rejoins without waiting out the old member's session. */
    hs_config_set(cfg, "kafka.session.timeout.ms", "6000", "--set", err, sizeof err);
    hs_config_set(cfg, "kafka.heartbeat.interval.ms", "500", "--set", err, sizeof err);
    if (getenv("HS_TEST_KDEBUG"))
        hs_config_set(cfg, "kafka.debug", getenv("HS_TEST_KDEBUG"), "--set", err, sizeof err);
    static int seq;
    snprintf(topic, sizeof topic, "it.consumer.%d.%d", (int)getpid(), ++seq);
    snprintf(group, sizeof group, "itg%d.%d", (int)getpid(), seq);
    mock_topic(topic, 1);
    char t[128];
    static const char *const tiers[] = {"retry.50ms", "retry.200ms", "retry.5s", "dlq"};
    for (int i = 0; i < 4; i++) {
        snprintf(t, sizeof t, "%s.%s", group, tiers[i]);
        mock_topic(t, 1);
    }
    producer = hs_kafka_producer_new(cfg, NULL, err, sizeof err);
    cr_assert_not_null(producer, "%s", err);
    memset(&st, 0, sizeof st);
    pthread_mutex_init(&st.mtx, NULL);
    pthread_cond_init(&st.unblock, NULL);
}

static void teardown(void) {
    if (producer) rd_kafka_destroy(producer);
    hs_config_destroy(cfg);
    if (mock) rd_kafka_mock_cluster_destroy(mock);
    if (mock_rk) rd_kafka_destroy(mock_rk);
    producer = mock_rk = NULL;
    mock = NULL;
    cfg = NULL;
}

/* Produces N messages: key "k<i % KEYS>", value "<i>". */
static void produce_all(void) {
    char k[16], v[16];
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "k%d", i % KEYS);
        snprintf(v, sizeof v, "%d", i);
        cr_assert_eq(rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_KEY(k, strlen(k)), RD_KAFKA_V_VALUE(v, strlen(v)),
                                       RD_KAFKA_V_END),
                     0);
    }
    cr_assert_eq(rd_kafka_flush(producer, 10000), 0);
}

static int value_of(hs_consumer_msg_t *m) {
    size_t len;
    const char *v = hs_consumer_msg_value(m, &len);
    char b[16] = "";
    memcpy(b, v, len < 15 ? len : 15);
    return (int)strtol(b, NULL, 10);
}

enum { M_OK, M_HOLD, M_RETRY_ONCE, M_FAIL, M_RANDOM, M_HOLD_ALL, M_BLOCK };

static void handler(hs_consumer_msg_t *m, void *opaque) {
    (void)opaque;
    int i = value_of(m), a = hs_consumer_msg_attempt(m);
    pthread_mutex_lock(&st.mtx);
    st.seen[i]++;
    st.attempts[i] = a;
    st.order[i % KEYS][st.norder[i % KEYS]++] = i;
    if (++st.inflight > st.max_inflight) st.max_inflight = st.inflight;
    int mode = st.mode;
    if (a > 1) {
        const char *due = hs_consumer_msg_header(m, "hs_due_at");
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        if (due && strtoll(due, NULL, 10) - now > st.late_ms)
            st.late_ms = strtoll(due, NULL, 10) - now;
        if (strcmp(hs_consumer_msg_topic(m), topic) != 0 || hs_consumer_msg_partition(m) != 0 ||
            hs_consumer_msg_offset(m) != i)
            st.origin_bad++;
    }
    int hold = mode == M_HOLD_ALL || (mode == M_HOLD && i % 2 == 0);
    if (hold) st.held[st.nheld++] = m;
    if (mode == M_BLOCK && i == 0) { /* a handler stuck on the dispatch thread */
        st.blocked = 1;
        while (!st.release)
            pthread_cond_wait(&st.unblock, &st.mtx);
    }
    pthread_mutex_unlock(&st.mtx);
    if (hold) return; /* finished later by complete_held(), or never (graceful stop) */
    hs_consumer_verdict_t v = HS_CONSUMER_OK;
    if (mode == M_RETRY_ONCE && a == 1) v = HS_CONSUMER_RETRY;
    if (mode == M_FAIL) v = HS_CONSUMER_FAIL;
    if (mode == M_RANDOM && a == 1 && rand() % 3 == 0) v = HS_CONSUMER_RETRY;
    pthread_mutex_lock(&st.mtx);
    st.inflight--;
    if (v == HS_CONSUMER_OK) st.ok[i]++;
    pthread_mutex_unlock(&st.mtx);
    hs_consumer_msg_done(m, v, 100, "bad_input", "cannot decode");
}

/* Finishes held messages in reverse order (latest first), as async work would. */
static int complete_held(void) {
    pthread_mutex_lock(&st.mtx);
    int n = st.nheld;
    hs_consumer_msg_t *l[N];
    memcpy(l, st.held, sizeof(void *) * (size_t)n);
    st.nheld = 0;
    for (int j = 0; j < n; j++)
        st.ok[value_of(l[j])]++;
    st.inflight -= n;
    pthread_mutex_unlock(&st.mtx);
    for (int j = n - 1; j >= 0; j--)
        hs_consumer_msg_done(l[j], HS_CONSUMER_OK, 0, NULL, NULL);
    return n;
}

typedef struct {
    hs_consumer_t *c;
    pthread_t th;
    hs_err_t rc;
} runner_t;

static void *run_thread(void *arg) {
    runner_t *r = arg;
    char e[256];
    r->rc = hs_consumer_run(r->c, e, sizeof e);
    return NULL;
}

static void start(runner_t *r, int window, int deadline_ms) {
    static const int64_t tiers[] = {50, 200, 5000};
    const char *topics[] = {topic, NULL};
    hs_consumer_opts_t o = {.service = "test",
                            .group = group,
                            .topics = topics,
                            .handler = handler,
                            .window = window,
                            .retry_tiers_ms = tiers,
                            .n_retry_tiers = 3,
                            .shutdown_deadline_ms = deadline_ms};
    r->c = hs_consumer_new(cfg, &o, err, sizeof err);
    cr_assert_not_null(r->c, "%s", err);
    cr_assert_eq(pthread_create(&r->th, NULL, run_thread, r), 0);
}

static void finish(runner_t *r) {
    hs_consumer_stop(r->c);
    pthread_join(r->th, NULL);
    cr_assert_eq(r->rc, HS_OK);
    hs_consumer_destroy(r->c);
}

static int count_ok(void) {
    pthread_mutex_lock(&st.mtx);
    int n = 0;
    for (int i = 0; i < N; i++)
        n += st.ok[i] > 0;
    pthread_mutex_unlock(&st.mtx);
    return n;
}

#define WAIT_FOR(cond)                                                                             \
    do {                                                                                           \
        int waited_ = 0;                                                                           \
        while (!(cond) && waited_++ < DEADLINE_S * 100)                                            \
            usleep(10000);                                                                         \
        cr_assert(cond, "timed out waiting for " #cond);                                           \
    } while (0)

static int64_t committed(const char *t) {
    rd_kafka_t *rk = hs_kafka_consumer_new(cfg, group, err, sizeof err);
    cr_assert_not_null(rk, "%s", err);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, t, 0);
    int64_t off = -1;
    if (rd_kafka_committed(rk, l, 5000) == 0) off = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return off;
}

static int64_t high(const char *t) {
    int64_t lo = 0, hi = -1;
    rd_kafka_query_watermark_offsets(producer, t, 0, &lo, &hi, 5000);
    return hi;
}

/* The last message of t, read by an unsubscribed consumer (freed with the consumer). */
static rd_kafka_message_t *last_of(const char *t, rd_kafka_t **out) {
    rd_kafka_t *rk = hs_kafka_consumer_new(cfg, NULL, err, sizeof err);
    cr_assert_not_null(rk, "%s", err);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, t, 0)->offset = high(t) - 1;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_message_t *m = NULL;
    for (int i = 0; i < 100 && (!m || m->err); i++) {
        if (m) rd_kafka_message_destroy(m);
        m = rd_kafka_consumer_poll(rk, 100);
    }
    cr_assert(m && !m->err);
    *out = rk;
    return m;
}

static const char *hdr(rd_kafka_message_t *m, const char *name, char *buf, size_t size) {
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t len;
    if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, name, &v, &len) ||
        len >= size)
        return NULL;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return buf;
}

TestSuite(consumer, .init = setup, .fini = teardown, .timeout = 120);

Test(consumer, keeps_key_order_runs_keys_in_parallel_and_respects_the_window) {
    produce_all();
    st.mode = M_HOLD_ALL;
    runner_t r;
    start(&r, 3, 0);
    int done = 0;
    while (count_ok() < N) {
        WAIT_FOR(st.nheld > 0 || count_ok() == N);
        pthread_mutex_lock(&st.mtx);
        int n = st.nheld;
        pthread_mutex_unlock(&st.mtx);
        /* Let the window fill (it is never more than 3) before answering. */
        for (int w = 0; w < 20 && n < 3 && done + n < N; w++) {
            usleep(5000);
            pthread_mutex_lock(&st.mtx);
            n = st.nheld;
            pthread_mutex_unlock(&st.mtx);
        }
        done += complete_held();
    }
    cr_assert_leq(st.max_inflight, 3);
    cr_assert_gt(st.max_inflight, 1);
    for (int k = 0; k < KEYS; k++)
        for (int j = 1; j < st.norder[k]; j++)
            cr_assert_gt(st.order[k][j], st.order[k][j - 1]);
    WAIT_FOR(committed(topic) == N);
    finish(&r);
}

/* Window 1, read-ahead 3: one message runs, three wait in memory, the partition is paused when
 * those are full (and what was fetched beyond them is read again after the resume). Every
 * message still runs exactly once, in offset order, and the whole partition is committed. */
Test(consumer, read_ahead_holds_messages_behind_a_full_window_in_order) {
    produce_all();
    st.mode = M_HOLD_ALL;
    hs_config_set(cfg, "consumer.read_ahead", "3", "--set", err, sizeof err);
    runner_t r;
    start(&r, 1, 0);
    for (int next = 0; next < N; next++) {
        WAIT_FOR(st.seen[next] == 1);
        usleep(next < 3 ? 200000 : 0); /* time for the read-ahead to fill and overflow */
        cr_assert_eq(st.max_inflight, 1, "the window of 1 was not respected");
        cr_assert_eq(complete_held(), 1);
    }
    for (int i = 0; i < N; i++) {
        cr_assert_eq(st.seen[i], 1, "message %d ran %d times", i, st.seen[i]);
        cr_assert_eq(st.order[i % KEYS][i / KEYS], i, "message %d out of order", i);
    }
    WAIT_FOR(committed(topic) == N);
    finish(&r);
}

Test(consumer, retry_tiers_round_trip_with_origin_and_due_time) {
    produce_all();
    st.mode = M_RETRY_ONCE;
    runner_t r;
    start(&r, 0, 0);
    WAIT_FOR(count_ok() == N);
    for (int i = 0; i < N; i++)
        cr_assert_eq(st.attempts[i], 2, "message %d", i);
    cr_assert_eq(st.origin_bad, 0);
    cr_assert_leq(st.late_ms, 0, "a retry was handled %lld ms before due", (long long)st.late_ms);
    char t[128];
    snprintf(t, sizeof t, "%s.retry.50ms", group);
    cr_assert_eq(high(t), N); /* 100 ms asked: the largest tier <= 100 ms */
    WAIT_FOR(committed(topic) == N && committed(t) == N);
    finish(&r);
}

Test(consumer, failed_messages_go_to_the_dlq_with_headers) {
    produce_all();
    st.mode = M_FAIL;
    runner_t r;
    start(&r, 0, 0);
    char t[128], b[256];
    snprintf(t, sizeof t, "%s.dlq", group);
    WAIT_FOR(high(t) == N);
    WAIT_FOR(committed(topic) == N);
    finish(&r);
    rd_kafka_t *rk;
    rd_kafka_message_t *m = last_of(t, &rk);
    cr_assert_str_eq(hdr(m, "hs_error_class", b, sizeof b), "bad_input");
    cr_assert_str_eq(hdr(m, "hs_error_message", b, sizeof b), "cannot decode");
    cr_assert_str_eq(hdr(m, "hs_origin_topic", b, sizeof b), topic);
    cr_assert_str_eq(hdr(m, "hs_origin_partition", b, sizeof b), "0");
    cr_assert_str_eq(hdr(m, "hs_origin_offset", b, sizeof b), "39");
    cr_assert_eq(m->len, 2);
    cr_assert_eq(memcmp(m->payload, "39", 2), 0);
    rd_kafka_message_destroy(m);
    rd_kafka_destroy(rk);
}

Test(consumer, at_least_once_across_random_failures_and_a_restart) {
    srand(7);
    produce_all();
    st.mode = M_RANDOM;
    runner_t r;
    start(&r, 8, 0);
    WAIT_FOR(count_ok() >= N / 2);
    finish(&r);
    int64_t c1 = committed(topic);
    for (int i = 0; i < c1; i++)
        cr_assert(st.ok[i] || st.attempts[i] >= 1, "offset %d", i);
    start(&r, 8, 0);
    WAIT_FOR(count_ok() == N);
    WAIT_FOR(committed(topic) == N);
    finish(&r);
}

Test(consumer, graceful_stop_hands_unfinished_work_to_the_first_tier) {
    produce_all();
    st.mode = M_HOLD;
    runner_t r;
    start(&r, 64, 200);
    WAIT_FOR(st.seen[N - 1] > 0 && count_ok() == N / 2);
    finish(&r); /* held messages never finish: shutdown hands them off */
    char t[128], b[64];
    snprintf(t, sizeof t, "%s.retry.50ms", group);
    cr_assert_eq(high(t), N / 2);
    cr_assert_eq(committed(topic), N);
    rd_kafka_t *rk;
    rd_kafka_message_t *m = last_of(t, &rk);
    cr_assert_str_eq(hdr(m, "hs_attempt", b, sizeof b), "1");
    rd_kafka_message_destroy(m);
    rd_kafka_destroy(rk);
}

Test(consumer, handoffs_survive_produce_errors_and_hold_the_offset_back) {
    produce_all();
    rd_kafka_mock_push_request_errors(
        mock, 0 /* Produce */, 8, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    st.mode = M_FAIL;
    runner_t r;
    start(&r, 0, 0);
    char t[128];
    snprintf(t, sizeof t, "%s.dlq", group);
    for (;;) { /* a committed offset never passes a handoff the DLQ does not hold yet */
        int64_t c = committed(topic), h = high(t);
        cr_assert_leq(c, h, "committed %lld > dead-lettered %lld", (long long)c, (long long)h);
        if (c == N) break;
        usleep(20000);
    }
    cr_assert_eq(high(t), N);
    finish(&r);
}

Test(consumer, seek_rewinds_an_assigned_partition) {
    produce_all();
    st.mode = M_OK;
    runner_t r;
    start(&r, 0, 0);
    WAIT_FOR(count_ok() == N);
    WAIT_FOR(committed(topic) == N);
    cr_assert_eq(hs_consumer_seek(r.c, "nope", 0, 0, err, sizeof err), HS_ERR_NOT_FOUND);
    cr_assert_eq(hs_consumer_seek(r.c, topic, 0, -1, err, sizeof err), HS_ERR_INVALID);
    cr_assert_eq(hs_consumer_seek(r.c, topic, 0, N - 5, err, sizeof err), HS_OK, "%s", err);
    WAIT_FOR(st.seen[N - 1] == 2);
    cr_assert_eq(st.seen[N - 6], 1);
    cr_assert_eq(st.seen[N - 5], 2);
    finish(&r);
}

Test(consumer, a_partition_paused_when_lost_fetches_again_once_reassigned) {
    /* A short session so a broker outage makes the member lose its assignment quickly. */
    hs_config_set(cfg, "kafka.session.timeout.ms", "3000", "--set", err, sizeof err);
    hs_config_set(cfg, "kafka.heartbeat.interval.ms", "500", "--set", err, sizeof err);
    produce_all();
    st.mode = M_HOLD_ALL;
    runner_t r;
    /* window 1 and no read-ahead: the held first message pauses the partition */
    hs_config_set(cfg, "consumer.read_ahead", "0", "--set", err, sizeof err);
    start(&r, 1, 0);
    WAIT_FOR(st.seen[0] == 1);
    usleep(300000);
    cr_assert_eq(st.seen[1], 0, "the window of 1 was not respected");
    rd_kafka_mock_broker_set_down(mock, 1);
    usleep(4000000); /* past the session timeout: the assignment is lost */
    rd_kafka_mock_broker_set_up(mock, 1);
    /* Reassigned from the committed offset: the first message is fetched and handled again. */
    WAIT_FOR(st.seen[0] == 2);
    while (count_ok() < N) {
        complete_held();
        usleep(10000);
    }
    finish(&r);
}

Test(consumer, rejects_bad_options) {
    const char *topics[] = {topic, NULL};
    const int64_t bad[] = {100, 50};
    hs_consumer_opts_t o = {.group = group, .topics = topics, .handler = handler};
    hs_consumer_opts_t none = {.group = group, .topics = topics};
    cr_assert_null(hs_consumer_new(cfg, &none, err, sizeof err));
    cr_assert(strstr(err, "handler"));
    o.retry_tiers_ms = bad;
    o.n_retry_tiers = 2;
    cr_assert_null(hs_consumer_new(cfg, &o, err, sizeof err));
    cr_assert(strstr(err, "ascending"));
    o.n_retry_tiers = 0;
    o.group = "bad group";
    cr_assert_null(hs_consumer_new(cfg, &o, err, sizeof err));
    cr_assert(strstr(err, "invalid topic name"));
}

static int ready_now(hs_consumer_t *c, char *why, size_t n) {
    why[0] = '\0';
    return hs_consumer_ready(c, why, n);
}

/* The lag gauge carries the group; a heartbeat per consumer; readiness fails while a handler
 * blocks the dispatch loop and comes back once it returns. */
Test(consumer, not_ready_while_a_handler_blocks_the_dispatch_loop) {
    /* The limit leaves room for a dispatch thread starved by a loaded machine (the suite runs
     * beside others, also under ASan); only a handler that blocks exceeds it. */
    hs_config_set(cfg, "consumer.max_poll_silence_ms", "3000", "--set", err, sizeof err);
    st.mode = M_BLOCK;
    runner_t r;
    start(&r, 0, 0);
    char why[256], lag[256], beat[256];
    /* Idle, the loop keeps polling: ready past the silence limit. */
    usleep(3500000);
    cr_assert_eq(ready_now(r.c, why, sizeof why), 1, "%s", why);
    produce_all();
    WAIT_FOR(st.blocked);
    WAIT_FOR(ready_now(r.c, why, sizeof why) == 0);
    char want[128];
    snprintf(want, sizeof want, "consumer %s has not polled for ", group);
    cr_assert(strstr(why, want), "why: %s", why);
    snprintf(lag, sizeof lag,
             "hs_consumer_lag{service=\"test\",group=\"%s\",topic=\"%s\",partition=\"0\"}", group,
             topic);
    snprintf(beat, sizeof beat,
             "hs_consumer_last_poll_timestamp_seconds{service=\"test\",group=\"%s\",", group);
    char *text = hs_metrics_render();
    cr_assert(strstr(text, beat), "no heartbeat in:\n%s", text);
    free(text);
    pthread_mutex_lock(&st.mtx);
    st.release = 1;
    pthread_cond_broadcast(&st.unblock);
    pthread_mutex_unlock(&st.mtx);
    WAIT_FOR(ready_now(r.c, why, sizeof why) == 1);
    WAIT_FOR(count_ok() == N);
    int has_lag = 0;
    for (int i = 0; i < DEADLINE_S * 10 && !has_lag; i++, usleep(100000)) {
        text = hs_metrics_render();
        has_lag = strstr(text, lag) != NULL;
        free(text);
    }
    cr_assert(has_lag, "no %s", lag);
    finish(&r);
}
