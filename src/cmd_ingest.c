/* hookstream ingest: runs the webhook front door (producers/ingest.c) until SIGTERM/SIGINT,
 * then stops accepting, answers the requests in flight, flushes the producer and exits 0. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "hs_log.h"
#include "ingest.h"

#define MAX_SPECS 64

static const char usage[] =
    "usage: hookstream ingest [options]\n\n"
    "Receives provider webhooks on POST /webhooks/{source} and /webhooks/{source}/{tenant}:\n"
    "checks size, source, method, content type, signature, rate limit and duplicates, then\n"
    "produces the raw body to hs.inbox.<source> and each typed event to its catalog topic, and\n"
    "answers 2xx only after the broker acknowledged them (503 + Retry-After otherwise).\n"
    "Sources come from the `sources:` section of the configuration (docs/ingest.md) and from\n"
    "--source flags. Also serves /metrics, /healthz and /readyz. Prints its URL on stdout.\n\n"
    "options:\n"
    "  -s, --source NAME=TYPE:SECRET  a quick-start source (repeatable), e.g.\n"
    "                                 shop1=shopify:shpss_123; tenant = NAME\n"
    "  -b, --brokers LIST             bootstrap servers (kafka.brokers)\n"
    "  -l, --listen HOST:PORT         listen address (ingest.listen; port 0: a free one)\n"
    "      --registry URL             schema registry (registry.url)\n"
    "      --redis URL                share dedup through Redis (redis.url, "
    "ingest.dedup_redis)\n" CLI_COMMON_HELP;

static int run(const hs_config_t *cfg, char **specs, int nspecs) {
    char err[1024];
    hs_ingest_sources_t *sources = hs_ingest_sources_new();
    if (!sources) return fprintf(stderr, "hookstream ingest: out of memory\n"), 1;
    if (hs_ingest_sources_load(sources, cfg, err, sizeof err)) {
        fprintf(stderr, "hookstream ingest: %s\n", err);
        hs_ingest_sources_destroy(sources);
        return 2;
    }
    for (int i = 0; i < nspecs; i++) {
        if (hs_ingest_sources_add_spec(sources, specs[i], err, sizeof err)) {
            fprintf(stderr, "hookstream ingest: %s\n", err);
            hs_ingest_sources_destroy(sources);
            return 2;
        }
    }
    if (hs_ingest_sources_count(sources) == 0)
        fprintf(stderr, "hookstream ingest: no sources configured: every webhook gets 404 "
                        "(add --source NAME=TYPE:SECRET or a sources: section)\n");
    /* Block the stop signals before any thread starts so sigwait is where they arrive. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    hs_ingest_t *ing = hs_ingest_new(cfg, sources, err, sizeof err);
    if (!ing) {
        fprintf(stderr, "hookstream ingest: %s\n", err);
        hs_ingest_sources_destroy(sources);
        return 1;
    }
    const char *listen = hs_config_str(cfg, "ingest.listen");
    const char *colon = strrchr(listen, ':');
    int port = hs_ingest_port(ing);
    printf("http://%.*s:%d\n", (int)(colon ? colon - listen : 0), listen, port);
    fflush(stdout);
    hs_log(HS_LOG_INFO, "ingest ready", "{s:s, s:i, s:i}", "listen", listen, "port", port,
           "sources", (int)hs_ingest_sources_count(sources));
    int sig = 0;
    sigwait(&stop, &sig);
    hs_log(HS_LOG_INFO, "ingest stopping", "{s:s}", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
    hs_ingest_destroy(ing);
    hs_ingest_sources_destroy(sources);
    hs_log(HS_LOG_INFO, "ingest stopped", NULL);
    return 0;
}

int cmd_ingest(int argc, char **argv) {
    static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                         {"source", required_argument, 0, 's'},
                                         {"brokers", required_argument, 0, 'b'},
                                         {"listen", required_argument, 0, 'l'},
                                         {"registry", required_argument, 0, 'R'},
                                         {"redis", required_argument, 0, 'r'},
                                         {0, 0, 0, 0}};
    cli_common_t common = {0};
    char *specs[MAX_SPECS];
    int nspecs = 0, opt;
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT "s:b:l:", opts, NULL)) != -1) {
        if (cli_common_opt(&common, opt, optarg)) continue;
        switch (opt) {
        case 'h':
            return fputs(usage, stdout), 0;
        case 's':
            if (nspecs == MAX_SPECS)
                return fprintf(stderr, "hookstream ingest: more than %d --source\n", MAX_SPECS), 2;
            specs[nspecs++] = optarg;
            break;
        case 'b':
            cli_set(&common, "kafka.brokers", optarg);
            break;
        case 'l':
            cli_set(&common, "ingest.listen", optarg);
            break;
        case 'R':
            cli_set(&common, "registry.url", optarg);
            break;
        case 'r':
            cli_set(&common, "redis.url", optarg);
            cli_set(&common, "ingest.dedup_redis", "true");
            break;
        default:
            return cli_usage_error("ingest");
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hookstream ingest: unexpected argument '%s'; see --help\n", argv[optind]);
        return 2;
    }
    hs_config_t *cfg = cli_config_load(&common, "ingest");
    int rc = run(cfg, specs, nspecs);
    hs_config_destroy(cfg);
    return rc;
}
