/* hookstream-bench-cache: Zipf-distributed GET /products/{id} through cache-proxy (K keep-alive
 * connections, libcurl multi, closed loop or a fixed rate) while product.updated events flow at
 * a fixed rate; the upstream stub, the producer and the invalidation subscriber run in-process
 * (cachebench_feed.c). Prints one JSON line: requests, hit rate, p50/p99 per X-Cache result, the
 * produce → published latency of the invalidations, and the stale count: reads that started
 * after the invalidation of version v was seen published and returned a version < v.
 * Configuration (kafka.brokers, registry.url, postgres.dsn, redis.url) from HS_* variables. */
#include <curl/curl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cachebench.h"

extern char **environ;

enum { R_L1, R_L2, R_MISS, R_OTHER, R_N };
static const char *const result_names[R_N] = {"hit_l1", "hit_l2", "miss", "other"};

typedef struct {
    double *v;
    size_t n, cap;
} samples_t;

/* One client connection and its request in flight. */
typedef struct {
    CURL *h;
    int busy, product, vmin;
    double started, vmin_at;
    char xcache[32];
    char body[512]; /* the head of the answer: "version" is in it */
    size_t blen;
} conn_t;

typedef struct {
    const char *proxy, *admin;
    int conns;
    double rate, secs, warmup;
    uint64_t rng;
    samples_t lat[R_N];
    unsigned long long requests, errors, stale, stale_late, measured;
    unsigned long long stale_by[R_N]; /* stale reads by X-Cache result */
    double stale_max;                 /* how long after the publish a stale read started, seconds */
} client_t;

static void sample_add(samples_t *s, double v) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 65536;
        double *grown = realloc(s->v, cap * sizeof *grown);
        if (!grown) return;
        s->v = grown, s->cap = cap;
    }
    s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(samples_t *s, double q) {
    if (!s->n) return 0;
    size_t i = (size_t)((double)s->n * q);
    return s->v[i < s->n ? i : s->n - 1];
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg) {
    conn_t *c = arg;
    size_t len = size * n;
    if (len > 9 && !strncasecmp(buf, "X-Cache:", 8)) {
        const char *v = buf + 8;
        while (*v == ' ')
            v++;
        size_t vl = strcspn(v, "\r\n");
        snprintf(c->xcache, sizeof c->xcache, "%.*s", (int)vl, v);
    }
    return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *arg) {
    conn_t *c = arg;
    size_t len = size * n, room = sizeof c->body - 1 - c->blen;
    memcpy(c->body + c->blen, buf, len < room ? len : room);
    c->blen += len < room ? len : room;
    c->body[c->blen] = 0;
    return len;
}

static void start(cb_t *b, client_t *cl, CURLM *multi, conn_t *c) {
    char url[512];
    c->product = cb_zipf(b, &cl->rng);
    snprintf(url, sizeof url, "%s/products/%d", cl->proxy, c->product);
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    c->xcache[0] = 0;
    c->blen = 0;
    c->body[0] = 0;
    c->vmin = atomic_load(&b->vmin[c->product]);
    c->vmin_at = atomic_load(&b->vmin_at[c->product]);
    c->started = cb_now();
    c->busy = 1;
    curl_multi_add_handle(multi, c->h);
}

/* Checks and records the answer of c. */
static void finish(client_t *cl, conn_t *c, CURLcode rc, double measure_from) {
    long status = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
    curl_off_t us = 0;
    curl_easy_getinfo(c->h, CURLINFO_TOTAL_TIME_T, &us);
    c->busy = 0;
    cl->requests++;
    const char *vp = strstr(c->body, "\"version\":");
    if (rc != CURLE_OK || status != 200 || !vp) {
        cl->errors++;
        return;
    }
    int version = (int)strtol(vp + 10, NULL, 10);
    int r = !strcmp(c->xcache, "HIT-L1")   ? R_L1
            : !strcmp(c->xcache, "HIT-L2") ? R_L2
            : !strcmp(c->xcache, "MISS")   ? R_MISS
                                           : R_OTHER;
    if (version < c->vmin) {
        cl->stale_by[r]++;
        /* a read that started just as the invalidation went out (it can join a lookup the
         * proxy began before, or beat the message to the L1), or an old value cached again
         * (seen long after)? */
        double after = c->started - c->vmin_at;
        cl->stale++;
        cl->stale_late += after > 0.001;
        if (after > cl->stale_max) cl->stale_max = after;
    }
    if (c->started < measure_from) return;
    cl->measured++;
    sample_add(&cl->lat[r], (double)us / 1000.0);
}

