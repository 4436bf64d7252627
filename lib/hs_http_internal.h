/* Private to lib/hs_http*.c: the server and request structs shared by the server lifecycle
 * (hs_http.c) and the request path (hs_http_req.c). Nothing outside the http module includes
 * this; the public contract is hs_http.h. */
#ifndef HS_HTTP_INTERNAL_H
#define HS_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <time.h>

#include "hs_http.h"
#include "hs_metrics.h"

#define HS_HTTP_MAX_SEGMENTS 32
#define HS_HTTP_MAX_PARAMS 16

/* A route with its pattern split once at registration. Immutable after start. */
typedef struct {
    char *method;
    char *pattern;
    char *segbuf; /* pattern copy the segments point into, braces stripped */
    const char *segments[HS_HTTP_MAX_SEGMENTS];
    int is_param[HS_HTTP_MAX_SEGMENTS];
    size_t nsegments, nparams;
    hs_http_handler_fn fn;
    void *opaque;
} route_t;

/* Fields above mtx are set before start and read-only while serving.
 * @locks: mtx guards stopping, running, suspended. */
struct hs_http_server {
    char *listen, *host, *port_str, *service;
    size_t max_body;
    int threads;
    route_t *routes;
    size_t nroutes, routes_cap;
    hs_http_ready_fn ready_fn;
    void *ready_opaque;
    hs_http_error_fn error_fn; /* NULL: problem+json */
    route_t fallback;          /* fn NULL: none (404/405) */
    hs_metric_t *requests, *duration;
    struct MHD_Daemon *daemon;
    int listen_fd;
    int port;
    pthread_mutex_t mtx;
    pthread_cond_t cond; /* signalled when running or suspended drops */
    int stopping;        /* set by destroy: new dispatches get 503 */
    int running;         /* handlers executing now */
    int suspended;       /* requests suspended and not yet answered */
    int resumed;         /* answered after a suspend, not yet completed by MHD */
};

typedef struct header {
    struct header *next;
    char *name, *value;
} header_t;

/* One request, from the request line to completion.
 * @locality: the MHD worker thread of its connection, except that while dispatched the handler
 * (or whoever it handed the request to) owns the accessors, headers and respond.
 * @locks: mtx guards resp, status, responded, suspend_wanted, mhd_suspended. */
struct hs_http_req {
    hs_http_server_t *srv;
    struct MHD_Connection *conn;
    int phase;
    unsigned queued_status; /* status handed to MHD, 0 if none; read at completion */
    const char *route_label;
    const route_t *route;
    char method[24];
    char *body;
    size_t body_len, body_cap;
    int too_large;
    struct timespec start;
    size_t nparams;
    const char *param_names[HS_HTTP_MAX_PARAMS];
    const char *param_values[HS_HTTP_MAX_PARAMS];
    header_t *headers;
    pthread_mutex_t mtx;
    struct MHD_Response *resp;
    unsigned status;
    int responded;
    int suspend_wanted;
    int mhd_suspended;
    int was_resumed; /* set once before MHD_resume_connection; read at completion */
    int uri_too_long;
    char *decoded; /* decoded path segments, after path in the same allocation */
    char *target;  /* path and query as sent, after decoded in the same allocation */
    char path[];   /* raw path without the query string */
};

/* MHD callbacks of the request path, installed by hs_http_server_start. */
void *hs_http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn);
enum MHD_Result hs_http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **req_cls);
/* Frees req and anything it still holds (an unsent response, pending headers). */
void hs_http_req_free(hs_http_req_t *req);

#endif
