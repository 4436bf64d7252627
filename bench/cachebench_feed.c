/* hookstream-bench-cache: the upstream stub (libmicrohttpd: GET /products/{id} answers the
 * product's current version), the feeder (bumps a Zipf-drawn product's version, then produces a
 * product.updated for it) and the subscriber of the invalidation channel (raises the version a
 * read starting from then on must see). See cachebench.h. */
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cachebench.h"
#include "hs_avro.h"
#include "hs_cachetag.h"
#include "hs_catalog.h"
#include "hs_envelope.h"
#include "hs_kafka.h"
#include "hs_redis.h"
#include "hs_registry.h"
#include "hs_wire.h"

static struct MHD_Daemon *stub;
static pthread_t feeder, subscriber;
static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER; /* b->events */
static rd_kafka_t *producer;
static const hs_event_type_t *etype;
static int32_t schema_id;

double cb_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t cb_rand(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

int cb_zipf(const cb_t *b, uint64_t *rng) {
    double u = (double)(cb_rand(rng) >> 11) / 9007199254740992.0 * b->cdf[b->products - 1];
    int lo = 0, hi = b->products - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (b->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo + 1;
}

/* ---- the upstream stub --------------------------------------------------------------------- */

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **state) {
    (void)version, (void)data, (void)size, (void)state;
    cb_t *b = cls;
    char *end = NULL;
    long id = strncmp(url, "/products/", 10) ? 0 : strtol(url + 10, &end, 10);
    int ok = strcmp(method, "GET") == 0 && id >= 1 && id <= b->products && end && !*end;
    char body[8192];
    int len;
    if (ok) {
        if (b->stub_delay_us > 0) usleep((useconds_t)b->stub_delay_us);
        /* read after the delay: the answer is as new as the moment it leaves upstream */
        int v = atomic_load(&b->version[id]);
        len = snprintf(body, sizeof body,
                       "{\"id\":\"%ld\",\"version\":%d,\"title\":\"Product %ld\","
                       "\"description\":\"",
                       id, v, id);
        int pad = b->body_bytes - len - 3;
        for (; pad > 0 && len < (int)sizeof body - 3; pad--)
            body[len++] = 'x';
        len += snprintf(body + len, sizeof body - (size_t)len, "\"}");
        atomic_fetch_add(&b->upstream, 1);
    } else {
        len = snprintf(body, sizeof body, "{\"error\":\"not found\"}");
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer((size_t)len, body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(c, ok ? 200 : 404, r);
    MHD_destroy_response(r);
    return rc;
}

int cb_stub_start(cb_t *b) {
    /* a thread per connection: the delay of one answer does not hold the others */
    stub = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                MHD_USE_POLL,
                            (uint16_t)b->stub_port, NULL, NULL, answer, b, MHD_OPTION_END);
    if (!stub) fprintf(stderr, "cachebench: the stub cannot listen on %d\n", b->stub_port);
    return stub ? 0 : -1;
}

void cb_stub_stop(void) {
    if (stub) MHD_stop_daemon(stub);
    stub = NULL;
}

/* ---- the feeder ---------------------------------------------------------------------------- */

static void dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk, (void)opaque;
    if (m->err) fprintf(stderr, "cachebench: produce failed: %s\n", rd_kafka_err2str(m->err));
}

static int produce(cb_t *b, int product) {
    char id[24], json[256], err[256];
    snprintf(id, sizeof id, "%d", product);
    snprintf(json, sizeof json,
             "{\"product_id\":\"%s\",\"title\":\"Product %s\",\"status\":\"active\","
             "\"variants\":[],\"updated_at\":%lld}",
             id, id, (long long)time(NULL) * 1000);
    json_t *data = json_loads(json, 0, NULL);
    char *buf = malloc(HS_WIRE_HEADER_SIZE);
    size_t len = HS_WIRE_HEADER_SIZE;
    hs_wire_header(schema_id, (unsigned char *)buf);
    hs_err_t e = hs_avro_encode_json(hs_catalog_schema(etype), data, &buf, &len, err, sizeof err);
    json_decref(data);
    if (e) {
        fprintf(stderr, "cachebench: encode: %s\n", err);
        free(buf);
        return -1;
    }
    hs_envelope_t env = {0};
    snprintf(env.type, sizeof env.type, "%s", etype->type);
    snprintf(env.source, sizeof env.source, "/bench/cache");
    snprintf(env.subject, sizeof env.subject, "%s", id);
    snprintf(env.tenant, sizeof env.tenant, "%s", b->tenant);
    snprintf(env.schema, sizeof env.schema, "%s", etype->subject);
    hs_envelope_defaults(&env);
    rd_kafka_resp_err_t rerr =
        rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(etype->topic), RD_KAFKA_V_KEY(id, strlen(id)),
                          RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                          RD_KAFKA_V_HEADERS(hs_envelope_headers(&env)), RD_KAFKA_V_END);
    if (rerr) {
        fprintf(stderr, "cachebench: produce: %s\n", rd_kafka_err2str(rerr));
        free(buf);
        return -1;
    }
    return 0;
}

static void event_add(cb_t *b, int product, int version) {
    pthread_mutex_lock(&mtx);
    if (b->nevents == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        cb_event_t *grown = realloc(b->events, cap * sizeof *grown);
        if (grown) b->events = grown, b->cap = cap;
    }
    if (b->nevents < b->cap) b->events[b->nevents++] = (cb_event_t){product, version, cb_now(), 0};
    pthread_mutex_unlock(&mtx);
}

