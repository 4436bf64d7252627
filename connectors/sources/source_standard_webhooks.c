/* Standard Webhooks (standardwebhooks.com): webhook-signature holds space-separated
 * "v1,<base64 HMAC-SHA256>" entries over "<webhook-id>.<webhook-timestamp>.<body>", keyed with
 * the base64 secret after its "whsec_" prefix; any v1 entry may match (rotation) and other
 * versions are skipped. The timestamp may be at most the tolerance old or ahead, as in the
 * reference libraries. Svix is the same scheme under svix-id, svix-timestamp and svix-signature
 * (the webhook-* names are accepted too, as Svix's libraries do): one implementation, two rows. */
#include <stdio.h>
#include <string.h>

#include "hs_source_impl.h"

/* Looks up <prefix>-<what>, then webhook-<what>; name gets the header name to report. */
static const char *std_header(const hs_source_req_t *req, const char *prefix, const char *what,
                              char *name, size_t name_size) {
    snprintf(name, name_size, "%s-%s", prefix, what);
    const char *v = hs_src_header(req, name);
    if (!v && strcmp(prefix, "webhook") != 0) {
        char alt[64];
        snprintf(alt, sizeof alt, "webhook-%s", what);
        v = hs_src_header(req, alt);
    }
    return v;
}

/* Decodes every v1 entry of the signature header into sigs. */
static hs_err_t read_sigs(const char *h, const char *name, hs_src_sig_t *sigs, size_t *nsigs,
                          char *errstr, size_t errstr_size) {
    hs_sig_item_t items[HS_SIG_MAX_ITEMS];
    size_t n, nv1 = 0;
    char err[128];
    if (hs_sig_split(h, ' ', ',', items, HS_SIG_MAX_ITEMS, &n, err, sizeof err))
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "malformed signature header %s: %s", name,
                       err);
    *nsigs = 0;
    for (size_t i = 0; i < n; i++) {
        if (!hs_sig_item_is(&items[i], "v1")) continue;
        nv1++;
        long len = hs_sig_b64_decode(items[i].val, items[i].val_len, sigs[*nsigs].b,
                                     sizeof sigs[*nsigs].b);
        if (len > 0) sigs[(*nsigs)++].n = (size_t)len;
    }
    if (nv1 == 0) return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "no v1 signature in %s", name);
    return HS_OK;
}

hs_err_t hs_src_stdwh_verify(const hs_source_cfg_t *cfg, const hs_source_req_t *req, int64_t now_s,
                             const char *prefix, char *errstr, size_t errstr_size) {
    char idn[64], tsn[64], sign[64];
    const char *id = std_header(req, prefix, "id", idn, sizeof idn);
    const char *ts = std_header(req, prefix, "timestamp", tsn, sizeof tsn);
    const char *sig = std_header(req, prefix, "signature", sign, sizeof sign);
    int64_t t;
    if (!id) return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "no id header %s", idn);
    if (!ts) return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "no timestamp header %s", tsn);
    if (!sig) return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "no signature header %s", sign);
    if (hs_sig_parse_uint(ts, strnlen(ts, 32), &t))
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size,
                       "malformed timestamp header %s: not a unix time", tsn);
    size_t idlen = strnlen(id, HS_SIG_MAX_HEADER + 1);
    if (idlen > HS_SIG_MAX_HEADER)
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "id header %s too long", idn);
    hs_src_sig_t sigs[HS_SIG_MAX_ITEMS];
    size_t nsigs = 0;
    hs_err_t rc = read_sigs(sig, sign, sigs, &nsigs, errstr, errstr_size);
    if (rc) return rc;
    char tsbuf[24]; /* the libraries sign the parsed integer */
    int tn = snprintf(tsbuf, sizeof tsbuf, "%lld", (long long)t);
    hs_sig_part_t parts[] = {
        {id, idlen}, {".", 1}, {tsbuf, (size_t)tn}, {".", 1}, {req->body, req->body_len}};
    return hs_src_match_window(cfg, HS_SRC_KEY_WHSEC, HS_SIG_SHA256, parts, 5, sigs, nsigs, t,
                               now_s, HS_SIG_WINDOW_SYMMETRIC, errstr, errstr_size);
}

static const hs_src_spec_t stdwh_spec = {
    .key = HS_SRC_KEY_WHSEC,
    .stdwh_prefix = "webhook",
    .id_header = "webhook-id",
    .type_json = "type",
};
HS_SRC_SPEC_FUNCTIONS(stdwh, stdwh_spec)

static const hs_src_spec_t svix_spec = {
    .key = HS_SRC_KEY_WHSEC,
    .stdwh_prefix = "svix",
    .id_header = "svix-id|webhook-id",
    .type_json = "type",
};
HS_SRC_SPEC_FUNCTIONS(svix, svix_spec)

const hs_source_t hs_source_standard_webhooks = {
    .type = "standard-webhooks",
    .summary = "Standard Webhooks: webhook-signature v1,<base64> over \"id.ts.body\", whsec_ key",
    .check = stdwh_check,
    .verify = stdwh_verify,
    .event_id = stdwh_event_id,
    .classify = stdwh_classify,
    .map = stdwh_map,
};

const hs_source_t hs_source_svix = {
    .type = "svix",
    .summary = "Svix: svix-signature v1,<base64> over \"id.ts.body\", whsec_ key",
    .check = svix_check,
    .verify = svix_verify,
    .event_id = svix_event_id,
    .classify = svix_classify,
    .map = svix_map,
};
