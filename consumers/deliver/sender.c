/* One thread, one CURLM: submissions go through a mutex-guarded FIFO and a curl_multi_wakeup,
 * the thread moves them into the multi handle while fewer than max_connections run, and
 * finished transfers return their easy handle to a pool so the multi handle's connection cache
 * keeps the keep-alive connections warm. Nothing here blocks the submitting thread on I/O. */
#include "sender.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hs_err.h"
#include "hs_metrics.h"
#include "hs_sigutil.h"
#include "hs_ssrf.h"

/* One request from submit to callback.
 * @locality: the submitter until queued, then the sender thread. */
typedef struct job {
    struct job *next, *prev;
    deliver_sender_t *s;
    char *url;                  /* url, body and header lines live in the job's allocation */
    struct curl_slist *headers; /* nodes too (libcurl only reads the list) */
    void *body;
    size_t len;
    long timeout_ms;
    deliver_done_fn cb;
    void *opaque;
    CURL *easy;
    size_t max_body;    /* opts.max_response_bytes */
    size_t received;    /* body bytes read */
    size_t excerpt_len; /* bytes kept in res.excerpt */
    int refused_addr;   /* allow_addr said no to an address of this transfer */
    char refused[64];   /* the last refused address, for the error text */
    char curl_err[CURL_ERROR_SIZE];
    deliver_result_t res;
} job_t;

/* @locality: fields without @locks belong to the sender thread. */
struct deliver_sender {
    deliver_sender_opts_t o;
    CURLM *multi;
    pthread_t thread;
    pthread_mutex_t mtx;
    job_t *q_head, *q_tail; /* @locks: mtx */
    size_t pending;         /* @locks: mtx */
    int signalled;          /* @locks: mtx; a wakeup is on its way since the last take */
    int stopping;           /* @locks: mtx */
    job_t *running;         /* doubly linked */
    int nrunning;
    CURL **pool; /* idle easy handles, at most max_connections */
    int npool;
    hs_metric_t *m_requests, *m_seconds, *m_in_flight;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static const struct {
    CURLcode code;
    deliver_net_t net;
} net_map[] = {
    {CURLE_OPERATION_TIMEDOUT, DELIVER_NET_TIMEOUT},
    {CURLE_COULDNT_CONNECT, DELIVER_NET_CONNECT},
    {CURLE_COULDNT_RESOLVE_HOST, DELIVER_NET_CONNECT},
    {CURLE_COULDNT_RESOLVE_PROXY, DELIVER_NET_CONNECT},
    {CURLE_RECV_ERROR, DELIVER_NET_RESET},
    {CURLE_SEND_ERROR, DELIVER_NET_RESET},
    {CURLE_GOT_NOTHING, DELIVER_NET_RESET},
    {CURLE_PARTIAL_FILE, DELIVER_NET_RESET},
    {CURLE_SSL_CONNECT_ERROR, DELIVER_NET_TLS},
    {CURLE_PEER_FAILED_VERIFICATION, DELIVER_NET_TLS},
    {CURLE_SSL_CERTPROBLEM, DELIVER_NET_TLS},
    {CURLE_SSL_CIPHER, DELIVER_NET_TLS},
    {CURLE_SSL_CACERT_BADFILE, DELIVER_NET_TLS},
    {CURLE_SSL_ISSUER_ERROR, DELIVER_NET_TLS},
    {CURLE_USE_SSL_FAILED, DELIVER_NET_TLS},
};

/* Label values of deliver_http_requests_total for transfers without an HTTP answer. */
static const char *const net_class[] = {
    [DELIVER_NET_OK] = "ok",
    [DELIVER_NET_TIMEOUT] = "timeout",
    [DELIVER_NET_CONNECT] = "connect",
    [DELIVER_NET_RESET] = "reset",
    [DELIVER_NET_REFUSED_ADDR] = "refused_addr",
    [DELIVER_NET_TLS] = "tls",
    [DELIVER_NET_OTHER] = "other",
};

static deliver_net_t net_of(CURLcode rc) {
    for (size_t i = 0; i < sizeof net_map / sizeof net_map[0]; i++)
        if (net_map[i].code == rc) return net_map[i].net;
    return DELIVER_NET_OTHER;
}

static void job_free(job_t *j) {
    free(j);
}

/* Keeps the first bytes as the excerpt and cuts the transfer (by returning less than given)
 * once the body grows past max_response_bytes, so a huge answer costs no memory. */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *opaque) {
    job_t *j = opaque;
    size_t add = size * nmemb;
    size_t allowed = j->received < j->max_body ? j->max_body - j->received : 0;
    size_t take = add < allowed ? add : allowed;
    size_t room = sizeof j->res.excerpt - 1 - j->excerpt_len;
    size_t keep = take < room ? take : room;
    memcpy(j->res.excerpt + j->excerpt_len, ptr, keep);
    j->excerpt_len += keep;
    j->res.excerpt[j->excerpt_len] = 0;
    j->received += take;
    if (take < add) {
        j->res.truncated = 1;
        return 0;
    }
    return add;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *opaque) {
    job_t *j = opaque;
    size_t len = size * nmemb;
    static const char name[] = "retry-after:";
    if (len >= 5 && !strncmp(ptr, "HTTP/", 5)) {
        /* a new response (after a 1xx): its own headers count, not the previous ones */
        j->res.retry_after_ms = -1;
        return len;
    }
    if (len <= sizeof name - 1 || strncasecmp(ptr, name, sizeof name - 1)) return len;
    char v[128];
    size_t a = sizeof name - 1, b = len;
    while (a < b && (ptr[a] == ' ' || ptr[a] == '\t'))
        a++;
    while (b > a && (ptr[b - 1] == '\r' || ptr[b - 1] == '\n' || ptr[b - 1] == ' '))
        b--;
    if (b - a >= sizeof v) return len;
    memcpy(v, ptr + a, b - a);
    v[b - a] = 0;
    int64_t ms;
    if (!hs_sig_retry_after_ms(v, (int64_t)time(NULL), &ms)) j->res.retry_after_ms = ms;
    return len;
}

