/* What analytics reads of an event without decoding it: the Avro field picker
 * on the catalog's schemas (picked values, nested and union fields, every way a
 * body can be malformed), RFC 3339 times, UTF-8 checks, and exact amounts. */
#include <criterion/criterion.h>
#include <string.h>

#include "an_avro.h"
#include "an_event.h"
#include "an_money.h"
#include "hs_avro.h"
#include "hs_catalog.h"

static const char order_json[] =
    "{\"order_id\":\"o-1\",\"order_number\":\"1001\",\"customer\":{\"id\":\"c-"
    "9\","
    "\"email\":\"a@b.c\",\"first_name\":null,\"last_name\":\"L\"},\"currency\":"
    "\"EUR\","
    "\"total_price\":\"199.00\",\"subtotal_price\":\"199.00\",\"total_tax\":"
    "\"0.00\","
    "\"financial_status\":\"paid\",\"fulfillment_status\":null,\"line_items\":["
    "{\"product_id\":"
    "\"p\",\"variant_id\":\"v\",\"sku\":\"S\",\"title\":\"Hat\",\"quantity\":2,"
    "\"price\":"
    "\"99.50\"}],\"created_at\":1,\"updated_at\":2,\"attributes\":{\"k\":\"v\"}"
    "}";

static char *encode(const char *type, const char *json, size_t *len) {
    const hs_event_type_t *t = hs_catalog_find(type);
    cr_assert_not_null(t, "%s", type);
    json_t *v = json_loads(json, 0, NULL);
    cr_assert_not_null(v);
    char *buf = NULL, err[256];
    *len = 0;
    cr_assert_eq(hs_avro_encode_json(hs_catalog_schema(t), v, &buf, len, err, sizeof err), HS_OK,
                 "%s", err);
    json_decref(v);
    return buf;
}

