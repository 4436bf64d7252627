/* analytics' flush against the stack's Postgres, in a private database:
 * windows, hourly rollup, stock levels and offsets are written in one
 * transaction (a statement failing mid-flush leaves neither windows nor
 * offsets), the offsets move only from their expected values (a fenced flush
 * writes nothing), flushes add up, and the SQL sketch count agrees with the C
 * one. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "an_agg.h"
#include "an_hll.h"
#include "an_store.h"
#include "test_db.h"

#define T0 INT64_C(1764000000000) /* 2025-11-24T16:00:00Z */
#define GROUP "it-analytics"

static char err[512];
static char dsn[512];
static an_store_t *store;
static PGconn *conn;

static void setup(void) {
    test_db_create("hs_an_store", dsn, sizeof dsn);
    store = an_store_new(dsn, 5, err, sizeof err);
    cr_assert_not_null(store, "%s", err);
    conn = hs_pg_connect(dsn, 5, err, sizeof err);
    cr_assert_not_null(conn, "%s", err);
}

static void teardown(void) {
    if (conn) PQfinish(conn);
    an_store_destroy(store);
    conn = NULL;
    store = NULL;
    test_db_drop();
}

TestSuite(an_store, .init = setup, .fini = teardown, .timeout = 60);

static int64_t q64(const char *sql) {
    PGresult *r = hs_pg_query(conn, sql, 0, NULL, err, sizeof err);
    cr_assert_not_null(r, "%s: %s", sql, err);
    int64_t v = PQntuples(r) ? hs_pg_i64(r, 0, 0) : -1;
    PQclear(r);
    return v;
}

