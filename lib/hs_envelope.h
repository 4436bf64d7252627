/* CloudEvents 1.0 in Kafka binary mode: the event's attributes travel as message headers
 * (ce_specversion, ce_id, ce_type, ce_source, ce_time, ce_subject, content-type) next to our own
 * hs_tenant, hs_schema and the W3C traceparent, while the value is the Avro body. This module
 * builds those headers for producers and reads them back for consumers. */
#ifndef HS_ENVELOPE_H
#define HS_ENVELOPE_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "hs_err.h"

typedef struct {
    char id[128];          /* ce_id: UUID or provider event id */
    char type[128];        /* ce_type: "order.placed" */
    char source[256];      /* ce_source: "/shopify/shop-123" */
    char time[40];         /* ce_time: RFC 3339 UTC with milliseconds */
    char subject[256];     /* ce_subject: entity id (also the Kafka key) */
    char tenant[128];      /* hs_tenant */
    char schema[300];      /* hs_schema: registry subject */
    char traceparent[64];  /* W3C traceparent 00-<32hex>-<16hex>-01 */
    char content_type[64]; /* content-type, "application/avro" */
} hs_envelope_t;

/* Fills id (random UUID v4), time (now), traceparent (new random trace) when they are empty and
 * content_type "application/avro" when empty. */
void hs_envelope_defaults(hs_envelope_t *ev);

/* Returns new headers (ce_specversion=1.0, ce_id, ce_type, ce_source, ce_time, ce_subject,
 * content-type, hs_tenant, hs_schema, traceparent; empty fields are omitted); ownership passes to
 * rd_kafka_producev(RD_KAFKA_V_HEADERS) or the caller frees with rd_kafka_headers_destroy. */
rd_kafka_headers_t *hs_envelope_headers(const hs_envelope_t *ev);

/* Reads the headers of a consumed message into ev (zeroed first). Missing ce_specversion, ce_id,
 * ce_type or ce_source, a specversion other than 1.0, or a value longer than its field →
 * HS_ERR_INVALID naming the header. */
hs_err_t hs_envelope_parse(const rd_kafka_headers_t *hdrs, hs_envelope_t *ev, char *errstr,
                           size_t errstr_size);

/* Returns 1 when s is an RFC 3339 timestamp ("2024-05-01T12:00:00.123Z", offsets allowed),
 * else 0; used by produce to check ce_time. */
int hs_envelope_valid_time(const char *s);

/* Returns the unix milliseconds of an RFC 3339 timestamp ("2024-05-01T12:00:00.123+02:00"), or
 * -1 when s is not one. */
int64_t hs_envelope_time_ms(const char *s);

/* Writes unix milliseconds ms as RFC 3339 UTC with milliseconds ("2024-05-01T12:00:00.123Z")
 * into out (at least 25 bytes). */
void hs_envelope_time_format(int64_t ms, char *out, size_t n);

/* Returns 1 when s is a W3C traceparent "00-<32 hex>-<16 hex>-<2 hex>" with non-zero ids, else 0.
 */
int hs_envelope_valid_traceparent(const char *s);

#endif
