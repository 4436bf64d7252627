/* hookstream ingest (see ingest.h). A request runs the checks in the documented order on an
 * HTTP worker, hands its records to librdkafka and suspends; the poll thread's delivery
 * reports count down and the last one answers. Nothing is answered 2xx before every record
 * of the request is acknowledged. */
#include "ingest.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hs_avro.h"
#include "hs_catalog.h"
#include "hs_envelope.h"
#include "hs_flags.h"
#include "hs_http.h"
#include "hs_kafka.h"
#include "hs_log.h"
#include "hs_metrics.h"
#include "hs_ratelimit.h"
#include "hs_registry.h"
#include "hs_wire.h"
#include "ingest_dedup.h"

#define MAX_RECORDS (1 + HS_SOURCE_MAX_EVENTS)

/* Provider headers copied onto the inbox record as hs_hdr_<lower-case name>. */
static const char *const kept_headers[] = {
    "Content-Type",
    "User-Agent",
    "X-Shopify-Topic",
    "X-Shopify-Hmac-Sha256",
    "X-Shopify-Shop-Domain",
    "X-Shopify-Webhook-Id",
    "X-Shopify-Event-Id",
    "X-Shopify-API-Version",
    "X-Shopify-Triggered-At",
    "Stripe-Signature",
    "X-GitHub-Event",
    "X-GitHub-Delivery",
    "X-GitHub-Hook-ID",
    "X-Hub-Signature-256",
    "X-Slack-Signature",
    "X-Slack-Request-Timestamp",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "X-Zendesk-Webhook-Id",
    "X-Zendesk-Webhook-Invocation-Id",
    "X-Zendesk-Webhook-Signature",
    "X-Zendesk-Webhook-Signature-Timestamp",
    "X-Twilio-Signature",
    "I-Twilio-Idempotency-Token",
    "X-Chatwoot-Signature",
    "X-Chatwoot-Timestamp",
    "X-Chatwoot-Delivery",
    "traceparent",
};

struct hs_ingest {
    const hs_config_t *cfg;
    const hs_ingest_sources_t *sources;
    rd_kafka_t *rk;
    hs_registry_t *reg;
    int32_t *schema_ids; /* per catalog index */
    hs_dedup_t *dedup;
    hs_flags_t *flags; /* integration.<source or type>.enabled kill switches */
    hs_ratelimit_t *rl;
    double tier_rate[3];
    hs_tier_t default_tier;
    int retry_after_s;
    hs_http_server_t *srv;
    pthread_t poller;
    int poller_started;
    atomic_int stop;
    hs_metric_t *requests, *verify_failures, *duplicates, *unmapped, *unparseable, *ack_seconds,
        *in_flight, *request_seconds;
};

/* One accepted webhook waiting for its delivery reports. */
typedef struct {
    hs_ingest_t *ing;
    hs_http_req_t *req;
    const hs_ingest_source_t *s;
    atomic_int remaining; /* records without a delivery report (or never sent) */
    atomic_int failed;
    char error[128]; /* first delivery error, set by the thread that saw it */
    hs_source_outcome_t outcome;
    double t_request, t_produce;
    char event_id[HS_SOURCE_ID_MAX];
    const char *types[HS_SOURCE_MAX_EVENTS];
    size_t ntypes;
} pending_t;

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- answers ---------------------------------------------------------------------------- */

static void count(hs_ingest_t *ing, const char *source, int status, double t0) {
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    const char *labels[] = {source, code};
    hs_metric_add(ing->requests, labels, 1);
    hs_metric_observe(ing->request_seconds, labels, mono_s() - t0);
}

/* Answers problem+json, logs why (never a body or a secret) and counts it. */
static void fail(hs_ingest_t *ing, hs_http_req_t *req, const char *source, int status,
                 int retry_after_s, const char *detail, double t0) {
    if (retry_after_s > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", retry_after_s);
        hs_http_add_header(req, "Retry-After", v);
    }
    if (status == 405) hs_http_add_header(req, "Allow", "POST");
    hs_http_respond_problem(req, status, hs_http_status_title(status), detail);
    hs_log(status >= 500 ? HS_LOG_ERROR : HS_LOG_WARN, "webhook refused", "{s:s, s:i, s:s}",
           "source", source, "status", status, "reason", detail);
    count(ing, source, status, t0);
}

