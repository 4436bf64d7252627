/* hookstream cache-proxy: runs the caching reverse proxy (cache/) until SIGTERM/SIGINT, then
 * answers what is in flight and exits 0. */
#include <stdio.h>
#include <string.h>

#include "cache_proxy.h"
#include "cli.h"
#include "cli_service.h"
#include "commands.h"
#include "hs_log.h"

static const char usage[] =
    "usage: hookstream cache-proxy [options]\n\n"
    "A caching reverse proxy in front of an HTTP API (cache.upstream). Every request to\n"
    "cache.listen goes to the upstream, except GET and HEAD requests of the configured routes\n"
    "(cache_routes in the config file), which are answered from memory (L1), then Redis (L2,\n"
    "redis.url), then the upstream, and kept for the route's ttl. Answers carry X-Cache:\n"
    "HIT-L1, HIT-L2, MISS, BYPASS or STALE, and Age on hits.\n\n"
    "  * the cache key is the tenant (header cache.tenant_header), the route, the path and\n"
    "    query, and the values of the route's vary headers;\n"
    "  * concurrent misses of one key make one upstream call; the others wait for its answer;\n"
    "  * Cache-Control: no-cache (or max-age=0, Pragma: no-cache) from the client fetches from\n"
    "    the upstream and refreshes the cache;\n"
    "  * cached: 200, 203, 204, 300, 301, 308, 404 and 410 up to cache.max_object_bytes,\n"
    "    unless the upstream says private, no-store, no-cache or max-age=0 or sets a cookie;\n"
    "    upstream errors (5xx, timeouts) never are; stale_if_error serves the last good copy;\n"
    "  * PUT, PATCH, POST and DELETE to a write_through route go to the upstream and, on 2xx,\n"
    "    invalidate the route's tags (as `hookstream invalidator` does for events);\n"
    "  * invalidations published on cache.invalidation_channel drop the tags from L1;\n"
    "  * Redis down: served from L1 and the upstream, counted, logged once per outage.\n"
    "Its own /metrics, /healthz and /readyz are on cache.admin_listen. Prints the proxy URL\n"
    "then the admin URL on stdout. Routes, metrics and examples: docs/cache.md.\n\n"
    "options:\n"
    "  -u, --upstream URL        the API to cache (cache.upstream)\n"
    "  -l, --listen HOST:PORT    proxy address (cache.listen; port 0: a free one)\n"
    "  -a, --admin-listen HOST:PORT  /metrics, /healthz, /readyz (cache.admin_listen)\n"
    "  -r, --redis URL           Redis for L2 and invalidations (redis.url)\n"
    "  -w, --workers N           threads calling Redis and the upstream "
    "(cache.workers)\n" CLI_COMMON_HELP "\nexample:\n"
    "  hookstream cache-proxy --upstream http://127.0.0.1:9000 --listen 127.0.0.1:8095 \\\n"
    "      --set cache.ttl=5m --config routes.yaml\n";

static void stop(void *p) {
    cache_proxy_stop(p);
}

static int run(const hs_config_t *cfg) {
    char err[1024];
    cli_service_block_signals();
    cache_proxy_t *p = cache_proxy_new(cfg, err, sizeof err);
    if (!p) {
        fprintf(stderr, "hookstream cache-proxy: %s\n", err);
        return 1;
    }
    const char *listen = hs_config_str(cfg, "cache.listen");
    const char *admin = hs_config_str(cfg, "cache.admin_listen");
    cli_service_print_url(listen, cache_proxy_port(p));
    cli_service_print_url(admin, cache_proxy_admin_port(p));
    hs_log(HS_LOG_INFO, "cache-proxy ready", "{s:s, s:i, s:i, s:s}", "upstream",
           hs_config_str(cfg, "cache.upstream"), "port", cache_proxy_port(p), "admin_port",
           cache_proxy_admin_port(p), "redis", hs_config_str(cfg, "redis.url"));
    cli_service_waiter_t waiter;
    cli_service_wait_start(&waiter, "cache-proxy", stop, p);
    cache_proxy_run(p);
    cli_service_wait_end(&waiter);
    cache_proxy_destroy(p);
    hs_log(HS_LOG_INFO, "cache-proxy stopped", NULL);
    return 0;
}

int cmd_cache_proxy(int argc, char **argv) {
    static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                         {"upstream", required_argument, 0, 'u'},
                                         {"listen", required_argument, 0, 'l'},
                                         {"admin-listen", required_argument, 0, 'a'},
                                         {"redis", required_argument, 0, 'r'},
                                         {"workers", required_argument, 0, 'w'},
                                         {0, 0, 0, 0}};
    static const struct {
        int opt;
        const char *key;
    } flags[] = {{'u', "cache.upstream"},
                 {'l', "cache.listen"},
                 {'a', "cache.admin_listen"},
                 {'r', "redis.url"},
                 {'w', "cache.workers"}};
    cli_common_t common = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT "u:l:a:r:w:", opts, NULL)) != -1) {
        if (cli_common_opt(&common, opt, optarg)) continue;
        if (opt == 'h') return fputs(usage, stdout), 0;
        size_t i = 0;
        while (i < sizeof flags / sizeof flags[0] && flags[i].opt != opt)
            i++;
        if (i == sizeof flags / sizeof flags[0]) return cli_usage_error("cache-proxy");
        cli_set(&common, flags[i].key, optarg);
    }
    if (optind < argc) {
        fprintf(stderr, "hookstream cache-proxy: unexpected argument '%s'; see --help\n",
                argv[optind]);
        return 2;
    }
    hs_config_t *cfg = cli_config_load(&common, "cache-proxy");
    int rc = run(cfg);
    hs_config_destroy(cfg);
    return rc;
}
