/* The invalidation subscriber of cache-proxy: SUBSCRIBE to cache.invalidation_channel on a
 * connection of its own; each message "tenant\ttag\tgeneration" drops the tag's entries from
 * the L1. Whenever the subscription is (re)made the whole L1 is dropped, since messages may
 * have been missed while it was not there. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache_internal.h"
#include "hs_log.h"

#define WAIT_MS 200 /* how often the thread looks at the stop flag */

static int stopping(cache_proxy_t *p) {
    pthread_mutex_lock(&p->qmtx);
    int s = p->stopping;
    pthread_mutex_unlock(&p->qmtx);
    return s;
}

/* Returns 0 once subscribed (after dropping the L1), -1 when Redis refused or is down. */
static int subscribe(cache_proxy_t *p, hs_redis_t *r, int again) {
    char err[512];
    const char *argv[] = {"SUBSCRIBE", p->channel};
    redisReply *rep = hs_redis_command(r, 2, argv, NULL, err, sizeof err);
    int ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
             rep->element[0]->type == REDIS_REPLY_STRING &&
             !strcmp(rep->element[0]->str, "subscribe");
    cache_redis_result(p, ok, "subscribe", rep && !ok ? "unexpected SUBSCRIBE reply" : err);
    freeReplyObject(rep);
    if (!ok) {
        hs_redis_disconnect(r);
        return -1;
    }
    size_t dropped = cache_l1_flush(p->l1);
    hs_metric_add(p->m.flushes, NULL, 1);
    hs_log(again ? HS_LOG_WARN : HS_LOG_INFO,
           again ? "invalidation subscription made again: L1 dropped (messages may have been "
                   "missed)"
                 : "subscribed to invalidations",
           "{s:s, s:I}", "channel", p->channel, "l1_entries_dropped", (json_int_t)dropped);
    return 0;
}

static void on_message(cache_proxy_t *p, const redisReply *rep) {
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
        rep->element[0]->type != REDIS_REPLY_STRING || strcmp(rep->element[0]->str, "message") ||
        rep->element[2]->type != REDIS_REPLY_STRING)
        return;
    char tenant[HS_CACHETAG_TENANT_MAX + 1], tag[HS_CACHETAG_TAG_MAX + 1];
    long long gen = 0;
    const redisReply *msg = rep->element[2];
    hs_metric_add(p->m.invalidations, NULL, 1);
    if (hs_cachetag_parse_message(msg->str, msg->len, tenant, tag, &gen)) {
        hs_log(HS_LOG_WARN, "malformed invalidation message ignored", "{s:s, s:s%}", "channel",
               p->channel, "message", msg->str, msg->len);
        return;
    }
    size_t dropped = cache_l1_invalidate(p->l1, tenant, tag);
    hs_log(HS_LOG_DEBUG, "invalidation", "{s:s, s:s, s:I, s:I}", "tenant", tenant, "tag", tag,
           "generation", (json_int_t)gen, "l1_entries_dropped", (json_int_t)dropped);
}

void *cache_subscriber_main(void *arg) {
    cache_proxy_t *p = arg;
    char err[512];
    hs_redis_t *r = hs_redis_new(p->redis_url, p->redis_timeout_ms, err, sizeof err);
    int subscribed = 0, times = 0;
    while (r && !stopping(p)) {
        if (!subscribed) {
            subscribed = subscribe(p, r, times > 0) == 0;
            times += subscribed;
            if (!subscribed) usleep(WAIT_MS * 1000); /* hs_redis backs off the connects */
            continue;
        }
        redisReply *rep = NULL;
        if (hs_redis_wait(r, WAIT_MS, &rep, err, sizeof err)) {
            cache_redis_result(p, 0, "subscribe", err);
            subscribed = 0;
            continue;
        }
        if (rep) on_message(p, rep);
        freeReplyObject(rep);
    }
    hs_redis_destroy(r);
    return NULL;
}