/* ---- records ---------------------------------------------------------------------------- */

static size_t catalog_index(const hs_event_type_t *t) {
    for (size_t i = 0; i < hs_catalog_count(); i++)
        if (hs_catalog_at(i) == t) return i;
    return 0;
}

/* ce_id of a typed event: a UUID (version 5 layout) from SHA-1 of the provider event id, the
 * type and the key, so a webhook the provider sends again maps to the same ids. */
static void derived_uuid(const char *event_id, const char *type, const char *key, char out[37]) {
    unsigned char md[SHA_DIGEST_LENGTH];
    char text[HS_SOURCE_ID_MAX + 512];
    int len = snprintf(text, sizeof text, "%s\n%s\n%s", event_id, type, key);
    SHA1((const unsigned char *)text, len < (int)sizeof text ? (size_t)len : sizeof text - 1, md);
    md[6] = (unsigned char)((md[6] & 0x0f) | 0x50);
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", md[0],
             md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10], md[11], md[12],
             md[13], md[14], md[15]);
}

/* Copies src into a fixed envelope field, cut to fit (only ids over 127 bytes ever are). */
static void put(char *dst, size_t size, const char *src) {
    size_t len = src ? strnlen(src, size - 1) : 0;
    if (len) memcpy(dst, src, len);
    dst[len] = 0;
}

/* The envelope every record of a request shares: source, tenant and one trace (the caller's
 * traceparent when valid, else a new one). */
static void base_envelope(hs_http_req_t *req, const hs_ingest_source_t *s, const char *tenant,
                          hs_envelope_t *env) {
    memset(env, 0, sizeof *env);
    snprintf(env->source, sizeof env->source, "/%s/%s", s->src->type, s->name);
    put(env->tenant, sizeof env->tenant, tenant);
    const char *tp = hs_http_req_header(req, "traceparent");
    if (tp && hs_envelope_valid_traceparent(tp)) put(env->traceparent, sizeof env->traceparent, tp);
    /* Each record sets its own id: a placeholder keeps hs_envelope_defaults from drawing a
     * random UUID (libuuid reseeds and reads the kernel's entropy on every call) only for it
     * to be thrown away. */
    env->id[0] = '-';
    hs_envelope_defaults(env);
    env->id[0] = 0;
}

static rd_kafka_headers_t *inbox_headers(const hs_envelope_t *base, hs_http_req_t *req,
                                         const hs_ingest_source_t *s, const hs_source_result_t *r) {
    hs_envelope_t env = *base;
    put(env.id, sizeof env.id, r->event_id);
    snprintf(env.type, sizeof env.type, "webhook.%s", s->src->type);
    const char *ct = hs_http_req_header(req, "Content-Type");
    put(env.content_type, sizeof env.content_type, ct ? ct : "application/octet-stream");
    rd_kafka_headers_t *h = hs_envelope_headers(&env);
    for (size_t i = 0; i < sizeof kept_headers / sizeof kept_headers[0]; i++) {
        const char *v = hs_http_req_header(req, kept_headers[i]);
        if (!v) continue;
        char name[128];
        size_t n = (size_t)snprintf(name, sizeof name, "hs_hdr_%s", kept_headers[i]);
        for (size_t j = 7; j < n && j < sizeof name; j++)
            name[j] = (char)(name[j] >= 'A' && name[j] <= 'Z' ? name[j] + 32 : name[j]);
        rd_kafka_header_add(h, name, -1, v, -1);
    }
    if (r->cls.type[0]) rd_kafka_header_add(h, "hs_provider_type", -1, r->cls.type, -1);
    return h;
}

