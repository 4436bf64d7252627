/* libcurl easy handle per client: reused between requests so the connection stays open, which
 * keeps registry lookups cheap. curl_global_init runs once, before any handle exists, because
 * it is not thread-safe. */
#include "hs_httpc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hs_httpc {
    CURL *curl;
    char *base;
    char *media_type;
    char *auth; /* "Authorization: Bearer ..." or NULL */
    long timeout_ms;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

hs_httpc_t *hs_httpc_new(const char *base_url, long timeout_ms, const char *media_type,
                         char *errstr, size_t n) {
    if (!base_url || (strncmp(base_url, "http://", 7) && strncmp(base_url, "https://", 8))) {
        hs_fail(HS_ERR_INVALID, errstr, n, "'%s' is not an http:// or https:// URL",
                base_url ? base_url : "");
        return NULL;
    }
    pthread_once(&global_once, global_init);
    hs_httpc_t *c = calloc(1, sizeof *c);
    if (c) {
        c->curl = curl_easy_init();
        c->base = strdup(base_url);
        c->media_type = strdup(media_type ? media_type : "application/json");
        c->timeout_ms = timeout_ms;
    }
    if (!c || !c->curl || !c->base || !c->media_type) {
        hs_httpc_destroy(c);
        hs_fail(HS_ERR_INTERNAL, errstr, n, "http client for %s: out of memory", base_url);
        return NULL;
    }
    size_t len = strlen(c->base);
    while (len > 0 && c->base[len - 1] == '/')
        c->base[--len] = 0;
    return c;
}

void hs_httpc_destroy(hs_httpc_t *c) {
    if (!c) return;
    if (c->curl) curl_easy_cleanup(c->curl);
    free(c->base);
    free(c->media_type);
    free(c->auth);
    free(c);
}

hs_err_t hs_httpc_set_bearer(hs_httpc_t *c, const char *token) {
    free(c->auth);
    c->auth = NULL;
    if (!token || !*token) return HS_OK;
    size_t len = strlen(token) + sizeof "Authorization: Bearer ";
    if (!(c->auth = malloc(len))) return HS_ERR_INTERNAL;
    snprintf(c->auth, len, "Authorization: Bearer %s", token);
    return HS_OK;
}

const char *hs_httpc_base_url(const hs_httpc_t *c) {
    return c->base;
}

typedef struct {
    char *buf;
    size_t len, cap;
    int too_large;
} sink_t;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *opaque) {
    sink_t *s = opaque;
    size_t add = size * nmemb;
    if (s->len + add > HS_HTTPC_MAX_BODY) {
        s->too_large = 1;
        return 0;
    }
    if (s->len + add + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + add + 1)
            cap *= 2;
        char *buf = realloc(s->buf, cap);
        if (!buf) return 0;
        s->buf = buf;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, ptr, add);
    s->len += add;
    s->buf[s->len] = 0;
    return add;
}

/* Maps a transfer failure to our error: what the caller can do differs (retry later vs. fix). */
static hs_err_t transfer_error(CURLcode rc, const sink_t *s) {
    if (s->too_large) return HS_ERR_TOO_LARGE;
    if (rc == CURLE_OPERATION_TIMEDOUT) return HS_ERR_TIMEOUT;
    if (rc == CURLE_OUT_OF_MEMORY || rc == CURLE_WRITE_ERROR) return HS_ERR_INTERNAL;
    return HS_ERR_UNAVAILABLE;
}

hs_err_t hs_httpc_request(hs_httpc_t *c, const char *method, const char *path,
                          const char *content_type, const char *body, size_t len,
                          hs_httpc_resp_t *resp, char *errstr, size_t n) {
    char url[2048], ctype[256], accept[256], cerr[CURL_ERROR_SIZE] = "";
    snprintf(url, sizeof url, "%s%s", c->base, path);
    snprintf(ctype, sizeof ctype, "Content-Type: %s", content_type ? content_type : c->media_type);
    snprintf(accept, sizeof accept, "Accept: %s", c->media_type);
    struct curl_slist *hdrs = curl_slist_append(NULL, accept);
    if (hdrs && body) hdrs = curl_slist_append(hdrs, ctype);
    if (hdrs && c->auth) hdrs = curl_slist_append(hdrs, c->auth);
    sink_t sink = {0};
    CURL *h = c->curl;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    }
    CURLcode rc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK) {
        hs_err_t err = transfer_error(rc, &sink);
        free(sink.buf);
        if (err == HS_ERR_TOO_LARGE)
            return hs_fail(err, errstr, n, "%s %s: response larger than %u bytes", method, url,
                           HS_HTTPC_MAX_BODY);
        return hs_fail(err, errstr, n, "%s %s: %s", method, url,
                       *cerr ? cerr : curl_easy_strerror(rc));
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->body = sink.buf ? sink.buf : strdup("");
    resp->len = sink.len;
    if (!resp->body)
        return hs_fail(HS_ERR_INTERNAL, errstr, n, "%s %s: out of memory", method, url);
    return HS_OK;
}

void hs_httpc_resp_clear(hs_httpc_resp_t *resp) {
    if (!resp) return;
    free(resp->body);
    *resp = (hs_httpc_resp_t){0};
}

hs_err_t hs_httpc_json(hs_httpc_t *c, const char *method, const char *path, const json_t *body,
                       long *status, json_t **out, char *errstr, size_t n) {
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (body && !text) return hs_fail(HS_ERR_INTERNAL, errstr, n, "out of memory");
    hs_httpc_resp_t resp = {0};
    hs_err_t err =
        hs_httpc_request(c, method, path, NULL, text, text ? strlen(text) : 0, &resp, errstr, n);
    free(text);
    if (err) return err;
    *status = resp.status;
    *out = NULL;
    if (resp.len) {
        json_error_t jerr;
        *out = json_loadb(resp.body, resp.len, JSON_DECODE_ANY, &jerr);
        if (!*out)
            err = hs_fail(HS_ERR_UNAVAILABLE, errstr, n,
                          "%s %s%s: HTTP %ld with a body that is not JSON (%s)", method, c->base,
                          path, resp.status, jerr.text);
    }
    hs_httpc_resp_clear(&resp);
    return err;
}

char *hs_httpc_escape(const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(strlen(s) * 3 + 1), *p = out;
    if (!out) return NULL;
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        if ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
            strchr("-._~", *q)) {
            *p++ = (char)*q;
        } else {
            *p++ = '%';
            *p++ = hex[*q >> 4];
            *p++ = hex[*q & 15];
        }
    }
    *p = 0;
    return out;
}
