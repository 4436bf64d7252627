#include "hs_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hs_http_internal.h"
#include "hs_log.h"
#include "hs_metrics.h"

#define DEFAULT_MAX_BODY (1024 * 1024)
#define DEFAULT_THREADS 2
#define MAX_THREADS 256
#define CONNECTION_LIMIT 1024
#define CONNECTION_TIMEOUT_S 60
#define CONNECTION_MEMORY (16 * 1024) /* MHD's per-connection pool: request line + headers */
#define LISTEN_BACKLOG 1024
#define SHUTDOWN_WARN_S 5

/* Methods counted under their own name; others count as "other" to bound label cardinality. */
static const char *const known_methods[] = {"GET",   "HEAD",   "POST",    "PUT",
                                            "PATCH", "DELETE", "OPTIONS", NULL};

static void die(const char *msg, const char *what) {
    hs_log(HS_LOG_ERROR, msg, "{s:s}", "route", what);
    abort();
}

/* Splits "host:port" or "[v6]:port" into host (may be empty: every address) and port. */
static int parse_listen(const char *listen, char *host, size_t host_size, char *port,
                        size_t port_size) {
    const char *h = listen, *h_end, *p;
    if (*listen == '[') {
        h = listen + 1;
        h_end = strchr(h, ']');
        if (!h_end || h_end[1] != ':') return -1;
        p = h_end + 2;
    } else {
        h_end = strrchr(listen, ':');
        if (!h_end || memchr(listen, ':', (size_t)(h_end - listen))) return -1;
        p = h_end + 1;
    }
    size_t hlen = (size_t)(h_end - h), plen = strlen(p);
    if (hlen >= host_size || plen == 0 || plen > 5 || plen >= port_size) return -1;
    if (strspn(p, "0123456789") != plen || strtol(p, NULL, 10) > 65535) return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    memcpy(port, p, plen + 1);
    return 0;
}

static void builtin_metrics(hs_http_req_t *req, void *opaque) {
    (void)opaque;
    char *text = hs_metrics_render();
    if (!text) {
        hs_http_respond_problem(req, 500, "Internal Server Error", "cannot render metrics");
        return;
    }
    hs_http_respond(req, 200, "text/plain; version=0.0.4", text, strlen(text));
    free(text);
}

