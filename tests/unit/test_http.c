#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hs_http.h"
#include "hs_metrics.h"

static char err[256];
static hs_http_server_t *srv;
static int ready_flag;

typedef struct {
    long status;
    char *body, *headers;
    size_t len, hlen;
} res_t;

typedef struct {
    char *buf;
    size_t len;
} sink_t;

static size_t sink_write(char *data, size_t size, size_t n, void *ud) {
    sink_t *s = ud;
    char *buf = realloc(s->buf, s->len + size * n + 1);
    cr_assert_not_null(buf);
    memcpy(buf + s->len, data, size * n);
    s->len += size * n;
    buf[s->len] = '\0';
    s->buf = buf;
    return size * n;
}

typedef struct {
    size_t left;
} source_t;

static size_t source_read(char *buf, size_t size, size_t n, void *ud) {
    source_t *s = ud;
    size_t k = size * n < 512 ? size * n : 512;
    k = k < s->left ? k : s->left;
    memset(buf, 'x', k);
    s->left -= k;
    return k;
}

/* One request. body: sent as is (len bytes) unless chunked > 0: then that many bytes are
 * streamed with chunked encoding. hdrs: NULL-terminated extra header lines. */
static res_t call(const char *method, const char *target, const char *body, size_t len,
                  size_t chunked, const char *const *hdrs) {
    char url[9000];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", hs_http_server_port(srv), target);
    CURL *c = curl_easy_init();
    cr_assert_not_null(c);
    sink_t b = {0}, h = {0};
    source_t src = {chunked};
    struct curl_slist *list = NULL;
    for (; hdrs && *hdrs; hdrs++)
        list = curl_slist_append(list, *hdrs);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "HEAD")) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    } else if (chunked) {
        list = curl_slist_append(list, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, source_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &src);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    CURLcode rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, target, curl_easy_strerror(rc));
    res_t r = {0};
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    r.body = b.buf ? b.buf : strdup("");
    r.len = b.len;
    r.headers = h.buf ? h.buf : strdup("");
    r.hlen = h.len;
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    return r;
}

static res_t get(const char *target) {
    return call("GET", target, NULL, 0, 0, NULL);
}

static void res_free(res_t *r) {
    free(r->body);
    free(r->headers);
}

static void assert_problem(const res_t *r, long status, const char *title) {
    cr_assert_eq(r->status, status, "status %ld, body %s", r->status, r->body);
    cr_assert(strcasestr(r->headers, "content-type: application/problem+json"), "%s", r->headers);
    json_t *doc = json_loads(r->body, 0, NULL);
    cr_assert_not_null(doc, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "type")), "about:blank");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "title")), title);
    cr_assert_eq(json_integer_value(json_object_get(doc, "status")), status);
    cr_assert(json_is_string(json_object_get(doc, "detail")));
    json_decref(doc);
}

/* Handlers under test. */

static void h_version(hs_http_req_t *req, void *opaque) {
    (void)opaque;
    const char *q = hs_http_req_query(req, "q"), *h = hs_http_req_header(req, "x-test");
    json_t *doc =
        json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s}", "subject",
                  hs_http_req_param(req, "subject"), "version", hs_http_req_param(req, "version"),
                  "q", q, "header", h, "flag", hs_http_req_query(req, "flag"), "path",
                  hs_http_req_path(req), "method", hs_http_req_method(req));
    cr_assert_null(hs_http_req_param(req, "nope"));
    cr_assert_null(hs_http_req_query(req, "absent"));
    cr_assert_null(hs_http_req_header(req, "X-Absent"));
    hs_http_add_header(req, "X-Route", "version");
    hs_http_respond_json(req, 200, doc);
}

static void h_echo(hs_http_req_t *req, void *opaque) {
    (void)opaque;
    size_t len;
    const char *body = hs_http_req_body(req, &len);
    cr_assert_eq(body[len], '\0');
    char n[32];
    snprintf(n, sizeof n, "%zu", len);
    hs_http_add_header(req, "X-Body-Len", n);
    hs_http_respond(req, 201, "application/octet-stream", body, len);
}

