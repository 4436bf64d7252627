/* deliver sender: real HTTP against an in-process libmicrohttpd server (statuses, Retry-After,
 * redirects, slow and huge answers, connection counting) and raw sockets for the bad peers
 * (a listener that never answers, a peer that resets, a closed port). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../consumers/deliver/sender.h"

/* ---- the in-process HTTP server ---- */

static atomic_int conns;    /* connections accepted */
static atomic_int requests; /* requests answered, all paths */
static atomic_int ok_hits;  /* requests answered on /ok */
static struct MHD_Daemon *daemon_;
static int port;

#define BIG_BYTES (10u << 20)

typedef struct {
    const char *path;
    unsigned status;
    const char *body;
    const char *header, *value;
    int delay_ms;
} route_t;

static const route_t routes[] = {
    {"/ok", 200, "hello from the receiver", NULL, NULL, 0},
    {"/204", 204, "", NULL, NULL, 0},
    {"/500", 500, "boom", NULL, NULL, 0},
    {"/410", 410, "gone", NULL, NULL, 0},
    {"/429s", 429, "slow down", "Retry-After", "7", 0},
    {"/503s", 503, "later", "Retry-After", "  2  ", 0},
    {"/429d", 429, "", "Retry-After", NULL, 0}, /* value: an HTTP-date 30 s ahead */
    {"/redirect", 302, "", "Location", "/ok", 0},
    {"/slow", 204, "", NULL, NULL, 300},
};

static ssize_t big_body(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)cls;
    (void)pos;
    memset(buf, 'x', max);
    return (ssize_t)max;
}

static struct MHD_Response *make_response(const char *url, unsigned *status) {
    if (!strcmp(url, "/big")) {
        *status = 200;
        return MHD_create_response_from_callback(BIG_BYTES, 64 * 1024, big_body, NULL, NULL);
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const route_t *r = &routes[i];
        if (strcmp(url, r->path)) continue;
        if (r->delay_ms) usleep((useconds_t)r->delay_ms * 1000);
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            strlen(r->body), (void *)r->body, MHD_RESPMEM_PERSISTENT);
        char date[64];
        const char *value = r->value;
        if (r->header && !value) {
            time_t t = time(NULL) + 30;
            struct tm tm;
            strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&t, &tm));
            value = date;
        }
        if (r->header) MHD_add_response_header(resp, r->header, value);
        *status = r->status;
        return resp;
    }
    *status = 404;
    return MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state) {
    (void)cls, (void)method, (void)version, (void)upload;
    if (!*state) {
        *state = (void *)1;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    unsigned status;
    struct MHD_Response *resp = make_response(url, &status);
    if (!strcmp(url, "/ok")) atomic_fetch_add(&ok_hits, 1);
    atomic_fetch_add(&requests, 1);
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void on_conn(void *cls, struct MHD_Connection *c, void **socket_context,
                    enum MHD_ConnectionNotificationCode code) {
    (void)cls, (void)c, (void)socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) atomic_fetch_add(&conns, 1);
}

static void server_up(void) {
    atomic_store(&conns, 0);
    atomic_store(&requests, 0);
    atomic_store(&ok_hits, 0);
    daemon_ = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL,
        NULL, handle, NULL, MHD_OPTION_NOTIFY_CONNECTION, on_conn, NULL,
        MHD_OPTION_CONNECTION_LIMIT, 2000u, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    cr_assert(daemon_);
    port = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void server_down(void) {
    MHD_stop_daemon(daemon_);
    daemon_ = NULL;
}

/* ---- collecting results ---- */

#define MAX_REQ 1000

typedef struct {
    pthread_mutex_t mtx;
    pthread_cond_t cond;
    int done;
    int calls[MAX_REQ];
    deliver_result_t last;
} collect_t;

static collect_t col;

typedef struct {
    int index;
} ticket_t;

static ticket_t tickets[MAX_REQ];

static void collect_reset(void) {
    pthread_mutex_lock(&col.mtx);
    col.done = 0;
    memset(col.calls, 0, sizeof col.calls);
    memset(&col.last, 0, sizeof col.last);
    pthread_mutex_unlock(&col.mtx);
}

static void on_done(const deliver_result_t *r, void *opaque) {
    ticket_t *t = opaque;
    pthread_mutex_lock(&col.mtx);
    col.calls[t->index]++;
    col.done++;
    col.last = *r;
    pthread_cond_broadcast(&col.cond);
    pthread_mutex_unlock(&col.mtx);
}

/* Waits until n callbacks ran (or 20 s passed); returns how many ran. */
static int wait_done(int n) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&col.mtx);
    while (col.done < n && pthread_cond_timedwait(&col.cond, &col.mtx, &until) == 0)
        ;
    int done = col.done;
    pthread_mutex_unlock(&col.mtx);
    return done;
}

