/* The http step and the HTTP transport the slack step shares: one blocking attempt on the
 * thread's keep-alive handle. The answer decides retryability the way the big webhook senders
 * do: the network, 408, 429 and 5xx are worth another attempt (Retry-After honoured), any
 * other unexpected status is not. The response is saved for later steps, so it is bounded. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hs_action_impl.h"
#include "hs_sigutil.h"

#ifndef HS_VERSION
#define HS_VERSION "dev"
#endif

#define MAX_HEADERS 100       /* response headers saved; later ones are dropped */
#define MAX_HEADER_VALUE 8192 /* longer response header values are dropped */
#define EXCERPT 200           /* bytes of an error answer quoted in res->error */

/* What one transfer collects. @locality: the calling thread, for one attempt. */
typedef struct {
    action_buf_t body; /* max HS_ACTION_MAX_RESPONSE: over means too large */
    json_t *headers;   /* lower-case name → value (repeats joined with ", ") */
    char reason[64];   /* reason phrase of the status line, "" for HTTP/2 */
    int64_t retry_after_ms;
} xfer_t;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *opaque) {
    xfer_t *x = opaque;
    return action_buf_add(&x->body, ptr, size * nmemb) ? 0 : size * nmemb;
}

/* A new status line (after a 1xx answer): only the final answer's headers count. */
static void status_line(xfer_t *x, const char *p, size_t len) {
    json_object_clear(x->headers);
    x->retry_after_ms = 0;
    x->reason[0] = 0;
    const char *sp = memchr(p, ' ', len);
    const char *rs = sp ? memchr(sp + 1, ' ', len - (size_t)(sp + 1 - p)) : NULL;
    if (!rs) return;
    size_t n = len - (size_t)(rs + 1 - p);
    while (n && (rs[n] == '\r' || rs[n] == '\n' || rs[n] == ' '))
        n--;
    if (n >= sizeof x->reason) n = sizeof x->reason - 1;
    memcpy(x->reason, rs + 1, n);
    x->reason[n] = 0;
}

static void header_add(xfer_t *x, const char *name, const char *v, size_t vlen) {
    json_t *old = json_object_get(x->headers, name);
    if (!old && json_object_size(x->headers) >= MAX_HEADERS) return;
    if (!strcmp(name, "retry-after")) {
        char tmp[64];
        int64_t ms;
        snprintf(tmp, sizeof tmp, "%.*s", (int)(vlen < 63 ? vlen : 63), v);
        if (!hs_sig_retry_after_ms(tmp, (int64_t)time(NULL), &ms)) x->retry_after_ms = ms;
    }
    json_t *value = old ? json_sprintf("%s, %.*s", json_string_value(old), (int)vlen, v)
                        : json_stringn(v, vlen);
    if (value) json_object_set_new(x->headers, name, value); /* NULL: not UTF-8, dropped */
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *opaque) {
    xfer_t *x = opaque;
    size_t len = size * nmemb;
    if (len >= 5 && !strncmp(ptr, "HTTP/", 5)) {
        status_line(x, ptr, len);
        return len;
    }
    const char *colon = memchr(ptr, ':', len);
    char name[128];
    size_t nlen = colon ? (size_t)(colon - ptr) : 0;
    if (!nlen || nlen >= sizeof name) return len;
    for (size_t i = 0; i < nlen; i++)
        name[i] = (char)tolower((unsigned char)ptr[i]);
    name[nlen] = 0;
    const char *v = colon + 1, *end = ptr + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if ((size_t)(end - v) <= MAX_HEADER_VALUE) header_add(x, name, v, (size_t)(end - v));
    return len;
}

/* Length of the valid UTF-8 sequence at s (n bytes left, n > 0), 0 when invalid or NUL. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    if (s[0] < 0x80) return s[0] ? 1 : 0;
    size_t len = (s[0] & 0xe0) == 0xc0   ? 2
                 : (s[0] & 0xf0) == 0xe0 ? 3
                 : (s[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (!len || len > n) return 0;
    unsigned long cp = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    static const unsigned long min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

/* The body as a JSON value: parsed when it is JSON, else a string in which NUL bytes and
 * invalid UTF-8 became U+FFFD (Postgres stores neither). New reference, NULL when out of
 * memory. */
static json_t *response_value(const char *buf, size_t len) {
    if (!len) return json_string("");
    json_t *v = json_loadb(buf, len, JSON_DECODE_ANY, NULL);
    if (v || (!memchr(buf, 0, len) && (v = json_stringn(buf, len)))) return v;
    char *out = malloc(len * 3 + 1);
    size_t k = 0;
    for (size_t i = 0; out && i < len;) {
        size_t n = utf8_seq((const unsigned char *)buf + i, len - i);
        memcpy(out + k, n ? buf + i : "\xef\xbf\xbd", n ? n : 3);
        k += n ? n : 3;
        i += n ? n : 1;
    }
    v = out ? json_stringn(out, k) : NULL;
    free(out);
    return v;
}

/* Writes the start of an answer for an error text: valid UTF-8 only (others '?'), controls as
 * spaces, at most EXCERPT bytes. */
