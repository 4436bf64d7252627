/* In-memory analytics windows (see an_agg.h). Three open-addressing indexes (interned strings,
 * windows, stock levels) over arrays that are emptied, not freed, by a reset. */
#include "an_agg.h"

#include <stdlib.h>
#include <string.h>

#include "an_hll.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

const int64_t an_lat_bounds_ms[AN_LAT_BUCKETS - 1] = {10,   25,   50,    100,   250,   500,
                                                      1000, 2500, 10000, 60000, 300000};
const char *const an_outcome_names[AN_OUTCOMES] = {"aggregated", "late", "dlq"};

/* Interned strings past this count are forgotten at the next reset (sources or tenants without
 * bound must not grow the process without bound). */
#define DICT_MAX 200000

typedef struct {
    char *s;
    size_t len;
    uint64_t hash;
    int64_t counts[AN_OUTCOMES]; /* when the string is an event type */
} entry_t;

/* Slots hold item index + 1 (0: empty); cap is a power of two, at most half full. */
typedef struct {
    uint32_t *slots;
    size_t cap;
} index_t;

typedef struct {
    an_stock_t *items;
    size_t n, cap;
    index_t idx;
} stocks_t;

/* What finds a window from an event's strings before they are interned (one hash and one probe
 * per event instead of one per string): the key's hash and its strings' lengths. */
typedef struct {
    uint64_t hash;
    uint32_t type;   /* dict index of the type (its outcome counts) */
    uint32_t len[4]; /* type, source, tenant, currency */
} win_meta_t;

struct an_agg {
    int64_t late_after_ms;
    entry_t *dict;
    size_t ndict, capdict;
    index_t dict_idx;
    an_window_t *wins;
    win_meta_t *meta; /* parallel to wins */
    size_t nwins, capwins, capmeta;
    index_t win_idx;
    uint8_t **sketches; /* pool: the first nsketches are in use */
    size_t nsketches, capsketches;
    stocks_t low, levels;
    int64_t events;
};

static void *grow(void *p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    p = realloc(p, c * size);
    if (!p) abort();
    *cap = c;
    return p;
}

/* ---- indexes ------------------------------------------------------------------------------ */

typedef int (*eq_fn)(const void *ctx, uint32_t item);

/* Returns the slot holding an item eq accepts, or the empty slot where it belongs (call
 * index_reserve first: it guarantees a free slot). */
static uint32_t *index_find(const index_t *x, uint64_t hash, eq_fn eq, const void *ctx) {
    size_t mask = x->cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask)
        if (!x->slots[i] || eq(ctx, x->slots[i] - 1)) return &x->slots[i];
}

/* Makes room for one more of n items: doubles and re-inserts (hash_of gives each one's hash). */
static void index_reserve(index_t *x, size_t n, uint64_t (*hash_of)(const void *, uint32_t),
                          const void *ctx) {
    if (x->cap && (n + 1) * 2 <= x->cap) return;
    free(x->slots);
    x->cap = x->cap ? x->cap * 2 : 256;
    if (!(x->slots = calloc(x->cap, sizeof *x->slots))) abort();
    for (uint32_t i = 0; i < n; i++) {
        size_t mask = x->cap - 1, s = hash_of(ctx, i) & mask;
        while (x->slots[s])
            s = (s + 1) & mask;
        x->slots[s] = i + 1;
    }
}

static void index_clear(index_t *x) {
    if (x->cap) memset(x->slots, 0, x->cap * sizeof *x->slots);
}

/* ---- interned strings --------------------------------------------------------------------- */

typedef struct {
    const an_agg_t *a;
    const char *s;
    size_t len;
} str_key_t;

static int str_eq(const void *ctx, uint32_t i) {
    const str_key_t *k = ctx;
    const entry_t *e = &k->a->dict[i];
    return e->len == k->len && !memcmp(e->s, k->s, k->len);
}

