/* Cron schedules (wf_cron.h): five fields parsed into bit sets, and the next fire time found by
 * walking days (at most 5 years of them) and scanning each matching day's bits. */
#include "wf_cron.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "hs_backoff.h"

#define MINUTE_MS 60000LL
#define DAY_MS 86400000LL
#define HORIZON_DAYS (5 * 366)

typedef struct {
    const char *name;
    int lo, hi;
    const char *const *names; /* names[i] is value lo + i; NULL when the field has none */
    int nnames;
} field_t;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const wday_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/* Day of week accepts 7 for Sunday; it is folded to 0 when the bits are stored. */
static const field_t fields[5] = {
    {"minute", 0, 59, NULL, 0},           {"hour", 0, 23, NULL, 0},
    {"day of month", 1, 31, NULL, 0},     {"month", 1, 12, month_names, 12},
    {"day of week", 0, 7, wday_names, 7},
};

static const struct {
    const char *name, *expr;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* Reads a number or a name of f at *p (advanced); -1 when there is none or it is out of range. */
static int read_value(const field_t *f, const char **p) {
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        long v = 0;
        while (isdigit((unsigned char)*s) && v <= 1000)
            v = v * 10 + (*s++ - '0');
        *p = s;
        return v >= f->lo && v <= f->hi ? (int)v : -1;
    }
    if (!f->names || !isalpha((unsigned char)s[0]) || !isalpha((unsigned char)s[1]) ||
        !isalpha((unsigned char)s[2]) || isalpha((unsigned char)s[3]))
        return -1;
    for (int i = 0; i < f->nnames; i++) {
        if (strncasecmp(s, f->names[i], 3) == 0) {
            *p = s + 3;
            return f->lo + i;
        }
    }
    return -1;
}

/* Parses one comma-separated item ("*", "*\/5", "3", "1-5", "1-5/2", "10/15") into bits. */
static int parse_item(const field_t *f, const char *s, uint64_t *bits) {
    int lo, hi, step = 1;
    if (*s == '*') {
        lo = f->lo;
        hi = f->hi == 7 ? 6 : f->hi;
        s++;
    } else {
        if ((lo = read_value(f, &s)) < 0) return -1;
        hi = lo;
        if (*s == '-') {
            s++;
            if ((hi = read_value(f, &s)) < 0 || hi < lo) return -1;
        } else if (*s == '/') {
            hi = f->hi == 7 ? 6 : f->hi; /* "10/15" is "10-max/15" as in Vixie cron */
        }
    }
    if (*s == '/') {
        s++;
        if (!isdigit((unsigned char)*s)) return -1;
        long v = 0;
        while (isdigit((unsigned char)*s) && v <= 1000)
            v = v * 10 + (*s++ - '0');
        if (v < 1 || v > f->hi) return -1;
        step = (int)v;
    }
    if (*s) return -1;
    for (int v = lo; v <= hi; v += step)
        *bits |= 1ULL << (f->hi == 7 && v == 7 ? 0 : v);
    return 0;
}

static hs_err_t parse_field(const field_t *f, const char *text, size_t len, uint64_t *bits,
                            char *errstr, size_t n) {
    char buf[128];
    if (len >= sizeof buf)
        return hs_fail(HS_ERR_INVALID, errstr, n, "cron: %s: longer than %zu characters", f->name,
                       sizeof buf - 1);
    memcpy(buf, text, len);
    buf[len] = 0;
    if (buf[0] == ',' || buf[len - 1] == ',' || strstr(buf, ",,"))
        return hs_fail(HS_ERR_INVALID, errstr, n, "cron: %s: empty item in \"%s\"", f->name, buf);
    *bits = 0;
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save))
        if (parse_item(f, item, bits) != 0)
            return hs_fail(HS_ERR_INVALID, errstr, n,
                           "cron: %s: bad item \"%s\" (values %d-%d, *, a-b, */n, a-b/n%s)",
                           f->name, item, f->lo, f->hi, f->names ? ", names" : "");
    return HS_OK;
}

static hs_err_t parse_every(const char *d, wf_cron_t *out, char *errstr, size_t n) {
    d += strspn(d, " \t");
    char buf[32];
    size_t len = strcspn(d, " \t");
    snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), d);
    int64_t ms;
    if (len >= sizeof buf || d[len + strspn(d + len, " \t")] || hs_duration_parse(buf, &ms) != 0 ||
        ms < 1000)
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "cron: @every needs one duration of at least 1s (e.g. 30s, 5m), not \"%s\"",
                       d);
    out->every_ms = ms;
    return HS_OK;
}

