/* libFuzzer target for analytics' Avro field picker (consumers/analytics/an_avro.c), against the
 * full decoder: the input is a body for one of the catalog schemas (its first byte picks which).
 * Whatever hs_avro_decode_json accepts, the picker must accept too, and each picked top-level
 * string must be the decoded one; whatever it refuses, the picker must refuse cleanly or accept
 * without reading out of bounds (it checks structure, not text). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "an_avro.h"
#include "hs_avro.h"
#include "hs_catalog.h"

#define MAX_TYPES 64

static const char *const paths[] = {"currency", "total_price", "sku",      "customer_id",
                                    "email",    "customer.id", "available"};
#define NPATHS (sizeof paths / sizeof paths[0])

static an_avro_plan_t *plans[MAX_TYPES];
static size_t ntypes;

static void init(void) {
    char err[256];
    ntypes = hs_catalog_count() < MAX_TYPES ? hs_catalog_count() : MAX_TYPES;
    for (size_t i = 0; i < ntypes; i++) {
        json_t *schema = json_loads(hs_catalog_at(i)->schema_json, 0, NULL);
        plans[i] = an_avro_plan_new(schema, paths, NPATHS, err, sizeof err);
        json_decref(schema);
        if (!plans[i]) abort();
    }
}

/* The picked strings must be what the decoder read for those top-level fields. */
static void compare(const json_t *decoded, const an_avro_val_t *vals) {
    for (size_t p = 0; p < NPATHS; p++) {
        if (strchr(paths[p], '.')) continue;
        const json_t *v = json_object_get(decoded, paths[p]);
        if (vals[p].kind != AN_VAL_STR) continue;
        if (!json_is_string(v) || json_string_length(v) != vals[p].len ||
            memcmp(json_string_value(v), vals[p].str, vals[p].len) != 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ntypes) init();
    if (size < 1) return 0;
    size_t t = data[0] % ntypes;
    const uint8_t *body = data + 1;
    size_t len = size - 1;
    an_avro_val_t vals[AN_AVRO_MAX_PICKS];
    char err[256];
    hs_err_t picked = an_avro_run(plans[t], body, len, vals, err, sizeof err);
    json_t *decoded = NULL;
    if (hs_avro_decode_json(hs_catalog_schema(hs_catalog_at(t)), body, len, &decoded, err,
                            sizeof err) == HS_OK) {
        if (picked != HS_OK) abort();
        compare(decoded, vals);
        json_decref(decoded);
    }
    return 0;
}