/* Connect-time SSRF guard: every address of every new connection is asked about, so a DNS name
 * that resolves (or re-resolves) to a refused address never gets a socket. */
static curl_socket_t on_open(void *opaque, curlsocktype purpose, struct curl_sockaddr *addr) {
    job_t *j = opaque;
    const deliver_sender_opts_t *o = &j->s->o;
    if (purpose == CURLSOCKTYPE_IPCXN && o->allow_addr &&
        !o->allow_addr(o->allow_opaque, &addr->addr)) {
        hs_ssrf_addr_str(&addr->addr, j->refused, sizeof j->refused);
        j->refused_addr = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

static void complete(deliver_sender_t *s, job_t *j) {
    j->cb(&j->res, j->opaque);
    job_free(j);
    pthread_mutex_lock(&s->mtx);
    s->pending--;
    pthread_mutex_unlock(&s->mtx);
}

static void fail(deliver_sender_t *s, job_t *j, deliver_net_t net, const char *msg) {
    j->res.net = net;
    j->res.status = 0;
    snprintf(j->res.error, sizeof j->res.error, "%s", msg);
    complete(s, j);
}

/* A new easy handle with the options every transfer shares; job_start sets the rest, so a
 * pooled handle is reused as it is (curl_easy_reset per transfer costs more than the POST). */
static CURL *easy_new(deliver_sender_t *s) {
    CURL *e = curl_easy_init();
    if (!e) return NULL;
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, s->o.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    /* An http_proxy variable would send every webhook through the proxy and past the
     * connect-time address check; deliveries always go direct. */
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "hookstream-deliver");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open);
    return e;
}

static CURL *easy_get(deliver_sender_t *s) {
    return s->npool > 0 ? s->pool[--s->npool] : easy_new(s);
}

static void easy_put(deliver_sender_t *s, CURL *e) {
    if (s->npool < s->o.max_connections)
        s->pool[s->npool++] = e;
    else
        curl_easy_cleanup(e);
}

