/* The SQL text of analytics flushes: COPY rows (escaping, NULLs, exact amounts,
 * sketches), the fencing offsets statement, literals and times, the upserts'
 * columns, stock rows. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "an_hll.h"
#include "an_sql.h"

#define T0 INT64_C(1764000000000) /* 2025-11-24T16:00:00Z */

/* The n-th tab-separated field (0-based) of line, copied into out. */
static void field(const char *line, int n, char *out, size_t size) {
    for (int i = 0; i < n; i++) {
        line = strchr(line, '\t');
        cr_assert_not_null(line, "row has no field %d", n);
        line++;
    }
    size_t len = strcspn(line, "\t\n");
    cr_assert_lt(len, size);
    memcpy(out, line, len);
    out[len] = '\0';
}

Test(an_sql, copy_row_of_a_window_with_amounts) {
    an_window_t w = {.minute_ms = T0,
                     .type = "order.placed",
                     .source = "/shopify/shop-1",
                     .tenant = "acme",
                     .currency = "EUR",
                     .events = 3,
                     .amount_sum = 2115000,
                     .amount_min = -5,
                     .amount_max = 1990000,
                     .latency_events = 3,
                     .latency_sum_ms = 42,
                     .latency_max_ms = 30,
                     .latency = {1, 2}};
    an_buf_t b = {0};
    an_sql_copy_rows(&b, &w, 1);
    char f[64];
    static const char *const want[] = {"2025-11-24 16:00:00.000+00",
                                       "order.placed",
                                       "/shopify/shop-1",
                                       "acme",
                                       "EUR",
                                       "3",
                                       "211.5000",
                                       "-0.0005",
                                       "199.0000",
                                       "3",
                                       "42",
                                       "30",
                                       "1",
                                       "2",
                                       "0"};
    for (int i = 0; i < (int)(sizeof want / sizeof want[0]); i++) {
        field(b.s, i, f, sizeof f);
        cr_assert_str_eq(f, want[i], "field %d", i);
    }
    field(b.s, 12 + AN_LAT_BUCKETS, f, sizeof f);
    cr_assert_str_eq(f, "\\N", "no entities sketch: NULL");
    field(b.s, 13 + AN_LAT_BUCKETS, f, sizeof f);
    cr_assert_str_eq(f, "\\N");
    cr_assert_eq(b.s[b.len - 1], '\n');
    an_buf_free(&b);
}

Test(an_sql, copy_row_without_currency_has_null_min_max) {
    an_window_t w = {.minute_ms = T0,
                     .type = "customer.created",
                     .source = "/s",
                     .tenant = "",
                     .currency = "",
                     .events = 1};
    an_buf_t b = {0};
    an_sql_copy_rows(&b, &w, 1);
    char f[64];
    field(b.s, 3, f, sizeof f);
    cr_assert_str_eq(f, "", "empty tenant is an empty string, not NULL");
    field(b.s, 6, f, sizeof f);
    cr_assert_str_eq(f, "0.0000");
    field(b.s, 7, f, sizeof f);
    cr_assert_str_eq(f, "\\N");
    field(b.s, 8, f, sizeof f);
    cr_assert_str_eq(f, "\\N");
    an_buf_free(&b);
}

Test(an_sql, copy_text_is_escaped) {
    an_window_t w = {.minute_ms = T0,
                     .type = "a\tb",
                     .source = "line\nbreak\r",
                     .tenant = "back\\slash",
                     .currency = "",
                     .events = 1};
    an_buf_t b = {0};
    an_sql_copy_rows(&b, &w, 1);
    cr_assert_not_null(strstr(b.s, "\ta\\tb\tline\\nbreak\\r\tback\\\\slash\t"), "%s", b.s);
    cr_assert_eq(strchr(b.s, '\n'), b.s + b.len - 1, "one line per row");
    an_buf_free(&b);
}

Test(an_sql, copy_row_carries_sketches) {
    uint8_t regs[AN_HLL_M] = {0};
    regs[3] = 2;
    an_window_t w = {.minute_ms = T0,
                     .type = "t",
                     .source = "s",
                     .tenant = "",
                     .currency = "",
                     .events = 1,
                     .entities = regs};
    an_buf_t b = {0};
    an_sql_copy_rows(&b, &w, 1);
    char *f = calloc(1, AN_HLL_TEXT_LEN + 8);
    field(b.s, 12 + AN_LAT_BUCKETS, f, AN_HLL_TEXT_LEN + 8);
    uint8_t back[AN_HLL_M];
    cr_assert_eq(an_hll_parse(f, back), 0);
    cr_assert_eq(memcmp(regs, back, AN_HLL_M), 0);
    free(f);
    an_buf_free(&b);
}