static void builtin_healthz(hs_http_req_t *req, void *opaque) {
    (void)opaque;
    hs_http_respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static void builtin_readyz(hs_http_req_t *req, void *opaque) {
    hs_http_server_t *srv = opaque;
    char why[256] = "";
    if (srv->ready_fn && !srv->ready_fn(srv->ready_opaque, why, sizeof why)) {
        json_t *body = json_pack("{s:s, s:s}", "status", "not ready", "reason", why);
        hs_http_respond_json(req, 503, body);
        return;
    }
    hs_http_respond_json(req, 200, json_pack("{s:s}", "status", "ready"));
}

hs_http_server_t *hs_http_server_new(const hs_http_opts_t *opts, char *errstr, size_t errstr_size) {
    char host[256], port[8];
    const char *listen = opts && opts->listen ? opts->listen : "";
    if (parse_listen(listen, host, sizeof host, port, sizeof port)) {
        hs_fail(HS_ERR_INVALID, errstr, errstr_size,
                "listen '%s': expected host:port or [ipv6]:port, port 0..65535", listen);
        return NULL;
    }
    if (opts->threads < 0 || opts->threads > MAX_THREADS) {
        hs_fail(HS_ERR_INVALID, errstr, errstr_size, "listen %s: threads %d not in 0..%d", listen,
                opts->threads, MAX_THREADS);
        return NULL;
    }
    hs_http_server_t *srv = calloc(1, sizeof *srv);
    if (srv) {
        pthread_mutex_init(&srv->mtx, NULL);
        pthread_cond_init(&srv->cond, NULL);
        srv->listen_fd = -1;
    }
    if (!srv || !(srv->listen = strdup(listen)) || !(srv->host = strdup(host)) ||
        !(srv->port_str = strdup(port)) ||
        !(srv->service = strdup(opts->service ? opts->service : "hookstream"))) {
        hs_http_server_destroy(srv);
        hs_fail(HS_ERR_INTERNAL, errstr, errstr_size, "listen %s: out of memory", listen);
        return NULL;
    }
    srv->max_body = opts->max_body_bytes ? opts->max_body_bytes : DEFAULT_MAX_BODY;
    srv->threads = opts->threads ? opts->threads : DEFAULT_THREADS;
    srv->port = (int)strtol(port, NULL, 10);
    srv->requests = hs_metrics_counter("hs_http_requests_total", "HTTP requests answered.",
                                       "service,route,method,code");
    srv->duration =
        hs_metrics_histogram("hs_http_request_duration_seconds",
                             "Time from request line to response sent.", "service,route", NULL, 0);
    hs_metrics_register_process();
    if (opts->no_builtins) return srv;
    hs_http_route(srv, "GET", "/metrics", builtin_metrics, NULL);
    hs_http_route(srv, "GET", "/healthz", builtin_healthz, NULL);
    hs_http_route(srv, "GET", "/readyz", builtin_readyz, srv);
    return srv;
}

void hs_http_route(hs_http_server_t *srv, const char *method, const char *pattern,
                   hs_http_handler_fn fn, void *opaque) {
    if (srv->daemon) die("hs_http_route after start", pattern);
    if (!method || !pattern || pattern[0] != '/' || !fn) die("invalid route", pattern);
    if (srv->nroutes == srv->routes_cap) {
        size_t cap = srv->routes_cap ? srv->routes_cap * 2 : 8;
        route_t *routes = realloc(srv->routes, cap * sizeof *routes);
        if (!routes) die("out of memory adding route", pattern);
        srv->routes = routes;
        srv->routes_cap = cap;
    }
    route_t *r = &srv->routes[srv->nroutes];
    memset(r, 0, sizeof *r);
    r->fn = fn;
    r->opaque = opaque;
    if (!(r->method = strdup(method)) || !(r->pattern = strdup(pattern)) ||
        !(r->segbuf = strdup(pattern + 1)))
        die("out of memory adding route", pattern);
    srv->nroutes++;
    for (char *seg = r->segbuf, *end;; seg = end + 1) {
        if (r->nsegments == HS_HTTP_MAX_SEGMENTS) die("route has too many segments", pattern);
        end = strchr(seg, '/');
        if (end) *end = '\0';
        size_t len = strlen(seg);
        int param = len > 2 && seg[0] == '{' && seg[len - 1] == '}';
        if (param) {
            seg[len - 1] = '\0';
            seg++;
            if (++r->nparams > HS_HTTP_MAX_PARAMS) die("route has too many params", pattern);
        } else if (strchr(seg, '{') || strchr(seg, '}')) {
            die("route segment mixes text and {param}", pattern);
        }
        r->segments[r->nsegments] = seg;
        r->is_param[r->nsegments++] = param;
        if (!end) break;
    }
}

void hs_http_set_error_fn(hs_http_server_t *srv, hs_http_error_fn fn) {
    srv->error_fn = fn;
}

void hs_http_set_fallback(hs_http_server_t *srv, hs_http_handler_fn fn, void *opaque) {
    if (srv->daemon) die("hs_http_set_fallback after start", "fallback");
    srv->fallback.pattern = "fallback"; /* the route label; never freed */
    srv->fallback.fn = fn;
    srv->fallback.opaque = opaque;
}

void hs_http_set_ready(hs_http_server_t *srv, hs_http_ready_fn fn, void *opaque) {
    srv->ready_fn = fn;
    srv->ready_opaque = opaque;
}

/* Returns the message of errno in lower case, as the rest of our error lines read. */
static const char *errno_text(int err, char *buf, size_t size) {
    snprintf(buf, size, "%s", strerror(err));
    if (buf[0] >= 'A' && buf[0] <= 'Z') buf[0] = (char)(buf[0] - 'A' + 'a');
    return buf;
}

static hs_err_t bind_listen(hs_http_server_t *srv, char *errstr, size_t errstr_size) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res = NULL;
    int rc = getaddrinfo(srv->host[0] ? srv->host : NULL, srv->port_str, &hints, &res);
    if (rc != 0)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "listen %s: %s", srv->listen,
                       gai_strerror(rc));
    int one = 1, err = 0;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, LISTEN_BACKLOG))
        err = errno;
    freeaddrinfo(res);
    if (err) {
        if (fd >= 0) close(fd);
        char text[128];
        hs_err_t code = err == EADDRINUSE || err == EADDRNOTAVAIL ? HS_ERR_UNAVAILABLE
                        : err == EACCES                           ? HS_ERR_FORBIDDEN
                                                                  : HS_ERR_IO;
        return hs_fail(code, errstr, errstr_size, "listen %s: %s", srv->listen,
                       errno_text(err, text, sizeof text));
    }
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    if (getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        srv->port = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                                     : ((struct sockaddr_in *)&addr)->sin_port);
    srv->listen_fd = fd;
    return HS_OK;
}

static void on_mhd_error(void *cls, const char *fmt, va_list ap) {
    hs_http_server_t *srv = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    hs_log(HS_LOG_WARN, "http server", "{s:s, s:s, s:s}", "service", srv->service, "listen",
           srv->listen, "error", msg);
}

