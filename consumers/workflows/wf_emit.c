/* Emit steps: a typed event (catalog schema, Confluent wire format, CloudEvents headers) produced
 * to its hs.events.<domain> topic, acknowledged before the step completes. The event carries the
 * emit depth (hs_wf_depth) the trigger consumer checks, and the run that emitted it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_avro.h"
#include "hs_catalog.h"
#include "hs_envelope.h"
#include "hs_registry.h"
#include "hs_wire.h"
#include "wf_internal.h"

typedef struct {
    atomic_int done;
    rd_kafka_resp_err_t err;
} emit_wait_t;

void wf_emit_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    (void)rk;
    (void)opaque;
    emit_wait_t *w = msg->_private;
    if (!w) return;
    w->err = msg->err;
    atomic_store(&w->done, 1);
}

static size_t catalog_index(const hs_event_type_t *t) {
    for (size_t i = 0; i < hs_catalog_count(); i++)
        if (hs_catalog_at(i) == t) return i;
    return 0;
}

/* The registry id of t's schema, registered on first use. */
static hs_err_t schema_id(wf_service_t *s, const hs_event_type_t *t, int32_t *id, char *errstr,
                          size_t n) {
    size_t i = catalog_index(t);
    pthread_mutex_lock(&s->emit_mtx);
    hs_err_t e = HS_OK;
    if (!s->schema_ids[i]) {
        hs_registry_t *reg = hs_registry_new(s->cfg, errstr, n);
        char why[400];
        if (!reg)
            e = HS_ERR_UNAVAILABLE;
        else if (hs_registry_register(reg, t->subject, t->schema_json, &s->schema_ids[i], why,
                                      sizeof why))
            e = hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "registry: %s: %s", t->subject, why);
        hs_registry_destroy(reg);
    }
    *id = s->schema_ids[i];
    pthread_mutex_unlock(&s->emit_mtx);
    return e;
}

static rd_kafka_headers_t *headers(const hs_event_type_t *t, const char *ce_id, const char *key,
                                   const char *tenant, int depth, const char *run_id) {
    hs_envelope_t env = {0};
    snprintf(env.id, sizeof env.id, "%s", ce_id);
    snprintf(env.type, sizeof env.type, "%s", t->type);
    snprintf(env.source, sizeof env.source, "/hookstream/workflows");
    snprintf(env.subject, sizeof env.subject, "%s", key ? key : "");
    snprintf(env.tenant, sizeof env.tenant, "%s", tenant ? tenant : "");
    snprintf(env.schema, sizeof env.schema, "%s", t->subject);
    hs_envelope_defaults(&env);
    rd_kafka_headers_t *h = hs_envelope_headers(&env);
    char d[16];
    snprintf(d, sizeof d, "%d", depth);
    rd_kafka_header_add(h, WF_HDR_DEPTH, -1, d, -1);
    rd_kafka_header_add(h, WF_HDR_RUN, -1, run_id, -1);
    return h;
}

hs_err_t wf_emit(wf_service_t *s, const char *type, const json_t *data, const char *key,
                 const char *ce_id, const char *tenant, int depth, const char *run_id, char *errstr,
                 size_t n) {
    const hs_event_type_t *t = type ? hs_catalog_find(type) : NULL;
    if (!t) return hs_fail(HS_ERR_INVALID, errstr, n, "emit: unknown event type %s", type);
    int32_t id;
    hs_err_t e = schema_id(s, t, &id, errstr, n);
    if (e) return e;
    char *value = calloc(1, HS_WIRE_HEADER_SIZE);
    size_t len = HS_WIRE_HEADER_SIZE;
    char why[400];
    if (!value) return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    if (hs_avro_encode_json(hs_catalog_schema(t), data, &value, &len, why, sizeof why)) {
        free(value);
        return hs_fail(HS_ERR_INVALID, errstr, n, "emit %s: data does not fit the schema: %s", type,
                       why);
    }
    hs_wire_header(id, (unsigned char *)value);
    emit_wait_t w = {0};
    const char *k = key && *key ? key : ce_id;
    rd_kafka_headers_t *h = headers(t, ce_id, k, tenant, depth, run_id);
    rd_kafka_resp_err_t err =
        rd_kafka_producev(s->producer, RD_KAFKA_V_TOPIC(t->topic), RD_KAFKA_V_KEY(k, strlen(k)),
                          RD_KAFKA_V_VALUE(value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                          RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(&w), RD_KAFKA_V_END);
    if (err) {
        free(value);
        rd_kafka_headers_destroy(h);
        return hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "emit %s: %s", type, rd_kafka_err2str(err));
    }
    int64_t deadline = hs_wall_ms() + hs_config_int(s->cfg, "kafka.timeout_ms") + 5000;
    while (!atomic_load(&w.done) && hs_wall_ms() < deadline)
        rd_kafka_poll(s->producer, 50);
    if (!atomic_load(&w.done)) /* w must outlive its report (message.timeout.ms bounds it) */
        rd_kafka_flush(s->producer, -1);
    if (w.err)
        return hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "emit %s to %s: %s", type, t->topic,
                       rd_kafka_err2str(w.err));
    return HS_OK;
}
