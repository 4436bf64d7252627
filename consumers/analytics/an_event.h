/* What analytics needs of one consumed event, read as cheaply as possible: the CloudEvents
 * headers give type, source, tenant, subject and time; the Avro body is walked (never decoded to
 * JSON) for the few fields a type's rule names: order and payment amounts with their currency,
 * the customer id, stock levels. Writer schemas are fetched from the registry once per schema id
 * and compiled into pick plans (an_avro).
 * @locality: one reader per consumer thread (the plan cache is not locked). */
#ifndef AN_EVENT_H
#define AN_EVENT_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_config.h"
#include "hs_err.h"

/* Longest accepted header values (those of hs_envelope) and body strings kept. */
#define AN_TYPE_MAX 127
#define AN_SOURCE_MAX 255
#define AN_TENANT_MAX 127
#define AN_SUBJECT_MAX 255
#define AN_FIELD_MAX 255
#define AN_CURRENCY_MAX 8

/* A string borrowed from the message (not NUL-terminated), valid until it is destroyed. */
typedef struct {
    const char *s;
    size_t len;
} an_str_t;

typedef enum { AN_STOCK_NONE = 0, AN_STOCK_LOW, AN_STOCK_LEVEL } an_stock_kind_t;

typedef struct {
    an_str_t type, source, tenant, subject; /* tenant "" when hs_tenant is absent */
    int64_t time_ms;                        /* event time: ce_time, else the Kafka timestamp */
    int64_t produced_ms;                    /* the record's Kafka timestamp (-1: none) */
    int has_amount;
    int64_t amount;                     /* an_money units */
    char currency[AN_CURRENCY_MAX + 1]; /* upper case; "" without an amount */
    an_str_t customer;                  /* customer id, len 0 when none */
    an_stock_kind_t stock;              /* inventory.low / inventory.updated */
    an_str_t sku, location, product;    /* sku falls back to the inventory item id */
    int64_t available, threshold;       /* threshold -1 for a level update */
} an_event_t;

typedef struct an_reader an_reader_t;

/* Returns a new reader fetching schemas through the registry cfg names (registry.url, else the
 * catalog at postgres.dsn), connected at the first unknown schema id. cfg borrowed. */
an_reader_t *an_reader_new(const hs_config_t *cfg);
void an_reader_destroy(an_reader_t *r);
/* Fills ev from rkm (ev borrows from rkm). HS_ERR_INVALID: the message is malformed for
 * analytics (missing ce_type/ce_source, bad ce_time, a header or field that is not UTF-8 or too
 * long, not wire format, unknown schema id, a body that does not match its schema, an amount
 * that is not a decimal): errstr says which, error_class (static) is a short name for the DLQ
 * header. HS_ERR_UNAVAILABLE: the registry cannot be reached; try again later. */
hs_err_t an_reader_read(an_reader_t *r, const rd_kafka_message_t *rkm, an_event_t *ev,
                        const char **error_class, char *errstr, size_t errstr_size);

/* Returns unix ms of an RFC 3339 time of len bytes ("2024-05-01T12:00:00.123Z", a space for T,
 * offsets allowed), or -1 when it is not one. */
int64_t an_event_time_ms(const char *s, size_t len);
/* The minute of the last time an_event_time_cached parsed; zero-initialise. */
typedef struct {
    char text[16]; /* "YYYY-MM-DDTHH:MM" */
    int64_t ms;
} an_time_cache_t;
/* Returns an_event_time_ms(s, len); a time "YYYY-MM-DDTHH:MM:SS.sssZ" (hs_envelope's form) in
 * the minute of the one before costs only its seconds: consecutive events mostly share one. */
int64_t an_event_time_cached(an_time_cache_t *c, const char *s, size_t len);
/* Returns 1 when s[0..len) is UTF-8 without NUL bytes, else 0. */
int an_event_utf8_ok(const char *s, size_t len);

#endif