static void h_silent(hs_http_req_t *req, void *opaque) {
    (void)req, (void)opaque;
}

static void h_twice(hs_http_req_t *req, void *opaque) {
    (void)opaque;
    hs_http_respond(req, 200, "text/plain", "first", 5);
    hs_http_respond(req, 500, "text/plain", "second", 6);
}

static void h_bad_status(hs_http_req_t *req, void *opaque) {
    (void)opaque;
    hs_http_respond(req, 42, "text/plain", "x", 1);
}

typedef struct {
    hs_http_req_t *req;
    int delay_ms;
} later_t;

/* The gate holds answers of /gated/ requests until the test has seen them all suspended. */
static pthread_mutex_t gate_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open, gate_waiting;

static void gate_wait(void) {
    pthread_mutex_lock(&gate_mtx);
    gate_waiting++;
    pthread_cond_broadcast(&gate_cond);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_mtx);
    pthread_mutex_unlock(&gate_mtx);
}

static void *answer_later(void *arg) {
    later_t *l = arg;
    if (l->delay_ms == -2)
        gate_wait();
    else if (l->delay_ms)
        usleep((useconds_t)l->delay_ms * 1000);
    char body[64];
    snprintf(body, sizeof body, "late %s", hs_http_req_param(l->req, "id"));
    hs_http_add_header(l->req, "X-Late", "yes");
    hs_http_respond(l->req, 200, "text/plain", body, strlen(body));
    free(l);
    return NULL;
}

/* opaque: delay in ms before another thread answers; -1: the answer comes before the handler
 * returns (the thread is joined), which the server must queue without suspending; -2: the answer
 * waits for the test to open the gate. */
static void h_later(hs_http_req_t *req, void *opaque) {
    int delay = (int)(intptr_t)opaque;
    hs_http_req_suspend(req);
    later_t *l = malloc(sizeof *l);
    cr_assert_not_null(l);
    l->req = req;
    l->delay_ms = delay == -1 ? 0 : delay;
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, answer_later, l), 0);
    if (delay == -1)
        pthread_join(t, NULL);
    else
        pthread_detach(t);
}

static int is_ready(void *opaque, char *why, size_t why_size) {
    (void)opaque;
    if (!ready_flag) snprintf(why, why_size, "broker unreachable");
    return ready_flag;
}

static hs_http_server_t *start_server(const char *listen, size_t max_body) {
    hs_http_opts_t opts = {.listen = listen, .service = "test", .max_body_bytes = max_body};
    hs_http_server_t *s = hs_http_server_new(&opts, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    hs_http_route(s, "GET", "/subjects/{subject}/versions/{version}", h_version, NULL);
    hs_http_route(s, "POST", "/echo", h_echo, NULL);
    hs_http_route(s, "PUT", "/echo", h_echo, NULL);
    hs_http_route(s, "GET", "/silent", h_silent, NULL);
    hs_http_route(s, "GET", "/twice", h_twice, NULL);
    hs_http_route(s, "GET", "/bad-status", h_bad_status, NULL);
    hs_http_route(s, "GET", "/later/{id}", h_later, (void *)(intptr_t)200);
    hs_http_route(s, "GET", "/soon/{id}", h_later, (void *)(intptr_t)0);
    hs_http_route(s, "GET", "/sync/{id}", h_later, (void *)(intptr_t)-1);
    hs_http_route(s, "GET", "/gated/{id}", h_later, (void *)(intptr_t)-2);
    hs_http_route(s, "GET", "/", h_silent, NULL);
    cr_assert_eq(hs_http_server_start(s, err, sizeof err), HS_OK, "%s", err);
    cr_assert_gt(hs_http_server_port(s), 0);
    return s;
}

static void setup(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    srv = start_server("127.0.0.1:0", 1024);
}

static void teardown(void) {
    hs_http_server_destroy(srv);
    srv = NULL;
    hs_metrics_reset();
    curl_global_cleanup();
}

TestSuite(http, .init = setup, .fini = teardown);

Test(http, route_params_are_url_decoded_with_query_and_headers) {
    const char *hdrs[] = {"X-Test: hello", NULL};
    res_t r = call("GET", "/subjects/a%2Fb%20c/versions/1?q=x%26y&flag", NULL, 0, 0, hdrs);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strcasestr(r.headers, "content-type: application/json"), "%s", r.headers);
    cr_assert(strcasestr(r.headers, "x-route: version"), "%s", r.headers);
    json_t *doc = json_loads(r.body, 0, NULL);
    cr_assert_not_null(doc, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "subject")), "a/b c");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "version")), "1");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "q")), "x&y");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "header")), "hello");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "flag")), "");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "path")),
                     "/subjects/a%2Fb%20c/versions/1");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "method")), "GET");
    json_decref(doc);
    res_free(&r);
}

