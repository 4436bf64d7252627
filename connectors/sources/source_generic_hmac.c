/* generic-hmac: any provider that signs with an HMAC, described in configuration: the header,
 * the algorithm (sha1, sha256, sha512), hex or base64, a prefix to strip ("sha256="), the signed
 * content as a template of {body} {timestamp} {id} {method} {url} and literal text, and where
 * the timestamp (unix, unix_ms, iso8601 or http_date; symmetric tolerance) and event id come
 * from. docs/providers.md has recipes (Klaviyo, HubSpot v3). */
#include <stdio.h>
#include <string.h>

#include "hs_source_impl.h"

#define MAX_PARTS 16

static const char *const formats[] = {"unix", "unix_ms", "iso8601", "http_date"};

static const char *tmpl_of(const hs_source_generic_t *g) {
    return g->tmpl ? g->tmpl : "{body}";
}

static int format_index(const char *f) {
    for (int i = 0; i < 4; i++)
        if (strcmp(formats[i], f ? f : "unix") == 0) return i;
    return -1;
}

/* Splits the template into literal text and placeholders; values are looked up by the caller.
 * Returns the number of parts, or -1 naming the problem in errstr. */
typedef struct {
    const char *lit; /* literal text, or NULL for a placeholder */
    size_t len;
    const char *name; /* placeholder name: "body", "timestamp", "id", "method", "url" */
} piece_t;

static int parse_tmpl(const char *t, piece_t *pieces, char *errstr, size_t errstr_size) {
    static const char *const names[] = {"body", "timestamp", "id", "method", "url"};
    int n = 0;
    while (*t) {
        if (n == MAX_PARTS) {
            snprintf(errstr, errstr_size, "template has more than %d parts", MAX_PARTS);
            return -1;
        }
        if (*t != '{') {
            size_t len = strcspn(t, "{");
            pieces[n++] = (piece_t){t, len, NULL};
            t += len;
            continue;
        }
        const char *close = strchr(t, '}');
        size_t len = close ? (size_t)(close - t - 1) : 0;
        const char *name = NULL;
        for (size_t i = 0; close && i < sizeof names / sizeof names[0]; i++)
            if (strlen(names[i]) == len && strncmp(t + 1, names[i], len) == 0) name = names[i];
        if (!name) {
            snprintf(errstr, errstr_size,
                     "template: unknown placeholder at '%.20s' (use {body} {timestamp} {id} "
                     "{method} {url})",
                     t);
            return -1;
        }
        pieces[n++] = (piece_t){NULL, 0, name};
        t = close + 1;
    }
    return n;
}

static hs_err_t check(const hs_source_cfg_t *cfg, char *errstr, size_t errstr_size) {
    const hs_source_generic_t *g = &cfg->generic;
    hs_sig_alg_t alg;
    piece_t pieces[MAX_PARTS];
    char err[200];
    if (!g->header || !g->header[0])
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "generic-hmac: no signature header");
    if (g->algorithm && hs_sig_alg_parse(g->algorithm, &alg))
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                       "generic-hmac: algorithm '%s' is not sha1, sha256 or sha512", g->algorithm);
    if (g->encoding && strcmp(g->encoding, "hex") && strcmp(g->encoding, "base64"))
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                       "generic-hmac: encoding '%s' is not hex or base64", g->encoding);
    if (format_index(g->timestamp_format) < 0)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                       "generic-hmac: timestamp format '%s' is not unix, unix_ms, iso8601 or "
                       "http_date",
                       g->timestamp_format);
    int n = parse_tmpl(tmpl_of(g), pieces, err, sizeof err);
    if (n < 0) return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "generic-hmac: %s", err);
    for (int i = 0; i < n; i++) {
        if (pieces[i].name && !strcmp(pieces[i].name, "timestamp") && !g->timestamp_header)
            return hs_fail(
                HS_ERR_INVALID, errstr, errstr_size,
                "generic-hmac: template uses {timestamp} but no timestamp header is set");
        if (pieces[i].name && !strcmp(pieces[i].name, "id") && !g->id_header)
            return hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                           "generic-hmac: template uses {id} but no id header is set");
    }
    return HS_OK;
}

