/* The deliver service's endpoint list: definitions come from the store, runtime state (breaker,
 * bucket, bulkhead queue) lives here per endpoint id for the service's life. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deliver_internal.h"
#include "hs_log.h"

deliver_ep_t *deliver_ep_find(deliver_t *d, const char *id) {
    pthread_mutex_lock(&d->eps_mtx);
    deliver_ep_t *ep = d->eps;
    while (ep && strcmp(ep->id, id) != 0)
        ep = ep->next;
    pthread_mutex_unlock(&d->eps_mtx);
    return ep;
}

static deliver_ep_t *ep_new(deliver_t *d, const char *id) {
    deliver_ep_t *ep = calloc(1, sizeof *ep);
    if (!ep) return NULL;
    snprintf(ep->id, sizeof ep->id, "%s", id);
    pthread_mutex_init(&ep->mtx, NULL);
    hs_breaker_init(&ep->breaker, &d->breaker_opts);
    hs_bucket_init(&ep->bucket);
    ep->breaker_shown = -1;
    ep->queued_shown = SIZE_MAX;
    return ep;
}

/* Takes def into ep (ownership moves; def is zeroed). Caller holds ep->mtx. */
static void ep_set(deliver_t *d, deliver_ep_t *ep, deliver_endpoint_t *def) {
    char err[256];
    hs_backoff_t policy = d->default_policy;
    if (def->policy[0] && hs_backoff_parse(def->policy, &policy, err, sizeof err)) {
        hs_log(HS_LOG_WARN, "endpoint policy invalid: using the default", "{s:s, s:s}", "endpoint",
               ep->id, "error", err);
        policy = d->default_policy;
    }
    deliver_endpoint_clear(&ep->def);
    ep->def = *def;
    memset(def, 0, sizeof *def);
    ep->policy = policy;
    ep->gone = 0;
}

hs_err_t deliver_eps_reload(deliver_t *d, char *errstr, size_t n) {
    int64_t version;
    hs_err_t e = deliver_store_version(d->store, &version, errstr, n);
    if (e) return e;
    pthread_mutex_lock(&d->eps_mtx);
    int same = version == d->version && d->version != 0;
    pthread_mutex_unlock(&d->eps_mtx);
    if (same) return HS_OK;
    deliver_endpoint_t *list;
    size_t count;
    if ((e = deliver_store_endpoint_list(d->store, &list, &count, errstr, n))) return e;
    for (deliver_ep_t *ep = d->eps; ep; ep = ep->next) {
        int found = 0;
        for (size_t i = 0; i < count && !found; i++)
            found = !strcmp(list[i].id, ep->id);
        pthread_mutex_lock(&ep->mtx);
        ep->gone = !found;
        pthread_mutex_unlock(&ep->mtx);
    }
    for (size_t i = 0; i < count; i++) {
        deliver_ep_t *ep = deliver_ep_find(d, list[i].id);
        int fresh = !ep;
        if (fresh && !(ep = ep_new(d, list[i].id))) break;
        pthread_mutex_lock(&ep->mtx);
        ep_set(d, ep, &list[i]);
        pthread_mutex_unlock(&ep->mtx);
        if (fresh) {
            pthread_mutex_lock(&d->eps_mtx);
            ep->next = d->eps;
            d->eps = ep;
            pthread_mutex_unlock(&d->eps_mtx);
        }
    }
    for (size_t i = 0; i < count; i++)
        deliver_endpoint_clear(&list[i]);
    free(list);
    pthread_mutex_lock(&d->eps_mtx);
    d->version = version;
    pthread_mutex_unlock(&d->eps_mtx);
    return HS_OK;
}

void deliver_eps_free(deliver_t *d) {
    deliver_ep_t *ep = d->eps;
    while (ep) {
        deliver_ep_t *next = ep->next;
        deliver_endpoint_clear(&ep->def);
        pthread_mutex_destroy(&ep->mtx);
        free(ep);
        ep = next;
    }
    d->eps = NULL;
}
