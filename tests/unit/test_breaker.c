/* Circuit breaker state machine: opening needs both the rate and min_requests, old buckets
 * slide out, OPEN turns HALF_OPEN after open_ms, probes are limited, a probe success closes
 * and a probe failure re-opens. */
#include <criterion/criterion.h>

#include "hs_breaker.h"

static hs_breaker_t mk(double rate, int min_req, int64_t window, int64_t open, int probes) {
    hs_breaker_opts_t o = {.failure_rate = rate,
                           .min_requests = min_req,
                           .window_ms = window,
                           .open_ms = open,
                           .half_open_probes = probes};
    hs_breaker_t b;
    hs_breaker_init(&b, &o);
    return b;
}

static void call(hs_breaker_t *b, int success, int64_t now) {
    cr_assert(hs_breaker_allow(b, now, NULL), "call at %lld allowed", (long long)now);
    hs_breaker_record(b, success, now);
}

Test(breaker, defaults) {
    hs_breaker_t b;
    hs_breaker_init(&b, NULL);
    cr_assert_float_eq(b.opts.failure_rate, 0.5, 1e-12);
    cr_assert_eq(b.opts.min_requests, 10);
    cr_assert_eq(b.opts.window_ms, 30000);
    cr_assert_eq(b.opts.open_ms, 30000);
    cr_assert_eq(b.opts.half_open_probes, 1);
    hs_breaker_opts_t zero = {0};
    hs_breaker_init(&b, &zero);
    cr_assert_eq(b.opts.min_requests, 10, "fields <= 0 take the default");
    cr_assert_eq(hs_breaker_state(&b, 0), HS_BREAKER_CLOSED);
}

Test(breaker, state_names) {
    cr_assert_str_eq(hs_breaker_state_str(HS_BREAKER_CLOSED), "closed");
    cr_assert_str_eq(hs_breaker_state_str(HS_BREAKER_OPEN), "open");
    cr_assert_str_eq(hs_breaker_state_str(HS_BREAKER_HALF_OPEN), "half_open");
    cr_assert_str_eq(hs_breaker_state_str((hs_breaker_state_t)42), "unknown");
}

Test(breaker, failures_below_min_requests_do_not_open) {
    hs_breaker_t b = mk(0.5, 10, 10000, 5000, 1);
    for (int i = 0; i < 9; i++)
        call(&b, 0, 100 + i);
    cr_assert_eq(hs_breaker_state(&b, 200), HS_BREAKER_CLOSED, "9 of 9 failed but < 10 calls");
    call(&b, 0, 200);
    cr_assert_eq(hs_breaker_state(&b, 200), HS_BREAKER_OPEN);
}

Test(breaker, opens_at_the_rate_not_below) {
    hs_breaker_t b = mk(0.5, 10, 10000, 5000, 1);
    for (int i = 0; i < 6; i++)
        call(&b, 1, 0);
    for (int i = 0; i < 5; i++)
        call(&b, 0, 0);
    cr_assert_eq(hs_breaker_state(&b, 0), HS_BREAKER_CLOSED, "5/11 < 0.5");
    call(&b, 0, 0);
    cr_assert_eq(hs_breaker_state(&b, 0), HS_BREAKER_OPEN, "6/12 >= 0.5");
}

Test(breaker, open_refuses_with_wait_then_half_open) {
    hs_breaker_t b = mk(0.5, 2, 10000, 5000, 1);
    call(&b, 0, 1000);
    call(&b, 0, 1000);
    int64_t wait = 0;
    cr_assert_not(hs_breaker_allow(&b, 1000, &wait));
    cr_assert_eq(wait, 5000);
    cr_assert_not(hs_breaker_allow(&b, 4000, &wait));
    cr_assert_eq(wait, 2000);
    cr_assert_eq(hs_breaker_state(&b, 5999), HS_BREAKER_OPEN);
    cr_assert_eq(hs_breaker_state(&b, 6000), HS_BREAKER_HALF_OPEN);
}

Test(breaker, allow_limits_probes) {
    hs_breaker_t b = mk(0.5, 2, 10000, 5000, 2);
    call(&b, 0, 0);
    call(&b, 0, 0);
    cr_assert(hs_breaker_allow(&b, 5000, NULL));
    cr_assert(hs_breaker_allow(&b, 5000, NULL));
    int64_t wait = 0;
    cr_assert_not(hs_breaker_allow(&b, 5001, &wait), "both probe slots are taken");
    cr_assert_eq(wait, 1000, "a tenth of the window");
    cr_assert_eq(hs_breaker_state(&b, 5001), HS_BREAKER_HALF_OPEN);
    /* One success frees a slot but does not close yet: two successes are needed. */
    hs_breaker_record(&b, 1, 5010);
    cr_assert_eq(hs_breaker_state(&b, 5010), HS_BREAKER_HALF_OPEN);
    cr_assert(hs_breaker_allow(&b, 5010, NULL));
    hs_breaker_record(&b, 1, 5020);
    cr_assert_eq(hs_breaker_state(&b, 5020), HS_BREAKER_CLOSED);
}

