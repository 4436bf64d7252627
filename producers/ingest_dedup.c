/* Dedup window for ingest (see ingest_dedup.h): a chained hash of ids with an LRU list for the
 * bound and an expiry per id, plus an optional Redis connection shared across instances. */
#include "ingest_dedup.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hs_log.h"
#include "hs_metrics.h"

#define BACKOFF_MIN_S 0.1
#define BACKOFF_MAX_S 5.0

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
    /* Redis, guarded by rmtx */
    pthread_mutex_t rmtx;
    char host[256];
    int port, timeout_ms;
    redisContext *rc;
    double retry_at, backoff;
    hs_metric_t *redis_errors;
};

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_redis_url(const char *url, char *host, size_t host_size, int *port) {
    const char *p = strncmp(url, "redis://", 8) == 0 ? url + 8 : NULL;
    if (!p) return -1;
    const char *at = strrchr(p, '@'); /* credentials are not supported: refuse them */
    if (at) return -1;
    const char *colon = strrchr(p, ':');
    size_t hlen = colon ? (size_t)(colon - p) : strcspn(p, "/");
    if (hlen == 0 || hlen >= host_size) return -1;
    memcpy(host, p, hlen);
    host[hlen] = 0;
    *port = 6379;
    if (colon) {
        char *end;
        long v = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || (*end && *end != '/') || v < 1 || v > 65535) return -1;
        *port = (int)v;
    }
    return 0;
}

hs_dedup_t *hs_dedup_new(const hs_dedup_opts_t *opts, char *errstr, size_t errstr_size) {
    hs_dedup_t *d = calloc(1, sizeof *d);
    if (!d) return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory"), NULL;
    d->cap = opts->capacity ? opts->capacity : 1;
    d->window_s = opts->window_s > 0 ? opts->window_s : 1;
    d->nslots = 64;
    while (d->nslots < d->cap && d->nslots < (1u << 22))
        d->nslots <<= 1;
    d->slots = calloc(d->nslots, sizeof *d->slots);
    d->timeout_ms = opts->redis_timeout_ms > 0 ? opts->redis_timeout_ms : 50;
    d->backoff = BACKOFF_MIN_S;
    if (opts->redis_url && opts->redis_url[0] &&
        parse_redis_url(opts->redis_url, d->host, sizeof d->host, &d->port)) {
        hs_fail(HS_ERR_INVALID, errstr, errstr_size, "redis.url: '%s' is not redis://HOST[:PORT]",
                opts->redis_url);
        free(d->slots);
        free(d);
        return NULL;
    }
    if (!d->slots) {
        free(d);
        return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory"), NULL;
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
    if (d->rc) redisFree(d->rc);
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

/* Returns a connected context or NULL (while backing off, or connect failed). rmtx held. */
static redisContext *redis_conn(hs_dedup_t *d) {
    if (d->rc) return d->rc;
    double now = mono_s();
    if (now < d->retry_at) return NULL;
    struct timeval tv = {d->timeout_ms / 1000, (d->timeout_ms % 1000) * 1000};
    d->rc = redisConnectWithTimeout(d->host, d->port, tv);
    if (d->rc && !d->rc->err && redisSetTimeout(d->rc, tv) == REDIS_OK) {
        d->backoff = BACKOFF_MIN_S;
        return d->rc;
    }
    hs_log(HS_LOG_WARN, "dedup: redis unreachable, using memory only", "{s:s, s:i, s:s, s:f}",
           "host", d->host, "port", d->port, "reason", d->rc ? d->rc->errstr : "out of memory",
           "retry_in_s", d->backoff);
    redisFree(d->rc);
    d->rc = NULL;
    d->retry_at = now + d->backoff;
    d->backoff = d->backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : d->backoff * 2;
    return NULL;
}

/* Runs one command; returns the reply (caller frees) or NULL after counting the failure. */
static redisReply *redis_run(hs_dedup_t *d, const char *fmt, const char *key, int window_s) {
    pthread_mutex_lock(&d->rmtx);
    redisContext *c = redis_conn(d);
    redisReply *r = c ? redisCommand(c, fmt, key, window_s) : NULL;
    if (c && (!r || r->type == REDIS_REPLY_ERROR)) {
        hs_log(HS_LOG_WARN, "dedup: redis command failed", "{s:s}", "reason",
               r ? r->str : c->errstr);
        if (!r) { /* the connection is broken: reconnect after the backoff */
            redisFree(d->rc);
            d->rc = NULL;
            d->retry_at = mono_s() + d->backoff;
        }
        freeReplyObject(r);
        r = NULL;
    }
    pthread_mutex_unlock(&d->rmtx);
    if (!r) hs_metric_add(d->redis_errors, NULL, 1);
    return r;
}

/* 1 when Redis knows the id, 0 when not or unreachable. */
static int redis_seen(hs_dedup_t *d, const char *source, const char *id) {
    char key[600];
    snprintf(key, sizeof key, "hs:dedup:%s:%s", source, id);
    redisReply *r = redis_run(d, "EXISTS %s", key, 0);
    int seen = r && r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    freeReplyObject(r);
    return seen;
}

static void redis_mark(hs_dedup_t *d, const char *source, const char *id) {
    char key[600];
    snprintf(key, sizeof key, "hs:dedup:%s:%s", source, id);
    freeReplyObject(redis_run(d, "SET %s 1 NX EX %d", key, d->window_s));
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
    if (st == HS_DEDUP_NEW && d->host[0] && redis_seen(d, source, id)) {
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
    if (d->host[0]) redis_mark(d, source, id);
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
