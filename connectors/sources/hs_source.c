#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hs_source_impl.h"

hs_err_t hs_source_check(const hs_source_t *src, const hs_source_cfg_t *cfg, char *errstr,
                         size_t errstr_size) {
    if (!cfg->secrets || cfg->nsecrets == 0)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "%s: no secret configured", src->type);
    if (cfg->nsecrets > HS_SOURCE_MAX_SECRETS)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "%s: %zu secrets (at most %d)",
                       src->type, cfg->nsecrets, HS_SOURCE_MAX_SECRETS);
    for (size_t i = 0; i < cfg->nsecrets; i++)
        if (!cfg->secrets[i] || !cfg->secrets[i][0])
            return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "%s: secret %zu is empty",
                           src->type, i + 1);
    return src->check ? src->check(cfg, errstr, errstr_size) : HS_OK;
}

void hs_source_body_parse(const hs_source_req_t *req, hs_source_body_t *body) {
    json_error_t jerr;
    body->json_error[0] = '\0';
    body->json = json_loadb(req->body ? req->body : "", req->body_len, 0, &jerr);
    if (!body->json)
        snprintf(body->json_error, sizeof body->json_error, "line %d column %d: %s", jerr.line,
                 jerr.column, jerr.text);
}

void hs_source_body_clear(hs_source_body_t *body) {
    json_decref(body->json);
    body->json = NULL;
}

void hs_source_events_clear(hs_source_events_t *ev) {
    for (size_t i = 0; i < ev->n; i++) {
        free(ev->ev[i].key);
        json_decref(ev->ev[i].data);
    }
    memset(ev, 0, sizeof *ev);
}

const char *hs_source_outcome_str(hs_source_outcome_t o) {
    static const char *const names[] = {
        [HS_SOURCE_MAPPED] = "mapped",
        [HS_SOURCE_UNMAPPED] = "unmapped",
        [HS_SOURCE_UNPARSEABLE] = "unparseable",
        [HS_SOURCE_HANDSHAKE] = "handshake",
    };
    return (unsigned)o < sizeof names / sizeof names[0] ? names[o] : "unknown";
}

/* Providers that send no event id still need a stable dedup key: the body's digest is one
 * (a provider retry resends the same bytes). */
static void body_digest_id(const hs_source_req_t *req, char *id, size_t id_size) {
    unsigned char d[32];
    char hex[65];
    hs_sig_sha256(req->body ? req->body : "", req->body_len, d);
    hs_sig_hex_encode(d, sizeof d, hex, sizeof hex);
    snprintf(id, id_size, "sha256:%s", hex);
}

hs_err_t hs_source_process(const hs_source_t *src, const hs_source_cfg_t *cfg,
                           const hs_source_req_t *req, hs_source_result_t *out, char *errstr,
                           size_t errstr_size) {
    hs_source_body_t body;
    char err[256];
    memset(out, 0, sizeof *out);
    hs_source_body_parse(req, &body);
    if (src->event_id(cfg, req, &body, out->event_id, sizeof out->event_id, err, sizeof err))
        body_digest_id(req, out->event_id, sizeof out->event_id);
    hs_err_t rc = src->classify(cfg, req, &body, &out->cls, err, sizeof err);
    if (rc == HS_OK && out->cls.challenge[0]) {
        out->outcome = HS_SOURCE_HANDSHAKE;
    } else if (rc == HS_OK) {
        rc = src->map(cfg, req, &body, &out->cls, &out->events, err, sizeof err);
        if (rc == HS_OK) out->outcome = out->events.n ? HS_SOURCE_MAPPED : HS_SOURCE_UNMAPPED;
    }
    hs_source_body_clear(&body);
    if (rc == HS_ERR_INVALID) {
        out->outcome = HS_SOURCE_UNPARSEABLE;
        snprintf(out->detail, sizeof out->detail, "%s", err);
        return HS_OK;
    }
    if (rc != HS_OK) return hs_fail(rc, errstr, errstr_size, "%s", err);
    return HS_OK;
}

void hs_source_result_clear(hs_source_result_t *r) {
    hs_source_events_clear(&r->events);
}

const char *hs_source_header_array(void *ctx, const char *name) {
    for (const hs_source_header_t *h = ctx; h && h->name; h++)
        if (strcasecmp(h->name, name) == 0) return h->value;
    return NULL;
}

