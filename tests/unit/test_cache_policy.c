/* What cache-proxy keeps of an upstream answer: statuses, size bound, Cache-Control and
 * Set-Cookie and Vary, TTL lowered by s-maxage/max-age; and the client's no-cache. */
#include <criterion/criterion.h>

#include "cache_policy.h"

static cache_policy_t decide(int status, const char *name, const char *value, size_t len,
                             int64_t *ttl) {
    cache_header_t h[] = {{"Content-Type", "application/json"}, {name, value}};
    const char *why = NULL;
    cache_policy_t p = cache_policy_answer(status, h, name ? 2 : 1, len, 100, 600000, ttl, &why);
    cr_assert(p == CACHE_POLICY_STORE || why, "a reason for not storing");
    return p;
}

Test(cache_policy, statuses) {
    int64_t ttl = 0;
    const int yes[] = {200, 203, 204, 300, 301, 308, 404, 410};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        cr_assert_eq(decide(yes[i], NULL, NULL, 10, &ttl), CACHE_POLICY_STORE, "%d", yes[i]);
    cr_assert_eq(ttl, 600000);
    const int no[] = {201, 206, 302, 304, 400, 401, 403, 429, 500, 502, 503};
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        cr_assert_eq(decide(no[i], NULL, NULL, 10, &ttl), CACHE_POLICY_NOSTORE, "%d", no[i]);
}

Test(cache_policy, size_bound) {
    int64_t ttl;
    cr_assert_eq(decide(200, NULL, NULL, 100, &ttl), CACHE_POLICY_STORE, "at the bound");
    cr_assert_eq(decide(200, NULL, NULL, 101, &ttl), CACHE_POLICY_NOSTORE, "over it");
}

Test(cache_policy, private_answers) {
    int64_t ttl;
    cr_assert_eq(decide(200, "Set-Cookie", "s=1", 1, &ttl), CACHE_POLICY_PRIVATE);
    cr_assert_eq(decide(200, "Cache-Control", "private", 1, &ttl), CACHE_POLICY_PRIVATE);
    cr_assert_eq(decide(200, "cache-control", "public, NO-STORE", 1, &ttl), CACHE_POLICY_PRIVATE);
    cr_assert_eq(decide(500, "Set-Cookie", "s=1", 1, &ttl), CACHE_POLICY_PRIVATE,
                 "never shared, whatever the status");
}

Test(cache_policy, cache_control_and_vary) {
    int64_t ttl = 0;
    cr_assert_eq(decide(200, "Cache-Control", "no-cache", 1, &ttl), CACHE_POLICY_NOSTORE);
    cr_assert_eq(decide(200, "Cache-Control", "max-age=0", 1, &ttl), CACHE_POLICY_NOSTORE);
    cr_assert_eq(decide(200, "Cache-Control", "s-maxage=0, max-age=60", 1, &ttl),
                 CACHE_POLICY_NOSTORE);
    cr_assert_eq(decide(200, "Vary", "Accept, *", 1, &ttl), CACHE_POLICY_NOSTORE);
    cr_assert_eq(decide(200, "Vary", "Accept", 1, &ttl), CACHE_POLICY_STORE);
    cr_assert_eq(decide(200, "Cache-Control", "public, max-age=60", 1, &ttl), CACHE_POLICY_STORE);
    cr_assert_eq(ttl, 60000, "lowered to max-age");
    cr_assert_eq(decide(200, "Cache-Control", "max-age=60, s-maxage=\"120\"", 1, &ttl),
                 CACHE_POLICY_STORE);
    cr_assert_eq(ttl, 120000, "s-maxage wins for a shared cache");
    cr_assert_eq(decide(200, "Cache-Control", "max-age=86400", 1, &ttl), CACHE_POLICY_STORE);
    cr_assert_eq(ttl, 600000, "never longer than the route's ttl");
    cr_assert_eq(decide(200, "Cache-Control", "max-age=abc", 1, &ttl), CACHE_POLICY_NOSTORE,
                 "a malformed max-age counts as 0");
    cr_assert_eq(decide(200, "Cache-Control", "no-cachex", 1, &ttl), CACHE_POLICY_STORE,
                 "directives match whole");
}

Test(cache_policy, client_wants_fresh) {
    cr_assert(cache_policy_wants_fresh("no-cache", NULL));
    cr_assert(cache_policy_wants_fresh("max-age=0", NULL));
    cr_assert(cache_policy_wants_fresh(NULL, "no-cache"));
    cr_assert_not(cache_policy_wants_fresh("max-age=60", NULL));
    cr_assert_not(cache_policy_wants_fresh(NULL, NULL));
    cr_assert_not(cache_policy_wants_fresh("no-store", "x"));
}
