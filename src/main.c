/* hookstream: one binary, git-style subcommands. Adding a command is one row here, one
 * src/cmd_<name>.c file and its declaration in commands.h. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static int cmd_help(int argc, char **argv);

static const cli_cmd_t commands[] = {
    {"dev", cmd_dev, "start/stop/show the local stack: broker, Postgres, Redis, services"},
    {"broker", cmd_broker, "run an embedded Kafka-protocol broker (librdkafka mock cluster)"},
    {"registry", cmd_registry, "serve the Confluent-compatible Schema Registry API"},
    {"migrate", cmd_migrate, "apply the Postgres migrations"},
    {"ingest", cmd_ingest, "receive provider webhooks, produce them, answer after the ack"},
    {"deliver", cmd_deliver, "deliver events to subscribed endpoints as signed webhooks"},
    {"produce", cmd_produce, "send typed events (JSON in, Avro on the wire)"},
    {"consume", cmd_consume, "read a topic as decoded JSON lines, from an offset or a time"},
    {"verify", cmd_verify, "check a webhook signature the way ingest does"},
    {"topics", cmd_topics, "list, create and describe topics"},
    {"groups", cmd_groups, "list consumer groups, show their lag"},
    {"schemas", cmd_schemas, "list, show, register and check event schemas"},
    {"endpoints", cmd_endpoints, "add, list, show, enable, disable, rotate deliver endpoints"},
    {"replay", cmd_replay, "re-deliver an event, a time range or failures to an endpoint"},
    {"workflows", cmd_workflows, "run workflows; list, show, cancel and retry their runs"},
    {"invalidator", cmd_invalidator, "invalidate cache tags in Redis from events (cache-proxy)"},
    {"cache-proxy", cmd_cache_proxy, "caching reverse proxy for an API (L1 memory, L2 Redis)"},
    {"analytics", cmd_analytics, "aggregate events into windows and business views in Postgres"},
    {"flags", cmd_flags, "list, show, change and evaluate feature flags (flagd format)"},
    {"config", cmd_config, "show the effective configuration, write docs/config.md"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "list the commands"},
};

static void usage(FILE *out) {
    fputs("usage: hookstream <command> [options]   ('hookstream <command> --help' for one)\n\n"
          "commands:\n",
          out);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
}

static int cmd_help(int argc, char **argv) {
    (void)argc;
    (void)argv;
    usage(stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) return cmd_help(0, NULL);
    if (!strcmp(name, "--version")) name = "version";
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "hookstream: '%s' is not a command\n\n", name);
    usage(stderr);
    return 2;
}
