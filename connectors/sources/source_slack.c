/* Slack: X-Slack-Signature is "v0=" + hex HMAC-SHA256 of "v0:<X-Slack-Request-Timestamp>:<body>",
 * keyed with the signing secret as text; like Slack's SDKs the timestamp may be at most the
 * tolerance away from now in either direction. Events API bodies are JSON (url_verification is
 * answered with its challenge); slash commands and interactivity are form posts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_source_impl.h"

/* Slack signs the timestamp header text as sent. Events API bodies carry event_id, interactivity
 * and slash commands a trigger_id. */
static const hs_src_spec_t spec = {
    .hmac = {.sig_header = "X-Slack-Signature",
             .sig_prefix = "v0=",
             .ts_header = "X-Slack-Request-Timestamp",
             .ts_format = HS_SRC_TS_UNIX,
             .lead = "v0:",
             .sep = ":"},
    .id_json = "event_id",
    .id_form = "trigger_id",
    .flags = HS_SRC_FORM_OK,
};
HS_SRC_SPEC_FUNCTIONS(slack, spec)

static void set_type(hs_source_class_t *out, const json_t *v) {
    if (json_is_string(v) && json_string_length(v) < sizeof out->type)
        memcpy(out->type, json_string_value(v), json_string_length(v) + 1);
}

/* Slash commands carry command=/name; interactivity carries payload=<JSON with a type>. */
static hs_err_t classify_form(const hs_source_req_t *req, hs_source_class_t *out, char *errstr,
                              size_t errstr_size) {
    char cmd[128];
    if (hs_sig_form_get(req->body, req->body_len, "command", cmd, sizeof cmd) == 1) {
        snprintf(out->type, sizeof out->type, "slash_command");
        return HS_OK;
    }
    const char *p = NULL;
    size_t pos = 0;
    hs_sig_form_pair_t pair;
    while (!p && hs_sig_form_next(req->body, req->body_len, &pos, &pair))
        if (pair.name_len == 7 && memcmp(pair.name, "payload", 7) == 0) p = pair.value;
    if (!p) return HS_OK;
    char *json = malloc(pair.value_len + 1);
    long n = json ? hs_sig_form_decode(pair.value, pair.value_len, json) : -1;
    json_t *v = n >= 0 ? json_loadb(json, (size_t)n, 0, NULL) : NULL;
    free(json);
    if (!v) return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "payload is not JSON");
    set_type(out, json_object_get(v, "type"));
    json_decref(v);
    return HS_OK;
}

static hs_err_t classify(const hs_source_cfg_t *cfg, const hs_source_req_t *req,
                         const hs_source_body_t *body, hs_source_class_t *out, char *errstr,
                         size_t errstr_size) {
    (void)cfg;
    memset(out, 0, sizeof *out);
    if (!body->json && hs_src_is_form(req)) return classify_form(req, out, errstr, errstr_size);
    hs_err_t rc = hs_src_need_json(body, errstr, errstr_size);
    if (rc) return rc;
    const json_t *type = json_object_get(body->json, "type");
    set_type(out, type);
    if (json_is_string(type) && strcmp(json_string_value(type), "url_verification") == 0) {
        const json_t *ch = json_object_get(body->json, "challenge");
        if (!json_is_string(ch) || json_string_length(ch) == 0 ||
            json_string_length(ch) >= sizeof out->challenge)
            return hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                           "url_verification without a usable challenge (1-%zu characters)",
                           sizeof out->challenge - 1);
        memcpy(out->challenge, json_string_value(ch), json_string_length(ch) + 1);
    } else if (json_is_string(type) && strcmp(json_string_value(type), "event_callback") == 0) {
        set_type(out, hs_map_get(body->json, "event.type"));
    }
    return HS_OK;
}

const hs_source_t hs_source_slack = {
    .type = "slack",
    .summary = "Slack: X-Slack-Signature v0=<hex HMAC-SHA256 of \"v0:ts:body\">",
    .verify = slack_verify,
    .event_id = slack_event_id,
    .classify = classify,
    .map = slack_map,
};
