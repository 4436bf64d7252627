/* The trigger consumer: every event of the consumed topics becomes a run of each workflow whose
 * trigger it matches (type and condition), created idempotently per (workflow, event id), and
 * ends the waits it matches. The offset moves on only after Postgres has both (at-least-once;
 * redelivery changes nothing). Events deeper than workflows.max_depth in a chain of emit steps
 * start nothing: a workflow that triggers itself stops there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hs_envelope.h"
#include "hs_jsonlogic.h"
#include "hs_log.h"
#include "wf_internal.h"
#include "wf_template.h"

#define RETRY_MS 2000

json_t *wf_condition_data(const json_t *event, const json_t *steps) {
    json_t *data = json_deep_copy(event);
    if (!data) return NULL;
    json_object_set(data, "event", (json_t *)event);
    if (steps) json_object_set(data, "steps", (json_t *)steps);
    return data;
}

int wf_match(void *opaque, const json_t *match, const json_t *event) {
    (void)opaque;
    if (!match || json_is_null(match)) return 1;
    json_t *data = wf_condition_data(event, NULL);
    char err[256];
    json_t *r = data ? hs_jsonlogic_apply(match, data, err, sizeof err) : NULL;
    if (!r && data)
        hs_log(HS_LOG_WARN, "wait match failed: treated as no match", "{s:s}", "error", err);
    int ok = r && hs_jsonlogic_truthy(r);
    json_decref(r);
    json_decref(data);
    return ok;
}

/* The event as runs see it: {"id","type","source","subject","time","tenant","data"}. */
static json_t *event_json(const hs_envelope_t *env, json_t *data) {
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "id", env->id, "type", env->type,
                     "source", env->source, "subject", env->subject, "time", env->time, "tenant",
                     env->tenant, "data", data);
}

/* 1 when def's condition holds for event; a JsonLogic error is logged and counts as false. */
static int condition_holds(const wf_def_t *def, const json_t *event) {
    if (!def->condition) return 1;
    json_t *data = wf_condition_data(event, NULL);
    char err[256];
    json_t *r = data ? hs_jsonlogic_apply(def->condition, data, err, sizeof err) : NULL;
    if (!r && data)
        hs_log(HS_LOG_WARN, "trigger condition failed: treated as false", "{s:s, s:s, s:s}",
               "workflow", def->name, "event", json_string_value(json_object_get(event, "id")),
               "error", err);
    int ok = r && hs_jsonlogic_truthy(r);
    json_decref(r);
    json_decref(data);
    return ok;
}

static json_t *resolve_event(void *opaque, const char *const *segs, size_t nsegs) {
    if (strcmp(segs[0], "event")) return NULL;
    return wf_template_resolve_json(opaque, segs + 1, nsegs - 1);
}

/* The run of def for event as wf_store_runs_create takes it (new reference). */
static json_t *run_of(const wf_def_t *def, const json_t *event, int depth) {
    char key[512] = "";
    if (def->key) {
        char err[256];
        char *k = wf_template_render_str(def->key, resolve_event, (void *)event, err, sizeof err);
        if (k)
            snprintf(key, sizeof key, "%s", k);
        else
            hs_log(HS_LOG_WARN, "concurrency key not rendered: run has no key", "{s:s, s:s}",
                   "workflow", def->name, "error", err);
        free(k);
    }
    return json_pack("{s:s, s:s, s:O, s:O, s:s, s:O, s:i, s:i, s:i, s:I}", "workflow", def->name,
                     "version", def->version, "trigger_id", json_object_get(event, "id"),
                     "trigger_type", json_object_get(event, "type"), "key", key, "event", event,
                     "depth", depth, "max_runs", def->max_runs, "max_per_key", def->max_per_key,
                     "deadline_ms", (json_int_t)(hs_wall_ms() + def->timeout_ms));
}

