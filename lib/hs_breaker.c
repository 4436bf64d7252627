#include "hs_breaker.h"

#include <string.h>

static const char *const state_names[] = {
    [HS_BREAKER_CLOSED] = "closed",
    [HS_BREAKER_OPEN] = "open",
    [HS_BREAKER_HALF_OPEN] = "half_open",
};

const char *hs_breaker_state_str(hs_breaker_state_t s) {
    if ((unsigned)s >= sizeof state_names / sizeof state_names[0]) return "unknown";
    return state_names[s];
}

void hs_breaker_opts_default(hs_breaker_opts_t *opts) {
    opts->failure_rate = 0.5;
    opts->min_requests = 10;
    opts->window_ms = 30000;
    opts->open_ms = 30000;
    opts->half_open_probes = 1;
}

static void window_clear(hs_breaker_t *b) {
    memset(b->buckets, 0, sizeof b->buckets);
    for (int i = 0; i < HS_BREAKER_BUCKETS; i++)
        b->buckets[i].epoch = INT64_MIN;
}

void hs_breaker_init(hs_breaker_t *b, const hs_breaker_opts_t *opts) {
    hs_breaker_opts_t def;
    hs_breaker_opts_default(&def);
    memset(b, 0, sizeof *b);
    b->opts = opts ? *opts : def;
    if (!(b->opts.failure_rate > 0)) b->opts.failure_rate = def.failure_rate;
    if (b->opts.failure_rate > 1) b->opts.failure_rate = 1;
    if (b->opts.min_requests <= 0) b->opts.min_requests = def.min_requests;
    if (b->opts.window_ms <= 0) b->opts.window_ms = def.window_ms;
    if (b->opts.open_ms <= 0) b->opts.open_ms = def.open_ms;
    if (b->opts.half_open_probes <= 0) b->opts.half_open_probes = def.half_open_probes;
    b->state = HS_BREAKER_CLOSED;
    window_clear(b);
}

static int64_t bucket_width(const hs_breaker_t *b) {
    int64_t w = b->opts.window_ms / HS_BREAKER_BUCKETS;
    return w > 0 ? w : 1;
}

/* Floor division, so a clock that starts below zero still maps to increasing epochs. */
static int64_t epoch_of(const hs_breaker_t *b, int64_t now_ms) {
    int64_t w = bucket_width(b);
    return now_ms >= 0 ? now_ms / w : -((-now_ms + w - 1) / w);
}

hs_breaker_state_t hs_breaker_state(const hs_breaker_t *b, int64_t now_ms) {
    if (b->state == HS_BREAKER_OPEN && now_ms - b->opened_at >= b->opts.open_ms)
        return HS_BREAKER_HALF_OPEN;
    return b->state;
}

static void open_at(hs_breaker_t *b, int64_t now_ms) {
    b->state = HS_BREAKER_OPEN;
    b->opened_at = now_ms;
    b->probes_out = 0;
    b->probe_ok = 0;
}

int hs_breaker_allow(hs_breaker_t *b, int64_t now_ms, int64_t *wait_ms) {
    hs_breaker_state_t s = hs_breaker_state(b, now_ms);
    if (s == HS_BREAKER_HALF_OPEN && b->state == HS_BREAKER_OPEN) {
        b->state = HS_BREAKER_HALF_OPEN;
        b->probes_out = 0;
        b->probe_ok = 0;
    }
    if (s == HS_BREAKER_CLOSED) return 1;
    if (s == HS_BREAKER_HALF_OPEN && b->probes_out < b->opts.half_open_probes) {
        b->probes_out++;
        return 1;
    }
    if (wait_ms)
        *wait_ms = s == HS_BREAKER_OPEN ? b->opened_at + b->opts.open_ms - now_ms : bucket_width(b);
    return 0;
}

static void count(hs_breaker_t *b, int success, int64_t now_ms) {
    int64_t e = epoch_of(b, now_ms);
    int i = (int)(((e % HS_BREAKER_BUCKETS) + HS_BREAKER_BUCKETS) % HS_BREAKER_BUCKETS);
    if (b->buckets[i].epoch != e) {
        b->buckets[i].epoch = e;
        b->buckets[i].requests = 0;
        b->buckets[i].failures = 0;
    }
    b->buckets[i].requests++;
    if (!success) b->buckets[i].failures++;
    long requests = 0, failures = 0;
    for (int k = 0; k < HS_BREAKER_BUCKETS; k++) {
        /* Buckets older than the window (or from a clock that went back) do not count. */
        if (b->buckets[k].epoch > e - HS_BREAKER_BUCKETS && b->buckets[k].epoch <= e) {
            requests += b->buckets[k].requests;
            failures += b->buckets[k].failures;
        }
    }
    if (requests >= b->opts.min_requests &&
        (double)failures >= b->opts.failure_rate * (double)requests)
        open_at(b, now_ms);
}

void hs_breaker_record(hs_breaker_t *b, int success, int64_t now_ms) {
    switch (b->state) {
    case HS_BREAKER_OPEN:
        return;
    case HS_BREAKER_CLOSED:
        count(b, success, now_ms);
        return;
    case HS_BREAKER_HALF_OPEN:
        if (b->probes_out > 0) b->probes_out--;
        if (!success) {
            open_at(b, now_ms);
        } else if (++b->probe_ok >= b->opts.half_open_probes) {
            b->state = HS_BREAKER_CLOSED;
            window_clear(b);
        }
        return;
    }
}