static deliver_sender_opts_t opts(int max_connections, long timeout_ms) {
    return (deliver_sender_opts_t){.max_connections = max_connections,
                                   .timeout_ms = timeout_ms,
                                   .connect_timeout_ms = 2000,
                                   .max_response_bytes = 65536};
}

static deliver_sender_t *sender(deliver_sender_opts_t o) {
    char err[256];
    deliver_sender_t *s = deliver_sender_new(&o, err, sizeof err);
    cr_assert(s, "%s", err);
    return s;
}

static const char *const json_headers[] = {"Content-Type: application/json", "webhook-id: msg_1",
                                           NULL};

static void submit_url(deliver_sender_t *s, const char *url, int index) {
    tickets[index].index = index;
    deliver_request_t req = {.url = url, .headers = json_headers, .body = "{\"a\":1}", .len = 7};
    deliver_sender_submit(s, &req, on_done, &tickets[index]);
}

static void submit_path(deliver_sender_t *s, const char *path, int index) {
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    submit_url(s, url, index);
}

/* Sends one request to path on the test server and returns its result. */
static deliver_result_t one(const char *path, deliver_sender_opts_t o) {
    collect_reset();
    deliver_sender_t *s = sender(o);
    submit_path(s, path, 0);
    cr_assert_eq(wait_done(1), 1);
    deliver_sender_destroy(s);
    return col.last;
}

static void init(void) {
    pthread_mutex_init(&col.mtx, NULL);
    pthread_cond_init(&col.cond, NULL);
    server_up();
}

TestSuite(sender, .init = init, .fini = server_down);

Test(sender, rejects_bad_options) {
    char err[256];
    deliver_sender_opts_t o = opts(0, 1000);
    cr_expect_null(deliver_sender_new(&o, err, sizeof err));
    cr_expect(strstr(err, "max_connections"), "%s", err);
    o = opts(4, 0);
    cr_expect_null(deliver_sender_new(&o, err, sizeof err));
    cr_expect_null(deliver_sender_new(NULL, err, sizeof err));
    deliver_sender_destroy(NULL);
}

Test(sender, ok_with_excerpt) {
    deliver_result_t r = one("/ok", opts(4, 5000));
    cr_expect_eq(r.net, DELIVER_NET_OK, "%s", r.error);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.excerpt, "hello from the receiver");
    cr_expect_eq(r.retry_after_ms, -1);
    cr_expect_eq(r.redirect, 0);
    cr_expect_eq(r.truncated, 0);
    cr_expect_geq(r.latency_ms, 0);
}

Test(sender, server_errors_and_gone) {
    deliver_result_t r = one("/500", opts(4, 5000));
    cr_expect_eq(r.net, DELIVER_NET_OK);
    cr_expect_eq(r.status, 500);
    cr_expect_str_eq(r.excerpt, "boom");
    r = one("/410", opts(4, 5000));
    cr_expect_eq(r.status, 410);
    r = one("/204", opts(4, 5000));
    cr_expect_eq(r.status, 204);
    cr_expect_str_eq(r.excerpt, "");
}

Test(sender, retry_after_seconds_and_http_date) {
    deliver_result_t r = one("/429s", opts(4, 5000));
    cr_expect_eq(r.status, 429);
    cr_expect_eq(r.retry_after_ms, 7000);
    r = one("/503s", opts(4, 5000));
    cr_expect_eq(r.status, 503);
    cr_expect_eq(r.retry_after_ms, 2000);
    r = one("/429d", opts(4, 5000));
    cr_expect_eq(r.status, 429);
    cr_expect(r.retry_after_ms >= 28000 && r.retry_after_ms <= 30000, "%lld",
              (long long)r.retry_after_ms);
}

