/* The cache's scripts on the stack's Redis (HS_REDIS_URL), under a prefix of the test's own:
 * a guarded store, the stale guard refusing a store whose generations moved since they were
 * read, and the invalidation (generation, deleted entries, message, tenants kept apart). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hs_cachetag.h"

static char err[512], prefix[64];
static hs_redis_t *r;

static void setup(void) {
    const char *url = getenv("HS_REDIS_URL");
    if (!url) cr_skip_test("HS_REDIS_URL is not set (run against hookstream dev up)");
    r = hs_redis_new(url, 1000, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    static int seq;
    snprintf(prefix, sizeof prefix, "it:cache:%d:%d:", (int)getpid(), ++seq);
}

static void teardown(void) {
    hs_redis_destroy(r);
}

static long long integer(const char *c, const char *key) {
    const char *argv[] = {c, key};
    redisReply *rep = hs_redis_command(r, 2, argv, NULL, err, sizeof err);
    cr_assert(rep && rep->type == REDIS_REPLY_INTEGER, "%s %s: %s", c, key, err);
    long long v = rep->integer;
    freeReplyObject(rep);
    return v;
}

static void store(const char *tenant, const char *fp, const char *const *tags, size_t n,
                  int expect) {
    long long gens[HS_CACHETAG_MAX_TAGS];
    char key[256];
    cr_assert_eq(hs_cachetag_generations(r, prefix, tenant, tags, n, gens, err, sizeof err), 0,
                 "%s", err);
    hs_cachetag_key(key, sizeof key, prefix, HS_CACHETAG_ENTRY, tenant, fp);
    int stored = -1;
    cr_assert_eq(hs_cachetag_store(r, prefix, tenant, key, "v\0x", 3, 60000, tags, gens, n, &stored,
                                   err, sizeof err),
                 HS_OK, "%s", err);
    cr_assert_eq(stored, expect);
}

Test(cachetag, store_sets_the_entry_and_its_tag_sets, .init = setup, .fini = teardown) {
    const char *tags[] = {"product:1", "list:products"};
    store("acme", "f1", tags, 2, 1);
    char e[256], t[256];
    hs_cachetag_key(e, sizeof e, prefix, HS_CACHETAG_ENTRY, "acme", "f1");
    hs_cachetag_key(t, sizeof t, prefix, HS_CACHETAG_TAGSET, "acme", "list:products");
    long long pttl = integer("PTTL", e);
    cr_assert(pttl > 50000 && pttl <= 60000, "entry PX: %lld", pttl);
    /* absolute expiry times: two PTTL reads would be a millisecond apart */
    cr_assert(integer("PEXPIRETIME", t) >= integer("PEXPIRETIME", e),
              "the tag set outlives its entry");
    const char *get[] = {"GET", e};
    redisReply *rep = hs_redis_command(r, 2, get, NULL, err, sizeof err);
    cr_assert(rep && rep->len == 3 && memcmp(rep->str, "v\0x", 3) == 0, "binary value");
    freeReplyObject(rep);
    cr_assert_eq(integer("SCARD", t), 1);
    store("acme", "f0", NULL, 0, 1); /* no tags: a plain guarded SET */
}

Test(cachetag, stale_guard_refuses_a_store_after_an_invalidation, .init = setup, .fini = teardown) {
    const char *tags[] = {"product:2"};
    long long before[1], deleted = -1;
    char e[256];
    hs_cachetag_key(e, sizeof e, prefix, HS_CACHETAG_ENTRY, "", "f2");
    cr_assert_eq(hs_cachetag_generations(r, prefix, "", tags, 1, before, err, sizeof err), 0);
    cr_assert_eq(before[0], 0, "absent generation reads 0");
    /* the slow miss is at the upstream while the product changes */
    cr_assert_eq(
        hs_cachetag_invalidate(r, prefix, "it:ch", "", "product:2", &deleted, err, sizeof err),
        HS_OK, "%s", err);
    cr_assert_eq(deleted, 0);
    int stored = -1;
    cr_assert_eq(hs_cachetag_store(r, prefix, "", e, "old", 3, 60000, tags, before, 1, &stored, err,
                                   sizeof err),
                 HS_OK, "%s", err);
    cr_assert_eq(stored, 0, "the stale answer is refused");
    cr_assert_eq(integer("EXISTS", e), 0);
    store("", "f2", tags, 1, 1); /* read again after the invalidation: stored */
}