Test(http, head_is_served_by_get_routes) {
    res_t r = call("HEAD", "/healthz", NULL, 0, 0, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.len, 0);
    res_free(&r);
}

Test(http, root_route_matches_only_root) {
    res_t r = get("/"); /* h_silent: the server answers 500 for a handler that did not */
    assert_problem(&r, 500, "Internal Server Error");
    res_free(&r);
}

Test(http, unknown_path_is_404_problem) {
    static const char *const paths[] = {"/nope", "/subjects/x/versions", "/subjects//versions/1",
                                        "/echo/", "/subjects/x/versions/1/extra"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        res_t r = get(paths[i]);
        assert_problem(&r, 404, "Not Found");
        res_free(&r);
    }
}

Test(http, wrong_method_is_405_with_allow) {
    res_t r = call("DELETE", "/echo", NULL, 0, 0, NULL);
    assert_problem(&r, 405, "Method Not Allowed");
    cr_assert(strcasestr(r.headers, "allow: POST, PUT\r\n"), "%s", r.headers);
    res_free(&r);
    r = call("POST", "/healthz", "x", 1, 0, NULL);
    assert_problem(&r, 405, "Method Not Allowed");
    cr_assert(strcasestr(r.headers, "allow: GET\r\n"), "%s", r.headers);
    res_free(&r);
}

Test(http, malformed_percent_encoding_is_400) {
    static const char *const paths[] = {"/subjects/%zz/versions/1", "/subjects/%2/versions/1",
                                        "/subjects/a%00/versions/1", "/later/%"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        res_t r = get(paths[i]);
        assert_problem(&r, 400, "Bad Request");
        res_free(&r);
    }
}

Test(http, overlong_uri_is_414) {
    char target[8300] = "/subjects/";
    memset(target + 10, 'a', 8250);
    target[8260] = '\0';
    res_t r = get(target);
    assert_problem(&r, 414, "URI Too Long");
    res_free(&r);
}

Test(http, body_up_to_the_limit_is_echoed) {
    char body[1024];
    memset(body, 'b', sizeof body);
    res_t r = call("POST", "/echo", body, sizeof body, 0, NULL);
    cr_assert_eq(r.status, 201);
    cr_assert_eq(r.len, sizeof body);
    cr_assert(strcasestr(r.headers, "x-body-len: 1024\r\n"), "%s", r.headers);
    res_free(&r);
    r = call("POST", "/echo", "", 0, 0, NULL);
    cr_assert_eq(r.status, 201);
    cr_assert(strcasestr(r.headers, "x-body-len: 0\r\n"), "%s", r.headers);
    res_free(&r);
    r = call("PUT", "/echo", NULL, 0, 1024, NULL); /* chunked, exactly at the limit */
    cr_assert_eq(r.status, 201);
    cr_assert_eq(r.len, 1024);
    res_free(&r);
}

Test(http, body_over_the_limit_is_413_from_content_length) {
    char body[2000];
    memset(body, 'b', sizeof body);
    const char *hdrs[] = {"Expect:", NULL};
    res_t r = call("POST", "/echo", body, sizeof body, 0, hdrs);
    assert_problem(&r, 413, "Content Too Large");
    res_free(&r);
}