static void *feed_main(void *arg) {
    cb_t *b = arg;
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    double next = cb_now();
    while (!atomic_load(&b->stop)) {
        double now = cb_now();
        if (now < next) {
            rd_kafka_poll(producer, (int)((next - now) * 1000) + 1);
            continue;
        }
        next += 1.0 / b->inv_rate;
        int p = cb_zipf(b, &rng);
        /* upstream changes first, then the event announces it (as a real API's webhook does) */
        int v = atomic_fetch_add(&b->version[p], 1) + 1;
        if (produce(b, p) == 0) event_add(b, p, v);
    }
    return NULL;
}

/* ---- the subscriber ------------------------------------------------------------------------ */

/* An invalidation of product p with generation g: the g-th event of p (the tenant is the run's
 * own, so generations start at 0) announced version g + 1 at least. */
static void published(cb_t *b, int p, long long g) {
    double now = cb_now();
    int v = (int)g + 1, cur = atomic_load(&b->version[p]);
    if (v > cur) v = cur; /* an invalidation applied twice moves nothing past the truth */
    int old = atomic_load(&b->vmin[p]);
    while (old < v && !atomic_compare_exchange_weak(&b->vmin[p], &old, v)) {
    }
    if (old < v) atomic_store(&b->vmin_at[p], now);
    atomic_fetch_add(&b->published, 1);
    pthread_mutex_lock(&mtx);
    size_t i = b->nevents;
    while (i > 0 && !(b->events[i - 1].product == p && b->events[i - 1].version == (int)g + 1))
        i--;
    if (i > 0 && b->events[i - 1].published_at == 0) b->events[i - 1].published_at = now;
    pthread_mutex_unlock(&mtx);
    if (i == 0) atomic_fetch_add(&b->unmatched, 1);
}

static void on_message(cb_t *b, const redisReply *rep) {
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
        strcmp(rep->element[0]->str ? rep->element[0]->str : "", "message"))
        return;
    const redisReply *msg = rep->element[2];
    char tenant[HS_CACHETAG_TENANT_MAX + 1], tag[HS_CACHETAG_TAG_MAX + 1];
    long long g;
    if (hs_cachetag_parse_message(msg->str, msg->len, tenant, tag, &g) ||
        strcmp(tenant, b->tenant) || strncmp(tag, "product:", 8))
        return;
    long p = strtol(tag + 8, NULL, 10);
    if (p >= 1 && p <= b->products) published(b, (int)p, g);
}

static void *subscribe_main(void *arg) {
    cb_t *b = arg;
    char err[256];
    hs_redis_t *r = hs_redis_new(hs_config_str(b->cfg, "redis.url"), 2000, err, sizeof err);
    const char *argv[] = {"SUBSCRIBE", b->channel};
    redisReply *rep = r ? hs_redis_command(r, 2, argv, NULL, err, sizeof err) : NULL;
    if (!rep) {
        fprintf(stderr, "cachebench: subscribe: %s\n", err);
        hs_redis_destroy(r);
        return NULL;
    }
    freeReplyObject(rep);
    while (!atomic_load(&b->stop)) {
        rep = NULL;
        if (hs_redis_wait(r, 100, &rep, err, sizeof err)) {
            fprintf(stderr, "cachebench: subscription lost: %s\n", err);
            break;
        }
        if (rep) on_message(b, rep);
        freeReplyObject(rep);
    }
    hs_redis_destroy(r);
    return NULL;
}

int cb_feed_start(cb_t *b) {
    char err[512];
    hs_registry_t *reg = hs_registry_new(b->cfg, err, sizeof err);
    etype = hs_catalog_find("product.updated");
    if (!reg || hs_registry_register(reg, etype->subject, etype->schema_json, &schema_id, err,
                                     sizeof err)) {
        fprintf(stderr, "cachebench: registry: %s\n", err);
        hs_registry_destroy(reg);
        return -1;
    }
    hs_registry_destroy(reg);
    if (!(producer = hs_kafka_producer_new(b->cfg, dr, err, sizeof err))) {
        fprintf(stderr, "cachebench: producer: %s\n", err);
        return -1;
    }
    pthread_create(&subscriber, NULL, subscribe_main, b);
    if (b->inv_rate > 0) pthread_create(&feeder, NULL, feed_main, b);
    return 0;
}

size_t cb_feed_stop(cb_t *b) {
    atomic_store(&b->stop, 1);
    if (b->inv_rate > 0) pthread_join(feeder, NULL);
    if (producer) {
        rd_kafka_flush(producer, 10000);
        rd_kafka_destroy(producer);
        producer = NULL;
    }
    pthread_join(subscriber, NULL);
    return b->nevents;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void cb_feed_latency(cb_t *b, double *p50, double *p99, size_t *n) {
    double *lat = malloc((b->nevents + 1) * sizeof *lat);
    *n = 0;
    for (size_t i = 0; lat && i < b->nevents; i++)
        if (b->events[i].published_at > 0)
            lat[(*n)++] = (b->events[i].published_at - b->events[i].produced_at) * 1e3;
    qsort(lat, *n, sizeof *lat, cmp_double);
    *p50 = *n ? lat[*n / 2] : 0;
    *p99 = *n ? lat[(size_t)((double)*n * 0.99) < *n ? (size_t)((double)*n * 0.99) : *n - 1] : 0;
    free(lat);
}
