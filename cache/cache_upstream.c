/* Upstream calls of cache-proxy (see cache_upstream.h). curl_easy_reset between calls keeps
 * the handle's live connections, so a worker reuses its keep-alive connection. */
#include "cache_upstream.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct cache_upstream {
    CURL *curl;
    char *base;
    long timeout_ms;
    size_t max_body;
};

static const char *const hop_headers[] = {"Connection",
                                          "Keep-Alive",
                                          "Proxy-Connection",
                                          "Proxy-Authenticate",
                                          "Proxy-Authorization",
                                          "TE",
                                          "Trailer",
                                          "Transfer-Encoding",
                                          "Upgrade",
                                          "Host",
                                          "Content-Length",
                                          "Expect",
                                          NULL};

int cache_upstream_hop_header(const char *name) {
    for (const char *const *h = hop_headers; *h; h++)
        if (!strcasecmp(*h, name)) return 1;
    return 0;
}

int cache_upstream_url_ok(const char *base_url) {
    const char *p = !strncmp(base_url, "http://", 7)    ? base_url + 7
                    : !strncmp(base_url, "https://", 8) ? base_url + 8
                                                        : NULL;
    if (!p || strpbrk(base_url, "?# \t\r\n")) return -1;
    const char *host_end = *p == '[' ? strchr(p, ']') : p + strcspn(p, ":/");
    if (!host_end || host_end == p) return -1;
    host_end += *p == '[';
    if (*host_end != ':') return *host_end == '/' || !*host_end ? 0 : -1;
    char *end;
    long port = strtol(host_end + 1, &end, 10);
    return end > host_end + 1 && port >= 1 && port <= 65535 && (!*end || *end == '/') ? 0 : -1;
}

cache_upstream_t *cache_upstream_new(const char *base_url, long timeout_ms, size_t max_body,
                                     char *errstr, size_t errstr_size) {
    if (!base_url || cache_upstream_url_ok(base_url)) {
        hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                "upstream '%s' is not http[s]://host[:port][/base]", base_url ? base_url : "");
        return NULL;
    }
    cache_upstream_t *u = calloc(1, sizeof *u);
    if (u) {
        u->curl = curl_easy_init();
        u->base = strdup(base_url);
    }
    if (!u || !u->curl || !u->base) {
        cache_upstream_destroy(u);
        hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory");
        return NULL;
    }
    size_t n = strlen(u->base);
    if (n && u->base[n - 1] == '/') u->base[n - 1] = 0;
    u->timeout_ms = timeout_ms;
    u->max_body = max_body;
    return u;
}

void cache_upstream_destroy(cache_upstream_t *u) {
    if (!u) return;
    if (u->curl) curl_easy_cleanup(u->curl);
    free(u->base);
    free(u);
}

void cache_upstream_resp_clear(cache_upstream_resp_t *resp) {
    if (!resp) return;
    for (size_t i = 0; i < resp->nheaders; i++) {
        free((char *)resp->headers[i].name);
        free((char *)resp->headers[i].value);
    }
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}

/* ---- request headers --------------------------------------------------------------------- */

typedef struct {
    struct curl_slist *list;
    const char *connection; /* the client's Connection header: names more hop-by-hop ones */
    const char *forwarded_for;
    int drop_accept_encoding, failed;
} fwd_t;

/* 1 when name is one of the comma-separated tokens of list. */
static int in_token_list(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, " \t,");
        if (len == n && !strncasecmp(p, name, n)) return 1;
        p += len;
    }
    return 0;
}

/* A line as curl reads it: "Name:" alone removes a header curl would add by itself. */
static void append_raw(fwd_t *f, const char *line) {
    struct curl_slist *l = curl_slist_append(f->list, line);
    if (l)
        f->list = l;
    else
        f->failed = 1;
}

static void append(fwd_t *f, const char *name, const char *value) {
    size_t len = strlen(name) + strlen(value) + 3;
    char *line = malloc(len);
    if (!line) {
        f->failed = 1;
        return;
    }
    /* "Name;" is how curl sends a header with an empty value */
    if (value[0])
        snprintf(line, len, "%s: %s", name, value);
    else
        snprintf(line, len, "%s;", name);
    append_raw(f, line);
    free(line);
}

static int forward_header(void *opaque, const char *name, const char *value) {
    fwd_t *f = opaque;
    if (cache_upstream_hop_header(name) || in_token_list(f->connection, name)) return 0;
    if (!strcasecmp(name, "X-Forwarded-For")) return 0; /* sent once, extended, below */
    if (f->drop_accept_encoding && !strcasecmp(name, "Accept-Encoding")) return 0;
    append(f, name, value);
    return 0;
}

static struct curl_slist *request_headers(hs_http_req_t *req, int drop_accept_encoding) {
    fwd_t f = {NULL, hs_http_req_header(req, "Connection"),
               hs_http_req_header(req, "X-Forwarded-For"), drop_accept_encoding, 0};
    hs_http_req_headers(req, forward_header, &f);
    char peer[64], xff[1024];
    hs_http_req_peer(req, peer, sizeof peer);
    snprintf(xff, sizeof xff, "%s%s%s", f.forwarded_for ? f.forwarded_for : "",
             f.forwarded_for ? ", " : "", peer);
    append(&f, "X-Forwarded-For", xff);
    const char *host = hs_http_req_header(req, "Host");
    if (host) append(&f, "X-Forwarded-Host", host);
    append(&f, "X-Forwarded-Proto", "http");
    /* curl adds these unless told not to: the upstream gets the client's, or none */
    append_raw(&f, "Expect:");
    if (!hs_http_req_header(req, "Accept")) append_raw(&f, "Accept:");
    if (!hs_http_req_header(req, "Content-Type")) append_raw(&f, "Content-Type:");
    if (f.failed) {
        curl_slist_free_all(f.list);
        return NULL;
    }
    return f.list;
}