Test(http, expect_100_continue_is_honoured) {
    char body[1000];
    memset(body, 'e', sizeof body);
    const char *hdrs[] = {"Expect: 100-continue", NULL};
    res_t r = call("POST", "/echo", body, sizeof body, 0, hdrs);
    cr_assert_eq(r.status, 201);
    cr_assert_eq(r.len, sizeof body);
    res_free(&r);
    char big[5000]; /* refused before the client sends it */
    memset(big, 'e', sizeof big);
    r = call("POST", "/echo", big, sizeof big, 0, hdrs);
    assert_problem(&r, 413, "Content Too Large");
    res_free(&r);
}

Test(http, oversized_headers_are_refused_by_the_server) {
    size_t n = 100 * 1024;
    char *line = malloc(n + 16);
    cr_assert_not_null(line);
    memcpy(line, "X-Big: ", 7);
    memset(line + 7, 'h', n);
    line[n + 7] = '\0';
    const char *hdrs[] = {line, NULL};
    res_t r = call("GET", "/healthz", NULL, 0, 0, hdrs);
    cr_assert_geq(r.status, 400, "%ld", r.status);
    cr_assert_lt(r.status, 500, "%ld", r.status);
    res_free(&r);
    free(line);
}

Test(http, body_over_the_limit_is_413_while_streaming) {
    res_t r = call("POST", "/echo", NULL, 0, 4096, NULL);
    assert_problem(&r, 413, "Content Too Large");
    res_free(&r);
}

Test(http, healthz_and_readyz_without_check) {
    res_t r = get("/healthz");
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{\"status\":\"ok\"}");
    res_free(&r);
    r = get("/readyz");
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{\"status\":\"ready\"}");
    res_free(&r);
}

Test(http, readyz_follows_the_ready_function) {
    hs_http_server_destroy(srv);
    hs_http_opts_t opts = {.listen = "127.0.0.1:0", .service = "test"};
    srv = hs_http_server_new(&opts, err, sizeof err);
    cr_assert_not_null(srv, "%s", err);
    hs_http_set_ready(srv, is_ready, NULL);
    cr_assert_eq(hs_http_server_start(srv, err, sizeof err), HS_OK, "%s", err);
    ready_flag = 0;
    res_t r = get("/readyz");
    cr_assert_eq(r.status, 503);
    cr_assert_str_eq(r.body, "{\"status\":\"not ready\",\"reason\":\"broker unreachable\"}");
    res_free(&r);
    ready_flag = 1;
    r = get("/readyz");
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{\"status\":\"ready\"}");
    res_free(&r);
}

Test(http, metrics_count_requests_by_route_pattern) {
    static const char *const targets[] = {"/subjects/s1/versions/1", "/subjects/s2/versions/2",
                                          "/nope/at/all"};
    for (size_t i = 0; i < 3; i++) {
        res_t r = get(targets[i]);
        res_free(&r);
    }
    const char *want = "hs_http_requests_total{service=\"test\",route=\"/subjects/{subject}/"
                       "versions/{version}\",method=\"GET\",code=\"200\"} 2\n";
    const char *unmatched = "hs_http_requests_total{service=\"test\",route=\"unmatched\","
                            "method=\"GET\",code=\"404\"} 1\n";
    int found = 0;
    for (int i = 0; i < 100 && !found; i++) { /* counted when the response is sent */
        res_t r = get("/metrics");
        cr_assert_eq(r.status, 200);
        cr_assert(strcasestr(r.headers, "content-type: text/plain; version=0.0.4\r\n"));
        found = strstr(r.body, want) && strstr(r.body, unmatched) &&
                strstr(r.body, "hs_http_request_duration_seconds_bucket{service=\"test\","
                               "route=\"/subjects/{subject}/versions/{version}\",le=\"+Inf\"} 2") &&
                strstr(r.body, "\nprocess_resident_memory_bytes ");
        if (!found && i == 99) cr_log_error("%s", r.body);
        res_free(&r);
        if (!found) usleep(10000);
    }
    cr_assert(found);
}

