/* cache-proxy's workers: what a job does after the L1 (see cache_internal.h). A lookup reads
 * L2 (the entry and its tags' generations in one MGET), then leads or joins the flight that
 * calls the upstream once for the concurrent misses of its key (cache_flight.c); a fresh answer is
 * stored in L2 through the generation guard and in L1 through the stamp guard; upstream
 * trouble serves the stale copy of routes with stale_if_error. Writes to write_through routes
 * invalidate the route's tags once the upstream said 2xx. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache_internal.h"
#include "cache_policy.h"
#include "hs_log.h"

#define ERR_MAX 512

/* An answer of the proxy's own (502/504) as an entry, so waiters can share it. */
static cache_entry_t *error_entry(int status, const char *detail) {
    json_t *doc = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title",
                            status == 504 ? "Gateway Timeout" : "Bad Gateway", "status", status,
                            "detail", detail);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    cache_header_t h[] = {{"Content-Type", "application/problem+json"}};
    cache_entry_t *e =
        cache_entry_new(status, hs_wall_ms(), 0, h, 1, text ? text : "", text ? strlen(text) : 0);
    free(text);
    return e;
}

/* Sends e to the job (and, when it led a flight, to its waiters: e NULL sends them back to
 * the queue). A NULL e for the job itself means out of memory: 503. */
static void finish(cache_proxy_t *p, job_t *job, const cache_entry_t *e, const cache_entry_t *mine,
                   const char *xcache, const char *result) {
    if (job->kind == JOB_LOOKUP) cache_flight_finish(p, job, e, xcache, result);
    if (mine) {
        cache_answer(p, job, mine, xcache, result);
        return;
    }
    hs_http_respond_problem(job->req, 503, "Service Unavailable", "out of memory");
    free(job);
}

static const char *error_reason(hs_err_t err) {
    switch (err) {
    case HS_ERR_TIMEOUT:
        return "timeout";
    case HS_ERR_UNAVAILABLE:
        return "connect";
    case HS_ERR_TOO_LARGE:
        return "too_large";
    default:
        return "io";
    }
}

/* Calls the upstream for job; counts and logs failures (an error or a 5xx). Returns err. */
static hs_err_t call(worker_t *w, job_t *job, const char *method, cache_upstream_resp_t *resp,
                     char *errstr) {
    cache_proxy_t *p = w->p;
    cache_upstream_opts_t o = {method, job->route &&
                                           !cache_route_varies(job->route, "Accept-Encoding") &&
                                           strcmp(method, "GET") == 0 && job->kind != JOB_PASS};
    hs_err_t err = cache_upstream_call(w->up, job->req, &o, resp, errstr, ERR_MAX);
    const char *route = job->route_label;
    hs_metric_observe(p->m.upstream_seconds, &route, resp->seconds);
    if (!err && resp->status < 500) return HS_OK;
    const char *labels[] = {route, err ? error_reason(err) : "status_5xx"};
    hs_metric_add(p->m.upstream_errors, labels, 1);
    hs_log(HS_LOG_WARN, "upstream call failed", "{s:s, s:s, s:s, s:i, s:f, s:s}", "route", route,
           "method", method, "path", hs_http_req_path(job->req), "status", (int)resp->status,
           "latency_s", resp->seconds, "error", err ? errstr : "upstream answered 5xx");
    return err;
}

static void l1_put(cache_proxy_t *p, job_t *job, cache_entry_t *e, uint64_t stamp) {
    int64_t ttl = job->route->l1_ttl_ms, fresh = e->fresh_until_ms - hs_wall_ms();
    ttl = fresh < ttl ? fresh : ttl;
    if (ttl <= 0) return;
    int64_t now = hs_mono_ms();
    if (cache_l1_put(p->l1, job->key, job->tenant, job->tagp, job->ntags, e, now + ttl, stamp,
                     now) == CACHE_L1_STALE) {
        const char *tier = "l1";
        hs_metric_add(p->m.stale_rejections, &tier, 1);
    }
}

/* Parses a generation (absent: 0); -1 when it is not an integer. */
static int generation(const redisReply *r, long long *out) {
    *out = 0;
    if (r->type == REDIS_REPLY_NIL) return 0;
    if (r->type != REDIS_REPLY_STRING || !r->len) return -1;
    char *end;
    *out = strtoll(r->str, &end, 10);
    return end == r->str + r->len ? 0 : -1;
}