/* Reads and checks the timestamp header; *ts gets its text (signed as sent). */
static hs_err_t read_time(const hs_source_cfg_t *cfg, const hs_source_req_t *req, int64_t now_s,
                          const char **ts, char *errstr, size_t errstr_size) {
    const hs_source_generic_t *g = &cfg->generic;
    *ts = NULL;
    if (!g->timestamp_header) return HS_OK;
    if (!(*ts = hs_src_header(req, g->timestamp_header)))
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "no timestamp header %s",
                       g->timestamp_header);
    int64_t t = -1;
    int f = format_index(g->timestamp_format);
    size_t len = strnlen(*ts, 64);
    int bad = len == 64;
    if (!bad && f <= 1) bad = hs_sig_parse_uint(*ts, len, &t);
    if (!bad && f == 1) t /= 1000;
    if (!bad && f == 2) bad = hs_sig_parse_iso8601(*ts, &t);
    if (!bad && f == 3) bad = hs_sig_parse_http_date(*ts, &t);
    if (bad)
        return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "malformed timestamp header %s: not %s",
                       g->timestamp_header, formats[f]);
    return hs_sig_check_time(t, now_s, hs_src_tolerance(cfg), HS_SIG_WINDOW_SYMMETRIC, errstr,
                             errstr_size);
}

static hs_err_t verify(const hs_source_cfg_t *cfg, const hs_source_req_t *req, int64_t now_s,
                       char *errstr, size_t errstr_size) {
    const hs_source_generic_t *g = &cfg->generic;
    hs_sig_alg_t alg = HS_SIG_SHA256;
    piece_t pieces[MAX_PARTS];
    hs_sig_part_t parts[MAX_PARTS];
    hs_src_sig_t sig;
    const char *ts;
    char err[200];
    int n = parse_tmpl(tmpl_of(g), pieces, err, sizeof err);
    if (!g->header || n < 0 || (g->algorithm && hs_sig_alg_parse(g->algorithm, &alg)))
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "generic-hmac: bad configuration");
    int b64 = g->encoding && !strcmp(g->encoding, "base64");
    hs_err_t rc = hs_src_sig_read(req, g->header, g->prefix, b64, &sig, errstr, errstr_size);
    if (rc) return rc;
    const char *id = g->id_header ? hs_src_header(req, g->id_header) : NULL;
    for (int i = 0; i < n; i++) {
        const char *name = pieces[i].name, *v = NULL;
        if (!name) {
            parts[i] = (hs_sig_part_t){pieces[i].lit, pieces[i].len};
            continue;
        }
        if (!strcmp(name, "body")) {
            parts[i] = (hs_sig_part_t){req->body, req->body_len};
            continue;
        }
        if (!strcmp(name, "timestamp"))
            v = hs_src_header(req, g->timestamp_header ? g->timestamp_header : "");
        else if (!strcmp(name, "id"))
            v = id;
        else if (!strcmp(name, "method"))
            v = req->method ? req->method : "POST";
        else
            v = req->url;
        if (!v)
            return hs_fail(HS_ERR_AUTH, errstr, errstr_size, "no value for {%s} (%s)", name,
                           !strcmp(name, "url") ? "the public URL is not configured"
                                                : "its header is missing");
        parts[i] = (hs_sig_part_t){v, strlen(v)};
    }
    rc = hs_src_match(cfg, HS_SRC_KEY_TEXT, alg, parts, (size_t)n, &sig, 1, errstr, errstr_size);
    if (rc) return rc;
    return read_time(cfg, req, now_s, &ts, errstr, errstr_size);
}

static hs_err_t event_id(const hs_source_cfg_t *cfg, const hs_source_req_t *req,
                         const hs_source_body_t *body, char *id, size_t id_size, char *errstr,
                         size_t errstr_size) {
    (void)body, (void)errstr, (void)errstr_size;
    if (!cfg->generic.id_header) return HS_ERR_NOT_FOUND;
    return hs_src_id_from_header(req, cfg->generic.id_header, id, id_size);
}

/* The body's shape is not known: the type is its top-level "type" or "event" when it is a JSON
 * object that has one, and nothing is mapped (it stays on the inbox). */
static const hs_src_spec_t spec = {
    .type_json = "type|event",
    .flags = HS_SRC_JSON_OPTIONAL | HS_SRC_ANY_BODY,
};
HS_SRC_SPEC_FUNCTIONS(generic, spec)

const hs_source_t hs_source_generic_hmac = {
    .type = "generic-hmac",
    .summary = "any HMAC scheme: header, algorithm, hex/base64, prefix, signed-content template",
    .check = check,
    .verify = verify,
    .event_id = event_id,
    .classify = generic_classify,
    .map = generic_map,
};
