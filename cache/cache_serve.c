/* cache-proxy's request path on the HTTP threads: route, tenant, key, and the L1 lookup, which
 * answers hits at once; everything else becomes a job for the workers (cache_fetch.c). Also
 * the one place answers are sent and counted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache_internal.h"
#include "cache_policy.h"
#include "hs_log.h"

static void respond(cache_proxy_t *p, hs_http_req_t *req, const cache_entry_t *e,
                    const char *xcache, const char *route, const char *result, double start) {
    for (size_t i = 0; i < e->nheaders; i++)
        hs_http_add_header(req, e->headers[i].name, e->headers[i].value);
    hs_http_add_header(req, "X-Cache", xcache);
    if (strncmp(xcache, "HIT", 3) == 0 || strcmp(xcache, "STALE") == 0) {
        char age[24];
        int64_t ms = hs_wall_ms() - e->stored_ms;
        snprintf(age, sizeof age, "%lld", (long long)(ms > 0 ? ms / 1000 : 0));
        hs_http_add_header(req, "Age", age);
    }
    hs_http_respond(req, e->status, NULL, e->body, e->body_len);
    const char *labels[] = {route, result};
    hs_metric_add(p->m.requests, labels, 1);
    hs_metric_observe(p->m.request_seconds, labels, hs_mono_s() - start);
}

void cache_answer(cache_proxy_t *p, job_t *job, const cache_entry_t *e, const char *xcache,
                  const char *result) {
    respond(p, job->req, e, xcache, job->route_label, result, job->start);
    free(job);
}

static int is_write(const char *method) {
    return !strcmp(method, "PUT") || !strcmp(method, "PATCH") || !strcmp(method, "POST") ||
           !strcmp(method, "DELETE");
}

/* The entry key of a GET/HEAD of route: tenant, then the fingerprint. -1 when too long. */
static int entry_key(cache_proxy_t *p, hs_http_req_t *req, const cache_route_t *r,
                     const char *tenant, char *key, size_t n) {
    const char *values[CACHE_ROUTE_MAX_VARY];
    for (size_t i = 0; i < r->nvary; i++)
        values[i] = hs_http_req_header(req, r->vary[i]);
    char fp[33];
    cache_fingerprint("GET", r->path, hs_http_req_target(req), (const char *const *)r->vary, values,
                      r->nvary, fp);
    return hs_cachetag_key(key, n, p->prefix, HS_CACHETAG_ENTRY, tenant, fp) < 0 ? -1 : 0;
}

/* Credentials in a request make its answer personal unless the route varies on them. */
static int personal(hs_http_req_t *req, const cache_route_t *r) {
    return (hs_http_req_header(req, "Authorization") && !cache_route_varies(r, "Authorization")) ||
           (hs_http_req_header(req, "Cookie") && !cache_route_varies(r, "Cookie"));
}

/* The route matching scratch of each HTTP thread: a match holds the decoded path (8 KiB), too
 * big to allocate for every request or to put on a server thread's stack. */
static _Thread_local cache_match_t match_buf;

/* Returns the request's tenant (borrowed from req), or NULL after answering 400 when it is
 * malformed. */
static const char *tenant_of(cache_proxy_t *p, hs_http_req_t *req, const cache_route_t *r) {
    const char *tenant = hs_http_req_header(req, p->tenant_header);
    tenant = tenant ? tenant : "";
    if (hs_cachetag_tenant_ok(tenant)) return tenant;
    char detail[256];
    snprintf(detail, sizeof detail, "%s: '%.80s' is not up to %d characters of [A-Za-z0-9._-]",
             p->tenant_header, tenant, HS_CACHETAG_TENANT_MAX);
    hs_http_respond_problem(req, 400, "Bad Request", detail);
    const char *labels[] = {r->path, "error"};
    hs_metric_add(p->m.requests, labels, 1);
    return NULL;
}

/* Answers from L1 when it holds the key; returns 1 when it did. */
static int l1_hit(cache_proxy_t *p, hs_http_req_t *req, const cache_route_t *r, const char *key,
                  double start) {
    cache_entry_t *e = cache_l1_get(p->l1, key, hs_mono_ms(), NULL);
    const char *labels[] = {"l1", r->path, e ? "hit" : "miss"};
    hs_metric_add(p->m.lookups, labels, 1);
    if (!e) return 0;
    respond(p, req, e, "HIT-L1", r->path, "hit_l1", start);
    cache_entry_unref(e);
    return 1;
}

/* Returns a new job (the caller owns it) for what the L1 could not answer, or NULL when out of
 * memory. Tags that cannot be rendered make it a pass-through. */
static job_t *job_new(hs_http_req_t *req, job_kind_t kind, const cache_match_t *m,
                      const char *tenant, const char *key, double start) {
    job_t *job = calloc(1, sizeof *job);
    if (!job) return NULL;
    job->req = req;
    job->kind = kind;
    job->route = kind == JOB_PASS ? NULL : m->route;
    job->route_label = m->route ? m->route->path : "unmatched";
    job->start = start;
    if (kind == JOB_PASS) return job;
    snprintf(job->tenant, sizeof job->tenant, "%s", tenant);
    if (kind == JOB_LOOKUP || kind == JOB_REFRESH) snprintf(job->key, sizeof job->key, "%s", key);
    char err[256];
    int n = cache_route_tags(m, job->tags, err, sizeof err);
    if (n < 0) {
        hs_log(HS_LOG_WARN, "cache-proxy: passing through a request whose tags cannot be made",
               "{s:s, s:s}", "path", hs_http_req_path(req), "error", err);
        job->kind = JOB_PASS;
        return job;
    }
    job->ntags = (size_t)n;
    for (size_t i = 0; i < job->ntags; i++)
        job->tagp[i] = job->tags[i];
    return job;
}

/* On the HTTP thread: L1 hits are answered here, without allocating; the rest becomes a job. */
void cache_on_request(hs_http_req_t *req, void *opaque) {
    cache_proxy_t *p = opaque;
    double start = hs_mono_s();
    const char *method = hs_http_req_method(req);
    int read = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    cache_match_t *m = &match_buf;
    const cache_route_t *r = cache_routes_match(p->routes, hs_http_req_path(req), m);
    job_kind_t kind = !r                                     ? JOB_PASS
                      : read && !personal(req, r)            ? JOB_LOOKUP
                      : r->write_through && is_write(method) ? JOB_WRITE
                                                             : JOB_PASS;
    const char *tenant = "";
    char key[CACHE_KEY_MAX];
    if (kind != JOB_PASS && !(tenant = tenant_of(p, req, r))) return;
    if (kind == JOB_LOOKUP && entry_key(p, req, r, tenant, key, sizeof key) < 0) kind = JOB_PASS;
    if (kind == JOB_LOOKUP && cache_policy_wants_fresh(hs_http_req_header(req, "Cache-Control"),
                                                       hs_http_req_header(req, "Pragma")))
        kind = JOB_REFRESH;
    if (kind == JOB_LOOKUP && l1_hit(p, req, r, key, start)) return;
    job_t *job = job_new(req, kind, m, tenant, key, start);
    if (!job) {
        hs_http_respond_problem(req, 503, "Service Unavailable", "out of memory");
        return;
    }
    hs_http_req_suspend(req);
    cache_enqueue(p, job);
}