Test(sender, redirect_is_not_followed) {
    deliver_result_t r = one("/redirect", opts(4, 5000));
    cr_expect_eq(r.net, DELIVER_NET_OK);
    cr_expect_eq(r.status, 302);
    cr_expect_eq(r.redirect, 1);
    cr_expect_eq(atomic_load(&ok_hits), 0);
}

Test(sender, slow_answer_within_timeout) {
    deliver_result_t r = one("/slow", opts(4, 5000));
    cr_expect_eq(r.net, DELIVER_NET_OK, "%s", r.error);
    cr_expect_eq(r.status, 204);
    cr_expect_geq(r.latency_ms, 290);
}

Test(sender, slow_answer_past_request_timeout) {
    collect_reset();
    deliver_sender_t *s = sender(opts(4, 5000));
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/slow", port);
    tickets[0].index = 0;
    deliver_request_t req = {.url = url, .body = "x", .len = 1, .timeout_ms = 100};
    deliver_sender_submit(s, &req, on_done, &tickets[0]);
    cr_assert_eq(wait_done(1), 1);
    deliver_sender_destroy(s);
    cr_expect_eq(col.last.net, DELIVER_NET_TIMEOUT);
    cr_expect_eq(col.last.status, 0);
    cr_expect_str_eq(col.last.error, "timeout after 100 ms");
}

Test(sender, huge_body_is_truncated) {
    deliver_sender_opts_t o = opts(4, 10000);
    o.max_response_bytes = 4096;
    deliver_result_t r = one("/big", o);
    cr_expect_eq(r.net, DELIVER_NET_OK, "%s", r.error);
    cr_expect_eq(r.status, 200);
    cr_expect_eq(r.truncated, 1);
    cr_expect_eq(strlen(r.excerpt), sizeof r.excerpt - 1);
    cr_expect_eq(r.excerpt[0], 'x');
    o.max_response_bytes = 10;
    r = one("/ok", o);
    cr_expect_eq(r.truncated, 1);
    cr_expect_str_eq(r.excerpt, "hello from");
}

/* A listener that never accepts: the kernel completes the handshake, nobody answers. */
static int hang_listener(int *out_port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 64), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *out_port = ntohs(a.sin_port);
    return fd;
}

Test(sender, hanging_peer_times_out) {
    int p, fd = hang_listener(&p);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", p);
    collect_reset();
    deliver_sender_t *s = sender(opts(4, 300));
    submit_url(s, url, 0);
    cr_assert_eq(wait_done(1), 1);
    deliver_sender_destroy(s);
    close(fd);
    cr_expect_eq(col.last.net, DELIVER_NET_TIMEOUT);
    cr_expect_str_eq(col.last.error, "timeout after 300 ms");
    cr_expect(col.last.latency_ms >= 290 && col.last.latency_ms < 2000, "%lld",
              (long long)col.last.latency_ms);
}

static void *reset_peer(void *arg) {
    int lfd = *(int *)arg;
    int c = accept(lfd, NULL, NULL);
    if (c < 0) return NULL;
    char buf[4096];
    ssize_t got = read(c, buf, sizeof buf);
    (void)got;
    struct linger l = {.l_onoff = 1, .l_linger = 0}; /* close with RST */
    setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(c);
    return NULL;
}