Test(breaker, probe_success_closes_with_an_empty_window) {
    hs_breaker_t b = mk(0.5, 2, 10000, 5000, 1);
    call(&b, 0, 0);
    call(&b, 0, 0);
    call(&b, 1, 5000);
    cr_assert_eq(hs_breaker_state(&b, 5000), HS_BREAKER_CLOSED);
    /* The failures before opening are forgotten: one more failure does not re-open. */
    call(&b, 0, 5001);
    cr_assert_eq(hs_breaker_state(&b, 5001), HS_BREAKER_CLOSED);
    call(&b, 0, 5002);
    cr_assert_eq(hs_breaker_state(&b, 5002), HS_BREAKER_OPEN);
}

Test(breaker, probe_failure_reopens_for_open_ms) {
    hs_breaker_t b = mk(0.5, 2, 10000, 5000, 1);
    call(&b, 0, 0);
    call(&b, 0, 0);
    call(&b, 0, 7000);
    cr_assert_eq(hs_breaker_state(&b, 7000), HS_BREAKER_OPEN);
    int64_t wait = 0;
    cr_assert_not(hs_breaker_allow(&b, 8000, &wait));
    cr_assert_eq(wait, 4000, "open_ms counted from the failed probe");
    cr_assert_eq(hs_breaker_state(&b, 11999), HS_BREAKER_OPEN);
    cr_assert(hs_breaker_allow(&b, 12000, NULL));
}

Test(breaker, old_buckets_slide_out) {
    hs_breaker_t b = mk(0.5, 4, 10000, 5000, 1);
    /* Three failures at t=0..; by t=10000 their bucket has left the window. */
    for (int i = 0; i < 3; i++)
        call(&b, 0, i);
    call(&b, 0, 10000);
    cr_assert_eq(hs_breaker_state(&b, 10000), HS_BREAKER_CLOSED, "only 1 request in window");
    /* Within the window they add up: 1 + 3 more = 4 failures. */
    for (int i = 0; i < 2; i++)
        call(&b, 0, 15000 + i);
    cr_assert_eq(hs_breaker_state(&b, 15001), HS_BREAKER_CLOSED, "3 requests");
    call(&b, 0, 19999);
    cr_assert_eq(hs_breaker_state(&b, 19999), HS_BREAKER_OPEN, "4 requests in 10000..19999");
}

Test(breaker, successes_dilute_failures) {
    hs_breaker_t b = mk(0.5, 10, 10000, 5000, 1);
    for (int t = 0; t < 1000; t++)
        call(&b, t % 3 != 0, t * 50); /* a third fail, forever */
    cr_assert_eq(hs_breaker_state(&b, 50000), HS_BREAKER_CLOSED);
}

Test(breaker, late_outcomes_while_open_are_ignored) {
    hs_breaker_t b = mk(0.5, 2, 10000, 5000, 1);
    cr_assert(hs_breaker_allow(&b, 0, NULL));
    cr_assert(hs_breaker_allow(&b, 0, NULL));
    cr_assert(hs_breaker_allow(&b, 0, NULL));
    hs_breaker_record(&b, 0, 1);
    hs_breaker_record(&b, 0, 1);
    cr_assert_eq(hs_breaker_state(&b, 1), HS_BREAKER_OPEN);
    hs_breaker_record(&b, 1, 2); /* the third call, allowed while closed, returns late */
    cr_assert_eq(hs_breaker_state(&b, 2), HS_BREAKER_OPEN);
    cr_assert_eq(hs_breaker_state(&b, 5001), HS_BREAKER_HALF_OPEN);
}

Test(breaker, tiny_window_and_negative_clock) {
    hs_breaker_t b = mk(1.0, 3, 5, 10, 1);
    call(&b, 0, -100);
    call(&b, 0, -100);
    call(&b, 0, -99);
    cr_assert_eq(hs_breaker_state(&b, -99), HS_BREAKER_OPEN);
    cr_assert_eq(hs_breaker_state(&b, -89), HS_BREAKER_HALF_OPEN);
}
