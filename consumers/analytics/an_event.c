/* Reading analytics events from Kafka messages (see an_event.h). */
#include "an_event.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an_avro.h"
#include "an_money.h"
#include "hs_catalog.h"
#include "hs_registry.h"
#include "hs_sigutil.h"
#include "hs_wire.h"

#define MAX_PLANS 256

/* The fields a rule may pick, in this slot order. */
enum {
    P_AMOUNT,
    P_CURRENCY,
    P_CUSTOMER,
    P_SKU,
    P_ITEM,
    P_LOCATION,
    P_PRODUCT,
    P_AVAILABLE,
    P_THRESHOLD,
    NPICKS
};

typedef enum { AMOUNT_NONE, AMOUNT_DECIMAL, AMOUNT_MINOR } amount_kind_t;

/* What analytics reads of an event type's body, by catalog type. Types without a row are
 * counted from their headers alone (their body is still checked against its schema). */
typedef struct {
    const char *type;
    amount_kind_t amount;
    an_stock_kind_t stock;
    const char *paths[NPICKS];
} rule_t;

#define STOCK_PATHS NULL, NULL, NULL, "sku", "inventory_item_id", "location_id", "product_id"
static const rule_t rules[] = {
    {"order.placed", AMOUNT_DECIMAL, AN_STOCK_NONE, {"total_price", "currency", "customer.id"}},
    {"order.updated", AMOUNT_DECIMAL, AN_STOCK_NONE, {"total_price", "currency", "customer.id"}},
    {"order.cancelled", AMOUNT_DECIMAL, AN_STOCK_NONE, {"total_price", "currency"}},
    {"order.paid", AMOUNT_DECIMAL, AN_STOCK_NONE, {"amount", "currency"}},
    {"payment.succeeded", AMOUNT_MINOR, AN_STOCK_NONE, {"amount", "currency", "customer_id"}},
    {"payment.failed", AMOUNT_MINOR, AN_STOCK_NONE, {"amount", "currency", "customer_id"}},
    {"customer.created", AMOUNT_NONE, AN_STOCK_NONE, {NULL, NULL, "customer_id"}},
    {"customer.updated", AMOUNT_NONE, AN_STOCK_NONE, {NULL, NULL, "customer_id"}},
    {"inventory.low", AMOUNT_NONE, AN_STOCK_LOW, {STOCK_PATHS, "available", "threshold"}},
    {"inventory.updated", AMOUNT_NONE, AN_STOCK_LEVEL, {STOCK_PATHS, "available"}},
};

typedef struct {
    int32_t id;
    an_avro_plan_t *plan;
    const rule_t *rule; /* NULL: count only */
} plan_t;

struct an_reader {
    const hs_config_t *cfg;
    hs_registry_t *reg;
    plan_t plans[MAX_PLANS];
    size_t nplans;
    size_t last; /* index of the last plan used: consecutive events mostly share it */
    an_time_cache_t time;
};

an_reader_t *an_reader_new(const hs_config_t *cfg) {
    an_reader_t *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->cfg = cfg;
    return r;
}

void an_reader_destroy(an_reader_t *r) {
    if (!r) return;
    for (size_t i = 0; i < r->nplans; i++)
        an_avro_plan_destroy(r->plans[i].plan);
    hs_registry_destroy(r->reg);
    free(r);
}

/* ---- text checks -------------------------------------------------------------------------- */

/* 1 when the 8 bytes at p are ASCII without NUL (the common case, checked a word at a time). */
static int ascii8(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    return !(v & highs) && !((v - ones) & ~v & highs);
}

int an_event_utf8_ok(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        if (end - p >= 8 && ascii8(p)) {
            p += 8;
            continue;
        }
        unsigned c = *p;
        if (c < 0x80) {
            if (!c) return 0;
            p++;
            continue;
        }
        size_t n = c >= 0xf0 && c <= 0xf4 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 && c < 0xe0 ? 1 : 9;
        if (n == 9 || (size_t)(end - p) <= n) return 0;
        uint32_t cp = c & (0x3f >> n);
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (p[i] & 0x3f);
        }
        /* overlong forms, surrogates, past U+10FFFF */
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        p += n + 1;
    }
    return 1;
}

