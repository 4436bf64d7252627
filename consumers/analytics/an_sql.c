/* SQL text of analytics flushes (see an_sql.h). */
#include "an_sql.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "an_hll.h"
#include "an_money.h"

/* ---- buffer ------------------------------------------------------------------------------- */

void an_buf_free(an_buf_t *b) {
    free(b->s);
    *b = (an_buf_t){0};
}

static void reserve(an_buf_t *b, size_t more) {
    if (b->len + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    if (!(b->s = realloc(b->s, cap))) abort();
    b->cap = cap;
}

void an_buf_add(an_buf_t *b, const char *s, size_t len) {
    reserve(b, len);
    memcpy(b->s + b->len, s, len);
    b->len += len;
    b->s[b->len] = '\0';
}

void an_buf_puts(an_buf_t *b, const char *s) {
    an_buf_add(b, s, strlen(s));
}

void an_buf_printf(an_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0) return;
    reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* ---- values ------------------------------------------------------------------------------- */

void an_sql_literal(an_buf_t *b, const char *s) {
    an_buf_add(b, "'", 1);
    for (const char *q; (q = strchr(s, '\'')); s = q + 1) {
        an_buf_add(b, s, (size_t)(q - s));
        an_buf_add(b, "''", 2);
    }
    an_buf_puts(b, s);
    an_buf_add(b, "'", 1);
}

void an_sql_time(an_buf_t *b, int64_t ms) {
    int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    an_buf_printf(b, "%04d-%02d-%02d %02d:%02d:%02d.%03d+00", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms - sec * 1000));
}

/* "\t" and v in decimal (snprintf costs more than the rest of a row together). */
static void put_int(an_buf_t *b, int64_t v) {
    char tmp[24], *e = tmp + sizeof tmp, *p = e;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0) *--p = '-';
    *--p = '\t';
    an_buf_add(b, p, (size_t)(e - p));
}

/* COPY text: backslash, tab, newline and carriage return escaped. */
static void copy_text(an_buf_t *b, const char *s) {
    const char *run = s;
    for (; *s; s++) {
        const char *esc = *s == '\\'   ? "\\\\"
                          : *s == '\t' ? "\\t"
                          : *s == '\n' ? "\\n"
                          : *s == '\r' ? "\\r"
                                       : NULL;
        if (!esc) continue;
        an_buf_add(b, run, (size_t)(s - run));
        an_buf_add(b, esc, 2);
        run = s + 1;
    }
    an_buf_add(b, run, (size_t)(s - run));
}

static void copy_money(an_buf_t *b, int64_t v, int present) {
    char m[32];
    an_money_format(v, m, sizeof m);
    an_buf_printf(b, "\t%s", present ? m : "\\N");
}

static void copy_sketch(an_buf_t *b, const uint8_t *regs) {
    an_buf_add(b, "\t", 1);
    if (!regs) {
        an_buf_add(b, "\\N", 2);
        return;
    }
    reserve(b, AN_HLL_TEXT_LEN);
    an_hll_text(regs, b->s + b->len);
    b->len += AN_HLL_TEXT_LEN;
}

void an_sql_copy_rows(an_buf_t *b, const an_window_t *w, size_t n) {
    for (size_t i = 0; i < n; i++, w++) {
        an_sql_time(b, w->minute_ms);
        const char *text[] = {w->type, w->source, w->tenant, w->currency};
        for (size_t k = 0; k < sizeof text / sizeof text[0]; k++) {
            an_buf_add(b, "\t", 1);
            copy_text(b, text[k]);
        }
        put_int(b, w->events);
        int money = w->currency[0] != '\0';
        copy_money(b, w->amount_sum, 1);
        copy_money(b, w->amount_min, money);
        copy_money(b, w->amount_max, money);
        put_int(b, w->latency_events);
        put_int(b, w->latency_sum_ms);
        put_int(b, w->latency_max_ms);
        for (int k = 0; k < AN_LAT_BUCKETS; k++)
            put_int(b, w->latency[k]);
        copy_sketch(b, w->entities);
        copy_sketch(b, w->customers);
        an_buf_add(b, "\n", 1);
    }
}

/* ---- statements --------------------------------------------------------------------------- */

const char an_sql_offsets_read[] =
    "SELECT topic, partition, next_offset FROM consumer_offsets WHERE group_id = $1";