static uint64_t str_hash(const void *ctx, uint32_t i) {
    return ((const an_agg_t *)ctx)->dict[i].hash;
}

/* Returns the index of the interned copy of s (entries move when the dictionary grows: callers
 * keep indexes, while the strings themselves stay put). */
static uint32_t intern(an_agg_t *a, const char *s, size_t len) {
    uint64_t h = XXH3_64bits(s, len);
    str_key_t k = {a, s, len};
    index_reserve(&a->dict_idx, a->ndict, str_hash, a);
    uint32_t *slot = index_find(&a->dict_idx, h, str_eq, &k);
    if (*slot) return *slot - 1;
    a->dict = grow(a->dict, &a->capdict, a->ndict + 1, sizeof *a->dict);
    entry_t *e = &a->dict[a->ndict];
    *e = (entry_t){.s = malloc(len + 1), .len = len, .hash = h};
    if (!e->s) abort();
    memcpy(e->s, s, len);
    e->s[len] = '\0';
    *slot = (uint32_t)++a->ndict;
    return (uint32_t)(a->ndict - 1);
}

static const char *istr(an_agg_t *a, const char *s, size_t len) {
    uint32_t i = intern(a, s, len); /* before reading a->dict: interning may move it */
    return a->dict[i].s;
}

/* ---- windows ------------------------------------------------------------------------------ */

/* A window's key as the event carries it: strings borrowed from the message. */
typedef struct {
    int64_t minute;
    const char *s[4]; /* type, source, tenant, currency */
    size_t len[4];
} raw_key_t;

static uint64_t raw_hash(const raw_key_t *k) {
    uint64_t h = (uint64_t)k->minute;
    for (int i = 0; i < 4; i++)
        h = XXH3_64bits_withSeed(k->s[i], k->len[i], h);
    return h;
}

static const char *win_str(const an_window_t *w, int i) {
    return i == 0 ? w->type : i == 1 ? w->source : i == 2 ? w->tenant : w->currency;
}

typedef struct {
    const an_agg_t *a;
    const raw_key_t *key;
    uint64_t hash;
} win_ctx_t;

static int win_eq(const void *ctx, uint32_t i) {
    const win_ctx_t *c = ctx;
    const an_window_t *w = &c->a->wins[i];
    const win_meta_t *m = &c->a->meta[i];
    if (m->hash != c->hash || w->minute_ms != c->key->minute) return 0;
    for (int k = 0; k < 4; k++)
        if (m->len[k] != c->key->len[k] || memcmp(win_str(w, k), c->key->s[k], m->len[k])) return 0;
    return 1;
}

static uint64_t win_hash(const void *ctx, uint32_t i) {
    return ((const an_agg_t *)ctx)->meta[i].hash;
}

static uint8_t *sketch_take(an_agg_t *a) {
    if (a->nsketches == a->capsketches) {
        size_t old = a->capsketches;
        a->sketches = grow(a->sketches, &a->capsketches, old + 1, sizeof *a->sketches);
        for (size_t i = old; i < a->capsketches; i++)
            if (!(a->sketches[i] = malloc(AN_HLL_M))) abort();
    }
    uint8_t *s = a->sketches[a->nsketches++];
    memset(s, 0, AN_HLL_M);
    return s;
}

/* Returns the window of key, made (its strings interned) when it is new; *type is the dict
 * index of its type. */
