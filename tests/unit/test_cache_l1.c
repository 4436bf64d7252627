/* cache-proxy's L1: lifetime, LRU within the byte bound, replacement, the tag index
 * (invalidation drops exactly the tagged entries of that tenant), the stamp guard refusing an
 * insert that raced an invalidation or a flush, and the metrics it keeps. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache_l1.h"
#include "hs_metrics.h"

static cache_entry_t *entry(size_t body) {
    char *b = calloc(1, body + 1);
    memset(b, 'x', body);
    cache_entry_t *e = cache_entry_new(200, 1, 2, NULL, 0, b, body);
    free(b);
    cr_assert_not_null(e);
    return e;
}

static cache_l1_put_t put(cache_l1_t *l1, const char *key, const char *tenant, const char *tag,
                          size_t body, int64_t expires, int64_t now) {
    const char *tags[] = {tag};
    size_t n = tag ? 1 : 0;
    uint64_t stamp = cache_l1_stamp(l1, tenant, tags, n);
    cache_entry_t *e = entry(body);
    cache_l1_put_t r = cache_l1_put(l1, key, tenant, tags, n, e, expires, stamp, now);
    cache_entry_unref(e);
    return r;
}

static size_t bytes_of(cache_l1_t *l1) {
    size_t n;
    cache_l1_size(l1, &n, NULL);
    return n;
}

static size_t entries_of(cache_l1_t *l1) {
    size_t n;
    cache_l1_size(l1, NULL, &n);
    return n;
}

static int has(cache_l1_t *l1, const char *key, int64_t now) {
    cache_entry_t *e = cache_l1_get(l1, key, now, NULL);
    cache_entry_unref(e);
    return e != NULL;
}

static double metric(const char *line_start) {
    char *text = hs_metrics_render(), want[128];
    snprintf(want, sizeof want, "\n%s", line_start);
    const char *p = strstr(text, want);
    double v = p ? strtod(p + strlen(want), NULL) : -1;
    free(text);
    return v;
}

Test(cache_l1, lifetime) {
    cache_l1_t *l1 = cache_l1_new(1 << 20);
    cr_assert_eq(put(l1, "k", "", NULL, 10, 1000, 0), CACHE_L1_STORED);
    int64_t exp = 0;
    cache_entry_t *e = cache_l1_get(l1, "k", 999, &exp);
    cr_assert(e && exp == 1000);
    cache_entry_unref(e);
    cr_assert_not(has(l1, "k", 1000), "expired at its expiry");
    cr_assert_eq(entries_of(l1), 0, "and dropped");
    cr_assert_eq(bytes_of(l1), 0);
    cr_assert_eq(put(l1, "k", "", NULL, 10, 5, 5), CACHE_L1_SKIPPED, "already expired");
    cr_assert_eq(metric("hs_cache_l1_evictions_total{reason=\"ttl\"} "), 1);
    cache_l1_destroy(l1);
}

Test(cache_l1, lru_within_the_byte_bound) {
    cache_entry_t *probe = entry(1000);
    size_t one = probe->size + 200; /* an entry and its node, about */
    cache_entry_unref(probe);
    cache_l1_t *l1 = cache_l1_new(3 * one);
    cr_assert_eq(put(l1, "a", "", NULL, 1000, 100, 0), CACHE_L1_STORED);
    cr_assert_eq(put(l1, "b", "", NULL, 1000, 100, 0), CACHE_L1_STORED);
    cr_assert_eq(put(l1, "c", "", NULL, 1000, 100, 0), CACHE_L1_STORED);
    cr_assert(has(l1, "a", 1), "a is now the most recent");
    cr_assert_eq(put(l1, "d", "", NULL, 1000, 100, 0), CACHE_L1_STORED);
    cr_assert_not(has(l1, "b", 1), "b was the least recently used");
    cr_assert(has(l1, "a", 1) && has(l1, "c", 1) && has(l1, "d", 1));
    cr_assert_leq(bytes_of(l1), 3 * one);
    cr_assert_eq(metric("hs_cache_l1_evictions_total{reason=\"lru\"} "), 1);
    cr_assert_eq(metric("hs_cache_l1_entries "), 3);
    cr_assert_eq(metric("hs_cache_l1_bytes "), (double)bytes_of(l1));
    cr_assert_eq(put(l1, "big", "", NULL, 4 * one, 100, 0), CACHE_L1_SKIPPED, "over the bound");
    cr_assert_eq(entries_of(l1), 3, "and nothing was evicted for it");
    cache_l1_destroy(l1);
}

Test(cache_l1, replace_keeps_one_entry) {
    cache_l1_t *l1 = cache_l1_new(1 << 20);
    put(l1, "k", "", "t", 10, 100, 0);
    size_t bytes = bytes_of(l1);
    cr_assert_eq(put(l1, "k", "", "t", 20, 100, 0), CACHE_L1_STORED);
    cr_assert_eq(entries_of(l1), 1);
    cr_assert_eq(bytes_of(l1), bytes + 10);
    cache_entry_t *e = cache_l1_get(l1, "k", 1, NULL);
    cr_assert_eq(e->body_len, 20);
    cache_entry_unref(e);
    cr_assert_eq(cache_l1_invalidate(l1, "", "t"), 1, "the old entry left the tag index");
    cache_l1_destroy(l1);
}

