/* Confluent Schema Registry wire format: a message value is magic byte 0, the schema id as a
 * big-endian int32, then the Avro binary body. Producers write the header in front of the body;
 * consumers split it off to find the schema to decode with. */
#ifndef HS_WIRE_H
#define HS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "hs_err.h"

#define HS_WIRE_HEADER_SIZE 5
#define HS_WIRE_MAGIC 0

/* Writes the 5-byte header for schema_id into out[0..4]. */
void hs_wire_header(int32_t schema_id, unsigned char out[HS_WIRE_HEADER_SIZE]);

/* Splits a message value. Too short or magic != 0 → HS_ERR_INVALID with a reason. *body is
 * borrowed: it points into msg (and *body_len may be 0). */
hs_err_t hs_wire_parse(const void *msg, size_t len, int32_t *schema_id, const void **body,
                       size_t *body_len, char *errstr, size_t errstr_size);

#endif
