/* hookstream groups: list consumer groups, show a group's committed offsets and lag. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "hs_kafka.h"

static const char usage[] =
    "usage: hookstream groups list [--json]\n"
    "       hookstream groups describe GROUP [--topic T] [--json]\n\n"
    "list      the cluster's consumer groups (ListGroups; the embedded broker has none: use\n"
    "          describe with the group's name)\n"
    "describe  per topic and partition the group committed an offset for: committed offset,\n"
    "          high watermark and lag (high - committed), then the total lag. The group is\n"
    "          only read, never joined.\n\n"
    "options:\n"
    "  -b, --brokers LIST   bootstrap servers (kafka.brokers)\n"
    "  -t, --topic T        describe: only this topic\n"
    "  -j, --json           one JSON document on stdout, for scripts\n" CLI_COMMON_HELP;

typedef struct {
    int json;
    const char *sub, *group, *topic;
    hs_config_t *cfg;
    int timeout_ms;
} groups_cmd_t;

static int fail(const char *msg) {
    fprintf(stderr, "hookstream groups: %s\n", msg);
    return 1;
}

static void print_json(json_t *doc) {
    json_dumpf(doc, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(doc);
}

static void print_groups(const struct rd_kafka_group_list *gl, int json) {
    json_t *list = json_array();
    if (!json) printf("%-40s %-14s %-12s %s\n", "GROUP", "STATE", "PROTOCOL", "MEMBERS");
    for (int i = 0; i < gl->group_cnt; i++) {
        const struct rd_kafka_group_info *g = &gl->groups[i];
        if (json)
            json_array_append_new(list,
                                  json_pack("{s:s, s:s, s:s, s:s, s:i}", "group", g->group, "state",
                                            g->state, "protocol_type", g->protocol_type, "protocol",
                                            g->protocol, "members", g->member_cnt));
        else
            printf("%-40s %-14s %-12s %d\n", g->group, g->state, g->protocol, g->member_cnt);
    }
    if (json)
        print_json(json_pack("{s:o}", "groups", list));
    else
        json_decref(list);
}

static int groups_list(groups_cmd_t *c, rd_kafka_t *rk) {
    const struct rd_kafka_group_list *gl = NULL;
    rd_kafka_resp_err_t err = rd_kafka_list_groups(rk, NULL, &gl, c->timeout_ms);
    if (err == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE)
        return fail("the broker has no ListGroups (the embedded broker does not implement it); "
                    "'hookstream groups describe GROUP' works there");
    if (err) {
        char msg[512];
        snprintf(msg, sizeof msg, "kafka at %s: list groups: %s", hs_kafka_brokers(rk),
                 rd_kafka_err2str(err));
        return fail(msg);
    }
    print_groups(gl, c->json);
    rd_kafka_group_list_destroy(gl);
    return 0;
}

static int groups_describe(groups_cmd_t *c, rd_kafka_t *rk) {
    hs_kafka_lag_t *lags = NULL;
    size_t n = 0;
    char err[600];
    if (hs_kafka_group_lag(rk, c->topic, &lags, &n, c->timeout_ms, err, sizeof err))
        return fail(err);
    int64_t total = 0;
    json_t *list = json_array();
    if (!c->json && n)
        printf("%-40s %-10s %-12s %-12s %s\n", "TOPIC", "PARTITION", "COMMITTED", "HIGH", "LAG");
    for (size_t i = 0; i < n; i++) {
        const hs_kafka_lag_t *l = &lags[i];
        total += l->lag;
        if (c->json)
            json_array_append_new(list, json_pack("{s:s, s:i, s:I, s:I, s:I, s:I}", "topic",
                                                  l->topic, "partition", l->partition, "committed",
                                                  (json_int_t)l->committed, "low",
                                                  (json_int_t)l->low, "high", (json_int_t)l->high,
                                                  "lag", (json_int_t)l->lag));
        else
            printf("%-40s %-10d %-12lld %-12lld %lld\n", l->topic, (int)l->partition,
                   (long long)l->committed, (long long)l->high, (long long)l->lag);
    }
    free(lags);
    if (c->json) {
        print_json(json_pack("{s:s, s:o, s:I}", "group", c->group, "partitions", list, "total_lag",
                             (json_int_t)total));
        return 0;
    }
    json_decref(list);
    if (n)
        printf("total lag %lld\n", (long long)total);
    else
        printf("group %s has no committed offsets%s%s\n", c->group, c->topic ? " on " : "",
               c->topic ? c->topic : "");
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(groups_cmd_t *c, rd_kafka_t *rk);
    int wants_group;
} subs[] = {
    {"list", groups_list, 0},
    {"describe", groups_describe, 1},
};

static int run(groups_cmd_t *c, int (*fn)(groups_cmd_t *c, rd_kafka_t *rk)) {
    char err[600];
    c->timeout_ms = (int)hs_config_int(c->cfg, "kafka.timeout_ms");
    /* A consumer carrying the group's id reads its committed offsets; it never subscribes, so
     * it never joins the group or moves its offsets. */
    rd_kafka_t *rk = hs_kafka_consumer_new(c->cfg, c->group, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "hookstream groups: config: %s\n", err);
        return 2;
    }
    int rc = hs_kafka_check(rk, c->timeout_ms, err, sizeof err) ? fail(err) : fn(c, rk);
    rd_kafka_destroy(rk);
    return rc;
}

int cmd_groups(int argc, char **argv) {
    static const struct option opts[] = {CLI_COMMON_OPTIONS,
                                         {"brokers", required_argument, 0, 'b'},
                                         {"topic", required_argument, 0, 't'},
                                         {"json", no_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    cli_common_t common = {0};
    groups_cmd_t c = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORT "b:t:j", opts, NULL)) != -1) {
        if (cli_common_opt(&common, opt, optarg)) continue;
        switch (opt) {
        case 'h':
            return fputs(usage, stdout), 0;
        case 'b':
            cli_set(&common, "kafka.brokers", optarg);
            break;
        case 't':
            c.topic = optarg;
            break;
        case 'j':
            c.json = 1;
            break;
        default:
            return cli_usage_error("groups");
        }
    }
    c.sub = optind < argc ? argv[optind++] : "list";
    c.group = optind < argc ? argv[optind++] : NULL;
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(subs[i].name, c.sub) != 0) continue;
        if (subs[i].wants_group != (c.group != NULL) || optind < argc || (c.group && !c.group[0])) {
            fprintf(stderr, "hookstream groups %s: %s\n", c.sub,
                    subs[i].wants_group ? "expected one GROUP" : "takes no arguments");
            return 2;
        }
        c.cfg = cli_config_load(&common, "groups");
        int rc = run(&c, subs[i].fn);
        hs_config_destroy(c.cfg);
        return rc;
    }
    fprintf(stderr, "hookstream groups: '%s' is not a subcommand (list, describe)\n", c.sub);
    return 2;
}
