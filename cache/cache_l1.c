/* The L1 (see cache_l1.h): two intrusive chained hash tables (entries by key, tags by
 * "tenant\ttag"), an LRU list, and a link per (entry, tag) on the tag's list. The stamps are
 * counters in a fixed array of slots indexed by the tag's hash, plus one epoch moved by a
 * flush: a stamp is their sum, which only grows, so "unchanged" is "equal". Two tags sharing
 * a slot only cost an occasional refused insert. */
#include "cache_l1.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "hs_cachetag.h"
#include "hs_metrics.h"

#define GEN_SLOTS 4096
#define TAGKEY_MAX (HS_CACHETAG_TENANT_MAX + HS_CACHETAG_TAG_MAX + 2)

typedef struct hitem {
    struct hitem *hnext;
    uint64_t hash;
    const char *key;
} hitem_t;

typedef struct {
    hitem_t **slots;
    size_t nslots, n;
} htab_t;

struct node;

typedef struct tagnode {
    hitem_t h; /* first: a tagnode_t * is its hitem_t * */
    struct link *head;
    char key[]; /* "tenant\ttag" */
} tagnode_t;

typedef struct link {
    tagnode_t *tag;
    struct node *entry;
    struct link *prev, *next;
} link_t;

typedef struct node {
    hitem_t h;                /* first */
    struct node *prev, *next; /* LRU, most recent first */
    cache_entry_t *e;
    int64_t expires_ms;
    size_t bytes, ntags;
    link_t *links;
    char *key;
} node_t;

struct cache_l1 {
    pthread_mutex_t mtx;
    size_t max_bytes, bytes;
    htab_t entries, tags;
    node_t *head, *tail;
    uint64_t epoch, gens[GEN_SLOTS];
    hs_metric_t *m_bytes, *m_entries, *m_evictions;
};

/* ---- hash tables ------------------------------------------------------------------------ */

static uint64_t hash(const char *s) {
    return XXH3_64bits(s, strlen(s));
}

static int ht_init(htab_t *t) {
    t->nslots = 64;
    t->n = 0;
    t->slots = calloc(t->nslots, sizeof *t->slots);
    return t->slots ? 0 : -1;
}

static hitem_t **ht_slot(htab_t *t, const char *key, uint64_t h) {
    hitem_t **pp = &t->slots[h & (t->nslots - 1)];
    while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key)))
        pp = &(*pp)->hnext;
    return pp;
}

static void ht_grow(htab_t *t) {
    size_t n = t->nslots * 2;
    hitem_t **slots = calloc(n, sizeof *slots);
    if (!slots) return; /* longer chains, still correct */
    for (size_t i = 0; i < t->nslots; i++)
        for (hitem_t *it = t->slots[i], *next; it; it = next) {
            next = it->hnext;
            it->hnext = slots[it->hash & (n - 1)];
            slots[it->hash & (n - 1)] = it;
        }
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
}

static void ht_insert(htab_t *t, hitem_t *it) {
    if (t->n >= t->nslots) ht_grow(t);
    hitem_t **slot = &t->slots[it->hash & (t->nslots - 1)];
    it->hnext = *slot;
    *slot = it;
    t->n++;
}

static void ht_remove(htab_t *t, hitem_t *it) {
    hitem_t **pp = &t->slots[it->hash & (t->nslots - 1)];
    while (*pp != it)
        pp = &(*pp)->hnext;
    *pp = it->hnext;
    t->n--;
}

/* ---- entries ----------------------------------------------------------------------------- */

static void lru_unlink(cache_l1_t *l1, node_t *n) {
    if (n->prev)
        n->prev->next = n->next;
    else
        l1->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l1->tail = n->prev;
    n->prev = n->next = NULL;
}

static void lru_front(cache_l1_t *l1, node_t *n) {
    n->next = l1->head;
    n->prev = NULL;
    if (l1->head) l1->head->prev = n;
    l1->head = n;
    if (!l1->tail) l1->tail = n;
}

static void tagkey(char *out, const char *tenant, const char *tag) {
    snprintf(out, TAGKEY_MAX, "%s\t%s", tenant, tag);
}

static void unlink_tag(cache_l1_t *l1, link_t *k) {
    tagnode_t *t = k->tag;
    if (k->prev)
        k->prev->next = k->next;
    else
        t->head = k->next;
    if (k->next) k->next->prev = k->prev;
    if (!t->head) {
        ht_remove(&l1->tags, &t->h);
        free(t);
    }
}

