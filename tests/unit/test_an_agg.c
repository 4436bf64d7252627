/* analytics' in-memory windows: bucketing by event-time minute, late events in
 * their own window, merging of counts, amounts, latency buckets and sketches
 * per key, stock levels (the later event wins), outcome counts, and a reset
 * that forgets everything. */
#include <criterion/criterion.h>
#include <string.h>

#include "an_agg.h"
#include "an_hll.h"

#define T0 INT64_C(1764000000000) /* a whole minute: 2025-11-24T16:00:00Z */

static an_str_t str(const char *s) {
    return (an_str_t){s, strlen(s)};
}

static an_event_t event(const char *type, const char *tenant, int64_t time_ms) {
    an_event_t ev = {0};
    ev.type = str(type);
    ev.source = str("/shopify/shop-1");
    ev.tenant = str(tenant);
    ev.subject = str("");
    ev.time_ms = time_ms;
    ev.produced_ms = time_ms;
    return ev;
}

static void count(const char *type, an_outcome_t outcome, int64_t n, void *opaque) {
    (void)type;
    ((int64_t *)opaque)[outcome] += n;
}

static const an_window_t *find(const an_agg_t *a, const char *type, const char *tenant,
                               int64_t minute) {
    size_t n;
    const an_window_t *w = an_agg_windows(a, &n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(w[i].type, type) && !strcmp(w[i].tenant, tenant) && w[i].minute_ms == minute)
            return &w[i];
    return NULL;
}

Test(an_agg, events_bucket_by_event_minute) {
    an_agg_t *a = an_agg_new(5000);
    an_event_t e1 = event("order.placed", "acme", T0 + 1),
               e2 = event("order.placed", "acme", T0 + 59999);
    an_event_t e3 = event("order.placed", "acme", T0 + 60000);
    an_agg_add(a, &e1, T0 + 60000);
    an_agg_add(a, &e2, T0 + 60000);
    an_agg_add(a, &e3, T0 + 60000);
    size_t n;
    an_agg_windows(a, &n);
    cr_assert_eq(n, 2);
    cr_assert_eq(find(a, "order.placed", "acme", T0)->events, 2);
    cr_assert_eq(find(a, "order.placed", "acme", T0 + 60000)->events, 1);
    cr_assert_eq(an_agg_events(a), 3);
    an_agg_destroy(a);
}

Test(an_agg, times_before_1970_floor_to_their_minute) {
    an_agg_t *a = an_agg_new(5000);
    an_event_t ev = event("order.placed", "", -1);
    an_agg_add(a, &ev, T0);
    cr_assert_not_null(find(a, "order.placed", "", -60000));
    an_agg_destroy(a);
}

Test(an_agg, keys_keep_windows_apart) {
    an_agg_t *a = an_agg_new(5000);
    const char *types[] = {"order.placed", "order.paid"}, *tenants[] = {"acme", "", "globex"};
    for (int t = 0; t < 2; t++)
        for (int n = 0; n < 3; n++)
            for (int k = 0; k <= t + n; k++) {
                an_event_t ev = event(types[t], tenants[n], T0);
                an_agg_add(a, &ev, T0);
            }
    for (int t = 0; t < 2; t++)
        for (int n = 0; n < 3; n++)
            cr_assert_eq(find(a, types[t], tenants[n], T0)->events, t + n + 1, "%s/%s", types[t],
                         tenants[n]);
    an_event_t eur = event("order.placed", "acme", T0), usd = eur;
    eur.has_amount = usd.has_amount = 1;
    memcpy(eur.currency, "EUR", 4);
    memcpy(usd.currency, "USD", 4);
    an_agg_add(a, &eur, T0);
    an_agg_add(a, &usd, T0);
    size_t n;
    an_agg_windows(a, &n);
    cr_assert_eq(n, 8, "currency is part of the key");
    an_agg_destroy(a);
}

