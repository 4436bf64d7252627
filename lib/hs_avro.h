/* JSON <-> Avro binary, driven by an Avro schema (avro-c). Plain JSON both ways: unions are not
 * wrapped ({"string": "x"} is accepted on input only, to disambiguate), bytes/fixed are strings
 * of code points 0-255, timestamp-millis is a plain long. Errors name the field path, e.g.
 * "line_items[1].quantity: expected int, got string \"two\"". Input is bounded: nesting depth
 * 64, and decoded lengths may not exceed the remaining input. */
#ifndef HS_AVRO_H
#define HS_AVRO_H

#include <stddef.h>

#include <avro.h>
#include <jansson.h>

#include "hs_err.h"

/* Maximum nesting of records, arrays, maps and unions accepted by encode and decode. */
#define HS_AVRO_MAX_DEPTH 64

typedef struct hs_avro_schema hs_avro_schema_t;

/* Parses schema JSON text. NULL + errstr on failure. Thread-safe to use concurrently after
 * creation (encode/decode keep per-call state only). Caller frees with hs_avro_schema_destroy. */
hs_avro_schema_t *hs_avro_schema_parse(const char *json, char *errstr, size_t errstr_size);

/* Frees s; NULL is a no-op. */
void hs_avro_schema_destroy(hs_avro_schema_t *s);

/* Returns the full name of a named schema ("hookstream.orders.OrderPlaced"), or the type name
 * ("string") of an unnamed one; borrowed, valid until s is destroyed. */
const char *hs_avro_schema_fullname(const hs_avro_schema_t *s);

/* Returns the avro-c handle; borrowed, valid until s is destroyed (avro_schema_incref to keep). */
avro_schema_t hs_avro_schema_raw(const hs_avro_schema_t *s);

/* Encodes JSON value (an object for a record schema) to Avro binary appended to *buf (realloc'd;
 * *len updated; *buf may be NULL with *len 0; caller frees *buf). On mismatch returns
 * HS_ERR_INVALID and errstr names the path and the reason:
 * "line_items[1].quantity: expected int, got string \"two\"", "customer.email: missing required
 * field", "total_price: unknown field" (unknown fields are refused), "status: 'x' is not a symbol
 * of enum ...", "quantity: 3000000000 out of int range". Nothing is appended on error. */
hs_err_t hs_avro_encode_json(const hs_avro_schema_t *s, const json_t *value, char **buf,
                             size_t *len, char *errstr, size_t errstr_size);

/* A top-level member of the object hs_avro_encode_text reads, wanted by the caller as well:
 * name in; text out: the member's raw JSON text (borrowed from the input), NULL when absent. */
typedef struct {
    const char *name;
    const char *text;
    size_t len;
} hs_avro_pick_t;

/* The bulk path of hs_avro_encode_json: encodes JSON text (an object, for a record schema)
 * straight to Avro binary without building a json_t, appending to *buf (*len bytes used, *cap
 * allocated; realloc'd; caller frees *buf and may reuse it across calls). Takes the common shape
 * only: members in schema order, strings of printable ASCII without escapes, no bytes or fixed.
 * Anything else, every invalid input included, → HS_ERR_UNSUPPORTED with nothing appended: the
 * caller then parses the text and calls hs_avro_encode_json, which gives the same bytes or the
 * exact error. Out of memory → HS_ERR_INTERNAL with errstr. picks (npicks entries, may be NULL
 * when 0) receive top-level members on success. */
hs_err_t hs_avro_encode_text(const hs_avro_schema_t *s, const char *text, size_t text_len,
                             char **buf, size_t *len, size_t *cap, hs_avro_pick_t *picks,
                             size_t npicks, char *errstr, size_t errstr_size);

/* Decodes Avro binary to a new JSON value (caller json_decref). Truncated/garbage input or
 * trailing bytes → HS_ERR_INVALID (never reads out of bounds, bounded allocation: rejects
 * array/map/string lengths larger than the remaining input). */
hs_err_t hs_avro_decode_json(const hs_avro_schema_t *s, const void *data, size_t len, json_t **out,
                             char *errstr, size_t errstr_size);

#endif