/* Removes n and counts it under reason (NULL: a replacement, not an eviction). */
static void drop(cache_l1_t *l1, node_t *n, const char *reason) {
    ht_remove(&l1->entries, &n->h);
    lru_unlink(l1, n);
    for (size_t i = 0; i < n->ntags; i++)
        unlink_tag(l1, &n->links[i]);
    l1->bytes -= n->bytes;
    cache_entry_unref(n->e);
    free(n);
    if (reason) hs_metric_add(l1->m_evictions, &reason, 1);
}

static void gauges(cache_l1_t *l1) {
    hs_metric_set(l1->m_bytes, NULL, (double)l1->bytes);
    hs_metric_set(l1->m_entries, NULL, (double)l1->entries.n);
}

static int link_tag(cache_l1_t *l1, node_t *n, link_t *k, const char *tenant, const char *tag) {
    char key[TAGKEY_MAX];
    tagkey(key, tenant, tag);
    uint64_t h = hash(key);
    hitem_t **slot = ht_slot(&l1->tags, key, h);
    tagnode_t *t = (tagnode_t *)*slot;
    if (!t) {
        size_t len = strlen(key);
        if (!(t = calloc(1, sizeof *t + len + 1))) return -1;
        memcpy(t->key, key, len + 1);
        t->h.hash = h;
        t->h.key = t->key;
        ht_insert(&l1->tags, &t->h);
    }
    k->tag = t;
    k->entry = n;
    k->prev = NULL;
    k->next = t->head;
    if (t->head) t->head->prev = k;
    t->head = k;
    return 0;
}

/* ---- api --------------------------------------------------------------------------------- */

cache_l1_t *cache_l1_new(size_t max_bytes) {
    cache_l1_t *l1 = calloc(1, sizeof *l1);
    if (!l1) return NULL;
    if (ht_init(&l1->entries) || ht_init(&l1->tags)) {
        free(l1->entries.slots);
        free(l1);
        return NULL;
    }
    l1->max_bytes = max_bytes;
    pthread_mutex_init(&l1->mtx, NULL);
    l1->m_bytes = hs_metrics_gauge("hs_cache_l1_bytes", "Bytes held by cache-proxy's L1.", NULL);
    l1->m_entries = hs_metrics_gauge("hs_cache_l1_entries", "Entries in cache-proxy's L1.", NULL);
    l1->m_evictions = hs_metrics_counter(
        "hs_cache_l1_evictions_total",
        "Entries that left the L1 before being replaced: lru (room), ttl (expired), invalidated "
        "(a tag), flush (the invalidation subscription was lost).",
        "reason");
    gauges(l1);
    return l1;
}

void cache_l1_destroy(cache_l1_t *l1) {
    if (!l1) return;
    while (l1->head)
        drop(l1, l1->head, NULL);
    free(l1->entries.slots);
    free(l1->tags.slots);
    pthread_mutex_destroy(&l1->mtx);
    free(l1);
}

static uint64_t stamp_locked(cache_l1_t *l1, const char *tenant, const char *const *tags,
                             size_t ntags) {
    uint64_t s = l1->epoch;
    for (size_t i = 0; i < ntags; i++) {
        char key[TAGKEY_MAX];
        tagkey(key, tenant, tags[i]);
        s += l1->gens[hash(key) & (GEN_SLOTS - 1)];
    }
    return s;
}

uint64_t cache_l1_stamp(cache_l1_t *l1, const char *tenant, const char *const *tags, size_t ntags) {
    pthread_mutex_lock(&l1->mtx);
    uint64_t s = stamp_locked(l1, tenant, tags, ntags);
    pthread_mutex_unlock(&l1->mtx);
    return s;
}

cache_entry_t *cache_l1_get(cache_l1_t *l1, const char *key, int64_t now_ms, int64_t *expires_ms) {
    uint64_t h = hash(key);
    cache_entry_t *e = NULL;
    pthread_mutex_lock(&l1->mtx);
    node_t *n = (node_t *)*ht_slot(&l1->entries, key, h);
    if (n && n->expires_ms <= now_ms) {
        drop(l1, n, "ttl");
        gauges(l1);
    } else if (n) {
        lru_unlink(l1, n);
        lru_front(l1, n);
        e = cache_entry_ref(n->e);
        if (expires_ms) *expires_ms = n->expires_ms;
    }
    pthread_mutex_unlock(&l1->mtx);
    return e;
}

