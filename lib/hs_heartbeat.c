/* Consumer heartbeat: the last poll as an atomic monotonic time (for /readyz) and as a wall-clock
 * gauge (for dashboards and alerts), and the lag gauge per partition. A poll loop beats up to
 * hundreds of thousands of times a second, so a beat is two clock reads and an atomic store; the
 * gauge (a registry lock) is refreshed at most every GAUGE_EVERY_MS. */
#include "hs_heartbeat.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"
#include "hs_metrics.h"

#define GAUGE_EVERY_MS 100

/* @locality: beat/lag on the polling thread; ready from any thread (atomics only). */
struct hs_heartbeat {
    char *service, *group;
    char instance[300];      /* "<hostname>:<pid>" */
    atomic_llong last_mono;  /* monotonic ms of the last beat */
    atomic_llong gauge_mono; /* monotonic ms the gauge was last set */
    hs_metric_t *m_last, *m_lag;
};

static int64_t clock_ms(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void gauge_set(hs_heartbeat_t *hb, int64_t mono) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    const char *lv[] = {hb->service, hb->group, hb->instance};
    hs_metric_set(hb->m_last, lv, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
    atomic_store(&hb->gauge_mono, mono);
}

hs_heartbeat_t *hs_heartbeat_new(const char *service, const char *group) {
    hs_heartbeat_t *hb = calloc(1, sizeof *hb);
    if (!hb) abort();
    hb->service = strdup(service ? service : "");
    hb->group = strdup(group ? group : "");
    if (!hb->service || !hb->group) abort();
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(hb->instance, sizeof hb->instance, "%s:%ld", host, (long)getpid());
    hb->m_last = hs_metrics_gauge("hs_consumer_last_poll_timestamp_seconds",
                                  "Unix time of the consumer instance's last poll (heartbeat).",
                                  "service,group,instance");
    hb->m_lag = hs_metrics_gauge("hs_consumer_lag", "Messages behind the partition's end.",
                                 "service,group,topic,partition");
    int64_t now = clock_ms(CLOCK_MONOTONIC);
    atomic_init(&hb->last_mono, now);
    atomic_init(&hb->gauge_mono, now);
    gauge_set(hb, now);
    return hb;
}

void hs_heartbeat_destroy(hs_heartbeat_t *hb) {
    if (!hb) return;
    free(hb->service);
    free(hb->group);
    free(hb);
}

void hs_heartbeat_beat(hs_heartbeat_t *hb) {
    int64_t now = clock_ms(CLOCK_MONOTONIC);
    atomic_store(&hb->last_mono, now);
    if (now - atomic_load(&hb->gauge_mono) >= GAUGE_EVERY_MS) gauge_set(hb, now);
}

void hs_heartbeat_lag(hs_heartbeat_t *hb, const char *topic, int32_t partition, int64_t lag) {
    if (lag < 0) return;
    char part[16];
    snprintf(part, sizeof part, "%d", (int)partition);
    const char *lv[] = {hb->service, hb->group, topic, part};
    hs_metric_set(hb->m_lag, lv, (double)lag);
}

int hs_heartbeat_ready(const hs_heartbeat_t *hb, int64_t max_silence_ms, char *why,
                       size_t why_size) {
    if (max_silence_ms <= 0) return 1;
    /* The const handle is only read: the atomic load needs a non-const pointer in C11. */
    int64_t silent = clock_ms(CLOCK_MONOTONIC) - atomic_load((atomic_llong *)&hb->last_mono);
    if (silent <= max_silence_ms) return 1;
    if (why && why_size)
        snprintf(why, why_size, "consumer %s has not polled for %lld ms", hb->group,
                 (long long)silent);
    return 0;
}