Test(sender, reset_by_peer) {
    int p, fd = hang_listener(&p);
    pthread_t t;
    pthread_create(&t, NULL, reset_peer, &fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", p);
    collect_reset();
    deliver_sender_t *s = sender(opts(4, 5000));
    submit_url(s, url, 0);
    cr_assert_eq(wait_done(1), 1);
    deliver_sender_destroy(s);
    pthread_join(t, NULL);
    close(fd);
    cr_expect_eq(col.last.net, DELIVER_NET_RESET, "%d %s", col.last.net, col.last.error);
    cr_expect_eq(col.last.status, 0);
    cr_expect(col.last.error[0]);
}

Test(sender, connection_refused) {
    int p, fd = hang_listener(&p);
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", p);
    collect_reset();
    deliver_sender_t *s = sender(opts(4, 5000));
    submit_url(s, url, 0);
    cr_assert_eq(wait_done(1), 1);
    deliver_sender_destroy(s);
    cr_expect_eq(col.last.net, DELIVER_NET_CONNECT);
    cr_expect_str_eq(col.last.error, "connection refused");
}

Test(sender, only_http_and_https) {
    collect_reset();
    deliver_sender_t *s = sender(opts(4, 5000));
    submit_url(s, "file:///etc/passwd", 0);
    submit_url(s, "not a url", 1);
    cr_assert_eq(wait_done(2), 2);
    deliver_sender_destroy(s);
    cr_expect_eq(col.calls[0], 1);
    cr_expect_eq(col.calls[1], 1);
    cr_expect_eq(col.last.net, DELIVER_NET_OTHER);
}

static int refuse_loopback(void *opaque, const struct sockaddr *sa) {
    atomic_fetch_add((atomic_int *)opaque, 1);
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    return !(sa->sa_family == AF_INET && in->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
}

Test(sender, allow_addr_refuses_loopback) {
    atomic_int asked = 0;
    deliver_sender_opts_t o = opts(4, 5000);
    o.allow_addr = refuse_loopback;
    o.allow_opaque = &asked;
    deliver_result_t r = one("/ok", o);
    cr_expect_eq(r.net, DELIVER_NET_REFUSED_ADDR, "%d %s", r.net, r.error);
    cr_expect_str_eq(r.error, "address 127.0.0.1 is not allowed");
    cr_expect_geq(atomic_load(&asked), 1);
    cr_expect_eq(atomic_load(&conns), 0);
    cr_expect_eq(atomic_load(&ok_hits), 0);
}

Test(sender, thousand_concurrent_complete_once) {
    collect_reset();
    deliver_sender_t *s = sender(opts(64, 10000));
    for (int i = 0; i < MAX_REQ; i++)
        submit_path(s, "/ok", i);
    cr_assert_eq(wait_done(MAX_REQ), MAX_REQ);
    for (int i = 0; i < 100 && deliver_sender_pending(s); i++)
        usleep(10000);
    cr_expect_eq(deliver_sender_pending(s), 0);
    deliver_sender_destroy(s);
    for (int i = 0; i < MAX_REQ; i++)
        cr_expect_eq(col.calls[i], 1, "request %d: %d callbacks", i, col.calls[i]);
    cr_expect_eq(col.done, MAX_REQ);
    cr_expect_eq(atomic_load(&ok_hits), MAX_REQ);
    cr_expect_leq(atomic_load(&conns), 64);
}

Test(sender, keep_alive_reuses_connections) {
    collect_reset();
    deliver_sender_t *s = sender(opts(4, 10000));
    for (int i = 0; i < 50; i++) {
        submit_path(s, "/ok", i);
        cr_assert_eq(wait_done(i + 1), i + 1);
    }
    cr_expect_eq(atomic_load(&conns), 1, "%d connections for 50 sequential requests",
                 atomic_load(&conns));
    for (int i = 50; i < 250; i++)
        submit_path(s, "/204", i);
    cr_assert_eq(wait_done(250), 250);
    deliver_sender_destroy(s);
    cr_expect_leq(atomic_load(&conns), 4);
    cr_expect_eq(atomic_load(&requests), 250);
}

Test(sender, destroy_completes_pending) {
    int p, fd = hang_listener(&p);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", p);
    collect_reset();
    deliver_sender_t *s = sender(opts(2, 60000));
    for (int i = 0; i < 20; i++)
        submit_url(s, url, i);
    cr_expect_eq(deliver_sender_pending(s), 20);
    usleep(100000);
    deliver_sender_destroy(s);
    close(fd);
    cr_expect_eq(col.done, 20);
    for (int i = 0; i < 20; i++)
        cr_expect_eq(col.calls[i], 1);
    cr_expect_eq(col.last.net, DELIVER_NET_OTHER);
    cr_expect_str_eq(col.last.error, "shut down");
}
