/* cache-proxy's singleflight: who may join whose upstream call. A miss joins a flight only
 * when the flight's snapshot (tag generations in Redis, the L1 stamp) is at least as new as
 * its own in every part; otherwise it leads a newer flight that takes the key's place, while
 * the older one keeps answering its own waiters. Ending a flight hands a private answer's
 * waiters back to the queue. (The race against a real Redis and upstream:
 * tests/e2e/cache_singleflight.sh.) */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cache_internal.h"

static cache_proxy_t p;

static void setup(void) {
    memset(&p, 0, sizeof p);
    pthread_mutex_init(&p.fmtx, NULL);
    pthread_mutex_init(&p.qmtx, NULL);
    pthread_cond_init(&p.qcond, NULL);
    p.m.waits = hs_metrics_counter("hs_cache_singleflight_waits_total", "waits", "route");
}

TestSuite(cache_flight, .init = setup);

/* A lookup job of key with 2 tags: generations g0, g1 (has_gens 0 when g0 < 0) and stamp. */
static job_t *job(const char *key, long long g0, long long g1, uint64_t stamp) {
    job_t *j = calloc(1, sizeof *j);
    cr_assert_not_null(j);
    j->kind = JOB_LOOKUP;
    j->route_label = "/products/{id}";
    snprintf(j->key, sizeof j->key, "%s", key);
    j->ntags = 2;
    j->snap.stamp = stamp;
    j->snap.has_gens = g0 >= 0;
    j->snap.gens[0] = g0;
    j->snap.gens[1] = g1;
    return j;
}

static int waits_on(const job_t *leader, const job_t *j) {
    for (const job_t *w = leader->flight->waiters; w; w = w->next)
        if (w == j) return 1;
    return 0;
}

/* Ends leader's flight with a private answer: its waiters go back to the queue. Returns how
 * many did, and frees them and the leader. */
static int finish_private(job_t *leader) {
    cache_flight_finish(&p, leader, NULL, "MISS", "miss");
    int n = 0;
    for (job_t *j = p.qhead, *next; j; j = next, n++) {
        next = j->next;
        cr_assert_eq(j->kind, JOB_PRIVATE);
        free(j);
    }
    p.qhead = p.qtail = NULL;
    p.qlen = 0;
    free(leader);
    return n;
}

Test(cache_flight, concurrent_misses_share_one_call) {
    job_t *a = job("k", 3, 7, 10), *b = job("k", 3, 7, 10), *c = job("other", 3, 7, 10);
    cr_assert_eq(cache_flight_join(&p, a), 1, "the first miss leads");
    cr_assert_not_null(a->flight);
    cr_assert_eq(cache_flight_join(&p, b), 0, "the same snapshot joins");
    cr_assert(waits_on(a, b));
    cr_assert_eq(cache_flight_join(&p, c), 1, "another key has its own flight");
    cr_assert_eq(finish_private(a), 1);
    cr_assert_eq(finish_private(c), 0);
}

Test(cache_flight, an_older_snapshot_joins) {
    /* taken before the leader's: the leader's call began after anything the request knew of */
    job_t *a = job("k", 3, 7, 10), *b = job("k", 2, 7, 9);
    cr_assert_eq(cache_flight_join(&p, a), 1);
    cr_assert_eq(cache_flight_join(&p, b), 0);
    cr_assert_eq(finish_private(a), 1);
}

Test(cache_flight, a_newer_generation_leads_a_newer_flight) {
    job_t *a = job("k", 3, 7, 10), *b = job("k", 3, 8, 10), *c = job("k", 3, 8, 10);
    job_t *d = job("k", 3, 7, 10);
    cr_assert_eq(cache_flight_join(&p, a), 1);
    cr_assert_eq(cache_flight_join(&p, b), 1, "tag 1 was invalidated after a's snapshot");
    cr_assert_eq(cache_flight_join(&p, c), 0, "later requests join the newer flight");
    cr_assert(waits_on(b, c));
    cr_assert_eq(cache_flight_join(&p, d), 0, "even one with a's snapshot: b's is newer");
    cr_assert(waits_on(b, d));
    cr_assert_eq(finish_private(a), 0, "the superseded flight took no more requests");
    job_t *e = job("k", 3, 8, 10);
    cr_assert_eq(cache_flight_join(&p, e), 0, "ending the old flight left the new one in place");
    cr_assert_eq(finish_private(b), 3);
    job_t *f = job("k", 3, 8, 10);
    cr_assert_eq(cache_flight_join(&p, f), 1, "no flight left: a new miss leads");
    cr_assert_eq(finish_private(f), 0);
}

/* a leads, then b, which must not join a's flight, leads too */
static void second_leads(job_t *a, job_t *b) {
    cr_assert_eq(cache_flight_join(&p, a), 1);
    cr_assert_eq(cache_flight_join(&p, b), 1);
    cr_assert_eq(finish_private(a), 0);
    cr_assert_eq(finish_private(b), 0);
}

Test(cache_flight, snapshots_newer_in_different_tags_do_not_join) {
    second_leads(job("k", 4, 7, 10), job("k", 3, 8, 10));
}

Test(cache_flight, a_newer_l1_stamp_leads_even_with_equal_generations) {
    /* an invalidation this proxy applied (a write through it) that Redis did not count */
    second_leads(job("k", 3, 7, 10), job("k", 3, 7, 11));
}

Test(cache_flight, without_generations_the_stamp_decides) {
    /* Redis did not answer the joiner (or the leader): only the L1 stamps can be compared */
    job_t *a = job("k", 3, 7, 10), *b = job("k", -1, 0, 10), *c = job("k", -1, 0, 11);
    cr_assert_eq(cache_flight_join(&p, a), 1);
    cr_assert_eq(cache_flight_join(&p, b), 0, "same stamp: nothing this proxy heard of since");
    cr_assert_eq(cache_flight_join(&p, c), 1, "a newer stamp: an invalidation since");
    job_t *d = job("k", 9, 9, 11);
    cr_assert_eq(cache_flight_join(&p, d), 0, "a leader without generations: the stamp");
    cr_assert(waits_on(c, d));
    cr_assert_eq(finish_private(a), 1);
    cr_assert_eq(finish_private(c), 1);
}