static void qtext(const char *sql, char *out, size_t n) {
    PGresult *r = hs_pg_query(conn, sql, 0, NULL, err, sizeof err);
    cr_assert_not_null(r, "%s: %s", sql, err);
    snprintf(out, n, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
}

static an_str_t str(const char *s) {
    return (an_str_t){s, strlen(s)};
}

/* n orders of amount 12.50 EUR by customers cust-0..cust-9 in minute m of hour
 * 16 */
static void orders(an_agg_t *a, int n, int m) {
    char subject[32], customer[32];
    for (int i = 0; i < n; i++) {
        an_event_t ev = {.type = str("order.placed"),
                         .source = str("/shopify/s1"),
                         .tenant = str("acme"),
                         .time_ms = T0 + m * 60000,
                         .produced_ms = T0,
                         .has_amount = 1,
                         .amount = 125000};
        memcpy(ev.currency, "EUR", 4);
        snprintf(subject, sizeof subject, "order-%d-%d", m, i);
        snprintf(customer, sizeof customer, "cust-%d", i % 10);
        ev.subject = str(subject);
        ev.customer = str(customer);
        an_agg_add(a, &ev, T0 + 50);
    }
}

static void low_stock(an_agg_t *a, const char *sku, int64_t available, int64_t at) {
    an_event_t ev = {.type = str("inventory.low"),
                     .source = str("/shopify/s1"),
                     .tenant = str("acme"),
                     .subject = str(sku),
                     .time_ms = at,
                     .produced_ms = at,
                     .stock = AN_STOCK_LOW,
                     .sku = str(sku),
                     .location = str("loc-1"),
                     .product = str("prod-1"),
                     .available = available,
                     .threshold = 5};
    an_agg_add(a, &ev, at);
}

Test(an_store, flush_writes_windows_rollup_stock_and_offsets) {
    an_agg_t *a = an_agg_new(5000);
    orders(a, 30, 0);
    orders(a, 20, 1);
    low_stock(a, "HAT-1", 2, T0);
    an_offset_t offs[] = {{"hs.events.orders", 0, -1, 40}, {"hs.events.orders", 3, -1, 11}};
    cr_assert_eq(an_store_flush(store, GROUP, a, offs, 2, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(q64("SELECT sum(events) FROM analytics_minute"), 51);
    cr_assert_eq(q64("SELECT events FROM analytics_hourly WHERE event_type = "
                     "'order.placed'"),
                 50);
    char text[64];
    qtext("SELECT amount_sum FROM analytics_hourly WHERE event_type = "
          "'order.placed'",
          text, sizeof text);
    cr_assert_str_eq(text, "625.0000");
    qtext("SELECT amount_min || '/' || amount_max FROM analytics_minute WHERE "
          "currency = 'EUR' "
          "LIMIT 1",
          text, sizeof text);
    cr_assert_str_eq(text, "12.5000/12.5000");
    cr_assert_eq(q64("SELECT analytics_hll_count(customers) FROM analytics_hourly "
                     "WHERE event_type = 'order.placed'"),
                 10);
    int64_t distinct = q64("SELECT analytics_hll_count(entities) FROM analytics_hourly "
                           "WHERE event_type = 'order.placed'");
    cr_assert(distinct >= 47 && distinct <= 53, "50 orders -> %lld", (long long)distinct);
    cr_assert_eq(q64("SELECT available FROM analytics_low_stock_skus WHERE sku = 'HAT-1'"), 2);
    cr_assert_eq(q64("SELECT sum(next_offset) FROM consumer_offsets WHERE "
                     "group_id = '" GROUP "'"),
                 51);
    an_offset_t back[] = {{"hs.events.orders", 0, 0, 0},
                          {"hs.events.orders", 3, 0, 0},
                          {"hs.events.orders", 5, 0, 0}};
    cr_assert_eq(an_store_offsets(store, GROUP, back, 3, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(back[0].expected, 40);
    cr_assert_eq(back[1].expected, 11);
    cr_assert_eq(back[2].expected, -1, "no row: -1");
    an_agg_destroy(a);
}

Test(an_store, flushes_add_up_and_late_events_update_old_windows) {
    an_agg_t *a = an_agg_new(5000);
    orders(a, 10, 5);
    an_offset_t o1[] = {{"t", 0, -1, 10}};
    cr_assert_eq(an_store_flush(store, GROUP, a, o1, 1, err, sizeof err), HS_OK, "%s", err);
    const char *distinct = "SELECT analytics_hll_count(entities) FROM analytics_minute WHERE "
                           "bucket = '2025-11-24 16:05:00+00'";
    int64_t before = q64(distinct);
    cr_assert(before >= 8 && before <= 10, "10 orders -> %lld", (long long)before);
    an_agg_reset(a);
    orders(a, 7, 5); /* the same window again, e.g. late events */
    orders(a, 3, 9);
    an_offset_t o2[] = {{"t", 0, 10, 20}};
    cr_assert_eq(an_store_flush(store, GROUP, a, o2, 1, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(q64("SELECT events FROM analytics_minute WHERE bucket = "
                     "'2025-11-24 16:05:00+00'"),
                 17);
    cr_assert_eq(q64("SELECT events FROM analytics_hourly"), 20);
    cr_assert_eq(q64(distinct), before, "the 7 again are the same orders: no more distinct");
    cr_assert_eq(q64("SELECT next_offset FROM consumer_offsets"), 20);
    an_agg_destroy(a);
}

Test(an_store, failing_statement_mid_flush_leaves_neither) {
    cr_assert_eq(hs_pg_exec(conn,
                            "CREATE FUNCTION it_fail() RETURNS trigger LANGUAGE plpgsql AS $$ "
                            "BEGIN RAISE EXCEPTION 'injected failure'; END $$",
                            err, sizeof err),
                 HS_OK, "%s", err);
    cr_assert_eq(hs_pg_exec(conn,
                            "CREATE TRIGGER it_fail BEFORE INSERT ON analytics_hourly FOR EACH "
                            "ROW EXECUTE FUNCTION it_fail()",
                            err, sizeof err),
                 HS_OK, "%s", err);
    an_agg_t *a = an_agg_new(5000);
    orders(a, 5, 0);
    an_offset_t offs[] = {{"t", 0, -1, 5}};
    cr_assert_eq(an_store_flush(store, GROUP, a, offs, 1, err, sizeof err), HS_ERR_UNAVAILABLE);
    cr_assert(strstr(err, "injected failure"), "%s", err);
    cr_assert_eq(q64("SELECT count(*) FROM analytics_minute"), 0, "minutes were written first");
    cr_assert_eq(q64("SELECT count(*) FROM consumer_offsets"), 0, "offsets were written first");
    cr_assert_eq(hs_pg_exec(conn, "DROP TRIGGER it_fail ON analytics_hourly", err, sizeof err),
                 HS_OK, "%s", err);
    cr_assert_eq(an_store_flush(store, GROUP, a, offs, 1, err, sizeof err), HS_OK,
                 "the same flush again: %s", err);
    cr_assert_eq(q64("SELECT sum(events) FROM analytics_minute"), 5);
    cr_assert_eq(q64("SELECT next_offset FROM consumer_offsets"), 5);
    an_agg_destroy(a);
}

Test(an_store, offsets_moved_by_another_member_fence_the_flush) {
    an_agg_t *a = an_agg_new(5000);
    orders(a, 5, 0);
    an_offset_t first[] = {{"t", 0, -1, 5}, {"t", 1, -1, 3}};
    cr_assert_eq(an_store_flush(store, GROUP, a, first, 2, err, sizeof err), HS_OK, "%s", err);
    /* another member took partition 1 over and committed past it */
    cr_assert_eq(hs_pg_exec(conn, "UPDATE consumer_offsets SET next_offset = 9 WHERE partition = 1",
                            err, sizeof err),
                 HS_OK, "%s", err);
    an_offset_t stale[] = {{"t", 0, 5, 8}, {"t", 1, 3, 7}};
    cr_assert_eq(an_store_flush(store, GROUP, a, stale, 2, err, sizeof err), HS_ERR_CONFLICT);
    cr_assert_eq(q64("SELECT sum(events) FROM analytics_minute"), 5, "nothing of it written");
    cr_assert_eq(q64("SELECT next_offset FROM consumer_offsets WHERE partition = 0"), 5);
    /* a partition it believes new while another member already stored it */
    an_offset_t fresh[] = {{"t", 1, -1, 4}};
    cr_assert_eq(an_store_flush(store, GROUP, a, fresh, 1, err, sizeof err), HS_ERR_CONFLICT);
    cr_assert_eq(q64("SELECT next_offset FROM consumer_offsets WHERE partition = 1"), 9);
    an_agg_destroy(a);
}

Test(an_store, stock_levels_follow_the_latest_event) {
    an_agg_t *a = an_agg_new(5000);
    low_stock(a, "HAT-1", 2, T0 + 1000);
    cr_assert_eq(an_store_flush(store, GROUP, a, NULL, 0, err, sizeof err), HS_OK, "%s", err);
    an_agg_reset(a);
    low_stock(a, "HAT-1", 4, T0); /* older than the stored one: ignored */
    an_event_t level = {.type = str("inventory.updated"),
                        .source = str("/s"),
                        .tenant = str("acme"),
                        .time_ms = T0 + 2000,
                        .stock = AN_STOCK_LEVEL,
                        .sku = str("HAT-1"),
                        .location = str("loc-1"),
                        .product = str("prod-1"),
                        .available = 50,
                        .threshold = -1};
    an_agg_add(a, &level, T0);
    an_event_t other = level;
    other.sku = str("HAT-9"); /* never low: not inserted */
    an_agg_add(a, &other, T0);
    cr_assert_eq(an_store_flush(store, GROUP, a, NULL, 0, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(q64("SELECT available FROM analytics_low_stock WHERE sku = 'HAT-1'"), 50);
    cr_assert_eq(q64("SELECT count(*) FROM analytics_low_stock"), 1);
    cr_assert_eq(q64("SELECT count(*) FROM analytics_low_stock_skus"), 0, "restocked");
    an_agg_destroy(a);
}

Test(an_store, sql_sketch_count_matches_c) {
    an_agg_t *a = an_agg_new(5000);
    orders(a, 4000, 0);
    size_t n;
    const an_window_t *w = an_agg_windows(a, &n);
    double c = an_hll_estimate(w[0].entities);
    cr_assert_eq(an_store_flush(store, GROUP, a, NULL, 0, err, sizeof err), HS_OK, "%s", err);
    int64_t sql = q64("SELECT analytics_hll_count(entities) FROM analytics_minute");
    cr_assert(sql >= (int64_t)c - 1 && sql <= (int64_t)c + 1, "sql %lld, c %.1f", (long long)sql,
              c);
    cr_assert(sql > 3600 && sql < 4400, "4000 distinct -> %lld", (long long)sql);
    an_agg_destroy(a);
}