/* ---- verify helpers (hs_source_impl.h) ---- */

const char *hs_src_header(const hs_source_req_t *req, const char *name) {
    return req->header ? req->header(req->header_ctx, name) : NULL;
}

int hs_src_tolerance(const hs_source_cfg_t *cfg) {
    return cfg->tolerance_s == 0 ? HS_SOURCE_DEFAULT_TOLERANCE : cfg->tolerance_s;
}

long hs_src_whsec_key(const char *secret, unsigned char *key, size_t key_size) {
    if (strncmp(secret, "whsec_", 6) == 0) secret += 6;
    long n = hs_sig_b64_decode(secret, strlen(secret), key, key_size);
    return n > 0 ? n : -1;
}

hs_err_t hs_src_check_keys(const hs_source_cfg_t *cfg, hs_src_key_t mode, char *errstr,
                           size_t errstr_size) {
    unsigned char key[256];
    for (size_t i = 0; mode == HS_SRC_KEY_WHSEC && i < cfg->nsecrets; i++)
        if (hs_src_whsec_key(cfg->secrets[i], key, sizeof key) < 0)
            return hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                           "secret %zu is not a whsec_ secret: expected base64 (with padding) "
                           "of at most 256 bytes after the whsec_ prefix",
                           i + 1);
    return HS_OK;
}

hs_err_t hs_src_match(const hs_source_cfg_t *cfg, hs_src_key_t mode, hs_sig_alg_t alg,
                      const hs_sig_part_t *parts, size_t nparts, const hs_src_sig_t *sigs,
                      size_t nsigs, char *errstr, size_t errstr_size) {
    int matched = 0;
    for (size_t i = 0; i < cfg->nsecrets && i < HS_SOURCE_MAX_SECRETS; i++) {
        unsigned char key[256], mac[HS_SIG_MAX_DIGEST];
        const void *k = cfg->secrets[i];
        long klen = (long)strlen(cfg->secrets[i]);
        if (mode == HS_SRC_KEY_WHSEC) {
            klen = hs_src_whsec_key(cfg->secrets[i], key, sizeof key);
            k = key;
            if (klen < 0) continue; /* refused by check; never a match */
        }
        size_t n = hs_sig_hmac(alg, k, (size_t)klen, parts, nparts, mac);
        if (n == 0) return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "HMAC failed in OpenSSL");
        for (size_t j = 0; j < nsigs; j++)
            matched |= hs_sig_equal(mac, n, sigs[j].b, sigs[j].n);
    }
    return matched ? HS_OK : hs_fail(HS_ERR_AUTH, errstr, errstr_size, "signature mismatch");
}

hs_err_t hs_src_id_from_header(const hs_source_req_t *req, const char *name, char *id,
                               size_t id_size) {
    const char *v = hs_src_header(req, name);
    if (!v || !v[0]) return HS_ERR_NOT_FOUND;
    if (strlen(v) >= id_size) return HS_ERR_TOO_LARGE;
    memcpy(id, v, strlen(v) + 1);
    return HS_OK;
}

hs_err_t hs_src_json_text(const hs_source_body_t *body, const char *path, char *out,
                          size_t out_size) {
    const json_t *v = body->json ? hs_map_get(body->json, path) : NULL;
    int n;
    if (json_is_string(v))
        n = snprintf(out, out_size, "%s", json_string_value(v));
    else if (json_is_integer(v))
        n = snprintf(out, out_size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        return HS_ERR_NOT_FOUND;
    if (n < 0 || (size_t)n >= out_size) return HS_ERR_TOO_LARGE;
    return n ? HS_OK : HS_ERR_NOT_FOUND;
}

hs_err_t hs_src_need_json(const hs_source_body_t *body, char *errstr, size_t errstr_size) {
    if (body->json) return HS_OK;
    return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "unparseable JSON body: %s",
                   body->json_error);
}

int hs_src_is_form(const hs_source_req_t *req) {
    const char *ct = req->content_type;
    static const char form[] = "application/x-www-form-urlencoded";
    return ct && strncasecmp(ct, form, sizeof form - 1) == 0 &&
           (ct[sizeof form - 1] == '\0' || ct[sizeof form - 1] == ';' ||
            ct[sizeof form - 1] == ' ');
}