Test(cachetag, invalidate_deletes_publishes_and_keeps_tenants_apart, .init = setup,
     .fini = teardown) {
    const char *tags[] = {"product:3"};
    store("a", "x1", tags, 1, 1);
    store("a", "x2", tags, 1, 1);
    store("b", "x1", tags, 1, 1);
    hs_redis_t *sub = hs_redis_new(getenv("HS_REDIS_URL"), 1000, err, sizeof err);
    char ch[96];
    snprintf(ch, sizeof ch, "%sinvalidate", prefix);
    const char *subscribe[] = {"SUBSCRIBE", ch};
    freeReplyObject(hs_redis_command(sub, 2, subscribe, NULL, err, sizeof err));
    long long deleted = -1;
    for (long long gen = 1; gen <= 2; gen++) {
        cr_assert_eq(
            hs_cachetag_invalidate(r, prefix, ch, "a", "product:3", &deleted, err, sizeof err),
            HS_OK, "%s", err);
        cr_assert_eq(deleted, gen == 1 ? 2 : 0, "both entries of tenant a, then none");
        redisReply *m = NULL;
        cr_assert_eq(hs_redis_wait(sub, 2000, &m, err, sizeof err), HS_OK, "%s", err);
        cr_assert_not_null(m, "published");
        char tenant[HS_CACHETAG_TENANT_MAX + 1], tag[HS_CACHETAG_TAG_MAX + 1];
        long long g = 0;
        cr_assert_eq(
            hs_cachetag_parse_message(m->element[2]->str, m->element[2]->len, tenant, tag, &g), 0,
            "%s", m->element[2]->str);
        cr_assert_str_eq(tenant, "a");
        cr_assert_str_eq(tag, "product:3");
        cr_assert_eq(g, gen);
        freeReplyObject(m);
    }
    char k[256];
    hs_cachetag_key(k, sizeof k, prefix, HS_CACHETAG_TAGSET, "a", "product:3");
    cr_assert_eq(integer("EXISTS", k), 0, "the tag set is gone");
    hs_cachetag_key(k, sizeof k, prefix, HS_CACHETAG_ENTRY, "b", "x1");
    cr_assert_eq(integer("EXISTS", k), 1, "tenant b keeps its entry");
    cr_assert_eq(hs_cachetag_invalidate(r, prefix, ch, "b:x", "p", NULL, err, sizeof err),
                 HS_ERR_INVALID);
    cr_assert(strstr(err, "tenant 'b:x'"), "%s", err);
    cr_assert_eq(hs_cachetag_invalidate(r, prefix, ch, "b", "", NULL, err, sizeof err),
                 HS_ERR_INVALID);
    hs_redis_destroy(sub);
}

Test(cachetag, redis_down_is_unavailable) {
    hs_redis_t *down = hs_redis_new("redis://127.0.0.1:1", 100, err, sizeof err);
    const char *tags[] = {"p:1"};
    long long gens[1];
    cr_assert_eq(hs_cachetag_generations(down, "p:", "", tags, 1, gens, err, sizeof err),
                 HS_ERR_UNAVAILABLE);
    cr_assert_eq(hs_cachetag_invalidate(down, "p:", "c", "", "p:1", NULL, err, sizeof err),
                 HS_ERR_UNAVAILABLE);
    cr_assert(strstr(err, "unavailable"), "%s", err);
    hs_redis_destroy(down);
}
