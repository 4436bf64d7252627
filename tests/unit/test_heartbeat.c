#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hs_heartbeat.h"
#include "hs_metrics.h"

static void teardown(void) {
    hs_metrics_reset();
}

TestSuite(heartbeat, .init = hs_metrics_reset, .fini = teardown);

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Value of the sample line starting with prefix (name{labels}) in the rendered metrics; -1 when
 * there is no such line. */
static double sample(const char *prefix) {
    char *text = hs_metrics_render();
    cr_assert_not_null(text);
    double v = -1;
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, prefix, strlen(prefix)) == 0 && p[strlen(prefix)] == ' ') {
            v = strtod(p + strlen(prefix) + 1, NULL);
            break;
        }
    }
    free(text);
    return v;
}

static void instance_label(char *buf, size_t n) {
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(buf, n, "%s:%ld", host, (long)getpid());
}

Test(heartbeat, fresh_heartbeat_is_ready) {
    hs_heartbeat_t *hb = hs_heartbeat_new("svc", "grp");
    char why[128] = "";
    cr_assert_eq(hs_heartbeat_ready(hb, 30000, why, sizeof why), 1);
    cr_assert_str_eq(why, "");
    hs_heartbeat_destroy(hb);
}

Test(heartbeat, silence_makes_it_unready_with_the_reason) {
    hs_heartbeat_t *hb = hs_heartbeat_new("svc", "orders");
    sleep_ms(60);
    char why[128] = "";
    cr_assert_eq(hs_heartbeat_ready(hb, 20, why, sizeof why), 0);
    long ms = -1;
    cr_assert_eq(sscanf(why, "consumer orders has not polled for %ld ms", &ms), 1, "why: %s", why);
    cr_assert_geq(ms, 60, "why: %s", why);
    cr_assert_lt(ms, 60000, "why: %s", why);
    /* A reason that does not fit is cut, never overflowed; no buffer at all is fine too. */
    char tiny[8];
    cr_assert_eq(hs_heartbeat_ready(hb, 20, tiny, sizeof tiny), 0);
    cr_assert_eq(strlen(tiny), sizeof tiny - 1);
    cr_assert_eq(hs_heartbeat_ready(hb, 20, NULL, 0), 0);
    hs_heartbeat_beat(hb);
    cr_assert_eq(hs_heartbeat_ready(hb, 20, why, sizeof why), 1);
    hs_heartbeat_destroy(hb);
}

Test(heartbeat, zero_or_negative_limit_disables_the_check) {
    hs_heartbeat_t *hb = hs_heartbeat_new("svc", "grp");
    sleep_ms(20);
    cr_assert_eq(hs_heartbeat_ready(hb, 0, NULL, 0), 1);
    cr_assert_eq(hs_heartbeat_ready(hb, -5, NULL, 0), 1);
    cr_assert_eq(hs_heartbeat_ready(hb, 1, NULL, 0), 0);
    hs_heartbeat_destroy(hb);
}

Test(heartbeat, last_poll_gauge_has_service_group_instance) {
    char inst[300], name[512];
    instance_label(inst, sizeof inst);
    snprintf(name, sizeof name,
             "hs_consumer_last_poll_timestamp_seconds{service=\"deliver\",group=\"g1\","
             "instance=\"%s\"}",
             inst);
    double before = (double)time(NULL);
    hs_heartbeat_t *hb = hs_heartbeat_new("deliver", "g1");
    double first = sample(name);
    cr_assert_geq(first, before, "first beat %f, before %f", first, before);
    cr_assert_leq(first, (double)time(NULL) + 1);
    /* Beats refresh the gauge (at most every 100 ms). */
    sleep_ms(250);
    hs_heartbeat_beat(hb);
    double second = sample(name);
    cr_assert_geq(second - first, 0.2, "first %f second %f", first, second);
    hs_heartbeat_destroy(hb);
}

Test(heartbeat, lag_gauge_per_group_topic_partition) {
    hs_heartbeat_t *a = hs_heartbeat_new("analytics", "ga");
    hs_heartbeat_t *b = hs_heartbeat_new("analytics", "gb");
    hs_heartbeat_lag(a, "hs.events.shopify", 3, 42);
    hs_heartbeat_lag(b, "hs.events.shopify", 3, 7);
    const char *la =
        "hs_consumer_lag{service=\"analytics\",group=\"ga\",topic=\"hs.events.shopify\","
        "partition=\"3\"}";
    const char *lb =
        "hs_consumer_lag{service=\"analytics\",group=\"gb\",topic=\"hs.events.shopify\","
        "partition=\"3\"}";
    cr_assert_float_eq(sample(la), 42, 1e-9);
    cr_assert_float_eq(sample(lb), 7, 1e-9);
    hs_heartbeat_lag(a, "hs.events.shopify", 3, 0);
    cr_assert_float_eq(sample(la), 0, 1e-9);
    /* Unknown lag leaves the label set as it was. */
    hs_heartbeat_lag(b, "hs.events.shopify", 3, -1);
    cr_assert_float_eq(sample(lb), 7, 1e-9);
    hs_heartbeat_lag(b, "hs.events.other", 0, -1);
    cr_assert_float_eq(
        sample("hs_consumer_lag{service=\"analytics\",group=\"gb\",topic=\"hs.events.other\","
               "partition=\"0\"}"),
        -1, 1e-9);
    hs_heartbeat_destroy(a);
    hs_heartbeat_destroy(b);
}

Test(heartbeat, destroy_null_is_a_noop) {
    hs_heartbeat_destroy(NULL);
}
