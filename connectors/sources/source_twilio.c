/* Twilio: X-Twilio-Signature is base64 HMAC-SHA1, keyed with the auth token as text, of the URL
 * Twilio called followed by every POST parameter name and value, sorted by name then value
 * (byte order, duplicates once), with no separators. JSON bodies are not signed directly: the
 * URL carries bodySHA256=<hex SHA-256 of the body>, which must match, and only the URL is signed.
 * Like Twilio's helper libraries, the URL is tried with and without its default port. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_source_impl.h"

#define SIG_HEADER "X-Twilio-Signature"
#define MAX_PARAMS 1024

typedef struct {
    const char *name, *value; /* decoded, inside one buffer */
    size_t name_len, value_len;
} param_t;

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static int cmp_param(const void *x, const void *y) {
    const param_t *a = x, *b = y;
    int c = cmp_bytes(a->name, a->name_len, b->name, b->name_len);
    return c ? c : cmp_bytes(a->value, a->value_len, b->value, b->value_len);
}

/* Decodes and sorts the form parameters; *buf (caller frees) holds their bytes. */
static hs_err_t read_params(const hs_source_req_t *req, param_t *ps, size_t *n, char **buf,
                            char *errstr, size_t errstr_size) {
    size_t pos = 0, k = 0;
    hs_sig_form_pair_t p;
    *n = 0;
    if (!(*buf = malloc(req->body_len + 1)))
        return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory");
    while (hs_sig_form_next(req->body, req->body_len, &pos, &p)) {
        if (*n == MAX_PARAMS)
            return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "more than %d form parameters",
                           MAX_PARAMS);
        long nl = hs_sig_form_decode(p.name, p.name_len, *buf + k);
        long vl = nl < 0 ? -1 : hs_sig_form_decode(p.value, p.value_len, *buf + k + nl);
        if (vl < 0)
            return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "malformed form body: bad %% escape");
        ps[*n] = (param_t){*buf + k, *buf + k + nl, (size_t)nl, (size_t)vl};
        k += (size_t)(nl + vl);
        (*n)++;
    }
    qsort(ps, *n, sizeof *ps, cmp_param);
    return HS_OK;
}

/* The URL as called and its twin with (or without) the scheme's default port. */
static int url_variants(const char *url, char *alt, size_t alt_size) {
    const char *host = strstr(url, "://");
    if (!host) return -1;
    host += 3;
    size_t hlen = strcspn(host, "/?#");
    const char *at = memchr(host, '@', hlen); /* user:password@ is not a port */
    if (at) {
        hlen -= (size_t)(at + 1 - host);
        host = at + 1;
    }
    const char *colon = memchr(host, ':', hlen), *bracket = memchr(host, ']', hlen);
    if (colon && bracket && colon < bracket)
        colon = memchr(bracket, ':', hlen - (size_t)(bracket - host));
    int https = strncmp(url, "https://", 8) == 0;
    int n;
    if (colon) /* drop the port */
        n = snprintf(alt, alt_size, "%.*s%s", (int)(colon - url), url, host + hlen);
    else
        n = snprintf(alt, alt_size, "%.*s:%s%s", (int)(host + hlen - url), url,
                     https ? "443" : "80", host + hlen);
    return n < 0 || (size_t)n >= alt_size ? -1 : 0;
}

/* JSON bodies: bodySHA256 from the query must be the hex SHA-256 of the body. */
static hs_err_t check_body_hash(const hs_source_req_t *req, const char *want, char *errstr,
                                size_t errstr_size) {
    unsigned char d[32], got[32];
    hs_sig_sha256(req->body ? req->body : "", req->body_len, d);
    if (hs_sig_hex_decode(want, strlen(want), got, sizeof got) != 32 ||
        !hs_sig_equal(d, 32, got, 32))
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "bodySHA256 does not match the body");
    return HS_OK;
}

static hs_err_t match_url(const hs_source_cfg_t *cfg, const char *url, const param_t *ps, size_t n,
                          const hs_src_sig_t *sig, char *errstr, size_t errstr_size) {
    hs_sig_part_t *parts = malloc((2 * n + 1) * sizeof *parts);
    if (!parts) return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory");
    size_t k = 0;
    parts[k++] = (hs_sig_part_t){url, strlen(url)};
    for (size_t i = 0; i < n; i++) {
        if (i && cmp_param(&ps[i - 1], &ps[i]) == 0) continue; /* a repeated pair counts once */
        parts[k++] = (hs_sig_part_t){ps[i].name, ps[i].name_len};
        parts[k++] = (hs_sig_part_t){ps[i].value, ps[i].value_len};
    }
    hs_err_t rc =
        hs_src_match(cfg, HS_SRC_KEY_TEXT, HS_SIG_SHA1, parts, k, sig, 1, errstr, errstr_size);
    free(parts);
    return rc;
}

