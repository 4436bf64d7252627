/* Providers as data (hs_source_impl.h): the verify, event id, classify and map steps that most
 * connectors share, driven by an hs_src_spec_t row, and the signature helpers the connectors
 * with their own verify use too. */
#include <stdio.h>
#include <string.h>

#include "hs_source_impl.h"

/* Walks a "a|b" list: copies the next name into buf and advances *list; 0 at the end. */
static int next_name(const char **list, char *buf, size_t buf_size) {
    const char *s = *list;
    if (!s || !*s) return 0;
    size_t len = strcspn(s, "|");
    if (len >= buf_size) len = buf_size - 1; /* names are static and short */
    memcpy(buf, s, len);
    buf[len] = '\0';
    *list = s[len] ? s + len + 1 : s + len;
    return 1;
}

/* ---- verify ---- */

hs_err_t hs_src_sig_read(const hs_source_req_t *req, const char *name, const char *prefix,
                         int base64, hs_src_sig_t *sig, char *errstr, size_t errstr_size) {
    const char *h = hs_src_header(req, name);
    if (!h) return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "no signature header %s", name);
    size_t plen = prefix ? strlen(prefix) : 0;
    if (plen && strncmp(h, prefix, plen) != 0)
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size,
                       "malformed signature header %s: no %s prefix", name, prefix);
    h += plen;
    size_t len = strnlen(h, HS_SIG_MAX_HEADER + 1);
    long n = base64 ? hs_sig_b64_decode(h, len, sig->b, sizeof sig->b)
                    : hs_sig_hex_decode(h, len, sig->b, sizeof sig->b);
    if (n < 0)
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "malformed signature header %s: not %s",
                       name, base64 ? "base64" : "hex");
    sig->n = (size_t)n;
    return HS_OK;
}

hs_err_t hs_src_match_window(const hs_source_cfg_t *cfg, hs_src_key_t mode, hs_sig_alg_t alg,
                             const hs_sig_part_t *parts, size_t nparts, const hs_src_sig_t *sigs,
                             size_t nsigs, int64_t t, int64_t now_s, hs_sig_window_t window,
                             char *errstr, size_t errstr_size) {
    hs_err_t rc = hs_src_match(cfg, mode, alg, parts, nparts, sigs, nsigs, errstr, errstr_size);
    if (rc) return rc;
    return hs_sig_check_time(t, now_s, hs_src_tolerance(cfg), window, errstr, errstr_size);
}

static const char *const ts_what[] = {
    [HS_SRC_TS_UNIX] = "a unix time",
    [HS_SRC_TS_ISO8601] = "an ISO 8601 date-time",
};

/* Reads the timestamp header of s: its text (signed as sent), length and value. */
static hs_err_t read_ts(const hs_src_hmac_t *s, const hs_source_req_t *req, const char **ts,
                        size_t *len, int64_t *t, char *errstr, size_t errstr_size) {
    if (!(*ts = hs_src_header(req, s->ts_header)))
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "no timestamp header %s", s->ts_header);
    *len = strnlen(*ts, 64);
    int bad = *len == 64;
    if (!bad)
        bad = s->ts_format == HS_SRC_TS_UNIX ? hs_sig_parse_uint(*ts, *len, t)
                                             : hs_sig_parse_iso8601(*ts, t);
    if (bad)
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "malformed timestamp header %s: not %s",
                       s->ts_header, ts_what[s->ts_format]);
    return HS_OK;
}

/* One-header schemes: the signature header must be there before the timestamp is read, and the
 * timestamp must parse before the signature is decoded (the order of the errors callers see). */
static hs_err_t hmac_verify(const hs_src_hmac_t *s, hs_src_key_t key, const hs_source_cfg_t *cfg,
                            const hs_source_req_t *req, int64_t now_s, char *errstr,
                            size_t errstr_size) {
    const char *ts = NULL;
    size_t tslen = 0, n = 0;
    int64_t t = 0;
    hs_src_sig_t sig;
    hs_sig_part_t parts[4];
    if (!hs_src_header(req, s->sig_header))
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "no signature header %s", s->sig_header);
    hs_err_t rc = s->ts_header ? read_ts(s, req, &ts, &tslen, &t, errstr, errstr_size) : HS_OK;
    if (rc == HS_OK)
        rc = hs_src_sig_read(req, s->sig_header, s->sig_prefix, s->base64, &sig, errstr,
                             errstr_size);
    if (rc) return rc;
    if (ts && s->lead) parts[n++] = (hs_sig_part_t){s->lead, strlen(s->lead)};
    if (ts) parts[n++] = (hs_sig_part_t){ts, tslen};
    if (ts && s->sep) parts[n++] = (hs_sig_part_t){s->sep, strlen(s->sep)};
    parts[n++] = (hs_sig_part_t){req->body, req->body_len};
    if (!ts) return hs_src_match(cfg, key, HS_SIG_SHA256, parts, n, &sig, 1, errstr, errstr_size);
    return hs_src_match_window(cfg, key, HS_SIG_SHA256, parts, n, &sig, 1, t, now_s,
                               HS_SIG_WINDOW_SYMMETRIC, errstr, errstr_size);
}

