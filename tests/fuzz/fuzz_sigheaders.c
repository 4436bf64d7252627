/* libFuzzer target for every signature-header parser. The input is read as lines: the first
 * four (after any "Name: " prefix) are the values of the signature, timestamp, id and
 * other headers, the rest is the body. Each provider verifies and processes it (Twilio reads the
 * fourth line as its URL), and the shared parsers (split, timestamps, base64/hex, form) run on the
 * pieces directly. Verify may only answer ok or auth; nothing may crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hs_sigutil.h"
#include "hs_source.h"

typedef struct {
    char *field[4];
    const char *content_type;
} fuzz_hdrs_t;

/* Answers each header of every provider from the input: timestamp names first (Zendesk's
 * timestamp header also contains "Signature"). */
static const char *fuzz_header(void *ctx, const char *name) {
    const fuzz_hdrs_t *h = ctx;
    if (!strcasecmp(name, "Content-Type")) return h->content_type;
    if (strcasestr(name, "timestamp") || !strcasecmp(name, "X-Ts")) return h->field[1];
    if (strcasestr(name, "signature") || strcasestr(name, "hmac") || !strcasecmp(name, "X-Sig"))
        return h->field[0];
    if (strcasestr(name, "id") || strcasestr(name, "delivery") || strcasestr(name, "token"))
        return h->field[2];
    return h->field[3];
}

static void parsers(const char *s, const char *body, size_t body_len) {
    hs_sig_item_t items[HS_SIG_MAX_ITEMS];
    unsigned char out[HS_SIG_MAX_DIGEST];
    hs_sig_form_pair_t p;
    char err[128], value[256];
    size_t n, pos = 0;
    int64_t t;
    hs_sig_split(s, ',', '=', items, HS_SIG_MAX_ITEMS, &n, err, sizeof err);
    hs_sig_split(s, ' ', ',', items, HS_SIG_MAX_ITEMS, &n, err, sizeof err);
    hs_sig_parse_iso8601_ms(s, &t);
    hs_sig_parse_http_date(s, &t);
    hs_sig_parse_uint(s, strlen(s), &t);
    hs_sig_b64_decode(s, strlen(s), out, sizeof out);
    hs_sig_hex_decode(s, strlen(s), out, sizeof out);
    while (hs_sig_form_next(body, body_len, &pos, &p) == 1)
        if (p.value_len < sizeof value) hs_sig_form_decode(p.value, p.value_len, value);
    hs_sig_form_get(body, body_len, "bodySHA256", value, sizeof value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    fuzz_hdrs_t h = {.content_type = size % 3 == 0   ? "application/x-www-form-urlencoded"
                                     : size % 3 == 1 ? "application/json"
                                                     : NULL};
    char *p = text;
    for (int i = 0; i < 4; i++) {
        char *nl = memchr(p, '\n', (size_t)(text + size - p));
        char *sep = strstr(p, ": ");
        h.field[i] = sep && (!nl || sep < nl) ? sep + 2 : p;
        if (nl) {
            *nl = '\0';
            p = nl + 1;
        } else {
            p = text + size;
        }
    }
    const char *body = p;
    size_t body_len = (size_t)(text + size - p);
    for (int i = 0; i < 4; i++)
        parsers(h.field[i], body, body_len);

    const char *secrets[] = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "czNjcmV0"};
    static const char *const formats[] = {"unix", "unix_ms", "iso8601", "http_date"};
    hs_source_cfg_t cfg = {.secrets = secrets, .nsecrets = 2, .tolerance_s = size % 2 ? 300 : -1};
    cfg.generic = (hs_source_generic_t){.header = "X-Sig",
                                        .algorithm = size % 2 ? "sha1" : "sha512",
                                        .encoding = size % 4 < 2 ? "hex" : "base64",
                                        .prefix = size % 5 ? "sha256=" : NULL,
                                        .tmpl = "{id}.{timestamp}.{body}{method}{url}",
                                        .timestamp_header = "X-Ts",
                                        .timestamp_format = formats[size % 4],
                                        .id_header = "X-Id"};
    hs_source_req_t req = {.url = h.field[3],
                           .header = fuzz_header,
                           .header_ctx = &h,
                           .body = body,
                           .body_len = body_len,
                           .content_type = h.content_type};
    char err[512];
    for (size_t i = 0; hs_source_at(i); i++) {
        const hs_source_t *src = hs_source_at(i);
        cfg.type = src->type;
        if (hs_source_check(src, &cfg, err, sizeof err) != HS_OK) abort();
        hs_err_t rc = src->verify(&cfg, &req, 1700000000, err, sizeof err);
        if (rc != HS_OK && rc != HS_ERR_AUTH) abort();
        hs_source_result_t r;
        if (hs_source_process(src, &cfg, &req, &r, err, sizeof err) == HS_OK)
            hs_source_result_clear(&r);
    }
    free(text);
    return 0;
}
