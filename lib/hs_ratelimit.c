/* Token buckets, single and keyed (see hs_ratelimit.h). The keyed table is a chained hash whose
 * size is bounded by dropping idle buckets, which carry no state a new bucket would not. */
#include "hs_ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void hs_bucket_init(hs_bucket_t *b) {
    b->tokens = 0;
    b->at = -1;
}

static void refill(hs_bucket_t *b, double rate, double burst, double now_s) {
    if (b->at < 0) {
        b->tokens = burst;
    } else if (now_s > b->at) {
        b->tokens += (now_s - b->at) * rate;
        if (b->tokens > burst) b->tokens = burst;
    }
    if (b->at < 0 || now_s > b->at) b->at = now_s;
}

int hs_bucket_take(hs_bucket_t *b, double rate, double burst, double now_s, double *retry_after_s) {
    if (rate <= 0) return 1;
    if (burst < 1) burst = 1;
    refill(b, rate, burst, now_s);
    if (b->tokens >= 1) {
        b->tokens -= 1;
        return 1;
    }
    if (retry_after_s) *retry_after_s = (1 - b->tokens) / rate;
    return 0;
}

int hs_bucket_idle(const hs_bucket_t *b, double rate, double burst, double now_s) {
    if (b->at < 0 || rate <= 0) return 1;
    if (burst < 1) burst = 1;
    double tokens = b->tokens + (now_s > b->at ? (now_s - b->at) * rate : 0);
    return tokens >= burst;
}

int hs_ratelimit_retry_after(double wait_s) {
    double s = ceil(wait_s);
    if (s < 1) return 1;
    return s > 86400 ? 86400 : (int)s;
}

typedef struct entry {
    struct entry *next;
    hs_bucket_t bucket;
    double rate, burst;
    char key[];
} entry_t;

struct hs_ratelimit {
    pthread_mutex_t mtx;
    entry_t **slots;
    size_t nslots, n, max;
};

hs_ratelimit_t *hs_ratelimit_new(size_t max_keys) {
    hs_ratelimit_t *rl = calloc(1, sizeof *rl);
    if (!rl) return NULL;
    rl->max = max_keys ? max_keys : 100000;
    rl->nslots = 1024;
    while (rl->nslots < rl->max && rl->nslots < (1u << 20))
        rl->nslots <<= 1;
    rl->slots = calloc(rl->nslots, sizeof *rl->slots);
    if (!rl->slots) {
        free(rl);
        return NULL;
    }
    pthread_mutex_init(&rl->mtx, NULL);
    return rl;
}

void hs_ratelimit_destroy(hs_ratelimit_t *rl) {
    if (!rl) return;
    for (size_t i = 0; i < rl->nslots; i++) {
        for (entry_t *e = rl->slots[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(rl->slots);
    pthread_mutex_destroy(&rl->mtx);
    free(rl);
}

static size_t hash(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

/* Drops every idle bucket; returns how many went. */
static size_t sweep(hs_ratelimit_t *rl, double now_s) {
    size_t dropped = 0;
    for (size_t i = 0; i < rl->nslots; i++) {
        for (entry_t **pp = &rl->slots[i]; *pp;) {
            entry_t *e = *pp;
            if (hs_bucket_idle(&e->bucket, e->rate, e->burst, now_s)) {
                *pp = e->next;
                free(e);
                dropped++;
            } else {
                pp = &e->next;
            }
        }
    }
    rl->n -= dropped;
    return dropped;
}

static entry_t *find_or_add(hs_ratelimit_t *rl, const char *key, double now_s) {
    size_t slot = hash(key) & (rl->nslots - 1);
    for (entry_t *e = rl->slots[slot]; e; e = e->next)
        if (!strcmp(e->key, key)) return e;
    if (rl->n >= rl->max && sweep(rl, now_s) == 0) return NULL;
    size_t len = strlen(key);
    entry_t *e = malloc(sizeof *e + len + 1);
    if (!e) return NULL;
    memcpy(e->key, key, len + 1);
    hs_bucket_init(&e->bucket);
    e->next = rl->slots[slot];
    rl->slots[slot] = e;
    rl->n++;
    return e;
}

int hs_ratelimit_take(hs_ratelimit_t *rl, const char *key, double rate, double burst, double now_s,
                      double *retry_after_s) {
    if (rate <= 0) return 1;
    pthread_mutex_lock(&rl->mtx);
    entry_t *e = find_or_add(rl, key, now_s);
    int ok = 1;
    if (e) {
        e->rate = rate;
        e->burst = burst;
        ok = hs_bucket_take(&e->bucket, rate, burst, now_s, retry_after_s);
    }
    pthread_mutex_unlock(&rl->mtx);
    return ok;
}

size_t hs_ratelimit_size(hs_ratelimit_t *rl) {
    pthread_mutex_lock(&rl->mtx);
    size_t n = rl->n;
    pthread_mutex_unlock(&rl->mtx);
    return n;
}