static hs_err_t parse_fields(const char *text, wf_cron_t *out, char *errstr, size_t n) {
    const char *p = text;
    uint64_t bits[5];
    for (int i = 0; i < 5; i++) {
        p += strspn(p, " \t");
        size_t len = strcspn(p, " \t");
        if (!len)
            return hs_fail(HS_ERR_INVALID, errstr, n,
                           "cron: \"%s\" has %d fields, expected 5 (minute hour day-of-month "
                           "month day-of-week) or a macro such as @daily",
                           text, i);
        hs_err_t err = parse_field(&fields[i], p, len, &bits[i], errstr, n);
        if (err) return err;
        if (i == 2) out->mday_star = *p == '*';
        if (i == 4) out->wday_star = *p == '*';
        p += len;
    }
    p += strspn(p, " \t");
    if (*p) return hs_fail(HS_ERR_INVALID, errstr, n, "cron: \"%s\" has more than 5 fields", text);
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->mdays = (uint32_t)bits[2];
    out->months = (uint16_t)bits[3];
    out->wdays = (uint8_t)bits[4];
    return HS_OK;
}

hs_err_t wf_cron_parse(const char *text, wf_cron_t *out, char *errstr, size_t n) {
    memset(out, 0, sizeof *out);
    if (!text) return hs_fail(HS_ERR_INVALID, errstr, n, "cron: empty schedule");
    text += strspn(text, " \t");
    size_t len = strcspn(text, " \t");
    if (len == 6 && strncmp(text, "@every", 6) == 0) return parse_every(text + 6, out, errstr, n);
    if (text[0] == '@') {
        int alone = text[len + strspn(text + len, " \t")] == 0;
        for (size_t i = 0; i < sizeof macros / sizeof macros[0] && alone; i++)
            if (strlen(macros[i].name) == len && strncmp(text, macros[i].name, len) == 0)
                return parse_fields(macros[i].expr, out, errstr, n);
        return hs_fail(HS_ERR_INVALID, errstr, n,
                       "cron: unknown macro \"%s\" (use @hourly, @daily, @weekly, @monthly, "
                       "@yearly or @every <duration>)",
                       text);
    }
    return parse_fields(text, out, errstr, n);
}

/* Civil date of a day since 1970-01-01 (H. Hinnant's algorithm); wday: 0 = Sunday. */
static void civil(int64_t days, int *mday, int *month, int *wday) {
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */
    *wday = (int)(w < 0 ? w + 7 : w);
}

static int day_matches(const wf_cron_t *c, int64_t days) {
    int mday, month, wday;
    civil(days, &mday, &month, &wday);
    if (!(c->months & (1u << month))) return 0;
    int dom = (c->mdays >> mday) & 1, dow = (c->wdays >> wday) & 1;
    /* Vixie cron: when both day fields are restricted, either one matching is enough. */
    if (c->mday_star || c->wday_star) return dom && dow;
    return dom || dow;
}

/* The first minute of the day at or after minute-of-day from, as minutes; -1 when none. */
static int first_minute(const wf_cron_t *c, int from) {
    for (int h = from / 60; h < 24; h++) {
        if (!(c->hours & (1u << h))) continue;
        int m0 = h == from / 60 ? from % 60 : 0;
        uint64_t rest = c->minutes >> m0 << m0;
        if (rest) return h * 60 + __builtin_ctzll(rest);
    }
    return -1;
}

int64_t wf_cron_next(const wf_cron_t *c, int64_t after_ms) {
    if (c->every_ms > 0) {
        int64_t k = after_ms >= 0 ? after_ms / c->every_ms : -((-after_ms - 1) / c->every_ms) - 1;
        return (k + 1) * c->every_ms;
    }
    int64_t start = after_ms - (after_ms % MINUTE_MS + MINUTE_MS) % MINUTE_MS + MINUTE_MS;
    int64_t day = start >= 0 ? start / DAY_MS : -((-start - 1) / DAY_MS) - 1;
    int from = (int)((start - day * DAY_MS) / MINUTE_MS);
    for (int i = 0; i <= HORIZON_DAYS; i++, day++, from = 0) {
        if (!day_matches(c, day)) continue;
        int m = first_minute(c, from);
        if (m >= 0) return day * DAY_MS + m * MINUTE_MS;
    }
    return -1;
}