Test(an_agg, late_events_update_their_own_window) {
    an_agg_t *a = an_agg_new(5000);
    an_event_t on_time = event("order.placed", "acme", T0 + 30000);
    cr_assert_eq(an_agg_add(a, &on_time, T0 + 64000), 0, "within the grace after its minute");
    an_event_t late = event("order.placed", "acme", T0 + 30000);
    cr_assert_eq(an_agg_add(a, &late, T0 + 65001), 1, "minute ended more than 5 s before");
    an_event_t hours = event("order.placed", "acme", T0 - 3 * 3600000);
    cr_assert_eq(an_agg_add(a, &hours, T0), 1);
    cr_assert_eq(find(a, "order.placed", "acme", T0)->events, 2);
    cr_assert_eq(find(a, "order.placed", "acme", T0 - 3 * 3600000)->events, 1);
    int64_t counts[AN_OUTCOMES] = {0};
    an_agg_each_count(a, count, counts);
    cr_assert_eq(counts[AN_OUT_AGGREGATED], 1);
    cr_assert_eq(counts[AN_OUT_LATE], 2);
    an_agg_destroy(a);
}

Test(an_agg, amounts_merge) {
    an_agg_t *a = an_agg_new(5000);
    static const int64_t amounts[] = {1990000, 5000, 0, 120000};
    for (size_t i = 0; i < sizeof amounts / sizeof amounts[0]; i++) {
        an_event_t ev = event("order.placed", "acme", T0);
        ev.has_amount = 1;
        ev.amount = amounts[i];
        memcpy(ev.currency, "EUR", 4);
        an_agg_add(a, &ev, T0);
    }
    size_t n;
    const an_window_t *w = an_agg_windows(a, &n);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(w->currency, "EUR");
    cr_assert_eq(w->amount_sum, 2115000);
    cr_assert_eq(w->amount_min, 0);
    cr_assert_eq(w->amount_max, 1990000);
    an_agg_destroy(a);
}

Test(an_agg, first_amount_sets_min_and_max) {
    an_agg_t *a = an_agg_new(5000);
    an_event_t ev = event("payment.succeeded", "acme", T0);
    ev.has_amount = 1;
    ev.amount = -500; /* a refund-like negative amount */
    memcpy(ev.currency, "USD", 4);
    an_agg_add(a, &ev, T0);
    size_t n;
    const an_window_t *w = an_agg_windows(a, &n);
    cr_assert_eq(w->amount_min, -500);
    cr_assert_eq(w->amount_max, -500);
    an_agg_destroy(a);
}

Test(an_agg, latency_buckets) {
    an_agg_t *a = an_agg_new(5000);
    static const int64_t lat[] = {0, 10, 11, 999, 1000, 300000, 300001, -5};
    for (size_t i = 0; i < sizeof lat / sizeof lat[0]; i++) {
        an_event_t ev = event("order.placed", "acme", T0);
        ev.produced_ms = T0;
        an_agg_add(a, &ev, T0 + lat[i]);
    }
    an_event_t unknown = event("order.placed", "acme", T0);
    unknown.produced_ms = -1; /* no Kafka timestamp: no latency */
    an_agg_add(a, &unknown, T0 + 5);
    const an_window_t *w = find(a, "order.placed", "acme", T0);
    cr_assert_eq(w->events, 9);
    cr_assert_eq(w->latency_events, 8);
    cr_assert_eq(w->latency[0], 3, "0, 10 and a clock skew of -5 go to <= 10 ms");
    cr_assert_eq(w->latency[1], 1, "11 ms");
    cr_assert_eq(w->latency[6], 2, "999 and 1000 ms go to <= 1000 ms");
    cr_assert_eq(w->latency[10], 1, "300000 ms");
    cr_assert_eq(w->latency[11], 1, "past the last bound");
    cr_assert_eq(w->latency_max_ms, 300001);
    cr_assert_eq(w->latency_sum_ms, 0 + 10 + 11 + 999 + 1000 + 300000 + 300001 + 0);
    an_agg_destroy(a);
}

Test(an_agg, sketches_per_window) {
    an_agg_t *a = an_agg_new(5000);
    char subject[32], customer[32];
    for (int i = 0; i < 300; i++) {
        an_event_t ev = event("order.placed", "acme", T0);
        snprintf(subject, sizeof subject, "order-%d", i);
        snprintf(customer, sizeof customer, "cust-%d", i % 40);
        ev.subject = str(subject);
        ev.customer = str(customer);
        an_agg_add(a, &ev, T0);
    }
    an_event_t none = event("product.updated", "acme", T0);
    an_agg_add(a, &none, T0);
    const an_window_t *w = find(a, "order.placed", "acme", T0);
    cr_assert(an_hll_estimate(w->entities) > 290 && an_hll_estimate(w->entities) < 310);
    cr_assert(an_hll_estimate(w->customers) > 38 && an_hll_estimate(w->customers) < 42);
    w = find(a, "product.updated", "acme", T0);
    cr_assert_null(w->entities, "no subject: no sketch");
    cr_assert_null(w->customers);
    an_agg_destroy(a);
}