static an_window_t *window_of(an_agg_t *a, const raw_key_t *key, uint32_t *type) {
    win_ctx_t ctx = {a, key, raw_hash(key)};
    index_reserve(&a->win_idx, a->nwins, win_hash, a);
    uint32_t *slot = index_find(&a->win_idx, ctx.hash, win_eq, &ctx);
    if (*slot) {
        *type = a->meta[*slot - 1].type;
        return &a->wins[*slot - 1];
    }
    a->wins = grow(a->wins, &a->capwins, a->nwins + 1, sizeof *a->wins);
    a->meta = grow(a->meta, &a->capmeta, a->nwins + 1, sizeof *a->meta);
    win_meta_t *m = &a->meta[a->nwins];
    *m = (win_meta_t){.hash = ctx.hash, .type = intern(a, key->s[0], key->len[0])};
    const char *s[4];
    for (int i = 0; i < 4; i++) {
        m->len[i] = (uint32_t)key->len[i];
        s[i] = i ? istr(a, key->s[i], key->len[i]) : a->dict[m->type].s;
    }
    an_window_t *w = &a->wins[a->nwins];
    *w = (an_window_t){
        .minute_ms = key->minute, .type = s[0], .source = s[1], .tenant = s[2], .currency = s[3]};
    *slot = (uint32_t)++a->nwins;
    *type = m->type;
    return w;
}

static void add_latency(an_window_t *w, int64_t ms) {
    if (ms < 0) ms = 0;
    size_t b = 0;
    while (b < AN_LAT_BUCKETS - 1 && ms > an_lat_bounds_ms[b])
        b++;
    w->latency[b]++;
    w->latency_events++;
    w->latency_sum_ms += ms;
    if (ms > w->latency_max_ms) w->latency_max_ms = ms;
}

/* Windows with a currency hold only events with an amount: the first event sets min and max. */
static void add_amount(an_window_t *w, int64_t v) {
    if (w->events == 1) w->amount_min = w->amount_max = v;
    if (v < w->amount_min) w->amount_min = v;
    if (v > w->amount_max) w->amount_max = v;
    w->amount_sum += v;
}

/* ---- stock levels ------------------------------------------------------------------------- */

typedef struct {
    const stocks_t *st;
    const char *tenant, *sku;
} stock_key_t;

static int stock_eq(const void *ctx, uint32_t i) {
    const stock_key_t *k = ctx;
    return k->st->items[i].tenant == k->tenant && k->st->items[i].sku == k->sku;
}

static uint64_t stock_hash_key(const char *tenant, const char *sku) {
    const void *key[2] = {tenant, sku};
    return XXH3_64bits(key, sizeof key);
}

static uint64_t stock_hash(const void *ctx, uint32_t i) {
    const an_stock_t *s = &((const stocks_t *)ctx)->items[i];
    return stock_hash_key(s->tenant, s->sku);
}

/* Keeps the later (by event time) of the known and the new level of (tenant, sku). */
static void stock_put(stocks_t *st, const an_stock_t *s) {
    uint64_t h = stock_hash_key(s->tenant, s->sku);
    stock_key_t k = {st, s->tenant, s->sku};
    index_reserve(&st->idx, st->n, stock_hash, st);
    uint32_t *slot = index_find(&st->idx, h, stock_eq, &k);
    if (*slot) {
        an_stock_t *old = &st->items[*slot - 1];
        if (s->time_ms >= old->time_ms) *old = *s;
        return;
    }
    st->items = grow(st->items, &st->cap, st->n + 1, sizeof *st->items);
    st->items[st->n] = *s;
    *slot = (uint32_t)++st->n;
}

static void add_stock(an_agg_t *a, const an_event_t *ev, const char *tenant) {
    an_stock_t s = {.tenant = tenant,
                    .sku = istr(a, ev->sku.s, ev->sku.len),
                    .location = istr(a, ev->location.s, ev->location.len),
                    .product = istr(a, ev->product.s, ev->product.len),
                    .available = ev->available,
                    .threshold = ev->threshold,
                    .time_ms = ev->time_ms};
    stock_put(ev->stock == AN_STOCK_LOW ? &a->low : &a->levels, &s);
}

/* ---- API ---------------------------------------------------------------------------------- */

an_agg_t *an_agg_new(int64_t late_after_ms) {
    an_agg_t *a = calloc(1, sizeof *a);
    if (!a) abort();
    a->late_after_ms = late_after_ms;
    return a;
}

