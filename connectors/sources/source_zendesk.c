/* Zendesk: X-Zendesk-Webhook-Signature is base64 HMAC-SHA256 of the
 * X-Zendesk-Webhook-Signature-Timestamp value (ISO 8601, "2021-03-25T05:09:27Z") immediately
 * followed by the body, keyed with the webhook's signing secret as text. Zendesk publishes no
 * SDK; the timestamp window is symmetric. Event subscriptions send {"type":
 * "zen:event-type:ticket.created", "id": ..., "detail": {...}}. */
#include "hs_source_impl.h"

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

/* The event id of event subscriptions, else the invocation id of trigger webhooks. */
static const hs_src_spec_t spec = {
    .hmac = {.sig_header = "X-Zendesk-Webhook-Signature",
             .base64 = 1,
             .ts_header = "X-Zendesk-Webhook-Signature-Timestamp",
             .ts_format = HS_SRC_TS_ISO8601},
    .id_json = "id",
    .id_header = "X-Zendesk-Webhook-Invocation-Id",
    .type_json = "type",
    .rules = rules,
};
HS_SRC_SPEC_FUNCTIONS(zendesk, spec)

const hs_source_t hs_source_zendesk = {
    .type = "zendesk",
    .summary = "Zendesk: X-Zendesk-Webhook-Signature, base64 HMAC-SHA256 of timestamp + body",
    .verify = zendesk_verify,
    .event_id = zendesk_event_id,
    .classify = zendesk_classify,
    .map = zendesk_map,
};