/* Creates runs (an array from run_of) and counts and logs those that are new. */
static hs_err_t create_runs(wf_service_t *s, wf_store_t *store, const json_t *runs, char *errstr,
                            size_t n) {
    json_t *created = NULL;
    hs_err_t e = wf_store_runs_create(store, runs, &created, errstr, n);
    size_t i;
    json_t *r;
    json_array_foreach(created, i, r) {
        const char *lv[] = {json_string_value(json_object_get(r, "workflow"))};
        hs_metric_add(s->m.runs_started, lv, 1);
        hs_log(HS_LOG_INFO, "run created", "{s:O, s:O, s:O}", "workflow",
               json_object_get(r, "workflow"), "run", json_object_get(r, "id"), "event",
               json_object_get(r, "trigger_id"));
    }
    if (json_array_size(created)) wf_wake_workers(s);
    json_decref(created);
    return e;
}

static int waited_for(const wf_snap_t *snap, const char *type) {
    for (size_t i = 0; i < snap->nwait_types; i++)
        if (!strcmp(snap->wait_types[i], type)) return 1;
    return 0;
}

/* The runs event starts (new array, maybe empty); *waited: some step waits for its type. */
static json_t *runs_for(wf_service_t *s, const json_t *event, int depth, int *waited) {
    const char *type = json_string_value(json_object_get(event, "type"));
    json_t *runs = json_array();
    wf_snap_t *snap = wf_snap_get(s);
    for (size_t i = 0; i < snap->defs->n; i++) {
        const wf_def_t *def = snap->defs->defs[i];
        if (def->schedule || !wf_def_matches_type(def, type) || !condition_holds(def, event))
            continue;
        if (depth >= s->max_depth) {
            hs_metric_add(s->m.loop_stopped, NULL, 1);
            hs_log(HS_LOG_WARN, "emit depth reached: no run started (workflow loop?)",
                   "{s:s, s:s, s:i, s:i}", "workflow", def->name, "event",
                   json_string_value(json_object_get(event, "id")), "depth", depth, "max_depth",
                   s->max_depth);
            continue;
        }
        json_array_append_new(runs, run_of(def, event, depth));
    }
    *waited = waited_for(snap, type);
    wf_snap_release(snap);
    return runs;
}

/* An event some step waits for: its runs and the waits it ends, here, in order. */
static hs_err_t trigger_now(wf_service_t *s, const json_t *event, const json_t *runs, char *errstr,
                            size_t n) {
    hs_err_t e = json_array_size(runs) ? create_runs(s, s->trigger_store, runs, errstr, n) : HS_OK;
    int woken = 0;
    if (!e)
        e = wf_store_event_arrived(s->trigger_store,
                                   json_string_value(json_object_get(event, "type")),
                                   json_string_value(json_object_get(event, "id")), event,
                                   s->event_keep_ms, wf_match, s, &woken, errstr, n);
    if (woken) wf_wake_workers(s);
    return e;
}

static void done(wf_service_t *s, hs_consumer_msg_t *m, const char *outcome,
                 hs_consumer_verdict_t v, const char *cls, const char *err) {
    const char *lv[] = {outcome};
    hs_metric_add(s->m.triggers, lv, 1);
    if (v != HS_CONSUMER_OK)
        hs_log(v == HS_CONSUMER_FAIL ? HS_LOG_ERROR : HS_LOG_WARN,
               v == HS_CONSUMER_FAIL ? "event dead-lettered" : "event retried",
               "{s:s, s:i, s:I, s:s}", "topic", hs_consumer_msg_topic(m), "partition",
               (int)hs_consumer_msg_partition(m), "offset", (json_int_t)hs_consumer_msg_offset(m),
               "error", err);
    hs_consumer_msg_done(m, v, RETRY_MS, cls, err);
}

static void batch_add(wf_service_t *s, hs_consumer_msg_t *m, json_t *runs);

