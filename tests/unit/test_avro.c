#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_avro.h"
#include "hs_catalog.h"

static char err[512];

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 > cap) cr_assert((buf = realloc(buf, cap = cap * 2 + 4096)));
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        if (!r) break;
        n += r;
    }
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

static json_t *load_json(const char *path) {
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    cr_assert(j, "%s:%d: %s", path, jerr.line, jerr.text);
    return j;
}

static hs_avro_schema_t *parse(const char *text) {
    hs_avro_schema_t *s = hs_avro_schema_parse(text, err, sizeof err);
    cr_assert(s, "%s", err);
    return s;
}

static const char *hexdump(const char *buf, size_t len) {
    static char out[2048];
    size_t k = 0;
    for (size_t i = 0; i < len && k + 4 < sizeof out; i++)
        k += (size_t)snprintf(out + k, sizeof out - k, "%02x ", (unsigned char)buf[i]);
    out[k] = '\0';
    return out;
}

/* Encodes text (JSON) with schema s and expects the error message `want`, nothing appended. */
static void expect_error(const hs_avro_schema_t *s, const char *text, const char *want) {
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    cr_assert(v, "test JSON: %s", jerr.text);
    char *buf = strdup("abc");
    size_t len = 3;
    cr_assert_eq(hs_avro_encode_json(s, v, &buf, &len, err, sizeof err), HS_ERR_INVALID,
                 "accepted %s", text);
    cr_assert_str_eq(err, want);
    cr_assert_eq(len, 3, "bytes were appended on error");
    cr_assert(memcmp(buf, "abc", 3) == 0);
    free(buf);
    json_decref(v);
}

