/* libFuzzer target for the provider mapping code. The input is a webhook body; it is mapped as
 * every mapped provider event type (the connector's map called directly) and processed by every
 * connector. Whatever events come out must encode with their catalog schema and carry their
 * entity key; a body that does not fit must fail cleanly, leaving nothing behind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hs_avro.h"
#include "hs_catalog.h"
#include "hs_source.h"

static const struct {
    const char *provider, *type;
} mapped[] = {
    {"shopify", "orders/create"},
    {"shopify", "orders/updated"},
    {"shopify", "orders/cancelled"},
    {"shopify", "orders/paid"},
    {"shopify", "customers/create"},
    {"shopify", "customers/update"},
    {"shopify", "products/update"},
    {"shopify", "inventory_levels/update"},
    {"stripe", "customer.created"},
    {"stripe", "payment_intent.succeeded"},
    {"stripe", "payment_intent.payment_failed"},
    {"zendesk", "zen:event-type:ticket.created"},
    {"chatwoot", "conversation_created"},
};

static void check_events(const hs_source_events_t *ev) {
    char err[512];
    for (size_t i = 0; i < ev->n; i++) {
        const hs_event_type_t *t = hs_catalog_find(ev->ev[i].type);
        if (!t) abort();
        char *buf = NULL;
        size_t len = 0;
        if (hs_avro_encode_json(hs_catalog_schema(t), ev->ev[i].data, &buf, &len, err,
                                sizeof err) != HS_OK)
            abort();
        free(buf);
        const json_t *key = json_object_get(ev->ev[i].data, t->key_field);
        if (!json_is_string(key) || strcmp(json_string_value(key), ev->ev[i].key) != 0) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *secrets[] = {"s"};
    hs_source_header_t headers[] = {{"X-Shopify-Shop-Domain", "fuzz.myshopify.com"},
                                    {"Content-Type", "application/json"},
                                    {NULL, NULL}};
    hs_source_cfg_t cfg = {.secrets = secrets,
                           .nsecrets = 1,
                           .inventory_low_threshold = size % 3 == 0 ? -1 : (int)(size % 20)};
    hs_source_req_t req = {.header = hs_source_header_array,
                           .header_ctx = headers,
                           .body = (const char *)data,
                           .body_len = size,
                           .content_type = "application/json"};
    hs_source_body_t body;
    char err[512];
    hs_source_body_parse(&req, &body);
    for (size_t i = 0; i < sizeof mapped / sizeof mapped[0]; i++) {
        const hs_source_t *src = hs_source_find(mapped[i].provider);
        hs_source_class_t cls = {{0}};
        hs_source_events_t ev = {.n = 0};
        memcpy(cls.type, mapped[i].type, strlen(mapped[i].type) + 1);
        hs_err_t rc = src->map(&cfg, &req, &body, &cls, &ev, err, sizeof err);
        if (rc != HS_OK && (rc != HS_ERR_INVALID || ev.n != 0)) abort();
        check_events(&ev);
        hs_source_events_clear(&ev);
    }
    hs_source_body_clear(&body);
    for (size_t i = 0; hs_source_at(i); i++) {
        hs_source_result_t r;
        if (hs_source_process(hs_source_at(i), &cfg, &req, &r, err, sizeof err) != HS_OK) abort();
        check_events(&r.events);
        hs_source_result_clear(&r);
    }
    return 0;
}