static const char *method_label(const char *method) {
    for (const char *const *m = known_methods; *m; m++)
        if (!strcmp(*m, method)) return *m;
    return "other";
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)conn;
    (void)toe;
    hs_http_server_t *srv = cls;
    hs_http_req_t *req = *req_cls;
    *req_cls = NULL;
    if (!req) return;
    if (req->was_resumed) {
        pthread_mutex_lock(&srv->mtx);
        srv->resumed--;
        pthread_cond_broadcast(&srv->cond);
        pthread_mutex_unlock(&srv->mtx);
    }
    if (req->queued_status) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double seconds = (double)(now.tv_sec - req->start.tv_sec) +
                         (double)(now.tv_nsec - req->start.tv_nsec) / 1e9;
        char code[8];
        snprintf(code, sizeof code, "%u", req->queued_status);
        const char *labels[] = {srv->service, req->route_label, method_label(req->method), code};
        hs_metric_add(srv->requests, labels, 1);
        hs_metric_observe(srv->duration, labels, seconds);
        hs_log(HS_LOG_DEBUG, "http request", "{s:s, s:s, s:s, s:i, s:f}", "method", req->method,
               "path", req->path, "route", req->route_label, "status", (int)req->queued_status,
               "duration_s", seconds);
    }
    hs_http_req_free(req);
}

hs_err_t hs_http_server_start(hs_http_server_t *srv, char *errstr, size_t errstr_size) {
    if (srv->daemon)
        return hs_fail(HS_ERR_INVALID, errstr, errstr_size, "listen %s: already started",
                       srv->listen);
    hs_err_t err = bind_listen(srv, errstr, errstr_size);
    if (err) return err;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    /* MHD warns about a pool of 1: one thread is its default, so the option is left out. */
    struct MHD_OptionItem pool[] = {
        {srv->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, srv->threads, NULL},
        {MHD_OPTION_END, 0, NULL}};
    /* The logger goes first so that MHD reports problems with the other options through it. */
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, hs_http_on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error,
        srv, MHD_OPTION_LISTEN_SOCKET, srv->listen_fd, MHD_OPTION_ARRAY, pool,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONNECTION_MEMORY, MHD_OPTION_URI_LOG_CALLBACK, hs_http_on_uri, srv,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_END);
    if (!srv->daemon) {
        /* MHD closes the socket on some of its failure paths, not all: leave it rather than
         * risk closing a descriptor another thread has since been given. */
        srv->listen_fd = -1;
        return hs_fail(HS_ERR_INTERNAL, errstr, errstr_size,
                       "listen %s: cannot start the HTTP server (see the log)", srv->listen);
    }
    hs_log(HS_LOG_INFO, "http server listening", "{s:s, s:s, s:i}", "service", srv->service,
           "listen", srv->listen, "port", srv->port);
    return HS_OK;
}

int hs_http_server_port(const hs_http_server_t *srv) {
    return srv->port;
}

/* Waits for running handlers and for suspended requests to be answered by their owners:
 * MHD must not stop while a connection is suspended. */
static void drain(hs_http_server_t *srv) {
    pthread_mutex_lock(&srv->mtx);
    srv->stopping = 1;
    while (srv->running > 0 || srv->suspended > 0 || srv->resumed > 0) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += SHUTDOWN_WARN_S;
        if (pthread_cond_timedwait(&srv->cond, &srv->mtx, &deadline) == ETIMEDOUT)
            hs_log(HS_LOG_WARN, "http server stopping: waiting for requests to be answered",
                   "{s:s, s:i, s:i}", "service", srv->service, "running", srv->running, "suspended",
                   srv->suspended + srv->resumed);
    }
    pthread_mutex_unlock(&srv->mtx);
}

void hs_http_server_destroy(hs_http_server_t *srv) {
    if (!srv) return;
    if (srv->daemon) {
        /* Requests arriving from now on are answered 503 (drain sets stopping). MHD's own
         * quiesce is not used: with a thread pool and suspended connections 0.9.75 can abort in
         * it ("failed to signal quiesce"). MHD_stop_daemon closes the listen socket. */
        drain(srv);
        MHD_stop_daemon(srv->daemon);
    } else if (srv->listen_fd >= 0) {
        close(srv->listen_fd);
    }
    for (size_t i = 0; i < srv->nroutes; i++) {
        free(srv->routes[i].method);
        free(srv->routes[i].pattern);
        free(srv->routes[i].segbuf);
    }
    pthread_mutex_destroy(&srv->mtx);
    pthread_cond_destroy(&srv->cond);
    free(srv->routes);
    free(srv->listen);
    free(srv->host);
    free(srv->port_str);
    free(srv->service);
    free(srv);
}