static void excerpt(const char *buf, size_t len, char *out, size_t n) {
    size_t k = 0, max = n - 1 < EXCERPT ? n - 1 : EXCERPT;
    for (size_t i = 0; i < len;) {
        size_t s = utf8_seq((const unsigned char *)buf + i, len - i);
        if (k + (s ? s : 1) > max) break;
        if (!s) {
            out[k++] = '?';
            s = 1;
        } else if (s == 1 && (unsigned char)buf[i] < 0x20) {
            out[k++] = ' ';
        } else {
            memcpy(out + k, buf + i, s);
            k += s;
        }
        i += s;
    }
    out[k] = 0;
}

/* ---- the answer ---- */

static int accepted(const json_t *expect, long status) {
    if (!expect) return status >= 200 && status < 300;
    size_t i;
    json_t *v;
    json_array_foreach(expect, i, v) {
        if (json_integer_value(v) == status) return 1;
    }
    return 0;
}

/* Errors of statuses that were not accepted; others: 5xx unavailable, the rest invalid. */
/* clang-format off */
static const struct {
    long status;
    hs_err_t err;
} status_errors[] = {
    {401, HS_ERR_AUTH},
    {403, HS_ERR_FORBIDDEN},
    {404, HS_ERR_NOT_FOUND},
    {408, HS_ERR_TIMEOUT},
    {409, HS_ERR_CONFLICT},
    {413, HS_ERR_TOO_LARGE},
    {429, HS_ERR_UNAVAILABLE},
};
/* clang-format on */

static hs_err_t status_fail(const action_http_req_t *req, const xfer_t *x, long status,
                            const char *what, hs_action_result_t *res) {
    int retryable = status == 408 || status == 429 || status >= 500;
    hs_err_t err = status >= 500 ? HS_ERR_UNAVAILABLE : HS_ERR_INVALID;
    for (size_t i = 0; i < sizeof status_errors / sizeof status_errors[0]; i++)
        if (status_errors[i].status == status) err = status_errors[i].err;
    char detail[EXCERPT + 64];
    if (status < 400) {
        char *list = req->expect ? json_dumps(req->expect, JSON_COMPACT) : NULL;
        snprintf(detail, sizeof detail, "status not in expect %s%s", list ? list : "(any 2xx)",
                 status >= 300 ? " (redirects are not followed)" : "");
        free(list);
    } else {
        excerpt(x->body.p, x->body.len, detail, sizeof detail);
    }
    res->status = (int)status;
    res->retry_after_ms = retryable ? x->retry_after_ms : 0;
    return action_fail(res, err, retryable, "%s: %ld%s%s%s%s", what, status, *x->reason ? " " : "",
                       x->reason, *detail ? ": " : "", detail);
}

static hs_err_t judge(const action_http_req_t *req, const xfer_t *x, long status, const char *what,
                      hs_action_result_t *res) {
    if (!accepted(req->expect, status)) return status_fail(req, x, status, what, res);
    res->status = (int)status;
    if (x->body.over)
        return action_fail(res, HS_ERR_TOO_LARGE, 0,
                           "%s: %ld: response larger than %u bytes (the request was made)", what,
                           status, HS_ACTION_MAX_RESPONSE);
    json_t *out = json_object();
    if (!out || json_object_set_new(out, "status", json_integer(status)) ||
        json_object_set(out, "headers", x->headers) ||
        json_object_set_new(out, "response", response_value(x->body.p, x->body.len))) {
        json_decref(out);
        return action_fail(res, HS_ERR_INTERNAL, 1, "%s: out of memory", what);
    }
    res->output = out;
    return HS_OK;
}

/* ---- the request ---- */

/* Methods with a body even when none is given (Content-Length: 0). */
/* clang-format off */
static const struct {
    const char *name;
    int posts;
} methods[] = {
    {"GET", 0},
    {"HEAD", 0},
    {"POST", 1},
    {"PUT", 1},
    {"PATCH", 1},
    {"DELETE", 0},
    {"OPTIONS", 0},
};
/* clang-format on */

static int method_posts(const char *m) {
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (!strcmp(methods[i].name, m)) return methods[i].posts;
    return 0;
}

/* The value of header name in headers (any case), NULL when absent. Borrowed. */
static const char *header_get(const json_t *headers, const char *name) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)headers, k, v) {
        if (!strcasecmp(k, name)) return json_string_value(v);
    }
    return NULL;
}

static int token(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s)) return 0;
    return 1;
}