void wf_trigger_handle(hs_consumer_msg_t *m, void *opaque) {
    wf_service_t *s = opaque;
    char err[512] = "";
    hs_envelope_t env;
    rd_kafka_headers_t *hdrs = hs_consumer_msg_headers(m);
    if (!hdrs || hs_envelope_parse(hdrs, &env, err, sizeof err)) {
        if (!hdrs) snprintf(err, sizeof err, "no CloudEvents headers");
        done(s, m, "invalid", HS_CONSUMER_FAIL, "invalid_envelope", err);
        return;
    }
    size_t len;
    const void *value = hs_consumer_msg_value(m, &len);
    json_t *data = NULL;
    hs_err_t e = hs_eventdec_decode(s->dec, value, len, &data, err, sizeof err);
    if (e) {
        int bad = e == HS_ERR_INVALID;
        done(s, m, bad ? "invalid" : "retried", bad ? HS_CONSUMER_FAIL : HS_CONSUMER_RETRY,
             bad ? "undecodable" : "registry_unavailable", err);
        return;
    }
    json_t *event = event_json(&env, data);
    if (!event) {
        done(s, m, "retried", HS_CONSUMER_RETRY, "internal", "out of memory");
        return;
    }
    const char *d = hs_consumer_msg_header(m, WF_HDR_DEPTH);
    int waited = 0;
    json_t *runs = runs_for(s, event, d ? (int)strtol(d, NULL, 10) : 0, &waited);
    if (!waited && json_array_size(runs)) { /* the common case: created with others */
        json_decref(event);
        batch_add(s, m, runs);
        return;
    }
    e = waited ? trigger_now(s, event, runs, err, sizeof err) : HS_OK;
    json_decref(event);
    json_decref(runs);
    if (e)
        done(s, m, "retried", HS_CONSUMER_RETRY, "store_unavailable", err);
    else
        done(s, m, "ok", HS_CONSUMER_OK, NULL, NULL);
}

/* ---- batches ------------------------------------------------------------------------------- */

/* One message whose runs wait to be created with others. */
struct wf_batch_item {
    hs_consumer_msg_t *m;
    json_t *runs;
    struct wf_batch_item *next;
};

static void batch_add(wf_service_t *s, hs_consumer_msg_t *m, json_t *runs) {
    wf_batch_item_t *it = malloc(sizeof *it);
    if (!it) {
        json_decref(runs);
        done(s, m, "retried", HS_CONSUMER_RETRY, "internal", "out of memory");
        return;
    }
    *it = (wf_batch_item_t){.m = m, .runs = runs};
    pthread_mutex_lock(&s->batch_mtx);
    if (s->batch_tail)
        s->batch_tail->next = it;
    else
        s->batch_head = it;
    s->batch_tail = it;
    pthread_cond_signal(&s->batch_cond);
    pthread_mutex_unlock(&s->batch_mtx);
}

/* Creates the runs of every queued message in one statement, then finishes the messages: the
 * offsets move on only after Postgres has the runs. */
static void batch_flush(wf_service_t *s, wf_batch_item_t *items) {
    json_t *all = json_array();
    for (wf_batch_item_t *it = items; it; it = it->next)
        json_array_extend(all, it->runs);
    char err[512] = "";
    hs_err_t e = create_runs(s, s->batch_store, all, err, sizeof err);
    json_decref(all);
    while (items) {
        wf_batch_item_t *next = items->next;
        if (e)
            done(s, items->m, "retried", HS_CONSUMER_RETRY, "store_unavailable", err);
        else
            done(s, items->m, "ok", HS_CONSUMER_OK, NULL, NULL);
        json_decref(items->runs);
        free(items);
        items = next;
    }
}

void *wf_batcher_main(void *arg) {
    wf_service_t *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->batch_mtx);
        while (!s->batch_head && !atomic_load(&s->batch_stop))
            pthread_cond_wait(&s->batch_cond, &s->batch_mtx);
        wf_batch_item_t *items = s->batch_head;
        s->batch_head = s->batch_tail = NULL;
        int stop = atomic_load(&s->batch_stop);
        pthread_mutex_unlock(&s->batch_mtx);
        if (stop) { /* the consumer has stopped: these are consumed again after a restart */
            while (items) {
                wf_batch_item_t *next = items->next;
                json_decref(items->runs);
                free(items);
                items = next;
            }
            return NULL;
        }
        batch_flush(s, items);
    }
}
