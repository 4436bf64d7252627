/* libFuzzer target for hs_avro_encode_text, checked against the reference path: whatever text it
 * accepts (for every catalog schema and a schema using every Avro type), jansson must parse with
 * produce's flags and hs_avro_encode_json must encode to the very same bytes; whatever it
 * declines leaves the buffer as it was. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hs_avro.h"
#include "hs_catalog.h"

#include "all_types.h"

static hs_avro_schema_t *all_types;

static void check(const hs_avro_schema_t *s, const char *text, size_t size) {
    char err[512], *fast = malloc(1), *ref = NULL;
    size_t fast_len = 1, cap = 1, ref_len = 0;
    if (!fast) abort();
    fast[0] = 'x';
    hs_err_t rc =
        hs_avro_encode_text(s, text, size, &fast, &fast_len, &cap, NULL, 0, err, sizeof err);
    if (rc != HS_OK) {
        if (rc != HS_ERR_UNSUPPORTED || fast_len != 1 || fast[0] != 'x') abort();
        free(fast);
        return;
    }
    json_t *v = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);
    if (!v) abort(); /* accepted what jansson refuses */
    if (hs_avro_encode_json(s, v, &ref, &ref_len, err, sizeof err) != HS_OK) abort();
    if (fast_len != ref_len + 1 || memcmp(fast + 1, ref, ref_len) != 0) abort();
    json_decref(v);
    free(ref);
    free(fast);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    if (!all_types && !(all_types = hs_avro_schema_parse(ALL_TYPES, err, sizeof err))) abort();
    for (size_t i = 0; i < hs_catalog_count(); i++)
        check(hs_catalog_schema(hs_catalog_at(i)), (const char *)data, size);
    check(all_types, (const char *)data, size);
    return 0;
}
