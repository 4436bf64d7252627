/* Circuit breaker for one outbound endpoint: CLOSED while the failure rate over a sliding
 * window (10 buckets) stays below a threshold; OPEN (no calls) for open_ms once it is reached
 * with enough requests; then HALF_OPEN, where a few probe calls decide: that many successes
 * close it, one failure re-opens it. Time is injected (any monotonic ms clock), nothing
 * allocates. @locks: none; not thread-safe, the caller owns locking (one breaker per endpoint). */
#ifndef HS_BREAKER_H
#define HS_BREAKER_H

#include <stdint.h>

typedef enum { HS_BREAKER_CLOSED, HS_BREAKER_OPEN, HS_BREAKER_HALF_OPEN } hs_breaker_state_t;

typedef struct {
    double failure_rate;  /* open when failures/requests >= this over the window (0.5) */
    int min_requests;     /* ... and at least this many requests in the window (10) */
    int64_t window_ms;    /* sliding window, 10 buckets (30000) */
    int64_t open_ms;      /* time OPEN before HALF_OPEN (30000) */
    int half_open_probes; /* concurrent probes allowed; that many successes close it (1) */
} hs_breaker_opts_t;

#define HS_BREAKER_BUCKETS 10

/* Public so it can be embedded in an endpoint's struct; fields are private by convention. */
typedef struct {
    hs_breaker_opts_t opts;
    hs_breaker_state_t state; /* as last committed; OPEN turns HALF_OPEN lazily */
    int64_t opened_at;        /* when it last opened */
    int probes_out;           /* HALF_OPEN: probes allowed and not yet recorded */
    int probe_ok;             /* HALF_OPEN: successful probes so far */
    struct {
        int64_t epoch; /* now / bucket width when the bucket was last used */
        int requests, failures;
    } buckets[HS_BREAKER_BUCKETS];
} hs_breaker_t;

/* Fills opts with the defaults above. */
void hs_breaker_opts_default(hs_breaker_opts_t *opts);

/* A CLOSED breaker with opts (copied; NULL = defaults; a field <= 0 takes its default, a
 * failure_rate above 1 is read as 1). */
void hs_breaker_init(hs_breaker_t *b, const hs_breaker_opts_t *opts);

/* 1 when a call may go now (CLOSED, or a free HALF_OPEN probe slot: taken); else 0 and
 * *wait_ms (may be NULL) = time until it may be tried again: the rest of open_ms when OPEN, a
 * tenth of the window while every probe is out. */
int hs_breaker_allow(hs_breaker_t *b, int64_t now_ms, int64_t *wait_ms);

/* Records an allowed call's outcome. A half-open probe failure re-opens for open_ms; enough
 * probe successes close it with an empty window. Outcomes arriving while OPEN (calls allowed
 * before it opened) are ignored. */
void hs_breaker_record(hs_breaker_t *b, int success, int64_t now_ms);

/* Returns the state at now_ms (OPEN past open_ms reads HALF_OPEN). */
hs_breaker_state_t hs_breaker_state(const hs_breaker_t *b, int64_t now_ms);

/* Returns "closed", "open" or "half_open" (static). */
const char *hs_breaker_state_str(hs_breaker_state_t s);

#endif
