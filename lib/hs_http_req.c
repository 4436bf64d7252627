#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hs_http.h"
#include "hs_http_internal.h"
#include "hs_log.h"

#define URI_MAX 8192 /* longer request targets get 414 */
#define INITIAL_BODY_MAX (64 * 1024)

enum { PHASE_NEW, PHASE_BODY, PHASE_DISPATCHED };
enum { BODY_OK, BODY_TOO_LARGE, BODY_NO_MEMORY };

void *hs_http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
    size_t full = strlen(uri);
    int too_long = full > URI_MAX;
    size_t len = too_long ? 0 : strcspn(uri, "?");
    full = too_long ? 0 : full;
    /* The path, room for its decoded segments (never longer), then the whole target. */
    hs_http_req_t *req = calloc(1, sizeof *req + 2 * (len + 1) + full + 1);
    if (!req) return NULL;
    req->srv = cls;
    req->conn = conn;
    req->uri_too_long = too_long;
    req->route_label = "unmatched";
    memcpy(req->path, uri, len);
    req->path[len] = '\0';
    req->decoded = req->path + len + 1;
    req->target = req->decoded + len + 1;
    memcpy(req->target, uri, full);
    pthread_mutex_init(&req->mtx, NULL);
    clock_gettime(CLOCK_MONOTONIC, &req->start);
    return req;
}

static void free_headers(hs_http_req_t *req) {
    for (header_t *h = req->headers, *next; h; h = next) {
        next = h->next;
        free(h->name);
        free(h->value);
        free(h);
    }
    req->headers = NULL;
}

