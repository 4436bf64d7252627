/* GitHub: X-Hub-Signature-256 is "sha256=" + hex HMAC-SHA256 of the raw body, keyed with the
 * webhook secret as text (the SHA-1 X-Hub-Signature is legacy and not accepted). Delivery id in
 * X-GitHub-Delivery, event in X-GitHub-Event (+ ".<action>" from the body). */
#include <stdio.h>
#include <string.h>

#include "hs_source_impl.h"

#define SIG_HEADER "X-Hub-Signature-256"

static hs_err_t verify(const hs_source_cfg_t *cfg, const hs_source_req_t *req, int64_t now_s,
                       char *errstr, size_t errstr_size) {
    (void)now_s;
    const char *h = hs_src_header(req, SIG_HEADER);
    if (!h) return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "no signature header " SIG_HEADER);
    if (strncmp(h, "sha256=", 7) != 0)
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size,
                       "malformed signature header " SIG_HEADER ": no sha256= prefix");
    hs_src_sig_t sig;
    long n = hs_sig_hex_decode(h + 7, strnlen(h + 7, HS_SIG_MAX_HEADER + 1), sig.b, sizeof sig.b);
    if (n < 0)
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size,
                       "malformed signature header " SIG_HEADER ": not hex");
    sig.n = (size_t)n;
    hs_sig_part_t body = {req->body, req->body_len};
    return hs_src_match(cfg, HS_SRC_KEY_TEXT, HS_SIG_SHA256, &body, 1, &sig, 1, errstr,
                        errstr_size);
}

static hs_err_t event_id(const hs_source_cfg_t *cfg, const hs_source_req_t *req,
                         const hs_source_body_t *body, char *id, size_t id_size, char *errstr,
                         size_t errstr_size) {
    (void)cfg, (void)body, (void)errstr, (void)errstr_size;
    return hs_src_id_from_header(req, "X-GitHub-Delivery", id, id_size);
}

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

/* No typed mapping yet; a form-encoded delivery (payload=...) is not JSON and that is fine. */
static hs_err_t map(const hs_source_cfg_t *cfg, const hs_source_req_t *req,
                    const hs_source_body_t *body, const hs_source_class_t *cls,
                    hs_source_events_t *out, char *errstr, size_t errstr_size) {
    (void)cfg, (void)cls, (void)out;
    return hs_src_is_form(req) ? HS_OK : hs_src_need_json(body, errstr, errstr_size);
}

const hs_source_t hs_source_github = {
    .type = "github",
    .summary = "GitHub: X-Hub-Signature-256 sha256=<hex HMAC-SHA256 of the body>",
    .verify = verify,
    .event_id = event_id,
    .classify = classify,
    .map = map,
};
