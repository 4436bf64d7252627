/* The routes of cache-proxy (config tree `cache_routes`): which paths are cached, for how long
 * in each tier, under which tags, varying on which request headers, and whether writes go
 * through and invalidate. Validation names the route and the config line of what is wrong;
 * matching decodes the path's {params} and renders the tags from them.
 * @locality: built at start, read-only afterwards (shared by every thread). */
#ifndef CACHE_ROUTE_H
#define CACHE_ROUTE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "hs_cachetag.h"
#include "hs_config.h"
#include "hs_err.h"

#define CACHE_ROUTE_MAX_SEGMENTS 32
#define CACHE_ROUTE_MAX_PARAMS 16
#define CACHE_ROUTE_MAX_VARY 8
#define CACHE_PATH_MAX 8192 /* request targets are bounded by the HTTP server (414) */

typedef struct {
    char *path; /* the pattern as configured: the metrics' route label */
    size_t nsegments;
    char *segments[CACHE_ROUTE_MAX_SEGMENTS]; /* literal text or the parameter name */
    int is_param[CACHE_ROUTE_MAX_SEGMENTS];
    size_t ntags;
    char *tags[HS_CACHETAG_MAX_TAGS]; /* templates: "product:{id}" */
    size_t nvary;
    char *vary[CACHE_ROUTE_MAX_VARY]; /* request header names */
    int64_t ttl_ms;                   /* L2 freshness, > 0 */
    int64_t l1_ttl_ms;                /* L1 lifetime, 0: not kept in L1 */
    int64_t stale_if_error_ms;        /* 0: off */
    int write_through;
} cache_route_t;

typedef struct cache_routes cache_routes_t;

/* Builds the routes from the tree (a list; NULL: no routes). Durations absent from a route
 * take ttl_ms / l1_ttl_ms. cfg (may be NULL) adds the config line of a bad value to errstr.
 * Returns a new table (cache_routes_destroy) or NULL with errstr naming the route. */
cache_routes_t *cache_routes_new(const json_t *tree, int64_t ttl_ms, int64_t l1_ttl_ms,
                                 const hs_config_t *cfg, char *errstr, size_t errstr_size);
void cache_routes_destroy(cache_routes_t *rs);
size_t cache_routes_count(const cache_routes_t *rs);

typedef struct {
    const cache_route_t *route;
    size_t nparams;
    const char *names[CACHE_ROUTE_MAX_PARAMS];  /* borrowed from the route */
    const char *values[CACHE_ROUTE_MAX_PARAMS]; /* decoded, into buf */
    char buf[CACHE_PATH_MAX + 1];
} cache_match_t;

/* Finds the first route whose pattern matches path (percent-encoded, no query string); fills
 * m and returns the route, or NULL when none matches (or the path is malformed). */
const cache_route_t *cache_routes_match(const cache_routes_t *rs, const char *path,
                                        cache_match_t *m);

/* Renders the matched route's tags into tags; returns how many, or -1 with errstr when a
 * rendered tag is not a valid tag (a parameter value with control characters, too long). */
int cache_route_tags(const cache_match_t *m, char tags[][HS_CACHETAG_TAG_MAX + 1], char *errstr,
                     size_t errstr_size);

/* Returns 1 when the route lists header name (case-insensitive) in vary. */
int cache_route_varies(const cache_route_t *r, const char *name);

#endif