/* The value of one L2 entry: a new reference, or NULL (counted and logged when undecodable). */
static cache_entry_t *decode(cache_proxy_t *p, const job_t *job, const redisReply *r) {
    if (r->type != REDIS_REPLY_STRING) return NULL;
    cache_entry_t *e = cache_entry_decode(r->str, r->len);
    if (!e) {
        const char *op = "decode";
        hs_metric_add(p->m.redis_errors, &op, 1);
        hs_log(HS_LOG_WARN, "cache-proxy: undecodable L2 entry, treated as a miss", "{s:s}", "key",
               job->key);
    }
    return e;
}

/* Reads the job's L2 entry and its tags' generations (job->snap.gens) with one MGET, so both
 * are of one moment: an entry found is as new as the generations read. Returns 1 when Redis
 * answered, with *e the entry (a new reference) or NULL, and counts the lookup; else 0 with
 * errstr. */
static int l2_read(cache_proxy_t *p, hs_redis_t *r, job_t *job, cache_entry_t **e, char *errstr,
                   size_t errstr_size) {
    char gkeys[HS_CACHETAG_MAX_TAGS][CACHE_KEY_MAX];
    const char *argv[HS_CACHETAG_MAX_TAGS + 2] = {"MGET", job->key};
    int argc = 2;
    *e = NULL;
    job->snap.has_gens = 0;
    for (size_t i = 0; i < job->ntags; i++, argc++) {
        if (hs_cachetag_key(gkeys[i], sizeof gkeys[i], p->prefix, HS_CACHETAG_GEN, job->tenant,
                            job->tags[i]) < 0)
            return 1; /* a tag too long for a key: a miss without generations */
        argv[argc] = gkeys[i];
    }
    redisReply *rep = hs_redis_command(r, argc, argv, NULL, errstr, errstr_size);
    int ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == (size_t)argc - 1;
    if (rep && !ok)
        snprintf(errstr, errstr_size, "redis MGET: %s",
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
    if (ok) {
        *e = decode(p, job, rep->element[0]);
        job->snap.has_gens = 1;
        for (size_t i = 0; i < job->ntags; i++)
            if (generation(rep->element[i + 1], &job->snap.gens[i])) job->snap.has_gens = 0;
        const char *labels[] = {"l2", job->route_label, *e ? "hit" : "miss"};
        hs_metric_add(p->m.lookups, labels, 1);
    }
    freeReplyObject(rep);
    return ok;
}

/* Stores e in L2 unless a tag moved on since gens were read; 1 stored, 0 refused, -1 Redis
 * failed. */
static int l2_store(worker_t *w, job_t *job, const cache_entry_t *e, int64_t ttl_ms,
                    const long long *gens) {
    char err[ERR_MAX];
    int stored = 0;
    cache_proxy_t *p = w->p;
    hs_err_t rc = hs_cachetag_store(w->redis, p->prefix, job->tenant, job->key, e->encoded,
                                    e->encoded_len, ttl_ms + job->route->stale_if_error_ms,
                                    job->tagp, gens, job->ntags, &stored, err, sizeof err);
    cache_redis_result(p, rc == HS_OK, "store", err);
    if (rc) return -1;
    if (!stored) {
        const char *tier = "l2";
        hs_metric_add(p->m.stale_rejections, &tier, 1);
    }
    return stored;
}

/* Keeps a fresh answer in both tiers: L1 only after L2 took it (or Redis is down). */
static void store(worker_t *w, job_t *job, cache_entry_t *e, int64_t ttl_ms, uint64_t stamp,
                  const long long *gens) {
    int stored = gens ? l2_store(w, job, e, ttl_ms, gens) : -1;
    if (stored != 0) l1_put(w->p, job, e, stamp);
}

/* The upstream failed (err, or a 5xx in resp): the stale copy when the route allows it, else
 * the failure. */
static void upstream_failed(cache_proxy_t *p, job_t *job, hs_err_t err, cache_upstream_resp_t *resp,
                            const char *errstr, cache_entry_t *stale, const char *xcache) {
    int64_t now = hs_wall_ms();
    if (stale && job->route && now <= stale->fresh_until_ms + job->route->stale_if_error_ms) {
        finish(p, job, stale, stale, "STALE", "stale_if_error");
        return;
    }
    cache_entry_t *e = err ? error_entry(err == HS_ERR_TIMEOUT ? 504 : 502, errstr)
                           : cache_entry_new((int)resp->status, now, 0, resp->headers,
                                             resp->nheaders, resp->body, resp->len);
    finish(p, job, e, e, xcache, "error");
    cache_entry_unref(e);
}

/* Fetches a miss (or a refresh) from the upstream, stores it when it may be cached (guarded
 * by job->snap, taken before), and answers the job and its waiters. */
static void fetch(worker_t *w, job_t *job, cache_entry_t *stale, const char *xcache,
                  const char *result) {
    cache_proxy_t *p = w->p;
    char err[ERR_MAX];
    cache_upstream_resp_t resp;
    hs_err_t uerr = call(w, job, "GET", &resp, err);
    if (uerr || resp.status >= 500) {
        upstream_failed(p, job, uerr, &resp, err, stale, xcache);
        cache_upstream_resp_clear(&resp);
        return;
    }
    int64_t ttl = 0, now = hs_wall_ms();
    cache_policy_t pol =
        cache_policy_answer((int)resp.status, resp.headers, resp.nheaders, resp.len, p->max_object,
                            job->route->ttl_ms, &ttl, NULL);
    cache_entry_t *e = cache_entry_new((int)resp.status, now, now + ttl, resp.headers,
                                       resp.nheaders, resp.body, resp.len);
    cache_upstream_resp_clear(&resp);
    if (e && pol == CACHE_POLICY_STORE)
        store(w, job, e, ttl, job->snap.stamp, job->snap.has_gens ? job->snap.gens : NULL);
    const char *res = pol == CACHE_POLICY_STORE ? result : "uncacheable";
    finish(p, job, pol == CACHE_POLICY_PRIVATE ? NULL : e, e, xcache, res);
    cache_entry_unref(e);
}

/* A GET of a route: L2 (its own read, never shared), then the upstream call of a flight. */
static void lookup(worker_t *w, job_t *job) {
    cache_proxy_t *p = w->p;
    char err[ERR_MAX] = "";
    cache_entry_t *e;
    job->snap.stamp = cache_l1_stamp(p->l1, job->tenant, job->tagp, job->ntags);
    cache_redis_result(p, l2_read(p, w->redis, job, &e, err, sizeof err), "get", err);
    if (e && e->fresh_until_ms > hs_wall_ms()) {
        l1_put(p, job, e, job->snap.stamp);
        cache_answer(p, job, e, "HIT-L2", "hit_l2");
    } else if (cache_flight_join(p, job)) {
        fetch(w, job, e, "MISS", "miss");
    }
    cache_entry_unref(e);
}

/* A GET with no-cache: the upstream without a flight, and its answer replaces the cached one. */
static void refresh(worker_t *w, job_t *job) {
    cache_proxy_t *p = w->p;
    char err[ERR_MAX];
    job->snap.stamp = cache_l1_stamp(p->l1, job->tenant, job->tagp, job->ntags);
    hs_err_t rc = hs_cachetag_generations(w->redis, p->prefix, job->tenant, job->tagp, job->ntags,
                                          job->snap.gens, err, sizeof err);
    if (job->ntags) cache_redis_result(p, rc == HS_OK, "mget", err);
    job->snap.has_gens = rc == HS_OK;
    fetch(w, job, NULL, "BYPASS", "bypass");
}

/* Pass-through (and write-through): the client's method, nothing stored. */
static void pass(worker_t *w, job_t *job) {
    cache_proxy_t *p = w->p;
    char err[ERR_MAX];
    cache_upstream_resp_t resp;
    const char *method = hs_http_req_method(job->req);
    const char *xcache = job->kind == JOB_PRIVATE ? "MISS" : "BYPASS";
    hs_err_t uerr = call(w, job, method, &resp, err);
    if (uerr || resp.status >= 500) {
        upstream_failed(p, job, uerr, &resp, err, NULL, xcache);
        cache_upstream_resp_clear(&resp);
        return;
    }
    for (size_t i = 0; job->kind == JOB_WRITE && resp.status / 100 == 2 && i < job->ntags; i++) {
        long long deleted = 0;
        hs_err_t rc = hs_cachetag_invalidate(w->redis, p->prefix, p->channel, job->tenant,
                                             job->tags[i], &deleted, err, sizeof err);
        cache_redis_result(p, rc == HS_OK, "invalidate", err);
        cache_l1_invalidate(p->l1, job->tenant, job->tags[i]); /* this instance, at once */
        hs_log(HS_LOG_DEBUG, "write-through invalidation", "{s:s, s:s, s:I, s:b}", "tenant",
               job->tenant, "tag", job->tags[i], "deleted", (json_int_t)deleted, "redis",
               rc == HS_OK);
    }
    cache_entry_t *e = cache_entry_new((int)resp.status, hs_wall_ms(), 0, resp.headers,
                                       resp.nheaders, resp.body, resp.len);
    cache_upstream_resp_clear(&resp);
    finish(p, job, e, e, xcache, job->kind == JOB_PRIVATE ? "uncacheable" : "bypass");
    cache_entry_unref(e);
}

void cache_job_run(worker_t *w, job_t *job) {
    switch (job->kind) {
    case JOB_LOOKUP:
        lookup(w, job);
        break;
    case JOB_REFRESH:
        refresh(w, job);
        break;
    default:
        pass(w, job);
    }
}
