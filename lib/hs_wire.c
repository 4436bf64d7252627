#include "hs_wire.h"

void hs_wire_header(int32_t schema_id, unsigned char out[HS_WIRE_HEADER_SIZE]) {
    uint32_t id = (uint32_t)schema_id;
    out[0] = HS_WIRE_MAGIC;
    out[1] = (unsigned char)(id >> 24);
    out[2] = (unsigned char)(id >> 16);
    out[3] = (unsigned char)(id >> 8);
    out[4] = (unsigned char)id;
}

hs_err_t hs_wire_parse(const void *msg, size_t len, int32_t *schema_id, const void **body,
                       size_t *body_len, char *errstr, size_t errstr_size) {
    const unsigned char *p = msg;
    if (!p || len < HS_WIRE_HEADER_SIZE)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                       "wire format: message of %zu bytes is shorter than the %d-byte header",
                       p ? len : 0, HS_WIRE_HEADER_SIZE);
    if (p[0] != HS_WIRE_MAGIC)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                       "wire format: magic byte is 0x%02x, expected 0x00 (not a Confluent "
                       "Schema Registry framed value)",
                       p[0]);
    uint32_t id = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    *schema_id = (int32_t)id;
    *body = p + HS_WIRE_HEADER_SIZE;
    *body_len = len - HS_WIRE_HEADER_SIZE;
    return HS_OK;
}
