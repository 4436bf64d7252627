#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_metrics.h"

static void teardown(void) {
    hs_metrics_reset();
}

TestSuite(metrics, .init = hs_metrics_reset, .fini = teardown);

static void assert_render(const char *want) {
    char *got = hs_metrics_render();
    cr_assert_not_null(got);
    cr_assert_str_eq(got, want);
    free(got);
}

static size_t count_lines_with(const char *text, const char *needle) {
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

Test(metrics, empty_registry_renders_empty_text) {
    assert_render("");
}

Test(metrics, counter_with_labels_and_escaping) {
    hs_metric_t *c = hs_metrics_counter("hs_test_requests_total",
                                        "Requests served, \\ and\nnewline in help", "method,path");
    hs_metric_add(c, (const char *[]){"GET", "/a"}, 1);
    hs_metric_add(c, (const char *[]){"POST", "q\"uote\\back\nline"}, 2.5);
    hs_metric_add(c, (const char *[]){"GET", "/a"}, 2);
    assert_render(
        "# HELP hs_test_requests_total Requests served, \\\\ and\\nnewline in help\n"
        "# TYPE hs_test_requests_total counter\n"
        "hs_test_requests_total{method=\"GET\",path=\"/a\"} 3\n"
        "hs_test_requests_total{method=\"POST\",path=\"q\\\"uote\\\\back\\nline\"} 2.5\n");
}

Test(metrics, counter_refuses_negative_and_nan) {
    hs_metric_t *c = hs_metrics_counter("hs_test_total", "t", NULL);
    hs_metric_add(c, NULL, 5);
    hs_metric_add(c, NULL, -1);
    hs_metric_add(c, NULL, NAN);
    hs_metric_set(c, NULL, 100);   /* set is for gauges */
    hs_metric_observe(c, NULL, 1); /* observe is for histograms */
    assert_render("# HELP hs_test_total t\n# TYPE hs_test_total counter\nhs_test_total 5\n");
}

Test(metrics, unlabelled_metrics_render_zero_before_use) {
    hs_metrics_gauge("hs_test_gauge", "g", NULL);
    hs_metrics_counter("hs_test_labelled_total", "l", "topic");
    assert_render("# HELP hs_test_gauge g\n# TYPE hs_test_gauge gauge\nhs_test_gauge 0\n"
                  "# HELP hs_test_labelled_total l\n# TYPE hs_test_labelled_total counter\n");
}

Test(metrics, gauge_set_add_and_number_formats) {
    hs_metric_t *g = hs_metrics_gauge("hs_test_lag", "Consumer lag.", "topic,partition");
    hs_metric_set(g, (const char *[]){"t", "0"}, 10);
    hs_metric_add(g, (const char *[]){"t", "0"}, -3);
    hs_metric_set(g, (const char *[]){"t", "1"}, 0.1);
    hs_metric_set(g, (const char *[]){"t", "2"}, 1e20);
    hs_metric_set(g, (const char *[]){"t", "3"}, -INFINITY);
    hs_metric_set(g, (const char *[]){"t", "4"}, NAN);
    hs_metric_set(g, (const char *[]){"", NULL}, 1); /* NULL values count as "" */
    assert_render("# HELP hs_test_lag Consumer lag.\n# TYPE hs_test_lag gauge\n"
                  "hs_test_lag{topic=\"t\",partition=\"0\"} 7\n"
                  "hs_test_lag{topic=\"t\",partition=\"1\"} 0.1\n"
                  "hs_test_lag{topic=\"t\",partition=\"2\"} 1e+20\n"
                  "hs_test_lag{topic=\"t\",partition=\"3\"} -Inf\n"
                  "hs_test_lag{topic=\"t\",partition=\"4\"} NaN\n"
                  "hs_test_lag{topic=\"\",partition=\"\"} 1\n");
}

Test(metrics, histogram_buckets_are_cumulative) {
    static const double bounds[] = {0.1, 0.5, 1};
    hs_metric_t *h = hs_metrics_histogram("hs_test_seconds", "Latency.", "route", bounds, 3);
    const char *r1[] = {"/x"}, *r2[] = {"/y"};
    hs_metric_observe(h, r1, 0.05);
    hs_metric_observe(h, r1, 0.1); /* le is inclusive */
    hs_metric_observe(h, r1, 0.7);
    hs_metric_observe(h, r1, 3);
    hs_metric_observe(h, r2, 0.25);
    hs_metric_observe(h, r2, NAN); /* ignored */
    assert_render("# HELP hs_test_seconds Latency.\n# TYPE hs_test_seconds histogram\n"
                  "hs_test_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"
                  "hs_test_seconds_bucket{route=\"/x\",le=\"0.5\"} 2\n"
                  "hs_test_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
                  "hs_test_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
                  "hs_test_seconds_sum{route=\"/x\"} 3.85\n"
                  "hs_test_seconds_count{route=\"/x\"} 4\n"
                  "hs_test_seconds_bucket{route=\"/y\",le=\"0.1\"} 0\n"
                  "hs_test_seconds_bucket{route=\"/y\",le=\"0.5\"} 1\n"
                  "hs_test_seconds_bucket{route=\"/y\",le=\"1\"} 1\n"
                  "hs_test_seconds_bucket{route=\"/y\",le=\"+Inf\"} 1\n"
                  "hs_test_seconds_sum{route=\"/y\"} 0.25\n"
                  "hs_test_seconds_count{route=\"/y\"} 1\n");
}

Test(metrics, histogram_default_buckets_without_labels) {
    hs_metric_t *h = hs_metrics_histogram("hs_test_default_seconds", "d", NULL, NULL, 0);
    hs_metric_observe(h, NULL, 0.003);
    char *text = hs_metrics_render();
    cr_assert_not_null(text);
    static const char *const les[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01",
                                      "0.025",  "0.05",  "0.1",    "0.25",  "0.5",
                                      "1",      "2.5",   "5",      "10",    "+Inf"};
    for (size_t i = 0; i < sizeof les / sizeof *les; i++) {
        char line[96];
        snprintf(line, sizeof line, "hs_test_default_seconds_bucket{le=\"%s\"} %d\n", les[i],
                 i >= 3);
        cr_assert(strstr(text, line), "missing %s in\n%s", line, text);
    }
    cr_assert(strstr(text, "hs_test_default_seconds_sum 0.003\n"));
    cr_assert(strstr(text, "hs_test_default_seconds_count 1\n"));
    free(text);
}

Test(metrics, metrics_sorted_by_name_series_in_creation_order) {
    hs_metric_t *b = hs_metrics_gauge("hs_b", "b", "k");
    hs_metric_t *a = hs_metrics_gauge("hs_a", "a", NULL);
    hs_metric_set(b, (const char *[]){"z"}, 1);
    hs_metric_set(b, (const char *[]){"a"}, 2);
    hs_metric_set(a, NULL, 3);
    assert_render("# HELP hs_a a\n# TYPE hs_a gauge\nhs_a 3\n"
                  "# HELP hs_b b\n# TYPE hs_b gauge\nhs_b{k=\"z\"} 1\nhs_b{k=\"a\"} 2\n");
}

Test(metrics, registration_is_idempotent) {
    hs_metric_t *a = hs_metrics_counter("hs_test_total", "first help", "a, b");
    hs_metric_t *b = hs_metrics_counter("hs_test_total", "other help", "a,b");
    cr_assert_eq(a, b);
    static const double bounds[] = {1, 2};
    hs_metric_t *h1 = hs_metrics_histogram("hs_test_h", "h", NULL, bounds, 2);
    hs_metric_t *h2 = hs_metrics_histogram("hs_test_h", "h", NULL, bounds, 2);
    cr_assert_eq(h1, h2);
    hs_metric_t *d1 = hs_metrics_histogram("hs_test_d", "d", NULL, NULL, 0);
    cr_assert_eq(d1, hs_metrics_histogram("hs_test_d", "d", NULL, NULL, 0));
}

Test(metrics, same_name_other_type_aborts, .signal = SIGABRT) {
    hs_metrics_counter("hs_test_total", "t", NULL);
    hs_metrics_gauge("hs_test_total", "t", NULL);
}

Test(metrics, same_name_other_labels_aborts, .signal = SIGABRT) {
    hs_metrics_counter("hs_test_total", "t", "a");
    hs_metrics_counter("hs_test_total", "t", "a,b");
}

Test(metrics, same_name_other_buckets_aborts, .signal = SIGABRT) {
    static const double b1[] = {1, 2}, b2[] = {1, 3};
    hs_metrics_histogram("hs_test_h", "h", NULL, b1, 2);
    hs_metrics_histogram("hs_test_h", "h", NULL, b2, 2);
}

Test(metrics, invalid_metric_name_aborts, .signal = SIGABRT) {
    hs_metrics_counter("9lives", "t", NULL);
}

Test(metrics, invalid_label_name_aborts, .signal = SIGABRT) {
    hs_metrics_counter("hs_test_total", "t", "ok,not-ok");
}

Test(metrics, empty_label_name_aborts, .signal = SIGABRT) {
    hs_metrics_counter("hs_test_total", "t", "a,,b");
}

Test(metrics, histogram_le_label_aborts, .signal = SIGABRT) {
    hs_metrics_histogram("hs_test_h", "h", "le", NULL, 0);
}

Test(metrics, unsorted_buckets_abort, .signal = SIGABRT) {
    static const double b[] = {1, 0.5};
    hs_metrics_histogram("hs_test_h", "h", NULL, b, 2);
}

Test(metrics, series_beyond_the_limit_go_to_overflow) {
    hs_metric_t *c = hs_metrics_counter("hs_test_total", "t", "id,kind");
    char id[32];
    for (int i = 0; i < 10005; i++) {
        snprintf(id, sizeof id, "%d", i);
        hs_metric_add(c, (const char *[]){id, "x"}, 1);
    }
    hs_metric_add(c, (const char *[]){"0", "x"}, 1); /* an existing series still counts */
    char *text = hs_metrics_render();
    cr_assert_not_null(text);
    cr_assert_eq(count_lines_with(text, "hs_test_total{"), 10001);
    cr_assert(strstr(text, "hs_test_total{id=\"_overflow\",kind=\"_overflow\"} 5\n"));
    cr_assert(strstr(text, "hs_test_total{id=\"0\",kind=\"x\"} 2\n"));
    cr_assert(strstr(text, "hs_test_total{id=\"9999\",kind=\"x\"} 1\n"));
    cr_assert_null(strstr(text, "id=\"10000\""));
    free(text);
}

static void *add_many(void *arg) {
    hs_metric_t *c = arg;
    static const char *const labels[][1] = {{"a"}, {"b"}};
    for (int i = 0; i < 100000; i++)
        hs_metric_add(c, labels[i % 2], 1);
    return NULL;
}

Test(metrics, concurrent_adds_are_exact) {
    hs_metric_t *c = hs_metrics_counter("hs_test_total", "t", "k");
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&threads[i], NULL, add_many, c), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(threads[i], NULL);
    assert_render("# HELP hs_test_total t\n# TYPE hs_test_total counter\n"
                  "hs_test_total{k=\"a\"} 200000\nhs_test_total{k=\"b\"} 200000\n");
}

Test(metrics, process_metrics_are_read_at_scrape_time) {
    hs_metrics_register_process();
    hs_metrics_register_process(); /* idempotent */
    char *text = hs_metrics_render();
    cr_assert_not_null(text);
    static const char *const names[] = {
        "process_start_time_seconds ", "process_resident_memory_bytes ",
        "process_virtual_memory_bytes ", "process_cpu_seconds_total ", "process_open_fds "};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char want[64];
        snprintf(want, sizeof want, "\n%s", names[i]);
        const char *line = strstr(text, want);
        cr_assert(line, "missing %s in\n%s", names[i], text);
        double v = strtod(line + strlen(want), NULL);
        if (i != 3) cr_assert_gt(v, 0, "%s%f", names[i], v); /* cpu time may still be 0 */
    }
    const char *start = strstr(text, "\nprocess_start_time_seconds ");
    double started = strtod(start + strlen("\nprocess_start_time_seconds "), NULL);
    cr_assert_gt(started, 1.6e9);
    cr_assert_leq(started, (double)time(NULL) + 1);
    free(text);
}
