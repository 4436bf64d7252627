/* Dedup window for ingest (see ingest_dedup.h): a chained hash of ids with an LRU list for the
 * bound and an expiry per id, plus an optional Redis connection shared across instances. */
#include "ingest_dedup.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_log.h"
#include "hs_metrics.h"
#include "hs_redis.h"

typedef struct node {
    struct node *hnext;       /* hash chain */
    struct node *prev, *next; /* LRU list, most recent first */
    int in_flight;
    double expires;
    char key[]; /* "source\nid" */
} node_t;

struct hs_dedup {
    pthread_mutex_t mtx;
    node_t **slots;
    size_t nslots, n, cap;
    node_t *head, *tail;
    int window_s;
    pthread_mutex_t rmtx;
    hs_redis_t *redis; /* NULL without Redis; @locks: rmtx */
    int redis_was_up;  /* @locks: rmtx; logs an outage once, and the recovery */
    hs_metric_t *redis_errors;
};

hs_dedup_t *hs_dedup_new(const hs_dedup_opts_t *opts, char *errstr, size_t errstr_size) {
    hs_dedup_t *d = calloc(1, sizeof *d);
    if (!d) return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory"), NULL;
    d->cap = opts->capacity ? opts->capacity : 1;
    d->window_s = opts->window_s > 0 ? opts->window_s : 1;
    d->nslots = 64;
    while (d->nslots < d->cap && d->nslots < (1u << 22))
        d->nslots <<= 1;
    d->slots = calloc(d->nslots, sizeof *d->slots);
    if (!d->slots) {
        free(d);
        return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory"), NULL;
    }
    if (opts->redis_url && opts->redis_url[0]) {
        char e[300];
        int timeout_ms = opts->redis_timeout_ms > 0 ? opts->redis_timeout_ms : 50;
        d->redis = hs_redis_new(opts->redis_url, timeout_ms, e, sizeof e);
        if (!d->redis) {
            hs_fail(HS_ERR_INVALID, errstr, errstr_size, "redis.url: %s", e);
            free(d->slots);
            free(d);
            return NULL;
        }
        d->redis_was_up = 1;
    }
    d->redis_errors = hs_metrics_counter("hs_ingest_dedup_redis_errors_total",
                                         "Dedup lookups or marks that Redis failed to answer "
                                         "(the request was accepted on memory alone)",
                                         NULL);
    pthread_mutex_init(&d->mtx, NULL);
    pthread_mutex_init(&d->rmtx, NULL);
    return d;
}

void hs_dedup_destroy(hs_dedup_t *d) {
    if (!d) return;
    for (node_t *n = d->head, *next; n; n = next) {
        next = n->next;
        free(n);
    }
    free(d->slots);
    hs_redis_destroy(d->redis);
    pthread_mutex_destroy(&d->mtx);
    pthread_mutex_destroy(&d->rmtx);
    free(d);
}

/* ---- memory ----------------------------------------------------------------------------- */

