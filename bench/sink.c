/* hookstream-sink: the webhook receiver of bench/deliver.sh. Answers 204 to every POST as fast
 * as libmicrohttpd allows, counts them (GET answers the count so the harness can sample it),
 * and with --latency-file writes now minus the event's time, in µs, one line per request.
 * The event time is the body's "timestamp" field or, with --latency-header, a header holding
 * RFC 3339 or unix s/ms/µs. Prints "listening on PORT", and "requests N" on SIGTERM/SIGINT. */
#include <ctype.h>
#include <getopt.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEEP_BODY 1024 /* the "timestamp" field comes first in a delivery body */

static atomic_ullong count;
static FILE *latency_out;
static const char *latency_header;
static char answer_204[] = "";

/* Per request while its body arrives (only with --latency-file). */
typedef struct {
    size_t len;
    char body[KEEP_BODY + 1];
} req_t;

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t parse_digits(const char **p, int n) {
    int64_t v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (!isdigit((unsigned char)**p)) return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

/* RFC 3339 ("2026-01-02T03:04:05.123Z", "+02:00" offsets) or unix s/ms/µs to µs; -1 if not. */
static int64_t parse_time_us(const char *s) {
    const char *p = s;
    int64_t v = parse_digits(&p, 4);
    if (v >= 0 && *p != '-') {
        for (p = s, v = 0; isdigit((unsigned char)*p); p++)
            v = v * 10 + (*p - '0');
        return v >= 1000000000000000LL ? v : v >= 1000000000000LL ? v * 1000 : v * 1000000;
    }
    struct tm tm = {0};
    const char *q = s;
    int64_t f[6];
    static const int width[6] = {4, 2, 2, 2, 2, 2};
    static const char sep[6] = {'-', '-', 'T', ':', ':', 0};
    for (int i = 0; i < 6; i++) {
        if ((f[i] = parse_digits(&q, width[i])) < 0) return -1;
        if (sep[i] && *q++ != sep[i] && !(i == 2 && (q[-1] == 't' || q[-1] == ' '))) return -1;
    }
    tm.tm_year = (int)f[0] - 1900, tm.tm_mon = (int)f[1] - 1, tm.tm_mday = (int)f[2];
    tm.tm_hour = (int)f[3], tm.tm_min = (int)f[4], tm.tm_sec = (int)f[5];
    int64_t us = (int64_t)timegm(&tm) * 1000000;
    if (*q == '.') {
        int64_t scale = 100000;
        for (q++; isdigit((unsigned char)*q); q++, scale /= 10)
            us += (*q - '0') * scale;
    }
    if (*q == '+' || *q == '-') {
        int sign = *q++ == '+' ? 1 : -1;
        int64_t hh = parse_digits(&q, 2);
        if (*q == ':') q++;
        int64_t mm = parse_digits(&q, 2);
        if (hh < 0 || mm < 0) return -1;
        us -= sign * (hh * 3600 + mm * 60) * 1000000;
    }
    return us;
}

static void record_latency(struct MHD_Connection *c, const req_t *r) {
    char value[64];
    const char *t = NULL;
    if (latency_header) {
        t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, latency_header);
    } else if (r) {
        const char *k = strstr(r->body, "\"timestamp\"");
        if (k && (k = strchr(k + 11, '"')) != NULL) {
            size_t n = strcspn(k + 1, "\"");
            if (n < sizeof value) {
                memcpy(value, k + 1, n);
                value[n] = 0;
                t = value;
            }
        }
    }
    int64_t at = t ? parse_time_us(t) : -1;
    if (at >= 0) fprintf(latency_out, "%lld\n", (long long)(now_us() - at));
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state) {
    (void)cls, (void)url, (void)version;
    int is_post = !strcmp(method, MHD_HTTP_METHOD_POST);
    if (!*state) {
        /* a body copy is only needed to find the event time in it */
        *state = is_post && latency_out && !latency_header ? calloc(1, sizeof(req_t)) : (void *)c;
        return *state ? MHD_YES : MHD_NO;
    }
    req_t *r = *state == (void *)c ? NULL : *state;
    if (*upload_size) {
        if (r && r->len < KEEP_BODY) {
            size_t n = *upload_size < KEEP_BODY - r->len ? *upload_size : KEEP_BODY - r->len;
            memcpy(r->body + r->len, upload, n);
            r->len += n;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    struct MHD_Response *resp;
    enum MHD_Result rc;
    if (is_post) {
        atomic_fetch_add(&count, 1);
        if (latency_out) record_latency(c, r);
        resp = MHD_create_response_from_buffer(0, answer_204, MHD_RESPMEM_PERSISTENT);
        rc = MHD_queue_response(c, MHD_HTTP_NO_CONTENT, resp);
    } else {
        char body[32];
        int n = snprintf(body, sizeof body, "%llu\n", (unsigned long long)atomic_load(&count));
        resp = MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
        rc = MHD_queue_response(c, MHD_HTTP_OK, resp);
    }
    MHD_destroy_response(resp);
    return rc;
}

static void request_done(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode code) {
    (void)cls, (void)code;
    if (*state && *state != (void *)c) free(*state);
    *state = NULL;
}

static int usage(FILE *out, int rc) {
    fprintf(out, "usage: hookstream-sink --port P [--threads N] [--latency-file FILE]\n"
                 "                       [--latency-header NAME]\n"
                 "Answers 204 to every POST; GET returns the count. Prints 'listening on PORT',\n"
                 "then 'requests N' on SIGTERM.\n");
    return rc;
}

static long number(const char *s, long lo, long hi) {
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= lo && v <= hi ? v : -1;
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {{"port", required_argument, NULL, 'p'},
                                             {"threads", required_argument, NULL, 't'},
                                             {"latency-file", required_argument, NULL, 'l'},
                                             {"latency-header", required_argument, NULL, 'H'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    long port = -1, threads = 2;
    const char *latency_file = NULL;
    for (int o; (o = getopt_long(argc, argv, "p:t:l:H:h", longopts, NULL)) != -1;) {
        if (o == 'p')
            port = number(optarg, 0, 65535);
        else if (o == 't')
            threads = number(optarg, 1, 64);
        else if (o == 'l')
            latency_file = optarg;
        else if (o == 'H')
            latency_header = optarg;
        else
            return usage(o == 'h' ? stdout : stderr, o == 'h' ? 0 : 2);
    }
    if (port < 0 || threads < 1 || optind != argc) return usage(stderr, 2);
    if (latency_file && !(latency_out = fopen(latency_file, "w"))) {
        perror(latency_file);
        return 1;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* the daemon's threads inherit the mask */
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO, (uint16_t)port, NULL, NULL,
        handle, NULL, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_NOTIFY_COMPLETED,
        request_done, NULL, MHD_OPTION_CONNECTION_LIMIT, 10000u, MHD_OPTION_CONNECTION_TIMEOUT,
        120u, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "hookstream-sink: cannot listen on port %ld\n", port);
        return 1;
    }
    printf("listening on %u\n", MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
    fflush(stdout);
    int sig;
    sigwait(&sigs, &sig);
    MHD_stop_daemon(d);
    if (latency_out) fclose(latency_out);
    printf("requests %llu\n", (unsigned long long)atomic_load(&count));
    return 0;
}
