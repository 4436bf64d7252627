/* hookstream-bench-curl: the machine's limit for deliver's HTTP side. A bare libcurl multi client
 * POSTs webhook-sized requests (the headers deliver sends, a body of --body bytes) to the given
 * URLs round robin, at most --concurrency at once, with the sender's handle reuse and loop
 * (pooled easy handles, curl_multi_perform + curl_multi_poll), and nothing else: no Kafka, no
 * signing, no attempt log. Prints "requests N seconds S rate R cpu_us_per_request C". */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static size_t discard(char *p, size_t size, size_t n, void *opaque) {
    (void)p;
    (void)opaque;
    return size * n;
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static struct curl_slist *webhook_headers(void) {
    static const char *const lines[] = {
        "Content-Type: application/json",
        "User-Agent: hookstream",
        "webhook-id: 0192f0c4-7d0e-7b7a-9c1e-6a1d2b3c4d5e",
        "webhook-timestamp: 1764000000",
        "webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
        "Expect:",
    };
    struct curl_slist *h = NULL;
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        h = curl_slist_append(h, lines[i]);
    return h;
}

static CURL *easy_new(struct curl_slist *headers, const char *body, long len) {
    CURL *e = curl_easy_init();
    if (!e) return NULL;
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    return e;
}

int main(int argc, char **argv) {
    long requests = 100000, conc = 64, body_len = 900;
    int c;
    while ((c = getopt(argc, argv, "n:c:b:")) != -1) {
        if (c == 'n') requests = atol(optarg);
        else if (c == 'c') conc = atol(optarg);
        else if (c == 'b') body_len = atol(optarg);
        else return 2;
    }
    int nurl = argc - optind;
    if (nurl < 1 || requests < 1 || conc < 1 || body_len < 1) {
        fprintf(stderr, "usage: %s [-n requests] [-c concurrency] [-b body bytes] URL...\n",
                argv[0]);
        return 2;
    }
    char *body = malloc((size_t)body_len);
    CURL **pool = calloc((size_t)conc, sizeof *pool);
    if (!body || !pool) return 1;
    memset(body, 'x', (size_t)body_len);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct curl_slist *headers = webhook_headers();
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, conc);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, conc);
    long started = 0, done = 0, failed = 0;
    int npool = 0, running;
    double t0 = mono_s(), c0 = cpu_s();
    while (done < requests) {
        for (; started < requests && started - done < conc; started++) {
            CURL *e = npool > 0 ? pool[--npool] : easy_new(headers, body, body_len);
            if (!e) return 1;
            curl_easy_setopt(e, CURLOPT_URL, argv[optind + started % nurl]);
            curl_multi_add_handle(m, e);
        }
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left, finished = 0;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            failed += msg->data.result != CURLE_OK || status < 200 || status > 299;
            curl_multi_remove_handle(m, msg->easy_handle);
            pool[npool++] = msg->easy_handle;
            done++;
            finished++;
        }
        if (!finished) curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    double secs = mono_s() - t0, cpu = cpu_s() - c0;
    printf("requests %ld failed %ld seconds %.2f rate %.0f cpu_us_per_request %.1f\n", done,
           failed, secs, (double)done / secs, cpu * 1e6 / (double)done);
    for (int i = 0; i < npool; i++)
        curl_easy_cleanup(pool[i]);
    curl_multi_cleanup(m);
    curl_slist_free_all(headers);
    curl_global_cleanup();
    free(pool);
    free(body);
    return failed ? 1 : 0;
}
