/* Chatwoot: X-Chatwoot-Signature is "sha256=" + hex HMAC-SHA256 of "<X-Chatwoot-Timestamp>.<body>"
 * keyed with the webhook's secret as text (Chatwoot's webhook API: "sha256= followed by the
 * HMAC-SHA256 of {timestamp}.{raw_request_body}"); the unix timestamp window is symmetric.
 * X-Chatwoot-Delivery, when sent, is the delivery id. */
#include "hs_source_impl.h"

static const hs_map_field_t contact[] = {
    {"id", "id", HS_MAP_STRING},
    {"email", "email", HS_MAP_STRING, HS_MAP_OPT},
    {"name", "name", HS_MAP_STRING, HS_MAP_OPT},
    {NULL},
};

static const hs_map_field_t conversation_attrs[] = {
    {"chatwoot.account_id", "account.id", HS_MAP_STRING},
    {"chatwoot.priority", "priority", HS_MAP_STRING},
    {"chatwoot.team_id", "meta.team.id", HS_MAP_STRING},
    {NULL},
};

/* id is the conversation's display id (what agents see and the API takes). */
static const hs_map_field_t conversation_created[] = {
    {"conversation_id", "id|display_id", HS_MAP_STRING},
    {"inbox_id", "inbox_id", HS_MAP_STRING},
    {"contact", "meta.sender", HS_MAP_RECORD, 0, contact},
    {"channel", "channel|meta.channel", HS_MAP_SNAKE, 0},
    {"status", "status", HS_MAP_STRING, 0, "open"},
    {"assignee_id", "meta.assignee.id", HS_MAP_STRING, HS_MAP_OPT},
    {"created_at", "created_at|timestamp", HS_MAP_TIME_MS},
    {"attributes", "", HS_MAP_ATTRS, 0, conversation_attrs},
    {NULL},
};

static const hs_map_rule_t rules[] = {
    {"conversation_created", "support.conversation.created", "", conversation_created},
    {NULL},
};

/* Without X-Chatwoot-Delivery there is no event id: "id" is the conversation's, shared by every
 * event about it. */
static const hs_src_spec_t spec = {
    .hmac = {.sig_header = "X-Chatwoot-Signature",
             .sig_prefix = "sha256=",
             .ts_header = "X-Chatwoot-Timestamp",
             .ts_format = HS_SRC_TS_UNIX,
             .sep = "."},
    .id_header = "X-Chatwoot-Delivery",
    .type_json = "event",
    .rules = rules,
};
HS_SRC_SPEC_FUNCTIONS(chatwoot, spec)

const hs_source_t hs_source_chatwoot = {
    .type = "chatwoot",
    .summary = "Chatwoot: X-Chatwoot-Signature sha256=<hex HMAC-SHA256 of \"ts.body\">",
    .verify = chatwoot_verify,
    .event_id = chatwoot_event_id,
    .classify = chatwoot_classify,
    .map = chatwoot_map,
};
