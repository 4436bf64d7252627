/* Zendesk: X-Zendesk-Webhook-Signature is base64 HMAC-SHA256 of the
 * X-Zendesk-Webhook-Signature-Timestamp value (ISO 8601, "2021-03-25T05:09:27Z") immediately
 * followed by the body, keyed with the webhook's signing secret as text. Zendesk publishes no
 * SDK; the timestamp window is symmetric. Event subscriptions send {"type":
 * "zen:event-type:ticket.created", "id": ..., "detail": {...}}. */
#include <string.h>

#include "hs_source_impl.h"

#define SIG_HEADER "X-Zendesk-Webhook-Signature"
#define TS_HEADER "X-Zendesk-Webhook-Signature-Timestamp"

static hs_err_t verify(const hs_source_cfg_t *cfg, const hs_source_req_t *req, int64_t now_s,
                       char *errstr, size_t errstr_size) {
    const char *h = hs_src_header(req, SIG_HEADER), *ts = hs_src_header(req, TS_HEADER);
    int64_t t;
    if (!h) return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "no signature header " SIG_HEADER);
    if (!ts) return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "no timestamp header " TS_HEADER);
    if (strnlen(ts, 64) == 64 || hs_sig_parse_iso8601(ts, &t))
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size,
                       "malformed timestamp header " TS_HEADER ": not an ISO 8601 date-time");
    hs_src_sig_t sig;
    long n = hs_sig_b64_decode(h, strnlen(h, HS_SIG_MAX_HEADER + 1), sig.b, sizeof sig.b);
    if (n < 0)
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size,
                       "malformed signature header " SIG_HEADER ": not base64");
    sig.n = (size_t)n;
    hs_sig_part_t parts[] = {{ts, strlen(ts)}, {req->body, req->body_len}};
    hs_err_t rc =
        hs_src_match(cfg, HS_SRC_KEY_TEXT, HS_SIG_SHA256, parts, 2, &sig, 1, errstr, errstr_size);
    if (rc) return rc;
    return hs_sig_check_time(t, now_s, hs_src_tolerance(cfg), HS_SIG_WINDOW_SYMMETRIC, errstr,
                             errstr_size);
}

/* The event id of event subscriptions, else the invocation id of trigger webhooks. */
static hs_err_t event_id(const hs_source_cfg_t *cfg, const hs_source_req_t *req,
                         const hs_source_body_t *body, char *id, size_t id_size, char *errstr,
                         size_t errstr_size) {
    (void)cfg, (void)errstr, (void)errstr_size;
    hs_err_t rc = hs_src_json_text(body, "id", id, id_size);
    return rc == HS_ERR_NOT_FOUND
               ? hs_src_id_from_header(req, "X-Zendesk-Webhook-Invocation-Id", id, id_size)
               : rc;
}

static hs_err_t classify(const hs_source_cfg_t *cfg, const hs_source_req_t *req,
                         const hs_source_body_t *body, hs_source_class_t *out, char *errstr,
                         size_t errstr_size) {
    (void)cfg, (void)req;
    return hs_src_classify_json_type(body, out, errstr, errstr_size);
}

static const hs_map_field_t requester[] = {
    {"email", "requester.email", HS_MAP_STRING, 0, ""}, /* events name the requester by id */
    {"name", "requester.name", HS_MAP_STRING, HS_MAP_OPT},
    {NULL},
};

static const hs_map_field_t ticket_attrs[] = {
    {"zendesk.requester_id", "requester_id", HS_MAP_STRING},
    {"zendesk.brand_id", "brand_id", HS_MAP_STRING},
    {"zendesk.group_id", "group_id", HS_MAP_STRING},
    {"zendesk.organization_id", "organization_id", HS_MAP_STRING},
    {"zendesk.type", "type", HS_MAP_STRING},
    {"zendesk.account_id", "$account_id", HS_MAP_STRING},
    {NULL},
};

static const hs_map_field_t ticket_created[] = {
    {"ticket_id", "id", HS_MAP_STRING},
    {"subject", "subject", HS_MAP_STRING, 0, ""},
    {"description", "description", HS_MAP_STRING, HS_MAP_OPT},
    {"status", "status", HS_MAP_STRING, HS_MAP_LOWER, "new"},
    {"priority", "priority", HS_MAP_STRING, HS_MAP_OPT | HS_MAP_LOWER},
    {"channel", "via.channel", HS_MAP_STRING, HS_MAP_OPT},
    {"requester", "", HS_MAP_RECORD, 0, requester},
    {"assignee_id", "assignee_id", HS_MAP_STRING, HS_MAP_OPT},
    {"tags", "tags", HS_MAP_STRINGS},
    {"created_at", "created_at|$time", HS_MAP_TIME_MS},
    {"attributes", "", HS_MAP_ATTRS, 0, ticket_attrs},
    {NULL},
};

static const hs_map_rule_t rules[] = {
    {"zen:event-type:ticket.created", "support.ticket.created", "detail", ticket_created},
    {NULL},
};

static hs_err_t map(const hs_source_cfg_t *cfg, const hs_source_req_t *req,
                    const hs_source_body_t *body, const hs_source_class_t *cls,
                    hs_source_events_t *out, char *errstr, size_t errstr_size) {
    hs_err_t rc = hs_src_need_json(body, errstr, errstr_size);
    return rc ? rc : hs_map_apply(rules, cfg, req, body, cls, out, errstr, errstr_size);
}

const hs_source_t hs_source_zendesk = {
    .type = "zendesk",
    .summary = "Zendesk: X-Zendesk-Webhook-Signature, base64 HMAC-SHA256 of timestamp + body",
    .verify = verify,
    .event_id = event_id,
    .classify = classify,
    .map = map,
};
