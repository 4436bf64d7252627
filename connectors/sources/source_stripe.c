/* Stripe: Stripe-Signature is "t=<unix>,v1=<hex>[,v1=<hex>...][,v0=...]"; each v1 is hex
 * HMAC-SHA256 of "<t>.<body>" keyed with the endpoint secret as text ("whsec_..." whole, not
 * decoded). Like Stripe's SDKs: any v1 may match, and only old timestamps are refused
 * (t < now - tolerance), after the signature matched. Event id and type come from the body. */
#include <stdio.h>

#include "hs_source_impl.h"

#define SIG_HEADER "Stripe-Signature"

static hs_err_t verify(const hs_source_cfg_t *cfg, const hs_source_req_t *req, int64_t now_s,
                       char *errstr, size_t errstr_size) {
    const char *h = hs_src_header(req, SIG_HEADER);
    if (!h) return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "no signature header " SIG_HEADER);
    hs_sig_item_t items[HS_SIG_MAX_ITEMS];
    size_t n;
    char err[128];
    if (hs_sig_split(h, ',', '=', items, HS_SIG_MAX_ITEMS, &n, err, sizeof err))
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "malformed signature header %s: %s",
                       SIG_HEADER, err);
    int64_t t = -1;
    hs_src_sig_t sigs[HS_SIG_MAX_ITEMS];
    size_t nsigs = 0, nv1 = 0;
    for (size_t i = 0; i < n; i++) {
        if (hs_sig_item_is(&items[i], "t") && t < 0) {
            if (hs_sig_parse_uint(items[i].val, items[i].val_len, &t))
                return hs_fail(HS_ERR_AUTH, errstr, errstr_size,
                               "malformed signature header %s: t is not a unix time", SIG_HEADER);
        } else if (hs_sig_item_is(&items[i], "v1")) {
            /* A v1 that is not hex cannot match; it does not void the others. */
            long len = hs_sig_hex_decode(items[i].val, items[i].val_len, sigs[nsigs].b,
                                         sizeof sigs[nsigs].b);
            nv1++;
            if (len > 0) sigs[nsigs++].n = (size_t)len;
        }
    }
    if (t < 0)
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size,
                       "malformed signature header %s: no t= timestamp", SIG_HEADER);
    if (nv1 == 0)
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "no v1 signature in " SIG_HEADER);
    /* The SDKs sign the parsed integer, so "t=0012" signs "12". */
    char ts[24];
    int tn = snprintf(ts, sizeof ts, "%lld", (long long)t);
    hs_sig_part_t parts[] = {{ts, (size_t)tn}, {".", 1}, {req->body, req->body_len}};
    return hs_src_match_window(cfg, HS_SRC_KEY_TEXT, HS_SIG_SHA256, parts, 3, sigs, nsigs, t, now_s,
                               HS_SIG_WINDOW_PAST, errstr, errstr_size);
}

/* ---- mapping tables: the object is data.object, the event time is the event's created ---- */

static const hs_map_field_t customer_attrs[] = {
    {"stripe.metadata.", "metadata", HS_MAP_EACH},
    {"stripe.description", "description", HS_MAP_STRING},
    {"stripe.livemode", "$livemode", HS_MAP_STRING},
    {NULL},
};

/* Stripe keeps one "name"; it is split at the first space into given and family name. */
static const hs_map_field_t customer_created[] = {
    {"customer_id", "id", HS_MAP_STRING},
    {"email", "email", HS_MAP_STRING, 0, ""},
    {"first_name", "name", HS_MAP_FIRST_WORD, HS_MAP_OPT},
    {"last_name", "name", HS_MAP_REST_WORDS, HS_MAP_OPT},
    {"phone", "phone", HS_MAP_STRING, HS_MAP_OPT},
    {"created_at", "created", HS_MAP_TIME_MS},
    {"attributes", "", HS_MAP_ATTRS, 0, customer_attrs},
    {NULL},
};

static const hs_map_field_t payment_attrs[] = {
    {"stripe.metadata.", "metadata", HS_MAP_EACH},
    {"stripe.status", "status", HS_MAP_STRING},
    {"stripe.decline_code", "last_payment_error.decline_code", HS_MAP_STRING},
    {"stripe.livemode", "$livemode", HS_MAP_STRING},
    {NULL},
};

/* customer is an id, or an object when the endpoint expands it. */
#define PAYMENT_FIELDS                                                                             \
    {"payment_id", "id", HS_MAP_STRING}, {"currency", "currency", HS_MAP_STRING},                  \
        {"customer_id", "customer.id|customer", HS_MAP_STRING, HS_MAP_OPT},                        \
        {"order_id", "metadata.order_id", HS_MAP_STRING, HS_MAP_OPT},                              \
        {"description", "description", HS_MAP_STRING, HS_MAP_OPT},                                 \
        {"created_at", "$created|created", HS_MAP_TIME_MS}, {                                      \
        "attributes", "", HS_MAP_ATTRS, 0, payment_attrs                                           \
    }

static const hs_map_field_t payment_succeeded[] = {
    PAYMENT_FIELDS,
    {"amount", "amount_received|amount", HS_MAP_LONG},
    {"payment_method_type", "payment_method_types.0", HS_MAP_STRING, HS_MAP_OPT},
    {NULL},
};

/* amount is what was attempted; amount_received is 0 here. */
static const hs_map_field_t payment_failed[] = {
    PAYMENT_FIELDS,
    {"amount", "amount", HS_MAP_LONG},
    {"payment_method_type", "last_payment_error.payment_method.type|payment_method_types.0",
     HS_MAP_STRING, HS_MAP_OPT},
    {"failure_code", "last_payment_error.code|last_payment_error.decline_code", HS_MAP_STRING, 0,
     "unknown"},
    {"failure_message", "last_payment_error.message", HS_MAP_STRING, HS_MAP_OPT},
    {NULL},
};

static const hs_map_rule_t rules[] = {
    {"customer.created", "customer.created", "data.object", customer_created},
    {"payment_intent.succeeded", "payment.succeeded", "data.object", payment_succeeded},
    {"payment_intent.payment_failed", "payment.failed", "data.object", payment_failed},
    {NULL},
};

static const hs_src_spec_t spec = {
    .id_json = "id",
    .type_json = "type",
    .rules = rules,
};
HS_SRC_SPEC_FUNCTIONS(stripe, spec)

const hs_source_t hs_source_stripe = {
    .type = "stripe",
    .summary = "Stripe: Stripe-Signature t=..,v1=.. over \"t.body\", old timestamps refused",
    .verify = verify,
    .event_id = stripe_event_id,
    .classify = stripe_classify,
    .map = stripe_map,
};
