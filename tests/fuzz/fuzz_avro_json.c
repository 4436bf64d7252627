/* libFuzzer target for the JSON <-> Avro codec. The input is tried two ways: as JSON text
 * encoded against every catalog schema and a schema using every Avro type (whatever encodes
 * must decode, and what decodes must encode back to the same bytes), and as raw Avro bytes
 * decoded against one of those schemas (must fail cleanly or give JSON that encodes back). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hs_avro.h"
#include "hs_catalog.h"

#include "all_types.h"

static hs_avro_schema_t *all_types;

/* first is decoded JSON, so it must encode, and its bytes must survive decode → encode. Bytes are
 * compared rather than JSON because json_equal looks keys up as C strings, and Avro map keys may
 * contain NUL. */
static void check_round_trip(const hs_avro_schema_t *s, const json_t *first) {
    char err[512], *buf = NULL, *again = NULL;
    size_t len = 0, again_len = 0;
    json_t *second = NULL;
    if (hs_avro_encode_json(s, first, &buf, &len, err, sizeof err) != HS_OK) abort();
    if (hs_avro_decode_json(s, buf, len, &second, err, sizeof err) != HS_OK) abort();
    if (hs_avro_encode_json(s, second, &again, &again_len, err, sizeof err) != HS_OK) abort();
    if (len != again_len || memcmp(buf, again, len) != 0) abort();
    json_decref(second);
    free(buf);
    free(again);
}

static void try_json(const hs_avro_schema_t *s, const json_t *v) {
    char err[512], *buf = NULL;
    size_t len = 0;
    json_t *back = NULL;
    if (hs_avro_encode_json(s, v, &buf, &len, err, sizeof err) == HS_OK) {
        if (hs_avro_decode_json(s, buf, len, &back, err, sizeof err) != HS_OK) abort();
        check_round_trip(s, back);
        json_decref(back);
    } else if (len != 0) {
        abort(); /* nothing may be appended on error */
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    if (!all_types && !(all_types = hs_avro_schema_parse(ALL_TYPES, err, sizeof err))) abort();
    size_t n = hs_catalog_count();
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (v) {
        for (size_t i = 0; i < n; i++)
            try_json(hs_catalog_schema(hs_catalog_at(i)), v);
        try_json(all_types, v);
        json_decref(v);
    }
    if (size > 0) {
        const hs_avro_schema_t *s = data[0] % (n + 1) == n
                                        ? all_types
                                        : hs_catalog_schema(hs_catalog_at(data[0] % (n + 1)));
        json_t *out = NULL;
        if (hs_avro_decode_json(s, data + 1, size - 1, &out, err, sizeof err) == HS_OK) {
            check_round_trip(s, out);
            json_decref(out);
        }
    }
    return 0;
}
