/* Retry tier labels, schedule parsing and tier choice of the consumer runtime. */
#include <criterion/criterion.h>
#include <string.h>

#include "hs_consumer.h"

static char err[256];

Test(consumer_tiers, labels_use_the_largest_exact_unit) {
    char b[32];
    cr_assert_str_eq(hs_consumer_tier_label(500, b, sizeof b), "500ms");
    cr_assert_str_eq(hs_consumer_tier_label(5000, b, sizeof b), "5s");
    cr_assert_str_eq(hs_consumer_tier_label(1500, b, sizeof b), "1500ms");
    cr_assert_str_eq(hs_consumer_tier_label(300000, b, sizeof b), "5m");
    cr_assert_str_eq(hs_consumer_tier_label(90000, b, sizeof b), "90s");
    cr_assert_str_eq(hs_consumer_tier_label(7200000, b, sizeof b), "2h");
    cr_assert_str_eq(hs_consumer_tier_label(86400000, b, sizeof b), "24h");
}

Test(consumer_tiers, parses_the_default_schedule) {
    int64_t t[16];
    size_t n = 0;
    cr_assert_eq(hs_consumer_tiers_parse("5s,5m,30m,2h,5h,10h", t, 16, &n, err, sizeof err), HS_OK,
                 "%s", err);
    cr_assert_eq(n, 6);
    cr_assert_eq(t[0], 5000);
    cr_assert_eq(t[2], 1800000);
    cr_assert_eq(t[5], 36000000);
    cr_assert_eq(hs_consumer_tiers_parse(" 100ms , 1s,1d", t, 16, &n, err, sizeof err), HS_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(t[2], 86400000);
}

Test(consumer_tiers, rejects_bad_schedules) {
    static const char *const bad[] = {"",      "5",     "5x",     "-5s", "0s",
                                      "5s,5s", "5m,5s", "5s,,5m", "abc", "99999999999999999999h",
                                      NULL};
    int64_t t[16];
    size_t n;
    for (int i = 0; bad[i]; i++)
        cr_assert_eq(hs_consumer_tiers_parse(bad[i], t, 16, &n, err, sizeof err), HS_ERR_INVALID,
                     "%s accepted", bad[i]);
    cr_assert_eq(hs_consumer_tiers_parse("1s,2s,3s", t, 2, &n, err, sizeof err), HS_ERR_INVALID);
    cr_assert(strstr(err, "more than 2"));
}

Test(consumer_tiers, picks_the_largest_tier_not_after_the_delay) {
    const int64_t t[] = {100, 1000, 60000};
    cr_assert_eq(hs_consumer_tier_pick(t, 3, 0), 0);
    cr_assert_eq(hs_consumer_tier_pick(t, 3, 99), 0);
    cr_assert_eq(hs_consumer_tier_pick(t, 3, 100), 0);
    cr_assert_eq(hs_consumer_tier_pick(t, 3, 5000), 1);
    cr_assert_eq(hs_consumer_tier_pick(t, 3, 1000000), 2);
}

Test(consumer_tiers, splits_topic_lists) {
    char buf[64];
    const char *t[HS_CONSUMER_MAX_TOPICS + 1];
    cr_assert_eq(hs_consumer_topics_split("hs.events.orders,^hs\\.events\\..*", buf, sizeof buf, t),
                 2);
    cr_assert_str_eq(t[0], "hs.events.orders");
    cr_assert_str_eq(t[1], "^hs\\.events\\..*");
    cr_assert_null(t[2]);
    cr_assert_eq(hs_consumer_topics_split(",,a,,", buf, sizeof buf, t), 1, "empty entries skipped");
    cr_assert_str_eq(t[0], "a");
    char many[256] = "";
    for (int i = 0; i < HS_CONSUMER_MAX_TOPICS + 5; i++)
        memcpy(many + 2 * i, "t,", 2);
    char big[256];
    cr_assert_eq(hs_consumer_topics_split(many, big, sizeof big, t), HS_CONSUMER_MAX_TOPICS);
    cr_assert_null(t[HS_CONSUMER_MAX_TOPICS]);
}
