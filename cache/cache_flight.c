/* Singleflight of cache-proxy (see cache_internal.h): a miss waits for the upstream call of a
 * concurrent miss of the same key instead of making its own, so N clients missing at once cost
 * one upstream call. Only the upstream call is shared, never the L2 read: each request reads
 * Redis itself, and joins a flight only when the flight's snapshot (taken by its leader before
 * calling the upstream) is at least as new as the request's own (taken after it arrived). So a
 * request that arrives after an invalidation never gets the answer of an upstream call that
 * began before it: it leads a newer flight, which takes the key's place in the table (the
 * older one still answers the requests that joined it). Waiters hold no thread: their
 * requests stay suspended in the flight until the leader, bounded by
 * cache.upstream_timeout_ms, answers them all. */
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "cache_internal.h"

static flight_t **bucket(cache_proxy_t *p, const char *key) {
    return &p->flights[XXH3_64bits(key, strlen(key)) & (CACHE_FLIGHT_SLOTS - 1)];
}

static flight_t **slot(cache_proxy_t *p, const char *key) {
    flight_t **pp = bucket(p, key);
    while (*pp && strcmp((*pp)->key, key))
        pp = &(*pp)->next;
    return pp;
}

/* 1 when the answer of a flight with snapshot f may be given to a request with snapshot mine:
 * no invalidation the request could know of came after the flight's snapshot. Redis's
 * generations decide when both read them; without them (Redis down for one of the two) only
 * what this proxy was told by the invalidation messages can. Both must agree. */
static int covers(const cache_snap_t *f, const cache_snap_t *mine, size_t ntags) {
    if (f->stamp < mine->stamp) return 0;
    if (!f->has_gens || !mine->has_gens) return 1;
    for (size_t i = 0; i < ntags; i++)
        if (f->gens[i] < mine->gens[i]) return 0;
    return 1;
}

int cache_flight_join(cache_proxy_t *p, job_t *job) {
    flight_t *nf = calloc(1, sizeof *nf);
    pthread_mutex_lock(&p->fmtx);
    flight_t **pp = slot(p, job->key), *f = *pp;
    int leader = !f || !covers(&f->snap, &job->snap, job->ntags);
    if (!leader) {
        job->next = f->waiters;
        f->waiters = job;
    } else if (nf) {
        memcpy(nf->key, job->key, sizeof nf->key);
        nf->snap = job->snap;
        nf->linked = 1;
        nf->next = f ? f->next : NULL;
        if (f) f->linked = 0; /* superseded: it answers its waiters and takes no more */
        *pp = nf;
        job->flight = nf;
        nf = NULL;
    }
    pthread_mutex_unlock(&p->fmtx);
    free(nf); /* not needed, or no memory: then the job leads without a flight */
    if (!leader) hs_metric_add(p->m.waits, &job->route_label, 1);
    return leader;
}

void cache_flight_finish(cache_proxy_t *p, job_t *leader, const cache_entry_t *e,
                         const char *xcache, const char *result) {
    flight_t *f = leader->flight;
    if (!f) return;
    leader->flight = NULL;
    pthread_mutex_lock(&p->fmtx);
    if (f->linked) {
        flight_t **pp = bucket(p, f->key);
        while (*pp != f)
            pp = &(*pp)->next;
        *pp = f->next;
    }
    job_t *waiters = f->waiters;
    pthread_mutex_unlock(&p->fmtx);
    for (job_t *w = waiters, *next; w; w = next) {
        next = w->next;
        if (e) {
            cache_answer(p, w, e, xcache, result);
        } else {
            w->kind = JOB_PRIVATE;
            cache_enqueue(p, w);
        }
    }
    free(f);
}