void hs_http_req_free(hs_http_req_t *req) {
    if (req->resp) MHD_destroy_response(req->resp);
    free_headers(req);
    free(req->body);
    pthread_mutex_destroy(&req->mtx);
    free(req);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int hs_http_segment_decode(char *dst, const char *src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (src[i] != '%') {
            *dst++ = src[i];
            continue;
        }
        int hi = i + 2 < n ? hexval(src[i + 1]) : -1, lo = hi >= 0 ? hexval(src[i + 2]) : -1;
        if (lo < 0 || (hi | lo) == 0) return -1;
        *dst++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *dst = '\0';
    return 0;
}

typedef enum { MATCH_NONE, MATCH_BAD_PATH, MATCH_WRONG_METHOD, MATCH_OK } match_t;

static int segments_match(const route_t *r, const char *const *segs, size_t nseg) {
    if (r->nsegments != nseg) return 0;
    for (size_t i = 0; i < nseg; i++) {
        if (r->is_param[i] ? segs[i][0] == '\0' : strcmp(r->segments[i], segs[i]) != 0) return 0;
    }
    return 1;
}

static int method_matches(const route_t *r, const char *method) {
    return !strcmp(r->method, method) || (!strcmp(method, "HEAD") && !strcmp(r->method, "GET"));
}

static void allow_add(char *allow, size_t size, const char *method) {
    size_t len = strlen(allow), mlen = strlen(method);
    for (const char *p = allow; (p = strstr(p, method)); p += mlen)
        if ((p == allow || p[-1] == ' ') && (p[mlen] == ',' || p[mlen] == '\0')) return;
    snprintf(allow + len, size - len, "%s%s", len ? ", " : "", method);
}

static void bind_params(hs_http_req_t *req, const route_t *r, const char *const *segs) {
    for (size_t i = 0; i < r->nsegments; i++) {
        if (!r->is_param[i]) continue;
        req->param_names[req->nparams] = r->segments[i];
        req->param_values[req->nparams++] = segs[i];
    }
}

static match_t fallback_or_none(hs_http_req_t *req) {
    const hs_http_server_t *srv = req->srv;
    if (!srv->fallback.fn) return MATCH_NONE;
    req->route = &srv->fallback;
    req->route_label = srv->fallback.pattern;
    return MATCH_OK;
}

/* Splits and decodes the path, then finds the first route matching path and method; on a
 * path match with other methods, allow lists them. */
static match_t route_find(hs_http_req_t *req, char *allow, size_t allow_size) {
    const char *segs[HS_HTTP_MAX_SEGMENTS];
    size_t nseg = 0;
    if (req->path[0] != '/') return fallback_or_none(req);
    char *dst = req->decoded;
    for (const char *p = req->path + 1;; p++) {
        size_t n = strcspn(p, "/");
        if (nseg == HS_HTTP_MAX_SEGMENTS) return fallback_or_none(req);
        if (hs_http_segment_decode(dst, p, n)) return MATCH_BAD_PATH;
        segs[nseg++] = dst;
        dst += strlen(dst) + 1;
        p += n;
        if (!*p) break;
    }
    const hs_http_server_t *srv = req->srv;
    const route_t *path_match = NULL;
    allow[0] = '\0';
    for (size_t i = 0; i < srv->nroutes; i++) {
        const route_t *r = &srv->routes[i];
        if (!segments_match(r, segs, nseg)) continue;
        if (method_matches(r, req->method)) {
            req->route = r;
            req->route_label = r->pattern;
            bind_params(req, r, segs);
            return MATCH_OK;
        }
        if (!path_match) path_match = r;
        allow_add(allow, allow_size, r->method);
    }
    if (srv->fallback.fn || !path_match) return fallback_or_none(req);
    req->route_label = path_match->pattern;
    return MATCH_WRONG_METHOD;
}

/* The server's own error answers, in the shape the service chose (hs_http_set_error_fn). */
static void respond_error(hs_http_req_t *req, int status, const char *title, const char *detail) {
    if (req->srv->error_fn)
        req->srv->error_fn(req, status, title, detail);
    else
        hs_http_respond_problem(req, status, title, detail);
}

/* Routes the request once its headers are in, answering early what needs no body. */
static void begin(hs_http_req_t *req, const char *method) {
    snprintf(req->method, sizeof req->method, "%s", method);
    if (req->uri_too_long) {
        respond_error(req, 414, "URI Too Long", "the request target exceeds 8192 bytes");
        return;
    }
    char allow[128];
    switch (route_find(req, allow, sizeof allow)) {
    case MATCH_NONE:
        respond_error(req, 404, "Not Found", "no route matches this path");
        return;
    case MATCH_BAD_PATH:
        respond_error(req, 400, "Bad Request", "malformed percent-encoding in the path");
        return;
    case MATCH_WRONG_METHOD:
        hs_http_add_header(req, "Allow", allow);
        respond_error(req, 405, "Method Not Allowed", "see the Allow header");
        return;
    case MATCH_OK:
        break;
    }
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Length");
    unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
    if (declared > req->srv->max_body) {
        char detail[96];
        snprintf(detail, sizeof detail, "the body exceeds %zu bytes", req->srv->max_body);
        respond_error(req, 413, "Content Too Large", detail);
        return;
    }
    /* Sized from the announcement, but capped: a client announcing a large body and sending
     * nothing must not pin max_body bytes per connection. */
    size_t initial = declared < INITIAL_BODY_MAX ? (size_t)declared + 1 : INITIAL_BODY_MAX;
    if (declared) {
        req->body = malloc(initial);
        req->body_cap = req->body ? initial : 0;
    }
}

/* Appends a piece of the body; past the limit the body is dropped and the rest discarded. */
static void body_append(hs_http_req_t *req, const char *data, size_t n) {
    size_t max = req->srv->max_body;
    if (req->too_large) return;
    if (n > max - req->body_len) {
        req->too_large = BODY_TOO_LARGE;
    } else if (req->body_len + n + 1 > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap : 4096;
        while (cap < req->body_len + n + 1)
            cap *= 2;
        cap = cap > max + 1 ? max + 1 : cap;
        char *body = realloc(req->body, cap);
        if (!body) req->too_large = BODY_NO_MEMORY;
        req->body = body ? body : req->body;
        req->body_cap = body ? cap : req->body_cap;
    }
    if (req->too_large) {
        free(req->body);
        req->body = NULL;
        req->body_len = req->body_cap = 0;
        return;
    }
    memcpy(req->body + req->body_len, data, n);
    req->body_len += n;
    req->body[req->body_len] = '\0';
}

/* Hands the prepared response to MHD; called only from the access handler, as MHD needs. */
static enum MHD_Result queue_pending(hs_http_req_t *req) {
    pthread_mutex_lock(&req->mtx);
    struct MHD_Response *resp = req->resp;
    unsigned status = req->status;
    req->resp = NULL;
    pthread_mutex_unlock(&req->mtx);
    if (!resp) return MHD_NO; /* the response could not be built: close the connection */
    enum MHD_Result ret = MHD_queue_response(req->conn, status, resp);
    MHD_destroy_response(resp);
    if (ret == MHD_YES) req->queued_status = status;
    return ret;
}

/* Runs the handler. Afterwards the request is answered, or suspended: then a respond from any
 * thread resumes it and MHD calls us again to queue the answer. Suspending under req->mtx
 * orders it before that resume even when the answer races the handler's return. */
static enum MHD_Result dispatch(hs_http_req_t *req) {
    hs_http_server_t *srv = req->srv;
    if (req->too_large) {
        char detail[96];
        snprintf(detail, sizeof detail, "the body exceeds %zu bytes", srv->max_body);
        if (req->too_large == BODY_TOO_LARGE)
            respond_error(req, 413, "Content Too Large", detail);
        else
            respond_error(req, 503, "Service Unavailable", "out of memory");
        return queue_pending(req);
    }
    pthread_mutex_lock(&srv->mtx);
    int stopping = srv->stopping;
    srv->running += !stopping;
    pthread_mutex_unlock(&srv->mtx);
    if (stopping) {
        respond_error(req, 503, "Service Unavailable", "the server is stopping");
        return queue_pending(req);
    }
    req->route->fn(req, req->route->opaque);
    pthread_mutex_lock(&req->mtx);
    int answered = req->responded, suspend = !answered && req->suspend_wanted;
    if (suspend) {
        req->mhd_suspended = 1;
        MHD_suspend_connection(req->conn);
    }
    pthread_mutex_unlock(&req->mtx);
    pthread_mutex_lock(&srv->mtx);
    srv->running--;
    srv->suspended += suspend;
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->mtx);
    if (suspend) return MHD_YES;
    if (!answered) {
        hs_log(HS_LOG_ERROR, "http handler returned without answering", "{s:s, s:s}", "service",
               srv->service, "route", req->route_label);
        respond_error(req, 500, "Internal Server Error", "the handler did not answer");
    }
    return queue_pending(req);
}

