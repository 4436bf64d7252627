/* Event type patterns: exact, everything, prefix wildcards at any depth, and pattern shapes. */
#include <criterion/criterion.h>

#include "hs_evtype.h"

Test(evtype, exact_match) {
    cr_assert(hs_evtype_match("order.placed", "order.placed"));
    cr_assert_not(hs_evtype_match("order.placed", "order.placed2"));
    cr_assert_not(hs_evtype_match("order.placed", "order"));
    cr_assert_not(hs_evtype_match("order.placed", "order.placed.v2"));
}

Test(evtype, star_matches_everything) {
    cr_assert(hs_evtype_match("*", "order.placed"));
    cr_assert(hs_evtype_match("*", "x"));
}

Test(evtype, prefix_wildcard_any_depth) {
    cr_assert(hs_evtype_match("support.*", "support.ticket"));
    cr_assert(hs_evtype_match("support.*", "support.ticket.created"));
    cr_assert(hs_evtype_match("order.line.*", "order.line.added"));
    cr_assert_not(hs_evtype_match("support.*", "support"));
    cr_assert_not(hs_evtype_match("support.*", "support."));
    cr_assert_not(hs_evtype_match("support.*", "supportx.ticket"));
    cr_assert_not(hs_evtype_match("support.*", "order.support.ticket"));
    cr_assert_not(hs_evtype_match("order.line.*", "order.placed"));
}

Test(evtype, null_never_matches) {
    cr_assert_not(hs_evtype_match(NULL, "a"));
    cr_assert_not(hs_evtype_match("*", NULL));
}

Test(evtype, good_patterns) {
    const char *ok[] = {"*", "order", "order.placed", "order.*", "a.b_c.d9.*", "x_1"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        cr_assert(hs_evtype_pattern_ok(ok[i]), "%s", ok[i]);
}

Test(evtype, bad_patterns) {
    const char *bad[] = {"",         "order.",   ".order",    "order..placed", "Order.placed",
                         "order-x",  "order.*x", "order.*.a", "*.placed",      "**",
                         "order.**", "a b",      "order*",    "ord*er"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(hs_evtype_pattern_ok(bad[i]), "%s", bad[i]);
    cr_assert_not(hs_evtype_pattern_ok(NULL));
}