Test(cache_l1, invalidate_drops_the_tag_of_that_tenant) {
    cache_l1_t *l1 = cache_l1_new(1 << 20);
    put(l1, "a1", "acme", "product:1", 10, 100, 0);
    put(l1, "a2", "acme", "product:1", 10, 100, 0);
    put(l1, "a3", "acme", "product:2", 10, 100, 0);
    put(l1, "b1", "beta", "product:1", 10, 100, 0);
    const char *two[] = {"product:1", "list"};
    uint64_t s = cache_l1_stamp(l1, "acme", two, 2);
    cache_entry_t *e = entry(10);
    cr_assert_eq(cache_l1_put(l1, "a4", "acme", two, 2, e, 100, s, 0), CACHE_L1_STORED);
    cache_entry_unref(e);
    cr_assert_eq(cache_l1_invalidate(l1, "acme", "product:1"), 3);
    cr_assert_not(has(l1, "a1", 1) || has(l1, "a2", 1) || has(l1, "a4", 1));
    cr_assert(has(l1, "a3", 1), "another tag");
    cr_assert(has(l1, "b1", 1), "another tenant");
    cr_assert_eq(cache_l1_invalidate(l1, "acme", "list"), 0, "a4 left every tag list");
    cr_assert_eq(cache_l1_invalidate(l1, "acme", "product:1"), 0);
    cr_assert_eq(metric("hs_cache_l1_evictions_total{reason=\"invalidated\"} "), 3);
    cache_l1_destroy(l1);
}

Test(cache_l1, stamp_refuses_an_insert_that_raced_an_invalidation) {
    cache_l1_t *l1 = cache_l1_new(1 << 20);
    const char *tags[] = {"product:1", "products"};
    uint64_t s = cache_l1_stamp(l1, "acme", tags, 2);
    cache_l1_invalidate(l1, "acme", "products"); /* while the lookup was at Redis */
    cache_entry_t *e = entry(10);
    cr_assert_eq(cache_l1_put(l1, "k", "acme", tags, 2, e, 100, s, 0), CACHE_L1_STALE);
    cr_assert_eq(entries_of(l1), 0);
    uint64_t other = cache_l1_stamp(l1, "beta", tags, 2);
    cache_l1_invalidate(l1, "acme", "product:1");
    cr_assert_eq(cache_l1_put(l1, "k", "beta", tags, 2, e, 100, other, 0), CACHE_L1_STORED,
                 "another tenant's invalidation does not refuse it");
    s = cache_l1_stamp(l1, "acme", tags, 2);
    cache_l1_flush(l1);
    cr_assert_eq(cache_l1_put(l1, "k", "acme", tags, 2, e, 100, s, 0), CACHE_L1_STALE,
                 "a flush moves every stamp");
    uint64_t none = cache_l1_stamp(l1, "", NULL, 0);
    cr_assert_eq(cache_l1_put(l1, "u", "", NULL, 0, e, 100, none, 0), CACHE_L1_STORED);
    cache_entry_unref(e);
    cache_l1_destroy(l1);
}

Test(cache_l1, flush_and_disabled) {
    cache_l1_t *l1 = cache_l1_new(1 << 20);
    put(l1, "a", "", "t", 10, 100, 0);
    put(l1, "b", "", NULL, 10, 100, 0);
    cr_assert_eq(cache_l1_flush(l1), 2);
    cr_assert_eq(entries_of(l1), 0);
    cr_assert_eq(bytes_of(l1), 0);
    cr_assert_eq(metric("hs_cache_l1_evictions_total{reason=\"flush\"} "), 2);
    cache_l1_destroy(l1);
    l1 = cache_l1_new(0);
    cr_assert_eq(put(l1, "a", "", NULL, 10, 100, 0), CACHE_L1_SKIPPED);
    cache_l1_destroy(l1);
    cache_l1_destroy(NULL);
}

Test(cache_l1, many_entries_and_tags_stay_consistent) {
    cache_l1_t *l1 = cache_l1_new(1 << 20);
    char key[32], tag[32];
    for (int i = 0; i < 5000; i++) { /* grows both tables, evicts by LRU */
        snprintf(key, sizeof key, "k%d", i);
        snprintf(tag, sizeof tag, "t%d", i % 50);
        put(l1, key, "", tag, 100, 1000, 0);
    }
    size_t n = entries_of(l1), dropped = 0;
    cr_assert(n > 100 && n < 5000, "%zu", n);
    for (int t = 0; t < 50; t++) {
        snprintf(tag, sizeof tag, "t%d", t);
        dropped += cache_l1_invalidate(l1, "", tag);
    }
    cr_assert_eq(dropped, n, "every entry was on exactly one tag list");
    cr_assert_eq(bytes_of(l1), 0);
    cache_l1_destroy(l1);
}
