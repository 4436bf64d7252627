#include "hs_backoff.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ATTEMPTS_LIMIT 1000
#define MAX_DURATION_MS (INT64_C(365) * 86400000) /* a year: anything longer is a typo */

static const struct {
    const char *suffix;
    int64_t ms;
} units[] = {
    {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
};

static const struct {
    const char *name;
    hs_backoff_kind_t kind;
} families[] = {
    {"exponential", HS_BACKOFF_EXPONENTIAL},
    {"fibonacci", HS_BACKOFF_FIBONACCI},
    {"full-jitter", HS_BACKOFF_FULL_JITTER},
    {"decorrelated-jitter", HS_BACKOFF_DECORRELATED_JITTER},
};

int hs_duration_parse(const char *s, int64_t *ms) {
    if (!s || *s < '0' || *s > '9') return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno) return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].suffix) != 0) continue;
        if (v > MAX_DURATION_MS / units[i].ms) return -1;
        *ms = (int64_t)v * units[i].ms;
        return 0;
    }
    return -1;
}

void hs_duration_format(int64_t ms, char *out, size_t n) {
    if (ms == 0) {
        snprintf(out, n, "0s");
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ms % units[i].ms == 0) {
            snprintf(out, n, "%lld%s", (long long)(ms / units[i].ms), units[i].suffix);
            return;
        }
    }
}

static hs_err_t parse_schedule(const char *spec, hs_backoff_t *out, char *errstr, size_t n) {
    out->kind = HS_BACKOFF_SCHEDULE;
    char buf[64];
    const char *p = spec;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof buf)
            return hs_fail(HS_ERR_INVALID, errstr, n, "backoff: bad step \"%.*s\" in \"%s\"",
                           (int)(len > 32 ? 32 : len), p, spec);
        if (out->nschedule == HS_BACKOFF_MAX_STEPS)
            return hs_fail(HS_ERR_INVALID, errstr, n, "backoff: more than %d steps in \"%s\"",
                           HS_BACKOFF_MAX_STEPS, spec);
        memcpy(buf, p, len);
        buf[len] = '\0';
        int64_t ms;
        if (hs_duration_parse(buf, &ms) != 0)
            return hs_fail(HS_ERR_INVALID, errstr, n,
                           "backoff: bad duration \"%s\" (use e.g. 250ms, 5s, 5m, 2h, 1d)", buf);
        out->schedule_ms[out->nschedule++] = ms;
        if (out->nschedule == 1 || ms > out->max_ms) out->max_ms = ms;
        if (!p[len]) break;
        p += len + 1;
    }
    out->initial_ms = out->schedule_ms[0];
    out->max_attempts = (int)out->nschedule + 1;
    return HS_OK;
}

static hs_err_t set_param(hs_backoff_t *out, const char *key, const char *val, char *errstr,
                          size_t n) {
    int64_t ms;
    char *end;
    if (strcmp(key, "initial") == 0 || strcmp(key, "max") == 0) {
        if (hs_duration_parse(val, &ms) != 0)
            return hs_fail(HS_ERR_INVALID, errstr, n, "backoff: bad duration %s=\"%s\"", key, val);
        *(key[0] == 'i' ? &out->initial_ms : &out->max_ms) = ms;
    } else if (strcmp(key, "factor") == 0) {
        errno = 0;
        double f = strtod(val, &end);
        if (errno || end == val || *end || !(f >= 1.0 && f <= 100.0))
            return hs_fail(HS_ERR_INVALID, errstr, n, "backoff: factor \"%s\" is not in 1..100",
                           val);
        out->factor = f;
    } else if (strcmp(key, "attempts") == 0) {
        errno = 0;
        long a = strtol(val, &end, 10);
        if (errno || end == val || *end || a < 1 || a > MAX_ATTEMPTS_LIMIT)
            return hs_fail(HS_ERR_INVALID, errstr, n, "backoff: attempts \"%s\" is not in 1..%d",
                           val, MAX_ATTEMPTS_LIMIT);
        out->max_attempts = (int)a;
    } else {
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "backoff: unknown parameter \"%s\" (initial, max, factor, attempts)", key);
    }
    return HS_OK;
}

static hs_err_t parse_params(const char *params, const char *spec, hs_backoff_t *out, char *errstr,
                             size_t n) {
    char buf[128];
    const char *p = params;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof buf)
            return hs_fail(HS_ERR_INVALID, errstr, n, "backoff: bad parameter list in \"%s\"",
                           spec);
        memcpy(buf, p, len);
        buf[len] = '\0';
        char *eq = strchr(buf, '=');
        if (!eq)
            return hs_fail(HS_ERR_INVALID, errstr, n, "backoff: parameter \"%s\" needs =value",
                           buf);
        *eq = '\0';
        hs_err_t err = set_param(out, buf, eq + 1, errstr, n);
        if (err) return err;
        p += len;
        if (*p == ',' && !*++p)
            return hs_fail(HS_ERR_INVALID, errstr, n, "backoff: trailing comma in \"%s\"", spec);
    }
    return HS_OK;
}

