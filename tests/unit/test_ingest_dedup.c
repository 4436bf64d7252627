/* Dedup window of ingest: new / in flight / duplicate, the window, the LRU bound, abort, and
 * Redis failing open. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "hs_metrics.h"
#include "ingest_dedup.h"

static hs_dedup_t *make(size_t cap, int window) {
    char err[256];
    hs_dedup_opts_t o = {.capacity = cap, .window_s = window};
    hs_dedup_t *d = hs_dedup_new(&o, err, sizeof err);
    cr_assert_not_null(d, "%s", err);
    return d;
}

Test(ingest_dedup, new_in_flight_then_duplicate) {
    hs_dedup_t *d = make(10, 60);
    cr_assert_eq(hs_dedup_begin(d, "shop1", "w-1", 0), HS_DEDUP_NEW);
    cr_assert_eq(hs_dedup_begin(d, "shop1", "w-1", 0), HS_DEDUP_IN_FLIGHT);
    hs_dedup_commit(d, "shop1", "w-1", 1);
    cr_assert_eq(hs_dedup_begin(d, "shop1", "w-1", 2), HS_DEDUP_DUPLICATE);
    cr_assert_eq(hs_dedup_begin(d, "shop2", "w-1", 2), HS_DEDUP_NEW, "sources are separate");
    hs_dedup_destroy(d);
    hs_dedup_destroy(NULL);
}

Test(ingest_dedup, abort_forgets_so_a_retry_is_new) {
    hs_dedup_t *d = make(10, 60);
    cr_assert_eq(hs_dedup_begin(d, "s", "x", 0), HS_DEDUP_NEW);
    hs_dedup_abort(d, "s", "x");
    cr_assert_eq(hs_dedup_size(d), 0);
    cr_assert_eq(hs_dedup_begin(d, "s", "x", 1), HS_DEDUP_NEW);
    hs_dedup_destroy(d);
}

Test(ingest_dedup, window_expires) {
    hs_dedup_t *d = make(10, 60);
    hs_dedup_begin(d, "s", "x", 0);
    hs_dedup_commit(d, "s", "x", 100);
    cr_assert_eq(hs_dedup_begin(d, "s", "x", 159.9), HS_DEDUP_DUPLICATE);
    cr_assert_eq(hs_dedup_begin(d, "s", "x", 160.0), HS_DEDUP_NEW, "window is 60 s after ack");
    hs_dedup_destroy(d);
}

Test(ingest_dedup, bound_evicts_least_recently_used) {
    hs_dedup_t *d = make(3, 600);
    const char *ids[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        hs_dedup_begin(d, "s", ids[i], i);
        hs_dedup_commit(d, "s", ids[i], i);
    }
    cr_assert_eq(hs_dedup_begin(d, "s", "a", 10), HS_DEDUP_DUPLICATE); /* a is now recent */
    cr_assert_eq(hs_dedup_begin(d, "s", "d", 11), HS_DEDUP_NEW);       /* evicts b */
    hs_dedup_commit(d, "s", "d", 11);
    cr_assert_eq(hs_dedup_size(d), 3);
    cr_assert_eq(hs_dedup_begin(d, "s", "a", 12), HS_DEDUP_DUPLICATE);
    cr_assert_eq(hs_dedup_begin(d, "s", "c", 12), HS_DEDUP_DUPLICATE);
    cr_assert_eq(hs_dedup_begin(d, "s", "b", 12), HS_DEDUP_NEW, "b was evicted");
    hs_dedup_abort(d, "s", "b");
    hs_dedup_destroy(d);
}

Test(ingest_dedup, in_flight_ids_are_never_evicted) {
    hs_dedup_t *d = make(2, 600);
    cr_assert_eq(hs_dedup_begin(d, "s", "a", 0), HS_DEDUP_NEW);
    cr_assert_eq(hs_dedup_begin(d, "s", "b", 0), HS_DEDUP_NEW);
    cr_assert_eq(hs_dedup_begin(d, "s", "c", 0), HS_DEDUP_NEW);
    cr_assert_eq(hs_dedup_size(d), 3, "the bound is passed by requests in flight");
    cr_assert_eq(hs_dedup_begin(d, "s", "a", 0), HS_DEDUP_IN_FLIGHT);
    hs_dedup_destroy(d);
}

Test(ingest_dedup, bad_redis_url_is_refused) {
    char err[256];
    hs_dedup_opts_t o = {.capacity = 1, .window_s = 1, .redis_url = "http://x:1"};
    cr_assert_null(hs_dedup_new(&o, err, sizeof err));
    cr_assert(strstr(err, "redis.url"), "%s", err);
    o.redis_url = "redis://host:99999";
    cr_assert_null(hs_dedup_new(&o, err, sizeof err));
}

Test(ingest_dedup, redis_down_fails_open_and_counts) {
    char err[256];
    /* Port 1 on loopback: connection refused at once. */
    hs_dedup_opts_t o = {
        .capacity = 10, .window_s = 60, .redis_url = "redis://127.0.0.1:1", .redis_timeout_ms = 50};
    hs_dedup_t *d = hs_dedup_new(&o, err, sizeof err);
    cr_assert_not_null(d, "%s", err);
    cr_assert_eq(hs_dedup_begin(d, "s", "x", 0), HS_DEDUP_NEW);
    hs_dedup_commit(d, "s", "x", 0);
    cr_assert_eq(hs_dedup_begin(d, "s", "x", 1), HS_DEDUP_DUPLICATE, "memory still answers");
    char *text = hs_metrics_render();
    cr_assert(strstr(text, "hs_ingest_dedup_redis_errors_total "), "%s", text);
    cr_assert_null(strstr(text, "hs_ingest_dedup_redis_errors_total 0\n"), "%s", text);
    free(text);
    hs_dedup_destroy(d);
}
