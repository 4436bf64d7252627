/* Shopify: X-Shopify-Hmac-Sha256 is base64 HMAC-SHA256 of the raw body, keyed with the app's
 * client secret as text. No timestamp is signed. Topic in X-Shopify-Topic, delivery id in
 * X-Shopify-Webhook-Id (the same on retries). */
#include "hs_source_impl.h"

/* ---- mapping tables ---- */

static const hs_map_field_t order_attrs[] = {
    {"shopify.name", "name", HS_MAP_STRING},
    {"shopify.tags", "tags", HS_MAP_STRING},
    {"shopify.source_name", "source_name", HS_MAP_STRING},
    {"shopify.shop_domain", "@X-Shopify-Shop-Domain", HS_MAP_STRING},
    {NULL},
};

/* Built from the order itself: guest checkouts have no customer object, only an email. */
static const hs_map_field_t order_customer[] = {
    {"id", "customer.id", HS_MAP_STRING, HS_MAP_OPT},
    {"email", "email|customer.email|contact_email", HS_MAP_STRING, 0, ""},
    {"first_name", "customer.first_name|billing_address.first_name", HS_MAP_STRING, HS_MAP_OPT},
    {"last_name", "customer.last_name|billing_address.last_name", HS_MAP_STRING, HS_MAP_OPT},
    {NULL},
};

static const hs_map_field_t line_item[] = {
    {"product_id", "product_id", HS_MAP_STRING, 0, ""}, /* custom items have none */
    {"variant_id", "variant_id", HS_MAP_STRING, HS_MAP_OPT},
    {"sku", "sku", HS_MAP_STRING, HS_MAP_OPT},
    {"title", "title|name", HS_MAP_STRING, 0, ""},
    {"quantity", "quantity", HS_MAP_INT},
    {"price", "price", HS_MAP_STRING},
    {NULL},
};

/* order.placed and order.updated carry the same fields. */
static const hs_map_field_t order[] = {
    {"order_id", "id", HS_MAP_STRING},
    {"order_number", "order_number", HS_MAP_STRING, HS_MAP_OPT},
    {"customer", "", HS_MAP_RECORD, 0, order_customer},
    {"currency", "currency", HS_MAP_STRING},
    {"total_price", "total_price", HS_MAP_STRING},
    {"subtotal_price", "subtotal_price", HS_MAP_STRING, 0, "0.00"},
    {"total_tax", "total_tax", HS_MAP_STRING, 0, "0.00"},
    {"financial_status", "financial_status", HS_MAP_STRING, 0, "pending"},
    {"fulfillment_status", "fulfillment_status", HS_MAP_STRING, HS_MAP_OPT},
    {"line_items", "line_items", HS_MAP_RECORDS, 0, line_item},
    {"created_at", "created_at", HS_MAP_TIME_MS},
    {"updated_at", "updated_at|created_at", HS_MAP_TIME_MS},
    {"attributes", "", HS_MAP_ATTRS, 0, order_attrs},
    {NULL},
};

static const hs_map_field_t order_cancelled[] = {
    {"order_id", "id", HS_MAP_STRING},
    {"order_number", "order_number", HS_MAP_STRING, HS_MAP_OPT},
    {"reason", "cancel_reason", HS_MAP_STRING, 0, "other"},
    {"customer_email", "email|customer.email|contact_email", HS_MAP_STRING, HS_MAP_OPT},
    {"currency", "currency", HS_MAP_STRING},
    {"total_price", "total_price", HS_MAP_STRING},
    {"financial_status", "financial_status", HS_MAP_STRING, 0, "pending"},
    {"cancelled_at", "cancelled_at|updated_at", HS_MAP_TIME_MS},
    {"attributes", "", HS_MAP_ATTRS, 0, order_attrs},
    {NULL},
};

static const hs_map_field_t order_paid[] = {
    {"order_id", "id", HS_MAP_STRING},
    {"order_number", "order_number", HS_MAP_STRING, HS_MAP_OPT},
    {"amount", "total_price", HS_MAP_STRING},
    {"currency", "currency", HS_MAP_STRING},
    {"gateway", "payment_gateway_names.0|gateway", HS_MAP_STRING, 0, "unknown"},
    {"payment_id", "payment_id", HS_MAP_STRING, HS_MAP_OPT}, /* orders carry none */
    {"customer_email", "email|customer.email|contact_email", HS_MAP_STRING, HS_MAP_OPT},
    {"paid_at", "updated_at|processed_at", HS_MAP_TIME_MS},
    {"attributes", "", HS_MAP_ATTRS, 0, order_attrs},
    {NULL},
};

static const hs_map_field_t customer_attrs[] = {
    {"shopify.state", "state", HS_MAP_STRING},
    {"shopify.shop_domain", "@X-Shopify-Shop-Domain", HS_MAP_STRING},
    {NULL},
};

/* accepts_marketing: email_marketing_consent.state replaced the deprecated boolean. */
#define CUSTOMER_FIELDS                                                                            \
    {"customer_id", "id", HS_MAP_STRING}, {"email", "email", HS_MAP_STRING, 0, ""},                \
        {"first_name", "first_name", HS_MAP_STRING, HS_MAP_OPT},                                   \
        {"last_name", "last_name", HS_MAP_STRING, HS_MAP_OPT},                                     \
        {"phone", "phone", HS_MAP_STRING, HS_MAP_OPT},                                             \
        {"accepts_marketing", "email_marketing_consent.state|accepts_marketing", HS_MAP_BOOL, 0,   \
         "subscribed"},                                                                            \
        {"tags", "tags", HS_MAP_STRINGS}, {"created_at", "created_at", HS_MAP_TIME_MS}, {          \
        "attributes", "", HS_MAP_ATTRS, 0, customer_attrs                                          \
    }