/* Encodes a typed event (wire header + Avro); *value is malloc()ed. */
static hs_err_t encode_event(hs_ingest_t *ing, const hs_source_event_t *ev,
                             const hs_event_type_t **type, char **value, size_t *len, char *errstr,
                             size_t n) {
    *type = hs_catalog_find(ev->type);
    if (!*type) return hs_fail(HS_ERR_INTERNAL, errstr, n, "%s: not in the catalog", ev->type);
    *value = calloc(1, HS_WIRE_HEADER_SIZE);
    *len = HS_WIRE_HEADER_SIZE;
    if (!*value) return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    char why[400];
    if (hs_avro_encode_json(hs_catalog_schema(*type), ev->data, value, len, why, sizeof why)) {
        free(*value);
        *value = NULL;
        return hs_fail(HS_ERR_INTERNAL, errstr, n, "%s: %s", ev->type, why);
    }
    hs_wire_header(ing->schema_ids[catalog_index(*type)], (unsigned char *)*value);
    return HS_OK;
}

/* ---- completion ------------------------------------------------------------------------- */

static void finish(pending_t *p) {
    hs_ingest_t *ing = p->ing;
    double now = mono_s();
    hs_metric_observe(ing->ack_seconds, NULL, now - p->t_produce);
    hs_metric_add(ing->in_flight, NULL, -1);
    const char *name = p->s->name;
    if (atomic_load(&p->failed)) {
        hs_dedup_abort(ing->dedup, name, p->event_id);
        char detail[300];
        snprintf(detail, sizeof detail, "the broker did not acknowledge the event: %s",
                 p->error[0] ? p->error : "delivery failed");
        fail(ing, p->req, name, 503, ing->retry_after_s, detail, p->t_request);
        free(p);
        return;
    }
    hs_dedup_commit(ing->dedup, name, p->event_id, now);
    json_t *types = json_array();
    for (size_t i = 0; i < p->ntypes; i++)
        json_array_append_new(types, json_string(p->types[i]));
    json_t *body = json_pack("{s:s, s:o, s:b}", "id", p->event_id, "events", types, "duplicate", 0);
    if (p->outcome == HS_SOURCE_UNMAPPED) json_object_set_new(body, "unmapped", json_true());
    if (p->outcome == HS_SOURCE_UNPARSEABLE) json_object_set_new(body, "unparseable", json_true());
    int status = p->outcome == HS_SOURCE_MAPPED ? 202 : 200;
    hs_http_respond_json(p->req, status, body);
    count(ing, name, status, p->t_request);
    free(p);
}

/* n records of p are done (acknowledged, failed or never sent). */
static void records_done(pending_t *p, int n) {
    if (atomic_fetch_sub(&p->remaining, n) == n) finish(p);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    pending_t *p = m->_private;
    if (m->err && !atomic_exchange(&p->failed, 1))
        snprintf(p->error, sizeof p->error, "%s", rd_kafka_err2str(m->err));
    records_done(p, 1);
}

/* ---- the request ------------------------------------------------------------------------ */

typedef struct {
    hs_ingest_t *ing;
    hs_http_req_t *req;
    const hs_ingest_source_t *s;
    const char *name; /* metric label: the source name, or "(unknown)" */
    const char *tenant;
    double t0;
} ctx_t;

