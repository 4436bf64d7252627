/* Token buckets: refill, burst, Retry-After, unlimited rates, and the bounded keyed table. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "hs_ratelimit.h"

Test(ratelimit, burst_then_refuse_with_wait) {
    hs_bucket_t b;
    hs_bucket_init(&b);
    double wait = 0;
    for (int i = 0; i < 5; i++)
        cr_assert(hs_bucket_take(&b, 5, 5, 100.0, &wait), "token %d of the burst", i);
    cr_assert_not(hs_bucket_take(&b, 5, 5, 100.0, &wait));
    cr_assert_float_eq(wait, 0.2, 1e-9, "one token at 5/s takes 0.2 s, got %f", wait);
    cr_assert_eq(hs_ratelimit_retry_after(wait), 1);
}

Test(ratelimit, refill_is_proportional_and_capped) {
    hs_bucket_t b;
    hs_bucket_init(&b);
    for (int i = 0; i < 4; i++)
        cr_assert(hs_bucket_take(&b, 2, 4, 0.0, NULL));
    cr_assert_not(hs_bucket_take(&b, 2, 4, 0.0, NULL));
    cr_assert(hs_bucket_take(&b, 2, 4, 0.5, NULL), "0.5 s at 2/s refills one token");
    cr_assert_not(hs_bucket_take(&b, 2, 4, 0.5, NULL));
    /* A long idle time refills to the burst, not beyond. */
    for (int i = 0; i < 4; i++)
        cr_assert(hs_bucket_take(&b, 2, 4, 1000.0, NULL));
    cr_assert_not(hs_bucket_take(&b, 2, 4, 1000.0, NULL));
}

Test(ratelimit, partial_tokens_shorten_the_wait) {
    hs_bucket_t b;
    hs_bucket_init(&b);
    double wait = 0;
    cr_assert(hs_bucket_take(&b, 1, 1, 10.0, &wait));
    cr_assert_not(hs_bucket_take(&b, 1, 1, 10.25, &wait));
    cr_assert_float_eq(wait, 0.75, 1e-9);
    cr_assert_not(hs_bucket_take(&b, 0.1, 1, 10.25, &wait));
    cr_assert_eq(hs_ratelimit_retry_after(wait), 8, "ceil of %f", wait);
}

Test(ratelimit, clock_going_back_refills_nothing) {
    hs_bucket_t b;
    hs_bucket_init(&b);
    cr_assert(hs_bucket_take(&b, 1, 1, 50.0, NULL));
    cr_assert_not(hs_bucket_take(&b, 1, 1, 10.0, NULL));
    cr_assert_not(hs_bucket_take(&b, 1, 1, 50.5, NULL));
    cr_assert(hs_bucket_take(&b, 1, 1, 51.0, NULL));
}

Test(ratelimit, zero_rate_is_unlimited_and_small_burst_is_one) {
    hs_bucket_t b;
    hs_bucket_init(&b);
    for (int i = 0; i < 1000; i++)
        cr_assert(hs_bucket_take(&b, 0, 0, 1.0, NULL));
    hs_bucket_init(&b);
    cr_assert(hs_bucket_take(&b, 1, 0, 1.0, NULL));
    cr_assert_not(hs_bucket_take(&b, 1, 0, 1.0, NULL));
}

Test(ratelimit, retry_after_is_whole_seconds_at_least_one) {
    cr_assert_eq(hs_ratelimit_retry_after(0.0), 1);
    cr_assert_eq(hs_ratelimit_retry_after(0.001), 1);
    cr_assert_eq(hs_ratelimit_retry_after(1.0), 1);
    cr_assert_eq(hs_ratelimit_retry_after(1.01), 2);
    cr_assert_eq(hs_ratelimit_retry_after(1e12), 86400);
}

Test(ratelimit, keys_have_their_own_buckets) {
    hs_ratelimit_t *rl = hs_ratelimit_new(0);
    double wait;
    cr_assert(hs_ratelimit_take(rl, "acme", 1, 1, 0.0, &wait));
    cr_assert_not(hs_ratelimit_take(rl, "acme", 1, 1, 0.0, &wait));
    cr_assert(hs_ratelimit_take(rl, "globex", 1, 1, 0.0, &wait));
    cr_assert_eq(hs_ratelimit_size(rl), 2);
    hs_ratelimit_destroy(rl);
    hs_ratelimit_destroy(NULL);
}

Test(ratelimit, bounded_table_drops_idle_buckets_only) {
    hs_ratelimit_t *rl = hs_ratelimit_new(3);
    char key[16];
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof key, "t%d", i);
        cr_assert(hs_ratelimit_take(rl, key, 1, 1, 0.0, NULL));
    }
    /* Full and nothing idle: a fourth key is allowed without a bucket. */
    cr_assert(hs_ratelimit_take(rl, "t3", 1, 1, 0.0, NULL));
    cr_assert(hs_ratelimit_take(rl, "t3", 1, 1, 0.0, NULL), "no bucket kept for t3");
    cr_assert_eq(hs_ratelimit_size(rl), 3);
    /* t0..t2 were still limited: their buckets survived. */
    cr_assert_not(hs_ratelimit_take(rl, "t0", 1, 1, 0.0, NULL));
    /* After a second every bucket is full again (idle): room is made. */
    cr_assert(hs_ratelimit_take(rl, "t4", 1, 1, 2.0, NULL));
    cr_assert_not(hs_ratelimit_take(rl, "t4", 1, 1, 2.0, NULL));
    cr_assert_eq(hs_ratelimit_size(rl), 1);
    hs_ratelimit_destroy(rl);
}