int64_t an_event_time_ms(const char *s, size_t len) {
    char text[48]; /* hs_sig_parse_iso8601_ms wants a string; header values are not */
    int64_t ms;
    if (len >= sizeof text) return -1;
    memcpy(text, s, len);
    text[len] = '\0';
    return hs_sig_parse_iso8601_ms(text, &ms) ? -1 : ms;
}

/* The milliseconds into its minute of the "SS.sssZ" that ends a 24-byte time, -1 when it ends
 * otherwise. */
static int64_t tail_ms(const char *s) {
    const char *t = s + 16;
    if (t[0] != ':' || t[3] != '.' || t[7] != 'Z') return -1;
    int64_t v = 0;
    for (int i = 1; i < 7; i++) {
        if (i == 3) continue;
        if (t[i] < '0' || t[i] > '9') return -1;
        v = v * 10 + (t[i] - '0');
    }
    return v > 60999 ? -1 : v; /* a leap second, as hs_sig_parse_iso8601_ms allows */
}

int64_t an_event_time_cached(an_time_cache_t *c, const char *s, size_t len) {
    int64_t tail = len == 24 ? tail_ms(s) : -1;
    if (tail >= 0 && c->text[0] && !memcmp(s, c->text, sizeof c->text)) return c->ms + tail;
    int64_t ms = an_event_time_ms(s, len);
    if (tail >= 0 && ms >= 0) {
        memcpy(c->text, s, sizeof c->text);
        c->ms = ms - tail;
    }
    return ms;
}

/* ---- headers ------------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    size_t name_len, offset, max;
    int utf8;
} header_t;

#define NAME(s) s, sizeof s - 1
static const header_t headers[] = {
    {NAME("ce_type"), offsetof(an_event_t, type), AN_TYPE_MAX, 1},
    {NAME("ce_source"), offsetof(an_event_t, source), AN_SOURCE_MAX, 1},
    {NAME("hs_tenant"), offsetof(an_event_t, tenant), AN_TENANT_MAX, 1},
    {NAME("ce_subject"), offsetof(an_event_t, subject), AN_SUBJECT_MAX, 0},
};

/* Returns the index in headers[] of name, -1 for a header analytics does not read, -2 for
 * ce_time. Lengths first: this runs for every header of every event. */
static int header_index(const char *name, size_t len) {
    if (len == 7 && !memcmp(name, "ce_time", 7)) return -2;
    for (size_t h = 0; h < sizeof headers / sizeof headers[0]; h++)
        if (len == headers[h].name_len && !memcmp(name, headers[h].name, len)) return (int)h;
    return -1;
}

static hs_err_t read_headers(const rd_kafka_message_t *rkm, an_event_t *ev, an_str_t *time,
                             char *errstr, size_t n) {
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(rkm, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || !hdrs)
        return hs_fail(HS_ERR_INVALID, errstr, n, "no headers (not a CloudEvent)");
    const char *name;
    const void *val;
    size_t size;
    for (size_t i = 0; !rd_kafka_header_get_all(hdrs, i, &name, &val, &size); i++) {
        int h = val ? header_index(name, strlen(name)) : -1;
        if (h == -2) *time = (an_str_t){val, size};
        if (h < 0) continue;
        if (size > headers[h].max)
            return hs_fail(HS_ERR_INVALID, errstr, n, "header %s longer than %zu bytes",
                           headers[h].name, headers[h].max);
        if (headers[h].utf8 && !an_event_utf8_ok(val, size))
            return hs_fail(HS_ERR_INVALID, errstr, n, "header %s is not UTF-8 text",
                           headers[h].name);
        *(an_str_t *)((char *)ev + headers[h].offset) = (an_str_t){val, size};
    }
    if (!ev->type.len) return hs_fail(HS_ERR_INVALID, errstr, n, "missing header ce_type");
    if (!ev->source.len) return hs_fail(HS_ERR_INVALID, errstr, n, "missing header ce_source");
    return HS_OK;
}