Test(an_sql, literal_doubles_quotes) {
    an_buf_t b = {0};
    an_sql_literal(&b, "it's a 'test'\\");
    cr_assert_str_eq(b.s, "'it''s a ''test''\\'");
    b.len = 0;
    an_sql_literal(&b, "");
    cr_assert_str_eq(b.s, "''");
    an_buf_free(&b);
}

Test(an_sql, times) {
    an_buf_t b = {0};
    an_sql_time(&b, T0 + 123);
    cr_assert_str_eq(b.s, "2025-11-24 16:00:00.123+00");
    b.len = 0;
    an_sql_time(&b, -1);
    cr_assert_str_eq(b.s, "1969-12-31 23:59:59.999+00");
    b.len = 0;
    an_sql_time(&b, INT64_C(253402300800000)); /* past 9999-12-31 */
    cr_assert_str_eq(b.s, "10000-01-01 00:00:00.000+00");
    an_buf_free(&b);
}

Test(an_sql, times_agree_with_gmtime) {
    an_buf_t b = {0};
    /* leap days, month and year ends, 1900 and 2100 (not leap years), 2000 (one) */
    const int64_t at[] = {0,           951782400,  951868799,  4107542399,   4107542400,
                          -2203891200, 1709164800, 1735689599, 253402300799, -30610224000};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        char want[64];
        time_t t = (time_t)at[i];
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(want, sizeof want, "%Y-%m-%d %H:%M:%S.042+00", &tm);
        b.len = 0;
        an_sql_time(&b, at[i] * 1000 + 42);
        cr_assert_str_eq(b.s, want, "%lld", (long long)at[i]);
    }
    an_buf_free(&b);
}

Test(an_sql, offsets_statement_fences) {
    an_offset_t offs[] = {{"hs.events.orders", 0, -1, 10}, {"it's", 5, 100, 250}};
    an_buf_t b = {0};
    an_sql_offsets(&b, "hookstream-analytics", offs, 2);
    cr_assert_not_null(strstr(b.s, "('hs.events.orders', 0, -1::bigint, 10::bigint)"), "%s", b.s);
    cr_assert_not_null(strstr(b.s, "('it''s', 5, 100::bigint, 250::bigint)"));
    cr_assert_not_null(strstr(b.s, "o.next_offset = v.expected"), "moves only from the expected");
    cr_assert_not_null(strstr(b.s, "ON CONFLICT DO NOTHING"), "a new row never overwrites");
    cr_assert_not_null(strstr(b.s, "group_id = 'hookstream-analytics'"));
    an_buf_free(&b);
}

Test(an_sql, upserts_name_every_latency_bucket) {
    const char *stmts[] = {an_sql_delta_copy(), an_sql_upsert_minute(), an_sql_upsert_hourly()};
    for (size_t s = 0; s < sizeof stmts / sizeof stmts[0]; s++) {
        for (int k = 0; k < AN_LAT_BUCKETS - 1; k++) {
            char col[48];
            snprintf(col, sizeof col, "latency_le_%lldms", (long long)an_lat_bounds_ms[k]);
            cr_assert_not_null(strstr(stmts[s], col), "%s lacks %s", stmts[s], col);
        }
        cr_assert_not_null(strstr(stmts[s], "latency_inf"));
    }
    cr_assert_not_null(strstr(an_sql_upsert_minute(), "events = t.events + EXCLUDED.events"),
                       "additive: any window can be updated any time");
    cr_assert_not_null(strstr(an_sql_upsert_hourly(), "date_trunc('hour', bucket, 'UTC')"));
    cr_assert_not_null(strstr(an_sql_upsert_hourly(), "bit_or(entities)"));
}

Test(an_sql, stock_rows) {
    an_stock_t s[] = {{"acme", "HAT-1", "loc\t1", "prod-1", 3, 5, T0},
                      {"", "HAT-2", "", "", -2, 0, T0 + 1}};
    an_buf_t b = {0};
    an_sql_stock_rows(&b, 1, s, 1);
    an_sql_stock_rows(&b, 0, s + 1, 1);
    cr_assert_str_eq(b.s, "t\tacme\tHAT-1\tloc\\t1\tprod-1\t3\t5\t2025-11-24 16:00:00.000+00\n"
                          "f\t\tHAT-2\t\t\t-2\t0\t2025-11-24 16:00:00.001+00\n");
    an_buf_free(&b);
}
