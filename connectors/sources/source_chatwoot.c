/* Chatwoot: X-Chatwoot-Signature is "sha256=" + hex HMAC-SHA256 of "<X-Chatwoot-Timestamp>.<body>"
 * keyed with the webhook's secret as text (Chatwoot's webhook API: "sha256= followed by the
 * HMAC-SHA256 of {timestamp}.{raw_request_body}"); the unix timestamp window is symmetric.
 * X-Chatwoot-Delivery, when sent, is the delivery id. */
#include <string.h>

#include "hs_source_impl.h"

#define SIG_HEADER "X-Chatwoot-Signature"
#define TS_HEADER "X-Chatwoot-Timestamp"

static hs_err_t verify(const hs_source_cfg_t *cfg, const hs_source_req_t *req, int64_t now_s,
                       char *errstr, size_t errstr_size) {
    const char *h = hs_src_header(req, SIG_HEADER), *ts = hs_src_header(req, TS_HEADER);
    int64_t t;
    if (!h) return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "no signature header " SIG_HEADER);
    if (!ts) return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "no timestamp header " TS_HEADER);
    size_t tslen = strnlen(ts, 32);
    if (hs_sig_parse_uint(ts, tslen, &t))
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size,
                       "malformed timestamp header " TS_HEADER ": not a unix time");
    if (strncmp(h, "sha256=", 7) != 0)
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size,
                       "malformed signature header " SIG_HEADER ": no sha256= prefix");
    hs_src_sig_t sig;
    long n = hs_sig_hex_decode(h + 7, strnlen(h + 7, HS_SIG_MAX_HEADER + 1), sig.b, sizeof sig.b);
    if (n < 0)
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size,
                       "malformed signature header " SIG_HEADER ": not hex");
    sig.n = (size_t)n;
    hs_sig_part_t parts[] = {{ts, tslen}, {".", 1}, {req->body, req->body_len}};
    hs_err_t rc =
        hs_src_match(cfg, HS_SRC_KEY_TEXT, HS_SIG_SHA256, parts, 3, &sig, 1, errstr, errstr_size);
    if (rc) return rc;
    return hs_sig_check_time(t, now_s, hs_src_tolerance(cfg), HS_SIG_WINDOW_SYMMETRIC, errstr,
                             errstr_size);
}

/* Without X-Chatwoot-Delivery there is no event id: "id" is the conversation's, shared by every
 * event about it. */
static hs_err_t event_id(const hs_source_cfg_t *cfg, const hs_source_req_t *req,
                         const hs_source_body_t *body, char *id, size_t id_size, char *errstr,
                         size_t errstr_size) {
    (void)cfg, (void)body, (void)errstr, (void)errstr_size;
    return hs_src_id_from_header(req, "X-Chatwoot-Delivery", id, id_size);
}

static hs_err_t classify(const hs_source_cfg_t *cfg, const hs_source_req_t *req,
                         const hs_source_body_t *body, hs_source_class_t *out, char *errstr,
                         size_t errstr_size) {
    (void)cfg, (void)req;
    memset(out, 0, sizeof *out);
    hs_err_t rc = hs_src_need_json(body, errstr, errstr_size);
    if (rc) return rc;
    if (hs_src_json_text(body, "event", out->type, sizeof out->type)) out->type[0] = '\0';
    return HS_OK;
}

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

static hs_err_t map(const hs_source_cfg_t *cfg, const hs_source_req_t *req,
                    const hs_source_body_t *body, const hs_source_class_t *cls,
                    hs_source_events_t *out, char *errstr, size_t errstr_size) {
    hs_err_t rc = hs_src_need_json(body, errstr, errstr_size);
    return rc ? rc : hs_map_apply(rules, cfg, req, body, cls, out, errstr, errstr_size);
}

const hs_source_t hs_source_chatwoot = {
    .type = "chatwoot",
    .summary = "Chatwoot: X-Chatwoot-Signature sha256=<hex HMAC-SHA256 of \"ts.body\">",
    .verify = verify,
    .event_id = event_id,
    .classify = classify,
    .map = map,
};
