/* The invalidator's work on one event (see inv_internal.h): envelope, rules, decoding when a
 * template reads the data, the tags, one Redis invalidation per tag retried in place while Redis
 * is down, metrics and logs. */
#include <stdio.h>
#include <string.h>

#include "hs_cachetag.h"
#include "hs_catalog.h"
#include "hs_envelope.h"
#include "hs_log.h"
#include "inv_internal.h"

#define BACKOFF_MIN_MS 100

/* The type label: a type of the catalog (the only ones rules can name), else "other": the
 * header comes from producers, so its values are not trusted to stay few. */
static const char *type_label(const char *type) {
    return hs_catalog_find(type) ? type : "other";
}

static void count(invalidator_t *v, const char *type, const char *outcome) {
    const char *lv[] = {type_label(type), outcome};
    hs_metric_add(v->m.events, lv, 1);
}

static void skip_undecodable(invalidator_t *v, hs_consumer_msg_t *m, const char *type,
                             const char *error) {
    count(v, type, "undecodable");
    hs_log(HS_LOG_WARN, "undecodable event skipped (nothing invalidated)",
           "{s:s, s:i, s:I, s:s, s:s}", "topic", hs_consumer_msg_topic(m), "partition",
           (int)hs_consumer_msg_partition(m), "offset", (json_int_t)hs_consumer_msg_offset(m),
           "type", type, "error", error);
    hs_consumer_msg_done(m, HS_CONSUMER_OK, 0, NULL, NULL);
}

static int64_t backoff_next(const invalidator_t *v, int64_t ms) {
    return ms * 2 > v->retry_max_ms ? v->retry_max_ms : ms * 2;
}

/* The event's data, decoded; retried in place while the registry is unreachable. Returns
 * HS_OK, HS_ERR_INVALID (undecodable: the reason in err) or HS_ERR_UNAVAILABLE (stopping). */
static hs_err_t decode(invalidator_t *v, hs_consumer_msg_t *m, json_t **data, char *err, size_t n) {
    size_t len;
    const void *value = hs_consumer_msg_value(m, &len);
    for (int64_t wait = BACKOFF_MIN_MS;; wait = backoff_next(v, wait)) {
        hs_err_t e = hs_eventdec_decode(v->dec, value, len, data, err, n);
        if (e != HS_ERR_UNAVAILABLE) {
            inv_outage_ok(&v->registry_out);
            return e ? HS_ERR_INVALID : HS_OK;
        }
        inv_outage_fail(&v->registry_out, "schema registry", err);
        if (!inv_sleep(v, wait)) return HS_ERR_UNAVAILABLE;
    }
}

/* Invalidates one tag; retried in place until Redis confirms. 0 when stopping first. */
static int invalidate(inv_worker_t *w, const char *tenant, const char *tag) {
    invalidator_t *v = w->v;
    char err[512];
    for (int64_t wait = BACKOFF_MIN_MS;; wait = backoff_next(v, wait)) {
        long long deleted = 0;
        hs_err_t e = hs_cachetag_invalidate(w->redis, v->prefix, v->channel, tenant, tag, &deleted,
                                            err, sizeof err);
        if (!e) {
            inv_outage_ok(&v->redis_out);
            hs_metric_add(v->m.tags, NULL, 1);
            hs_metric_add(v->m.keys_deleted, NULL, (double)deleted);
            return 1;
        }
        if (e == HS_ERR_INVALID) { /* tenant and tag were checked before: a bug, not an outage */
            hs_log(HS_LOG_ERROR, "tag not invalidated", "{s:s, s:s}", "tag", tag, "error", err);
            return 1;
        }
        /* I/O errors and error replies alike (LOADING after a restart, READONLY during a
         * failover, OOM): the event waits, its offset held. */
        hs_metric_add(v->m.redis_errors, NULL, 1);
        inv_outage_fail(&v->redis_out, hs_redis_addr(w->redis), err);
        if (!inv_sleep(v, wait)) return 0;
    }
}

static void log_missing(hs_consumer_msg_t *m, const hs_envelope_t *env, const inv_tags_t *t) {
    hs_log(HS_LOG_WARN, "tag template names a missing field",
           "{s:s, s:s, s:s, s:i, s:I, s:s, s:s, s:i, s:i}", "type", env->type, "event", env->id,
           "topic", hs_consumer_msg_topic(m), "partition", (int)hs_consumer_msg_partition(m),
           "offset", (json_int_t)hs_consumer_msg_offset(m), "field", t->missing, "reason", t->why,
           "templates_missing", (int)t->nmissing, "tags_invalidated", (int)t->n);
}

/* Renders the tags of an event that has rules into w->tags. A tenant no cache key can name
 * (nothing can be cached for it) counts as its missing field. */
static void render(inv_worker_t *w, const hs_envelope_t *env, json_t *data) {
    inv_tags_t *t = &w->tags;
    if (!hs_cachetag_tenant_ok(env->tenant)) {
        json_decref(data);
        *t = (inv_tags_t){.nmissing = 1};
        snprintf(t->missing, sizeof t->missing, "tenant");
        snprintf(t->why, sizeof t->why, "not a cache tenant ([A-Za-z0-9._-], up to 64)");
        return;
    }
    json_t *event = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "id", env->id, "type",
                              env->type, "source", env->source, "subject", env->subject, "time",
                              env->time, "tenant", env->tenant, "data", data);
    inv_rules_render(w->v->rules, env->type, event, t);
    json_decref(event);
}

/* Invalidates the tags of an event that has rules; 0 when stopping first. */
static int apply(inv_worker_t *w, hs_consumer_msg_t *m, const hs_envelope_t *env, json_t *data) {
    invalidator_t *v = w->v;
    render(w, env, data);
    for (size_t i = 0; i < w->tags.n; i++)
        if (!invalidate(w, env->tenant, w->tags.tags[i])) return 0;
    int64_t t0 = hs_envelope_time_ms(env->time);
    if (w->tags.n && t0 >= 0) {
        int64_t late = hs_wall_ms() - t0;
        hs_metric_observe(v->m.seconds, NULL, late > 0 ? (double)late / 1000.0 : 0);
    }
    if (w->tags.nmissing) log_missing(m, env, &w->tags);
    count(v, env->type, w->tags.nmissing ? "missing_field" : "invalidated");
    return 1;
}

void inv_process(inv_worker_t *w, hs_consumer_msg_t *m) {
    invalidator_t *v = w->v;
    char err[512] = "";
    hs_envelope_t env;
    rd_kafka_headers_t *hdrs = hs_consumer_msg_headers(m);
    if (!hdrs || hs_envelope_parse(hdrs, &env, err, sizeof err)) {
        const char *type = hs_consumer_msg_header(m, "ce_type");
        skip_undecodable(v, m, type ? type : "", hdrs ? err : "no CloudEvents headers");
        return;
    }
    if (!inv_rules_match(v->rules, env.type)) {
        count(v, env.type, "no_rule");
        hs_consumer_msg_done(m, HS_CONSUMER_OK, 0, NULL, NULL);
        return;
    }
    json_t *data = NULL;
    if (!inv_rules_need_data(v->rules, env.type)) {
        data = json_object();
    } else {
        hs_err_t e = decode(v, m, &data, err, sizeof err);
        if (e == HS_ERR_UNAVAILABLE) return; /* stopping: left unfinished, consumed again */
        if (e) {
            skip_undecodable(v, m, env.type, err);
            return;
        }
    }
    if (apply(w, m, &env, data)) hs_consumer_msg_done(m, HS_CONSUMER_OK, 0, NULL, NULL);
}