enum MHD_Result hs_http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **req_cls) {
    (void)cls, (void)conn, (void)url, (void)version;
    hs_http_req_t *req = *req_cls;
    if (!req) return MHD_NO; /* out of memory at the request line */
    switch (req->phase) {
    case PHASE_NEW:
        req->phase = PHASE_BODY;
        begin(req, method);
        return req->responded ? queue_pending(req) : MHD_YES;
    case PHASE_BODY:
        if (*upload_data_size) {
            body_append(req, upload_data, *upload_data_size);
            *upload_data_size = 0;
            return MHD_YES;
        }
        req->phase = PHASE_DISPATCHED;
        return dispatch(req);
    default: /* resumed after a suspended handler answered */
        return queue_pending(req);
    }
}

/* Stores the answer; if the connection is suspended, resumes it so MHD queues it. */
static void respond_with(hs_http_req_t *req, unsigned status, struct MHD_Response *resp) {
    pthread_mutex_lock(&req->mtx);
    if (req->responded) {
        pthread_mutex_unlock(&req->mtx);
        if (resp) MHD_destroy_response(resp);
        hs_log(HS_LOG_ERROR, "http request answered twice: second answer dropped", NULL);
        return;
    }
    req->responded = 1;
    req->resp = resp;
    req->status = status;
    int resume = req->mhd_suspended;
    req->mhd_suspended = 0;
    req->was_resumed = resume;
    struct MHD_Connection *conn = req->conn;
    hs_http_server_t *srv = req->srv;
    pthread_mutex_unlock(&req->mtx);
    if (!resume) return;
    /* Counted as resumed until MHD completes it, so a stopping server waits for the answer to
     * be sent, not only queued. */
    pthread_mutex_lock(&srv->mtx);
    srv->suspended--;
    srv->resumed++;
    pthread_mutex_unlock(&srv->mtx);
    /* From here MHD may complete and free req: only locals are used. */
    MHD_resume_connection(conn);
}