static void running_link(deliver_sender_t *s, job_t *j) {
    j->prev = NULL;
    j->next = s->running;
    if (s->running) s->running->prev = j;
    s->running = j;
    s->nrunning++;
    hs_metric_add(s->m_in_flight, NULL, 1);
}

static void running_unlink(deliver_sender_t *s, job_t *j) {
    if (j->prev)
        j->prev->next = j->next;
    else
        s->running = j->next;
    if (j->next) j->next->prev = j->prev;
    j->next = j->prev = NULL;
    s->nrunning--;
    hs_metric_add(s->m_in_flight, NULL, -1);
}

static void job_start(deliver_sender_t *s, job_t *j) {
    CURL *e = easy_get(s);
    if (!e) {
        fail(s, j, DELIVER_NET_OTHER, "out of memory");
        return;
    }
    j->easy = e;
    j->max_body = s->o.max_response_bytes;
    /* Every option that points at the job is set again: the handle may come from the pool. */
    curl_easy_setopt(e, CURLOPT_URL, j->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->len);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, j->timeout_ms);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->curl_err);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, j);
    if (curl_multi_add_handle(s->multi, e) != CURLM_OK) {
        easy_put(s, e);
        fail(s, j, DELIVER_NET_OTHER, "cannot start the transfer");
        return;
    }
    running_link(s, j);
}

/* Fills j->res.error for a transfer that ended without a usable HTTP answer. */
static void net_error(job_t *j, CURLcode rc, long status) {
    char *err = j->res.error;
    size_t n = sizeof j->res.error;
    long oserr = 0;
    curl_off_t connected = 0;
    curl_easy_getinfo(j->easy, CURLINFO_OS_ERRNO, &oserr);
    curl_easy_getinfo(j->easy, CURLINFO_CONNECT_TIME_T, &connected);
    if (j->res.net == DELIVER_NET_REFUSED_ADDR)
        snprintf(err, n, "address %s is not allowed", j->refused);
    else if (j->res.net == DELIVER_NET_TIMEOUT && !connected)
        snprintf(err, n, "connect timeout after %ld ms", j->s->o.connect_timeout_ms);
    else if (j->res.net == DELIVER_NET_TIMEOUT)
        snprintf(err, n, "timeout after %ld ms", j->timeout_ms);
    else if (oserr == ECONNREFUSED)
        snprintf(err, n, "connection refused");
    else if (oserr == ECONNRESET)
        snprintf(err, n, "connection reset by peer");
    else if (rc == CURLE_GOT_NOTHING)
        snprintf(err, n, "connection closed without an answer");
    else
        snprintf(err, n, "%s", j->curl_err[0] ? j->curl_err : curl_easy_strerror(rc));
    size_t len = strlen(err);
    if (status > 0 && len < n) snprintf(err + len, n - len, " (after HTTP %ld)", status);
}

static void observe(deliver_sender_t *s, const deliver_result_t *r) {
    static const char *const code_class[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    const char *label;
    if (r->net == DELIVER_NET_OK && r->status >= 100 && r->status < 600)
        label = code_class[r->status / 100 - 1];
    else
        label = net_class[r->net == DELIVER_NET_OK ? DELIVER_NET_OTHER : r->net];
    hs_metric_add(s->m_requests, &label, 1);
    hs_metric_observe(s->m_seconds, NULL, (double)r->latency_ms / 1000.0);
}

static void job_done(deliver_sender_t *s, job_t *j, CURLcode rc) {
    long status = 0;
    curl_off_t total_us = 0;
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(j->easy, CURLINFO_TOTAL_TIME_T, &total_us);
    j->res.latency_ms = (int64_t)(total_us / 1000);
    if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && j->res.truncated)) {
        j->res.net = DELIVER_NET_OK;
        j->res.status = (int)status;
        j->res.redirect = status >= 300 && status < 400;
    } else {
        j->res.net =
            j->refused_addr && rc == CURLE_COULDNT_CONNECT ? DELIVER_NET_REFUSED_ADDR : net_of(rc);
        j->res.status = 0;
        net_error(j, rc, status);
    }
    observe(s, &j->res);
    easy_put(s, j->easy);
    j->easy = NULL;
    complete(s, j);
}