Test(http, handler_without_answer_gets_500) {
    res_t r = get("/silent");
    assert_problem(&r, 500, "Internal Server Error");
    res_free(&r);
}

Test(http, second_answer_is_dropped) {
    res_t r = get("/twice");
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "first");
    res_free(&r);
}

Test(http, invalid_status_becomes_500) {
    res_t r = get("/bad-status");
    assert_problem(&r, 500, "Internal Server Error");
    res_free(&r);
}

Test(http, answer_before_the_handler_returns) {
    for (int i = 0; i < 20; i++) {
        res_t r = get("/sync/7");
        cr_assert_eq(r.status, 200);
        cr_assert_str_eq(r.body, "late 7");
        res_free(&r);
    }
}

typedef struct {
    const char *prefix;
    int id;
    res_t res;
} job_t;

static void *run_job(void *arg) {
    job_t *j = arg;
    char target[64];
    snprintf(target, sizeof target, "%s%d", j->prefix, j->id);
    j->res = get(target);
    return NULL;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run_concurrent(const char *prefix, int n, double max_seconds) {
    job_t jobs[64];
    pthread_t threads[64];
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        jobs[i] = (job_t){prefix, i, {0}};
        cr_assert_eq(pthread_create(&threads[i], NULL, run_job, &jobs[i]), 0);
    }
    for (int i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
    double elapsed = now_s() - t0;
    for (int i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof want, "late %d", i);
        cr_assert_eq(jobs[i].res.status, 200);
        cr_assert_str_eq(jobs[i].res.body, want);
        cr_assert(strcasestr(jobs[i].res.headers, "x-late: yes\r\n"));
        res_free(&jobs[i].res);
    }
    cr_assert_lt(elapsed, max_seconds, "%d requests took %.2fs", n, elapsed);
}

static void *open_gate_when_all_wait(void *arg) {
    int n = (int)(intptr_t)arg;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 30;
    pthread_mutex_lock(&gate_mtx);
    while (gate_waiting < n && pthread_cond_timedwait(&gate_cond, &gate_mtx, &deadline) == 0) {
    }
    gate_open = 1;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_mtx);
    return (void *)(intptr_t)gate_waiting;
}

/* 32 requests on 2 server threads, none answered until all 32 are suspended at once: only
 * possible when a suspended request holds no server thread. */
Test(http, suspended_requests_hold_no_thread) {
    pthread_t opener;
    cr_assert_eq(pthread_create(&opener, NULL, open_gate_when_all_wait, (void *)(intptr_t)32), 0);
    run_concurrent("/gated/", 32, 60.0);
    void *seen;
    pthread_join(opener, &seen);
    cr_assert_eq((int)(intptr_t)seen, 32, "only %d requests were suspended at once",
                 (int)(intptr_t)seen);
}

Test(http, suspended_requests_are_answered_from_other_threads) {
    run_concurrent("/later/", 32, 60.0);
}

Test(http, immediate_answers_race_the_handler_return) {
    for (int round = 0; round < 5; round++)
        run_concurrent("/soon/", 32, 60.0);
}

static volatile int destroy_done;

static void *destroy_now(void *arg) {
    hs_http_server_destroy(arg);
    destroy_done = 1;
    return NULL;
}

/* Waits until the request is suspended, destroys the server from another thread, and opens the
 * gate only after checking that destroy has not returned: it must wait for the answer. */
static void *destroy_while_suspended(void *arg) {
    (void)arg;
    pthread_mutex_lock(&gate_mtx);
    while (gate_waiting < 1)
        pthread_cond_wait(&gate_cond, &gate_mtx);
    pthread_mutex_unlock(&gate_mtx);
    hs_http_server_t *s = srv;
    srv = NULL; /* the server is the destroying thread's now, not teardown's */
    pthread_t d;
    cr_assert_eq(pthread_create(&d, NULL, destroy_now, s), 0);
    usleep(100000);
    int returned_early = destroy_done;
    pthread_mutex_lock(&gate_mtx);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_mtx);
    pthread_join(d, NULL);
    return (void *)(intptr_t)returned_early;
}

