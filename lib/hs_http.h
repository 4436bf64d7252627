/* Small HTTP/1.1 server over libmicrohttpd that every service reuses: routes with {param}
 * segments, bounded request bodies, JSON and RFC 9457 problem+json answers, handlers that
 * suspend and answer later from any thread, and the built-in GET /metrics, /healthz, /readyz.
 * Each server counts hs_http_requests_total{service,route,method,code} and observes
 * hs_http_request_duration_seconds{service,route}. */
#ifndef HS_HTTP_H
#define HS_HTTP_H

#include <jansson.h>
#include <stddef.h>

#include "hs_err.h"

typedef struct hs_http_server hs_http_server_t;
typedef struct hs_http_req hs_http_req_t; /* borrowed by the handler; valid until responded */
typedef void (*hs_http_handler_fn)(hs_http_req_t *req, void *opaque);
/* Returns 1 when ready; else 0 and a reason in why (shown in /readyz). */
typedef int (*hs_http_ready_fn)(void *opaque, char *why, size_t why_size);

typedef struct {
    const char *listen;    /* "host:port"; port 0 picks a free port */
    const char *service;   /* label for metrics and logs, e.g. "registry" */
    size_t max_body_bytes; /* larger bodies get 413 problem+json (0 = 1 MiB) */
    int threads;           /* MHD thread pool size (0 = 2) */
    int no_builtins;       /* 1: no built-in /metrics, /healthz, /readyz (a server whose every
                              path belongs to someone else, like cache-proxy's) */
} hs_http_opts_t;

/* Returns a new server (not yet listening) or NULL with errstr set when opts are invalid
 * (listen not "host:port" / "[v6]:port"). opts and its strings are copied. Free with
 * hs_http_server_destroy. */
hs_http_server_t *hs_http_server_new(const hs_http_opts_t *opts, char *errstr, size_t errstr_size);

/* pattern: literal segments and {name} segments, e.g. "/subjects/{subject}/versions/{version}".
 * method "GET", "POST", ... Routes are matched in registration order. Add before start.
 * method and pattern are copied; opaque is borrowed and passed to fn on each request. {name}
 * matches one non-empty segment; GET routes also answer HEAD. The built-in /metrics, /healthz
 * and /readyz come first. No route for the path: 404; path known, method not: 405 + Allow;
 * bad %-escape in the path: 400; request target over 8 KiB: 414. A malformed pattern aborts. */
void hs_http_route(hs_http_server_t *srv, const char *method, const char *pattern,
                   hs_http_handler_fn fn, void *opaque);

/* Sets the readiness check behind GET /readyz (ready when none is set). Set before start;
 * fn runs on a server thread and must be thread-safe. */
/* Formats the answers the server gives by itself (404, 405, 400, 413, 414, 500, 503) for
 * services whose clients expect another error shape than problem+json (the registry answers
 * Confluent's {"error_code","message"}). fn must respond exactly once. Set before start. */
typedef void (*hs_http_error_fn)(hs_http_req_t *req, int status, const char *title,
                                 const char *detail);
void hs_http_set_error_fn(hs_http_server_t *srv, hs_http_error_fn fn);

void hs_http_set_ready(hs_http_server_t *srv, hs_http_ready_fn fn, void *opaque);

/* Sets the handler of every request no route matches, whatever its method (instead of 404 and
 * 405); it is counted under route "fallback". A malformed %-escape is still 400 and an overlong
 * target 414. Set before start; opaque is borrowed. */
void hs_http_set_fallback(hs_http_server_t *srv, hs_http_handler_fn fn, void *opaque);

/* Binds and starts serving. Port in use → HS_ERR_UNAVAILABLE with
 * "listen 127.0.0.1:8081: address already in use". */
hs_err_t hs_http_server_start(hs_http_server_t *srv, char *errstr, size_t errstr_size);

/* Returns the bound port (after start), else the configured one. */
int hs_http_server_port(const hs_http_server_t *srv);

/* Stops accepting, answers new requests on open connections 503, waits for running handlers
 * and for suspended requests to be answered by their owners (logging every 5 s while it
 * waits), then closes every connection and frees. NULL: no-op. */
void hs_http_server_destroy(hs_http_server_t *srv);

/* Request accessors: returned strings are borrowed from req, valid until it is responded. */
const char *hs_http_req_method(const hs_http_req_t *req);
/* The path as sent (still percent-encoded), without the query string. */
const char *hs_http_req_path(const hs_http_req_t *req);
/* The request target as sent: path and query string, still percent-encoded. */
const char *hs_http_req_target(const hs_http_req_t *req);
/* Calls fn(opaque, name, value) for each request header in the order received until fn
 * returns nonzero. name and value are borrowed like the other accessors. */
typedef int (*hs_http_header_fn)(void *opaque, const char *name, const char *value);
void hs_http_req_headers(const hs_http_req_t *req, hs_http_header_fn fn, void *opaque);
/* Writes the client's IP address as text into buf (n bytes; "" when unknown); returns buf. */
const char *hs_http_req_peer(const hs_http_req_t *req, char *buf, size_t n);
/* {name} from the route pattern, URL-decoded; NULL if none. */
const char *hs_http_req_param(const hs_http_req_t *req, const char *name);
/* Query-string argument, URL-decoded; NULL if absent. */
const char *hs_http_req_query(const hs_http_req_t *req, const char *name);
/* Request header, name case-insensitive; NULL if absent. */
const char *hs_http_req_header(const hs_http_req_t *req, const char *name);
/* Raw body bytes with a NUL after them (len may be NULL); "" and 0 when there is no body. */
const char *hs_http_req_body(const hs_http_req_t *req, size_t *len);

/* Each request gets exactly one response. Headers added before respond go on that response.
 * name and value are copied. A second respond on the same request is ignored (and logged). */
void hs_http_add_header(hs_http_req_t *req, const char *name, const char *value);
/* body (len bytes) is copied; content_type may be NULL (no Content-Type header). A status
 * outside 200..599 is a bug: the client gets 500 problem+json instead. */
void hs_http_respond(hs_http_req_t *req, int status, const char *content_type, const char *body,
                     size_t len);
void hs_http_respond_json(hs_http_req_t *req, int status, json_t *body); /* steals body */
/* RFC 9457 application/problem+json: {"type":"about:blank","title":...,"status":...,"detail":...}
 * title and detail are copied; detail may be NULL (omitted). */
void hs_http_respond_problem(hs_http_req_t *req, int status, const char *title, const char *detail);
/* Decodes the n bytes of one %XX-encoded path segment into dst (room for n + 1 bytes) and
 * NUL-terminates it; returns -1 on a truncated or non-hex escape and on %00, which would cut
 * the value short. The decoding the routes' {params} get, for code matching paths itself. */
int hs_http_segment_decode(char *dst, const char *src, size_t n);
/* The reason phrase of status ("Not Found"), static; "Error" for one it does not know. */
const char *hs_http_status_title(int status);

/* The handler may return without responding after calling this; the connection is suspended
 * (no thread held) and hs_http_respond* from ANY thread later resumes it and sends the answer.
 * A handler that returns without suspending and without responding gets a 500. */
void hs_http_req_suspend(hs_http_req_t *req);

#endif