static const hs_map_field_t customer_created[] = {CUSTOMER_FIELDS, {NULL}};
static const hs_map_field_t customer_updated[] = {
    CUSTOMER_FIELDS,
    {"updated_at", "updated_at|created_at", HS_MAP_TIME_MS},
    {NULL},
};

static const hs_map_field_t variant[] = {
    {"variant_id", "id", HS_MAP_STRING},
    {"sku", "sku", HS_MAP_STRING, HS_MAP_OPT},
    {"title", "title", HS_MAP_STRING, HS_MAP_OPT},
    {"price", "price", HS_MAP_STRING},
    {"inventory_quantity", "inventory_quantity", HS_MAP_INT, HS_MAP_OPT},
    {NULL},
};

static const hs_map_field_t product_attrs[] = {
    {"shopify.published_scope", "published_scope", HS_MAP_STRING},
    {"shopify.shop_domain", "@X-Shopify-Shop-Domain", HS_MAP_STRING},
    {NULL},
};

static const hs_map_field_t product[] = {
    {"product_id", "id", HS_MAP_STRING},
    {"title", "title", HS_MAP_STRING},
    {"vendor", "vendor", HS_MAP_STRING, HS_MAP_OPT},
    {"product_type", "product_type", HS_MAP_STRING, HS_MAP_OPT},
    {"handle", "handle", HS_MAP_STRING, HS_MAP_OPT},
    {"status", "status", HS_MAP_STRING, 0, "active"},
    {"tags", "tags", HS_MAP_STRINGS},
    {"variants", "variants", HS_MAP_RECORDS, 0, variant},
    {"updated_at", "updated_at", HS_MAP_TIME_MS},
    {"attributes", "", HS_MAP_ATTRS, 0, product_attrs},
    {NULL},
};

static const hs_map_field_t inventory_attrs[] = {
    {"shopify.shop_domain", "@X-Shopify-Shop-Domain", HS_MAP_STRING},
    {NULL},
};

/* inventory_levels/update names the item and location only; sku and product are unknown. */
static const hs_map_field_t inventory[] = {
    {"inventory_item_id", "inventory_item_id", HS_MAP_STRING},
    {"sku", "sku", HS_MAP_STRING, HS_MAP_OPT},
    {"product_id", "product_id", HS_MAP_STRING, HS_MAP_OPT},
    {"variant_id", "variant_id", HS_MAP_STRING, HS_MAP_OPT},
    {"location_id", "location_id", HS_MAP_STRING},
    {"available", "available", HS_MAP_INT},
    {"updated_at", "updated_at", HS_MAP_TIME_MS},
    {"attributes", "", HS_MAP_ATTRS, 0, inventory_attrs},
    {NULL},
};

static int low_threshold(const hs_source_cfg_t *cfg) {
    return cfg->inventory_low_threshold == 0 ? HS_SOURCE_DEFAULT_LOW_THRESHOLD
                                             : cfg->inventory_low_threshold;
}

/* Every level below the threshold is reported, not only the crossing: the webhook does not say
 * what the level was before. */
static int below_threshold(const hs_source_cfg_t *cfg, const json_t *level) {
    const json_t *a = json_object_get(level, "available");
    return low_threshold(cfg) >= 0 && json_is_integer(a) &&
           json_integer_value(a) < low_threshold(cfg);
}

static hs_err_t add_threshold(const hs_source_cfg_t *cfg, json_t *data) {
    return json_object_set_new(data, "threshold", json_integer(low_threshold(cfg)))
               ? HS_ERR_INTERNAL
               : HS_OK;
}

static const hs_map_rule_t rules[] = {
    {"orders/create", "order.placed", "", order},
    {"orders/updated", "order.updated", "", order},
    {"orders/cancelled", "order.cancelled", "", order_cancelled},
    {"orders/paid", "order.paid", "", order_paid},
    {"customers/create", "customer.created", "", customer_created},
    {"customers/update", "customer.updated", "", customer_updated},
    {"products/update", "product.updated", "", product},
    {"inventory_levels/update", "inventory.updated", "", inventory},
    {"inventory_levels/update", "inventory.low", "", inventory, below_threshold, add_threshold},
    {NULL},
};

static const hs_src_spec_t spec = {
    .hmac = {.sig_header = "X-Shopify-Hmac-Sha256", .base64 = 1},
    .id_header = "X-Shopify-Webhook-Id|X-Shopify-Event-Id",
    .type_header = "X-Shopify-Topic",
    .rules = rules,
};
HS_SRC_SPEC_FUNCTIONS(shopify, spec)

const hs_source_t hs_source_shopify = {
    .type = "shopify",
    .summary = "Shopify: X-Shopify-Hmac-Sha256, base64 HMAC-SHA256 of the body",
    .verify = shopify_verify,
    .event_id = shopify_event_id,
    .classify = shopify_classify,
    .map = shopify_map,
};
