/* hookstream cache-proxy: a caching reverse proxy in front of an HTTP API (docs/cache.md).
 * GETs of configured routes are answered from the in-process L1, then Redis (L2), then the
 * upstream, with concurrent misses of one key collapsed into one upstream call; answers are
 * tagged from the route and dropped when an invalidation of a tag is published. Everything
 * else passes through. Its own /metrics, /healthz and /readyz are on a second listener
 * (cache.admin_listen) so that every path of cache.listen belongs to the upstream. */
#ifndef CACHE_PROXY_H
#define CACHE_PROXY_H

#include <stddef.h>

#include "hs_config.h"
#include "hs_err.h"

typedef struct cache_proxy cache_proxy_t;

/* Validates the configuration (cache.*, redis.*, the cache_routes tree), starts the workers,
 * the invalidation subscriber and both listeners. Returns the running proxy or NULL with
 * errstr. cfg is borrowed and must outlive the proxy. */
cache_proxy_t *cache_proxy_new(const hs_config_t *cfg, char *errstr, size_t errstr_size);

/* Returns the bound port of cache.listen / cache.admin_listen. */
int cache_proxy_port(const cache_proxy_t *p);
int cache_proxy_admin_port(const cache_proxy_t *p);

/* Blocks until cache_proxy_stop. */
void cache_proxy_run(cache_proxy_t *p);

/* Asks cache_proxy_run to return; safe from any thread. */
void cache_proxy_stop(cache_proxy_t *p);

/* Stops accepting, answers what is in flight, stops the threads and frees. NULL: no-op. */
void cache_proxy_destroy(cache_proxy_t *p);

#endif