static void roundtrip_type(const hs_event_type_t *t) {
    char path[512];
    const hs_avro_schema_t *s = hs_catalog_schema(t);
    cr_assert(s, "%s: no parsed schema", t->type);
    snprintf(path, sizeof path, "%s/avro/%s/input.json", HS_TEST_DATA, t->type);
    json_t *input = load_json(path);
    snprintf(path, sizeof path, "%s/avro/%s/expected.json", HS_TEST_DATA, t->type);
    json_t *expected = load_json(path);
    snprintf(path, sizeof path, "%s/avro/%s/expected.avro", HS_TEST_DATA, t->type);
    size_t golden_len;
    char *golden = slurp(path, &golden_len);

    char *buf = NULL;
    size_t len = 0;
    cr_assert_eq(hs_avro_encode_json(s, input, &buf, &len, err, sizeof err), HS_OK, "%s: %s",
                 t->type, err);
    cr_assert(len == golden_len && memcmp(buf, golden, len) == 0,
              "%s: bytes differ from Apache Avro's (expected.avro)\n got %s", t->type,
              hexdump(buf, len));
    json_t *back = NULL;
    cr_assert_eq(hs_avro_decode_json(s, buf, len, &back, err, sizeof err), HS_OK, "%s: %s", t->type,
                 err);
    char *got = json_dumps(back, JSON_SORT_KEYS);
    cr_assert(json_equal(back, expected), "%s: decoded %s", t->type, got);
    free(got);

    /* The full form (defaults spelled out) encodes to the same bytes. */
    size_t first = len;
    cr_assert_eq(hs_avro_encode_json(s, expected, &buf, &len, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(len, 2 * first);
    cr_assert(memcmp(buf, buf + first, first) == 0, "%s: appended copy differs", t->type);
    json_decref(back);
    json_decref(input);
    json_decref(expected);
    free(buf);
    free(golden);
}

Test(avro, every_catalog_type_round_trips_and_matches_apache_avro) {
    cr_assert_geq(hs_catalog_count(), 14);
    for (size_t i = 0; i < hs_catalog_count(); i++)
        roundtrip_type(hs_catalog_at(i));
}

/* avro-c reads our bytes back, and writes the same bytes from what it read. */
Test(avro, avro_c_reads_and_writes_the_same_bytes) {
    for (size_t i = 0; i < hs_catalog_count(); i++) {
        const hs_event_type_t *t = hs_catalog_at(i);
        char path[512];
        snprintf(path, sizeof path, "%s/avro/%s/expected.avro", HS_TEST_DATA, t->type);
        size_t len;
        char *golden = slurp(path, &len);
        avro_schema_t raw = hs_avro_schema_raw(hs_catalog_schema(t));
        avro_value_iface_t *iface = avro_generic_class_from_schema(raw);
        avro_value_t value;
        cr_assert_eq(avro_generic_value_new(iface, &value), 0);
        avro_reader_t r = avro_reader_memory(golden, (int64_t)len);
        cr_assert_eq(avro_value_read(r, &value), 0, "%s: %s", t->type, avro_strerror());
        size_t size = 0;
        cr_assert_eq(avro_value_sizeof(&value, &size), 0);
        cr_assert_eq(size, len, "%s", t->type);
        char *out = malloc(len);
        avro_writer_t w = avro_writer_memory(out, (int64_t)len);
        cr_assert_eq(avro_value_write(w, &value), 0);
        cr_assert(memcmp(out, golden, len) == 0, "%s", t->type);
        avro_writer_free(w);
        avro_reader_free(r);
        avro_value_decref(&value);
        avro_value_iface_decref(iface);
        free(out);
        free(golden);
    }
}

static const char GOLDEN_SCHEMA[] =
    "{\"type\":\"record\",\"name\":\"T\",\"fields\":["
    "{\"name\":\"a\",\"type\":\"long\"},{\"name\":\"b\",\"type\":\"string\"},"
    "{\"name\":\"c\",\"type\":[\"null\",\"int\"]},"
    "{\"name\":\"d\",\"type\":{\"type\":\"array\",\"items\":\"int\"}},"
    "{\"name\":\"e\",\"type\":\"boolean\"},{\"name\":\"f\",\"type\":\"double\"},"
    "{\"name\":\"g\",\"type\":{\"type\":\"map\",\"values\":\"long\"}},"
    "{\"name\":\"h\",\"type\":\"float\"},{\"name\":\"i\",\"type\":\"bytes\"},"
    "{\"name\":\"j\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\",\"Y\"]}},"
    "{\"name\":\"k\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":2}},"
    "{\"name\":\"z\",\"type\":\"int\",\"default\":-64}]}";

Test(avro, bytes_match_hand_computed_avro) {
    hs_avro_schema_t *s = parse(GOLDEN_SCHEMA);
    json_t *v = json_loads("{\"a\":-2,\"b\":\"hi\",\"c\":64,\"d\":[1,-1],\"e\":true,\"f\":1.5,"
                           "\"g\":{\"k\":63},\"h\":0.5,\"i\":\"\\u0000\\u00ff\",\"j\":\"Y\","
                           "\"k\":\"ab\"}",
                           JSON_ALLOW_NUL, NULL);
    cr_assert(v);
    static const unsigned char want[] = {
        0x03,                                        /* a: zigzag(-2) = 3 */
        0x04, 'h',  'i',                             /* b: length 2 */
        0x02, 0x80, 0x01,                            /* c: branch 1, zigzag(64) = 128 */
        0x04, 0x02, 0x01, 0x00,                      /* d: block of 2: 1, -1; end */
        0x01,                                        /* e */
        0,    0,    0,    0,    0,    0, 0xf8, 0x3f, /* f: 1.5 little-endian */
        0x02, 0x02, 'k',  0x7e, 0x00,                /* g: block of 1: "k" -> 63; end */
        0,    0,    0,    0x3f,                      /* h: 0.5f */
        0x04, 0x00, 0xff,                            /* i: 2 bytes */
        0x02,                                        /* j: symbol 1 */
        'a',  'b',                                   /* k: fixed, no length */
        0x7f,                                        /* z: default -64 -> 127 */
    };
    char *buf = NULL;
    size_t len = 0;
    cr_assert_eq(hs_avro_encode_json(s, v, &buf, &len, err, sizeof err), HS_OK, "%s", err);
    cr_assert(len == sizeof want && memcmp(buf, want, len) == 0, "got %s", hexdump(buf, len));
    json_t *back;
    cr_assert_eq(hs_avro_decode_json(s, buf, len, &back, err, sizeof err), HS_OK, "%s", err);
    json_object_set_new(v, "z", json_integer(-64));
    cr_assert(json_equal(back, v), "%s", json_dumps(back, 0));
    json_decref(back);
    json_decref(v);
    free(buf);
    hs_avro_schema_destroy(s);
}