static conn_t *conn_of(conn_t *cs, int n, CURL *h) {
    for (int i = 0; i < n; i++)
        if (cs[i].h == h) return &cs[i];
    return NULL;
}

/* Arms the timer tfd (CLOCK_MONOTONIC, as cb_now) to fire at t seconds. */
static void timer_at(int tfd, double t) {
    struct itimerspec its = {{0, 0}, {(time_t)t, (long)((t - (double)(time_t)t) * 1e9)}};
    if (!its.it_value.tv_sec && !its.it_value.tv_nsec) its.it_value.tv_nsec = 1;
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Reads the expirations of tfd so that it no longer polls readable. */
static void timer_ack(int tfd) {
    uint64_t fired;
    ssize_t n = read(tfd, &fired, sizeof fired);
    (void)n; /* EAGAIN: nothing fired */
}

/* Paced by a timerfd, not by poll's millisecond timeout: at 3,000 GET/s the next start is
 * always under 1 ms away, and a 0 ms poll made this loop spin a whole core away from the
 * proxy on a 2-core machine. */
static void drive(cb_t *b, client_t *cl, CURLM *multi, conn_t *cs) {
    double t0 = cb_now(), end = t0 + cl->warmup + cl->secs, measure_from = t0 + cl->warmup;
    double next = t0;
    int running = 0, tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tfd < 0) {
        perror("cachebench: timerfd_create");
        return;
    }
    for (;;) {
        double now = cb_now();
        int active = 0;
        for (int i = 0; i < cl->conns; i++) {
            if (!cs[i].busy && now < end && (cl->rate <= 0 || next <= now)) {
                start(b, cl, multi, &cs[i]);
                if (cl->rate > 0) next += 1.0 / cl->rate;
            }
            active += cs[i].busy;
        }
        if (!active && now >= end) break;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left)))
            if (msg->msg == CURLMSG_DONE) {
                conn_t *c = conn_of(cs, cl->conns, msg->easy_handle);
                curl_multi_remove_handle(multi, msg->easy_handle);
                if (c) finish(cl, c, msg->data.result, measure_from);
            }
        /* a free connection waits for the next start; all busy: an answer wakes us */
        int free_conn = 0;
        for (int i = 0; i < cl->conns; i++)
            free_conn |= !cs[i].busy;
        int paced = cl->rate > 0 && free_conn && now < end;
        if (paced) timer_at(tfd, next);
        struct curl_waitfd wfd = {tfd, CURL_WAIT_POLLIN, 0};
        curl_multi_poll(multi, &wfd, paced ? 1 : 0, 10, NULL);
        if (wfd.revents) timer_ack(tfd);
    }
    close(tfd);
}

static int run_client(cb_t *b, client_t *cl) {
    CURLM *multi = curl_multi_init();
    conn_t *cs = calloc((size_t)cl->conns, sizeof *cs);
    struct curl_slist *hdrs = NULL;
    char tenant[128];
    snprintf(tenant, sizeof tenant, "X-Tenant: %s", b->tenant);
    hdrs = curl_slist_append(hdrs, tenant);
    for (int i = 0; i < cl->conns; i++) {
        CURL *h = cs[i].h = curl_easy_init();
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &cs[i]);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &cs[i]);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    }
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)cl->conns);
    drive(b, cl, multi, cs);
    for (int i = 0; i < cl->conns; i++)
        curl_easy_cleanup(cs[i].h);
    curl_multi_cleanup(multi);
    curl_slist_free_all(hdrs);
    free(cs);
    return 0;
}