void hs_http_respond(hs_http_req_t *req, int status, const char *content_type, const char *body,
                     size_t len) {
    if (status < 200 || status > 599) {
        hs_log(HS_LOG_ERROR, "http handler answered with an invalid status", "{s:s, s:i}", "route",
               req->route_label, "status", status);
        free_headers(req);
        hs_http_respond_problem(req, 500, "Internal Server Error", "invalid status");
        return;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(body ? len : 0, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (resp && content_type) MHD_add_response_header(resp, "Content-Type", content_type);
    for (const header_t *h = req->headers; resp && h; h = h->next)
        if (MHD_add_response_header(resp, h->name, h->value) != MHD_YES)
            hs_log(HS_LOG_WARN, "http header refused", "{s:s}", "header", h->name);
    free_headers(req);
    respond_with(req, (unsigned)status, resp);
}

void hs_http_respond_json(hs_http_req_t *req, int status, json_t *body) {
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(body);
    if (!text) {
        hs_http_respond_problem(req, 500, "Internal Server Error", "cannot encode the response");
        return;
    }
    hs_http_respond(req, status, "application/json", text, strlen(text));
    free(text);
}

static const struct {
    int status;
    const char *title;
} titles[] = {
    {400, "Bad Request"},         {401, "Unauthorized"},           {403, "Forbidden"},
    {404, "Not Found"},           {405, "Method Not Allowed"},     {409, "Conflict"},
    {413, "Content Too Large"},   {415, "Unsupported Media Type"}, {422, "Unprocessable Content"},
    {429, "Too Many Requests"},   {500, "Internal Server Error"},  {501, "Not Implemented"},
    {503, "Service Unavailable"}, {504, "Gateway Timeout"},
};

const char *hs_http_status_title(int status) {
    for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++)
        if (titles[i].status == status) return titles[i].title;
    return status >= 500 ? "Internal Server Error" : "Error";
}

void hs_http_respond_problem(hs_http_req_t *req, int status, const char *title,
                             const char *detail) {
    json_t *doc = json_pack("{s:s, s:s, s:i}", "type", "about:blank", "title", title ? title : "",
                            "status", status);
    if (doc && detail) json_object_set_new(doc, "detail", json_string(detail));
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    static const char fallback[] = "{\"type\":\"about:blank\",\"status\":500}";
    hs_http_respond(req, text ? status : 500, "application/problem+json", text ? text : fallback,
                    text ? strlen(text) : sizeof fallback - 1);
    free(text);
}

void hs_http_req_suspend(hs_http_req_t *req) {
    pthread_mutex_lock(&req->mtx);
    req->suspend_wanted = 1;
    pthread_mutex_unlock(&req->mtx);
}

void hs_http_add_header(hs_http_req_t *req, const char *name, const char *value) {
    header_t *h = calloc(1, sizeof *h), **tail = &req->headers;
    if (!h || !(h->name = strdup(name)) || !(h->value = strdup(value))) {
        if (h) free(h->name);
        free(h);
        hs_log(HS_LOG_ERROR, "out of memory adding an http header", "{s:s}", "header", name);
        return;
    }
    while (*tail)
        tail = &(*tail)->next;
    *tail = h;
}

const char *hs_http_req_method(const hs_http_req_t *req) {
    return req->method;
}

const char *hs_http_req_path(const hs_http_req_t *req) {
    return req->path;
}

const char *hs_http_req_target(const hs_http_req_t *req) {
    return req->target;
}

typedef struct {
    hs_http_header_fn fn;
    void *opaque;
    int stopped;
} each_t;

static enum MHD_Result each_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
    (void)kind;
    each_t *e = cls;
    e->stopped = e->fn(e->opaque, key, value ? value : "");
    return e->stopped ? MHD_NO : MHD_YES;
}

void hs_http_req_headers(const hs_http_req_t *req, hs_http_header_fn fn, void *opaque) {
    each_t e = {fn, opaque, 0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, each_header, &e);
}

const char *hs_http_req_peer(const hs_http_req_t *req, char *buf, size_t n) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    buf[0] = '\0';
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
                  (socklen_t)n);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf,
                  (socklen_t)n);
    return buf;
}

const char *hs_http_req_param(const hs_http_req_t *req, const char *name) {
    for (size_t i = 0; i < req->nparams; i++)
        if (!strcmp(req->param_names[i], name)) return req->param_values[i];
    return NULL;
}

const char *hs_http_req_query(const hs_http_req_t *req, const char *name) {
    const char *value = NULL;
    if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &value,
                                      NULL) != MHD_YES)
        return NULL;
    return value ? value : ""; /* "?flag" without "=" is present and empty */
}

const char *hs_http_req_header(const hs_http_req_t *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *hs_http_req_body(const hs_http_req_t *req, size_t *len) {
    if (len) *len = req->body_len;
    return req->body ? req->body : "";
}
