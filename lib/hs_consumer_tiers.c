/* Retry tier names and schedules of the consumer runtime: a tier's topic is
 * <group>.retry.<label>, where the label is the tier's delay in the largest unit that divides it
 * ("500ms", "5s", "5m", "2h"), so the names read like the schedule in consumer.retry_tiers. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"
#include "hs_consumer.h"

typedef struct {
    const char *suffix;
    int64_t ms;
} unit_t;

/* Largest first: the formatter takes the first unit that divides the delay. */
static const unit_t units[] = {
    {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
};
#define NUNITS (sizeof units / sizeof units[0])

char *hs_consumer_tier_label(int64_t ms, char *buf, size_t size) {
    for (size_t i = 0; i < NUNITS; i++) {
        /* Days read worse than hours in a topic name ("1d" vs "24h" is fine, "2d" is rare). */
        if (units[i].ms == 86400000) continue;
        if (ms > 0 && ms % units[i].ms == 0) {
            snprintf(buf, size, "%" PRId64 "%s", ms / units[i].ms, units[i].suffix);
            return buf;
        }
    }
    snprintf(buf, size, "%" PRId64 "ms", ms);
    return buf;
}

static hs_err_t parse_one(const char *s, size_t len, int64_t *ms, char *errstr, size_t n) {
    char tok[64];
    if (len == 0 || len >= sizeof tok)
        return hs_fail(HS_ERR_INVALID, errstr, n, "retry tier '%.*s': expected a delay like 5s",
                       (int)(len < 64 ? len : 64), s);
    memcpy(tok, s, len);
    tok[len] = '\0';
    errno = 0;
    char *end = NULL;
    long long v = strtoll(tok, &end, 10);
    if (end == tok || errno || v <= 0)
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "retry tier '%s': expected a positive number and a unit (ms, s, m, h, d)",
                       tok);
    for (size_t i = 0; i < NUNITS; i++) {
        if (strcmp(end, units[i].suffix) != 0) continue;
        if (v > INT64_MAX / units[i].ms)
            return hs_fail(HS_ERR_INVALID, errstr, n, "retry tier '%s': too large", tok);
        *ms = (int64_t)v * units[i].ms;
        return HS_OK;
    }
    return hs_fail(HS_ERR_INVALID, errstr, n, "retry tier '%s': unknown unit '%s' (ms, s, m, h, d)",
                   tok, end);
}

hs_err_t hs_consumer_tiers_parse(const char *spec, int64_t *tiers_ms, size_t max, size_t *n,
                                 char *errstr, size_t errstr_size) {
    *n = 0;
    const char *p = spec ? spec : "";
    for (;;) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, ",");
        size_t tl = len;
        while (tl > 0 && p[tl - 1] == ' ')
            tl--;
        int64_t ms = 0;
        hs_err_t rc = parse_one(p, tl, &ms, errstr, errstr_size);
        if (rc != HS_OK) return rc;
        if (*n == max)
            return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "more than %zu retry tiers", max);
        if (*n > 0 && ms <= tiers_ms[*n - 1])
            return hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                           "retry tier '%.*s': tiers must be strictly ascending", (int)tl, p);
        tiers_ms[(*n)++] = ms;
        if (p[len] == '\0') return HS_OK;
        p += len + 1;
    }
}

size_t hs_consumer_tier_pick(const int64_t *tiers_ms, size_t n, int64_t after_ms) {
    size_t pick = 0;
    for (size_t i = 0; i < n; i++)
        if (tiers_ms[i] <= after_ms) pick = i;
    return pick;
}

size_t hs_consumer_topics_split(const char *spec, char *buf, size_t size, const char **topics) {
    snprintf(buf, size, "%s", spec);
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < HS_CONSUMER_MAX_TOPICS;
         t = strtok_r(NULL, ",", &save))
        topics[n++] = t;
    topics[n] = NULL;
    return n;
}
