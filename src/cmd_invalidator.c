/* hookstream invalidator: runs the cache invalidator (consumers/invalidator) until SIGTERM/SIGINT,
 * then stops fetching, lets in-flight invalidations finish, commits what is done and exits 0. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_service.h"
#include "commands.h"
#include "hs_log.h"
#include "inv_rules.h"
#include "invalidator.h"

static const char usage_head[] =
    "usage: hookstream invalidator [options]\n\n"
    "Consumes the typed event topics (invalidator.topics) in consumer group invalidator.group\n"
    "and invalidates the cache tags each event's type maps to (the `invalidations` section of\n"
    "the configuration file): for each tag, in Redis (redis.url), it bumps the tag's generation,\n"
    "deletes the entries cache-proxy stored under it and publishes the invalidation on\n"
    "cache.invalidation_channel so every proxy drops it from its memory (L1). The tenant is the\n"
    "event's hs_tenant header. An event's offset is stored only after Redis confirmed; while\n"
    "Redis is down events wait and are retried with backoff (invalidator.retry_max_ms), so\n"
    "nothing is lost. Events without a rule are skipped; a template naming a field the event\n"
    "lacks, or an event that cannot be decoded, is counted and logged and the offset moves on.\n"
    "Serves /metrics, /healthz and /readyz on invalidator.listen and prints its URL on stdout.\n"
    "Rules are checked at start against the event catalog: an unknown type or a field that is\n"
    "not in the type's schema stops it with the file:line. docs/cache.md.\n\n"
    "Without an `invalidations` section these rules apply:\n\n";

static const char usage_opts[] =
    "\noptions:\n"
    "  -b, --brokers LIST       bootstrap servers (kafka.brokers)\n"
    "  -r, --redis URL          Redis of the cache (redis.url)\n"
    "  -l, --listen HOST:PORT   metrics address (invalidator.listen; port 0: a free one)\n"
    "  -g, --group NAME         consumer group (invalidator.group)\n"
    "  -d, --dsn DSN            Postgres catalog of schemas, without a registry (postgres.dsn)\n"
    "      --registry URL       schema registry (registry.url)\n" CLI_COMMON_HELP;

static void stop(void *v) {
    invalidator_stop(v);
}

static int run(const hs_config_t *cfg) {
    char err[1024];
    cli_service_block_signals();
    invalidator_t *v = invalidator_new(cfg, err, sizeof err);
    if (!v) {
        fprintf(stderr, "hookstream invalidator: %s\n", err);
        return 1;
    }
    const char *listen = hs_config_str(cfg, "invalidator.listen");
    cli_service_print_url(listen, invalidator_port(v));
    hs_log(HS_LOG_INFO, "invalidator ready", "{s:s, s:i, s:s, s:s}", "listen", listen, "port",
           invalidator_port(v), "group", hs_config_str(cfg, "invalidator.group"), "redis",
           hs_config_str(cfg, "redis.url"));
    cli_service_waiter_t waiter;
    cli_service_wait_start(&waiter, "invalidator", stop, v);
    hs_err_t e = invalidator_run(v, err, sizeof err);
    cli_service_wait_end(&waiter);
    invalidator_destroy(v);
    if (e) {
        fprintf(stderr, "hookstream invalidator: %s\n", err);
        return 1;
    }
    hs_log(HS_LOG_INFO, "invalidator stopped", NULL);
    return 0;
}

int cmd_invalidator(int argc, char **argv) {
    static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                         {"brokers", required_argument, 0, 'b'},
                                         {"redis", required_argument, 0, 'r'},
                                         {"listen", required_argument, 0, 'l'},
                                         {"group", required_argument, 0, 'g'},
                                         {"dsn", required_argument, 0, 'd'},
                                         {"registry", required_argument, 0, 'R'},
                                         {0, 0, 0, 0}};
    static const struct {
        int opt;
        const char *key;
    } flags[] = {{'b', "kafka.brokers"},     {'r', "redis.url"},    {'l', "invalidator.listen"},
                 {'g', "invalidator.group"}, {'d', "postgres.dsn"}, {'R', "registry.url"}};
    cli_common_t common = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT "b:r:l:g:d:", opts, NULL)) != -1) {
        if (cli_common_opt(&common, opt, optarg)) continue;
        if (opt == 'h') {
            printf("%s%s%s", usage_head, inv_rules_defaults_yaml(), usage_opts);
            return 0;
        }
        size_t i = 0;
        while (i < sizeof flags / sizeof flags[0] && flags[i].opt != opt)
            i++;
        if (i == sizeof flags / sizeof flags[0]) return cli_usage_error("invalidator");
        cli_set(&common, flags[i].key, optarg);
    }
    if (optind < argc) {
        fprintf(stderr, "hookstream invalidator: unexpected argument '%s'; see --help\n",
                argv[optind]);
        return 2;
    }
    hs_config_t *cfg = cli_config_load(&common, "invalidator");
    int rc = run(cfg);
    hs_config_destroy(cfg);
    return rc;
}
