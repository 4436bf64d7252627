/* GitHub: X-Hub-Signature-256 is "sha256=" + hex HMAC-SHA256 of the raw body, keyed with the
 * webhook secret as text (the SHA-1 X-Hub-Signature is legacy and not accepted). Delivery id in
 * X-GitHub-Delivery, event in X-GitHub-Event (+ ".<action>" from the body). */
#include <stdio.h>
#include <string.h>

#include "hs_source_impl.h"

static const hs_src_spec_t spec = {
    .hmac = {.sig_header = "X-Hub-Signature-256", .sig_prefix = "sha256="},
    .id_header = "X-GitHub-Delivery",
    .flags = HS_SRC_FORM_OK, /* no typed mapping yet; form deliveries (payload=...) are fine */
};
HS_SRC_SPEC_FUNCTIONS(github, spec)

static hs_err_t classify(const hs_source_cfg_t *cfg, const hs_source_req_t *req,
                         const hs_source_body_t *body, hs_source_class_t *out, char *errstr,
                         size_t errstr_size) {
    (void)cfg, (void)errstr, (void)errstr_size;
    memset(out, 0, sizeof *out);
    const char *ev = hs_src_header(req, "X-GitHub-Event");
    if (!ev || strlen(ev) >= sizeof out->type) return HS_OK;
    const json_t *action = body->json ? json_object_get(body->json, "action") : NULL;
    if (json_is_string(action) && strlen(ev) + 1 + json_string_length(action) < sizeof out->type)
        snprintf(out->type, sizeof out->type, "%s.%s", ev, json_string_value(action));
    else
        memcpy(out->type, ev, strlen(ev) + 1);
    return HS_OK;
}

const hs_source_t hs_source_github = {
    .type = "github",
    .summary = "GitHub: X-Hub-Signature-256 sha256=<hex HMAC-SHA256 of the body>",
    .verify = github_verify,
    .event_id = github_event_id,
    .classify = classify,
    .map = github_map,
};