Test(http, destroy_waits_for_suspended_requests) {
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, destroy_while_suspended, NULL), 0);
    res_t r = get("/gated/9");
    void *returned_early;
    pthread_join(t, &returned_early);
    cr_assert_not(returned_early, "destroy returned while a request was still suspended");
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "late 9");
    res_free(&r);
}

Test(http, port_in_use_names_the_address) {
    char listen[64], want[128];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", hs_http_server_port(srv));
    hs_http_opts_t opts = {.listen = listen, .service = "other"};
    hs_http_server_t *other = hs_http_server_new(&opts, err, sizeof err);
    cr_assert_not_null(other, "%s", err);
    cr_assert_eq(hs_http_server_start(other, err, sizeof err), HS_ERR_UNAVAILABLE);
    snprintf(want, sizeof want, "listen %s: address already in use", listen);
    cr_assert_str_eq(err, want);
    hs_http_server_destroy(other);
}

Test(http, start_twice_is_refused) {
    cr_assert_eq(hs_http_server_start(srv, err, sizeof err), HS_ERR_INVALID);
    cr_assert(strstr(err, "already started"), "%s", err);
}

Test(http, invalid_listen_addresses_are_refused) {
    static const char *const bad[] = {
        "",       "8080",    "localhost", "host:",    "h:99999", "h:12a",
        "::1:80", "[::1]80", "[::1:80",   "h:123456", "h:-1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hs_http_opts_t opts = {.listen = bad[i]};
        cr_assert_null(hs_http_server_new(&opts, err, sizeof err), "%s accepted", bad[i]);
        cr_assert(strstr(err, "listen '"), "%s", err);
    }
    hs_http_opts_t opts = {.listen = "127.0.0.1:0", .threads = -1};
    cr_assert_null(hs_http_server_new(&opts, err, sizeof err));
    cr_assert(strstr(err, "threads -1"), "%s", err);
}

