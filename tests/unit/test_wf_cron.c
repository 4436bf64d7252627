/* Cron schedules: parsing of the usual expressions (lists, ranges, steps, names, macros,
 * @every), the next fire time in UTC, the day-of-month / day-of-week rule, impossible dates, and
 * an error naming the field for each kind of bad input. */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "wf_cron.h"

/* Unix ms of an RFC 3339 UTC time "2024-01-01T00:00:00Z". */
static int64_t ms_of(const char *text) {
    struct tm tm = {0};
    cr_assert_not_null(strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm), "%s", text);
    return (int64_t)timegm(&tm) * 1000;
}

/* The next fire time after `after` as RFC 3339, or "none". */
static const char *next_of(const char *expr, const char *after) {
    static char out[32];
    wf_cron_t c;
    char err[256];
    cr_assert_eq(wf_cron_parse(expr, &c, err, sizeof err), HS_OK, "%s: %s", expr, err);
    int64_t next = wf_cron_next(&c, ms_of(after));
    if (next < 0) return "none";
    time_t t = (time_t)(next / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return out;
}

#define NEXT(expr, after, want)                                                                    \
    cr_expect_str_eq(next_of(expr, after), want, "%s after %s", expr, after)

Test(wf_cron, usual_expressions) {
    NEXT("*/5 * * * *", "2024-01-01T00:02:30Z", "2024-01-01T00:05:00Z");
    NEXT("* * * * *", "2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z"); /* strictly after */
    NEXT("* * * * *", "2024-01-01T00:00:59Z", "2024-01-01T00:01:00Z");
    NEXT("0 9 * * 1-5", "2024-01-06T10:00:00Z", "2024-01-08T09:00:00Z"); /* Sat → Mon */
    NEXT("30 2 1 * *", "2024-01-31T23:00:00Z", "2024-02-01T02:30:00Z");
    NEXT("0 0 1 1 *", "2024-12-31T23:59:00Z", "2025-01-01T00:00:00Z");
    NEXT("15,45 8-10 * * *", "2024-05-05T10:45:00Z", "2024-05-06T08:15:00Z");
    NEXT("5-10/2 * * * *", "2024-05-05T10:07:00Z", "2024-05-05T10:09:00Z");
    NEXT("10/15 * * * *", "2024-05-05T10:41:00Z", "2024-05-05T10:55:00Z");
    NEXT("0 12 * * *", "2024-03-10T01:00:00Z", "2024-03-10T12:00:00Z"); /* UTC: no DST */
    NEXT("0 2 * * *", "2024-03-10T01:00:00Z", "2024-03-10T02:00:00Z");
    NEXT("  0  0  *  *  *  ", "2024-01-01T12:00:00Z", "2024-01-02T00:00:00Z");
}

Test(wf_cron, names) {
    NEXT("0 9 * * MON-FRI", "2024-01-06T10:00:00Z", "2024-01-08T09:00:00Z");
    NEXT("0 0 1 jan,Jul *", "2024-02-01T00:00:00Z", "2024-07-01T00:00:00Z");
    NEXT("0 0 * * sun", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z");
    NEXT("0 0 * * 7", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z"); /* 7 is Sunday */
    NEXT("0 0 * * 5-7", "2024-01-06T12:00:00Z", "2024-01-07T00:00:00Z");
    NEXT("0 0 * DEC-DEC *", "2024-01-01T00:00:00Z", "2024-12-01T00:00:00Z");
}

Test(wf_cron, day_of_month_and_week) {
    /* both restricted: either matches (Friday the 5th comes before the 13th) */
    NEXT("0 0 13 * FRI", "2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z");
    NEXT("0 0 13 * FRI", "2024-01-12T00:00:00Z", "2024-01-13T00:00:00Z");
    /* a field starting with '*' counts as unrestricted: both must match */
    NEXT("0 0 */10 * MON", "2024-01-01T00:00:00Z", "2024-03-11T00:00:00Z");
    NEXT("0 0 * * MON", "2024-01-01T00:00:00Z", "2024-01-08T00:00:00Z");
    NEXT("0 0 31 * *", "2024-04-01T00:00:00Z", "2024-05-31T00:00:00Z");
}

Test(wf_cron, impossible_and_rare_dates) {
    NEXT("0 0 29 2 *", "2023-03-01T00:00:00Z", "2024-02-29T00:00:00Z");
    NEXT("0 0 30 2 *", "2024-01-01T00:00:00Z", "none");
    NEXT("0 0 31 4,6,9,11 *", "2024-01-01T00:00:00Z", "none");
    NEXT("0 0 29 2 *", "2097-03-01T00:00:00Z", "none"); /* 2100 is not a leap year */
}

Test(wf_cron, macros) {
    NEXT("@hourly", "2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z");
    NEXT("@daily", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z");
    NEXT("@midnight", "2024-01-01T00:00:01Z", "2024-01-02T00:00:00Z");
    NEXT("@weekly", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z");
    NEXT("@monthly", "2024-01-15T00:00:00Z", "2024-02-01T00:00:00Z");
    NEXT("@yearly", "2024-01-15T00:00:00Z", "2025-01-01T00:00:00Z");
    NEXT("@annually", "2024-01-15T00:00:00Z", "2025-01-01T00:00:00Z");
    NEXT(" @daily ", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z");
}

Test(wf_cron, every) {
    wf_cron_t c;
    char err[256];
    cr_assert_eq(wf_cron_parse("@every 30s", &c, err, sizeof err), HS_OK, "%s", err);
    cr_expect_eq(c.every_ms, 30000);
    cr_expect_eq(wf_cron_next(&c, 12345), 30000);
    cr_expect_eq(wf_cron_next(&c, 30000), 60000);
    cr_expect_eq(wf_cron_next(&c, 0), 30000);
    cr_expect_eq(wf_cron_next(&c, -1), 0);
    cr_assert_eq(wf_cron_parse("@every 5m ", &c, err, sizeof err), HS_OK, "%s", err);
    cr_expect_eq(wf_cron_next(&c, ms_of("2024-01-01T00:02:00Z")), ms_of("2024-01-01T00:05:00Z"));
}

Test(wf_cron, parsed_bits) {
    wf_cron_t c;
    char err[256];
    cr_assert_eq(wf_cron_parse("0,59 23 1,31 12 0", &c, err, sizeof err), HS_OK, "%s", err);
    cr_expect_eq(c.minutes, 1ULL | 1ULL << 59);
    cr_expect_eq(c.hours, 1u << 23);
    cr_expect_eq(c.mdays, 1u << 1 | 1u << 31);
    cr_expect_eq(c.months, 1u << 12);
    cr_expect_eq(c.wdays, 1u);
    cr_expect(!c.mday_star && !c.wday_star);
    cr_assert_eq(wf_cron_parse("* * * * *", &c, err, sizeof err), HS_OK, "%s", err);
    cr_expect(c.mday_star && c.wday_star);
    cr_expect_eq(c.wdays, 0x7f);
    cr_expect_eq(c.every_ms, 0);
}

static void bad(const char *expr, const char *want) {
    wf_cron_t c;
    char err[256] = "";
    cr_expect_eq(wf_cron_parse(expr, &c, err, sizeof err), HS_ERR_INVALID, "%s parsed", expr);
    cr_expect(strstr(err, want) != NULL, "%s: \"%s\" lacks \"%s\"", expr, err, want);
}

Test(wf_cron, errors_name_the_field) {
    bad("60 * * * *", "minute: bad item \"60\"");
    bad("* 24 * * *", "hour: bad item \"24\"");
    bad("0 0 0 * *", "day of month: bad item \"0\"");
    bad("0 0 32 * *", "day of month");
    bad("0 0 * 13 *", "month: bad item \"13\"");
    bad("0 0 * * 8", "day of week: bad item \"8\"");
    bad("*/0 * * * *", "minute: bad item \"*/0\"");
    bad("5-1 * * * *", "minute: bad item \"5-1\"");
    bad("a * * * *", "minute: bad item \"a\"");
    bad("0 0 * JANUARY *", "month: bad item \"JANUARY\"");
    bad("0 0 * * FUN", "day of week");
    bad("0 0 * MON *", "month");
    bad("1,,2 * * * *", "minute: empty item");
    bad("1, * * * *", "minute: empty item");
    bad("* * * *", "has 4 fields, expected 5");
    bad("* * * * * *", "more than 5 fields");
    bad("", "has 0 fields");
    bad("@foo", "unknown macro");
    bad("@daily 5", "unknown macro");
    bad("@every", "@every needs one duration");
    bad("@every 0s", "@every needs one duration");
    bad("@every 500ms", "@every needs one duration");
    bad("@every abc", "@every needs one duration");
    bad("@every 1m 2m", "@every needs one duration");
    bad("99999999999999 * * * *", "minute");
}