hs_err_t hs_src_spec_check(const hs_src_spec_t *spec, const hs_source_cfg_t *cfg, char *errstr,
                           size_t errstr_size) {
    return hs_src_check_keys(cfg, spec->key, errstr, errstr_size);
}

hs_err_t hs_src_spec_verify(const hs_src_spec_t *spec, const hs_source_cfg_t *cfg,
                            const hs_source_req_t *req, int64_t now_s, char *errstr,
                            size_t errstr_size) {
    if (spec->stdwh_prefix)
        return hs_src_stdwh_verify(cfg, req, now_s, spec->stdwh_prefix, errstr, errstr_size);
    return hmac_verify(&spec->hmac, spec->key, cfg, req, now_s, errstr, errstr_size);
}

/* ---- event id, classify, map ---- */

/* Tries each body path of list; HS_ERR_NOT_FOUND when none is there. */
static hs_err_t json_first(const hs_source_body_t *body, const char *list, char *out,
                           size_t out_size) {
    char path[64];
    hs_err_t rc = HS_ERR_NOT_FOUND;
    while (rc != HS_OK && next_name(&list, path, sizeof path))
        rc = hs_src_json_text(body, path, out, out_size);
    return rc;
}

/* Tries each header of list; the first one that is there (or does not fit) decides. */
static hs_err_t header_first(const hs_source_req_t *req, const char *list, char *out,
                             size_t out_size) {
    char name[64];
    hs_err_t rc = HS_ERR_NOT_FOUND;
    while (rc == HS_ERR_NOT_FOUND && next_name(&list, name, sizeof name))
        rc = hs_src_id_from_header(req, name, out, out_size);
    return rc;
}

hs_err_t hs_src_spec_event_id(const hs_src_spec_t *spec, const hs_source_req_t *req,
                              const hs_source_body_t *body, char *id, size_t id_size) {
    hs_err_t rc = HS_ERR_NOT_FOUND;
    if (spec->id_json) rc = json_first(body, spec->id_json, id, id_size);
    if (rc == HS_ERR_NOT_FOUND && spec->id_header)
        rc = header_first(req, spec->id_header, id, id_size);
    if (rc == HS_ERR_NOT_FOUND && spec->id_form && !body->json && hs_src_is_form(req)) {
        int r = hs_sig_form_get(req->body, req->body_len, spec->id_form, id, id_size);
        rc = r == 1 && id[0] ? HS_OK : HS_ERR_NOT_FOUND;
    }
    return rc;
}

hs_err_t hs_src_spec_classify(const hs_src_spec_t *spec, const hs_source_req_t *req,
                              const hs_source_body_t *body, hs_source_class_t *out, char *errstr,
                              size_t errstr_size) {
    memset(out, 0, sizeof *out);
    if (spec->type_header) {
        if (header_first(req, spec->type_header, out->type, sizeof out->type)) out->type[0] = '\0';
        return HS_OK;
    }
    if (!(spec->flags & HS_SRC_JSON_OPTIONAL)) {
        hs_err_t rc = hs_src_need_json(body, errstr, errstr_size);
        if (rc) return rc;
    }
    if (json_first(body, spec->type_json, out->type, sizeof out->type)) out->type[0] = '\0';
    return HS_OK;
}

hs_err_t hs_src_spec_map(const hs_src_spec_t *spec, const hs_source_cfg_t *cfg,
                         const hs_source_req_t *req, const hs_source_body_t *body,
                         const hs_source_class_t *cls, hs_source_events_t *out, char *errstr,
                         size_t errstr_size) {
    if (spec->flags & HS_SRC_ANY_BODY) return HS_OK;
    if ((spec->flags & HS_SRC_FORM_OK) && hs_src_is_form(req)) return HS_OK;
    hs_err_t rc = hs_src_need_json(body, errstr, errstr_size);
    if (rc || !spec->rules) return rc;
    return hs_map_apply(spec->rules, cfg, req, body, cls, out, errstr, errstr_size);
}