Test(avro, long_boundaries_are_zigzag_varints) {
    hs_avro_schema_t *s = parse("\"long\"");
    static const struct {
        json_int_t v;
        unsigned char bytes[10];
        size_t n;
    } cases[] = {
        {0, {0x00}, 1},
        {-1, {0x01}, 1},
        {63, {0x7e}, 1},
        {-64, {0x7f}, 1},
        {64, {0x80, 0x01}, 2},
        {INT64_MAX, {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
        {INT64_MIN, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *v = json_integer(cases[i].v);
        char *buf = NULL;
        size_t len = 0;
        cr_assert_eq(hs_avro_encode_json(s, v, &buf, &len, err, sizeof err), HS_OK);
        cr_assert(len == cases[i].n && memcmp(buf, cases[i].bytes, len) == 0, "%lld: got %s",
                  (long long)cases[i].v, hexdump(buf, len));
        json_t *back;
        cr_assert_eq(hs_avro_decode_json(s, buf, len, &back, err, sizeof err), HS_OK, "%s", err);
        cr_assert(json_equal(back, v));
        json_decref(back);
        json_decref(v);
        free(buf);
    }
    cr_assert_str_eq(hs_avro_schema_fullname(s), "long");
    hs_avro_schema_destroy(s);
}

Test(avro, encode_errors_name_the_field_and_the_reason) {
    hs_avro_schema_t *s = parse(hs_catalog_find("order.placed")->schema_json);
    char path[512];
    snprintf(path, sizeof path, "%s/avro/order.placed/input.json", HS_TEST_DATA);
    json_t *good = load_json(path);
    static const struct {
        const char *pointer; /* where to change the good event: "a/b/1/c" */
        const char *json;    /* new value, NULL to delete */
        const char *want;
    } cases[] = {
        {"line_items/1/quantity", "\"two\"",
         "line_items[1].quantity: expected int, got string \"two\""},
        {"customer/email", NULL, "customer.email: missing required field"},
        {"order_id", NULL, "order_id: missing required field"},
        {"total_prices", "\"1.00\"", "total_prices: unknown field"},
        {"customer/nickname", "\"ada\"", "customer.nickname: unknown field"},
        {"line_items/0/quantity", "3000000000",
         "line_items[0].quantity: 3000000000 out of int range"},
        {"line_items/0/quantity", "-2147483649",
         "line_items[0].quantity: -2147483649 out of int range"},
        {"created_at", "\"2024-05-01T12:00:00Z\"",
         "created_at: expected long, got string \"2024-05-01T12:00:00Z\""},
        {"created_at", "1.5", "created_at: expected long, got number 1.5"},
        {"fulfillment_status", "5",
         "fulfillment_status: expected one of [null, string], got integer 5"},
        {"line_items/0/sku", "[]", "line_items[0].sku: expected one of [null, string], got array"},
        {"line_items", "{}", "line_items: expected array, got object"},
        {"line_items/1", "\"x\"",
         "line_items[1]: expected object for record hookstream.orders.LineItem, got string \"x\""},
        {"customer", "null",
         "customer: expected object for record hookstream.orders.OrderCustomer, got null"},
        {"attributes/source", "1", "attributes.source: expected string, got integer 1"},
        {"currency", "true", "currency: expected string, got boolean true"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *v = json_deep_copy(good);
        char ptr[128], *save = NULL;
        snprintf(ptr, sizeof ptr, "%s", cases[i].pointer);
        json_t *parent = v;
        char *tok = strtok_r(ptr, "/", &save), *next;
        while ((next = strtok_r(NULL, "/", &save))) {
            parent = json_is_array(parent) ? json_array_get(parent, strtoul(tok, NULL, 10))
                                           : json_object_get(parent, tok);
            tok = next;
        }
        json_t *nv = cases[i].json ? json_loads(cases[i].json, JSON_DECODE_ANY, NULL) : NULL;
        if (json_is_array(parent))
            json_array_set_new(parent, strtoul(tok, NULL, 10), nv);
        else if (nv)
            json_object_set_new(parent, tok, nv);
        else
            json_object_del(parent, tok);
        char *text = json_dumps(v, 0);
        expect_error(s, text, cases[i].want);
        free(text);
        json_decref(v);
    }
    expect_error(s, "[]", "expected object for record hookstream.orders.OrderPlaced, got array");
    json_decref(good);
    hs_avro_schema_destroy(s);
}

static const char TYPES_SCHEMA[] =
    "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"test\",\"fields\":["
    "{\"name\":\"status\",\"type\":{\"type\":\"enum\",\"name\":\"Status\","
    "\"symbols\":[\"open\",\"closed\"]},\"default\":\"open\"},"
    "{\"name\":\"f\",\"type\":\"float\",\"default\":0},"
    "{\"name\":\"raw\",\"type\":\"bytes\",\"default\":\"\"},"
    "{\"name\":\"id\",\"type\":{\"type\":\"fixed\",\"name\":\"Id\",\"size\":4},"
    "\"default\":\"abcd\"},"
    "{\"name\":\"n\",\"type\":[\"null\",\"int\",\"long\",\"string\"],\"default\":null},"
    "{\"name\":\"s\",\"type\":[\"null\",\"string\",\"Status\"],\"default\":null},"
    "{\"name\":\"who\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"Who\",\"fields\":["
    "{\"name\":\"email\",\"type\":\"string\"}]}],\"default\":null}]}";

Test(avro, scalar_enum_fixed_and_union_errors) {
    hs_avro_schema_t *s = parse(TYPES_SCHEMA);
    expect_error(s, "{\"status\":\"x\"}",
                 "status: 'x' is not a symbol of enum test.Status (open, closed)");
    expect_error(s, "{\"status\":1}", "status: expected symbol of enum test.Status, got integer 1");
    expect_error(s, "{\"f\":1e300}", "f: 1.0000000000000001e+300 out of float range");
    expect_error(s, "{\"raw\":\"\\u0100\"}",
                 "raw: character U+0100 is not a byte (bytes are strings of code points 0-255)");
    expect_error(s, "{\"raw\":\"\\ud83d\\ude00\"}",
                 "raw: character U+1F600 is not a byte (bytes are strings of code points 0-255)");
    expect_error(s, "{\"id\":\"abc\"}", "id: expected 4 bytes for fixed test.Id, got 3");
    expect_error(s, "{\"n\":true}",
                 "n: expected one of [null, int, long, string], got boolean true");
    expect_error(s, "{\"who\":{}}", "who.email: missing required field");
    expect_error(s, "{\"who\":{\"email\":\"a\",\"x\":1}}", "who.x: unknown field");
    expect_error(s, "{\"who\":{\"Who\":{}}}", "who.email: missing required field");
    hs_avro_schema_destroy(s);
}

/* Union values: plain JSON goes to the first branch that fits; {"branch": v} picks one. */
Test(avro, union_branch_selection) {
    hs_avro_schema_t *s = parse(TYPES_SCHEMA);
    static const struct {
        const char *in, *out;
        unsigned char tag; /* the union branch byte of field n or s */
        size_t at;         /* offset of that byte */
    } cases[] = {
        {"{\"n\":5}", "{\"n\":5}", 0x02, 10},
        {"{\"n\":3000000000}", "{\"n\":3000000000}", 0x04, 10},
        {"{\"n\":\"5\"}", "{\"n\":\"5\"}", 0x06, 10},
        {"{\"n\":{\"long\":5}}", "{\"n\":5}", 0x04, 10},
        {"{\"s\":\"open\"}", "{\"s\":\"open\"}", 0x02, 11},
        {"{\"s\":{\"test.Status\":\"open\"}}", "{\"s\":\"open\"}", 0x04, 11},
        {"{\"s\":{\"Status\":\"closed\"}}", "{\"s\":\"closed\"}", 0x04, 11},
        {"{\"who\":{\"email\":\"a\"}}", "{\"who\":{\"email\":\"a\"}}", 0x02, 12},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *v = json_loads(cases[i].in, 0, NULL), *want = json_loads(cases[i].out, 0, NULL);
        char *buf = NULL;
        size_t len = 0;
        cr_assert_eq(hs_avro_encode_json(s, v, &buf, &len, err, sizeof err), HS_OK, "%s", err);
        cr_assert_gt(len, cases[i].at);
        cr_assert_eq((unsigned char)buf[cases[i].at], cases[i].tag, "%s: %s", cases[i].in,
                     hexdump(buf, len));
        json_t *back;
        cr_assert_eq(hs_avro_decode_json(s, buf, len, &back, err, sizeof err), HS_OK, "%s", err);
        json_t *sub = json_object_get(back, json_object_iter_key(json_object_iter(want)));
        cr_assert(json_equal(sub, json_object_iter_value(json_object_iter(want))), "%s",
                  cases[i].in);
        json_decref(back);
        json_decref(v);
        json_decref(want);
        free(buf);
    }
    hs_avro_schema_destroy(s);
}

static const char LIST_SCHEMA[] =
    "{\"type\":\"record\",\"name\":\"Node\",\"fields\":[{\"name\":\"next\","
    "\"type\":[\"null\",\"Node\"],\"default\":null}]}";

static json_t *nested(int levels) {
    json_t *v = json_pack("{s:n}", "next");
    for (int i = 1; i < levels; i++) {
        json_t *outer = json_object();
        json_object_set_new(outer, "next", v);
        v = outer;
    }
    return v;
}

Test(avro, nesting_depth_is_bounded) {
    hs_avro_schema_t *s = parse(LIST_SCHEMA);
    char *buf = NULL;
    size_t len = 0;
    json_t *ok = nested(HS_AVRO_MAX_DEPTH);
    cr_assert_eq(hs_avro_encode_json(s, ok, &buf, &len, err, sizeof err), HS_OK, "%s", err);
    json_t *back;
    cr_assert_eq(hs_avro_decode_json(s, buf, len, &back, err, sizeof err), HS_OK, "%s", err);
    cr_assert(json_equal(back, ok));
    json_decref(back);
    json_t *deep = nested(HS_AVRO_MAX_DEPTH + 1);
    cr_assert_eq(hs_avro_encode_json(s, deep, &buf, &len, err, sizeof err), HS_ERR_INVALID);
    cr_assert(strstr(err, "nested deeper than 64 levels"), "%s", err);
    cr_assert(strncmp(err, "next.next.next", 14) == 0, "%s", err);
    /* The same depth built by hand in binary: branch 1 per level, then branch 0. */
    char deep_bin[HS_AVRO_MAX_DEPTH + 1];
    memset(deep_bin, 0x02, sizeof deep_bin);
    deep_bin[HS_AVRO_MAX_DEPTH] = 0x00;
    cr_assert_eq(hs_avro_decode_json(s, deep_bin, sizeof deep_bin, &back, err, sizeof err),
                 HS_ERR_INVALID);
    cr_assert(strstr(err, "nested deeper than 64 levels"), "%s", err);
    json_decref(ok);
    json_decref(deep);
    free(buf);
    hs_avro_schema_destroy(s);
}

static void expect_decode_error(const char *schema, const void *data, size_t len,
                                const char *want) {
    hs_avro_schema_t *s = parse(schema);
    json_t *out = (json_t *)1;
    cr_assert_eq(hs_avro_decode_json(s, data, len, &out, err, sizeof err), HS_ERR_INVALID,
                 "accepted %s", hexdump(data, len));
    cr_assert_null(out);
    cr_assert_str_eq(err, want);
    hs_avro_schema_destroy(s);
}

Test(avro, decode_refuses_garbage_with_a_reason) {
    expect_decode_error("\"string\"", "\xfe\xff\xff\xff\x0f", 5,
                        "length 2147483647 exceeds the 0 bytes left");
    expect_decode_error("\"string\"", "\x03", 1, "negative length -2");
    expect_decode_error("\"string\"", "\x04\xc3", 2, "length 2 exceeds the 1 bytes left");
    expect_decode_error("\"string\"", "\x02\xff", 2, "string is not valid UTF-8");
    expect_decode_error("\"long\"", "", 0, "truncated input (need 1 bytes, 0 left)");
    expect_decode_error("\"long\"", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10,
                        "varint overflows a long");
    expect_decode_error("\"int\"", "\x81\x80\x80\x80\x10", 5, "-2147483649 out of int range");
    expect_decode_error("\"double\"", "\0\0\0\0", 4, "truncated input (need 8 bytes, 4 left)");
    expect_decode_error("\"boolean\"", "\x02", 1, "boolean byte is 2, not 0 or 1");
    expect_decode_error("[\"null\",\"int\"]", "\x04", 1, "union branch index 2 out of range 0..1");
    expect_decode_error("[\"null\",\"int\"]", "\x01", 1, "union branch index -1 out of range 0..1");
    expect_decode_error("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}", "\x02", 1,
                        "enum index 1 out of range 0..0");
    expect_decode_error("{\"type\":\"array\",\"items\":\"long\"}", "\xc8\x01\x02", 3,
                        "block of 100 items exceeds the 1 bytes left");
    expect_decode_error("{\"type\":\"array\",\"items\":\"null\"}", "\xfe\xff\xff\xff\x0f", 5,
                        "block of 2147483647 empty items exceeds the input's budget");
    expect_decode_error("{\"type\":\"map\",\"values\":\"null\"}", "\x06\x00", 2,
                        "block of 3 items exceeds the 1 bytes left");
    expect_decode_error("{\"type\":\"array\",\"items\":\"int\"}", "\x03\x10\x02\x00", 4,
                        "block size 8 exceeds the 2 bytes left");
    expect_decode_error("{\"type\":\"array\",\"items\":\"int\"}", "\x02\x02", 2,
                        "truncated input (need 1 bytes, 0 left)");
    expect_decode_error("{\"type\":\"fixed\",\"name\":\"F\",\"size\":4}", "ab", 2,
                        "truncated input (need 4 bytes, 2 left)");
    expect_decode_error("\"int\"", "\x02\x00", 2, "1 trailing bytes after the value");
    expect_decode_error(LIST_SCHEMA, "\x02\x02\x04", 3,
                        "next.next.next: union branch index 2 out of range 0..1");
}

Test(avro, decode_accepts_negative_block_counts_and_empty_items) {
    hs_avro_schema_t *s = parse("{\"type\":\"array\",\"items\":\"int\"}");
    json_t *out;
    /* count -2 with a byte size of 2, items 1 and 2, then a block of 1, then the end */
    cr_assert_eq(hs_avro_decode_json(s, "\x03\x04\x02\x04\x02\x06\x00", 7, &out, err, sizeof err),
                 HS_OK, "%s", err);
    json_t *want = json_pack("[i,i,i]", 1, 2, 3);
    cr_assert(json_equal(out, want));
    json_decref(out);
    json_decref(want);
    hs_avro_schema_destroy(s);
    s = parse("{\"type\":\"array\",\"items\":\"null\"}");
    cr_assert_eq(hs_avro_decode_json(s, "\x06\x00", 2, &out, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(json_array_size(out), 3);
    json_decref(out);
    hs_avro_schema_destroy(s);
}

Test(avro, every_truncation_of_an_event_fails_cleanly) {
    const hs_event_type_t *t = hs_catalog_find("order.placed");
    char path[512];
    snprintf(path, sizeof path, "%s/avro/order.placed/expected.avro", HS_TEST_DATA);
    size_t len;
    char *golden = slurp(path, &len);
    for (size_t n = 0; n < len; n++) {
        char *copy = malloc(n ? n : 1); /* exact size, so ASan sees any overread */
        memcpy(copy, golden, n);
        json_t *out;
        cr_assert_eq(hs_avro_decode_json(hs_catalog_schema(t), copy, n, &out, err, sizeof err),
                     HS_ERR_INVALID, "prefix of %zu bytes accepted", n);
        free(copy);
    }
    free(golden);
}

Test(avro, random_bytes_never_crash) {
    unsigned seed = 12345;
    for (int round = 0; round < 3000; round++) {
        size_t len = (size_t)(rand_r(&seed) % 96);
        unsigned char *buf = malloc(len ? len : 1);
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)rand_r(&seed);
        const hs_event_type_t *t = hs_catalog_at((size_t)round % hs_catalog_count());
        json_t *out = NULL;
        hs_err_t e = hs_avro_decode_json(hs_catalog_schema(t), buf, len, &out, err, sizeof err);
        cr_assert(e == HS_OK || e == HS_ERR_INVALID, "%s: %d", t->type, e);
        cr_assert(e == HS_OK ? out != NULL : out == NULL);
        json_decref(out);
        free(buf);
    }
}

Test(avro, bad_schemas_are_refused) {
    static const struct {
        const char *schema, *want;
    } cases[] = {
        {"{\"type\":", "schema: invalid JSON at line 1: unexpected token near end of file"},
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"Nope\"}]}",
         NULL},
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\","
         "\"default\":\"x\"}]}",
         "schema: field R.a: bad default: expected int, got string \"x\""},
        {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":[\"null\","
         "\"string\"],\"default\":\"x\"}]}",
         "schema: field R.a: bad default: expected null, got string \"x\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        cr_assert_null(hs_avro_schema_parse(cases[i].schema, err, sizeof err), "%s",
                       cases[i].schema);
        if (cases[i].want)
            cr_assert_str_eq(err, cases[i].want);
        else
            cr_assert(strncmp(err, "schema: ", 8) == 0 && strlen(err) > 8, "%s", err);
    }
    cr_assert_null(hs_avro_schema_parse(NULL, err, sizeof err));
    hs_avro_schema_destroy(NULL);
}

typedef struct {
    const hs_avro_schema_t *s;
    const json_t *v;
    int ok;
} worker_t;

static void *encode_many(void *arg) {
    worker_t *w = arg;
    char e[256];
    w->ok = 1;
    for (int i = 0; i < 500 && w->ok; i++) {
        char *buf = NULL;
        size_t len = 0;
        json_t *back = NULL;
        w->ok = hs_avro_encode_json(w->s, w->v, &buf, &len, e, sizeof e) == HS_OK &&
                hs_avro_decode_json(w->s, buf, len, &back, e, sizeof e) == HS_OK &&
                json_object_size(back) > 0;
        json_decref(back);
        free(buf);
    }
    return NULL;
}

Test(avro, one_schema_serves_many_threads) {
    const hs_event_type_t *t = hs_catalog_find("product.updated");
    char path[512];
    snprintf(path, sizeof path, "%s/avro/product.updated/expected.json", HS_TEST_DATA);
    json_t *v = load_json(path);
    pthread_t th[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){hs_catalog_schema(t), v, 0};
        pthread_create(&th[i], NULL, encode_many, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert(w[i].ok, "thread %d failed", i);
    }
    json_decref(v);
}