static hs_err_t req_headers(const action_http_req_t *req, const hs_action_ctx_t *ctx,
                            struct curl_slist **l, const char *what, hs_action_result_t *res) {
    const char *k;
    json_t *v;
    int ok = 1;
    json_object_foreach((json_t *)req->headers, k, v) {
        if (!token(k) || action_has_ctl(v))
            return action_fail(res, HS_ERR_INVALID, 0,
                               "%s: header '%.64s': invalid name, or control characters in the "
                               "value",
                               what, k);
        ok = ok && !action_slist_add(l, k, json_string_value(v));
    }
    const struct {
        const char *name, *value;
    } ours[] = {
        {"Idempotency-Key", ctx->idempotency_key},
        {"User-Agent", "hookstream/" HS_VERSION},
        {"traceparent", ctx->traceparent},
        {"Content-Type", req->content_type},
    };
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
        if (ours[i].value && !header_get(req->headers, ours[i].name))
            ok = ok && !action_slist_add(l, ours[i].name, ours[i].value);
    int posts = req->body || method_posts(req->method);
    /* "Expect:" stops curl from waiting for 100-continue; "Content-Type:" drops the form type
     * curl would put on a body-less POST */
    if (ok && !(*l = curl_slist_append(*l, "Expect:"))) ok = 0;
    if (ok && posts && !req->content_type && !header_get(req->headers, "content-type") &&
        !(*l = curl_slist_append(*l, "Content-Type:")))
        ok = 0;
    if (!ok)
        return action_fail(res, HS_ERR_INVALID, 0,
                           "%s: out of memory or a control character in a header", what);
    return HS_OK;
}

static void transfer_setup(CURL *e, const action_http_req_t *req, const hs_action_ctx_t *ctx,
                           struct curl_slist *hdrs, xfer_t *x, char *cerr) {
    long timeout = ctx->timeout_ms > 0 ? (long)ctx->timeout_ms : HS_ACTION_DEFAULT_TIMEOUT_MS;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    /* an http_proxy variable would route around the connect-time address check */
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    if (!strcmp(req->method, "HEAD"))
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (strcmp(req->method, "GET") || req->body)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    if (req->body || method_posts(req->method)) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
    }
}

hs_err_t action_http_send(const action_http_req_t *req, const hs_action_ctx_t *ctx,
                          hs_action_result_t *res) {
    char url[256], what[300], cerr[CURL_ERROR_SIZE] = "";
    action_url_redact(req->url, !req->hide_path, url, sizeof url);
    snprintf(what, sizeof what, "%s %s%s", req->method, url, req->hide_path ? "/..." : "");
    struct curl_slist *hdrs = NULL;
    hs_err_t err = req_headers(req, ctx, &hdrs, what, res);
    CURL *e = err ? NULL : action_curl();
    if (!err && !e) err = action_fail(res, HS_ERR_INTERNAL, 1, "%s: out of memory", what);
    if (err) {
        curl_slist_free_all(hdrs);
        return err;
    }
    xfer_t x = {.body.max = HS_ACTION_MAX_RESPONSE, .headers = json_object()};
    action_guard_t g;
    transfer_setup(e, req, ctx, hdrs, &x, cerr);
    action_guard_set(e, &g, ctx->ssrf, req->url);
    CURLcode rc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    action_curl_release(e);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && x.body.over))
        err = action_curl_fail(res, rc, &g, what, cerr);
    else
        err = judge(req, &x, status, what, res);
    free(x.body.p);
    json_decref(x.headers);
    return err;
}

/* ---- the http step ---- */

static const action_param_t spec[] = {
    {"method", ACTION_P_STRING, ACTION_OPTIONAL},      {"url", ACTION_P_STRING, ACTION_REQUIRED},
    {"headers", ACTION_P_STRING_MAP, ACTION_OPTIONAL}, {"body", ACTION_P_ANY, ACTION_OPTIONAL},
    {"expect", ACTION_P_STATUS_LIST, ACTION_OPTIONAL},
};

#define NSPEC (sizeof spec / sizeof spec[0])

static hs_err_t http_validate(const json_t *params, char *errstr, size_t n) {
    return action_params_check(params, spec, NSPEC, 0, errstr, n);
}

static hs_err_t http_run(const json_t *params, const hs_action_ctx_t *ctx,
                         hs_action_result_t *res) {
    hs_err_t rc = action_params_ready(params, spec, NSPEC, "http", res);
    if (rc) return rc;
    const char *m = action_param_str(params, "method"), *method = NULL;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (!strcasecmp(methods[i].name, m ? m : "GET")) method = methods[i].name;
    if (!method) return action_fail(res, HS_ERR_INVALID, 0, "http: unknown method '%.32s'", m);
    const json_t *body = json_object_get(params, "body");
    const json_t *headers = json_object_get(params, "headers");
    const char *ctype = header_get(headers, "content-type");
    action_http_req_t req = {.method = method,
                             .url = action_param_str(params, "url"),
                             .headers = headers,
                             .expect = json_object_get(params, "expect")};
    char *text = NULL;
    if (json_is_string(body) && ctype && !strcasestr(ctype, "json")) {
        req.body = json_string_value(body); /* sent as is under the caller's type */
        req.len = json_string_length(body);
    } else if (body) {
        if (!(text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY)))
            return action_fail(res, HS_ERR_INTERNAL, 1, "http: out of memory");
        req.body = text;
        req.len = strlen(text);
        req.content_type = "application/json";
    }
    rc = action_http_send(&req, ctx, res);
    free(text);
    return rc;
}

const hs_action_t hs_action_http = {"http", http_validate, http_run};
