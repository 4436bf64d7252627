#include <criterion/criterion.h>
#include <string.h>

#include "hs_envelope.h"

static char err[256];

static hs_envelope_t full(void) {
    hs_envelope_t ev = {0};
    snprintf(ev.id, sizeof ev.id, "evt_1");
    snprintf(ev.type, sizeof ev.type, "order.placed");
    snprintf(ev.source, sizeof ev.source, "/shopify/shop-123");
    snprintf(ev.time, sizeof ev.time, "2024-05-01T12:00:00.123Z");
    snprintf(ev.subject, sizeof ev.subject, "5731298214198");
    snprintf(ev.tenant, sizeof ev.tenant, "acme");
    snprintf(ev.schema, sizeof ev.schema, "hs.events.orders-hookstream.orders.OrderPlaced");
    snprintf(ev.traceparent, sizeof ev.traceparent,
             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    snprintf(ev.content_type, sizeof ev.content_type, "application/avro");
    return ev;
}

static const char *header(const rd_kafka_headers_t *h, const char *name) {
    static char out[512];
    const void *v;
    size_t n;
    if (rd_kafka_header_get_last(h, name, &v, &n)) return NULL;
    snprintf(out, sizeof out, "%.*s", (int)n, (const char *)v);
    return out;
}

Test(envelope, headers_round_trip) {
    hs_envelope_t ev = full(), back;
    rd_kafka_headers_t *h = hs_envelope_headers(&ev);
    cr_assert_eq(rd_kafka_header_cnt(h), 10);
    cr_assert_str_eq(header(h, "ce_specversion"), "1.0");
    cr_assert_str_eq(header(h, "ce_type"), "order.placed");
    cr_assert_str_eq(header(h, "content-type"), "application/avro");
    cr_assert_str_eq(header(h, "hs_schema"), "hs.events.orders-hookstream.orders.OrderPlaced");
    cr_assert_eq(hs_envelope_parse(h, &back, err, sizeof err), HS_OK, "%s", err);
    cr_assert(memcmp(&ev, &back, sizeof ev) == 0);
    rd_kafka_headers_destroy(h);
}

Test(envelope, empty_fields_are_omitted) {
    hs_envelope_t ev = {0}, back;
    snprintf(ev.id, sizeof ev.id, "1");
    snprintf(ev.type, sizeof ev.type, "inventory.low");
    snprintf(ev.source, sizeof ev.source, "/shopify/s");
    rd_kafka_headers_t *h = hs_envelope_headers(&ev);
    cr_assert_eq(rd_kafka_header_cnt(h), 4);
    cr_assert_null(header(h, "ce_subject"));
    cr_assert_null(header(h, "traceparent"));
    cr_assert_eq(hs_envelope_parse(h, &back, err, sizeof err), HS_OK, "%s", err);
    cr_assert_str_eq(back.type, "inventory.low");
    cr_assert_str_eq(back.subject, "");
    rd_kafka_headers_destroy(h);
}

/* Builds the headers of full() without `drop`, with `name` set to `value` (when not NULL). */
static rd_kafka_headers_t *altered(const char *drop, const char *name, const char *value,
                                   size_t len) {
    hs_envelope_t ev = full();
    rd_kafka_headers_t *h = hs_envelope_headers(&ev);
    if (drop) rd_kafka_header_remove(h, drop);
    if (name) {
        rd_kafka_header_remove(h, name);
        rd_kafka_header_add(h, name, -1, value, (ssize_t)len);
    }
    return h;
}

Test(envelope, missing_required_headers_are_named) {
    static const char *required[] = {"ce_specversion", "ce_id", "ce_type", "ce_source"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        rd_kafka_headers_t *h = altered(required[i], NULL, NULL, 0);
        hs_envelope_t ev;
        cr_assert_eq(hs_envelope_parse(h, &ev, err, sizeof err), HS_ERR_INVALID);
        char want[64];
        snprintf(want, sizeof want, "header %s: missing", required[i]);
        cr_assert_str_eq(err, want);
        rd_kafka_headers_destroy(h);
    }
    hs_envelope_t ev;
    cr_assert_eq(hs_envelope_parse(NULL, &ev, err, sizeof err), HS_ERR_INVALID);
    cr_assert(strstr(err, "ce_specversion: missing"), "%s", err);
    rd_kafka_headers_t *h = altered(NULL, "ce_type", "", 0);
    cr_assert_eq(hs_envelope_parse(h, &ev, err, sizeof err), HS_ERR_INVALID);
    cr_assert_str_eq(err, "header ce_type: missing");
    rd_kafka_headers_destroy(h);
}

Test(envelope, bad_values_are_refused) {
    hs_envelope_t ev;
    rd_kafka_headers_t *h = altered(NULL, "ce_specversion", "0.3", 3);
    cr_assert_eq(hs_envelope_parse(h, &ev, err, sizeof err), HS_ERR_INVALID);
    cr_assert_str_eq(err, "header ce_specversion: '0.3' is not supported (want 1.0)");
    rd_kafka_headers_destroy(h);

    char big[300];
    memset(big, 'x', sizeof big);
    h = altered(NULL, "ce_id", big, sizeof ev.id);
    cr_assert_eq(hs_envelope_parse(h, &ev, err, sizeof err), HS_ERR_INVALID);
    cr_assert_str_eq(err, "header ce_id: value of 128 bytes is longer than the 127 allowed");
    rd_kafka_headers_destroy(h);

    h = altered(NULL, "ce_id", big, sizeof ev.id - 1);
    cr_assert_eq(hs_envelope_parse(h, &ev, err, sizeof err), HS_OK, "%s", err);
    cr_assert_eq(strlen(ev.id), sizeof ev.id - 1);
    rd_kafka_headers_destroy(h);

    h = altered(NULL, "traceparent", big, sizeof big);
    cr_assert_eq(hs_envelope_parse(h, &ev, err, sizeof err), HS_ERR_INVALID);
    cr_assert(strstr(err, "header traceparent: value of 300 bytes"), "%s", err);
    rd_kafka_headers_destroy(h);

    h = altered(NULL, "ce_source", "/a\0b", 4);
    cr_assert_eq(hs_envelope_parse(h, &ev, err, sizeof err), HS_ERR_INVALID);
    cr_assert_str_eq(err, "header ce_source: value contains a NUL byte");
    rd_kafka_headers_destroy(h);
}

Test(envelope, defaults_fill_only_empty_fields) {
    hs_envelope_t ev = {0};
    hs_envelope_defaults(&ev);
    cr_assert_eq(strlen(ev.id), 36, "%s", ev.id);
    cr_assert_eq(ev.id[14], '4', "not a v4 UUID: %s", ev.id);
    cr_assert(strchr("89ab", ev.id[19]), "bad UUID variant: %s", ev.id);
    cr_assert(hs_envelope_valid_time(ev.time), "%s", ev.time);
    cr_assert_eq(strlen(ev.time), 24, "%s", ev.time);
    cr_assert_eq(ev.time[23], 'Z');
    cr_assert(hs_envelope_valid_traceparent(ev.traceparent), "%s", ev.traceparent);
    cr_assert_str_eq(ev.content_type, "application/avro");
    hs_envelope_t again = ev;
    hs_envelope_defaults(&again);
    cr_assert(memcmp(&ev, &again, sizeof ev) == 0);
    hs_envelope_t other = {0};
    hs_envelope_defaults(&other);
    cr_assert_str_neq(other.id, ev.id);
    cr_assert_str_neq(other.traceparent, ev.traceparent);
}

Test(envelope, rfc3339_times) {
    static const char *good[] = {"2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123Z",
                                 "2024-02-29T23:59:60.5+01:00", "1999-12-31t00:00:00z",
                                 "2024-05-01T12:00:00.123456789-07:30"};
    static const char *bad[] = {"",
                                "2024-05-01",
                                "2024-05-01 12:00:00Z",
                                "2024-05-01T12:00:00",
                                "2023-02-29T00:00:00Z",
                                "2024-13-01T00:00:00Z",
                                "2024-05-01T24:00:00Z",
                                "2024-05-01T12:00:00.Z",
                                "2024-05-01T12:00:00+0100",
                                "2024-05-01T12:00:00Zjunk",
                                "1714564800123"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_assert(hs_envelope_valid_time(good[i]), "%s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(hs_envelope_valid_time(bad[i]), "%s", bad[i]);
    cr_assert_not(hs_envelope_valid_time(NULL));
}

Test(envelope, traceparents) {
    static const char *good[] = {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                 "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
                                 "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz"};
    static const char *bad[] = {"",
                                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
                                "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_assert(hs_envelope_valid_traceparent(good[i]), "%s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(hs_envelope_valid_traceparent(bad[i]), "%s", bad[i]);
    cr_assert_not(hs_envelope_valid_traceparent(NULL));
}
