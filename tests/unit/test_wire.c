#include <criterion/criterion.h>
#include <string.h>

#include "hs_wire.h"

static char err[256];

Test(wire, header_is_magic_then_big_endian_id) {
    static const struct {
        int32_t id;
        unsigned char bytes[HS_WIRE_HEADER_SIZE];
    } cases[] = {
        {1, {0, 0, 0, 0, 1}},
        {256, {0, 0, 0, 1, 0}},
        {0x7fffffff, {0, 0x7f, 0xff, 0xff, 0xff}},
        {0x01020304, {0, 1, 2, 3, 4}},
        {-1, {0, 0xff, 0xff, 0xff, 0xff}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char out[HS_WIRE_HEADER_SIZE];
        hs_wire_header(cases[i].id, out);
        cr_assert(memcmp(out, cases[i].bytes, sizeof out) == 0, "id %d", cases[i].id);
    }
}

Test(wire, parse_splits_id_and_body) {
    unsigned char msg[HS_WIRE_HEADER_SIZE + 3];
    hs_wire_header(0x7fffffff, msg);
    memcpy(msg + HS_WIRE_HEADER_SIZE, "\x02\x04\x06", 3);
    int32_t id = 0;
    const void *body = NULL;
    size_t body_len = 0;
    cr_assert_eq(hs_wire_parse(msg, sizeof msg, &id, &body, &body_len, err, sizeof err), HS_OK);
    cr_assert_eq(id, 0x7fffffff);
    cr_assert_eq(body, msg + HS_WIRE_HEADER_SIZE);
    cr_assert_eq(body_len, 3);

    hs_wire_header(256, msg);
    cr_assert_eq(hs_wire_parse(msg, HS_WIRE_HEADER_SIZE, &id, &body, &body_len, err, sizeof err),
                 HS_OK);
    cr_assert_eq(id, 256);
    cr_assert_eq(body_len, 0);
}

Test(wire, parse_refuses_short_and_unframed_values) {
    int32_t id;
    const void *body;
    size_t body_len;
    cr_assert_eq(hs_wire_parse("\0\0\0\1", 4, &id, &body, &body_len, err, sizeof err),
                 HS_ERR_INVALID);
    cr_assert_str_eq(err, "wire format: message of 4 bytes is shorter than the 5-byte header");
    cr_assert_eq(hs_wire_parse("", 0, &id, &body, &body_len, err, sizeof err), HS_ERR_INVALID);
    cr_assert_str_eq(err, "wire format: message of 0 bytes is shorter than the 5-byte header");
    cr_assert_eq(hs_wire_parse(NULL, 10, &id, &body, &body_len, err, sizeof err), HS_ERR_INVALID);
    cr_assert_eq(hs_wire_parse("{\"a\":1}", 7, &id, &body, &body_len, err, sizeof err),
                 HS_ERR_INVALID);
    cr_assert_str_eq(err, "wire format: magic byte is 0x7b, expected 0x00 (not a Confluent Schema "
                          "Registry framed value)");
    cr_assert_eq(hs_wire_parse("\1\0\0\0\1x", 6, &id, &body, &body_len, err, sizeof err),
                 HS_ERR_INVALID);
    cr_assert(strstr(err, "magic byte is 0x01"), "%s", err);
}