void an_sql_offsets(an_buf_t *b, const char *group, const an_offset_t *offs, size_t n) {
    an_buf_puts(b, "WITH v(topic, partition, expected, next) AS (VALUES ");
    for (size_t i = 0; i < n; i++) {
        an_buf_puts(b, i ? ", (" : "(");
        an_sql_literal(b, offs[i].topic);
        an_buf_printf(b, ", %d, %" PRId64 "::bigint, %" PRId64 "::bigint)", (int)offs[i].partition,
                      offs[i].expected, offs[i].next);
    }
    an_buf_puts(b, "), u AS (UPDATE consumer_offsets o SET next_offset = v.next, updated_at = "
                   "now() FROM v WHERE o.group_id = ");
    an_sql_literal(b, group);
    an_buf_puts(b, " AND o.topic = v.topic AND o.partition = v.partition AND v.expected >= 0"
                   " AND o.next_offset = v.expected RETURNING 1), i AS (INSERT INTO "
                   "consumer_offsets (group_id, topic, partition, next_offset) SELECT ");
    an_sql_literal(b, group);
    an_buf_puts(b, ", topic, partition, next FROM v WHERE expected < 0 ON CONFLICT DO NOTHING "
                   "RETURNING 1) SELECT (SELECT count(*) FROM u) + (SELECT count(*) FROM i)");
}

/* Columns a window is copied with; the latency buckets are named after an_lat_bounds_ms. */
static const char *const keys[] = {"bucket", "event_type", "source", "tenant", "currency"};
static const char *const sums[] = {"events", "amount_sum", "latency_events", "latency_sum_ms"};

typedef struct {
    an_buf_t create, copy, minute, hourly;
} statements_t;

static statements_t stmts;
static pthread_once_t stmts_once = PTHREAD_ONCE_INIT;

static void latency_column(an_buf_t *b, int k) {
    if (k < AN_LAT_BUCKETS - 1)
        an_buf_printf(b, "latency_le_%" PRId64 "ms", an_lat_bounds_ms[k]);
    else
        an_buf_puts(b, "latency_inf");
}

/* "bucket, event_type, ..., customers" in COPY order. */
static void column_list(an_buf_t *b) {
    an_buf_puts(b, "bucket, event_type, source, tenant, currency, events, amount_sum, "
                   "amount_min, amount_max, latency_events, latency_sum_ms, latency_max_ms");
    for (int k = 0; k < AN_LAT_BUCKETS; k++) {
        an_buf_puts(b, ", ");
        latency_column(b, k);
    }
    an_buf_puts(b, ", entities, customers");
}

/* " ON CONFLICT (...) DO UPDATE SET" adding every column of the new row to the stored one. */
static void conflict_update(an_buf_t *b) {
    an_buf_puts(b, " ON CONFLICT (bucket, event_type, source, tenant, currency) DO UPDATE SET ");
    for (size_t i = 0; i < sizeof sums / sizeof sums[0]; i++)
        an_buf_printf(b, "%s = t.%s + EXCLUDED.%s, ", sums[i], sums[i], sums[i]);
    for (int k = 0; k < AN_LAT_BUCKETS; k++) {
        an_buf_t col = {0};
        latency_column(&col, k);
        an_buf_printf(b, "%s = t.%s + EXCLUDED.%s, ", col.s, col.s, col.s);
        an_buf_free(&col);
    }
    an_buf_puts(b, "amount_min = LEAST(t.amount_min, EXCLUDED.amount_min), "
                   "amount_max = GREATEST(t.amount_max, EXCLUDED.amount_max), "
                   "latency_max_ms = GREATEST(t.latency_max_ms, EXCLUDED.latency_max_ms), "
                   "entities = coalesce(t.entities | EXCLUDED.entities, t.entities, "
                   "EXCLUDED.entities), customers = coalesce(t.customers | EXCLUDED.customers, "
                   "t.customers, EXCLUDED.customers), updated_at = now()");
}

static void hourly_select(an_buf_t *b) {
    an_buf_puts(b, " SELECT date_trunc('hour', bucket, 'UTC')");
    for (size_t i = 1; i < sizeof keys / sizeof keys[0]; i++)
        an_buf_printf(b, ", %s", keys[i]);
    an_buf_puts(b, ", sum(events), sum(amount_sum), min(amount_min), max(amount_max), "
                   "sum(latency_events), sum(latency_sum_ms), max(latency_max_ms)");
    for (int k = 0; k < AN_LAT_BUCKETS; k++) {
        an_buf_puts(b, ", sum(");
        latency_column(b, k);
        an_buf_puts(b, ")");
    }
    an_buf_puts(b, ", bit_or(entities), bit_or(customers) FROM analytics_delta GROUP BY 1, 2, 3, "
                   "4, 5");
}