static void dict_free(an_agg_t *a) {
    for (size_t i = 0; i < a->ndict; i++)
        free(a->dict[i].s);
    a->ndict = 0;
    index_clear(&a->dict_idx);
}

void an_agg_destroy(an_agg_t *a) {
    if (!a) return;
    dict_free(a);
    free(a->dict);
    free(a->dict_idx.slots);
    free(a->wins);
    free(a->meta);
    free(a->win_idx.slots);
    for (size_t i = 0; i < a->capsketches; i++)
        free(a->sketches[i]);
    free(a->sketches);
    free(a->low.items);
    free(a->low.idx.slots);
    free(a->levels.items);
    free(a->levels.idx.slots);
    free(a);
}

int an_agg_add(an_agg_t *a, const an_event_t *ev, int64_t now_ms) {
    int64_t minute = ev->time_ms - ((ev->time_ms % 60000) + 60000) % 60000;
    raw_key_t key = {minute,
                     {ev->type.s, ev->source.s, ev->tenant.s, ev->currency},
                     {ev->type.len, ev->source.len, ev->tenant.len, strlen(ev->currency)}};
    uint32_t type;
    an_window_t *w = window_of(a, &key, &type);
    w->events++;
    if (ev->has_amount) add_amount(w, ev->amount);
    if (ev->produced_ms > 0) add_latency(w, now_ms - ev->produced_ms);
    if (ev->subject.len) {
        if (!w->entities) w->entities = sketch_take(a);
        an_hll_add(w->entities, an_hll_hash(ev->subject.s, ev->subject.len));
    }
    if (ev->customer.len) {
        if (!w->customers) w->customers = sketch_take(a);
        an_hll_add(w->customers, an_hll_hash(ev->customer.s, ev->customer.len));
    }
    if (ev->stock != AN_STOCK_NONE) add_stock(a, ev, w->tenant);
    int late = now_ms > minute + 60000 + a->late_after_ms;
    a->dict[type].counts[late ? AN_OUT_LATE : AN_OUT_AGGREGATED]++;
    a->events++;
    return late;
}

void an_agg_count_dlq(an_agg_t *a, const an_str_t *type) {
    int usable = type->len && type->len <= AN_TYPE_MAX && an_event_utf8_ok(type->s, type->len);
    uint32_t i = usable ? intern(a, type->s, type->len) : intern(a, "unknown", 7);
    a->dict[i].counts[AN_OUT_DLQ]++;
    a->events++;
}

int64_t an_agg_events(const an_agg_t *a) {
    return a->events;
}

const an_window_t *an_agg_windows(const an_agg_t *a, size_t *n) {
    *n = a->nwins;
    return a->wins;
}

const an_stock_t *an_agg_stock_low(const an_agg_t *a, size_t *n) {
    *n = a->low.n;
    return a->low.items;
}

const an_stock_t *an_agg_stock_levels(const an_agg_t *a, size_t *n) {
    *n = a->levels.n;
    return a->levels.items;
}

void an_agg_each_count(const an_agg_t *a,
                       void (*fn)(const char *type, an_outcome_t outcome, int64_t count,
                                  void *opaque),
                       void *opaque) {
    for (size_t i = 0; i < a->ndict; i++)
        for (int o = 0; o < AN_OUTCOMES; o++)
            if (a->dict[i].counts[o])
                fn(a->dict[i].s, (an_outcome_t)o, a->dict[i].counts[o], opaque);
}

void an_agg_reset(an_agg_t *a) {
    a->nwins = 0;
    index_clear(&a->win_idx);
    a->nsketches = 0;
    a->low.n = a->levels.n = 0;
    index_clear(&a->low.idx);
    index_clear(&a->levels.idx);
    a->events = 0;
    if (a->ndict > DICT_MAX) {
        dict_free(a);
        return;
    }
    for (size_t i = 0; i < a->ndict; i++)
        memset(a->dict[i].counts, 0, sizeof a->dict[i].counts);
}