/* ---- bodies ------------------------------------------------------------------------------- */

static const rule_t *rule_of(const json_t *schema) {
    const char *name = json_string_value(json_object_get(schema, "name"));
    const char *ns = json_string_value(json_object_get(schema, "namespace"));
    if (!name) return NULL;
    char full[512];
    snprintf(full, sizeof full, "%s%s%s", ns && !strchr(name, '.') ? ns : "",
             ns && !strchr(name, '.') ? "." : "", name);
    const hs_event_type_t *t = hs_catalog_find_fullname(full);
    for (size_t i = 0; t && i < sizeof rules / sizeof rules[0]; i++)
        if (!strcmp(rules[i].type, t->type)) return &rules[i];
    return NULL;
}

/* Returns the plan of schema id (compiled at first use), or NULL with the error in *e. */
static const plan_t *plan_of(an_reader_t *r, int32_t id, hs_err_t *e, char *errstr, size_t n) {
    if (r->nplans && r->plans[r->last].id == id) return &r->plans[r->last];
    for (size_t i = 0; i < r->nplans; i++)
        if (r->plans[i].id == id) return &r->plans[r->last = i];
    char err[400];
    if (!r->reg && !(r->reg = hs_registry_new(r->cfg, err, sizeof err))) {
        *e = hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "registry: %s", err);
        return NULL;
    }
    const char *text;
    hs_err_t re = hs_registry_schema(r->reg, id, &text, err, sizeof err);
    if (re) {
        *e = hs_fail(re == HS_ERR_NOT_FOUND ? HS_ERR_INVALID : HS_ERR_UNAVAILABLE, errstr, n,
                     "schema id %d: %s", (int)id, err);
        return NULL;
    }
    json_t *schema = json_loads(text, JSON_DECODE_ANY, NULL);
    const rule_t *rule = rule_of(schema);
    static const char *const none[NPICKS];
    an_avro_plan_t *plan =
        schema ? an_avro_plan_new(schema, rule ? rule->paths : none, NPICKS, err, sizeof err)
               : NULL;
    json_decref(schema);
    if (!plan) {
        *e = hs_fail(HS_ERR_INVALID, errstr, n, "schema id %d: %s", (int)id,
                     schema ? err : "not JSON");
        return NULL;
    }
    if (r->nplans == MAX_PLANS) an_avro_plan_destroy(r->plans[--r->nplans].plan);
    r->plans[r->nplans] = (plan_t){id, plan, rule};
    return &r->plans[r->last = r->nplans++];
}

/* A picked string of at most AN_FIELD_MAX bytes of UTF-8 (absent and null give len 0). */
static int field_str(const an_avro_val_t *v, an_str_t *out) {
    *out = (an_str_t){"", 0};
    if (v->kind != AN_VAL_STR) return v->kind == AN_VAL_OTHER ? -1 : 0;
    if (v->len > AN_FIELD_MAX || !an_event_utf8_ok(v->str, v->len)) return -1;
    *out = (an_str_t){v->str, v->len};
    return 0;
}