static void stmts_build(void) {
    an_buf_puts(&stmts.create, "CREATE TEMP TABLE IF NOT EXISTS analytics_delta (LIKE "
                               "analytics_minute INCLUDING DEFAULTS) ON COMMIT DELETE ROWS");
    an_buf_puts(&stmts.copy, "COPY analytics_delta (");
    column_list(&stmts.copy);
    an_buf_puts(&stmts.copy, ") FROM STDIN");
    an_buf_puts(&stmts.minute, "INSERT INTO analytics_minute AS t (");
    column_list(&stmts.minute);
    an_buf_puts(&stmts.minute, ") SELECT ");
    column_list(&stmts.minute);
    an_buf_puts(&stmts.minute, " FROM analytics_delta");
    conflict_update(&stmts.minute);
    an_buf_puts(&stmts.hourly, "INSERT INTO analytics_hourly AS t (");
    column_list(&stmts.hourly);
    an_buf_puts(&stmts.hourly, ")");
    hourly_select(&stmts.hourly);
    conflict_update(&stmts.hourly);
}

const char *an_sql_delta_create(void) {
    pthread_once(&stmts_once, stmts_build);
    return stmts.create.s;
}

const char *an_sql_delta_copy(void) {
    pthread_once(&stmts_once, stmts_build);
    return stmts.copy.s;
}

const char *an_sql_upsert_minute(void) {
    pthread_once(&stmts_once, stmts_build);
    return stmts.minute.s;
}

const char *an_sql_upsert_hourly(void) {
    pthread_once(&stmts_once, stmts_build);
    return stmts.hourly.s;
}

/* ---- low stock ---------------------------------------------------------------------------- */

#define STOCK_COLUMNS "low, tenant, sku, location_id, product_id, available, threshold, event_time"

const char *an_sql_stock_create(void) {
    return "CREATE TEMP TABLE IF NOT EXISTS analytics_stock_delta (low boolean NOT NULL, tenant "
           "text NOT NULL, sku text NOT NULL, location_id text NOT NULL, product_id text NOT NULL, "
           "available bigint NOT NULL, threshold bigint NOT NULL, event_time timestamptz NOT NULL) "
           "ON COMMIT DELETE ROWS";
}

const char *an_sql_stock_copy(void) {
    return "COPY analytics_stock_delta (" STOCK_COLUMNS ") FROM STDIN";
}

const char an_sql_stock_low[] =
    "INSERT INTO analytics_low_stock AS s (tenant, sku, location_id, product_id, available, "
    "threshold, event_time) SELECT tenant, sku, location_id, product_id, available, threshold, "
    "event_time FROM analytics_stock_delta WHERE low ON CONFLICT (tenant, sku) DO UPDATE SET "
    "location_id = EXCLUDED.location_id, product_id = EXCLUDED.product_id, available = "
    "EXCLUDED.available, threshold = EXCLUDED.threshold, event_time = EXCLUDED.event_time, "
    "updated_at = now() WHERE EXCLUDED.event_time >= s.event_time";

const char an_sql_stock_levels[] =
    "UPDATE analytics_low_stock AS s SET available = v.available, event_time = v.event_time, "
    "updated_at = now() FROM analytics_stock_delta AS v WHERE NOT v.low AND s.tenant = v.tenant "
    "AND s.sku = v.sku AND s.location_id = v.location_id AND v.event_time >= s.event_time";

void an_sql_stock_rows(an_buf_t *b, int low, const an_stock_t *s, size_t n) {
    for (size_t i = 0; i < n; i++, s++) {
        an_buf_puts(b, low ? "t" : "f");
        const char *text[] = {s->tenant, s->sku, s->location, s->product};
        for (size_t k = 0; k < sizeof text / sizeof text[0]; k++) {
            an_buf_add(b, "\t", 1);
            copy_text(b, text[k]);
        }
        put_int(b, s->available);
        put_int(b, low ? s->threshold : 0);
        an_buf_add(b, "\t", 1);
        an_sql_time(b, s->time_ms);
        an_buf_add(b, "\n", 1);
    }
}
