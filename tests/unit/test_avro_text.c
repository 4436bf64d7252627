/* hs_avro_encode_text: the same bytes as hs_avro_encode_json whenever it accepts, and a decline
 * (nothing appended) for every input outside its shape, invalid JSON above all. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_avro.h"
#include "hs_catalog.h"

static char err[512];

static const char *schema_text =
    "{\"type\":\"record\",\"name\":\"T\",\"namespace\":\"t\",\"fields\":["
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"i\",\"type\":\"int\",\"default\":7},"
    "{\"name\":\"l\",\"type\":\"long\",\"default\":0},"
    "{\"name\":\"f\",\"type\":\"float\",\"default\":0},"
    "{\"name\":\"d\",\"type\":\"double\",\"default\":0},"
    "{\"name\":\"b\",\"type\":\"boolean\",\"default\":false},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"BB\"]},"
    "\"default\":\"A\"},"
    "{\"name\":\"o\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"r\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"R\",\"fields\":["
    "{\"name\":\"x\",\"type\":\"int\"}]}],\"default\":null},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"long\"},\"default\":[]},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"string\"},\"default\":{}},"
    "{\"name\":\"n\",\"type\":[\"int\",\"double\",\"string\"],\"default\":1},"
    "{\"name\":\"y\",\"type\":[\"null\",\"bytes\"],\"default\":null}]}";

static hs_avro_schema_t *schema(void) {
    hs_avro_schema_t *s = hs_avro_schema_parse(schema_text, err, sizeof err);
    cr_assert(s, "%s", err);
    return s;
}

/* Encodes text both ways; the text path must accept and give the tree path's bytes. */
static void same_bytes(const hs_avro_schema_t *s, const char *text) {
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    cr_assert(v, "test JSON %s: %s", text, jerr.text);
    char *want = NULL, *got = malloc(3);
    size_t want_len = 0, got_len = 3, cap = 3;
    memcpy(got, "abc", 3);
    cr_assert_eq(hs_avro_encode_json(s, v, &want, &want_len, err, sizeof err), HS_OK, "%s: %s",
                 text, err);
    cr_assert_eq(
        hs_avro_encode_text(s, text, strlen(text), &got, &got_len, &cap, NULL, 0, err, sizeof err),
        HS_OK, "declined %s", text);
    cr_assert_eq(got_len, want_len + 3, "%s", text);
    cr_assert(memcmp(got, "abc", 3) == 0 && memcmp(got + 3, want, want_len) == 0, "%s", text);
    free(want);
    free(got);
    json_decref(v);
}

/* The text path declines text, leaving the buffer as it was. */
static void declines(const hs_avro_schema_t *s, const char *text, size_t len) {
    char *buf = malloc(3);
    size_t blen = 3, cap = 3;
    memcpy(buf, "abc", 3);
    hs_avro_pick_t pick = {"s", NULL, 0};
    cr_assert_eq(hs_avro_encode_text(s, text, len, &buf, &blen, &cap, &pick, 1, err, sizeof err),
                 HS_ERR_UNSUPPORTED, "accepted %.*s", (int)len, text);
    cr_assert_eq(blen, 3, "%.*s: bytes were appended", (int)len, text);
    cr_assert(memcmp(buf, "abc", 3) == 0);
    cr_assert_null(pick.text);
    free(buf);
}

#define DECLINES(s, lit) declines(s, lit, strlen(lit))

Test(avro_text, gives_the_tree_encoders_bytes) {
    hs_avro_schema_t *s = schema();
    same_bytes(s, "{\"s\":\"x\"}");
    same_bytes(s, " { \"s\" : \"\" , \"l\" : -9223372036854775808 }\r\n");
    same_bytes(s, "{\"s\":\"x\",\"i\":-2147483648,\"l\":9223372036854775807,\"f\":1.5,"
                  "\"d\":-0.25e-3,\"b\":true,\"e\":\"BB\",\"o\":\"y\",\"r\":{\"x\":3},"
                  "\"a\":[1,-2,3],\"m\":{\"k\":\"v\",\"k2\":\"\"},\"n\":2.5,\"y\":null}");
    same_bytes(s, "{\"s\":\"a b ~\x7f\",\"f\":3,\"d\":-0,\"o\":null,\"a\":[],\"m\":{}}");
    same_bytes(s, "{\"s\":\"x\",\"n\":3000000000}"); /* no int: the double branch */
    same_bytes(s, "{\"s\":\"x\",\"n\":\"str\"}");    /* the string branch */
    same_bytes(s, "{\"s\":\"x\",\"e\":\"A\",\"m\":{\"int\":\"1\"}}");
    same_bytes(s, "{\"s\":\"x\",\"b\":false,\"r\":{\"x\":1}}");
    hs_avro_schema_destroy(s);
}