static void report(cb_t *b, client_t *cl, size_t produced) {
    for (int r = 0; r < R_N; r++)
        if (cl->lat[r].n) qsort(cl->lat[r].v, cl->lat[r].n, sizeof(double), cmp_double);
    unsigned long long hits = cl->lat[R_L1].n + cl->lat[R_L2].n;
    double p50, p99;
    size_t seen;
    cb_feed_latency(b, &p50, &p99, &seen);
    printf("{\"requests\":%llu,\"measured\":%llu,\"rps\":%.0f,\"errors\":%llu,\"hit_rate\":%.4f",
           cl->requests, cl->measured, (double)cl->measured / cl->secs, cl->errors,
           cl->measured ? (double)hits / (double)cl->measured : 0.0);
    for (int r = 0; r < R_N; r++)
        printf(",\"%s\":{\"n\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f}", result_names[r], cl->lat[r].n,
               pct(&cl->lat[r], 0.5), pct(&cl->lat[r], 0.99));
    printf(",\"upstream_requests\":%llu,\"invalidations\":{\"produced\":%zu,\"published\":%llu,"
           "\"unmatched\":%llu,\"p50_ms\":%.1f,\"p99_ms\":%.1f},\"stale\":%llu,"
           "\"stale_after_1ms\":%llu,\"stale_max_after_ms\":%.3f,\"stale_by\":{",
           (unsigned long long)atomic_load(&b->upstream), produced,
           (unsigned long long)atomic_load(&b->published),
           (unsigned long long)atomic_load(&b->unmatched), p50, p99, cl->stale, cl->stale_late,
           cl->stale_max * 1e3);
    for (int r = 0; r < R_N; r++)
        printf("%s\"%s\":%llu", r ? "," : "", result_names[r], cl->stale_by[r]);
    printf("}}\n");
    fflush(stdout);
}

static const char usage[] =
    "usage: hookstream-bench-cache --proxy URL --stub-port PORT [options]\n"
    "  --proxy URL          cache-proxy base URL (its upstream must be http://127.0.0.1:PORT)\n"
    "  --admin URL          cache-proxy's admin address: its /readyz is awaited first\n"
    "  --stub-port PORT     port of the in-process upstream stub\n"
    "  --products M         product ids 1..M (10000)\n"
    "  --zipf S             skew of reads and updates (1.1)\n"
    "  --conns K            keep-alive client connections (16)\n"
    "  --rate R             requests/s, 0 = closed loop (0)\n"
    "  --secs S             measured seconds (10), after --warmup S (2)\n"
    "  --inv-rate R         product.updated events/s (20)\n"
    "  --stub-delay-us US   upstream latency (2000)\n"
    "  --body-bytes N       answer size (600)\n"
    "  --tenant T           tenant of reads and events (bench-<pid>: generations start at 0)\n"
    "  --channel NAME       invalidation channel (hs:cache:invalidate)\n";

