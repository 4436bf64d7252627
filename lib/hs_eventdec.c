/* Typed event decoding with a per-schema-id cache (see hs_eventdec.h). */
#include "hs_eventdec.h"

#include <pthread.h>
#include <stdlib.h>

#include "hs_avro.h"
#include "hs_registry.h"
#include "hs_wire.h"

#define MAX_SCHEMAS 256

typedef struct {
    int32_t id;
    hs_avro_schema_t *schema;
} cached_t;

struct hs_eventdec {
    const hs_config_t *cfg;
    pthread_mutex_t mtx; /* @locks: reg, cache, ncache */
    hs_registry_t *reg;
    cached_t cache[MAX_SCHEMAS];
    size_t ncache;
};

hs_eventdec_t *hs_eventdec_new(const hs_config_t *cfg) {
    hs_eventdec_t *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->cfg = cfg;
    pthread_mutex_init(&d->mtx, NULL);
    return d;
}

void hs_eventdec_destroy(hs_eventdec_t *d) {
    if (!d) return;
    for (size_t i = 0; i < d->ncache; i++)
        hs_avro_schema_destroy(d->cache[i].schema);
    hs_registry_destroy(d->reg);
    pthread_mutex_destroy(&d->mtx);
    free(d);
}

/* Returns the parsed schema of id (cached), or NULL with the error. Called with mtx held. */
static hs_avro_schema_t *schema_of(hs_eventdec_t *d, int32_t id, hs_err_t *e, char *errstr,
                                   size_t n) {
    for (size_t i = 0; i < d->ncache; i++)
        if (d->cache[i].id == id) return d->cache[i].schema;
    if (!d->reg && !(d->reg = hs_registry_new(d->cfg, errstr, n))) {
        *e = HS_ERR_UNAVAILABLE;
        return NULL;
    }
    const char *text;
    char err[400];
    hs_err_t re = hs_registry_schema(d->reg, id, &text, err, sizeof err);
    if (re) {
        *e = re == HS_ERR_NOT_FOUND ? HS_ERR_INVALID : HS_ERR_UNAVAILABLE;
        hs_fail(*e, errstr, n, "schema id %d: %s", (int)id, err);
        return NULL;
    }
    hs_avro_schema_t *s = hs_avro_schema_parse(text, err, sizeof err);
    if (!s) {
        *e = hs_fail(HS_ERR_INVALID, errstr, n, "schema id %d: %s", (int)id, err);
        return NULL;
    }
    if (d->ncache == MAX_SCHEMAS) hs_avro_schema_destroy(d->cache[--d->ncache].schema);
    d->cache[d->ncache++] = (cached_t){id, s};
    return s;
}

hs_err_t hs_eventdec_decode(hs_eventdec_t *d, const void *value, size_t len, json_t **out,
                            char *errstr, size_t errstr_size) {
    int32_t id;
    const void *body;
    size_t blen;
    *out = NULL;
    if (!value) return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "empty value");
    hs_err_t e = hs_wire_parse(value, len, &id, &body, &blen, errstr, errstr_size);
    if (e) return e;
    pthread_mutex_lock(&d->mtx);
    hs_avro_schema_t *s = schema_of(d, id, &e, errstr, errstr_size);
    if (s) e = hs_avro_decode_json(s, body, blen, out, errstr, errstr_size);
    pthread_mutex_unlock(&d->mtx);
    if (e && s) e = HS_ERR_INVALID;
    return e;
}