static hs_err_t verify(const hs_source_cfg_t *cfg, const hs_source_req_t *req, int64_t now_s,
                       char *errstr, size_t errstr_size) {
    (void)now_s;
    hs_src_sig_t sig;
    hs_err_t rc = hs_src_sig_read(req, SIG_HEADER, NULL, 1, &sig, errstr, errstr_size);
    if (rc) return rc;
    char alt[4096], want[80];
    if (!req->url || url_variants(req->url, alt, sizeof alt))
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size,
                       "no usable public URL: Twilio signs the URL it called (configure it)");
    const char *q = strchr(req->url, '?');
    size_t qlen = q ? strcspn(q + 1, "#") : 0;
    int has_hash = q ? hs_sig_form_get(q + 1, qlen, "bodySHA256", want, sizeof want) : 0;
    param_t *ps = NULL;
    char *buf = NULL;
    size_t n = 0;
    if (has_hash < 0) {
        rc = hs_fail(HS_ERR_AUTH, errstr, errstr_size, "malformed bodySHA256 in the URL");
    } else if (has_hash == 1) {
        rc = check_body_hash(req, want, errstr, errstr_size);
    } else if (hs_src_is_form(req) || (!req->content_type && req->body_len)) {
        ps = malloc(MAX_PARAMS * sizeof *ps);
        rc = ps ? read_params(req, ps, &n, &buf, errstr, errstr_size)
                : hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory");
    }
    if (rc == HS_OK) {
        rc = match_url(cfg, req->url, ps, n, &sig, errstr, errstr_size);
        if (rc == HS_ERR_AUTH) rc = match_url(cfg, alt, ps, n, &sig, errstr, errstr_size);
    }
    free(ps);
    free(buf);
    return rc;
}

/* Messaging and voice callbacks have no typed mapping: they stay on the inbox. */
static const hs_src_spec_t spec = {
    .id_header = "I-Twilio-Idempotency-Token",
    .flags = HS_SRC_ANY_BODY,
};
HS_SRC_SPEC_FUNCTIONS(twilio, spec)

/* "message.<status>" for messaging callbacks, "call.<status>" for voice, else the JSON type. */
static hs_err_t classify(const hs_source_cfg_t *cfg, const hs_source_req_t *req,
                         const hs_source_body_t *body, hs_source_class_t *out, char *errstr,
                         size_t errstr_size) {
    (void)cfg, (void)errstr, (void)errstr_size;
    char status[64];
    memset(out, 0, sizeof *out);
    if (body->json) {
        if (hs_src_json_text(body, "type", out->type, sizeof out->type)) out->type[0] = '\0';
        return HS_OK;
    }
    const char *b = req->body ? req->body : "";
    if (hs_sig_form_get(b, req->body_len, "MessageSid", status, sizeof status) == 1 ||
        hs_sig_form_get(b, req->body_len, "SmsSid", status, sizeof status) == 1) {
        if (hs_sig_form_get(b, req->body_len, "MessageStatus", status, sizeof status) != 1 &&
            hs_sig_form_get(b, req->body_len, "SmsStatus", status, sizeof status) != 1)
            snprintf(status, sizeof status, "received");
        snprintf(out->type, sizeof out->type, "message.%s", status);
    } else if (hs_sig_form_get(b, req->body_len, "CallSid", status, sizeof status) == 1) {
        if (hs_sig_form_get(b, req->body_len, "CallStatus", status, sizeof status) != 1)
            snprintf(status, sizeof status, "unknown");
        snprintf(out->type, sizeof out->type, "call.%s", status);
    }
    return HS_OK;
}

const hs_source_t hs_source_twilio = {
    .type = "twilio",
    .summary = "Twilio: X-Twilio-Signature, base64 HMAC-SHA1 of URL + sorted form parameters",
    .verify = verify,
    .event_id = twilio_event_id,
    .classify = classify,
    .map = twilio_map,
};