/* Hands every finished transfer to its callback; returns how many finished. */
static int drain(deliver_sender_t *s) {
    int n = 0, left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(s->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL *e = m->easy_handle;
        CURLcode rc = m->data.result;
        job_t *j = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&j);
        curl_multi_remove_handle(s->multi, e);
        running_unlink(s, j);
        job_done(s, j, rc);
        n++;
    }
    return n;
}

/* Takes as many queued jobs as there are free transfer slots; returns them as a list, or NULL
 * with *stop set once destroy has begun. */
static job_t *take_queued(deliver_sender_t *s, int *stop) {
    job_t *head = NULL, **tail = &head;
    pthread_mutex_lock(&s->mtx);
    *stop = s->stopping;
    s->signalled = 0;
    for (int room = s->o.max_connections - s->nrunning; !*stop && room > 0 && s->q_head; room--) {
        job_t *j = s->q_head;
        s->q_head = j->next;
        if (!s->q_head) s->q_tail = NULL;
        j->next = NULL;
        *tail = j;
        tail = &j->next;
    }
    pthread_mutex_unlock(&s->mtx);
    return head;
}

static void shutdown_all(deliver_sender_t *s) {
    while (s->running) {
        job_t *j = s->running;
        curl_multi_remove_handle(s->multi, j->easy);
        running_unlink(s, j);
        easy_put(s, j->easy);
        j->easy = NULL;
        fail(s, j, DELIVER_NET_OTHER, "shut down");
    }
    /* callbacks may submit more while this runs: loop until the queue stays empty */
    for (;;) {
        pthread_mutex_lock(&s->mtx);
        job_t *j = s->q_head;
        if (j) {
            s->q_head = j->next;
            if (!s->q_head) s->q_tail = NULL;
        }
        pthread_mutex_unlock(&s->mtx);
        if (!j) break;
        fail(s, j, DELIVER_NET_OTHER, "shut down");
    }
}

static void *run(void *arg) {
    deliver_sender_t *s = arg;
    for (;;) {
        int stop;
        job_t *j = take_queued(s, &stop);
        if (stop) break;
        while (j) {
            job_t *next = j->next;
            job_start(s, j);
            j = next;
        }
        int still;
        curl_multi_perform(s->multi, &still);
        if (!drain(s)) curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
    }
    shutdown_all(s);
    return NULL;
}

static int has_content_type(const char *const *h) {
    for (; h && *h; h++)
        if (!strncasecmp(*h, "content-type:", 13)) return 1;
    return 0;
}

/* One allocation per request: the job, its header list nodes, the URL, the body and the
 * header lines (a request costs one malloc and one free, not one per header). */
static job_t *job_new(const deliver_sender_t *s, const deliver_request_t *req) {
    /* "Expect:" stops curl from waiting for 100-continue before sending bigger bodies */
    const char *extra[] = {
        "Expect:", has_content_type(req->headers) ? NULL : "Content-Type: application/json"};
    const char *url = req->url ? req->url : "";
    size_t given = 0, nh, text = strlen(url) + 1 + req->len;
    for (; req->headers && req->headers[given]; given++)
        text += strlen(req->headers[given]) + 1;
    nh = given;
    for (size_t i = 0; i < 2 && extra[i]; i++, nh++)
        text += strlen(extra[i]) + 1;
    job_t *j = calloc(1, sizeof *j + nh * sizeof(struct curl_slist) + text);
    if (!j) return NULL;
    struct curl_slist *node = (struct curl_slist *)(j + 1);
    char *p = (char *)(node + nh);
    j->res.retry_after_ms = -1;
    j->url = memcpy(p, url, strlen(url) + 1);
    p += strlen(url) + 1;
    j->body = memcpy(p, req->body ? req->body : "", req->len);
    p += req->len;
    j->len = req->len;
    j->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : s->o.timeout_ms;
    struct curl_slist **tail = &j->headers;
    for (size_t i = 0; i < nh; i++) {
        const char *line = i < given ? req->headers[i] : extra[i - given];
        node[i].data = memcpy(p, line, strlen(line) + 1);
        p += strlen(line) + 1;
        *tail = &node[i];
        tail = &node[i].next;
    }
    *tail = NULL;
    return j;
}