/* Parses the options into b and cl; 0, or 2 after printing usage. */
static int parse(int argc, char **argv, cb_t *b, client_t *cl) {
    static const struct option opts[] = {{"proxy", 1, 0, 'p'},         {"admin", 1, 0, 'a'},
                                         {"stub-port", 1, 0, 'P'},     {"products", 1, 0, 'm'},
                                         {"zipf", 1, 0, 'z'},          {"conns", 1, 0, 'k'},
                                         {"rate", 1, 0, 'r'},          {"secs", 1, 0, 's'},
                                         {"warmup", 1, 0, 'w'},        {"inv-rate", 1, 0, 'i'},
                                         {"stub-delay-us", 1, 0, 'd'}, {"body-bytes", 1, 0, 'b'},
                                         {"tenant", 1, 0, 't'},        {"channel", 1, 0, 'c'},
                                         {"help", 0, 0, 'h'},          {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        double v = optarg ? strtod(optarg, NULL) : 0;
        switch (o) {
        case 'p':
            cl->proxy = optarg;
            break;
        case 'a':
            cl->admin = optarg;
            break;
        case 'P':
            b->stub_port = (int)v;
            break;
        case 'm':
            b->products = (int)v;
            break;
        case 'z':
            b->zipf_s = v;
            break;
        case 'k':
            cl->conns = (int)v;
            break;
        case 'r':
            cl->rate = v;
            break;
        case 's':
            cl->secs = v;
            break;
        case 'w':
            cl->warmup = v;
            break;
        case 'i':
            b->inv_rate = v;
            break;
        case 'd':
            b->stub_delay_us = (int)v;
            break;
        case 'b':
            b->body_bytes = (int)v;
            break;
        case 't':
            b->tenant = optarg;
            break;
        case 'c':
            b->channel = optarg;
            break;
        default:
            fputs(usage, o == 'h' ? stdout : stderr);
            return 2;
        }
    }
    if (!cl->proxy || b->stub_port <= 0 || b->products < 1 || cl->conns < 1 || cl->secs <= 0) {
        fputs(usage, stderr);
        return 2;
    }
    return 0;
}

static int setup(cb_t *b) {
    size_t m = (size_t)b->products;
    b->cdf = malloc(m * sizeof *b->cdf);
    b->version = calloc(m + 1, sizeof *b->version);
    b->vmin = calloc(m + 1, sizeof *b->vmin);
    b->vmin_at = calloc(m + 1, sizeof *b->vmin_at);
    if (!b->cdf || !b->version || !b->vmin || !b->vmin_at) return -1;
    double sum = 0;
    for (size_t i = 0; i < m; i++) {
        sum += 1.0 / pow((double)(i + 1), b->zipf_s);
        b->cdf[i] = sum;
        atomic_init(&b->version[i + 1], 1);
        atomic_init(&b->vmin[i + 1], 1);
    }
    return 0;
}

/* Frees what setup, the client and the feeder allocated (a leak-checked run ends clean). */
static void teardown(cb_t *b, client_t *cl) {
    for (int r = 0; r < R_N; r++)
        free(cl->lat[r].v);
    free(b->cdf);
    free(b->version);
    free(b->vmin);
    free((void *)b->vmin_at);
    free(b->events);
}

/* Waits up to 30 s for admin/readyz to answer 200. */
static int proxy_ready(const char *admin) {
    char url[512];
    snprintf(url, sizeof url, "%s/readyz", admin);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
    long status = 0;
    for (int i = 0; i < 300 && status != 200; i++) {
        if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200) usleep(100000);
    }
    curl_easy_cleanup(h);
    return status == 200 ? 0 : -1;
}

int main(int argc, char **argv) {
    char tenant[64], err[512];
    snprintf(tenant, sizeof tenant, "bench-%d", (int)getpid());
    cb_t b = {.products = 10000,
              .zipf_s = 1.1,
              .inv_rate = 20,
              .stub_delay_us = 2000,
              .body_bytes = 600,
              .tenant = tenant,
              .channel = "hs:cache:invalidate"};
    client_t cl = {.conns = 16, .secs = 10, .warmup = 2, .rng = 0x2545F4914F6CDD1DULL};
    int rc = parse(argc, argv, &b, &cl);
    if (rc) return rc;
    hs_config_t *cfg = hs_config_new();
    if (hs_config_load_env(cfg, environ, err, sizeof err)) {
        fprintf(stderr, "cachebench: %s\n", err);
        return 2;
    }
    b.cfg = cfg;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (setup(&b) || cb_stub_start(&b)) return 1;
    if (cl.admin && proxy_ready(cl.admin)) {
        fprintf(stderr, "cachebench: %s/readyz did not answer 200\n", cl.admin);
        return 1;
    }
    if (cb_feed_start(&b)) return 1;
    run_client(&b, &cl);
    size_t produced = cb_feed_stop(&b);
    report(&b, &cl, produced);
    cb_stub_stop();
    teardown(&b, &cl);
    hs_config_destroy(cfg);
    curl_global_cleanup();
    return 0;
}
