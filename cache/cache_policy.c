/* Cacheability of upstream answers (see cache_policy.h). */
#include "cache_policy.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const int cacheable_status[] = {200, 203, 204, 300, 301, 308, 404, 410};

int cache_policy_directive(const char *list, const char *directive, long long *value) {
    size_t n = strlen(directive);
    for (const char *p = list; p && *p;) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        size_t name = strcspn(p, "=, \t");
        if (name == n && !strncasecmp(p, directive, n)) {
            if (value) {
                const char *v = p + name;
                v += strspn(v, " \t");
                char *end;
                *value = *v == '=' ? strtoll(v + 1 + (v[1] == '"'), &end, 10) : -1;
                if (*v == '=' && (end == v + 1 || *value < 0)) *value = 0; /* malformed: 0 */
            }
            return 1;
        }
        p += len;
    }
    return 0;
}

static const char *header(const cache_header_t *h, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(h[i].name, name)) return h[i].value;
    return NULL;
}

cache_policy_t cache_policy_answer(int status, const cache_header_t *headers, size_t nheaders,
                                   size_t body_len, size_t max_object, int64_t route_ttl_ms,
                                   int64_t *ttl_ms, const char **why) {
    const char *reason = NULL, *cc = NULL;
    for (size_t i = 0; i < nheaders; i++) /* Cache-Control may come in several lines */
        if (!strcasecmp(headers[i].name, "Cache-Control") &&
            (cache_policy_directive(headers[i].value, "private", NULL) ||
             cache_policy_directive(headers[i].value, "no-store", NULL)))
            reason = "Cache-Control private or no-store";
    if (header(headers, nheaders, "Set-Cookie")) reason = "Set-Cookie";
    if (reason) {
        if (why) *why = reason;
        return CACHE_POLICY_PRIVATE;
    }
    size_t i = 0;
    while (i < sizeof cacheable_status / sizeof *cacheable_status && cacheable_status[i] != status)
        i++;
    long long s = -1, m = -1;
    cc = header(headers, nheaders, "Cache-Control");
    const char *vary = header(headers, nheaders, "Vary");
    if (i == sizeof cacheable_status / sizeof *cacheable_status)
        reason = "status not cacheable";
    else if (body_len > max_object)
        reason = "body over cache.max_object_bytes";
    else if (cache_policy_directive(cc, "no-cache", NULL))
        reason = "Cache-Control no-cache";
    else if (vary && cache_policy_directive(vary, "*", NULL))
        reason = "Vary *";
    else if ((cache_policy_directive(cc, "s-maxage", &s) && s == 0) ||
             (s < 0 && cache_policy_directive(cc, "max-age", &m) && m == 0))
        reason = "Cache-Control max-age=0";
    if (reason) {
        if (why) *why = reason;
        return CACHE_POLICY_NOSTORE;
    }
    long long limit = s > 0 ? s : m; /* seconds the upstream allows, -1: no limit */
    *ttl_ms = route_ttl_ms;
    if (limit > 0 && limit < route_ttl_ms / 1000) *ttl_ms = limit * 1000;
    return CACHE_POLICY_STORE;
}

int cache_policy_wants_fresh(const char *cache_control, const char *pragma) {
    long long age = -1;
    return cache_policy_directive(cache_control, "no-cache", NULL) ||
           (cache_policy_directive(cache_control, "max-age", &age) && age == 0) ||
           cache_policy_directive(pragma, "no-cache", NULL);
}