static hs_err_t read_amount(const rule_t *rule, const an_avro_val_t *vals, an_event_t *ev,
                            char *errstr, size_t n) {
    const an_avro_val_t *cur = &vals[P_CURRENCY], *amt = &vals[P_AMOUNT];
    if (cur->kind != AN_VAL_STR || !cur->len || cur->len > AN_CURRENCY_MAX)
        return hs_fail(HS_ERR_INVALID, errstr, n, "currency is not a currency code");
    for (size_t i = 0; i < cur->len; i++) {
        if (!isalpha((unsigned char)cur->str[i]))
            return hs_fail(HS_ERR_INVALID, errstr, n, "currency is not a currency code");
        ev->currency[i] = (char)toupper((unsigned char)cur->str[i]);
    }
    ev->currency[cur->len] = '\0';
    int bad =
        rule->amount == AMOUNT_DECIMAL
            ? amt->kind != AN_VAL_STR || an_money_parse(amt->str, amt->len, &ev->amount)
            : amt->kind != AN_VAL_INT || an_money_from_minor(amt->i, ev->currency, &ev->amount);
    if (bad)
        return hs_fail(HS_ERR_INVALID, errstr, n, "%s is not an amount", rule->paths[P_AMOUNT]);
    ev->has_amount = 1;
    return HS_OK;
}

static hs_err_t read_fields(const rule_t *rule, const an_avro_val_t *vals, an_event_t *ev,
                            char *errstr, size_t n) {
    if (rule->amount != AMOUNT_NONE && read_amount(rule, vals, ev, errstr, n))
        return HS_ERR_INVALID;
    if (field_str(&vals[P_CUSTOMER], &ev->customer))
        return hs_fail(HS_ERR_INVALID, errstr, n, "customer id is not a short UTF-8 string");
    if (rule->stock == AN_STOCK_NONE) return HS_OK;
    an_str_t item;
    if (field_str(&vals[P_SKU], &ev->sku) || field_str(&vals[P_ITEM], &item) ||
        field_str(&vals[P_LOCATION], &ev->location) || field_str(&vals[P_PRODUCT], &ev->product) ||
        vals[P_AVAILABLE].kind != AN_VAL_INT ||
        (rule->stock == AN_STOCK_LOW && vals[P_THRESHOLD].kind != AN_VAL_INT))
        return hs_fail(HS_ERR_INVALID, errstr, n, "stock fields are not readable");
    if (!ev->sku.len) ev->sku = item;
    ev->stock = rule->stock;
    ev->available = vals[P_AVAILABLE].i;
    ev->threshold = rule->stock == AN_STOCK_LOW ? vals[P_THRESHOLD].i : -1;
    return HS_OK;
}

hs_err_t an_reader_read(an_reader_t *r, const rd_kafka_message_t *rkm, an_event_t *ev,
                        const char **error_class, char *errstr, size_t errstr_size) {
    memset(ev, 0, sizeof *ev);
    ev->tenant = (an_str_t){"", 0};
    ev->subject = (an_str_t){"", 0};
    *error_class = "invalid_envelope";
    an_str_t time = {NULL, 0};
    if (read_headers(rkm, ev, &time, errstr, errstr_size)) return HS_ERR_INVALID;
    rd_kafka_timestamp_type_t tstype;
    ev->produced_ms = rd_kafka_message_timestamp(rkm, &tstype);
    ev->time_ms = time.s ? an_event_time_cached(&r->time, time.s, time.len) : ev->produced_ms;
    if (ev->time_ms < 0)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "%s",
                       time.s ? "header ce_time is not an RFC 3339 time" : "no ce_time");
    *error_class = "undecodable";
    int32_t id;
    const void *body;
    size_t blen;
    if (!rkm->payload)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "empty value (not wire format)");
    if (hs_wire_parse(rkm->payload, rkm->len, &id, &body, &blen, errstr, errstr_size))
        return HS_ERR_INVALID;
    hs_err_t e = HS_OK;
    const plan_t *p = plan_of(r, id, &e, errstr, errstr_size);
    if (!p) {
        *error_class = e == HS_ERR_INVALID ? "unknown_schema" : "registry_unavailable";
        return e;
    }
    an_avro_val_t vals[AN_AVRO_MAX_PICKS];
    if (an_avro_run(p->plan, body, blen, vals, errstr, errstr_size)) return HS_ERR_INVALID;
    if (!p->rule) return HS_OK;
    *error_class = "invalid_field";
    return read_fields(p->rule, vals, ev, errstr, errstr_size);
}