static an_event_t stock(const char *sku, an_stock_kind_t kind, int64_t available, int64_t at) {
    an_event_t ev = event(kind == AN_STOCK_LOW ? "inventory.low" : "inventory.updated", "acme", at);
    ev.stock = kind;
    ev.sku = str(sku);
    ev.location = str("loc-1");
    ev.product = str("prod-1");
    ev.available = available;
    ev.threshold = kind == AN_STOCK_LOW ? 5 : -1;
    return ev;
}

Test(an_agg, stock_levels_keep_the_latest_event) {
    an_agg_t *a = an_agg_new(5000);
    an_event_t e[] = {
        stock("HAT-1", AN_STOCK_LOW, 3, T0 + 2000), stock("HAT-1", AN_STOCK_LOW, 4, T0),
        stock("HAT-1", AN_STOCK_LEVEL, 9, T0 + 1000), stock("HAT-2", AN_STOCK_LOW, 1, T0)};
    for (size_t i = 0; i < sizeof e / sizeof e[0]; i++)
        an_agg_add(a, &e[i], T0);
    size_t nl, nv;
    const an_stock_t *low = an_agg_stock_low(a, &nl), *lv = an_agg_stock_levels(a, &nv);
    cr_assert_eq(nl, 2);
    cr_assert_eq(nv, 1);
    const an_stock_t *hat1 = !strcmp(low[0].sku, "HAT-1") ? &low[0] : &low[1];
    cr_assert_eq(hat1->available, 3, "the later low event wins, not the later consumed");
    cr_assert_eq(hat1->threshold, 5);
    cr_assert_eq(hat1->time_ms, T0 + 2000);
    cr_assert_str_eq(hat1->location, "loc-1");
    cr_assert_eq(lv[0].available, 9);
    an_agg_destroy(a);
}

Test(an_agg, dead_letters_count_by_type) {
    an_agg_t *a = an_agg_new(5000);
    an_str_t type = str("order.placed"), none = str(""), bad = {"\xff\xfe", 2};
    an_agg_count_dlq(a, &type);
    an_agg_count_dlq(a, &none);
    an_agg_count_dlq(a, &bad);
    cr_assert_eq(an_agg_events(a), 3, "dead letters move the offset too");
    size_t n;
    an_agg_windows(a, &n);
    cr_assert_eq(n, 0);
    int64_t counts[AN_OUTCOMES] = {0};
    an_agg_each_count(a, count, counts);
    cr_assert_eq(counts[AN_OUT_DLQ], 3);
    an_agg_destroy(a);
}

Test(an_agg, reset_forgets_everything) {
    an_agg_t *a = an_agg_new(5000);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 1000; i++) {
            char tenant[16];
            snprintf(tenant, sizeof tenant, "t%d", i % 97);
            an_event_t ev = event("order.placed", tenant, T0 + (i % 7) * 60000);
            ev.subject = str(tenant);
            an_agg_add(a, &ev, T0);
        }
        an_event_t low = stock("HAT-1", AN_STOCK_LOW, 1, T0);
        an_agg_add(a, &low, T0);
        size_t n, nl;
        const an_window_t *w = an_agg_windows(a, &n);
        int64_t total = 0;
        for (size_t i = 0; i < n; i++)
            total += w[i].events;
        cr_assert_eq(total, 1001, "round %d", round);
        cr_assert_eq(n, 97 * 7 + 1);
        an_agg_stock_low(a, &nl);
        cr_assert_eq(nl, 1);
        an_agg_reset(a);
        cr_assert_eq(an_agg_events(a), 0);
        an_agg_windows(a, &n);
        an_agg_stock_low(a, &nl);
        cr_assert_eq(n + nl, 0);
    }
    an_agg_destroy(a);
}