/* ---- answer ------------------------------------------------------------------------------ */

typedef struct {
    cache_upstream_resp_t *resp;
    size_t max_body;
    int too_large, too_many_headers;
} sink_t;

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
    sink_t *s = ud;
    size_t k = size * n;
    cache_upstream_resp_t *r = s->resp;
    if (k > s->max_body - r->len) {
        s->too_large = 1;
        return 0;
    }
    char *body = realloc(r->body, r->len + k + 1);
    if (!body) return 0;
    memcpy(body + r->len, data, k);
    r->len += k;
    body[r->len] = 0;
    r->body = body;
    return k;
}

static void clear_headers(cache_upstream_resp_t *r) {
    for (size_t i = 0; i < r->nheaders; i++) {
        free((char *)r->headers[i].name);
        free((char *)r->headers[i].value);
    }
    r->nheaders = 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud) {
    sink_t *s = ud;
    size_t k = size * n, len = k;
    cache_upstream_resp_t *r = s->resp;
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    if (len >= 5 && !strncmp(data, "HTTP/", 5)) { /* a status line: 1xx headers are not kept */
        clear_headers(r);
        return k;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon || colon == data) return k;
    const char *v = colon + 1, *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    if (r->nheaders == CACHE_ENTRY_MAX_HEADERS) {
        s->too_many_headers = 1;
        return 0;
    }
    char *name = strndup(data, (size_t)(colon - data)), *value = strndup(v, (size_t)(end - v));
    if (!name || !value) {
        free(name);
        free(value);
        return 0;
    }
    r->headers[r->nheaders++] = (cache_header_t){name, value};
    return k;
}

/* Drops the hop-by-hop headers of the answer, and those its Connection header names. */
static void filter_headers(cache_upstream_resp_t *r) {
    const char *conn = NULL;
    for (size_t i = 0; i < r->nheaders; i++)
        if (!strcasecmp(r->headers[i].name, "Connection")) conn = r->headers[i].value;
    char *connection = conn ? strdup(conn) : NULL;
    size_t kept = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        cache_header_t h = r->headers[i];
        if (cache_upstream_hop_header(h.name) || in_token_list(connection, h.name)) {
            free((char *)h.name);
            free((char *)h.value);
        } else {
            r->headers[kept++] = h;
        }
    }
    r->nheaders = kept;
    free(connection);
}

static void set_method(CURL *c, hs_http_req_t *req, const char *method) {
    size_t len = 0;
    const char *body = hs_http_req_body(req, &len);
    if (!strcmp(method, "GET")) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        if (len || strcmp(method, "DELETE") || hs_http_req_header(req, "Content-Length")) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        }
    }
}

static hs_err_t classify(CURLcode rc, const sink_t *s, const char *method, const char *url,
                         char *errstr, size_t errstr_size) {
    if (s->too_large)
        return hs_fail(HS_ERR_TOO_LARGE, errstr, errstr_size,
                       "%s %s: the answer's body exceeds %zu bytes", method, url, s->max_body);
    if (s->too_many_headers)
        return hs_fail(HS_ERR_TOO_LARGE, errstr, errstr_size,
                       "%s %s: the answer has more than %d headers", method, url,
                       CACHE_ENTRY_MAX_HEADERS);
    hs_err_t err = rc == CURLE_OPERATION_TIMEDOUT ? HS_ERR_TIMEOUT
                   : rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST
                       ? HS_ERR_UNAVAILABLE
                       : HS_ERR_IO;
    return hs_fail(err, errstr, errstr_size, "%s %s: %s", method, url, curl_easy_strerror(rc));
}

hs_err_t cache_upstream_call(cache_upstream_t *u, hs_http_req_t *req,
                             const cache_upstream_opts_t *opts, cache_upstream_resp_t *resp,
                             char *errstr, size_t errstr_size) {
    memset(resp, 0, sizeof *resp);
    size_t ulen = strlen(u->base) + strlen(hs_http_req_target(req)) + 1;
    char *url = malloc(ulen);
    struct curl_slist *headers = request_headers(req, opts->drop_accept_encoding);
    if (!url || !headers) {
        free(url);
        curl_slist_free_all(headers);
        return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "out of memory");
    }
    snprintf(url, ulen, "%s%s", u->base, hs_http_req_target(req));
    CURL *c = u->curl;
    sink_t s = {resp, u->max_body, 0, 0};
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, u->timeout_ms);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
    set_method(c, req, opts->method);
    CURLcode rc = curl_easy_perform(c);
    double seconds = 0;
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &seconds);
    curl_slist_free_all(headers);
    hs_err_t err = HS_OK;
    if (rc != CURLE_OK) {
        err = classify(rc, &s, opts->method, url, errstr, errstr_size);
        cache_upstream_resp_clear(resp);
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
        filter_headers(resp);
        if (!resp->body && !(resp->body = calloc(1, 1))) err = HS_ERR_INTERNAL;
    }
    resp->seconds = seconds;
    free(url);
    return err;
}