Test(http, unresolvable_host_is_refused_at_start) {
    hs_http_opts_t opts = {.listen = "no-such-host.invalid:0"};
    hs_http_server_t *s = hs_http_server_new(&opts, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    cr_assert_eq(hs_http_server_start(s, err, sizeof err), HS_ERR_INVALID);
    cr_assert(strstr(err, "listen no-such-host.invalid:0: "), "%s", err);
    hs_http_server_destroy(s);
}

Test(http, ipv6_loopback) {
    hs_http_opts_t opts = {.listen = "[::1]:0", .threads = 1};
    hs_http_server_t *s = hs_http_server_new(&opts, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    if (hs_http_server_start(s, err, sizeof err) != HS_OK) {
        hs_http_server_destroy(s);
        cr_skip_test("no IPv6 loopback here: %s", err);
    }
    char url[64];
    snprintf(url, sizeof url, "http://[::1]:%d/healthz", hs_http_server_port(s));
    CURL *c = curl_easy_init();
    sink_t b = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    cr_assert_eq(status, 200);
    cr_assert_str_eq(b.buf, "{\"status\":\"ok\"}");
    free(b.buf);
    curl_easy_cleanup(c);
    hs_http_server_destroy(s);
}

Test(http, destroy_null_and_unstarted) {
    hs_http_server_destroy(NULL);
    hs_http_opts_t opts = {.listen = "127.0.0.1:0"};
    hs_http_server_t *s = hs_http_server_new(&opts, err, sizeof err);
    cr_assert_not_null(s);
    hs_http_server_destroy(s);
}

static void plain_error(hs_http_req_t *req, int status, const char *title, const char *detail) {
    char body[256];
    int n = snprintf(body, sizeof body, "%d|%s|%s", status, title, detail);
    hs_http_respond(req, status, "text/plain", body, (size_t)n);
}

Test(http, the_service_can_shape_the_servers_own_errors) {
    hs_http_server_destroy(srv);
    hs_http_opts_t opts = {.listen = "127.0.0.1:0", .service = "test", .max_body_bytes = 1024};
    srv = hs_http_server_new(&opts, err, sizeof err);
    cr_assert_not_null(srv, "%s", err);
    hs_http_route(srv, "POST", "/echo", h_echo, NULL);
    hs_http_set_error_fn(srv, plain_error);
    cr_assert_eq(hs_http_server_start(srv, err, sizeof err), HS_OK, "%s", err);
    res_t r = get("/nope");
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(r.body, "404|Not Found|no route matches this path");
    res_free(&r);
    r = call("GET", "/echo", NULL, 0, 0, NULL);
    cr_assert_eq(r.status, 405);
    cr_assert(strcasestr(r.headers, "allow: POST\r\n"), "%s", r.headers);
    cr_assert(strncmp(r.body, "405|", 4) == 0, "%s", r.body);
    res_free(&r);
    r = get("/healthz"); /* built-in routes keep their own answers */
    cr_assert_eq(r.status, 200);
    res_free(&r);
}

/* A fallback handler that echoes what it saw: method, target, a header, the client address. */
static int count_header(void *opaque, const char *name, const char *value) {
    (void)value;
    if (!strcasecmp(name, "X-Probe")) (*(int *)opaque)++;
    return 0;
}

static void h_fallback(hs_http_req_t *req, void *opaque) {
    (void)opaque;
    char peer[64], body[9000];
    int probes = 0;
    hs_http_req_headers(req, count_header, &probes);
    snprintf(body, sizeof body, "%s %s %d %s", hs_http_req_method(req), hs_http_req_target(req),
             probes, hs_http_req_peer(req, peer, sizeof peer));
    hs_http_respond(req, 299, "text/plain", body, strlen(body));
}

static void bare_server(int with_fallback) {
    hs_http_server_destroy(srv);
    hs_http_opts_t opts = {.listen = "127.0.0.1:0", .service = "test", .no_builtins = 1};
    srv = hs_http_server_new(&opts, err, sizeof err);
    cr_assert_not_null(srv, "%s", err);
    hs_http_route(srv, "POST", "/echo", h_echo, NULL);
    if (with_fallback) hs_http_set_fallback(srv, h_fallback, NULL);
    cr_assert_eq(hs_http_server_start(srv, err, sizeof err), HS_OK, "%s", err);
}

Test(http, fallback_answers_every_unmatched_request) {
    bare_server(1);
    static const char *const cases[][2] = {
        {"GET", "/metrics"}, /* no built-ins: the fallback's */
        {"GET", "/products/42?fields=a%20b&x"},
        {"DELETE", "/echo"}, /* known path, other method: not a 405 */
        {"PATCH", "/"},
        {"GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/1/2/3/4/5/6/7/8"},
    };
    const char *const hdrs[] = {"X-Probe: 1", "x-probe: 2", NULL};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        res_t r = call(cases[i][0], cases[i][1], NULL, 0, 0, hdrs);
        char want[9000];
        snprintf(want, sizeof want, "%s %s 2 127.0.0.1", cases[i][0], cases[i][1]);
        cr_assert_eq(r.status, 299, "%s %s: %ld", cases[i][0], cases[i][1], r.status);
        cr_assert_str_eq(r.body, want);
        res_free(&r);
    }
    res_t r = call("POST", "/echo", "hi", 2, 0, NULL); /* routes still come first */
    cr_assert_eq(r.status, 201);
    res_free(&r);
    r = get("/bad/%zz");
    assert_problem(&r, 400, "Bad Request");
    res_free(&r);
    char *text = hs_metrics_render();
    cr_assert(strstr(text, "route=\"fallback\""), "counted under route fallback");
    free(text);
}

Test(http, no_builtins_without_fallback_is_404) {
    bare_server(0);
    res_t r = get("/healthz");
    assert_problem(&r, 404, "Not Found");
    res_free(&r);
}
