/* Retry schedules for outbound delivery: an explicit list of delays ("5s,5m,30m,2h") or a
 * family (exponential, Fibonacci, full jitter, decorrelated jitter) with initial/max/factor and
 * a number of attempts. Parsing, the next delay, and duration text ("250ms", "5s", "2h", "1d").
 * Pure functions: the random state is the caller's, so a schedule is reproducible in tests. */
#ifndef HS_BACKOFF_H
#define HS_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

#include "hs_err.h"

/* Close to what the big webhook services do: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
#define HS_BACKOFF_DEFAULT "5s,5m,30m,2h,5h,10h,10h"

typedef enum {
    HS_BACKOFF_SCHEDULE,
    HS_BACKOFF_EXPONENTIAL,
    HS_BACKOFF_FIBONACCI,
    HS_BACKOFF_FULL_JITTER,
    HS_BACKOFF_DECORRELATED_JITTER
} hs_backoff_kind_t;

#define HS_BACKOFF_MAX_STEPS 32

typedef struct {
    hs_backoff_kind_t kind;
    int64_t initial_ms, max_ms; /* families (SCHEDULE: first and largest step) */
    double factor;              /* exponential / jitter base multiplier (default 2) */
    int max_attempts;           /* total delivery attempts including the first */
    int64_t schedule_ms[HS_BACKOFF_MAX_STEPS];
    size_t nschedule; /* SCHEDULE */
} hs_backoff_t;

/* Parses a policy into *out: "5s,5m,30m,2h,5h,10h,10h" (explicit schedule: attempts = steps + 1,
 * at most HS_BACKOFF_MAX_STEPS steps), or "<family>[:key=value,...]" with family one of
 * exponential, fibonacci, full-jitter, decorrelated-jitter and keys initial (1s), max (1h),
 * factor (2), attempts (8). HS_ERR_INVALID naming the bad part. */
hs_err_t hs_backoff_parse(const char *spec, hs_backoff_t *out, char *errstr, size_t errstr_size);

/* Delay before attempt `attempt`+1 after attempt number `attempt` (1-based) failed, or -1 when
 * attempts are exhausted. prev_ms = previous delay (decorrelated jitter; <= 0 on the first
 * retry), rng = caller's state (xorshift64*, seed nonzero; 0 is replaced by a fixed seed).
 * Always within [0, max_ms] for the families. */
int64_t hs_backoff_next_ms(const hs_backoff_t *b, int attempt, int64_t prev_ms, uint64_t *rng);

/* Writes the policy back as text that hs_backoff_parse reads to the same policy. */
void hs_backoff_format(const hs_backoff_t *b, char *out, size_t n);

/* Formats ms as the shortest exact duration ("500ms", "5s", "2h", "1d"; 0 is "0s"). */
void hs_duration_format(int64_t ms, char *out, size_t n);

/* Parses one duration (digits then ms|s|m|h|d, no sign or spaces) into *ms; returns 0 on
 * success, -1 on error (including overflow). */
int hs_duration_parse(const char *s, int64_t *ms);

#endif