/* Sends one record; on failure marks p failed and counts the record done. */
static void send_record(ctx_t *c, pending_t *p, const char *topic, const char *key, void *value,
                        size_t len, int msgflags, rd_kafka_headers_t *h) {
    rd_kafka_resp_err_t err =
        rd_kafka_producev(c->ing->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(msgflags),
                          RD_KAFKA_V_VALUE(value, len), RD_KAFKA_V_KEY(key, strlen(key)),
                          RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
    if (!err) return;
    rd_kafka_headers_destroy(h);
    if (msgflags & RD_KAFKA_MSG_F_FREE) free(value);
    if (!atomic_exchange(&p->failed, 1))
        snprintf(p->error, sizeof p->error, "%s: %s", topic, rd_kafka_err2str(err));
    records_done(p, 1);
}

/* Encodes every typed event first (a failure sends nothing), then sends the inbox record and
 * the events and suspends the request until their delivery reports. */
static void produce(ctx_t *c, hs_source_result_t *r) {
    hs_ingest_t *ing = c->ing;
    const hs_event_type_t *types[HS_SOURCE_MAX_EVENTS];
    char *values[HS_SOURCE_MAX_EVENTS] = {0};
    size_t lens[HS_SOURCE_MAX_EVENTS], n = r->outcome == HS_SOURCE_MAPPED ? r->events.n : 0;
    char why[500];
    for (size_t i = 0; i < n; i++) {
        if (encode_event(ing, &r->events.ev[i], &types[i], &values[i], &lens[i], why, sizeof why)) {
            for (size_t j = 0; j < i; j++)
                free(values[j]);
            hs_dedup_abort(ing->dedup, c->s->name, r->event_id);
            fail(ing, c->req, c->name, 500, 0, why, c->t0);
            return;
        }
    }
    pending_t *p = calloc(1, sizeof *p);
    if (!p) {
        for (size_t j = 0; j < n; j++)
            free(values[j]);
        hs_dedup_abort(ing->dedup, c->s->name, r->event_id);
        fail(ing, c->req, c->name, 503, ing->retry_after_s, "out of memory", c->t0);
        return;
    }
    *p = (pending_t){.ing = ing,
                     .req = c->req,
                     .s = c->s,
                     .outcome = r->outcome,
                     .t_request = c->t0,
                     .t_produce = mono_s(),
                     .ntypes = n};
    atomic_init(&p->remaining, (int)(n + 1));
    atomic_init(&p->failed, 0);
    put(p->event_id, sizeof p->event_id, r->event_id);
    hs_metric_add(ing->in_flight, NULL, 1);
    hs_http_req_suspend(c->req);
    char topic[300];
    snprintf(topic, sizeof topic, "hs.inbox.%s", c->s->name);
    size_t blen;
    const char *body = hs_http_req_body(c->req, &blen);
    /* Every header list is built before the first send: p and the request may be finished by
     * the poll thread as soon as the last record is sent, so nothing reads them after that. */
    rd_kafka_headers_t *hdrs[HS_SOURCE_MAX_EVENTS];
    hs_envelope_t base;
    base_envelope(c->req, c->s, c->tenant, &base);
    for (size_t i = 0; i < n; i++) {
        hs_envelope_t env = base;
        p->types[i] = types[i]->type;
        derived_uuid(r->event_id, types[i]->type, r->events.ev[i].key, env.id);
        put(env.type, sizeof env.type, types[i]->type);
        put(env.subject, sizeof env.subject, r->events.ev[i].key);
        put(env.schema, sizeof env.schema, types[i]->subject);
        hdrs[i] = hs_envelope_headers(&env);
    }
    rd_kafka_headers_t *ih = inbox_headers(&base, c->req, c->s, r);
    send_record(c, p, topic, r->event_id, (void *)body, blen, RD_KAFKA_MSG_F_COPY, ih);
    for (size_t i = 0; i < n; i++)
        send_record(c, p, types[i]->topic, r->events.ev[i].key, values[i], lens[i],
                    RD_KAFKA_MSG_F_FREE, hdrs[i]);
}

static const char *req_header(void *ctx, const char *name) {
    return hs_http_req_header(ctx, name);
}

/* JSON everywhere; form posts too for the providers that send them. */
static int content_type_ok(const hs_ingest_source_t *s, const char *ct) {
    if (!ct) return 0;
    size_t len = strcspn(ct, ";");
    while (len && ct[len - 1] == ' ')
        len--;
    if (len == 16 && !strncasecmp(ct, "application/json", 16)) return 1;
    if (len > 5 && !strncasecmp(ct + len - 5, "+json", 5) && !strncasecmp(ct, "application/", 12))
        return 1;
    int form = !strcmp(s->src->type, "twilio") || !strcmp(s->src->type, "slack") ||
               !strcmp(s->src->type, "generic-hmac");
    return form && len == 33 && !strncasecmp(ct, "application/x-www-form-urlencoded", 33);
}

/* A bounded label for verification failures (the reason text itself goes to the log). */
static const char *verify_reason(const char *why) {
    if (!strncmp(why, "no ", 3) || strstr(why, "missing")) return "missing";
    if (strstr(why, "timestamp") || strstr(why, " old") || strstr(why, "future"))
        return "timestamp";
    if (strstr(why, "mismatch")) return "mismatch";
    return "malformed";
}

/* A source whose integration is switched off (flag integration.<source name>.enabled or
 * integration.<provider type>.enabled) answers 503 + Retry-After: the provider retries and
 * nothing is lost. 0: enabled. */
static int disabled(ctx_t *c) {
    const char *tenant = c->tenant ? c->tenant : "";
    json_t *ctx = json_pack("{s:s, s:s, s:s, s:s}", "targetingKey", tenant, "tenant", tenant,
                            "source", c->s->name, "type", c->s->src->type);
    const char *off = !hs_flags_integration_enabled(c->ing->flags, c->s->name, ctx) ? c->s->name
                      : !hs_flags_integration_enabled(c->ing->flags, c->s->src->type, ctx)
                          ? c->s->src->type
                          : NULL;
    json_decref(ctx);
    if (!off) return 0;
    char detail[300];
    snprintf(detail, sizeof detail, "integration '%.100s' is disabled (flag integration.%.100s."
             "enabled); retry later", off, off);
    return fail(c->ing, c->req, c->name, 503, c->ing->retry_after_s, detail, c->t0), -1;
}

/* Size (done by the HTTP layer), source, method, content type, signature and kill switch.
 * 0: go on. */
static int admit(ctx_t *c, hs_source_req_t *sr) {
    hs_ingest_t *ing = c->ing;
    char detail[600];
    const char *name = hs_http_req_param(c->req, "source");
    c->s = hs_ingest_sources_find(ing->sources, name);
    if (!c->s) {
        snprintf(detail, sizeof detail, "no source named '%.200s' is configured", name);
        return fail(ing, c->req, "(unknown)", 404, 0, detail, c->t0), -1;
    }
    c->name = c->s->name;
    if (strcmp(hs_http_req_method(c->req), "POST"))
        return fail(ing, c->req, c->name, 405, 0, "webhooks are POSTed", c->t0), -1;
    const char *ct = hs_http_req_header(c->req, "Content-Type");
    if (!content_type_ok(c->s, ct)) {
        snprintf(detail, sizeof detail, "content type '%.100s' is not accepted (JSON%s)",
                 ct ? ct : "",
                 strcmp(c->s->src->type, "twilio") && strcmp(c->s->src->type, "slack")
                     ? ""
                     : " or application/x-www-form-urlencoded");
        return fail(ing, c->req, c->name, 415, 0, detail, c->t0), -1;
    }
    const char *tenant = hs_http_req_param(c->req, "tenant");
    if (tenant && strlen(tenant) >= 128)
        return fail(ing, c->req, c->name, 404, 0, "tenant longer than 127 characters", c->t0), -1;
    c->tenant = tenant ? tenant : c->s->cfg.tenant;
    char why[400];
    if (c->s->src->verify(&c->s->cfg, sr, (int64_t)time(NULL), why, sizeof why)) {
        const char *labels[] = {c->name, verify_reason(why)};
        hs_metric_add(ing->verify_failures, labels, 1);
        snprintf(detail, sizeof detail, "signature verification failed: %s", why);
        return fail(ing, c->req, c->name, 401, 0, detail, c->t0), -1;
    }
    return disabled(c);
}

static int rate_limited(ctx_t *c) {
    hs_ingest_t *ing = c->ing;
    hs_tier_t tier = c->s->tier == HS_TIER_DEFAULT ? ing->default_tier : c->s->tier;
    double rate = ing->tier_rate[tier], wait = 0;
    char key[300];
    snprintf(key, sizeof key, "%.250s", c->tenant ? c->tenant : c->s->name);
    if (hs_ratelimit_take(ing->rl, key, rate, rate, mono_s(), &wait)) return 0;
    char detail[400];
    snprintf(detail, sizeof detail, "tenant '%s' is over its rate limit of %.0f requests/s", key,
             rate);
    fail(ing, c->req, c->name, 429, hs_ratelimit_retry_after(wait), detail, c->t0);
    return -1;
}

static void answer_duplicate(ctx_t *c, const char *event_id) {
    const char *labels[] = {c->name};
    hs_metric_add(c->ing->duplicates, labels, 1);
    hs_http_respond_json(c->req, 200,
                         json_pack("{s:s, s:[], s:b}", "id", event_id, "events", "duplicate", 1));
    count(c->ing, c->name, 200, c->t0);
}

static void on_webhook(hs_http_req_t *req, void *opaque) {
    ctx_t c = {.ing = opaque, .req = req, .name = "(unknown)", .t0 = mono_s()};
    size_t blen;
    const char *body = hs_http_req_body(req, &blen);
    char url[1024];
    hs_source_req_t sr = {.method = hs_http_req_method(req),
                          .header = req_header,
                          .header_ctx = req,
                          .body = body,
                          .body_len = blen,
                          .content_type = hs_http_req_header(req, "Content-Type")};
    if (admit(&c, &sr)) return;
    const char *host = hs_http_req_header(req, "Host");
    snprintf(url, sizeof url, "http://%s%s", host ? host : "localhost", hs_http_req_path(req));
    sr.url = c.s->public_url ? c.s->public_url : url;
    if (rate_limited(&c)) return;
    hs_source_result_t r;
    char why[300];
    if (hs_source_process(c.s->src, &c.s->cfg, &sr, &r, why, sizeof why)) {
        fail(c.ing, req, c.name, 500, 0, why, c.t0);
        return;
    }
    const char *labels[] = {c.name};
    if (r.outcome == HS_SOURCE_HANDSHAKE) {
        hs_http_respond(req, 200, "text/plain", r.cls.challenge, strlen(r.cls.challenge));
        count(c.ing, c.name, 200, c.t0);
    } else {
        hs_dedup_state_t st = hs_dedup_begin(c.ing->dedup, c.s->name, r.event_id, mono_s());
        if (st == HS_DEDUP_DUPLICATE) {
            answer_duplicate(&c, r.event_id);
        } else if (st == HS_DEDUP_IN_FLIGHT) {
            fail(c.ing, req, c.name, 409, 1,
                 "the same event is being delivered by another request; retry", c.t0);
        } else {
            if (r.outcome == HS_SOURCE_UNMAPPED) hs_metric_add(c.ing->unmapped, labels, 1);
            if (r.outcome == HS_SOURCE_UNPARSEABLE) {
                hs_metric_add(c.ing->unparseable, labels, 1);
                hs_log(HS_LOG_WARN, "webhook body unparseable, kept on the inbox only",
                       "{s:s, s:s, s:s}", "source", c.name, "id", r.event_id, "reason", r.detail);
            }
            produce(&c, &r);
        }
    }
    hs_source_result_clear(&r);
}

/* ---- the service ------------------------------------------------------------------------ */

static void *poll_loop(void *arg) {
    hs_ingest_t *ing = arg;
    while (!atomic_load(&ing->stop))
        rd_kafka_poll(ing->rk, 100);
    return NULL;
}

static int ready(void *opaque, char *why, size_t why_size) {
    hs_ingest_t *ing = opaque;
    return hs_kafka_check(ing->rk, 1000, why, why_size) == HS_OK;
}

static void metrics_init(hs_ingest_t *ing) {
    static const double ack_buckets[] = {0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01,
                                         0.025,  0.05,  0.1,   0.25,  0.5,   1,      5};
    ing->requests =
        hs_metrics_counter("hs_ingest_requests_total",
                           "Webhooks answered, by source and HTTP status", "source,status");
    ing->request_seconds = hs_metrics_histogram(
        "hs_ingest_request_seconds", "Time from a webhook's arrival to its answer", "source,status",
        ack_buckets, sizeof ack_buckets / sizeof ack_buckets[0]);
    ing->verify_failures =
        hs_metrics_counter("hs_ingest_verify_failures_total",
                           "Webhooks refused 401, by source and reason class", "source,reason");
    ing->duplicates = hs_metrics_counter("hs_ingest_duplicates_total",
                                         "Webhooks answered as duplicates", "source");
    ing->unmapped = hs_metrics_counter(
        "hs_ingest_unmapped_total", "Webhooks kept on the inbox without a typed event", "source");
    ing->unparseable = hs_metrics_counter("hs_ingest_unparseable_total",
                                          "Signed webhooks whose body could not be read (inbox "
                                          "only)",
                                          "source");
    ing->ack_seconds =
        hs_metrics_histogram("hs_ingest_ack_seconds",
                             "Time from the first send of a webhook's records to "
                             "the last delivery report",
                             NULL, ack_buckets, sizeof ack_buckets / sizeof ack_buckets[0]);
    ing->in_flight = hs_metrics_gauge("hs_ingest_in_flight",
                                      "Webhooks waiting for their delivery reports", NULL);
}

static hs_err_t kafka_init(hs_ingest_t *ing, char *errstr, size_t n) {
    const hs_config_t *cfg = ing->cfg;
    rd_kafka_conf_t *conf = hs_kafka_producer_conf(cfg, errstr, n);
    if (!conf) return HS_ERR_INVALID;
    char v[32], err[256];
    const char *keys[] = {"linger.ms", "message.timeout.ms"};
    int64_t vals[] = {hs_config_int(cfg, "ingest.linger_ms"),
                      hs_config_int(cfg, "ingest.ack_timeout_ms")};
    for (int i = 0; i < 2; i++) {
        snprintf(v, sizeof v, "%lld", (long long)vals[i]);
        if (rd_kafka_conf_set(conf, keys[i], v, err, sizeof err) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return hs_fail(HS_ERR_INVALID, errstr, n, "kafka %s: %s", keys[i], err);
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    ing->rk = hs_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, n);
    if (!ing->rk) return HS_ERR_INVALID;
    int timeout_ms = (int)hs_config_int(cfg, "kafka.timeout_ms");
    hs_err_t e = hs_kafka_check(ing->rk, timeout_ms, errstr, n);
    for (size_t i = 0; !e && i < hs_ingest_sources_count(ing->sources); i++) {
        char topic[300];
        int parts = 0;
        snprintf(topic, sizeof topic, "hs.inbox.%s", hs_ingest_sources_at(ing->sources, i)->name);
        if (hs_kafka_topic_partitions(ing->rk, topic, &parts, timeout_ms, err, sizeof err) !=
            HS_ERR_NOT_FOUND)
            continue;
        e = hs_kafka_topic_create(ing->rk, topic, (int)hs_config_int(cfg, "kafka.partitions"),
                                  (int)hs_config_int(cfg, "kafka.replication_factor"),
                                  hs_config_str(cfg, "broker.control_url"), timeout_ms, errstr, n);
        if (e == HS_ERR_CONFLICT) e = HS_OK; /* another instance made it meanwhile */
    }
    return e;
}

static hs_err_t schemas_init(hs_ingest_t *ing, char *errstr, size_t n) {
    ing->reg = hs_registry_new(ing->cfg, errstr, n);
    if (!ing->reg) return HS_ERR_UNAVAILABLE;
    ing->schema_ids = calloc(hs_catalog_count() + 1, sizeof *ing->schema_ids);
    if (!ing->schema_ids) return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    char why[400];
    for (size_t i = 0; i < hs_catalog_count(); i++) {
        const hs_event_type_t *t = hs_catalog_at(i);
        if (hs_registry_register(ing->reg, t->subject, t->schema_json, &ing->schema_ids[i], why,
                                 sizeof why))
            return hs_fail(HS_ERR_UNAVAILABLE, errstr, n, "registry %s: %s: %s",
                           hs_registry_describe(ing->reg), t->subject, why);
    }
    return HS_OK;
}

static hs_err_t limits_init(hs_ingest_t *ing, char *errstr, size_t n) {
    const hs_config_t *cfg = ing->cfg;
    ing->tier_rate[HS_TIER_FREE] = (double)hs_config_int(cfg, "ingest.rate_free");
    ing->tier_rate[HS_TIER_PRO] = (double)hs_config_int(cfg, "ingest.rate_pro");
    ing->tier_rate[HS_TIER_ENTERPRISE] = (double)hs_config_int(cfg, "ingest.rate_enterprise");
    int t = hs_tier_parse(hs_config_str(cfg, "ingest.default_tier"));
    ing->default_tier = t < 0 ? HS_TIER_ENTERPRISE : (hs_tier_t)t;
    ing->retry_after_s = (int)hs_config_int(cfg, "ingest.retry_after_s");
    ing->rl = hs_ratelimit_new(0);
    hs_dedup_opts_t d = {
        .capacity = (size_t)hs_config_int(cfg, "ingest.dedup_cache_size"),
        .window_s = (int)hs_config_int(cfg, "ingest.dedup_window_s"),
        .redis_url =
            hs_config_bool(cfg, "ingest.dedup_redis") ? hs_config_str(cfg, "redis.url") : NULL,
        .redis_timeout_ms = (int)hs_config_int(cfg, "ingest.dedup_redis_timeout_ms"),
    };
    ing->dedup = hs_dedup_new(&d, errstr, n);
    if (!ing->rl) return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    if (!ing->dedup || !(ing->flags = hs_flags_new(cfg, errstr, n))) return HS_ERR_INVALID;
    if (hs_flags_start(ing->flags, errstr, n)) return HS_ERR_INVALID;
    char why[256];
    if (hs_flags_wait_ready(ing->flags, (int)hs_config_int(cfg, "kafka.timeout_ms"), why,
                            sizeof why))
        hs_log(HS_LOG_WARN, "flags not read yet: serving with the file's flags", "{s:s}", "error",
               why);
    return HS_OK;
}

static hs_err_t http_init(hs_ingest_t *ing, char *errstr, size_t n) {
    hs_http_opts_t opts = {
        .listen = hs_config_str(ing->cfg, "ingest.listen"),
        .service = "ingest",
        .max_body_bytes = (size_t)hs_config_int(ing->cfg, "ingest.max_body_bytes"),
        .threads = (int)hs_config_int(ing->cfg, "ingest.threads"),
    };
    ing->srv = hs_http_server_new(&opts, errstr, n);
    if (!ing->srv) return HS_ERR_INVALID;
    /* Every method reaches the handler, so an unknown source is 404 before a wrong method
     * is 405 (the documented order). */
    static const char *const methods[] = {"POST", "GET", "PUT", "PATCH", "DELETE"};
    static const char *const patterns[] = {"/webhooks/{source}", "/webhooks/{source}/{tenant}"};
    for (size_t p = 0; p < 2; p++)
        for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++)
            hs_http_route(ing->srv, methods[m], patterns[p], on_webhook, ing);
    hs_http_set_ready(ing->srv, ready, ing);
    return hs_http_server_start(ing->srv, errstr, n);
}

hs_ingest_t *hs_ingest_new(const hs_config_t *cfg, const hs_ingest_sources_t *sources, char *errstr,
                           size_t errstr_size) {
    hs_ingest_t *ing = calloc(1, sizeof *ing);
    if (!ing) return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory"), NULL;
    ing->cfg = cfg;
    ing->sources = sources;
    atomic_init(&ing->stop, 0);
    metrics_init(ing);
    if (limits_init(ing, errstr, errstr_size) || kafka_init(ing, errstr, errstr_size) ||
        schemas_init(ing, errstr, errstr_size)) {
        hs_ingest_destroy(ing);
        return NULL;
    }
    ing->poller_started = pthread_create(&ing->poller, NULL, poll_loop, ing) == 0;
    if (!ing->poller_started) {
        hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "cannot start the poll thread");
        hs_ingest_destroy(ing);
        return NULL;
    }
    if (http_init(ing, errstr, errstr_size)) {
        hs_ingest_destroy(ing);
        return NULL;
    }
    return ing;
}

int hs_ingest_port(const hs_ingest_t *ing) {
    return hs_http_server_port(ing->srv);
}

void hs_ingest_destroy(hs_ingest_t *ing) {
    if (!ing) return;
    /* The poll thread keeps serving delivery reports while the server waits for the suspended
     * requests, which those reports answer. */
    hs_http_server_destroy(ing->srv);
    atomic_store(&ing->stop, 1);
    if (ing->poller_started) pthread_join(ing->poller, NULL);
    if (ing->rk) {
        rd_kafka_flush(ing->rk, (int)hs_config_int(ing->cfg, "ingest.ack_timeout_ms") + 1000);
        rd_kafka_destroy(ing->rk);
    }
    hs_registry_destroy(ing->reg);
    free(ing->schema_ids);
    hs_dedup_destroy(ing->dedup);
    hs_flags_destroy(ing->flags);
    hs_ratelimit_destroy(ing->rl);
    free(ing);
}
