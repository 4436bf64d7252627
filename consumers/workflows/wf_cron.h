/* Cron schedules for workflow triggers: the five standard fields (minute hour day-of-month month
 * day-of-week) with lists, ranges, steps, names (JAN, MON) and the macros @hourly, @daily,
 * @weekly, @monthly, @yearly, plus "@every <duration>" ("@every 30s"). Times are UTC. Day of
 * month and day of week combine like Vixie cron (either matches when both are restricted). */
#ifndef WF_CRON_H
#define WF_CRON_H

#include <stddef.h>
#include <stdint.h>

#include "hs_err.h"

typedef struct {
    uint64_t minutes;  /* bit m set: minute m (0-59) */
    uint32_t hours;    /* 0-23 */
    uint32_t mdays;    /* 1-31 */
    uint16_t months;   /* 1-12 */
    uint8_t wdays;     /* 0-6, Sunday 0 (7 is read as 0) */
    int mday_star, wday_star;
    int64_t every_ms;  /* "@every": > 0, then the fields are unused */
} wf_cron_t;

/* Parses text into *out. HS_ERR_INVALID with errstr naming the bad field. */
hs_err_t wf_cron_parse(const char *text, wf_cron_t *out, char *errstr, size_t n);

/* The first fire time strictly after after_ms (unix ms, UTC), or -1 when none within 5 years
 * (e.g. "0 0 30 2 *"). "@every D" fires at multiples of D since the epoch. */
int64_t wf_cron_next(const wf_cron_t *c, int64_t after_ms);

#endif
