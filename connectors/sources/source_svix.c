/* Svix: the Standard Webhooks scheme under svix-id, svix-timestamp and svix-signature (the
 * webhook-* names are accepted too, as Svix's libraries do); whsec_ secrets. */
#include "hs_source_impl.h"

static hs_err_t check(const hs_source_cfg_t *cfg, char *errstr, size_t errstr_size) {
    return hs_src_check_keys(cfg, HS_SRC_KEY_WHSEC, errstr, errstr_size);
}

static hs_err_t verify(const hs_source_cfg_t *cfg, const hs_source_req_t *req, int64_t now_s,
                       char *errstr, size_t errstr_size) {
    return hs_src_stdwh_verify(cfg, req, now_s, "svix", errstr, errstr_size);
}

static hs_err_t event_id(const hs_source_cfg_t *cfg, const hs_source_req_t *req,
                         const hs_source_body_t *body, char *id, size_t id_size, char *errstr,
                         size_t errstr_size) {
    (void)cfg, (void)body, (void)errstr, (void)errstr_size;
    hs_err_t rc = hs_src_id_from_header(req, "svix-id", id, id_size);
    return rc == HS_ERR_NOT_FOUND ? hs_src_id_from_header(req, "webhook-id", id, id_size) : rc;
}

static hs_err_t classify(const hs_source_cfg_t *cfg, const hs_source_req_t *req,
                         const hs_source_body_t *body, hs_source_class_t *out, char *errstr,
                         size_t errstr_size) {
    (void)cfg, (void)req;
    return hs_src_classify_json_type(body, out, errstr, errstr_size);
}

static hs_err_t map(const hs_source_cfg_t *cfg, const hs_source_req_t *req,
                    const hs_source_body_t *body, const hs_source_class_t *cls,
                    hs_source_events_t *out, char *errstr, size_t errstr_size) {
    (void)cfg, (void)req, (void)cls, (void)out;
    return hs_src_need_json(body, errstr, errstr_size);
}

const hs_source_t hs_source_svix = {
    .type = "svix",
    .summary = "Svix: svix-signature v1,<base64> over \"id.ts.body\", whsec_ key",
    .check = check,
    .verify = verify,
    .event_id = event_id,
    .classify = classify,
    .map = map,
};