static an_avro_plan_t *plan(const char *type, const char *const *paths, size_t n) {
    json_t *schema = json_loads(hs_catalog_find(type)->schema_json, 0, NULL);
    char err[256];
    an_avro_plan_t *p = an_avro_plan_new(schema, paths, n, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    json_decref(schema);
    return p;
}

static const char *const order_paths[] = {"total_price",         "currency", "customer.id",
                                          "customer.first_name", "missing",  NULL};

Test(an_event, picks_top_level_nested_and_union_fields) {
    size_t len;
    char *body = encode("order.placed", order_json, &len);
    an_avro_plan_t *p = plan("order.placed", order_paths, 6);
    an_avro_val_t v[AN_AVRO_MAX_PICKS];
    char err[256];
    cr_assert_eq(an_avro_run(p, body, len, v, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(v[0].kind, AN_VAL_STR);
    cr_assert_eq(v[0].len, 6);
    cr_assert_eq(memcmp(v[0].str, "199.00", 6), 0);
    cr_assert_eq(memcmp(v[1].str, "EUR", 3), 0);
    cr_assert_eq(v[2].kind, AN_VAL_STR, "union branch string");
    cr_assert_eq(memcmp(v[2].str, "c-9", 3), 0);
    cr_assert_eq(v[3].kind, AN_VAL_NULL, "union branch null");
    cr_assert_eq(v[4].kind, AN_VAL_ABSENT, "a path the schema lacks");
    cr_assert_eq(v[5].kind, AN_VAL_ABSENT, "a NULL path");
    an_avro_plan_destroy(p);
    free(body);
}

Test(an_event, picks_ints_of_every_catalog_type) {
    size_t len;
    char *body = encode("inventory.low",
                        "{\"inventory_item_id\":\"i\",\"sku\":null,\"product_id\":\"p\","
                        "\"variant_id\":null,\"location_id\":\"l\",\"available\":-3,"
                        "\"threshold\":5,\"updated_at\":7,\"attributes\":{}}",
                        &len);
    static const char *const paths[] = {"available", "threshold", "sku"};
    an_avro_plan_t *p = plan("inventory.low", paths, 3);
    an_avro_val_t v[AN_AVRO_MAX_PICKS];
    char err[256];
    cr_assert_eq(an_avro_run(p, body, len, v, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(v[0].kind, AN_VAL_INT);
    cr_assert_eq(v[0].i, -3);
    cr_assert_eq(v[1].i, 5);
    cr_assert_eq(v[2].kind, AN_VAL_NULL);
    an_avro_plan_destroy(p);
    free(body);
    /* every catalog schema compiles and walks a body of its own */
    for (size_t i = 0; i < hs_catalog_count(); i++) {
        const hs_event_type_t *t = hs_catalog_at(i);
        an_avro_plan_t *q = plan(t->type, NULL, 0);
        cr_assert_not_null(q, "%s", t->type);
        an_avro_plan_destroy(q);
    }
}

Test(an_event, malformed_bodies_are_refused) {
    size_t len;
    char *body = encode("order.placed", order_json, &len);
    an_avro_plan_t *p = plan("order.placed", order_paths, 5);
    an_avro_val_t v[AN_AVRO_MAX_PICKS];
    char err[256];
    for (size_t cut = 0; cut < len; cut++)
        cr_assert_eq(an_avro_run(p, body, cut, v, err, sizeof err), HS_ERR_INVALID,
                     "truncated at %zu of %zu", cut, len);
    char *longer = malloc(len + 1);
    memcpy(longer, body, len);
    longer[len] = 0;
    cr_assert_eq(an_avro_run(p, longer, len + 1, v, err, sizeof err), HS_ERR_INVALID);
    cr_assert(strstr(err, "trailing"), "%s", err);
    /* order_number is ["null","string"]: its branch index sits after order_id */
    char *bad = malloc(len);
    memcpy(bad, body, len);
    bad[4] = 0x08; /* branch 4 of a 2-branch union (zigzag) */
    cr_assert_eq(an_avro_run(p, bad, len, v, err, sizeof err), HS_ERR_INVALID);
    cr_assert(strstr(err, "union"), "%s", err);
    bad[4] = body[4];
    bad[0] = 0x7f; /* order_id claims -64 bytes */
    cr_assert_eq(an_avro_run(p, bad, len, v, err, sizeof err), HS_ERR_INVALID);
    static const unsigned char overlong[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                             0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    cr_assert_eq(an_avro_run(p, overlong, sizeof overlong, v, err, sizeof err), HS_ERR_INVALID);
    free(bad);
    free(longer);
    an_avro_plan_destroy(p);
    free(body);
}

Test(an_event, schemas_it_cannot_read) {
    char err[256];
    static const char *const bad[] = {"42",
                                      "\"nosuch\"",
                                      "{\"type\":\"record\",\"fields\":[]}",
                                      "{\"type\":\"record\",\"name\":\"R\"}",
                                      "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{}]}",
                                      "{\"noname\":1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *s = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        err[0] = '\0';
        cr_assert_null(an_avro_plan_new(s, NULL, 0, err, sizeof err), "%s", bad[i]);
        cr_assert(err[0], "no reason for %s", bad[i]);
        json_decref(s);
    }
    /* a recursive type compiles (named reference to itself) */
    json_t *s = json_loads("{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"next\","
                           "\"type\":[\"null\",\"L\"]},{\"name\":\"v\",\"type\":\"int\"}]}",
                           0, NULL);
    static const char *const paths[] = {"v"};
    an_avro_plan_t *p = an_avro_plan_new(s, paths, 1, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    static const unsigned char list[] = {2, 0, 4, 6}; /* {next: {next: null, v: 2}, v: 3} */
    an_avro_val_t v[AN_AVRO_MAX_PICKS];
    cr_assert_eq(an_avro_run(p, list, sizeof list, v, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(v[0].i, 3, "the picked field of the outer record");
    an_avro_plan_destroy(p);
    json_decref(s);
}

Test(an_event, times) {
    static const struct {
        const char *s;
        int64_t ms;
    } good[] = {{"2025-11-24T16:00:00Z", INT64_C(1764000000000)},
                {"2025-11-24T16:00:00.123Z", INT64_C(1764000000123)},
                {"2025-11-24T16:00:00.1234567Z", INT64_C(1764000000123)},
                {"2025-11-24t16:00:00.5z", INT64_C(1764000000500)},
                {"2025-11-24T18:00:00+02:00", INT64_C(1764000000000)},
                {"2025-11-24T15:30:00.000-00:30", INT64_C(1764000000000)},
                {"2024-02-29T00:00:00Z", INT64_C(1709164800000)},
                {"2025-11-24 16:00:00Z", INT64_C(1764000000000)},
                {"2025-11-24T18:00:00+0200", INT64_C(1764000000000)},
                {"1969-12-31T23:59:59Z", -1000}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_assert_eq(an_event_time_ms(good[i].s, strlen(good[i].s)), good[i].ms, "%s", good[i].s);
    static const char *const bad[] = {"",
                                      "2025-11-24",
                                      "2025-11-24T16:00:00",
                                      "2025-13-24T16:00:00Z",
                                      "2025-11-24T24:00:00Z",
                                      "2025-11-24T16:00:00.Z",
                                      "2025-02-29T16:00:00Z",
                                      "2025-11-24T16:00:00Zjunk",
                                      "2025-1a-24T16:00:00Z",
                                      "yesterday"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(an_event_time_ms(bad[i], strlen(bad[i])), -1, "\"%s\"", bad[i]);
}

Test(an_event, cached_times_agree) {
    static const char *const seq[] = {
        "2025-11-24T16:00:00.123Z",      "2025-11-24T16:00:59.999Z", "2025-11-24T16:00:60.000Z",
        "2025-11-24T16:00:61.000Z",      "2025-11-24T16:00:1x.000Z", "2025-11-24T16:00:07.5Z",
        "2025-11-24T16:00:07.500z",      "2025-11-24T16:01:00.000Z", "2025-11-24T16:00:00.001Z",
        "2025-11-24T16:00:00.001+01:00", "2025-02-29T16:00:00.000Z", "2025-02-29T16:00:00.001Z",
        "1969-12-31T23:59:59.000Z",      "1969-12-31T23:59:58.000Z", "2024-02-29T00:00:00.000Z",
        "2024-02-29T00:00:00.000Z"};
    an_time_cache_t c = {0};
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++)
            cr_assert_eq(an_event_time_cached(&c, seq[i], strlen(seq[i])),
                         an_event_time_ms(seq[i], strlen(seq[i])), "%s", seq[i]);
}

Test(an_event, utf8) {
    /* longer than 8 bytes too: ASCII is checked a word at a time */
    static const char *const ok[] = {"",
                                     "acme",
                                     "café",
                                     "東京",
                                     "😀",
                                     "/shopify/shop-1234567",
                                     "abcdefgh",
                                     "abcdefghcafé",
                                     "abcdefgh東京ijklmnop"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        cr_assert(an_event_utf8_ok(ok[i], strlen(ok[i])), "%s", ok[i]);
    static const struct {
        const char *s;
        size_t len;
    } bad[] = {{"a\0b", 3},
               {"\xff", 1},
               {"\xc3", 1},
               {"\xc0\xaf", 2},
               {"\xe0\x80\xaf", 3},
               {"\xed\xa0\x80", 3},
               {"\xf4\x90\x80\x80", 4},
               {"\xe6\x9d", 2},
               {"abcdefg\0ijklmnop", 16},
               {"abcdefghijklmn\0p", 16},
               {"abcdefgh\xffjklmnop", 16},
               {"abcdefghijklmno\xc3", 16}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert(!an_event_utf8_ok(bad[i].s, bad[i].len), "case %zu", i);
}

Test(an_event, amounts) {
    static const struct {
        const char *s;
        int64_t v;
    } good[] = {{"199.00", 1990000},
                {"199", 1990000},
                {"0.5", 5000},
                {"-0.0001", -1},
                {"0", 0},
                {"12.3456", 123456},
                {"100000000000000", INT64_C(1000000000000000000)}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t v = 7;
        cr_assert_eq(an_money_parse(good[i].s, strlen(good[i].s), &v), 0, "%s", good[i].s);
        cr_assert_eq(v, good[i].v, "%s", good[i].s);
    }
    static const char *const bad[] = {"",
                                      "-",
                                      ".5",
                                      "1.",
                                      "1.23456",
                                      "1e3",
                                      " 1",
                                      "1 ",
                                      "+1",
                                      "1,00",
                                      "abc",
                                      "100000000000001",
                                      "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v;
        cr_assert_eq(an_money_parse(bad[i], strlen(bad[i]), &v), -1, "\"%s\"", bad[i]);
    }
    int64_t v;
    cr_assert_eq(an_money_from_minor(1999, "usd", &v), 0);
    cr_assert_eq(v, 199900, "19.99 USD");
    cr_assert_eq(an_money_from_minor(500, "JPY", &v), 0);
    cr_assert_eq(v, 5000000, "500 JPY");
    cr_assert_eq(an_money_from_minor(1234, "KWD", &v), 0);
    cr_assert_eq(v, 12340, "1.234 KWD");
    cr_assert_eq(an_money_from_minor(INT64_MAX / 10, "USD", &v), -1);
    char out[32];
    an_money_format(-1, out, sizeof out);
    cr_assert_str_eq(out, "-0.0001");
    an_money_format(1990000, out, sizeof out);
    cr_assert_str_eq(out, "199.0000");
    an_money_format(INT64_MIN, out, sizeof out);
    cr_assert_str_eq(out, "-922337203685477.5808");
}