static size_t hash(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

static void lru_unlink(hs_dedup_t *d, node_t *n) {
    if (n->prev)
        n->prev->next = n->next;
    else
        d->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        d->tail = n->prev;
    n->prev = n->next = NULL;
}

static void lru_front(hs_dedup_t *d, node_t *n) {
    n->next = d->head;
    n->prev = NULL;
    if (d->head) d->head->prev = n;
    d->head = n;
    if (!d->tail) d->tail = n;
}

static node_t **find(hs_dedup_t *d, const char *key) {
    node_t **pp = &d->slots[hash(key) & (d->nslots - 1)];
    while (*pp && strcmp((*pp)->key, key))
        pp = &(*pp)->hnext;
    return pp;
}

static void drop(hs_dedup_t *d, node_t *n) {
    node_t **pp = find(d, n->key);
    *pp = n->hnext;
    lru_unlink(d, n);
    free(n);
    d->n--;
}

/* Makes room for one more id: the least recently used id that is not in flight goes. In-flight
 * ids are never dropped (their request is waiting for an ack), so the bound can be passed by
 * the number of requests in flight. */
static void evict(hs_dedup_t *d) {
    node_t *n = d->tail;
    while (d->n >= d->cap && n) {
        node_t *prev = n->prev;
        if (!n->in_flight) drop(d, n);
        n = prev;
    }
}

static void make_key(char *key, size_t size, const char *source, const char *id) {
    snprintf(key, size, "%s\n%s", source, id);
}

/* ---- redis ------------------------------------------------------------------------------ */

/* Runs one command; returns the reply (caller frees) or NULL after counting the failure. An
 * outage is logged when it starts and when it ends, not per request. */
static redisReply *redis_run(hs_dedup_t *d, int argc, const char **argv) {
    char e[300];
    pthread_mutex_lock(&d->rmtx);
    redisReply *r = hs_redis_command(d->redis, argc, argv, NULL, e, sizeof e);
    if (r && r->type == REDIS_REPLY_ERROR) {
        hs_log(HS_LOG_WARN, "dedup: redis command failed", "{s:s, s:s}", "command", argv[0],
               "reason", r->str);
        freeReplyObject(r);
        r = NULL;
    } else if (!r && d->redis_was_up) {
        hs_log(HS_LOG_WARN, "dedup: redis unreachable, using memory only", "{s:s}", "reason", e);
    } else if (r && !d->redis_was_up) {
        hs_log(HS_LOG_INFO, "dedup: redis reachable again", "{s:s}", "addr",
               hs_redis_addr(d->redis));
    }
    d->redis_was_up = hs_redis_up(d->redis);
    pthread_mutex_unlock(&d->rmtx);
    if (!r) hs_metric_add(d->redis_errors, NULL, 1);
    return r;
}

/* 1 when Redis knows the id, 0 when not or unreachable. */
static int redis_seen(hs_dedup_t *d, const char *source, const char *id) {
    char key[600];
    snprintf(key, sizeof key, "hs:dedup:%s:%s", source, id);
    const char *argv[] = {"EXISTS", key};
    redisReply *r = redis_run(d, 2, argv);
    int seen = r && r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    freeReplyObject(r);
    return seen;
}

static void redis_mark(hs_dedup_t *d, const char *source, const char *id) {
    char key[600];
    snprintf(key, sizeof key, "hs:dedup:%s:%s", source, id);
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", d->window_s);
    const char *argv[] = {"SET", key, "1", "NX", "EX", ttl};
    freeReplyObject(redis_run(d, 6, argv));
}

/* ---- api -------------------------------------------------------------------------------- */

static void mark_seen(hs_dedup_t *d, const char *key, double now_s) {
    node_t **pp = find(d, key);
    if (*pp) {
        (*pp)->in_flight = 0;
        (*pp)->expires = now_s + d->window_s;
        lru_unlink(d, *pp);
        lru_front(d, *pp);
    }
}

hs_dedup_state_t hs_dedup_begin(hs_dedup_t *d, const char *source, const char *id, double now_s) {
    char key[600];
    make_key(key, sizeof key, source, id);
    pthread_mutex_lock(&d->mtx);
    node_t **pp = find(d, key), *n = *pp;
    hs_dedup_state_t st = HS_DEDUP_NEW;
    if (n && n->in_flight) {
        st = HS_DEDUP_IN_FLIGHT;
    } else if (n && n->expires > now_s) {
        st = HS_DEDUP_DUPLICATE;
        lru_unlink(d, n);
        lru_front(d, n);
    } else if (n) {
        n->in_flight = 1; /* expired: reuse the node */
    } else {
        evict(d);
        size_t len = strlen(key);
        n = malloc(sizeof *n + len + 1);
        if (n) {
            memcpy(n->key, key, len + 1);
            n->in_flight = 1;
            n->expires = 0;
            n->prev = n->next = NULL;
            pp = find(d, key); /* eviction may have changed the chain */
            n->hnext = *pp;
            *pp = n;
            lru_front(d, n);
            d->n++;
        }
    }
    pthread_mutex_unlock(&d->mtx);
    if (st == HS_DEDUP_NEW && d->redis && redis_seen(d, source, id)) {
        pthread_mutex_lock(&d->mtx);
        mark_seen(d, key, now_s);
        pthread_mutex_unlock(&d->mtx);
        st = HS_DEDUP_DUPLICATE;
    }
    return st;
}

void hs_dedup_commit(hs_dedup_t *d, const char *source, const char *id, double now_s) {
    char key[600];
    make_key(key, sizeof key, source, id);
    pthread_mutex_lock(&d->mtx);
    mark_seen(d, key, now_s);
    pthread_mutex_unlock(&d->mtx);
    if (d->redis) redis_mark(d, source, id);
}

void hs_dedup_abort(hs_dedup_t *d, const char *source, const char *id) {
    char key[600];
    make_key(key, sizeof key, source, id);
    pthread_mutex_lock(&d->mtx);
    node_t *n = *find(d, key);
    if (n && n->in_flight) drop(d, n);
    pthread_mutex_unlock(&d->mtx);
}

size_t hs_dedup_size(hs_dedup_t *d) {
    pthread_mutex_lock(&d->mtx);
    size_t n = d->n;
    pthread_mutex_unlock(&d->mtx);
    return n;
}