void deliver_sender_submit(deliver_sender_t *s, const deliver_request_t *req, deliver_done_fn cb,
                           void *opaque) {
    job_t *j = job_new(s, req);
    if (!j) {
        deliver_result_t r = {.net = DELIVER_NET_OTHER, .retry_after_ms = -1};
        snprintf(r.error, sizeof r.error, "out of memory");
        cb(&r, opaque);
        return;
    }
    j->s = s;
    j->cb = cb;
    j->opaque = opaque;
    /* The sender's own callbacks submit most requests; its loop takes the queue again before
     * it waits, so they need no wakeup, and neither does anyone while one is on its way. */
    int own = pthread_equal(pthread_self(), s->thread);
    pthread_mutex_lock(&s->mtx);
    if (s->q_tail)
        s->q_tail->next = j;
    else
        s->q_head = j;
    s->q_tail = j;
    s->pending++;
    int wake = !own && !s->signalled;
    if (wake) s->signalled = 1;
    pthread_mutex_unlock(&s->mtx);
    if (wake) curl_multi_wakeup(s->multi);
}

size_t deliver_sender_pending(deliver_sender_t *s) {
    pthread_mutex_lock(&s->mtx);
    size_t n = s->pending;
    pthread_mutex_unlock(&s->mtx);
    return n;
}

static void sender_free(deliver_sender_t *s) {
    for (int i = 0; i < s->npool; i++)
        curl_easy_cleanup(s->pool[i]);
    free(s->pool);
    if (s->multi) curl_multi_cleanup(s->multi);
    pthread_mutex_destroy(&s->mtx);
    free(s);
}

deliver_sender_t *deliver_sender_new(const deliver_sender_opts_t *o, char *errstr, size_t n) {
    if (!o || o->max_connections < 1 || o->timeout_ms < 1 || o->connect_timeout_ms < 0) {
        hs_fail(HS_ERR_INVALID, errstr, n,
                "sender: max_connections and timeout_ms must be positive");
        return NULL;
    }
    pthread_once(&global_once, global_init);
    deliver_sender_t *s = calloc(1, sizeof *s);
    if (!s) {
        hs_fail(HS_ERR_INTERNAL, errstr, n, "sender: out of memory");
        return NULL;
    }
    s->o = *o;
    pthread_mutex_init(&s->mtx, NULL);
    s->multi = curl_multi_init();
    s->pool = calloc((size_t)o->max_connections, sizeof *s->pool);
    if (!s->multi || !s->pool) {
        sender_free(s);
        hs_fail(HS_ERR_INTERNAL, errstr, n, "sender: out of memory");
        return NULL;
    }
    long maxc = o->max_connections;
    /* The per-endpoint bulkhead bounds one host; here only the process total is capped, and
     * the cache keeps as many idle connections as may run at once so keep-alive pays off. */
    curl_multi_setopt(s->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, maxc);
    curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, maxc);
    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, maxc);
    s->m_requests = hs_metrics_counter("hs_deliver_http_requests_total",
                                       "Outbound webhook HTTP requests by status class or "
                                       "network error",
                                       "code_class");
    s->m_seconds = hs_metrics_histogram("hs_deliver_http_seconds",
                                        "Outbound webhook HTTP request duration", NULL, NULL, 0);
    s->m_in_flight = hs_metrics_gauge("hs_deliver_http_in_flight",
                                      "Outbound webhook HTTP requests running", NULL);
    int rc = pthread_create(&s->thread, NULL, run, s);
    if (rc) {
        sender_free(s);
        hs_fail(HS_ERR_INTERNAL, errstr, n, "sender: cannot start thread: %s", strerror(rc));
        return NULL;
    }
    return s;
}

void deliver_sender_destroy(deliver_sender_t *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mtx);
    s->stopping = 1;
    pthread_mutex_unlock(&s->mtx);
    curl_multi_wakeup(s->multi);
    pthread_join(s->thread, NULL);
    sender_free(s);
}
