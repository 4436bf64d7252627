/* hookstream analytics: runs the analytics pipeline (consumers/analytics) until SIGTERM/SIGINT,
 * then flushes what it holds, leaves the group and exits 0. */
#include <stdio.h>
#include <string.h>

#include "analytics.h"
#include "cli.h"
#include "cli_service.h"
#include "commands.h"
#include "hs_log.h"

static const char usage[] =
    "usage: hookstream analytics [options]\n\n"
    "Consumes the typed event topics (analytics.topics) in consumer group analytics.group and\n"
    "keeps 1-minute and hourly windows per event type, source, tenant and currency in Postgres:\n"
    "counts, order and payment amounts (sum, min, max), distinct entities and customers\n"
    "(HyperLogLog), ingest->consume latency buckets; the latest low-stock level per SKU; and\n"
    "the business views the Grafana dashboard reads (docs/analytics.md). Windows are written\n"
    "every analytics.flush_ms in ONE transaction with the group's offsets (table\n"
    "consumer_offsets), and a restart resumes at those offsets: killed at any moment, it never\n"
    "counts an event twice or loses one. Late events update their own window. Malformed events\n"
    "go to <group>.dlq with hs_error_class and hs_error_message. While Postgres is away it\n"
    "holds its windows, retries, and pauses consuming once analytics.max_pending_events are held.\n"
    "Serves /metrics, /healthz and /readyz on analytics.listen and prints its URL on stdout.\n\n"
    "options:\n"
    "  -b, --brokers LIST       bootstrap servers (kafka.brokers)\n"
    "  -d, --dsn DSN            Postgres for windows and offsets (postgres.dsn)\n"
    "  -l, --listen HOST:PORT   metrics address (analytics.listen; port 0: a free one)\n"
    "  -g, --group NAME         consumer group (analytics.group)\n"
    "  -t, --topics LIST        topics or ^regex, comma-separated (analytics.topics)\n"
    "      --registry URL       schema registry (registry.url)\n" CLI_COMMON_HELP;

static void stop(void *a) {
    analytics_stop(a);
}

static int run(const hs_config_t *cfg) {
    char err[1024];
    cli_service_block_signals();
    analytics_t *a = analytics_new(cfg, err, sizeof err);
    if (!a) {
        fprintf(stderr, "hookstream analytics: %s\n", err);
        return 1;
    }
    const char *listen = hs_config_str(cfg, "analytics.listen");
    cli_service_print_url(listen, analytics_port(a));
    hs_log(HS_LOG_INFO, "analytics ready", "{s:s, s:i, s:s}", "listen", listen, "port",
           analytics_port(a), "group", hs_config_str(cfg, "analytics.group"));
    cli_service_waiter_t waiter;
    cli_service_wait_start(&waiter, "analytics", stop, a);
    hs_err_t e = analytics_run(a, err, sizeof err);
    cli_service_wait_end(&waiter);
    analytics_destroy(a);
    if (e) {
        fprintf(stderr, "hookstream analytics: %s\n", err);
        return 1;
    }
    hs_log(HS_LOG_INFO, "analytics stopped", NULL);
    return 0;
}

int cmd_analytics(int argc, char **argv) {
    static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                         {"brokers", required_argument, 0, 'b'},
                                         {"dsn", required_argument, 0, 'd'},
                                         {"listen", required_argument, 0, 'l'},
                                         {"group", required_argument, 0, 'g'},
                                         {"topics", required_argument, 0, 't'},
                                         {"registry", required_argument, 0, 'R'},
                                         {0, 0, 0, 0}};
    static const struct {
        int opt;
        const char *key;
    } flags[] = {{'b', "kafka.brokers"},   {'d', "postgres.dsn"},     {'l', "analytics.listen"},
                 {'g', "analytics.group"}, {'t', "analytics.topics"}, {'R', "registry.url"}};
    cli_common_t common = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT "b:d:l:g:t:", opts, NULL)) != -1) {
        if (cli_common_opt(&common, opt, optarg)) continue;
        if (opt == 'h') return fputs(usage, stdout), 0;
        size_t i = 0;
        while (i < sizeof flags / sizeof flags[0] && flags[i].opt != opt)
            i++;
        if (i == sizeof flags / sizeof flags[0]) return cli_usage_error("analytics");
        cli_set(&common, flags[i].key, optarg);
    }
    if (optind < argc) {
        fprintf(stderr, "hookstream analytics: unexpected argument '%s'; see --help\n",
                argv[optind]);
        return 2;
    }
    hs_config_t *cfg = cli_config_load(&common, "analytics");
    int rc = run(cfg);
    hs_config_destroy(cfg);
    return rc;
}