Test(avro_text, declines_what_it_does_not_take_and_every_invalid_input) {
    hs_avro_schema_t *s = schema();
    static const char *const texts[] = {
        "{\"i\":1,\"s\":\"x\"}",                         /* members out of schema order */
        "{\"s\":\"x\",\"s\":\"y\"}",                     /* duplicate */
        "{\"s\":\"x\",\"zz\":1}",                        /* unknown field */
        "{\"i\":1}",                                     /* missing required field */
        "{\"s\":\"x\\n\"}",                              /* escape */
        "{\"s\":\"caf\xc3\xa9\"}",                       /* non-ASCII */
        "{\"s\":\"tab\there\"}",                         /* raw control character */
        "{\"s\":\"x\",}",                                /* trailing comma */
        "{,\"s\":\"x\"}",                                /* leading comma */
        "{\"s\":\"x\" \"i\":1}",                         /* missing comma */
        "{\"s\" \"x\"}",                                 /* missing colon */
        "{\"s\":\"x\"",                                  /* unterminated */
        "{\"s\":\"x",                                    /* unterminated string */
        "{\"s\":\"x\"} x",                               /* trailing garbage */
        "{\"s\":\"x\"}{}",                               /* two documents */
        "[\"x\"]",                                       /* not an object */
        "",                                              /* nothing */
        "{\"s\":\"x\",\"i\":2147483648}",                /* out of int range */
        "{\"s\":\"x\",\"l\":9223372036854775808}",       /* too big for jansson */
        "{\"s\":\"x\",\"l\":1.0}",                       /* real for long */
        "{\"s\":\"x\",\"i\":01}",                        /* leading zero */
        "{\"s\":\"x\",\"i\":-}",                         /* bad number */
        "{\"s\":\"x\",\"d\":1.}",                        /* bad number */
        "{\"s\":\"x\",\"d\":1e}",                        /* bad number */
        "{\"s\":\"x\",\"d\":1e999}",                     /* overflow */
        "{\"s\":\"x\",\"f\":1e39}",                      /* out of float range */
        "{\"s\":\"x\",\"b\":truex}",                     /* bad literal */
        "{\"s\":\"x\",\"b\":1}",                         /* int for boolean */
        "{\"s\":\"x\",\"e\":\"C\"}",                     /* not a symbol */
        "{\"s\":\"x\",\"o\":{\"string\":\"y\"}}",        /* wrapped union form */
        "{\"s\":\"x\",\"o\":5}",                         /* no branch fits */
        "{\"s\":\"x\",\"r\":{\"x\":\"1\"}}",             /* first fitting branch refuses */
        "{\"s\":\"x\",\"a\":[1,]}",                      /* trailing comma in array */
        "{\"s\":\"x\",\"a\":[,1]}",                      /* leading comma in array */
        "{\"s\":\"x\",\"m\":{\"k\":\"v\",\"k\":\"w\"}}", /* duplicate map key */
        "{\"s\":\"x\",\"m\":{\"k\":\"v\",}}",            /* trailing comma in map */
        "{\"s\":\"x\",\"y\":\"bytes\"}",                 /* bytes are left to the tree encoder */
        "{\"s\":null}",                                  /* null for string */
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        DECLINES(s, texts[i]);
    declines(s, "{\"s\":\"x\"}\0", 10); /* a NUL byte after the object */
    declines(s, "{\"s\":\"x\0\"}", 9);  /* a NUL byte in a string */
    hs_avro_schema_destroy(s);
}

/* Strings are scanned eight bytes at a time: a refused byte is found at every position. */
Test(avro_text, finds_a_refused_byte_anywhere_in_a_long_string) {
    hs_avro_schema_t *s = schema();
    static const char refused[] = {'\n', '\t', '\\', '\x01', '\x1f', '\x80', '\xff'};
    char text[64];
    for (size_t pos = 0; pos < 24; pos++) {
        for (size_t r = 0; r < sizeof refused; r++) {
            int n = snprintf(text, sizeof text, "{\"s\":\"%s\"}", "abcdefghijklmnopqrstuvwx");
            text[6 + pos] = refused[r];
            declines(s, text, (size_t)n);
        }
        snprintf(text, sizeof text, "{\"s\":\"%s\"}", "abcdefghijklmnopqrstuvwx");
        text[6 + pos] = (char)(pos % 2 ? 0x7f : ' ');
        same_bytes(s, text);
    }
    hs_avro_schema_destroy(s);
}

Test(avro_text, declines_nesting_past_the_limit) {
    /* a record holding an optional copy of itself, nested deeper than HS_AVRO_MAX_DEPTH */
    hs_avro_schema_t *s = hs_avro_schema_parse(
        "{\"type\":\"record\",\"name\":\"N\",\"fields\":[{\"name\":\"c\",\"type\":[\"null\",\"N\"],"
        "\"default\":null}]}",
        err, sizeof err);
    cr_assert(s, "%s", err);
    char text[2048] = "";
    size_t n = 0;
    for (int i = 0; i < HS_AVRO_MAX_DEPTH + 1; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "{\"c\":");
    n += (size_t)snprintf(text + n, sizeof text - n, "null");
    for (int i = 0; i < HS_AVRO_MAX_DEPTH + 1; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "}");
    declines(s, text, n);
    same_bytes(s, "{\"c\":{\"c\":{\"c\":null}}}");
    hs_avro_schema_destroy(s);
}

Test(avro_text, picks_top_level_members) {
    hs_avro_schema_t *s = schema();
    const char *text = "{\"s\":\"key-1\", \"r\": {\"x\":1}, \"a\":[1]}";
    hs_avro_pick_t picks[] = {{"s", NULL, 0}, {"r", NULL, 0}, {"x", NULL, 0}, {"m", NULL, 0}};
    char *buf = NULL;
    size_t len = 0, cap = 0;
    cr_assert_eq(
        hs_avro_encode_text(s, text, strlen(text), &buf, &len, &cap, picks, 4, err, sizeof err),
        HS_OK);
    cr_assert(picks[0].len == 7 && memcmp(picks[0].text, "\"key-1\"", 7) == 0);
    cr_assert(picks[1].len == 7 && memcmp(picks[1].text, "{\"x\":1}", 7) == 0);
    cr_assert_null(picks[2].text, "a nested member is not a top-level one");
    cr_assert_null(picks[3].text, "absent");
    free(buf);
    hs_avro_schema_destroy(s);
}

/* Each catalog type's golden event, its members in schema order (as the decoder writes them):
 * the text path takes it and gives Apache Avro's bytes. */
Test(avro_text, every_catalog_type_in_schema_order) {
    for (size_t i = 0; i < hs_catalog_count(); i++) {
        const hs_event_type_t *t = hs_catalog_at(i);
        const hs_avro_schema_t *s = hs_catalog_schema(t);
        char path[512];
        snprintf(path, sizeof path, "%s/avro/%s/input.json", HS_TEST_DATA, t->type);
        json_error_t jerr;
        json_t *input = json_load_file(path, 0, &jerr);
        cr_assert(input, "%s: %s", path, jerr.text);
        char *avro = NULL;
        size_t len = 0;
        cr_assert_eq(hs_avro_encode_json(s, input, &avro, &len, err, sizeof err), HS_OK);
        json_t *ordered = NULL;
        cr_assert_eq(hs_avro_decode_json(s, avro, len, &ordered, err, sizeof err), HS_OK);
        char *text = json_dumps(ordered, JSON_COMPACT | JSON_PRESERVE_ORDER);
        char *buf = NULL;
        size_t blen = 0, cap = 0;
        hs_err_t rc =
            hs_avro_encode_text(s, text, strlen(text), &buf, &blen, &cap, NULL, 0, err, sizeof err);
        cr_assert(rc == HS_OK || rc == HS_ERR_UNSUPPORTED, "%s", t->type);
        if (rc == HS_OK)
            cr_assert(blen == len && memcmp(buf, avro, len) == 0, "%s: bytes differ", t->type);
        else
            cr_assert(strchr(text, '\\') || strcmp(t->type, "order.placed") != 0, "%s: declined %s",
                      t->type, text);
        free(buf);
        free(text);
        free(avro);
        json_decref(ordered);
        json_decref(input);
    }
}
