/* Flags over the stack's broker (HS_KAFKA_BROKERS): two stores follow a topic of the test's own
 * (created by the first store, through the embedded broker's control API when the cluster
 * cannot create topics); a produced change reaches both within a second, a tombstone deletes,
 * an invalid record is rejected and the previous definition stays, and a store started later
 * replays the topic to the same state that `hookstream flags` reads. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hs_config.h"
#include "hs_flags.h"
#include "hs_kafka.h"
#include "hs_log.h"
#include "hs_metrics.h"

extern char **environ;

#define READY_MS 15000
#define CHANGE_MS 1000 /* the promise: a change reaches every instance within a second */

static char err[1024];
static hs_config_t *cfg;
static hs_flags_t *a, *b;

static hs_flags_t *store(void) {
    hs_flags_t *f = hs_flags_new(cfg, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    cr_assert_eq(hs_flags_start(f, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(hs_flags_wait_ready(f, READY_MS, err, sizeof err), HS_OK, "%s", err);
    return f;
}

static void setup(void) {
    if (!getenv("HS_KAFKA_BROKERS")) cr_skip_test("HS_KAFKA_BROKERS is not set");
    hs_log_init("test", getenv("HS_TEST_LOG") ? HS_LOG_DEBUG : HS_LOG_OFF);
    cfg = hs_config_new();
    cr_assert_eq(hs_config_load_env(cfg, environ, err, sizeof err), HS_OK, "%s", err);
    char topic[128];
    snprintf(topic, sizeof topic, "it.flags.%ld.%ld", (long)getpid(), (long)time(NULL));
    cr_assert_eq(hs_config_set(cfg, "flags.topic", topic, "--set", err, sizeof err), HS_OK);
    cr_assert_eq(hs_config_set(cfg, "flags.file", "", "--set", err, sizeof err), HS_OK);
    a = store();
    b = store();
}

static void teardown(void) {
    hs_flags_destroy(a);
    hs_flags_destroy(b);
    hs_config_destroy(cfg);
    a = b = NULL;
    cfg = NULL;
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put(const char *key, const char *json) {
    json_t *v = json ? json_loads(json, 0, NULL) : NULL;
    cr_assert(!json || v, "%s", json);
    cr_assert_eq(hs_flags_topic_put(cfg, key, v, err, sizeof err), HS_OK, "%s", err);
    json_decref(v);
}

/* Polls both stores until key evaluates to want (-1: missing) or CHANGE_MS passed; returns
 * the milliseconds it took, or -1. */
static long long until_both(const char *key, int want) {
    long long start = now_ms();
    while (now_ms() - start <= CHANGE_MS) {
        if (hs_flags_bool(a, key, NULL, -1) == want && hs_flags_bool(b, key, NULL, -1) == want)
            return now_ms() - start;
        usleep(5000);
    }
    return -1;
}

#define BOOL_FLAG(def)                                                                             \
    "{\"state\": \"ENABLED\", \"variants\": {\"on\": true, \"off\": false}, \"defaultVariant\": "  \
    "\"" def "\"}"

Test(flags_topic, a_change_reaches_both_stores_within_a_second, .init = setup, .fini = teardown) {
    put("beta", BOOL_FLAG("on"));
    long long ms = until_both("beta", 1);
    cr_assert_geq(ms, 0, "the new flag did not reach both stores within %d ms", CHANGE_MS);
    cr_log_info("new flag seen by both stores after %lld ms", ms);
    put("beta", BOOL_FLAG("off"));
    cr_assert_geq(until_both("beta", 0), 0, "the change did not reach both stores");
    put("beta", NULL);
    cr_assert_geq(until_both("beta", -1), 0, "the tombstone did not delete the flag");
}

static long long rejected(void) {
    char *text = hs_metrics_render();
    const char *needle = "hs_flag_reloads_total{source=\"topic\",result=\"rejected\"} ";
    char *at = strstr(text, needle);
    long long v = at ? strtoll(at + strlen(needle), NULL, 10) : 0;
    free(text);
    return v;
}

static void put_raw(const char *key, const char *value) {
    rd_kafka_t *p = hs_kafka_producer_new(cfg, NULL, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    cr_assert_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(hs_config_str(cfg, "flags.topic")),
                                   RD_KAFKA_V_KEY(key, strlen(key)),
                                   RD_KAFKA_V_VALUE((void *)value, strlen(value)),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                 0);
    cr_assert_eq(rd_kafka_flush(p, 10000), 0);
    rd_kafka_destroy(p);
}

Test(flags_topic, an_invalid_record_is_rejected_and_the_previous_flag_stays, .init = setup,
     .fini = teardown) {
    put("beta", BOOL_FLAG("on"));
    cr_assert_geq(until_both("beta", 1), 0);
    long long before = rejected();
    put_raw("beta", "{\"state\": \"ENABLED\", \"variants\": {");
    put("beta", "{\"state\": \"ENABLED\", \"variants\": {\"on\": true}, \"defaultVariant\": "
                "\"nope\"}");
    put("uses-ref", "{\"state\": \"ENABLED\", \"variants\": {\"on\": true}, \"targeting\": "
                    "{\"$ref\": \"missing\"}}");
    put("marker", BOOL_FLAG("on"));
    cr_assert_geq(until_both("marker", 1), 0, "records after the invalid ones were not applied");
    cr_assert_eq(hs_flags_bool(a, "beta", NULL, -1), 1, "store a lost the previous definition");
    cr_assert_eq(hs_flags_bool(b, "beta", NULL, -1), 1, "store b lost the previous definition");
    cr_assert_eq(hs_flags_bool(a, "uses-ref", NULL, -1), -1);
    cr_assert_eq(rejected() - before, 6, "3 rejected records x 2 stores, counted %lld",
                 rejected() - before);

    /* shared evaluators by record, then a flag that uses them */
    put("$evaluators", "{\"staff\": {\"ends_with\": [{\"var\": \"email\"}, \"@hookstream.dev\"]}}");
    put("staff-only", "{\"state\": \"ENABLED\", \"variants\": {\"on\": true, \"off\": false}, "
                      "\"defaultVariant\": \"off\", \"targeting\": {\"if\": [{\"$ref\": "
                      "\"staff\"}, \"on\", null]}}");
    json_t *ctx = json_pack("{s:s}", "email", "ada@hookstream.dev");
    long long start = now_ms();
    while (hs_flags_bool(b, "staff-only", ctx, -1) != 1 && now_ms() - start < CHANGE_MS)
        usleep(5000);
    cr_assert_eq(hs_flags_bool(b, "staff-only", ctx, -1), 1);
    json_decref(ctx);

    /* a store started now replays the topic to the same flags; so does the CLI's reader */
    hs_flags_t *late = store();
    cr_assert_eq(hs_flags_bool(late, "beta", NULL, -1), 1);
    cr_assert_eq(hs_flags_bool(late, "marker", NULL, -1), 1);
    hs_flags_destroy(late);
    json_t *state = NULL;
    cr_assert_eq(hs_flags_topic_read(cfg, NULL, &state, err, sizeof err), HS_OK, "%s", err);
    json_t *flags = json_object_get(state, "flags");
    cr_assert_eq(json_object_size(flags), 3, "beta, marker, staff-only");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(flags, "beta"), "defaultVariant")), "on");
    cr_assert_not_null(json_object_get(json_object_get(state, "$evaluators"), "staff"));
    json_decref(state);
}

Test(flags_topic, the_kill_switch_follows_the_topic, .init = setup, .fini = teardown) {
    cr_assert_eq(hs_flags_integration_enabled(a, "shopify", NULL), 1, "no flag: enabled");
    put("integration.shopify.enabled", "{\"state\": \"DISABLED\", \"variants\": {\"on\": true, "
                                       "\"off\": false}, \"defaultVariant\": \"on\"}");
    long long start = now_ms();
    while ((hs_flags_integration_enabled(a, "shopify", NULL) ||
            hs_flags_integration_enabled(b, "shopify", NULL)) &&
           now_ms() - start < CHANGE_MS)
        usleep(5000);
    cr_assert_eq(hs_flags_integration_enabled(a, "shopify", NULL), 0);
    cr_assert_eq(hs_flags_integration_enabled(b, "shopify", NULL), 0);
    cr_assert_eq(hs_flags_integration_enabled(b, "stripe", NULL), 1);
}