/* Evicts from the LRU end until need more bytes fit. */
static void make_room(cache_l1_t *l1, size_t need, int64_t now_ms) {
    while (l1->tail && l1->bytes + need > l1->max_bytes)
        drop(l1, l1->tail, l1->tail->expires_ms <= now_ms ? "ttl" : "lru");
}

static node_t *node_new(const char *key, size_t ntags, cache_entry_t *entry) {
    size_t klen = strlen(key);
    size_t bytes = sizeof(node_t) + ntags * sizeof(link_t) + klen + 1;
    node_t *n = calloc(1, bytes);
    if (!n) return NULL;
    n->links = (link_t *)(n + 1);
    n->key = (char *)(n->links + ntags);
    memcpy(n->key, key, klen + 1);
    n->h.hash = hash(key);
    n->h.key = n->key;
    n->bytes = bytes + entry->size;
    n->e = cache_entry_ref(entry);
    return n;
}

cache_l1_put_t cache_l1_put(cache_l1_t *l1, const char *key, const char *tenant,
                            const char *const *tags, size_t ntags, cache_entry_t *entry,
                            int64_t expires_ms, uint64_t stamp, int64_t now_ms) {
    if (!l1->max_bytes || expires_ms <= now_ms || ntags > HS_CACHETAG_MAX_TAGS)
        return CACHE_L1_SKIPPED;
    node_t *n = node_new(key, ntags, entry);
    if (!n) return CACHE_L1_SKIPPED;
    cache_l1_put_t res = CACHE_L1_STORED;
    pthread_mutex_lock(&l1->mtx);
    if (n->bytes > l1->max_bytes)
        res = CACHE_L1_SKIPPED;
    else if (stamp_locked(l1, tenant, tags, ntags) != stamp)
        res = CACHE_L1_STALE;
    if (res == CACHE_L1_STORED) {
        node_t *old = (node_t *)*ht_slot(&l1->entries, key, n->h.hash);
        if (old) drop(l1, old, NULL);
        make_room(l1, n->bytes, now_ms);
        n->expires_ms = expires_ms;
        for (size_t i = 0; i < ntags; i++) {
            if (link_tag(l1, n, &n->links[i], tenant, tags[i])) break;
            n->ntags++;
        }
        ht_insert(&l1->entries, &n->h);
        lru_front(l1, n);
        l1->bytes += n->bytes;
        if (n->ntags < ntags) { /* out of memory linking a tag: never keep it half-indexed */
            drop(l1, n, NULL);
            res = CACHE_L1_SKIPPED;
        }
        gauges(l1);
    }
    pthread_mutex_unlock(&l1->mtx);
    if (res != CACHE_L1_STORED) {
        cache_entry_unref(n->e);
        free(n);
    }
    return res;
}

size_t cache_l1_invalidate(cache_l1_t *l1, const char *tenant, const char *tag) {
    char key[TAGKEY_MAX];
    tagkey(key, tenant, tag);
    uint64_t h = hash(key);
    size_t dropped = 0;
    pthread_mutex_lock(&l1->mtx);
    l1->gens[h & (GEN_SLOTS - 1)]++;
    tagnode_t *t;
    /* each drop may free the tag node: look it up again */
    while ((t = (tagnode_t *)*ht_slot(&l1->tags, key, h))) {
        drop(l1, t->head->entry, "invalidated");
        dropped++;
    }
    gauges(l1);
    pthread_mutex_unlock(&l1->mtx);
    return dropped;
}

size_t cache_l1_flush(cache_l1_t *l1) {
    size_t dropped = 0;
    pthread_mutex_lock(&l1->mtx);
    l1->epoch++;
    while (l1->head) {
        drop(l1, l1->head, "flush");
        dropped++;
    }
    gauges(l1);
    pthread_mutex_unlock(&l1->mtx);
    return dropped;
}

void cache_l1_size(cache_l1_t *l1, size_t *bytes, size_t *entries) {
    pthread_mutex_lock(&l1->mtx);
    if (bytes) *bytes = l1->bytes;
    if (entries) *entries = l1->entries.n;
    pthread_mutex_unlock(&l1->mtx);
}