static hs_err_t parse_family(const char *spec, hs_backoff_t *out, char *errstr, size_t n) {
    size_t nlen = strcspn(spec, ":");
    size_t i = 0;
    while (i < sizeof families / sizeof families[0] &&
           (strlen(families[i].name) != nlen || strncmp(families[i].name, spec, nlen) != 0))
        i++;
    if (i == sizeof families / sizeof families[0])
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "backoff: unknown kind \"%.*s\" (exponential, fibonacci, full-jitter, "
                       "decorrelated-jitter, or a list of durations)",
                       (int)(nlen > 40 ? 40 : nlen), spec);
    out->kind = families[i].kind;
    out->initial_ms = 1000;
    out->max_ms = 3600000;
    out->max_attempts = 8;
    if (spec[nlen] == ':') {
        hs_err_t err = parse_params(spec + nlen + 1, spec, out, errstr, n);
        if (err) return err;
    }
    if (out->initial_ms <= 0)
        return hs_fail(HS_ERR_INVALID, errstr, n, "backoff: initial must be > 0 in \"%s\"", spec);
    if (out->max_ms < out->initial_ms)
        return hs_fail(HS_ERR_INVALID, errstr, n, "backoff: max is less than initial in \"%s\"",
                       spec);
    return HS_OK;
}

hs_err_t hs_backoff_parse(const char *spec, hs_backoff_t *out, char *errstr, size_t errstr_size) {
    memset(out, 0, sizeof *out);
    out->factor = 2.0;
    if (!spec || !*spec)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "backoff: empty policy");
    if (*spec >= '0' && *spec <= '9') return parse_schedule(spec, out, errstr, errstr_size);
    return parse_family(spec, out, errstr, errstr_size);
}

static uint64_t xorshift64s(uint64_t *state) {
    uint64_t x = *state ? *state : UINT64_C(0x9E3779B97F4A7C15);
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* Uniform in [lo, hi] (both inclusive); the modulo bias is below 2^-40 for our ranges. */
static int64_t random_between(uint64_t *rng, int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    return lo + (int64_t)(xorshift64s(rng) % (uint64_t)(hi - lo + 1));
}

/* min(max_ms, initial * factor^(attempt-1)) without overflow. */
static int64_t exp_capped(const hs_backoff_t *b, int attempt) {
    double d = (double)b->initial_ms * pow(b->factor, attempt - 1);
    return d >= (double)b->max_ms ? b->max_ms : (int64_t)d;
}

static int64_t fib_capped(const hs_backoff_t *b, int attempt) {
    int64_t a = 1, c = 1; /* fib(1), fib(2) */
    for (int i = 1; i < attempt; i++) {
        if (b->initial_ms * a >= b->max_ms) return b->max_ms;
        int64_t next = a + c;
        a = c;
        c = next;
    }
    return b->initial_ms * a >= b->max_ms ? b->max_ms : b->initial_ms * a;
}

int64_t hs_backoff_next_ms(const hs_backoff_t *b, int attempt, int64_t prev_ms, uint64_t *rng) {
    if (attempt < 1) attempt = 1;
    if (attempt >= b->max_attempts) return -1;
    switch (b->kind) {
    case HS_BACKOFF_SCHEDULE:
        return (size_t)attempt <= b->nschedule ? b->schedule_ms[attempt - 1] : -1;
    case HS_BACKOFF_EXPONENTIAL:
        return exp_capped(b, attempt);
    case HS_BACKOFF_FIBONACCI:
        return fib_capped(b, attempt);
    case HS_BACKOFF_FULL_JITTER:
        return random_between(rng, 0, exp_capped(b, attempt));
    case HS_BACKOFF_DECORRELATED_JITTER: {
        int64_t prev = prev_ms > 0 ? prev_ms : b->initial_ms;
        int64_t hi = prev > b->max_ms / 3 ? b->max_ms : prev * 3;
        int64_t d = random_between(rng, b->initial_ms, hi);
        return d > b->max_ms ? b->max_ms : d;
    }
    }
    return -1;
}

void hs_backoff_format(const hs_backoff_t *b, char *out, size_t n) {
    size_t off = 0;
    out[0] = '\0';
    if (b->kind == HS_BACKOFF_SCHEDULE) {
        for (size_t i = 0; i < b->nschedule && off < n; i++) {
            char d[32];
            hs_duration_format(b->schedule_ms[i], d, sizeof d);
            off += (size_t)snprintf(out + off, n - off, "%s%s", i ? "," : "", d);
        }
        return;
    }
    const char *name = "";
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (families[i].kind == b->kind) name = families[i].name;
    char ini[32], max[32];
    hs_duration_format(b->initial_ms, ini, sizeof ini);
    hs_duration_format(b->max_ms, max, sizeof max);
    snprintf(out, n, "%s:initial=%s,max=%s,factor=%g,attempts=%d", name, ini, max, b->factor,
             b->max_attempts);
}
