/* hookstream deliver: runs outbound webhook delivery (consumers/deliver) until SIGTERM/SIGINT,
 * then stops fetching, finishes or hands off what is in flight, commits and exits 0. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_service.h"
#include "commands.h"
#include "deliver.h"
#include "hs_log.h"

static const char usage[] =
    "usage: hookstream deliver [options]\n\n"
    "Consumes the typed event topics (deliver.topics) in consumer group deliver.group and POSTs\n"
    "each event to every enabled endpoint subscribed to its type as a signed Standard Webhooks\n"
    "message. Failed deliveries are retried on the endpoint's policy through the retry tiers\n"
    "<group>.retry.<delay>, dead-lettered to <group>.dlq after the last attempt; every attempt\n"
    "is logged in Postgres. Serves the admin API (/v1/endpoints, /v1/replays: docs/deliver.md),\n"
    "/metrics, /healthz and /readyz on deliver.listen and prints its URL on stdout.\n"
    "Needs deliver.master_key (HS_DELIVER_MASTER_KEY) and tokens for the admin API\n"
    "(deliver.admin_tokens, deliver.read_tokens).\n\n"
    "options:\n"
    "  -b, --brokers LIST       bootstrap servers (kafka.brokers)\n"
    "  -d, --dsn DSN            Postgres for endpoints and the attempt log (postgres.dsn)\n"
    "  -l, --listen HOST:PORT   admin API address (deliver.listen; port 0: a free one)\n"
    "  -g, --group NAME         consumer group (deliver.group)\n"
    "      --registry URL       schema registry (registry.url)\n" CLI_COMMON_HELP;

static void stop(void *d) {
    deliver_stop(d);
}

static int run(const hs_config_t *cfg) {
    char err[1024];
    cli_service_block_signals();
    deliver_t *d = deliver_new(cfg, err, sizeof err);
    if (!d) {
        fprintf(stderr, "hookstream deliver: %s\n", err);
        return 1;
    }
    const char *listen = hs_config_str(cfg, "deliver.listen");
    cli_service_print_url(listen, deliver_port(d));
    hs_log(HS_LOG_INFO, "deliver ready", "{s:s, s:i, s:s}", "listen", listen, "port",
           deliver_port(d), "group", hs_config_str(cfg, "deliver.group"));
    cli_service_waiter_t waiter;
    cli_service_wait_start(&waiter, "deliver", stop, d);
    hs_err_t e = deliver_run(d, err, sizeof err);
    cli_service_wait_end(&waiter);
    deliver_destroy(d);
    if (e) {
        fprintf(stderr, "hookstream deliver: %s\n", err);
        return 1;
    }
    hs_log(HS_LOG_INFO, "deliver stopped", NULL);
    return 0;
}

int cmd_deliver(int argc, char **argv) {
    static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                         {"brokers", required_argument, 0, 'b'},
                                         {"dsn", required_argument, 0, 'd'},
                                         {"listen", required_argument, 0, 'l'},
                                         {"group", required_argument, 0, 'g'},
                                         {"registry", required_argument, 0, 'R'},
                                         {0, 0, 0, 0}};
    static const struct {
        int opt;
        const char *key;
    } flags[] = {{'b', "kafka.brokers"},
                 {'d', "postgres.dsn"},
                 {'l', "deliver.listen"},
                 {'g', "deliver.group"},
                 {'R', "registry.url"}};
    cli_common_t common = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT "b:d:l:g:", opts, NULL)) != -1) {
        if (cli_common_opt(&common, opt, optarg)) continue;
        if (opt == 'h') return fputs(usage, stdout), 0;
        size_t i = 0;
        while (i < sizeof flags / sizeof flags[0] && flags[i].opt != opt)
            i++;
        if (i == sizeof flags / sizeof flags[0]) return cli_usage_error("deliver");
        cli_set(&common, flags[i].key, optarg);
    }
    if (optind < argc) {
        fprintf(stderr, "hookstream deliver: unexpected argument '%s'; see --help\n", argv[optind]);
        return 2;
    }
    hs_config_t *cfg = cli_config_load(&common, "deliver");
    int rc = run(cfg);
    hs_config_destroy(cfg);
    return rc;
}
