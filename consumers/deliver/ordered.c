/* Ordered endpoints: each gets a consumer group of its own (<deliver.group>.ordered.<id>) over
 * the same topics. The runtime already hands out the events of one key strictly one after the
 * other; a failed delivery is retried in place (the message stays in flight) instead of through a
 * retry tier, so the later events of its key wait — for this endpoint only, since no other
 * endpoint shares the group. While the endpoint is disabled its consumer is stopped: its events
 * wait in Kafka, uncommitted, and are delivered in order once it is enabled again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver_internal.h"
#include "hs_log.h"

typedef struct deliver_ordered {
    deliver_t *d;
    deliver_ep_t *ep;
    hs_consumer_t *c;
    pthread_t thread;
    struct deliver_ordered *next;
} ordered_t;

static void handle(hs_consumer_msg_t *m, void *opaque) {
    ordered_t *o = opaque;
    deliver_event_t *ev = deliver_event_of_msg(o->d, m);
    if (!ev) return;
    deliver_start_for(o->d, ev, o->ep, 1, 1);
    deliver_event_handled(ev);
}

static void *run_main(void *arg) {
    ordered_t *o = arg;
    char err[512];
    if (hs_consumer_run(o->c, err, sizeof err))
        hs_log(HS_LOG_WARN, "ordered consumer stopped with an error", "{s:s, s:s}", "endpoint",
               o->ep->id, "error", err);
    return NULL;
}

static ordered_t *start(deliver_t *d, deliver_ep_t *ep) {
    static const int64_t tier[] = {1000}; /* only used when a delivery ends in the DLQ path */
    char group[512], topics_buf[1024], err[512];
    const char *topics[HS_CONSUMER_MAX_TOPICS + 1];
    snprintf(group, sizeof group, "%s.ordered.%s", hs_config_str(d->cfg, "deliver.group"), ep->id);
    hs_consumer_topics_split(hs_config_str(d->cfg, "deliver.topics"), topics_buf, sizeof topics_buf,
                             topics);
    ordered_t *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->d = d;
    o->ep = ep;
    hs_consumer_opts_t co = {.service = "deliver-ordered",
                             .group = group,
                             .topics = topics,
                             .handler = handle,
                             .opaque = o,
                             .retry_tiers_ms = tier,
                             .n_retry_tiers = 1,
                             .shutdown_deadline_ms = 2000,
                             .keep_order = 1};
    if (!(o->c = hs_consumer_new(d->cfg, &co, err, sizeof err))) {
        hs_log(HS_LOG_ERROR, "cannot start the ordered consumer", "{s:s, s:s}", "endpoint", ep->id,
               "error", err);
        free(o);
        return NULL;
    }
    pthread_create(&o->thread, NULL, run_main, o);
    hs_log(HS_LOG_INFO, "ordered consumer started", "{s:s, s:s}", "endpoint", ep->id, "group",
           group);
    return o;
}

static void stop(ordered_t *o) {
    hs_consumer_stop(o->c);
    pthread_join(o->thread, NULL);
}

void deliver_ordered_sync(deliver_t *d) {
    pthread_mutex_lock(&d->eps_mtx);
    deliver_ep_t *first = d->eps;
    pthread_mutex_unlock(&d->eps_mtx);
    for (deliver_ep_t *ep = first; ep; ep = ep->next) {
        pthread_mutex_lock(&ep->mtx);
        int want = !ep->gone && ep->def.ordered && ep->def.enabled;
        pthread_mutex_unlock(&ep->mtx);
        ordered_t **pp = &d->ordered;
        while (*pp && (*pp)->ep != ep)
            pp = &(*pp)->next;
        if (want && !*pp) {
            ordered_t *o = start(d, ep);
            if (o) o->next = d->ordered, d->ordered = o;
        } else if (!want && *pp) {
            ordered_t *o = *pp;
            *pp = o->next;
            stop(o);
            hs_consumer_destroy(o->c);
            free(o);
            hs_log(HS_LOG_INFO, "ordered consumer stopped", "{s:s}", "endpoint", ep->id);
        }
    }
}

void deliver_ordered_stop_all(deliver_t *d) {
    for (ordered_t *o = d->ordered; o; o = o->next)
        stop(o);
}

void deliver_ordered_free(deliver_t *d) {
    while (d->ordered) {
        ordered_t *o = d->ordered;
        d->ordered = o->next;
        hs_consumer_destroy(o->c);
        free(o);
    }
}
